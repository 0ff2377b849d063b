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
        ("/v1.0/users/x/events", json_type.clone(), "{}", 400, "BadRequest", "Resource not found for the segment 'events'."),
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
