//! The report: what each scenario measured (the JSON written to `--out`), the service/baseline
//! and export-on/off comparisons, and the targets of issues 7 and 14 checked against them.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{args::Knobs, system::Machine};

#[derive(Debug, Default, Serialize)]
pub(crate) struct Latency {
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) mean_ms: f64,
}

impl Latency {
    pub(crate) fn of(h: &Histogram<u64>) -> Latency {
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
pub(crate) struct ServiceFigures {
    pub(crate) pid: u32,
    /// From spawn to the first SERVING answer of grpc.health.v1.Health/Check.
    pub(crate) cold_start_ms: f64,
    /// User + system CPU seconds during the measured window.
    pub(crate) cpu_s: f64,
    pub(crate) cpu_s_per_1000: f64,
    /// VmHWM at the end of the scenario (the process lives for one scenario).
    pub(crate) peak_rss_mb: f64,
    /// VmRSS after the load, once idle for 2 s.
    pub(crate) rss_after_load_mb: Option<f64>,
    /// Most open descriptors seen (sampled every 0.5 s): mostly its connections to Graph.
    pub(crate) open_fds_max: usize,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct TokenCheck {
    pub(crate) tenants: usize,
    /// Token requests the emulator counted during this scenario, summed over its tenants.
    pub(crate) total: usize,
    pub(crate) per_tenant_min: usize,
    pub(crate) per_tenant_max: usize,
    /// What "one per tenant per token lifetime" means for this scenario.
    pub(crate) expected: String,
    pub(crate) ok: bool,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ScenarioResult {
    pub(crate) name: String,
    /// The RPC under load (`Create`, `Get`, `Update`); the baseline sends its Graph request.
    pub(crate) rpc: &'static str,
    /// `service` (generator -> gRPC -> service -> HTTP -> emulator) or `baseline` (generator -> HTTP -> emulator).
    pub(crate) target: String,
    pub(crate) upstream_latency_ms: u64,
    /// `closed` (N workers, back to back) or `open` (fixed rate, from the intended send time).
    pub(crate) mode: String,
    pub(crate) concurrency: Option<usize>,
    pub(crate) rate: Option<f64>,
    pub(crate) connections: Option<usize>,
    pub(crate) warmup_s: f64,
    pub(crate) duration_s: f64,
    pub(crate) requests_ok: u64,
    pub(crate) requests_per_s: f64,
    pub(crate) latency: Latency,
    /// Open loop only: from the actual send, without the generator's own timer lateness.
    pub(crate) latency_from_send: Option<Latency>,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) errors_total: u64,
    /// Requests outstanding at the generator, sampled every 50 ms of the measured window.
    pub(crate) in_flight_mean: f64,
    pub(crate) in_flight_max: i64,
    /// Share of the machine's cores busy during the window (all processes), and stolen.
    pub(crate) machine_busy_pct: f64,
    pub(crate) machine_steal_pct: f64,
    /// Cores used meanwhile by other processes of the machine (0 on a quiet machine).
    pub(crate) other_processes_cores: f64,
    /// CPU seconds of this process (the generator AND the emulator) per 1,000 measured requests.
    pub(crate) generator_and_emulator_cpu_s_per_1000: f64,
    pub(crate) service: Option<ServiceFigures>,
    pub(crate) tokens: Option<TokenCheck>,
    pub(crate) notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ColdStart {
    pub(crate) spawns: usize,
    pub(crate) cold_start_ms: Vec<f64>,
    pub(crate) cold_start_median_ms: f64,
    pub(crate) cold_start_max_ms: f64,
    pub(crate) idle_rss_mb: Vec<f64>,
    pub(crate) idle_rss_median_mb: f64,
    pub(crate) idle_rss_max_mb: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Comparison {
    pub(crate) service: String,
    pub(crate) baseline: String,
    pub(crate) throughput_ratio: f64,
    pub(crate) p50_ratio: f64,
    pub(crate) p99_ratio: f64,
    pub(crate) added_p50_ms: f64,
    pub(crate) added_p99_ms: f64,
    pub(crate) added_cpu_s_per_1000: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct TargetCheck {
    pub(crate) target: String,
    pub(crate) measured: String,
    pub(crate) met: bool,
}

#[derive(Debug, Serialize)]
/// The Graph request the service sends for an RPC (as captured; the baseline sends it with its
/// own token, client-request-id and, for Get and Update, meeting ids).
pub(crate) struct BaselineRequest {
    pub(crate) rpc: &'static str,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) command: String,
    pub(crate) machine: Machine,
    pub(crate) knobs: Knobs,
    pub(crate) service_bin: String,
    /// `--log-filter` and `--service-env` overrides of the service (none: its defaults).
    pub(crate) service_overrides: Vec<String>,
    pub(crate) note: &'static str,
    pub(crate) baseline_requests: Vec<BaselineRequest>,
    pub(crate) cold_start: Option<ColdStart>,
    pub(crate) scenarios: Vec<ScenarioResult>,
    pub(crate) comparisons: Vec<Comparison>,
    pub(crate) targets: Vec<TargetCheck>,
}

pub(crate) const NOTE: &str =
    "The emulator runs inside the benchmark process and shares its 2 cores with the load generator; \
the service runs as a child process. Baseline CPU figures are generator+emulator; service scenarios report the \
service's own CPU and, separately, generator+emulator.";

/// Each service scenario against its baseline (`baseline-*`), and each telemetry-export
/// scenario (`*-otlp`) against the same service scenario without export.
pub(crate) fn compare(results: &[ScenarioResult]) -> Vec<Comparison> {
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

pub(crate) fn targets(report: &Report, knobs: &Knobs) -> Vec<TargetCheck> {
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
    let added_p99 = |label: &str, name: &str| {
        cmp(name).map(|c| TargetCheck {
            target: format!("{label}{:.0} req/s at 0 ms: added p99 <= 1 ms", knobs.rate),
            measured: format!(
                "{:+.3} ms (p99 {:.3} vs {:.3})",
                c.added_p99_ms,
                find(name).map_or(0.0, |s| s.latency.p99_ms),
                find(&c.baseline).map_or(0.0, |s| s.latency.p99_ms)
            ),
            met: c.added_p99_ms <= 1.0,
        })
    };
    out.extend(added_p99("", &format!("service-0ms-{:.0}rps", knobs.rate)));
    // Issue 14: Get and Update against the baseline of their own Graph request.
    for (rpc, prefix) in [("Get", "get"), ("Update", "update")] {
        if let Some(c) = cmp(&format!("service-{prefix}-0ms-max")) {
            out.push(TargetCheck {
                target: format!("{rpc}, 0 ms: service throughput >= 1.0x baseline"),
                measured: format!("{:.2}x", c.throughput_ratio),
                met: c.throughput_ratio >= 1.0,
            });
        }
        out.extend(added_p99(&format!("{rpc}, "), &format!("service-{prefix}-0ms-{:.0}rps", knobs.rate)));
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::Args;

    fn scenario(name: &str, target: &str, requests_per_s: f64, p99_ms: f64) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            target: target.into(),
            requests_per_s,
            latency: Latency { p99_ms, ..Latency::default() },
            ..ScenarioResult::default()
        }
    }

    #[test]
    fn get_and_update_are_held_to_the_baseline_of_their_own_request() {
        let knobs = Knobs::new(&Args::parse_from(["loadgen"]), false);
        let scenarios = vec![
            scenario("baseline-get-0ms-max", "baseline", 10_000.0, 30.0),
            scenario("service-get-0ms-max", "service", 10_500.0, 31.0),
            scenario("baseline-get-0ms-1000rps", "baseline", 1000.0, 0.6),
            scenario("service-get-0ms-1000rps", "service", 1000.0, 1.7),
            scenario("baseline-update-0ms-max", "baseline", 10_000.0, 30.0),
            scenario("service-update-0ms-max", "service", 9_900.0, 31.0),
            scenario("baseline-update-0ms-1000rps", "baseline", 1000.0, 0.6),
            scenario("service-update-0ms-1000rps", "service", 1000.0, 1.5),
        ];
        let machine = Machine {
            nproc: 2,
            cpu_model: String::new(),
            kernel: String::new(),
            memory_mb: 0,
            nofile_limit: 0,
            date: String::new(),
            git: String::new(),
        };
        let report = Report {
            command: String::new(),
            machine,
            knobs: knobs.clone(),
            service_bin: String::new(),
            service_overrides: Vec::new(),
            note: NOTE,
            baseline_requests: Vec::new(),
            cold_start: None,
            comparisons: compare(&scenarios),
            scenarios,
            targets: Vec::new(),
        };
        let checks: Vec<(String, bool)> = targets(&report, &knobs).into_iter().map(|t| (t.target, t.met)).collect();
        assert_eq!(
            checks,
            [
                ("Get, 0 ms: service throughput >= 1.0x baseline".to_owned(), true),
                ("Get, 1000 req/s at 0 ms: added p99 <= 1 ms".to_owned(), false),
                ("Update, 0 ms: service throughput >= 1.0x baseline".to_owned(), false),
                ("Update, 1000 req/s at 0 ms: added p99 <= 1 ms".to_owned(), true),
            ]
        );
        let get = report.comparisons.iter().find(|c| c.service == "service-get-0ms-max").expect("paired");
        assert_eq!(get.baseline, "baseline-get-0ms-max");
        assert!((get.throughput_ratio - 1.05).abs() < 1e-9);
    }
}
