//! The certificate credential: a PEM file holding an RSA private key (PKCS#8 or PKCS#1,
//! unencrypted) and its certificate chain in any order, and the client-assertion JWT it signs
//! for each token request (RFC 7523; Microsoft's "certificate credentials" format), made by
//! jsonwebtoken: header `alg RS256`, `typ JWT`, `x5t#S256` (and `x5c` when asked), claims
//! `aud` = the token endpoint, `iss` = `sub` = the client id, a unique `jti`, `nbf`/`iat` now and
//! `exp` five minutes later.

use std::{fmt, path::Path, time::Duration};

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::{
    digest,
    rand::SystemRandom,
    signature::{RsaKeyPair, RSA_PKCS1_SHA256},
};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use secrecy::SecretString;
use serde::Serialize;
use zeroize::Zeroizing;

/// How long a client assertion is valid: long enough for clock skew, short enough to be useless
/// if it leaked.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// A loaded certificate credential. `Debug` shows the thumbprint only.
pub struct ClientCertificate {
    /// The private key's DER (PKCS#8 or PKCS#1), wiped when dropped.
    key: EncodingKey,
    /// `alg`, `typ`, `x5t#S256` = base64url(SHA-256(leaf certificate DER)), and `x5c` (base64 DER
    /// of the chain, leaf first) when asked.
    header: Header,
    chain_len: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

/// The claims of a client assertion.
#[derive(Serialize)]
struct Assertion<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

impl ClientCertificate {
    pub fn load(path: &Path, send_chain: bool) -> Result<Self, CertificateError> {
        let pem = Zeroizing::new(
            std::fs::read(path)
                .map_err(|source| CertificateError::Read { path: path.display().to_string(), source })?,
        );
        Self::from_pem(&pem, send_chain)
    }

    pub fn from_pem(pem: &[u8], send_chain: bool) -> Result<Self, CertificateError> {
        crate::jwt::install();
        let invalid = |m: &str| CertificateError::Invalid(m.to_owned());
        let (der, parsed) = match PrivateKeyDer::from_pem_slice(pem) {
            Ok(PrivateKeyDer::Pkcs8(der)) => {
                let parsed = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der());
                (Zeroizing::new(der.secret_pkcs8_der().to_vec()), parsed)
            }
            Ok(PrivateKeyDer::Pkcs1(der)) => {
                let parsed = RsaKeyPair::from_der(der.secret_pkcs1_der());
                (Zeroizing::new(der.secret_pkcs1_der().to_vec()), parsed)
            }
            Ok(_) => return Err(invalid("the private key is not RSA: Entra client assertions need an RSA key")),
            Err(_) => return Err(invalid("no unencrypted PKCS#8 or PKCS#1 private key found")),
        };
        let key = parsed.map_err(|e| CertificateError::Invalid(format!("the RSA private key is not usable: {e}")))?;

        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| invalid("a CERTIFICATE block is malformed"))?;
        if certs.is_empty() {
            return Err(invalid("no certificate found next to the private key"));
        }
        // The leaf is the certificate whose public key verifies what the private key signs.
        let probe = b"meeting-service certificate match";
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), probe, &mut signature)
            .map_err(|_| invalid("the private key cannot sign"))?;
        let leaf = certs
            .iter()
            .position(|der| {
                webpki::EndEntityCert::try_from(der).is_ok_and(|cert| {
                    cert.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, probe, &signature).is_ok()
                })
            })
            .ok_or_else(|| invalid("no certificate in the file matches the private key"))?;

        let mut header = Header::new(Algorithm::RS256);
        header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, certs[leaf].as_ref())));
        if send_chain {
            let others = certs.iter().enumerate().filter(|(i, _)| *i != leaf).map(|(_, c)| c);
            header.x5c =
                Some(std::iter::once(&certs[leaf]).chain(others).map(|c| STANDARD.encode(c.as_ref())).collect());
        }
        Ok(ClientCertificate { key: EncodingKey::from_rsa_der(&der), header, chain_len: certs.len() })
    }

    pub fn thumbprint_s256(&self) -> &str {
        self.header.x5t_s256.as_deref().unwrap_or_default()
    }

    /// A fresh signed assertion for `client_id` at the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<SecretString, CertificateError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Assertion {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs() as i64,
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map(SecretString::from)
            .map_err(|_| CertificateError::Invalid("signing the client assertion failed".into()))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_s256())
            .field("chain_len", &self.chain_len)
            .field("send_chain", &self.header.x5c.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    fn der(name: &str) -> Vec<u8> {
        CertificateDer::from_pem_file(fixture(name)).unwrap().as_ref().to_vec()
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn signs_a_verifiable_assertion() {
        let cert = ClientCertificate::load(&fixture("client-certificate.pem"), false).unwrap();
        let aud = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token";
        let jwt = cert.assertion("535fb089-9ff3-47b6-9bfb-4f1264799865", aud).unwrap();
        let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let (header, claims) = (decode(parts[0]), decode(parts[1]));
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &der("cert.pem"))));
        let mut names: Vec<&String> = header.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["alg", "typ", "x5t#S256"], "no x5c unless asked, nothing else");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iss"], "535fb089-9ff3-47b6-9bfb-4f1264799865");
        assert_eq!(claims["sub"], claims["iss"]);
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(), 300);
        let other = cert.assertion("c", aud).unwrap();
        assert_ne!(decode(other.expose_secret().split('.').nth(1).unwrap())["jti"], claims["jti"]);

        let leaf_der = der("cert.pem");
        let leaf_der = CertificateDer::from(leaf_der.as_slice());
        let leaf = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        leaf.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .expect("the signature verifies with the certificate");
        assert!(!format!("{cert:?}").contains("PRIVATE"));
        let (now, iat) = (time::OffsetDateTime::now_utc().unix_timestamp(), claims["iat"].as_i64().unwrap());
        assert!((now - iat).abs() <= 5 && claims["nbf"] == claims["iat"], "{claims}");
        assert_eq!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap().get_version_num(), 4);
    }

    #[test]
    fn a_pkcs1_key_signs_as_well() {
        let cert = ClientCertificate::load(&fixture("client-certificate-pkcs1-chain.pem"), false).unwrap();
        let jwt = cert.assertion("c", "aud").unwrap();
        let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
        let leaf_der = der("cert.pem");
        let leaf_der = CertificateDer::from(leaf_der.as_slice());
        let leaf = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        leaf.verify_signature(
            webpki::ring::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("signed by the PKCS#1 key");
    }

    #[test]
    fn finds_the_leaf_in_a_chain_in_any_order_and_sends_it_first() {
        let cert = ClientCertificate::load(&fixture("client-certificate-pkcs1-chain.pem"), true).unwrap();
        let jwt = cert.assertion("c", "aud").unwrap();
        let header = decode(jwt.expose_secret().split('.').next().unwrap());
        let x5c = header["x5c"].as_array().unwrap();
        assert_eq!(x5c.len(), 2);
        assert_eq!(x5c[0], STANDARD.encode(der("cert.pem")));
        assert_eq!(x5c[1], STANDARD.encode(der("cert2.pem")));
    }

    #[test]
    fn rejects_what_entra_cannot_use() {
        let err = |name: &str| ClientCertificate::load(&fixture(name), false).unwrap_err().to_string();
        assert!(err("ec-certificate.pem").contains("not RSA"), "{}", err("ec-certificate.pem"));
        assert!(err("cert.pem").contains("no unencrypted"), "{}", err("cert.pem"));
        assert!(err("missing.pem").contains("cannot read"));
        let mismatched =
            [std::fs::read(fixture("rotated-certificate.pem")).unwrap(), std::fs::read(fixture("cert.pem")).unwrap()];
        let key_only: Vec<u8> = String::from_utf8(mismatched[0].clone())
            .unwrap()
            .split("-----BEGIN CERTIFICATE-----")
            .next()
            .unwrap()
            .bytes()
            .chain(mismatched[1].iter().copied())
            .collect();
        let e = ClientCertificate::from_pem(&key_only, false).unwrap_err().to_string();
        assert!(e.contains("matches the private key"), "{e}");
    }
}
