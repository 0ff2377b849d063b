//! The benchmark's tenants (emulated, each a `[[tenants]]` entry of the service with a secret
//! file), the service's settings for them, and the check that the service asked for one token
//! per tenant.

use std::path::{Path, PathBuf};

use meeting_emulator::{EmulatedTenant, Emulator};
use meeting_service::{
    config::{Settings, TenantSettings},
    dev::settings_for,
};

use crate::report::TokenCheck;

/// A tenant of both the emulator and the service, its secret in a file as production reads it.
pub(crate) struct BenchTenant {
    pub(crate) emulated: EmulatedTenant,
    pub(crate) secret_file: PathBuf,
}

/// `n` tenants: the dev tenant, then tenants with fresh ids and secrets; secrets written to `dir`.
pub(crate) fn bench_tenants(dir: &Path, n: usize) -> Vec<BenchTenant> {
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
pub(crate) fn settings(emulator: &Emulator, tenants: &[BenchTenant], graph_http2: bool) -> Settings {
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

pub(crate) fn token_check(emulator: &Emulator, tenants: &[BenchTenant], before: &[usize]) -> TokenCheck {
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

pub(crate) fn token_counts(emulator: &Emulator, tenants: &[BenchTenant]) -> Vec<usize> {
    tenants.iter().map(|t| emulator.token_requests(&t.emulated.tenant_id)).collect()
}
