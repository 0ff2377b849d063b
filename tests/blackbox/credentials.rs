//! Tenant credentials over time: rotation without restart, rejected bad files, refresh-ahead,
//! idle eviction, and what a tenant's national cloud allows.

use std::time::Duration;

use meeting_emulator::{EmulatorConfig, Fault, Host, DEV_CLIENT_SECRET};
use meeting_service::{graph::Cloud, grpc::pb};
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_rotated_secret_file_takes_effect_without_restart() {
    let app = spawn_app().await;
    app.create(request(simple_meeting())).await.expect("warm");
    assert_eq!(app.token_requests(), 1);

    // Kubernetes replaces the file; the cached token is dropped and the new secret is used.
    std::fs::write(&app.secret_file, "a-revoked-secret\n").unwrap();
    let rejected = eventually_async(
        || async {
            let result = app.create(request(simple_meeting())).await;
            result.err()
        },
        "the rotated (wrong) secret to be used",
    )
    .await;
    assert_status(&rejected, Code::FailedPrecondition, "TENANT_CREDENTIALS_REJECTED");
    assert!(!rejected.message().contains("a-revoked-secret"));

    std::fs::write(&app.secret_file, DEV_CLIENT_SECRET).unwrap();
    eventually_async(|| async { app.create(request(simple_meeting())).await.ok() }, "the fixed secret to be used")
        .await;
}

#[tokio::test]
async fn a_bad_new_file_is_rejected_and_the_last_good_credential_keeps_serving() {
    let app = spawn_app().await;
    app.create(request(simple_meeting())).await.expect("warm");
    std::fs::write(&app.secret_file, "\n").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.create(request(simple_meeting())).await.expect("still serving");
    assert_eq!(app.token_requests(), 1, "the cached token was kept");
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry_without_making_calls_wait() {
    // 6 s tokens: refreshed after 3 s (refresh_fraction 0.5), handed out for 5 s (6 s - 1 s margin).
    let app = spawn_app_with(EmulatorConfig { token_lifetime: Duration::from_secs(6), ..Default::default() }, |s| {
        s.identity.token_refresh_margin = Duration::from_secs(1);
    })
    .await;
    app.create(request(simple_meeting())).await.expect("first");
    let first_token = app.last_graph_request().header("authorization").unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(3200)).await;

    // Past the refresh point: this call is served with the old token and starts the refresh,
    // which the identity platform answers only after 1.5 s. The call doesn't wait for it.
    app.emulator.push_fault(Fault::login_delay(Duration::from_millis(1500)));
    let started = std::time::Instant::now();
    app.create(request(simple_meeting())).await.expect("served from cache");
    assert!(started.elapsed() < Duration::from_millis(500), "the call waited {:?} for a token", started.elapsed());
    assert_eq!(app.last_graph_request().header("authorization").unwrap(), first_token);
    eventually(|| app.token_requests() == 2, "the background refresh").await;

    // The refreshed token is in use once it arrived.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    app.create(request(simple_meeting())).await.expect("new token");
    assert_ne!(app.last_graph_request().header("authorization").unwrap(), first_token);
    assert_eq!(app.token_requests(), 2);
}

#[tokio::test]
async fn an_idle_tenant_is_evicted() {
    let app =
        spawn_app_with(EmulatorConfig::default(), |s| s.identity.idle_eviction = Duration::from_millis(400)).await;
    app.create(request(simple_meeting())).await.expect("first");
    app.create(request(simple_meeting())).await.expect("cached");
    assert_eq!(app.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    app.create(request(simple_meeting())).await.expect("after idling");
    assert_eq!(app.token_requests(), 2);
}

#[tokio::test]
async fn us_government_tenants_refuse_properties_their_cloud_lacks() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.tenants[0].cloud = Some(Cloud::Usgov)).await;
    let meeting = pb::OnlineMeeting {
        allow_recording: Some(false),
        meeting_template_id: Some("05b9ed5f-2ac3-4470-aae9-f4a0c30b1a4b".into()),
        ..simple_meeting()
    };
    let err = app.create(request(meeting)).await.expect_err("refused");
    assert_status(&err, Code::InvalidArgument, "INVALID_REQUEST");
    assert!(err.message().contains("meeting.allow_recording"), "{}", err.message());
    assert!(err.message().contains("meeting.meeting_template_id"), "{}", err.message());
    assert!(app.emulator.requests().is_empty(), "nothing was sent");
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A copy of a fixture in a temp file, so a test can rotate it.
fn temp_copy(name: &str, tag: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("meeting-service-{tag}-{}.pem", std::process::id()));
    std::fs::copy(fixture(name), &path).unwrap();
    path
}

#[tokio::test]
async fn a_certificate_credential_signs_assertions_the_identity_platform_accepts() {
    let cert_file = temp_copy("client-certificate.pem", "cert");
    let path = cert_file.clone();
    let app = spawn_app_with(EmulatorConfig::default(), move |s| {
        s.tenants[0].client_secret_file = None;
        s.tenants[0].certificate_file = Some(path);
        s.tenants[0].send_certificate_chain = Some(true);
    })
    .await;
    app.emulator.add_tenant(
        meeting_emulator::EmulatedTenant::dev().with_certificate(std::fs::read_to_string(fixture("cert.pem")).unwrap()),
    );
    app.create(request(simple_meeting())).await.expect("created with a certificate");
    let token_request = app.emulator.requests().into_iter().find(|r| r.host == Host::Login).unwrap();
    let form = token_request.form();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(
        field("client_assertion_type").as_deref(),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(field("client_secret"), None);
    let assertion = field("client_assertion").expect("an assertion");
    use base64::Engine;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(assertion.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert!(header["x5t#S256"].is_string());
    assert_eq!(header["x5c"].as_array().map(Vec::len), Some(1), "send_certificate_chain adds x5c");

    // Rotation: a new certificate on disk is picked up; the identity platform doesn't know it yet.
    std::fs::copy(fixture("rotated-certificate.pem"), &cert_file).unwrap();
    let rejected =
        eventually_async(|| async { app.create(request(simple_meeting())).await.err() }, "the rotated certificate")
            .await;
    assert_status(&rejected, Code::FailedPrecondition, "TENANT_CREDENTIALS_REJECTED");
    assert_eq!(error_info(&rejected).1["aadsts_codes"], "AADSTS700027");
    // Once it is uploaded to the app registration, calls succeed again without a restart.
    app.emulator.add_tenant(
        meeting_emulator::EmulatedTenant::dev()
            .with_certificate(std::fs::read_to_string(fixture("rotated-certificate.pem")).unwrap()),
    );
    app.create(request(simple_meeting())).await.expect("the rotated certificate is accepted");
    std::fs::remove_file(&cert_file).ok();
}

#[tokio::test]
async fn workload_identity_exchanges_the_federated_token_read_at_every_request() {
    use meeting_emulator::{federated_token, EmulatedTenant, TOKEN_EXCHANGE_AUDIENCE};
    let issuer = "https://oidc.prod-aks.azure.com/0000/";
    let subject = "system:serviceaccount:meetings:meeting-service";
    let token_file = std::env::temp_dir().join(format!("meeting-service-wi-{}", std::process::id()));
    std::fs::write(&token_file, federated_token(issuer, subject, TOKEN_EXCHANGE_AUDIENCE, Duration::from_secs(3600)))
        .unwrap();
    let path = token_file.clone();
    let app =
        spawn_app_with(EmulatorConfig { token_lifetime: Duration::from_secs(2), ..Default::default() }, move |s| {
            s.tenants[0].client_secret_file = None;
            s.tenants[0].workload_identity = Some(true);
            s.tenants[0].federated_token_file = Some(path);
        })
        .await;
    app.emulator.add_tenant(EmulatedTenant::dev().with_federated_credential(issuer, subject));
    app.create(request(simple_meeting())).await.expect("created with workload identity");
    let form = app.emulator.requests().into_iter().find(|r| r.host == Host::Login).unwrap().form();
    assert!(form.iter().any(|(k, v)| k == "client_assertion" && v == &std::fs::read_to_string(&token_file).unwrap()));

    // The kubelet rotates the file; the next token request reads the new one (here: a token of
    // another service account, which the identity platform refuses).
    std::fs::write(
        &token_file,
        federated_token(issuer, "system:serviceaccount:other:app", TOKEN_EXCHANGE_AUDIENCE, Duration::from_secs(3600)),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let err = app.create(request(simple_meeting())).await.expect_err("no federated credential for that subject");
    assert_status(&err, Code::FailedPrecondition, "TENANT_CREDENTIALS_REJECTED");
    assert_eq!(error_info(&err).1["aadsts_codes"], "AADSTS70021");
    std::fs::remove_file(&token_file).ok();
}

#[tokio::test]
async fn tenants_added_to_or_removed_from_the_config_file_take_effect_without_restart() {
    use meeting_emulator::{EmulatedTenant, Emulator};
    use meeting_service::{config::Settings, reload::SettingsSource};
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let dev = EmulatedTenant::dev();
    let second = EmulatedTenant { tenant_id: "0c3f5a7e-2b4d-4c6e-8f1a-3b5d7f9e1c20".into(), ..EmulatedTenant::dev() };
    emulator.add_tenant(dev.clone());
    emulator.add_tenant(second.clone());
    let dir = std::env::temp_dir().join(format!("meeting-service-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, &dev.client_secret).unwrap();
    let config = dir.join("config.toml");
    let (graph, login) = (emulator.graph_endpoint(), emulator.authority_host());
    let file = |tenants: &[&EmulatedTenant]| {
        let mut text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[graph]\nendpoint = \"{}\"\n[identity]\nauthority_host = \"{}\"\n[auth]\nmode = \"none\"\n",
            graph, login
        );
        for t in tenants {
            text += &format!(
                "[[tenants]]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\n",
                t.tenant_id,
                t.client_id,
                secret.display()
            );
        }
        text
    };
    std::fs::write(&config, file(&[&dev])).unwrap();
    let settings = Settings::load(Some(&config)).unwrap();
    let app = serve(emulator, settings, SettingsSource::File(config.clone()), secret.clone()).await;
    let for_second = || pb::CreateRequest { tenant_id: second.tenant_id.clone(), ..request(simple_meeting()) };

    app.create(request(simple_meeting())).await.expect("configured tenant");
    assert_status(&app.create(for_second()).await.unwrap_err(), Code::PermissionDenied, "CALLER_NOT_PERMITTED");

    std::fs::write(&config, file(&[&dev, &second])).unwrap();
    eventually_async(|| async { app.create(for_second()).await.ok() }, "the added tenant").await;

    // A broken file is rejected; the last good configuration keeps serving both tenants.
    std::fs::write(&config, "[graph]\ncloud = \"mars\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.create(for_second()).await.expect("still configured");

    std::fs::write(&config, file(&[&second])).unwrap();
    let removed =
        eventually_async(|| async { app.create(request(simple_meeting())).await.err() }, "the removed tenant").await;
    assert_status(&removed, Code::PermissionDenied, "CALLER_NOT_PERMITTED");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn refresh_in_from_the_token_response_decides_when_to_refresh() {
    // An hour-long token whose response says to refresh after one second.
    let app =
        spawn_app_with(EmulatorConfig { refresh_in: Some(Duration::from_secs(1)), ..Default::default() }, |_| {}).await;
    app.create(request(simple_meeting())).await.expect("first");
    app.create(request(simple_meeting())).await.expect("cached");
    assert_eq!(app.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.create(request(simple_meeting())).await.expect("served while refreshing");
    eventually(|| app.token_requests() == 2, "a refresh after refresh_in, not after half an hour").await;
}
