//! Who is calling, and what they may do.
//! - Identity: the URI and DNS subject alternative names of the caller's mTLS client
//!   certificate (e.g. a SPIFFE id), and/or the `sub` of a bearer JWT in the `authorization`
//!   metadata, validated against a configured issuer (signature by a key of its JWKS, `iss`,
//!   `aud`, `exp`/`nbf`), e.g. a Kubernetes projected service-account token.
//! - Policy: each rule maps caller identities to the tenants (and optionally the organizers:
//!   object ids, UPNs or `@domain` suffixes) they may use. No rule, no access (fail closed);
//!   `auth.mode = "none"` turns all of this off explicitly.
//!
//! Denials never say whether a tenant exists: an unknown tenant and a forbidden one look alike.

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use crate::{
    config::{AuthMode, AuthSettings, JwtIssuerSettings},
    domain::{TenantId, UserId},
};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 60;

/// An authenticated caller: every identity its credentials proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub identities: Vec<String>,
}

impl Caller {
    /// For audit records.
    pub fn describe(&self) -> String {
        if self.identities.is_empty() {
            "anonymous (auth.mode = none)".to_owned()
        } else {
            self.identities.join(" ")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no caller credentials: present an mTLS client certificate or a bearer token")]
    Missing,
    #[error("the bearer token is not valid: {0}")]
    InvalidToken(String),
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// A verification key of an issuer.
enum Key {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    EcP256 { point: Vec<u8> },
}

struct Issuer {
    settings: JwtIssuerSettings,
    keys: ArcSwap<HashMap<Option<String>, Arc<Key>>>,
}

/// Checks caller credentials against the configured issuers and the policy.
pub struct Authenticator {
    mode: AuthMode,
    issuers: Vec<Arc<Issuer>>,
    policies: Vec<crate::config::CallerPolicySettings>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Authenticator {
    /// Loads the issuers' JWKS files (URLs are fetched by [`Authenticator::spawn_jwks_refresh`]).
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        let mut issuers = Vec::new();
        for (i, issuer) in settings.jwt_issuers.iter().enumerate() {
            let keys = match &issuer.jwks_file {
                Some(path) => load_jwks_file(path).map_err(|e| format!("auth.jwt_issuers[{i}].jwks_file: {e}"))?,
                None => HashMap::new(),
            };
            issuers.push(Arc::new(Issuer { settings: issuer.clone(), keys: ArcSwap::from_pointee(keys) }));
        }
        Ok(Authenticator { mode: settings.mode, issuers, policies: settings.policies.clone() })
    }

    /// Fetches JWKS URLs now and then every `every` (keys rotate).
    pub fn spawn_jwks_refresh(&self, http: reqwest::Client, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let issuers: Vec<Arc<Issuer>> =
            self.issuers.iter().filter(|i| i.settings.jwks_url.is_some()).cloned().collect();
        if issuers.is_empty() {
            return None;
        }
        Some(tokio::spawn(async move {
            loop {
                for issuer in &issuers {
                    let url = issuer.settings.jwks_url.as_deref().unwrap_or_default();
                    match fetch_jwks(&http, url).await {
                        Ok(keys) => issuer.keys.store(Arc::new(keys)),
                        Err(e) => tracing::warn!(issuer = %issuer.settings.issuer, error = %e, "cannot refresh JWKS"),
                    }
                }
                tokio::time::sleep(every).await;
            }
        }))
    }

    /// Who the caller is. With `auth.mode = "none"` everyone is an anonymous caller.
    pub fn authenticate(
        &self,
        peer_certs: Option<&[CertificateDer<'_>]>,
        authorization: Option<&str>,
    ) -> Result<Caller, AuthError> {
        if self.mode == AuthMode::None {
            return Ok(Caller { identities: Vec::new() });
        }
        let mut identities = Vec::new();
        if let Some(leaf) = peer_certs.and_then(|certs| certs.first()) {
            if let Ok(cert) = webpki::EndEntityCert::try_from(leaf) {
                identities.extend(cert.valid_uri_names().map(str::to_owned));
                identities.extend(cert.valid_dns_names().map(str::to_owned));
            }
        }
        if let Some(value) = authorization {
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .ok_or_else(|| AuthError::InvalidToken("authorization must be `Bearer <token>`".into()))?;
            identities.push(self.verify(token.trim())?);
        }
        if identities.is_empty() {
            return Err(AuthError::Missing);
        }
        Ok(Caller { identities })
    }

    /// Whether `caller` may create meetings in `tenant` for `organizer`.
    pub fn permits(&self, caller: &Caller, tenant: &TenantId, organizer: &UserId) -> bool {
        if self.mode == AuthMode::None {
            return true;
        }
        let tenant = tenant.to_string();
        let organizer = organizer.to_string().to_ascii_lowercase();
        self.policies.iter().any(|rule| {
            rule.callers.iter().any(|c| caller.identities.contains(c))
                && rule.tenants.iter().any(|t| t == "*" || t.eq_ignore_ascii_case(&tenant))
                && (rule.organizers.is_empty()
                    || rule.organizers.iter().any(|o| {
                        let o = o.to_ascii_lowercase();
                        if o.starts_with('@') {
                            organizer.ends_with(&o)
                        } else {
                            o == organizer
                        }
                    }))
        })
    }

    /// The `sub` of a valid token from one of the issuers.
    fn verify(&self, token: &str) -> Result<String, AuthError> {
        let invalid = |m: &str| AuthError::InvalidToken(m.to_owned());
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a JWT"));
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid("not base64url"));
        let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| invalid("malformed header"))?;
        let claims_json = decode(claims)?;
        let claims: Claims = serde_json::from_slice(&claims_json).map_err(|_| invalid("malformed claims"))?;
        let signature = decode(signature)?;
        let signed = &token[..token.rfind('.').unwrap_or_default()];

        let issuer = self
            .issuers
            .iter()
            .find(|i| claims.iss.as_deref() == Some(i.settings.issuer.as_str()))
            .ok_or_else(|| invalid("unknown issuer"))?;
        let keys = issuer.keys.load();
        let key = keys
            .get(&header.kid)
            .or_else(|| if keys.len() == 1 { keys.values().next() } else { None })
            .ok_or_else(|| invalid("unknown signing key"))?;
        let verified = match (&**key, header.alg.as_str()) {
            (Key::Rsa { n, e }, "RS256") => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &signature,
            ),
            (Key::EcP256 { point }, "ES256") => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(signed.as_bytes(), &signature)
            }
            _ => return Err(invalid("unsupported algorithm for the key")),
        };
        verified.map_err(|_| invalid("bad signature"))?;

        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match claims.exp {
            Some(exp) if exp + LEEWAY_SECONDS > now => {}
            _ => return Err(invalid("expired")),
        }
        if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECONDS > now) {
            return Err(invalid("not yet valid"));
        }
        let audiences = match claims.aud {
            Some(Audience::One(a)) => vec![a],
            Some(Audience::Many(a)) => a,
            None => Vec::new(),
        };
        if !audiences.iter().any(|a| issuer.settings.audiences.contains(a)) {
            return Err(invalid("wrong audience"));
        }
        claims.sub.filter(|s| !s.is_empty()).ok_or_else(|| invalid("no subject"))
    }
}

fn parse_jwks(bytes: &[u8]) -> Result<HashMap<Option<String>, Arc<Key>>, String> {
    let jwks: Jwks = serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS: {e}"))?;
    let b64 = |v: &Option<String>| v.as_deref().and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
    let mut keys = HashMap::new();
    for jwk in jwks.keys {
        let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => b64(&jwk.n).zip(b64(&jwk.e)).map(|(n, e)| Key::Rsa { n, e }),
            ("EC", Some("P-256")) => b64(&jwk.x).zip(b64(&jwk.y)).map(|(x, y)| {
                let mut point = vec![0x04];
                point.extend(x);
                point.extend(y);
                Key::EcP256 { point }
            }),
            _ => None,
        };
        if let Some(key) = key {
            keys.insert(jwk.kid, Arc::new(key));
        }
    }
    if keys.is_empty() {
        return Err("no usable RSA or P-256 key".into());
    }
    Ok(keys)
}

fn load_jwks_file(path: &Path) -> Result<HashMap<Option<String>, Arc<Key>>, String> {
    parse_jwks(&std::fs::read(path).map_err(|e| e.to_string())?)
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<HashMap<Option<String>, Arc<Key>>, String> {
    let response = http.get(url).timeout(Duration::from_secs(10)).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    parse_jwks(&response.bytes().await.map_err(|e| e.to_string())?)
}
