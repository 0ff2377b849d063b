//! TLS for the gRPC server, with mutual TLS when a client CA is configured. Certificates are
//! reloaded from disk when they change: the whole rustls configuration is rebuilt and swapped,
//! new connections use the new one, open connections keep theirs. A file that doesn't load is
//! rejected with a logged error and the last good configuration keeps serving.

use std::{io, path::PathBuf, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use rustls::{server::WebPkiClientVerifier, RootCertStore, ServerConfig};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_rustls::{server::TlsStream, TlsAcceptor};

use crate::{
    config::TlsSettings,
    connections::{ConnectionLimit, Limited},
};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client CA: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn file_error(path: &std::path::Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.display().to_string(), message: message.to_string() }
}

/// Builds the server configuration from the files, now.
pub fn load(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let certs = CertificateDer::pem_file_iter(&settings.cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error(&settings.cert_file, e))?;
    if certs.is_empty() {
        return Err(file_error(&settings.cert_file, "no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key_file).map_err(|e| file_error(&settings.key_file, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = match &settings.client_ca_file {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| file_error(ca, e))? {
                roots.add(cert.map_err(|e| file_error(ca, e))?).map_err(|e| file_error(ca, e))?;
            }
            builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?,
            )
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// The current TLS configuration, replaced when its files change.
pub struct ReloadingTls {
    settings: TlsSettings,
    current: ArcSwap<ServerConfig>,
}

impl ReloadingTls {
    pub fn new(settings: TlsSettings) -> Result<Arc<Self>, TlsError> {
        let config = load(&settings)?;
        Ok(Arc::new(ReloadingTls { settings, current: ArcSwap::from_pointee(config) }))
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// Loads the files again; keeps the current configuration if they don't load.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.current.store(Arc::new(load(&self.settings)?));
        Ok(())
    }

    fn files(&self) -> Vec<PathBuf> {
        let s = &self.settings;
        [Some(&s.cert_file), Some(&s.key_file), s.client_ca_file.as_ref()].into_iter().flatten().cloned().collect()
    }

    /// Watches the certificate files (their directories: Kubernetes swaps a `..data` symlink).
    pub fn spawn_watcher(self: &Arc<Self>) -> Result<tokio::task::JoinHandle<()>, notify::Error> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| !e.kind.is_access()) {
                let _ = tx.send(());
            }
        })?;
        let mut dirs: Vec<PathBuf> = self.files().iter().filter_map(|f| f.parent().map(PathBuf::from)).collect();
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        }
        let this = self.clone();
        Ok(tokio::spawn(async move {
            let _watcher = watcher;
            while rx.recv().await.is_some() {
                tokio::time::sleep(Duration::from_millis(300)).await;
                while rx.try_recv().is_ok() {}
                match this.reload() {
                    Ok(()) => tracing::info!("TLS certificates reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "new TLS files rejected; the current certificates keep serving")
                    }
                }
            }
        }))
    }
}

/// A TLS connection that holds its place under `server.max_connections`.
pub type TlsConnection = Limited<TlsStream<tokio::net::TcpStream>>;

/// Accepts TCP connections up to `limit` and hands completed TLS handshakes to the gRPC server;
/// a handshake that takes longer than `handshake_timeout` is dropped (slowloris), and so is a
/// connection that then sends no HTTP/2 preface within the same time.
/// A connection counts against the limit from its accept, handshake included.
pub fn accept(
    listener: TcpListener,
    tls: Arc<ReloadingTls>,
    limit: ConnectionLimit,
    handshake_timeout: Duration,
) -> (mpsc::Receiver<Result<TlsConnection, io::Error>>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(permit) = limit.admit() else { continue };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (tls.acceptor(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(Limited::new(stream, permit, handshake_timeout))).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    (rx, task)
}
