//! The command line: serve (with a config file or in dev mode) or check a server's health.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest};

/// A gRPC service that creates Microsoft Teams online meetings through Microsoft Graph.
///
/// Configuration comes from a TOML file (--config) and MEETING_SERVICE__SECTION__KEY environment
/// variables (e.g. MEETING_SERVICE__SERVER__LISTEN=0.0.0.0:50051); see README.md.
#[derive(Debug, Parser)]
#[command(name = "meeting-service", version)]
pub struct Cli {
    /// The TOML configuration file.
    #[arg(short, long, value_name = "FILE", env = "MEETING_SERVICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run with an in-process emulator of Microsoft Graph and the identity platform and a ready
    /// dev tenant. Meetings are simulated; nothing reaches Microsoft. Only in builds with the
    /// `dev` feature (the default).
    #[arg(long, conflicts_with = "config")]
    pub dev: bool,
    /// The gRPC listen address (overrides server.listen; dev mode default 127.0.0.1:50051).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks a running server's gRPC health; exits 0 when it is SERVING, 1 otherwise.
    Health(HealthArgs),
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server's address, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub addr: String,
    /// The service to check; empty for the server as a whole.
    #[arg(long, default_value = "")]
    pub service: String,
    /// How long to wait for an answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// `meeting-service health`: prints the status and exits 0 only for SERVING.
pub async fn health(args: HealthArgs) -> ExitCode {
    let check = async {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", args.addr))?
            .connect_timeout(args.timeout)
            .timeout(args.timeout);
        let channel = endpoint.connect().await?;
        let response = HealthClient::new(channel).check(HealthCheckRequest { service: args.service.clone() }).await?;
        Ok::<_, Box<dyn std::error::Error>>(response.into_inner().status())
    };
    match tokio::time::timeout(args.timeout, check).await {
        Ok(Ok(ServingStatus::Serving)) => {
            println!("SERVING");
            ExitCode::SUCCESS
        }
        Ok(Ok(status)) => {
            println!("{}", status.as_str_name());
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("health check of {} failed: {e}", args.addr);
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("health check of {} timed out after {:?}", args.addr, args.timeout);
            ExitCode::FAILURE
        }
    }
}
