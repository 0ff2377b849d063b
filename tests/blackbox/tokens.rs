//! The token cache seen from outside: one token request per tenant however many calls race for
//! it, and a new one once the old expires.

use std::time::Duration;

use meeting_emulator::EmulatorConfig;

use crate::helpers::*;

#[tokio::test]
async fn fifty_concurrent_calls_on_a_cold_tenant_make_one_token_request() {
    let app = spawn_app().await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..50 {
        let mut client = app.client.clone();
        let meeting =
            meeting_service::grpc::pb::OnlineMeeting { subject: Some(format!("call {i}")), ..simple_meeting() };
        calls.spawn(async move { client.create(request(meeting)).await });
    }
    let results = calls.join_all().await;
    assert!(results.iter().all(Result::is_ok), "{:?}", results.iter().find(|r| r.is_err()));
    assert_eq!(app.token_requests(), 1);
    assert_eq!(app.emulator.meetings_created(), 50);
    let form = app.emulator.requests().into_iter().find(|r| r.path.ends_with("/oauth2/v2.0/token")).unwrap().form();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(field("grant_type").as_deref(), Some("client_credentials"));
    assert_eq!(field("scope"), Some(format!("{}/.default", app.emulator.graph_endpoint())));
    assert_eq!(field("client_id").as_deref(), Some(meeting_emulator::DEV_CLIENT_ID));
}

#[tokio::test]
async fn an_expired_token_is_replaced() {
    let app =
        spawn_app_with(EmulatorConfig { token_lifetime: Duration::from_secs(2), ..Default::default() }, |_| {}).await;
    app.create(request(simple_meeting())).await.expect("first");
    app.create(request(simple_meeting())).await.expect("cached");
    assert_eq!(app.token_requests(), 1);
    // Cached for max(lifetime - margin, lifetime / 2) = 1 s.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    app.create(request(simple_meeting())).await.expect("refreshed");
    assert_eq!(app.token_requests(), 2);
}
