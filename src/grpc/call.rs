//! A call's plumbing, written once for every RPC: what its metadata says (deadline, language,
//! trace context, credentials), and a guard that, when the call ends however it ends, records
//! its span, its access log line, its audit record (mutating RPCs) and its metrics, so that
//! these cannot drift apart between RPCs. A handler keeps only its own steps.

use std::{fmt, time::Duration};

use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
    KeyValue,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tokio::time::Instant;
use tonic::{metadata::MetadataMap, Response, Status};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::status::{to_status, Correlation};
use crate::{auth::Caller, error::Error, pipeline::CallContext, telemetry};

/// The service name every RPC of this API is reported under.
const SERVICE: &str = "meetings.v1.MeetingService";

/// One RPC of the API, as telemetry and the audit trail name it.
pub(super) struct Rpc {
    /// The method, e.g. `Create`.
    pub name: &'static str,
    /// `meetings.v1.MeetingService/Create`: the span's and the access log's name.
    pub full_name: &'static str,
    /// The audit record's message for an RPC that changes something; `None` for reads.
    pub audit: Option<&'static str>,
}

pub(super) const CREATE: Rpc =
    Rpc { name: "Create", full_name: "meetings.v1.MeetingService/Create", audit: Some("meeting create") };
pub(super) const GET: Rpc = Rpc { name: "Get", full_name: "meetings.v1.MeetingService/Get", audit: None };
pub(super) const FIND: Rpc = Rpc { name: "Find", full_name: "meetings.v1.MeetingService/Find", audit: None };
pub(super) const UPDATE: Rpc =
    Rpc { name: "Update", full_name: "meetings.v1.MeetingService/Update", audit: Some("meeting update") };
pub(super) const SCHEDULE: Rpc =
    Rpc { name: "Schedule", full_name: "meetings.v1.MeetingService/Schedule", audit: Some("meeting schedule") };
pub(super) const CANCEL: Rpc =
    Rpc { name: "Cancel", full_name: "meetings.v1.MeetingService/Cancel", audit: Some("event cancel") };
pub(super) const DELETE: Rpc =
    Rpc { name: "Delete", full_name: "meetings.v1.MeetingService/Delete", audit: Some("meeting delete") };

/// What a request tells the log and the audit trail about itself before it is validated (each
/// value bounded and escaped when logged).
pub(super) trait Subject {
    fn tenant_id(&self) -> &str;
    fn organizer(&self) -> &str;
    /// The meeting the request names, if it names one.
    fn meeting_id(&self) -> Option<&str> {
        None
    }
    fn external_id(&self) -> Option<&str> {
        None
    }
}

/// What a response tells the log and the audit trail.
pub(super) trait Outcome {
    fn meeting_id(&self) -> Option<&str>;
    fn graph_request_id(&self) -> &str;
    fn created(&self) -> Option<bool> {
        None
    }
}

/// A call as a handler sees it: who calls, until when, in which language.
pub(super) struct Call {
    pub context: CallContext,
    /// The `accept-language` metadata (the request's own `language` field wins).
    pub language: Option<String>,
}

/// The call's metadata, read once.
pub(super) struct CallMetadata {
    pub deadline: Instant,
    pub language: Option<String>,
    pub authorization: Option<String>,
    parent: opentelemetry::Context,
}

impl CallMetadata {
    pub fn read(metadata: &MetadataMap, started: Instant, default_deadline: Duration) -> Self {
        CallMetadata {
            deadline: started + answer_within(grpc_timeout(metadata).unwrap_or(default_deadline)),
            // A value that isn't visible ASCII can't be a language tag: keep it invalid so that
            // validation names it instead of silently dropping it.
            language: metadata.get("accept-language").map(|v| v.to_str().unwrap_or("\u{7f}").to_owned()),
            authorization: metadata.get("authorization").map(|v| v.to_str().unwrap_or_default().to_owned()),
            parent: TraceContextPropagator::new().extract(&MetadataExtractor(metadata)),
        }
    }
}

/// Records the call when it ends; dropping it without `finish` (a cancelled call) still ends
/// its in-flight count.
pub(super) struct CallGuard {
    rpc: &'static Rpc,
    started: Instant,
    span: tracing::Span,
    correlation: Correlation,
    caller: String,
    tenant_id: String,
    organizer: String,
    external_id: Option<String>,
    /// The meeting the request named (get, update, delete), for the audit trail.
    meeting_id: Option<String>,
    _in_flight: InFlight,
}

impl CallGuard {
    pub fn start(
        rpc: &'static Rpc,
        started: Instant,
        metadata: &CallMetadata,
        subject: &impl Subject,
        caller: &Result<Caller, Error>,
    ) -> Self {
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let tenant_id = bounded(subject.tenant_id());
        let span = tracing::info_span!(
            "rpc",
            otel.name = rpc.full_name,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = SERVICE,
            rpc.method = rpc.name,
            rpc.grpc.status_code = tracing::field::Empty,
            tenant_id = %tenant_id,
            graph.client_request_id = %client_request_id,
        );
        // A span is only exported when a subscriber with the OpenTelemetry layer is installed.
        let _ = span.set_parent(metadata.parent.clone());
        let correlation = Correlation {
            trace_id: Some(trace_id(&span, &metadata.parent)),
            client_request_id: Some(client_request_id),
        };
        CallGuard {
            rpc,
            started,
            span,
            correlation,
            caller: match caller {
                Ok(caller) => caller.describe(),
                Err(e) => format!("unauthenticated ({e})"),
            },
            tenant_id,
            organizer: bounded(subject.organizer()),
            external_id: subject.external_id().map(bounded),
            meeting_id: subject.meeting_id().map(bounded),
            _in_flight: InFlight::start(rpc),
        }
    }

    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Sent to Graph as `client-request-id` on every attempt of this call.
    pub fn client_request_id(&self) -> String {
        self.correlation.client_request_id.clone().unwrap_or_default()
    }

    /// Logs, audits and measures the call, and turns its outcome into the gRPC answer.
    pub fn finish<R: Outcome>(self, outcome: Result<R, Error>) -> Result<Response<R>, Status> {
        let rpc = self.rpc;
        let span = &self.span;
        let _entered = span.enter();
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let trace_id = self.correlation.trace_id.as_deref().unwrap_or_default();
        let client_request_id = self.correlation.client_request_id.as_deref().unwrap_or_default();
        let (answer, code, meeting_id, graph_request_id) = match outcome {
            Ok(response) => {
                tracing::info!(
                    rpc.method = rpc.full_name,
                    rpc.grpc.status_code = 0,
                    tenant_id = %self.tenant_id,
                    created = response.created(),
                    graph.request_id = response.graph_request_id(),
                    graph.client_request_id = client_request_id,
                    trace_id,
                    elapsed_ms,
                    "{} succeeded",
                    rpc.name
                );
                let meeting_id = response.meeting_id().map(bounded).or_else(|| self.meeting_id.clone());
                let graph_request_id = Some(response.graph_request_id().to_owned());
                (Ok(Response::new(response)), tonic::Code::Ok, meeting_id, graph_request_id)
            }
            Err(error) => {
                let status = to_status(&error, &self.correlation);
                tracing::warn!(
                    rpc.method = rpc.full_name,
                    rpc.grpc.status_code = status.code() as i32,
                    tenant_id = %self.tenant_id,
                    error.message = %bounded_to(&error.to_string(), MAX_LOGGED_ERROR_CHARS),
                    graph.client_request_id = client_request_id,
                    trace_id,
                    elapsed_ms,
                    "{} failed",
                    rpc.name
                );
                span.record("otel.status_code", "ERROR");
                let code = status.code();
                (Err(status), code, self.meeting_id.clone(), error.graph_request_id().map(str::to_owned))
            }
        };
        span.record("rpc.grpc.status_code", code as i32);
        if let Some(message) = rpc.audit {
            // The audit trail: who changed what for whom. Never the join URL, passcode, dial-in
            // details or any credential.
            tracing::info!(
                target: "audit",
                method = rpc.name,
                caller = %self.caller,
                tenant_id = %self.tenant_id,
                organizer = %self.organizer,
                meeting_id = meeting_id.as_deref().unwrap_or_default(),
                external_id = self.external_id.as_deref().unwrap_or_default(),
                outcome = ?code,
                graph.request_id = graph_request_id.as_deref().unwrap_or_default(),
                trace_id,
                "{message}"
            );
        }
        telemetry::metrics().rpc_duration.record(
            elapsed_ms,
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", SERVICE),
                KeyValue::new("rpc.method", rpc.name),
                KeyValue::new("rpc.grpc.status_code", code as i64),
            ],
        );
        answer
    }
}

/// Counts a call in flight until it ends, however it ends (a cancelled call drops it too).
struct InFlight(&'static str);

impl InFlight {
    fn start(rpc: &'static Rpc) -> Self {
        telemetry::metrics().rpc_in_flight.add(1, &[KeyValue::new("rpc.method", rpc.name)]);
        InFlight(rpc.name)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        telemetry::metrics().rpc_in_flight.add(-1, &[KeyValue::new("rpc.method", self.0)]);
    }
}

/// The most of a caller-supplied value that is logged: a request may carry a megabyte in a
/// field that validation later refuses.
const MAX_LOGGED_CHARS: usize = 256;

/// A caller-supplied value as it may be logged: at most `MAX_LOGGED_CHARS` characters, control
/// characters escaped (a newline or an escape sequence in a tenant id must not forge a log line
/// or reach a terminal in the text format).
fn bounded(value: &str) -> String {
    bounded_to(value, MAX_LOGGED_CHARS)
}

/// An error's text is logged at more length than a status carries (enough to diagnose), but
/// still bounded: an upstream may put a megabyte in its error message.
const MAX_LOGGED_ERROR_CHARS: usize = 4096;

fn bounded_to(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars + 16));
    for (i, c) in value.chars().enumerate() {
        if i == max_chars {
            out.push_str(&format!("…({} bytes)", value.len()));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
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

impl fmt::Debug for CallGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallGuard").field("rpc", &self.rpc.full_name).finish_non_exhaustive()
    }
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

    #[test]
    fn logged_values_are_bounded_and_escaped() {
        assert_eq!(bounded("72f988bf-86f1-41af-91ab-2d7cd011db47"), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert_eq!(bounded("a\nfake=line\u{1b}[31m"), "a\\nfake=line\\u{1b}[31m");
        let huge = "x".repeat(1 << 20);
        let logged = bounded(&huge);
        assert!(logged.len() < 300, "{}", logged.len());
        assert!(logged.ends_with("…(1048576 bytes)"), "{logged}");
    }
}
