//! Tests of the emulator, talking raw HTTP to it with reqwest.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use reqwest::{header::HeaderMap, Client, StatusCode};
use ring::{
    digest,
    rand::SystemRandom,
    signature::{RsaEncoding, RsaKeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256},
};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

type Form = Vec<(&'static str, &'static str)>;
type Reply = (u16, HeaderMap, Value);

struct Env {
    emu: Emulator,
    http: Client,
}

async fn env_with(config: EmulatorConfig) -> Env {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emu = Emulator::start(config).await.expect("emulator starts");
    emu.add_tenant(EmulatedTenant::dev());
    Env { emu, http: Client::builder().build().expect("client builds") }
}

async fn env() -> Env {
    env_with(EmulatorConfig::default()).await
}

fn secret_form() -> Form {
    let scope = "https://graph.microsoft.com/.default";
    vec![
        ("client_id", DEV_CLIENT_ID),
        ("scope", scope),
        ("client_secret", DEV_CLIENT_SECRET),
        ("grant_type", "client_credentials"),
    ]
}

/// `form` with parameter `name` replaced by `value` (or removed).
fn with(form: &Form, name: &'static str, value: Option<&'static str>) -> Form {
    let kept = form.iter().copied().filter(|(k, _)| *k != name);
    kept.chain(value.map(|v| (name, v))).collect()
}

async fn reply(resp: reqwest::Response) -> Reply {
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

impl Env {
    async fn token_reply(&self, tenant: &str, form: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", wire::form_encode(v))).collect();
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.emu.authority_host());
        let req = self.http.post(url).header("content-type", "application/x-www-form-urlencoded");
        reply(req.body(body.join("&")).send().await.expect("token request")).await
    }

    async fn token(&self) -> String {
        let (status, _, body) = self.token_reply(DEV_TENANT_ID, &secret_form()).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    async fn graph(&self, path: &str, token: Option<&str>, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.http.post(format!("{}{path}", self.emu.graph_endpoint())).body(body.to_owned());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        reply(req.send().await.expect("graph request")).await
    }

    /// Sends `method` to `path` with a fresh token, `body` as JSON when given.
    async fn send(&self, method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Reply {
        let token = self.token().await;
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.emu.graph_endpoint())).bearer_auth(token);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        reply(req.send().await.expect("graph request")).await
    }

    /// POSTs `body` as JSON with a fresh token.
    async fn create(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
        let token = self.token().await;
        let headers: Vec<_> = [("content-type", "application/json")].iter().chain(headers).copied().collect();
        self.graph(path, Some(&token), &body.to_string(), &headers).await
    }
}

fn meetings(user: &str) -> String {
    format!("/v1.0/users/{user}/onlineMeetings")
}

fn assert_aadsts((status, _, body): &Reply, want: u16, error: &str, code: u32) {
    assert_eq!((*status, body["error"].as_str()), (want, Some(error)), "{body}");
    assert_eq!(body["error_codes"], json!([code]));
    assert_eq!(body["error_uri"], format!("https://login.microsoftonline.com/error?code={code}"));
    let (trace, ts) = (body["trace_id"].as_str().unwrap_or("?"), body["timestamp"].as_str().unwrap_or("?"));
    let correlation = body["correlation_id"].as_str().unwrap_or("?");
    let tail = format!("\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.starts_with(&format!("AADSTS{code}: ")) && description.ends_with(&tail), "{description}");
    assert!(ts.len() == 20 && ts.as_bytes()[10] == b' ' && ts.ends_with('Z'), "{ts}");
}

fn assert_graph_error((status, headers, body): &Reply, want: u16, code: &str, message: &str) {
    assert_eq!((*status, body["error"]["code"].as_str()), (want, Some(code)), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains(message), "{body}");
    let inner = &body["error"]["innerError"];
    assert_eq!(inner["request-id"].as_str(), headers.get("request-id").and_then(|v| v.to_str().ok()));
    assert_eq!(inner["client-request-id"].as_str(), headers.get("client-request-id").and_then(|v| v.to_str().ok()));
    assert_eq!(inner["date"].as_str().map(str::len), Some(19), "{inner}");
}

#[tokio::test]
async fn token_endpoint_issues_tokens_and_aadsts_errors() {
    let env = env().await;
    let (status, headers, body) = env.token_reply(DEV_TENANT_ID, &secret_form()).await;
    assert_eq!((status, headers["content-type"].to_str().ok()), (200, Some("application/json; charset=utf-8")));
    assert_eq!(body.as_object().map(|o| o.len()), Some(4), "no refresh_in unless configured: {body}");
    assert_eq!(
        (&body["token_type"], &body["expires_in"], &body["ext_expires_in"]),
        (&json!("Bearer"), &json!(3599), &json!(3599))
    );
    let token = body["access_token"].as_str().unwrap_or_default();
    assert!(token
        .split('.')
        .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))));
    assert_eq!(token.split('.').count(), 3);
    let local: &'static str = format!("{}/.default", env.emu.graph_endpoint()).leak();
    assert_eq!(env.token_reply(DEV_TENANT_ID, &with(&secret_form(), "scope", Some(local))).await.0, 200);

    let base = secret_form();
    let no_secret = with(&base, "client_secret", None);
    #[rustfmt::skip]
    let cases: [(&str, Form, u16, &str, u32); 10] = [
        ("00000000-0000-0000-0000-000000000000", base.clone(), 400, "invalid_request", 90002),
        (DEV_TENANT_ID, with(&base, "grant_type", Some("password")), 400, "unsupported_grant_type", 70003),
        (DEV_TENANT_ID, with(&base, "client_id", None), 400, "invalid_request", 900144),
        (DEV_TENANT_ID, with(&base, "client_id", Some("11111111-2222-3333-4444-555555555555")), 400, "unauthorized_client", 700016),
        (DEV_TENANT_ID, with(&base, "scope", Some("https://foo.microsoft.com/.default")), 400, "invalid_scope", 70011),
        (DEV_TENANT_ID, with(&base, "client_secret", Some("wrong")), 401, "invalid_client", 7000215),
        (DEV_TENANT_ID, no_secret.clone(), 401, "invalid_client", 7000218),
        (DEV_TENANT_ID, with(&no_secret, "client_assertion", Some("a.b.c")), 400, "invalid_request", 900144),
        (DEV_TENANT_ID, with(&with(&no_secret, "client_assertion", Some("a.b.c")), "client_assertion_type", Some("jwt")), 400, "invalid_request", 90011),
        (DEV_TENANT_ID, with(&with(&no_secret, "client_assertion", Some("a.b.c")), "client_assertion_type", Some(JWT_BEARER)), 400, "invalid_request", 50027),
    ];
    for (tenant, form, status, error, code) in cases {
        assert_aadsts(&env.token_reply(tenant, &form).await, status, error, code);
    }
    let missing = env.token_reply(DEV_TENANT_ID, &with(&base, "client_id", None)).await.2;
    assert!(missing["error_description"].as_str().unwrap_or_default().contains("parameter: 'client_id'."));
    // A JSON body is no form: every parameter is missing. GET is refused.
    let url = format!("{}/{DEV_TENANT_ID}/oauth2/v2.0/token", env.emu.authority_host());
    let json_body = env.http.post(&url).header("content-type", "application/json").body(r#"{"a":1}"#).send().await;
    assert_aadsts(&reply(json_body.expect("sent")).await, 400, "invalid_request", 900144);
    assert_aadsts(&reply(env.http.get(&url).send().await.expect("sent")).await, 400, "invalid_request", 900561);
    assert_eq!(env.emu.token_requests(&DEV_TENANT_ID.to_uppercase()), 14);
    assert_eq!(env.emu.token_requests("00000000-0000-0000-0000-000000000000"), 1);

    let config = EmulatorConfig {
        token_lifetime: Duration::from_secs(86400),
        refresh_in: Some(Duration::from_secs(43200)),
        ..Default::default()
    };
    let body = env_with(config).await.token_reply(DEV_TENANT_ID, &secret_form()).await.2;
    assert_eq!((&body["expires_in"], &body["refresh_in"]), (&json!(86400), &json!(43200)));
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `base` with the members of `patch` set (`null` removes one).
fn patched(mut base: Value, patch: Value) -> Value {
    if let (Value::Object(base), Value::Object(patch)) = (&mut base, patch) {
        for (k, v) in patch {
            if v.is_null() {
                base.remove(&k);
            } else {
                base.insert(k, v);
            }
        }
    }
    base
}

/// The certificate and PKCS#8 key of a fixture, signing assertions independently of the service.
struct Signer {
    key: RsaKeyPair,
    der: Vec<u8>,
}

impl Signer {
    fn load(name: &str) -> Signer {
        let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let key = match PrivateKeyDer::from_pem_file(&path).expect("key") {
            PrivateKeyDer::Pkcs8(key) => RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).expect("RSA key"),
            _ => panic!("{name}: PKCS#8 key expected"),
        };
        Signer { key, der: CertificateDer::from_pem_file(&path).expect("certificate").to_vec() }
    }

    fn thumbprint(&self, algorithm: &'static digest::Algorithm) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(algorithm, &self.der))
    }

    /// `header.claims.signature`, RS256 or PS256 as the header's `alg` says.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let signed = format!("{}.{}", segment(header), segment(claims));
        let padding: &'static dyn RsaEncoding =
            if header["alg"] == "PS256" { &RSA_PSS_SHA256 } else { &RSA_PKCS1_SHA256 };
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key.sign(padding, &SystemRandom::new(), signed.as_bytes(), &mut signature).expect("signs");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn assertion_form(assertion: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", DEV_CLIENT_ID),
        ("scope", "https://graph.microsoft.com/.default"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
        ("grant_type", "client_credentials"),
    ]
}

#[tokio::test]
async fn certificate_assertions_are_verified_like_entra() {
    let env = env().await;
    env.emu.add_tenant(EmulatedTenant::dev().with_certificate(fixture("cert.pem")));
    let (signer, rotated) = (Signer::load("client-certificate.pem"), Signer::load("rotated-certificate.pem"));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token_url = format!("{}/{DEV_TENANT_ID}/oauth2/v2.0/token", env.emu.authority_host());
    let claims = |patch: Value| {
        let base = json!({"aud": token_url, "iss": DEV_CLIENT_ID, "sub": DEV_CLIENT_ID, "jti": Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 300});
        patched(base, patch)
    };
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t#S256": signer.thumbprint(&digest::SHA256)});
    let x5c = |der: &[u8]| json!({"x5c": [STANDARD.encode(der), STANDARD.encode(&rotated.der)]});

    #[rustfmt::skip]
    let accepted = [
        signer.sign(&header, &claims(json!({}))),
        signer.sign(&patched(header.clone(), json!({"alg": "PS256"})), &claims(json!({}))),
        signer.sign(&json!({"alg": "RS256", "x5t": signer.thumbprint(&digest::SHA1_FOR_LEGACY_USE_ONLY)}), &claims(json!({}))),
        signer.sign(&patched(header.clone(), x5c(&signer.der)), &claims(json!({}))),
        signer.sign(&header, &claims(json!({"aud": [format!("https://login.microsoftonline.com/{DEV_TENANT_ID}/oauth2/v2.0/token")]}))),
        signer.sign(&header, &claims(json!({"exp": now - 60, "nbf": now + 60, "iss": DEV_CLIENT_ID.to_uppercase()}))),
    ];
    for assertion in &accepted {
        let (status, _, body) = env.token_reply(DEV_TENANT_ID, &assertion_form(assertion)).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap_or_default();
        assert_eq!(
            env.graph(&meetings(DEV_USER_ID), Some(token), "{}", &[("content-type", "application/json")]).await.0,
            201
        );
    }
    // A rotated certificate is accepted once registered too.
    env.emu.add_tenant(
        EmulatedTenant::dev()
            .with_certificate(fixture("cert.pem"))
            .with_certificate(fixture("rotated-certificate.pem")),
    );
    let rotated_header = json!({"alg": "RS256", "x5t#S256": rotated.thumbprint(&digest::SHA256)});
    assert_eq!(
        env.token_reply(DEV_TENANT_ID, &assertion_form(&rotated.sign(&rotated_header, &claims(json!({}))))).await.0,
        200
    );
    env.emu.add_tenant(EmulatedTenant::dev().with_certificate(fixture("cert.pem")));

    let replayed = &accepted[0];
    let unsigned = format!("{}.{}.", segment(&header), segment(&claims(json!({}))));
    #[rustfmt::skip]
    let rejected = [
        (rotated.sign(&header, &claims(json!({}))), 401, "invalid_client", 700027, "failed signature validation"),
        (unsigned, 401, "invalid_client", 700027, "failed signature validation"),
        (signer.sign(&patched(header.clone(), json!({"alg": "HS256"})), &claims(json!({}))), 401, "invalid_client", 700027, "RS256 or PS256"),
        (rotated.sign(&rotated_header, &claims(json!({}))), 401, "invalid_client", 700027, "not registered on application"),
        (signer.sign(&json!({"alg": "RS256", "x5t": signer.thumbprint(&digest::SHA256)}), &claims(json!({}))), 401, "invalid_client", 700027, "not registered"),
        (signer.sign(&patched(header.clone(), x5c(&rotated.der)), &claims(json!({}))), 401, "invalid_client", 700027, "x5c"),
        (signer.sign(&header, &claims(json!({"aud": "https://login.microsoftonline.com/common/oauth2/v2.0/token"}))), 401, "invalid_client", 700023, "audience"),
        (signer.sign(&header, &claims(json!({"aud": [token_url, token_url]}))), 401, "invalid_client", 700023, "audience"),
        (signer.sign(&header, &claims(json!({"iss": "someone-else"}))), 401, "invalid_client", 700021, "doesn't match 'client_id'"),
        (signer.sign(&header, &claims(json!({"sub": null}))), 401, "invalid_client", 700021, "doesn't match 'client_id'"),
        (signer.sign(&header, &claims(json!({"exp": now - 400}))), 401, "invalid_client", 700024, "not within its valid time range"),
        (signer.sign(&header, &claims(json!({"nbf": now + 400}))), 401, "invalid_client", 700024, "assertion valid from"),
        (signer.sign(&header, &claims(json!({"jti": null}))), 400, "invalid_request", 50027, "malformed"),
        (signer.sign(&header, &claims(json!({"exp": null}))), 400, "invalid_request", 50027, "malformed"),
        (replayed.clone(), 401, "invalid_client", 50013, "already presented"),
    ];
    for (assertion, status, error, code, message) in &rejected {
        let reply = env.token_reply(DEV_TENANT_ID, &assertion_form(assertion)).await;
        assert_aadsts(&reply, *status, error, *code);
        assert!(reply.2["error_description"].as_str().unwrap_or_default().contains(message), "{code}: {}", reply.2);
    }
    // The log keeps the raw assertion; the control endpoint redacts it.
    let last = env.emu.requests().pop().expect("recorded");
    assert!(last.form().contains(&("client_assertion".to_owned(), replayed.clone())));
    let listed =
        reply(env.http.get(format!("{}/_emulator/requests", env.emu.graph_endpoint())).send().await.expect("sent"))
            .await
            .2;
    assert!(
        !listed.to_string().contains(replayed.as_str()) && listed.to_string().contains("client_assertion=REDACTED")
    );
}

#[tokio::test]
async fn federated_assertions_match_federated_credentials() {
    let env = env().await;
    let (issuer, subject) =
        ("https://oidc.prod-aks.azure.com/tenant/issuer/", "system:serviceaccount:meetings:meeting-service");
    env.emu.add_tenant(EmulatedTenant::dev().with_federated_credential(issuer, subject));
    let token = federated_token(issuer, subject, TOKEN_EXCHANGE_AUDIENCE, Duration::from_secs(3600));
    let parts: Vec<Value> = token
        .split('.')
        .take(2)
        .map(|s| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("base64url")).expect("JSON"))
        .collect();
    assert_eq!(
        (&parts[0]["alg"], &parts[1]["aud"], &parts[1]["iss"], &parts[1]["sub"]),
        (&json!("RS256"), &json!([TOKEN_EXCHANGE_AUDIENCE]), &json!(issuer), &json!(subject))
    );
    assert_eq!(parts[1]["exp"].as_i64().zip(parts[1]["iat"].as_i64()).map(|(e, i)| e - i), Some(3600));
    assert_eq!(parts[1]["nbf"], parts[1]["iat"]);
    for _ in 0..2 {
        // The same projected token is presented until it expires.
        let (status, _, body) = env.token_reply(DEV_TENANT_ID, &assertion_form(&token)).await;
        assert_eq!(status, 200, "{body}");
    }

    let now = OffsetDateTime::now_utc().unix_timestamp();
    let expired =
        json!({"aud": [TOKEN_EXCHANGE_AUDIENCE], "iss": issuer, "sub": subject, "iat": now - 4000, "exp": now - 400});
    let hour = Duration::from_secs(3600);
    #[rustfmt::skip]
    let rejected = [
        (federated_token(issuer, "system:serviceaccount:meetings:other", TOKEN_EXCHANGE_AUDIENCE, hour), 400, "invalid_request", 70021, "Assertion Subject: 'system:serviceaccount:meetings:other'"),
        (federated_token("https://token.actions.githubusercontent.com", subject, TOKEN_EXCHANGE_AUDIENCE, hour), 400, "invalid_request", 70021, "No matching federated identity record found for presented assertion."),
        (federated_token(&issuer.to_uppercase(), subject, TOKEN_EXCHANGE_AUDIENCE, hour), 400, "invalid_request", 70021, "Assertion Issuer"),
        (federated_token(issuer, subject, "api://AzureADMyOrg", hour), 401, "invalid_client", 700212, "assertion audience 'api://AzureADMyOrg'"),
        (format!("{}.{}.c2ln", segment(&json!({"alg": "RS256"})), segment(&expired)), 401, "invalid_client", 700024, "not within its valid time range"),
    ];
    for (assertion, status, error, code, message) in &rejected {
        let reply = env.token_reply(DEV_TENANT_ID, &assertion_form(assertion)).await;
        assert_aadsts(&reply, *status, error, *code);
        assert!(reply.2["error_description"].as_str().unwrap_or_default().contains(message), "{code}: {}", reply.2);
    }
    // Without federated credentials no audience matches.
    env.emu.add_tenant(EmulatedTenant::dev());
    assert_aadsts(&env.token_reply(DEV_TENANT_ID, &assertion_form(&token)).await, 401, "invalid_client", 700212);
}

#[tokio::test]
async fn accepted_scope_resources_can_be_added() {
    let env = env().await;
    let closed = with(&secret_form(), "scope", Some("http://127.0.0.1:9/.default"));
    assert_aadsts(&env.token_reply(DEV_TENANT_ID, &closed).await, 400, "invalid_scope", 70011);
    env.emu.accept_scope_resource("http://127.0.0.1:9/");
    let (status, _, body) = env.token_reply(DEV_TENANT_ID, &closed).await;
    assert_eq!(status, 200, "{body}");
    let other = with(&secret_form(), "scope", Some("http://127.0.0.1:10/.default"));
    assert_aadsts(&env.token_reply(DEV_TENANT_ID, &other).await, 400, "invalid_scope", 70011);
}

#[tokio::test]
async fn login_faults_then_success() {
    let env = env().await;
    env.emu.push_fault(Fault::aadsts("invalid_client", 7000215, 401));
    env.emu.push_fault(Fault::login_status(503).retry_after("7").times(1));
    assert_aadsts(&env.token_reply(DEV_TENANT_ID, &secret_form()).await, 401, "invalid_client", 7000215);
    let unavailable = env.token_reply(DEV_TENANT_ID, &secret_form()).await;
    assert_aadsts(&unavailable, 503, "temporarily_unavailable", 90033);
    assert_eq!(unavailable.1["retry-after"], "7");
    assert_eq!(env.token_reply(DEV_TENANT_ID, &secret_form()).await.0, 200);
}

/// The request bodies of the five examples of the seed "Create onlineMeeting" page (5 has two).
const SEEDS: [&str; 6] = [
    r#"{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User Token Meeting"}"#,
    r#"{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User meeting in Microsoft Teams channel.","chatInfo":{"threadId":"19%3A3b5239894b776357c1dd79%40thread.skype"}}"#,
    r#"{"subject":"User Token Live Event","startDateTime":"2020-12-02T14:30:34.2444915+00:00","endDateTime":"2020-12-02T15:00:34.2464912+00:00","isBroadcast":true,"broadcastSettings":{"allowedAudience":"everyone","isRecordingEnabled":true,"isAttendeeReportEnabled":true}}"#,
    r#"{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User meeting","joinMeetingIdSettings":{"isPasscodeRequired":true}}"#,
    r#"{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User meeting in Microsoft Teams channel.","joinMeetingIdSettings":{"isPasscodeRequired":false}}"#,
    r#"{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User meeting in Microsoft Teams channel."}"#,
];

/// Every member of `expected` is in `actual` with the same value (objects compared member-wise).
fn assert_subset(actual: &Value, expected: &Value, at: &str) {
    match expected {
        Value::Object(members) => members.iter().for_each(|(k, v)| assert_subset(&actual[k], v, &format!("{at}/{k}"))),
        _ => assert_eq!(actual, expected, "at {at}"),
    }
}

#[tokio::test]
async fn seed_examples_create_documented_meetings() {
    let env = env().await;
    let (token, graph) = (env.token().await, env.emu.graph_endpoint());
    for (i, seed) in SEEDS.iter().enumerate() {
        let path = format!("/beta/users/{DEV_USER_ID}/onlineMeetings");
        let (status, headers, m) = env.graph(&path, Some(&token), seed, &[("content-type", "application/json")]).await;
        assert_eq!(status, 201, "seed {i}: {m}");
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(
            (header("client-request-id"), header("strict-transport-security")),
            (header("request-id"), "max-age=31536000")
        );
        assert!(header("x-ms-ags-diagnostic").contains("\"ServerInfo\"") && !header("date").is_empty());
        assert!(header("content-type").starts_with("application/json;odata.metadata=minimal;odata.streaming=true"));
        // id = base64("1*{organizer}*0**{thread}"), with the thread of joinWebUrl.
        let context = format!("/0?context=%7b%22Tid%22%3a%22{DEV_TENANT_ID}%22%2c%22Oid%22%3a%22{DEV_USER_ID}%22%7d");
        let url = m["joinWebUrl"].as_str().unwrap_or_default();
        let thread =
            url.strip_prefix("https://teams.microsoft.com/l/meetup-join/").and_then(|u| u.strip_suffix(&context));
        let thread = thread.expect("joinWebUrl shape").replace("%3a", ":").replace("%40", "@");
        assert!(thread.starts_with("19:meeting_") && thread.ends_with("@thread.v2"), "{thread}");
        let (day, start, end) = if i == 2 {
            ("2020-12-02", "14:30:34.2444915Z", "15:00:34.2464912Z")
        } else {
            ("2019-07-12", "21:30:34.2444915Z", "22:00:34.2464912Z")
        };
        let request: Value = serde_json::from_str(seed).expect("seed is JSON");
        let chat = if i == 1 {
            json!({"threadId": request["chatInfo"]["threadId"]})
        } else {
            json!({"threadId": thread, "messageId": "0", "replyChainMessageId": "0"})
        };
        let organizer = json!({"id": DEV_USER_ID, "tenantId": DEV_TENANT_ID, "displayName": "Adele Vance", "identityProvider": "AAD"});
        assert_subset(
            &m,
            &json!({
                "@odata.context": format!("{graph}/beta/$metadata#users('{DEV_USER_ID}')/onlineMeetings/$entity"),
                "id": wire::base64(format!("1*{DEV_USER_ID}*0**{thread}").as_bytes(), false),
                "startDateTime": format!("{day}T{start}"), "endDateTime": format!("{day}T{end}"), "subject": request["subject"],
                "chatInfo": chat, "isBroadcast": i == 2, "broadcastSettings": request["broadcastSettings"],
                "joinMeetingIdSettings": {"isPasscodeRequired": i == 3},
                "participants": {"organizer": {"identity": {"user": organizer}, "role": "presenter", "upn": "adele.vance@contoso.example"}, "attendees": [], "producers": []},
                "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": false},
                "isEntryExitAnnounced": true, "allowedPresenters": "everyone", "autoAdmittedUsers": "EveryoneInCompany",
                "joinInformation": {"contentType": "Html"}, "audioConferencing": {"conferenceId": null},
            }),
            "",
        );
        assert_eq!(m["creationDateTime"].as_str().map(str::len), Some(28));
        let digits = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        let (audio, settings) = (&m["audioConferencing"], &m["joinMeetingIdSettings"]);
        assert!(
            digits(&audio["ConferenceId"]) && digits(&m["videoTeleconferenceId"]) && digits(&settings["joinMeetingId"])
        );
        assert!(audio["tollNumber"].is_string() && audio["tollFreeNumber"].is_string());
        assert!(audio["dialinUrl"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("?id={}", audio["ConferenceId"].as_str().unwrap_or("?"))));
        assert_eq!(settings["passcode"].as_str().map(str::len), (i == 3).then_some(6), "passcode iff required");
        assert!(settings["joinMeetingId"].as_str().is_some_and(|id| id.len() >= 10));
        let content = m["joinInformation"]["content"].as_str().unwrap_or_default();
        assert!(content.starts_with("data%3Atext%2Fhtml%2C") && content.contains("Join+Microsoft+Teams+Meeting"));
    }
    assert_eq!(env.emu.meetings_created(), SEEDS.len());
}

#[tokio::test]
async fn writable_properties_are_echoed_and_read_only_ones_ignored() {
    let env = env().await;
    let echoed = json!({
        "subject": "Echo", "meetingTemplateId": "05b9ed5f-2ac3-4470-aae9-f4a0c30b1a4b", "isEndToEndEncryptionEnabled": true,
        "allowRecording": false, "allowMeetingChat": "limited", "chatRestrictions": {"allowTextOnly": true}, "recordAutomatically": true,
        "watermarkProtection": {"isEnabledForContentSharing": true, "isEnabledForVideo": false}, "shareMeetingChatHistoryDefault": "all",
        "meetingSpokenLanguageTag": "de-DE", "sensitivityLabelAssignment": {"sensitivityLabelId": "x"}, "anonymizeIdentityForRoles": ["attendee"],
        "allowedPresenters": "organizer", "isEntryExitAnnounced": false,
    });
    let mut body = echoed.clone();
    let extra = json!({
        "lobbyBypassSettings": {"scope": "everyone"}, "@odata.type": "#x", "dynamic": 1,
        "participants": {"attendees": [{"identity": {"user": {"id": "1f35f2e6-9cab-44ad-8d5a-b74c14720000"}}, "upn": "test1@contoso.com"}]},
        "id": "mine", "joinWebUrl": "https://example.invalid", "creationDateTime": "2000-01-01T00:00:00Z",
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    let (status, _, m) = env.create(&meetings(DEV_USER_ID), &body, &[]).await;
    assert_eq!(status, 201, "{m}");
    assert_subset(&m, &echoed, "");
    let attendee = json!({"identity": {"user": {"id": "1f35f2e6-9cab-44ad-8d5a-b74c14720000"}}, "upn": "test1@contoso.com", "role": null});
    assert_subset(
        &m,
        &json!({"lobbyBypassSettings": {"scope": "everyone", "isDialInBypassEnabled": false}, "participants": {"attendees": [attendee]}, "dynamic": null}),
        "",
    );
    assert!(m["id"] != "mine" && m["creationDateTime"] != body["creationDateTime"]);
    assert!(m["joinWebUrl"].as_str().unwrap_or_default().starts_with("https://teams.microsoft.com/"));
}

#[tokio::test]
async fn create_or_get_creates_once_then_returns_the_same_meeting() {
    let env = env().await;
    let path = format!("{}/createOrGet", meetings(DEV_USER_ID));
    let body = json!({"externalId": "7eb8263f-d0e0-4149-bb1c-1f0476083c56", "subject": "Standup", "startDateTime": "2020-02-06T01:49:21.3524945+00:00"});
    let (status, _, first) = env.create(&path, &body, &[]).await;
    assert_eq!(
        (status, &first["externalId"], &first["endDateTime"]),
        (201, &body["externalId"], &json!("2020-02-06T02:49:21.3524945Z"))
    );
    assert!(first["audioConferencing"]["conferenceId"].is_string(), "createOrGet's spelling");
    let (status, _, second) =
        env.create(&path, &json!({"externalId": body["externalId"], "subject": "Changed"}), &[]).await;
    assert_eq!(status, 200);
    for field in ["id", "joinWebUrl", "subject", "startDateTime", "externalId", "audioConferencing"] {
        assert_eq!(second[field], first[field], "{field}");
    }
    assert_eq!(env.emu.meetings_created(), 1);
    // The same externalId for another organizer is another meeting.
    let mut tenant = EmulatedTenant::dev();
    tenant.users[1].has_access_policy = true;
    env.emu.add_tenant(tenant);
    let (status, _, other) = env.create(&format!("{}/createOrGet", meetings(DEV_USER_NO_POLICY_ID)), &body, &[]).await;
    assert!(status == 201 && other["id"] != first["id"]);
    #[rustfmt::skip]
    let bad = [
        (path.clone(), json!({"externalId": "x", "lobbyBypassSettings": {}}), "parameter 'lobbyBypassSettings'"),
        (path.clone(), json!({"subject": "no id"}), "externalId"),
        (path.clone(), json!({"externalId": "x", "endDateTime": "2020-02-06T02:19:21Z"}), "without startDateTime"),
        (path.clone(), json!({"externalId": "x", "startDateTime": "2020-02-06T02:19:21Z", "endDateTime": "2020-02-06T01:19:21Z"}), "later than"),
        (meetings(DEV_USER_ID), json!({"externalId": "x"}), "only supported with createOrGet"),
    ];
    for (path, body, message) in bad {
        assert_graph_error(&env.create(&path, &body, &[]).await, 400, "BadRequest", message);
    }
    assert_eq!(env.emu.meetings_created(), 2);
}

#[tokio::test]
async fn graph_faults_throttle_fail_after_processing_and_delay() {
    let env = env().await;
    let path = meetings(DEV_USER_ID);
    env.emu.push_fault(Fault::graph_status(429).retry_after("2.128").times(2));
    env.emu.push_fault(Fault::graph_status(503).retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
    for _ in 0..2 {
        let throttled = env.create(&path, &json!({}), &[("client-request-id", "my-id")]).await;
        assert_graph_error(&throttled, 429, "TooManyRequests", "Please retry again later.");
        assert_eq!([&throttled.1["retry-after"], &throttled.1["client-request-id"]], ["2.128", "my-id"]);
        let inner = &throttled.2["error"]["innerError"];
        assert_eq!(
            (&inner["code"], &inner["status"], &inner["message"]),
            (&json!("429"), &json!("429"), &json!("Please retry after"))
        );
    }
    let unavailable = env.create(&path, &json!({}), &[]).await;
    assert_graph_error(&unavailable, 503, "ServiceUnavailable", "temporarily unavailable");
    assert_eq!(unavailable.1["retry-after"], "Wed, 21 Oct 2015 07:28:00 GMT");
    assert_eq!((env.create(&path, &json!({}), &[]).await.0, env.emu.meetings_created()), (201, 1));
    env.emu.push_fault(Fault::graph_status(500));
    env.emu.clear_faults();
    assert_eq!(env.create(&path, &json!({}), &[]).await.0, 201);

    // Processed, but the answer is an error: a retried createOrGet gets the meeting, not a new one.
    let (or_get, body) = (format!("{path}/createOrGet"), json!({"externalId": "lost-response"}));
    env.emu.push_fault(Fault::graph_status(500).after_processing());
    assert_graph_error(&env.create(&or_get, &body, &[]).await, 500, "InternalServerError", "Internal Server Error");
    assert_eq!(env.emu.meetings_created(), 3);
    let (retried, again) = (env.create(&or_get, &body, &[]).await, env.create(&or_get, &body, &[]).await);
    assert_eq!((retried.0, again.0, &retried.2["id"], env.emu.meetings_created()), (200, 200, &again.2["id"], 3));

    env.emu.push_fault(Fault::graph_delay(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(env.create(&path, &json!({}), &[]).await.0, 201);
    assert!(started.elapsed() >= Duration::from_millis(300));
    env.emu.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    env.create(&path, &json!({}), &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn bad_tokens_are_401_invalid_authentication_token() {
    let env = env().await;
    let (path, json_type) = (meetings(DEV_USER_ID), [("content-type", "application/json")]);
    let segment = wire::base64(b"{}", true);
    let unknown = format!("{segment}.{segment}.{segment}");
    let cases = [
        (None, "Access token is empty."),
        (Some("opaque"), "CompactToken parsing failed"),
        (Some(unknown.as_str()), "Invalid audience."),
    ];
    for (token, message) in cases {
        let reply = env.graph(&path, token, "{}", &json_type).await;
        assert_graph_error(&reply, 401, "InvalidAuthenticationToken", message);
        assert!(reply.1["www-authenticate"]
            .to_str()
            .unwrap_or_default()
            .starts_with("Bearer realm=\"\", authorization_uri="));
    }
    let token = env.token().await;
    env.emu.push_fault(Fault::graph_status(500));
    env.emu.expire_tokens();
    let expired = env.graph(&path, Some(&token), "{}", &json_type).await;
    assert_graph_error(&expired, 401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.");
    // Authentication comes before faults: the 500 waits for a valid token.
    assert_eq!(env.create(&path, &json!({}), &[]).await.0, 500);
    let env = env_with(EmulatorConfig { token_lifetime: Duration::ZERO, ..Default::default() }).await;
    let token = env.token().await;
    assert_eq!(env.graph(&path, Some(&token), "{}", &json_type).await.0, 401);
}

#[tokio::test]
async fn malformed_requests_get_graph_errors() {
    let env = env().await;
    let (token, ok) = (env.token().await, meetings(DEV_USER_ID));
    let json_type: Form = vec![("content-type", "application/json; charset=utf-8")];
    #[rustfmt::skip]
    let cases: [(&str, Form, &str, u16, &str, &str); 16] = [
        (&ok, vec![], "{}", 400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set"),
        (&ok, vec![("content-type", "text/plain")], "{}", 400, "BadRequest", "Unable to read JSON request payload"),
        (&ok, json_type.clone(), "", 400, "BadRequest", "Request payload cannot be null."),
        (&ok, json_type.clone(), "{\"subject\":", 400, "BadRequest", "Unable to read JSON request payload"),
        (&ok, json_type.clone(), "{\"subject\":5}", 400, "BadRequest", "Cannot convert the literal '5' to the expected type 'Edm.String'."),
        (&ok, json_type.clone(), "{\"subject\":{}}", 400, "BadRequest", "'StartObject' node was found for property named 'subject'"),
        (&ok, json_type.clone(), "{\"startDateTime\":\"tomorrow\"}", 400, "BadRequest", "'Edm.DateTimeOffset'"),
        (&ok, json_type.clone(), "{\"lobbyBypassSettings\":{\"scope\":\"anyone\"}}", 400, "BadRequest", "'microsoft.graph.lobbyBypassScope'"),
        (&ok, json_type.clone(), "{\"chatInfo\":{\"foo\":1}}", 400, "BadRequest", "The property 'foo' does not exist on type 'microsoft.graph.chatInfo'"),
        (&ok, json_type.clone(), "{\"participants\":{\"attendees\":{}}}", 400, "BadRequest", "A 'StartArray' node was expected"),
        (&ok, json_type.clone(), "{\"startDateTime\":\"2020-01-01T10:00:00Z\",\"endDateTime\":\"2020-01-01T09:00:00Z\"}", 400, "BadRequest", "later than"),
        ("/v1.0/users/nobody@contoso.example/onlineMeetings", json_type.clone(), "{}", 404, "NotFound", "'nobody@contoso.example'"),
        (&meetings(DEV_USER_NO_POLICY_ID), json_type.clone(), "{}", 403, "Forbidden", "No Application Access Policy found for this app"),
        ("/v1.0/me/onlineMeetings", json_type.clone(), "{}", 400, "BadRequest", "/me request is only valid with delegated authentication flow."),
        ("/v2.0/users/x/onlineMeetings", json_type.clone(), "{}", 400, "BadRequest", "Invalid version: v2.0"),
        ("/v1.0/users/x/calendars", json_type.clone(), "{}", 400, "BadRequest", "Resource not found for the segment 'calendars'."),
    ];
    for (path, headers, body, status, code, message) in cases {
        assert_graph_error(&env.graph(path, Some(&token), body, &headers).await, status, code, message);
    }
    assert_eq!(env.emu.meetings_created(), 0);
}

#[tokio::test]
async fn evolvable_enums_and_languages_follow_request_headers() {
    let env = env().await;
    let body = json!({
        "lobbyBypassSettings": {"scope": "invited", "isDialInBypassEnabled": true},
        "participants": {"attendees": [{"upn": "a@contoso.example", "role": "coorganizer"}, {"upn": "b@contoso.example", "role": "attendee"}]},
    });
    let hidden = env.create(&meetings(DEV_USER_ID), &body, &[]).await.2;
    assert_eq!(hidden["lobbyBypassSettings"], json!({"scope": "unknownFutureValue", "isDialInBypassEnabled": true}));
    let roles = |m: &Value| {
        [m["participants"]["attendees"][0]["role"].clone(), m["participants"]["attendees"][1]["role"].clone()]
    };
    assert_eq!(roles(&hidden), [json!("unknownFutureValue"), json!("attendee")]);
    let shown = env
        .create(&meetings(DEV_USER_ID), &body, &[("prefer", "odata.maxpagesize=5, include-unknown-enum-members")])
        .await
        .2;
    assert_eq!(
        (&shown["lobbyBypassSettings"]["scope"], roles(&shown)),
        (&json!("invited"), [json!("coorganizer"), json!("attendee")])
    );

    let chinese = wire::form_encode("加入 Microsoft Teams 会议");
    let languages = [
        (None, "language%3Den-US", "Join+Microsoft+Teams+Meeting"),
        (Some("ja"), "language%3Dja", "Microsoft+Teams+%E4%BC%9A%E8%AD%B0%E3%81%AB%E5%8F%82%E5%8A%A0"),
        (Some("fr-FR, de-DE;q=0.8, en;q=0.5"), "language%3Dde-DE", "An+Microsoft+Teams-Besprechung+teilnehmen"),
        (Some("zh-CN"), "language%3Dzh-CN", chinese.as_str()),
    ];
    for (accept, tag, headline) in languages {
        let headers: Vec<_> = accept.map(|a| ("accept-language", a)).into_iter().collect();
        let m = env
            .create(&meetings(DEV_USER_ID), &json!({"joinMeetingIdSettings": {"isPasscodeRequired": true}}), &headers)
            .await
            .2;
        let content = m["joinInformation"]["content"].as_str().unwrap_or_default();
        let passcode = m["joinMeetingIdSettings"]["passcode"].as_str().unwrap_or("?");
        assert!(
            content.contains(tag) && content.contains(headline) && content.contains(passcode),
            "{accept:?}: {content}"
        );
    }
}

#[tokio::test]
async fn requests_are_recorded_raw_and_exposed_redacted() {
    let env = env().await;
    for user in ["adele.vance%40contoso.example", "ADELE.VANCE@contoso.example"] {
        let (status, _, m) = env
            .create(&format!("{}?x=1", meetings(user)), &json!({"subject": "log"}), &[("client-request-id", "abc")])
            .await;
        assert_eq!((status, &m["participants"]["organizer"]["identity"]["user"]["id"]), (201, &json!(DEV_USER_ID)));
    }
    let log = env.emu.requests();
    assert_eq!(log.iter().map(|r| r.host).collect::<Vec<_>>(), [Host::Login, Host::Graph, Host::Login, Host::Graph]);
    let (login, graph) = (&log[0], &log[1]);
    assert_eq!((login.method.as_str(), login.path.clone()), ("POST", format!("/{DEV_TENANT_ID}/oauth2/v2.0/token")));
    assert!(login.form().contains(&("client_secret".to_owned(), DEV_CLIENT_SECRET.to_owned())));
    assert_eq!(login.header("Content-Type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(graph.path, "/v1.0/users/adele.vance%40contoso.example/onlineMeetings?x=1");
    assert_eq!((graph.header("client-request-id"), graph.json()["subject"].as_str()), (Some("abc"), Some("log")));
    assert_eq!(log[3].path, "/v1.0/users/ADELE.VANCE@contoso.example/onlineMeetings?x=1");

    let control = |path: &str| format!("{}/_emulator/{path}", env.emu.graph_endpoint());
    let listed = reply(env.http.get(control("requests")).send().await.expect("sent")).await.2;
    let text = listed.to_string();
    assert!(
        !text.contains(DEV_CLIENT_SECRET)
            && text.contains("client_secret=REDACTED")
            && text.contains("Bearer REDACTED")
    );
    assert_eq!((&listed[1]["path"], &listed[1]["host"]), (&json!(graph.path), &json!("graph")));
    let faults = [
        (r#"{"target":"graph","status":429,"retryAfter":"2.128","times":2}"#, 201),
        (r#"{"target":"login","aadsts":{"error":"invalid_client","code":7000215,"status":401}}"#, 201),
        (r#"{"target":"moon","status":500}"#, 400),
    ];
    for (fault, status) in faults {
        assert_eq!(env.http.post(control("faults")).body(fault).send().await.expect("sent").status().as_u16(), status);
    }
    assert_eq!(env.token_reply(DEV_TENANT_ID, &secret_form()).await.0, 401);
    assert_eq!(env.http.delete(control("faults")).send().await.expect("sent").status(), StatusCode::NO_CONTENT);
    assert_eq!(env.create(&meetings(DEV_USER_ID), &json!({}), &[]).await.0, 201);
    assert_eq!(env.emu.requests().len(), 7, "control calls are not recorded");
    let (graph_url, login_url) = (env.emu.graph_endpoint(), env.emu.authority_host());
    env.emu.shutdown().await;
    for url in [graph_url, login_url] {
        assert!(env.http.get(url).send().await.is_err(), "stopped hosts refuse connections");
    }
}

#[test]
fn control_fault_json_and_wire_helpers() {
    let parse = Fault::from_control_json;
    let throttle = Fault::graph_status(429).retry_after("2.128").times(2);
    assert_eq!(parse(r#"{"target":"graph","status":429,"retryAfter":"2.128","times":2}"#), Ok(throttle));
    assert_eq!(parse(r#"{"status":500,"afterProcessing":true}"#), Ok(Fault::graph_status(500).after_processing()));
    let aadsts = r#"{"target":"login","aadsts":{"error":"invalid_client","code":7000215,"status":401}}"#;
    assert_eq!(parse(aadsts), Ok(Fault::aadsts("invalid_client", 7000215, 401)));
    assert_eq!(parse(r#"{"target":"graph","delayMs":3000}"#), Ok(Fault::graph_delay(Duration::from_secs(3))));
    for bad in [r#"{"status":429,"delayMs":1}"#, r#"{"status":9999}"#, r#"{"status":500,"tmes":2}"#, "[]"] {
        assert!(parse(bad).is_err(), "{bad}");
    }

    assert_eq!(wire::base64(b"1*a*0**19:meeting_x@thread.v2", false), "MSphKjAqKjE5Om1lZXRpbmdfeEB0aHJlYWQudjI=");
    assert_eq!(
        [wire::base64(b"f", false), wire::base64(b"fo", false), wire::base64(&[0xfb, 0xff], true)],
        ["Zg==", "Zm8=", "-_8"]
    );
    let encoded = wire::form_encode("data:text/html,\n  <a href='x'>(有料)</a>");
    assert_eq!(encoded, "data%3Atext%2Fhtml%2C%0A++%3Ca+href%3D'x'%3E(%E6%9C%89%E6%96%99)%3C%2Fa%3E");
    let form = [("a".to_owned(), "1 2".to_owned()), ("b".to_owned(), "@".to_owned()), ("c".to_owned(), String::new())];
    assert_eq!(wire::parse_form("a=1+2&b=%40&c"), form);
    let t = wire::parse_datetime("2019-07-12T14:30:34.2444915-07:00").expect("parses");
    assert_eq!(wire::graph_datetime(t), "2019-07-12T21:30:34.2444915Z");
    assert_eq!(wire::timestamp(t, ' ', false, "Z"), "2019-07-12 21:30:34Z");
    assert!(wire::parse_datetime("2019-07-12T14:30:34").is_some() && wire::parse_datetime("July").is_none());
    let digits = wire::random_digits(12);
    assert!(digits.len() == 12 && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()));
}

/// A second organizer whose env adds it; for meetings that are not Adele's.
const SECOND_ORGANIZER_ID: &str = "e1f3b5d7-2a4c-4e6f-8b0d-9c7e5a3f1b28";

/// `…/onlineMeetings/{id}` with the id percent-encoded as one segment (it may hold `/`, `+`, `=`).
fn meeting(user: &str, id: &Value) -> String {
    let id = id.as_str().unwrap_or_default();
    format!("{}/{}", meetings(user), percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC))
}

/// `…/onlineMeetings?$filter={property} eq '{value}'`, OData-quoted, the value encoded once.
fn filtered(user: &str, property: &str, value: &str) -> String {
    let expression = format!("{property} eq '{}'", value.replace('\'', "''"));
    format!(
        "{}?$filter={}",
        meetings(user),
        percent_encoding::utf8_percent_encode(&expression, percent_encoding::NON_ALPHANUMERIC)
    )
}

#[tokio::test]
async fn meetings_are_read_by_id_and_found_by_join_url_or_meeting_id() {
    let env = env().await;
    let mut tenant = EmulatedTenant::dev();
    tenant.users.push(EmulatedUser::new(SECOND_ORGANIZER_ID, "second@contoso.example", "Second"));
    env.emu.add_tenant(tenant);
    let body = json!({"subject": "Read me", "joinMeetingIdSettings": {"isPasscodeRequired": true}, "lobbyBypassSettings": {"scope": "invited"}});
    let (status, _, created) = env.create(&meetings(DEV_USER_ID), &body, &[]).await;
    assert_eq!(status, 201, "{created}");

    let (status, _, got) =
        env.send("GET", &meeting(DEV_USER_ID, &created["id"]), None, &[("accept-language", "de")]).await;
    assert_eq!(status, 200, "{got}");
    for field in
        ["id", "joinWebUrl", "subject", "startDateTime", "audioConferencing", "joinMeetingIdSettings", "chatInfo"]
    {
        assert_eq!(got[field], created[field], "{field}");
    }
    assert_eq!(got["@odata.context"], created["@odata.context"]);
    assert_eq!(got["lobbyBypassSettings"]["scope"], "unknownFutureValue", "evolvable enums as on create");
    assert!(got["joinInformation"]["content"].as_str().unwrap_or_default().contains("language%3Dde"));
    let beta = meeting(DEV_USER_ID, &created["id"]).replace("/v1.0/", "/beta/");
    let (_, _, shown) = env.send("GET", &beta, None, &[("prefer", "include-unknown-enum-members")]).await;
    assert_eq!(shown["lobbyBypassSettings"]["scope"], "invited");
    assert!(shown["@odata.context"].as_str().unwrap_or_default().contains("/beta/$metadata#users("));
    // By UPN too; another organizer's and an unknown id are not found.
    assert_eq!(env.send("GET", &meeting("Adele.Vance@contoso.example", &created["id"]), None, &[]).await.0, 200);
    for path in [meeting(SECOND_ORGANIZER_ID, &created["id"]), meeting(DEV_USER_ID, &json!("MSpub3RoZXJl"))] {
        assert_graph_error(&env.send("GET", &path, None, &[]).await, 404, "NotFound", "does not exist");
    }
    // An id is one path segment, percent-decoded once: `%2F` is part of it, a raw `/` is not.
    let odd = json!({"id": "MS/a+b=", "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/odd"});
    env.emu.shared.lock().meetings.insert(DEV_TENANT_ID, DEV_USER_ID, &odd, None, Instant::now());
    assert_eq!(env.send("GET", &meeting(DEV_USER_ID, &odd["id"]), None, &[]).await.2["id"], "MS/a+b=");
    let split = env.send("GET", &format!("{}/MS/a+b=", meetings(DEV_USER_ID)), None, &[]).await;
    assert_graph_error(&split, 400, "BadRequest", "Resource not found for the segment 'a+b='.");

    let url = created["joinWebUrl"].as_str().unwrap_or_default();
    let join_id = created["joinMeetingIdSettings"]["joinMeetingId"].as_str().unwrap_or_default();
    let found = [
        filtered(DEV_USER_ID, "JoinWebUrl", url),
        filtered(DEV_USER_ID, "joinweburl", url),
        filtered(DEV_USER_ID, "joinMeetingIdSettings/joinMeetingId", join_id),
        // The documented form: spaces as %20, the rest of the literal as sent.
        format!("{}?$filter=joinMeetingIdSettings/joinMeetingId%20eq%20'{join_id}'", meetings(DEV_USER_ID)),
    ];
    for path in found {
        let (status, _, list) = env.send("GET", &path, None, &[("accept-language", "ja")]).await;
        assert_eq!(status, 200, "{path}: {list}");
        let context = format!("{}/v1.0/$metadata#users('{DEV_USER_ID}')/onlineMeetings", env.emu.graph_endpoint());
        assert_eq!((&list["@odata.context"], list["value"].as_array().map(Vec::len)), (&json!(context), Some(1)));
        let item = &list["value"][0];
        assert_eq!((&item["id"], &item["joinWebUrl"]), (&created["id"], &created["joinWebUrl"]));
        assert!(
            item.get("@odata.context").is_none()
                && item["joinInformation"]["content"].as_str().unwrap_or_default().contains("language%3Dja")
        );
    }
    let empty = [
        filtered(DEV_USER_ID, "JoinWebUrl", &format!("{url}x")),
        filtered(DEV_USER_ID, "joinMeetingIdSettings/joinMeetingId", "it's 123"),
        filtered(SECOND_ORGANIZER_ID, "JoinWebUrl", url),
        filtered(SECOND_ORGANIZER_ID, "joinMeetingIdSettings/joinMeetingId", join_id),
        filtered(DEV_USER_ID, "JoinWebUrl", &url.replace("meetup-join/19%3ameeting_", "meetup-join/19%3ameeting_x")),
    ];
    for path in empty {
        let (status, _, list) = env.send("GET", &path, None, &[]).await;
        assert_eq!((status, &list["value"]), (200, &json!([])), "{path}");
    }
    let expected = "Filter expression expected - /onlineMeetings?$filter={ParameterName} eq '{id}'.";
    let refused = [
        meetings(DEV_USER_ID),
        filtered(DEV_USER_ID, "subject", "Read me"),
        filtered(DEV_USER_ID, "VideoTeleconferenceId", "1"),
        format!("{}?$filter=JoinWebUrl%20ne%20'x'", meetings(DEV_USER_ID)),
        format!("{}?$filter=JoinWebUrl%20eq%20'it's'", meetings(DEV_USER_ID)),
        format!("{}?$filter=JoinWebUrl%20eq%20x", meetings(DEV_USER_ID)),
        // `+` is not a space in Graph's query strings.
        format!("{}?$filter=joinMeetingIdSettings/joinMeetingId+eq+'{join_id}'", meetings(DEV_USER_ID)),
    ];
    for path in refused {
        assert_graph_error(&env.send("GET", &path, None, &[]).await, 400, "InvalidArgument", expected);
    }
}

#[test]
fn filters_follow_odata_quoting() {
    use meetings::MeetingKey::{JoinMeetingId, JoinWebUrl};
    let parse = meetings::parse_filter;
    assert_eq!(parse("JoinWebUrl eq 'a'"), Some((JoinWebUrl, "a".to_owned())));
    assert_eq!(parse(" JOINWEBURL  eq  'it''s'' '  "), Some((JoinWebUrl, "it's' ".to_owned())));
    assert_eq!(parse("joinMeetingIdSettings/joinMeetingId eq ''"), Some((JoinMeetingId, String::new())));
    assert_eq!(parse("joinMeetingIdSettings/joinMeetingId eq ''''"), Some((JoinMeetingId, "'".to_owned())));
    for bad in [
        "JoinWebUrl eq 'a''",
        "JoinWebUrl eq 'a",
        "JoinWebUrl eq a",
        "JoinWebUrl gt 'a'",
        "JoinWebUrl",
        "subject eq 'a'",
        "JoinWebUrl eq 'a' or 1",
    ] {
        assert_eq!(parse(bad), None, "{bad}");
    }
}

#[tokio::test]
async fn patch_applies_what_the_update_page_allows() {
    let env = env().await;
    let attendee = |upn: &str| json!({"identity": {"user": {"id": null}}, "upn": upn, "role": "attendee"});
    let body = json!({
        "subject": "Before", "startDateTime": "2030-01-01T10:00:00Z", "endDateTime": "2030-01-01T11:00:00Z",
        "allowMeetingChat": "limited", "lobbyBypassSettings": {"scope": "everyone"},
        "participants": {"attendees": [attendee("a@contoso.example"), attendee("b@contoso.example")]},
    });
    let (_, _, created) = env.create(&meetings(DEV_USER_ID), &body, &[]).await;
    let path = meeting(DEV_USER_ID, &created["id"]);
    let patch = json!({
        "subject": "After", "startDateTime": "2030-01-02T10:00:00+02:00", "endDateTime": "2030-01-02T11:30:00+02:00",
        "lobbyBypassSettings": {"isDialInBypassEnabled": true}, "allowMeetingChat": null, "allowRecording": false,
        "participants": {"attendees": [{"upn": "c@contoso.example"}]}, "@odata.type": "#microsoft.graph.onlineMeeting",
    });
    let (status, _, updated) = env.send("PATCH", &path, Some(&patch), &[]).await;
    assert_eq!(status, 200, "{updated}");
    assert_subset(
        &updated,
        &json!({
            "id": created["id"], "joinWebUrl": created["joinWebUrl"], "subject": "After",
            "startDateTime": "2030-01-02T08:00:00.0000000Z", "endDateTime": "2030-01-02T09:30:00.0000000Z",
            "lobbyBypassSettings": {"scope": "everyone", "isDialInBypassEnabled": true}, "allowRecording": false,
            "participants": {"organizer": created["participants"]["organizer"], "attendees": [{"upn": "c@contoso.example", "role": null}]},
        }),
        "",
    );
    assert_eq!(updated["participants"]["attendees"].as_array().map(Vec::len), Some(1), "attendees are replaced");
    assert!(updated.get("allowMeetingChat").is_none(), "null clears");
    let (_, _, got) = env.send("GET", &path, None, &[]).await;
    assert_eq!((&got["subject"], &got["endDateTime"]), (&json!("After"), &updated["endDateTime"]));
    let (_, _, cleared) = env.send("PATCH", &path, Some(&json!({"subject": null})), &[]).await;
    assert_eq!((cleared.get("subject"), &cleared["allowRecording"]), (Some(&Value::Null), &json!(false)));

    #[rustfmt::skip]
    let refused = [
        (json!({"joinMeetingIdSettings": {"isPasscodeRequired": true}}), "'joinMeetingIdSettings' of an onlineMeeting cannot be updated"),
        (json!({"meetingTemplateId": "05b9ed5f-2ac3-4470-aae9-f4a0c30b1a4b"}), "'meetingTemplateId'"),
        (json!({"joinWebUrl": "https://example.invalid"}), "'joinWebUrl'"),
        (json!({"chatInfo": {"threadId": "x"}}), "'chatInfo'"),
        (json!({"externalId": "x"}), "'externalId'"),
        (json!({"allowParticipantsToChangeName": true}), "'allowParticipantsToChangeName'"),
        (json!({"subject": "x", "id": "other"}), "'id'"),
        (json!({"startDateTime": "2030-01-02T10:00:00Z"}), "requires both startDateTime and endDateTime"),
        (json!({"endDateTime": "2030-01-02T10:00:00Z"}), "requires both startDateTime and endDateTime"),
        (json!({"startDateTime": "2030-01-02T10:00:00Z", "endDateTime": "2030-01-02T09:00:00Z"}), "later than"),
        (json!({"startDateTime": null, "endDateTime": null}), "cannot be null"),
        (json!({"participants": {"organizer": {"upn": "b@contoso.example"}}}), "organizer of the meeting can't be modified"),
        (json!({"participants": {"producers": []}}), "Only attendees"),
        (json!({"subject": 5}), "Cannot convert the literal '5' to the expected type 'Edm.String'."),
        (json!({"allowMeetingChat": "sometimes"}), "'microsoft.graph.meetingChatMode'"),
    ];
    for (patch, message) in refused {
        assert_graph_error(&env.send("PATCH", &path, Some(&patch), &[]).await, 400, "BadRequest", message);
    }
    let (_, _, anonymized) =
        env.send("PATCH", &path, Some(&json!({"anonymizeIdentityForRoles": ["attendee"]})), &[]).await;
    assert_eq!(anonymized["anonymizeIdentityForRoles"], json!(["attendee"]));
    let removal = env.send("PATCH", &path, Some(&json!({"anonymizeIdentityForRoles": []})), &[]).await;
    assert_graph_error(&removal, 400, "BadRequest", "can't be removed once added");
    // Nothing refused was applied.
    assert_eq!(env.send("GET", &path, None, &[]).await.2["endDateTime"], updated["endDateTime"]);
    let missing =
        env.send("PATCH", &meeting(DEV_USER_ID, &json!("bm9uZQ==")), Some(&json!({"subject": "x"})), &[]).await;
    assert_graph_error(&missing, 404, "NotFound", "does not exist");
    let token = env.token().await;
    let unreadable =
        env.http.patch(format!("{}{path}", env.emu.graph_endpoint())).bearer_auth(token).body("{}").send().await;
    assert_graph_error(
        &reply(unreadable.expect("sent")).await,
        400,
        "BadRequest",
        "Unable to read JSON request payload",
    );
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let env = env().await;
    let body = json!({"externalId": "to-delete"});
    let (_, _, created) = env.create(&format!("{}/createOrGet", meetings(DEV_USER_ID)), &body, &[]).await;
    let path = meeting(DEV_USER_ID, &created["id"]);
    let token = env.token().await;
    let deleted =
        env.http.delete(format!("{}{path}", env.emu.graph_endpoint())).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.headers().get("content-type").is_none() && deleted.headers().get("request-id").is_some());
    assert!(deleted.text().await.unwrap_or_default().is_empty());
    for method in ["GET", "DELETE"] {
        assert_graph_error(&env.send(method, &path, None, &[]).await, 404, "NotFound", "does not exist");
    }
    let url = created["joinWebUrl"].as_str().unwrap_or_default();
    assert_eq!(env.send("GET", &filtered(DEV_USER_ID, "JoinWebUrl", url), None, &[]).await.2["value"], json!([]));
    // The externalId is free again: createOrGet makes a new meeting.
    let (status, _, again) = env.create(&format!("{}/createOrGet", meetings(DEV_USER_ID)), &body, &[]).await;
    assert!(status == 201 && again["id"] != created["id"]);
}

#[tokio::test]
async fn every_meeting_route_checks_user_policy_and_method() {
    let env = env().await;
    let (_, _, created) = env.create(&meetings(DEV_USER_ID), &json!({}), &[]).await;
    let id = &created["id"];
    let url = created["joinWebUrl"].as_str().unwrap_or_default();
    let patch = json!({"subject": "x"});
    for user in [DEV_USER_NO_POLICY_ID, "nobody@contoso.example"] {
        let (status, code, message) = if user == DEV_USER_NO_POLICY_ID {
            (403, "Forbidden", "No Application Access Policy found for this app")
        } else {
            (404, "NotFound", "Resource 'nobody@contoso.example' does not exist")
        };
        let calls: [(&str, String, Option<&Value>); 4] = [
            ("GET", meeting(user, id), None),
            ("PATCH", meeting(user, id), Some(&patch)),
            ("DELETE", meeting(user, id), None),
            ("GET", filtered(user, "JoinWebUrl", url), None),
        ];
        for (method, path, body) in calls {
            assert_graph_error(&env.send(method, &path, body, &[]).await, status, code, message);
        }
    }
    let not_allowed = [
        ("PUT", meeting(DEV_USER_ID, id)),
        ("POST", meeting(DEV_USER_ID, id)),
        ("DELETE", meetings(DEV_USER_ID)),
        ("PATCH", meetings(DEV_USER_ID)),
        ("GET", format!("{}/createOrGet", meetings(DEV_USER_ID))),
    ];
    for (method, path) in not_allowed {
        assert_graph_error(&env.send(method, &path, Some(&json!({})), &[]).await, 405, "MethodNotAllowed", method);
    }
    assert_eq!(env.send("GET", &meeting(DEV_USER_ID, id), None, &[]).await.0, 200, "none of these changed it");
}

#[tokio::test]
async fn faults_apply_to_every_route_and_after_processing_takes_effect() {
    let env = env().await;
    let (_, _, created) = env.create(&meetings(DEV_USER_ID), &json!({"subject": "Faulty"}), &[]).await;
    let path = meeting(DEV_USER_ID, &created["id"]);
    env.emu.push_fault(Fault::graph_status(429).retry_after("1"));
    let throttled = env.send("GET", &path, None, &[]).await;
    assert_graph_error(&throttled, 429, "TooManyRequests", "retry");
    assert_eq!(throttled.1["retry-after"], "1");

    env.emu.push_fault(Fault::graph_status(504).after_processing());
    let lost = env.send("PATCH", &path, Some(&json!({"subject": "Patched anyway"})), &[]).await;
    assert_graph_error(&lost, 504, "GatewayTimeout", "timely response");
    assert_eq!(env.send("GET", &path, None, &[]).await.2["subject"], "Patched anyway");

    env.emu.push_fault(Fault::graph_status(500).after_processing());
    assert_graph_error(
        &env.send("DELETE", &path, None, &[]).await,
        500,
        "InternalServerError",
        "Internal Server Error",
    );
    assert_graph_error(&env.send("DELETE", &path, None, &[]).await, 404, "NotFound", "does not exist");

    env.emu.push_fault(Fault::graph_status(502));
    let filter = filtered(DEV_USER_ID, "JoinWebUrl", created["joinWebUrl"].as_str().unwrap_or_default());
    assert_graph_error(&env.send("GET", &filter, None, &[]).await, 502, "BadGateway", "Bad Gateway");
    let methods: Vec<String> = env
        .emu
        .requests()
        .iter()
        .filter(|r| r.host == Host::Graph)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(methods.len(), 7);
    assert_eq!(
        methods[1..5].iter().map(|m| m.split(' ').next().unwrap_or_default()).collect::<Vec<_>>(),
        ["GET", "PATCH", "GET", "DELETE"]
    );
    assert_eq!(methods[6], format!("GET {filter}"));
}

#[tokio::test]
async fn meetings_become_findable_after_the_visibility_delay() {
    let env = env_with(EmulatorConfig { visibility_delay: Duration::from_millis(400), ..Default::default() }).await;
    let (_, _, created) = env.create(&meetings(DEV_USER_ID), &json!({}), &[]).await;
    let filter = filtered(DEV_USER_ID, "JoinWebUrl", created["joinWebUrl"].as_str().unwrap_or_default());
    let started = Instant::now();
    assert_eq!(env.send("GET", &filter, None, &[]).await.2["value"], json!([]));
    assert_eq!(env.send("GET", &meeting(DEV_USER_ID, &created["id"]), None, &[]).await.0, 200, "GET is not delayed");
    tokio::time::sleep(Duration::from_millis(400).saturating_sub(started.elapsed()) + Duration::from_millis(50)).await;
    assert_eq!(env.send("GET", &filter, None, &[]).await.2["value"][0]["id"], created["id"]);
    env.emu.set_visibility_delay(Duration::ZERO);
    let (_, _, now) = env.create(&meetings(DEV_USER_ID), &json!({}), &[]).await;
    let filter = filtered(DEV_USER_ID, "JoinWebUrl", now["joinWebUrl"].as_str().unwrap_or_default());
    assert_eq!(env.send("GET", &filter, None, &[]).await.2["value"][0]["id"], now["id"]);
}

#[tokio::test]
async fn the_meeting_store_forgets_the_oldest_past_its_capacity() {
    let env = env_with(EmulatorConfig { store_capacity: 3, ..Default::default() }).await;
    let or_get = format!("{}/createOrGet", meetings(DEV_USER_ID));
    let mut ids = Vec::new();
    for x in ["a", "b", "c", "d"] {
        let (status, _, m) = env.create(&or_get, &json!({"externalId": x}), &[]).await;
        assert_eq!(status, 201);
        ids.push(m);
    }
    assert_eq!(env.emu.shared.lock().meetings.len(), 3);
    let first = &ids[0];
    assert_eq!(env.send("GET", &meeting(DEV_USER_ID, &first["id"]), None, &[]).await.0, 404);
    let filter = filtered(DEV_USER_ID, "JoinWebUrl", first["joinWebUrl"].as_str().unwrap_or_default());
    assert_eq!(env.send("GET", &filter, None, &[]).await.2["value"], json!([]));
    for m in &ids[1..] {
        assert_eq!(env.send("GET", &meeting(DEV_USER_ID, &m["id"]), None, &[]).await.0, 200);
    }
    // Its externalId is forgotten with it; the others still answer 200.
    assert_eq!(env.create(&or_get, &json!({"externalId": "b"}), &[]).await.0, 200);
    assert_eq!(env.create(&or_get, &json!({"externalId": "a"}), &[]).await.0, 201);
    let stored = env.emu.shared.lock().meetings.len();
    assert_eq!((stored, env.emu.meetings_created()), (3, 5));
    assert_eq!(EmulatorConfig::default().store_capacity, 100_000);
}

fn events(user: &str) -> String {
    format!("/v1.0/users/{user}/events")
}

fn event(user: &str, id: &Value) -> String {
    let id = id.as_str().unwrap_or_default();
    format!("{}/{}", events(user), percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC))
}

/// An event body as the Schedule RPC sends it (Graph's example 4, in another zone).
fn event_body(zone: &str, start: &str, end: &str) -> Value {
    json!({
        "subject": "Plan the picnic",
        "body": {"contentType": "HTML", "content": "<p>Does noon work for you?</p>"},
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        "location": {"displayName": "Harry's Bar"},
        "attendees": [
            {"emailAddress": {"address": "samanthab@contoso.example", "name": "Samantha Booth"}, "type": "Required"},
            {"emailAddress": {"address": "room1@contoso.example"}, "type": "resource"},
        ],
        "allowNewTimeProposals": false, "isReminderOn": true, "reminderMinutesBeforeStart": 30,
        "isOnlineMeeting": true, "onlineMeetingProvider": "teamsForBusiness",
    })
}

#[tokio::test]
async fn events_are_created_with_a_teams_meeting_behind_them() {
    let env = env().await;
    let mut body = event_body("W. Europe Standard Time", "2030-07-01T10:00:00", "2030-07-01T11:30:00");
    body["transactionId"] = json!("7E163156-7762-4BEB-A1C6-729EA81755A7");
    let (status, _, created) = env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await;
    assert_eq!(status, 201, "{created}");
    let graph = env.emu.graph_endpoint();
    let join_url = created["onlineMeeting"]["joinUrl"].as_str().unwrap_or_default().to_owned();
    assert_subset(
        &created,
        &json!({
            "@odata.context": format!("{graph}/v1.0/$metadata#users('{DEV_USER_ID}')/events/$entity"),
            "subject": "Plan the picnic", "isOnlineMeeting": true, "onlineMeetingProvider": "teamsForBusiness",
            "start": {"dateTime": "2030-07-01T10:00:00.0000000", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2030-07-01T11:30:00.0000000", "timeZone": "W. Europe Standard Time"},
            "originalStartTimeZone": "W. Europe Standard Time", "originalEndTimeZone": "W. Europe Standard Time",
            "transactionId": body["transactionId"], "allowNewTimeProposals": false, "reminderMinutesBeforeStart": 30,
            "isCancelled": false, "isOrganizer": true, "type": "singleInstance", "showAs": "busy",
            "body": {"contentType": "html"}, "bodyPreview": "Does noon work for you?",
            "location": {"displayName": "Harry's Bar", "locationType": "default"},
            "organizer": {"emailAddress": {"name": "Adele Vance", "address": "adele.vance@contoso.example"}},
            "onlineMeeting": {"tollNumber": "+14255550100"},
        }),
        "",
    );
    let id = created["id"].as_str().unwrap_or_default();
    assert!(id.starts_with("AAMkAG") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)), "{id}");
    assert!(created["webLink"].as_str().unwrap_or_default().contains(&format!("itemid={}", wire::form_encode(id))));
    assert!(created["iCalUId"]
        .as_str()
        .is_some_and(|u| u.starts_with("040000008200E00074C5B7101A82E008") && u.len() == 112));
    assert_eq!(created["@odata.etag"], format!("W/\"{}\"", created["changeKey"].as_str().unwrap_or("?")));
    assert_eq!(
        created["attendees"],
        json!([
            {"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}, "emailAddress": {"name": "Samantha Booth", "address": "samanthab@contoso.example"}},
            {"type": "resource", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}, "emailAddress": {"name": "room1@contoso.example", "address": "room1@contoso.example"}},
        ])
    );
    assert!(created["body"]["content"].as_str().unwrap_or_default().contains("<p>Does noon work for you?</p>"));
    assert!(join_url.starts_with("https://teams.microsoft.com/l/meetup-join/19%3ameeting_"));

    // The meeting behind it: found by the join URL, with the event's subject, times and attendees.
    let (status, _, found) = env.send("GET", &filtered(DEV_USER_ID, "JoinWebUrl", &join_url), None, &[]).await;
    let m = &found["value"][0];
    assert_eq!(status, 200, "{found}");
    assert_subset(
        m,
        &json!({
            "joinWebUrl": join_url, "subject": "Plan the picnic",
            "startDateTime": "2030-07-01T08:00:00.0000000Z", "endDateTime": "2030-07-01T09:30:00.0000000Z",
            "audioConferencing": {"conferenceId": created["onlineMeeting"]["conferenceId"]},
            "participants": {"organizer": {"upn": "adele.vance@contoso.example"}},
        }),
        "",
    );
    // Rooms and other resources are no meeting participants.
    let attendee = json!({"identity": {"user": {"id": null, "displayName": "Samantha Booth", "tenantId": null, "identityProvider": "AAD"}}, "upn": "samanthab@contoso.example", "role": "attendee"});
    assert_eq!(m["participants"]["attendees"], json!([attendee]));
    assert_eq!((env.emu.meetings_created(), env.emu.events_created()), (1, 1));

    // Later reads are in UTC unless `Prefer: outlook.timezone` names a zone.
    let (status, _, got) = env.send("GET", &event(DEV_USER_ID, &created["id"]), None, &[]).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["start"], json!({"dateTime": "2030-07-01T08:00:00.0000000", "timeZone": "UTC"}));
    assert_eq!(got["originalStartTimeZone"], "W. Europe Standard Time");
    let prefer = [("prefer", "outlook.timezone=\"Pacific Standard Time\"")];
    let (_, _, pacific) = env.send("GET", &event(DEV_USER_ID, &created["id"]), None, &prefer).await;
    assert_eq!(pacific["end"], json!({"dateTime": "2030-07-01T02:30:00.0000000", "timeZone": "Pacific Standard Time"}));

    // A retried POST with the transactionId: the same event, nothing new.
    let (status, _, again) = env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await;
    assert_eq!((status, &again["id"], &again["onlineMeeting"]), (201, &created["id"], &created["onlineMeeting"]));
    assert_eq!((env.emu.meetings_created(), env.emu.events_created()), (1, 1));
    body["transactionId"] = json!("another");
    let (status, _, other) = env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await;
    assert!(status == 201 && other["id"] != created["id"] && other["onlineMeeting"]["joinUrl"] != join_url);
    assert_eq!((env.emu.meetings_created(), env.emu.events_created()), (2, 2));

    // IANA names Graph lists work too, across a DST change; the provider is Teams by default.
    let mut body = event_body("europe/berlin", "2030-03-30T12:00:00", "2030-03-31T12:00:00");
    body.as_object_mut().map(|b| b.remove("onlineMeetingProvider"));
    let (status, _, across) = env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await;
    assert_eq!((status, &across["start"]["timeZone"]), (201, &json!("europe/berlin")));
    let url = across["onlineMeeting"]["joinUrl"].as_str().unwrap_or_default();
    let m = env.send("GET", &filtered(DEV_USER_ID, "JoinWebUrl", url), None, &[]).await.2["value"][0].clone();
    assert_eq!(
        (&m["startDateTime"], &m["endDateTime"]),
        (&json!("2030-03-30T11:00:00.0000000Z"), &json!("2030-03-31T10:00:00.0000000Z"))
    );
}

#[tokio::test]
async fn event_bodies_and_time_zones_are_checked_as_graph_does() {
    let env = env().await;
    let unsupported = "A valid TimeZone value must be specified. The following TimeZone value is not supported:";
    for zone in ["Greenwich Mean Time", "Europe/Madrid", "", "+02:00"] {
        let reply = env
            .send(
                "POST",
                &events(DEV_USER_ID),
                Some(&event_body(zone, "2030-01-01T10:00:00", "2030-01-01T11:00:00")),
                &[],
            )
            .await;
        assert_graph_error(&reply, 400, "TimeZoneNotSupportedException", &format!("{unsupported} '{zone}'."));
    }
    let base = event_body("UTC", "2030-01-01T10:00:00", "2030-01-01T11:00:00");
    let with = |patch: Value| patched(base.clone(), patch);
    #[rustfmt::skip]
    let refused = [
        (with(json!({"start": {"dateTime": "tomorrow", "timeZone": "UTC"}})), "UnableToDeserializePostBody", "were unable to deserialize"),
        (with(json!({"end": null})), "ErrorPropertyValidationFailure", "At least one property failed validation."),
        (with(json!({"end": {"dateTime": "2030-01-01T09:00:00", "timeZone": "UTC"}})), "ErrorPropertyValidationFailure", "failed validation"),
        (with(json!({"isOnlineMeetting": true})), "BadRequest", "The property 'isOnlineMeetting' does not exist on type 'microsoft.graph.event'."),
        (with(json!({"subject": 5})), "BadRequest", "Cannot convert the literal '5' to the expected type 'Edm.String'."),
        (with(json!({"reminderMinutesBeforeStart": "15"})), "BadRequest", "'Edm.Int32'"),
        (with(json!({"attendees": [{"emailAddress": {"address": "a@b.example"}, "type": "chair"}]})), "BadRequest", "'microsoft.graph.attendeeType'"),
        (with(json!({"onlineMeetingProvider": "zoom"})), "BadRequest", "'microsoft.graph.onlineMeetingProviderType'"),
        (with(json!({"start": {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC", "offset": 1}})), "BadRequest", "'offset' does not exist on type 'microsoft.graph.dateTimeTimeZone'"),
    ];
    for (body, code, message) in refused {
        assert_graph_error(&env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await, 400, code, message);
    }
    // Read-only properties and annotations are ignored, Windows ids match in any case.
    let accepted = with(
        json!({"id": "mine", "webLink": "x", "@odata.type": "#microsoft.graph.event", "start": {"dateTime": "2030-01-01T10:00:00.1234567", "timeZone": "utc"}}),
    );
    let (status, _, created) = env.send("POST", &events(DEV_USER_ID), Some(&accepted), &[]).await;
    assert_eq!((status, &created["start"]["dateTime"]), (201, &json!("2030-01-01T10:00:00.1234567")), "{created}");
    assert_ne!(created["id"], "mine");
    assert_eq!((env.emu.events_created(), env.emu.meetings_created()), (1, 1));
}

#[test]
fn graph_time_zone_names_resolve_with_dst() {
    let unresolved: Vec<&str> = zones::names().filter(|n| zones::resolve(n).is_none()).collect();
    assert!(unresolved.is_empty(), "{unresolved:?}");
    assert!(zones::names().count() > 230);
    for name in ["Europe/Madrid", "Greenwich Mean Time", "America/Argentina/Cordoba", "Local", ""] {
        assert!(zones::resolve(name).is_none(), "{name}");
    }
    let berlin = zones::resolve("W. Europe Standard Time").expect("Windows id");
    let at = |s: &str| zones::instant(s, &berlin).map(wire::graph_datetime);
    // Winter, summer, a time the spring change skips (moves forward), one the autumn change repeats (the earlier).
    assert_eq!(at("2030-01-15T10:00:00").as_deref(), Some("2030-01-15T09:00:00.0000000Z"));
    assert_eq!(at("2030-07-15T10:00:00.5").as_deref(), Some("2030-07-15T08:00:00.5000000Z"));
    assert_eq!(at("2030-03-31T02:30:00").as_deref(), Some("2030-03-31T01:30:00.0000000Z"));
    assert_eq!(at("2030-10-27T02:30:00").as_deref(), Some("2030-10-27T00:30:00.0000000Z"));
    assert_eq!(at("2030-13-01T00:00:00"), None);
    let t = wire::parse_datetime("2030-10-27T01:30:00Z").expect("parses");
    assert_eq!(zones::local(t, &berlin), "2030-10-27T02:30:00.0000000");
    let kolkata = zones::resolve("Asia/Kolkata").expect("listed");
    assert_eq!(zones::local(t, &kolkata), "2030-10-27T07:00:00.0000000");
}

#[tokio::test]
async fn calendars_without_teams_get_events_without_a_meeting() {
    let env = env().await;
    let body = event_body("Tokyo Standard Time", "2030-01-01T10:00:00", "2030-01-01T11:00:00");
    let (status, _, created) = env.send("POST", &events(DEV_USER_NO_TEAMS_CALENDAR_ID), Some(&body), &[]).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (&created["isOnlineMeeting"], &created["onlineMeetingProvider"], &created["onlineMeeting"]),
        (&json!(false), &json!("unknown"), &Value::Null)
    );
    let (_, _, plain) = env
        .send("POST", &events(DEV_USER_ID), Some(&patched(body.clone(), json!({"isOnlineMeeting": false}))), &[])
        .await;
    assert_eq!((&plain["isOnlineMeeting"], &plain["onlineMeeting"]), (&json!(false), &Value::Null));
    let (_, _, skype) = env
        .send(
            "POST",
            &events(DEV_USER_ID),
            Some(&patched(body, json!({"onlineMeetingProvider": "skypeForBusiness"}))),
            &[],
        )
        .await;
    assert_eq!((&skype["isOnlineMeeting"], &skype["onlineMeetingProvider"]), (&json!(false), &json!("unknown")));
    assert_eq!((env.emu.events_created(), env.emu.meetings_created()), (3, 0));
}

#[tokio::test]
async fn events_are_cancelled_and_deleted() {
    let env = env().await;
    let body = event_body("UTC", "2030-01-01T10:00:00", "2030-01-01T11:00:00");
    let (_, _, first) = env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await;
    let (_, _, second) = env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await;
    let cancel = format!("{}/cancel", event(DEV_USER_ID, &first["id"]));
    let token = env.token().await;
    let cancelled = env
        .http
        .post(format!("{}{cancel}", env.emu.graph_endpoint()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"Comment": "Cancelling for this week due to all hands"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(cancelled.status(), StatusCode::ACCEPTED);
    assert!(cancelled.text().await.unwrap_or_default().is_empty());
    let id = first["id"].as_str().unwrap_or_default().to_owned();
    let comment = Some("Cancelling for this week due to all hands".to_owned());
    assert_eq!(
        env.emu.cancelled_events(),
        [CancelledEvent { organizer_id: DEV_USER_ID.to_owned(), event_id: id, comment }]
    );
    let gone = "The specified object was not found in the store.";
    for (method, path) in [
        ("POST", cancel.clone()),
        ("GET", event(DEV_USER_ID, &first["id"])),
        ("DELETE", event(DEV_USER_ID, &first["id"])),
    ] {
        let body = (method == "POST").then(|| json!({"comment": "again"}));
        assert_graph_error(&env.send(method, &path, body.as_ref(), &[]).await, 404, "ErrorItemNotFound", gone);
    }
    // The meeting behind a cancelled event stays.
    let url = first["onlineMeeting"]["joinUrl"].as_str().unwrap_or_default();
    assert_eq!(
        env.send("GET", &filtered(DEV_USER_ID, "JoinWebUrl", url), None, &[]).await.2["value"][0]["joinWebUrl"],
        url
    );

    let path = event(DEV_USER_ID, &second["id"]);
    let bad = env.send("POST", &format!("{path}/cancel"), Some(&json!({"comment": "x", "notify": true})), &[]).await;
    assert_graph_error(
        &bad,
        400,
        "BadRequest",
        "The parameter 'notify' in the request payload is not a valid parameter for the operation 'cancel'.",
    );
    assert_graph_error(
        &env.send("POST", &format!("{path}/cancel"), Some(&json!({"comment": 1})), &[]).await,
        400,
        "BadRequest",
        "Edm.String",
    );
    let deleted = env.send("DELETE", &path, None, &[]).await;
    assert_eq!((deleted.0, &deleted.2), (204, &Value::Null));
    assert_graph_error(&env.send("DELETE", &path, None, &[]).await, 404, "ErrorItemNotFound", gone);
    assert_graph_error(
        &env.send("POST", &format!("{path}/cancel"), Some(&json!({})), &[]).await,
        404,
        "ErrorItemNotFound",
        gone,
    );
    assert_eq!(env.emu.cancelled_events().len(), 1);
}

#[tokio::test]
async fn event_routes_check_users_faults_and_methods() {
    let env = env().await;
    let body = event_body("UTC", "2030-01-01T10:00:00", "2030-01-01T11:00:00");
    // No application access policy is needed for the calendar, but then the meeting lookup is 403.
    let (status, _, created) = env.send("POST", &events(DEV_USER_NO_POLICY_ID), Some(&body), &[]).await;
    assert_eq!((status, &created["isOnlineMeeting"]), (201, &json!(true)), "{created}");
    assert_eq!(env.send("GET", &event(DEV_USER_NO_POLICY_ID, &created["id"]), None, &[]).await.0, 200);
    let url = created["onlineMeeting"]["joinUrl"].as_str().unwrap_or_default();
    let lookup = env.send("GET", &filtered(DEV_USER_NO_POLICY_ID, "JoinWebUrl", url), None, &[]).await;
    assert_graph_error(&lookup, 403, "Forbidden", "No Application Access Policy found for this app");
    // Another organizer's event is not found; an unknown user is 404.
    assert_eq!(env.send("GET", &event(DEV_USER_ID, &created["id"]), None, &[]).await.0, 404);
    let nobody = "Resource 'nobody@contoso.example' does not exist";
    assert_graph_error(
        &env.send("POST", &events("nobody@contoso.example"), Some(&body), &[]).await,
        404,
        "NotFound",
        nobody,
    );
    assert_graph_error(
        &env.send("GET", &event("nobody@contoso.example", &created["id"]), None, &[]).await,
        404,
        "NotFound",
        nobody,
    );
    for (method, path) in [
        ("PATCH", event(DEV_USER_ID, &created["id"])),
        ("GET", events(DEV_USER_ID)),
        ("GET", format!("{}/cancel", event(DEV_USER_ID, &created["id"]))),
    ] {
        assert_graph_error(&env.send(method, &path, Some(&json!({})), &[]).await, 405, "MethodNotAllowed", method);
    }

    // A create processed but answered 500: its retry with the transactionId gets the same event.
    let body = patched(body, json!({"transactionId": "retry-me"}));
    env.emu.push_fault(Fault::graph_status(500).after_processing());
    assert_graph_error(
        &env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await,
        500,
        "InternalServerError",
        "Internal",
    );
    let (status, _, retried) = env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await;
    assert_eq!((status, env.emu.events_created(), env.emu.meetings_created()), (201, 2, 2));
    let path = event(DEV_USER_ID, &retried["id"]);
    env.emu.push_fault(Fault::graph_status(503));
    assert_eq!(env.send("POST", &format!("{path}/cancel"), Some(&json!({})), &[]).await.0, 503);
    assert_eq!(env.send("GET", &path, None, &[]).await.0, 200, "a fault before processing changes nothing");
    env.emu.push_fault(Fault::graph_status(502).after_processing());
    assert_eq!(env.send("DELETE", &path, None, &[]).await.0, 502);
    assert_eq!(env.send("GET", &path, None, &[]).await.0, 404, "processed before the fault");
    let logged = env.emu.requests().iter().filter(|r| r.host == Host::Graph && r.path.contains("/events")).count();
    assert_eq!(logged, 14);
}

#[tokio::test]
async fn the_event_store_is_bounded_too() {
    let env = env_with(EmulatorConfig { store_capacity: 2, ..Default::default() }).await;
    let mut created = Vec::new();
    for tx in ["one", "two", "three"] {
        let body =
            patched(event_body("UTC", "2030-01-01T10:00:00", "2030-01-01T11:00:00"), json!({"transactionId": tx}));
        created.push(env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await.2);
    }
    let stored = env.emu.shared.lock().events.len();
    assert_eq!(stored, 2);
    assert_eq!(env.send("GET", &event(DEV_USER_ID, &created[0]["id"]), None, &[]).await.0, 404);
    assert_eq!(env.send("GET", &event(DEV_USER_ID, &created[2]["id"]), None, &[]).await.0, 200);
    // The forgotten event's transactionId is forgotten with it.
    let body =
        patched(event_body("UTC", "2030-01-01T10:00:00", "2030-01-01T11:00:00"), json!({"transactionId": "one"}));
    assert_ne!(env.send("POST", &events(DEV_USER_ID), Some(&body), &[]).await.2["id"], created[0]["id"]);
    assert_eq!(env.emu.events_created(), 4);
}
