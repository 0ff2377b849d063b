//! The report as the table printed at the end of a run.

use std::fmt::Write as _;

use crate::report::{Comparison, Report};

/// A figure with 3 significant digits or so: 0.123, 12.3, 123.
fn f(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub(crate) fn table(report: &Report) -> String {
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
        let _ = writeln!(out, "\ntargets (issues 7 and 14)");
        for t in &report.targets {
            let _ = writeln!(out, "  [{}] {:<58} {}", if t.met { "met " } else { "MISS" }, t.target, t.measured);
        }
    }
    out
}
