//! The cap on open server connections (`server.max_connections`). Every accepted connection holds
//! a permit until it closes; a connection accepted beyond the cap is closed at once, before any
//! byte of TLS or HTTP/2 is read, so a flood of connections costs a descriptor for a moment and
//! the kernel's backlog never fills with callers waiting for an answer that will not come.
//! Refusing at once (rather than not accepting) lets a client fail over to another replica.

use std::{
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tonic::transport::server::Connected;

use crate::telemetry::metrics;

/// Admits connections up to a fixed number open at once.
#[derive(Clone)]
pub struct ConnectionLimit {
    permits: Arc<Semaphore>,
    max: usize,
    /// Set from the first refusal until the next admission, so a flood logs one warning.
    saturated: Arc<AtomicBool>,
}

impl ConnectionLimit {
    pub fn new(max: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(max)), max, saturated: Arc::default() }
    }

    /// A permit for one more connection, or `None` (counted and logged) when the cap is reached.
    pub fn admit(&self) -> Option<ConnectionPermit> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                self.saturated.store(false, Ordering::Relaxed);
                Some(ConnectionPermit { _permit: permit })
            }
            Err(_) => {
                metrics().connections_refused.add(1, &[]);
                if !self.saturated.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        max_connections = self.max,
                        "connection limit reached: new connections are closed until one ends"
                    );
                }
                None
            }
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max - self.permits.available_permits()
    }
}

/// Held for as long as one connection is open.
pub struct ConnectionPermit {
    _permit: OwnedSemaphorePermit,
}

/// A connection that gives its permit back when it is dropped.
pub struct Limited<S> {
    inner: S,
    _permit: ConnectionPermit,
}

impl<S> Limited<S> {
    pub fn new(inner: S, permit: ConnectionPermit) -> Self {
        Self { inner, _permit: permit }
    }
}

impl<S: Connected> Connected for Limited<S> {
    // The same information as the bare connection, so `Request::peer_certs()` and
    // `remote_addr()` keep working.
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_come_back_when_connections_close() {
        let limit = ConnectionLimit::new(2);
        let first = limit.admit().expect("first");
        let second = limit.admit().expect("second");
        assert_eq!(limit.open(), 2);
        assert!(limit.admit().is_none(), "a third is refused");
        drop(first);
        assert_eq!(limit.open(), 1);
        let third = limit.admit().expect("room again");
        drop((second, third));
        assert_eq!(limit.open(), 0);
    }
}
