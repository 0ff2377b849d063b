//! The `meeting-service` binary: parse the command line, load and validate the configuration,
//! start telemetry, serve until SIGTERM or SIGINT.

#![forbid(unsafe_code)]

use std::{net::SocketAddr, process::ExitCode};

use clap::Parser;
use meeting_service::{
    cli::{self, Cli, Command},
    config::Settings,
    reload::SettingsSource,
    server::App,
    telemetry,
};

/// Exit code for configuration errors (EX_USAGE, as linkerd2-proxy uses).
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("meeting-service: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Health(args)) => runtime.block_on(cli::health(args)),
        None if cli.dev => runtime.block_on(run_dev(cli.listen)),
        None => runtime.block_on(run(cli)),
    }
}

async fn run(cli: Cli) -> ExitCode {
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("meeting-service: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(listen) = cli.listen {
        settings.server.listen = listen;
    }
    let telemetry = match telemetry::init(&settings.log, &settings.telemetry) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("meeting-service: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.server.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(listen = %settings.server.listen, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    if settings.tenants.is_empty() {
        tracing::warn!("no [[tenants]] configured: every Create will be refused");
    }
    if settings.auth.mode == meeting_service::config::AuthMode::Policy && settings.auth.policies.is_empty() {
        tracing::warn!(
            "auth.mode is not \"none\" and no caller policy is configured: every Create is refused (fail closed)"
        );
    }
    let source = match &cli.config {
        Some(path) => SettingsSource::File(path.clone()),
        None => SettingsSource::Fixed(Box::new(settings.clone())),
    };
    let app = match App::build(settings, source) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("meeting-service: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving gRPC");
    }
    let code = match app.serve(listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}

#[cfg(feature = "dev")]
async fn run_dev(listen: Option<SocketAddr>) -> ExitCode {
    use meeting_service::{
        config::{LogFormat, LogSettings, TelemetrySettings},
        dev,
    };
    let log = LogSettings { format: LogFormat::Text, filter: "info".into() };
    let telemetry = match telemetry::init(&log, &TelemetrySettings::default()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("meeting-service: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 50051)));
    let code = match dev::run(listen, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meeting-service: {e}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}

/// A build without the `dev` feature has no emulator: `--dev` is refused as a usage error.
#[cfg(not(feature = "dev"))]
async fn run_dev(_listen: Option<SocketAddr>) -> ExitCode {
    eprintln!(
        "meeting-service: --dev is not available: this binary was built without the `dev` feature \
         (no emulator); `cargo run --release -- --dev` builds one with it"
    );
    ExitCode::from(EXIT_CONFIG)
}

/// Completes on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
