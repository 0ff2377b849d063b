//! Assembles the service from its settings and serves it: the meetings API, gRPC health (overall
//! and per service) and reflection (v1 and v1alpha, which grpcurl 1.8 needs). On shutdown,
//! health turns NOT_SERVING, new calls are refused, calls in flight finish within the grace
//! period.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::{
    access::Access,
    auth::Authenticator,
    config::{ConfigError, Settings},
    connections::{ConnectionLimit, Limited},
    graph::{Cloud, GraphTransport},
    grpc::{
        pb::{self, meeting_service_server::MeetingServiceServer},
        GateLayer, MeetingApi, ShutdownFlag,
    },
    identity::{TokenClient, TokenPolicy, TokenProvider},
    limits::Limits,
    pipeline::Pipeline,
    reload::{Reloader, SettingsSource},
    tenants::{self, TenantRegistry},
    tls::{self, ReloadingTls},
};

/// The service, built and ready to serve.
pub struct App {
    access: Arc<Access>,
    pipeline: Arc<Pipeline>,
    auth: Arc<Authenticator>,
    tls: Option<Arc<ReloadingTls>>,
    http: reqwest::Client,
    settings: Settings,
    reloader: Option<Reloader>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("TLS: {0}")]
    Tls(String),
}

impl App {
    /// Turns the settings into what serves, reading each file they name once: the tenants
    /// (credentials), the caller authenticator (JWKS files), the TLS configuration, the
    /// clients and the token cache. `source` says where the settings came from, for reloads;
    /// settings must have passed `validate`.
    pub fn build(settings: Settings, source: SettingsSource) -> Result<App, ConfigError> {
        // reqwest is built without a default crypto provider (ring builds much faster than
        // aws-lc); an earlier install by the embedding process is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // One client for the identity platform (and JWKS); Graph's transport has its own.
        let http = http_client(false)?;
        let graph = Arc::new(GraphTransport::new(graph_tls()?, settings.graph.http2_prior_knowledge).map_err(|e| {
            ConfigError::Invalid { key: "graph.endpoint".into(), message: format!("HTTP client: {e}") }
        })?);

        let tenants = tenants::load(&settings, &graph, &|name| std::env::var(name).ok())?;
        for (id, tenant) in &tenants {
            if tenant.cloud == Cloud::China {
                tracing::warn!(
                    tenant_id = %id,
                    "Microsoft documents no onlineMeetings API in the China (21Vianet) cloud: creates for this tenant will likely fail"
                );
            }
            if matches!(tenant.cloud, Cloud::Usgov | Cloud::UsgovDod) {
                tracing::info!(
                    tenant_id = %id,
                    "US Government cloud: properties Graph lacks there are refused with INVALID_ARGUMENT"
                );
            }
        }
        let identity = &settings.identity;
        let tokens = TokenProvider::new(
            TokenClient::new(http.clone()),
            TokenPolicy {
                refresh_margin: identity.token_refresh_margin,
                refresh_fraction: identity.refresh_fraction,
                max_cached_tenants: identity.max_cached_tenants,
                idle_eviction: identity.idle_eviction,
            },
        );
        let limits = Limits::new(settings.limits.clone());
        let auth = Arc::new(
            Authenticator::new(&settings.auth)
                .map_err(|message| ConfigError::Invalid { key: "auth".into(), message })?,
        );
        let tls = match &settings.server.tls {
            Some(tls) => Some(
                ReloadingTls::new(tls.clone())
                    .map_err(|e| ConfigError::Invalid { key: "server.tls".into(), message: e.to_string() })?,
            ),
            None => None,
        };
        let tenants = Arc::new(TenantRegistry::new(tenants));
        let access = Arc::new(Access::new(auth.clone(), tenants.clone()));
        let pipeline = Arc::new(Pipeline::new(tokens, limits, settings.graph.max_retries));
        let reloader = identity.watch_files.then(|| Reloader::new(source, tenants, pipeline.clone(), graph));
        Ok(App { access, pipeline, auth, tls, http, settings, reloader })
    }

    /// Serves on `listener` until `shutdown` completes, then drains.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<MeetingServiceServer<MeetingApi>>().await;

        // The API, health, and the google.rpc error details every error carries (so grpcurl
        // prints ErrorInfo, RetryInfo and BadRequest decoded).
        let descriptors =
            [pb::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET, tonic_types::pb::FILE_DESCRIPTOR_SET];
        let reflection = || {
            descriptors.iter().fold(tonic_reflection::server::Builder::configure(), |builder, set| {
                builder.register_encoded_file_descriptor_set(set)
            })
        };
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;

        let flag = ShutdownFlag::default();
        let _jwks = self.auth.spawn_jwks_refresh(self.http.clone(), Duration::from_secs(300)).map(AbortOnDrop);
        let api = MeetingServiceServer::new(MeetingApi::new(
            self.access.clone(),
            self.pipeline.clone(),
            self.settings.server.default_deadline,
            flag.clone(),
        ))
        .max_decoding_message_size(self.settings.server.max_request_bytes)
        .max_encoding_message_size(16 * 1024 * 1024);

        let _watcher = match self.reloader.map(Reloader::spawn_watcher).transpose() {
            Ok(watcher) => watcher.map(AbortOnDrop),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch configuration files; changes need a restart");
                None
            }
        };

        let grace = self.settings.server.shutdown_grace_period;
        let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
        let on_shutdown = async move {
            shutdown.await;
            tracing::info!(grace_period = ?grace, "shutting down: NOT_SERVING, refusing new calls, draining");
            flag.raise();
            health.set_service_status("", ServingStatus::NotServing).await;
            health.set_not_serving::<MeetingServiceServer<MeetingApi>>().await;
            let _ = draining_tx.send(());
        };

        let mut server = tonic::transport::Server::builder();
        if let Some(age) = self.settings.server.max_connection_age {
            // A GOAWAY after `age`: clients reconnect and re-resolve, so new replicas get calls.
            server =
                server.max_connection_age(age).max_connection_age_grace(self.settings.server.max_connection_age_grace);
        }
        let router = server
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .max_concurrent_streams(self.settings.server.max_concurrent_streams)
            .layer(GateLayer::new(self.access.clone(), self.settings.server.request_body_timeout))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(api);
        let grace_elapsed = async {
            if draining_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let limit = ConnectionLimit::new(self.settings.server.max_connections);
        let handshake_timeout = self.settings.server.handshake_timeout;
        match self.tls {
            None => {
                let incoming = TcpIncoming::from(listener).with_nodelay(Some(true)).filter_map(move |accepted| {
                    // Dropping a refused stream closes it.
                    accepted
                        .map(|tcp| limit.admit().map(|permit| Limited::new(tcp, permit, handshake_timeout)))
                        .transpose()
                });
                tokio::select! {
                    result = router.serve_with_incoming_shutdown(incoming, on_shutdown) => result?,
                    () = grace_elapsed => tracing::warn!("grace period elapsed with calls still in flight; exiting"),
                }
            }
            Some(tls) => {
                let _tls_watcher = match tls.spawn_watcher() {
                    Ok(watcher) => Some(AbortOnDrop(watcher)),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot watch the TLS files; certificate changes need a restart");
                        None
                    }
                };
                let (connections, acceptor) = tls::accept(listener, tls, limit, handshake_timeout);
                let _acceptor = AbortOnDrop(acceptor);
                let incoming = tokio_stream::wrappers::ReceiverStream::new(connections);
                tokio::select! {
                    result = router.serve_with_incoming_shutdown(incoming, on_shutdown) => result?,
                    () = grace_elapsed => tracing::warn!("grace period elapsed with calls still in flight; exiting"),
                }
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Graph's certificate is checked as reqwest checks it: the platform's verifier and roots.
fn graph_tls() -> Result<rustls::ClientConfig, ConfigError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let invalid =
        |e: rustls::Error| ConfigError::Invalid { key: "graph.endpoint".into(), message: format!("TLS: {e}") };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(invalid)?
        .with_platform_verifier()
        .map_err(invalid)?
        .with_no_client_auth())
}

fn http_client(http2_prior_knowledge: bool) -> Result<reqwest::Client, ConfigError> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("meeting-service/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(30))
        // A redirect could carry the bearer token elsewhere; Graph's create doesn't redirect.
        .redirect(reqwest::redirect::Policy::none());
    let builder = if http2_prior_knowledge { builder.http2_prior_knowledge() } else { builder };
    builder
        .build()
        .map_err(|e| ConfigError::Invalid { key: "graph.endpoint".into(), message: format!("HTTP client: {e}") })
}

/// Stops the file watcher when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
