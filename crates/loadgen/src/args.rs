//! The command line (`cargo bench --bench loadgen -- --help`) and the knobs it sets: the full
//! run's defaults, the smoke run's, then the flags.

use std::{path::PathBuf, time::Duration};

use clap::Parser;
use serde::Serialize;

#[derive(Parser, Debug, Clone)]
#[command(
    about = "meeting-service load benchmark against the physical limit (see BENCHMARKS.md)",
    after_help = "Relative paths are taken from the workspace root."
)]
pub(crate) struct Args {
    /// Comma-separated: all, smoke, or any of cold-start, max, rate, rate-50ms, rate-200ms,
    /// get-max, get-rate, update-max, update-rate, held, tenants, rotation, telemetry.
    #[arg(long, default_value = "all")]
    pub(crate) scenario: String,
    /// Measured time of each load scenario (e.g. 10s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Load before measuring, each scenario (connections, pools and caches warm up).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) warmup: Option<Duration>,
    /// Stop each closed-loop scenario after this many measured requests instead of `duration`.
    #[arg(long)]
    pub(crate) requests: Option<u64>,
    /// Closed-loop concurrency of the maximum-throughput scenarios (`max`, `get-max`,
    /// `update-max`, `tenants`).
    #[arg(long)]
    pub(crate) concurrency: Option<usize>,
    /// HTTP/2 connections from the generator to the service (every scenario but `held`).
    #[arg(long)]
    pub(crate) connections: Option<usize>,
    /// Requests per second of the fixed-rate scenarios (`rate`, `rate-50ms`, `rate-200ms`,
    /// `get-rate`, `update-rate`, `rotation`).
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Concurrent in-flight Creates of the `held` scenario.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) held: usize,
    /// HTTP/2 connections from the generator to the service in the `held` scenario.
    #[arg(long, default_value_t = 16)]
    pub(crate) held_connections: usize,
    /// Upstream (Graph) latency of the `held` scenario, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub(crate) held_latency_ms: u64,
    /// Tenants of the `tenants` scenario (each its own [[tenants]] entry and emulated tenant).
    #[arg(long)]
    pub(crate) tenants: Option<usize>,
    /// Service spawns measured by `cold-start`.
    #[arg(long)]
    pub(crate) cold_starts: Option<usize>,
    /// Token lifetime the emulator issues in the `rotation` scenario.
    #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
    pub(crate) rotation_lifetime: Duration,
    /// Length of the `rotation` scenario.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub(crate) rotation_duration: Duration,
    /// The service's `log.filter` (default: the service's own default, `info`).
    #[arg(long)]
    pub(crate) log_filter: Option<String>,
    /// Extra environment of the service process, KEY=VALUE (repeatable), e.g.
    /// `MEETING_SERVICE__LOG__FILTER=warn` or `LD_PRELOAD=...` for experiments.
    #[arg(long = "service-env", value_name = "KEY=VALUE")]
    pub(crate) service_env: Vec<String>,
    /// Keep the service's stdout/stderr (its logs) in this directory instead of discarding stdout.
    #[arg(long)]
    pub(crate) service_logs: Option<PathBuf>,
    /// The service binary (default: this workspace's, built by cargo at the start of the run in
    /// the benchmark's profile).
    #[arg(long)]
    pub(crate) service_bin: Option<PathBuf>,
    /// Where the JSON report goes.
    #[arg(long, default_value = "target/bench/loadgen.json")]
    pub(crate) out: PathBuf,
    /// Before each scenario, wait at most this long for the machine to be quiet (other processes
    /// under 10% of the cores); 0 disables. Default 120s, 0 in the smoke run.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) quiet_wait: Option<Duration>,
    /// What paces the fixed-rate scenarios: `thread` (a thread sleeping until each intended send
    /// time) or `tokio` (a Tokio interval; its 1 ms timer granularity shows as latency).
    #[arg(long, default_value = "thread", value_parser = ["thread", "tokio"])]
    pub(crate) pacer: String,
    /// HTTP version from the service (and the baseline) to the emulated Graph: `2` (cleartext
    /// HTTP/2, `graph.http2_prior_knowledge`: one multiplexed connection, as HTTPS to Graph
    /// negotiates) or `1.1` (one connection per concurrent call).
    #[arg(long, default_value = "2", value_parser = ["2", "1.1"])]
    pub(crate) graph_http: String,
    /// Exit with status 1 when any request failed.
    #[arg(long)]
    pub(crate) fail_on_errors: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub(crate) bench: bool,
}

/// Effective knobs (full run or smoke run, then the command line).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Knobs {
    /// The smoke run: small numbers, no target checks, no settling pauses.
    pub(crate) smoke: bool,
    #[serde(with = "humantime_serde")]
    pub(crate) duration: Duration,
    #[serde(with = "humantime_serde")]
    pub(crate) warmup: Duration,
    pub(crate) requests: Option<u64>,
    pub(crate) concurrency: usize,
    pub(crate) connections: usize,
    pub(crate) rate: f64,
    pub(crate) held: usize,
    pub(crate) held_connections: usize,
    pub(crate) held_latency_ms: u64,
    pub(crate) tenants: usize,
    pub(crate) cold_starts: usize,
    #[serde(with = "humantime_serde")]
    pub(crate) quiet_wait: Duration,
    /// What paces fixed-rate scenarios: `thread` (a thread sleeping to each send time) or
    /// `tokio` (a Tokio interval, 1 ms granularity).
    pub(crate) pacer: String,
    /// `2` (h2c) or `1.1`: the service's and the baseline's HTTP to the emulated Graph.
    pub(crate) graph_http: String,
}

impl Knobs {
    pub(crate) fn new(args: &Args, smoke: bool) -> Knobs {
        let (duration, warmup, concurrency, connections, rate, tenants, cold_starts) = if smoke {
            (Duration::from_secs(1), Duration::from_millis(300), 8, 2, 100.0, 3, 2)
        } else {
            (Duration::from_secs(10), Duration::from_secs(3), 256, 4, 1000.0, 100, 5)
        };
        Knobs {
            smoke,
            duration: args.duration.unwrap_or(duration),
            warmup: args.warmup.unwrap_or(warmup),
            requests: args.requests,
            concurrency: args.concurrency.unwrap_or(concurrency).max(1),
            connections: args.connections.unwrap_or(connections).max(1),
            rate: args.rate.unwrap_or(rate).max(1.0),
            held: args.held.max(1),
            held_connections: args.held_connections.max(1),
            held_latency_ms: args.held_latency_ms,
            tenants: args.tenants.unwrap_or(tenants).max(1),
            cold_starts: args.cold_starts.unwrap_or(cold_starts).max(1),
            quiet_wait: args.quiet_wait.unwrap_or(if smoke { Duration::ZERO } else { Duration::from_secs(120) }),
            pacer: args.pacer.clone(),
            graph_http: args.graph_http.clone(),
        }
    }

    pub(crate) fn graph_http2(&self) -> bool {
        self.graph_http == "2"
    }
}

/// Every scenario, in the order a full run (`--scenario all`) runs them.
const SCENARIOS: [&str; 13] = [
    "cold-start",
    "max",
    "rate",
    "rate-50ms",
    "rate-200ms",
    "get-max",
    "get-rate",
    "update-max",
    "update-rate",
    "held",
    "tenants",
    "rotation",
    "telemetry",
];
/// The smoke run's scenarios (CI: seconds, small numbers).
const SMOKE: [&str; 7] = ["cold-start", "max", "rate", "get-max", "update-max", "tenants", "telemetry"];

/// The scenarios `--scenario` selects (`all`, `smoke`, or a comma-separated list), and whether
/// this is the smoke run; `Err` names an unknown scenario.
pub(crate) fn scenarios(arg: &str) -> Result<(Vec<String>, bool), String> {
    let wanted: Vec<&str> = arg.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let smoke = wanted.contains(&"smoke");
    let wanted = if smoke {
        SMOKE.to_vec()
    } else if wanted.contains(&"all") {
        SCENARIOS.to_vec()
    } else {
        wanted
    };
    match wanted.iter().find(|s| !SCENARIOS.contains(s)) {
        Some(unknown) => Err(format!("unknown scenario {unknown:?}; known: all, smoke, {}", SCENARIOS.join(", "))),
        None => Ok((wanted.into_iter().map(String::from).collect(), smoke)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_select_the_run() {
        let selected = |arg: &str| scenarios(arg).map(|(names, smoke)| (names.join(","), smoke));
        assert_eq!(selected("all"), Ok((SCENARIOS.join(","), false)));
        assert_eq!(selected("smoke"), Ok(("cold-start,max,rate,get-max,update-max,tenants,telemetry".into(), true)));
        assert_eq!(selected("get-rate,update-max"), Ok(("get-rate,update-max".into(), false)));
        assert_eq!(selected(" held, max ,"), Ok(("held,max".into(), false)));
        assert_eq!(selected("max,all"), Ok((SCENARIOS.join(","), false)));
        let unknown = selected("max,hold").unwrap_err();
        assert!(unknown.starts_with("unknown scenario \"hold\"; known: all, smoke, cold-start"), "{unknown}");
    }

    #[test]
    fn the_smoke_run_is_small_and_flags_override_either_run() {
        let parse = |flags: &[&str]| Args::try_parse_from([&["loadgen"], flags].concat()).expect("valid flags");
        let smoke = Knobs::new(&parse(&["--scenario", "smoke"]), true);
        assert_eq!((smoke.duration, smoke.concurrency, smoke.tenants), (Duration::from_secs(1), 8, 3));
        assert_eq!(smoke.quiet_wait, Duration::ZERO, "the smoke run does not wait for a quiet machine");
        let full = Knobs::new(&parse(&[]), false);
        assert_eq!((full.duration, full.concurrency, full.tenants), (Duration::from_secs(10), 256, 100));
        assert_eq!((full.held, full.held_latency_ms, full.quiet_wait), (10_000, 200, Duration::from_secs(120)));
        assert!(full.graph_http2());

        let tuned =
            Knobs::new(&parse(&["--duration", "3s", "--concurrency", "0", "--graph-http", "1.1", "--bench"]), true);
        assert_eq!((tuned.duration, tuned.concurrency), (Duration::from_secs(3), 1), "concurrency is at least 1");
        assert!(!tuned.graph_http2());
        assert!(Args::try_parse_from(["loadgen", "--pacer", "sleep"]).is_err(), "pacer is thread or tokio");
    }
}
