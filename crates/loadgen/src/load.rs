//! Driving a target: what one request goes to (the service over gRPC, or Graph directly for
//! the baseline), closed-loop and fixed-rate load, and the measured window around it.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, PoisonError,
    },
    time::Duration,
};

use tokio::{task::JoinSet, time::Instant};
use tonic::transport::Channel;

use crate::{
    args::Knobs,
    baseline::Direct,
    recorder::Recorder,
    report::{Latency, ScenarioResult},
    rpc::{Requests, Rpc},
    system::{clock_ticks, cpu_seconds, machine_jiffies},
};

/// What one request goes to.
pub(crate) enum Target {
    /// The service over gRPC: one RPC's requests, round-robin over the channels.
    Service { channels: Vec<Channel>, requests: Requests },
    /// Graph directly (the baseline): the service's request for the same RPC.
    Direct { client: reqwest::Client, request: Direct },
}

impl Target {
    pub(crate) fn rpc(&self) -> Rpc {
        match self {
            Target::Service { requests, .. } => requests.rpc(),
            Target::Direct { request, .. } => request.rpc,
        }
    }

    /// One call; `Err` names the failure (gRPC code, HTTP status or transport error).
    pub(crate) async fn call(&self, slot: usize, seq: u64) -> Result<(), String> {
        match self {
            Target::Service { channels, requests } => requests.call(channels[slot % channels.len()].clone(), seq).await,
            Target::Direct { client, request: Direct { rpc, urls, headers, body } } => {
                let url = &urls[(seq % urls.len() as u64) as usize];
                let mut request = client
                    .request(rpc.graph_method(), url)
                    .headers(headers.clone())
                    .header("client-request-id", uuid::Uuid::new_v4().to_string());
                if let Some(body) = body {
                    request = request.body(body.clone());
                }
                let response = request.send().await.map_err(|e| transport_error(&e))?;
                let status = response.status().as_u16();
                let body = response.bytes().await.map_err(|_| "transport (body)".to_owned())?;
                if status == rpc.graph_success() && !body.is_empty() {
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

/// How a scenario loads its target.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Load {
    Closed { concurrency: usize },
    Open { rate: f64 },
}

/// What the measured window saw, besides the recorder.
pub(crate) struct Window {
    pub(crate) seconds: f64,
    /// Share of all cores busy (user + system + irq) during the window, and stolen by the hypervisor.
    pub(crate) machine_busy: f64,
    pub(crate) machine_steal: f64,
    /// Cores used by processes other than this one and the service (e.g. a compiler).
    pub(crate) other_cores: f64,
    /// Most descriptors the service had open (sockets: its callers' connections and its own to Graph).
    pub(crate) service_fds_max: usize,
    pub(crate) self_cpu_s: f64,
    pub(crate) service_cpu_s: f64,
    pub(crate) in_flight_mean: f64,
    pub(crate) in_flight_max: i64,
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

pub(crate) struct Run {
    pub(crate) rpc: Rpc,
    pub(crate) rec: Arc<Recorder>,
    pub(crate) window: Window,
    pub(crate) notes: Vec<String>,
}

/// Warm-up, then the measured window; waits (bounded) for requests still in flight.
pub(crate) async fn drive(target: Arc<Target>, load: Load, knobs: &Knobs, service_pid: Option<u32>) -> Run {
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
    Run { rpc: target.rpc(), rec, window, notes }
}

pub(crate) fn result_of(
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
        rpc: run.rpc.name(),
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
