//! The emulated Microsoft Graph host: `POST /{v1.0|beta}/users/{userId}/onlineMeetings`, its
//! `createOrGet` action, and the `/_emulator/*` control endpoints.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    response::Response,
};
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Shared;
use super::{capture, is_media_type, respond, wire, EmulatedUser, Fault, FaultKind, Host, Inner, RecordedRequest};

const CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const DIAGNOSTIC: &str = r#"{"ServerInfo":{"DataCenter":"Local Emulator","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"EMULATOR"}}"#;
const WWW_AUTHENTICATE: &str = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#;
const UNREADABLE: &str = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";
const NO_POLICY: &str = "No Application Access Policy found for this app";
/// Fictional numbers (555-01xx) of the emulated audio-conferencing bridge.
const TOLL: &str = "+14255550100";
const TOLL_FREE: &str = "+18005550199";

/// A Graph error about to be sent: status, `error.code`, `error.message`, `Retry-After`.
struct GraphError(u16, &'static str, String, Option<String>);

fn error(status: u16, code: &'static str, message: impl Into<String>) -> GraphError {
    GraphError(status, code, message.into(), None)
}

fn bad_request(message: impl Into<String>) -> GraphError {
    error(400, "BadRequest", message)
}

fn unauthenticated(message: &str) -> GraphError {
    error(401, "InvalidAuthenticationToken", message)
}

/// The error an injected fault answers with (`None` for a delay).
fn injected(kind: &FaultKind) -> Option<GraphError> {
    let (status, retry_after) = match kind {
        FaultKind::Status { status, retry_after } => (*status, retry_after.clone()),
        FaultKind::Aadsts { status, .. } => (*status, None),
        FaultKind::Delay(_) => return None,
    };
    let (code, message) = match status {
        400 => ("BadRequest", "Cannot process the request because it is malformed or incorrect."),
        401 => ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
        403 => ("Forbidden", NO_POLICY),
        404 => ("NotFound", "The requested resource doesn't exist."),
        409 => ("Conflict", "The current state conflicts with what the request expects."),
        429 => ("TooManyRequests", "Please retry again later."),
        500 => ("InternalServerError", "Internal Server Error"),
        502 => ("BadGateway", "Bad Gateway"),
        503 => ("ServiceUnavailable", "The service is temporarily unavailable for maintenance or is overloaded. You may repeat the request after a delay, which may be specified in a Retry-After header."),
        504 => ("GatewayTimeout", "The server, while acting as a proxy, did not receive a timely response from the upstream server it needed to access in attempting to complete the request. May occur together with 503."),
        _ => ("UnknownError", "An error was injected into the emulated Graph service."),
    };
    Some(GraphError(status, code, message.to_owned(), retry_after))
}

/// Per-request facts that shape the response.
struct Ctx {
    request_id: String,
    client_request_id: String,
    include_unknown_enums: bool,
    language: (String, &'static [&'static str; 8]),
}

impl Ctx {
    fn new(rec: &RecordedRequest) -> Ctx {
        let request_id = Uuid::new_v4().to_string();
        let echoed = rec.header("client-request-id").filter(|v| !v.is_empty());
        let client_request_id = echoed.map_or_else(|| request_id.clone(), str::to_owned);
        let prefer = rec.header("prefer").unwrap_or_default().split(',');
        let include_unknown_enums =
            prefer.map(str::trim).any(|p| p.eq_ignore_ascii_case("include-unknown-enum-members"));
        Ctx { request_id, client_request_id, include_unknown_enums, language: language(rec.header("accept-language")) }
    }

    /// Graph's response: its headers on every answer, success or error.
    fn respond(&self, status: u16, body: &Value, extra: Vec<(&'static str, String)>) -> Response {
        let mut headers = vec![
            ("request-id", self.request_id.clone()),
            ("client-request-id", self.client_request_id.clone()),
            ("x-ms-ags-diagnostic", DIAGNOSTIC.to_owned()),
            ("date", httpdate::fmt_http_date(std::time::SystemTime::now())),
            ("strict-transport-security", "max-age=31536000".to_owned()),
        ];
        headers.extend(extra);
        respond(status, CONTENT_TYPE, body.to_string(), &headers)
    }

    fn error(&self, GraphError(status, code, message, retry_after): GraphError) -> Response {
        let date = wire::timestamp(OffsetDateTime::now_utc(), 'T', false, "");
        let mut inner =
            json!({"date": date, "request-id": self.request_id, "client-request-id": self.client_request_id});
        if let (429, Value::Object(map)) = (status, &mut inner) {
            let throttled = [("code", "429"), ("message", "Please retry after"), ("status", "429")];
            map.extend(throttled.map(|(k, v)| (k.to_owned(), Value::from(v))));
        }
        let body = json!({"error": {"code": code, "message": message, "innerError": inner}});
        let mut extra: Vec<_> = retry_after.map(|r| ("retry-after", r)).into_iter().collect();
        if status == 401 {
            extra.push(("www-authenticate", WWW_AUTHENTICATE.to_owned()));
        }
        self.respond(status, &body, extra)
    }
}

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (rec, body_ok) = capture(Host::Graph, req).await;
    if rec.path.starts_with("/_emulator/") {
        return control(&shared, &rec);
    }
    tracing::debug!(method = %rec.method, path = %rec.path.split('?').next().unwrap_or_default(), "emulated Graph request");
    let ctx = Ctx::new(&rec);
    let (outcome, delay) = {
        let mut inner = shared.lock();
        if inner.config.record_requests {
            inner.requests.push(rec.clone());
        }
        let (outcome, delay) = process(&shared.graph_endpoint, &mut inner, &rec, body_ok, &ctx);
        (outcome, delay + inner.config.latency)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match outcome {
        Ok((status, body)) => ctx.respond(status, &body, Vec::new()),
        Err(e) => ctx.error(e),
    }
}

type Outcome = Result<(u16, Value), GraphError>;

/// Authentication, then faults, then the operation.
fn process(endpoint: &str, inner: &mut Inner, rec: &RecordedRequest, body_ok: bool, ctx: &Ctx) -> (Outcome, Duration) {
    let tenant_id = match authenticate(inner, rec) {
        Ok(tenant_id) => tenant_id,
        Err(e) => return (Err(e), Duration::ZERO),
    };
    let fault = inner.take_fault(Host::Graph);
    let delay = match &fault {
        Some(Fault { kind: FaultKind::Delay(d), .. }) => *d,
        _ => Duration::ZERO,
    };
    match fault.and_then(|f| injected(&f.kind).map(|e| (e, f.after_processing))) {
        Some((e, after_processing)) => {
            if after_processing {
                let _ = operate(endpoint, inner, rec, body_ok, ctx, &tenant_id);
            }
            (Err(e), delay)
        }
        None => (operate(endpoint, inner, rec, body_ok, ctx, &tenant_id), delay),
    }
}

/// Validates the bearer token; returns the tenant it was issued for.
fn authenticate(inner: &Inner, rec: &RecordedRequest) -> Result<String, GraphError> {
    let bearer = rec.header("authorization").and_then(|h| h.split_once(' '));
    let token = bearer.filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t.trim());
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| unauthenticated("Access token is empty."))?;
    if token.split('.').count() != 3 {
        return Err(unauthenticated("CompactToken parsing failed with error code: 80049217"));
    }
    let issued = inner.tokens.get(token).filter(|t| inner.tenant(&t.tenant_id).is_some());
    let issued = issued.ok_or_else(|| unauthenticated("Access token validation failure. Invalid audience."))?;
    if std::time::Instant::now() >= issued.expires_at {
        return Err(unauthenticated("Access token has expired or is not yet valid."));
    }
    tracing::debug!(tenant = %issued.tenant_id, client = %issued.client_id, scope = %issued.scope, "token accepted");
    Ok(issued.tenant_id.clone())
}

/// Routes a request: API version, decoded `{userId}` segment, whether it is `createOrGet`.
fn route(rec: &RecordedRequest) -> Result<(String, String, bool), GraphError> {
    let path = rec.path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (version, rest) = segments.split_first().map_or(("", &[][..]), |(v, rest)| (*v, rest));
    if !matches!(version, "v1.0" | "beta") {
        return Err(bad_request(format!("Invalid version: {version}")));
    }
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let or_get = match lower.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["me", ..] => return Err(bad_request("/me request is only valid with delegated authentication flow.")),
        ["users", _, "onlinemeetings"] => false,
        ["users", _, "onlinemeetings", "createorget" | "microsoft.graph.createorget"] => true,
        _ => {
            let segment = rest.last().copied().unwrap_or_default();
            return Err(bad_request(format!("Resource not found for the segment '{segment}'.")));
        }
    };
    if rec.method != "POST" {
        return Err(error(405, "MethodNotAllowed", format!("The emulator does not support {} here.", rec.method)));
    }
    let user = percent_decode_str(rest.get(1).copied().unwrap_or_default()).decode_utf8();
    let user = user.map_err(|_| bad_request("The user id segment is not valid UTF-8."))?;
    Ok((version.to_owned(), user.into_owned(), or_get))
}

/// After authentication and faults: route, body, user, policy, times, create (or get).
fn operate(
    endpoint: &str,
    inner: &mut Inner,
    rec: &RecordedRequest,
    body_ok: bool,
    ctx: &Ctx,
    tenant_id: &str,
) -> Outcome {
    let (version, user_segment, or_get) = route(rec)?;
    if !body_ok || !is_media_type(rec.header("content-type"), "application/json") {
        return Err(bad_request(UNREADABLE));
    }
    let body = match serde_json::from_str::<Value>(&rec.body) {
        _ if rec.body.trim().is_empty() => return Err(bad_request("Request payload cannot be null.")),
        Ok(Value::Object(map)) => map,
        Ok(Value::Null) => return Err(bad_request("Request payload cannot be null.")),
        _ => return Err(bad_request(UNREADABLE)),
    };
    validate(&body, or_get)?;

    let names = |u: &&EmulatedUser| {
        u.object_id.eq_ignore_ascii_case(&user_segment) || u.user_principal_name.eq_ignore_ascii_case(&user_segment)
    };
    let user = inner.tenant(tenant_id).and_then(|t| t.users.iter().find(names)).cloned().ok_or_else(|| {
        let message = format!("Resource '{user_segment}' does not exist or one of its queried reference-property objects are not present.");
        error(404, "NotFound", message)
    })?;
    if !user.has_access_policy {
        return Err(error(403, "Forbidden", NO_POLICY));
    }

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
    let key = external_id.map(|x| (tenant_id.to_ascii_lowercase(), user.object_id.to_ascii_lowercase(), x.to_owned()));
    if let Some(existing) = key.as_ref().and_then(|k| inner.meetings.get(k)) {
        return Ok((200, render(existing, endpoint, &version, &user_segment, ctx)));
    }
    let meeting = build(tenant_id, &user, &body, (start, end), or_get);
    inner.meetings_created += 1;
    let rendered = render(&meeting, endpoint, &version, &user_segment, ctx);
    if let Some(key) = key {
        inner.meetings.insert(key, meeting);
    }
    Ok((201, rendered))
}

/// An OData type, as far as request bodies are checked.
enum Ty {
    Bool,
    Str,
    Date,
    Enum(&'static str, &'static [&'static str]),
    /// Complex type: name, open?, declared properties.
    Obj(&'static str, bool, &'static [(&'static str, Ty)]),
    Coll(&'static Ty),
}

use Ty::{Bool as B, Coll, Date, Enum, Obj, Str as S};

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
            check(ty, name, value).map_err(bad_request)?;
        }
    }
    match (or_get, body.get("externalId").and_then(|v| v.as_str().or(v.is_null().then_some("")))) {
        (true, None | Some("")) => Err(bad_request("Value cannot be null or empty. Parameter name: externalId")),
        (false, Some(id)) if !id.is_empty() => Err(bad_request("externalId is only supported with createOrGet.")),
        _ => Ok(()),
    }
}

fn check(ty: &Ty, name: &str, v: &Value) -> Result<(), String> {
    let node = match v {
        Value::Object(_) => "StartObject",
        Value::Array(_) => "StartArray",
        _ => "PrimitiveValue",
    };
    let unexpected = |want: &str| {
        format!("An unexpected '{node}' node was found for property named '{name}' when reading from the JSON reader. A '{want}' node was expected.")
    };
    let primitive = |edm: &str, ok: bool| match (node, ok) {
        ("PrimitiveValue", true) => Ok(()),
        ("PrimitiveValue", false) => {
            let literal = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            Err(format!("Cannot convert the literal '{literal}' to the expected type '{edm}'."))
        }
        _ => Err(unexpected("PrimitiveValue")),
    };
    match (ty, v) {
        (_, Value::Null) => Ok(()),
        (B, _) => primitive("Edm.Boolean", v.is_boolean()),
        (S, _) => primitive("Edm.String", v.is_string()),
        (Date, _) => primitive("Edm.DateTimeOffset", v.as_str().and_then(wire::parse_datetime).is_some()),
        (Enum(t, members), _) => primitive(&format!("microsoft.graph.{t}"), v.as_str().is_some_and(|s| members.contains(&s))),
        (Obj(t, open, fields), Value::Object(map)) => map.iter().filter(|(k, _)| !k.starts_with('@')).try_for_each(|(k, fv)| {
            match fields.iter().find(|(n, _)| n == k) {
                Some((_, field)) => check(field, k, fv),
                None if *open => Ok(()),
                None => Err(format!("The property '{k}' does not exist on type 'microsoft.graph.{t}'. Make sure to only use property names that are defined by the type.")),
            }
        }),
        (Coll(item), Value::Array(items)) => items.iter().try_for_each(|i| check(item, name, i)),
        (Obj(..), _) => Err(unexpected("StartObject")),
        (Coll(_), _) => Err(unexpected("StartArray")),
    }
}

/// Creates the canonical meeting for a validated request body.
fn build(
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
        let with_role = |p: &Value| match p {
            Value::Object(p) if !p.contains_key("role") => {
                Value::Object(p.clone().into_iter().chain([("role".to_owned(), Value::Null)]).collect())
            }
            p => p.clone(),
        };
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
fn render(meeting: &Value, endpoint: &str, version: &str, user_segment: &str, ctx: &Ctx) -> Value {
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
fn language(accept: Option<&str>) -> (String, &'static [&'static str; 8]) {
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

/// `/_emulator/*`: request log and fault queue (no authentication, not recorded, no faults).
fn control(shared: &Shared, rec: &RecordedRequest) -> Response {
    let reply = |status: u16, body: Value| respond(status, "application/json", body.to_string(), &[]);
    match (rec.method.as_str(), rec.path.split('?').next().unwrap_or_default()) {
        ("GET", "/_emulator/requests") => reply(200, shared.lock().requests.iter().map(redacted).collect()),
        ("POST", "/_emulator/faults") => match Fault::from_control_json(&rec.body) {
            Ok(fault) => {
                let mut inner = shared.lock();
                inner.faults.extend(Some(fault).filter(|f| f.times > 0));
                reply(201, json!({"queued": inner.faults.len()}))
            }
            Err(e) => reply(400, json!({"error": e})),
        },
        ("DELETE", "/_emulator/faults") => {
            shared.lock().faults.clear();
            respond(204, "", String::new(), &[])
        }
        _ => reply(404, json!({"error": "unknown emulator control endpoint"})),
    }
}

/// A recorded request without its credentials, for the control endpoint.
fn redacted(rec: &RecordedRequest) -> Value {
    let scheme = |v: &str| format!("{} REDACTED", v.split(' ').next().unwrap_or_default());
    let headers: Map<String, Value> = rec
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(if k == "authorization" { scheme(v) } else { v.clone() })))
        .collect();
    let secret = |k: &str| k == "client_secret" || k == "client_assertion";
    let form = rec.form().into_iter().map(|(k, v)| {
        let v = if secret(&k) { "REDACTED".to_owned() } else { v };
        format!("{}={}", wire::form_encode(&k), wire::form_encode(&v))
    });
    let (host, path, body) = match rec.host {
        Host::Graph => ("graph", rec.path.clone(), rec.body.clone()),
        // The query of a token request could carry credentials too.
        Host::Login => {
            ("login", rec.path.split('?').next().unwrap_or_default().to_owned(), form.collect::<Vec<_>>().join("&"))
        }
    };
    json!({"host": host, "method": rec.method, "path": path, "headers": headers, "body": body})
}
