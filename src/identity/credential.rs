//! The tenants' credentials, as loaded from configuration, and what each puts in a token request.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
};

use reqwest::Url;
use secrecy::SecretString;

use super::{certificate::ClientCertificate, error::IdentityError};
use crate::domain::TenantId;

/// Everything needed to ask one tenant's token endpoint for a Graph token.
#[derive(Clone, Debug)]
pub struct TenantCredential {
    pub tenant: TenantId,
    pub client_id: String,
    /// `{authority}/{tenant}/oauth2/v2.0/token`; also the `aud` of client assertions.
    pub token_url: Url,
    /// `{graph endpoint}/.default`
    pub scope: String,
    pub source: CredentialSource,
}

impl TenantCredential {
    pub fn new(
        tenant: TenantId,
        client_id: String,
        authority_host: &Url,
        graph_endpoint: &Url,
        source: CredentialSource,
    ) -> Result<Self, url::ParseError> {
        Ok(TenantCredential {
            token_url: authority_host.join(&format!("{tenant}/oauth2/v2.0/token"))?,
            scope: format!("{}/.default", graph_endpoint.as_str().trim_end_matches('/')),
            tenant,
            client_id,
            source,
        })
    }

    /// The form field that proves the application's identity: `client_secret`, or a
    /// `client_assertion` (signed by the certificate, or the federated token).
    pub async fn proof(&self) -> Result<(&'static str, SecretString), IdentityError> {
        match &self.source {
            CredentialSource::SecretFile { secret, .. } | CredentialSource::SecretEnv { secret, .. } => {
                Ok(("client_secret", secret.clone()))
            }
            CredentialSource::Certificate { certificate, .. } => certificate
                .assertion(&self.client_id, self.token_url.as_str())
                .map(|jwt| ("client_assertion", jwt))
                .map_err(|e| IdentityError::CredentialUnreadable { what: e.to_string(), source: None }),
            CredentialSource::WorkloadIdentity { token_file } => {
                let text = tokio::fs::read_to_string(token_file).await.map_err(|source| {
                    IdentityError::CredentialUnreadable {
                        what: format!("federated token file {}", token_file.display()),
                        source: Some(source),
                    }
                })?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(IdentityError::CredentialUnreadable {
                        what: format!("federated token file {} (empty)", token_file.display()),
                        source: None,
                    });
                }
                Ok(("client_assertion", SecretString::from(token.to_owned())))
            }
        }
    }
}
/// A tenant's credential as loaded from its files or variables. Secrets are held wrapped.
#[derive(Clone)]
pub enum CredentialSource {
    SecretFile {
        path: PathBuf,
        secret: SecretString,
    },
    SecretEnv {
        variable: String,
        secret: SecretString,
    },
    Certificate {
        path: PathBuf,
        certificate: Arc<ClientCertificate>,
    },
    /// The federated token is read from the file at every token request: the kubelet rotates it.
    WorkloadIdentity {
        token_file: PathBuf,
    },
}

impl CredentialSource {
    /// The configuration key naming this kind, for logs and spans.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialSource::SecretFile { .. } => "client_secret_file",
            CredentialSource::SecretEnv { .. } => "client_secret_env",
            CredentialSource::Certificate { .. } => "certificate_file",
            CredentialSource::WorkloadIdentity { .. } => "workload_identity",
        }
    }

    /// Whether two loads hold the same credential (a rotation changes it).
    pub fn same_as(&self, other: &CredentialSource) -> bool {
        use secrecy::ExposeSecret;
        match (self, other) {
            (CredentialSource::SecretFile { secret: a, .. }, CredentialSource::SecretFile { secret: b, .. })
            | (CredentialSource::SecretEnv { secret: a, .. }, CredentialSource::SecretEnv { secret: b, .. }) => {
                a.expose_secret() == b.expose_secret()
            }
            (
                CredentialSource::Certificate { certificate: a, .. },
                CredentialSource::Certificate { certificate: b, .. },
            ) => a.thumbprint_s256() == b.thumbprint_s256(),
            (
                CredentialSource::WorkloadIdentity { token_file: a },
                CredentialSource::WorkloadIdentity { token_file: b },
            ) => a == b,
            _ => false,
        }
    }

    /// Files whose change means the credential must be reloaded.
    pub fn watched_file(&self) -> Option<&Path> {
        match self {
            CredentialSource::SecretFile { path, .. } | CredentialSource::Certificate { path, .. } => Some(path),
            CredentialSource::SecretEnv { .. } | CredentialSource::WorkloadIdentity { .. } => None,
        }
    }
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::SecretFile { path, .. } => {
                f.debug_struct("SecretFile").field("path", path).finish_non_exhaustive()
            }
            CredentialSource::SecretEnv { variable, .. } => {
                f.debug_struct("SecretEnv").field("variable", variable).finish_non_exhaustive()
            }
            CredentialSource::Certificate { path, certificate } => {
                f.debug_struct("Certificate").field("path", path).field("certificate", certificate).finish()
            }
            CredentialSource::WorkloadIdentity { token_file } => {
                f.debug_struct("WorkloadIdentity").field("token_file", token_file).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn credential(source: CredentialSource) -> TenantCredential {
        TenantCredential::new(
            TenantId::parse("t", "72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
            "535fb089-9ff3-47b6-9bfb-4f1264799865".into(),
            &"https://login.microsoftonline.us/".parse().unwrap(),
            &"https://graph.microsoft.us".parse().unwrap(),
            source,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn each_kind_proves_itself_and_debug_hides_it() {
        let secret =
            credential(CredentialSource::SecretEnv { variable: "X".into(), secret: "s3cr3t".to_owned().into() });
        assert_eq!(
            secret.token_url.as_str(),
            "https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
        );
        assert_eq!(secret.scope, "https://graph.microsoft.us/.default");
        let (field, value) = secret.proof().await.unwrap();
        assert_eq!((field, value.expose_secret()), ("client_secret", "s3cr3t"));
        assert!(!format!("{secret:?}").contains("s3cr3t"));

        let path = std::env::temp_dir().join(format!("meeting-service-federated-{}", std::process::id()));
        std::fs::write(&path, "eyJfederated\n").unwrap();
        let federated = credential(CredentialSource::WorkloadIdentity { token_file: path.clone() });
        let (field, value) = federated.proof().await.unwrap();
        assert_eq!((field, value.expose_secret()), ("client_assertion", "eyJfederated"));
        std::fs::write(&path, "eyJrotated").unwrap();
        assert_eq!(federated.proof().await.unwrap().1.expose_secret(), "eyJrotated", "read at every request");
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(federated.proof().await, Err(IdentityError::CredentialUnreadable { .. })));
    }
}
