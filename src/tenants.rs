//! The configured tenants as the service uses them: each `[[tenants]]` entry resolved (cloud,
//! endpoints, workload-identity defaults), its credential read once, and a Graph client built
//! for it. Start-up and every reload go through [`load`]; the registry is swapped whole, so a
//! call keeps the tenant it started with.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
};

use arc_swap::ArcSwap;
use secrecy::SecretString;
use url::Url;

use crate::{
    config::{endpoint_url, ConfigError, Settings},
    domain::{self, OnlineMeeting, TenantId, ValidationError},
    graph::{Cloud, GraphClient, GraphTransport},
    identity::{ClientCertificate, CredentialSource, TenantCredential},
};

/// A configured tenant: its credential, its Graph client, its cloud.
#[derive(Debug)]
pub struct Tenant {
    pub credential: Arc<TenantCredential>,
    pub graph: GraphClient,
    pub cloud: Cloud,
}

impl Tenant {
    /// What this tenant's cloud cannot take, refused before any request: Graph in the US
    /// Government clouds lacks some properties and would answer with an unhelpful error.
    pub fn admits(&self, meeting: &OnlineMeeting) -> Result<(), ValidationError> {
        if matches!(self.cloud, Cloud::Usgov | Cloud::UsgovDod) {
            let violations = domain::unsupported_in_us_government(meeting);
            if !violations.is_empty() {
                return Err(violations.into());
            }
        }
        Ok(())
    }
}

/// The configured tenants by id.
pub type Tenants = HashMap<TenantId, Arc<Tenant>>;

/// The tenants in force, replaced as a whole when configuration or credentials change.
pub struct TenantRegistry(ArcSwap<Tenants>);

impl TenantRegistry {
    pub fn new(tenants: Tenants) -> Self {
        TenantRegistry(ArcSwap::from_pointee(tenants))
    }

    pub fn get(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        self.0.load().get(id).cloned()
    }

    pub fn snapshot(&self) -> Arc<Tenants> {
        self.0.load_full()
    }

    /// Swaps in a new set; calls in flight finish with the tenant they started with.
    pub fn replace(&self, tenants: Tenants) {
        self.0.store(Arc::new(tenants));
    }
}

/// Reads every tenant's credential and builds its Graph client: the one conversion from
/// `[[tenants]]` to what serves, at start-up and at every reload.
pub fn load(
    settings: &Settings,
    transport: &GraphTransport,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Tenants, ConfigError> {
    resolve(settings, env)?
        .into_iter()
        .map(|t| {
            let credential =
                TenantCredential::new(t.tenant_id, t.client_id, &t.authority_host, &t.graph_endpoint, t.credential)
                    .map_err(|e| ConfigError::invalid("identity.authority_host", e.to_string()))?;
            let graph = GraphClient::new(transport, &t.graph_endpoint, settings.graph.api_version);
            Ok((t.tenant_id, Arc::new(Tenant { credential: Arc::new(credential), graph, cloud: t.cloud })))
        })
        .collect()
}

/// A tenant entry with every default applied and its credential loaded.
#[derive(Clone, Debug)]
pub struct ResolvedTenant {
    pub tenant_id: TenantId,
    pub client_id: String,
    pub cloud: Cloud,
    pub graph_endpoint: Url,
    pub authority_host: Url,
    pub credential: CredentialSource,
}

fn read_secret_file(key: &str, path: &Path) -> Result<SecretString, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => Ok(SecretString::from(text.trim().to_owned())),
        Ok(_) => Err(ConfigError::invalid(key, format!("{} is empty", path.display()))),
        Err(e) => Err(ConfigError::invalid(key, format!("cannot read {}: {e}", path.display()))),
    }
}

/// Every tenant with its defaults applied (clouds, workload-identity variables) and its
/// credential read once. `env` reads the process environment (tests pass their own).
pub fn resolve(settings: &Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<ResolvedTenant>, ConfigError> {
    let mut seen = HashSet::new();
    let mut resolved = Vec::with_capacity(settings.tenants.len());
    for (i, tenant) in settings.tenants.iter().enumerate() {
        let key = |name: &str| format!("tenants[{i}].{name}");
        let workload_identity = tenant.workload_identity == Some(true);
        let from_env = |value: &str, variable: &str| {
            if value.is_empty() && workload_identity {
                env(variable).unwrap_or_default()
            } else {
                value.to_owned()
            }
        };
        let tenant_id = from_env(&tenant.tenant_id, "AZURE_TENANT_ID");
        let id =
            TenantId::parse(&key("tenant_id"), &tenant_id).map_err(|v| ConfigError::invalid(v.field, v.description))?;
        if !seen.insert(id) {
            return Err(ConfigError::invalid(key("tenant_id"), format!("tenant {id} is configured twice")));
        }
        let client_id = from_env(&tenant.client_id, "AZURE_CLIENT_ID");
        TenantId::parse(&key("client_id"), &client_id)
            .map_err(|v| ConfigError::invalid(v.field, "must be the application (client) id, a GUID"))?;

        tenant.check(i)?;
        let credential = if let Some(path) = &tenant.client_secret_file {
            CredentialSource::SecretFile {
                path: path.clone(),
                secret: read_secret_file(&key("client_secret_file"), path)?,
            }
        } else if let Some(variable) = &tenant.client_secret_env {
            match env(variable).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                Some(value) => CredentialSource::SecretEnv { variable: variable.clone(), secret: value.into() },
                None => {
                    return Err(ConfigError::invalid(
                        key("client_secret_env"),
                        format!("environment variable {variable} is not set or empty"),
                    ))
                }
            }
        } else if let Some(path) = &tenant.certificate_file {
            let certificate = ClientCertificate::load(path, tenant.send_certificate_chain.unwrap_or(false))
                .map_err(|e| ConfigError::invalid(key("certificate_file"), format!("{}: {e}", path.display())))?;
            CredentialSource::Certificate { path: path.clone(), certificate: Arc::new(certificate) }
        } else {
            let configured = tenant.federated_token_file.as_ref().map(|p| p.display().to_string());
            let path = configured.or_else(|| env("AZURE_FEDERATED_TOKEN_FILE")).filter(|p| !p.is_empty()).ok_or_else(|| {
                ConfigError::invalid(
                    key("workload_identity"),
                    "AZURE_FEDERATED_TOKEN_FILE is not set (is the pod labelled azure.workload.identity/use: \"true\"?)",
                )
            })?;
            let path = PathBuf::from(path);
            read_secret_file(&key("workload_identity"), &path)?;
            CredentialSource::WorkloadIdentity { token_file: path }
        };

        let cloud = tenant.cloud.unwrap_or(settings.graph.cloud);
        let graph_endpoint = match tenant.cloud {
            Some(cloud) => endpoint_url(&key("cloud"), None, cloud.graph_endpoint())?,
            None => settings.graph_endpoint()?,
        };
        let authority_override = tenant.authority_host.clone().or_else(|| {
            if workload_identity {
                env("AZURE_AUTHORITY_HOST").filter(|h| !h.is_empty())
            } else {
                None
            }
        });
        let authority_host = match (authority_override, tenant.cloud) {
            (Some(host), _) => endpoint_url(&key("authority_host"), Some(&host), "")?,
            (None, Some(cloud)) => endpoint_url(&key("cloud"), None, cloud.authority_host())?,
            (None, None) => settings.authority_host()?,
        };
        resolved.push(ResolvedTenant { tenant_id: id, client_id, cloud, graph_endpoint, authority_host, credential });
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{tests::tenant, GraphSettings, TenantSettings};

    #[test]
    fn credentials_are_read_when_loading_and_errors_name_the_key() {
        let key_of =
            |tenant: TenantSettings| match resolve(&Settings { tenants: vec![tenant], ..Default::default() }, &|n| {
                std::env::var(n).ok()
            }) {
                Ok(_) => None,
                Err(ConfigError::Invalid { key, .. }) => Some(key),
            };
        assert_eq!(key_of(tenant()), None);
        assert_eq!(
            key_of(TenantSettings {
                client_secret_env: Some("MEETING_SERVICE_TEST_UNSET_VARIABLE".into()),
                ..tenant()
            })
            .as_deref(),
            Some("tenants[0].client_secret_env")
        );
        assert_eq!(
            key_of(TenantSettings {
                client_secret_env: None,
                client_secret_file: Some("/nonexistent/secret".into()),
                ..tenant()
            })
            .as_deref(),
            Some("tenants[0].client_secret_file")
        );
    }

    #[test]
    fn tenants_resolve_clouds_and_workload_identity_defaults() {
        let token_file = std::env::temp_dir().join(format!("meeting-service-wi-{}", std::process::id()));
        std::fs::write(&token_file, "eyJfederated").unwrap();
        let token_path = token_file.display().to_string();
        let env = |name: &str| match name {
            "AZURE_TENANT_ID" => Some("11111111-2222-4333-8444-555555555555".to_owned()),
            "AZURE_CLIENT_ID" => Some("66666666-7777-4888-9999-000000000000".to_owned()),
            "AZURE_AUTHORITY_HOST" => Some("https://login.microsoftonline.com/".to_owned()),
            "AZURE_FEDERATED_TOKEN_FILE" => Some(token_path.clone()),
            "SECRET" | "PATH" => Some(" s3cr3t\n".to_owned()),
            _ => None,
        };
        let settings = Settings {
            graph: GraphSettings { cloud: Cloud::Usgov, ..Default::default() },
            tenants: vec![
                TenantSettings { client_secret_env: Some("SECRET".into()), ..tenant() },
                TenantSettings { workload_identity: Some(true), cloud: Some(Cloud::Global), ..Default::default() },
                TenantSettings {
                    tenant_id: "99999999-8888-4777-8666-555555555555".into(),
                    cloud: Some(Cloud::UsgovDod),
                    ..tenant()
                },
                TenantSettings {
                    tenant_id: "12345678-8888-4777-8666-555555555555".into(),
                    cloud: Some(Cloud::China),
                    ..tenant()
                },
            ],
            ..Default::default()
        };
        let resolved = resolve(&settings, &|n| env(n)).unwrap();
        let urls =
            |i: usize| (resolved[i].graph_endpoint.as_str().to_owned(), resolved[i].authority_host.as_str().to_owned());
        assert_eq!(urls(0), ("https://graph.microsoft.us/".into(), "https://login.microsoftonline.us/".into()));
        assert_eq!(urls(1), ("https://graph.microsoft.com/".into(), "https://login.microsoftonline.com/".into()));
        assert_eq!(urls(2), ("https://dod-graph.microsoft.us/".into(), "https://login.microsoftonline.us/".into()));
        assert_eq!(
            urls(3),
            ("https://microsoftgraph.chinacloudapi.cn/".into(), "https://login.chinacloudapi.cn/".into())
        );
        assert_eq!(resolved[1].tenant_id.to_string(), "11111111-2222-4333-8444-555555555555");
        assert_eq!(resolved[1].client_id, "66666666-7777-4888-9999-000000000000");
        assert!(
            matches!(&resolved[1].credential, CredentialSource::WorkloadIdentity { token_file: p } if *p == token_file)
        );
        assert_eq!(resolved[0].credential.kind(), "client_secret_env");
        assert!(!format!("{:?}", resolved[0]).contains("s3cr3t"));

        let no_token_file = |n: &str| if n == "AZURE_FEDERATED_TOKEN_FILE" { None } else { env(n) };
        let err = resolve(&settings, &no_token_file).unwrap_err().to_string();
        assert!(err.contains("tenants[1].workload_identity") && err.contains("AZURE_FEDERATED_TOKEN_FILE"), "{err}");
        std::fs::remove_file(&token_file).ok();
    }

    #[test]
    fn certificate_files_are_checked_at_start_up() {
        let fixture = |name: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let with_cert = |name: &str| Settings {
            tenants: vec![TenantSettings {
                client_secret_env: None,
                certificate_file: Some(fixture(name)),
                send_certificate_chain: Some(true),
                ..tenant()
            }],
            ..Default::default()
        };
        let resolved = resolve(&with_cert("client-certificate.pem"), &|_| None).unwrap();
        assert_eq!(resolved[0].credential.kind(), "certificate_file");
        assert!(!format!("{:?}", resolved[0].credential).contains("PRIVATE KEY"));
        let err = resolve(&with_cert("ec-certificate.pem"), &|_| None).unwrap_err().to_string();
        assert!(err.contains("tenants[0].certificate_file") && err.contains("not RSA"), "{err}");
    }
}
