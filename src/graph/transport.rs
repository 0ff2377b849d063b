//! How a request reaches Graph and its answer comes back.
//!
//! HTTP/2 (negotiated by ALPN over TLS, or h2c by prior knowledge to a plain-http endpoint) goes
//! over multiplexed connections held here per origin, several when the server limits the streams
//! of one. A call in flight is an h2 stream and the futures of this module: no task or pool
//! future of its own. What is ours, each part small and tested here:
//! - which connection takes the next call ([`pick`]): one with room under the stream limit the
//!   server set, or a new one (a connection waits for the server's SETTINGS before it is used);
//! - which failures HTTP/2 says Graph never processed ([`never_processed`]): a stream never
//!   opened, a stream the server refused (`REFUSED_STREAM`) and one a graceful `GOAWAY`
//!   excluded. Those are sent once more, the only retry here; every other retry is the
//!   pipeline's;
//! - the connection's upkeep h2 leaves to its user ([`drive`]): a PING that waits for the
//!   server's SETTINGS, keepalive PINGs, and giving back flow-control credit as a body is read.
//!
//! Everything else goes through reqwest: a plain-http endpoint without prior knowledge
//! (HTTP/1.1), a proxy set in the environment (`HTTPS_PROXY`, `ALL_PROXY`, ..., with
//! `NO_PROXY`), a server that doesn't offer h2. Both stacks use one rustls configuration.
//!
//! Why h2 and not hyper's HTTP/2 client (`hyper::client::conn::http2`), which would own the
//! upkeep: hyper spawns a task per request that waits for the response, 1,440 bytes (its
//! future is an enum as large as hyper's connection task) plus the task's header and a callback
//! channel. Measured with `cargo bench --bench loadgen -- --scenario held` (10,000 Creates in
//! flight at 200 ms, runs back to back on one machine), hyper's client took the service's peak
//! RSS to 173 MB (twice), over the 150 MB target; with this module it was 131 to 141 MB (seven
//! runs); heaptrack showed 15 MB of hyper's per-request tasks alone.
//! reqwest (hyper-util's pool on top) cost more: 22 KB per call (BENCHMARKS.md).

use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::client::proxy::matcher::Matcher;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use url::Url;

use super::error::{BoxError, GraphError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Enough for 10,000 calls in flight at the 100 streams per connection servers commonly allow.
const MAX_CONNECTIONS_PER_ORIGIN: usize = 128;
/// A connection is pinged this often; one that doesn't answer within the timeout is closed, so
/// calls fail over to a new connection instead of waiting out their deadline.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 receive windows, hyper's defaults (which reqwest uses): a meeting is a few KB, an error
/// body less; the limit on what is read is `max_body`.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// What came back: the status, the headers and the body, read up to a limit.
#[derive(Debug)]
pub struct Exchange {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than the limit and was cut there.
    pub truncated: bool,
}

/// The HTTP clients Graph calls go through, shared by every tenant and kept across reloads
/// (so are the connections).
pub struct GraphTransport {
    pooled: reqwest::Client,
    tls: tokio_rustls::TlsConnector,
    /// Plain-http endpoints speak h2c (`graph.http2_prior_knowledge`).
    prior_knowledge: bool,
    /// The proxies reqwest would use: the same rules, read the same way (hyper-util's matcher).
    proxies: Matcher,
    origins: Mutex<HashMap<String, Arc<Origin>>>,
}

impl fmt::Debug for GraphTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphTransport").field("prior_knowledge", &self.prior_knowledge).finish_non_exhaustive()
    }
}

impl GraphTransport {
    /// `tls` verifies Graph's certificate on every path (the HTTP/2 connections and reqwest);
    /// proxies come from the environment, as reqwest reads them.
    pub fn new(tls: rustls::ClientConfig, prior_knowledge: bool) -> Result<Self, BoxError> {
        Self::with_proxies(tls, prior_knowledge, Matcher::from_system())
    }

    fn with_proxies(mut tls: rustls::ClientConfig, prior_knowledge: bool, proxies: Matcher) -> Result<Self, BoxError> {
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let pooled = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .user_agent(concat!("meeting-service/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(KEEPALIVE_INTERVAL)
            // A redirect could carry the bearer token elsewhere; Graph's create doesn't redirect.
            .redirect(reqwest::redirect::Policy::none());
        let pooled = if prior_knowledge { pooled.http2_prior_knowledge() } else { pooled };
        Ok(GraphTransport {
            pooled: pooled.build()?,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            prior_knowledge,
            proxies,
            origins: Mutex::new(HashMap::new()),
        })
    }

    /// The way to `endpoint`; endpoints of one origin share connections.
    pub fn route(&self, endpoint: &Url) -> Route {
        let pooled = || Route(Way::Pooled(self.pooled.clone()));
        let https = endpoint.scheme() == "https";
        let (Some(host), Some(port)) = (endpoint.host_str(), endpoint.port_or_known_default()) else {
            return pooled();
        };
        let proxied = match endpoint.as_str().parse::<http::Uri>() {
            Ok(uri) => self.proxies.intercept(&uri).is_some(),
            Err(_) => true,
        };
        if proxied || !(https || self.prior_knowledge) {
            return pooled();
        }
        // An IPv6 literal is bracketed in a URL, not in a socket address or a server name.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let tls = match https {
            true => match ServerName::try_from(host.to_owned()) {
                Ok(name) => Some((self.tls.clone(), name)),
                Err(_) => return pooled(),
            },
            false => None,
        };
        let key = format!("{}://{host}:{port}", endpoint.scheme());
        let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
        let origin = origins.entry(key).or_insert_with(|| {
            Arc::new(Origin {
                host: host.to_owned(),
                port,
                tls,
                pooled: self.pooled.clone(),
                connections: Mutex::new(Vec::new()),
                connecting: tokio::sync::Mutex::new(()),
                without_h2: AtomicBool::new(false),
            })
        });
        Route(Way::Http2(origin.clone()))
    }
}

#[cfg(test)]
impl GraphTransport {
    /// A transport that trusts no certificate and sees no proxy: for tests that reach no real
    /// TLS server.
    pub(crate) fn trusting_nothing(prior_knowledge: bool) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        GraphTransport::with_proxies(tls, prior_knowledge, Matcher::builder().build()).expect("a client")
    }
}

/// How one Graph endpoint is reached.
#[derive(Clone)]
pub struct Route(Way);

#[derive(Clone)]
enum Way {
    Http2(Arc<Origin>),
    Pooled(reqwest::Client),
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Way::Http2(origin) => write!(f, "Route::Http2({}:{})", origin.host, origin.port),
            Way::Pooled(_) => f.write_str("Route::Pooled"),
        }
    }
}

impl Route {
    /// Sends the request `build` makes (again, for the retry HTTP/2 allows) and reads the
    /// answer, at most `max_body` bytes of its body.
    pub async fn exchange(
        &self,
        build: &(dyn Fn() -> Result<Request<Bytes>, GraphError> + Sync),
        max_body: usize,
    ) -> Result<Exchange, GraphError> {
        match &self.0 {
            Way::Http2(origin) if !origin.without_h2.load(Ordering::Relaxed) => {
                match origin.exchange(build, max_body).await {
                    Err(Failure::NoHttp2) => Box::pin(pooled_exchange(&origin.pooled, build()?, max_body)).await,
                    Err(Failure::Graph(e)) => Err(e),
                    Ok(exchange) => Ok(exchange),
                }
            }
            Way::Http2(origin) => Box::pin(pooled_exchange(&origin.pooled, build()?, max_body)).await,
            Way::Pooled(client) => Box::pin(pooled_exchange(client, build()?, max_body)).await,
        }
    }
}

async fn pooled_exchange(
    client: &reqwest::Client,
    request: Request<Bytes>,
    max_body: usize,
) -> Result<Exchange, GraphError> {
    let request =
        reqwest::Request::try_from(request.map(reqwest::Body::from)).map_err(|e| GraphError::Connect(Box::new(e)))?;
    let response = client.execute(request).await.map_err(|e| {
        if e.is_connect() {
            GraphError::Connect(Box::new(e))
        } else {
            GraphError::ConnectionLost(Box::new(e))
        }
    })?;
    read(http::Response::from(response), max_body).await
}

/// One origin's HTTP/2 connections: made when needed, dropped when they close.
struct Origin {
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// For a server that answers ALPN without h2.
    pooled: reqwest::Client,
    connections: Mutex<Vec<Connection>>,
    /// One connection attempt at a time; the calls that arrive meanwhile wait for it.
    connecting: tokio::sync::Mutex<()>,
    without_h2: AtomicBool,
}

#[derive(Clone)]
struct Connection {
    /// Also tells the server's current SETTINGS_MAX_CONCURRENT_STREAMS.
    sender: SendRequest<Bytes>,
    load: Arc<Load>,
}

/// What the pool knows of a connection besides what h2 tells.
#[derive(Debug, Default)]
struct Load {
    /// Calls on this connection now.
    streams: AtomicUsize,
    /// Takes no more calls: it ended, failed, or the server is sending it away.
    retired: AtomicBool,
}

/// A call's stream on a connection, counted until the call is done with it, however it ends.
struct Claim(Arc<Load>);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where the next call goes.
#[derive(Debug, PartialEq)]
enum Pick {
    /// The connection at this index.
    Existing(usize),
    /// A new connection.
    Open,
}

/// Which connection takes the next call, given each one's (calls, stream limit): the first with
/// room; when all are full, a new one, or the least busy once there are `max` (its call then
/// waits in h2 for a free stream).
fn pick(loads: impl Iterator<Item = (usize, usize)>, max: usize) -> Pick {
    let (mut count, mut least) = (0, None::<(usize, usize)>);
    for (index, (streams, limit)) in loads.enumerate() {
        if streams < limit {
            return Pick::Existing(index);
        }
        count += 1;
        if least.is_none_or(|(_, fewest)| streams < fewest) {
            least = Some((index, streams));
        }
    }
    match least {
        Some((index, _)) if count >= max => Pick::Existing(index),
        _ => Pick::Open,
    }
}

enum Failure {
    /// The server chose HTTP/1.1 in ALPN: nothing was sent.
    NoHttp2,
    Graph(GraphError),
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        Failure::Graph(e)
    }
}

impl Origin {
    async fn exchange(
        &self,
        build: &(dyn Fn() -> Result<Request<Bytes>, GraphError> + Sync),
        max_body: usize,
    ) -> Result<Exchange, Failure> {
        let mut retried = false;
        loop {
            let (mut connection, _claim) = match self.claim() {
                Some(claimed) => claimed,
                // Boxed: connecting (TCP, TLS, the handshake) is rare, and inline its state
                // would make every call's future as large as a TLS handshake.
                None => Box::pin(self.connect_once()).await?,
            };
            let (head, body) = build()?.into_parts();
            let mut request = Request::from_parts(head, ());
            request.headers_mut().insert(http::header::CONTENT_LENGTH, body.len().into());
            let (error, opened) = match connection.sender.send_request(request, body.is_empty()) {
                Err(e) => (e, false),
                Ok((response, mut stream)) => {
                    let sent = if body.is_empty() { Ok(()) } else { stream.send_data(body, true) };
                    let error = match sent {
                        Ok(()) => match response.await {
                            Ok(response) => return Ok(read_h2(response, max_body).await?),
                            Err(e) => e,
                        },
                        Err(e) => e,
                    };
                    (error, true)
                }
            };
            // A reset concerns one stream; a stream that could not open, a GOAWAY or I/O, the
            // connection.
            if !opened || error.is_io() || error.is_go_away() {
                connection.load.retired.store(true, Ordering::Relaxed);
            }
            let unprocessed = !opened || never_processed(&error);
            if unprocessed && !retried {
                tracing::debug!(error = %error, "Graph did not process the request; sending it once more");
                retried = true;
                continue;
            }
            return Err(Failure::Graph(match unprocessed {
                true => GraphError::Connect(Box::new(error)),
                false => GraphError::ConnectionLost(Box::new(error)),
            }));
        }
    }

    /// A stream on an open connection (see [`pick`]); None: open another connection.
    fn claim(&self) -> Option<(Connection, Claim)> {
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.retain(|c| !c.load.retired.load(Ordering::Relaxed));
        let loads =
            connections.iter().map(|c| (c.load.streams.load(Ordering::Relaxed), c.sender.current_max_send_streams()));
        let Pick::Existing(index) = pick(loads, MAX_CONNECTIONS_PER_ORIGIN) else { return None };
        let chosen = connections[index].clone();
        chosen.load.streams.fetch_add(1, Ordering::Relaxed);
        let claim = Claim(chosen.load.clone());
        Some((chosen, claim))
    }

    /// A stream on a new connection, unless a connection made meanwhile has room.
    async fn connect_once(&self) -> Result<(Connection, Claim), Failure> {
        let _connecting = self.connecting.lock().await;
        if let Some(claimed) = self.claim() {
            return Ok(claimed);
        }
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
            Ok(result) => result?,
            Err(_) => return Err(GraphError::Connect("connecting timed out".into()).into()),
        };
        connection.load.streams.fetch_add(1, Ordering::Relaxed);
        let claim = Claim(connection.load.clone());
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).push(connection.clone());
        Ok((connection, claim))
    }

    async fn connect(&self) -> Result<Connection, Failure> {
        let unreachable = |e: BoxError| Failure::Graph(GraphError::Connect(e));
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| unreachable(e.into()))?;
        tcp.set_nodelay(true).map_err(|e| unreachable(e.into()))?;
        let io: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(|e| unreachable(e.into()))?;
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    tracing::warn!(
                        graph.host = %self.host,
                        "Graph's endpoint does not offer HTTP/2; its calls go over HTTP/1.1 from now on"
                    );
                    self.without_h2.store(true, Ordering::Relaxed);
                    return Err(Failure::NoHttp2);
                }
                Box::new(tls)
            }
        };
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| unreachable(e.into()))?;
        let load = Arc::new(Load::default());
        let (settled, settings_applied) = tokio::sync::oneshot::channel();
        tokio::spawn(drive(connection, load.clone(), settled, self.host.clone()));
        // The stream limit decides how many calls this connection takes: wait for the server's.
        if settings_applied.await != Ok(true) {
            return Err(unreachable("the server closed the connection during the HTTP/2 handshake".into()));
        }
        Ok(Connection { sender, load })
    }
}

/// The connection's IO, TCP or TLS, boxed so that both make one connection type.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Runs a connection until it ends (the server closes it, it fails, or it stops answering
/// PINGs), then retires it. h2 leaves two things to its user, done here: `settled` tells whether
/// the server's SETTINGS are in, and PINGs find a connection a middlebox dropped silently, which
/// would otherwise hold its calls until their deadlines.
async fn drive(
    mut connection: h2::client::Connection<Box<dyn Io>, Bytes>,
    load: Arc<Load>,
    settled: tokio::sync::oneshot::Sender<bool>,
    host: String,
) {
    let mut pings = connection.ping_pong();
    let pinging = async {
        // The server's SETTINGS come before anything else it sends (RFC 9113 3.4): once this
        // PING is answered, h2 knows how many streams a connection may carry.
        let answered = match pings.as_mut() {
            Some(pings) => {
                matches!(tokio::time::timeout(KEEPALIVE_TIMEOUT, pings.ping(h2::Ping::opaque())).await, Ok(Ok(_)))
            }
            None => true,
        };
        let _ = settled.send(answered);
        if answered {
            keepalive(pings).await;
        }
    };
    tokio::select! {
        result = &mut connection => {
            if let Err(e) = result {
                tracing::debug!(graph.host = %host, error = %e, "HTTP/2 connection to Graph closed");
            }
        }
        () = pinging => {
            tracing::warn!(graph.host = %host, "Graph did not answer an HTTP/2 PING in time; closing the connection");
        }
    }
    load.retired.store(true, Ordering::Relaxed);
}

/// Returns when the peer leaves a PING unanswered.
async fn keepalive(pings: Option<h2::PingPong>) {
    let Some(mut pings) = pings else { return std::future::pending().await };
    loop {
        tokio::time::sleep(KEEPALIVE_INTERVAL).await;
        match tokio::time::timeout(KEEPALIVE_TIMEOUT, pings.ping(h2::Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            // The connection is ending anyway; its own branch reports why.
            Ok(Err(_)) => return std::future::pending().await,
            Err(_) => return,
        }
    }
}

/// HTTP/2 says Graph never processed the request on an opened stream: the server refused it
/// (`REFUSED_STREAM`, RFC 9113 8.7) or a graceful `GOAWAY` excluded it (h2 reports a GOAWAY
/// from the peer on the streams above its last stream id; RFC 9113 6.8). A stream that h2 could
/// not open at all is the caller's case. Everything else (I/O, other resets, a stream the
/// GOAWAY kept that then failed) may have reached Graph.
fn never_processed(error: &h2::Error) -> bool {
    error.is_remote()
        && ((error.is_reset() && error.reason() == Some(h2::Reason::REFUSED_STREAM))
            || (error.is_go_away() && error.reason() == Some(h2::Reason::NO_ERROR)))
}

/// Reads an h2 answer's body, at most `max_body` bytes of it (stopping early resets the
/// stream), giving the flow-control credit back as it goes (h2 leaves that to the reader).
async fn read_h2(response: Response<h2::RecvStream>, max_body: usize) -> Result<Exchange, GraphError> {
    let (parts, mut body) = response.into_parts();
    let mut reader = BodyReader::new(max_body);
    while let Some(data) = body.data().await {
        let data = data.map_err(|e| GraphError::ConnectionLost(e.into()))?;
        let _ = body.flow_control().release_capacity(data.len());
        if !reader.take(&data) {
            break;
        }
    }
    Ok(reader.finish(parts))
}

/// Reads reqwest's answer's body, at most `max_body` bytes of it.
async fn read(response: Response<reqwest::Body>, max_body: usize) -> Result<Exchange, GraphError> {
    let (parts, mut body) = response.into_parts();
    let mut reader = BodyReader::new(max_body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| GraphError::ConnectionLost(e.into()))?;
        if let Ok(data) = frame.into_data() {
            if !reader.take(&data) {
                break;
            }
        }
    }
    Ok(reader.finish(parts))
}

/// A body read up to a limit.
struct BodyReader {
    bytes: Vec<u8>,
    max: usize,
    truncated: bool,
}

impl BodyReader {
    fn new(max: usize) -> Self {
        BodyReader { bytes: Vec::new(), max, truncated: false }
    }

    /// False when the limit is reached: stop reading.
    fn take(&mut self, data: &[u8]) -> bool {
        if self.bytes.len() + data.len() > self.max {
            self.truncated = true;
            return false;
        }
        self.bytes.extend_from_slice(data);
        true
    }

    fn finish(self, parts: http::response::Parts) -> Exchange {
        Exchange { status: parts.status.as_u16(), headers: parts.headers, body: self.bytes, truncated: self.truncated }
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn the_first_connection_with_room_takes_the_call_then_a_new_one() {
        let at = |loads: &[(usize, usize)], max| pick(loads.iter().copied(), max);
        assert_eq!(at(&[], 128), Pick::Open);
        assert_eq!(at(&[(0, 100)], 128), Pick::Existing(0));
        assert_eq!(at(&[(100, 100), (99, 100)], 128), Pick::Existing(1));
        assert_eq!(at(&[(100, 100), (100, 100)], 128), Pick::Open, "all full: open another");
        assert_eq!(at(&[(5, usize::MAX)], 128), Pick::Existing(0), "no limit: one connection");
        // The server lowered its limit below what a connection carries: it is full.
        assert_eq!(at(&[(8, 2)], 128), Pick::Open);
        // At the cap the least busy full connection takes it (the call waits for a stream there).
        assert_eq!(at(&[(3, 2), (2, 2), (4, 2)], 3), Pick::Existing(1));
        assert_eq!(at(&[(2, 2), (2, 2)], 2), Pick::Existing(0));
    }

    #[test]
    fn proxies_are_seen_as_reqwest_sees_them_no_proxy_included() {
        let transport = |proxies: Matcher| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            GraphTransport::with_proxies(tls, true, proxies).unwrap()
        };
        let route = |transport: &GraphTransport, url: &str| format!("{:?}", transport.route(&url.parse().unwrap()));
        let https_proxy = transport(Matcher::builder().https("http://proxy:3128").build());
        assert_eq!(route(&https_proxy, "https://graph.microsoft.com/"), "Route::Pooled");
        assert_eq!(route(&https_proxy, "http://127.0.0.1:8081/"), "Route::Http2(127.0.0.1:8081)", "http isn't proxied");
        let all = transport(Matcher::builder().all("http://proxy:3128").build());
        assert_eq!(route(&all, "http://127.0.0.1:8081/"), "Route::Pooled");
        let except_graph =
            transport(Matcher::builder().all("http://proxy:3128").no("graph.microsoft.com, 127.0.0.1").build());
        assert_eq!(route(&except_graph, "https://graph.microsoft.com/"), "Route::Http2(graph.microsoft.com:443)");
        assert_eq!(route(&except_graph, "http://127.0.0.1:8081/"), "Route::Http2(127.0.0.1:8081)");
        assert_eq!(route(&except_graph, "https://graph.microsoft.us/"), "Route::Pooled");
        let direct = transport(Matcher::builder().build());
        assert_eq!(route(&direct, "https://graph.microsoft.com/"), "Route::Http2(graph.microsoft.com:443)");
        assert_eq!(route(&direct, "https://[::1]:8443/"), "Route::Http2(::1:8443)");
        let http1 = GraphTransport::trusting_nothing(false);
        assert_eq!(route(&http1, "http://127.0.0.1:8081/"), "Route::Pooled", "plain http without prior knowledge");
    }

    fn pki(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/pki/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// A transport that trusts the test CA (and nothing else), as the service trusts Graph's:
    /// reqwest gets the same configuration.
    fn transport() -> GraphTransport {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = CertificateDer::from_pem_slice(&pki("ca.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        GraphTransport::with_proxies(tls, false, Matcher::builder().build()).unwrap()
    }

    /// An HTTPS server for localhost offering `alpn`; answers every request 201 with a small
    /// JSON body, over HTTP/2 or HTTP/1.1, whichever ALPN chose. Counts connections and records
    /// each request's version and path.
    async fn https_server(alpn: &[&[u8]]) -> (u16, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let certs = CertificateDer::pem_slice_iter(&pki("server.pem")).collect::<Result<Vec<_>, _>>().unwrap();
        let key = PrivateKeyDer::from_pem_slice(&pki("server.key")).unwrap();
        let mut config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (connections, seen) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
        let (counted, log) = (connections.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, log) = (acceptor.clone(), log.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                        serve_h2(tls, log).await;
                    } else {
                        serve_http1(tls, log).await;
                    }
                });
            }
        });
        (port, connections, seen)
    }

    const CREATED: &[u8] = br#"{"id":"over-tls"}"#;

    async fn serve_h2<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(io: T, log: Arc<Mutex<Vec<String>>>) {
        let Ok(mut connection) = h2::server::handshake(io).await else { return };
        while let Some(Ok((request, mut respond))) = connection.accept().await {
            log.lock().unwrap().push(format!("{:?} {}", request.version(), request.uri().path()));
            let answer = Response::builder().status(201).header("content-type", "application/json").body(()).unwrap();
            let mut stream = respond.send_response(answer, false).unwrap();
            stream.send_data(Bytes::from_static(CREATED), true).unwrap();
        }
    }

    async fn serve_http1<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
        mut io: T,
        log: Arc<Mutex<Vec<String>>>,
    ) {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match io.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
        let line = String::from_utf8_lossy(&seen).lines().next().unwrap_or_default().to_owned();
        log.lock().unwrap().push(line);
        let head = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            CREATED.len()
        );
        let _ = io.write_all(head.as_bytes()).await;
        let _ = io.write_all(CREATED).await;
        let _ = io.shutdown().await;
    }

    async fn post(route: &Route, origin: &str) -> Result<Exchange, GraphError> {
        let uri = format!("{origin}/v1.0/users/u/onlineMeetings");
        let build = || {
            Ok(Request::post(uri.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Bytes::from_static(b"{}"))
                .unwrap())
        };
        route.exchange(&build, 1024).await
    }

    #[tokio::test]
    async fn https_negotiates_http2_and_keeps_one_connection() {
        let (port, connections, seen) = https_server(&[b"h2", b"http/1.1"]).await;
        let transport = transport();
        let origin = format!("https://localhost:{port}");
        let route = transport.route(&origin.parse().unwrap());
        for _ in 0..3 {
            let answer = post(&route, &origin).await.expect("answered");
            assert_eq!((answer.status, answer.body.as_slice(), answer.truncated), (201, CREATED, false));
        }
        assert_eq!(*seen.lock().unwrap(), vec!["HTTP/2.0 /v1.0/users/u/onlineMeetings"; 3]);
        assert_eq!(connections.load(Ordering::SeqCst), 1, "one multiplexed connection");
        // Another tenant on the same origin shares it.
        let same_origin = transport.route(&format!("{origin}/beta").parse().unwrap());
        post(&same_origin, &origin).await.expect("answered");
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_server_without_http2_is_reached_over_http1_with_the_same_tls_configuration() {
        let (port, _, seen) = https_server(&[b"http/1.1"]).await;
        let transport = transport();
        let origin = format!("https://localhost:{port}");
        let route = transport.route(&origin.parse().unwrap());
        for _ in 0..2 {
            let answer = post(&route, &origin).await.expect("answered by reqwest, trusting only the test CA");
            assert_eq!((answer.status, answer.body.as_slice()), (201, CREATED));
        }
        assert_eq!(*seen.lock().unwrap(), vec!["POST /v1.0/users/u/onlineMeetings HTTP/1.1"; 2]);
    }

    #[tokio::test]
    async fn a_certificate_the_roots_dont_vouch_for_is_refused_before_anything_is_sent() {
        for alpn in [&[b"h2".as_slice()][..], &[b"http/1.1".as_slice()][..]] {
            let (port, _, seen) = https_server(alpn).await;
            let transport = GraphTransport::trusting_nothing(false);
            let origin = format!("https://localhost:{port}");
            let error = post(&transport.route(&origin.parse().unwrap()), &origin).await.expect_err("untrusted");
            assert!(matches!(error, GraphError::Connect(_)), "{error:?}");
            assert!(seen.lock().unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn calls_beyond_a_connections_stream_limit_open_another_connection() {
        // An h2c server that lets each connection carry 2 streams and answers after 300 ms.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (connections, in_progress, peak) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (counted, busy, most) = (connections.clone(), in_progress.clone(), peak.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let (busy, most) = (busy.clone(), most.clone());
                tokio::spawn(async move {
                    let mut connection =
                        h2::server::Builder::new().max_concurrent_streams(2).handshake(tcp).await.unwrap();
                    while let Some(Ok((_request, mut respond))) = connection.accept().await {
                        let (busy, most) = (busy.clone(), most.clone());
                        tokio::spawn(async move {
                            most.fetch_max(busy.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            busy.fetch_sub(1, Ordering::SeqCst);
                            let answer = Response::builder().status(201).body(()).unwrap();
                            let mut stream = respond.send_response(answer, false).unwrap();
                            stream.send_data(Bytes::from_static(CREATED), true).unwrap();
                        });
                    }
                });
            }
        });
        let transport = GraphTransport::trusting_nothing(true);
        let origin = format!("http://127.0.0.1:{port}");
        let route = transport.route(&origin.parse().unwrap());
        let at_once = |calls: usize| {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..calls {
                let (route, origin) = (route.clone(), origin.clone());
                set.spawn(async move { post(&route, &origin).await.expect("answered").status });
            }
            set.join_all()
        };
        assert_eq!(at_once(6).await, vec![201; 6]);
        assert_eq!(connections.load(Ordering::SeqCst), 3, "2 streams per connection");
        assert_eq!(peak.load(Ordering::SeqCst), 6, "no call waited for another's stream");
        // Done calls free their streams: the next ones reuse the connections.
        assert_eq!(at_once(4).await, vec![201; 4]);
        assert_eq!(connections.load(Ordering::SeqCst), 3);
    }

    /// How the first connection of [`misbehaving`] treats the first request on it.
    #[derive(Clone, Copy)]
    enum Misbehaviour {
        /// A GOAWAY with this last stream id and error code, then the connection closes.
        GoAway(u32, u32),
        /// RST_STREAM with REFUSED_STREAM, for every request on every connection.
        RefuseAll,
    }

    /// An h2c server whose first connection misbehaves at the frame level (a GOAWAY after a
    /// request's HEADERS arrived, which the h2 crate's server can't be made to send) and whose
    /// later connections answer 201. Counts connections and the requests each side saw.
    async fn misbehaving(misbehaviour: Misbehaviour) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (connections, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (counted, seen) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let nth = counted.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    match misbehaviour {
                        Misbehaviour::GoAway(last, code) if nth == 0 => {
                            go_away_after_headers(tcp, last, code, &seen).await
                        }
                        _ => answer_or_refuse(tcp, matches!(misbehaviour, Misbehaviour::RefuseAll), &seen).await,
                    }
                });
            }
        });
        (origin, connections, requests)
    }

    async fn answer_or_refuse(tcp: TcpStream, refuse: bool, seen: &AtomicUsize) {
        let Ok(mut connection) = h2::server::handshake(tcp).await else { return };
        while let Some(Ok((_request, mut respond))) = connection.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            if refuse {
                respond.send_reset(h2::Reason::REFUSED_STREAM);
            } else {
                let answer = Response::builder().status(201).body(()).unwrap();
                let mut stream = respond.send_response(answer, false).unwrap();
                stream.send_data(Bytes::from_static(CREATED), true).unwrap();
            }
        }
    }

    /// Speaks just enough HTTP/2 (RFC 9113 3.4, 4.1, 6.5, 6.7, 6.8) to receive a request's HEADERS,
    /// then sends GOAWAY(`last`, `code`) and closes.
    async fn go_away_after_headers(mut tcp: TcpStream, last: u32, code: u32, seen: &AtomicUsize) {
        let frame = |kind: u8, flags: u8, payload: &[u8]| {
            let mut bytes = (payload.len() as u32).to_be_bytes()[1..].to_vec();
            bytes.extend([kind, flags, 0, 0, 0, 0]);
            bytes.extend_from_slice(payload);
            bytes
        };
        let mut preface = [0u8; 24];
        if tcp.read_exact(&mut preface).await.is_err() || tcp.write_all(&frame(0x4, 0, &[])).await.is_err() {
            return;
        }
        loop {
            let mut head = [0u8; 9];
            if tcp.read_exact(&mut head).await.is_err() {
                return;
            }
            let mut payload = vec![0u8; u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize];
            if tcp.read_exact(&mut payload).await.is_err() {
                return;
            }
            match (head[3], head[4] & 0x1) {
                // The client's SETTINGS: acknowledged.
                (0x4, 0) => {
                    let _ = tcp.write_all(&frame(0x4, 0x1, &[])).await;
                }
                // A PING: answered.
                (0x6, 0) => {
                    let _ = tcp.write_all(&frame(0x6, 0x1, &payload)).await;
                }
                // HEADERS: a request arrived.
                (0x1, _) => {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let goaway = [last.to_be_bytes(), code.to_be_bytes()].concat();
                    let _ = tcp.write_all(&frame(0x7, 0, &goaway)).await;
                    let _ = tcp.flush().await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return;
                }
                _ => {}
            }
        }
    }

    async fn post_h2c(origin: &str) -> Result<Exchange, GraphError> {
        let transport = GraphTransport::trusting_nothing(true);
        post(&transport.route(&origin.parse().unwrap()), origin).await
    }

    #[tokio::test]
    async fn a_graceful_goaway_that_excluded_the_stream_sends_it_once_more_on_a_new_connection() {
        let (origin, connections, requests) = misbehaving(Misbehaviour::GoAway(0, 0x0)).await;
        let answer = post_h2c(&origin).await.expect("sent again");
        assert_eq!(answer.status, 201);
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert_eq!(requests.load(Ordering::SeqCst), 2, "the excluded request and its one retry");
    }

    #[tokio::test]
    async fn a_goaway_that_kept_the_stream_or_reports_an_error_is_not_sent_again() {
        // Stream 1 is within the GOAWAY's last stream id: Graph may have processed it.
        // With INTERNAL_ERROR the GOAWAY is not graceful: treated as a lost connection.
        for (last, code) in [(1, 0x0), (0, 0x2)] {
            let (origin, connections, requests) = misbehaving(Misbehaviour::GoAway(last, code)).await;
            let error = post_h2c(&origin).await.expect_err("the connection went away");
            assert!(matches!(error, GraphError::ConnectionLost(_)), "GOAWAY({last}, {code}): {error:?}");
            assert!(!error.is_unprocessed() && error.may_have_been_processed());
            assert_eq!((connections.load(Ordering::SeqCst), requests.load(Ordering::SeqCst)), (1, 1));
        }
    }

    #[tokio::test]
    async fn a_stream_refused_twice_is_unprocessed_after_one_retry() {
        let (origin, connections, requests) = misbehaving(Misbehaviour::RefuseAll).await;
        let error = post_h2c(&origin).await.expect_err("refused");
        assert!(matches!(error, GraphError::Connect(_)) && error.is_unprocessed(), "{error:?}");
        assert_eq!(requests.load(Ordering::SeqCst), 2, "the request and its one retry");
        assert_eq!(connections.load(Ordering::SeqCst), 1, "a refused stream leaves the connection usable");
    }

    #[tokio::test]
    async fn a_connection_gone_before_the_request_went_out_is_unprocessed() {
        // The server completes the handshake, then goes away at once (GOAWAY, nothing
        // processed): the stream is never opened or is excluded, on both connections.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(tcp).await else { return };
                    connection.abrupt_shutdown(h2::Reason::NO_ERROR);
                    while let Some(Ok(_)) = connection.accept().await {}
                });
            }
        });
        let error = post_h2c(&origin).await.expect_err("no server takes it");
        assert!(error.is_unprocessed(), "{error:?}");
        assert!(connections.load(Ordering::SeqCst) <= 2, "one retry at most");
    }
}
