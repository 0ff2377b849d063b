//! Tenant credentials over time: rotation without restart, rejected bad files, refresh-ahead,
//! idle eviction, and what a tenant's national cloud allows.

use std::time::Duration;

use meeting_service::{
    config::Cloud,
    emulator::{EmulatorConfig, Host, DEV_CLIENT_SECRET},
    grpc::pb,
};
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

    // Past the refresh point: this call is served with the old token and starts the refresh.
    let started = std::time::Instant::now();
    app.create(request(simple_meeting())).await.expect("served from cache");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(app.last_graph_request().header("authorization").unwrap(), first_token);
    eventually(|| app.token_requests() == 2, "the background refresh").await;

    app.create(request(simple_meeting())).await.expect("new token");
    assert_ne!(app.last_graph_request().header("authorization").unwrap(), first_token);
    // The request log shows the order: the call past the refresh point reached Graph before the
    // refresh's token request, so it did not wait for it.
    let log = app.emulator.requests();
    let position = |host: Host, nth: usize| log.iter().enumerate().filter(|(_, r)| r.host == host).nth(nth).unwrap().0;
    assert!(position(Host::Graph, 1) < position(Host::Login, 1), "the second call waited for a token");
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
