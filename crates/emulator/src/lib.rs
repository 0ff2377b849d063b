//! Local emulator of Microsoft Graph (`onlineMeetings` and calendar `events`) and the Microsoft
//! identity platform token endpoint, for dev mode (`meeting-service --dev`) and the integration
//! tests. **This is the emulator**: production configuration never selects it implicitly; only
//! dev mode and tests start it. It serves plain HTTP on `127.0.0.1`, one ephemeral port per host:
//!
//! * **Graph** ([`Emulator::graph_endpoint`]), under `/{v1.0|beta}/users/{userId}`, with Graph's
//!   response headers and error bodies:
//!   * `POST …/onlineMeetings` (201) and `POST …/onlineMeetings/createOrGet` (201, then 200);
//!   * `GET …/onlineMeetings/{meetingId}` (200, 404 `NotFound`);
//!   * `GET …/onlineMeetings?$filter=JoinWebUrl eq '{url}'` or
//!     `…?$filter=joinMeetingIdSettings/joinMeetingId eq '{id}'` (200 with a `value` collection,
//!     possibly empty; another or no filter: 400 `InvalidArgument`, Graph's "Filter expression
//!     expected");
//!   * `PATCH …/onlineMeetings/{meetingId}` (200 with the meeting; 400 for what the update page
//!     does not allow; 404);
//!   * `DELETE …/onlineMeetings/{meetingId}` (204, 404);
//!   * `POST …/events` (201), `GET …/events/{id}` (200), `DELETE …/events/{id}` (204),
//!     `POST …/events/{id}/cancel` (202); a missing event is 404 `ErrorItemNotFound`.
//! * **login** ([`Emulator::authority_host`]): `POST /{tenant}/oauth2/v2.0/token`, client
//!   credentials, with Entra's token and AADSTS error bodies.
//!
//! It writes its JSON itself from Microsoft's documented wire formats and shares no types or code
//! with the service's Graph and identity clients, so that it checks them rather than mirrors them.
//! It is a crate of its own that does not depend on the service crate: the compiler keeps that
//! promise.
//!
//! Behaviour worth knowing:
//! * Graph checks in order: bearer token (401 `InvalidAuthenticationToken`), injected faults, route
//!   (`/me` is 400: app-only tokens have no user; another method than the route's: 405), then per
//!   operation `Content-Type` and body (400: null, invalid JSON, wrong property types, unknown
//!   `createOrGet` parameters, unknown event properties), user (object id or UPN, any case,
//!   percent-decoded, in the token's tenant: 404), application access policy (403, onlineMeetings
//!   routes only: calendar access needs none), then the operation's own rules. Path segments are
//!   percent-decoded one by one, so an id holding `%2F` is one segment.
//! * Every meeting made (by a create, `createOrGet` or behind an event) is stored by (tenant,
//!   organizer, meeting id) in canonical form. The store is **bounded**: at most
//!   [`EmulatorConfig::store_capacity`] meetings ([`DEFAULT_STORE_CAPACITY`], 100,000), the oldest
//!   forgotten first (with its `externalId`, join URL and join meeting id), and as many calendar
//!   events; a forgotten one answers 404 like a deleted one.
//! * `createOrGet` is keyed by (tenant, organizer, `externalId`): 201 first, then 200 with the same
//!   meeting. A plain create with `externalId` is a 400, as reported for Graph. Create responses
//!   spell `audioConferencing.ConferenceId` (as Graph's create examples do), `createOrGet` ones
//!   and meetings behind events `conferenceId` (as their examples do). GET and `$filter` render a
//!   stored meeting as create does (`Accept-Language`, `Prefer`, the path's version).
//! * `$filter`: the query value is percent-decoded once (`+` stays `+`), property names match in
//!   any case, the literal is OData-quoted (`''` is one `'`). A meeting is findable only
//!   [`EmulatorConfig::visibility_delay`] after its creation (default zero; GET by id is not
//!   delayed), as Graph may not show a calendar meeting at once.
//! * PATCH applies the properties of the update page's table (v1.0, 08/08/2024): `null` clears
//!   one, a complex value merges into the stored one, `participants.attendees` replaces the list.
//!   Any other property (`joinMeetingIdSettings`, `meetingTemplateId`, `chatInfo`, `externalId`,
//!   read-only ones...), `startDateTime` without `endDateTime` or the reverse, a change of
//!   `participants.organizer` and removing `attendee` from `anonymizeIdentityForRoles` are 400
//!   `BadRequest`; Graph documents no wording for these, the messages are the emulator's.
//! * Events: `start`/`end` `timeZone` must be a Windows zone id or one of the IANA names Graph's
//!   `dateTimeTimeZone` page lists (400 `TimeZoneNotSupportedException` otherwise); the create
//!   answer echoes each in its given zone, later reads are in UTC, both unless `Prefer:
//!   outlook.timezone="…"` names another. `isOnlineMeeting` with `teamsForBusiness` (or no
//!   provider) makes a Teams meeting behind the event (its `joinWebUrl` is the event's
//!   `onlineMeeting.joinUrl`) unless the user's [`EmulatedUser::calendar_allows_teams`] is false:
//!   then the event has `isOnlineMeeting: false`, `onlineMeetingProvider: "unknown"`. A
//!   `transactionId` seen before for that organizer returns the same event (201) and makes
//!   nothing new. Cancel takes the event off the calendar (later GET, DELETE or cancel: 404) and
//!   is recorded ([`Emulator::cancelled_events`]); deleting or cancelling an event leaves its
//!   meeting in place.
//! * Faults apply to every route alike; with `afterProcessing` the operation (create, PATCH,
//!   DELETE, cancel...) takes effect before the fault answers.
//! * Without `Prefer: include-unknown-enum-members`, evolvable-enum members after
//!   `unknownFutureValue` are returned as `unknownFutureValue`.
//! * `joinInformation` follows `Accept-Language` (en default, ja, de, zh-CN); the tag shows in its
//!   meeting-options link (`language=`).
//! * Tokens are opaque JWT-shaped strings only this emulator accepts; the accepted scopes are
//!   `https://graph.microsoft.com/.default`, `{graph_endpoint}/.default` and those added with
//!   [`Emulator::accept_scope_resource`].
//! * No tenant is preconfigured: call [`Emulator::add_tenant`], e.g. with [`EmulatedTenant::dev`].
//!
//! Client assertions (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`)
//! are checked like Entra's, with the codes it documents or is seen to return (the replay check
//! excepted, see below). Without `client_assertion_type`: AADSTS900144; another type:
//! AADSTS90011; not a JWT with JSON header and claims (or no `exp`, or a certificate assertion
//! without `jti`): 400 `invalid_request` AADSTS50027. Other failures are 401 `invalid_client`
//! unless noted.
//! * **Certificate** assertions (header `x5t#S256`, or SHA-1 `x5t`) are checked in this order:
//!   thumbprint of a certificate of [`EmulatedTenant::certificates`] (else AADSTS700027, "not
//!   registered on application"); `x5c`, when present, starts with that certificate (else
//!   AADSTS700027); `alg` RS256 or PS256 and the signature verifies with its key (else AADSTS700027,
//!   "failed signature validation"); a single `aud` equal to the token endpoint,
//!   `{authority_host}/{tenant}/oauth2/v2.0/token` or `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`,
//!   tenant as in the path or as the tenant id (else AADSTS700023); `iss` and `sub` equal to
//!   `client_id` (else AADSTS700021); `exp` not past and `nbf` not ahead, with 5 minutes' skew
//!   (else AADSTS700024); `jti` not presented before within the assertion's lifetime (else
//!   AADSTS50013, Entra's generic invalid-assertion code). Entra documents no replay check: this
//!   one is stricter, so sign a fresh assertion per request.
//! * **Federated** assertions (no thumbprint header) are decoded but their signature is NOT
//!   verified: the emulator trusts every issuer, since configuring an OIDC issuer (discovery,
//!   JWKS) is out of scope. `aud` must hold the audience of a [`FederatedCredential`] (else
//!   AADSTS700212); `iss` and `sub` must match that credential exactly (else 400
//!   `invalid_request` AADSTS70021, "No matching federated identity record found for presented
//!   assertion"); then the time window as above (AADSTS700024). The same token may be presented
//!   again, as workload identity does with its projected token. [`federated_token`] mints one.
//!
//! Control endpoints on the Graph host (no authentication, not recorded):
//! * `GET /_emulator/requests`: the request log as JSON; `client_secret`, `client_assertion` and
//!   `Authorization` values redacted.
//! * `POST /_emulator/faults` (201) queues a fault: `{"target":"graph","status":429,"retryAfter":"2.128","times":2}`,
//!   `{"status":500,"afterProcessing":true}`, `{"target":"login","aadsts":{"error":"invalid_client","code":7000215,"status":401}}`,
//!   `{"target":"graph","delayMs":3000}`; `DELETE /_emulator/faults` (204) clears the queue.
//!
//! Secrets and tokens are never logged; requests are traced at debug level, without bodies.

#![forbid(unsafe_code)]

mod assertion;
mod events;
mod faults;
mod graph;
mod identity;
mod meetings;
mod odata;
mod store;
mod wire;
mod zones;

#[cfg(test)]
mod tests;

use std::{
    collections::{HashMap, VecDeque},
    net::Ipv4Addr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::Request,
    http::{header::HeaderName, HeaderValue, StatusCode},
    response::Response,
    Router,
};
use serde_json::Value;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

pub use assertion::federated_token;
pub use faults::{Fault, FaultKind};
use store::{EventStore, MeetingStore};

/// Tenant id of [`EmulatedTenant::dev`].
pub const DEV_TENANT_ID: &str = "7d0f7a6e-3c1b-4f7e-9a5d-2b8c6e4f1a90";
/// Application (client) id registered in the dev tenant.
pub const DEV_CLIENT_ID: &str = "3a9c5e1f-7b2d-4c8e-a6f0-5d1b9e3c7a24";
/// Client secret of the dev application (valid only against this emulator).
pub const DEV_CLIENT_SECRET: &str = "dev-secret-not-for-production";
/// Object id of Adele Vance (`adele.vance@contoso.example`), who has an application access policy.
pub const DEV_USER_ID: &str = "5b2e8f4a-1c6d-4e9b-8a3f-7d0c2e6b9f15";
/// Object id of `no.policy@contoso.example`, who has no application access policy (Graph: 403).
pub const DEV_USER_NO_POLICY_ID: &str = "c8d4a2e6-9f1b-4b7d-b3e5-0a6f8c2d4e71";
/// Object id of `no.teams@contoso.example`: policy granted, but a mailbox whose calendar cannot
/// add Teams meetings (events get no online meeting).
pub const DEV_USER_NO_TEAMS_CALENDAR_ID: &str = "e1f3b5d7-2a4c-4e6f-8b0d-9c7e5a3f1b28";
/// The audience Entra recommends for federated identity credentials (workload identity).
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Which emulated host a request or fault belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Graph,
    Login,
}

/// Emulator settings.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// `expires_in` (and `ext_expires_in`) of issued tokens; default 3599 s.
    pub token_lifetime: Duration,
    /// When set, token responses carry `refresh_in`.
    pub refresh_in: Option<Duration>,
    /// Added to every Graph response (benchmarks); default zero.
    pub latency: Duration,
    /// Whether Graph requests are kept for [`Emulator::requests`]; default true. Benchmarks turn
    /// it off so that the log does not grow without bound.
    pub record_requests: bool,
    /// How long after its creation a meeting becomes findable by `$filter` (Graph may not show a
    /// calendar meeting at once); default zero. GET by id is not delayed.
    pub visibility_delay: Duration,
    /// Meetings kept at most, and calendar events kept at most; past it the oldest are forgotten
    /// (then a GET of one answers 404); default [`DEFAULT_STORE_CAPACITY`]. A stored meeting
    /// takes about 2.7 KB (compact JSON and its index keys): some 270 MB when full at the
    /// default, some 460 MB once the allocator has churned through millions.
    pub store_capacity: usize,
}

/// Meetings (and, apart, calendar events) the emulator keeps by default: enough for any test and
/// a flat memory profile under a load test that creates millions.
pub const DEFAULT_STORE_CAPACITY: usize = store::DEFAULT_CAPACITY;

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            token_lifetime: Duration::from_secs(3599),
            refresh_in: None,
            latency: Duration::ZERO,
            record_requests: true,
            visibility_delay: Duration::ZERO,
            store_capacity: DEFAULT_STORE_CAPACITY,
        }
    }
}

/// A tenant with one registered application and its users.
#[derive(Clone, Debug, Default)]
pub struct EmulatedTenant {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub users: Vec<EmulatedUser>,
    /// PEM certificates registered on the app (certificate credentials); other PEM sections, such
    /// as a private key, are ignored. See [`EmulatedTenant::with_certificate`].
    pub certificates: Vec<String>,
    /// Federated identity credentials of the app (workload identity federation).
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential: tokens of `issuer` about `subject` for `audience` are accepted
/// as client assertions of the app. Compared exactly (case-sensitive), as Entra does.
#[derive(Clone, Debug)]
pub struct FederatedCredential {
    pub issuer: String,
    pub subject: String,
    /// Normally [`TOKEN_EXCHANGE_AUDIENCE`].
    pub audience: String,
}

/// A user of an emulated tenant.
#[derive(Clone, Debug)]
pub struct EmulatedUser {
    pub object_id: String,
    pub user_principal_name: String,
    pub display_name: String,
    /// Whether an application access policy lets the app create meetings on this user's behalf.
    pub has_access_policy: bool,
    /// Whether the mailbox's `allowedOnlineMeetingProviders` include Teams: when false, an event
    /// asking for a Teams meeting is created without one (`isOnlineMeeting: false`,
    /// `onlineMeetingProvider: "unknown"`), as Graph does. [`EmulatedUser::new`] sets it.
    pub calendar_allows_teams: bool,
}

impl EmulatedUser {
    /// A user with an application access policy and a calendar that allows Teams meetings.
    pub fn new(
        object_id: impl Into<String>,
        user_principal_name: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        EmulatedUser {
            object_id: object_id.into(),
            user_principal_name: user_principal_name.into(),
            display_name: display_name.into(),
            has_access_policy: true,
            calendar_allows_teams: true,
        }
    }
}

impl EmulatedTenant {
    /// The dev tenant: [`DEV_TENANT_ID`], [`DEV_CLIENT_ID`], [`DEV_CLIENT_SECRET`], with Adele Vance
    /// ([`DEV_USER_ID`], policy granted), `no.policy@contoso.example` ([`DEV_USER_NO_POLICY_ID`])
    /// and `no.teams@contoso.example` ([`DEV_USER_NO_TEAMS_CALENDAR_ID`], whose calendar cannot
    /// add Teams meetings).
    pub fn dev() -> EmulatedTenant {
        let no_policy = EmulatedUser {
            has_access_policy: false,
            ..EmulatedUser::new(DEV_USER_NO_POLICY_ID, "no.policy@contoso.example", "No Policy")
        };
        let no_teams = EmulatedUser {
            calendar_allows_teams: false,
            ..EmulatedUser::new(DEV_USER_NO_TEAMS_CALENDAR_ID, "no.teams@contoso.example", "No Teams Calendar")
        };
        EmulatedTenant {
            tenant_id: DEV_TENANT_ID.to_owned(),
            client_id: DEV_CLIENT_ID.to_owned(),
            client_secret: DEV_CLIENT_SECRET.to_owned(),
            users: vec![
                EmulatedUser::new(DEV_USER_ID, "adele.vance@contoso.example", "Adele Vance"),
                no_policy,
                no_teams,
            ],
            certificates: Vec::new(),
            federated_credentials: Vec::new(),
        }
    }

    /// Registers a PEM certificate (or several, or a certificate with its key) on the app.
    pub fn with_certificate(mut self, pem: impl Into<String>) -> Self {
        self.certificates.push(pem.into());
        self
    }

    /// Registers a federated identity credential for `issuer` and `subject`, with audience
    /// [`TOKEN_EXCHANGE_AUDIENCE`].
    pub fn with_federated_credential(mut self, issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        let (issuer, subject, audience) = (issuer.into(), subject.into(), TOKEN_EXCHANGE_AUDIENCE.to_owned());
        self.federated_credentials.push(FederatedCredential { issuer, subject, audience });
        self
    }
}

/// An event cancelled by its organizer, with the comment sent to its attendees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelledEvent {
    /// Object id of the organizer.
    pub organizer_id: String,
    pub event_id: String,
    pub comment: Option<String>,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub host: Host,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    pub method: String,
    /// Raw path as received, still percent-encoded, with the query.
    pub path: String,
    /// Header names lower-case, in received order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The body as decoded form pairs, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        wire::parse_form(&self.body)
    }
}

/// HTTP/2 streams one connection may carry at once. Graph's limit is not documented; this one
/// is high so that a client multiplexing every call on one cleartext HTTP/2 connection (h2c, see
/// `graph.http2_prior_knowledge`) is not throttled by the emulator (hyper's default is 200).
const MAX_CONCURRENT_STREAMS: u32 = 100_000;
/// Bytes all streams of one HTTP/2 connection may have in flight (see [`serve`]).
const CONNECTION_WINDOW: u32 = 64 * 1024 * 1024;

/// Serves `app` on `listener`, HTTP/1.1 and HTTP/2 (h2c, prior knowledge) alike, until `stop`
/// turns true; then lets open connections finish their requests.
async fn serve(listener: TcpListener, app: Router, stop: watch::Receiver<bool>) {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo},
        server::conn::auto::Builder,
        service::TowerToHyperService,
    };
    let mut builder = Builder::new(TokioExecutor::new());
    // h2 budgets small DATA frames a connection may buffer at half its connection window: with
    // hyper's 1 MiB, some 9,000 requests queued on one connection while the emulator is busy end
    // in GOAWAY ENHANCE_YOUR_CALM. A larger window lets a single connection carry them all.
    builder
        .http2()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .initial_stream_window_size(1024 * 1024);
    let builder = Arc::new(builder);
    // Every connection task holds a sender; when all are gone the receiver reads `None`.
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let stopped = |mut stop: watch::Receiver<bool>| async move { drop(stop.wait_for(|s| *s).await) };
    let mut accepting_stopped = std::pin::pin!(stopped(stop.clone()));
    loop {
        let (tcp, _) = tokio::select! {
            () = &mut accepting_stopped => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "emulator accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (builder, service, open) = (builder.clone(), TowerToHyperService::new(app.clone()), open.clone());
        let drain = stopped(stop.clone());
        tokio::spawn(async move {
            let connection = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = drain => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(open);
        });
    }
    drop(open);
    let _ = all_closed.recv().await;
}

/// A running emulator; dropping it (or [`Emulator::shutdown`]) stops both hosts gracefully.
pub struct Emulator {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Starts both hosts on `127.0.0.1`, each on an ephemeral port.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let graph = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let login = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let shared = Arc::new(Shared {
            graph_endpoint: format!("http://{}", graph.local_addr()?),
            authority_host: format!("http://{}", login.local_addr()?),
            inner: Mutex::new(Inner {
                meetings: MeetingStore::new(config.store_capacity),
                events: EventStore::new(config.store_capacity),
                config,
                ..Inner::default()
            }),
        });
        let (stop, _) = watch::channel(false);
        let mut tasks = Vec::new();
        for (listener, router) in
            [(graph, Router::new().fallback(graph::handle)), (login, Router::new().fallback(identity::handle))]
        {
            let app = router.with_state(Arc::clone(&shared));
            tasks.push(tokio::spawn(serve(listener, app, stop.subscribe())));
        }
        tracing::info!(graph = %shared.graph_endpoint, login = %shared.authority_host, "Graph and identity emulator started");
        Ok(Emulator { shared, stop, tasks })
    }

    /// Stops both hosts and waits (at most 5 s) for in-flight requests to complete.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// `http://127.0.0.1:PORT` of the Graph host (no trailing slash).
    pub fn graph_endpoint(&self) -> String {
        self.shared.graph_endpoint.clone()
    }

    /// `http://127.0.0.1:PORT` of the identity host (no trailing slash).
    pub fn authority_host(&self) -> String {
        self.shared.authority_host.clone()
    }

    /// Registers a tenant, replacing one with the same id.
    pub fn add_tenant(&self, tenant: EmulatedTenant) {
        let mut inner = self.shared.lock();
        inner.tenants.retain(|t| !t.tenant_id.eq_ignore_ascii_case(&tenant.tenant_id));
        inner.tenants.push(tenant);
    }

    /// Also accepts scope `{resource}/.default` (a trailing `/` of `resource` is ignored), e.g. to
    /// point the service's Graph endpoint at a closed port while its identity host stays here.
    pub fn accept_scope_resource(&self, resource: &str) {
        self.shared.lock().scope_resources.push(resource.trim_end_matches('/').to_owned());
    }

    /// Queues a fault (see [`Fault`]); one with `times == 0` is ignored.
    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every request received by either host, in arrival order (control endpoints excepted).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Token requests (successful or not) whose path named `tenant_id` (any case).
    pub fn token_requests(&self, tenant_id: &str) -> usize {
        self.shared.lock().token_requests.get(&tenant_id.to_ascii_lowercase()).copied().unwrap_or(0)
    }

    /// Meetings actually created (a `createOrGet` returning an existing meeting does not count;
    /// the Teams meeting behind a calendar event does).
    pub fn meetings_created(&self) -> usize {
        self.shared.lock().meetings_created
    }

    /// Calendar events actually created (a POST repeating a `transactionId` does not count).
    pub fn events_created(&self) -> usize {
        self.shared.lock().events_created
    }

    /// Events cancelled through `…/events/{id}/cancel`, oldest first (at most the store
    /// capacity, the oldest forgotten first).
    pub fn cancelled_events(&self) -> Vec<CancelledEvent> {
        self.shared.lock().cancelled_events.iter().cloned().collect()
    }

    /// Sets how long after creation meetings become findable by `$filter` (see
    /// [`EmulatorConfig::visibility_delay`]); applies to meetings created from now on.
    pub fn set_visibility_delay(&self, delay: Duration) {
        self.shared.lock().config.visibility_delay = delay;
    }

    /// Expires every token issued so far: Graph answers 401 for them from now on.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        self.shared.lock().tokens.values_mut().for_each(|t| t.expires_at = t.expires_at.min(now));
    }

    /// Sets the latency added to every Graph response.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().config.latency = latency;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// State shared by both hosts and the handle.
struct Shared {
    graph_endpoint: String,
    authority_host: String,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    config: EmulatorConfig,
    tenants: Vec<EmulatedTenant>,
    tokens: HashMap<String, IssuedToken>,
    /// Every meeting created, bounded (see [`EmulatorConfig::store_capacity`]).
    meetings: MeetingStore,
    meetings_created: usize,
    /// Calendar events, bounded likewise.
    events: EventStore,
    events_created: usize,
    cancelled_events: VecDeque<CancelledEvent>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    /// Token requests per tenant path segment, lower-cased.
    token_requests: HashMap<String, usize>,
    /// Resources added by [`Emulator::accept_scope_resource`], without trailing `/`.
    scope_resources: Vec<String>,
    /// `jti` of accepted certificate assertions, with their `exp` (Unix seconds).
    assertion_ids: HashMap<String, i64>,
}

/// What the emulator remembers of a token it issued (the token is the map key).
struct IssuedToken {
    tenant_id: String,
    client_id: String,
    scope: String,
    expires_at: Instant,
}

impl Shared {
    /// Locks the state; a poisoned lock is taken over (no invariant spans a panic here).
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn tenant(&self, id: &str) -> Option<&EmulatedTenant> {
        self.tenants.iter().find(|t| t.tenant_id.eq_ignore_ascii_case(id))
    }

    /// Takes one application of the first queued fault for `host`.
    fn take_fault(&mut self, host: Host) -> Option<Fault> {
        let index = self.faults.iter().position(|f| f.target == host)?;
        let fault = self.faults.get_mut(index)?;
        fault.times = fault.times.saturating_sub(1);
        let taken = fault.clone();
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(taken)
    }
}

/// Reads a request into its record; `false` when the body could not be read (over 1 MiB).
async fn capture(host: Host, req: Request) -> (RecordedRequest, bool) {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let headers = parts.headers.iter().map(|(k, v)| (k.as_str().to_owned(), text(v.as_bytes()))).collect();
    let (body, body_ok) = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(bytes) => (text(&bytes), true),
        Err(_) => (String::new(), false),
    };
    let version = format!("{:?}", parts.version);
    (RecordedRequest { host, version, method: parts.method.as_str().to_owned(), path, headers, body }, body_ok)
}

/// Whether a `Content-Type` value names `media_type` (parameters and case ignored).
fn is_media_type(content_type: Option<&str>, media_type: &str) -> bool {
    content_type.and_then(|v| v.split(';').next()).is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// A response; `content-type` is set when the body is not empty, invalid header values are skipped.
fn respond(status: u16, content_type: &str, body: String, headers: &[(&'static str, String)]) -> Response {
    let content_type = (!body.is_empty()).then(|| ("content-type", content_type.to_owned()));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in content_type.iter().chain(headers) {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}
