use std::time::Duration;

/// The cause of a transport failure, whichever HTTP client saw it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What Graph said when it refused a request.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphFailure {
    pub status: u16,
    /// `error.code` of Graph's error body (e.g. `Forbidden`, `TooManyRequests`).
    pub code: Option<String>,
    pub message: Option<String>,
    /// Graph's `request-id` response header (or the body's innerError copy).
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
}

/// Why a Graph call produced no meeting.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("Graph answered HTTP {}{}", .0.status, describe(.0))]
    Status(Box<GraphFailure>),
    /// No connection could be made, or HTTP/2 says Graph refused the request unprocessed:
    /// retrying cannot duplicate a meeting.
    #[error("could not connect to Graph")]
    Connect(#[source] BoxError),
    /// The connection failed after the request may have been sent: the meeting may exist.
    #[error("the connection to Graph failed after the request was sent")]
    ConnectionLost(#[source] BoxError),
    #[error("timed out waiting for Graph")]
    Timeout,
    /// A success status with a body that is not an onlineMeeting: the meeting may exist.
    #[error("Graph's response could not be read: {detail}")]
    InvalidResponse { detail: String, request_id: Option<String> },
}

fn describe(failure: &GraphFailure) -> String {
    match (&failure.code, &failure.message) {
        (Some(code), Some(message)) if !message.is_empty() => format!(" {code}: {message}"),
        (Some(code), _) => format!(" {code}"),
        _ => String::new(),
    }
}

impl GraphError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Status(failure) => Some(failure.status),
            _ => None,
        }
    }

    pub fn failure(&self) -> Option<&GraphFailure> {
        match self {
            GraphError::Status(failure) => Some(failure),
            _ => None,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            GraphError::Status(failure) => failure.request_id.as_deref(),
            GraphError::InvalidResponse { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.failure().and_then(|f| f.retry_after)
    }

    /// Graph did not process the request: throttled (429), unavailable (503) or never reached.
    /// Retrying cannot create a second meeting.
    pub fn is_unprocessed(&self) -> bool {
        matches!(self.status(), Some(429 | 503)) || matches!(self, GraphError::Connect(_))
    }

    /// The request may have created the meeting; only an idempotent create may be retried.
    pub fn may_have_been_processed(&self) -> bool {
        matches!(self.status(), Some(500 | 502 | 504)) || matches!(self, GraphError::ConnectionLost(_))
    }
}
