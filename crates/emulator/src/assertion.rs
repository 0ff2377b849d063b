//! Client assertions of the token endpoint: certificate-signed JWTs (verified with the registered
//! certificate's key) and federated tokens (matched against federated identity credentials, their
//! signature not verified). The rules and AADSTS codes are listed in the module docs.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::digest;
use rustls_pki_types::{pem::PemObject, CertificateDer, SignatureVerificationAlgorithm};
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::wire::{self, aadsts, AadstsError};
use super::{EmulatedTenant, Inner};

/// Clock skew allowed on `exp` and `nbf`, in seconds.
const SKEW: i64 = 300;
const CERTIFICATE_DOCS: &str =
    "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";
const FEDERATION_DOCS: &str = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

/// A decoded compact JWS.
struct Jwt<'a> {
    header: Value,
    claims: Value,
    /// `header.claims`, as signed.
    signed: &'a str,
    signature: Vec<u8>,
}

impl Jwt<'_> {
    fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `aud` as a list (a JWT may give one string or an array).
    fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// A NumericDate claim, in Unix seconds.
    fn time(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_f64).map(|t| t as i64)
    }
}

fn malformed() -> AadstsError {
    aadsts("invalid_request", 50027, 400, "JWT token is invalid or malformed.")
}

fn decode(assertion: &str) -> Result<Jwt<'_>, AadstsError> {
    let (signed, signature) = assertion.rsplit_once('.').ok_or_else(malformed)?;
    let (header, claims) = signed.split_once('.').ok_or_else(malformed)?;
    let json = |segment: &str| {
        let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
        serde_json::from_slice::<Value>(&bytes).ok().filter(Value::is_object)
    };
    match (json(header), json(claims), URL_SAFE_NO_PAD.decode(signature)) {
        (Some(header), Some(claims), Ok(signature)) => Ok(Jwt { header, claims, signed, signature }),
        _ => Err(malformed()),
    }
}

/// Checks `assertion` for the app `client_id` of `tenant`; `token_urls` are the accepted `aud`
/// values of certificate assertions. Records the `jti` of an accepted certificate assertion.
pub(super) fn verify(
    inner: &mut Inner,
    tenant: &EmulatedTenant,
    client_id: &str,
    token_urls: &[String],
    assertion: &str,
) -> Result<(), AadstsError> {
    let jwt = decode(assertion)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if jwt.header.get("x5t#S256").is_none() && jwt.header.get("x5t").is_none() {
        return verify_federated(tenant, &jwt, now);
    }

    let (thumbprint, algorithm) = match jwt.header.get("x5t#S256") {
        Some(t) => (t, &digest::SHA256),
        None => (&jwt.header["x5t"], &digest::SHA1_FOR_LEGACY_USE_ONLY),
    };
    let thumbprint = thumbprint.as_str().unwrap_or_default();
    let presented = URL_SAFE_NO_PAD.decode(thumbprint.trim_end_matches('=')).unwrap_or_default();
    let mut registered =
        tenant.certificates.iter().flat_map(|pem| CertificateDer::pem_slice_iter(pem.as_bytes()).flatten());
    let Some(der) = registered.find(|der| digest::digest(algorithm, der).as_ref() == presented) else {
        let hex: String = presented.iter().map(|b| format!("{b:02X}")).collect();
        return Err(aadsts("invalid_client", 700027, 401, format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]",
            if hex.is_empty() { thumbprint } else { &hex }
        )));
    };
    let failed = |reason: &str| {
        let message = format!("Client assertion failed signature validation. [Reason - {reason}]");
        aadsts("invalid_client", 700027, 401, message)
    };
    if let Some(chain) = jwt.header.get("x5c") {
        let first = chain.get(0).and_then(Value::as_str).and_then(|c| STANDARD.decode(c).ok());
        if first.as_deref() != Some(der.as_ref()) {
            return Err(failed("The first x5c certificate is not the one of the thumbprint."));
        }
    }
    let algorithm: &dyn SignatureVerificationAlgorithm = match jwt.header["alg"].as_str() {
        Some("RS256") => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        _ => return Err(failed("The algorithm is not RS256 or PS256.")),
    };
    let cert = webpki::EndEntityCert::try_from(&der).map_err(|_| failed("The certificate cannot be parsed."))?;
    cert.verify_signature(algorithm, jwt.signed.as_bytes(), &jwt.signature)
        .map_err(|_| failed("Key was found, but use of the key to verify the signature failed."))?;

    if !matches!(jwt.audiences()[..], [aud] if token_urls.iter().any(|u| u.eq_ignore_ascii_case(aud))) {
        let message = format!("Client assertion audience claim does not match Realm issuer. {CERTIFICATE_DOCS}");
        return Err(aadsts("invalid_client", 700023, 401, message));
    }
    let is_client = |claim: Option<&str>| claim.is_some_and(|c| c.eq_ignore_ascii_case(client_id));
    if !is_client(jwt.claim("iss")) || !is_client(jwt.claim("sub")) {
        let message =
            format!("Client assertion application identifier doesn't match 'client_id' parameter. {CERTIFICATE_DOCS}");
        return Err(aadsts("invalid_client", 700021, 401, message));
    }
    let exp = check_time(&jwt, now)?;
    let jti = jwt.claim("jti").filter(|j| !j.is_empty()).ok_or_else(malformed)?;
    inner.assertion_ids.retain(|_, exp| *exp + SKEW > now);
    if inner.assertion_ids.contains_key(jti) {
        let message = format!(
            "Assertion is invalid: the client assertion with jti '{jti}' was already presented. Sign a new assertion, with a new jti, for every request."
        );
        return Err(aadsts("invalid_client", 50013, 401, message));
    }
    inner.assertion_ids.insert(jti.to_owned(), exp);
    Ok(())
}

/// A federated token: matched against the federated identity credentials, its issuer trusted.
fn verify_federated(tenant: &EmulatedTenant, jwt: &Jwt<'_>, now: i64) -> Result<(), AadstsError> {
    let audiences = jwt.audiences();
    let for_audience = |audience: &str| audiences.contains(&audience);
    let credentials = &tenant.federated_credentials;
    if !credentials.iter().any(|c| for_audience(&c.audience)) {
        return Err(aadsts("invalid_client", 700212, 401, format!(
            "No matching federated identity record found for presented assertion audience '{}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. {FEDERATION_DOCS}",
            audiences.join(", ")
        )));
    }
    let (issuer, subject) = (jwt.claim("iss").unwrap_or_default(), jwt.claim("sub").unwrap_or_default());
    if !credentials.iter().any(|c| for_audience(&c.audience) && c.issuer == issuer && c.subject == subject) {
        return Err(aadsts("invalid_request", 70021, 400, format!(
            "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{}'. {FEDERATION_DOCS}",
            audiences.join(", ")
        )));
    }
    check_time(jwt, now).map(drop)
}

/// `exp` not past and `nbf` (when given) not ahead, within [`SKEW`]; returns `exp`.
fn check_time(jwt: &Jwt<'_>, now: i64) -> Result<i64, AadstsError> {
    let exp = jwt.time("exp").ok_or_else(malformed)?;
    let nbf = jwt.time("nbf");
    if exp + SKEW > now && nbf.is_none_or(|nbf| nbf - SKEW <= now) {
        return Ok(exp);
    }
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_or_else(|_| t.to_string(), wire::graph_datetime);
    let from = nbf.map(|nbf| format!(" assertion valid from {},", at(nbf))).unwrap_or_default();
    let message = format!(
        "Client assertion is not within its valid time range. Current time: {},{from} expiry time of assertion {}. {CERTIFICATE_DOCS}",
        at(now),
        at(exp)
    );
    Err(aadsts("invalid_client", 700024, 401, message))
}

/// A Kubernetes-like service-account token for tests of workload identity federation: header
/// `alg` RS256, claims `iss`, `sub`, `aud` (an array, as Kubernetes sends), `iat`, `nbf` (now) and
/// `exp` (now + `lifetime`), and a random "signature" (this emulator does not verify federated
/// tokens, nor does anything else: it is no real signature).
pub fn federated_token(issuer: &str, subject: &str, audience: &str, lifetime: Duration) -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
    let header = json!({"alg": "RS256", "kid": Uuid::new_v4().simple().to_string()});
    let claims = json!({"aud": [audience], "exp": exp, "iat": now, "iss": issuer, "nbf": now, "sub": subject});
    let signature: Vec<u8> = (0..16).flat_map(|_| Uuid::new_v4().into_bytes()).collect();
    wire::jwt_shaped(&header, &claims, &signature)
}
