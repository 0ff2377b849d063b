//! The cap on open server connections (`server.max_connections`). Every accepted connection holds
//! a permit until it closes; a connection accepted beyond the cap is closed at once, before any
//! byte of TLS or HTTP/2 is read, so a flood of connections costs a descriptor for a moment and
//! the kernel's backlog never fills with callers waiting for an answer that will not come.
//! Refusing at once (rather than not accepting) lets a client fail over to another replica.
//!
//! A connection must also prove itself quickly: one that has not sent the HTTP/2 client preface
//! within `server.handshake_timeout` of being admitted (for TLS, of its handshake completing,
//! which has the same bound) is closed, so silent connections cannot hold the cap's places.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Sleep,
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

/// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`: what every HTTP/2 client sends first.
const HTTP2_PREFACE_LEN: usize = 24;

/// A connection that gives its permit back when it is dropped, and fails its reads once its
/// preface deadline passes before the preface arrived.
pub struct Limited<S> {
    inner: S,
    _permit: ConnectionPermit,
    /// Until the preface has been read: when it must have been. Boxed, and dropped once met, so
    /// an established connection carries no timer.
    preface: Option<(Pin<Box<Sleep>>, usize)>,
}

impl<S> Limited<S> {
    /// `preface_within`: how long the peer has, from now, to send the HTTP/2 preface.
    pub fn new(inner: S, permit: ConnectionPermit, preface_within: Duration) -> Self {
        Self { inner, _permit: permit, preface: Some((Box::pin(tokio::time::sleep(preface_within)), 0)) }
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
        let this = &mut *self;
        let Some((deadline, read)) = &mut this.preface else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                *read += buf.filled().len() - before;
                if *read >= HTTP2_PREFACE_LEN || buf.filled().len() == before {
                    this.preface = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                metrics().connections_refused.add(1, &[]);
                tracing::debug!("connection closed: no HTTP/2 preface within server.handshake_timeout");
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no HTTP/2 preface in time")))
            }
            other => other,
        }
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_connection_without_a_preface_in_time_fails_its_reads() {
        let limit = ConnectionLimit::new(2);
        let (mut peer, ours) = tokio::io::duplex(64);
        let mut silent = Limited::new(ours, limit.admit().unwrap(), Duration::from_millis(50));
        let mut buf = [0u8; 8];
        let err = silent.read(&mut buf).await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);

        let (mut peer2, ours2) = tokio::io::duplex(64);
        let mut prompt = Limited::new(ours2, limit.admit().unwrap(), Duration::from_millis(50));
        peer2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
        let mut preface = [0u8; 24];
        prompt.read_exact(&mut preface).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        peer2.write_all(b"later").await.unwrap();
        let mut later = [0u8; 5];
        prompt.read_exact(&mut later).await.expect("no deadline once the preface arrived");
        peer.write_all(b"x").await.ok();
    }

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
