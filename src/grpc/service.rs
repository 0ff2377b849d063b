//! `meetings.v1.MeetingService`: each RPC reads like the flow it implements. The plumbing every
//! call shares (metadata, authentication, deadline, span, access log, audit, metrics) is
//! `MeetingApi::call` and `call::CallGuard`; an RPC adds its conversion and its pipeline step.
//!
//! ```text
//! authenticate -> validate -> authorize (tenant, organizer) -> the tenant's own checks
//!   -> pipeline -> convert
//! ```
//!
//! Validation that needs no tenant comes before authorization so that a bad request is told
//! every violation at once; what depends on the tenant (its cloud) follows it. All of it
//! completes before the pipeline runs.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::time::Instant;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::{
    call::{self, Call, CallGuard, CallMetadata, Outcome, Rpc, Subject},
    convert,
    pb::{self, meeting_service_server::MeetingService},
};
use crate::{
    access::Access,
    auth::Caller,
    domain::ValidationError,
    error::Error,
    pipeline::{CallContext, Pipeline},
};

/// Set when the server begins shutting down: new calls are refused from then on.
#[derive(Clone, Debug, Default)]
pub struct ShutdownFlag(Arc<AtomicBool>);

impl ShutdownFlag {
    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct MeetingApi {
    access: Arc<Access>,
    pipeline: Arc<Pipeline>,
    default_deadline: Duration,
    shutdown: ShutdownFlag,
}

impl MeetingApi {
    pub fn new(
        access: Arc<Access>,
        pipeline: Arc<Pipeline>,
        default_deadline: Duration,
        shutdown: ShutdownFlag,
    ) -> Self {
        MeetingApi { access, pipeline, default_deadline, shutdown }
    }

    /// Runs one call of `rpc`: reads its metadata, authenticates the caller (first: an
    /// unauthenticated caller learns nothing, not even whether its request was valid), runs
    /// `handle` under the call's deadline, and records the call when it ends.
    async fn call<Req, Resp, Fut>(
        &self,
        rpc: &'static Rpc,
        request: Request<Req>,
        handle: impl FnOnce(Call, Req) -> Fut,
    ) -> Result<Response<Resp>, Status>
    where
        Req: Subject,
        Resp: Outcome,
        Fut: Future<Output = Result<Resp, Error>>,
    {
        let started = Instant::now();
        let metadata = CallMetadata::read(request.metadata(), started, self.default_deadline);
        // The gate authenticated the caller on the request headers; without the gate in front
        // (an embedding that mounts the API alone) the same check runs here.
        let caller = match request.extensions().get::<Caller>() {
            Some(caller) => Ok(caller.clone()),
            None => {
                let peer_certs = request.peer_certs();
                self.access.authenticate(peer_certs.as_deref().map(Vec::as_slice), metadata.authorization.as_deref())
            }
        };
        let guard = CallGuard::start(rpc, started, &metadata, request.get_ref(), &caller);
        let context =
            |caller| CallContext { caller, deadline: metadata.deadline, client_request_id: guard.client_request_id() };
        let request = request.into_inner();
        let outcome = async {
            if self.shutdown.is_raised() {
                return Err(Error::ShuttingDown);
            }
            let call = Call { context: context(caller?), language: metadata.language.clone() };
            match tokio::time::timeout_at(metadata.deadline, handle(call, request)).await {
                Ok(result) => result,
                Err(_) => Err(Error::DeadlineExceeded { reached_graph: true }),
            }
        }
        .instrument(guard.span().clone())
        .await;
        guard.finish(outcome)
    }
}

#[tonic::async_trait]
impl MeetingService for MeetingApi {
    async fn create(&self, request: Request<pb::CreateRequest>) -> Result<Response<pb::CreateResponse>, Status> {
        self.call(&call::CREATE, request, |call, request| async move {
            let validate_only = request.validate_only;
            let command = validate(|| convert::create_command(request, call.language.as_deref()))?;
            let tenant = self.access.authorize(&call.context.caller, &command.tenant, &command.organizer)?;
            tenant.admits(&command.meeting)?;
            if validate_only {
                return Ok(pb::CreateResponse::default());
            }
            let created = self.pipeline.create(&call.context, &tenant, command).await?;
            Ok(convert::create_response(created))
        })
        .await
    }

    async fn get(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        self.call(&call::GET, request, |call, request| async move {
            let command = validate(|| convert::get_command(request, call.language.as_deref()))?;
            let tenant =
                self.access.authorize(&call.context.caller, &command.target.tenant, &command.target.organizer)?;
            let found = self.pipeline.get(&call.context, &tenant, command).await?;
            Ok(convert::get_response(found))
        })
        .await
    }

    async fn find(&self, request: Request<pb::FindRequest>) -> Result<Response<pb::FindResponse>, Status> {
        self.call(&call::FIND, request, |call, request| async move {
            let command = validate(|| convert::find_command(request, call.language.as_deref()))?;
            let tenant = self.access.authorize(&call.context.caller, &command.tenant, &command.organizer)?;
            let found = self.pipeline.find(&call.context, &tenant, command).await?;
            Ok(convert::find_response(found))
        })
        .await
    }

    async fn update(&self, request: Request<pb::UpdateRequest>) -> Result<Response<pb::UpdateResponse>, Status> {
        self.call(&call::UPDATE, request, |call, request| async move {
            let validate_only = request.validate_only;
            let command = validate(|| convert::update_command(request, call.language.as_deref()))?;
            let tenant =
                self.access.authorize(&call.context.caller, &command.target.tenant, &command.target.organizer)?;
            tenant.admits(&command.meeting)?;
            if validate_only {
                return Ok(pb::UpdateResponse::default());
            }
            let updated = self.pipeline.update(&call.context, &tenant, command).await?;
            Ok(convert::update_response(updated))
        })
        .await
    }

    async fn delete(&self, request: Request<pb::DeleteRequest>) -> Result<Response<pb::DeleteResponse>, Status> {
        self.call(&call::DELETE, request, |call, request| async move {
            let command = validate(|| convert::delete_command(request))?;
            let tenant =
                self.access.authorize(&call.context.caller, &command.target.tenant, &command.target.organizer)?;
            let deleted = self.pipeline.delete(&call.context, &tenant, command).await?;
            Ok(convert::delete_response(deleted))
        })
        .await
    }

    async fn schedule(&self, request: Request<pb::ScheduleRequest>) -> Result<Response<pb::ScheduleResponse>, Status> {
        self.call(&call::SCHEDULE, request, |call, request| async move {
            let validate_only = request.validate_only;
            let command = validate(|| convert::schedule_command(request, call.language.as_deref()))?;
            let tenant = self.access.authorize(&call.context.caller, &command.tenant, &command.organizer)?;
            if let Some((options, _)) = &command.meeting_options {
                tenant.admits(options)?;
            }
            if validate_only {
                return Ok(pb::ScheduleResponse::default());
            }
            let scheduled = self.pipeline.schedule(&call.context, &tenant, command).await?;
            Ok(convert::schedule_response(scheduled))
        })
        .await
    }

    async fn cancel(&self, request: Request<pb::CancelRequest>) -> Result<Response<pb::CancelResponse>, Status> {
        self.call(&call::CANCEL, request, |call, request| async move {
            let command = validate(|| convert::cancel_command(request))?;
            let tenant = self.access.authorize(&call.context.caller, &command.tenant, &command.organizer)?;
            let cancelled = self.pipeline.cancel(&call.context, &tenant, command).await?;
            Ok(convert::cancel_response(cancelled))
        })
        .await
    }
}

/// Validation, in its own span.
fn validate<T>(convert: impl FnOnce() -> Result<T, ValidationError>) -> Result<T, ValidationError> {
    tracing::info_span!("validate").in_scope(convert)
}

impl Subject for pb::CreateRequest {
    fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    fn organizer(&self) -> &str {
        &self.user_id
    }

    fn external_id(&self) -> Option<&str> {
        self.meeting.as_ref().and_then(|m| m.external_id.as_deref())
    }
}

/// The requests that name one meeting.
macro_rules! names_a_meeting {
    ($($request:ty),*) => {$(
        impl Subject for $request {
            fn tenant_id(&self) -> &str {
                &self.tenant_id
            }

            fn organizer(&self) -> &str {
                &self.user_id
            }

            fn meeting_id(&self) -> Option<&str> {
                Some(&self.meeting_id)
            }
        }
    )*};
}

names_a_meeting!(pb::GetRequest, pb::UpdateRequest, pb::DeleteRequest);

impl Subject for pb::ScheduleRequest {
    fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    fn organizer(&self) -> &str {
        &self.user_id
    }

    fn external_id(&self) -> Option<&str> {
        Some(self.transaction_id.as_str()).filter(|id| !id.is_empty())
    }
}

impl Subject for pb::CancelRequest {
    fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    fn organizer(&self) -> &str {
        &self.user_id
    }

    fn meeting_id(&self) -> Option<&str> {
        Some(&self.event_id)
    }
}

impl Outcome for pb::ScheduleResponse {
    fn meeting_id(&self) -> Option<&str> {
        self.meeting.as_ref().and_then(|m| m.id.as_deref())
    }

    fn graph_request_id(&self) -> &str {
        &self.graph_request_id
    }
}

impl Outcome for pb::CancelResponse {
    fn meeting_id(&self) -> Option<&str> {
        None
    }

    fn graph_request_id(&self) -> &str {
        &self.graph_request_id
    }
}

impl Subject for pb::FindRequest {
    fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    fn organizer(&self) -> &str {
        &self.user_id
    }
}

/// The responses that carry a meeting.
macro_rules! carries_a_meeting {
    ($($response:ty),*) => {$(
        impl Outcome for $response {
            fn meeting_id(&self) -> Option<&str> {
                self.meeting.as_ref().and_then(|m| m.id.as_deref())
            }

            fn graph_request_id(&self) -> &str {
                &self.graph_request_id
            }
        }
    )*};
}

carries_a_meeting!(pb::GetResponse, pb::FindResponse, pb::UpdateResponse);

impl Outcome for pb::DeleteResponse {
    fn meeting_id(&self) -> Option<&str> {
        None
    }

    fn graph_request_id(&self) -> &str {
        &self.graph_request_id
    }
}

impl Outcome for pb::CreateResponse {
    fn meeting_id(&self) -> Option<&str> {
        self.meeting.as_ref().and_then(|m| m.id.as_deref())
    }

    fn graph_request_id(&self) -> &str {
        &self.graph_request_id
    }

    fn created(&self) -> Option<bool> {
        Some(self.created)
    }
}
