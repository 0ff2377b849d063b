//! The flow of a call after authorization and validation: admit -> token (cache) -> Graph, for
//! every operation on a meeting (create, createOrGet, get, find, update, delete), retrying only
//! what cannot duplicate or lose anything:
//! - 429 and 503 (Graph did not process the request) and connection failures before sending,
//!   honoring `Retry-After`, with jittered exponential backoff, while the deadline leaves room;
//! - 401 once, with a fresh token;
//! - 500, 502, 504 and connections lost after sending only when the operation is idempotent
//!   (`graph::Operation::is_idempotent`: everything but a plain create; createOrGet returns the
//!   meeting a lost attempt may have created).

use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use backon::{ExponentialBuilder, Retryable};
use opentelemetry::KeyValue;
use tokio::time::Instant;
use tracing::Instrument;

use crate::{
    auth::Caller,
    domain::{
        AcceptLanguage, CancelEvent, CreateMeeting, DeleteMeeting, EventCancelled, FindKey, FindMeeting, GetMeeting,
        MeetingCreated, MeetingDeleted, MeetingFound, MeetingScheduled, OnlineMeeting, ResourceId, ScheduleMeeting,
        TenantId, UpdateMeeting, UserId,
    },
    error::Error,
    graph::{encode_cancel, encode_event, GraphAnswer, GraphClient, GraphError, GraphOutcome, GraphRequest, Operation},
    identity::{AccessToken, TenantCredential, TokenProvider, TokenSource},
    limits::{Limits, Outcome},
    telemetry,
    tenants::Tenant,
};

/// A calendar meeting may be listed a moment after its event is made: the first look again
/// waits this long, each next one twice as long, up to `MAX_LOOKUP_WAIT`.
const FIRST_LOOKUP_WAIT: Duration = Duration::from_millis(250);
const MAX_LOOKUP_WAIT: Duration = Duration::from_secs(2);

/// Below this much time left, another attempt could not finish: give up and report.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(50);

/// An operation on its way to Graph: a meeting already encoded, so that a call waiting on Graph
/// keeps its JSON body (a few hundred bytes) rather than the validated meeting (several KB).
struct GraphCall {
    tenant: TenantId,
    organizer: UserId,
    language: Option<AcceptLanguage>,
    operation: Operation,
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

    /// Creates the meeting of an authorized, validated command in `tenant`. With an external id:
    /// createOrGet with the properties it takes, then a PATCH of the others onto the meeting it
    /// returned, new or existing (so a retry after a failure between the two completes it).
    pub async fn create(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        command: CreateMeeting,
    ) -> Result<MeetingCreated, Error> {
        let _admission = self.limits.admit(command.tenant).map_err(Error::Refused)?;
        let to_patch = command.properties_to_patch();
        let CreateMeeting { tenant: tenant_id, organizer, meeting, language } = command;
        let (operation, patch) = if meeting.external_id.is_none() {
            (Operation::Create { body: GraphClient::encode(&meeting) }, None)
        } else if to_patch.is_empty() {
            (Operation::CreateOrGet { body: GraphClient::encode(&meeting) }, None)
        } else {
            let parameters = meeting.set_properties(|p| p.create_or_get);
            let body = GraphClient::encode_properties(&meeting, &parameters);
            (Operation::CreateOrGet { body }, Some(GraphClient::encode_properties(&meeting, &to_patch)))
        };
        // Only the encoded bodies wait on Graph.
        drop(meeting);
        let mut call = GraphCall { tenant: tenant_id, organizer, language, operation };
        let (meeting, created, request_id) = self.meeting(ctx, tenant, &call).await?;
        let Some(body) = patch else {
            return Ok(MeetingCreated { meeting, created, graph_request_id: request_id });
        };
        call.operation = Operation::Update { meeting: meeting_id(&meeting, &request_id)?, body };
        let (meeting, _, graph_request_id) = self.meeting(ctx, tenant, &call).await?;
        Ok(MeetingCreated { meeting, created, graph_request_id })
    }

    /// The meeting with the command's id.
    pub async fn get(&self, ctx: &CallContext, tenant: &Tenant, command: GetMeeting) -> Result<MeetingFound, Error> {
        let _admission = self.limits.admit(command.target.tenant).map_err(Error::Refused)?;
        let GetMeeting { target, language } = command;
        let operation = Operation::Get { meeting: target.meeting };
        let call = GraphCall { tenant: target.tenant, organizer: target.organizer, language, operation };
        let (meeting, _, graph_request_id) = self.meeting(ctx, tenant, &call).await?;
        Ok(MeetingFound { meeting, graph_request_id })
    }

    /// The organizer's meeting with the command's join link or join meeting id.
    pub async fn find(&self, ctx: &CallContext, tenant: &Tenant, command: FindMeeting) -> Result<MeetingFound, Error> {
        let _admission = self.limits.admit(command.tenant).map_err(Error::Refused)?;
        let FindMeeting { tenant: tenant_id, organizer, key, language } = command;
        let call = GraphCall { tenant: tenant_id, organizer, language, operation: Operation::Find { key } };
        let outcome = self.call_graph(ctx, tenant, &call).await?;
        match outcome.answer {
            GraphAnswer::Meetings(meetings) => match meetings.into_iter().next() {
                Some(meeting) => Ok(MeetingFound { meeting: Box::new(meeting), graph_request_id: outcome.request_id }),
                None => Err(Error::MeetingNotFound { graph_request_id: outcome.request_id }),
            },
            _ => Err(unexpected(outcome.request_id)),
        }
    }

    /// Changes the command's properties of the meeting and returns it as Graph then has it.
    pub async fn update(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        command: UpdateMeeting,
    ) -> Result<MeetingFound, Error> {
        let _admission = self.limits.admit(command.target.tenant).map_err(Error::Refused)?;
        let UpdateMeeting { target, meeting, properties, language } = command;
        let body = GraphClient::encode_properties(&meeting, &properties);
        drop(meeting);
        let operation = Operation::Update { meeting: target.meeting, body };
        let call = GraphCall { tenant: target.tenant, organizer: target.organizer, language, operation };
        let (meeting, _, graph_request_id) = self.meeting(ctx, tenant, &call).await?;
        Ok(MeetingFound { meeting, graph_request_id })
    }

    /// Deletes the meeting; with `allow_missing`, one that does not exist is already deleted.
    pub async fn delete(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        command: DeleteMeeting,
    ) -> Result<MeetingDeleted, Error> {
        let _admission = self.limits.admit(command.target.tenant).map_err(Error::Refused)?;
        let DeleteMeeting { target, allow_missing } = command;
        let operation = Operation::Delete { meeting: target.meeting };
        let call = GraphCall { tenant: target.tenant, organizer: target.organizer, language: None, operation };
        match self.call_graph(ctx, tenant, &call).await {
            Ok(outcome) => Ok(MeetingDeleted { graph_request_id: outcome.request_id }),
            Err(Error::Graph { source }) if allow_missing && source.status() == Some(404) => {
                Ok(MeetingDeleted { graph_request_id: source.request_id().map(str::to_owned) })
            }
            Err(e) => Err(e),
        }
    }

    /// Schedules a calendar meeting: the event (with a Teams meeting), the meeting behind it found
    /// by its join link (Graph may list it only after a moment: an empty answer is asked again
    /// while the deadline leaves room), then `meeting_options` PATCHed onto it. A failure after
    /// the event exists names the step and the event, so the caller can retry (same
    /// transaction id) or cancel it; an event Graph made without a Teams meeting is deleted.
    pub async fn schedule(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        command: ScheduleMeeting,
    ) -> Result<MeetingScheduled, Error> {
        let _admission = self.limits.admit(command.tenant).map_err(Error::Refused)?;
        let ScheduleMeeting { tenant: tenant_id, organizer, event, meeting_options, transaction_id, language } =
            command;
        let body = encode_event(&event, transaction_id.as_deref());
        let operation = Operation::CreateEvent { body, transaction: transaction_id.is_some() };
        let mut call = GraphCall { tenant: tenant_id, organizer, language, operation };
        let outcome = self.call_graph(ctx, tenant, &call).await?;
        let request_id = outcome.request_id;
        let GraphAnswer::Event(mut created) = outcome.answer else {
            return Err(unexpected(request_id));
        };
        // Graph answers in the zone it was given, or in a Windows zone name this service does
        // not read: the instants sent are the event's then.
        created.start = created.start.or(event.start);
        created.end = created.end.or(event.end);
        created.time_zone = created.time_zone.or(event.time_zone.clone());
        let event_id = created.id.clone().unwrap_or_default();
        let event_ref = ResourceId::parse("id", &event_id).map_err(|_| unexpected(request_id.clone()))?;

        let Some(join_url) = created.join_url.clone().filter(|_| created.has_teams_meeting()) else {
            call.operation = Operation::DeleteEvent { event: event_ref };
            if let Err(e) = self.call_graph(ctx, tenant, &call).await {
                tracing::warn!(event_id = %event_id, error = %e, "could not delete the event made without a Teams meeting");
            }
            return Err(Error::TeamsNotEnabledForCalendar { event_id, graph_request_id: request_id });
        };
        let step = |step: &'static str, event_id: &str| {
            let event_id = event_id.to_owned();
            move |source: Error| Error::Scheduled { step, event_id, source: Box::new(source) }
        };

        call.operation = Operation::Find { key: FindKey::JoinWebUrl(join_url) };
        let mut wait = FIRST_LOOKUP_WAIT;
        let mut meeting = loop {
            let outcome = self.call_graph(ctx, tenant, &call).await.map_err(step("find_meeting", &event_id))?;
            match outcome.answer {
                GraphAnswer::Meetings(meetings) if !meetings.is_empty() => {
                    break Box::new(meetings.into_iter().next().unwrap_or_default());
                }
                GraphAnswer::Meetings(_) if Instant::now() + wait + MIN_ATTEMPT_TIME < ctx.deadline => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_LOOKUP_WAIT);
                }
                GraphAnswer::Meetings(_) => {
                    let not_yet = Error::MeetingNotFound { graph_request_id: outcome.request_id };
                    return Err(step("find_meeting", &event_id)(not_yet));
                }
                _ => return Err(step("find_meeting", &event_id)(unexpected(outcome.request_id))),
            }
        };

        if let Some((options, properties)) = meeting_options {
            let body = GraphClient::encode_properties(&options, &properties);
            drop(options);
            let id = meeting_id(&meeting, &request_id).map_err(step("meeting_options", &event_id))?;
            call.operation = Operation::Update { meeting: id, body };
            meeting = self.meeting(ctx, tenant, &call).await.map_err(step("meeting_options", &event_id))?.0;
        }
        Ok(MeetingScheduled { event: created, meeting, graph_request_id: request_id })
    }

    /// Cancels a calendar event; its attendees are told.
    pub async fn cancel(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        command: CancelEvent,
    ) -> Result<EventCancelled, Error> {
        let _admission = self.limits.admit(command.tenant).map_err(Error::Refused)?;
        let CancelEvent { tenant: tenant_id, organizer, event, comment } = command;
        let operation = Operation::CancelEvent { event, body: encode_cancel(comment.as_deref()) };
        let call = GraphCall { tenant: tenant_id, organizer, language: None, operation };
        let outcome = self.call_graph(ctx, tenant, &call).await?;
        Ok(EventCancelled { graph_request_id: outcome.request_id })
    }

    /// A call whose success is a meeting: the meeting, whether this call created it, and
    /// Graph's request id.
    async fn meeting(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        call: &GraphCall,
    ) -> Result<(Box<OnlineMeeting>, bool, Option<String>), Error> {
        let outcome = self.call_graph(ctx, tenant, call).await?;
        match outcome.answer {
            GraphAnswer::Meeting { meeting, created } => Ok((meeting, created, outcome.request_id)),
            _ => Err(unexpected(outcome.request_id)),
        }
    }

    /// One operation with its retries; what it says about Graph's health goes to the tenant's
    /// circuit breaker.
    async fn call_graph(&self, ctx: &CallContext, tenant: &Tenant, call: &GraphCall) -> Result<GraphOutcome, Error> {
        let budget = ctx.deadline.saturating_duration_since(Instant::now());
        let result = self.run(ctx, tenant, call).await;
        self.limits.record(call.tenant, graph_health(&result, budget));
        result
    }

    async fn run(&self, ctx: &CallContext, tenant: &Tenant, call: &GraphCall) -> Result<GraphOutcome, Error> {
        let attempts = AtomicU32::new(0);
        let attempt = || self.attempt(ctx, tenant, call, attempts.fetch_add(1, Ordering::Relaxed));
        attempt
            .retry(self.retry)
            .sleep(tokio::time::sleep)
            .when(|e| is_retryable(e, &call.operation))
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
            .await
    }

    async fn attempt(
        &self,
        ctx: &CallContext,
        tenant: &Tenant,
        call: &GraphCall,
        attempt: u32,
    ) -> Result<GraphOutcome, Error> {
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
    ) -> Result<GraphOutcome, Error> {
        let remaining = ctx.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Error::DeadlineExceeded { reached_graph: false });
        }
        let request = GraphRequest {
            organizer: &call.organizer,
            // The same body bytes on every attempt (a reference-counted clone).
            operation: &call.operation,
            accept_language: call.language.as_ref(),
            client_request_id: &ctx.client_request_id,
            bearer,
            timeout: remaining,
        };
        let route = call.operation.route();
        let method = call.operation.method();
        let span = tracing::info_span!(
            "graph.request",
            otel.name = format!("{method} {route}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = method.as_str(),
            url.template = route,
            server.address = graph.host(),
            http.request.resend_count = attempt,
            http.response.status_code = tracing::field::Empty,
            graph.request_id = tracing::field::Empty,
            graph.client_request_id = %ctx.client_request_id,
        );
        let started = Instant::now();
        let result = graph.send(&request).instrument(span.clone()).await;
        let status = match &result {
            Ok(outcome) => {
                if let Some(id) = &outcome.request_id {
                    span.record("graph.request_id", id.as_str());
                }
                Some(outcome.status)
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
                KeyValue::new("http.request.method", method.as_str().to_owned()),
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

/// THE retry rule: what Graph did not process may always be sent again; what it may have
/// processed only when the operation is idempotent.
fn is_retryable(error: &Error, operation: &Operation) -> bool {
    match error {
        Error::Graph { source } => {
            source.is_unprocessed() || (operation.is_idempotent() && source.may_have_been_processed())
        }
        _ => false,
    }
}

/// A success whose body is not what the operation answers with.
fn unexpected(request_id: Option<String>) -> Error {
    let detail = "the answer is not what the operation returns".to_owned();
    Error::Graph { source: GraphError::InvalidResponse { detail, request_id } }
}

/// The id of a meeting Graph returned, to address it next.
fn meeting_id(meeting: &OnlineMeeting, request_id: &Option<String>) -> Result<ResourceId, Error> {
    let id = meeting.id.as_deref().unwrap_or_default();
    ResourceId::parse("id", id).map_err(|_| Error::Graph {
        source: GraphError::InvalidResponse {
            detail: "the meeting Graph returned has no usable id".into(),
            request_id: request_id.clone(),
        },
    })
}
