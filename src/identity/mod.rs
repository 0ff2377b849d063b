//! App-only access tokens from the Microsoft identity platform (OAuth2 client credentials):
//! the tenants' credentials, the token endpoint client, and the per-tenant token cache.
//!
//! Owns every secret on its way to the wire: client secrets are read into `SecretString` and
//! tokens are handed out as `AccessToken`, whose `Debug` prints no value. Knows nothing of
//! Graph's meeting API or of gRPC.

mod cache;
mod certificate;
mod client;
mod credential;
mod error;

pub use cache::{AccessToken, TokenPolicy, TokenProvider, TokenSource};
pub use certificate::{CertificateError, ClientCertificate};
pub use client::TokenClient;
pub use credential::{CredentialSource, TenantCredential};
pub use error::IdentityError;
