//! The flow of one Create after validation: authorize the tenant -> token (cache) -> Graph,
//! retrying only what cannot duplicate a meeting:
//! - 429 and 503 (Graph did not process the request) and connection failures before sending,
//!   honoring `Retry-After`, with jittered exponential backoff, while the deadline leaves room;
//! - 401 once, with a fresh token;
//! - 500, 502, 504 and connections lost after sending only when `external_id` makes the create
//!   idempotent (createOrGet returns the meeting a lost attempt may have created).

use std::{collections::HashMap, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use tokio::time::Instant;
use tracing::Instrument;

use crate::{
    config::{AuthMode, Cloud},
    domain::{self, CreateMeeting, MeetingCreated, TenantId, ValidationError},
    error::Error,
    graph::{CreateOutcome, GraphClient, GraphError, GraphRequest},
    identity::{TenantCredential, TokenProvider},
};

/// A configured tenant: its credential, its Graph endpoint, its cloud.
#[derive(Debug)]
pub struct Tenant {
    pub credential: Arc<TenantCredential>,
    pub graph: GraphClient,
    pub cloud: Cloud,
}

/// The configured tenants, replaced as a whole when configuration or credentials change.
pub type Tenants = HashMap<TenantId, Arc<Tenant>>;

/// Below this much time left, another attempt could not finish: give up and report.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(50);

pub struct Pipeline {
    tenants: ArcSwap<Tenants>,
    tokens: TokenProvider,
    auth_mode: AuthMode,
    retry: ExponentialBuilder,
}

/// What a call carries besides its request.
#[derive(Clone, Debug)]
pub struct CallContext {
    pub deadline: Instant,
    /// Sent to Graph as `client-request-id` on every attempt of this call.
    pub client_request_id: String,
}

impl Pipeline {
    pub fn new(tenants: Tenants, tokens: TokenProvider, auth_mode: AuthMode, max_retries: usize) -> Self {
        let retry = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(8))
            .with_factor(2.0)
            .with_max_times(max_retries)
            .with_jitter();
        Pipeline { tenants: ArcSwap::from_pointee(tenants), tokens, auth_mode, retry }
    }

    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    pub fn tenants(&self) -> Arc<Tenants> {
        self.tenants.load_full()
    }

    /// Swaps in a new set of tenants; calls in flight finish with the tenant they started with.
    pub fn replace_tenants(&self, tenants: Tenants) {
        self.tenants.store(Arc::new(tenants));
    }

    pub async fn create(&self, ctx: &CallContext, command: CreateMeeting) -> Result<MeetingCreated, Error> {
        let tenant = self.authorize(&command)?;
        if matches!(tenant.cloud, Cloud::Usgov | Cloud::UsgovDod) {
            let violations = domain::unsupported_in_us_government(&command.meeting);
            if !violations.is_empty() {
                return Err(ValidationError::from(violations).into());
            }
        }
        let idempotent = command.is_idempotent();
        let body = GraphClient::encode(&command.meeting);
        let attempt = || self.attempt(ctx, &tenant, &command, body.clone());
        let outcome = attempt
            .retry(self.retry)
            .sleep(tokio::time::sleep)
            .when(|e| is_retryable(e, idempotent))
            .adjust(|e, backoff| {
                // `None`: the retries are used up.
                let backoff = backoff?;
                let delay = match e {
                    Error::Graph { source } => source.retry_after().unwrap_or(backoff),
                    _ => backoff,
                };
                (Instant::now() + delay + MIN_ATTEMPT_TIME < ctx.deadline).then_some(delay)
            })
            .notify(|e, delay| tracing::warn!(error = %e, ?delay, "retrying Graph call"))
            .await?;
        Ok(MeetingCreated { meeting: outcome.meeting, created: outcome.created, graph_request_id: outcome.request_id })
    }

    /// Until caller policies exist, `auth.mode = "none"` is the only way in (fail closed); an
    /// unconfigured tenant is refused the same way.
    fn authorize(&self, command: &CreateMeeting) -> Result<Arc<Tenant>, Error> {
        match self.auth_mode {
            AuthMode::None => self.tenants.load().get(&command.tenant).cloned().ok_or(Error::NotPermitted),
            AuthMode::Policy => Err(Error::NotPermitted),
        }
    }

    async fn attempt(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        command: &CreateMeeting,
        body: Bytes,
    ) -> Result<CreateOutcome, Error> {
        let id = command.tenant;
        let credential = &tenant.credential;
        let (token, _) = self
            .tokens
            .token(credential, ctx.deadline)
            .instrument(tracing::debug_span!("token", tenant_id = %id, credential = credential.source.kind()))
            .await
            .map_err(|source| Error::Identity { tenant: id, source })?;
        match self.send(ctx, &tenant.graph, command, body.clone(), token.bearer()).await {
            Err(Error::Graph { source }) if source.status() == Some(401) => {
                tracing::info!(tenant_id = %id, "Graph refused the token; retrying once with a new one");
                self.tokens.invalidate(id, &token).await;
                let (token, _) = self
                    .tokens
                    .token(credential, ctx.deadline)
                    .await
                    .map_err(|source| Error::Identity { tenant: id, source })?;
                self.send(ctx, &tenant.graph, command, body, token.bearer()).await
            }
            other => other,
        }
    }

    async fn send(
        &self,
        ctx: &CallContext,
        graph: &GraphClient,
        command: &CreateMeeting,
        body: Bytes,
        bearer: &str,
    ) -> Result<CreateOutcome, Error> {
        let remaining = ctx.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::DeadlineExceeded { reached_graph: false });
        }
        let request = GraphRequest {
            organizer: &command.organizer,
            body,
            create_or_get: command.is_idempotent(),
            accept_language: command.language.as_ref(),
            client_request_id: &ctx.client_request_id,
            bearer,
            timeout: remaining,
        };
        let span = tracing::debug_span!(
            "graph.create",
            http.route = GraphClient::route(request.create_or_get),
            http.status_code = tracing::field::Empty,
            graph.request_id = tracing::field::Empty,
        );
        let result = graph.create(&request).instrument(span.clone()).await;
        match &result {
            Ok(outcome) => {
                span.record("http.status_code", if outcome.created { 201 } else { 200 });
                if let Some(id) = &outcome.request_id {
                    span.record("graph.request_id", id.as_str());
                }
            }
            Err(e) => {
                if let Some(status) = e.status() {
                    span.record("http.status_code", status);
                }
                if let Some(id) = e.request_id() {
                    span.record("graph.request_id", id);
                }
            }
        }
        result.map_err(|source| match source {
            GraphError::Timeout => Error::DeadlineExceeded { reached_graph: true },
            source => Error::Graph { source },
        })
    }
}

fn is_retryable(error: &Error, idempotent: bool) -> bool {
    match error {
        Error::Graph { source } => source.is_unprocessed() || (idempotent && source.may_have_been_processed()),
        _ => false,
    }
}
