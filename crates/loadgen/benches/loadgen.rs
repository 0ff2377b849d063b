//! `cargo bench --bench loadgen -- --scenario all|smoke|...`: the load benchmark (BENCHMARKS.md).
//! A bench target so that the command stays `cargo bench`; the benchmark is the crate's `main`.

fn main() {
    meeting_loadgen::main();
}
