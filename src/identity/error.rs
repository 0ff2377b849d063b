use std::time::Duration;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The identity platform refused the tenant's credentials (4xx with an OAuth error body).
    #[error("the identity platform rejected the credentials ({error}): {description}")]
    Rejected {
        status: u16,
        error: String,
        /// Entra's error_description: the AADSTS code and message, never the secret.
        description: String,
        codes: Vec<u32>,
        trace_id: Option<String>,
        correlation_id: Option<String>,
    },
    /// Transient: unreachable, 5xx, 429 or `temporarily_unavailable`; worth retrying.
    #[error("the identity platform is unavailable: {detail}")]
    Unavailable { detail: String, retry_after: Option<Duration> },
    /// The service could not read the tenant's own credential (a missing or empty secret file).
    #[error("cannot read the tenant's credential: {what}")]
    CredentialUnreadable {
        what: String,
        #[source]
        source: Option<std::io::Error>,
    },
    /// A 2xx whose body is not a token response.
    #[error("the identity platform answered with an unreadable token response: {detail}")]
    InvalidResponse { detail: String },
    #[error("the deadline ran out while acquiring a token")]
    DeadlineExceeded,
}

impl IdentityError {
    pub fn is_transient(&self) -> bool {
        matches!(self, IdentityError::Unavailable { .. })
    }
}
