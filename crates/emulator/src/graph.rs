//! The emulated Microsoft Graph host: authentication, injected faults, routing to the resources
//! (onlineMeetings in `meetings`, calendar events in `events`) and the `/_emulator/*` control
//! endpoints. What the routes share (the call, its context, Graph's errors) is `call`.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    response::Response,
};
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::call::{bad_request, error, injected, unauthenticated, Call, Ctx, GraphError, Outcome};
use super::{capture, events, meetings, respond, wire, Fault, FaultKind, Host, Inner};
use super::{RecordedRequest, Shared};

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
