//! The flow of one Create after authorization and validation: admit -> token (cache) -> Graph,
//! retrying only what cannot duplicate a meeting:
//! - 429 and 503 (Graph did not process the request) and connection failures before sending,
//!   honoring `Retry-After`, with jittered exponential backoff, while the deadline leaves room;
//! - 401 once, with a fresh token;
//! - 500, 502, 504 and connections lost after sending only when `external_id` makes the create
//!   idempotent (createOrGet returns the meeting a lost attempt may have created).

use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use opentelemetry::KeyValue;
use tokio::time::Instant;
use tracing::Instrument;

use crate::{
    auth::Caller,
    domain::{AcceptLanguage, CreateMeeting, MeetingCreated, TenantId, UserId},
    error::Error,
    graph::{CreateOutcome, GraphClient, GraphError, GraphRequest},
    identity::{AccessToken, TenantCredential, TokenProvider, TokenSource},
    limits::{Limits, Outcome},
    telemetry,
    tenants::Tenant,
};

/// Below this much time left, another attempt could not finish: give up and report.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(50);

/// A create on its way to Graph: the meeting already encoded, so that a call waiting on Graph
/// keeps its JSON body (a few hundred bytes) rather than the validated meeting (several KB).
struct GraphCall {
    tenant: TenantId,
    organizer: UserId,
    language: Option<AcceptLanguage>,
    /// createOrGet, keyed by the meeting's externalId.
    create_or_get: bool,
    body: Bytes,
}

impl GraphCall {
    fn new(command: CreateMeeting) -> Self {
        let create_or_get = command.is_idempotent();
        let CreateMeeting { tenant, organizer, meeting, language } = command;
        GraphCall { tenant, organizer, language, create_or_get, body: GraphClient::encode(&meeting) }
    }
}

pub struct Pipeline {
    limits: Limits,
    tokens: TokenProvider,
    retry: ExponentialBuilder,
}

/// What a call carries besides its request.
#[derive(Clone, Debug)]
pub struct CallContext {
    pub caller: Caller,
    pub deadline: Instant,
    /// Sent to Graph as `client-request-id` on every attempt of this call.
    pub client_request_id: String,
}

impl Pipeline {
    pub fn new(tokens: TokenProvider, limits: Limits, max_retries: usize) -> Self {
        let retry = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(8))
            .with_factor(2.0)
            .with_max_times(max_retries)
            .with_jitter();
        Pipeline { limits, tokens, retry }
    }

    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// Creates the meeting of an authorized, validated command in `tenant`.
    pub async fn create(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        command: CreateMeeting,
    ) -> Result<MeetingCreated, Error> {
        let _admission = self.limits.admit(command.tenant).map_err(Error::Refused)?;
        let budget = ctx.deadline.saturating_duration_since(Instant::now());
        let call = GraphCall::new(command);
        let result = self.run(ctx, tenant, &call).await;
        self.limits.record(call.tenant, graph_health(&result, budget));
        result
    }

    async fn run(&self, ctx: &CallContext, tenant: &Tenant, call: &GraphCall) -> Result<MeetingCreated, Error> {
        let idempotent = call.create_or_get;
        let attempts = AtomicU32::new(0);
        let attempt = || self.attempt(ctx, tenant, call, attempts.fetch_add(1, Ordering::Relaxed));
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
            .notify(|e, delay| {
                let reason = match e {
                    Error::Graph { source } => source.status().map_or("connect".to_owned(), |s| s.to_string()),
                    _ => "other".to_owned(),
                };
                telemetry::metrics()
                    .graph_retries
                    .add(1, &[KeyValue::new("reason", reason), KeyValue::new("tenant_id", call.tenant.to_string())]);
                tracing::warn!(error = %e, ?delay, "retrying Graph call");
            })
            .await?;
        Ok(MeetingCreated { meeting: outcome.meeting, created: outcome.created, graph_request_id: outcome.request_id })
    }

    async fn attempt(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        call: &GraphCall,
        attempt: u32,
    ) -> Result<CreateOutcome, Error> {
        let id = call.tenant;
        let credential = &tenant.credential;
        let token = self.token(credential, ctx.deadline).await?;
        match self.send(ctx, &tenant.graph, call, token.bearer(), attempt).await {
            Err(Error::Graph { source }) if source.status() == Some(401) => {
                tracing::info!(tenant_id = %id, "Graph refused the token; retrying once with a new one");
                self.tokens.invalidate(id, &token).await;
                let token = self.token(credential, ctx.deadline).await?;
                self.send(ctx, &tenant.graph, call, token.bearer(), attempt + 1).await
            }
            other => other,
        }
    }

    /// The tenant's token, in a span that says where it came from (never the token).
    async fn token(&self, credential: &Arc<TenantCredential>, deadline: Instant) -> Result<Arc<AccessToken>, Error> {
        let span = tracing::info_span!(
            "token",
            tenant_id = %credential.tenant,
            credential = credential.source.kind(),
            token.source = tracing::field::Empty,
        );
        let result = self.tokens.token(credential, deadline).instrument(span.clone()).await;
        let tenant = KeyValue::new("tenant_id", credential.tenant.to_string());
        match result {
            Ok((token, source)) => {
                let hit = source == TokenSource::Cache;
                span.record("token.source", if hit { "cache" } else { "identity_platform" });
                telemetry::metrics()
                    .token_cache
                    .add(1, &[tenant, KeyValue::new("result", if hit { "hit" } else { "miss" })]);
                Ok(token)
            }
            Err(source) => {
                span.record("token.source", "error");
                telemetry::metrics().token_cache.add(1, &[tenant, KeyValue::new("result", "miss")]);
                Err(Error::Identity { tenant: credential.tenant, source })
            }
        }
    }

    async fn send(
        &self,
        ctx: &CallContext,
        graph: &GraphClient,
        call: &GraphCall,
        bearer: &str,
        attempt: u32,
    ) -> Result<CreateOutcome, Error> {
        let remaining = ctx.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::DeadlineExceeded { reached_graph: false });
        }
        let request = GraphRequest {
            organizer: &call.organizer,
            // The same bytes on every attempt (a reference-counted clone).
            body: call.body.clone(),
            create_or_get: call.create_or_get,
            accept_language: call.language.as_ref(),
            client_request_id: &ctx.client_request_id,
            bearer,
            timeout: remaining,
        };
        let route = GraphClient::route(request.create_or_get);
        let span = tracing::info_span!(
            "graph.create",
            otel.name = format!("POST {route}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = "POST",
            url.template = route,
            server.address = graph.host(),
            http.request.resend_count = attempt,
            http.response.status_code = tracing::field::Empty,
            graph.request_id = tracing::field::Empty,
            graph.client_request_id = %ctx.client_request_id,
        );
        let started = Instant::now();
        let result = graph.create(&request).instrument(span.clone()).await;
        let status = match &result {
            Ok(outcome) => {
                if let Some(id) = &outcome.request_id {
                    span.record("graph.request_id", id.as_str());
                }
                Some(if outcome.created { 201 } else { 200 })
            }
            Err(e) => {
                span.record("otel.status_code", "ERROR");
                if let Some(id) = e.request_id() {
                    span.record("graph.request_id", id);
                }
                e.status()
            }
        };
        if let Some(status) = status {
            span.record("http.response.status_code", status);
        }
        telemetry::metrics().graph_duration.record(
            started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("http.response.status_code", status.map_or(0, i64::from)),
                KeyValue::new("url.template", route),
                KeyValue::new("tenant_id", call.tenant.to_string()),
            ],
        );
        result.map_err(|source| match source {
            GraphError::Timeout => Error::DeadlineExceeded { reached_graph: true },
            source => Error::Graph { source },
        })
    }
}

/// A deadline that runs out while Graph works is Graph's failure only when Graph had at least
/// this long: a create normally takes well under a second, and a caller's own short deadline
/// must not open the tenant's circuit for every other caller.
const SLOW_GRAPH: Duration = Duration::from_secs(10);

/// What a call's result says about Graph's health for the tenant (the circuit breaker's input);
/// `budget` is the time the call gave Graph.
fn graph_health<T>(result: &Result<T, Error>, budget: Duration) -> Outcome {
    match result {
        Ok(_) => Outcome::Healthy,
        Err(Error::Graph { source }) => match source.status() {
            Some(status) if status >= 500 => Outcome::Broken,
            Some(_) => Outcome::Healthy,
            None => Outcome::Broken,
        },
        Err(Error::DeadlineExceeded { reached_graph: true }) if budget >= SLOW_GRAPH => Outcome::Broken,
        Err(_) => Outcome::Neutral,
    }
}

fn is_retryable(error: &Error, idempotent: bool) -> bool {
    match error {
        Error::Graph { source } => source.is_unprocessed() || (idempotent && source.may_have_been_processed()),
        _ => false,
    }
}
