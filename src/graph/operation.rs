//! What a call asks of Graph's onlineMeetings API, as Graph spells it: the method, the path after
//! `/users/{userId}`, the body, what a success answers with, and whether sending it twice could
//! do harm. The pipeline's retry rule reads [`Operation::is_idempotent`] and nothing else.

use bytes::Bytes;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet};

use crate::domain::{FindKey, ResourceId};

/// One operation on one organizer's meetings.
#[derive(Clone, Debug)]
pub enum Operation {
    /// `POST …/onlineMeetings`: a second attempt could create a second meeting.
    Create { body: Bytes },
    /// `POST …/onlineMeetings/createOrGet`, keyed by the body's externalId.
    CreateOrGet { body: Bytes },
    /// `GET …/onlineMeetings/{id}`.
    Get { meeting: ResourceId },
    /// `GET …/onlineMeetings?$filter=…`.
    Find { key: FindKey },
    /// `PATCH …/onlineMeetings/{id}` with the properties to change.
    Update { meeting: ResourceId, body: Bytes },
    /// `DELETE …/onlineMeetings/{id}`.
    Delete { meeting: ResourceId },
    /// `POST …/events`: a calendar event with a Teams meeting. With a `transactionId` in its
    /// body (`transaction`), Graph returns the event a lost attempt made instead of a second one.
    CreateEvent { body: Bytes, transaction: bool },
    /// `POST …/events/{id}/cancel`: attendees are told; a second one would tell them again.
    CancelEvent { event: ResourceId, body: Bytes },
    /// `DELETE …/events/{id}`.
    DeleteEvent { event: ResourceId },
}

/// What a successful answer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A meeting this request made.
    Created,
    /// A meeting this request made (201) or found (200).
    CreatedOrExisting,
    /// An existing meeting.
    Meeting,
    /// A collection of meetings.
    Meetings,
    /// No body (204, 202).
    Nothing,
    /// A calendar event.
    Event,
}

/// A query value is encoded like a path segment, `'` included, so the filter's quotes and
/// spaces survive every proxy.
impl Operation {
    pub fn method(&self) -> Method {
        match self {
            Operation::Create { .. }
            | Operation::CreateOrGet { .. }
            | Operation::CreateEvent { .. }
            | Operation::CancelEvent { .. } => Method::POST,
            Operation::Get { .. } | Operation::Find { .. } => Method::GET,
            Operation::Update { .. } => Method::PATCH,
            Operation::Delete { .. } | Operation::DeleteEvent { .. } => Method::DELETE,
        }
    }

    /// The URL template for spans, logs and metrics: no user or meeting id in it.
    pub fn route(&self) -> &'static str {
        match self {
            Operation::Create { .. } | Operation::Find { .. } => "/users/{userId}/onlineMeetings",
            Operation::CreateOrGet { .. } => "/users/{userId}/onlineMeetings/createOrGet",
            Operation::Get { .. } | Operation::Update { .. } | Operation::Delete { .. } => {
                "/users/{userId}/onlineMeetings/{meetingId}"
            }
            Operation::CreateEvent { .. } => "/users/{userId}/events",
            Operation::CancelEvent { .. } => "/users/{userId}/events/{eventId}/cancel",
            Operation::DeleteEvent { .. } => "/users/{userId}/events/{eventId}",
        }
    }

    /// The path after `/users/{userId}`, ids and the filter percent-encoded with `encode`.
    pub fn path_after_user(&self, encode: &'static AsciiSet) -> String {
        match self {
            Operation::Create { .. } => "/onlineMeetings".to_owned(),
            Operation::CreateOrGet { .. } => "/onlineMeetings/createOrGet".to_owned(),
            Operation::Get { meeting } | Operation::Update { meeting, .. } | Operation::Delete { meeting } => {
                format!("/onlineMeetings/{}", utf8_percent_encode(meeting.as_str(), encode))
            }
            Operation::Find { key } => {
                format!("/onlineMeetings?$filter={}", utf8_percent_encode(&filter(key), encode))
            }
            Operation::CreateEvent { .. } => "/events".to_owned(),
            Operation::CancelEvent { event, .. } => {
                format!("/events/{}/cancel", utf8_percent_encode(event.as_str(), encode))
            }
            Operation::DeleteEvent { event } => format!("/events/{}", utf8_percent_encode(event.as_str(), encode)),
        }
    }

    pub fn body(&self) -> Option<&Bytes> {
        match self {
            Operation::Create { body }
            | Operation::CreateOrGet { body }
            | Operation::Update { body, .. }
            | Operation::CreateEvent { body, .. }
            | Operation::CancelEvent { body, .. } => Some(body),
            Operation::Get { .. }
            | Operation::Find { .. }
            | Operation::Delete { .. }
            | Operation::DeleteEvent { .. } => None,
        }
    }

    pub fn expect(&self) -> Expect {
        match self {
            Operation::Create { .. } => Expect::Created,
            Operation::CreateOrGet { .. } => Expect::CreatedOrExisting,
            Operation::Get { .. } | Operation::Update { .. } => Expect::Meeting,
            Operation::Find { .. } => Expect::Meetings,
            Operation::Delete { .. } | Operation::CancelEvent { .. } | Operation::DeleteEvent { .. } => Expect::Nothing,
            Operation::CreateEvent { .. } => Expect::Event,
        }
    }

    /// Whether sending it again, after an attempt Graph may have processed, does no harm:
    /// reads, PATCH (the same values again) and DELETE (a second one finds nothing), createOrGet
    /// (it returns the meeting the first attempt made) and an event with a transactionId. Not a
    /// plain create (a second meeting), an event without one (a second invitation), or a
    /// cancellation (a second notice).
    pub fn is_idempotent(&self) -> bool {
        match self {
            Operation::Create { .. } | Operation::CancelEvent { .. } => false,
            Operation::CreateEvent { transaction, .. } => *transaction,
            _ => true,
        }
    }
}

/// The OData `$filter` of a lookup: the property, `eq`, and the value as an OData string literal
/// (in quotes, a quote inside doubled).
fn filter(key: &FindKey) -> String {
    let (property, value) = match key {
        FindKey::JoinWebUrl(url) => ("JoinWebUrl", url),
        FindKey::JoinMeetingId(id) => ("joinMeetingIdSettings/joinMeetingId", id),
    };
    format!("{property} eq '{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use percent_encoding::NON_ALPHANUMERIC;

    use super::*;

    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

    #[test]
    fn paths_and_filters_are_graphs() {
        let id = ResourceId::parse("meeting_id", "MSo1N2Y5ZGFjYy03MWJmLTQ3NDMtYjQxMy01M2EdFGkdRWHJlQ/x y").unwrap();
        assert_eq!(
            Operation::Get { meeting: id.clone() }.path_after_user(SEGMENT),
            "/onlineMeetings/MSo1N2Y5ZGFjYy03MWJmLTQ3NDMtYjQxMy01M2EdFGkdRWHJlQ%2Fx%20y"
        );
        let url =
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_N2E3@thread.v2/0?context=%7b%22Tid%22%7d&x='y'";
        let find = Operation::Find { key: FindKey::JoinWebUrl(url.into()) };
        assert_eq!(filter(&FindKey::JoinWebUrl("a'b".into())), "JoinWebUrl eq 'a''b'");
        let path = find.path_after_user(SEGMENT);
        let (prefix, value) = path.split_once("$filter=").unwrap();
        assert_eq!(prefix, "/onlineMeetings?");
        assert!(!value.contains(['&', '?', ' ', '\'', '=']), "{value}");
        let decoded = percent_encoding::percent_decode_str(value).decode_utf8().unwrap();
        assert_eq!(decoded, format!("JoinWebUrl eq '{}'", url.replace('\'', "''")));
        assert_eq!(
            Operation::Find { key: FindKey::JoinMeetingId("1234567890".into()) }.path_after_user(SEGMENT),
            "/onlineMeetings?$filter=joinMeetingIdSettings%2FjoinMeetingId%20eq%20%271234567890%27"
        );
    }

    #[test]
    fn only_what_could_duplicate_is_not_idempotent() {
        let id = || ResourceId::parse("m", "m").unwrap();
        let ops = [
            (Operation::Create { body: Bytes::new() }, false, Method::POST),
            (Operation::CreateOrGet { body: Bytes::new() }, true, Method::POST),
            (Operation::Get { meeting: id() }, true, Method::GET),
            (Operation::Find { key: FindKey::JoinMeetingId("1".into()) }, true, Method::GET),
            (Operation::Update { meeting: id(), body: Bytes::new() }, true, Method::PATCH),
            (Operation::Delete { meeting: id() }, true, Method::DELETE),
            (Operation::CreateEvent { body: Bytes::new(), transaction: false }, false, Method::POST),
            (Operation::CreateEvent { body: Bytes::new(), transaction: true }, true, Method::POST),
            (Operation::CancelEvent { event: id(), body: Bytes::new() }, false, Method::POST),
            (Operation::DeleteEvent { event: id() }, true, Method::DELETE),
        ];
        for (op, idempotent, method) in ops {
            assert_eq!(op.is_idempotent(), idempotent, "{op:?}");
            assert_eq!(op.method(), method, "{op:?}");
        }
    }
}
