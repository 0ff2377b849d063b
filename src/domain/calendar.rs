//! Calendar meetings: an Outlook event with a Teams meeting behind it, so that attendees are
//! invited (Graph's `POST /users/{id}/events` with `isOnlineMeeting`). The event's times are
//! instants; its time zone (an IANA name) only says how the event is shown.

use jiff::tz::TimeZone;
use time::OffsetDateTime;

use super::{
    ids::{AcceptLanguage, ResourceId, TenantId, UserId},
    meeting::{ItemBody, OnlineMeeting},
    property::Property,
    violation::FieldViolation,
};

/// Outlook's limit on an event's subject.
pub const MAX_EVENT_SUBJECT_CHARS: usize = 255;
/// Graph's transactionId: a client-chosen string; longer ones are not ids.
pub const MAX_TRANSACTION_ID_CHARS: usize = 255;
/// Outlook's reminders reach at most four weeks ahead.
pub const MAX_REMINDER_MINUTES: i32 = 40_320;

/// How an attendee is invited (Graph's attendeeType).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttendeeType {
    Required,
    Optional,
    Resource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendee {
    pub email: String,
    pub name: Option<String>,
    pub kind: Option<AttendeeType>,
}

/// The zone an event is shown in: its IANA name and the rules behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTimeZone {
    pub name: String,
    pub zone: TimeZone,
}

impl EventTimeZone {
    /// An IANA name (`Europe/Berlin`, `UTC`) from the bundled time-zone database.
    pub fn parse(field: &str, name: &str) -> Result<Self, FieldViolation> {
        TimeZone::get(name).map(|zone| EventTimeZone { name: name.to_owned(), zone }).map_err(|_| {
            FieldViolation::new(field, format!("`{name}` is not an IANA time zone name such as Europe/Berlin"))
        })
    }

    pub fn utc() -> Self {
        EventTimeZone { name: "UTC".to_owned(), zone: TimeZone::UTC }
    }
}

/// An event as the service schedules it or Graph returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarEvent {
    pub id: Option<String>,
    pub subject: Option<String>,
    pub body: Option<ItemBody>,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    /// The zone the event is shown in; UTC when unset.
    pub time_zone: Option<EventTimeZone>,
    pub location: Option<String>,
    pub attendees: Vec<Attendee>,
    pub allow_new_time_proposals: Option<bool>,
    pub is_reminder_on: Option<bool>,
    pub reminder_minutes_before_start: Option<i32>,
    pub ical_uid: Option<String>,
    pub web_link: Option<String>,
    /// The Teams meeting's join link, when Graph attached one.
    pub join_url: Option<String>,
    /// Whether Graph made the event an online meeting, and with which provider.
    pub is_online_meeting: Option<bool>,
    pub online_meeting_provider: Option<String>,
}

impl CalendarEvent {
    /// Whether Graph attached a Teams meeting to the event.
    pub fn has_teams_meeting(&self) -> bool {
        self.is_online_meeting == Some(true)
            && self.online_meeting_provider.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("teamsForBusiness"))
            && self.join_url.as_deref().is_some_and(|url| !url.is_empty())
    }
}

/// A request to schedule a calendar meeting, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleMeeting {
    pub tenant: TenantId,
    pub organizer: UserId,
    pub event: Box<CalendarEvent>,
    /// Options PATCHed onto the Teams meeting, and which properties they set.
    pub meeting_options: Option<(Box<OnlineMeeting>, Vec<&'static Property>)>,
    pub transaction_id: Option<String>,
    pub language: Option<AcceptLanguage>,
}

/// The event and its Teams meeting.
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingScheduled {
    pub event: Box<CalendarEvent>,
    pub meeting: Box<OnlineMeeting>,
    pub graph_request_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CancelEvent {
    pub tenant: TenantId,
    pub organizer: UserId,
    pub event: ResourceId,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventCancelled {
    pub graph_request_id: Option<String>,
}

/// Appends to `violations` what is wrong with an event to schedule (fields under `event.`).
pub fn validate_new_event(event: &CalendarEvent, violations: &mut Vec<FieldViolation>) {
    let mut reject = |field: &str, description: &str| {
        violations.push(FieldViolation::new(format!("event.{field}"), description));
    };
    for (field, set) in
        [("id", event.id.is_some()), ("ical_uid", event.ical_uid.is_some()), ("web_link", event.web_link.is_some())]
    {
        if set {
            reject(field, "is read-only: Graph sets it");
        }
    }
    match event.subject.as_deref() {
        None | Some("") => reject("subject", "is required"),
        Some(subject) if subject.chars().count() > MAX_EVENT_SUBJECT_CHARS => {
            reject("subject", "must be at most 255 characters")
        }
        Some(_) => {}
    }
    match (event.start, event.end) {
        (None, _) => reject("start", "is required"),
        (_, None) => reject("end", "is required"),
        (Some(start), Some(end)) if end < start => reject("end", "must not be before start"),
        _ => {}
    }
    if let Some(minutes) = event.reminder_minutes_before_start {
        if !(0..=MAX_REMINDER_MINUTES).contains(&minutes) {
            reject("reminder_minutes_before_start", "must be between 0 and 40320 (four weeks)");
        }
    }
    for (i, attendee) in event.attendees.iter().enumerate() {
        if !is_plausible_email(&attendee.email) {
            reject(&format!("attendees[{i}].email"), "must be an e-mail address such as megan@contoso.com");
        }
    }
}

/// The options of a scheduled meeting: only what Graph's update page lets PATCH change.
pub fn meeting_option_properties(
    options: &OnlineMeeting,
    violations: &mut Vec<FieldViolation>,
) -> Vec<&'static Property> {
    for property in options.set_properties(|p| !p.patchable) {
        violations.push(FieldViolation::new(
            format!("meeting_options.{}", property.field),
            "cannot be set on a scheduled meeting: only properties Graph's update page lists can",
        ));
    }
    if !options.additional_data.is_empty() {
        violations.push(FieldViolation::new("meeting_options.additional_data", "cannot be set on a scheduled meeting"));
    }
    if options.participants.is_some() {
        violations.push(FieldViolation::new(
            "meeting_options.participants",
            "comes from the event's attendees: set event.attendees instead",
        ));
    }
    if options.start_date_time.is_some() || options.end_date_time.is_some() || options.subject.is_some() {
        violations.push(FieldViolation::new(
            "meeting_options",
            "subject and times come from the event: set them on event instead",
        ));
    }
    options.set_properties(|p| p.patchable)
}

/// An attendee's address: `local@domain`, at most 320 characters (RFC 5321), no spaces or
/// control characters. Mailboxes outside the tenant are fine.
fn is_plausible_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    value.len() <= 320
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn event() -> CalendarEvent {
        CalendarEvent {
            id: None,
            subject: Some("Planning".into()),
            body: None,
            start: Some(datetime!(2030-03-31 08:00 UTC)),
            end: Some(datetime!(2030-03-31 09:00 UTC)),
            time_zone: None,
            location: None,
            attendees: vec![Attendee { email: "ann+teams@fabrikam.com".into(), name: None, kind: None }],
            allow_new_time_proposals: None,
            is_reminder_on: None,
            reminder_minutes_before_start: None,
            ical_uid: None,
            web_link: None,
            join_url: None,
            is_online_meeting: None,
            online_meeting_provider: None,
        }
    }

    fn fields(event: CalendarEvent) -> Vec<String> {
        let mut violations = Vec::new();
        validate_new_event(&event, &mut violations);
        violations.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn events_to_schedule_are_checked() {
        assert!(fields(event()).is_empty());
        assert_eq!(fields(CalendarEvent { subject: None, ..event() }), ["event.subject"]);
        assert_eq!(fields(CalendarEvent { subject: Some("x".repeat(256)), ..event() }), ["event.subject"]);
        assert_eq!(fields(CalendarEvent { end: None, ..event() }), ["event.end"]);
        assert_eq!(fields(CalendarEvent { end: Some(datetime!(2030-03-31 07:00 UTC)), ..event() }), ["event.end"]);
        assert_eq!(fields(CalendarEvent { id: Some("x".into()), ..event() }), ["event.id"]);
        assert_eq!(
            fields(CalendarEvent { reminder_minutes_before_start: Some(-1), ..event() }),
            ["event.reminder_minutes_before_start"]
        );
        let bad = Attendee { email: "not an address".into(), name: None, kind: None };
        assert_eq!(fields(CalendarEvent { attendees: vec![bad], ..event() }), ["event.attendees[0].email"]);
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(EventTimeZone::parse("z", "Europe/Berlin").unwrap().name, "Europe/Berlin");
        assert!(EventTimeZone::parse("z", "UTC").is_ok());
        assert_eq!(EventTimeZone::parse("event.time_zone", "Mars/Olympus").unwrap_err().field, "event.time_zone");
    }

    #[test]
    fn meeting_options_are_what_patch_may_change() {
        let mut violations = Vec::new();
        let options = OnlineMeeting { allow_recording: Some(false), ..Default::default() };
        let properties = meeting_option_properties(&options, &mut violations);
        assert!(violations.is_empty());
        assert_eq!(properties.iter().map(|p| p.field).collect::<Vec<_>>(), ["allow_recording"]);
        let options =
            OnlineMeeting { meeting_template_id: Some("t".into()), subject: Some("s".into()), ..Default::default() };
        meeting_option_properties(&options, &mut violations);
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["meeting_options.meeting_template_id", "meeting_options"]);
    }
}
