//! Trust boundaries: TLS and mTLS (with certificate reload), caller identity from client
//! certificates and bearer JWTs, and the caller policy. Fail closed; denials don't reveal
//! whether a tenant exists; unauthenticated callers learn nothing else.

use std::{path::PathBuf, sync::Arc, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use meeting_emulator::EmulatorConfig;
use meeting_service::{
    config::{AuthMode, CallerPolicySettings, JwtIssuerSettings, TlsSettings},
    grpc::pb::{self, meeting_service_client::MeetingServiceClient},
};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName};
use tonic::{
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
    Code,
};

use crate::helpers::*;

fn pki(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pki").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(pki(name)).unwrap()
}

const SCHEDULER: &str = "spiffe://cluster.local/ns/apps/sa/scheduler";

async fn tls_client(
    addr: std::net::SocketAddr,
    identity: Option<&str>,
) -> Result<MeetingServiceClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read("ca.pem"))).domain_name("localhost");
    if let Some(who) = identity {
        tls = tls.identity(Identity::from_pem(read(&format!("{who}.pem")), read(&format!("{who}.key"))));
    }
    let channel = Channel::from_shared(format!("https://{addr}")).unwrap().tls_config(tls)?.connect().await?;
    Ok(MeetingServiceClient::new(channel))
}

#[tokio::test]
async fn mtls_identifies_callers_and_the_policy_decides_their_tenants() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| {
        s.server.tls = Some(TlsSettings {
            cert_file: pki("server.pem"),
            key_file: pki("server.key"),
            client_ca_file: Some(pki("ca.pem")),
        });
        s.auth.mode = AuthMode::Policy;
        s.auth.policies = vec![CallerPolicySettings {
            callers: vec![SCHEDULER.into()],
            tenants: vec![TENANT.into()],
            organizers: vec![],
        }];
    })
    .await;

    let mut scheduler = tls_client(app.addr, Some("scheduler")).await.expect("mTLS handshake");
    scheduler.create(request(simple_meeting())).await.expect("the scheduler may use the tenant");

    let mut intruder = tls_client(app.addr, Some("intruder")).await.expect("a valid certificate of the same CA");
    let denied = intruder.create(request(simple_meeting())).await.expect_err("not in the policy");
    assert_status(&denied, Code::PermissionDenied, "CALLER_NOT_PERMITTED");
    let mut elsewhere = request(simple_meeting());
    elsewhere.tenant_id = "11111111-2222-4333-8444-555555555555".into();
    let unknown = scheduler.create(elsewhere).await.expect_err("a tenant it may not use");
    assert_eq!(unknown.message(), denied.message(), "no tenant enumeration");

    // Without a client certificate there is no connection at all.
    let anonymous = match tls_client(app.addr, None).await {
        Err(_) => None,
        Ok(mut client) => Some(client.create(request(simple_meeting())).await),
    };
    assert!(!matches!(anonymous, Some(Ok(_))), "a caller without a client certificate was served");
    assert_eq!(app.emulator.meetings_created(), 1);
}

/// An RS256 JWT signed with the fixture key (kid "test-key").
fn jwt(claims: serde_json::Value, tamper: bool) -> String {
    let key = ring::signature::RsaKeyPair::from_pkcs8(
        PrivateKeyDer::from_pem_file(pki("jwt-signing.key")).unwrap().secret_der(),
    )
    .unwrap();
    let header =
        URL_SAFE_NO_PAD.encode(serde_json::json!({"alg": "RS256", "kid": "test-key", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{body}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    if tamper {
        signature[0] ^= 1;
    }
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The issuer of Kubernetes service-account tokens.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Callers prove themselves with JWTs from `ISSUER`; the scheduler's service account may act in
/// every tenant for the `organizers` rule.
fn scheduler_may_act_for(s: &mut meeting_service::config::Settings, organizers: &str) {
    s.auth.mode = AuthMode::Policy;
    s.auth.jwt_issuers = vec![JwtIssuerSettings {
        issuer: ISSUER.into(),
        audiences: vec!["meeting-service".into()],
        jwks_file: Some(pki("jwks.json")),
        jwks_url: None,
    }];
    s.auth.policies = vec![CallerPolicySettings {
        callers: vec!["system:serviceaccount:apps:scheduler".into()],
        tenants: vec!["*".into()],
        organizers: vec![organizers.into()],
    }];
}

#[tokio::test]
async fn bearer_jwts_identify_callers_by_subject() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| scheduler_may_act_for(s, "@contoso.example")).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |sub: &str, aud: &str, exp: i64| serde_json::json!({"iss": ISSUER, "sub": sub, "aud": [aud], "iat": now, "exp": exp});
    let call = |token: Option<String>, user: &str| {
        let mut req = request(simple_meeting());
        req.user_id = user.into();
        let mut req = tonic::Request::new(req);
        if let Some(token) = token {
            req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let mut client = app.client.clone();
        async move { client.create(req).await }
    };
    let scheduler = || Some(jwt(claims("system:serviceaccount:apps:scheduler", "meeting-service", now + 600), false));
    let adele = "adele.vance@contoso.example";

    call(scheduler(), adele).await.expect("a valid token of an allowed caller");
    let organizer = call(scheduler(), USER).await.expect_err("organizer outside the policy's domain");
    assert_status(&organizer, Code::PermissionDenied, "CALLER_NOT_PERMITTED");
    let other = jwt(claims("system:serviceaccount:apps:other", "meeting-service", now + 600), false);
    assert_status(&call(Some(other), adele).await.unwrap_err(), Code::PermissionDenied, "CALLER_NOT_PERMITTED");

    for (name, token) in [
        ("expired", Some(jwt(claims("system:serviceaccount:apps:scheduler", "meeting-service", now - 3600), false))),
        ("forged", Some(jwt(claims("system:serviceaccount:apps:scheduler", "meeting-service", now + 600), true))),
        ("wrong audience", Some(jwt(claims("system:serviceaccount:apps:scheduler", "vault", now + 600), false))),
        ("garbage", Some("not.a.jwt".to_owned())),
        ("missing", None),
    ] {
        let err = call(token, adele).await.expect_err(name);
        assert_status(&err, Code::Unauthenticated, "CALLER_UNAUTHENTICATED");
    }
    // An unauthenticated caller learns nothing about its request, not even that it is invalid.
    let mut invalid = tonic::Request::new(pb_invalid_request());
    invalid.metadata_mut().insert("x-other", "1".parse().unwrap());
    assert_eq!(app.client.clone().create(invalid).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(app.emulator.meetings_created(), 1);
}

fn pb_invalid_request() -> meeting_service::grpc::pb::CreateRequest {
    meeting_service::grpc::pb::CreateRequest::default()
}

#[tokio::test]
async fn without_any_policy_every_call_is_refused() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.auth.mode = AuthMode::Policy).await;
    let err = app.create(request(simple_meeting())).await.expect_err("fail closed");
    assert_status(&err, Code::Unauthenticated, "CALLER_UNAUTHENTICATED");
    assert!(app.emulator.requests().is_empty());
}

/// The certificate a TLS handshake with the server presents.
async fn presented_certificate(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(pki("ca.pem")).unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].as_ref().to_vec()
}

#[tokio::test]
async fn server_certificates_are_reloaded_when_they_change() {
    let dir = std::env::temp_dir().join(format!("meeting-service-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(pki("server.pem"), dir.join("tls.crt")).unwrap();
    std::fs::copy(pki("server.key"), dir.join("tls.key")).unwrap();
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let app = spawn_app_with(EmulatorConfig::default(), |s| {
        s.server.tls = Some(TlsSettings { cert_file: cert, key_file: key, client_ca_file: None });
    })
    .await;
    let der = |name: &str| CertificateDer::from_pem_file(pki(name)).unwrap().as_ref().to_vec();
    assert_eq!(presented_certificate(app.addr).await, der("server.pem"));

    // A half-written pair (new certificate, old key) is rejected; the old pair keeps serving.
    std::fs::copy(pki("server2.pem"), dir.join("tls.crt")).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(presented_certificate(app.addr).await, der("server.pem"));

    std::fs::copy(pki("server2.key"), dir.join("tls.key")).unwrap();
    let mut rotated = false;
    for _ in 0..60 {
        if presented_certificate(app.addr).await == der("server2.pem") {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rotated, "the new certificate is served without a restart");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn issuer_keys_can_come_from_a_jwks_url() {
    use axum::{routing::get, Router};
    const ISSUER: &str = "https://issuer.example";
    let jwks = read("jwks.json");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/openid/v1/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, Router::new().route("/openid/v1/jwks", get(move || async move { jwks }))).await
    });
    let jwks_url = url.clone();
    let app = spawn_app_with(EmulatorConfig::default(), move |s| {
        s.auth.mode = AuthMode::Policy;
        s.auth.jwt_issuers = vec![JwtIssuerSettings {
            issuer: ISSUER.into(),
            audiences: vec!["meeting-service".into()],
            jwks_file: None,
            jwks_url: Some(jwks_url),
        }];
        s.auth.policies = vec![CallerPolicySettings {
            callers: vec!["workload-a".into()],
            tenants: vec![TENANT.into()],
            organizers: vec![],
        }];
    })
    .await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token =
        jwt(serde_json::json!({"iss": ISSUER, "sub": "workload-a", "aud": "meeting-service", "exp": now + 600}), false);
    let created = eventually_async(
        || {
            let mut req = tonic::Request::new(request(simple_meeting()));
            req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
            let mut client = app.client.clone();
            async move { client.create(req).await.ok() }
        },
        "the keys fetched from the JWKS URL",
    )
    .await;
    assert!(created.get_ref().created);
}

/// Opens a raw HTTP/2 stream to the API that declares a 1 MiB message, sends 16 KiB of it and
/// never the rest, and returns the response headers the server sent (within 3 s).
async fn call_with_a_body_that_never_ends(
    addr: std::net::SocketAddr,
    authorization: Option<&str>,
) -> Option<http::HeaderMap> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut request = http::Request::post(format!("http://{addr}/meetings.v1.MeetingService/Create"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let (response, mut body) = client.send_request(request.body(()).unwrap(), false).unwrap();
    let mut frame = vec![0u8, 0, 0x10, 0, 0]; // uncompressed, 1 MiB long
    frame.extend(std::iter::repeat_n(b'x', 16 * 1024));
    body.send_data(frame.into(), false).unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(3), response).await.ok()?.ok()?;
    // Keep the stream open until the answer was read: the body is still "coming".
    drop(body);
    Some(answer.headers().clone())
}

#[tokio::test]
async fn unauthenticated_calls_are_refused_on_their_headers_before_the_body_arrives() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| {
        s.auth.mode = AuthMode::Policy;
        s.auth.policies = vec![CallerPolicySettings {
            callers: vec![SCHEDULER.into()],
            tenants: vec!["*".into()],
            organizers: vec![],
        }];
    })
    .await;
    for authorization in [None, Some("Bearer not-a-jwt")] {
        let headers = call_with_a_body_that_never_ends(app.addr, authorization)
            .await
            .expect("answered at once, without waiting for the message");
        assert_eq!(headers.get("grpc-status").and_then(|v| v.to_str().ok()), Some("16"), "{headers:?}");
    }
    assert!(app.graph_requests().is_empty());
}

#[tokio::test]
async fn a_request_body_that_does_not_arrive_in_time_ends_the_call() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| {
        s.server.request_body_timeout = Duration::from_millis(300);
    })
    .await;
    let headers = call_with_a_body_that_never_ends(app.addr, None).await.expect("answered after the body timeout");
    let status = headers.get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(!status.is_empty() && status != "0", "{headers:?}");
    assert!(app.graph_requests().is_empty());
}

#[tokio::test]
async fn the_caller_policy_applies_to_every_rpc() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| scheduler_may_act_for(s, USER)).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = jwt(
        serde_json::json!({"iss": ISSUER, "sub": "system:serviceaccount:apps:scheduler", "aud": ["meeting-service"], "iat": now, "exp": now + 600}),
        false,
    );
    fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        request
    }
    let mut client = app.client.clone();
    let created =
        client.create(with_token(request(simple_meeting()), &token)).await.expect("allowed organizer").into_inner();
    let id = created.meeting.unwrap().id().to_owned();
    let get = |user: &str| pb::GetRequest {
        tenant_id: TENANT.into(),
        user_id: user.into(),
        meeting_id: id.clone(),
        ..Default::default()
    };
    client.get(with_token(get(USER), &token)).await.expect("reads its organizer's meeting");

    // Another organizer's meetings: neither read, nor changed, nor deleted, nor scheduled for.
    let other = meeting_emulator::DEV_USER_NO_POLICY_ID;
    let sent = app.graph_requests().len();
    let denied = [
        client.get(with_token(get(other), &token)).await.map(drop),
        client
            .find(with_token(
                pb::FindRequest {
                    tenant_id: TENANT.into(),
                    user_id: other.into(),
                    key: Some(pb::find_request::Key::JoinMeetingId("1234567890".into())),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(drop),
        client
            .update(with_token(
                pb::UpdateRequest {
                    tenant_id: TENANT.into(),
                    user_id: other.into(),
                    meeting_id: id.clone(),
                    meeting: Some(Box::new(pb::OnlineMeeting { subject: Some("x".into()), ..Default::default() })),
                    update_mask: Some(prost_types::FieldMask { paths: vec!["subject".into()] }),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(drop),
        client
            .delete(with_token(
                pb::DeleteRequest {
                    tenant_id: TENANT.into(),
                    user_id: other.into(),
                    meeting_id: id.clone(),
                    allow_missing: true,
                },
                &token,
            ))
            .await
            .map(drop),
        client
            .cancel(with_token(
                pb::CancelRequest {
                    tenant_id: TENANT.into(),
                    user_id: other.into(),
                    event_id: "AAMkAGI2".into(),
                    comment: String::new(),
                },
                &token,
            ))
            .await
            .map(drop),
    ];
    for result in denied {
        assert_status(&result.expect_err("another organizer"), Code::PermissionDenied, "CALLER_NOT_PERMITTED");
    }
    assert_eq!(app.graph_requests().len(), sent, "nothing sent for them");
}
