//! An OTLP collector on loopback for the service's tests and its load benchmark: it serves the
//! published `TraceService` and `MetricsService` over gRPC, or OTLP/HTTP with protobuf bodies
//! (`POST /v1/traces`, `POST /v1/metrics`), and counts what arrives. A receiver that keeps
//! ([`Keep::Everything`]) also stores the spans and the metric names for assertions; one that
//! counts ([`Keep::Counts`]) stores nothing, so that a benchmark exporting every span of every
//! call does not grow the benchmark's own memory. It implements only what a receiver needs, not
//! a collector (no processing, no forwarding). Test and benchmark code only: never a dependency
//! of the service.

#![forbid(unsafe_code)]

use std::{
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
};

use axum::{body::Bytes, extract::State, http::StatusCode, response::IntoResponse, routing::post, Router};
use opentelemetry_proto::tonic::{
    collector::{
        metrics::v1::{
            metrics_service_server::{MetricsService, MetricsServiceServer},
            ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        },
        trace::v1::{
            trace_service_server::{TraceService, TraceServiceServer},
            ExportTraceServiceRequest, ExportTraceServiceResponse,
        },
    },
    trace::v1::Span,
};
use prost::Message;
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::{Request, Response, Status};

/// The generated OTLP types (`trace::v1::Span`, `common::v1::KeyValue`, ...), for assertions on
/// what was received.
pub use opentelemetry_proto::tonic as proto;

/// How exporters reach the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC: `opentelemetry.proto.collector.{trace,metrics}.v1` services.
    Grpc,
    /// OTLP/HTTP with protobuf bodies: `POST /v1/traces` and `POST /v1/metrics`.
    HttpProtobuf,
}

/// What the receiver stores besides its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Every span and every metric name, for assertions.
    Everything,
    /// Counts only: memory stays flat however much is exported.
    Counts,
}

/// What arrived since the start (or the last [`OtlpReceiver::reset`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub spans: u64,
    /// Spans without a parent in the export: one per call the service served without a caller's
    /// trace context.
    pub root_spans: u64,
    /// Metric export requests.
    pub metric_exports: u64,
}

/// A running receiver on `127.0.0.1`; dropping it stops its server.
pub struct OtlpReceiver {
    endpoint: String,
    state: Arc<Received>,
    server: JoinHandle<()>,
}

impl OtlpReceiver {
    /// Starts a receiver on an ephemeral loopback port, on the current Tokio runtime.
    pub async fn start(protocol: Protocol, keep: Keep) -> io::Result<OtlpReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Received::new(keep));
        let collector = Collector(Arc::clone(&state));
        let server = match protocol {
            Protocol::Grpc => {
                let router = tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(collector.clone()))
                    .add_service(MetricsServiceServer::new(collector));
                let incoming = tonic::transport::server::TcpIncoming::from(listener);
                tokio::spawn(async move {
                    let _ = router.serve_with_incoming(incoming).await;
                })
            }
            Protocol::HttpProtobuf => {
                let app = Router::new()
                    .route("/v1/traces", post(http_traces))
                    .route("/v1/metrics", post(http_metrics))
                    .with_state(collector);
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                })
            }
        };
        Ok(OtlpReceiver { endpoint, state, server })
    }

    /// `http://127.0.0.1:PORT`: the exporter's endpoint (OTLP/HTTP appends `/v1/...` itself).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn counts(&self) -> Counts {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Counts {
            spans: load(&self.state.spans),
            root_spans: load(&self.state.root_spans),
            metric_exports: load(&self.state.metric_exports),
        }
    }

    /// The spans received, in arrival order (none with [`Keep::Counts`]).
    pub fn spans(&self) -> Vec<Span> {
        lock(&self.state.spans_kept).clone()
    }

    /// The names of the metrics received, once per export (none with [`Keep::Counts`]).
    pub fn metric_names(&self) -> Vec<String> {
        lock(&self.state.metric_names).clone()
    }

    /// Forgets everything received so far.
    pub fn reset(&self) {
        for counter in [&self.state.spans, &self.state.root_spans, &self.state.metric_exports] {
            counter.store(0, Ordering::Relaxed);
        }
        lock(&self.state.spans_kept).clear();
        lock(&self.state.metric_names).clear();
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the receiver saw; shared by its server and its handle.
struct Received {
    keep: Keep,
    spans: AtomicU64,
    root_spans: AtomicU64,
    metric_exports: AtomicU64,
    spans_kept: Mutex<Vec<Span>>,
    metric_names: Mutex<Vec<String>>,
}

/// A poisoned lock is taken over: a panicking test thread leaves whole vectors behind.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Received {
    fn new(keep: Keep) -> Received {
        Received {
            keep,
            spans: AtomicU64::new(0),
            root_spans: AtomicU64::new(0),
            metric_exports: AtomicU64::new(0),
            spans_kept: Mutex::default(),
            metric_names: Mutex::default(),
        }
    }

    fn keeps(&self) -> bool {
        self.keep == Keep::Everything
    }

    fn traces(&self, request: ExportTraceServiceRequest) {
        let spans = request.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans);
        let mut kept = Vec::new();
        for span in spans {
            self.spans.fetch_add(1, Ordering::Relaxed);
            if span.parent_span_id.is_empty() {
                self.root_spans.fetch_add(1, Ordering::Relaxed);
            }
            if self.keeps() {
                kept.push(span);
            }
        }
        if !kept.is_empty() {
            lock(&self.spans_kept).extend(kept);
        }
    }

    fn metrics(&self, request: ExportMetricsServiceRequest) {
        self.metric_exports.fetch_add(1, Ordering::Relaxed);
        if self.keeps() {
            let metrics = request.resource_metrics.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics);
            lock(&self.metric_names).extend(metrics.map(|m| m.name));
        }
    }
}

/// The server side of the receiver (gRPC services and HTTP handlers' state).
#[derive(Clone)]
struct Collector(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.traces(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.metrics(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn http_traces(State(collector): State<Collector>, body: Bytes) -> axum::response::Response {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            collector.0.traces(request);
            protobuf(ExportTraceServiceResponse::default().encode_to_vec())
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("not an OTLP trace export: {e}")).into_response(),
    }
}

async fn http_metrics(State(collector): State<Collector>, body: Bytes) -> axum::response::Response {
    match ExportMetricsServiceRequest::decode(body) {
        Ok(request) => {
            collector.0.metrics(request);
            protobuf(ExportMetricsServiceResponse::default().encode_to_vec())
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("not an OTLP metrics export: {e}")).into_response(),
    }
}

fn protobuf(body: Vec<u8>) -> axum::response::Response {
    ([(axum::http::header::CONTENT_TYPE, "application/x-protobuf")], body).into_response()
}

#[cfg(test)]
mod tests;
