//! The emulated Microsoft Graph host: authentication, injected faults, routing to the resources
//! (onlineMeetings in `meetings`, calendar events in `events`), the organizer checks every route
//! shares, Graph's response headers and error bodies, and the `/_emulator/*` control endpoints.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    response::Response,
};
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{capture, events, is_media_type, meetings, respond, wire, EmulatedUser, Fault, FaultKind, Host, Inner};
use super::{RecordedRequest, Shared};

const CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const DIAGNOSTIC: &str = r#"{"ServerInfo":{"DataCenter":"Local Emulator","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"EMULATOR"}}"#;
const WWW_AUTHENTICATE: &str = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#;
const UNREADABLE: &str = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";
pub(crate) const NO_POLICY: &str = "No Application Access Policy found for this app";

/// A Graph error about to be sent: status, `error.code`, `error.message`, `Retry-After`.
pub(crate) struct GraphError(u16, &'static str, String, Option<String>);

pub(crate) fn error(status: u16, code: &'static str, message: impl Into<String>) -> GraphError {
    GraphError(status, code, message.into(), None)
}

pub(crate) fn bad_request(message: impl Into<String>) -> GraphError {
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
pub(crate) struct Ctx {
    request_id: String,
    client_request_id: String,
    pub(crate) include_unknown_enums: bool,
    pub(crate) language: (String, &'static [&'static str; 8]),
    /// `Prefer: outlook.timezone="…"`: the zone event times are written in.
    pub(crate) outlook_time_zone: Option<String>,
}

impl Ctx {
    fn new(rec: &RecordedRequest) -> Ctx {
        let request_id = Uuid::new_v4().to_string();
        let echoed = rec.header("client-request-id").filter(|v| !v.is_empty());
        let client_request_id = echoed.map_or_else(|| request_id.clone(), str::to_owned);
        let prefer: Vec<&str> = rec.header("prefer").unwrap_or_default().split(',').map(str::trim).collect();
        let include_unknown_enums = prefer.iter().any(|p| p.eq_ignore_ascii_case("include-unknown-enum-members"));
        let outlook_time_zone = prefer.iter().find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim().eq_ignore_ascii_case("outlook.timezone").then(|| value.trim().trim_matches('"').to_owned())
        });
        let language = meetings::language(rec.header("accept-language"));
        Ctx { request_id, client_request_id, include_unknown_enums, language, outlook_time_zone }
    }

    /// Graph's response: its headers on every answer, success or error. A `null` body is none.
    fn respond(&self, status: u16, body: &Value, extra: Vec<(&'static str, String)>) -> Response {
        let mut headers = vec![
            ("request-id", self.request_id.clone()),
            ("client-request-id", self.client_request_id.clone()),
            ("x-ms-ags-diagnostic", DIAGNOSTIC.to_owned()),
            ("date", httpdate::fmt_http_date(std::time::SystemTime::now())),
            ("strict-transport-security", "max-age=31536000".to_owned()),
        ];
        headers.extend(extra);
        let body = if body.is_null() { String::new() } else { body.to_string() };
        respond(status, CONTENT_TYPE, body, &headers)
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

/// Status and body of a success; a `null` body is sent as none (204, 202).
pub(crate) type Outcome = Result<(u16, Value), GraphError>;

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

/// The resources under `/users/{userId}`, with the path's ids percent-decoded.
enum Route {
    /// `…/onlineMeetings`: create (POST), `$filter` (GET).
    Meetings,
    /// `…/onlineMeetings/createOrGet`.
    CreateOrGet,
    /// `…/onlineMeetings/{meetingId}`: GET, PATCH, DELETE.
    Meeting(String),
    /// `…/events`: create (POST).
    Events,
    /// `…/events/{id}`: GET, DELETE.
    Event(String),
    /// `…/events/{id}/cancel`.
    CancelEvent(String),
}

/// Routes a request: API version, decoded `{userId}` segment, resource. Each path segment is
/// percent-decoded on its own, so that an id holding `%2F` stays one segment.
fn route(rec: &RecordedRequest) -> Result<(String, String, Route), GraphError> {
    let path = rec.path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (version, rest) = segments.split_first().map_or(("", &[][..]), |(v, rest)| (*v, rest));
    if !matches!(version, "v1.0" | "beta") {
        return Err(bad_request(format!("Invalid version: {version}")));
    }
    let decode = |segment: &str| {
        let decoded = percent_decode_str(segment).decode_utf8();
        decoded.map(|s| s.into_owned()).map_err(|_| bad_request(format!("The segment '{segment}' is not valid UTF-8.")))
    };
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let (route, methods): (Route, &[&str]) = match lower.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["me", ..] => return Err(bad_request("/me request is only valid with delegated authentication flow.")),
        ["users", _, "onlinemeetings"] => (Route::Meetings, &["POST", "GET"]),
        ["users", _, "onlinemeetings", "createorget" | "microsoft.graph.createorget"] => {
            (Route::CreateOrGet, &["POST"])
        }
        ["users", _, "onlinemeetings", _] => (Route::Meeting(decode(rest[3])?), &["GET", "PATCH", "DELETE"]),
        ["users", _, "events"] => (Route::Events, &["POST"]),
        ["users", _, "events", _] => (Route::Event(decode(rest[3])?), &["GET", "DELETE"]),
        ["users", _, "events", _, "cancel" | "microsoft.graph.cancel"] => {
            (Route::CancelEvent(decode(rest[3])?), &["POST"])
        }
        _ => {
            let segment = rest.last().copied().unwrap_or_default();
            return Err(bad_request(format!("Resource not found for the segment '{segment}'.")));
        }
    };
    if !methods.contains(&rec.method.as_str()) {
        return Err(error(405, "MethodNotAllowed", format!("The emulator does not support {} here.", rec.method)));
    }
    let user = percent_decode_str(rest.get(1).copied().unwrap_or_default()).decode_utf8();
    let user = user.map_err(|_| bad_request("The user id segment is not valid UTF-8."))?;
    Ok((version.to_owned(), user.into_owned(), route))
}

/// One authenticated, routed Graph request: what every operation needs.
pub(crate) struct Call<'a> {
    pub(crate) endpoint: &'a str,
    /// `v1.0` or `beta`.
    pub(crate) version: String,
    /// The tenant the token was issued for.
    pub(crate) tenant_id: &'a str,
    /// The `{userId}` segment, percent-decoded, as given (object id or UPN, any case).
    pub(crate) user_segment: String,
    pub(crate) rec: &'a RecordedRequest,
    body_ok: bool,
    pub(crate) ctx: &'a Ctx,
}

impl Call<'_> {
    /// The body as a JSON object, with Graph's 400s for another media type, no body or not JSON.
    pub(crate) fn json_body(&self) -> Result<Map<String, Value>, GraphError> {
        if !self.body_ok || !is_media_type(self.rec.header("content-type"), "application/json") {
            return Err(bad_request(UNREADABLE));
        }
        match serde_json::from_str::<Value>(&self.rec.body) {
            _ if self.rec.body.trim().is_empty() => Err(bad_request("Request payload cannot be null.")),
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Err(bad_request("Request payload cannot be null.")),
            _ => Err(bad_request(UNREADABLE)),
        }
    }

    /// The user the path names (object id or UPN, any case) in the token's tenant (else 404);
    /// with `policy`, one the app has an application access policy for (else 403), as every
    /// onlineMeetings route requires.
    pub(crate) fn organizer(&self, inner: &Inner, policy: bool) -> Result<EmulatedUser, GraphError> {
        let segment = &self.user_segment;
        let names = |u: &&EmulatedUser| {
            u.object_id.eq_ignore_ascii_case(segment) || u.user_principal_name.eq_ignore_ascii_case(segment)
        };
        let user = inner.tenant(self.tenant_id).and_then(|t| t.users.iter().find(names)).cloned().ok_or_else(|| {
            let message = format!(
                "Resource '{segment}' does not exist or one of its queried reference-property objects are not present."
            );
            error(404, "NotFound", message)
        })?;
        if policy && !user.has_access_policy {
            return Err(error(403, "Forbidden", NO_POLICY));
        }
        Ok(user)
    }

    /// Query parameter `name` (as sent or percent-encoded), its value percent-decoded once. A
    /// `+` stays a `+`: Graph reads query strings as URIs, not as forms.
    pub(crate) fn query(&self, name: &str) -> Option<String> {
        let query = self.rec.path.split_once('?').map(|(_, q)| q)?;
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let pairs = query.split('&').map(|pair| pair.split_once('=').unwrap_or((pair, "")));
        pairs.filter(|(k, _)| decode(k) == name).map(|(_, v)| decode(v)).next()
    }
}

/// After authentication and faults: route, then the resource's operation.
fn operate(
    endpoint: &str,
    inner: &mut Inner,
    rec: &RecordedRequest,
    body_ok: bool,
    ctx: &Ctx,
    tenant_id: &str,
) -> Outcome {
    let (version, user_segment, route) = route(rec)?;
    let call = Call { endpoint, version, tenant_id, user_segment, rec, body_ok, ctx };
    match (route, rec.method.as_str()) {
        (Route::Meetings, "POST") => meetings::create(inner, &call, false),
        (Route::CreateOrGet, _) => meetings::create(inner, &call, true),
        (Route::Meetings, _) => meetings::list(inner, &call),
        (Route::Meeting(id), "GET") => meetings::get(inner, &call, &id),
        (Route::Meeting(id), "PATCH") => meetings::update(inner, &call, &id),
        (Route::Meeting(id), _) => meetings::delete(inner, &call, &id),
        (Route::Events, _) => events::create(inner, &call),
        (Route::Event(id), "GET") => events::get(inner, &call, &id),
        (Route::Event(id), _) => events::delete(inner, &call, &id),
        (Route::CancelEvent(id), _) => events::cancel(inner, &call, &id),
    }
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
