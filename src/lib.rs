//! meeting-service: a gRPC gateway that creates Microsoft Teams online meetings through
//! Microsoft Graph, so that services in any language need no Graph SDK, Azure credentials or
//! retry logic of their own.
//!
//! # Layout (in the order a request flows)
//! - [`auth`]: caller identity (mTLS, JWT) and the caller policy
//! - [`grpc`]: the gRPC boundary (generated code, proto <-> domain, the error -> status table)
//! - [`domain`]: validated identifiers, the meeting model, validation
//! - [`pipeline`]: authorize -> admit ([`limits`]) -> token -> Graph, with the retry rules
//! - [`identity`]: credentials, the token endpoint client, the per-tenant token cache
//! - [`graph`]: Graph's URLs, headers and JSON; one HTTP exchange
//! - [`error`]: the crate error every outcome is mapped from
//! - [`config`], [`telemetry`], [`server`], [`cli`], [`dev`]: start-up and serving
//! - [`reload`]: credential and configuration rotation without restart
//! - [`connections`]: the cap on open server connections
//! - [`tls`]: TLS and mTLS for the server, reloaded when the certificates change
//! - [`emulator`]: the Graph and identity-platform emulator for dev mode and tests

#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod dev;
pub mod domain;
pub mod emulator;
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
pub mod tls;

#[cfg(test)]
mod test_corpus;
