//! The baseline: the request the service sends to Graph, captured from the service once, then
//! replayed straight to the emulator with a pooled reqwest client (no gRPC hop).

use std::{path::Path, time::Duration};

use bytes::Bytes;
use meeting_emulator::{EmulatedTenant, Emulator, EmulatorConfig, Host};
use meeting_service::grpc::pb::meeting_service_client::MeetingServiceClient;
use reqwest::header::{HeaderMap, HeaderName, AUTHORIZATION};

use crate::{
    report::BaselineRequest,
    service::Spawner,
    tenants::{bench_tenants, create_request, settings},
};

/// The request the service sends to Graph, captured once from a service run against a recording
/// emulator: the baseline replays it byte for byte (with its own token and client-request-id).
pub(crate) async fn capture_graph_request(
    spawner: &mut Spawner,
    dir: &Path,
) -> (String, Vec<(String, String)>, String) {
    let emulator = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let tenants = bench_tenants(dir, 1);
    emulator.add_tenant(tenants[0].emulated.clone());
    let service = spawner.spawn(settings(&emulator, &tenants, false)).await;
    let channel = service.channels(1).await.remove(0);
    MeetingServiceClient::new(channel)
        .create(create_request(&tenants[0].emulated.tenant_id))
        .await
        .expect("the calibration Create succeeds");
    service.stop().await;
    let rec = emulator.requests().into_iter().rev().find(|r| r.host == Host::Graph).expect("a Graph request");
    emulator.shutdown().await;
    (rec.path, rec.headers, rec.body)
}

async fn fetch_token(emulator: &Emulator, tenant: &EmulatedTenant) -> String {
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

/// The captured request with a token of its own from `emulator` for `tenant`: the URL, headers
/// and body the baseline sends, and the request as the report shows it (its token redacted).
pub(crate) async fn request(
    emulator: &Emulator,
    tenant: &EmulatedTenant,
    (path, headers, body): (String, Vec<(String, String)>, String),
) -> ((String, HeaderMap, Bytes), BaselineRequest) {
    let token = fetch_token(emulator, tenant).await;
    let mut header_map = HeaderMap::new();
    let skipped = ["host", "content-length", "authorization", "client-request-id"];
    for (name, value) in headers.iter().filter(|(n, _)| !skipped.contains(&n.as_str())) {
        header_map.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    header_map.insert(AUTHORIZATION, format!("Bearer {token}").parse().expect("bearer"));
    let baseline = (format!("{}{path}", emulator.graph_endpoint()), header_map, Bytes::from(body.clone()));
    let shown = BaselineRequest {
        method: "POST",
        path,
        headers: headers
            .into_iter()
            .map(|(n, v)| {
                let v = if n == "authorization" { "Bearer (a token from the emulator)".into() } else { v };
                (n, v)
            })
            .collect(),
        body,
    };
    (baseline, shown)
}
