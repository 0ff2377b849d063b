//! THE table: every crate `Error` becomes a `tonic::Status` here and nowhere else, with a
//! `google.rpc.ErrorInfo` (reason, domain `meetings.v1`, correlation metadata) and, where they
//! apply, `RetryInfo` and `BadRequest`. Messages say what happened and what to do; they never
//! carry secrets, tokens or request bodies.

use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::{error::Error, graph::GraphError, identity::IdentityError, limits::Refusal};

pub const DOMAIN: &str = "meetings.v1";

/// Correlation ids known for the call.
#[derive(Clone, Debug, Default)]
pub struct Correlation {
    pub trace_id: Option<String>,
    pub client_request_id: Option<String>,
}

pub fn to_status(error: &Error, correlation: &Correlation) -> Status {
    let mut metadata = HashMap::new();
    if let Some(trace_id) = &correlation.trace_id {
        metadata.insert("trace_id".to_owned(), trace_id.clone());
    }
    let mut details = ErrorDetails::new();
    let (code, reason, message) = classify(error, correlation, &mut metadata, &mut details);
    details.set_error_info(reason, DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// The row of the table for `error`: its code, reason and message, and what it adds to the
/// ErrorInfo metadata and the other details.
fn classify(
    error: &Error,
    correlation: &Correlation,
    metadata: &mut HashMap<String, String>,
    details: &mut ErrorDetails,
) -> (Code, &'static str, String) {
    match error {
        Error::Scheduled { step, event_id, source } => {
            // The step's own row, and what the caller needs to retry (same transaction_id) or
            // cancel: which step failed, and the event that exists.
            let (code, reason, message) = classify(source, correlation, metadata, details);
            metadata.insert("event_id".to_owned(), event_id.clone());
            metadata.insert("failed_step".to_owned(), (*step).to_owned());
            let message = format!(
                "the calendar event {event_id} was created, but {step} failed: {message}; retry with the same transaction_id, or cancel the event"
            );
            (code, reason, message)
        }
        Error::TeamsNotEnabledForCalendar { event_id, graph_request_id } => {
            metadata.insert("event_id".to_owned(), event_id.clone());
            if let Some(id) = graph_request_id {
                metadata.insert("graph_request_id".to_owned(), id.clone());
            }
            (
                Code::FailedPrecondition,
                "TEAMS_NOT_ENABLED_FOR_CALENDAR",
                "the organizer's calendar made the event without a Teams meeting (Teams is not an allowed online meeting provider of the mailbox); the event was deleted".to_owned(),
            )
        }
        Error::Invalid(invalid) => {
            for v in &invalid.violations {
                details.add_bad_request_violation(v.field.clone(), v.description.clone());
            }
            (Code::InvalidArgument, "INVALID_REQUEST", invalid.to_string())
        }
        Error::Unauthenticated(e) => (Code::Unauthenticated, "CALLER_UNAUTHENTICATED", e.to_string()),
        Error::NotPermitted => (
            Code::PermissionDenied,
            "CALLER_NOT_PERMITTED",
            "the caller is not permitted to create meetings in this tenant".to_owned(),
        ),
        Error::Refused(refusal) => match refusal {
            Refusal::GlobalLimit { .. } | Refusal::TenantLimit { .. } => {
                details.set_retry_info(Some(Duration::from_secs(1)));
                (Code::ResourceExhausted, "OVERLOADED", format!("{refusal}; retry later"))
            }
            Refusal::CircuitOpen { retry_after } => {
                details.set_retry_info(Some(*retry_after));
                (Code::Unavailable, "TENANT_CIRCUIT_OPEN", refusal.to_string())
            }
        },
        Error::ShuttingDown => {
            (Code::Unavailable, "SHUTTING_DOWN", "the service is shutting down; retry on another instance".to_owned())
        }
        Error::DeadlineExceeded { reached_graph } => {
            if let Some(id) = &correlation.client_request_id {
                metadata.insert("client_request_id".to_owned(), id.clone());
            }
            let message = if *reached_graph {
                "the deadline ran out waiting for Graph; the meeting may have been created (use external_id to retry safely)"
            } else {
                "the deadline ran out before the meeting was sent to Graph"
            };
            (Code::DeadlineExceeded, "DEADLINE_EXCEEDED", message.to_owned())
        }
        Error::Identity { tenant, source } => identity_status(tenant, source, metadata, details),
        Error::MeetingNotFound { graph_request_id } => {
            if let Some(id) = graph_request_id {
                metadata.insert("graph_request_id".to_owned(), id.clone());
            }
            if let Some(id) = &correlation.client_request_id {
                metadata.insert("client_request_id".to_owned(), id.clone());
            }
            (
                Code::NotFound,
                "MEETING_NOT_FOUND",
                "Graph lists no meeting of this organizer with that join link or meeting id".to_owned(),
            )
        }
        Error::Graph { source } => {
            if let Some(id) = &correlation.client_request_id {
                metadata.insert("client_request_id".to_owned(), id.clone());
            }
            graph_status(source, metadata, details)
        }
    }
}

fn identity_status(
    tenant: &crate::domain::TenantId,
    error: &IdentityError,
    metadata: &mut HashMap<String, String>,
    details: &mut ErrorDetails,
) -> (Code, &'static str, String) {
    match error {
        IdentityError::Rejected { error, description, codes, trace_id, correlation_id, .. } => {
            metadata.insert("identity_error".into(), error.clone());
            let codes = codes.iter().map(|c| format!("AADSTS{c}")).collect::<Vec<_>>().join(",");
            if !codes.is_empty() {
                metadata.insert("aadsts_codes".into(), codes);
            }
            if let Some(id) = trace_id {
                metadata.insert("identity_trace_id".into(), id.clone());
            }
            if let Some(id) = correlation_id {
                metadata.insert("identity_correlation_id".into(), id.clone());
            }
            (
                Code::FailedPrecondition,
                "TENANT_CREDENTIALS_REJECTED",
                format!("the identity platform rejected the credentials configured for tenant {tenant}: {description}"),
            )
        }
        IdentityError::CredentialUnreadable { what, .. } => (
            Code::FailedPrecondition,
            "TENANT_CREDENTIALS_UNAVAILABLE",
            format!("the service cannot read the credential configured for tenant {tenant}: {what}"),
        ),
        IdentityError::Unavailable { detail, retry_after } => {
            if retry_after.is_some() {
                details.set_retry_info(*retry_after);
            }
            (
                Code::Unavailable,
                "IDENTITY_PLATFORM_UNAVAILABLE",
                format!("could not obtain an access token for tenant {tenant}: {detail}"),
            )
        }
        IdentityError::InvalidResponse { detail } => (
            Code::Unavailable,
            "IDENTITY_PLATFORM_UNAVAILABLE",
            format!("could not obtain an access token for tenant {tenant}: {detail}"),
        ),
        IdentityError::DeadlineExceeded => (
            Code::DeadlineExceeded,
            "DEADLINE_EXCEEDED",
            "the deadline ran out while obtaining an access token; nothing was sent to Graph".to_owned(),
        ),
    }
}

fn graph_status(
    error: &GraphError,
    metadata: &mut HashMap<String, String>,
    details: &mut ErrorDetails,
) -> (Code, &'static str, String) {
    if let Some(id) = error.request_id() {
        metadata.insert("graph_request_id".into(), id.to_owned());
    }
    let failure = match error {
        GraphError::Status(failure) => failure,
        GraphError::Connect(_) => {
            return (Code::Unavailable, "GRAPH_UNREACHABLE", "Microsoft Graph could not be reached; nothing was sent".into())
        }
        GraphError::ConnectionLost(_) => {
            return (
                Code::Unavailable,
                "GRAPH_CONNECTION_LOST",
                "the connection to Microsoft Graph failed after the request was sent; the meeting may have been created (use external_id to retry safely)".into(),
            )
        }
        GraphError::Timeout => {
            return (
                Code::DeadlineExceeded,
                "DEADLINE_EXCEEDED",
                "the deadline ran out waiting for Graph; the meeting may have been created".into(),
            )
        }
        GraphError::InvalidResponse { detail, .. } => {
            return (
                Code::Internal,
                "GRAPH_INVALID_RESPONSE",
                format!("Microsoft Graph answered with a response this service cannot read ({detail}); the meeting may have been created"),
            )
        }
    };
    if let Some(code) = &failure.code {
        metadata.insert("graph_error_code".into(), truncated(code, MAX_GRAPH_CODE_CHARS));
    }
    metadata.insert("http_status".into(), failure.status.to_string());
    if failure.retry_after.is_some() {
        details.set_retry_info(failure.retry_after);
    }
    let said = match (&failure.code, &failure.message) {
        (Some(code), Some(message)) if !message.is_empty() => {
            format!("{}: {}", truncated(code, MAX_GRAPH_CODE_CHARS), truncated(message, MAX_GRAPH_MESSAGE_CHARS))
        }
        (Some(code), _) => truncated(code, MAX_GRAPH_CODE_CHARS),
        (None, _) => "no error body".to_owned(),
    };
    let status = failure.status;
    let (code, reason, advice) = match status {
        400 => (Code::InvalidArgument, "GRAPH_BAD_REQUEST", "Graph rejected the meeting"),
        401 => (Code::FailedPrecondition, "GRAPH_UNAUTHENTICATED", "Graph refused the application's access token even after a refresh; check the app registration's API permissions"),
        403 => (Code::PermissionDenied, "GRAPH_FORBIDDEN", "Graph refused to act for this organizer; check that the app has OnlineMeetings.ReadWrite.All (and Calendars.ReadWrite for Schedule and Cancel) with admin consent, and a Teams application access policy granted to the organizer"),
        404 => (Code::NotFound, "GRAPH_NOT_FOUND", "Graph did not find the organizer, or the meeting or event the request names"),
        409 => (Code::AlreadyExists, "GRAPH_CONFLICT", "Graph reported a conflict"),
        429 => (Code::ResourceExhausted, "GRAPH_THROTTLED", "Graph throttled the request and retries within the deadline did not succeed"),
        500 => (Code::Internal, "GRAPH_INTERNAL_ERROR", "Graph failed; the meeting may have been created, so it was not retried (use external_id to retry safely)"),
        502 => (Code::Unavailable, "GRAPH_BAD_GATEWAY", "Graph's gateway failed; the meeting may have been created (use external_id to retry safely)"),
        503 => (Code::Unavailable, "GRAPH_UNAVAILABLE", "Graph is unavailable; retries within the deadline did not succeed"),
        504 => (Code::DeadlineExceeded, "GRAPH_GATEWAY_TIMEOUT", "Graph's gateway timed out; the meeting may have been created (use external_id to retry safely)"),
        _ => (Code::Unknown, "GRAPH_UNEXPECTED_STATUS", "Graph answered with an unexpected status"),
    };
    (code, reason, format!("{advice} (HTTP {status}, {said})"))
}

/// Graph's own words in a status are cut here: `grpc-message` travels in a header, and clients
/// drop a status whose headers exceed their limit (8 KiB to 16 KiB), losing the error entirely.
/// The service's log line keeps more of it (`grpc::call`).
const MAX_GRAPH_MESSAGE_CHARS: usize = 512;
const MAX_GRAPH_CODE_CHARS: usize = 128;

fn truncated(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}… ({} bytes in all)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        domain::{FieldViolation, TenantId, ValidationError},
        graph::GraphFailure,
    };

    fn graph(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Graph {
            source: GraphError::Status(Box::new(GraphFailure {
                status,
                code: Some("Code".into()),
                message: Some("message".into()),
                request_id: Some("req-1".into()),
                retry_after,
            })),
        }
    }

    #[test]
    fn the_table() {
        let tenant = TenantId::parse("t", "72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        let rejected = Error::Identity {
            tenant,
            source: Arc::new(IdentityError::Rejected {
                status: 401,
                error: "invalid_client".into(),
                description: "AADSTS7000215: Invalid client secret provided.".into(),
                codes: vec![7000215],
                trace_id: None,
                correlation_id: None,
            }),
        };
        let cases: Vec<(Error, Code, &str)> = vec![
            (
                ValidationError::from(vec![FieldViolation::new("tenant_id", "is required")]).into(),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (Error::NotPermitted, Code::PermissionDenied, "CALLER_NOT_PERMITTED"),
            (Error::Unauthenticated(crate::auth::AuthError::Missing), Code::Unauthenticated, "CALLER_UNAUTHENTICATED"),
            (rejected, Code::FailedPrecondition, "TENANT_CREDENTIALS_REJECTED"),
            (graph(400, None), Code::InvalidArgument, "GRAPH_BAD_REQUEST"),
            (graph(401, None), Code::FailedPrecondition, "GRAPH_UNAUTHENTICATED"),
            (graph(403, None), Code::PermissionDenied, "GRAPH_FORBIDDEN"),
            (graph(404, None), Code::NotFound, "GRAPH_NOT_FOUND"),
            (graph(409, None), Code::AlreadyExists, "GRAPH_CONFLICT"),
            (graph(429, Some(Duration::from_millis(2128))), Code::ResourceExhausted, "GRAPH_THROTTLED"),
            (graph(500, None), Code::Internal, "GRAPH_INTERNAL_ERROR"),
            (graph(502, None), Code::Unavailable, "GRAPH_BAD_GATEWAY"),
            (graph(503, None), Code::Unavailable, "GRAPH_UNAVAILABLE"),
            (graph(504, None), Code::DeadlineExceeded, "GRAPH_GATEWAY_TIMEOUT"),
            (graph(418, None), Code::Unknown, "GRAPH_UNEXPECTED_STATUS"),
            (Error::DeadlineExceeded { reached_graph: true }, Code::DeadlineExceeded, "DEADLINE_EXCEEDED"),
            (Error::ShuttingDown, Code::Unavailable, "SHUTTING_DOWN"),
            (Error::Refused(Refusal::TenantLimit { limit: 5 }), Code::ResourceExhausted, "OVERLOADED"),
            (
                Error::Refused(Refusal::CircuitOpen { retry_after: Duration::from_secs(3) }),
                Code::Unavailable,
                "TENANT_CIRCUIT_OPEN",
            ),
        ];
        let correlation = Correlation {
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            client_request_id: Some("crid".into()),
        };
        for (error, code, reason) in cases {
            let status = to_status(&error, &correlation);
            assert_eq!(status.code(), code, "{reason}");
            let details = status.get_error_details();
            let info = details.error_info().expect("ErrorInfo");
            assert_eq!(info.reason, reason);
            assert_eq!(info.domain, DOMAIN);
            assert_eq!(info.metadata["trace_id"], "0af7651916cd43dd8448eb211c80319c");
            if matches!(error, Error::Graph { .. }) {
                assert_eq!(info.metadata["graph_request_id"], "req-1");
                assert_eq!(info.metadata["graph_error_code"], "Code");
                assert_eq!(info.metadata["client_request_id"], "crid");
            }
            if reason == "GRAPH_THROTTLED" {
                let retry = details.retry_info().expect("RetryInfo");
                assert_eq!(retry.retry_delay, Some(Duration::from_millis(2128)));
            }
            if reason == "INVALID_REQUEST" {
                assert_eq!(details.bad_request().unwrap().field_violations[0].field, "tenant_id");
            }
        }
    }
}
