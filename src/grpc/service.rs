//! `meetings.v1.MeetingService`: reads the call's metadata (deadline, language, trace context),
//! converts the request, runs the pipeline, and converts the outcome. Reads like the flow it
//! implements.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
    KeyValue,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tokio::time::Instant;
use tonic::{metadata::MetadataMap, Request, Response, Status};
use tonic_types::StatusExt;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{
    convert,
    pb::{self, meeting_service_server::MeetingService},
    status::{to_status, Correlation},
};
use crate::{
    auth::{Authenticator, Caller},
    error::Error,
    pipeline::{CallContext, Pipeline},
    telemetry,
};

/// Set when the server begins shutting down: new calls are refused from then on.
#[derive(Clone, Debug, Default)]
pub struct ShutdownFlag(Arc<AtomicBool>);

impl ShutdownFlag {
    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct MeetingApi {
    pipeline: Arc<Pipeline>,
    auth: Arc<Authenticator>,
    default_deadline: Duration,
    shutdown: ShutdownFlag,
}

impl MeetingApi {
    pub fn new(
        pipeline: Arc<Pipeline>,
        auth: Arc<Authenticator>,
        default_deadline: Duration,
        shutdown: ShutdownFlag,
    ) -> Self {
        MeetingApi { pipeline, auth, default_deadline, shutdown }
    }
}

#[tonic::async_trait]
impl MeetingService for MeetingApi {
    async fn create(&self, request: Request<pb::CreateRequest>) -> Result<Response<pb::CreateResponse>, Status> {
        let started = Instant::now();
        let metadata = request.metadata();
        let deadline = started + answer_within(grpc_timeout(metadata).unwrap_or(self.default_deadline));
        let language = metadata.get("accept-language").map(|v| v.to_str().unwrap_or("\u{7f}").to_owned());
        let client_request_id = uuid::Uuid::new_v4().to_string();

        let span = tracing::info_span!(
            "meetings.v1.MeetingService/Create",
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = "meetings.v1.MeetingService",
            rpc.method = "Create",
            rpc.grpc.status_code = tracing::field::Empty,
            tenant_id = tracing::field::Empty,
            graph.client_request_id = %client_request_id,
        );
        let _in_flight = InFlight::start();
        let parent = TraceContextPropagator::new().extract(&MetadataExtractor(metadata));
        // A span is only exported when a subscriber with the OpenTelemetry layer is installed.
        let _ = span.set_parent(parent.clone());
        let correlation = Correlation {
            trace_id: Some(trace_id(&span, &parent)),
            client_request_id: Some(client_request_id.clone()),
        };

        // Authentication comes first: an unauthenticated caller learns nothing, not even whether
        // its request was valid.
        let peer_certs = request.peer_certs();
        let authorization = metadata.get("authorization").map(|v| v.to_str().unwrap_or_default().to_owned());
        let caller = self.auth.authenticate(peer_certs.as_deref().map(Vec::as_slice), authorization.as_deref());
        let request = request.into_inner();
        let tenant = request.tenant_id.clone();
        let organizer = request.user_id.clone();
        let external_id = request.meeting.as_ref().and_then(|m| m.external_id.clone());
        span.record("tenant_id", tenant.as_str());
        let outcome = async {
            if self.shutdown.is_raised() {
                return Err(Error::ShuttingDown);
            }
            let caller = caller.clone()?;
            let command =
                tracing::info_span!("validate").in_scope(|| convert::create_command(request, language.as_deref()))?;
            let ctx = CallContext { caller, deadline, client_request_id };
            match tokio::time::timeout_at(deadline, self.pipeline.create(&ctx, command)).await {
                Ok(result) => result,
                Err(_) => Err(Error::DeadlineExceeded { reached_graph: true }),
            }
        }
        .instrument(span.clone())
        .await;

        let _entered = span.enter();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (response, code) = match outcome {
            Ok(created) => {
                tracing::info!(
                    rpc.method = "meetings.v1.MeetingService/Create",
                    rpc.grpc.status_code = 0,
                    tenant_id = %tenant,
                    created = created.created,
                    graph.request_id = created.graph_request_id.as_deref().unwrap_or_default(),
                    graph.client_request_id = correlation.client_request_id.as_deref().unwrap_or_default(),
                    trace_id = correlation.trace_id.as_deref().unwrap_or_default(),
                    elapsed_ms,
                    "Create succeeded"
                );
                (Ok(Response::new(convert::create_response(created))), tonic::Code::Ok)
            }
            Err(error) => {
                let status = to_status(&error, &correlation);
                tracing::warn!(
                    rpc.method = "meetings.v1.MeetingService/Create",
                    rpc.grpc.status_code = status.code() as i32,
                    tenant_id = %tenant,
                    error.message = %error,
                    graph.client_request_id = correlation.client_request_id.as_deref().unwrap_or_default(),
                    trace_id = correlation.trace_id.as_deref().unwrap_or_default(),
                    elapsed_ms,
                    "Create failed"
                );
                span.record("otel.status_code", "ERROR");
                let code = status.code();
                (Err(status), code)
            }
        };
        span.record("rpc.grpc.status_code", code as i32);
        let (meeting_id, graph_request_id) = match &response {
            Ok(r) => {
                (r.get_ref().meeting.as_ref().and_then(|m| m.id.clone()), Some(r.get_ref().graph_request_id.clone()))
            }
            Err(status) => (
                None,
                status.get_error_details().error_info().and_then(|i| i.metadata.get("graph_request_id").cloned()),
            ),
        };
        // The audit trail: who created what for whom. Never the join URL, passcode, dial-in
        // details or any credential.
        tracing::info!(
            target: "audit",
            caller = caller.as_ref().map(Caller::describe).unwrap_or_else(|e| format!("unauthenticated ({e})")),
            tenant_id = %tenant,
            organizer = %organizer,
            meeting_id = meeting_id.as_deref().unwrap_or_default(),
            external_id = external_id.as_deref().unwrap_or_default(),
            outcome = ?code,
            graph.request_id = graph_request_id.as_deref().unwrap_or_default(),
            trace_id = correlation.trace_id.as_deref().unwrap_or_default(),
            "meeting create"
        );
        telemetry::metrics().rpc_duration.record(
            elapsed_ms,
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", "meetings.v1.MeetingService"),
                KeyValue::new("rpc.method", "Create"),
                KeyValue::new("rpc.grpc.status_code", code as i64),
            ],
        );
        response
    }
}

/// Counts a call in flight until it ends, however it ends (a cancelled call drops it too).
struct InFlight;

impl InFlight {
    fn start() -> Self {
        telemetry::metrics().rpc_in_flight.add(1, &[KeyValue::new("rpc.method", "Create")]);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        telemetry::metrics().rpc_in_flight.add(-1, &[KeyValue::new("rpc.method", "Create")]);
    }
}

/// The caller's `grpc-timeout` (tonic's own server timeout would answer CANCELLED, and handlers
/// never see the parsed value). Format: up to 8 digits and a unit H, M, S, m, u or n.
fn grpc_timeout(metadata: &MetadataMap) -> Option<Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    if text.len() < 2 || text.len() > 9 {
        return None;
    }
    let (digits, unit) = text.split_at(text.len() - 1);
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.checked_mul(3600)?),
        "M" => Duration::from_secs(value.checked_mul(60)?),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// The time the service gives itself: a little less than the caller's deadline, so that the
/// caller receives the service's DEADLINE_EXCEEDED (with its details) before its own timer
/// cancels the call.
fn answer_within(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 10).min(Duration::from_millis(100)))
}

struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => Some(k.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// The W3C trace id of the call: the exported span's, else the caller's, else a fresh one (so
/// that errors can always be correlated with logs).
fn trace_id(span: &tracing::Span, parent: &opentelemetry::Context) -> String {
    let own = span.context().span().span_context().trace_id();
    let caller = parent.span().span_context().trace_id();
    for id in [own, caller] {
        if id != opentelemetry::trace::TraceId::INVALID {
            return id.to_string();
        }
    }
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts() {
        let parse = |v: &str| {
            let mut m = MetadataMap::new();
            m.insert("grpc-timeout", v.parse().unwrap());
            grpc_timeout(&m)
        };
        assert_eq!(parse("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(parse("100"), None);
        assert_eq!(parse("S"), None);
        assert_eq!(parse("123456789S"), None);
        assert_eq!(parse("1x"), None);
        assert_eq!(grpc_timeout(&MetadataMap::new()), None);
    }
}
