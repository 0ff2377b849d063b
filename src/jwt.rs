//! jsonwebtoken's cryptography on ring, the provider rustls already uses: RS256 signatures (the
//! client assertions of certificate credentials) and RS256 and ES256 verification (callers'
//! bearer tokens). Any other algorithm is refused.
//!
//! Since 10.0 jsonwebtoken leaves the choice of cryptography to the application. Its own
//! backends are RustCrypto (a second crypto stack beside ring: rsa, p256, p384, ed25519-dalek,
//! sha2, hmac, ...) and aws-lc-rs (a C build); 9.x, still on ring, has CVE-2026-25537 (an `nbf`
//! or `exp` of the wrong JSON type was skipped, not refused). Its `CryptoProvider` takes ring
//! through the few functions below.

use jsonwebtoken::{
    crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils},
    errors::{Error, ErrorKind},
    jwk::ThumbprintHash,
    signature::{self, Signer, Verifier},
    Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey,
};
use ring::{
    digest,
    rand::SystemRandom,
    signature::{
        RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
        RSA_PKCS1_SHA256,
    },
};

static RING: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        // Deriving public keys is for building JWKs, which this service doesn't do.
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        compute_digest,
    },
};

/// Makes ring jsonwebtoken's cryptography for this process. Idempotent; called where JWTs are
/// made or checked, before the first one.
pub(crate) fn install() {
    // Only this module installs a provider, and always the same one.
    let _ = RING.install_default();
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if *algorithm != Algorithm::RS256 || key.family() != AlgorithmFamily::Rsa {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    // The key's DER is PKCS#8 or PKCS#1, whichever the credential file held.
    let der = key.as_bytes();
    let pair = RsaKeyPair::from_pkcs8(der)
        .or_else(|_| RsaKeyPair::from_der(der))
        .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
    Ok(Box::new(Rs256Signer(pair)))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    match (algorithm, key.family()) {
        (Algorithm::RS256, AlgorithmFamily::Rsa) | (Algorithm::ES256, AlgorithmFamily::Ec) => {
            Ok(Box::new(RingVerifier { algorithm: *algorithm, key: key.clone() }))
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

struct Rs256Signer(RsaKeyPair);

impl Signer<Vec<u8>> for Rs256Signer {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
            .map_err(|_| signature::Error::new())?;
        Ok(signature)
    }
}

impl JwtSigner for Rs256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

struct RingVerifier {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let verified = match (self.algorithm, self.key.kind()) {
            (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
                RsaPublicKeyComponents { n, e }.verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
            }
            (Algorithm::RS256, DecodingKeyKind::SecretOrDer(der)) => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).verify(message, signature)
            }
            // An uncompressed P-256 point (0x04 || x || y), as jsonwebtoken makes it from a JWK.
            (Algorithm::ES256, DecodingKeyKind::SecretOrDer(point)) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, signature)
            }
            _ => return Err(signature::Error::new()),
        };
        verified.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Header, Validation};
    use rustls_pki_types::{pem::PemObject, PrivateKeyDer};

    use super::*;

    fn fixture_key() -> Vec<u8> {
        let path = format!("{}/tests/fixtures/pki/jwt-signing.key", env!("CARGO_MANIFEST_DIR"));
        PrivateKeyDer::from_pem_file(path).unwrap().secret_der().to_vec()
    }

    #[test]
    fn rs256_signs_what_rs256_verifies() {
        install();
        let der = fixture_key();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &serde_json::json!({"exp": u32::MAX}),
            &EncodingKey::from_rsa_der(&der),
        )
        .unwrap();
        let public: RsaPublicKeyComponents<Vec<u8>> = RsaKeyPair::from_pkcs8(&der).unwrap().public().into();
        let key = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
        let verified = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &Validation::new(Algorithm::RS256));
        assert!(verified.is_ok(), "{verified:?}");
    }

    #[test]
    fn nothing_but_rs256_signs_nor_rs256_and_es256_verify() {
        let rsa = EncodingKey::from_rsa_der(&fixture_key());
        let secret = EncodingKey::from_secret(b"secret");
        for (algorithm, key) in [(Algorithm::RS384, &rsa), (Algorithm::PS256, &rsa), (Algorithm::HS256, &secret)] {
            assert!(signer(&algorithm, key).is_err(), "{algorithm:?}");
        }
        assert!(signer(&Algorithm::RS256, &EncodingKey::from_rsa_der(b"not a key")).is_err());
        let rsa = DecodingKey::from_rsa_raw_components(&[1], &[1]);
        let ec = DecodingKey::from_ec_components("AA", "AA").unwrap();
        let secret = DecodingKey::from_secret(b"secret");
        for (algorithm, key) in [
            (Algorithm::HS256, &secret),
            (Algorithm::RS256, &ec),
            (Algorithm::ES256, &rsa),
            (Algorithm::PS256, &rsa),
            (Algorithm::ES384, &ec),
        ] {
            assert!(verifier(&algorithm, key).is_err(), "{algorithm:?}");
        }
        assert!(verifier(&Algorithm::RS256, &rsa).is_ok() && verifier(&Algorithm::ES256, &ec).is_ok());
        assert_eq!(
            compute_digest(b"abc", ThumbprintHash::SHA256).unwrap(),
            digest::digest(&digest::SHA256, b"abc").as_ref()
        );
    }
}
