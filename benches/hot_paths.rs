//! Micro-benchmarks (criterion) of the service's pure hot paths, through the crate's public API:
//!
//!     cargo bench --bench hot_paths
//!
//! * `validate_encode/*`: domain validation + the Graph JSON of a meeting (`GraphClient::encode`),
//!   for the benchmark's typical request and for the live event of the seed's example 3.
//! * `request_to_graph_json/seed_live_event`: the gRPC request of the seed's example 3 to the
//!   Graph JSON body: proto -> domain with validation, then the JSON.
//! * `graph_json_to_proto/seed_live_event`: Graph's documented example-3 response judged and read
//!   (`graph::interpret`), then domain -> proto reply.
//! * `to_status/*`: the error -> gRPC status table, with its error details.
//! * `create_in_process/*`: one whole Create through an in-process server (tonic client over
//!   loopback -> handler -> validation -> Graph JSON -> HTTP/1.1 -> a canned upstream -> Graph JSON
//!   to domain to proto -> reply), once with the seed's example-3 (live event) response and once
//!   with a minimal meeting; the difference is what reading the larger response costs (no tracing
//!   subscriber is installed: logging costs nothing here).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{extract::Request, http::StatusCode, response::IntoResponse, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use meeting_service::{
    config::{AuthMode, Settings, TenantSettings},
    domain::{
        validate_new_meeting, BroadcastMeetingAudience, BroadcastMeetingSettings, FieldViolation, LobbyBypassScope,
        LobbyBypassSettings, MeetingCreated, MeetingParticipantInfo, MeetingParticipants, OnlineMeeting,
        OnlineMeetingPresenters, OnlineMeetingRole, TenantId, ValidationError,
    },
    error::Error,
    graph::{interpret, Answer, Expect, GraphAnswer, GraphClient, GraphError, GraphFailure},
    grpc::{
        create_command, create_response,
        pb::{self, meeting_service_client::MeetingServiceClient},
        status::{to_status, Correlation},
    },
    identity::IdentityError,
    reload::SettingsSource,
    server::App,
};
use time::macros::datetime;
use tonic::transport::Channel;

const TENANT: &str = "7d0f7a6e-3c1b-4f7e-9a5d-2b8c6e4f1a90";
const USER: &str = "5b2e8f4a-1c6d-4e9b-8a3f-7d0c2e6b9f15";

/// The response of the seed's example 3 ("Create a Microsoft Teams live event with a user
/// token"), as documented.
const SEED_LIVE_EVENT_RESPONSE: &str = r#"{
  "id": "dc17674c-81d9-4adb-bfb2-8fa442e4622_19:meeting_MGQ4MDDYxODYzMmY2@thread.v2",
  "creationDateTime": "2020-12-02T14:30:34.2444915Z",
  "startDateTime": "2020-09-29T22:35:31.389759Z",
  "endDateTime": "2020-12-02T15:00:34.2464912Z",
  "joinWebUrl": "(redacted)",
  "subject": "User Token Live Event",
  "autoAdmittedUsers": "EveryoneInCompany",
  "isEntryExitAnnounced": true,
  "allowedPresenters": "organization",
  "videoTeleconferenceId": "(redacted)",
  "participants": {
    "organizer": {
      "upn": "(redacted)",
      "role": "producer",
      "identity": {
        "user": {
          "id": "dc174c-81d9-4adb-bfb2-8f6a4622",
          "displayName": null,
          "tenantId": "909581-5130-43e9-88f3-fccde38",
          "identityProvider": "AAD"
        }
      }
    },
    "attendees": [
      {
        "upn": "(redacted)",
        "role": "producer",
        "identity": {
          "user": {
            "id": "dc174c-81d9-4adb-bfb2-8442e4622",
            "displayName": null,
            "tenantId": "909581-5130-43e9-88f3-fcb3cde38",
            "identityProvider": "AAD"
          }
        }
      }
    ],
    "producers": [
      {
        "upn": "(redacted)",
        "role": "producer",
        "identity": {
          "user": {
            "id": "d7674c-81d9-4adb-bfb2-8f6a4622",
            "displayName": null,
            "tenantId": "909c81-5130-43e9-88f3-fcbcde38",
            "identityProvider": "AAD"
          }
        }
      }
    ],
    "contributors": []
  },
  "lobbyBypassSettings": {
    "scope": "organization",
    "isDialInBypassEnabled": false
  },
  "isBroadcast": true,
  "broadcastSettings": {
    "allowedAudience": "organization",
    "isRecordingEnabled": true,
    "isAttendeeReportEnabled": true
  },
  "joinMeetingIdSettings": {
    "isPasscodeRequired": false,
    "joinMeetingId": "1234567890",
    "passcode": null
  }
}"#;

const MINIMAL_RESPONSE: &str =
    r#"{"id":"MSpkYzE3Njc0Yy04MWQ5LTRhZGItYmZiMi04ZmE0NDJlNDYyMl8xOTptZWV0aW5n","subject":"User Token Live Event"}"#;

/// The load benchmark's typical request: subject, times, presenters, lobby, one attendee.
fn typical_meeting() -> OnlineMeeting {
    OnlineMeeting {
        subject: Some("Quarterly planning review".into()),
        start_date_time: Some(datetime!(2030-01-15 15:00 UTC)),
        end_date_time: Some(datetime!(2030-01-15 16:00 UTC)),
        allowed_presenters: Some(OnlineMeetingPresenters::Organization),
        lobby_bypass_settings: Some(LobbyBypassSettings {
            scope: Some(LobbyBypassScope::Organization),
            is_dial_in_bypass_enabled: Some(false),
        }),
        participants: Some(MeetingParticipants {
            attendees: vec![MeetingParticipantInfo {
                upn: Some("megan.bowen@contoso.example".into()),
                role: Some(OnlineMeetingRole::Attendee),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The request of the seed's example 3 (a live event).
fn live_event_meeting() -> OnlineMeeting {
    OnlineMeeting {
        subject: Some("User Token Live Event".into()),
        start_date_time: Some(datetime!(2020-12-02 14:30:34.2444915 UTC)),
        end_date_time: Some(datetime!(2020-12-02 15:00:34.2464912 UTC)),
        is_broadcast: Some(true),
        broadcast_settings: Some(BroadcastMeetingSettings {
            allowed_audience: Some(BroadcastMeetingAudience::Everyone),
            is_recording_enabled: Some(true),
            is_attendee_report_enabled: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn validate_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate_encode");
    for (name, meeting) in [("typical", typical_meeting()), ("seed_live_event", live_event_meeting())] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut violations = Vec::new();
                validate_new_meeting(std::hint::black_box(&meeting), &mut violations);
                assert!(violations.is_empty(), "{violations:?}");
                GraphClient::encode(&meeting)
            })
        });
    }
    group.finish();
}

fn to_status_table(c: &mut Criterion) {
    let correlation = Correlation {
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        client_request_id: Some("0b4a8f6e-2d1c-4e5f-9a7b-3c6d8e0f1a2b".into()),
    };
    let graph = |status: u16, code: &str, retry_after: Option<Duration>| Error::Graph {
        source: GraphError::Status(Box::new(GraphFailure {
            status,
            code: Some(code.into()),
            message: Some("Please retry again later.".into()),
            request_id: Some("9e1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d".into()),
            retry_after,
        })),
    };
    let tenant = TenantId::parse("tenant_id", TENANT).expect("tenant id");
    let cases = [
        (
            "invalid_request_2_fields",
            Error::Invalid(ValidationError::from(vec![
                FieldViolation::new("meeting.end_date_time", "must not be before start_date_time"),
                FieldViolation::new("meeting.id", "is read-only: Graph sets it"),
            ])),
        ),
        ("graph_throttled_429", graph(429, "TooManyRequests", Some(Duration::from_millis(2128)))),
        ("graph_forbidden_403", graph(403, "Forbidden", None)),
        (
            "identity_rejected",
            Error::Identity {
                tenant,
                source: Arc::new(IdentityError::Rejected {
                    status: 401,
                    error: "invalid_client".into(),
                    description: "AADSTS7000215: Invalid client secret provided.".into(),
                    codes: vec![7000215],
                    trace_id: Some("0d1e2f3a-4b5c-6d7e-8f9a-0b1c2d3e4f5a".into()),
                    correlation_id: Some("1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d".into()),
                }),
            },
        ),
        ("deadline_exceeded", Error::DeadlineExceeded { reached_graph: true }),
    ];
    let mut group = c.benchmark_group("to_status");
    for (name, error) in &cases {
        group.bench_function(*name, |b| b.iter(|| to_status(std::hint::black_box(error), &correlation)));
    }
    group.finish();
}

/// A canned identity platform and Graph on one loopback port: every token request gets a token,
/// every other POST gets `body` with 201.
async fn canned_upstream(body: &'static str) -> SocketAddr {
    let app = Router::new().fallback(move |req: Request| async move {
        if req.uri().path().ends_with("/oauth2/v2.0/token") {
            let token = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QifQ.eyJ0aWQiOiJiZW5jaCJ9.c2ln"}"#;
            (StatusCode::OK, [("content-type", "application/json; charset=utf-8")], token).into_response()
        } else {
            let _ = axum::body::to_bytes(req.into_body(), 1 << 20).await;
            (StatusCode::CREATED, [("content-type", "application/json;odata.metadata=minimal"), ("request-id", "9e1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d")], body)
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The service in this process against a canned upstream; returns a connected client.
async fn in_process_service(upstream: SocketAddr) -> MeetingServiceClient<Channel> {
    let secret = std::env::temp_dir().join(format!("meeting-service-hot-paths-{}.secret", std::process::id()));
    std::fs::write(&secret, "bench-secret").expect("secret file");
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().expect("address");
    settings.graph.endpoint = Some(format!("http://{upstream}"));
    settings.identity.authority_host = Some(format!("http://{upstream}"));
    settings.identity.watch_files = false;
    settings.auth.mode = AuthMode::None;
    settings.tenants = vec![TenantSettings {
        tenant_id: TENANT.into(),
        client_id: "3a9c5e1f-7b2d-4c8e-a6f0-5d1b9e3c7a24".into(),
        client_secret_file: Some(secret),
        ..Default::default()
    }];
    settings.validate().expect("valid settings");
    let listener = tokio::net::TcpListener::bind(settings.server.listen).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = App::build(settings.clone(), SettingsSource::Fixed(Box::new(settings))).expect("app");
    tokio::spawn(app.serve(listener, std::future::pending::<()>()));
    let channel = Channel::from_shared(format!("http://{addr}")).expect("url").connect().await.expect("connect");
    MeetingServiceClient::new(channel)
}

fn seed_live_event_request() -> pb::CreateRequest {
    let live_event = pb::OnlineMeeting {
        subject: Some("User Token Live Event".into()),
        start_date_time: Some("2020-12-02T14:30:34.2444915Z".parse().expect("timestamp")),
        end_date_time: Some("2020-12-02T15:00:34.2464912Z".parse().expect("timestamp")),
        is_broadcast: Some(true),
        broadcast_settings: Some(pb::BroadcastMeetingSettings {
            allowed_audience: pb::BroadcastMeetingAudience::Everyone as i32,
            is_recording_enabled: Some(true),
            is_attendee_report_enabled: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    pb::CreateRequest {
        tenant_id: TENANT.into(),
        user_id: USER.into(),
        meeting: Some(Box::new(live_event)),
        ..Default::default()
    }
}

fn conversions(c: &mut Criterion) {
    let request = seed_live_event_request();
    c.bench_function("request_to_graph_json/seed_live_event", |b| {
        b.iter(|| {
            let command = create_command(std::hint::black_box(request.clone()), None).expect("valid");
            GraphClient::encode(&command.meeting)
        })
    });
    c.bench_function("graph_json_to_proto/seed_live_event", |b| {
        b.iter(|| {
            let answer = Answer {
                status: 201,
                request_id: Some("0f7a6e3c-1b4f-4e9a-9d2b-8c6e4f1a9001".into()),
                retry_after: None,
                is_json: true,
                body: std::hint::black_box(SEED_LIVE_EVENT_RESPONSE.as_bytes()),
                truncated: false,
            };
            let outcome = interpret(answer, Expect::Created).expect("a meeting");
            let GraphAnswer::Meeting { meeting, created } = outcome.answer else { panic!("a meeting") };
            create_response(MeetingCreated { meeting, created, graph_request_id: outcome.request_id })
        })
    });
}

fn create_in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let request = seed_live_event_request();
    let mut group = c.benchmark_group("create_in_process");
    for (name, body) in [("seed_live_event_response", SEED_LIVE_EVENT_RESPONSE), ("minimal_response", MINIMAL_RESPONSE)]
    {
        let client = rt.block_on(async { in_process_service(canned_upstream(body).await).await });
        // The first call fetches the token.
        let first = rt.block_on(client.clone().create(request.clone())).expect("Create succeeds");
        assert!(first.get_ref().meeting.as_ref().is_some_and(|m| m.id.is_some()));
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(client.clone().create(request.clone())).expect("Create succeeds"))
        });
    }
    group.finish();
}

criterion_group!(benches, validate_encode, conversions, to_status_table, create_in_process);
criterion_main!(benches);
