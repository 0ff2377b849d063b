//! The validated vocabulary of the service: identifiers, the meeting model and the create
//! command. Pure data and pure functions: no tonic, no reqwest, no I/O, no serde derives (each
//! boundary converts by hand, so neither the gRPC nor the Graph wire format leaks in here).
//!
//! The meeting model is one table of Graph's properties (`meeting.rs`); the boundaries make
//! their wire shapes from the same table.

mod ids;
mod meeting;
mod property;
mod validate;
mod violation;

pub use ids::{AcceptLanguage, TenantId, UserId};
pub use meeting::*;
pub(crate) use meeting::{meeting_enums, online_meeting_properties};
pub(crate) use property::each_type;
pub use property::{Enumeration, Presence, Property};
pub use validate::{unsupported_in_us_government, validate_new_meeting};
pub use violation::{FieldViolation, ValidationError};

/// A request to create one meeting, already validated.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateMeeting {
    pub tenant: TenantId,
    pub organizer: UserId,
    /// Boxed: it is 3 KB and every layer's future holds the command across awaits.
    pub meeting: Box<OnlineMeeting>,
    pub language: Option<AcceptLanguage>,
}

impl CreateMeeting {
    /// Idempotent creates (Graph's createOrGet) are keyed by tenant, organizer and external id.
    pub fn is_idempotent(&self) -> bool {
        self.meeting.external_id.is_some()
    }
}

/// The outcome of a successful create.
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingCreated {
    pub meeting: Box<OnlineMeeting>,
    /// False when createOrGet returned a meeting that already existed.
    pub created: bool,
    pub graph_request_id: Option<String>,
}
