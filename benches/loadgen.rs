//! The load benchmark of issue 7: meeting-service against the physical limit, on loopback.
//!
//!     cargo bench --bench loadgen -- --scenario all        # the full run (BENCHMARKS.md)
//!     cargo bench --bench loadgen -- --scenario smoke      # seconds, small numbers (CI)
//!     cargo bench --bench loadgen -- --help
//!
//! This process hosts the Graph and identity-platform emulator (in-process, with a configurable
//! response latency) and the load generator (tonic + hdrhistogram); they share its CPU. Each
//! service scenario spawns the release `meeting-service` binary as a child process, so that its
//! CPU seconds and peak RSS are read from `/proc/<pid>`. Each baseline scenario sends the request
//! the service sends to Graph (same path, JSON body and headers, captured from the service once)
//! straight to the emulator with a pooled reqwest client: the physical limit of this machine
//! for the same upstream work without the gRPC hop.
//!
//! Latency is measured per request: closed-loop scenarios from the send to the reply; open-loop
//! (fixed-rate) scenarios from the intended send time, so that a stall cannot hide latency
//! (no coordinated omission).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use meeting_emulator::{EmulatedTenant, Emulator, EmulatorConfig, Host, DEV_USER_ID};
use meeting_otlp_receiver::{Counts, Keep, OtlpReceiver, Protocol};
use meeting_service::{
    config::{LogFormat, OtlpProtocol, Settings, TenantSettings},
    dev::settings_for,
    grpc::pb::{self, meeting_service_client::MeetingServiceClient},
};
use serde::Serialize;
use tokio::{task::JoinSet, time::Instant};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest};

/// Latencies are recorded in microseconds, up to a minute, with 3 significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;
const SHARDS: usize = 64;
/// Descriptors this process keeps for itself besides the generator's and the emulator's sockets.
const FD_RESERVE: u64 = 512;

#[derive(Parser, Debug, Clone)]
#[command(about = "meeting-service load benchmark against the physical limit (see BENCHMARKS.md)")]
struct Args {
    /// Comma-separated: all, smoke, or any of cold-start, max, rate, rate-50ms, rate-200ms,
    /// held, tenants, rotation.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// Measured time of each load scenario (e.g. 10s).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Load before measuring, each scenario (connections, pools and caches warm up).
    #[arg(long, value_parser = humantime::parse_duration)]
    warmup: Option<Duration>,
    /// Stop each closed-loop scenario after this many measured requests instead of `duration`.
    #[arg(long)]
    requests: Option<u64>,
    /// Closed-loop concurrency of the maximum-throughput scenarios (`max`, `tenants`).
    #[arg(long)]
    concurrency: Option<usize>,
    /// HTTP/2 connections from the generator to the service (`max`, `rate*`, `tenants`).
    #[arg(long)]
    connections: Option<usize>,
    /// Requests per second of the fixed-rate scenarios (`rate`, `rate-50ms`, `rate-200ms`, `rotation`).
    #[arg(long)]
    rate: Option<f64>,
    /// Concurrent in-flight Creates of the `held` scenario.
    #[arg(long, default_value_t = 10_000)]
    held: usize,
    /// HTTP/2 connections from the generator to the service in the `held` scenario.
    #[arg(long, default_value_t = 16)]
    held_connections: usize,
    /// Upstream (Graph) latency of the `held` scenario, in milliseconds.
    #[arg(long, default_value_t = 200)]
    held_latency_ms: u64,
    /// Tenants of the `tenants` scenario (each its own [[tenants]] entry and emulated tenant).
    #[arg(long)]
    tenants: Option<usize>,
    /// Service spawns measured by `cold-start`.
    #[arg(long)]
    cold_starts: Option<usize>,
    /// Token lifetime the emulator issues in the `rotation` scenario.
    #[arg(long, default_value = "6s", value_parser = humantime::parse_duration)]
    rotation_lifetime: Duration,
    /// Length of the `rotation` scenario.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    rotation_duration: Duration,
    /// The service's `log.filter` (default: the service's own default, `info`).
    #[arg(long)]
    log_filter: Option<String>,
    /// Extra environment of the service process, KEY=VALUE (repeatable), e.g.
    /// `MEETING_SERVICE__LOG__FILTER=warn` or `LD_PRELOAD=...` for experiments.
    #[arg(long = "service-env", value_name = "KEY=VALUE")]
    service_env: Vec<String>,
    /// Keep the service's stdout/stderr (its logs) in this directory instead of discarding stdout.
    #[arg(long)]
    service_logs: Option<PathBuf>,
    /// The service binary (default: the one cargo built with this benchmark).
    #[arg(long)]
    service_bin: Option<PathBuf>,
    /// Where the JSON report goes.
    #[arg(long, default_value = "target/bench/loadgen.json")]
    out: PathBuf,
    /// Before each scenario, wait at most this long for the machine to be quiet (other processes
    /// under 10% of the cores); 0 disables. Default 120s, 0 in the smoke run.
    #[arg(long, value_parser = humantime::parse_duration)]
    quiet_wait: Option<Duration>,
    /// What paces the fixed-rate scenarios: `thread` (a thread sleeping until each intended send
    /// time) or `tokio` (a Tokio interval; its 1 ms timer granularity shows as latency).
    #[arg(long, default_value = "thread", value_parser = ["thread", "tokio"])]
    pacer: String,
    /// HTTP version from the service (and the baseline) to the emulated Graph: `2` (cleartext
    /// HTTP/2, `graph.http2_prior_knowledge`: one multiplexed connection, as HTTPS to Graph
    /// negotiates) or `1.1` (one connection per concurrent call).
    #[arg(long, default_value = "2", value_parser = ["2", "1.1"])]
    graph_http: String,
    /// Exit with status 1 when any request failed.
    #[arg(long)]
    fail_on_errors: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Effective knobs (full run or smoke run, then the command line).
#[derive(Debug, Clone, Serialize)]
struct Knobs {
    /// The smoke run: small numbers, no target checks, no settling pauses.
    smoke: bool,
    #[serde(with = "humantime_serde")]
    duration: Duration,
    #[serde(with = "humantime_serde")]
    warmup: Duration,
    requests: Option<u64>,
    concurrency: usize,
    connections: usize,
    rate: f64,
    held: usize,
    held_connections: usize,
    held_latency_ms: u64,
    tenants: usize,
    cold_starts: usize,
    #[serde(with = "humantime_serde")]
    quiet_wait: Duration,
    /// What paces fixed-rate scenarios: `thread` (a thread sleeping to each send time) or
    /// `tokio` (a Tokio interval, 1 ms granularity).
    pacer: String,
    /// `2` (h2c) or `1.1`: the service's and the baseline's HTTP to the emulated Graph.
    graph_http: String,
}

impl Knobs {
    fn new(args: &Args, smoke: bool) -> Knobs {
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

    fn graph_http2(&self) -> bool {
        self.graph_http == "2"
    }
}

// ---------------------------------------------------------------------------------------------
// Report

#[derive(Debug, Default, Serialize)]
struct Latency {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    mean_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// Figures of the service's child process.
#[derive(Debug, Default, Serialize)]
struct ServiceFigures {
    pid: u32,
    /// From spawn to the first SERVING answer of grpc.health.v1.Health/Check.
    cold_start_ms: f64,
    /// User + system CPU seconds during the measured window.
    cpu_s: f64,
    cpu_s_per_1000: f64,
    /// VmHWM at the end of the scenario (the process lives for one scenario).
    peak_rss_mb: f64,
    /// VmRSS after the load, once idle for 2 s.
    rss_after_load_mb: Option<f64>,
    /// Most open descriptors seen (sampled every 0.5 s): mostly its connections to Graph.
    open_fds_max: usize,
}

#[derive(Debug, Default, Serialize)]
struct TokenCheck {
    tenants: usize,
    /// Token requests the emulator counted during this scenario, summed over its tenants.
    total: usize,
    per_tenant_min: usize,
    per_tenant_max: usize,
    /// What "one per tenant per token lifetime" means for this scenario.
    expected: String,
    ok: bool,
}

#[derive(Debug, Default, Serialize)]
struct ScenarioResult {
    name: String,
    /// `service` (generator -> gRPC -> service -> HTTP -> emulator) or `baseline` (generator -> HTTP -> emulator).
    target: String,
    upstream_latency_ms: u64,
    /// `closed` (N workers, back to back) or `open` (fixed rate, from the intended send time).
    mode: String,
    concurrency: Option<usize>,
    rate: Option<f64>,
    connections: Option<usize>,
    warmup_s: f64,
    duration_s: f64,
    requests_ok: u64,
    requests_per_s: f64,
    latency: Latency,
    /// Open loop only: from the actual send, without the generator's own timer lateness.
    latency_from_send: Option<Latency>,
    errors: BTreeMap<String, u64>,
    errors_total: u64,
    /// Requests outstanding at the generator, sampled every 50 ms of the measured window.
    in_flight_mean: f64,
    in_flight_max: i64,
    /// Share of the machine's cores busy during the window (all processes), and stolen.
    machine_busy_pct: f64,
    machine_steal_pct: f64,
    /// Cores used meanwhile by other processes of the machine (0 on a quiet machine).
    other_processes_cores: f64,
    /// CPU seconds of this process (the generator AND the emulator) per 1,000 measured requests.
    generator_and_emulator_cpu_s_per_1000: f64,
    service: Option<ServiceFigures>,
    tokens: Option<TokenCheck>,
    notes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ColdStart {
    spawns: usize,
    cold_start_ms: Vec<f64>,
    cold_start_median_ms: f64,
    cold_start_max_ms: f64,
    idle_rss_mb: Vec<f64>,
    idle_rss_median_mb: f64,
    idle_rss_max_mb: f64,
}

#[derive(Debug, Serialize)]
struct Comparison {
    service: String,
    baseline: String,
    throughput_ratio: f64,
    p50_ratio: f64,
    p99_ratio: f64,
    added_p50_ms: f64,
    added_p99_ms: f64,
    added_cpu_s_per_1000: f64,
}

#[derive(Debug, Serialize)]
struct TargetCheck {
    target: String,
    measured: String,
    met: bool,
}

#[derive(Debug, Serialize)]
struct Machine {
    nproc: usize,
    cpu_model: String,
    kernel: String,
    memory_mb: u64,
    nofile_limit: u64,
    date: String,
    git: String,
}

#[derive(Debug, Serialize)]
struct BaselineRequest {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Debug, Serialize)]
struct Report {
    command: String,
    machine: Machine,
    knobs: Knobs,
    service_bin: String,
    /// `--log-filter` and `--service-env` overrides of the service (none: its defaults).
    service_overrides: Vec<String>,
    note: &'static str,
    baseline_request: Option<BaselineRequest>,
    cold_start: Option<ColdStart>,
    scenarios: Vec<ScenarioResult>,
    comparisons: Vec<Comparison>,
    targets: Vec<TargetCheck>,
}

const NOTE: &str = "The emulator runs inside the benchmark process and shares its 2 cores with the load generator; \
the service runs as a child process. Baseline CPU figures are generator+emulator; service scenarios report the \
service's own CPU and, separately, generator+emulator.";

// ---------------------------------------------------------------------------------------------
// /proc

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// User + system CPU seconds of a process (`self` or a pid).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// A `Vm*` line of /proc/<pid>/status, in MB.
fn vm_mb(pid: &str, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Jiffies of the whole machine from /proc/stat: (busy, idle + iowait, steal).
fn machine_jiffies() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    (busy, at(3) + at(4), at(7))
}

/// Waits (at most `patience`) until the machine is quiet: under 10% of its cores busy over a
/// second. Returns the busy share seen last.
async fn wait_quiet(patience: Duration) -> f64 {
    let started = Instant::now();
    let mut warned = false;
    loop {
        let before = machine_jiffies();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = machine_jiffies();
        let busy = (after.0 - before.0) as f64;
        let share = busy / (busy + (after.1 - before.1) as f64 + (after.2 - before.2) as f64).max(1.0);
        if share < 0.10 || started.elapsed() >= patience {
            return share;
        }
        if !warned {
            eprintln!("    waiting for a quiet machine ({:.0}% busy; at most {patience:?})", share * 100.0);
            warned = true;
        }
    }
}

/// Raises this process's soft descriptor limit to the hard one; returns the soft limit.
fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit write/read only the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

fn machine(nofile_limit: u64) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_mb = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        memory_mb,
        nofile_limit,
        date: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        git: if dirty { format!("{commit} (with uncommitted changes)") } else { commit },
    }
}

// ---------------------------------------------------------------------------------------------
// Targets of the load

/// What one request goes to.
enum Target {
    Service { channels: Vec<Channel>, requests: Vec<pb::CreateRequest> },
    Direct { client: reqwest::Client, url: String, headers: reqwest::header::HeaderMap, body: Bytes },
}

impl Target {
    /// One Create; `Err` names the failure (gRPC code, HTTP status or transport error).
    async fn call(&self, slot: usize, seq: u64) -> Result<(), String> {
        match self {
            Target::Service { channels, requests } => {
                let channel = channels[slot % channels.len()].clone();
                let request = requests[(seq % requests.len() as u64) as usize].clone();
                match MeetingServiceClient::new(channel).create(request).await {
                    Ok(reply) if reply.get_ref().meeting.as_ref().is_some_and(|m| m.id.is_some()) => Ok(()),
                    Ok(_) => Err("reply without a meeting".into()),
                    Err(status) => Err(format!("{:?}", status.code())),
                }
            }
            Target::Direct { client, url, headers, body } => {
                let response = client
                    .post(url)
                    .headers(headers.clone())
                    .header("client-request-id", uuid::Uuid::new_v4().to_string())
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| transport_error(&e))?;
                let status = response.status().as_u16();
                let body = response.bytes().await.map_err(|_| "transport (body)".to_owned())?;
                if status == 201 && !body.is_empty() {
                    Ok(())
                } else {
                    Err(format!("HTTP {status}"))
                }
            }
        }
    }
}

/// `connect: <root cause>` or `transport: <root cause>`.
fn transport_error(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let kind = if e.is_connect() { "connect" } else { "transport" };
    format!("{kind}: {cause}")
}

/// Collects the outcome of every measured request.
struct Recorder {
    shards: Vec<Mutex<Histogram<u64>>>,
    from_send: Vec<Mutex<Histogram<u64>>>,
    errors: Mutex<BTreeMap<String, u64>>,
    ok: AtomicU64,
    in_flight: AtomicI64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_LATENCY_US)
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            shards: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            from_send: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            errors: Mutex::new(BTreeMap::new()),
            ok: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
        }
    }

    fn record(&self, shard: usize, outcome: Result<(), String>, latency: Duration, from_send: Option<Duration>) {
        match outcome {
            Ok(()) => {
                let mut h = self.shards[shard % SHARDS].lock().unwrap_or_else(PoisonError::into_inner);
                h.saturating_record(us(latency));
                drop(h);
                if let Some(d) = from_send {
                    let mut h = self.from_send[shard % SHARDS].lock().unwrap_or_else(PoisonError::into_inner);
                    h.saturating_record(us(d));
                }
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(label) => self.error(label),
        }
    }

    fn error(&self, label: String) {
        *self.errors.lock().unwrap_or_else(PoisonError::into_inner).entry(label).or_default() += 1;
    }

    fn merged(shards: &[Mutex<Histogram<u64>>]) -> Histogram<u64> {
        let mut all = histogram();
        for shard in shards {
            let _ = all.add(&*shard.lock().unwrap_or_else(PoisonError::into_inner));
        }
        all
    }
}

/// How a scenario loads its target.
#[derive(Clone, Copy, Debug)]
enum Load {
    Closed { concurrency: usize },
    Open { rate: f64 },
}

/// What the measured window saw, besides the recorder.
struct Window {
    seconds: f64,
    /// Share of all cores busy (user + system + irq) during the window, and stolen by the hypervisor.
    machine_busy: f64,
    machine_steal: f64,
    /// Cores used by processes other than this one and the service (e.g. a compiler).
    other_cores: f64,
    /// Most descriptors the service had open (sockets: its callers' connections and its own to Graph).
    service_fds_max: usize,
    self_cpu_s: f64,
    service_cpu_s: f64,
    in_flight_mean: f64,
    in_flight_max: i64,
}

/// Samples CPU and in-flight counts from `measure_start` until `stop` or `end`.
async fn watch_window(
    rec: Arc<Recorder>,
    service_pid: Option<u32>,
    measure_start: Instant,
    end: Instant,
    stop: Arc<AtomicBool>,
) -> Window {
    tokio::time::sleep_until(measure_start).await;
    let pid = service_pid.map(|p| p.to_string());
    let service_cpu = || pid.as_deref().map_or(0.0, cpu_seconds);
    let (self0, svc0, t0, m0) = (cpu_seconds("self"), service_cpu(), Instant::now(), machine_jiffies());
    let (mut samples, mut sum, mut max) = (0u64, 0i64, 0i64);
    let mut service_fds_max = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let now = rec.in_flight.load(Ordering::Relaxed);
        if samples % 10 == 0 {
            if let Some(pid) = &pid {
                let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
                service_fds_max = service_fds_max.max(fds);
            }
        }
        samples += 1;
        sum += now;
        max = max.max(now);
        if Instant::now() >= end || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let m1 = machine_jiffies();
    let (busy, idle, steal) = (m1.0 - m0.0, m1.1 - m0.1, m1.2 - m0.2);
    let all = (busy + idle + steal).max(1) as f64;
    let seconds = t0.elapsed().as_secs_f64();
    let (self_cpu_s, service_cpu_s) = (cpu_seconds("self") - self0, service_cpu() - svc0);
    let busy_cores = busy as f64 / clock_ticks() / seconds.max(1e-9);
    Window {
        seconds,
        other_cores: (busy_cores - (self_cpu_s + service_cpu_s) / seconds.max(1e-9)).max(0.0),
        machine_busy: busy as f64 / all,
        machine_steal: steal as f64 / all,
        self_cpu_s,
        service_cpu_s,
        in_flight_mean: sum as f64 / samples.max(1) as f64,
        in_flight_max: max,
        service_fds_max,
    }
}

struct Run {
    rec: Arc<Recorder>,
    window: Window,
    notes: Vec<String>,
}

/// Warm-up, then the measured window; waits (bounded) for requests still in flight.
async fn drive(target: Arc<Target>, load: Load, knobs: &Knobs, service_pid: Option<u32>) -> Run {
    let rec = Arc::new(Recorder::new());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now() + Duration::from_millis(5);
    let measure_start = start + knobs.warmup;
    let requests = match load {
        Load::Closed { .. } => knobs.requests,
        Load::Open { .. } => None,
    };
    // With a request count the window closes on the last one (bounded at an hour).
    let end = measure_start + if requests.is_some() { Duration::from_secs(3600) } else { knobs.duration };
    let watcher = tokio::spawn(watch_window(rec.clone(), service_pid, measure_start, end, stop.clone()));
    let mut tasks = JoinSet::new();
    let mut notes = Vec::new();
    match load {
        Load::Closed { concurrency } => {
            // Workers start spread over a ramp, so that thousands of connections don't open at once.
            let ramp = (knobs.warmup / 2).min(Duration::from_secs(2));
            for slot in 0..concurrency {
                let (target, rec, stop) = (target.clone(), rec.clone(), stop.clone());
                let begin = start + ramp.mul_f64(slot as f64 / concurrency as f64);
                tasks.spawn(async move {
                    tokio::time::sleep_until(begin).await;
                    let mut seq = slot as u64;
                    loop {
                        let sent = Instant::now();
                        if sent >= end || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        rec.in_flight.fetch_add(1, Ordering::Relaxed);
                        let outcome = target.call(slot, seq).await;
                        rec.in_flight.fetch_sub(1, Ordering::Relaxed);
                        seq += concurrency as u64;
                        let done = Instant::now();
                        // A worker whose call failed pauses, so that a failing target (refused
                        // connections, exhausted descriptors) is not hammered in a tight loop.
                        let pause = outcome.is_err();
                        if done >= measure_start && done < end && !stop.load(Ordering::Relaxed) {
                            rec.record(slot, outcome, done - sent, None);
                            let counted = rec.ok.load(Ordering::Relaxed);
                            if requests.is_some_and(|n| counted >= n) {
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                        if pause {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                });
            }
        }
        Load::Open { rate } if knobs.pacer == "thread" => {
            // A thread of its own sleeps until each intended send time (hrtimer precision, tens of
            // microseconds) and spawns the request onto the runtime: Tokio's timer has 1 ms
            // granularity, which would add up to a millisecond of the generator's own lateness.
            let period = Duration::from_secs_f64(1.0 / rate);
            let max_outstanding = ((rate * 30.0) as i64).max(10_000);
            let (handle, target, pacing) = (tokio::runtime::Handle::current(), target.clone(), rec.clone());
            let pacer = std::thread::spawn(move || {
                let rec = pacing;
                for seq in 0u64.. {
                    let intended = start + period.mul_f64(seq as f64);
                    if intended >= end {
                        break;
                    }
                    let now = Instant::now();
                    if intended > now {
                        std::thread::sleep(intended - now);
                    }
                    if rec.in_flight.load(Ordering::Relaxed) >= max_outstanding {
                        if intended >= measure_start {
                            rec.error("generator backlog full".into());
                        }
                        continue;
                    }
                    rec.in_flight.fetch_add(1, Ordering::Relaxed);
                    let (target, rec) = (target.clone(), rec.clone());
                    handle.spawn(async move {
                        let sent = Instant::now();
                        let outcome = target.call(seq as usize, seq).await;
                        rec.in_flight.fetch_sub(1, Ordering::Relaxed);
                        if intended >= measure_start {
                            let done = Instant::now();
                            rec.record(seq as usize, outcome, done - intended, Some(done - sent));
                        }
                    });
                }
            });
            let _ = tokio::task::spawn_blocking(move || pacer.join()).await;
            stop.store(true, Ordering::Relaxed);
            let waited = Instant::now();
            while rec.in_flight.load(Ordering::Relaxed) > 0 && waited.elapsed() < Duration::from_secs(60) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Load::Open { rate } => {
            let period = Duration::from_secs_f64(1.0 / rate);
            let mut ticker = tokio::time::interval_at(start, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            // Beyond this many outstanding requests the generator records an error instead of sending.
            let max_outstanding = ((rate * 30.0) as i64).max(10_000);
            let mut seq = 0u64;
            loop {
                let intended = ticker.tick().await;
                if intended >= end {
                    break;
                }
                if rec.in_flight.load(Ordering::Relaxed) >= max_outstanding {
                    if intended >= measure_start {
                        rec.error("generator backlog full".into());
                    }
                    continue;
                }
                let (target, rec) = (target.clone(), rec.clone());
                let slot = seq as usize;
                tasks.spawn(async move {
                    rec.in_flight.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    let outcome = target.call(slot, seq).await;
                    rec.in_flight.fetch_sub(1, Ordering::Relaxed);
                    if intended >= measure_start {
                        let done = Instant::now();
                        rec.record(slot, outcome, done - intended, Some(done - sent));
                    }
                });
                seq += 1;
                // Reap finished tasks so that the set stays small.
                while tasks.try_join_next().is_some() {}
            }
            stop.store(true, Ordering::Relaxed);
        }
    }
    let window = watcher.await.expect("window watcher");
    stop.store(true, Ordering::Relaxed);
    let drained =
        tokio::time::timeout(Duration::from_secs(60), async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        notes.push(format!("{} requests still in flight 60 s after the window; abandoned", tasks.len()));
        tasks.abort_all();
    }
    Run { rec, window, notes }
}

fn result_of(
    name: &str,
    target: &str,
    latency_ms: u64,
    load: Load,
    connections: Option<usize>,
    knobs: &Knobs,
    run: &Run,
) -> ScenarioResult {
    let ok = run.rec.ok.load(Ordering::Relaxed);
    let errors = run.rec.errors.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let per_1000 = |cpu: f64| if ok == 0 { 0.0 } else { cpu / ok as f64 * 1000.0 };
    let (mode, concurrency, rate) = match load {
        Load::Closed { concurrency } => ("closed", Some(concurrency), None),
        Load::Open { rate } => ("open", None, Some(rate)),
    };
    ScenarioResult {
        name: name.to_owned(),
        target: target.to_owned(),
        upstream_latency_ms: latency_ms,
        mode: mode.to_owned(),
        concurrency,
        rate,
        connections,
        warmup_s: knobs.warmup.as_secs_f64(),
        duration_s: run.window.seconds,
        requests_ok: ok,
        requests_per_s: ok as f64 / run.window.seconds.max(1e-9),
        latency: Latency::of(&Recorder::merged(&run.rec.shards)),
        latency_from_send: matches!(load, Load::Open { .. })
            .then(|| Latency::of(&Recorder::merged(&run.rec.from_send))),
        errors_total: errors.values().sum(),
        errors,
        in_flight_mean: run.window.in_flight_mean,
        in_flight_max: run.window.in_flight_max,
        machine_busy_pct: run.window.machine_busy * 100.0,
        machine_steal_pct: run.window.machine_steal * 100.0,
        other_processes_cores: run.window.other_cores,
        generator_and_emulator_cpu_s_per_1000: per_1000(run.window.self_cpu_s),
        service: None,
        tokens: None,
        notes: run
            .notes
            .iter()
            .cloned()
            .chain((run.window.other_cores > 0.1).then(|| {
                format!("machine not quiet: other processes used {:.2} cores during the window", run.window.other_cores)
            }))
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// The service as a child process

struct Service {
    child: Child,
    addr: SocketAddr,
    cold_start: Duration,
}

impl Service {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn vm(&self, key: &str) -> Option<f64> {
        vm_mb(&self.pid().to_string(), key)
    }

    /// SIGTERM, then (after 10 s) SIGKILL.
    async fn stop(mut self) {
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        for _ in 0..1000 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn channels(&self, n: usize) -> Vec<Channel> {
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n {
            let endpoint = Endpoint::from_shared(format!("http://{}", self.addr)).expect("endpoint");
            channels.push(endpoint.tcp_nodelay(true).connect().await.expect("connect to the service"));
        }
        channels
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Spawner {
    bin: PathBuf,
    dir: PathBuf,
    log_filter: Option<String>,
    logs: Option<PathBuf>,
    env: Vec<(String, String)>,
    count: usize,
}

impl Spawner {
    /// Writes the settings as TOML, spawns the service, and waits for SERVING.
    async fn spawn(&mut self, mut settings: Settings) -> Service {
        self.count += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        settings.server.listen = addr;
        // The production log configuration (JSON), not dev mode's text.
        settings.log.format = LogFormat::Json;
        if let Some(filter) = &self.log_filter {
            settings.log.filter = filter.clone();
        }
        settings.validate().expect("benchmark settings are valid");
        let config = self.dir.join(format!("config-{}.toml", self.count));
        std::fs::write(&config, toml::to_string(&settings).expect("settings as TOML")).expect("write config");
        let (stdout, stderr) = match &self.logs {
            Some(dir) => {
                std::fs::create_dir_all(dir).expect("log directory");
                let file = |ext: &str| {
                    std::fs::File::create(dir.join(format!("service-{}.{ext}", self.count))).expect("log file")
                };
                (Stdio::from(file("stdout")), Stdio::from(file("stderr")))
            }
            None => {
                let file = std::fs::File::create(self.dir.join(format!("service-{}.stderr", self.count)));
                (Stdio::null(), file.map_or_else(|_| Stdio::null(), Stdio::from))
            }
        };
        let spawned = Instant::now();
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        let mut service = Service { child, addr, cold_start: Duration::ZERO };
        let url = format!("http://{addr}");
        loop {
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("the service exited during start-up ({status}); see {}", self.dir.display());
            }
            if spawned.elapsed() > Duration::from_secs(20) {
                panic!("the service did not answer SERVING within 20 s; see {}", self.dir.display());
            }
            if serving(&url).await {
                service.cold_start = spawned.elapsed();
                return service;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
}

async fn serving(url: &str) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(url.to_owned()) else { return false };
    let Ok(channel) = endpoint.connect_timeout(Duration::from_millis(100)).connect().await else { return false };
    let mut health = HealthClient::new(channel);
    let check = health.check(HealthCheckRequest { service: String::new() });
    matches!(tokio::time::timeout(Duration::from_millis(500), check).await,
        Ok(Ok(reply)) if reply.get_ref().status == ServingStatus::Serving as i32)
}

// ---------------------------------------------------------------------------------------------
// Tenants and requests

struct BenchTenant {
    emulated: EmulatedTenant,
    secret_file: PathBuf,
}

fn bench_tenants(dir: &Path, n: usize) -> Vec<BenchTenant> {
    (0..n)
        .map(|i| {
            let mut emulated = EmulatedTenant::dev();
            if i > 0 {
                emulated.tenant_id = uuid::Uuid::new_v4().to_string();
                emulated.client_id = uuid::Uuid::new_v4().to_string();
                emulated.client_secret = format!("bench-secret-{i}-{}", uuid::Uuid::new_v4().simple());
            }
            let secret_file = dir.join(format!("secret-{}", emulated.tenant_id));
            std::fs::write(&secret_file, &emulated.client_secret).expect("write secret file");
            BenchTenant { emulated, secret_file }
        })
        .collect()
}

/// The service's settings for an emulator and tenants (one [[tenants]] entry each).
fn settings(emulator: &Emulator, tenants: &[BenchTenant], graph_http2: bool) -> Settings {
    let first = &tenants[0];
    let mut settings =
        settings_for(emulator, &first.emulated, first.secret_file.clone(), "127.0.0.1:0".parse().unwrap());
    settings.graph.http2_prior_knowledge = graph_http2;
    settings.tenants = tenants
        .iter()
        .map(|t| TenantSettings {
            tenant_id: t.emulated.tenant_id.clone(),
            client_id: t.emulated.client_id.clone(),
            client_secret_file: Some(t.secret_file.clone()),
            ..Default::default()
        })
        .collect();
    settings
}

/// A typical Create: subject, times, presenters, lobby and one attendee.
fn create_request(tenant_id: &str) -> pb::CreateRequest {
    let ts = |s: &str| s.parse::<prost_types::Timestamp>().expect("timestamp");
    let attendee = pb::MeetingParticipantInfo {
        upn: Some("megan.bowen@contoso.example".into()),
        role: pb::OnlineMeetingRole::Attendee as i32,
        ..Default::default()
    };
    pb::CreateRequest {
        tenant_id: tenant_id.to_owned(),
        user_id: DEV_USER_ID.to_owned(),
        meeting: Some(Box::new(pb::OnlineMeeting {
            subject: Some("Quarterly planning review".into()),
            start_date_time: Some(ts("2030-01-15T15:00:00Z")),
            end_date_time: Some(ts("2030-01-15T16:00:00Z")),
            allowed_presenters: pb::OnlineMeetingPresenters::Organization as i32,
            lobby_bypass_settings: Some(pb::LobbyBypassSettings {
                scope: pb::LobbyBypassScope::Organization as i32,
                is_dial_in_bypass_enabled: Some(false),
            }),
            participants: Some(pb::MeetingParticipants { attendees: vec![attendee], ..Default::default() }),
            ..Default::default()
        })),
        language: String::new(),
    }
}

fn token_check(emulator: &Emulator, tenants: &[BenchTenant], before: &[usize]) -> TokenCheck {
    let deltas: Vec<usize> =
        tenants.iter().zip(before).map(|(t, b)| emulator.token_requests(&t.emulated.tenant_id) - b).collect();
    let (min, max) = (deltas.iter().copied().min().unwrap_or(0), deltas.iter().copied().max().unwrap_or(0));
    TokenCheck {
        tenants: tenants.len(),
        total: deltas.iter().sum(),
        per_tenant_min: min,
        per_tenant_max: max,
        expected: "exactly 1 per tenant (the run is far shorter than the 3599 s token lifetime)".into(),
        ok: min == 1 && max == 1,
    }
}

fn token_counts(emulator: &Emulator, tenants: &[BenchTenant]) -> Vec<usize> {
    tenants.iter().map(|t| emulator.token_requests(&t.emulated.tenant_id)).collect()
}

/// The request the service sends to Graph, captured once from a service run against a recording
/// emulator: the baseline replays it byte for byte (with its own token and client-request-id).
async fn capture_graph_request(spawner: &mut Spawner, dir: &Path) -> (String, Vec<(String, String)>, String) {
    let emulator = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let tenants = bench_tenants(dir, 1);
    emulator.add_tenant(tenants[0].emulated.clone());
    let service = spawner.spawn(settings(&emulator, &tenants, false)).await;
    let channel = service.channels(1).await.remove(0);
    MeetingServiceClient::new(channel)
        .create(create_request(&tenants[0].emulated.tenant_id))
        .await
        .expect("the calibration Create succeeds");
    service.stop().await;
    let rec = emulator.requests().into_iter().rev().find(|r| r.host == Host::Graph).expect("a Graph request");
    emulator.shutdown().await;
    (rec.path, rec.headers, rec.body)
}

async fn fetch_token(emulator: &Emulator, tenant: &EmulatedTenant) -> String {
    let url = format!("{}/{}/oauth2/v2.0/token", emulator.authority_host(), tenant.tenant_id);
    let scope = format!("{}/.default", emulator.graph_endpoint());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", tenant.client_id.as_str()),
        ("client_secret", tenant.client_secret.as_str()),
        ("scope", scope.as_str()),
    ];
    let reply: serde_json::Value =
        reqwest::Client::new().post(url).form(&form).send().await.expect("token").json().await.expect("token JSON");
    reply["access_token"].as_str().expect("access_token").to_owned()
}

/// The pooled client of the baseline: configured like the service's own Graph client.
fn baseline_client(http2: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    let builder = if http2 { builder.http2_prior_knowledge() } else { builder };
    builder.build().expect("HTTP client")
}

// ---------------------------------------------------------------------------------------------
// Printing

fn f(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn table(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ =
        writeln!(out, "\nmeeting-service load benchmark, {} ({}), {} cores: {}", m.date, m.git, m.nproc, m.cpu_model);
    let _ = writeln!(out, "{}", report.note);
    if !report.service_overrides.is_empty() {
        let _ = writeln!(out, "service overrides: {}", report.service_overrides.join(" "));
    }
    let _ = writeln!(out);
    if let Some(c) = &report.cold_start {
        let _ = writeln!(
            out,
            "cold start to SERVING: median {} ms, max {} ms over {} spawns; idle RSS: median {} MB, max {} MB\n",
            f(c.cold_start_median_ms),
            f(c.cold_start_max_ms),
            c.spawns,
            f(c.idle_rss_median_mb),
            f(c.idle_rss_max_mb)
        );
    }
    let _ = writeln!(
        out,
        "{:<28} {:>4} {:>10} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>8} {:>11} {:>9}",
        "scenario",
        "lat",
        "load",
        "conn",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9",
        "errors",
        "svc CPU",
        "gen CPU",
        "svc RSS",
        "in-flight",
        "cores"
    );
    let _ = writeln!(
        out,
        "{:<28} {:>4} {:>10} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>8} {:>11} {:>9}",
        "", "ms", "", "", "", "", "", "", "ms", "", "s/1k req", "s/1k req", "peak MB", "mean/max", "busy"
    );
    for s in &report.scenarios {
        let load = match (s.concurrency, s.rate) {
            (Some(c), _) => format!("{c} conc"),
            (_, Some(r)) => format!("{r:.0}/s"),
            _ => String::new(),
        };
        let (svc_cpu, rss) =
            s.service.as_ref().map_or(("-".into(), "-".into()), |v| (f(v.cpu_s_per_1000), f(v.peak_rss_mb)));
        let _ = writeln!(
            out,
            "{:<28} {:>4} {:>10} {:>5} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>8} {:>11} {:>9}",
            s.name,
            s.upstream_latency_ms,
            load,
            s.connections.map_or("-".into(), |c| c.to_string()),
            s.requests_per_s,
            f(s.latency.p50_ms),
            f(s.latency.p90_ms),
            f(s.latency.p99_ms),
            f(s.latency.p999_ms),
            s.errors_total,
            svc_cpu,
            f(s.generator_and_emulator_cpu_s_per_1000),
            rss,
            format!("{:.0}/{}", s.in_flight_mean, s.in_flight_max),
            format!("{:.0}%", s.machine_busy_pct),
        );
    }
    for s in &report.scenarios {
        if !s.errors.is_empty() {
            let _ = writeln!(out, "  {}: errors {:?}", s.name, s.errors);
        }
        if let Some(t) = &s.tokens {
            let _ = writeln!(
                out,
                "  {}: token requests {} for {} tenants (per tenant {}..{}), expected {}: {}",
                s.name,
                t.total,
                t.tenants,
                t.per_tenant_min,
                t.per_tenant_max,
                t.expected,
                if t.ok { "ok" } else { "NOT OK" }
            );
        }
        for note in &s.notes {
            let _ = writeln!(out, "  {}: {note}", s.name);
        }
        if let Some(v) = s.service.as_ref().filter(|v| v.open_fds_max > 1000) {
            let _ = writeln!(
                out,
                "  {}: the service had up to {} descriptors open (its connections to Graph: HTTP/1.1 to the plain-http emulator)",
                s.name, v.open_fds_max
            );
        }
    }
    let (telemetry, hops): (Vec<&Comparison>, Vec<&Comparison>) =
        report.comparisons.iter().partition(|c| c.service.ends_with("-otlp"));
    for (title, first, comparisons) in [
        ("service / baseline (same load, same upstream latency)", "service scenario", hops),
        ("telemetry export on / off (same load; added CPU: the service's own)", "export-on scenario", telemetry),
    ] {
        if comparisons.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        let _ = writeln!(
            out,
            "{:<28} {:>10} {:>9} {:>9} {:>13} {:>13} {:>15}",
            first, "req/s x", "p50 x", "p99 x", "added p50 ms", "added p99 ms", "added CPU s/1k"
        );
        for c in comparisons {
            let _ = writeln!(
                out,
                "{:<28} {:>10.2} {:>9.2} {:>9.2} {:>13.3} {:>13.3} {:>15.3}",
                c.service,
                c.throughput_ratio,
                c.p50_ratio,
                c.p99_ratio,
                c.added_p50_ms,
                c.added_p99_ms,
                c.added_cpu_s_per_1000
            );
        }
    }
    if !report.targets.is_empty() {
        let _ = writeln!(out, "\ntargets (issue 7)");
        for t in &report.targets {
            let _ = writeln!(out, "  [{}] {:<58} {}", if t.met { "met " } else { "MISS" }, t.target, t.measured);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Scenarios

struct Bench {
    knobs: Knobs,
    emulator: Emulator,
    tenants: Vec<BenchTenant>,
    spawner: Spawner,
    /// URL, headers and body of the baseline's request.
    baseline: (String, reqwest::header::HeaderMap, Bytes),
    fd_limit: u64,
    /// While set, service scenarios export telemetry to this receiver.
    otlp: Option<OtlpReceiver>,
    results: Vec<ScenarioResult>,
}

impl Bench {
    async fn quiet(&self) {
        if !self.knobs.quiet_wait.is_zero() {
            wait_quiet(self.knobs.quiet_wait).await;
        }
    }

    async fn baseline(&mut self, name: &str, latency_ms: u64, load: Load) {
        self.emulator.set_latency(Duration::from_millis(latency_ms));
        let mut notes = Vec::new();
        let load = match load {
            // Direct HTTP/1.1 needs two descriptors in this process per request in flight.
            // While connections are being opened, a request takes whichever connection is free first and
            // the pool keeps the others: measured up to ~2 connections per request in flight, more when
            // accepts lag; keep to a sixth of the limit.
            // (Over h2c every request shares one connection.)
            Load::Closed { concurrency }
                if !self.knobs.graph_http2() && (concurrency as u64) * 6 + FD_RESERVE > self.fd_limit =>
            {
                let fits = ((self.fd_limit - FD_RESERVE) / 6) as usize;
                notes.push(format!(
                    "concurrency {concurrency} lowered to {fits}: over HTTP/1.1 both ends of every connection are in this process, the pool opens up to ~2 connections per request while it fills (more when accepts lag), and the descriptor limit is {}",
                    self.fd_limit
                ));
                Load::Closed { concurrency: fits }
            }
            load => load,
        };
        eprintln!("==> {name}");
        self.quiet().await;
        // A client (and connection pool) of its own: idle connections of an earlier scenario
        // would hold descriptors of this process.
        let (url, headers, body) = self.baseline.clone();
        let target = Arc::new(Target::Direct { client: baseline_client(self.knobs.graph_http2()), url, headers, body });
        let run = drive(target, load, &self.knobs, None).await;
        let mut result = result_of(name, "baseline", latency_ms, load, None, &self.knobs, &run);
        result.notes.extend(notes);
        self.emulator.set_latency(Duration::ZERO);
        self.results.push(result);
    }

    /// A fresh service process for the scenario; `tenants` of `self.tenants` receive load.
    async fn service(&mut self, name: &str, latency_ms: u64, load: Load, connections: usize, tenants: usize) {
        eprintln!("==> {name}");
        self.quiet().await;
        let tenants = &self.tenants[..tenants.min(self.tenants.len())];
        self.emulator.set_latency(Duration::from_millis(latency_ms));
        let before = token_counts(&self.emulator, tenants);
        let mut settings = settings(&self.emulator, tenants, self.knobs.graph_http2());
        let mut notes = Vec::new();
        if let Some(receiver) = &self.otlp {
            settings.telemetry.otlp_endpoint = Some(receiver.endpoint().to_owned());
            settings.telemetry.otlp_protocol = OtlpProtocol::Grpc;
            settings.telemetry.metrics_interval = Duration::from_secs(2);
            receiver.reset();
        }
        if let Load::Closed { concurrency } = load {
            // The overload limits admit the load, with room for a reply racing the next call.
            let (limits, admit) = (&mut settings.limits, concurrency * 2);
            for (key, limit) in [
                ("max_in_flight", &mut limits.max_in_flight),
                ("max_in_flight_per_tenant", &mut limits.max_in_flight_per_tenant),
            ] {
                if *limit < admit {
                    notes.push(format!("limits.{key} raised from {limit} to {admit} to admit the load"));
                    *limit = admit;
                }
            }
        }
        let service = self.spawner.spawn(settings).await;
        let cold_start = service.cold_start;
        let channels = service.channels(connections).await;
        let requests = tenants.iter().map(|t| create_request(&t.emulated.tenant_id)).collect();
        let target = Arc::new(Target::Service { channels, requests });
        let run = drive(target.clone(), load, &self.knobs, Some(service.pid())).await;
        drop(target);
        let mut result = result_of(name, "service", latency_ms, load, Some(connections), &self.knobs, &run);
        result.notes.extend(notes);
        let ok = result.requests_ok.max(1) as f64;
        let peak_rss_mb = service.vm("VmHWM:").unwrap_or(0.0);
        let rss_after_load_mb = if matches!(load, Load::Closed { .. }) && latency_ms == 0 && !self.knobs.smoke {
            tokio::time::sleep(Duration::from_secs(2)).await;
            service.vm("VmRSS:")
        } else {
            None
        };
        result.service = Some(ServiceFigures {
            pid: service.pid(),
            cold_start_ms: cold_start.as_secs_f64() * 1000.0,
            cpu_s: run.window.service_cpu_s,
            cpu_s_per_1000: run.window.service_cpu_s / ok * 1000.0,
            peak_rss_mb,
            rss_after_load_mb,
            open_fds_max: run.window.service_fds_max,
        });
        service.stop().await;
        if let Some(receiver) = &self.otlp {
            // Stopping flushed what the service had buffered.
            let Counts { spans, root_spans: calls, metric_exports } = receiver.counts();
            result.notes.push(format!(
                "OTLP export on (gRPC to a receiver in this process, every span sampled, metrics every 2 s): {spans} spans of {calls} calls (warm-up included: {:.1} per call), {metric_exports} metric exports",
                spans as f64 / calls.max(1) as f64
            ));
        }
        self.emulator.set_latency(Duration::ZERO);
        result.tokens = Some(token_check(&self.emulator, tenants, &before));
        self.results.push(result);
    }

    async fn cold_start(&mut self) -> ColdStart {
        eprintln!("==> cold-start");
        self.quiet().await;
        let (mut starts, mut idle) = (Vec::new(), Vec::new());
        for _ in 0..self.knobs.cold_starts {
            let service =
                self.spawner.spawn(settings(&self.emulator, &self.tenants[..1], self.knobs.graph_http2())).await;
            starts.push(service.cold_start.as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_secs(1)).await;
            idle.push(service.vm("VmRSS:").unwrap_or(0.0));
            service.stop().await;
        }
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        ColdStart {
            spawns: starts.len(),
            cold_start_median_ms: median(&starts),
            cold_start_max_ms: max(&starts),
            idle_rss_median_mb: median(&idle),
            idle_rss_max_mb: max(&idle),
            cold_start_ms: starts,
            idle_rss_mb: idle,
        }
    }

    /// Token refresh under steady load with short-lived tokens, on an emulator of its own.
    async fn rotation(&mut self, lifetime: Duration, length: Duration) {
        let name = format!("service-token-rotation-{}s", lifetime.as_secs());
        eprintln!("==> {name}");
        self.quiet().await;
        let config = EmulatorConfig { token_lifetime: lifetime, record_requests: false, ..Default::default() };
        let emulator = Emulator::start(config).await.expect("emulator");
        let tenants = &self.tenants[..1];
        emulator.add_tenant(tenants[0].emulated.clone());
        let mut settings = settings(&emulator, tenants, self.knobs.graph_http2());
        // The default 5-minute margin is capped at half of a short lifetime; keep it below the
        // refresh point so that refresh-ahead, not expiry, renews the token.
        settings.identity.token_refresh_margin = lifetime / 6;
        let refresh_fraction = settings.identity.refresh_fraction;
        let service = self.spawner.spawn(settings).await;
        let channels = service.channels(self.knobs.connections).await;
        let target =
            Arc::new(Target::Service { channels, requests: vec![create_request(&tenants[0].emulated.tenant_id)] });
        let knobs = Knobs { warmup: Duration::ZERO, duration: length, requests: None, ..self.knobs.clone() };
        let load = Load::Open { rate: self.knobs.rate };
        let run = drive(target, load, &knobs, Some(service.pid())).await;
        let mut result = result_of(&name, "service", 0, load, Some(self.knobs.connections), &knobs, &run);
        service.stop().await;
        let total = emulator.token_requests(&tenants[0].emulated.tenant_id);
        let interval = lifetime.mul_f64(refresh_fraction).as_secs_f64();
        let refreshes = (length.as_secs_f64() / interval).floor() as usize;
        let per_lifetime = 1 + (length.as_secs_f64() / lifetime.as_secs_f64()).floor() as usize;
        result.tokens = Some(TokenCheck {
            tenants: 1,
            total,
            per_tenant_min: total,
            per_tenant_max: total,
            expected: format!(
                "{}..{} with refresh-ahead at {refresh_fraction} of the {}s lifetime (one per {interval:.1}s); {per_lifetime} if one per lifetime",
                refreshes.max(1),
                refreshes + 1,
                lifetime.as_secs()
            ),
            ok: (refreshes.max(1)..=refreshes + 1).contains(&total),
        });
        result.notes.push(format!(
            "emulator token lifetime {}s, service token_refresh_margin {:?}",
            lifetime.as_secs(),
            lifetime / 6
        ));
        emulator.shutdown().await;
        self.results.push(result);
    }
}

/// Each service scenario against its baseline (`baseline-*`), and each telemetry-export
/// scenario (`*-otlp`) against the same service scenario without export.
fn compare(results: &[ScenarioResult]) -> Vec<Comparison> {
    let pairs = results.iter().filter(|s| s.target == "service").filter_map(|s| {
        let twin = match s.name.strip_suffix("-otlp") {
            Some(plain) => plain.to_owned(),
            None => s.name.replacen("service-", "baseline-", 1),
        };
        results.iter().find(|b| b.name == twin).map(|b| (s, b))
    });
    let svc_cpu = |r: &ScenarioResult| r.service.as_ref().map_or(0.0, |v| v.cpu_s_per_1000);
    pairs
        .map(|(s, b)| {
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
            // Against a baseline: all the CPU the service hop adds (its process and the generator's
            // gRPC side); export on vs off: the service's own CPU (the receiver is a collector's).
            let added_cpu_s_per_1000 = if b.target == "service" {
                svc_cpu(s) - svc_cpu(b)
            } else {
                svc_cpu(s) + s.generator_and_emulator_cpu_s_per_1000 - b.generator_and_emulator_cpu_s_per_1000
            };
            Comparison {
                service: s.name.clone(),
                baseline: b.name.clone(),
                throughput_ratio: ratio(s.requests_per_s, b.requests_per_s),
                p50_ratio: ratio(s.latency.p50_ms, b.latency.p50_ms),
                p99_ratio: ratio(s.latency.p99_ms, b.latency.p99_ms),
                added_p50_ms: s.latency.p50_ms - b.latency.p50_ms,
                added_p99_ms: s.latency.p99_ms - b.latency.p99_ms,
                added_cpu_s_per_1000,
            }
        })
        .collect()
}

fn targets(report: &Report, knobs: &Knobs) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let find = |name: &str| report.scenarios.iter().find(|s| s.name == name);
    let cmp = |name: &str| report.comparisons.iter().find(|c| c.service == name);
    if let Some(c) = cmp("service-0ms-max") {
        out.push(TargetCheck {
            target: "0 ms: service throughput >= 0.5x baseline".into(),
            measured: format!("{:.2}x", c.throughput_ratio),
            met: c.throughput_ratio >= 0.5,
        });
    }
    let rate_name = format!("service-0ms-{:.0}rps", knobs.rate);
    if let Some(c) = cmp(&rate_name) {
        out.push(TargetCheck {
            target: format!("{:.0} req/s at 0 ms: added p99 <= 1 ms", knobs.rate),
            measured: format!(
                "{:+.3} ms (p99 {:.3} vs {:.3})",
                c.added_p99_ms,
                find(&rate_name).map_or(0.0, |s| s.latency.p99_ms),
                find(&c.baseline).map_or(0.0, |s| s.latency.p99_ms)
            ),
            met: c.added_p99_ms <= 1.0,
        });
    }
    let held = format!("service-{}ms-{}-held", knobs.held_latency_ms, knobs.held);
    if let Some(s) = find(&held) {
        let rss = s.service.as_ref().map_or(0.0, |v| v.peak_rss_mb);
        out.push(TargetCheck {
            target: format!("{} ms, {} in flight: no errors", knobs.held_latency_ms, knobs.held),
            measured: format!(
                "{} errors, in flight mean {:.0} max {}",
                s.errors_total, s.in_flight_mean, s.in_flight_max
            ),
            met: s.errors_total == 0,
        });
        out.push(TargetCheck {
            target: format!("{} ms, {} in flight: service peak RSS <= 150 MB", knobs.held_latency_ms, knobs.held),
            measured: format!("{rss:.1} MB"),
            met: rss <= 150.0,
        });
        let baseline = cmp(&held).and_then(|c| find(&c.baseline)).map_or(String::new(), |b| {
            format!(", baseline p99 {:.0} ms at {:.0} req/s", b.latency.p99_ms, b.requests_per_s)
        });
        out.push(TargetCheck {
            target: format!("{} ms, {} in flight: p99 <= 260 ms", knobs.held_latency_ms, knobs.held),
            measured: format!("p99 {:.0} ms at {:.0} req/s{baseline}", s.latency.p99_ms, s.requests_per_s),
            met: s.latency.p99_ms <= 260.0,
        });
    }
    for rate_slow in [50, 200] {
        let name = format!("service-{rate_slow}ms-{:.0}rps", knobs.rate);
        if let Some(s) = find(&name) {
            if rate_slow == 200 {
                out.push(TargetCheck {
                    target: format!("200 ms at {:.0} req/s: p99 <= 260 ms", knobs.rate),
                    measured: format!("p99 {:.1} ms, {} errors", s.latency.p99_ms, s.errors_total),
                    met: s.latency.p99_ms <= 260.0 && s.errors_total == 0,
                });
            }
        }
    }
    let token_scenarios: Vec<&ScenarioResult> =
        report.scenarios.iter().filter(|s| s.tokens.is_some() && !s.name.contains("rotation")).collect();
    if !token_scenarios.is_empty() {
        let bad: Vec<&str> = token_scenarios
            .iter()
            .filter(|s| !s.tokens.as_ref().is_some_and(|t| t.ok))
            .map(|s| s.name.as_str())
            .collect();
        let max_tenants =
            token_scenarios.iter().filter_map(|s| s.tokens.as_ref()).map(|t| t.tenants).max().unwrap_or(0);
        out.push(TargetCheck {
            target: "token requests: exactly one per tenant per token lifetime".into(),
            measured: if bad.is_empty() {
                format!("1 per tenant in all {} service scenarios (up to {max_tenants} tenants)", token_scenarios.len())
            } else {
                format!("not 1 per tenant in: {}", bad.join(", "))
            },
            met: bad.is_empty(),
        });
    }
    if let Some(s) = report.scenarios.iter().find(|s| s.name.contains("rotation")) {
        if let Some(t) = &s.tokens {
            out.push(TargetCheck {
                target: "token requests under rotation: one per refresh, no stampede".into(),
                measured: format!(
                    "{} in {:.0} s, expected {}; {} errors",
                    t.total, s.duration_s, t.expected, s.errors_total
                ),
                met: t.ok && s.errors_total == 0,
            });
        }
    }
    if let Some(c) = &report.cold_start {
        out.push(TargetCheck {
            target: "cold start to SERVING <= 100 ms".into(),
            measured: format!(
                "median {:.1} ms, max {:.1} ms ({} spawns)",
                c.cold_start_median_ms, c.cold_start_max_ms, c.spawns
            ),
            met: c.cold_start_max_ms <= 100.0,
        });
        out.push(TargetCheck {
            target: "idle RSS <= 20 MB".into(),
            measured: format!("median {:.1} MB, max {:.1} MB", c.idle_rss_median_mb, c.idle_rss_max_mb),
            met: c.idle_rss_max_mb <= 20.0,
        });
    }
    out
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut wanted: Vec<String> =
        args.scenario.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    let smoke = wanted.iter().any(|s| s == "smoke");
    if smoke {
        wanted = ["cold-start", "max", "rate", "tenants", "telemetry"].map(String::from).to_vec();
    } else if wanted.iter().any(|s| s == "all") {
        wanted = ["cold-start", "max", "rate", "rate-50ms", "rate-200ms", "held", "tenants", "rotation", "telemetry"]
            .map(String::from)
            .to_vec();
    }
    let known = ["cold-start", "max", "rate", "rate-50ms", "rate-200ms", "held", "tenants", "rotation", "telemetry"];
    if let Some(unknown) = wanted.iter().find(|s| !known.contains(&s.as_str())) {
        eprintln!("unknown scenario {unknown:?}; known: all, smoke, {}", known.join(", "));
        std::process::exit(2);
    }
    let run = |name: &str| wanted.iter().any(|s| s == name);
    let knobs = Knobs::new(&args, smoke);
    let fd_limit = raise_nofile_limit();
    let _ = rustls::crypto::ring::default_provider().install_default();

    let bin = args.service_bin.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_meeting-service")));
    assert!(bin.exists(), "service binary {} not found (build it, or pass --service-bin)", bin.display());
    let dir = std::env::temp_dir().join(format!("meeting-service-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let mut spawner = Spawner {
        bin: bin.clone(),
        dir: dir.clone(),
        log_filter: args.log_filter.clone(),
        logs: args.service_logs.clone(),
        env: args
            .service_env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        count: 0,
    };

    // The request the service sends to Graph, to replay in the baseline.
    let (path, headers, body) = capture_graph_request(&mut spawner, &dir).await;

    let emulator =
        Emulator::start(EmulatorConfig { record_requests: false, ..Default::default() }).await.expect("emulator");
    let tenants = bench_tenants(&dir, knobs.tenants.max(1));
    for t in &tenants {
        emulator.add_tenant(t.emulated.clone());
    }
    let token = fetch_token(&emulator, &tenants[0].emulated).await;
    let mut header_map = reqwest::header::HeaderMap::new();
    let skipped = ["host", "content-length", "authorization", "client-request-id"];
    for (name, value) in headers.iter().filter(|(n, _)| !skipped.contains(&n.as_str())) {
        header_map.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    header_map.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("bearer"));
    let baseline = (format!("{}{path}", emulator.graph_endpoint()), header_map, Bytes::from(body.clone()));
    let baseline_request = BaselineRequest {
        method: "POST",
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (n.clone(), if n == "authorization" { "Bearer (a token from the emulator)".into() } else { v.clone() })
            })
            .collect(),
        body,
    };

    let mut bench =
        Bench { knobs: knobs.clone(), emulator, tenants, spawner, baseline, fd_limit, otlp: None, results: Vec::new() };
    let cold_start = if run("cold-start") { Some(bench.cold_start().await) } else { None };
    let (c, conns, rate) = (knobs.concurrency, knobs.connections, knobs.rate);
    if run("max") {
        bench.baseline("baseline-0ms-max", 0, Load::Closed { concurrency: c }).await;
        bench.service("service-0ms-max", 0, Load::Closed { concurrency: c }, conns, 1).await;
    }
    for (scenario, latency) in [("rate", 0), ("rate-50ms", 50), ("rate-200ms", 200)] {
        if run(scenario) {
            bench.baseline(&format!("baseline-{latency}ms-{rate:.0}rps"), latency, Load::Open { rate }).await;
            bench.service(&format!("service-{latency}ms-{rate:.0}rps"), latency, Load::Open { rate }, conns, 1).await;
        }
    }
    if run("held") {
        let (held, lat) = (knobs.held, knobs.held_latency_ms);
        bench.baseline(&format!("baseline-{lat}ms-{held}-held"), lat, Load::Closed { concurrency: held }).await;
        bench
            .service(
                &format!("service-{lat}ms-{held}-held"),
                lat,
                Load::Closed { concurrency: held },
                knobs.held_connections,
                1,
            )
            .await;
    }
    if run("tenants") {
        let n = bench.tenants.len();
        bench.service(&format!("service-0ms-{n}-tenants"), 0, Load::Closed { concurrency: c }, conns, n).await;
    }
    if run("telemetry") {
        // The same loads as `max` and `rate`, with every span exported: the overhead of telemetry.
        bench.otlp = Some(OtlpReceiver::start(Protocol::Grpc, Keep::Counts).await.expect("OTLP receiver"));
        bench.service("service-0ms-max-otlp", 0, Load::Closed { concurrency: c }, conns, 1).await;
        bench.service(&format!("service-0ms-{rate:.0}rps-otlp"), 0, Load::Open { rate }, conns, 1).await;
        bench.otlp = None;
    }
    if run("rotation") {
        bench
            .rotation(args.rotation_lifetime, if smoke { Duration::from_secs(3) } else { args.rotation_duration })
            .await;
    }

    let Bench { results, emulator, .. } = bench;
    emulator.shutdown().await;
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: machine(fd_limit),
        knobs: knobs.clone(),
        service_bin: bin.display().to_string(),
        service_overrides: args
            .log_filter
            .iter()
            .map(|f| format!("log.filter={f}"))
            .chain(args.service_env.iter().cloned())
            .collect(),
        note: NOTE,
        baseline_request: Some(baseline_request),
        cold_start,
        comparisons: compare(&results),
        scenarios: results,
        targets: Vec::new(),
    };
    if !smoke {
        report.targets = targets(&report, &knobs);
    }
    print!("{}", table(&report));
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).expect("report directory");
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report).expect("report JSON")).expect("write the report");
    println!("\nJSON report: {}", args.out.display());
    if args.service_logs.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let errors: u64 = report.scenarios.iter().map(|s| s.errors_total).sum();
    if args.fail_on_errors && errors > 0 {
        eprintln!("{errors} requests failed");
        std::process::exit(1);
    }
}
