//! The OAuth2 client-credentials request to `{authority}/{tenant}/oauth2/v2.0/token`, and the
//! reading of Entra's answers (token responses and AADSTS error bodies).

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{credential::TenantCredential, error::IdentityError};

/// Talks to the identity platform's token endpoints.
#[derive(Clone, Debug)]
pub struct TokenClient {
    http: reqwest::Client,
}

/// A token as the identity platform issued it.
pub struct IssuedToken {
    pub access_token: SecretString,
    pub expires_in: Duration,
    pub refresh_in: Option<Duration>,
}

impl TokenClient {
    pub fn new(http: reqwest::Client) -> Self {
        TokenClient { http }
    }

    /// One token request, bounded by `timeout`. No retries here: the cache decides.
    pub async fn request(
        &self,
        credential: &TenantCredential,
        timeout: Duration,
    ) -> Result<IssuedToken, IdentityError> {
        let (proof_field, proof) = credential.proof().await?;
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", credential.client_id.as_str()),
            ("scope", credential.scope.as_str()),
            (proof_field, proof.expose_secret()),
        ];
        if proof_field == "client_assertion" {
            form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        }
        let response =
            self.http.post(credential.token_url.clone()).form(&form).timeout(timeout).send().await.map_err(|e| {
                if e.is_timeout() {
                    IdentityError::DeadlineExceeded
                } else {
                    IdentityError::Unavailable { detail: describe_transport_error(&e), retry_after: None }
                }
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::graph::parse_retry_after);
        let body = read_bounded(response).await?;
        interpret(status, retry_after, &body)
    }
}

/// A token response is a few KiB (an access token with many roles stays under 16 KiB); a
/// larger one is not held, whatever it claims to be.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// Entra issues tokens for at most a day (configurable token lifetimes stop there); a larger
/// `expires_in` is nonsense and is read as a day, so no instant computed from it can overflow.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, IdentityError> {
    let too_large = |size: String| IdentityError::InvalidResponse {
        detail: format!("the token response is too large ({size}; at most {MAX_TOKEN_RESPONSE_BYTES} bytes)"),
    };
    if let Some(length) = response.content_length().filter(|n| *n > MAX_TOKEN_RESPONSE_BYTES as u64) {
        return Err(too_large(format!("{length} bytes")));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_TOKEN_RESPONSE_BYTES => {
                return Err(too_large("more than that".to_owned()))
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(IdentityError::DeadlineExceeded),
            Err(e) => {
                return Err(IdentityError::Unavailable { detail: describe_transport_error(&e), retry_after: None })
            }
        }
    }
}

fn describe_transport_error(e: &reqwest::Error) -> String {
    // reqwest's Display includes the URL, which holds no secret (the tenant id is not one).
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<NumberOrString>,
    refresh_in: Option<NumberOrString>,
}

/// Entra's v2.0 endpoint sends numbers; older endpoints and some proxies send strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    String(String),
}

impl NumberOrString {
    /// The value as a lifetime, at most `MAX_TOKEN_LIFETIME`.
    fn seconds(&self) -> Option<Duration> {
        let seconds = match self {
            NumberOrString::Number(n) => *n,
            NumberOrString::String(s) => s.trim().parse().ok()?,
        };
        Some(Duration::from_secs(seconds).min(MAX_TOKEN_LIFETIME))
    }
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

fn interpret(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Result<IssuedToken, IdentityError> {
    if status.is_success() {
        let parsed: TokenResponse = serde_json::from_slice(body)
            .map_err(|e| IdentityError::InvalidResponse { detail: format!("not a token response: {e}") })?;
        let access_token = parsed
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| IdentityError::InvalidResponse { detail: "no access_token".into() })?;
        let expires_in = parsed
            .expires_in
            .and_then(|e| e.seconds())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| IdentityError::InvalidResponse { detail: "no valid expires_in".into() })?;
        return Ok(IssuedToken {
            access_token: SecretString::from(access_token),
            expires_in,
            refresh_in: parsed.refresh_in.and_then(|r| r.seconds()),
        });
    }
    let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(err) if !transient && err.error != "temporarily_unavailable" => Err(IdentityError::Rejected {
            status: status.as_u16(),
            description: first_line(&err.error_description),
            error: err.error,
            codes: err.error_codes,
            trace_id: err.trace_id,
            correlation_id: err.correlation_id,
        }),
        Ok(err) => Err(IdentityError::Unavailable {
            detail: format!("HTTP {}: {}: {}", status.as_u16(), err.error, first_line(&err.error_description)),
            retry_after,
        }),
        Err(_) if transient => {
            Err(IdentityError::Unavailable { detail: format!("HTTP {}", status.as_u16()), retry_after })
        }
        Err(_) => Err(IdentityError::Rejected {
            status: status.as_u16(),
            error: format!("http_{}", status.as_u16()),
            description: format!("HTTP {} without an OAuth error body (is the authority host right?)", status.as_u16()),
            codes: Vec::new(),
            trace_id: None,
            correlation_id: None,
        }),
    }
}

/// Entra appends "\r\nTrace ID: ..." lines to error_description; the first line is the message.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entra_answers() {
        let ok = interpret(
            StatusCode::OK,
            None,
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0"}"#,
        )
        .unwrap();
        assert_eq!(ok.access_token.expose_secret(), "eyJ0");
        assert_eq!(ok.expires_in, Duration::from_secs(3599));
        assert_eq!(ok.refresh_in, None);

        let with_refresh = interpret(
            StatusCode::OK,
            None,
            br#"{"token_type":"Bearer","expires_in":"86400","refresh_in":43200,"access_token":"t"}"#,
        )
        .unwrap();
        assert_eq!(with_refresh.expires_in, Duration::from_secs(86400));
        assert_eq!(with_refresh.refresh_in, Some(Duration::from_secs(43200)));
        let absurd = interpret(
            StatusCode::OK,
            None,
            br#"{"token_type":"Bearer","expires_in":18446744073709551615,"refresh_in":"99999999999","access_token":"t"}"#,
        )
        .unwrap();
        assert_eq!(absurd.expires_in, MAX_TOKEN_LIFETIME);
        assert_eq!(absurd.refresh_in, Some(MAX_TOKEN_LIFETIME));

        assert!(matches!(
            interpret(StatusCode::OK, None, br#"{"token_type":"Bearer","access_token":"t"}"#),
            Err(IdentityError::InvalidResponse { .. })
        ));
        assert!(matches!(interpret(StatusCode::OK, None, b"<html>"), Err(IdentityError::InvalidResponse { .. })));

        let rejected = interpret(
            StatusCode::UNAUTHORIZED,
            None,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 2025-04-04 21:10:04Z","error_codes":[7000215],"timestamp":"2025-04-04 21:10:04Z","trace_id":"1","correlation_id":"2","error_uri":"https://login.microsoftonline.com/error?code=7000215"}"#,
        );
        match rejected {
            Err(IdentityError::Rejected { error, description, codes, .. }) => {
                assert_eq!(error, "invalid_client");
                assert_eq!(description, "AADSTS7000215: Invalid client secret provided.");
                assert_eq!(codes, vec![7000215]);
            }
            _ => panic!("expected Rejected"),
        }

        let busy = interpret(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(Duration::from_secs(2)),
            br#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: loop","error_codes":[50196]}"#,
        );
        assert!(matches!(busy, Err(IdentityError::Unavailable { retry_after: Some(_), .. })));
        assert!(matches!(interpret(StatusCode::BAD_GATEWAY, None, b""), Err(IdentityError::Unavailable { .. })));
        assert!(matches!(interpret(StatusCode::NOT_FOUND, None, b"<html/>"), Err(IdentityError::Rejected { .. })));
    }

    mod properties {
        use proptest::prelude::*;
        use reqwest::StatusCode;

        use super::*;
        use crate::test_corpus::{bodies, mutate, TOKEN_RESPONSES};

        #[test]
        fn the_documented_answers_are_read() {
            let seeds = bodies(TOKEN_RESPONSES);
            assert!(seeds.len() >= 5, "{} samples", seeds.len());
            for (status, body) in &seeds {
                let status = StatusCode::from_u16(*status).unwrap();
                match interpret(status, None, body) {
                    Ok(token) => assert!(status.is_success() && !token.expires_in.is_zero()),
                    Err(IdentityError::Rejected { error, .. }) => assert!(!error.is_empty()),
                    Err(IdentityError::Unavailable { .. }) => assert!(status.as_u16() >= 429),
                    Err(e) => panic!("HTTP {status}: {e:?}"),
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

            /// Token and AADSTS error bodies, mutated, under any status: a token only from a
            /// 2xx that names its lifetime, never a panic.
            #[test]
            fn mutated_token_answers_are_judged_without_panicking(
                seed in 0..bodies(TOKEN_RESPONSES).len(),
                status in prop_oneof![Just(200u16), 400u16..600],
                position in any::<prop::sample::Index>(),
                byte in any::<u8>(),
                cut in any::<bool>(),
            ) {
                let (_, seed) = &bodies(TOKEN_RESPONSES)[seed];
                let body = mutate(seed, position, byte, cut);
                let status = StatusCode::from_u16(status).unwrap();
                if let Ok(token) = interpret(status, None, &body) {
                    prop_assert!(status.is_success());
                    prop_assert!(!token.expires_in.is_zero());
                }
            }
        }
    }
}
