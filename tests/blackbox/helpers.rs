//! `spawn_app()`: the service on 127.0.0.1:0 against a fresh emulator.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use meeting_emulator::{EmulatedTenant, Emulator, EmulatorConfig, Host, RecordedRequest, DEV_TENANT_ID, DEV_USER_ID};
use meeting_service::{
    config::Settings,
    dev,
    grpc::pb::{self, meeting_service_client::MeetingServiceClient},
    server::{App, ServeError},
};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{transport::Channel, Code, Status};
use tonic_types::StatusExt;

pub const TENANT: &str = DEV_TENANT_ID;
pub const USER: &str = DEV_USER_ID;

pub struct TestApp {
    pub addr: SocketAddr,
    pub emulator: Emulator,
    pub client: MeetingServiceClient<Channel>,
    pub secret_file: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestApp {
    /// Requests the emulator's Graph host received.
    pub fn graph_requests(&self) -> Vec<RecordedRequest> {
        self.emulator.requests().into_iter().filter(|r| r.host == Host::Graph).collect()
    }

    pub fn last_graph_request(&self) -> RecordedRequest {
        self.graph_requests().pop().expect("Graph received a request")
    }

    pub fn token_requests(&self) -> usize {
        self.emulator.token_requests(TENANT)
    }

    /// Triggers the graceful shutdown and returns the server's result.
    pub async fn stop(&mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.expect("server task"),
            None => Ok(()),
        }
    }

    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn create(&self, request: pb::CreateRequest) -> Result<pb::CreateResponse, Status> {
        self.client.clone().create(request).await.map(|r| r.into_inner())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_file(&self.secret_file);
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(EmulatorConfig::default(), |_| {}).await
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The app against a fresh emulator with the dev tenant; `tweak` adjusts the settings.
pub async fn spawn_app_with(config: EmulatorConfig, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let emulator = Emulator::start(config).await.expect("emulator starts");
    let tenant = EmulatedTenant::dev();
    emulator.add_tenant(tenant.clone());
    let secret_file = std::env::temp_dir().join(format!(
        "meeting-service-test-{}-{}.secret",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&secret_file, format!("{}\n", tenant.client_secret)).unwrap();

    let mut settings = dev::settings_for(&emulator, &tenant, secret_file.clone(), "127.0.0.1:0".parse().unwrap());
    settings.graph.max_retries = 3;
    // HTTP/2, as to Graph over HTTPS: the service's own HTTP/2 client, not reqwest's HTTP/1.1.
    settings.graph.http2_prior_knowledge = true;
    tweak(&mut settings);
    settings.validate().expect("valid test settings");
    let source = meeting_service::reload::SettingsSource::Fixed(Box::new(settings.clone()));
    serve(emulator, settings, source, secret_file).await
}

/// Serves `settings` (which must point at `emulator`); `source` is where reloads read from.
pub async fn serve(
    emulator: Emulator,
    settings: Settings,
    source: meeting_service::reload::SettingsSource,
    secret_file: PathBuf,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind(settings.server.listen).await.unwrap();
    let app = App::build(settings, source).expect("app builds");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = rx.await;
    }));
    // Lazy: a TLS-configured server is reached with the tests' own TLS clients instead.
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
    TestApp {
        addr,
        emulator,
        client: MeetingServiceClient::new(channel),
        secret_file,
        shutdown: Some(tx),
        server: Some(server),
    }
}

pub fn request(meeting: pb::OnlineMeeting) -> pb::CreateRequest {
    pb::CreateRequest {
        tenant_id: TENANT.into(),
        user_id: USER.into(),
        meeting: Some(Box::new(meeting)),
        ..Default::default()
    }
}

pub fn ts(rfc3339: &str) -> prost_types::Timestamp {
    rfc3339.parse().expect("timestamp")
}

pub fn simple_meeting() -> pb::OnlineMeeting {
    pb::OnlineMeeting {
        subject: Some("Weekly sync".into()),
        start_date_time: Some(ts("2030-01-15T15:00:00Z")),
        end_date_time: Some(ts("2030-01-15T15:30:00Z")),
        ..Default::default()
    }
}

/// The ErrorInfo reason and metadata of a status.
pub fn error_info(status: &Status) -> (String, std::collections::HashMap<String, String>) {
    let details = status.get_error_details();
    let info = details.error_info().unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "meetings.v1");
    (info.reason.clone(), info.metadata.clone())
}

pub fn assert_status(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(error_info(status).0, reason, "{status:?}");
}

pub async fn eventually(mut check: impl FnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Polls `check` until it returns `Some`, for effects that happen in the background (file
/// watching, background refresh).
pub async fn eventually_async<T, F: std::future::Future<Output = Option<T>>>(
    mut check: impl FnMut() -> F,
    what: &str,
) -> T {
    for _ in 0..100 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A child process that is killed if the test ends early (a panic must not leave a server
/// running).
pub struct KillOnDrop(pub Option<std::process::Child>);

impl KillOnDrop {
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, std::process::Child::id)
    }

    /// Hands the child back for a normal wait.
    pub fn take(&mut self) -> std::process::Child {
        self.0.take().expect("child present")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
