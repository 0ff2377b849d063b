//! The validated vocabulary of the service: identifiers, the meeting model and the commands
//! (create, get, find, update, delete). Pure data and pure functions: no tonic, no reqwest, no
//! I/O, no serde derives (each boundary converts by hand, so neither the gRPC nor the Graph wire
//! format leaks in here).
//!
//! The meeting model is one table of Graph's properties (`meeting.rs`); the boundaries make
//! their wire shapes from the same table.

mod calendar;
mod commands;
mod ids;
mod meeting;
mod property;
mod validate;
mod violation;

pub use calendar::*;
pub use commands::*;
pub use ids::{AcceptLanguage, ResourceId, TenantId, UserId};
pub use meeting::*;
pub(crate) use meeting::{meeting_enums, online_meeting_properties};
pub(crate) use property::each_type;
pub use property::{Enumeration, Presence, Property};
pub use validate::{unsupported_in_us_government, validate_new_meeting, validate_update};
pub use violation::{FieldViolation, ValidationError};
