//! Graph's event resource, as far as scheduling a Teams meeting needs it: the JSON of a new
//! event (`POST /users/{id}/events`) and the reading of the event Graph returns. Times go out as
//! the wall-clock time in the event's zone with that zone's name (`{dateTime, timeZone}`), and
//! come back as instants.

use bytes::Bytes;
use jiff::{civil::DateTime, tz::TimeZone, Timestamp};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::convert::GraphName;
use crate::domain::{Attendee, AttendeeType, BodyType, CalendarEvent, EventTimeZone, ItemBody};

#[derive(Serialize, Deserialize, Default)]
struct DateTimeTimeZone {
    #[serde(rename = "dateTime", default)]
    date_time: String,
    #[serde(rename = "timeZone", default)]
    time_zone: String,
}

#[derive(Serialize, Deserialize, Default)]
struct Body {
    #[serde(rename = "contentType", skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Location {
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct EmailAddress {
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct AttendeeDto {
    #[serde(rename = "emailAddress")]
    email_address: Option<EmailAddress>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct OnlineMeetingInfo {
    #[serde(rename = "joinUrl")]
    join_url: Option<String>,
}

/// A new event: what the service sends.
#[derive(Serialize)]
struct NewEvent<'a> {
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Body>,
    start: DateTimeTimeZone,
    end: DateTimeTimeZone,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attendees: Vec<AttendeeDto>,
    #[serde(rename = "allowNewTimeProposals", skip_serializing_if = "Option::is_none")]
    allow_new_time_proposals: Option<bool>,
    #[serde(rename = "isReminderOn", skip_serializing_if = "Option::is_none")]
    is_reminder_on: Option<bool>,
    #[serde(rename = "reminderMinutesBeforeStart", skip_serializing_if = "Option::is_none")]
    reminder_minutes_before_start: Option<i32>,
    #[serde(rename = "isOnlineMeeting")]
    is_online_meeting: bool,
    #[serde(rename = "onlineMeetingProvider")]
    online_meeting_provider: &'static str,
    #[serde(rename = "transactionId", skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
}

/// An event as Graph returns it.
#[derive(Deserialize)]
struct EventDto {
    id: Option<String>,
    #[serde(rename = "iCalUId")]
    ical_uid: Option<String>,
    #[serde(rename = "webLink")]
    web_link: Option<String>,
    subject: Option<String>,
    body: Option<Body>,
    start: Option<DateTimeTimeZone>,
    end: Option<DateTimeTimeZone>,
    location: Option<Location>,
    #[serde(default)]
    attendees: Vec<AttendeeDto>,
    #[serde(rename = "allowNewTimeProposals")]
    allow_new_time_proposals: Option<bool>,
    #[serde(rename = "isReminderOn")]
    is_reminder_on: Option<bool>,
    #[serde(rename = "reminderMinutesBeforeStart")]
    reminder_minutes_before_start: Option<i32>,
    #[serde(rename = "isOnlineMeeting")]
    is_online_meeting: Option<bool>,
    #[serde(rename = "onlineMeetingProvider")]
    online_meeting_provider: Option<String>,
    #[serde(rename = "onlineMeeting")]
    online_meeting: Option<OnlineMeetingInfo>,
}

/// The JSON of a new event with a Teams meeting; `transaction_id` makes a retried POST return
/// the same event.
pub fn encode_event(event: &CalendarEvent, transaction_id: Option<&str>) -> Bytes {
    let zone = event.time_zone.clone().unwrap_or_else(EventTimeZone::utc);
    let (start, end) = (event.start.map(timestamp), event.end.map(timestamp));
    let probe = start.unwrap_or(Timestamp::UNIX_EPOCH);
    // A zone no Windows id keeps is sent as UTC (validation refuses those zones first).
    let windows = super::zones::windows_id(&zone.name, &zone.zone, probe, end.unwrap_or(probe)).unwrap_or("UTC");
    let shown_in =
        if windows == "UTC" { TimeZone::UTC } else { super::zones::zone_of(windows).unwrap_or(TimeZone::UTC) };
    let at = |instant: Option<Timestamp>| DateTimeTimeZone {
        date_time: instant
            .map(|t| shown_in.to_datetime(t).strftime("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default(),
        time_zone: windows.to_owned(),
    };
    let new = NewEvent {
        subject: event.subject.as_deref(),
        body: event.body.as_ref().map(|b| Body {
            content_type: b.content_type.map(|t| t.graph_name().to_owned()),
            content: b.content.clone(),
        }),
        start: at(start),
        end: at(end),
        location: event.location.clone().map(|name| Location { display_name: Some(name) }),
        attendees: event
            .attendees
            .iter()
            .map(|a| AttendeeDto {
                email_address: Some(EmailAddress { address: Some(a.email.clone()), name: a.name.clone() }),
                kind: a.kind.map(|k| attendee_type_name(k).to_owned()),
            })
            .collect(),
        allow_new_time_proposals: event.allow_new_time_proposals,
        is_reminder_on: event.is_reminder_on,
        reminder_minutes_before_start: event.reminder_minutes_before_start,
        is_online_meeting: true,
        online_meeting_provider: "teamsForBusiness",
        transaction_id,
    };
    Bytes::from(serde_json::to_vec(&new).unwrap_or_default())
}

/// The JSON of a cancellation: the comment attendees read.
pub fn encode_cancel(comment: Option<&str>) -> Bytes {
    Bytes::from(serde_json::to_vec(&serde_json::json!({ "comment": comment.unwrap_or_default() })).unwrap_or_default())
}

/// Reads the event Graph returned.
pub fn read_event(body: &[u8]) -> Result<CalendarEvent, serde_json::Error> {
    let dto: EventDto = serde_json::from_slice(body)?;
    let zone = dto.start.as_ref().and_then(|s| EventTimeZone::parse("", &s.time_zone).ok());
    Ok(CalendarEvent {
        id: dto.id,
        subject: dto.subject,
        body: dto.body.map(|b| ItemBody {
            content: b.content,
            content_type: b.content_type.as_deref().and_then(BodyType::from_graph_name),
        }),
        start: dto.start.as_ref().and_then(instant),
        end: dto.end.as_ref().and_then(instant),
        time_zone: zone,
        location: dto.location.and_then(|l| l.display_name).filter(|n| !n.is_empty()),
        attendees: dto
            .attendees
            .into_iter()
            .filter_map(|a| {
                let email = a.email_address?;
                Some(Attendee {
                    email: email.address?,
                    name: email.name.filter(|n| !n.is_empty()),
                    kind: a.kind.as_deref().and_then(attendee_type),
                })
            })
            .collect(),
        allow_new_time_proposals: dto.allow_new_time_proposals,
        is_reminder_on: dto.is_reminder_on,
        reminder_minutes_before_start: dto.reminder_minutes_before_start,
        ical_uid: dto.ical_uid,
        web_link: dto.web_link,
        join_url: dto.online_meeting.and_then(|m| m.join_url),
        is_online_meeting: dto.is_online_meeting,
        online_meeting_provider: dto.online_meeting_provider,
    })
}

fn timestamp(instant: OffsetDateTime) -> Timestamp {
    Timestamp::new(instant.unix_timestamp(), instant.nanosecond() as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The instant of Graph's `{dateTime, timeZone}` (a Windows id or an IANA name); `None` when
/// neither (the caller then keeps what it sent).
fn instant(value: &DateTimeTimeZone) -> Option<OffsetDateTime> {
    let zone = super::zones::zone_of(&value.time_zone)?;
    let civil: DateTime = value.date_time.parse().ok()?;
    let timestamp = zone.to_timestamp(civil).ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(timestamp.as_nanosecond()).ok()
}

fn attendee_type_name(kind: AttendeeType) -> &'static str {
    match kind {
        AttendeeType::Required => "required",
        AttendeeType::Optional => "optional",
        AttendeeType::Resource => "resource",
    }
}

fn attendee_type(name: &str) -> Option<AttendeeType> {
    [AttendeeType::Required, AttendeeType::Optional, AttendeeType::Resource]
        .into_iter()
        .find(|k| attendee_type_name(*k).eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn event(zone: Option<&str>) -> CalendarEvent {
        CalendarEvent {
            id: None,
            subject: Some("Planning".into()),
            body: Some(ItemBody { content: Some("<b>Agenda</b>".into()), content_type: Some(BodyType::Html) }),
            start: Some(datetime!(2030-03-31 00:30 UTC)),
            end: Some(datetime!(2030-03-31 01:30 UTC)),
            time_zone: zone.map(|z| EventTimeZone::parse("z", z).unwrap()),
            location: Some("Room 1".into()),
            attendees: vec![Attendee {
                email: "ann+teams@fabrikam.com".into(),
                name: Some("Ann".into()),
                kind: Some(AttendeeType::Optional),
            }],
            allow_new_time_proposals: Some(false),
            is_reminder_on: None,
            reminder_minutes_before_start: Some(15),
            ical_uid: None,
            web_link: None,
            join_url: None,
            is_online_meeting: None,
            online_meeting_provider: None,
        }
    }

    #[test]
    fn a_new_event_is_graphs_json_with_wall_clock_times_across_a_dst_change() {
        // 2030-03-31: Europe/Berlin moves from UTC+1 to UTC+2 at 01:00 UTC.
        let body: serde_json::Value =
            serde_json::from_slice(&encode_event(&event(Some("Europe/Berlin")), Some("tx-1"))).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "subject": "Planning",
                "body": {"contentType": "html", "content": "<b>Agenda</b>"},
                "start": {"dateTime": "2030-03-31T01:30:00", "timeZone": "W. Europe Standard Time"},
                "end": {"dateTime": "2030-03-31T03:30:00", "timeZone": "W. Europe Standard Time"},
                "location": {"displayName": "Room 1"},
                "attendees": [{"emailAddress": {"address": "ann+teams@fabrikam.com", "name": "Ann"}, "type": "optional"}],
                "allowNewTimeProposals": false,
                "reminderMinutesBeforeStart": 15,
                "isOnlineMeeting": true,
                "onlineMeetingProvider": "teamsForBusiness",
                "transactionId": "tx-1",
            })
        );
        let utc: serde_json::Value = serde_json::from_slice(&encode_event(&event(None), None)).unwrap();
        assert_eq!(utc["start"], serde_json::json!({"dateTime": "2030-03-31T00:30:00", "timeZone": "UTC"}));
        assert!(utc.get("transactionId").is_none());
    }

    #[test]
    fn graphs_event_reads_back_into_instants() {
        let answer = br#"{"id":"AAMk=","iCalUId":"040000","webLink":"https://outlook.office365.com/owa/?itemid=AAMk",
            "subject":"Planning","start":{"dateTime":"2030-03-31T03:30:00.0000000","timeZone":"Europe/Berlin"},
            "end":{"dateTime":"2030-03-31T01:30:00.0000000","timeZone":"UTC"},"isOnlineMeeting":true,
            "onlineMeetingProvider":"teamsForBusiness","onlineMeeting":{"joinUrl":"https://teams.microsoft.com/l/meetup-join/x"},
            "attendees":[{"type":"required","emailAddress":{"name":"Ann","address":"ann@fabrikam.com"}}]}"#;
        let event = read_event(answer).unwrap();
        assert_eq!(event.start, Some(datetime!(2030-03-31 01:30 UTC)));
        assert_eq!(event.end, Some(datetime!(2030-03-31 01:30 UTC)));
        assert_eq!(event.time_zone.map(|z| z.name).as_deref(), Some("Europe/Berlin"));
        assert!(event.join_url.is_some() && event.is_online_meeting == Some(true));
        assert_eq!(event.attendees[0].kind, Some(AttendeeType::Required));
        let windows = br#"{"id":"x","start":{"dateTime":"2030-03-31T03:30:00","timeZone":"W. Europe Standard Time"}}"#;
        assert_eq!(read_event(windows).unwrap().start, Some(datetime!(2030-03-31 01:30 UTC)));
        let unknown = br#"{"id":"x","start":{"dateTime":"2030-03-31T03:30:00","timeZone":"Mars Standard Time"}}"#;
        assert_eq!(read_event(unknown).unwrap().start, None, "an unknown zone is not guessed");
    }
}
