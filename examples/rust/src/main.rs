//! A tonic client of `meetings.v1.MeetingService` that walks a Teams meeting through its life:
//! creates it and prints its join URL, gets it, finds it by that URL, changes its subject and lobby
//! with a FieldMask, deletes it (after which Get is NOT_FOUND); then it shows how a Rust caller
//! reads the structured error details (google.rpc.ErrorInfo, RetryInfo, BadRequest) with
//! `tonic_types::StatusExt`.
//!
//!     cargo run -- --address 127.0.0.1:50051 [--tenant GUID] [--user UPN] [--emulator URL]
//!
//! Every flag has an environment variable: MEETING_SERVICE_ADDRESS, MEETING_SERVICE_TENANT,
//! MEETING_SERVICE_USER, MEETING_SERVICE_EMULATOR. The defaults are the dev-mode tenant and
//! organizer (`meeting-service --dev`). With `--emulator` (the URL the dev-mode banner prints)
//! it also shows a 403 from Graph and a throttled call whose RetryInfo it honours. It is also a
//! test: it exits non-zero when the service does not answer as documented.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

pub mod meetings {
    pub mod v1 {
        tonic::include_proto!("meetings.v1");
    }
}

use meetings::v1::meeting_service_client::MeetingServiceClient;
use meetings::v1::{
    find_request, CreateRequest, CreateResponse, DeleteRequest, FindRequest, GetRequest, LobbyBypassScope,
    LobbyBypassSettings, OnlineMeeting, UpdateRequest,
};

const DEV_TENANT: &str = "7d0f7a6e-3c1b-4f7e-9a5d-2b8c6e4f1a90";
const DEV_ORGANIZER: &str = "adele.vance@contoso.example";
/// A dev-mode organizer without a Teams application access policy: Graph answers 403.
const NO_POLICY_ORGANIZER: &str = "no.policy@contoso.example";
const JOIN_URL_PREFIX: &str = "https://teams.microsoft.com/l/meetup-join/";
const ERROR_DOMAIN: &str = "meetings.v1";
/// Every call gets a deadline; the service stops retrying Graph when it runs out.
const DEADLINE: Duration = Duration::from_secs(10);

type Client = MeetingServiceClient<Channel>;
type Outcome = Result<(), String>;

struct Config {
    address: String,
    tenant: String,
    user: String,
    emulator: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => {
            println!("rust example: all checks passed");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("rust example: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Outcome {
    let config = parse_args()?;
    let endpoint = Endpoint::from_shared(format!("http://{}", config.address))
        .map_err(|e| format!("bad address {:?}: {e}", config.address))?
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(|e| format!("cannot connect to {}: {e}", config.address))?;
    let mut client = MeetingServiceClient::new(channel);

    let meeting = create_meeting(&mut client, &config).await?;
    get_and_find(&mut client, &config, &meeting).await?;
    update_meeting(&mut client, &config, &meeting).await?;
    delete_meeting(&mut client, &config, &meeting).await?;
    invalid_request(&mut client, &config).await?;
    if let Some(emulator) = &config.emulator {
        graph_forbidden(&mut client, &config).await?;
        throttled_then_retried(&mut client, &config, emulator).await?;
    } else {
        println!("(no --emulator: skipping the dev-mode 403 and throttling demos)");
    }
    Ok(())
}

/// 1. A successful Create: deadline, accept-language and traceparent metadata, the join URL.
async fn create_meeting(client: &mut Client, config: &Config) -> Result<OnlineMeeting, String> {
    let trace = TraceContext::new();
    let request = with_call_options(meeting_request(config, &config.user, "Rust example"), DEADLINE, &trace);
    let response: CreateResponse =
        client.create(request).await.map_err(|status| format!("Create failed: {}", describe(&status)))?.into_inner();

    let meeting = response.meeting.unwrap_or_default();
    let join_url = meeting.join_web_url.clone().unwrap_or_default();
    println!("created meeting, join URL: {join_url}");
    println!("  graph_request_id: {}", response.graph_request_id);
    check(
        join_url.starts_with(JOIN_URL_PREFIX),
        format!("join_web_url {join_url:?} does not start with {JOIN_URL_PREFIX}"),
    )?;
    check(response.created, "created is false for a new meeting")?;
    check(!response.graph_request_id.is_empty(), "graph_request_id is empty")?;
    // accept-language: de-DE reached Graph, which localized the join information.
    let join_information = meeting.join_information.as_ref().and_then(|body| body.content.as_deref()).unwrap_or("");
    check(join_information.contains("de-DE"), "join_information is not localized for accept-language de-DE")?;
    Ok(meeting)
}

/// 2. Get by id, and Find by the join URL (as from a link someone pasted): the same meeting.
async fn get_and_find(client: &mut Client, config: &Config, meeting: &OnlineMeeting) -> Outcome {
    let get = get_request(config, meeting);
    let request = with_call_options(get, DEADLINE, &TraceContext::new());
    let got = client.get(request).await.map_err(|status| format!("Get failed: {}", describe(&status)))?;
    let got = got.into_inner().meeting.unwrap_or_default();
    println!("got meeting: subject {:?}", got.subject());
    check(got.id == meeting.id && got.subject == meeting.subject, "Get returned another meeting")?;

    let find = FindRequest {
        tenant_id: config.tenant.clone(),
        user_id: config.user.clone(),
        key: Some(find_request::Key::JoinWebUrl(meeting.join_web_url().into())),
        ..Default::default()
    };
    let request = with_call_options(find, DEADLINE, &TraceContext::new());
    let found = client.find(request).await.map_err(|status| format!("Find failed: {}", describe(&status)))?;
    let found = found.into_inner().meeting.unwrap_or_default();
    println!("found meeting by join URL: subject {:?}", found.subject());
    check(found.id == meeting.id, "Find by join_web_url returned another meeting")
}

/// 3. Update changes exactly the fields named in `update_mask` (snake_case): subject and lobby.
async fn update_meeting(client: &mut Client, config: &Config, meeting: &OnlineMeeting) -> Outcome {
    let subject = "Rust example, renamed (meeting-service examples)";
    let update = UpdateRequest {
        tenant_id: config.tenant.clone(),
        user_id: config.user.clone(),
        meeting_id: meeting.id().into(),
        meeting: Some(OnlineMeeting {
            subject: Some(subject.into()),
            lobby_bypass_settings: Some(LobbyBypassSettings {
                scope: LobbyBypassScope::Organization.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["subject".into(), "lobby_bypass_settings".into()] }),
        ..Default::default()
    };
    let request = with_call_options(update, DEADLINE, &TraceContext::new());
    let updated = client.update(request).await.map_err(|status| format!("Update failed: {}", describe(&status)))?;
    let updated = updated.into_inner().meeting.unwrap_or_default();
    let scope = updated.lobby_bypass_settings.map(|settings| settings.scope()).unwrap_or_default();
    println!("updated meeting: subject {:?}, lobby bypass {}", updated.subject(), scope.as_str_name());
    check(updated.subject() == subject, format!("Update returned subject {:?}", updated.subject()))?;
    check(scope == LobbyBypassScope::Organization, format!("Update returned lobby bypass scope {scope:?}"))
}

/// 4. Delete; then Get is NOT_FOUND (reason GRAPH_NOT_FOUND).
async fn delete_meeting(client: &mut Client, config: &Config, meeting: &OnlineMeeting) -> Outcome {
    let delete = DeleteRequest {
        tenant_id: config.tenant.clone(),
        user_id: config.user.clone(),
        meeting_id: meeting.id().into(),
        ..Default::default()
    };
    let request = with_call_options(delete, DEADLINE, &TraceContext::new());
    client.delete(request).await.map_err(|status| format!("Delete failed: {}", describe(&status)))?;
    println!("deleted meeting");

    let trace = TraceContext::new();
    let get = get_request(config, meeting);
    let status = expect_error("Get after Delete", client.get(with_call_options(get, DEADLINE, &trace)).await)?;
    check_status(&status, Code::NotFound, "GRAPH_NOT_FOUND", &trace).map(drop)
}

/// 5. INVALID_ARGUMENT: ErrorInfo (reason INVALID_REQUEST) and a BadRequest naming the field.
async fn invalid_request(client: &mut Client, config: &Config) -> Outcome {
    let trace = TraceContext::new();
    let mut message = meeting_request(config, &config.user, "invalid");
    message.tenant_id = "not-a-guid".into();
    let status = expect_error("Create", client.create(with_call_options(message, DEADLINE, &trace)).await)?;

    check_status(&status, Code::InvalidArgument, "INVALID_REQUEST", &trace)?;
    let details = status.get_error_details();
    let bad_request = details.bad_request().ok_or("INVALID_ARGUMENT without a BadRequest")?;
    for violation in &bad_request.field_violations {
        println!("  BadRequest: field {:?}: {}", violation.field, violation.description);
    }
    check(
        bad_request.field_violations.iter().any(|v| v.field == "tenant_id"),
        "BadRequest does not name the field tenant_id",
    )
}

/// 6. PERMISSION_DENIED from Graph (dev mode): ErrorInfo metadata identifies the Graph request.
async fn graph_forbidden(client: &mut Client, config: &Config) -> Outcome {
    let trace = TraceContext::new();
    let message = meeting_request(config, NO_POLICY_ORGANIZER, "forbidden");
    let status = expect_error("Create", client.create(with_call_options(message, DEADLINE, &trace)).await)?;

    let info = check_status(&status, Code::PermissionDenied, "GRAPH_FORBIDDEN", &trace)?;
    for key in ["graph_request_id", "client_request_id"] {
        check(info.metadata.get(key).is_some_and(|v| !v.is_empty()), format!("ErrorInfo metadata has no {key}"))?;
    }
    Ok(())
}

/// 7. RESOURCE_EXHAUSTED (dev mode): the emulator throttles Graph once with Retry-After 2.128 s.
///
/// With a 2 s deadline the service cannot retry in time and returns RetryInfo. The client waits
/// that long and retries; `external_id` makes the retry idempotent (no duplicate meeting).
async fn throttled_then_retried(client: &mut Client, config: &Config, emulator: &str) -> Outcome {
    inject_graph_fault(emulator, r#"{"target":"graph","status":429,"retryAfter":"2.128","times":1}"#).await?;
    let mut message = meeting_request(config, &config.user, "throttled");
    message.meeting.as_mut().expect("set above").external_id = Some(format!("rust-example-{}", random_hex(16)));

    let trace = TraceContext::new();
    let request = with_call_options(message.clone(), Duration::from_secs(2), &trace);
    let status = expect_error("Create", client.create(request).await)?;
    check_status(&status, Code::ResourceExhausted, "GRAPH_THROTTLED", &trace)?;
    let retry_delay = status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
        .ok_or("RESOURCE_EXHAUSTED without RetryInfo.retry_delay")?;
    println!("  RetryInfo: retry after {retry_delay:?}");
    check(
        retry_delay == Duration::from_millis(2128),
        format!("RetryInfo.retry_delay is {retry_delay:?}, expected 2.128s"),
    )?;

    tokio::time::sleep(retry_delay).await;
    let retry = with_call_options(message, DEADLINE, &TraceContext::new());
    let response = client
        .create(retry)
        .await
        .map_err(|status| format!("retry after RetryInfo failed: {}", describe(&status)))?
        .into_inner();
    let join_url = response.meeting.unwrap_or_default().join_web_url;
    println!(
        "  retried after {retry_delay:?}: created={}, join URL {}",
        response.created,
        join_url.as_deref().unwrap_or("")
    );
    check(join_url.is_some_and(|url| url.starts_with(JOIN_URL_PREFIX)), "the retried Create returned no join URL")
}

/// Sets the deadline (sent as `grpc-timeout` and enforced by the channel too) and the metadata.
fn with_call_options<T>(message: T, deadline: Duration, trace: &TraceContext) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    let metadata = request.metadata_mut();
    metadata.insert("accept-language", MetadataValue::from_static("de-DE"));
    metadata.insert("traceparent", trace.traceparent.parse().expect("a traceparent is ASCII"));
    request
}

fn get_request(config: &Config, meeting: &OnlineMeeting) -> GetRequest {
    GetRequest {
        tenant_id: config.tenant.clone(),
        user_id: config.user.clone(),
        meeting_id: meeting.id().into(),
        ..Default::default()
    }
}

fn meeting_request(config: &Config, user: &str, subject: &str) -> CreateRequest {
    let start = SystemTime::now() + Duration::from_secs(24 * 3600);
    CreateRequest {
        tenant_id: config.tenant.clone(),
        user_id: user.to_string(),
        meeting: Some(OnlineMeeting {
            subject: Some(format!("{subject} (meeting-service examples)")),
            start_date_time: Some(start.into()),
            end_date_time: Some((start + Duration::from_secs(30 * 60)).into()),
            ..Default::default()
        }),
        // `language` left empty: the service uses the accept-language metadata instead.
        ..Default::default()
    }
}

/// The error of a call that should have failed; `what` names the call when it did not.
fn expect_error<T>(what: &str, result: Result<tonic::Response<T>, Status>) -> Result<Status, String> {
    match result {
        Ok(_) => Err(format!("{what} succeeded, expected an error")),
        Err(status) => {
            println!("error as expected: {}", describe(&status));
            Ok(status)
        }
    }
}

/// Checks the code and the ErrorInfo every error of the service carries; returns the ErrorInfo.
fn check_status(
    status: &Status,
    code: Code,
    reason: &str,
    trace: &TraceContext,
) -> Result<tonic_types::ErrorInfo, String> {
    check(status.code() == code, format!("status {:?}, expected {code:?}", status.code()))?;
    let info = status.get_error_details().error_info().cloned().ok_or("error without google.rpc.ErrorInfo")?;
    let mut metadata: Vec<_> = info.metadata.iter().collect();
    metadata.sort();
    println!("  ErrorInfo: reason={} domain={} metadata={metadata:?}", info.reason, info.domain);
    check(info.reason == reason, format!("ErrorInfo.reason {:?}, expected {reason:?}", info.reason))?;
    check(info.domain == ERROR_DOMAIN, format!("ErrorInfo.domain {:?}, expected {ERROR_DOMAIN:?}", info.domain))?;
    // The service continues the caller's W3C trace: quote trace_id when reporting a problem.
    check(
        info.metadata.get("trace_id") == Some(&trace.trace_id),
        format!("ErrorInfo trace_id {:?} is not the traceparent's {}", info.metadata.get("trace_id"), trace.trace_id),
    )?;
    Ok(info)
}

fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

fn check(ok: bool, message: impl Into<String>) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(message.into())
    }
}

/// A W3C trace context (https://www.w3.org/TR/trace-context/) for one call.
struct TraceContext {
    trace_id: String,
    traceparent: String,
}

impl TraceContext {
    fn new() -> Self {
        let trace_id = random_hex(32);
        let traceparent = format!("00-{trace_id}-{}-01", random_hex(16));
        Self { trace_id, traceparent }
    }
}

/// Random lowercase hex digits from std's randomly seeded hasher (no `rand` dependency).
fn random_hex(digits: usize) -> String {
    let mut out = String::new();
    while out.len() < digits {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos());
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(digits);
    out
}

/// POSTs a fault to the dev-mode emulator's control endpoint. Plain HTTP/1.1 on a TCP stream
/// keeps this example free of an HTTP client dependency; a real program would use one.
async fn inject_graph_fault(emulator: &str, body: &str) -> Outcome {
    let authority = emulator
        .strip_prefix("http://")
        .ok_or_else(|| format!("emulator URL {emulator:?} is not http://HOST:PORT"))?
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot reach the emulator at {emulator}: {e}"))?;
    let request = format!(
        "POST /_emulator/faults HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut response = String::new();
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    stream.read_to_string(&mut response).await.map_err(|e| e.to_string())?;
    let status_line = response.lines().next().unwrap_or_default();
    check(
        status_line.split(' ').nth(1).is_some_and(|code| code.starts_with('2')),
        format!("the emulator refused the fault: {status_line}"),
    )
}

fn parse_args() -> Result<Config, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut config = Config {
        address: env("MEETING_SERVICE_ADDRESS").unwrap_or_else(|| "127.0.0.1:50051".into()),
        tenant: env("MEETING_SERVICE_TENANT").unwrap_or_else(|| DEV_TENANT.into()),
        user: env("MEETING_SERVICE_USER").unwrap_or_else(|| DEV_ORGANIZER.into()),
        emulator: env("MEETING_SERVICE_EMULATOR"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--address" => config.address = value()?,
            "--tenant" => config.tenant = value()?,
            "--user" => config.user = value()?,
            "--emulator" => config.emulator = Some(value()?),
            _ => {
                return Err(format!(
                    "unknown argument {flag:?}; usage: meeting-lifecycle [--address HOST:PORT] \
                     [--tenant GUID] [--user UPN_OR_ID] [--emulator URL]"
                ))
            }
        }
    }
    Ok(config)
}
