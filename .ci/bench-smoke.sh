#!/usr/bin/env bash
# CI smoke run of the benchmarks (issues 7 and 14): seconds, small numbers, in the debug profile.
# It asserts only that the load benchmark ran every smoke scenario and wrote its JSON report with
# zero failed requests (Create, Get and Update, each against the service and its baseline; and
# that spans reached the OTLP receiver of the telemetry scenarios),
# and that each criterion micro-benchmark runs once. Figures from this run mean nothing; the full run is the command in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
out=target/bench/smoke.json
rm -f "$out"

cargo test --locked --bench loadgen -- --scenario smoke --fail-on-errors --out "$out"

python3 - "$out" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
scenarios = report["scenarios"]
assert scenarios, "no scenario ran"
failed = {s["name"]: s["errors"] for s in scenarios if s["errors_total"]}
assert not failed, f"requests failed: {failed}"
idle = [s["name"] for s in scenarios if s["requests_ok"] == 0]
assert not idle, f"scenarios without a completed request: {idle}"
import re
ran = {(s["rpc"], s["target"]) for s in scenarios}
missing = [p for p in [(r, t) for r in ("Create", "Get", "Update") for t in ("baseline", "service")] if p not in ran]
assert not missing, f"no scenario of {missing}"
exporting = [s for s in scenarios if s["name"].endswith("-otlp")]
assert exporting, "the telemetry-overhead scenarios did not run"
for s in exporting:
    spans = [int(m.group(1)) for n in s["notes"] for m in [re.search(r"(\d+) spans of", n)] if m]
    assert spans and spans[0] > 0, f"{s['name']}: no span reached the OTLP receiver: {s['notes']}"
print(f"bench smoke: {len(scenarios)} scenarios, {sum(s['requests_ok'] for s in scenarios)} requests, 0 errors")
PY

# criterion runs each micro-benchmark once under `cargo test`.
cargo test --locked --bench hot_paths
