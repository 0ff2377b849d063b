//! Injected faults: what they are, their builders, and their JSON form on the control endpoint.

use std::time::Duration;

use serde::Deserialize;

use super::Host;

/// A fault queued on one emulated host. Faults are kept in push order; a request takes the first
/// queued fault of its host, which applies to `times` requests in all, then is dropped. Graph
/// faults are taken only by requests whose token is valid; login faults by every token request.
///
/// Builders: `Fault::graph_status(429).retry_after("2.128").times(2)`,
/// `Fault::graph_status(500).after_processing()`, `Fault::graph_delay(d)`, `Fault::login_status(503)`,
/// `Fault::login_delay(d)`, `Fault::aadsts("invalid_client", 7000215, 401)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub target: Host,
    pub kind: FaultKind,
    /// How many matching requests this fault applies to (0: none).
    pub times: usize,
    /// Process the request for real (create the meeting, issue the token), then answer with the
    /// fault: "the request was processed but the response was an error or got lost".
    pub after_processing: bool,
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Graph: Graph's error body for that status. Login: an AADSTS90033 `temporarily_unavailable`
    /// body with that status. `Retry-After` is sent verbatim when given.
    Status { status: u16, retry_after: Option<String> },
    /// Login: that AADSTS error. On the Graph host it acts as `Status` with the same status.
    Aadsts { error: String, code: u32, status: u16 },
    /// Respond normally, but only after this delay.
    Delay(Duration),
}

impl Fault {
    /// A fault on `target` that applies once, before processing.
    pub fn new(target: Host, kind: FaultKind) -> Fault {
        Fault { target, kind, times: 1, after_processing: false }
    }

    /// Graph answers `status` with its documented error body.
    pub fn graph_status(status: u16) -> Fault {
        Fault::new(Host::Graph, FaultKind::Status { status, retry_after: None })
    }

    /// The token endpoint answers `status` with a `temporarily_unavailable` body.
    pub fn login_status(status: u16) -> Fault {
        Fault::new(Host::Login, FaultKind::Status { status, retry_after: None })
    }

    /// The token endpoint answers with the AADSTS error `error`/`code` and HTTP `status`.
    pub fn aadsts(error: impl Into<String>, code: u32, status: u16) -> Fault {
        Fault::new(Host::Login, FaultKind::Aadsts { error: error.into(), code, status })
    }

    /// Graph answers normally after `delay`.
    pub fn graph_delay(delay: Duration) -> Fault {
        Fault::new(Host::Graph, FaultKind::Delay(delay))
    }

    /// The token endpoint answers normally after `delay`.
    pub fn login_delay(delay: Duration) -> Fault {
        Fault::new(Host::Login, FaultKind::Delay(delay))
    }

    /// The `Retry-After` value of a `Status` fault, sent verbatim (`"2.128"`, an HTTP date).
    pub fn retry_after(mut self, value: impl Into<String>) -> Fault {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(value.into());
        }
        self
    }

    /// Applies the fault to the next `times` matching requests.
    pub fn times(self, times: usize) -> Fault {
        Fault { times, ..self }
    }

    /// Answers with the fault only after processing the request (see the field).
    pub fn after_processing(self) -> Fault {
        Fault { after_processing: true, ..self }
    }

    /// Parses the body of `POST /_emulator/faults` (see the module docs).
    pub(crate) fn from_control_json(body: &str) -> Result<Fault, String> {
        let c: ControlFault = serde_json::from_str(body).map_err(|e| e.to_string())?;
        let target = match c.target.as_deref() {
            None | Some("graph") => Host::Graph,
            Some("login") => Host::Login,
            Some(other) => return Err(format!("unknown target '{other}' (graph or login)")),
        };
        let valid = |s: u16| if (100..=599).contains(&s) { Ok(s) } else { Err(format!("invalid HTTP status {s}")) };
        let kind = match (c.status, c.aadsts, c.delay_ms) {
            (Some(status), None, None) => FaultKind::Status { status: valid(status)?, retry_after: c.retry_after },
            (None, Some(a), None) => FaultKind::Aadsts { error: a.error, code: a.code, status: valid(a.status)? },
            (None, None, Some(ms)) => FaultKind::Delay(Duration::from_millis(ms)),
            _ => return Err("give exactly one of status, aadsts, delayMs".to_owned()),
        };
        Ok(Fault { target, kind, times: c.times.unwrap_or(1), after_processing: c.after_processing })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ControlFault {
    target: Option<String>,
    status: Option<u16>,
    retry_after: Option<String>,
    aadsts: Option<ControlAadsts>,
    delay_ms: Option<u64>,
    times: Option<usize>,
    #[serde(default)]
    after_processing: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlAadsts {
    error: String,
    code: u32,
    status: u16,
}
