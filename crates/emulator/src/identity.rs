//! The emulated Microsoft identity platform: `POST /{tenant}/oauth2/v2.0/token` with the
//! client-credentials grant (client secret or client assertion), answering with Entra's token and
//! AADSTS error bodies.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    response::Response,
};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    assertion, capture, is_media_type, respond,
    wire::{self, aadsts, AadstsError},
    FaultKind, Host, Inner, IssuedToken, RecordedRequest, Shared,
};

/// The only `client_assertion_type` Entra accepts (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (rec, _) = capture(Host::Login, req).await;
    // Never the body or the query: they may carry the client secret.
    tracing::debug!(method = %rec.method, path = %rec.path.split('?').next().unwrap_or_default(), "emulated token request");
    let (outcome, delay) = {
        let mut inner = shared.lock();
        inner.requests.push(rec.clone());
        process(&shared, &mut inner, &rec)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(outcome) = outcome else {
        return respond(404, "text/html", String::new(), &[]); // not a token endpoint path
    };
    let (trace_id, content_type) = (Uuid::new_v4().to_string(), "application/json; charset=utf-8");
    let correlation_id = rec.header("client-request-id").map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let mut headers = vec![
        ("cache-control", "no-store, no-cache".to_owned()),
        ("pragma", "no-cache".to_owned()),
        ("x-ms-request-id", trace_id.clone()),
        ("client-request-id", correlation_id.clone()),
    ];
    match outcome {
        Ok(body) => respond(200, content_type, body.to_string(), &headers),
        Err((AadstsError(error, code, status, message), retry_after)) => {
            let timestamp = wire::timestamp(OffsetDateTime::now_utc(), ' ', false, "Z");
            let description = format!(
                "AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            );
            let body = json!({
                "error": error, "error_description": description, "error_codes": [code], "timestamp": timestamp,
                "trace_id": trace_id, "correlation_id": correlation_id,
                "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
            });
            headers.extend(retry_after.map(|r| ("retry-after", r)));
            respond(status, content_type, body.to_string(), &headers)
        }
    }
}

type Outcome = Option<Result<Value, (AadstsError, Option<String>)>>;

/// Counts the request, applies faults, then issues (or refuses) a token. `None`: unknown path.
fn process(shared: &Shared, inner: &mut Inner, rec: &RecordedRequest) -> (Outcome, Duration) {
    let path = rec.path.split('?').next().unwrap_or_default();
    let tenant = match path.strip_prefix('/').and_then(|p| p.strip_suffix("/oauth2/v2.0/token")) {
        Some(t) if !t.is_empty() && !t.contains('/') => percent_decode_str(t).decode_utf8_lossy().into_owned(),
        _ => return (None, Duration::ZERO),
    };
    *inner.token_requests.entry(tenant.to_ascii_lowercase()).or_default() += 1;
    let Some(fault) = inner.take_fault(Host::Login) else {
        return (Some(issue(shared, inner, rec, &tenant).map_err(|e| (e, None))), Duration::ZERO);
    };
    let (error, retry_after) = match fault.kind {
        FaultKind::Delay(d) => return (Some(issue(shared, inner, rec, &tenant).map_err(|e| (e, None))), d),
        FaultKind::Status { status, retry_after } => {
            let message = "A transient error has occurred. Please try again.";
            (aadsts("temporarily_unavailable", 90033, status, message), retry_after)
        }
        FaultKind::Aadsts { error, code, status } => {
            let message = match code {
                7000215 => "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                7000222 => "The provided client secret keys are expired.",
                700027 => "Client assertion failed signature validation.",
                _ => "An error was injected into the emulated identity platform.",
            };
            (aadsts(&error, code, status, message), None)
        }
    };
    if fault.after_processing {
        let _ = issue(shared, inner, rec, &tenant);
    }
    (Some(Err((error, retry_after))), Duration::ZERO)
}

/// Validates a token request in Entra's order and issues a token.
fn issue(
    shared: &Shared,
    inner: &mut Inner,
    rec: &RecordedRequest,
    tenant_segment: &str,
) -> Result<Value, AadstsError> {
    if rec.method != "POST" {
        let message = format!("The endpoint only accepts POST requests. Received a {} request.", rec.method);
        return Err(aadsts("invalid_request", 900561, 400, message));
    }
    // A body of another media type cannot be read as a form: every parameter is then missing.
    let is_form = is_media_type(rec.header("content-type"), "application/x-www-form-urlencoded");
    let form = if is_form { rec.form() } else { Vec::new() };
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        let message = format!("The request body must contain the following parameter: '{name}'.");
        aadsts("invalid_request", 900144, 400, message)
    };
    let tenant = inner.tenant(tenant_segment).cloned().ok_or_else(|| aadsts("invalid_request", 90002, 400, format!(
        "Tenant '{tenant_segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
    )))?;
    match param("grant_type").ok_or_else(|| missing("grant_type"))? {
        "client_credentials" => {}
        other => {
            let message = format!("The app requested an unsupported grant type '{other}'.");
            return Err(aadsts("unsupported_grant_type", 70003, 400, message));
        }
    }
    let client_id = param("client_id").ok_or_else(|| missing("client_id"))?;
    if !tenant.client_id.eq_ignore_ascii_case(client_id) {
        return Err(aadsts("unauthorized_client", 700016, 400, format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant_segment}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        )));
    }
    let scope = param("scope").ok_or_else(|| missing("scope"))?;
    let known = |r: &str| {
        r == shared.graph_endpoint || r == "https://graph.microsoft.com" || inner.scope_resources.iter().any(|k| k == r)
    };
    let resource = scope.strip_suffix("/.default").filter(|r| known(r));
    let resource = resource.ok_or_else(|| {
        let message =
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.");
        aadsts("invalid_scope", 70011, 400, message)
    })?;
    match (param("client_secret"), param("client_assertion")) {
        (Some(secret), _) if secret == tenant.client_secret => {}
        (Some(_), _) => return Err(aadsts("invalid_client", 7000215, 401, format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ))),
        (None, Some(assertion)) => {
            match param("client_assertion_type").ok_or_else(|| missing("client_assertion_type"))? {
                JWT_BEARER => {}
                other => {
                    return Err(aadsts("invalid_request", 90011, 400, format!("Unexpected client assertion type '{other}'.")))
                }
            }
            // The assertion's audience: this token endpoint, or the public cloud's one.
            let hosts = [shared.authority_host.as_str(), "https://login.microsoftonline.com"];
            let tenants = [tenant_segment, tenant.tenant_id.as_str()];
            let urls: Vec<_> = hosts.iter().flat_map(|h| tenants.map(|t| format!("{h}/{t}/oauth2/v2.0/token"))).collect();
            assertion::verify(inner, &tenant, client_id, &urls, assertion)?;
        }
        (None, None) => {
            let message = "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
            return Err(aadsts("invalid_client", 7000218, 401, message));
        }
    }

    let lifetime = inner.config.token_lifetime;
    let token = mint(&tenant.tenant_id, client_id, resource, lifetime);
    let (tenant_id, client_id, scope) = (tenant.tenant_id, client_id.to_owned(), scope.to_owned());
    let expires_at = std::time::Instant::now() + lifetime;
    inner.tokens.insert(token.clone(), IssuedToken { tenant_id, client_id, scope, expires_at });
    let seconds = lifetime.as_secs();
    let mut body =
        json!({"token_type": "Bearer", "expires_in": seconds, "ext_expires_in": seconds, "access_token": token});
    if let (Some(refresh_in), Value::Object(map)) = (inner.config.refresh_in, &mut body) {
        map.insert("refresh_in".to_owned(), refresh_in.as_secs().into());
    }
    Ok(body)
}

/// A JWT-shaped opaque token (base64url header.claims.signature) with Entra-like app claims. Only
/// this emulator accepts it: it looks the token up; the "signature" is random bytes.
fn mint(tenant_id: &str, client_id: &str, resource: &str, lifetime: Duration) -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "emulator"});
    let claims = json!({
        "aud": resource, "iss": format!("https://sts.windows.net/{tenant_id}/"), "iat": now, "nbf": now, "exp": exp,
        "appid": client_id, "idtyp": "app", "roles": ["OnlineMeetings.ReadWrite.All"], "tid": tenant_id, "ver": "1.0",
    });
    let signature = [Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat();
    wire::jwt_shaped(&header, &claims, &signature)
}
