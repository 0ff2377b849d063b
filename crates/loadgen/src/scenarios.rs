//! The scenarios: each baseline and service scenario of an RPC (a fresh service process per
//! scenario; for Get and Update, fresh meetings to read), cold start, and token rotation under
//! load; each appends its result to the run's.

use std::{sync::Arc, time::Duration};

use meeting_emulator::{Emulator, EmulatorConfig};
use meeting_otlp_receiver::{Counts, OtlpReceiver};
use meeting_service::config::OtlpProtocol;

use crate::{
    args::Knobs,
    baseline::{baseline_client, create_meetings, Replay},
    load::{drive, result_of, Load, Target},
    report::{ColdStart, ScenarioResult, ServiceFigures, TokenCheck},
    rpc::{create_request, Requests, Rpc},
    service::Spawner,
    system::wait_quiet,
    tenants::{settings, token_check, token_counts, BenchTenant},
};

/// Descriptors this process keeps for itself besides the generator's and the emulator's sockets.
const FD_RESERVE: u64 = 512;

/// Meetings per tenant that a Get or Update scenario reads, round-robin: a handful, made just
/// before the scenario (the emulator's store forgets its oldest meetings once a Create scenario
/// has made 100,000 more).
const MEETINGS_PER_TENANT: usize = 8;

/// One run: the emulator the scenarios share, their tenants, and the results so far.
pub(crate) struct Bench {
    pub(crate) knobs: Knobs,
    pub(crate) emulator: Emulator,
    pub(crate) tenants: Vec<BenchTenant>,
    pub(crate) spawner: Spawner,
    /// The baseline's request of each RPC (the service's Graph request, with a token).
    pub(crate) baseline: Vec<Replay>,
    pub(crate) fd_limit: u64,
    /// While set, service scenarios export telemetry to this receiver.
    pub(crate) otlp: Option<OtlpReceiver>,
    pub(crate) results: Vec<ScenarioResult>,
}

impl Bench {
    async fn quiet(&self) {
        if !self.knobs.quiet_wait.is_zero() {
            wait_quiet(self.knobs.quiet_wait).await;
        }
    }

    fn replay(&self, rpc: Rpc) -> &Replay {
        self.baseline.iter().find(|r| r.rpc == rpc).expect("a baseline request for every RPC")
    }

    /// For Get and Update, fresh meetings of each tenant (ids per tenant, in order); none for Create.
    async fn meetings(&self, rpc: Rpc, tenants: &[BenchTenant]) -> Vec<Vec<String>> {
        let mut meetings = Vec::new();
        if rpc.reads_meetings() {
            for tenant in tenants {
                let create = self.replay(Rpc::Create);
                meetings.push(create_meetings(&self.emulator, &tenant.emulated, create, MEETINGS_PER_TENANT).await);
            }
        }
        meetings
    }

    pub(crate) async fn baseline(&mut self, name: &str, rpc: Rpc, latency_ms: u64, load: Load) {
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
        // The baseline sends the first tenant's token.
        let meetings = self.meetings(rpc, &self.tenants[..1]).await;
        let request = self.replay(rpc).direct(meetings.first().map_or(&[], Vec::as_slice));
        self.emulator.set_latency(Duration::from_millis(latency_ms));
        // A client (and connection pool) of its own: idle connections of an earlier scenario
        // would hold descriptors of this process.
        let target = Arc::new(Target::Direct { client: baseline_client(self.knobs.graph_http2()), request });
        let run = drive(target, load, &self.knobs, None).await;
        let mut result = result_of(name, "baseline", latency_ms, load, None, &self.knobs, &run);
        result.notes.extend(notes);
        self.emulator.set_latency(Duration::ZERO);
        self.results.push(result);
    }

    /// A fresh service process for the scenario; `tenants` of `self.tenants` receive `rpc`'s load.
    pub(crate) async fn service(
        &mut self,
        name: &str,
        rpc: Rpc,
        latency_ms: u64,
        load: Load,
        connections: usize,
        tenants: usize,
    ) {
        eprintln!("==> {name}");
        self.quiet().await;
        let tenants = &self.tenants[..tenants.min(self.tenants.len())];
        let meetings = self.meetings(rpc, tenants).await;
        self.emulator.set_latency(Duration::from_millis(latency_ms));
        // After the meetings were made: their tokens are not the service's.
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
        let tenant_ids: Vec<&str> = tenants.iter().map(|t| t.emulated.tenant_id.as_str()).collect();
        let requests = Requests::new(rpc, &tenant_ids, &meetings);
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

    pub(crate) async fn cold_start(&mut self) -> ColdStart {
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
    pub(crate) async fn rotation(&mut self, lifetime: Duration, length: Duration) {
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
        let target = Arc::new(Target::Service {
            channels,
            requests: Requests::Create(vec![create_request(&tenants[0].emulated.tenant_id)]),
        });
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
