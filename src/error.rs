//! The one error type a call can end with. Each layer keeps its own typed error; this enum
//! wraps them so that `grpc::status` can map every outcome to a gRPC status in one table.

use std::sync::Arc;

use crate::{
    auth::AuthError,
    domain::{TenantId, ValidationError},
    graph::GraphError,
    identity::IdentityError,
    limits::Refusal,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No valid caller credentials (with `auth.mode = "policy"`).
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// The caller may not use the tenant, or the tenant is not configured: deliberately one
    /// case, so that callers cannot enumerate tenants.
    #[error("the caller is not permitted to create meetings in this tenant")]
    NotPermitted,
    #[error("no access token for tenant {tenant}: {source}")]
    Identity {
        tenant: TenantId,
        #[source]
        source: Arc<IdentityError>,
    },
    /// Schedule made the calendar event, then a later step failed: the event exists.
    #[error("the calendar event {event_id} was created, but {step} failed: {source}")]
    Scheduled {
        /// `find_meeting` or `meeting_options`.
        step: &'static str,
        event_id: String,
        #[source]
        source: Box<Error>,
    },
    /// The organizer's calendar made an event without a Teams meeting; it was deleted again.
    #[error("the organizer's calendar does not make Teams meetings")]
    TeamsNotEnabledForCalendar { event_id: String, graph_request_id: Option<String> },
    /// A lookup (Find) that Graph answered with no meeting.
    #[error("no meeting of this organizer matches")]
    MeetingNotFound { graph_request_id: Option<String> },
    #[error("{source}")]
    Graph {
        #[source]
        source: GraphError,
    },
    /// The call's deadline ran out; `reached_graph` tells whether a meeting may exist.
    #[error("the deadline ran out")]
    DeadlineExceeded { reached_graph: bool },
    #[error("the service is shutting down")]
    ShuttingDown,
    /// Refused before any work by overload protection.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl Error {
    /// Graph's `request-id` when Graph answered, for the audit trail and support cases.
    pub fn graph_request_id(&self) -> Option<&str> {
        match self {
            Error::Graph { source } => source.request_id(),
            Error::MeetingNotFound { graph_request_id } => graph_request_id.as_deref(),
            Error::TeamsNotEnabledForCalendar { graph_request_id, .. } => graph_request_id.as_deref(),
            Error::Scheduled { source, .. } => source.graph_request_id(),
            _ => None,
        }
    }
}
