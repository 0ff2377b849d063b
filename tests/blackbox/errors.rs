//! Every row of the contract's status table, through the wire, with ErrorInfo / RetryInfo, and
//! the retry rules: what is retried, what never is, and that nothing is created twice.

use std::time::Duration;

use meeting_emulator::{EmulatorConfig, Fault};
use meeting_service::grpc::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

#[tokio::test]
async fn graph_statuses_map_to_the_table() {
    let rows: &[(u16, Code, &str, &str)] = &[
        (400, Code::InvalidArgument, "GRAPH_BAD_REQUEST", "BadRequest"),
        (403, Code::PermissionDenied, "GRAPH_FORBIDDEN", "Forbidden"),
        (404, Code::NotFound, "GRAPH_NOT_FOUND", "NotFound"),
        (409, Code::AlreadyExists, "GRAPH_CONFLICT", "Conflict"),
        (500, Code::Internal, "GRAPH_INTERNAL_ERROR", "InternalServerError"),
        (502, Code::Unavailable, "GRAPH_BAD_GATEWAY", ""),
        (504, Code::DeadlineExceeded, "GRAPH_GATEWAY_TIMEOUT", ""),
    ];
    let app = spawn_app().await;
    for &(status, code, reason, graph_code) in rows {
        let before = app.graph_requests().len();
        app.emulator.push_fault(Fault::graph_status(status));
        let err = app.create(request(simple_meeting())).await.expect_err("fails");
        assert_status(&err, code, reason);
        let (_, metadata) = error_info(&err);
        let sent = app.last_graph_request();
        assert_eq!(app.graph_requests().len(), before + 1, "HTTP {status} must not be retried without external_id");
        assert_eq!(metadata["client_request_id"], sent.header("client-request-id").unwrap());
        assert!(uuid::Uuid::parse_str(&metadata["graph_request_id"]).is_ok(), "{metadata:?}");
        assert_eq!(metadata["trace_id"].len(), 32, "{metadata:?}");
        if !graph_code.is_empty() {
            assert_eq!(metadata["graph_error_code"], graph_code, "HTTP {status}");
        }
    }
}

#[tokio::test]
async fn forbidden_without_access_policy_explains_itself() {
    let app = spawn_app().await;
    let mut req = request(simple_meeting());
    req.user_id = "no.policy@contoso.example".into();
    let err = app.create(req).await.expect_err("403");
    assert_status(&err, Code::PermissionDenied, "GRAPH_FORBIDDEN");
    assert!(err.message().contains("No Application Access Policy found for this app"), "{}", err.message());
    assert!(err.message().contains("application access policy"), "{}", err.message());
}

#[tokio::test]
async fn unknown_organizer_is_not_found() {
    let app = spawn_app().await;
    let mut req = request(simple_meeting());
    req.user_id = "nobody@contoso.example".into();
    assert_status(&app.create(req).await.expect_err("404"), Code::NotFound, "GRAPH_NOT_FOUND");
}

#[tokio::test]
async fn throttling_is_retried_honoring_retry_after_then_succeeds() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::graph_status(429).retry_after("0.2").times(2));
    let started = std::time::Instant::now();
    let response = app.create(request(simple_meeting())).await.expect("succeeds after retries");
    assert!(started.elapsed() >= Duration::from_millis(400), "waited {:?}", started.elapsed());
    let sent = app.graph_requests();
    assert_eq!(sent.len(), 3);
    let ids: Vec<_> = sent.iter().map(|r| r.header("client-request-id").unwrap().to_owned()).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "one client-request-id per call: {ids:?}");
    assert!(response.created);
    assert_eq!(app.emulator.meetings_created(), 1);
}

#[tokio::test]
async fn throttling_beyond_retries_is_resource_exhausted_with_retry_info() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::graph_status(429).retry_after("0.05").times(10));
    let err = app.create(request(simple_meeting())).await.expect_err("exhausted");
    assert_status(&err, Code::ResourceExhausted, "GRAPH_THROTTLED");
    assert_eq!(error_info(&err).1["graph_error_code"], "TooManyRequests");
    let retry = err.get_error_details().retry_info().cloned().expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_millis(50)));
    assert_eq!(app.graph_requests().len(), 4, "1 attempt + 3 retries (graph.max_retries = 3)");
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_fails_fast() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::graph_status(429).retry_after("30").times(1));
    let mut req = tonic::Request::new(request(simple_meeting()));
    req.set_timeout(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = app.client.clone().create(req).await.expect_err("throttled");
    assert!(started.elapsed() < Duration::from_secs(1), "did not wait for a retry it could not make");
    assert_status(&err, Code::ResourceExhausted, "GRAPH_THROTTLED");
    assert_eq!(err.get_error_details().retry_info().unwrap().retry_delay, Some(Duration::from_secs(30)));
    assert_eq!(app.graph_requests().len(), 1);
}

#[tokio::test]
async fn unavailable_is_retried_and_reported_with_retry_info() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::graph_status(503).retry_after("0.05").times(1));
    app.create(request(simple_meeting())).await.expect("one retry succeeds");
    assert_eq!(app.graph_requests().len(), 2);

    app.emulator.push_fault(Fault::graph_status(503).retry_after("0.05").times(10));
    let err = app.create(request(simple_meeting())).await.expect_err("unavailable");
    assert_status(&err, Code::Unavailable, "GRAPH_UNAVAILABLE");
    assert!(err.get_error_details().retry_info().is_some());
}

#[tokio::test]
async fn a_500_that_created_the_meeting_is_not_retried() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::graph_status(500).after_processing());
    let err = app.create(request(simple_meeting())).await.expect_err("500");
    assert_status(&err, Code::Internal, "GRAPH_INTERNAL_ERROR");
    assert_eq!(app.graph_requests().len(), 1);
    assert_eq!(app.emulator.meetings_created(), 1, "exactly the one Graph created before failing");
}

#[tokio::test]
async fn with_external_id_a_lost_create_is_retried_and_returns_the_same_meeting() {
    let app = spawn_app().await;
    for status in [502, 504, 500] {
        let external_id = format!("order-{status}");
        app.emulator.push_fault(Fault::graph_status(status).after_processing());
        let meeting = pb::OnlineMeeting { external_id: Some(external_id.clone()), ..simple_meeting() };
        let response = app.create(request(meeting.clone())).await.expect("recovered by createOrGet");
        assert!(!response.created, "HTTP {status}: the retry found the meeting the failed attempt created");
        let again = app.create(request(meeting)).await.expect("idempotent");
        assert_eq!(response.meeting.unwrap().id, again.meeting.unwrap().id);
    }
    assert_eq!(app.emulator.meetings_created(), 3, "one meeting per external id");
}

#[tokio::test]
async fn unauthorized_refreshes_the_token_once() {
    let app = spawn_app().await;
    app.create(request(simple_meeting())).await.expect("warm");
    app.emulator.expire_tokens();
    app.create(request(simple_meeting())).await.expect("a fresh token after Graph's 401");
    assert_eq!(app.token_requests(), 2);

    app.emulator.push_fault(Fault::graph_status(401).times(2));
    let err = app.create(request(simple_meeting())).await.expect_err("401 twice");
    assert_status(&err, Code::FailedPrecondition, "GRAPH_UNAUTHENTICATED");
    assert_eq!(error_info(&err).1["graph_error_code"], "InvalidAuthenticationToken");
    assert_eq!(app.token_requests(), 3, "exactly one refresh");
}

#[tokio::test]
async fn rejected_credentials_are_failed_precondition() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::aadsts("invalid_client", 7000215, 401));
    let err = app.create(request(simple_meeting())).await.expect_err("rejected");
    assert_status(&err, Code::FailedPrecondition, "TENANT_CREDENTIALS_REJECTED");
    let (_, metadata) = error_info(&err);
    assert_eq!(metadata["identity_error"], "invalid_client");
    assert_eq!(metadata["aadsts_codes"], "AADSTS7000215");
    assert!(err.message().contains("AADSTS7000215"), "{}", err.message());
    assert!(app.graph_requests().is_empty(), "nothing reached Graph");

    // A failure is not cached: the next call asks again and succeeds.
    app.create(request(simple_meeting())).await.expect("recovers");
}

#[tokio::test]
async fn identity_platform_outage_is_retried_then_unavailable() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::login_status(503).times(1));
    app.create(request(simple_meeting())).await.expect("token retry succeeds");
    assert_eq!(app.token_requests(), 2);
    let fresh = spawn_app().await;
    fresh.emulator.push_fault(Fault::login_status(503).times(10));
    let err = fresh.create(request(simple_meeting())).await.expect_err("no token");
    assert_status(&err, Code::Unavailable, "IDENTITY_PLATFORM_UNAVAILABLE");
}

#[tokio::test]
async fn unreachable_graph_is_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.graph.endpoint = Some(format!("http://{closed}"))).await;
    // The identity host stays the emulator; it must issue tokens for the unreachable Graph.
    app.emulator.accept_scope_resource(&format!("http://{closed}"));
    let err = app.create(request(simple_meeting())).await.expect_err("unreachable");
    assert_status(&err, Code::Unavailable, "GRAPH_UNREACHABLE");
    assert_eq!(app.token_requests(), 1, "the token was issued; Graph was the part that could not be reached");
}

#[tokio::test]
async fn deadline_is_deadline_exceeded() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::graph_delay(Duration::from_secs(3)));
    let mut req = tonic::Request::new(request(simple_meeting()));
    req.set_timeout(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let err = app.client.clone().create(req).await.expect_err("too slow");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_status(&err, Code::DeadlineExceeded, "DEADLINE_EXCEEDED");
}

#[tokio::test]
async fn default_deadline_applies_without_grpc_timeout() {
    let app =
        spawn_app_with(EmulatorConfig::default(), |s| s.server.default_deadline = Duration::from_millis(400)).await;
    app.emulator.push_fault(Fault::graph_delay(Duration::from_secs(3)));
    let err = app.create(request(simple_meeting())).await.expect_err("too slow");
    assert_status(&err, Code::DeadlineExceeded, "DEADLINE_EXCEEDED");
}

#[tokio::test]
async fn an_unconfigured_tenant_is_permission_denied() {
    let app = spawn_app().await;
    let mut req = request(simple_meeting());
    req.tenant_id = "11111111-2222-4333-8444-555555555555".into();
    let unknown = app.create(req).await.expect_err("not configured");
    assert_status(&unknown, Code::PermissionDenied, "CALLER_NOT_PERMITTED");
    assert!(app.emulator.requests().is_empty());
}

#[tokio::test]
async fn errors_carry_the_callers_trace_id() {
    let app = spawn_app().await;
    app.emulator.push_fault(Fault::graph_status(409));
    let mut req = tonic::Request::new(request(simple_meeting()));
    req.metadata_mut()
        .insert("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse().unwrap());
    let err = app.client.clone().create(req).await.expect_err("conflict");
    assert_eq!(error_info(&err).1["trace_id"], "0af7651916cd43dd8448eb211c80319c");
}

#[tokio::test]
async fn beyond_the_tenants_in_flight_limit_calls_fail_fast() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.limits.max_in_flight_per_tenant = 2).await;
    app.create(request(simple_meeting())).await.expect("warm");
    app.emulator.push_fault(Fault::graph_delay(Duration::from_millis(800)).times(2));
    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let mut client = app.client.clone();
        slow.spawn(async move { client.create(request(simple_meeting())).await });
    }
    eventually(|| app.graph_requests().len() == 3, "two slow calls in flight").await;
    let started = std::time::Instant::now();
    let err = app.create(request(simple_meeting())).await.expect_err("over the limit");
    assert!(started.elapsed() < Duration::from_millis(300), "failed fast, did not queue");
    assert_status(&err, Code::ResourceExhausted, "OVERLOADED");
    assert!(err.get_error_details().retry_info().is_some());
    assert!(slow.join_all().await.iter().all(Result::is_ok));
    app.create(request(simple_meeting())).await.expect("admitted again");
}

#[tokio::test]
async fn a_tenant_whose_graph_keeps_failing_is_cut_off_for_a_while() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| {
        s.limits.breaker_failures = 2;
        s.limits.breaker_cooldown = Duration::from_millis(600);
    })
    .await;
    app.emulator.push_fault(Fault::graph_status(500).times(2));
    for _ in 0..2 {
        assert_status(
            &app.create(request(simple_meeting())).await.unwrap_err(),
            Code::Internal,
            "GRAPH_INTERNAL_ERROR",
        );
    }
    let sent = app.graph_requests().len();
    let err = app.create(request(simple_meeting())).await.expect_err("circuit open");
    assert_status(&err, Code::Unavailable, "TENANT_CIRCUIT_OPEN");
    assert!(err.get_error_details().retry_info().is_some());
    assert_eq!(app.graph_requests().len(), sent, "nothing sent while open");
    tokio::time::sleep(Duration::from_millis(700)).await;
    app.create(request(simple_meeting())).await.expect("the probe succeeds and closes the circuit");
    app.create(request(simple_meeting())).await.expect("closed");
}

#[tokio::test]
async fn a_callers_own_short_deadlines_do_not_open_the_circuit_for_everyone() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.limits.breaker_failures = 3).await;
    // Graph is healthy, only slower than this caller is willing to wait.
    app.emulator.push_fault(Fault::graph_delay(Duration::from_millis(300)).times(10));
    for _ in 0..10 {
        let mut impatient = tonic::Request::new(request(simple_meeting()));
        impatient.set_timeout(Duration::from_millis(50));
        let err = app.client.clone().create(impatient).await.expect_err("the caller's deadline runs out");
        // The service's answer, or the client's own timer if it fires first: never the circuit.
        assert!(matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled), "{err:?}");
    }
    app.create(request(simple_meeting())).await.expect("another caller is not cut off");
}
