//! Overload protection, so that callers flooding the service or one broken tenant cannot take it
//! down for everyone:
//! - a global and a per-tenant bound on Create calls in flight; past either, calls fail at once
//!   with RESOURCE_EXHAUSTED and a RetryInfo instead of queueing without bound;
//! - a per-tenant circuit breaker: after `breaker_failures` consecutive Graph failures that say
//!   "Graph is broken for this tenant" (5xx, unreachable, timeouts), calls for that tenant fail
//!   fast with UNAVAILABLE for `breaker_cooldown`; then one call probes, and a success closes it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use crate::{config::LimitsSettings, domain::TenantId};

/// Why a call was refused before any work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the service is at its limit of {limit} calls in flight")]
    GlobalLimit { limit: usize },
    #[error("this tenant is at its limit of {limit} calls in flight")]
    TenantLimit { limit: usize },
    #[error("Graph has failed repeatedly for this tenant; calls are refused for {retry_after:?} before a new try")]
    CircuitOpen { retry_after: Duration },
}

/// Holds a call's places in the limits until it ends.
pub struct Admission {
    _global: OwnedSemaphorePermit,
    _tenant: OwnedSemaphorePermit,
}

pub struct Limits {
    settings: LimitsSettings,
    global: Arc<Semaphore>,
    tenants: Mutex<HashMap<TenantId, TenantState>>,
}

struct TenantState {
    in_flight: Arc<Semaphore>,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl Limits {
    pub fn new(settings: LimitsSettings) -> Self {
        Limits {
            global: Arc::new(Semaphore::new(settings.max_in_flight)),
            settings,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a call for `tenant`, or says why not, without waiting.
    pub fn admit(&self, tenant: TenantId) -> Result<Admission, Refusal> {
        let tenant_permit = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            let state = tenants.entry(tenant).or_insert_with(|| TenantState {
                in_flight: Arc::new(Semaphore::new(self.settings.max_in_flight_per_tenant)),
                consecutive_failures: 0,
                open_until: None,
                probing: false,
            });
            if let Some(until) = state.open_until {
                let now = Instant::now();
                if now < until {
                    return Err(Refusal::CircuitOpen { retry_after: until - now });
                }
                // Half-open: one call probes; the others keep failing fast until it answers.
                if state.probing {
                    return Err(Refusal::CircuitOpen { retry_after: self.settings.breaker_cooldown });
                }
                state.probing = true;
            }
            state
                .in_flight
                .clone()
                .try_acquire_owned()
                .map_err(|_| Refusal::TenantLimit { limit: self.settings.max_in_flight_per_tenant })?
        };
        let global = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::GlobalLimit { limit: self.settings.max_in_flight })?;
        Ok(Admission { _global: global, _tenant: tenant_permit })
    }

    /// Records how Graph behaved for the tenant; `broken` failures count towards opening.
    pub fn record(&self, tenant: TenantId, outcome: Outcome) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let Some(state) = tenants.get_mut(&tenant) else { return };
        match outcome {
            Outcome::Healthy => {
                state.consecutive_failures = 0;
                state.open_until = None;
                state.probing = false;
            }
            Outcome::Broken => {
                state.consecutive_failures += 1;
                if state.probing || state.consecutive_failures >= self.settings.breaker_failures {
                    if state.open_until.is_none() || state.probing {
                        tracing::warn!(tenant_id = %tenant, failures = state.consecutive_failures, cooldown = ?self.settings.breaker_cooldown, "circuit opened for tenant");
                    }
                    state.open_until = Some(Instant::now() + self.settings.breaker_cooldown);
                    state.probing = false;
                }
            }
            Outcome::Neutral => state.probing = false,
        }
    }
}

/// What a call says about Graph's health for its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Graph answered (success, or a 4xx about the request itself).
    Healthy,
    /// Graph failed in a way that points at Graph (5xx, unreachable, timeout).
    Broken,
    /// Nothing learned (validation, identity platform, caller's deadline).
    Neutral,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(global: usize, per_tenant: usize) -> Limits {
        Limits::new(LimitsSettings {
            max_in_flight: global,
            max_in_flight_per_tenant: per_tenant,
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(30),
        })
    }

    fn tenant(n: u8) -> TenantId {
        TenantId::parse("t", &format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
    }

    #[test]
    fn in_flight_limits_fail_fast_and_free_on_drop() {
        let limits = limits(3, 2);
        let a = limits.admit(tenant(1)).unwrap();
        let _b = limits.admit(tenant(1)).unwrap();
        assert_eq!(limits.admit(tenant(1)).err(), Some(Refusal::TenantLimit { limit: 2 }));
        let _c = limits.admit(tenant(2)).unwrap();
        assert_eq!(limits.admit(tenant(3)).err(), Some(Refusal::GlobalLimit { limit: 3 }));
        drop(a);
        assert!(limits.admit(tenant(1)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_for_one_tenant_only_then_probes() {
        let limits = limits(100, 100);
        for _ in 0..3 {
            drop(limits.admit(tenant(1)).unwrap());
            limits.record(tenant(1), Outcome::Broken);
        }
        assert!(matches!(limits.admit(tenant(1)), Err(Refusal::CircuitOpen { .. })));
        assert!(limits.admit(tenant(2)).is_ok(), "other tenants are not affected");

        tokio::time::advance(Duration::from_secs(31)).await;
        let probe = limits.admit(tenant(1)).expect("one probe after the cooldown");
        assert!(matches!(limits.admit(tenant(1)), Err(Refusal::CircuitOpen { .. })), "only one probe");
        drop(probe);
        limits.record(tenant(1), Outcome::Broken);
        assert!(matches!(limits.admit(tenant(1)), Err(Refusal::CircuitOpen { .. })), "a failed probe reopens");

        tokio::time::advance(Duration::from_secs(31)).await;
        drop(limits.admit(tenant(1)).unwrap());
        limits.record(tenant(1), Outcome::Healthy);
        assert!(limits.admit(tenant(1)).is_ok());
        assert!(limits.admit(tenant(1)).is_ok(), "closed again");
    }

    #[test]
    fn healthy_answers_reset_the_count() {
        let limits = limits(100, 100);
        for outcome in [Outcome::Broken, Outcome::Broken, Outcome::Healthy, Outcome::Broken, Outcome::Broken] {
            drop(limits.admit(tenant(1)).unwrap());
            limits.record(tenant(1), outcome);
        }
        assert!(limits.admit(tenant(1)).is_ok());
    }
}
