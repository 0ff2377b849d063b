//! Observability, tested for real: the service binary exports over OTLP to a receiver in this
//! test (`meeting-otlp-receiver`: the published TraceService and MetricsService, or OTLP/HTTP),
//! and its JSON log lines carry the correlation ids.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use meeting_emulator::{EmulatedTenant, Emulator, EmulatorConfig, Host, DEV_CLIENT_SECRET};
use meeting_otlp_receiver::{
    proto::{
        common::v1::{any_value, KeyValue},
        trace::v1::{span::SpanKind, Span},
    },
    Keep, OtlpReceiver, Protocol,
};
use meeting_service::grpc::pb::meeting_service_client::MeetingServiceClient;
use tonic::transport::Channel;

use crate::helpers::*;

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(value_text)
}

fn value_text(kv: &KeyValue) -> Option<String> {
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        other => Some(format!("{other:?}")),
    }
}

#[tokio::test]
async fn spans_and_metrics_arrive_over_otlp_grpc() {
    let receiver = OtlpReceiver::start(Protocol::Grpc, Keep::Everything).await.unwrap();
    check_export(&receiver, "grpc").await;
}

#[tokio::test]
async fn spans_and_metrics_arrive_over_otlp_http_protobuf() {
    let receiver = OtlpReceiver::start(Protocol::HttpProtobuf, Keep::Everything).await.unwrap();
    check_export(&receiver, "http/protobuf").await;
}

const CERT_TENANT: &str = "0c3f5a7e-2b4d-4c6e-8f1a-3b5d7f9e1c20";

/// The service binary exporting to `otlp` with `protocol`, against an emulator with the dev
/// tenant and a certificate tenant ([`CERT_TENANT`]), and a client connected to it.
struct ExportingService {
    emulator: Emulator,
    child: KillOnDrop,
    client: MeetingServiceClient<Channel>,
    dir: std::path::PathBuf,
}

impl Drop for ExportingService {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn spawn_exporting(otlp: &str, protocol: &str) -> ExportingService {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let tenant = EmulatedTenant::dev();
    emulator.add_tenant(tenant.clone());
    let fixture = |name: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    emulator.add_tenant(
        EmulatedTenant { tenant_id: CERT_TENANT.into(), ..EmulatedTenant::dev() }
            .with_certificate(std::fs::read_to_string(fixture("cert.pem")).unwrap()),
    );
    let dir = std::env::temp_dir().join(format!(
        "meeting-service-otel-{}-{}-{}",
        std::process::id(),
        protocol.replace('/', "-"),
        otlp.rsplit(':').next().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), &tenant.client_secret).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
[graph]
endpoint = "{graph}"
[identity]
authority_host = "{login}"
[auth]
mode = "none"
[log]
format = "json"
filter = "info"
[telemetry]
otlp_endpoint = "{otlp}"
otlp_protocol = "{protocol}"
metrics_interval = "1s"
[[tenants]]
tenant_id = "{tenant_id}"
client_id = "{client_id}"
client_secret_file = "{secret}"
[[tenants]]
tenant_id = "{CERT_TENANT}"
client_id = "{client_id}"
certificate_file = "{certificate}"
"#,
        certificate = fixture("client-certificate.pem").display(),
        graph = emulator.graph_endpoint(),
        login = emulator.authority_host(),
        tenant_id = tenant.tenant_id,
        client_id = tenant.client_id,
        secret = dir.join("secret").display(),
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let mut child = KillOnDrop(Some(
        Command::new(env!("CARGO_BIN_EXE_meeting-service"))
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env_remove("RUST_LOG")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_SERVICE_NAME")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));

    for _ in 0..100 {
        if let Ok(channel) = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await {
            return ExportingService { emulator, child, client: MeetingServiceClient::new(channel), dir };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut child = child.take();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    panic!("the service did not start: {}", String::from_utf8_lossy(&output.stderr));
}

/// SIGTERM, then the exit status and output.
async fn terminate(child: &mut KillOnDrop) -> std::process::Output {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let child = child.take();
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap()
}

#[tokio::test]
async fn a_collector_that_never_answers_neither_slows_nor_fails_calls() {
    // Accepts connections and never reads or writes: every export hangs until its timeout.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", blackhole.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = blackhole.accept().await {
            held.push(socket);
        }
    });
    let mut service = spawn_exporting(&otlp, "grpc").await;
    let client = &mut service.client;
    client.create(request(simple_meeting())).await.expect("created");
    for _ in 0..20 {
        let started = std::time::Instant::now();
        client.create(request(simple_meeting())).await.expect("export never fails a call");
        // An export waits up to its 10 s timeout; a call must not wait with it.
        assert!(started.elapsed() < Duration::from_secs(2), "a call took {:?}", started.elapsed());
    }
    // Shutdown gives the exporter a bounded time to flush, then exits anyway.
    let started = std::time::Instant::now();
    let output = terminate(&mut service.child).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(started.elapsed() < Duration::from_secs(15), "shutdown took {:?}", started.elapsed());
}

/// Runs the binary exporting to `receiver` with `protocol`, makes three calls (two with a
/// `traceparent`, one for a tenant with a certificate credential) and checks what arrived.
async fn check_export(receiver: &OtlpReceiver, protocol: &str) {
    let mut service = spawn_exporting(receiver.endpoint(), protocol).await;
    let (emulator, client) = (&service.emulator, &mut service.client);
    let tenant = EmulatedTenant::dev();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let mut call = tonic::Request::new(request(simple_meeting()));
    call.metadata_mut().insert("traceparent", format!("00-{trace_id}-{parent}-01").parse().unwrap());
    let created = client.create(call).await.expect("created").into_inner();
    let mut second = tonic::Request::new(request(simple_meeting()));
    second.metadata_mut().insert("traceparent", format!("00-{trace_id}-{parent}-01").parse().unwrap());
    client.create(second).await.expect("created");
    let by_certificate =
        meeting_service::grpc::pb::CreateRequest { tenant_id: CERT_TENANT.into(), ..request(simple_meeting()) };
    client.create(by_certificate).await.expect("created with a certificate credential");
    // Every mutating RPC is audited, reads are not.
    let meeting_id = created.meeting.as_ref().unwrap().id().to_owned();
    let target = |m: &str| (tenant.tenant_id.clone(), USER.to_owned(), m.to_owned());
    let (tenant_id, user_id, id) = target(&meeting_id);
    client
        .get(meeting_service::grpc::pb::GetRequest {
            tenant_id: tenant_id.clone(),
            user_id: user_id.clone(),
            meeting_id: id.clone(),
            ..Default::default()
        })
        .await
        .expect("read");
    client
        .update(meeting_service::grpc::pb::UpdateRequest {
            tenant_id: tenant_id.clone(),
            user_id: user_id.clone(),
            meeting_id: id.clone(),
            meeting: Some(Box::new(meeting_service::grpc::pb::OnlineMeeting {
                subject: Some("Renamed".into()),
                ..Default::default()
            })),
            update_mask: Some(prost_types::FieldMask { paths: vec!["subject".into()] }),
            ..Default::default()
        })
        .await
        .expect("updated");
    client
        .delete(meeting_service::grpc::pb::DeleteRequest { tenant_id, user_id, meeting_id: id, allow_missing: false })
        .await
        .expect("deleted");
    eventually(|| receiver.metric_names().iter().any(|n| n == "rpc.server.duration"), "metrics").await;

    let output = terminate(&mut service.child).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    eventually(|| receiver.counts().spans >= 6, "spans flushed at shutdown").await;

    let spans = receiver.spans();
    let ours: Vec<&Span> = spans.iter().filter(|s| hex(&s.trace_id) == trace_id).collect();
    let server: Vec<&&Span> = ours.iter().filter(|s| s.name == "meetings.v1.MeetingService/Create").collect();
    assert_eq!(server.len(), 2, "{:?}", ours.iter().map(|s| &s.name).collect::<Vec<_>>());
    let first = server[0];
    assert_eq!(hex(&first.parent_span_id), parent, "the server span continues the caller's span");
    assert_eq!(first.kind, SpanKind::Server as i32);
    assert_eq!(attribute(first, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(attribute(first, "rpc.method").as_deref(), Some("Create"));
    assert_eq!(attribute(first, "rpc.grpc.status_code").as_deref(), Some("0"));

    let children = |name: &str| -> Vec<&Span> {
        ours.iter()
            .copied()
            .filter(|s| s.name == name && server.iter().any(|p| p.span_id == s.parent_span_id))
            .collect()
    };
    assert_eq!(children("validate").len(), 2);
    let certificate_tokens: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "token" && attribute(s, "credential").as_deref() == Some("certificate_file"))
        .collect();
    assert_eq!(certificate_tokens.len(), 1);
    let tokens = children("token");
    let mut sources: Vec<_> = tokens.iter().map(|s| attribute(s, "token.source").unwrap()).collect();
    sources.sort();
    assert_eq!(sources, ["cache", "identity_platform"]);
    assert_eq!(attribute(tokens[0], "credential").as_deref(), Some("client_secret_file"));

    let graph = children("POST /users/{userId}/onlineMeetings");
    assert_eq!(graph.len(), 2);
    let sent = emulator.requests().into_iter().filter(|r| r.host == Host::Graph).collect::<Vec<_>>();
    for span in &graph {
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(attribute(span, "http.request.method").as_deref(), Some("POST"));
        assert_eq!(attribute(span, "url.template").as_deref(), Some("/users/{userId}/onlineMeetings"));
        assert_eq!(attribute(span, "http.response.status_code").as_deref(), Some("201"));
        assert_eq!(attribute(span, "http.request.resend_count").as_deref(), Some("0"));
        assert_eq!(attribute(span, "server.address").as_deref(), Some("127.0.0.1"));
        let client_request_id = attribute(span, "graph.client_request_id").unwrap();
        assert!(sent.iter().any(|r| r.header("client-request-id") == Some(client_request_id.as_str())));
    }
    assert!(graph
        .iter()
        .any(|s| attribute(s, "graph.request_id").as_deref() == Some(created.graph_request_id.as_str())));

    // Nothing secret anywhere in what was exported or logged.
    let tokens_sent: Vec<String> = sent
        .iter()
        .filter_map(|r| r.header("authorization"))
        .map(|a| a.trim_start_matches("Bearer ").to_owned())
        .collect();
    let exported: String =
        spans.iter().flat_map(|s| s.attributes.iter().filter_map(value_text)).collect::<Vec<_>>().join("\n");
    let logs = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    for haystack in [&exported, &logs] {
        assert!(!haystack.contains(DEV_CLIENT_SECRET));
        for token in &tokens_sent {
            assert!(!haystack.contains(token.as_str()), "a secret leaked: {}…", &token[..12.min(token.len())]);
        }
    }

    // One JSON line per RPC with the correlation ids.
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "Create succeeded")
        .expect("a JSON log line per RPC");
    assert_eq!(line["trace_id"], trace_id);
    assert_eq!(line["rpc.method"], "meetings.v1.MeetingService/Create");
    assert_eq!(line["rpc.grpc.status_code"], 0);
    assert!(sent.iter().any(|r| r.header("client-request-id") == line["graph.client_request_id"].as_str()));
    assert_eq!(line["tenant_id"], tenant.tenant_id);
    assert!(line["graph.request_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(line["elapsed_ms"].as_f64().is_some());

    // One audit record per Create, without the meeting's join secrets.
    let audit: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["target"] == "audit")
        .collect();
    assert_eq!(audit.len(), 5, "three creates, an update and a delete: {audit:?}");
    let messages: Vec<&str> = audit.iter().filter_map(|a| a["message"].as_str()).collect();
    assert_eq!(messages, ["meeting create", "meeting create", "meeting create", "meeting update", "meeting delete"]);
    for record in &audit[3..] {
        assert_eq!(record["meeting_id"], created.meeting.as_ref().unwrap().id());
        assert_eq!(record["outcome"], "Ok");
    }
    assert_eq!(audit[0]["meeting_id"], created.meeting.as_ref().unwrap().id());
    assert_eq!(audit[0]["organizer"], USER);
    assert_eq!(audit[0]["outcome"], "Ok");
    let join_url = created.meeting.as_ref().unwrap().join_web_url();
    assert!(!logs.contains(join_url), "the join URL is a secret of the meeting");

    let names = receiver.metric_names();
    for metric in [
        "rpc.server.duration",
        "http.client.request.duration",
        "meeting_service.token.requests",
        "meeting_service.token.cache",
    ] {
        assert!(names.iter().any(|n| n == metric), "{metric} missing from {names:?}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
