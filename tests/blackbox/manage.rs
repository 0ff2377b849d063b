//! The meeting's life after Create: Get, Find, Update, Delete and validate_only, end to end
//! against the emulated Graph: what Graph received, what the caller got back, the status table
//! rows that apply, retries by operation, and the idempotent create with every property.

use std::time::Duration;

use meeting_emulator::{EmulatorConfig, Fault};
use meeting_service::grpc::pb;
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::*;

fn get(meeting_id: &str) -> pb::GetRequest {
    pb::GetRequest {
        tenant_id: TENANT.into(),
        user_id: USER.into(),
        meeting_id: meeting_id.into(),
        ..Default::default()
    }
}

fn find(key: pb::find_request::Key) -> pb::FindRequest {
    pb::FindRequest { tenant_id: TENANT.into(), user_id: USER.into(), key: Some(key), ..Default::default() }
}

fn update(meeting_id: &str, meeting: pb::OnlineMeeting, paths: &[&str]) -> pb::UpdateRequest {
    pb::UpdateRequest {
        tenant_id: TENANT.into(),
        user_id: USER.into(),
        meeting_id: meeting_id.into(),
        meeting: Some(Box::new(meeting)),
        update_mask: Some(FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() }),
        ..Default::default()
    }
}

fn delete(meeting_id: &str, allow_missing: bool) -> pb::DeleteRequest {
    pb::DeleteRequest { tenant_id: TENANT.into(), user_id: USER.into(), meeting_id: meeting_id.into(), allow_missing }
}

/// The JSON body of a recorded request.
fn json_body(request: &meeting_emulator::RecordedRequest) -> serde_json::Value {
    serde_json::from_str(&request.body).expect("a JSON body")
}

#[tokio::test]
async fn a_meeting_is_read_found_changed_and_deleted() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let created = app.create(request(simple_meeting())).await.expect("created").meeting.unwrap();
    let id = created.id().to_owned();

    let got = client.get(get(&id)).await.expect("get").into_inner();
    assert_eq!(got.meeting.as_ref().unwrap().id(), id);
    assert_eq!(got.meeting.as_ref().unwrap().subject(), "Weekly sync");
    assert!(!got.graph_request_id.is_empty());
    let sent = app.last_graph_request();
    assert_eq!(sent.method, "GET");
    assert!(sent.path.ends_with(&format!("/onlineMeetings/{}", percent(&id))), "{}", sent.path);
    assert_eq!(sent.header("prefer"), Some("include-unknown-enum-members"));

    let url = created.join_web_url().to_owned();
    let by_url = client.find(find(pb::find_request::Key::JoinWebUrl(url))).await.expect("found by link").into_inner();
    assert_eq!(by_url.meeting.unwrap().id(), id);
    let sent = app.last_graph_request();
    let (path, query) = sent.path.split_once('?').expect("a query");
    assert!(path.ends_with("/onlineMeetings"), "{path}");
    assert!(query.starts_with("$filter=JoinWebUrl%20eq%20%27"), "{query}");
    assert!(!query.contains('&'), "one query parameter: {query}");
    let meeting_number = created.join_meeting_id_settings.as_ref().unwrap().join_meeting_id().to_owned();
    let by_number =
        client.find(find(pb::find_request::Key::JoinMeetingId(meeting_number))).await.expect("found by number");
    assert_eq!(by_number.into_inner().meeting.unwrap().id(), id);

    let change = pb::OnlineMeeting {
        subject: Some("Weekly sync (moved)".into()),
        lobby_bypass_settings: Some(pb::LobbyBypassSettings {
            scope: pb::LobbyBypassScope::Everyone as i32,
            ..Default::default()
        }),
        allow_recording: Some(true),
        ..Default::default()
    };
    let updated = client
        .update(update(&id, change, &["subject", "lobby_bypass_settings", "allowed_presenters"]))
        .await
        .expect("updated")
        .into_inner();
    let sent = app.last_graph_request();
    assert_eq!(sent.method, "PATCH");
    assert_eq!(
        json_body(&sent),
        serde_json::json!({
            "subject": "Weekly sync (moved)",
            "lobbyBypassSettings": {"scope": "everyone"},
            // Masked and unset: cleared. Unmasked and set (allowRecording): not sent.
            "allowedPresenters": null,
        })
    );
    let meeting = updated.meeting.unwrap();
    assert_eq!(meeting.subject(), "Weekly sync (moved)");
    assert_eq!(meeting.lobby_bypass_settings.unwrap().scope(), pb::LobbyBypassScope::Everyone);
    let again = client.get(get(&id)).await.expect("get").into_inner().meeting.unwrap();
    assert_eq!(again.subject(), "Weekly sync (moved)");

    let deleted = client.delete(delete(&id, false)).await.expect("deleted").into_inner();
    assert!(!deleted.graph_request_id.is_empty());
    assert_eq!(app.last_graph_request().method, "DELETE");
    assert_status(&client.get(get(&id)).await.unwrap_err(), Code::NotFound, "GRAPH_NOT_FOUND");
    assert_status(&client.delete(delete(&id, false)).await.unwrap_err(), Code::NotFound, "GRAPH_NOT_FOUND");
    client.delete(delete(&id, true)).await.expect("allow_missing: already gone is done");
}

fn percent(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_lookup_that_matches_nothing_is_meeting_not_found() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let url = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_bm9uZQ%40thread.v2/0?context=it's";
    let err = client.find(find(pb::find_request::Key::JoinWebUrl(url.into()))).await.unwrap_err();
    assert_status(&err, Code::NotFound, "MEETING_NOT_FOUND");
    let (_, metadata) = error_info(&err);
    assert!(metadata.contains_key("graph_request_id"), "{metadata:?}");
    // The value's quote is doubled inside the OData string literal, the whole value encoded once.
    let sent = app.last_graph_request();
    let query = sent.path.split_once('?').unwrap().1;
    let decoded = percent_encoding::percent_decode_str(query.trim_start_matches("$filter=")).decode_utf8().unwrap();
    assert_eq!(decoded, format!("JoinWebUrl eq '{}'", url.replace('\'', "''")));
}

#[tokio::test]
async fn bad_lifecycle_requests_never_reach_graph() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let subject = || pb::OnlineMeeting { subject: Some("s".into()), ..Default::default() };
    let cases: Vec<(&str, tonic::Status, Vec<&str>)> = vec![
        ("get without a meeting id", client.get(get("")).await.unwrap_err(), vec!["meeting_id"]),
        ("a meeting id with a newline", client.get(get("a\nb")).await.unwrap_err(), vec!["meeting_id"]),
        ("an id over 4 KiB", client.get(get(&"x".repeat(4097))).await.unwrap_err(), vec!["meeting_id"]),
        (
            "find without a key",
            client
                .find(pb::FindRequest { key: None, ..find(pb::find_request::Key::JoinMeetingId("1".into())) })
                .await
                .unwrap_err(),
            vec!["key"],
        ),
        ("an empty mask", client.update(update("m", subject(), &[])).await.unwrap_err(), vec!["update_mask"]),
        (
            "a property PATCH can't change",
            client.update(update("m", subject(), &["subject", "join_meeting_id_settings"])).await.unwrap_err(),
            vec!["update_mask.paths[1]"],
        ),
        (
            "a nested path",
            client.update(update("m", subject(), &["lobby_bypass_settings.scope"])).await.unwrap_err(),
            vec!["update_mask.paths[0]"],
        ),
        (
            "start without end",
            client.update(update("m", simple_meeting(), &["start_date_time"])).await.unwrap_err(),
            vec!["update_mask"],
        ),
        (
            "a read-only path",
            client.update(update("m", subject(), &["join_web_url"])).await.unwrap_err(),
            vec!["update_mask.paths[0]"],
        ),
        (
            "delete with a bad tenant",
            client.delete(pb::DeleteRequest { tenant_id: "x".into(), ..delete("m", false) }).await.unwrap_err(),
            vec!["tenant_id"],
        ),
    ];
    for (name, err, fields) in cases {
        assert_status(&err, Code::InvalidArgument, "INVALID_REQUEST");
        let details = tonic_types::StatusExt::get_error_details(&err);
        let violations: Vec<&str> =
            details.bad_request().expect("BadRequest").field_violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(violations, fields, "case: {name}");
    }
    assert!(app.graph_requests().is_empty(), "nothing reached Graph");
    assert_eq!(app.token_requests(), 0, "nor the identity platform");
}

#[tokio::test]
async fn validate_only_checks_everything_and_sends_nothing() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let checked = client
        .create(pb::CreateRequest { validate_only: true, ..request(simple_meeting()) })
        .await
        .expect("valid")
        .into_inner();
    assert_eq!(checked, pb::CreateResponse::default());
    let invalid = pb::CreateRequest {
        validate_only: true,
        ..request(pb::OnlineMeeting { subject: Some("x".repeat(1001)), ..simple_meeting() })
    };
    assert_status(&client.create(invalid).await.unwrap_err(), Code::InvalidArgument, "INVALID_REQUEST");
    let unknown_tenant = pb::CreateRequest {
        validate_only: true,
        tenant_id: "11111111-2222-4333-8444-555555555555".into(),
        ..request(simple_meeting())
    };
    assert_status(&client.create(unknown_tenant).await.unwrap_err(), Code::PermissionDenied, "CALLER_NOT_PERMITTED");
    let change = pb::UpdateRequest { validate_only: true, ..update("m", simple_meeting(), &["subject"]) };
    assert_eq!(client.update(change).await.expect("valid").into_inner(), pb::UpdateResponse::default());
    assert!(app.graph_requests().is_empty(), "nothing reached Graph");
    assert_eq!(app.token_requests(), 0, "nor the identity platform");
}

#[tokio::test]
async fn reads_updates_and_deletes_are_retried_where_a_create_is_not() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let id = app.create(request(simple_meeting())).await.expect("created").meeting.unwrap().id().to_owned();
    for status in [500, 502, 504] {
        let before = app.graph_requests().len();
        app.emulator.push_fault(Fault::graph_status(status));
        client.get(get(&id)).await.unwrap_or_else(|e| panic!("a GET after {status} is retried: {e:?}"));
        assert_eq!(app.graph_requests().len(), before + 2, "one retry after {status}");
    }
    // A PATCH that Graph applied but whose answer was lost is sent again: the same values.
    app.emulator.push_fault(Fault::graph_status(500).after_processing());
    let change = pb::OnlineMeeting { subject: Some("Retried".into()), ..Default::default() };
    let updated = client.update(update(&id, change, &["subject"])).await.expect("retried").into_inner();
    assert_eq!(updated.meeting.unwrap().subject(), "Retried");
    // A DELETE whose answer was lost: retried; the second finds nothing and is NOT_FOUND, as
    // Graph would answer a caller that retried it itself; allow_missing makes that OK.
    app.emulator.push_fault(Fault::graph_status(502).after_processing());
    client.delete(delete(&id, true)).await.expect("deleted, retried, and gone is done");
    // A plain create is not retried after a 500: the meeting may exist.
    let before = app.graph_requests().len();
    app.emulator.push_fault(Fault::graph_status(500));
    assert_status(&app.create(request(simple_meeting())).await.unwrap_err(), Code::Internal, "GRAPH_INTERNAL_ERROR");
    assert_eq!(app.graph_requests().len(), before + 1);
}

#[tokio::test]
async fn an_idempotent_create_with_every_property_completes_after_a_failure_between_its_steps() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.graph.max_retries = 0).await;
    let meeting = || pb::OnlineMeeting {
        external_id: Some("order-7".into()),
        allow_recording: Some(false),
        lobby_bypass_settings: Some(pb::LobbyBypassSettings {
            scope: pb::LobbyBypassScope::Organizer as i32,
            ..Default::default()
        }),
        ..simple_meeting()
    };
    // createOrGet goes through (an empty fault), then the PATCH fails: the service stops between
    // the two steps, as a crash would.
    app.emulator.push_fault(Fault::graph_delay(Duration::ZERO));
    app.emulator.push_fault(Fault::graph_status(403));
    let err = app.create(request(meeting())).await.expect_err("the PATCH failed");
    assert_status(&err, Code::PermissionDenied, "GRAPH_FORBIDDEN");
    let sent = app.graph_requests();
    assert!(sent[0].path.ends_with("/onlineMeetings/createOrGet"), "{}", sent[0].path);
    assert_eq!(
        json_body(&sent[0]).as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        ["endDateTime", "externalId", "startDateTime", "subject"],
        "createOrGet gets only its parameters"
    );
    assert_eq!(sent[1].method, "PATCH");
    assert_eq!(
        json_body(&sent[1]),
        serde_json::json!({"lobbyBypassSettings": {"scope": "organizer"}, "allowRecording": false})
    );

    // The caller retries: createOrGet finds the meeting, the PATCH completes it.
    let retried = app.create(request(meeting())).await.expect("completed");
    assert!(!retried.created, "the meeting existed before this call");
    let completed = retried.meeting.unwrap();
    assert_eq!(completed.allow_recording, Some(false));
    assert_eq!(completed.lobby_bypass_settings.unwrap().scope(), pb::LobbyBypassScope::Organizer);
    assert_eq!(app.emulator.meetings_created(), 1, "one meeting");

    // A fresh external id: created in this call, patched in the same call.
    let fresh = app
        .create(request(pb::OnlineMeeting { external_id: Some("order-8".into()), ..meeting() }))
        .await
        .expect("created");
    assert!(fresh.created);
    assert_eq!(fresh.meeting.unwrap().allow_recording, Some(false));
}
