//! Create end to end: the five examples of Graph's "Create onlineMeeting" page (what Graph
//! received, what the caller got back), presence, createOrGet, languages and newer enum members.

use meeting_emulator::EmulatorConfig;
use meeting_service::{
    graph::ApiVersion,
    grpc::pb::{self, BroadcastMeetingAudience, LobbyBypassScope},
};
use serde_json::json;

use crate::helpers::*;

fn seed_times() -> (Option<prost_types::Timestamp>, Option<prost_types::Timestamp>) {
    (Some(ts("2019-07-12T14:30:34.2444915-07:00")), Some(ts("2019-07-12T15:00:34.2464912-07:00")))
}

/// Checks what every create sends and every answer carries.
fn check_wire_and_answer(app: &TestApp, response: &pb::CreateResponse, path_suffix: &str) -> serde_json::Value {
    let sent = app.last_graph_request();
    assert_eq!(sent.method, "POST");
    assert!(sent.path.ends_with(path_suffix), "{}", sent.path);
    assert!(sent.header("authorization").unwrap().starts_with("Bearer ey"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("prefer"), Some("include-unknown-enum-members"));
    let client_request_id = sent.header("client-request-id").expect("client-request-id");
    assert!(uuid::Uuid::parse_str(client_request_id).is_ok(), "{client_request_id}");

    let meeting = response.meeting.as_ref().expect("meeting");
    assert!(response.created);
    assert!(uuid::Uuid::parse_str(&response.graph_request_id).is_ok(), "{}", response.graph_request_id);
    assert!(!meeting.id().is_empty());
    assert!(meeting.join_web_url().starts_with("https://teams.microsoft.com/l/meetup-join/"));
    assert!(meeting.creation_date_time.is_some());
    // Graph's create examples spell it "ConferenceId"; the caller gets it either way.
    assert!(!meeting.audio_conferencing.as_ref().unwrap().conference_id().is_empty());
    let organizer = meeting.participants.as_ref().unwrap().organizer.as_ref().unwrap();
    assert_eq!(organizer.identity.as_ref().unwrap().user.as_ref().unwrap().id(), USER);
    let extra = &meeting.additional_data.as_ref().expect("additional_data").fields;
    assert!(extra.contains_key("@odata.context"), "{extra:?}");
    sent.json()
}

#[tokio::test]
async fn example_1_user_token_meeting_localized() {
    let app = spawn_app().await;
    let (start, end) = seed_times();
    let mut req = request(pb::OnlineMeeting {
        subject: Some("User Token Meeting".into()),
        start_date_time: start,
        end_date_time: end,
        ..Default::default()
    });
    req.language = "ja".into();
    let response = app.create(req).await.expect("created");
    let body = check_wire_and_answer(&app, &response, &format!("/v1.0/users/{USER}/onlineMeetings"));
    assert_eq!(
        body,
        json!({
            "startDateTime": "2019-07-12T21:30:34.2444915Z",
            "endDateTime": "2019-07-12T22:00:34.2464912Z",
            "subject": "User Token Meeting"
        })
    );
    assert_eq!(app.last_graph_request().header("accept-language"), Some("ja"));
    let meeting = response.meeting.unwrap();
    assert_eq!(meeting.subject(), "User Token Meeting");
    assert_eq!(meeting.start_date_time, Some(ts("2019-07-12T21:30:34.2444915Z")));
    assert_eq!(meeting.end_date_time, Some(ts("2019-07-12T22:00:34.2464912Z")));
    let info = meeting.join_information.unwrap();
    assert_eq!(info.content_type(), pb::BodyType::Html);
    assert!(
        info.content().contains("language%3Dja"),
        "not localized: {}",
        &info.content()[..200.min(info.content().len())]
    );
}

#[tokio::test]
async fn example_2_meeting_in_a_channel() {
    let app = spawn_app().await;
    let (start, end) = seed_times();
    let thread = "19%3A3b5239894b776357c1dd79%40thread.skype";
    let response = app
        .create(request(pb::OnlineMeeting {
            subject: Some("User meeting in Microsoft Teams channel.".into()),
            start_date_time: start,
            end_date_time: end,
            chat_info: Some(pb::ChatInfo { thread_id: Some(thread.into()), ..Default::default() }),
            ..Default::default()
        }))
        .await
        .expect("created");
    let body = check_wire_and_answer(&app, &response, "/onlineMeetings");
    assert_eq!(body["chatInfo"], json!({"threadId": thread}));
    assert_eq!(response.meeting.unwrap().chat_info.unwrap().thread_id(), thread);
}

#[tokio::test]
async fn example_3_live_event_on_beta() {
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.graph.api_version = ApiVersion::Beta).await;
    let response = app
        .create(request(pb::OnlineMeeting {
            subject: Some("User Token Live Event".into()),
            start_date_time: Some(ts("2020-12-02T14:30:34.2444915+00:00")),
            end_date_time: Some(ts("2020-12-02T15:00:34.2464912+00:00")),
            is_broadcast: Some(true),
            broadcast_settings: Some(pb::BroadcastMeetingSettings {
                allowed_audience: BroadcastMeetingAudience::Everyone as i32,
                is_recording_enabled: Some(true),
                is_attendee_report_enabled: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await
        .expect("created");
    let body = check_wire_and_answer(&app, &response, &format!("/beta/users/{USER}/onlineMeetings"));
    assert_eq!(
        body,
        json!({
            "subject": "User Token Live Event",
            "startDateTime": "2020-12-02T14:30:34.2444915Z",
            "endDateTime": "2020-12-02T15:00:34.2464912Z",
            "isBroadcast": true,
            "broadcastSettings": {"allowedAudience": "everyone", "isRecordingEnabled": true, "isAttendeeReportEnabled": true}
        })
    );
    let meeting = response.meeting.unwrap();
    assert_eq!(meeting.is_broadcast, Some(true));
    let settings = meeting.broadcast_settings.unwrap();
    assert_eq!(settings.allowed_audience(), BroadcastMeetingAudience::Everyone);
    assert_eq!(settings.is_recording_enabled, Some(true));
    assert_eq!(settings.is_attendee_report_enabled, Some(true));
}

#[tokio::test]
async fn example_4_passcode_required() {
    let app = spawn_app().await;
    let (start, end) = seed_times();
    let response = app
        .create(request(pb::OnlineMeeting {
            subject: Some("User meeting".into()),
            start_date_time: start,
            end_date_time: end,
            join_meeting_id_settings: Some(pb::JoinMeetingIdSettings {
                is_passcode_required: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await
        .expect("created");
    let body = check_wire_and_answer(&app, &response, "/onlineMeetings");
    assert_eq!(body["joinMeetingIdSettings"], json!({"isPasscodeRequired": true}));
    let settings = response.meeting.unwrap().join_meeting_id_settings.unwrap();
    assert_eq!(settings.is_passcode_required, Some(true));
    assert!(!settings.join_meeting_id().is_empty());
    assert!(!settings.passcode().is_empty(), "a passcode is generated");
}

#[tokio::test]
async fn example_5_no_passcode_explicit_or_omitted() {
    let app = spawn_app().await;
    let (start, end) = seed_times();
    let base = pb::OnlineMeeting {
        subject: Some("User meeting in Microsoft Teams channel.".into()),
        start_date_time: start,
        end_date_time: end,
        ..Default::default()
    };
    let explicit = pb::OnlineMeeting {
        join_meeting_id_settings: Some(pb::JoinMeetingIdSettings {
            is_passcode_required: Some(false),
            ..Default::default()
        }),
        ..base.clone()
    };
    let response = app.create(request(explicit)).await.expect("created");
    let body = check_wire_and_answer(&app, &response, "/onlineMeetings");
    assert_eq!(body["joinMeetingIdSettings"], json!({"isPasscodeRequired": false}));
    let settings = response.meeting.unwrap().join_meeting_id_settings.unwrap();
    assert_eq!(settings.is_passcode_required, Some(false));
    assert_eq!(settings.passcode, None);

    let response = app.create(request(base)).await.expect("created");
    let body = check_wire_and_answer(&app, &response, "/onlineMeetings");
    assert!(body.get("joinMeetingIdSettings").is_none(), "{body}");
    assert_eq!(response.meeting.unwrap().join_meeting_id_settings.unwrap().passcode, None);
}

#[tokio::test]
async fn presence_unset_is_not_sent_explicit_false_is() {
    let app = spawn_app().await;
    let meeting = pb::OnlineMeeting {
        allow_recording: Some(false),
        is_entry_exit_announced: Some(false),
        meeting_spoken_language_tag: Some(String::new()),
        lobby_bypass_settings: Some(pb::LobbyBypassSettings {
            scope: LobbyBypassScope::Unspecified as i32,
            is_dial_in_bypass_enabled: Some(false),
        }),
        ..simple_meeting()
    };
    let response = app.create(request(meeting)).await.expect("created");
    let body = app.last_graph_request().json();
    assert_eq!(body["allowRecording"], json!(false));
    assert_eq!(body["isEntryExitAnnounced"], json!(false));
    assert_eq!(body["meetingSpokenLanguageTag"], json!(""));
    assert_eq!(body["lobbyBypassSettings"], json!({"isDialInBypassEnabled": false}));
    for unset in ["allowTranscription", "allowedPresenters", "allowMeetingChat", "recordAutomatically", "chatInfo"] {
        assert!(body.get(unset).is_none(), "{unset} was sent: {body}");
    }
    let meeting = response.meeting.unwrap();
    assert_eq!(meeting.allow_recording, Some(false));
    assert_eq!(meeting.is_entry_exit_announced, Some(false));
    assert_eq!(meeting.allow_transcription, None);
}

#[tokio::test]
async fn newer_enum_members_round_trip_by_name() {
    let app = spawn_app().await;
    let meeting = pb::OnlineMeeting {
        lobby_bypass_settings: Some(pb::LobbyBypassSettings {
            scope: LobbyBypassScope::Invited as i32,
            is_dial_in_bypass_enabled: None,
        }),
        ..simple_meeting()
    };
    let response = app.create(request(meeting)).await.expect("created");
    assert_eq!(app.last_graph_request().json()["lobbyBypassSettings"], json!({"scope": "invited"}));
    assert_eq!(response.meeting.unwrap().lobby_bypass_settings.unwrap().scope(), LobbyBypassScope::Invited);
}

#[tokio::test]
async fn organizer_upn_is_one_percent_encoded_segment() {
    let app = spawn_app().await;
    let mut req = request(simple_meeting());
    req.user_id = "adele.vance@contoso.example".into();
    let response = app.create(req).await.expect("created");
    assert!(response.created);
    assert!(
        app.last_graph_request().path.ends_with("/v1.0/users/adele.vance%40contoso.example/onlineMeetings"),
        "{}",
        app.last_graph_request().path
    );
}

#[tokio::test]
async fn accept_language_metadata_is_used_when_language_is_empty() {
    let app = spawn_app().await;
    let mut req = tonic::Request::new(request(simple_meeting()));
    req.metadata_mut().insert("accept-language", "de-DE, en;q=0.5".parse().unwrap());
    app.client.clone().create(req).await.expect("created");
    assert_eq!(app.last_graph_request().header("accept-language"), Some("de-DE, en;q=0.5"));
}

#[tokio::test]
async fn external_id_uses_create_or_get_and_never_duplicates() {
    let app = spawn_app().await;
    let meeting = pb::OnlineMeeting { external_id: Some("order-42".into()), ..simple_meeting() };
    let first = app.create(request(meeting.clone())).await.expect("created");
    assert!(first.created);
    let sent = app.last_graph_request();
    assert!(sent.path.ends_with(&format!("/users/{USER}/onlineMeetings/createOrGet")), "{}", sent.path);
    assert_eq!(sent.json()["externalId"], json!("order-42"));

    let second = app.create(request(meeting)).await.expect("returned");
    assert!(!second.created, "createOrGet's 200 means it already existed");
    let (a, b) = (first.meeting.unwrap(), second.meeting.unwrap());
    assert_eq!(a.id, b.id);
    assert_eq!(a.join_web_url, b.join_web_url);
    assert_eq!(b.external_id(), "order-42");
    assert_eq!(app.emulator.meetings_created(), 1);
}

#[tokio::test]
async fn graph_is_reached_over_http2_or_over_http1_when_the_endpoint_only_speaks_that() {
    // The tests' emulator is plain http reached by prior knowledge (h2c), as HTTPS reaches Graph
    // after ALPN: many calls share one HTTP/2 connection.
    let app = spawn_app().await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let mut client = app.client.clone();
        calls.spawn(async move { client.create(request(simple_meeting())).await });
    }
    for result in calls.join_all().await {
        result.expect("created over h2c");
    }
    let versions: Vec<String> = app.graph_requests().into_iter().map(|r| r.version).collect();
    assert_eq!(versions, vec!["HTTP/2.0"; 20]);

    let http1 = spawn_app_with(Default::default(), |s| s.graph.http2_prior_knowledge = false).await;
    let created = http1.create(request(simple_meeting())).await.expect("created");
    assert!(created.meeting.unwrap().join_web_url().starts_with("https://teams.microsoft.com/"));
    assert_eq!(http1.last_graph_request().version, "HTTP/1.1", "a plain-http endpoint without prior knowledge");
}
