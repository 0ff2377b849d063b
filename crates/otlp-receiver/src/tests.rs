//! The receiver, fed by OTLP clients: the generated gRPC clients, and raw HTTP/1.1 requests.

use opentelemetry_proto::tonic::{
    collector::{
        metrics::v1::metrics_service_client::MetricsServiceClient, trace::v1::trace_service_client::TraceServiceClient,
    },
    metrics::v1::{Metric, ResourceMetrics, ScopeMetrics},
    trace::v1::{ResourceSpans, ScopeSpans},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn span(name: &str, parent: &[u8]) -> Span {
    Span {
        name: name.into(),
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        parent_span_id: parent.to_vec(),
        ..Default::default()
    }
}

/// One export of `spans`, split over two resources to check that all of them are read.
fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    let resource =
        |spans| ResourceSpans { scope_spans: vec![ScopeSpans { spans, ..Default::default() }], ..Default::default() };
    let (first, second) = spans.split_at(spans.len() / 2);
    ExportTraceServiceRequest { resource_spans: vec![resource(first.to_vec()), resource(second.to_vec())] }
}

fn metrics(names: &[&str]) -> ExportMetricsServiceRequest {
    let metrics = names.iter().map(|n| Metric { name: (*n).into(), ..Default::default() }).collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    }
}

async fn export_grpc(receiver: &OtlpReceiver) {
    let endpoint = receiver.endpoint().to_owned();
    let mut client = TraceServiceClient::connect(endpoint.clone()).await.expect("connects");
    let spans = vec![span("root", &[]), span("child", &[2; 8]), span("other child", &[3; 8])];
    client.export(traces(spans)).await.expect("trace export accepted");
    let mut client = MetricsServiceClient::connect(endpoint).await.expect("connects");
    client.export(metrics(&["rpc.server.duration", "token.requests"])).await.expect("metrics export accepted");
}

#[tokio::test]
async fn a_keeping_receiver_counts_and_keeps_spans_and_metric_names_until_reset() {
    let receiver = OtlpReceiver::start(Protocol::Grpc, Keep::Everything).await.expect("starts");
    export_grpc(&receiver).await;
    assert_eq!(receiver.counts(), Counts { spans: 3, root_spans: 1, metric_exports: 1 });
    let names: Vec<String> = receiver.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["root", "child", "other child"]);
    assert_eq!(receiver.metric_names(), ["rpc.server.duration", "token.requests"]);

    receiver.reset();
    assert_eq!(receiver.counts(), Counts::default());
    assert!(receiver.spans().is_empty() && receiver.metric_names().is_empty());
    export_grpc(&receiver).await;
    assert_eq!(receiver.counts(), Counts { spans: 3, root_spans: 1, metric_exports: 1 });
}

#[tokio::test]
async fn a_counting_receiver_stores_nothing() {
    let receiver = OtlpReceiver::start(Protocol::Grpc, Keep::Counts).await.expect("starts");
    export_grpc(&receiver).await;
    export_grpc(&receiver).await;
    assert_eq!(receiver.counts(), Counts { spans: 6, root_spans: 2, metric_exports: 2 });
    assert!(receiver.spans().is_empty());
    assert!(receiver.metric_names().is_empty());
}

/// Status line, `content-type` and body of one HTTP/1.1 POST.
async fn post(receiver: &OtlpReceiver, path: &str, body: &[u8]) -> (String, Option<String>, Vec<u8>) {
    let addr = receiver.endpoint().trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.expect("sends");
    socket.write_all(body).await.expect("sends");
    let mut reply = Vec::new();
    socket.read_to_end(&mut reply).await.expect("reads");
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head.lines().next().unwrap_or_default().to_owned();
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned());
    (status, content_type, reply[split + 4..].to_vec())
}

#[tokio::test]
async fn http_protobuf_exports_are_received_and_garbage_is_refused() {
    let receiver = OtlpReceiver::start(Protocol::HttpProtobuf, Keep::Everything).await.expect("starts");
    let (status, content_type, body) =
        post(&receiver, "/v1/traces", &traces(vec![span("root", &[]), span("child", &[2; 8])]).encode_to_vec()).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(content_type.as_deref(), Some("application/x-protobuf"));
    assert_eq!(ExportTraceServiceResponse::decode(body.as_slice()).ok(), Some(ExportTraceServiceResponse::default()));
    let (status, _, _) =
        post(&receiver, "/v1/metrics", &metrics(&["http.client.request.duration"]).encode_to_vec()).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(receiver.counts(), Counts { spans: 2, root_spans: 1, metric_exports: 1 });
    assert_eq!(receiver.metric_names(), ["http.client.request.duration"]);

    let (status, _, _) = post(&receiver, "/v1/traces", b"\xff\xff\xff not protobuf").await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert_eq!(receiver.counts().spans, 2, "nothing counted from a body that does not decode");
}
