//! The onlineMeeting resource of the emulated Graph: create and `createOrGet`, GET by id, `$filter`
//! on the join URL or join meeting id, PATCH with the update page's rules, DELETE; with the
//! properties Graph's metadata declares, the meeting Graph generates, and how it renders one
//! (annotations, `Accept-Language`, evolvable enums). Routing, authentication and faults are the
//! host's (`graph`); storage is `store`'s.

use std::time::Instant;

use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::graph::{bad_request, error, Call, Ctx, GraphError, Outcome};
use super::odata::{
    self,
    Ty::{self, Bool as B, Coll, Date, Enum, Obj, Str as S},
};
use super::store::StoredMeeting;
use super::{wire, EmulatedUser, Inner};

/// Fictional numbers (555-01xx) of the emulated audio-conferencing bridge.
pub(crate) const TOLL: &str = "+14255550100";
const TOLL_FREE: &str = "+18005550199";

/// `POST …/onlineMeetings` and `…/createOrGet`: OData checks, organizer, times, then a new
/// meeting (201) or, for a known `externalId`, the stored one (200).
pub(crate) fn create(inner: &mut Inner, call: &Call, or_get: bool) -> Outcome {
    let body = call.json_body()?;
    validate(&body, or_get)?;
    let user = call.organizer(inner, true)?;
    let date = |name: &str| body.get(name).and_then(Value::as_str).and_then(wire::parse_datetime);
    let (start, end) = match (date("startDateTime"), date("endDateTime")) {
        (None, Some(_)) if or_get => return Err(bad_request("endDateTime cannot be provided without startDateTime.")),
        (start, end) => {
            let start = start.unwrap_or_else(OffsetDateTime::now_utc);
            (start, end.unwrap_or(start + time::Duration::HOUR))
        }
    };
    if end < start {
        return Err(bad_request("endDateTime must be later than startDateTime."));
    }
    let external_id = body.get("externalId").and_then(Value::as_str).filter(|_| or_get);
    let existing = external_id.and_then(|x| inner.meetings.by_external_id(call.tenant_id, &user.object_id, x));
    if let Some(existing) = existing {
        return Ok((200, render(&existing.meeting(), call)));
    }
    let mut meeting = build(call.tenant_id, &user, &body, (start, end), or_get);
    store(inner, call.tenant_id, &user.object_id, &mut meeting, external_id);
    Ok((201, render(&meeting, call)))
}

/// Keeps a meeting just made (by a create or behind a calendar event), findable by `$filter`
/// once the configured visibility delay has passed.
pub(crate) fn store(
    inner: &mut Inner,
    tenant_id: &str,
    organizer_id: &str,
    meeting: &mut Value,
    external_id: Option<&str>,
) {
    // A join meeting id names one meeting, as Graph's do: on a clash with a stored one, draw again.
    let taken = |v: &&mut Value| v.as_str().is_some_and(|id| inner.meetings.join_meeting_id_taken(id));
    while let Some(join_meeting_id) = meeting.pointer_mut("/joinMeetingIdSettings/joinMeetingId").filter(taken) {
        *join_meeting_id = wire::random_digits(12).into();
    }
    inner.meetings_created += 1;
    let visible_at = Instant::now() + inner.config.visibility_delay;
    inner.meetings.insert(tenant_id, organizer_id, meeting, external_id, visible_at);
}

/// Graph's 404 for a meeting id the organizer has no meeting under. The wording is the
/// emulator's: Graph documents none for this case.
fn missing(id: &str) -> GraphError {
    error(404, "NotFound", format!("The onlineMeeting '{id}' does not exist for this organizer."))
}

/// `GET …/onlineMeetings/{meetingId}`.
pub(crate) fn get(inner: &mut Inner, call: &Call, id: &str) -> Outcome {
    let user = call.organizer(inner, true)?;
    let stored = inner.meetings.get(call.tenant_id, &user.object_id, id).ok_or_else(|| missing(id))?;
    Ok((200, render(&stored.meeting(), call)))
}

/// What a `$filter` on onlineMeetings can look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MeetingKey {
    JoinWebUrl,
    JoinMeetingId,
}

/// The meeting id a join URL names. `build` makes both from the organizer and the meeting's chat
/// thread (`…/meetup-join/{thread, percent-encoded}/0?context=…`), so no index is needed.
fn id_of_join_web_url(url: &str, organizer_id: &str) -> Option<String> {
    let (thread, _) = url.strip_prefix("https://teams.microsoft.com/l/meetup-join/")?.split_once('/')?;
    let thread = percent_decode_str(thread).decode_utf8().ok()?;
    Some(wire::base64(format!("1*{organizer_id}*0**{thread}").as_bytes(), false))
}

/// Graph's answer to a listing without a filter it supports (seen in msgraph-sdk-dotnet#2492).
fn filter_expected() -> GraphError {
    error(400, "InvalidArgument", "Filter expression expected - /onlineMeetings?$filter={ParameterName} eq '{id}'.")
}

/// `$filter` of `GET …/onlineMeetings`: `JoinWebUrl eq '…'` or
/// `joinMeetingIdSettings/joinMeetingId eq '…'` (property names in any case), an OData string
/// literal whose inner `'` are doubled. `None`: any other expression.
pub(crate) fn parse_filter(filter: &str) -> Option<(MeetingKey, String)> {
    let (property, rest) = filter.trim().split_once(char::is_whitespace)?;
    let key = match property.to_ascii_lowercase().as_str() {
        "joinweburl" => MeetingKey::JoinWebUrl,
        "joinmeetingidsettings/joinmeetingid" => MeetingKey::JoinMeetingId,
        _ => return None,
    };
    let (operator, literal) = rest.trim_start().split_once(char::is_whitespace)?;
    let quoted = literal.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    let mut value = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        // A lone quote would end the literal early: only a doubled one stands for `'`.
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        value.push(c);
    }
    operator.eq_ignore_ascii_case("eq").then_some((key, value))
}

/// `GET …/onlineMeetings?$filter=…`: the organizer's meeting with that join URL or join meeting
/// id, as a collection of one (none before it is visible, or when there is no such meeting).
pub(crate) fn list(inner: &mut Inner, call: &Call) -> Outcome {
    let (key, value) = call.query("$filter").as_deref().and_then(parse_filter).ok_or_else(filter_expected)?;
    let user = call.organizer(inner, true)?;
    let (tenant_id, organizer_id) = (call.tenant_id, user.object_id.as_str());
    let stored = match key {
        MeetingKey::JoinWebUrl => {
            id_of_join_web_url(&value, organizer_id).and_then(|id| inner.meetings.get(tenant_id, organizer_id, &id))
        }
        MeetingKey::JoinMeetingId => inner.meetings.by_join_meeting_id(tenant_id, organizer_id, &value),
    };
    let now = Instant::now();
    let found = stored.filter(|s| s.visible_at <= now).map(StoredMeeting::meeting);
    let found = found.filter(|m| key == MeetingKey::JoinMeetingId || m["joinWebUrl"] == value.as_str());
    let items: Vec<Value> = found
        .map(|meeting| {
            let mut item = render(&meeting, call);
            if let Value::Object(map) = &mut item {
                // Entities inside a collection carry no context of their own.
                map.remove("@odata.context");
                map.remove("@odata.type");
            }
            item
        })
        .into_iter()
        .collect();
    let (endpoint, version, user_segment) = (call.endpoint, &call.version, &call.user_segment);
    let context = format!("{endpoint}/{version}/$metadata#users('{user_segment}')/onlineMeetings");
    Ok((200, json!({"@odata.context": context, "value": items})))
}

/// What PATCH may change: the update page's table (v1.0, ms.date 08/08/2024).
const PATCHABLE: &[&str] = &[
    "allowAttendeeToEnableCamera",
    "allowAttendeeToEnableMic",
    "allowBreakoutRooms",
    "allowCopyingAndSharingMeetingContent",
    "allowedLobbyAdmitters",
    "allowedPresenters",
    "allowLiveShare",
    "allowMeetingChat",
    "allowPowerPointSharing",
    "allowRecording",
    "allowTeamworkReactions",
    "allowTranscription",
    "allowWhiteboard",
    "anonymizeIdentityForRoles",
    "broadcastSettings",
    "endDateTime",
    "isEntryExitAnnounced",
    "lobbyBypassSettings",
    "participants",
    "recordAutomatically",
    "startDateTime",
    "subject",
    "watermarkProtection",
];

/// The update page's rules on a PATCH body (after the OData reader's type checks). The rules
/// are the page's; Graph documents no message for them, so the wording is the emulator's.
fn check_patch(body: &Map<String, Value>) -> Result<(), GraphError> {
    let properties = body.iter().filter(|(k, _)| !k.starts_with('@'));
    if let Some((name, _)) = properties.clone().find(|(k, _)| !PATCHABLE.contains(&k.as_str())) {
        return Err(bad_request(format!("The property '{name}' of an onlineMeeting cannot be updated.")));
    }
    if body.contains_key("startDateTime") != body.contains_key("endDateTime") {
        return Err(bad_request(
            "Adjusting the start or end date/time of an online meeting requires both startDateTime and endDateTime.",
        ));
    }
    if let Some(Value::Object(participants)) = body.get("participants") {
        if participants.contains_key("organizer") {
            return Err(bad_request("The organizer of the meeting can't be modified after the meeting is created."));
        }
        if let Some(other) = participants.keys().find(|k| !k.starts_with('@') && *k != "attendees") {
            return Err(bad_request(format!("Only attendees of participants can be updated, not '{other}'.")));
        }
    }
    Ok(())
}

/// `PATCH …/onlineMeetings/{meetingId}`: the body's properties applied (`null` clears one,
/// complex values merge into the stored ones, `attendees` replace the list), 200 with the meeting.
pub(crate) fn update(inner: &mut Inner, call: &Call, id: &str) -> Outcome {
    let body = call.json_body()?;
    for (name, value) in body.iter().filter(|(k, _)| !k.starts_with('@')) {
        if let Some((_, ty)) = MEETING.iter().find(|(n, _)| n == name) {
            odata::check(ty, name, value).map_err(bad_request)?;
        }
    }
    check_patch(&body)?;
    let date = |name: &str| body.get(name).and_then(Value::as_str).and_then(wire::parse_datetime);
    let times = match (body.contains_key("startDateTime"), date("startDateTime"), date("endDateTime")) {
        (false, ..) => None,
        (true, Some(start), Some(end)) if end >= start => Some((start, end)),
        (true, Some(_), Some(_)) => return Err(bad_request("endDateTime must be later than startDateTime.")),
        (true, ..) => return Err(bad_request("startDateTime and endDateTime cannot be null.")),
    };
    let user = call.organizer(inner, true)?;
    let stored = inner.meetings.get(call.tenant_id, &user.object_id, id).ok_or_else(|| missing(id))?;
    let mut meeting = stored.meeting();
    let anonymized = |m: &Value| {
        let roles = m.get("anonymizeIdentityForRoles").and_then(Value::as_array);
        roles.is_some_and(|r| r.iter().any(|role| role == "attendee"))
    };
    if body.contains_key("anonymizeIdentityForRoles")
        && anonymized(&meeting)
        && !anonymized(&Value::Object(body.clone()))
    {
        return Err(bad_request("The 'attendee' value of anonymizeIdentityForRoles can't be removed once added."));
    }
    let Value::Object(m) = &mut meeting else {
        return Err(error(500, "InternalServerError", "Internal Server Error"));
    };
    for (name, value) in body.into_iter().filter(|(k, _)| !k.starts_with('@')) {
        match (name.as_str(), value) {
            ("startDateTime" | "endDateTime", _) => {}
            ("participants", value) => {
                let attendees =
                    value.get("attendees").and_then(Value::as_array).map(|a| a.iter().map(with_role).collect());
                let attendees = Value::Array(attendees.unwrap_or_default());
                if let Some(Value::Object(participants)) = m.get_mut("participants") {
                    participants.insert("attendees".to_owned(), attendees);
                }
            }
            ("subject", Value::Null) => {
                m.insert(name, Value::Null);
            }
            (_, Value::Null) => {
                m.remove(&name);
            }
            (_, Value::Object(given)) => {
                let entry = m.entry(name).or_insert_with(|| json!({}));
                if let Value::Object(stored) = entry {
                    for (k, v) in given {
                        if v.is_null() {
                            stored.remove(&k);
                        } else {
                            stored.insert(k, v);
                        }
                    }
                }
            }
            (_, value) => {
                m.insert(name, value);
            }
        }
    }
    if let Some((start, end)) = times {
        m.insert("startDateTime".to_owned(), wire::graph_datetime(start).into());
        m.insert("endDateTime".to_owned(), wire::graph_datetime(end).into());
    }
    inner.meetings.replace(call.tenant_id, &user.object_id, id, &meeting);
    Ok((200, render(&meeting, call)))
}

/// `DELETE …/onlineMeetings/{meetingId}`: 204 without body.
pub(crate) fn delete(inner: &mut Inner, call: &Call, id: &str) -> Outcome {
    let user = call.organizer(inner, true)?;
    inner.meetings.remove(call.tenant_id, &user.object_id, id).ok_or_else(|| missing(id))?;
    Ok((204, Value::Null))
}

/// A participant as Graph echoes it: with `role`, `null` when not given.
fn with_role(p: &Value) -> Value {
    match p {
        Value::Object(p) if !p.contains_key("role") => {
            Value::Object(p.clone().into_iter().chain([("role".to_owned(), Value::Null)]).collect())
        }
        p => p.clone(),
    }
}

#[rustfmt::skip]
const ROLE: Ty = Enum("onlineMeetingRole", &["attendee", "presenter", "unknownFutureValue", "producer", "coorganizer"]);
#[rustfmt::skip]
const PARTICIPANT: Ty = Obj("meetingParticipantInfo", false, &[
    ("identity", Obj("identitySet", true, &[("application", IDENTITY), ("device", IDENTITY), ("user", IDENTITY)])),
    ("role", ROLE), ("upn", S),
]);
const IDENTITY: Ty = Obj("identity", true, &[("id", S), ("displayName", S), ("tenantId", S)]);

/// Writable onlineMeeting properties (v1.0 metadata; beta's `anonymizeIdentityForRoles`, `producers`,
/// `contributors` too). Read-only and unknown properties are ignored (onlineMeeting is an open type).
#[rustfmt::skip]
const MEETING: &[(&str, Ty)] = &[
    ("allowAttendeeToEnableCamera", B), ("allowAttendeeToEnableMic", B), ("allowBreakoutRooms", B),
    ("allowCopyingAndSharingMeetingContent", B), ("allowParticipantsToChangeName", B), ("allowPowerPointSharing", B),
    ("allowRecording", B), ("allowTeamworkReactions", B), ("allowTranscription", B), ("allowWhiteboard", B),
    ("allowedLobbyAdmitters", Enum("allowedLobbyAdmitterRoles", &["organizerAndCoOrganizersAndPresenters", "organizerAndCoOrganizers", "unknownFutureValue"])),
    ("allowedPresenters", Enum("onlineMeetingPresenters", &["everyone", "organization", "roleIsPresenter", "organizer", "unknownFutureValue"])),
    ("allowLiveShare", Enum("meetingLiveShareOptions", &["enabled", "disabled", "unknownFutureValue"])),
    ("allowMeetingChat", Enum("meetingChatMode", &["enabled", "disabled", "limited", "unknownFutureValue"])),
    ("anonymizeIdentityForRoles", Coll(&ROLE)),
    ("broadcastSettings", Obj("broadcastMeetingSettings", false, &[
        ("allowedAudience", Enum("broadcastMeetingAudience", &["roleIsAttendee", "organization", "everyone", "unknownFutureValue"])),
        ("captions", Obj("broadcastMeetingCaptionSettings", false, &[("isCaptionEnabled", B), ("spokenLanguage", S), ("translationLanguages", Coll(&S))])),
        ("isAttendeeReportEnabled", B), ("isQuestionAndAnswerEnabled", B), ("isRecordingEnabled", B), ("isVideoOnDemandEnabled", B),
    ])),
    ("chatInfo", Obj("chatInfo", false, &[("messageId", S), ("replyChainMessageId", S), ("threadId", S)])),
    ("chatRestrictions", Obj("chatRestrictions", false, &[("allowTextOnly", B)])),
    ("startDateTime", Date), ("endDateTime", Date), ("expiryDateTime", Date), ("externalId", S),
    ("isBroadcast", B), ("isEndToEndEncryptionEnabled", B), ("isEntryExitAnnounced", B), ("recordAutomatically", B),
    ("joinMeetingIdSettings", Obj("joinMeetingIdSettings", false, &[("isPasscodeRequired", B), ("joinMeetingId", S), ("passcode", S)])),
    ("lobbyBypassSettings", Obj("lobbyBypassSettings", false, &[("isDialInBypassEnabled", B), ("scope", Enum("lobbyBypassScope",
        &["organizer", "organization", "organizationAndFederated", "everyone", "unknownFutureValue", "invited", "organizationExcludingGuests"]))])),
    ("meetingSpokenLanguageTag", S), ("meetingTemplateId", S), ("subject", S),
    ("meetingType", Enum("onlineMeetingType", &["adhoc", "scheduled", "recurring", "broadcast", "meetnow", "unknownFutureValue"])),
    ("participants", Obj("meetingParticipants", false, &[
        ("organizer", PARTICIPANT), ("attendees", Coll(&PARTICIPANT)), ("producers", Coll(&PARTICIPANT)), ("contributors", Coll(&PARTICIPANT)),
    ])),
    ("sensitivityLabelAssignment", Obj("onlineMeetingSensitivityLabelAssignment", false, &[("sensitivityLabelId", S)])),
    ("shareMeetingChatHistoryDefault", Enum("meetingChatHistoryDefaultMode", &["none", "all", "unknownFutureValue"])),
    ("watermarkProtection", Obj("watermarkProtectionValues", false, &[("isEnabledForContentSharing", B), ("isEnabledForVideo", B)])),
];
/// Parameters of the `createOrGet` action (v1.0 metadata).
const CREATE_OR_GET: &[&str] = &["chatInfo", "endDateTime", "externalId", "participants", "startDateTime", "subject"];

/// The OData reader's checks: action parameter names, property types and enum members.
fn validate(body: &Map<String, Value>, or_get: bool) -> Result<(), GraphError> {
    for (name, value) in body.iter().filter(|(n, _)| !n.starts_with('@')) {
        if or_get && !CREATE_OR_GET.contains(&name.as_str()) {
            return Err(bad_request(format!(
                "The parameter '{name}' in the request payload is not a valid parameter for the operation 'createOrGet'."
            )));
        }
        if let Some((_, ty)) = MEETING.iter().find(|(n, _)| n == name) {
            odata::check(ty, name, value).map_err(bad_request)?;
        }
    }
    match (or_get, body.get("externalId").and_then(|v| v.as_str().or(v.is_null().then_some("")))) {
        (true, None | Some("")) => Err(bad_request("Value cannot be null or empty. Parameter name: externalId")),
        (false, Some(id)) if !id.is_empty() => Err(bad_request("externalId is only supported with createOrGet.")),
        _ => Ok(()),
    }
}

/// Creates the canonical meeting for a validated request body.
pub(crate) fn build(
    tenant_id: &str,
    user: &EmulatedUser,
    body: &Map<String, Value>,
    (start, end): (OffsetDateTime, OffsetDateTime),
    or_get: bool,
) -> Value {
    let sent = |name: &str| body.get(name).filter(|v| !v.is_null());
    let mut m: Map<String, Value> =
        MEETING.iter().filter_map(|(n, _)| sent(n).map(|v| ((*n).to_owned(), v.clone()))).collect();
    let (now, oid) = (OffsetDateTime::now_utc(), &user.object_id);
    let thread_id = format!("19:meeting_{}@thread.v2", wire::base64(Uuid::new_v4().to_string().as_bytes(), false));
    let conference_id = wire::random_digits(9);
    let nested = |outer: &str, inner: &str| sent(outer).and_then(|o| o.get(inner));
    let passcode_required =
        nested("joinMeetingIdSettings", "isPasscodeRequired").and_then(Value::as_bool) == Some(true);
    let passcode = passcode_required.then(|| wire::random_string(6, b"0123456789abcdefghijklmnopqrstuvwxyz"));
    let chat_info = match nested("chatInfo", "threadId").and_then(Value::as_str) {
        // A channel meeting (seed example 2): the channel's thread and a new root message.
        Some(thread) => {
            json!({"threadId": thread, "messageId": (now.unix_timestamp_nanos() / 1_000_000).to_string(), "replyChainMessageId": null})
        }
        None => json!({"threadId": thread_id, "messageId": "0", "replyChainMessageId": "0"}),
    };
    let mut lobby = json!({"scope": "organization", "isDialInBypassEnabled": false});
    if let (Some(Value::Object(given)), Value::Object(lobby)) = (sent("lobbyBypassSettings"), &mut lobby) {
        lobby.extend(given.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())));
    }
    let list = |key: &str| -> Vec<Value> {
        let items = body.get("participants").and_then(|p| p.get(key)).and_then(Value::as_array);
        items.map(|items| items.iter().map(with_role).collect()).unwrap_or_default()
    };
    let join_web_url = format!(
        "https://teams.microsoft.com/l/meetup-join/{}/0?context=%7b%22Tid%22%3a%22{tenant_id}%22%2c%22Oid%22%3a%22{oid}%22%7d",
        thread_id.replace(':', "%3a").replace('@', "%40").replace('+', "%2b").replace('/', "%2f").replace('=', "%3d")
    );
    let generated = json!({
        "id": wire::base64(format!("1*{oid}*0**{thread_id}").as_bytes(), false),
        "creationDateTime": wire::graph_datetime(now),
        "startDateTime": wire::graph_datetime(start),
        "endDateTime": wire::graph_datetime(end),
        "joinWebUrl": join_web_url,
        "subject": sent("subject"),
        "audioConferencing": {
            (if or_get { "conferenceId" } else { "ConferenceId" }): conference_id, "tollNumber": TOLL, "tollFreeNumber": TOLL_FREE,
            "dialinUrl": format!("https://dialin.teams.microsoft.com/{}?id={conference_id}", Uuid::new_v4()),
        },
        "chatInfo": chat_info,
        "videoTeleconferenceId": wire::random_digits(10),
        "participants": {
            "organizer": {
                "identity": {"user": {"id": oid, "tenantId": tenant_id, "displayName": user.display_name, "identityProvider": "AAD"}},
                "role": "presenter", "upn": user.user_principal_name,
            },
            "attendees": list("attendees"), "producers": list("producers"), "contributors": list("contributors"),
        },
        "joinMeetingIdSettings": {"isPasscodeRequired": passcode_required, "joinMeetingId": wire::random_digits(12), "passcode": passcode},
        "lobbyBypassSettings": lobby,
        "meetingOptionsWebUrl": format!(
            "https://teams.microsoft.com/meetingOptions/?organizerId={oid}&tenantId={tenant_id}&threadId={}&messageId=0&language=en-US",
            thread_id.replace(':', "_")
        ),
        "autoAdmittedUsers": "EveryoneInCompany",
    });
    if let Value::Object(generated) = generated {
        m.extend(generated);
    }
    for (name, default) in
        [("isEntryExitAnnounced", json!(true)), ("allowedPresenters", json!("everyone")), ("isBroadcast", json!(false))]
    {
        m.entry(name).or_insert(default);
    }
    Value::Object(m)
}

/// A meeting as sent: annotations, localized `joinInformation`, evolvable enums.
fn render(meeting: &Value, call: &Call) -> Value {
    let (endpoint, version, user_segment, ctx) = (call.endpoint, &call.version, &call.user_segment, call.ctx);
    let mut json = meeting.clone();
    if let Value::Object(map) = &mut json {
        let context = format!("{endpoint}/{version}/$metadata#users('{user_segment}')/onlineMeetings/$entity");
        map.insert("@odata.context".into(), context.into());
        map.insert("@odata.type".into(), "#microsoft.graph.onlineMeeting".into());
        map.insert("joinInformation".into(), json!({"content": join_information(meeting, ctx), "contentType": "Html"}));
    }
    if !ctx.include_unknown_enums {
        // Graph's evolvable-enum rule: members after `unknownFutureValue` need the Prefer header.
        const LATE_ROLES: &[&str] = &["producer", "coorganizer"];
        let mut late: Vec<(String, &[&str])> = vec![
            ("/lobbyBypassSettings/scope".into(), &["invited", "organizationExcludingGuests"]),
            ("/participants/organizer/role".into(), LATE_ROLES),
        ];
        let lists = [
            ("/participants/attendees", "/role"),
            ("/participants/producers", "/role"),
            ("/participants/contributors", "/role"),
        ];
        for (list, suffix) in lists.into_iter().chain([("/anonymizeIdentityForRoles", "")]) {
            let count = json.pointer(list).and_then(Value::as_array).map_or(0, Vec::len);
            late.extend((0..count).map(|i| (format!("{list}/{i}{suffix}"), LATE_ROLES)));
        }
        for (pointer, members) in late {
            if let Some(v) = json.pointer_mut(&pointer).filter(|v| v.as_str().is_some_and(|s| members.contains(&s))) {
                *v = "unknownFutureValue".into();
            }
        }
    }
    json
}

/// `joinInformation` texts: join, meeting ID, passcode, toll, conference ID, local number, learn more, options.
#[rustfmt::skip]
const LABELS: [(&str, [&str; 8]); 4] = [
    ("en", ["Join Microsoft Teams Meeting", "Meeting ID", "Passcode", "Toll", "Conference ID", "Find a local number", "Learn more about Teams", "Meeting options"]),
    ("ja", ["Microsoft Teams 会議に参加", "ミーティング ID", "パスコード", "有料", "会議 ID", "最寄りの国の電話番号を検索", "Teams の詳細を表示", "会議のオプション"]),
    ("de", ["An Microsoft Teams-Besprechung teilnehmen", "Besprechungs-ID", "Kenncode", "Gebührenpflichtig", "Konferenz-ID", "Ortsgebundene Nummer suchen", "Weitere Informationen zu Teams", "Besprechungsoptionen"]),
    ("zh", ["加入 Microsoft Teams 会议", "会议 ID", "密码", "收费", "电话会议 ID", "查找本地号码", "了解有关 Teams 的详细信息", "会议选项"]),
];

/// The invitation language: the first supported `Accept-Language` range by q (zh means zh-CN,
/// not zh-TW/HK/Hant); English (`en-US`) by default.
pub(crate) fn language(accept: Option<&str>) -> (String, &'static [&'static str; 8]) {
    fn weighted(range: &str) -> Option<(f32, &str)> {
        let mut parts = range.split(';').map(str::trim);
        let tag = parts.next().filter(|t| !t.is_empty())?;
        let q = parts.find_map(|p| p.strip_prefix("q=")).map_or(Some(1.0), |q| q.parse::<f32>().ok())?;
        (q > 0.0).then_some((q, tag))
    }
    let mut ranges: Vec<(f32, &str)> = accept.unwrap_or_default().split(',').filter_map(weighted).collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    let labels = |tag: &str| {
        let lower = tag.to_ascii_lowercase();
        let traditional = ["tw", "hk", "hant"].iter().any(|x| lower.contains(x));
        LABELS.iter().find(|(l, _)| lower.split('-').next() == Some(*l) && !(*l == "zh" && traditional)).map(|(_, t)| t)
    };
    let chosen = ranges.into_iter().find_map(|(_, tag)| labels(tag).map(|l| (tag.to_owned(), l)));
    chosen.unwrap_or_else(|| ("en-US".to_owned(), &LABELS[0].1))
}

/// `joinInformation.content`: the invitation HTML as a URL-encoded `data:text/html,` URL.
fn join_information(meeting: &Value, ctx: &Ctx) -> String {
    let text = |pointer: &str| meeting.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
    let spaced = |digits: &str| digits.as_bytes().chunks(3).map(String::from_utf8_lossy).collect::<Vec<_>>().join(" ");
    let (tag, [join, meeting_id, passcode, toll, conference, local, learn, options]) =
        (&ctx.language.0, *ctx.language.1);
    let conference_id = [text("/audioConferencing/ConferenceId"), text("/audioConferencing/conferenceId")].concat();
    let passcode = match text("/joinMeetingIdSettings/passcode") {
        "" => String::new(),
        code => format!("\n    <div><span style=\"font-size: 12px;\">{passcode}: </span><span style=\"font-size: 14px;\">{code}</span></div>"),
    };
    let (link, join_url, dialin) = (
        "class=\"me-email-link\" target=\"_blank\" rel=\"noreferrer noopener\"",
        text("/joinWebUrl"),
        text("/audioConferencing/dialinUrl"),
    );
    let options_url = text("/meetingOptionsWebUrl").replace("&language=en-US", &format!("&language={tag}"));
    let rule = "\n  <div style=\"width:100%;height: 20px;\"><span style=\"white-space:nowrap;color:gray;opacity:.36;\">________________________________________________________________________________</span></div>";
    let html = format!(
        "data:text/html,{rule}\n  <div class=\"me-email-text\" lang=\"{tag}\" style=\"color:#252424;font-family:'Segoe UI','Helvetica Neue',Helvetica,Arial,sans-serif;\">\
         \n    <div style=\"margin-top: 24px; margin-bottom: 10px;\"><a class=\"me-email-headline\" href=\"{join_url}\" target=\"_blank\" rel=\"noreferrer noopener\">{join}</a></div>\
         \n    <div><span style=\"font-size: 12px;\">{meeting_id}: </span><span style=\"font-size: 14px;\">{}</span></div>{passcode}\
         \n    <div><a {link} href=\"tel:{TOLL},,{conference_id}#\">{TOLL}</a><span style=\"font-size: 12px;\">&nbsp;  ({toll}) </span></div>\
         \n    <div style=\"margin-top: 10px; margin-bottom: 20px;\"><span style=\"font-size: 12px;\">{conference}: </span><span style=\"font-size: 14px;\">{}#</span></div>\
         \n    <div style=\"margin-bottom: 24px;\"><a {link} href=\"{dialin}\">{local}</a> | <a {link} href=\"https://aka.ms/JoinTeamsMeeting\">{learn}</a> | <a {link} href=\"{options_url}\">{options}</a></div>\
         \n  </div>{rule}",
        spaced(text("/joinMeetingIdSettings/joinMeetingId")),
        spaced(&conference_id),
    );
    wire::form_encode(&html)
}
