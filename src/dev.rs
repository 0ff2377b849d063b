//! `meeting-service --dev`: the service together with the in-process emulator of Graph and the
//! identity platform on loopback, a ready dev tenant, and a ready-to-paste grpcurl command (the
//! model is `vault server -dev`). Only this explicit flag selects the emulator, and only a build
//! with the `dev` feature (the default) has it.

use std::{future::Future, net::SocketAddr, path::PathBuf};

use meeting_emulator::{EmulatedTenant, Emulator, EmulatorConfig, DEV_USER_ID};

use crate::{
    config::{AuthMode, LogFormat, Settings, TenantSettings},
    server::App,
};

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("dev mode: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
}

/// The dev-mode settings for an emulator: its endpoints, its dev tenant, no caller auth.
pub fn settings_for(
    emulator: &Emulator,
    tenant: &EmulatedTenant,
    secret_file: PathBuf,
    listen: SocketAddr,
) -> Settings {
    let mut settings = Settings::default();
    settings.server.listen = listen;
    settings.graph.endpoint = Some(emulator.graph_endpoint());
    settings.identity.authority_host = Some(emulator.authority_host());
    settings.auth.mode = AuthMode::None;
    settings.log.format = LogFormat::Text;
    settings.tenants = vec![TenantSettings {
        tenant_id: tenant.tenant_id.clone(),
        client_id: tenant.client_id.clone(),
        client_secret_file: Some(secret_file),
        ..Default::default()
    }];
    settings
}

pub async fn run(listen: SocketAddr, shutdown: impl Future<Output = ()> + Send) -> Result<(), DevError> {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let tenant = EmulatedTenant::dev();
    emulator.add_tenant(tenant.clone());

    // The dev secret goes through the same file credential production uses.
    let dir = std::env::temp_dir().join(format!("meeting-service-dev-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let secret_file = dir.join("client-secret");
    std::fs::write(&secret_file, &tenant.client_secret)?;

    let settings = settings_for(&emulator, &tenant, secret_file, listen);
    settings.validate()?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::warn!(
        graph = %emulator.graph_endpoint(),
        login = %emulator.authority_host(),
        "DEV MODE: meetings are SIMULATED by an in-process emulator; nothing reaches Microsoft; callers are not authenticated"
    );
    println!("{}", banner(addr, &tenant.tenant_id, &emulator.graph_endpoint()));

    let source = crate::reload::SettingsSource::Fixed(Box::new(settings.clone()));
    let result = App::build(settings, source)?.serve(listener, shutdown).await;
    std::fs::remove_dir_all(&dir).ok();
    emulator.shutdown().await;
    Ok(result?)
}

fn banner(addr: SocketAddr, tenant_id: &str, graph: &str) -> String {
    let target = if addr.ip().is_unspecified() { format!("127.0.0.1:{}", addr.port()) } else { addr.to_string() };
    format!(
        r#"
==> meeting-service is running in DEV MODE. Meetings are simulated: nothing reaches Microsoft.

    gRPC:        {target} (plaintext; health and reflection enabled)
    Tenant id:   {tenant_id}
    Organizer:   {DEV_USER_ID}  (adele.vance@contoso.example)
    Emulator:    {graph}  (GET /_emulator/requests, POST /_emulator/faults)
    Callers:     NOT authenticated (auth.mode = "none"): dev mode only

Create a meeting, then get it with the id Create answered in place of MEETING_ID:

    grpcurl -plaintext -d '{{"tenant_id":"{tenant_id}","user_id":"adele.vance@contoso.example","meeting":{{"subject":"Hello from meeting-service","start_date_time":"2030-01-15T15:00:00Z","end_date_time":"2030-01-15T15:30:00Z"}}}}' {target} meetings.v1.MeetingService/Create
    grpcurl -plaintext -d '{{"tenant_id":"{tenant_id}","user_id":"adele.vance@contoso.example","meeting_id":"MEETING_ID"}}' {target} meetings.v1.MeetingService/Get
"#
    )
}
