//! Rotation without restart: when the config file or a tenant's secret or certificate file
//! changes on disk, the tenants are loaded again and swapped in; tenants whose credential
//! changed or that were removed lose their cached token. A file that doesn't load is rejected
//! with a logged error and the last good configuration keeps serving.
//!
//! Kubernetes updates mounted Secrets and ConfigMaps by swapping a `..data` symlink, so the
//! directories are watched, not the files.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::{
    config::{ApiVersion, ConfigError, ResolvedTenant, Settings},
    graph::{GraphClient, GraphTransport},
    identity::TenantCredential,
    pipeline::{Pipeline, Tenant, Tenants},
};

/// Changes arrive in bursts (a symlink swap is several events): wait for quiet.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Where the settings come from when reloading.
#[derive(Clone, Debug)]
pub enum SettingsSource {
    /// `--config FILE` plus the environment, read again at every reload.
    File(PathBuf),
    /// Settings built in code (dev mode, tests): only the credential files are read again.
    Fixed(Box<Settings>),
}

impl SettingsSource {
    fn load(&self) -> Result<Settings, ConfigError> {
        match self {
            SettingsSource::File(path) => Settings::load(Some(path)),
            SettingsSource::Fixed(settings) => Ok((**settings).clone()),
        }
    }
}

/// Builds the tenant registry from resolved configuration.
pub fn build_tenants(
    graph: &GraphTransport,
    api_version: ApiVersion,
    resolved: Vec<ResolvedTenant>,
) -> Result<Tenants, ConfigError> {
    resolved
        .into_iter()
        .map(|t| {
            let credential =
                TenantCredential::new(t.tenant_id, t.client_id, &t.authority_host, &t.graph_endpoint, t.credential)
                    .map_err(|e| ConfigError::Invalid {
                        key: "identity.authority_host".into(),
                        message: e.to_string(),
                    })?;
            let graph = GraphClient::new(graph, &t.graph_endpoint, api_version);
            Ok((t.tenant_id, Arc::new(Tenant { credential: Arc::new(credential), graph, cloud: t.cloud })))
        })
        .collect()
}

/// What a reload changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub added: usize,
    pub removed: usize,
    pub rotated: usize,
}

pub struct Reloader {
    source: SettingsSource,
    pipeline: Arc<Pipeline>,
    graph: Arc<GraphTransport>,
    api_version: ApiVersion,
}

impl Reloader {
    pub fn new(
        source: SettingsSource,
        pipeline: Arc<Pipeline>,
        graph: Arc<GraphTransport>,
        api_version: ApiVersion,
    ) -> Self {
        Reloader { source, pipeline, graph, api_version }
    }

    /// Loads everything again and swaps it in, or changes nothing and says why.
    pub async fn reload(&self) -> Result<ReloadSummary, ConfigError> {
        let settings = self.source.load()?;
        settings.validate()?;
        let resolved = settings.resolve_tenants(&|name| std::env::var(name).ok())?;
        let fresh = build_tenants(&self.graph, self.api_version, resolved)?;
        let current = self.pipeline.tenants();

        let mut summary = ReloadSummary::default();
        for (id, old) in current.iter() {
            match fresh.get(id) {
                None => summary.removed += 1,
                Some(new)
                    if !new.credential.source.same_as(&old.credential.source)
                        || new.credential.client_id != old.credential.client_id
                        || new.credential.token_url != old.credential.token_url =>
                {
                    summary.rotated += 1
                }
                Some(_) => continue,
            }
            self.pipeline.tokens().forget(*id).await;
        }
        summary.added = fresh.keys().filter(|id| !current.contains_key(id)).count();
        self.pipeline.replace_tenants(fresh);
        Ok(summary)
    }

    /// The directories to watch: the config file's and every credential file's.
    pub fn watched_directories(&self) -> BTreeSet<PathBuf> {
        let mut dirs = BTreeSet::new();
        let mut add = |file: &Path| {
            if let Some(dir) = file.parent() {
                dirs.insert(if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.to_path_buf() });
            }
        };
        if let SettingsSource::File(path) = &self.source {
            add(path);
        }
        for tenant in self.pipeline.tenants().values() {
            if let Some(file) = tenant.credential.source.watched_file() {
                add(file);
            }
        }
        dirs
    }

    /// Watches the files and reloads on change, until the returned handle is dropped or aborted.
    pub fn spawn_watcher(self) -> Result<tokio::task::JoinHandle<()>, notify::Error> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| !e.kind.is_access()) {
                let _ = tx.send(());
            }
        })?;
        for dir in self.watched_directories() {
            watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        }
        Ok(tokio::spawn(async move {
            // The watcher stops when dropped: keep it for the task's life.
            let _watcher = watcher;
            while rx.recv().await.is_some() {
                tokio::time::sleep(DEBOUNCE).await;
                while rx.try_recv().is_ok() {}
                match self.reload().await {
                    Ok(summary) if summary == ReloadSummary::default() => {}
                    Ok(summary) => tracing::info!(
                        added = summary.added,
                        removed = summary.removed,
                        rotated = summary.rotated,
                        "configuration reloaded"
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "configuration change rejected; the last good configuration keeps serving")
                    }
                }
            }
        }))
    }
}
