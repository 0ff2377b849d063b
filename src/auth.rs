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
use jsonwebtoken::{errors::ErrorKind, jwk::Jwk, Algorithm, DecodingKey, Validation};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use crate::{
    config::{AuthMode, AuthSettings, JwtIssuerSettings},
    domain::{TenantId, UserId},
};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;

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
    /// Each key read on its own: one this service can't use doesn't spoil the others.
    keys: Vec<serde_json::Value>,
}

/// A verification key of an issuer and how a token signed with it is checked: its one
/// algorithm (RS256 for an RSA key, ES256 for a P-256 one), the issuer, the audiences, `exp`
/// (required) and `nbf` within the leeway, a subject.
struct Key {
    key: DecodingKey,
    validation: Validation,
}

/// An issuer's keys by `kid`.
type Keys = HashMap<Option<String>, Arc<Key>>;

struct Issuer {
    settings: JwtIssuerSettings,
    keys: ArcSwap<Keys>,
}

/// Checks caller credentials against the configured issuers and the policy.
pub struct Authenticator {
    mode: AuthMode,
    issuers: Vec<Arc<Issuer>>,
    policies: Vec<crate::config::CallerPolicySettings>,
}

/// The claims read before the signature is checked: only to pick the issuer's keys.
#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
}

#[derive(Deserialize)]
struct Subject {
    sub: Option<String>,
}

impl Authenticator {
    /// Loads the issuers' JWKS files (URLs are fetched by [`Authenticator::spawn_jwks_refresh`]).
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        crate::jwt::install();
        let mut issuers = Vec::new();
        for (i, issuer) in settings.jwt_issuers.iter().enumerate() {
            let keys = match &issuer.jwks_file {
                Some(path) => {
                    load_jwks_file(path, issuer).map_err(|e| format!("auth.jwt_issuers[{i}].jwks_file: {e}"))?
                }
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
                    match fetch_jwks(&http, url, &issuer.settings).await {
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
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("not a JWT"))?;
        // The issuer's claim picks the keys; the signature is checked with them, then the claim
        // again (as every other one).
        let unverified: Unverified =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| invalid("malformed claims"))?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| unverified.iss.as_deref() == Some(i.settings.issuer.as_str()))
            .ok_or_else(|| invalid("unknown issuer"))?;
        let keys = issuer.keys.load();
        let key = keys
            .get(&header.kid)
            .or_else(|| if keys.len() == 1 { keys.values().next() } else { None })
            .ok_or_else(|| invalid("unknown signing key"))?;
        let verified = jsonwebtoken::decode::<Subject>(token, &key.key, &key.validation)
            .map_err(|e| AuthError::InvalidToken(refusal(e.kind())))?;
        verified.claims.sub.filter(|s| !s.is_empty()).ok_or_else(|| invalid("no subject"))
    }
}

/// Why a token was refused, in a few words (no claim values: they are the caller's).
fn refusal(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm => "unsupported algorithm for the key".into(),
        ErrorKind::ExpiredSignature => "expired".into(),
        ErrorKind::ImmatureSignature => "not yet valid".into(),
        ErrorKind::InvalidAudience => "wrong audience".into(),
        ErrorKind::InvalidIssuer => "unknown issuer".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("no {claim} claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("malformed {claim} claim"),
        _ => "malformed token".into(),
    }
}

/// The keys of `issuer`'s JWKS that verify RS256 (RSA) or ES256 (P-256) signatures; others are
/// skipped.
fn parse_jwks(bytes: &[u8], issuer: &JwtIssuerSettings) -> Result<Keys, String> {
    let jwks: Jwks = serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in jwks.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(jwk) else { continue };
        let algorithm = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec)
                if ec.curve == jsonwebtoken::jwk::EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => continue,
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else { continue };
        keys.insert(jwk.common.key_id.clone(), Arc::new(Key { key, validation: validation(algorithm, issuer) }));
    }
    if keys.is_empty() {
        return Err("no usable RSA or P-256 key".into());
    }
    Ok(keys)
}

/// What a token signed by `algorithm` must show: that algorithm in its header, `iss` the issuer,
/// an `aud` among the audiences, `exp` not past and `nbf` not ahead (with the leeway), a `sub`.
fn validation(algorithm: Algorithm, issuer: &JwtIssuerSettings) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&issuer.issuer]);
    validation.set_audience(&issuer.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

fn load_jwks_file(path: &Path, issuer: &JwtIssuerSettings) -> Result<Keys, String> {
    parse_jwks(&std::fs::read(path).map_err(|e| e.to_string())?, issuer)
}

async fn fetch_jwks(http: &reqwest::Client, url: &str, issuer: &JwtIssuerSettings) -> Result<Keys, String> {
    let response = http.get(url).timeout(Duration::from_secs(10)).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    parse_jwks(&response.bytes().await.map_err(|e| e.to_string())?, issuer)
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use ring::{
        hmac,
        rand::SystemRandom,
        signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256},
    };
    use rustls_pki_types::{pem::PemObject, PrivateKeyDer};
    use serde_json::{json, Value};

    use super::*;

    const KUBERNETES: &str = "https://kubernetes.default.svc.cluster.local";
    const CI: &str = "https://token.actions.example";

    fn pki(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pki").join(name)
    }

    /// `header.claims.signature`, signed by `sign`.
    fn token(header: Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The key of the fixture JWKS (kid `test-key`).
    fn rsa() -> RsaKeyPair {
        RsaKeyPair::from_pkcs8(PrivateKeyDer::from_pem_file(pki("jwt-signing.key")).unwrap().secret_der()).unwrap()
    }

    fn rs256(key: &RsaKeyPair) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
        |input| {
            let mut signature = vec![0; key.public().modulus_len()];
            key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input, &mut signature).unwrap();
            signature
        }
    }

    fn ec() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    fn es256(key: &EcdsaKeyPair) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
        |input| key.sign(&SystemRandom::new(), input).unwrap().as_ref().to_vec()
    }

    /// A JWKS holding the P-256 public key of `key` as `kid`.
    fn ec_jwks(key: &EcdsaKeyPair, kid: &str) -> Value {
        let point = key.public_key().as_ref();
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])}]})
    }

    fn issuer(name: &str, audience: &str, jwks: &Value) -> Arc<Issuer> {
        let settings = JwtIssuerSettings {
            issuer: name.into(),
            audiences: vec![audience.into()],
            jwks_file: None,
            jwks_url: None,
        };
        let keys = parse_jwks(jwks.to_string().as_bytes(), &settings).unwrap();
        Arc::new(Issuer { settings, keys: ArcSwap::from_pointee(keys) })
    }

    /// Kubernetes (RS256, the fixture JWKS, audience `meeting-service`) and CI (ES256 with
    /// `ci_key`, audience `ci`).
    fn authenticator(ci_key: &EcdsaKeyPair) -> Authenticator {
        crate::jwt::install();
        let fixture: Value = serde_json::from_slice(&std::fs::read(pki("jwks.json")).unwrap()).unwrap();
        Authenticator {
            mode: AuthMode::Policy,
            issuers: vec![
                issuer(KUBERNETES, "meeting-service", &fixture),
                issuer(CI, "ci", &ec_jwks(ci_key, "ci-key")),
            ],
            policies: Vec::new(),
        }
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    /// Kubernetes claims for `scheduler`, with `changes` applied (null removes a claim).
    fn claims(changes: Value) -> Value {
        let mut claims = json!({"iss": KUBERNETES, "sub": "scheduler", "aud": ["meeting-service"], "iat": now(), "exp": now() + 600});
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(name),
                value => claims.as_object_mut().unwrap().insert(name.clone(), value.clone()),
            };
        }
        claims
    }

    fn rs256_header() -> Value {
        json!({"alg": "RS256", "kid": "test-key", "typ": "JWT"})
    }

    fn refused_because(auth: &Authenticator, token: &str) -> String {
        match auth.verify(token) {
            Err(AuthError::InvalidToken(why)) => {
                assert!(token.is_empty() || !why.contains(token), "{why}");
                assert!(!why.contains("scheduler"), "{why}");
                why
            }
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn a_valid_token_names_its_caller_by_subject() {
        let (key, ci_key) = (rsa(), ec());
        let auth = authenticator(&ci_key);
        let kubernetes = token(rs256_header(), &claims(json!({})), rs256(&key));
        let caller = auth.authenticate(None, Some(&format!("Bearer {kubernetes}"))).expect("valid");
        assert_eq!(caller.identities, ["scheduler"]);
        let ci = json!({"iss": CI, "sub": "repo:contoso/app", "aud": "ci", "exp": now() + 60});
        let ci = token(json!({"alg": "ES256", "kid": "ci-key"}), &ci, es256(&ci_key));
        assert_eq!(auth.verify(&ci), Ok("repo:contoso/app".to_owned()), "an ES256 token of the second issuer");
        assert_eq!(
            auth.authenticate(None, Some(&format!("Basic {kubernetes}"))),
            Err(AuthError::InvalidToken("authorization must be `Bearer <token>`".into()))
        );
    }

    #[test]
    fn every_claim_is_checked() {
        let (key, ci_key) = (rsa(), ec());
        let auth = authenticator(&ci_key);
        let check = |changes: Value| auth.verify(&token(rs256_header(), &claims(changes), rs256(&key)));
        let refused = |changes: Value| refused_because(&auth, &token(rs256_header(), &claims(changes), rs256(&key)));
        // exp: required, a number, not past (60 s of leeway for clock skew).
        assert_eq!(refused(json!({"exp": now() - 120})), "expired");
        assert!(check(json!({"exp": now() - 30})).is_ok(), "within the leeway");
        assert_eq!(refused(json!({"exp": null})), "no exp claim");
        assert_eq!(refused(json!({"exp": (now() + 600).to_string()})), "no exp claim", "not a number");
        // nbf: optional, but when present a number not ahead (CVE-2026-25537: a string skipped it).
        assert_eq!(refused(json!({"nbf": now() + 120})), "not yet valid");
        assert!(check(json!({"nbf": now() + 30})).is_ok(), "within the leeway");
        assert_eq!(refused(json!({"nbf": (now() + 86_400).to_string()})), "malformed nbf claim");
        // aud: required; one of the issuer's audiences, alone or in a list.
        assert_eq!(refused(json!({"aud": "vault"})), "wrong audience");
        assert_eq!(refused(json!({"aud": ["vault", "ci"]})), "wrong audience", "another issuer's audience");
        assert!(check(json!({"aud": "meeting-service"})).is_ok());
        assert!(check(json!({"aud": ["vault", "meeting-service"]})).is_ok());
        assert_eq!(refused(json!({"aud": null})), "no aud claim");
        // iss: one of the configured issuers.
        assert_eq!(refused(json!({"iss": "https://elsewhere.example"})), "unknown issuer");
        assert_eq!(refused(json!({"iss": null})), "unknown issuer");
        // sub: required, not empty.
        assert_eq!(refused(json!({"sub": null})), "no sub claim");
        assert_eq!(refused(json!({"sub": ""})), "no subject");
    }

    #[test]
    fn a_signature_is_checked_with_the_issuers_key_and_algorithm_only() {
        let (key, ci_key) = (rsa(), ec());
        let auth = authenticator(&ci_key);
        let claims = claims(json!({}));
        // The public RSA key used as an HMAC secret: the classic confusion.
        let fixture: Value = serde_json::from_slice(&std::fs::read(pki("jwks.json")).unwrap()).unwrap();
        let n = URL_SAFE_NO_PAD.decode(fixture["keys"][0]["n"].as_str().unwrap()).unwrap();
        for secret in [n.as_slice(), fixture.to_string().as_bytes()] {
            let hs256 = |input: &[u8]| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input).as_ref().to_vec();
            let forged = token(json!({"alg": "HS256", "kid": "test-key"}), &claims, hs256);
            assert_eq!(refused_because(&auth, &forged), "unsupported algorithm for the key");
        }
        // No signature at all.
        refused_because(&auth, &token(json!({"alg": "none"}), &claims, |_| Vec::new()));
        // Another algorithm than the key's, even a valid signature of it.
        let es = token(json!({"alg": "ES256", "kid": "test-key"}), &claims, es256(&ci_key));
        assert_eq!(refused_because(&auth, &es), "unsupported algorithm for the key");
        let rs384 = token(json!({"alg": "RS384", "kid": "test-key"}), &claims, rs256(&key));
        assert_eq!(refused_because(&auth, &rs384), "unsupported algorithm for the key");
        // A bit flipped in the signature, or the claims changed after signing.
        let valid = token(rs256_header(), &claims, rs256(&key));
        let mut flipped = valid.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(refused_because(&auth, std::str::from_utf8(&flipped).unwrap()), "bad signature");
        let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(
            json!({"iss": KUBERNETES, "sub": "admin", "aud": "meeting-service", "exp": now() + 600}).to_string(),
        );
        assert_eq!(refused_because(&auth, &parts.join(".")), "bad signature");
        // One issuer's token signed with the other issuer's key (each has one key, which a token
        // without a known kid is checked with).
        let ci_claims = json!({"iss": CI, "sub": "x", "aud": "ci", "exp": now() + 60});
        let cross = token(rs256_header(), &ci_claims, rs256(&key));
        assert_eq!(refused_because(&auth, &cross), "unsupported algorithm for the key");
        let cross = token(json!({"alg": "ES256", "kid": "ci-key"}), &claims, es256(&ci_key));
        assert_eq!(refused_because(&auth, &cross), "unsupported algorithm for the key");
        for garbage in ["", "not.a.jwt", "a.b", "e30.e30.e30.e30"] {
            refused_because(&auth, garbage);
        }
        // With several keys, the kid must name one.
        let fixture_and_ci = json!({"keys": [fixture["keys"][0], ec_jwks(&ci_key, "ci-key")["keys"][0]]});
        let both = Authenticator { issuers: vec![issuer(KUBERNETES, "meeting-service", &fixture_and_ci)], ..auth };
        assert!(both.verify(&valid).is_ok());
        let unknown = token(json!({"alg": "RS256", "kid": "rotated-away"}), &claims, rs256(&key));
        assert_eq!(refused_because(&both, &unknown), "unknown signing key");
    }

    #[test]
    fn a_jwks_keeps_the_keys_it_can_use() {
        let settings =
            JwtIssuerSettings { issuer: KUBERNETES.into(), audiences: vec![], jwks_file: None, jwks_url: None };
        let fixture: Value = serde_json::from_slice(&std::fs::read(pki("jwks.json")).unwrap()).unwrap();
        let ci_key = ec();
        let mixed = json!({"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "broken"},
            "not a key",
            fixture["keys"][0],
            ec_jwks(&ci_key, "ec")["keys"][0],
        ]});
        let keys = parse_jwks(mixed.to_string().as_bytes(), &settings).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, [Some("ec".to_owned()), Some("test-key".to_owned())]);
        assert_eq!(keys[&Some("ec".to_owned())].validation.algorithms, [Algorithm::ES256]);
        assert_eq!(keys[&Some("test-key".to_owned())].validation.algorithms, [Algorithm::RS256]);
        let only_hmac = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert_eq!(
            parse_jwks(only_hmac.to_string().as_bytes(), &settings).err().unwrap(),
            "no usable RSA or P-256 key"
        );
        assert!(parse_jwks(b"<html>", &settings).err().unwrap().starts_with("not a JWKS"));
    }
}
