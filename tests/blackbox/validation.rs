//! Bad input: INVALID_ARGUMENT with a BadRequest naming each field, and nothing sent anywhere.

use meeting_service::grpc::pb::{self, OnlineMeetingPresenters};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

#[tokio::test]
async fn bad_requests_never_reach_graph_or_the_identity_platform() {
    let app = spawn_app().await;
    let with = |f: &dyn Fn(&mut pb::CreateRequest)| {
        let mut r = request(simple_meeting());
        f(&mut r);
        r
    };
    let cases: Vec<(&str, pb::CreateRequest, Vec<&str>)> = vec![
        ("empty request", pb::CreateRequest::default(), vec!["tenant_id", "user_id", "meeting"]),
        ("tenant not a GUID", with(&|r| r.tenant_id = "contoso.onmicrosoft.com".into()), vec!["tenant_id"]),
        ("user neither GUID nor UPN", with(&|r| r.user_id = "../../admin".into()), vec!["user_id"]),
        (
            "end before start",
            with(&|r| r.meeting.as_mut().unwrap().end_date_time = Some(ts("2030-01-15T14:00:00Z"))),
            vec!["meeting.end_date_time"],
        ),
        (
            "subject over 1000 characters",
            with(&|r| r.meeting.as_mut().unwrap().subject = Some("x".repeat(1001))),
            vec!["meeting.subject"],
        ),
        (
            "unknown enum number",
            with(&|r| r.meeting.as_mut().unwrap().allowed_presenters = 77),
            vec!["meeting.allowed_presenters"],
        ),
        (
            "sentinel enum value",
            with(&|r| {
                r.meeting.as_mut().unwrap().allowed_presenters = OnlineMeetingPresenters::UnknownFutureValue as i32
            }),
            vec!["meeting.allowed_presenters"],
        ),
        (
            "read-only join URL",
            with(&|r| r.meeting.as_mut().unwrap().join_web_url = Some("https://x".into())),
            vec!["meeting.join_web_url"],
        ),
        (
            "createOrGet with a property neither it nor an update can set",
            with(&|r| {
                let m = r.meeting.as_mut().unwrap();
                m.external_id = Some("order-1".into());
                m.meeting_template_id = Some("f3e7b2a1-0000-4000-8000-000000000001".into());
            }),
            vec!["meeting.meeting_template_id"],
        ),
        ("bad language tag", with(&|r| r.language = "en_US!".into()), vec!["language"]),
    ];
    for (name, req, fields) in cases {
        let err = app.create(req).await.expect_err(name);
        assert_status(&err, Code::InvalidArgument, "INVALID_REQUEST");
        let details = err.get_error_details();
        let violations: Vec<_> =
            details.bad_request().expect("BadRequest").field_violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(violations, fields, "case: {name}");
        for field in &fields {
            assert!(err.message().contains(field), "case {name}: message names {field}: {}", err.message());
        }
    }
    assert!(app.emulator.requests().is_empty(), "bad input reached the emulator");
}

#[tokio::test]
async fn an_oversized_request_is_refused() {
    let app = spawn_app_with(Default::default(), |s| s.server.max_request_bytes = 64 * 1024).await;
    let mut meeting = simple_meeting();
    meeting.participants = Some(pb::MeetingParticipants {
        attendees: (0..5_000)
            .map(|i| pb::MeetingParticipantInfo {
                upn: Some(format!("attendee{i}@contoso.example")),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    let Err(err) = app.create(request(meeting)).await else {
        panic!("a request over server.max_request_bytes was served")
    };
    assert_eq!(err.code(), Code::OutOfRange, "{}", err.message());
    assert!(app.emulator.requests().is_empty());
}
