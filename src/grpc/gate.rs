//! The gate in front of the API: a tower layer that authenticates each call of
//! `meetings.v1.MeetingService` on its request headers, before any byte of its body is read, and
//! bounds how long the body may take to arrive. An unauthenticated caller thus costs the service
//! a header map and an immediate answer, never a buffered message (up to
//! `server.max_request_bytes` on each of a connection's streams) or a handler. The caller it
//! proves travels to the handler in the request's extensions.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tonic::{
    body::Body,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};
use tower_layer::Layer;
use tower_service::Service;

use super::status::{to_status, Correlation};
use crate::access::Access;

/// The API's path prefix: health and reflection are not gated.
const API_PREFIX: &str = "/meetings.v1.MeetingService/";

#[derive(Clone)]
pub struct GateLayer {
    access: Arc<Access>,
    body_timeout: Duration,
}

impl GateLayer {
    /// `body_timeout`: how long a call's request body may take to arrive in full.
    pub fn new(access: Arc<Access>, body_timeout: Duration) -> Self {
        GateLayer { access, body_timeout }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate { inner, access: self.access.clone(), body_timeout: self.body_timeout }
    }
}

#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    access: Arc<Access>,
    body_timeout: Duration,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<Body>> for Gate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        if !request.uri().path().starts_with(API_PREFIX) {
            return Box::pin(self.inner.call(request));
        }
        let peer_certs =
            request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>().and_then(|info| info.peer_certs());
        let authorization = request.headers().get(http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or_default());
        match self.access.authenticate(peer_certs.as_deref().map(Vec::as_slice), authorization) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                let deadline = Instant::now() + self.body_timeout;
                let request = request.map(|body| Body::new(DeadlineBody::new(body, deadline)));
                Box::pin(self.inner.call(request))
            }
            Err(error) => {
                let status = to_status(&error, &Correlation::default());
                tracing::warn!(
                    rpc.method = request.uri().path().get(1..).unwrap_or_default().get(..96).unwrap_or_default(),
                    rpc.grpc.status_code = status.code() as i32,
                    error.message = %error,
                    "call refused before its body was read"
                );
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

/// A request body that fails once `deadline` passes before it ended (slow senders hold a
/// stream, its buffers and a handler otherwise).
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, deadline: Instant) -> Self {
        DeadlineBody { inner, deadline: Box::pin(tokio::time::sleep_until(deadline)) }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending if this.deadline.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Some(Err(tonic::Status::deadline_exceeded(
                    "the request message did not arrive within server.request_body_timeout",
                ))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
