//! The load benchmark of issue 7: meeting-service against the physical limit, on loopback.
//!
//! ```text
//! cargo bench --bench loadgen -- --scenario all        # the full run (BENCHMARKS.md)
//! cargo bench --bench loadgen -- --scenario smoke      # seconds, small numbers (CI)
//! cargo bench --bench loadgen -- --help
//! ```
//!
//! This process hosts the Graph and identity-platform emulator (`meeting-emulator`, in-process,
//! with a configurable response latency) and the load generator (tonic + hdrhistogram); they
//! share its CPU. Each service scenario spawns the `meeting-service` binary (built by cargo for
//! the run, in the benchmark's profile: release under `cargo bench`) as a child process, so that
//! its CPU seconds and peak RSS are read from `/proc/<pid>`. Each scenario loads one RPC
//! (`Create`; `Get` and `Update` of meetings made just before it). Each baseline scenario sends
//! the request the service sends to Graph for that RPC (same method, path, JSON body and
//! headers, captured from the service once) straight to the emulator with a pooled reqwest
//! client: the physical limit of this machine for the same upstream work without the gRPC hop.
//!
//! Latency is measured per request: closed-loop scenarios from the send to the reply; open-loop
//! (fixed-rate) scenarios from the intended send time, so that a stall cannot hide latency
//! (no coordinated omission).
//!
//! # Layout
//! - `args`: the command line, the scenarios it selects, the knobs of the run
//! - `scenarios`: each scenario (baseline or service, cold start, token rotation)
//! - `rpc`: the RPCs measured, the typical request of each and its Graph request's shape
//! - `load`: what a request goes to, closed-loop and fixed-rate load, the measured window
//! - `recorder`: latency histograms and error counts
//! - `service`: the service under test as a child process
//! - `tenants`, `baseline`: the emulated tenants and the service's settings; the direct
//!   requests of the baseline (and the meetings Get and Update read)
//! - `system`: `/proc` readings, the machine, the descriptor limit (the only `unsafe` code)
//! - `report`, `table`: the JSON report, comparisons and targets; the printed table
//!
//! It depends on the service crate for its configuration types, its settings for an emulator
//! and its generated gRPC client; the service never depends on it.

#![deny(unsafe_code)]

mod args;
mod baseline;
mod load;
mod recorder;
mod report;
mod rpc;
mod scenarios;
mod service;
mod system;
mod table;
mod tenants;

use std::{path::Path, time::Duration};

use clap::Parser;
use meeting_emulator::{Emulator, EmulatorConfig};
use meeting_otlp_receiver::{Keep, OtlpReceiver, Protocol};

use crate::{
    args::{Args, Knobs},
    load::Load,
    report::{compare, targets, Report, NOTE},
    rpc::Rpc,
    scenarios::Bench,
    service::{service_binary, Spawner},
    system::{machine, raise_nofile_limit},
    table::table,
    tenants::bench_tenants,
};

/// The benchmark: `cargo bench --bench loadgen -- [FLAGS]` (the `loadgen` bench target calls this).
#[tokio::main]
pub async fn main() {
    // Cargo runs a benchmark in its package's directory (crates/loadgen); the documented commands
    // run at the workspace root, and relative paths (`--out target/bench/...`) are meant from there.
    let _ = std::env::set_current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let args = Args::parse();
    let (wanted, smoke) = match args::scenarios(&args.scenario) {
        Ok(selected) => selected,
        Err(unknown) => {
            eprintln!("{unknown}");
            std::process::exit(2);
        }
    };
    let run = |name: &str| wanted.iter().any(|s| s == name);
    let knobs = Knobs::new(&args, smoke);
    let fd_limit = raise_nofile_limit();
    let _ = rustls::crypto::ring::default_provider().install_default();

    let bin = service_binary(args.service_bin.as_deref());
    assert!(bin.exists(), "service binary {} not found", bin.display());
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

    // The requests the service sends to Graph, to replay in the baseline.
    let captured = baseline::capture_graph_requests(&mut spawner, &dir).await;

    let emulator =
        Emulator::start(EmulatorConfig { record_requests: false, ..Default::default() }).await.expect("emulator");
    let tenants = bench_tenants(&dir, knobs.tenants.max(1));
    for t in &tenants {
        emulator.add_tenant(t.emulated.clone());
    }
    let token = baseline::fetch_token(&emulator, &tenants[0].emulated).await;
    let (baseline, baseline_requests) = captured.iter().map(|c| baseline::Replay::new(&emulator, c, &token)).unzip();

    let mut bench =
        Bench { knobs: knobs.clone(), emulator, tenants, spawner, baseline, fd_limit, otlp: None, results: Vec::new() };
    let cold_start = if run("cold-start") { Some(bench.cold_start().await) } else { None };
    let (c, conns, rate) = (knobs.concurrency, knobs.connections, knobs.rate);
    if run("max") {
        bench.baseline("baseline-0ms-max", Rpc::Create, 0, Load::Closed { concurrency: c }).await;
        bench.service("service-0ms-max", Rpc::Create, 0, Load::Closed { concurrency: c }, conns, 1).await;
    }
    for (scenario, latency) in [("rate", 0), ("rate-50ms", 50), ("rate-200ms", 200)] {
        if run(scenario) {
            let load = Load::Open { rate };
            bench.baseline(&format!("baseline-{latency}ms-{rate:.0}rps"), Rpc::Create, latency, load).await;
            bench.service(&format!("service-{latency}ms-{rate:.0}rps"), Rpc::Create, latency, load, conns, 1).await;
        }
    }
    // Get and Update at 0 ms, loaded as `max` and `rate` load Create:
    // `{baseline,service}-{get,update}-0ms-{max,1000rps}`.
    for (rpc, prefix) in [(Rpc::Get, "get"), (Rpc::Update, "update")] {
        for (scenario, load, what) in [
            ("max", Load::Closed { concurrency: c }, "max".to_owned()),
            ("rate", Load::Open { rate }, format!("{rate:.0}rps")),
        ] {
            if run(&format!("{prefix}-{scenario}")) {
                bench.baseline(&format!("baseline-{prefix}-0ms-{what}"), rpc, 0, load).await;
                bench.service(&format!("service-{prefix}-0ms-{what}"), rpc, 0, load, conns, 1).await;
            }
        }
    }
    if run("held") {
        let (held, lat) = (knobs.held, knobs.held_latency_ms);
        bench
            .baseline(&format!("baseline-{lat}ms-{held}-held"), Rpc::Create, lat, Load::Closed { concurrency: held })
            .await;
        bench
            .service(
                &format!("service-{lat}ms-{held}-held"),
                Rpc::Create,
                lat,
                Load::Closed { concurrency: held },
                knobs.held_connections,
                1,
            )
            .await;
    }
    if run("tenants") {
        let n = bench.tenants.len();
        bench
            .service(&format!("service-0ms-{n}-tenants"), Rpc::Create, 0, Load::Closed { concurrency: c }, conns, n)
            .await;
    }
    if run("telemetry") {
        // The same loads as `max` and `rate`, with every span exported: the overhead of telemetry.
        bench.otlp = Some(OtlpReceiver::start(Protocol::Grpc, Keep::Counts).await.expect("OTLP receiver"));
        bench.service("service-0ms-max-otlp", Rpc::Create, 0, Load::Closed { concurrency: c }, conns, 1).await;
        bench.service(&format!("service-0ms-{rate:.0}rps-otlp"), Rpc::Create, 0, Load::Open { rate }, conns, 1).await;
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
        baseline_requests,
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
