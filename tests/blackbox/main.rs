//! Black-box tests: the real server on a random port, the emulator of Graph and the identity
//! platform behind it, and the generated tonic client in front, as a caller would use it.

mod helpers;

mod auth;
mod calendar;
mod create;
mod credentials;
mod errors;
mod hostile;
mod lifecycle;
mod manage;
mod telemetry;
mod tokens;
mod upstream_bounds;
mod validation;
