//! meeting-service: a gRPC gateway that creates Microsoft Teams online meetings through
//! Microsoft Graph, so that services in any language need no Graph SDK, Azure credentials or
//! retry logic of their own.
//!
//! # Layout (in the order a request flows)
//! - [`grpc`]: the gRPC boundary (generated code, the call's plumbing, proto <-> domain, the
//!   error -> status table)
//! - [`access`]: authenticate the caller ([`auth`]: mTLS, JWT, the caller policy), authorize it
//!   for the tenant and organizer, resolve the tenant ([`tenants`])
//! - [`domain`]: validated identifiers, the meeting model, validation
//! - [`pipeline`]: admit ([`limits`]) -> token -> Graph, with the retry rules
//! - [`identity`]: credentials, the token endpoint client, the per-tenant token cache
//! - [`graph`]: Graph's URLs, headers and JSON; one HTTP exchange
//! - [`error`]: the crate error every outcome is mapped from
//! - [`config`]: the configuration schema (no I/O); [`server`] turns it into what serves
//! - [`telemetry`], [`cli`]: start-up and serving
//! - [`reload`]: credential and configuration rotation without restart
//! - [`connections`]: the cap on open server connections
//! - [`tls`]: TLS and mTLS for the server, reloaded when the certificates change
//! - `dev` (the default `dev` feature): `--dev`, the service with the emulator of Graph and the
//!   identity platform (the `meeting-emulator` crate, which shares no code with this one)

#![forbid(unsafe_code)]

pub mod access;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
#[cfg(feature = "dev")]
pub mod dev;
pub mod domain;
pub mod error;
pub mod graph;
pub mod grpc;
pub mod identity;
mod jwt;
pub mod limits;
pub mod pipeline;
pub mod reload;
pub mod server;
pub mod telemetry;
pub mod tenants;
pub mod tls;

#[cfg(test)]
mod test_corpus;
