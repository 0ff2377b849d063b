//! The service's configuration schema: one typed tree read from a TOML file and
//! `MEETING_SERVICE__*` environment variables (e.g. `MEETING_SERVICE__SERVER__LISTEN`), with the
//! checks that need no I/O (ranges, URLs, exactly one credential per tenant), so that a mistake
//! stops the process with a message naming the key. This module only describes; the files it
//! names (secrets, certificates, JWKS, TLS) are read once, when `server::App::build` and the
//! reloader turn the settings into the objects that serve (`tenants`, `auth`, `tls`).

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use url::Url;

use crate::{
    domain::TenantId,
    graph::{ApiVersion, Cloud},
};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "MEETING_SERVICE__";

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub graph: GraphSettings,
    #[serde(default)]
    pub identity: IdentitySettings,
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub limits: LimitsSettings,
    #[serde(default)]
    pub tenants: Vec<TenantSettings>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Socket address of the gRPC server; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Deadline of calls that carry no grpc-timeout.
    #[serde(with = "humantime_serde")]
    pub default_deadline: Duration,
    /// How long in-flight calls may take to finish after SIGTERM before the process exits.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace_period: Duration,
    /// Largest request message accepted, in bytes.
    pub max_request_bytes: usize,
    /// HTTP/2 streams (calls) one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Connections open at once (health probes included); one more is closed as soon as it is
    /// accepted.
    pub max_connections: usize,
    /// How long a new connection has to complete its TLS handshake and send the HTTP/2
    /// preface; a silent one is closed so it cannot hold a place under `max_connections`.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// How long a call's request message may take to arrive in full once its headers came.
    #[serde(with = "humantime_serde")]
    pub request_body_timeout: Duration,
    /// A connection older than this is sent a GOAWAY, so that clients reconnect and re-resolve
    /// (new replicas behind a Service get traffic); none when unset.
    #[serde(with = "humantime_serde", default)]
    pub max_connection_age: Option<Duration>,
    /// How long calls on a connection past its age may take to finish before it is closed.
    #[serde(with = "humantime_serde")]
    pub max_connection_age_grace: Duration,
    /// Serve TLS (and mutual TLS with `client_ca_file`); plaintext when absent.
    pub tls: Option<TlsSettings>,
}

/// The server's certificate and key, and the CA that signs client certificates (mTLS).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 50051)),
            default_deadline: Duration::from_secs(30),
            shutdown_grace_period: Duration::from_secs(20),
            max_request_bytes: 1024 * 1024,
            max_concurrent_streams: 4096,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(10),
            max_connection_age: None,
            max_connection_age_grace: Duration::from_secs(30),
            tls: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GraphSettings {
    pub cloud: Cloud,
    /// Overrides the cloud's Graph endpoint (e.g. an emulator on loopback).
    pub endpoint: Option<String>,
    pub api_version: ApiVersion,
    /// Retries of a throttled (429) or unavailable (503, unreachable) Graph call, within the
    /// call's deadline.
    pub max_retries: usize,
    /// Speak cleartext HTTP/2 (h2c, prior knowledge) to a plain-http `endpoint`, multiplexing
    /// calls on one connection as HTTPS endpoints do after ALPN; off: HTTP/1.1, one connection
    /// per concurrent call.
    pub http2_prior_knowledge: bool,
}

impl Default for GraphSettings {
    fn default() -> Self {
        GraphSettings {
            cloud: Cloud::Global,
            endpoint: None,
            api_version: ApiVersion::V1,
            max_retries: 4,
            http2_prior_knowledge: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySettings {
    /// Overrides the cloud's authority host (e.g. an emulator on loopback).
    pub authority_host: Option<String>,
    /// A cached token stops being used this long before it expires (capped at half its lifetime).
    #[serde(with = "humantime_serde")]
    pub token_refresh_margin: Duration,
    /// A token is refreshed in the background once this fraction of its lifetime has passed
    /// (or after the token response's `refresh_in`), while it keeps serving.
    pub refresh_fraction: f64,
    /// At most this many tenants' tokens are cached.
    pub max_cached_tenants: u64,
    /// A tenant's token is dropped after this long without a call.
    #[serde(with = "humantime_serde")]
    pub idle_eviction: Duration,
    /// Reload credential files and the config file when they change on disk.
    pub watch_files: bool,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            authority_host: None,
            token_refresh_margin: Duration::from_secs(300),
            refresh_fraction: 0.5,
            max_cached_tenants: 10_000,
            idle_eviction: Duration::from_secs(6 * 3600),
            watch_files: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Callers must be allowed by a caller policy; with none configured every call is refused
    /// (fail closed).
    #[default]
    Policy,
    /// No caller authentication: dev mode, tests, or a mesh that enforces it.
    None,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// Issuers whose bearer JWTs identify callers (by `sub`).
    pub jwt_issuers: Vec<JwtIssuerSettings>,
    /// Who may use which tenants. With `mode = "policy"` and no rule, every call is refused.
    pub policies: Vec<CallerPolicySettings>,
}

/// A JWT issuer, e.g. the Kubernetes API server for projected service-account tokens.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JwtIssuerSettings {
    /// The `iss` claim, exactly.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Fetched at start-up and every 5 minutes.
    #[serde(default)]
    pub jwks_url: Option<String>,
}

/// One rule: these callers may create meetings in these tenants, for these organizers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CallerPolicySettings {
    /// Caller identities: client-certificate URI or DNS names (e.g. a SPIFFE id) or JWT subjects
    /// (e.g. `system:serviceaccount:scheduling:scheduler`).
    pub callers: Vec<String>,
    /// Tenant ids, or `*` for every configured tenant.
    pub tenants: Vec<String>,
    /// Organizers: object ids, UPNs or `@domain` suffixes. Empty: any organizer.
    #[serde(default)]
    pub organizers: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A RUST_LOG-style filter; the RUST_LOG variable wins when set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { format: LogFormat::Json, filter: "info".to_owned() }
    }
}

/// Overload protection (see `limits`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Create calls in flight at once, over all tenants; more fail fast with RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
    /// Create calls in flight at once for one tenant.
    pub max_in_flight_per_tenant: usize,
    /// Consecutive Graph failures (5xx, unreachable, timeouts) that open a tenant's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one probe.
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            max_in_flight: 20_000,
            max_in_flight_per_tenant: 10_000,
            breaker_failures: 10,
            breaker_cooldown: Duration::from_secs(15),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum OtlpProtocol {
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// OpenTelemetry export. Off unless `otlp_endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) is set;
/// the standard `OTEL_*` variables win over these keys.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// The collector, e.g. `http://otel-collector:4317` (gRPC) or `http://otel-collector:4318`
    /// (HTTP/protobuf).
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: OtlpProtocol,
    /// `service.name` unless `OTEL_SERVICE_NAME` is set.
    pub service_name: String,
    /// How often metrics are exported.
    #[serde(with = "humantime_serde")]
    pub metrics_interval: Duration,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            otlp_endpoint: None,
            otlp_protocol: OtlpProtocol::Grpc,
            service_name: "meeting-service".to_owned(),
            metrics_interval: Duration::from_secs(30),
        }
    }
}

/// One tenant the service creates meetings in, with the application credential it uses there.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Required, except with `workload_identity`, where `AZURE_TENANT_ID` is the default.
    #[serde(default)]
    pub tenant_id: String,
    /// Required, except with `workload_identity`, where `AZURE_CLIENT_ID` is the default.
    #[serde(default)]
    pub client_id: String,
    /// This tenant's national cloud, when it differs from `graph.cloud`.
    #[serde(default)]
    pub cloud: Option<Cloud>,
    /// This tenant's authority host, when it differs from its cloud's (with `workload_identity`,
    /// `AZURE_AUTHORITY_HOST` is the default).
    #[serde(default)]
    pub authority_host: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub certificate_file: Option<PathBuf>,
    #[serde(default)]
    pub send_certificate_chain: Option<bool>,
    #[serde(default)]
    pub workload_identity: Option<bool>,
    /// With `workload_identity`: the federated token file, when not `AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default)]
    pub federated_token_file: Option<PathBuf>,
}

impl TenantSettings {
    /// What can be checked without reading a file or variable: the ids (with workload identity
    /// they may come from `AZURE_*` variables instead), exactly one credential, and options that
    /// belong to another credential.
    pub fn check(&self, index: usize) -> Result<(), ConfigError> {
        let key = |name: &str| format!("tenants[{index}].{name}");
        let workload_identity = self.workload_identity == Some(true);
        if !(self.tenant_id.is_empty() && workload_identity) {
            TenantId::parse(&key("tenant_id"), &self.tenant_id)
                .map_err(|v| ConfigError::invalid(v.field, v.description))?;
        }
        if !(self.client_id.is_empty() && workload_identity) {
            TenantId::parse(&key("client_id"), &self.client_id)
                .map_err(|v| ConfigError::invalid(v.field, "must be the application (client) id, a GUID"))?;
        }
        let credentials = [
            self.client_secret_file.is_some(),
            self.client_secret_env.is_some(),
            self.certificate_file.is_some(),
            workload_identity,
        ];
        match credentials.iter().filter(|set| **set).count() {
            1 => {}
            0 => {
                return Err(ConfigError::invalid(
                    format!("tenants[{index}]"),
                    "needs one credential: client_secret_file, client_secret_env, certificate_file or workload_identity = true",
                ))
            }
            _ => {
                return Err(ConfigError::invalid(
                    format!("tenants[{index}]"),
                    "has more than one credential: set only one of client_secret_file, client_secret_env, certificate_file, workload_identity",
                ))
            }
        }
        if self.federated_token_file.is_some() && !workload_identity {
            return Err(ConfigError::invalid(
                key("federated_token_file"),
                "applies only with workload_identity = true",
            ));
        }
        if self.send_certificate_chain.is_some() && self.certificate_file.is_none() {
            return Err(ConfigError::invalid(key("send_certificate_chain"), "applies only with certificate_file"));
        }
        Ok(())
    }
}

// Holds only paths and variable names, but keep the habit: no secret-bearing type prints itself.
impl fmt::Debug for TenantSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantSettings")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret_file", &self.client_secret_file)
            .field("client_secret_env", &self.client_secret_env)
            .field("certificate_file", &self.certificate_file)
            .field("workload_identity", &self.workload_identity)
            .field("cloud", &self.cloud)
            .field("authority_host", &self.authority_host)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl From<figment::Error> for ConfigError {
    /// figment reports environment keys as written (`SERVER.LISTEN`); name them as the file does.
    fn from(error: figment::Error) -> Self {
        let key = if error.path.is_empty() { "(file)".to_owned() } else { error.path.join(".").to_lowercase() };
        let origin = error.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
        ConfigError::Invalid { key, message: format!("{}{origin}", error.kind) }
    }
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid { key: key.into(), message: message.into() }
    }
}

impl Settings {
    /// Defaults, then the TOML file (if any), then `MEETING_SERVICE__*` variables; validated.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::invalid("--config", format!("{} is not a readable file", file.display())));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        let settings: Settings = figment.extract()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot, without reading any file: URLs, ranges, exactly one
    /// credential per tenant.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.default_deadline.is_zero() {
            return Err(ConfigError::invalid("server.default_deadline", "must be greater than zero"));
        }
        if self.server.max_concurrent_streams == 0 {
            return Err(ConfigError::invalid("server.max_concurrent_streams", "must be at least 1"));
        }
        if self.server.max_connections == 0 {
            return Err(ConfigError::invalid("server.max_connections", "must be at least 1"));
        }
        if self.server.handshake_timeout < Duration::from_millis(100) {
            return Err(ConfigError::invalid("server.handshake_timeout", "must be at least 100ms"));
        }
        if self.server.max_connection_age.is_some_and(|age| age < Duration::from_millis(100)) {
            return Err(ConfigError::invalid("server.max_connection_age", "must be at least 100ms"));
        }
        if self.server.request_body_timeout < Duration::from_millis(100) {
            return Err(ConfigError::invalid("server.request_body_timeout", "must be at least 100ms"));
        }
        if self.server.max_request_bytes < 1024 {
            return Err(ConfigError::invalid("server.max_request_bytes", "must be at least 1024"));
        }
        if self.graph.max_retries > 10 {
            return Err(ConfigError::invalid("graph.max_retries", "must be at most 10"));
        }
        if self.graph_endpoint()?.scheme() != "http" && self.graph.http2_prior_knowledge {
            return Err(ConfigError::invalid(
                "graph.http2_prior_knowledge",
                "only for a plain-http graph.endpoint (HTTPS negotiates HTTP/2 by itself)",
            ));
        }
        self.authority_host()?;

        if !(0.05..=0.95).contains(&self.identity.refresh_fraction) {
            return Err(ConfigError::invalid("identity.refresh_fraction", "must be between 0.05 and 0.95"));
        }
        if self.identity.max_cached_tenants == 0 {
            return Err(ConfigError::invalid("identity.max_cached_tenants", "must be at least 1"));
        }
        for (i, issuer) in self.auth.jwt_issuers.iter().enumerate() {
            let key = |name: &str| format!("auth.jwt_issuers[{i}].{name}");
            if issuer.audiences.is_empty() {
                return Err(ConfigError::invalid(key("audiences"), "needs at least one audience"));
            }
            match (&issuer.jwks_file, &issuer.jwks_url) {
                (Some(_), None) => {}
                (None, Some(url)) => {
                    endpoint_url(&key("jwks_url"), Some(&origin_of(url)), "")?;
                }
                _ => {
                    return Err(ConfigError::invalid(
                        format!("auth.jwt_issuers[{i}]"),
                        "needs one of jwks_file or jwks_url",
                    ))
                }
            }
        }
        for (i, rule) in self.auth.policies.iter().enumerate() {
            if rule.callers.is_empty() {
                return Err(ConfigError::invalid(format!("auth.policies[{i}].callers"), "needs at least one caller"));
            }
            for tenant in &rule.tenants {
                if tenant != "*" {
                    TenantId::parse(&format!("auth.policies[{i}].tenants"), tenant)
                        .map_err(|v| ConfigError::invalid(v.field, "must hold tenant ids (GUIDs) or \"*\""))?;
                }
            }
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint {
            Url::parse(endpoint).map_err(|e| {
                ConfigError::invalid("telemetry.otlp_endpoint", format!("`{endpoint}` is not a URL: {e}"))
            })?;
        }
        if self.limits.max_in_flight == 0 || self.limits.max_in_flight > Semaphore::MAX_PERMITS {
            return Err(ConfigError::invalid("limits.max_in_flight", "must be at least 1"));
        }
        if self.limits.max_in_flight_per_tenant == 0 || self.limits.max_in_flight_per_tenant > Semaphore::MAX_PERMITS {
            return Err(ConfigError::invalid("limits.max_in_flight_per_tenant", "must be at least 1"));
        }
        if self.limits.breaker_failures == 0 {
            return Err(ConfigError::invalid("limits.breaker_failures", "must be at least 1"));
        }
        if self.telemetry.metrics_interval < Duration::from_secs(1) {
            return Err(ConfigError::invalid("telemetry.metrics_interval", "must be at least 1s"));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(ConfigError::invalid("log.filter", e.to_string()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, tenant) in self.tenants.iter().enumerate() {
            tenant.check(i)?;
            if !tenant.tenant_id.is_empty() && !seen.insert(tenant.tenant_id.to_ascii_lowercase()) {
                let message = format!("tenant {} is configured twice", tenant.tenant_id);
                return Err(ConfigError::invalid(format!("tenants[{i}].tenant_id"), message));
            }
        }
        Ok(())
    }

    /// The Graph endpoint: `graph.endpoint` when set, else the cloud's.
    pub fn graph_endpoint(&self) -> Result<Url, ConfigError> {
        endpoint_url("graph.endpoint", self.graph.endpoint.as_deref(), self.graph.cloud.graph_endpoint())
    }

    /// The authority host: `identity.authority_host` when set, else the cloud's.
    pub fn authority_host(&self) -> Result<Url, ConfigError> {
        endpoint_url(
            "identity.authority_host",
            self.identity.authority_host.as_deref(),
            self.graph.cloud.authority_host(),
        )
    }
}

/// An endpoint is a bare origin; plain http only reaches loopback, so a typo can't send tokens
/// over the network in clear text.
pub fn endpoint_url(key: &str, value: Option<&str>, default: &str) -> Result<Url, ConfigError> {
    let raw = value.unwrap_or(default);
    let url = Url::parse(raw).map_err(|e| ConfigError::invalid(key, format!("`{raw}` is not a URL: {e}")))?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(ConfigError::invalid(key, "plain http:// is accepted only for loopback hosts; use https://"))
        }
        other => return Err(ConfigError::invalid(key, format!("unsupported scheme `{other}`"))),
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(ConfigError::invalid(key, "must be a bare origin such as https://graph.microsoft.com"));
    }
    Ok(url)
}

/// `scheme://host[:port]` of a URL (for the https-or-loopback rule on URLs with paths).
fn origin_of(url: &str) -> String {
    Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_else(|_| url.to_owned())
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid tenant entry with a secret from a variable that is always set.
    pub(crate) fn tenant() -> TenantSettings {
        TenantSettings {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            client_id: "535fb089-9ff3-47b6-9bfb-4f1264799865".into(),
            client_secret_env: Some("PATH".into()),
            ..Default::default()
        }
    }

    fn key_of(settings: Settings) -> Option<String> {
        match settings.validate() {
            Ok(()) => None,
            Err(ConfigError::Invalid { key, .. }) => Some(key),
        }
    }

    #[test]
    fn validation_names_the_key() {
        let with = |f: &dyn Fn(&mut Settings)| {
            let mut s = Settings { tenants: vec![tenant()], ..Default::default() };
            f(&mut s);
            key_of(s)
        };
        assert_eq!(with(&|_| {}), None);
        assert_eq!(with(&|s| s.graph.endpoint = Some("http://127.0.0.1:8081".into())), None);
        assert_eq!(with(&|s| s.graph.endpoint = Some("http://[::1]:8081/".into())), None);
        assert_eq!(with(&|s| s.graph.http2_prior_knowledge = true).as_deref(), Some("graph.http2_prior_knowledge"));
        assert_eq!(
            with(&|s| {
                s.graph.endpoint = Some("http://127.0.0.1:8081".into());
                s.graph.http2_prior_knowledge = true;
            }),
            None
        );
        assert_eq!(
            with(&|s| s.graph.endpoint = Some("http://graph.example.com".into())).as_deref(),
            Some("graph.endpoint")
        );
        assert_eq!(
            with(&|s| s.graph.endpoint = Some("https://graph.microsoft.com/v1.0".into())).as_deref(),
            Some("graph.endpoint")
        );
        assert_eq!(
            with(&|s| s.identity.authority_host = Some("ftp://x".into())).as_deref(),
            Some("identity.authority_host")
        );
        assert_eq!(with(&|s| s.server.default_deadline = Duration::ZERO).as_deref(), Some("server.default_deadline"));
        assert_eq!(with(&|s| s.tenants[0].tenant_id = "contoso".into()).as_deref(), Some("tenants[0].tenant_id"));
        assert_eq!(with(&|s| s.tenants[0].client_id = "app".into()).as_deref(), Some("tenants[0].client_id"));
        assert_eq!(with(&|s| s.tenants.push(tenant())).as_deref(), Some("tenants[1].tenant_id"));
        assert_eq!(with(&|s| s.tenants[0].client_secret_env = None).as_deref(), Some("tenants[0]"));
        assert_eq!(
            with(&|s| s.tenants[0].client_secret_file = Some("/nonexistent".into())).as_deref(),
            Some("tenants[0]")
        );
        // Files and variables are read when the tenants are loaded, not here.
        assert_eq!(
            with(&|s| {
                s.tenants[0].client_secret_env = None;
                s.tenants[0].client_secret_file = Some("/nonexistent/secret".into());
            }),
            None
        );
        assert_eq!(
            with(&|s| s.tenants[0].client_secret_env = Some("MEETING_SERVICE_TEST_UNSET_VARIABLE".into())),
            None
        );
        assert_eq!(
            with(&|s| s.tenants[0].send_certificate_chain = Some(true)).as_deref(),
            Some("tenants[0].send_certificate_chain")
        );
    }

    #[test]
    fn clouds() {
        for (cloud, graph, login) in [
            (Cloud::Global, "https://graph.microsoft.com/", "https://login.microsoftonline.com/"),
            (Cloud::Usgov, "https://graph.microsoft.us/", "https://login.microsoftonline.us/"),
            (Cloud::UsgovDod, "https://dod-graph.microsoft.us/", "https://login.microsoftonline.us/"),
            (Cloud::China, "https://microsoftgraph.chinacloudapi.cn/", "https://login.chinacloudapi.cn/"),
        ] {
            let s = Settings { graph: GraphSettings { cloud, ..Default::default() }, ..Default::default() };
            assert_eq!(s.graph_endpoint().unwrap().as_str(), graph);
            assert_eq!(s.authority_host().unwrap().as_str(), login);
        }
    }

    #[test]
    fn loads_toml_and_names_bad_keys() {
        let dir = std::env::temp_dir().join(format!("meeting-service-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.join(name);
            std::fs::write(&path, body).unwrap();
            path
        };
        let good = write(
            "good.toml",
            "[server]\nlisten = \"127.0.0.1:0\"\ndefault_deadline = \"5s\"\n[graph]\napi_version = \"beta\"\n[auth]\nmode = \"none\"\n",
        );
        let s = Settings::load(Some(&good)).unwrap();
        assert_eq!(s.server.default_deadline, Duration::from_secs(5));
        assert_eq!(s.graph.api_version, ApiVersion::Beta);
        assert_eq!(s.auth.mode, AuthMode::None);

        let bad = write("bad.toml", "[server]\nlisten = \"not an address\"\n");
        let err = Settings::load(Some(&bad)).unwrap_err().to_string();
        assert!(err.contains("server.listen"), "{err}");
        let typo = write("typo.toml", "[graph]\nendpoitn = \"x\"\n");
        let err = Settings::load(Some(&typo)).unwrap_err().to_string();
        assert!(err.contains("endpoitn"), "{err}");
        let cloud = write("cloud.toml", "[graph]\ncloud = \"mars\"\n");
        let err = Settings::load(Some(&cloud)).unwrap_err().to_string();
        assert!(err.contains("graph.cloud"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
