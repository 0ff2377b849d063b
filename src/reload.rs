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
    config::{ConfigError, Settings},
    graph::GraphTransport,
    pipeline::Pipeline,
    tenants::{self, TenantRegistry},
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

/// What a reload changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub added: usize,
    pub removed: usize,
    pub rotated: usize,
}

pub struct Reloader {
    source: SettingsSource,
    tenants: Arc<TenantRegistry>,
    pipeline: Arc<Pipeline>,
    graph: Arc<GraphTransport>,
}

impl Reloader {
    pub fn new(
        source: SettingsSource,
        tenants: Arc<TenantRegistry>,
        pipeline: Arc<Pipeline>,
        graph: Arc<GraphTransport>,
    ) -> Self {
        Reloader { source, tenants, pipeline, graph }
    }

    /// Loads everything again and swaps it in, or changes nothing and says why.
    pub async fn reload(&self) -> Result<ReloadSummary, ConfigError> {
        let settings = self.source.load()?;
        settings.validate()?;
        let fresh = tenants::load(&settings, &self.graph, &|name| std::env::var(name).ok())?;
        let current = self.tenants.snapshot();

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
        self.tenants.replace(fresh);
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
        for tenant in self.tenants.snapshot().values() {
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
