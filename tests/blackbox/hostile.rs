//! A hostile upstream: a raw TCP server stands in for Graph (or the token endpoint) and
//! misbehaves at the byte level. Every case must end in the right status within the deadline,
//! without a panic, and without a second request (no second meeting).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use meeting_emulator::EmulatorConfig;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tonic::Code;

use crate::helpers::*;

/// How the fake upstream answers a request.
#[derive(Clone)]
pub(crate) enum Misbehaviour {
    /// Reads the request, then closes the connection without a byte.
    ResetBeforeHeaders,
    /// Sends headers promising a body, half of it, then closes.
    ResetAfterHeaders,
    /// Sends headers and part of the body, then stalls forever.
    StallMidBody,
    /// A complete response with the given status, content type and body.
    Respond { status: &'static str, content_type: &'static str, body: Arc<Vec<u8>> },
}

/// The fake upstream. It runs on a runtime (and thread) of its own, so that the tasks it keeps
/// (a stalled response) never count as tasks the service leaked.
pub(crate) struct Upstream {
    pub(crate) endpoint: String,
    pub(crate) requests: Arc<AtomicUsize>,
    pub(crate) open: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub(crate) async fn hostile(misbehaviour: Misbehaviour) -> Upstream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let (count, connections) = (requests.clone(), open.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            tokio::select! {
                _ = stopped => {}
                () = serve(listener, misbehaviour, count, connections) => {}
            }
        });
    });
    Upstream { endpoint, requests, open, _stop: stop }
}

async fn serve(listener: TcpListener, misbehaviour: Misbehaviour, count: Arc<AtomicUsize>, open: Arc<AtomicUsize>) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let (count, connections, misbehaviour) = (count.clone(), open.clone(), misbehaviour.clone());
        connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            // Read the request head (and whatever body came with it).
            let mut buffer = vec![0u8; 64 * 1024];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => {
                        connections.fetch_sub(1, Ordering::SeqCst);
                        return;
                    }
                    Ok(n) => seen.extend_from_slice(&buffer[..n]),
                }
            }
            count.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            match misbehaviour {
                Misbehaviour::ResetBeforeHeaders => {}
                Misbehaviour::ResetAfterHeaders => {
                    let _ = socket
                        .write_all(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"id\":\"abc\",")
                        .await;
                }
                Misbehaviour::StallMidBody => {
                    let _ = socket
                        .write_all(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"id\":")
                        .await;
                    // Never another byte; notice when the service hangs up.
                    while let Ok(1..) = socket.read(&mut buffer).await {}
                }
                Misbehaviour::Respond { status, content_type, body } => {
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nrequest-id: 0f7a6e3c-1b4f-4e9a-9d2b-8c6e4f1a9001\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                }
            }
            let _ = socket.shutdown().await;
            connections.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Tasks alive on this test's runtime: the service, its client and the emulator run here.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

pub(crate) fn respond(status: &'static str, content_type: &'static str, body: &[u8]) -> Misbehaviour {
    Misbehaviour::Respond { status, content_type, body: Arc::new(body.to_vec()) }
}

#[tokio::test]
async fn a_hostile_graph_never_panics_hangs_or_duplicates() {
    let json = "application/json";
    let cases: Vec<(&str, Misbehaviour, Code, &str)> = vec![
        ("reset before headers", Misbehaviour::ResetBeforeHeaders, Code::Unavailable, "GRAPH_CONNECTION_LOST"),
        ("reset after headers", Misbehaviour::ResetAfterHeaders, Code::Unavailable, "GRAPH_CONNECTION_LOST"),
        ("stall mid-body", Misbehaviour::StallMidBody, Code::DeadlineExceeded, "DEADLINE_EXCEEDED"),
        (
            "malformed JSON",
            respond("201 Created", json, b"{\"id\": \"x\", ]"),
            Code::Internal,
            "GRAPH_INVALID_RESPONSE",
        ),
        (
            "truncated JSON",
            respond("201 Created", json, b"{\"id\": \"x\", \"subject\": \"trunc"),
            Code::Internal,
            "GRAPH_INVALID_RESPONSE",
        ),
        (
            "10 MB body",
            respond("201 Created", json, &vec![b' '; 10 * 1024 * 1024]),
            Code::Internal,
            "GRAPH_INVALID_RESPONSE",
        ),
        (
            "wrong content type",
            respond("201 Created", "text/html", b"<html>created</html>"),
            Code::Internal,
            "GRAPH_INVALID_RESPONSE",
        ),
        (
            "200 with an error body",
            respond("200 OK", json, br#"{"error":{"code":"General","message":"oops"}}"#),
            Code::Internal,
            "GRAPH_INVALID_RESPONSE",
        ),
        (
            "error status with a non-JSON body",
            respond("500 Internal Server Error", "text/plain", b"boom"),
            Code::Internal,
            "GRAPH_INTERNAL_ERROR",
        ),
    ];
    for (name, misbehaviour, code, reason) in cases {
        let upstream = hostile(misbehaviour).await;
        // This upstream speaks HTTP/1.1 (reqwest's path); the HTTP/2 one is below.
        let app = spawn_app_against(&upstream.endpoint, false).await;
        fails_three_times_alone(&app, (name, code, reason), &upstream.requests, |_| async {
            // The service hung up on the broken upstream (the stalled one included).
            eventually(|| upstream.open.load(Ordering::SeqCst) == 0, "connections closed").await;
        })
        .await;
    }
}

/// How the fake HTTP/2 upstream treats a request (after reading all of it).
#[derive(Clone)]
enum H2Misbehaviour {
    /// Resets the stream with INTERNAL_ERROR instead of answering.
    Reset,
    /// Sends headers and part of the body, then resets the stream.
    ResetMidBody,
    /// Sends headers and part of the body, then stalls until the client resets the stream.
    StallMidBody,
    /// Closes the connection instead of answering.
    Close,
    /// Refuses the first request with REFUSED_STREAM (not processed), answers the rest.
    RefuseFirst,
    /// The first connection goes away (GOAWAY NO_ERROR, nothing processed) before any request;
    /// later ones answer.
    GoAwayFirst,
    /// A complete response.
    Respond { status: u16, content_type: &'static str, body: Bytes },
}

/// The fake upstream, speaking HTTP/2 (h2c by prior knowledge).
struct H2Upstream {
    endpoint: String,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    /// Streams the client reset (it gave up on them).
    cancelled: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn hostile_h2(misbehaviour: H2Misbehaviour) -> H2Upstream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let upstream_endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (requests, connections, cancelled) = Default::default();
    let counters = H2Counters {
        requests: Arc::clone(&requests),
        connections: Arc::clone(&connections),
        cancelled: Arc::clone(&cancelled),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            tokio::select! {
                _ = stopped => {}
                () = serve_h2(listener, misbehaviour, counters) => {}
            }
        });
    });
    H2Upstream { endpoint: upstream_endpoint, requests, connections, cancelled, _stop: stop }
}

#[derive(Clone)]
struct H2Counters {
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
}

async fn serve_h2(listener: TcpListener, misbehaviour: H2Misbehaviour, counters: H2Counters) {
    while let Ok((socket, _)) = listener.accept().await {
        let (misbehaviour, counters) = (misbehaviour.clone(), counters.clone());
        let nth = counters.connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let Ok(mut connection) = h2::server::handshake(socket).await else { return };
            if matches!(misbehaviour, H2Misbehaviour::GoAwayFirst) && nth == 0 {
                connection.abrupt_shutdown(h2::Reason::NO_ERROR);
                while let Some(Ok(_)) = connection.accept().await {}
                return;
            }
            let close = Arc::new(tokio::sync::Notify::new());
            loop {
                let accepted = tokio::select! {
                    accepted = connection.accept() => accepted,
                    () = close.notified() => return,
                };
                let Some(Ok((request, respond))) = accepted else { return };
                let (misbehaviour, counters, close) = (misbehaviour.clone(), counters.clone(), close.clone());
                tokio::spawn(async move { answer_h2(request, respond, misbehaviour, counters, close).await });
            }
        });
    }
}

async fn answer_h2(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    misbehaviour: H2Misbehaviour,
    counters: H2Counters,
    close: Arc<tokio::sync::Notify>,
) {
    let mut body = request.into_body();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let nth = counters.requests.fetch_add(1, Ordering::SeqCst);
    let head = |status: u16, content_type: &str| {
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("request-id", "0f7a6e3c-1b4f-4e9a-9d2b-8c6e4f1a9002")
            .body(())
            .unwrap()
    };
    let meeting =
        Bytes::from_static(br#"{"id":"h2-meeting","joinWebUrl":"https://teams.microsoft.com/l/meetup-join/h2"}"#);
    match misbehaviour {
        H2Misbehaviour::Reset => respond.send_reset(h2::Reason::INTERNAL_ERROR),
        H2Misbehaviour::ResetMidBody | H2Misbehaviour::StallMidBody => {
            let Ok(mut stream) = respond.send_response(head(201, "application/json"), false) else { return };
            let _ = stream.send_data(Bytes::from_static(b"{\"id\":"), false);
            if matches!(misbehaviour, H2Misbehaviour::ResetMidBody) {
                stream.send_reset(h2::Reason::INTERNAL_ERROR);
            } else if std::future::poll_fn(|cx| stream.poll_reset(cx)).await.is_ok() {
                counters.cancelled.fetch_add(1, Ordering::SeqCst);
            }
        }
        H2Misbehaviour::Close => close.notify_one(),
        H2Misbehaviour::RefuseFirst if nth == 0 => respond.send_reset(h2::Reason::REFUSED_STREAM),
        H2Misbehaviour::RefuseFirst | H2Misbehaviour::GoAwayFirst => {
            if let Ok(mut stream) = respond.send_response(head(201, "application/json"), false) {
                let _ = stream.send_data(meeting, true);
            }
        }
        H2Misbehaviour::Respond { status, content_type, body } => {
            if let Ok(mut stream) = respond.send_response(head(status, content_type), false) {
                let _ = stream.send_data(body, true);
            }
        }
    }
}

/// The app with `upstream` as its Graph, spoken to over HTTP/2 (h2c) or HTTP/1.1.
pub(crate) async fn spawn_app_against(upstream: &str, http2: bool) -> TestApp {
    let graph = upstream.to_owned();
    let app = spawn_app_with(EmulatorConfig::default(), |s| {
        s.graph.endpoint = Some(graph);
        s.graph.http2_prior_knowledge = http2;
    })
    .await;
    app.emulator.accept_scope_resource(upstream);
    app
}

/// The same failure three times, each call failing with `code` and `reason` well within its 1 s
/// deadline and sent to the upstream (counted by `requests`) once. `let_go` waits until the
/// service let go of the upstream after a call. Whatever the first call leaves (a token in the
/// cache, pooled connections to the identity platform) stays; any more alive tasks are a leak.
/// Then the service still serves.
async fn fails_three_times_alone<F: std::future::Future<Output = ()>>(
    app: &TestApp,
    (name, code, reason): (&str, Code, &str),
    requests: &AtomicUsize,
    mut let_go: impl FnMut(usize) -> F,
) {
    let mut tasks_after_first = None;
    for attempt in 1..=3 {
        let mut call = tonic::Request::new(request(simple_meeting()));
        call.set_timeout(Duration::from_secs(1));
        let started = Instant::now();
        let err = app.client.clone().create(call).await.expect_err(name);
        assert!(started.elapsed() < Duration::from_secs(2), "{name}: took {:?}", started.elapsed());
        assert_eq!(err.code(), code, "{name}: {err:?}");
        assert_eq!(error_info(&err).0, reason, "{name}");
        assert_eq!(
            requests.load(Ordering::SeqCst),
            attempt,
            "{name}: a create that may have been processed was sent again"
        );
        let_go(attempt).await;
        match tasks_after_first {
            None => tasks_after_first = Some(settled_tasks().await),
            Some(first) => tasks_back_to(first, &format!("{name}, call {attempt}")).await,
        }
    }
    let health = app.create(request(pb_invalid())).await.expect_err("validation still answers");
    assert_eq!(health.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_hostile_http2_graph_never_panics_hangs_or_duplicates() {
    let respond = |status: u16, content_type: &'static str, body: &[u8]| H2Misbehaviour::Respond {
        status,
        content_type,
        body: Bytes::copy_from_slice(body),
    };
    let json = "application/json";
    let cases: Vec<(&str, H2Misbehaviour, Code, &str)> = vec![
        ("stream reset", H2Misbehaviour::Reset, Code::Unavailable, "GRAPH_CONNECTION_LOST"),
        ("reset mid-body", H2Misbehaviour::ResetMidBody, Code::Unavailable, "GRAPH_CONNECTION_LOST"),
        ("connection closed", H2Misbehaviour::Close, Code::Unavailable, "GRAPH_CONNECTION_LOST"),
        ("stall mid-body", H2Misbehaviour::StallMidBody, Code::DeadlineExceeded, "DEADLINE_EXCEEDED"),
        ("malformed JSON", respond(201, json, b"{\"id\": \"x\", ]"), Code::Internal, "GRAPH_INVALID_RESPONSE"),
        ("10 MB body", respond(201, json, &vec![b' '; 10 * 1024 * 1024]), Code::Internal, "GRAPH_INVALID_RESPONSE"),
        ("wrong content type", respond(201, "text/html", b"<html/>"), Code::Internal, "GRAPH_INVALID_RESPONSE"),
        ("500, not JSON", respond(500, "text/plain", b"boom"), Code::Internal, "GRAPH_INTERNAL_ERROR"),
    ];
    for (name, misbehaviour, code, reason) in cases {
        let stalls = matches!(misbehaviour, H2Misbehaviour::StallMidBody);
        let upstream = hostile_h2(misbehaviour).await;
        let app = spawn_app_against(&upstream.endpoint, true).await;
        fails_three_times_alone(&app, (name, code, reason), &upstream.requests, |attempt| {
            let cancelled = &upstream.cancelled;
            async move {
                if stalls {
                    // The service gave up on the stream: it told the server so.
                    eventually(|| cancelled.load(Ordering::SeqCst) == attempt, "the stream reset").await;
                }
            }
        })
        .await;
    }
}

#[tokio::test]
async fn what_http2_says_was_never_processed_is_sent_again_once() {
    // REFUSED_STREAM: the server says it did not process the stream (RFC 9113 8.7).
    let refusing = hostile_h2(H2Misbehaviour::RefuseFirst).await;
    let app = spawn_app_against(&refusing.endpoint, true).await;
    let created = app.create(request(simple_meeting())).await.expect("sent again on a new stream");
    assert_eq!(created.meeting.unwrap().id(), "h2-meeting");
    assert_eq!(refusing.requests.load(Ordering::SeqCst), 2, "the refused request and its one retry");

    // A graceful GOAWAY that excludes every stream: the request goes again on a new connection.
    let leaving = hostile_h2(H2Misbehaviour::GoAwayFirst).await;
    let app = spawn_app_against(&leaving.endpoint, true).await;
    app.create(request(simple_meeting())).await.expect("sent on a new connection");
    assert_eq!(leaving.connections.load(Ordering::SeqCst), 2);
    assert_eq!(leaving.requests.load(Ordering::SeqCst), 1, "only the second connection saw it");
    app.create(request(simple_meeting())).await.expect("the new connection is kept");
    assert_eq!(leaving.connections.load(Ordering::SeqCst), 2);
}

/// Waits (at most 2 s: connection tasks end a moment after the reply) until no more tasks are
/// alive than `limit`; a task a call leaked never ends, so this fails.
async fn tasks_back_to(limit: usize, what: &str) {
    for _ in 0..80 {
        if alive_tasks() <= limit {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: {} tasks alive, {limit} after the first call", alive_tasks());
}

/// The number of alive tasks once it has stopped falling (connection tasks end a moment after
/// the call's reply).
async fn settled_tasks() -> usize {
    let mut last = alive_tasks();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = alive_tasks();
        if now >= last {
            return now;
        }
        last = now;
    }
}

fn pb_invalid() -> meeting_service::grpc::pb::OnlineMeeting {
    meeting_service::grpc::pb::OnlineMeeting { subject: Some("x".repeat(1001)), ..Default::default() }
}

#[tokio::test]
async fn a_token_response_without_expires_in_is_unavailable_not_cached() {
    let login =
        hostile(respond("200 OK", "application/json", br#"{"token_type":"Bearer","access_token":"eyJ0.eyJ0.sig"}"#))
            .await;
    let authority = login.endpoint.clone();
    let app = spawn_app_with(EmulatorConfig::default(), |s| s.identity.authority_host = Some(authority)).await;
    let err = app.create(request(simple_meeting())).await.expect_err("no usable token");
    assert_status(&err, Code::Unavailable, "IDENTITY_PLATFORM_UNAVAILABLE");
    assert!(app.graph_requests().is_empty(), "nothing reached Graph");
    eventually(|| login.open.load(Ordering::SeqCst) == 0, "connections closed").await;
    let tasks_after_first = settled_tasks().await;
    for _ in 0..2 {
        let before = login.requests.load(Ordering::SeqCst);
        app.create(request(simple_meeting())).await.expect_err("still no token");
        assert!(login.requests.load(Ordering::SeqCst) > before, "the failure was not cached");
        eventually(|| login.open.load(Ordering::SeqCst) == 0, "connections closed").await;
        tasks_back_to(tasks_after_first, "a later call").await;
    }
}
