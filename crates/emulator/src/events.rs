//! Calendar events of the emulated Graph (`…/users/{id}/events`): create (with `transactionId`
//! dedupe and, when asked and the mailbox allows it, a Teams meeting behind the event), GET,
//! DELETE and `cancel`, in Outlook's wire format (`dateTimeTimeZone`, `TimeZoneNotSupportedException`,
//! `ErrorItemNotFound`). Calendar access needs no application access policy; the meeting behind
//! an event is an ordinary stored onlineMeeting (`meetings`).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::graph::{bad_request, error, Call, GraphError, Outcome};
use super::odata::{
    self,
    Ty::{self, Bool as B, Coll, Int, Obj, Str as S, Word},
};
use super::store::StoredEvent;
use super::{meetings, wire, zones, CancelledEvent, EmulatedUser, Inner};

const EMAIL: Ty = Obj("emailAddress", false, &[("address", S), ("name", S)]);
const DATE_TIME_ZONE: Ty = Obj("dateTimeTimeZone", false, &[("dateTime", S), ("timeZone", S)]);
#[rustfmt::skip]
const LOCATION: Ty = Obj("location", true, &[
    ("displayName", S), ("locationEmailAddress", S), ("locationUri", S), ("uniqueId", S),
    ("locationType", Word("locationType", &["default", "conferenceRoom", "homeAddress", "businessAddress", "geoCoordinates", "streetAddress", "hotel", "restaurant", "localBusiness", "postalAddress"])),
    ("uniqueIdType", Word("locationUniqueIdType", &["unknown", "locationStore", "directory", "private", "bing"])),
]);
const ATTENDEE: Ty = Obj("attendee", true, &[("emailAddress", EMAIL), ("type", Word("attendeeType", ATTENDEE_TYPES))]);
const ATTENDEE_TYPES: &[&str] = &["required", "optional", "resource"];
const BODY_TYPES: &[&str] = &["text", "html"];
const IMPORTANCE: &[&str] = &["low", "normal", "high"];
const SENSITIVITY: &[&str] = &["normal", "personal", "private", "confidential"];
const SHOW_AS: &[&str] = &["unknown", "free", "tentative", "busy", "oof", "workingElsewhere"];

/// Writable event properties (v1.0). The event type is closed: another property is a 400.
#[rustfmt::skip]
const EVENT: &[(&str, Ty)] = &[
    ("allowNewTimeProposals", B), ("attendees", Coll(&ATTENDEE)),
    ("body", Obj("itemBody", false, &[("contentType", Word("bodyType", BODY_TYPES)), ("content", S)])),
    ("categories", Coll(&S)), ("end", DATE_TIME_ZONE), ("hideAttendees", B),
    ("importance", Word("importance", IMPORTANCE)), ("isAllDay", B), ("isOnlineMeeting", B),
    ("isReminderOn", B), ("location", LOCATION), ("locations", Coll(&LOCATION)),
    ("onlineMeetingProvider", Word("onlineMeetingProviderType", &["unknown", "skypeForBusiness", "skypeForConsumer", "teamsForBusiness"])),
    ("recurrence", Obj("patternedRecurrence", true, &[])), ("reminderMinutesBeforeStart", Int), ("responseRequested", B),
    ("sensitivity", Word("sensitivity", SENSITIVITY)), ("showAs", Word("freeBusyStatus", SHOW_AS)),
    ("start", DATE_TIME_ZONE), ("subject", S), ("transactionId", S),
];

/// Read-only event properties: accepted in a request body and ignored, as OData does.
#[rustfmt::skip]
const READ_ONLY: &[&str] = &[
    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "iCalUId", "uid", "webLink", "organizer",
    "originalStartTimeZone", "originalEndTimeZone", "bodyPreview", "hasAttachments", "isCancelled", "isDraft",
    "isOrganizer", "onlineMeeting", "onlineMeetingUrl", "responseStatus", "seriesMasterId", "type", "occurrenceId",
];

/// Exchange's 404 for an item id that is not (or no longer) in the mailbox.
fn missing() -> GraphError {
    error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
}

/// Outlook's answer to a `timeZone` it does not support (microsoft-graph-docs#4758).
fn unsupported_zone(name: &str) -> GraphError {
    let message =
        format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.");
    error(400, "TimeZoneNotSupportedException", message)
}

/// Outlook's answer to a body it cannot read into an event (e.g. a `dateTime` that is no date).
fn undeserializable() -> GraphError {
    error(400, "UnableToDeserializePostBody", "were unable to deserialize ")
}

/// Exchange's answer to an event its store refuses (no start or end, end before start).
fn invalid_property() -> GraphError {
    error(400, "ErrorPropertyValidationFailure", "At least one property failed validation.")
}

/// A `dateTimeTimeZone` of the request: the instant and the zone name as given.
fn date_time_zone(body: &Map<String, Value>, name: &str) -> Result<(OffsetDateTime, String), GraphError> {
    let Some(Value::Object(value)) = body.get(name) else { return Err(invalid_property()) };
    let zone_name = value.get("timeZone").and_then(Value::as_str).unwrap_or_default();
    let zone = zones::resolve(zone_name).ok_or_else(|| unsupported_zone(zone_name))?;
    let date_time = value.get("dateTime").and_then(Value::as_str).ok_or_else(invalid_property)?;
    let instant = zones::instant(date_time, &zone).ok_or_else(undeserializable)?;
    Ok((instant, zone_name.to_owned()))
}

/// `POST …/users/{id}/events`: OData checks, organizer (no policy needed), `transactionId`
/// seen before (the same event, 201, nothing new), times, then the event and, for
/// `isOnlineMeeting` with Teams (the default provider) on a mailbox that allows Teams, its
/// meeting.
pub(crate) fn create(inner: &mut Inner, call: &Call) -> Outcome {
    let body = call.json_body()?;
    for (name, value) in body.iter().filter(|(k, _)| !k.starts_with('@') && !READ_ONLY.contains(&k.as_str())) {
        let Some((_, ty)) = EVENT.iter().find(|(n, _)| n == name) else {
            return Err(bad_request(format!(
                "The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type."
            )));
        };
        odata::check(ty, name, value).map_err(bad_request)?;
    }
    let user = call.organizer(inner, false)?;
    let transaction_id = body.get("transactionId").and_then(Value::as_str).map(str::to_owned);
    if let Some(tx) = &transaction_id {
        if let Some(existing) = inner.events.by_transaction(call.tenant_id, &user.object_id, tx) {
            return Ok((201, render(existing, call, true)));
        }
    }
    let (start, end) = (date_time_zone(&body, "start")?, date_time_zone(&body, "end")?);
    if end.0 < start.0 {
        return Err(invalid_property());
    }

    let flag = |name: &str| body.get(name).and_then(Value::as_bool);
    let provider = body.get("onlineMeetingProvider").and_then(Value::as_str);
    let teams_asked =
        flag("isOnlineMeeting") == Some(true) && provider.is_none_or(|p| p.eq_ignore_ascii_case("teamsForBusiness"));
    let online_meeting = (teams_asked && user.calendar_allows_teams).then(|| {
        let mut meeting = teams_meeting(call.tenant_id, &user, &body, (start.0, end.0));
        meetings::store(inner, call.tenant_id, &user.object_id, &mut meeting, None);
        let conference = ["/audioConferencing/conferenceId", "/audioConferencing/ConferenceId"]
            .iter()
            .find_map(|p| meeting.pointer(p).cloned())
            .unwrap_or(Value::Null);
        json!({"joinUrl": meeting["joinWebUrl"], "conferenceId": conference, "tollNumber": meetings::TOLL})
    });
    let event = build(&user, &body, online_meeting);
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let stored = StoredEvent { event, start, end, transaction_id };
    let rendered = render(&stored, call, true);
    inner.events_created += 1;
    inner.events.insert(call.tenant_id, &user.object_id, &id, stored);
    Ok((201, rendered))
}

/// The Teams meeting Graph makes for a calendar event: the event's subject, times and attendees
/// (people only: a room or other resource is no meeting participant).
fn teams_meeting(
    tenant_id: &str,
    user: &EmulatedUser,
    body: &Map<String, Value>,
    times: (OffsetDateTime, OffsetDateTime),
) -> Value {
    let attendees: Vec<Value> = body
        .get("attendees")
        .and_then(Value::as_array)
        .map(|list| {
            let participant = |a: &Value| {
                let (address, name) = (&a["emailAddress"]["address"], &a["emailAddress"]["name"]);
                json!({"identity": {"user": {"id": null, "displayName": name, "tenantId": null, "identityProvider": "AAD"}}, "upn": address, "role": "attendee"})
            };
            let person = |a: &&Value| canonical(a.get("type"), ATTENDEE_TYPES, "required") != "resource";
            list.iter().filter(person).map(participant).collect()
        })
        .unwrap_or_default();
    let mut meeting_body = Map::new();
    meeting_body.insert("subject".to_owned(), body.get("subject").cloned().unwrap_or(Value::Null));
    meeting_body.insert("participants".to_owned(), json!({"attendees": attendees}));
    // createOrGet's spelling of `conferenceId`, as Graph's event examples use.
    meetings::build(tenant_id, user, &meeting_body, times, true)
}

/// The event Exchange stores for a validated request (without `start` and `end`).
fn build(user: &EmulatedUser, body: &Map<String, Value>, online_meeting: Option<Value>) -> Value {
    let given = |name: &str| body.get(name).filter(|v| !v.is_null());
    let word = |name: &str, members: &[&str], default: &str| canonical(given(name), members, default);
    let now = OffsetDateTime::now_utc();
    let random = |n: usize| (0..n).map(|_| Uuid::new_v4().into_bytes()).collect::<Vec<_>>().concat();
    // Outlook ids: base64 with `-` and `_` for `+` and `/`, padded.
    let id = format!("AAMkAG{}", wire::base64(&random(3)[..41], false).replace('+', "-").replace('/', "_"));
    let change_key = wire::base64(&random(2)[..22], false);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let ical_uid = format!(
        "040000008200E00074C5B7101A82E00800000000{}000000000000000010000000{}",
        hex(&(now.unix_timestamp_nanos() as u64).to_le_bytes()),
        hex(&random(1))
    );
    let (content_type, content) = (
        canonical(given("body").and_then(|b| b.get("contentType")), BODY_TYPES, "text"),
        given("body").and_then(|b| b.get("content")).and_then(Value::as_str).unwrap_or_default(),
    );
    let (html, preview) = if content_type == "html" {
        (content.to_owned(), strip_tags(content))
    } else {
        (escape(content).replace('\n', "<br>"), content.to_owned())
    };
    let html = if html.trim_start().to_ascii_lowercase().starts_with("<html") {
        html
    } else {
        format!("<html><head></head><body>{html}</body></html>")
    };
    let location_name = given("location").and_then(|l| l.get("displayName")).and_then(Value::as_str);
    let (location, locations) = match location_name {
        Some(name) if !name.is_empty() => (
            json!({"displayName": name, "locationType": "default", "uniqueId": name, "uniqueIdType": "private"}),
            json!([{"displayName": name, "locationType": "default", "uniqueIdType": "unknown"}]),
        ),
        _ => (
            json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}}),
            json!([]),
        ),
    };
    let attendees: Vec<Value> = given("attendees")
        .and_then(Value::as_array)
        .map(|list| {
            let attendee = |a: &Value| {
                let address = a["emailAddress"]["address"].clone();
                let name = a["emailAddress"].get("name").filter(|n| !n.is_null()).cloned().unwrap_or_else(|| address.clone());
                let kind = canonical(a.get("type"), ATTENDEE_TYPES, "required");
                json!({"type": kind, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}, "emailAddress": {"name": name, "address": address}})
            };
            list.iter().map(attendee).collect()
        })
        .unwrap_or_default();
    let teams = online_meeting.is_some();
    let created = wire::graph_datetime(now);
    let mut event = json!({
        "id": id,
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "changeKey": change_key,
        "categories": given("categories").cloned().unwrap_or_else(|| json!([])),
        "iCalUId": ical_uid,
        "reminderMinutesBeforeStart": given("reminderMinutesBeforeStart").cloned().unwrap_or_else(|| json!(15)),
        "isReminderOn": given("isReminderOn").cloned().unwrap_or(Value::Bool(true)),
        "hasAttachments": false,
        "hideAttendees": given("hideAttendees").cloned().unwrap_or(Value::Bool(false)),
        "subject": given("subject").cloned().unwrap_or_else(|| json!("")),
        "bodyPreview": preview.chars().take(255).collect::<String>(),
        "importance": word("importance", IMPORTANCE, "normal"),
        "sensitivity": word("sensitivity", SENSITIVITY, "normal"),
        "isAllDay": given("isAllDay").cloned().unwrap_or(Value::Bool(false)),
        "isCancelled": false,
        "isDraft": false,
        "isOrganizer": true,
        "responseRequested": given("responseRequested").cloned().unwrap_or(Value::Bool(true)),
        "seriesMasterId": null,
        "showAs": word("showAs", SHOW_AS, "busy"),
        "type": if given("recurrence").is_some() { "seriesMaster" } else { "singleInstance" },
        "webLink": format!("https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item", wire::form_encode(&id)),
        "onlineMeetingUrl": null,
        "isOnlineMeeting": teams,
        "onlineMeetingProvider": if teams { "teamsForBusiness" } else { "unknown" },
        "allowNewTimeProposals": given("allowNewTimeProposals").cloned().unwrap_or(Value::Bool(true)),
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": {"contentType": "html", "content": html},
        "location": location,
        "locations": locations,
        "recurrence": given("recurrence").cloned().unwrap_or(Value::Null),
        "attendees": attendees,
        "organizer": {"emailAddress": {"name": user.display_name, "address": user.user_principal_name}},
        "onlineMeeting": online_meeting,
    });
    if let (Some(tx), Value::Object(map)) = (given("transactionId"), &mut event) {
        // Graph returns transactionId only when the app set it.
        map.insert("transactionId".to_owned(), tx.clone());
    }
    event
}

/// An enum member as Outlook echoes it: spelled as declared (`"HTML"` reads `html`), `default`
/// when not given.
fn canonical(value: Option<&Value>, members: &[&str], default: &str) -> String {
    let given = value.and_then(Value::as_str).unwrap_or(default);
    members.iter().copied().find(|m| m.eq_ignore_ascii_case(given)).unwrap_or(given).to_owned()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The text of an HTML body, as `bodyPreview` shows it.
fn strip_tags(html: &str) -> String {
    let (mut text, mut in_tag) = (String::new(), false);
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An event as sent: context and etag; `start` and `end` in the zone of `Prefer:
/// outlook.timezone` when given and supported, else as created (the create answer) or in UTC
/// (later reads), as Graph documents.
fn render(stored: &StoredEvent, call: &Call, created: bool) -> Value {
    let mut event = stored.event.clone();
    let preferred = call.ctx.outlook_time_zone.as_deref().and_then(|name| zones::resolve(name).map(|z| (name, z)));
    let when = |(instant, given): &(OffsetDateTime, String)| {
        let (name, zone) = match (&preferred, created) {
            (Some((name, zone)), _) => ((*name).to_owned(), zone.clone()),
            (None, true) => (given.clone(), zones::resolve(given).unwrap_or(jiff::tz::TimeZone::UTC)),
            (None, false) => ("UTC".to_owned(), jiff::tz::TimeZone::UTC),
        };
        json!({"dateTime": zones::local(*instant, &zone), "timeZone": name})
    };
    if let Value::Object(map) = &mut event {
        let (endpoint, version, user) = (call.endpoint, &call.version, &call.user_segment);
        let etag = format!("W/\"{}\"", map.get("changeKey").and_then(Value::as_str).unwrap_or_default());
        map.insert(
            "@odata.context".into(),
            format!("{endpoint}/{version}/$metadata#users('{user}')/events/$entity").into(),
        );
        map.insert("@odata.etag".into(), etag.into());
        map.insert("originalStartTimeZone".into(), stored.start.1.clone().into());
        map.insert("originalEndTimeZone".into(), stored.end.1.clone().into());
        map.insert("start".into(), when(&stored.start));
        map.insert("end".into(), when(&stored.end));
    }
    event
}

/// `GET …/events/{id}`.
pub(crate) fn get(inner: &mut Inner, call: &Call, id: &str) -> Outcome {
    let user = call.organizer(inner, false)?;
    let stored = inner.events.get(call.tenant_id, &user.object_id, id).ok_or_else(missing)?;
    Ok((200, render(stored, call, false)))
}

/// `DELETE …/events/{id}`: 204. The Teams meeting behind the event stays, as Graph's join links
/// of deleted meetings do (microsoft-graph-docs#7802).
pub(crate) fn delete(inner: &mut Inner, call: &Call, id: &str) -> Outcome {
    let user = call.organizer(inner, false)?;
    inner.events.remove(call.tenant_id, &user.object_id, id).ok_or_else(missing)?;
    Ok((204, Value::Null))
}

/// `POST …/events/{id}/cancel` with `{"comment": …}` (any case, as Graph's own example writes
/// `Comment`): 202. The event moves to Deleted Items, so it is no longer on the calendar: a
/// second cancel, a GET or a DELETE then answer 404. The cancellation is recorded for
/// [`crate::Emulator::cancelled_events`].
pub(crate) fn cancel(inner: &mut Inner, call: &Call, id: &str) -> Outcome {
    let body = call.json_body()?;
    let mut comment = None;
    for (name, value) in body.iter().filter(|(k, _)| !k.starts_with('@')) {
        if !name.eq_ignore_ascii_case("comment") {
            return Err(bad_request(format!(
                "The parameter '{name}' in the request payload is not a valid parameter for the operation 'cancel'."
            )));
        }
        odata::check(&S, name, value).map_err(bad_request)?;
        comment = value.as_str().map(str::to_owned);
    }
    let user = call.organizer(inner, false)?;
    inner.events.remove(call.tenant_id, &user.object_id, id).ok_or_else(missing)?;
    if inner.cancelled_events.len() >= inner.config.store_capacity.max(1) {
        inner.cancelled_events.pop_front();
    }
    inner.cancelled_events.push_back(CancelledEvent { organizer_id: user.object_id, event_id: id.to_owned(), comment });
    Ok((202, Value::Null))
}
