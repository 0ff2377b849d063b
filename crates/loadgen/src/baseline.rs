//! The baseline: the request the service sends to Graph for each measured RPC (Create, Get,
//! Update), captured from the service once, then replayed straight to the emulator with a pooled
//! reqwest client (no gRPC hop); and the meetings that Get and Update read, created the same way.

use std::{path::Path, time::Duration};

use bytes::Bytes;
use meeting_emulator::{EmulatedTenant, Emulator, EmulatorConfig, Host};
use meeting_service::grpc::pb::meeting_service_client::MeetingServiceClient;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderName, AUTHORIZATION};

use crate::{
    report::BaselineRequest,
    rpc::{create_request, get_request, update_request, Rpc},
    service::Spawner,
    tenants::{bench_tenants, settings},
};

/// A path segment as the service encodes one (RFC 3986's unreserved characters kept).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// One Graph request the service sent, as the emulator received it.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    pub(crate) rpc: Rpc,
    /// Raw path (percent-encoded) with the query.
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// Get and Update: the id of the meeting the request named (its path's last segment).
    pub(crate) meeting_id: Option<String>,
}

/// The Graph request of every RPC in [`Rpc::ALL`], captured from one service run against a
/// recording emulator: a Create, then a Get and an Update of the meeting it made. The baseline
/// replays them byte for byte (with its own token, client-request-id and meeting ids).
pub(crate) async fn capture_graph_requests(spawner: &mut Spawner, dir: &Path) -> Vec<Captured> {
    let emulator = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let tenants = bench_tenants(dir, 1);
    let tenant_id = tenants[0].emulated.tenant_id.clone();
    emulator.add_tenant(tenants[0].emulated.clone());
    let service = spawner.spawn(settings(&emulator, &tenants, false)).await;
    let mut client = MeetingServiceClient::new(service.channels(1).await.remove(0));
    let created = client.create(create_request(&tenant_id)).await.expect("the calibration Create succeeds");
    let id = created.into_inner().meeting.and_then(|m| m.id).expect("the calibration Create returns a meeting id");
    client.get(get_request(&tenant_id, &id)).await.expect("the calibration Get succeeds");
    client.update(update_request(&tenant_id, &id)).await.expect("the calibration Update succeeds");
    service.stop().await;
    let graph: Vec<_> = emulator.requests().into_iter().filter(|r| r.host == Host::Graph).collect();
    emulator.shutdown().await;
    Rpc::ALL
        .iter()
        .map(|&rpc| {
            let method = rpc.graph_method();
            let rec = graph
                .iter()
                .rev()
                .find(|r| r.method == method.as_str())
                .unwrap_or_else(|| panic!("the service sent no {method} to Graph for {}", rpc.name()));
            let meeting_id = rpc.reads_meetings().then(|| id.clone());
            if let Some(id) = &meeting_id {
                let encoded = utf8_percent_encode(id, SEGMENT).to_string();
                assert!(
                    rec.path.ends_with(&format!("/{encoded}")),
                    "{}: Graph path {} does not end with the meeting id as a path segment",
                    rpc.name(),
                    rec.path
                );
            }
            Captured { rpc, path: rec.path.clone(), headers: rec.headers.clone(), body: rec.body.clone(), meeting_id }
        })
        .collect()
}

/// An access token from `emulator` for `tenant`, as the service gets one (client credentials).
pub(crate) async fn fetch_token(emulator: &Emulator, tenant: &EmulatedTenant) -> String {
    let url = format!("{}/{}/oauth2/v2.0/token", emulator.authority_host(), tenant.tenant_id);
    let scope = format!("{}/.default", emulator.graph_endpoint());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", tenant.client_id.as_str()),
        ("client_secret", tenant.client_secret.as_str()),
        ("scope", scope.as_str()),
    ];
    let reply: serde_json::Value =
        reqwest::Client::new().post(url).form(&form).send().await.expect("token").json().await.expect("token JSON");
    reply["access_token"].as_str().expect("access_token").to_owned()
}

/// The pooled client of the baseline: configured like the service's own Graph client.
pub(crate) fn baseline_client(http2: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    let builder = if http2 { builder.http2_prior_knowledge() } else { builder };
    builder.build().expect("HTTP client")
}

/// A captured request made ready to replay against the run's emulator with a token of its own.
#[derive(Clone, Debug)]
pub(crate) struct Replay {
    pub(crate) rpc: Rpc,
    /// The URL; for Get and Update, up to (without) the `/{meeting id}` segment.
    base: String,
    headers: HeaderMap,
    /// `None` when the service sent none (a GET).
    body: Option<Bytes>,
}

/// What the baseline sends: `rpc`'s request to each of `urls` in turn.
pub(crate) struct Direct {
    pub(crate) rpc: Rpc,
    pub(crate) urls: Vec<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
}

impl Replay {
    /// The captured request with `token`, for `emulator`; the request as the report shows it
    /// (its token redacted).
    pub(crate) fn new(emulator: &Emulator, captured: &Captured, token: &str) -> (Replay, BaselineRequest) {
        let mut headers = HeaderMap::new();
        let skipped = ["host", "content-length", "authorization", "client-request-id"];
        for (name, value) in captured.headers.iter().filter(|(n, _)| !skipped.contains(&n.as_str())) {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().expect("bearer"));
        let path = match &captured.meeting_id {
            // Checked at capture: the path ends with "/{the encoded id}".
            Some(id) => &captured.path[..captured.path.len() - utf8_percent_encode(id, SEGMENT).to_string().len() - 1],
            None => captured.path.as_str(),
        };
        let replay = Replay {
            rpc: captured.rpc,
            base: format!("{}{path}", emulator.graph_endpoint()),
            headers,
            body: (!captured.body.is_empty()).then(|| Bytes::from(captured.body.clone())),
        };
        let shown = BaselineRequest {
            rpc: captured.rpc.name(),
            method: captured.rpc.graph_method().to_string(),
            path: captured.path.clone(),
            headers: captured
                .headers
                .iter()
                .map(|(n, v)| {
                    let v = if n == "authorization" { "Bearer (a token from the emulator)".into() } else { v.clone() };
                    (n.clone(), v)
                })
                .collect(),
            body: captured.body.clone(),
        };
        (replay, shown)
    }

    /// The requests to send: the one URL of a Create, or one per meeting of `meeting_ids`.
    pub(crate) fn direct(&self, meeting_ids: &[String]) -> Direct {
        let urls = if self.rpc.reads_meetings() {
            meeting_ids.iter().map(|id| format!("{}/{}", self.base, utf8_percent_encode(id, SEGMENT))).collect()
        } else {
            vec![self.base.clone()]
        };
        Direct { rpc: self.rpc, urls, headers: self.headers.clone(), body: self.body.clone() }
    }
}

/// `n` meetings of the organizer of `create` (a Create [`Replay`]) made in `emulator` for
/// `tenant`, by sending the service's create request directly; their ids.
pub(crate) async fn create_meetings(
    emulator: &Emulator,
    tenant: &EmulatedTenant,
    create: &Replay,
    n: usize,
) -> Vec<String> {
    assert_eq!(create.rpc, Rpc::Create, "meetings are made by the Create request");
    let token = fetch_token(emulator, tenant).await;
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let mut headers = create.headers.clone();
        headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().expect("bearer"));
        let reply = client
            .post(&create.base)
            .headers(headers)
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .body(create.body.clone().unwrap_or_default())
            .send()
            .await
            .expect("create a meeting to read");
        assert_eq!(reply.status().as_u16(), 201, "the emulator creates the meetings Get and Update read");
        let meeting: serde_json::Value = reply.json().await.expect("meeting JSON");
        ids.push(meeting["id"].as_str().expect("meeting id").to_owned());
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replay_names_each_meeting_as_the_service_does_and_keeps_its_headers() {
        let emulator = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
        let captured = Captured {
            rpc: Rpc::Update,
            path: "/v1.0/users/u/onlineMeetings/MSo1Mn0q%2BMA%3D%3D".into(),
            headers: vec![
                ("authorization".into(), "Bearer captured".into()),
                ("client-request-id".into(), "c".into()),
                ("prefer".into(), "include-unknown-enum-members".into()),
            ],
            body: "{\"subject\":\"s\"}".into(),
            meeting_id: Some("MSo1Mn0q+MA==".into()),
        };
        let (replay, shown) = Replay::new(&emulator, &captured, "fresh");
        let direct = replay.direct(&["a/b+c=".to_owned(), "plain_id-1".to_owned()]);
        let base = format!("{}/v1.0/users/u/onlineMeetings", emulator.graph_endpoint());
        assert_eq!(direct.urls, [format!("{base}/a%2Fb%2Bc%3D"), format!("{base}/plain_id-1")]);
        assert_eq!(direct.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()), Some("Bearer fresh"));
        assert!(direct.headers.get("client-request-id").is_none(), "each request gets its own");
        assert_eq!(direct.headers.get("prefer").and_then(|v| v.to_str().ok()), Some("include-unknown-enum-members"));
        assert_eq!(direct.body.as_deref(), Some(&b"{\"subject\":\"s\"}"[..]));
        assert_eq!((shown.rpc, shown.method.as_str()), ("Update", "PATCH"));
        assert!(shown.headers.iter().all(|(_, v)| !v.contains("captured")), "the report shows no token");

        let get = Captured { rpc: Rpc::Get, body: String::new(), ..captured };
        assert_eq!(Replay::new(&emulator, &get, "t").0.direct(&[]).body, None, "a GET has no body");
        emulator.shutdown().await;
    }
}
