//! Serving concerns: health, reflection, graceful shutdown, and the real binary (dev mode,
//! SIGTERM, configuration errors, no secrets in its output).

use std::{
    io::Read,
    process::{Command, Stdio},
    time::Duration,
};

use meeting_emulator::{Fault, DEV_CLIENT_SECRET, DEV_TENANT_ID};
use meeting_service::grpc::pb::meeting_service_client::MeetingServiceClient;
use tonic::{transport::Channel, Code};
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest};

use crate::helpers::*;

async fn next<T>(stream: &mut tonic::Streaming<T>) -> Option<T> {
    stream.message().await.ok().flatten()
}

#[tokio::test]
async fn health_reports_each_service() {
    let app = spawn_app().await;
    let channel = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "meetings.v1.MeetingService"] {
        let status = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner().status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    let unknown = health.check(HealthCheckRequest { service: "nope.Service".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once_until_one_ends() {
    let app = spawn_app_with(Default::default(), |s| s.server.max_connections = 2).await;
    let connect = || async {
        let channel = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await?;
        let mut health = HealthClient::new(channel);
        let mut check = tonic::Request::new(HealthCheckRequest::default());
        check.set_timeout(Duration::from_secs(2));
        health.check(check).await.map_err(|status| status.to_string())?;
        Ok::<_, Box<dyn std::error::Error>>(health)
    };
    let mut first = connect().await.expect("first connection");
    let _second = connect().await.expect("second connection");
    let started = std::time::Instant::now();
    assert!(connect().await.is_err(), "a third connection is refused");
    assert!(started.elapsed() < Duration::from_secs(1), "refused at once, took {:?}", started.elapsed());
    // The open ones keep working, and closing one makes room.
    // (tonic reports the closed connection as CANCELLED, grpc-go and others as UNAVAILABLE.)
    let refused = app.create(request(simple_meeting())).await.expect_err("the lazy client is the third connection");
    assert!(matches!(refused.code(), Code::Unavailable | Code::Cancelled), "{refused:?}");
    assert!(app.graph_requests().is_empty(), "a refused connection's call went nowhere");
    first.check(HealthCheckRequest::default()).await.expect("an admitted connection still serves");
    drop(first);
    eventually_async(|| async { connect().await.ok() }, "a connection once one closed").await;
}

#[tokio::test]
async fn reflection_lists_both_services_in_v1_and_v1alpha() {
    use tonic_reflection::pb::{v1, v1alpha};
    let app = spawn_app().await;
    let channel = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await.unwrap();

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut stream = client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        next(&mut stream).await.and_then(|r| r.message_response)
    else {
        panic!("no list");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"meetings.v1.MeetingService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
            "meetings.v1.MeetingService".into(),
        )),
    };
    let mut stream = alpha.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let response = next(&mut stream).await.and_then(|r| r.message_response).expect("answer");
    assert!(matches!(response, v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_)));

    // The error details every error carries resolve too, so grpcurl and other generic clients
    // print ErrorInfo, RetryInfo and BadRequest decoded instead of "not recognized".
    for symbol in ["google.rpc.ErrorInfo", "google.rpc.RetryInfo", "google.rpc.BadRequest", "google.rpc.Status"] {
        let request = v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                symbol.into(),
            )),
        };
        let mut stream = alpha.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
        let response = next(&mut stream).await.and_then(|r| r.message_response).expect("answer");
        assert!(
            matches!(response, v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_)),
            "{symbol}: {response:?}"
        );
    }
}

#[tokio::test]
async fn shutdown_lets_calls_in_flight_finish_and_refuses_new_ones() {
    let mut app = spawn_app().await;
    app.create(request(simple_meeting())).await.expect("warm");
    let channel = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await.unwrap();
    let mut watch =
        HealthClient::new(channel).watch(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    assert_eq!(next(&mut watch).await.unwrap().status(), ServingStatus::Serving);

    app.emulator.push_fault(Fault::graph_delay(Duration::from_millis(800)));
    let in_flight = {
        let mut client = app.client.clone();
        tokio::spawn(async move { client.create(request(simple_meeting())).await })
    };
    eventually(|| app.graph_requests().len() == 2, "the slow call to reach Graph").await;

    app.trigger_shutdown();
    assert_eq!(next(&mut watch).await.unwrap().status(), ServingStatus::NotServing);
    drop(watch);

    // Refused either by the handler (UNAVAILABLE, SHUTTING_DOWN) or by the transport, which has
    // sent GOAWAY and stopped accepting connections.
    let late = app.create(request(simple_meeting())).await.expect_err("refused while draining");
    assert!(matches!(late.code(), Code::Unavailable | Code::Cancelled), "{late:?}");
    let fresh = Channel::from_shared(format!("http://{}", app.addr)).unwrap().connect().await;
    if let Ok(channel) = fresh {
        let refused = MeetingServiceClient::new(channel).create(request(simple_meeting())).await;
        assert!(refused.is_err(), "a new connection was served during shutdown");
    }

    let response = in_flight.await.unwrap().expect("the call in flight completes").into_inner();
    assert!(response.created);
    tokio::time::timeout(Duration::from_secs(5), app.stop()).await.expect("drains promptly").expect("clean exit");
    assert_eq!(app.emulator.meetings_created(), 2);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real binary in dev mode: prints how to use it, serves, exits 0 on SIGTERM, and never
/// prints the client secret or a token.
#[tokio::test]
async fn dev_mode_binary_serves_and_exits_cleanly_on_sigterm() {
    let port = free_port();
    let mut guard = KillOnDrop(Some(
        Command::new(env!("CARGO_BIN_EXE_meeting-service"))
            .args(["--dev", "--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts"),
    ));

    let addr = format!("http://127.0.0.1:{port}");
    let mut client = None;
    for _ in 0..100 {
        if let Ok(channel) = Channel::from_shared(addr.clone()).unwrap().connect().await {
            client = Some(MeetingServiceClient::new(channel));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut client = client.expect("dev server listens");
    let mut req = request(simple_meeting());
    req.user_id = "adele.vance@contoso.example".into();
    let created = client.create(req.clone()).await.expect("dev mode creates").into_inner();
    assert!(created.meeting.unwrap().join_web_url().starts_with("https://teams.microsoft.com/"));
    req.user_id = "no.policy@contoso.example".into();
    client.create(req).await.expect_err("403 path logs an error");

    let status = Command::new("kill").args(["-TERM", &guard.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut child = guard.take();
    let exit = tokio::task::spawn_blocking(move || {
        let mut stdout = String::new();
        let mut stderr = String::new();
        child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        (child.wait().unwrap(), stdout, stderr)
    });
    let (exit, stdout, stderr) = tokio::time::timeout(Duration::from_secs(10), exit).await.expect("exits").unwrap();
    assert!(exit.success(), "exit {exit:?}\n{stderr}");
    assert!(stdout.contains(DEV_TENANT_ID), "{stdout}");
    assert!(stdout.contains("grpcurl -plaintext"), "{stdout}");
    let output = format!("{stdout}{stderr}");
    assert!(output.contains("SIMULATED"), "dev mode says so loudly");
    assert!(output.contains("auth.mode = \"none\""), "dev mode says callers are not authenticated");
    assert!(!output.contains(DEV_CLIENT_SECRET), "the client secret leaked into the output");
    assert!(!output.contains("eyJ"), "a token leaked into the output");
}

#[test]
fn invalid_configuration_exits_64_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("meeting-service-badconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, "[graph]\nendpoint = \"http://graph.example.com\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_meeting-service")).args(["--config"]).arg(&config).output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("graph.endpoint"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_meeting-service"))
        .args(["--config"])
        .arg(&config)
        .env("MEETING_SERVICE__GRAPH__ENDPOINT", "https://graph.microsoft.com")
        .env("MEETING_SERVICE__SERVER__LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.listen"), "environment overrides are read and checked: {stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_documents_the_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_meeting-service")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--config", "--dev", "--listen", "health"] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

#[tokio::test]
async fn silent_connections_are_closed_and_give_their_places_back() {
    let app = spawn_app_with(Default::default(), |s| {
        s.server.max_connections = 2;
        s.server.handshake_timeout = Duration::from_millis(300);
    })
    .await;
    // Two connections that never send the HTTP/2 preface take every place.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(tokio::net::TcpStream::connect(app.addr).await.expect("connects"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The server hangs up on them once the handshake time is over, and a caller gets in.
    for mut socket in silent {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(2), async {
            use tokio::io::AsyncReadExt;
            while let Ok(1..) = socket.read(&mut buf).await {}
        })
        .await;
        assert!(closed.is_ok(), "the server closed the silent connection");
    }
    app.create(request(simple_meeting())).await.expect("a caller gets a place");
}

#[tokio::test]
async fn connections_past_their_age_are_sent_away_and_clients_reconnect() {
    let app = spawn_app_with(Default::default(), |s| {
        s.server.max_connection_age = Some(Duration::from_millis(500));
        s.server.max_connection_age_grace = Duration::from_secs(1);
    })
    .await;
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (_client, connection) = h2::client::handshake(tcp).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;
    assert!(ended.is_ok(), "the server ended the connection after its age (GOAWAY)");
    // A client whose connection was sent away reconnects on its own.
    app.create(request(simple_meeting())).await.expect("before");
    tokio::time::sleep(Duration::from_millis(1800)).await;
    app.create(request(simple_meeting())).await.expect("after the connection's age");
}
