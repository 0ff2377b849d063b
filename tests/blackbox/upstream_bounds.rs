//! Every size and number the service reads from an upstream is bounded: a hostile or broken
//! token endpoint or Graph can neither crash a call, nor make the service hold what it sends,
//! nor push an unbounded message into a gRPC status.

use std::sync::atomic::Ordering;

use meeting_emulator::EmulatorConfig;
use tonic::Code;

use crate::{
    helpers::*,
    hostile::{hostile, respond, spawn_app_against},
};

#[tokio::test]
async fn an_absurd_expires_in_from_the_token_endpoint_does_not_crash_the_call() {
    let login = hostile(respond(
        "200 OK",
        "application/json",
        br#"{"token_type":"Bearer","expires_in":18446744073709551615,"access_token":"eyJ0.eyJ0.sig"}"#,
    ))
    .await;
    let authority = login.endpoint.clone();
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.identity.authority_host = Some(authority)).await;
    for _ in 0..2 {
        // The emulated Graph does not know this token: the call must end with Graph's refusal
        // (after one refresh), not with a panic that cancels it.
        let err = app.create(request(simple_meeting())).await.expect_err("Graph refuses a token it did not issue");
        assert_status(&err, Code::FailedPrecondition, "GRAPH_UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn a_huge_token_response_is_refused_without_being_used() {
    // Valid JSON with a working shape, one megabyte long: a token endpoint never sends this.
    let padding = "a".repeat(1024 * 1024);
    let body =
        format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0.eyJ0.sig","pad":"{padding}"}}"#);
    let login = hostile(respond("200 OK", "application/json", body.as_bytes())).await;
    let authority = login.endpoint.clone();
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.identity.authority_host = Some(authority)).await;
    let err = app.create(request(simple_meeting())).await.expect_err("an oversized token response is not used");
    assert_status(&err, Code::Unavailable, "IDENTITY_PLATFORM_UNAVAILABLE");
    assert!(err.message().contains("too large"), "{}", err.message());
    assert!(app.graph_requests().is_empty(), "nothing reached Graph");
    assert!(login.requests.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn a_huge_graph_error_message_is_truncated_in_the_status() {
    let message = "m".repeat(1_500_000);
    let body = format!(r#"{{"error":{{"code":"BadRequest","message":"{message}"}}}}"#);
    let graph = hostile(respond("400 Bad Request", "application/json", body.as_bytes())).await;
    let app = spawn_app_against(&graph.endpoint, false).await;
    let err = app.create(request(simple_meeting())).await.expect_err("Graph refused it");
    assert_status(&err, Code::InvalidArgument, "GRAPH_BAD_REQUEST");
    assert!(err.message().len() < 2048, "status message of {} bytes", err.message().len());
    assert!(err.message().contains("BadRequest: mmmm"), "{}", err.message());
}
