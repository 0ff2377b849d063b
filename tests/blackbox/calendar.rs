//! Calendar meetings end to end: Schedule makes an Outlook event with a Teams meeting (so the
//! attendees are invited), finds the meeting, applies its options; idempotent with a
//! transaction id; partial failures name the event; Cancel tells the attendees.

use std::time::Duration;

use meeting_emulator::{EmulatorConfig, Fault, DEV_USER_NO_TEAMS_CALENDAR_ID};
use meeting_service::grpc::pb;
use tonic::Code;

use crate::helpers::*;

fn event() -> pb::CalendarEvent {
    pb::CalendarEvent {
        subject: Some("Quarterly planning".into()),
        body: Some(pb::ItemBody { content: Some("Agenda: <b>Q2</b>".into()), content_type: pb::BodyType::Html as i32 }),
        // Across the change to summer time in Berlin (01:00 UTC on 2030-03-31).
        start: Some(ts("2030-03-31T00:30:00Z")),
        end: Some(ts("2030-03-31T01:30:00Z")),
        time_zone: Some("Europe/Berlin".into()),
        location: Some("Building 4, room 1".into()),
        attendees: vec![
            pb::Attendee {
                email: "megan.bowen@contoso.example".into(),
                name: "Megan Bowen".into(),
                r#type: pb::AttendeeType::Required as i32,
            },
            pb::Attendee {
                email: "ann+teams@fabrikam.com".into(),
                name: String::new(),
                r#type: pb::AttendeeType::Optional as i32,
            },
        ],
        ..Default::default()
    }
}

fn schedule(transaction_id: &str) -> pb::ScheduleRequest {
    pb::ScheduleRequest {
        tenant_id: TENANT.into(),
        user_id: USER.into(),
        event: Some(event()),
        meeting_options: Some(Box::new(pb::OnlineMeeting { allow_recording: Some(false), ..Default::default() })),
        transaction_id: transaction_id.into(),
        ..Default::default()
    }
}

fn body_of(request: &meeting_emulator::RecordedRequest) -> serde_json::Value {
    serde_json::from_str(&request.body).expect("JSON")
}

#[tokio::test]
async fn schedule_makes_an_event_that_invites_and_a_meeting_with_its_options() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let scheduled = client.schedule(schedule("plan-2030-q2")).await.expect("scheduled").into_inner();

    let sent = app.graph_requests();
    let post = sent.iter().find(|r| r.method == "POST" && r.path.ends_with("/events")).expect("the event POST");
    let body = body_of(post);
    assert_eq!(body["isOnlineMeeting"], true);
    assert_eq!(body["onlineMeetingProvider"], "teamsForBusiness");
    assert_eq!(body["transactionId"], "plan-2030-q2");
    // Wall-clock times in the event's zone, named as Graph accepts every zone: a Windows id.
    assert_eq!(
        body["start"],
        serde_json::json!({"dateTime": "2030-03-31T01:30:00", "timeZone": "W. Europe Standard Time"})
    );
    assert_eq!(
        body["end"],
        serde_json::json!({"dateTime": "2030-03-31T03:30:00", "timeZone": "W. Europe Standard Time"})
    );
    assert_eq!(
        body["attendees"][1],
        serde_json::json!({"emailAddress": {"address": "ann+teams@fabrikam.com"}, "type": "optional"})
    );
    assert_eq!(body["location"]["displayName"], "Building 4, room 1");
    assert!(
        sent.iter().any(|r| r.method == "GET" && r.path.contains("$filter=JoinWebUrl")),
        "the meeting was looked up"
    );
    let patch = sent.iter().find(|r| r.method == "PATCH").expect("the options PATCH");
    assert_eq!(body_of(patch), serde_json::json!({"allowRecording": false}));

    let event = scheduled.event.expect("the event");
    assert!(!event.id().is_empty() && !event.ical_uid().is_empty() && !event.web_link().is_empty());
    assert_eq!(event.start, Some(ts("2030-03-31T00:30:00Z")), "the same instant back");
    assert_eq!(event.end, Some(ts("2030-03-31T01:30:00Z")));
    assert_eq!(event.time_zone(), "Europe/Berlin");
    let meeting = scheduled.meeting.expect("the meeting");
    assert!(!meeting.join_web_url().is_empty());
    assert_eq!(meeting.allow_recording, Some(false));
    assert!(!scheduled.graph_request_id.is_empty());

    // Retried with the same transaction id: one event, one meeting.
    let again = client.schedule(schedule("plan-2030-q2")).await.expect("scheduled again").into_inner();
    assert_eq!(again.event.unwrap().id(), event.id());
    assert_eq!(again.meeting.unwrap().id(), meeting.id());
    assert_eq!(app.emulator.events_created(), 1);
    assert_eq!(app.emulator.meetings_created(), 1);
}

#[tokio::test]
async fn a_lost_event_post_is_sent_again_only_with_a_transaction_id() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    app.emulator.push_fault(Fault::graph_status(500).after_processing());
    client.schedule(schedule("tx-lost")).await.expect("retried: Graph returns the event it made");
    assert_eq!(app.emulator.events_created(), 1);

    app.emulator.push_fault(Fault::graph_status(500).after_processing());
    let err = client.schedule(schedule("")).await.expect_err("not retried without a transaction id");
    assert_status(&err, Code::Internal, "GRAPH_INTERNAL_ERROR");
    assert_eq!(app.emulator.events_created(), 2, "no second event");
}

#[tokio::test]
async fn a_calendar_without_teams_is_refused_and_its_event_deleted() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let request = pb::ScheduleRequest { user_id: DEV_USER_NO_TEAMS_CALENDAR_ID.into(), ..schedule("") };
    let err = client.schedule(request).await.expect_err("no Teams meeting");
    assert_status(&err, Code::FailedPrecondition, "TEAMS_NOT_ENABLED_FOR_CALENDAR");
    let (_, metadata) = error_info(&err);
    let event_id = metadata.get("event_id").expect("the event named").clone();
    let delete = app.graph_requests().into_iter().find(|r| r.method == "DELETE").expect("the event deleted");
    assert!(delete.path.contains("/events/"), "{}", delete.path);
    assert!(!event_id.is_empty());
}

#[tokio::test]
async fn a_meeting_listed_late_is_looked_up_again() {
    let app =
        spawn_app_with(EmulatorConfig { visibility_delay: Duration::from_millis(700), ..Default::default() }, |_| {})
            .await;
    let scheduled = app.client.clone().schedule(schedule("late")).await.expect("found after a while").into_inner();
    assert!(scheduled.meeting.is_some());
    let lookups = app.graph_requests().into_iter().filter(|r| r.method == "GET").count();
    assert!(lookups >= 2, "{lookups} lookups");
}

#[tokio::test]
async fn a_failure_after_the_event_exists_names_the_step_and_the_event() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.graph.max_retries = 0).await;
    // The event POST and the lookup go through; the options PATCH is refused.
    app.emulator.push_fault(Fault::graph_delay(Duration::ZERO).times(2));
    app.emulator.push_fault(Fault::graph_status(403));
    let err = app.client.clone().schedule(schedule("tx-partial")).await.expect_err("options failed");
    assert_status(&err, Code::PermissionDenied, "GRAPH_FORBIDDEN");
    let (_, metadata) = error_info(&err);
    assert_eq!(metadata.get("failed_step").map(String::as_str), Some("meeting_options"));
    assert!(!metadata.get("event_id").cloned().unwrap_or_default().is_empty());
    assert!(err.message().contains("retry with the same transaction_id"), "{}", err.message());
    // The caller retries with the same transaction id and the meeting is completed.
    let done = app.client.clone().schedule(schedule("tx-partial")).await.expect("completed").into_inner();
    assert_eq!(done.meeting.unwrap().allow_recording, Some(false));
    assert_eq!(app.emulator.events_created(), 1);
}

#[tokio::test]
async fn bad_schedules_reach_nothing_and_validate_only_checks_them() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let with = |f: &dyn Fn(&mut pb::ScheduleRequest)| {
        let mut r = schedule("");
        f(&mut r);
        r
    };
    let cases: Vec<(pb::ScheduleRequest, &str)> = vec![
        (with(&|r| r.event.as_mut().unwrap().time_zone = Some("Mars/Olympus".into())), "event.time_zone"),
        (with(&|r| r.event.as_mut().unwrap().end = Some(ts("2030-03-30T00:00:00Z"))), "event.end"),
        (with(&|r| r.event.as_mut().unwrap().subject = None), "event.subject"),
        (with(&|r| r.event.as_mut().unwrap().attendees[0].email = "megan".into()), "event.attendees[0].email"),
        (
            with(&|r| r.meeting_options.as_mut().unwrap().meeting_template_id = Some("t".into())),
            "meeting_options.meeting_template_id",
        ),
        (with(&|r| r.event = None), "event"),
    ];
    for (request, field) in cases {
        let err = client.schedule(request).await.expect_err(field);
        assert_status(&err, Code::InvalidArgument, "INVALID_REQUEST");
        let details = tonic_types::StatusExt::get_error_details(&err);
        let fields: Vec<String> =
            details.bad_request().unwrap().field_violations.iter().map(|v| v.field.clone()).collect();
        assert_eq!(fields, [field]);
    }
    let checked = client.schedule(pb::ScheduleRequest { validate_only: true, ..schedule("") }).await.expect("valid");
    assert_eq!(checked.into_inner(), pb::ScheduleResponse::default());
    assert!(app.graph_requests().is_empty());
    assert_eq!(app.token_requests(), 0);
}

#[tokio::test]
async fn cancel_tells_the_attendees() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let event_id = client.schedule(schedule("")).await.expect("scheduled").into_inner().event.unwrap().id().to_owned();
    let cancel = pb::CancelRequest {
        tenant_id: TENANT.into(),
        user_id: USER.into(),
        event_id: event_id.clone(),
        comment: "Moved to next quarter".into(),
    };
    let cancelled = client.cancel(cancel.clone()).await.expect("cancelled").into_inner();
    assert!(!cancelled.graph_request_id.is_empty());
    let sent = app.last_graph_request();
    assert!(sent.path.ends_with("/cancel"), "{}", sent.path);
    assert_eq!(body_of(&sent), serde_json::json!({"comment": "Moved to next quarter"}));
    let notices = app.emulator.cancelled_events();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        (notices[0].event_id.as_str(), notices[0].comment.as_deref()),
        (event_id.as_str(), Some("Moved to next quarter"))
    );
    assert_status(&client.cancel(cancel).await.unwrap_err(), Code::NotFound, "GRAPH_NOT_FOUND");
}
