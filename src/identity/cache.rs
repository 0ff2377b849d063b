//! One cached token per tenant credential.
//! - Concurrent misses for a tenant share one token request (moka's coalescing entry API);
//!   failures are not cached.
//! - Refresh-ahead: once a token has passed `refresh_fraction` of its lifetime (or the response's
//!   `refresh_in`), the next call starts one background refresh and keeps using the old token, so
//!   at steady state no call waits for a token. A failed refresh is retried with backoff until
//!   the old token expires; only then do callers see errors.
//! - Bounded: at most `max_cached_tenants` entries, and an entry unused for `idle_eviction` goes.
//! - An entry expires `token_refresh_margin` before its token does (at most half the lifetime).

use std::{
    collections::HashSet,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use backon::{ExponentialBuilder, Retryable};
use moka::{future::Cache, Expiry};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::{client::TokenClient, credential::TenantCredential, error::IdentityError};
use crate::domain::TenantId;

/// A bearer token, shared by every call that uses it. `Debug` never prints the value.
pub struct AccessToken {
    secret: SecretString,
    /// How long the cache may hand it out.
    cache_for: Duration,
    /// When a call should start a background refresh.
    refresh_at: Instant,
    /// When the cache stops handing it out.
    usable_until: Instant,
}

impl AccessToken {
    pub fn bearer(&self) -> &str {
        self.secret.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("cache_for", &self.cache_for).finish_non_exhaustive()
    }
}

struct ExpireWithToken;

impl Expiry<TenantId, Arc<AccessToken>> for ExpireWithToken {
    fn expire_after_create(&self, _: &TenantId, token: &Arc<AccessToken>, _: std::time::Instant) -> Option<Duration> {
        Some(token.cache_for)
    }
}

/// How tokens are cached and refreshed.
#[derive(Clone, Copy, Debug)]
pub struct TokenPolicy {
    pub refresh_margin: Duration,
    pub refresh_fraction: f64,
    pub max_cached_tenants: u64,
    pub idle_eviction: Duration,
}

/// Where a call's token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Cache,
    IdentityPlatform,
}

/// Hands out tokens per tenant, from the cache or from the identity platform. Cheap to clone.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    cache: Cache<TenantId, Arc<AccessToken>>,
    client: TokenClient,
    policy: TokenPolicy,
    /// Tenants with a background refresh under way (one at a time each).
    refreshing: Mutex<HashSet<TenantId>>,
}

impl TokenProvider {
    pub fn new(client: TokenClient, policy: TokenPolicy) -> Self {
        let cache = Cache::builder()
            .max_capacity(policy.max_cached_tenants)
            .time_to_idle(policy.idle_eviction)
            .expire_after(ExpireWithToken)
            .build();
        TokenProvider { inner: Arc::new(Inner { cache, client, policy, refreshing: Mutex::new(HashSet::new()) }) }
    }

    /// A valid token for the tenant, fetched at most once for all concurrent callers.
    /// Transient identity-platform failures are retried while `deadline` leaves room.
    pub async fn token(
        &self,
        credential: &Arc<TenantCredential>,
        deadline: Instant,
    ) -> Result<(Arc<AccessToken>, TokenSource), Arc<IdentityError>> {
        // The hit path first, without building the fetch future (it would make every call's
        // future several KB larger); misses take the coalescing entry API, boxed.
        let token = match self.inner.cache.get(&credential.tenant).await {
            Some(token) => token,
            None => {
                let entry = Box::pin(
                    self.inner
                        .cache
                        .entry(credential.tenant)
                        .or_try_insert_with(self.inner.fetch(credential, deadline)),
                )
                .await?;
                if entry.is_fresh() {
                    return Ok((entry.into_value(), TokenSource::IdentityPlatform));
                }
                entry.into_value()
            }
        };
        if Instant::now() >= token.refresh_at {
            self.refresh_in_background(credential.clone());
        }
        Ok((token, TokenSource::Cache))
    }

    /// Drops `stale` (a token Graph refused) unless another caller already replaced it, so a
    /// burst of 401s costs one new token, not one each.
    pub async fn invalidate(&self, tenant: TenantId, stale: &Arc<AccessToken>) {
        if let Some(current) = self.inner.cache.get(&tenant).await {
            if Arc::ptr_eq(&current, stale) {
                self.inner.cache.invalidate(&tenant).await;
            }
        }
    }

    /// Drops the tenant's token (its credential changed or it was removed).
    pub async fn forget(&self, tenant: TenantId) {
        self.inner.cache.invalidate(&tenant).await;
    }

    /// Number of cached tokens (after pending evictions).
    pub async fn cached_tenants(&self) -> u64 {
        self.inner.cache.run_pending_tasks().await;
        self.inner.cache.entry_count()
    }

    fn refresh_in_background(&self, credential: Arc<TenantCredential>) {
        let tenant = credential.tenant;
        let mut refreshing = self.inner.refreshing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !refreshing.insert(tenant) {
            return;
        }
        drop(refreshing);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            inner.refresh(&credential).await;
            inner.refreshing.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&tenant);
        });
    }
}

impl Inner {
    async fn fetch(&self, credential: &TenantCredential, deadline: Instant) -> Result<Arc<AccessToken>, IdentityError> {
        let attempt = || async {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(IdentityError::DeadlineExceeded);
            }
            let result = self.client.request(credential, remaining).await;
            let outcome = match &result {
                Ok(_) => "success",
                Err(IdentityError::Rejected { .. }) => "rejected",
                Err(IdentityError::Unavailable { .. }) => "unavailable",
                Err(IdentityError::CredentialUnreadable { .. }) => "credential_unreadable",
                Err(IdentityError::InvalidResponse { .. }) => "invalid_response",
                Err(IdentityError::DeadlineExceeded) => "deadline_exceeded",
            };
            crate::telemetry::metrics().token_requests.add(
                1,
                &[
                    opentelemetry::KeyValue::new("tenant_id", credential.tenant.to_string()),
                    opentelemetry::KeyValue::new("outcome", outcome),
                ],
            );
            result
        };
        let issued = attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(5))
                    .with_max_times(3)
                    .with_jitter(),
            )
            .sleep(tokio::time::sleep)
            .when(IdentityError::is_transient)
            .adjust(|err, delay| {
                let delay = delay?;
                let delay = match err {
                    IdentityError::Unavailable { retry_after: Some(after), .. } => *after,
                    _ => delay,
                };
                (Instant::now() + delay < deadline).then_some(delay)
            })
            .notify(|err, delay| tracing::warn!(tenant_id = %credential.tenant, error = %err, ?delay, "retrying token request"))
            .await?;
        tracing::info!(
            tenant_id = %credential.tenant,
            credential = credential.source.kind(),
            expires_in_s = issued.expires_in.as_secs(),
            "acquired an access token"
        );
        let now = Instant::now();
        let cache_for = self.cache_lifetime(issued.expires_in);
        let refresh_after =
            issued.refresh_in.unwrap_or_else(|| issued.expires_in.mul_f64(self.policy.refresh_fraction)).min(cache_for);
        Ok(Arc::new(AccessToken {
            secret: issued.access_token,
            cache_for,
            refresh_at: now + refresh_after,
            usable_until: now + cache_for,
        }))
    }

    /// Replaces the tenant's token while the old one keeps serving; retries until it expires.
    async fn refresh(&self, credential: &TenantCredential) {
        let Some(current) = self.cache.get(&credential.tenant).await else { return };
        let mut delay = Duration::from_secs(1);
        loop {
            match self.fetch(credential, current.usable_until).await {
                Ok(token) => {
                    self.cache.insert(credential.tenant, token).await;
                    tracing::debug!(tenant_id = %credential.tenant, "token refreshed ahead of expiry");
                    return;
                }
                Err(e) => {
                    let retry_at = Instant::now() + delay;
                    tracing::warn!(
                        tenant_id = %credential.tenant,
                        error = %e,
                        retry_in = ?delay,
                        "background token refresh failed; the current token keeps serving"
                    );
                    if retry_at >= current.usable_until {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    /// The token's lifetime less the margin, but never less than half the lifetime, so
    /// short-lived tokens are still reused.
    fn cache_lifetime(&self, expires_in: Duration) -> Duration {
        expires_in.saturating_sub(self.policy.refresh_margin).max(expires_in / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetime_keeps_a_margin() {
        // reqwest is built without a default crypto provider; alone, this test must install one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let provider = TokenProvider::new(
            TokenClient::new(reqwest::Client::new()),
            TokenPolicy {
                refresh_margin: Duration::from_secs(300),
                refresh_fraction: 0.5,
                max_cached_tenants: 10,
                idle_eviction: Duration::from_secs(60),
            },
        );
        let inner = &provider.inner;
        assert_eq!(inner.cache_lifetime(Duration::from_secs(3599)), Duration::from_secs(3299));
        assert_eq!(inner.cache_lifetime(Duration::from_secs(400)), Duration::from_secs(200));
        assert_eq!(inner.cache_lifetime(Duration::from_secs(2)), Duration::from_secs(1));
    }
}
