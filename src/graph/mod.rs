//! Microsoft Graph's onlineMeetings API: the only module that knows Graph's URLs, headers and
//! JSON. Takes domain types in, gives domain types back; knows nothing of gRPC.

mod client;
mod cloud;
mod convert;
mod error;
mod event;
mod model;
mod operation;
mod transport;
mod zones;

#[doc(hidden)]
pub use client::{interpret, Answer};
pub use client::{GraphAnswer, GraphClient, GraphOutcome, GraphRequest};
pub use cloud::{ApiVersion, Cloud};
pub use error::{BoxError, GraphError, GraphFailure};
pub use event::{encode_cancel, encode_event};
pub use operation::{Expect, Operation};
pub use transport::GraphTransport;

use std::time::Duration;

/// The longest wait a `Retry-After` can ask for; beyond it the value is nonsense.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// Reads a `Retry-After` value: whole or fractional seconds (Graph sends e.g. `2.128`) or an
/// HTTP date; at most a day.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("2.128"), Some(Duration::from_millis(2128)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let future = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let parsed = parse_retry_after(&future).unwrap();
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120), "{parsed:?}");
    }
}
