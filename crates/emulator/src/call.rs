//! What every emulated Graph route works with: the authenticated, routed request ([`Call`]),
//! the per-request facts that shape an answer ([`Ctx`]), and Graph's error answers
//! ([`GraphError`]). `graph` routes; `meetings` and `events` operate; both use this.

use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use axum::response::Response;

use super::{is_media_type, respond, wire, EmulatedUser, FaultKind, Inner, RecordedRequest};

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

pub(crate) fn unauthenticated(message: &str) -> GraphError {
    error(401, "InvalidAuthenticationToken", message)
}

/// The error an injected fault answers with (`None` for a delay).
pub(crate) fn injected(kind: &FaultKind) -> Option<GraphError> {
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
    /// The `Accept-Language` header (the meeting's invitation follows it).
    pub(crate) accept_language: Option<String>,
    /// `Prefer: outlook.timezone="…"`: the zone event times are written in.
    pub(crate) outlook_time_zone: Option<String>,
}

impl Ctx {
    pub(crate) fn new(rec: &RecordedRequest) -> Ctx {
        let request_id = Uuid::new_v4().to_string();
        let echoed = rec.header("client-request-id").filter(|v| !v.is_empty());
        let client_request_id = echoed.map_or_else(|| request_id.clone(), str::to_owned);
        let prefer: Vec<&str> = rec.header("prefer").unwrap_or_default().split(',').map(str::trim).collect();
        let include_unknown_enums = prefer.iter().any(|p| p.eq_ignore_ascii_case("include-unknown-enum-members"));
        let outlook_time_zone = prefer.iter().find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim().eq_ignore_ascii_case("outlook.timezone").then(|| value.trim().trim_matches('"').to_owned())
        });
        let accept_language = rec.header("accept-language").map(str::to_owned);
        Ctx { request_id, client_request_id, include_unknown_enums, accept_language, outlook_time_zone }
    }

    /// Graph's response: its headers on every answer, success or error. A `null` body is none.
    pub(crate) fn respond(&self, status: u16, body: &Value, extra: Vec<(&'static str, String)>) -> Response {
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

    pub(crate) fn error(&self, GraphError(status, code, message, retry_after): GraphError) -> Response {
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

/// Status and body of a success; a `null` body is sent as none (204, 202).
pub(crate) type Outcome = Result<(u16, Value), GraphError>;

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
    pub(crate) body_ok: bool,
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
