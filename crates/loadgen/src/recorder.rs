//! The outcome of every measured request: latency histograms (HDR, sharded by slot), the
//! count of successes, failures by label, and the requests in flight.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Mutex, PoisonError,
    },
    time::Duration,
};

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, up to a minute, with 3 significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;
/// Histograms per recorder: requests record into the shard of their slot, so that concurrent
/// workers rarely wait on the same lock.
const SHARDS: usize = 64;

/// Collects the outcome of every measured request.
pub(crate) struct Recorder {
    pub(crate) shards: Vec<Mutex<Histogram<u64>>>,
    pub(crate) from_send: Vec<Mutex<Histogram<u64>>>,
    pub(crate) errors: Mutex<BTreeMap<String, u64>>,
    pub(crate) ok: AtomicU64,
    pub(crate) in_flight: AtomicI64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_LATENCY_US)
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder {
            shards: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            from_send: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            errors: Mutex::new(BTreeMap::new()),
            ok: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
        }
    }

    pub(crate) fn record(
        &self,
        shard: usize,
        outcome: Result<(), String>,
        latency: Duration,
        from_send: Option<Duration>,
    ) {
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

    pub(crate) fn error(&self, label: String) {
        *self.errors.lock().unwrap_or_else(PoisonError::into_inner).entry(label).or_default() += 1;
    }

    pub(crate) fn merged(shards: &[Mutex<Histogram<u64>>]) -> Histogram<u64> {
        let mut all = histogram();
        for shard in shards {
            let _ = all.add(&*shard.lock().unwrap_or_else(PoisonError::into_inner));
        }
        all
    }
}
