//! How a request reaches Graph and its answer comes back.
//!
//! Graph speaks HTTP/2 and the service holds many slow calls at once, so a call in flight
//! should cost an HTTP/2 stream, not a general-purpose client's per-request machinery (reqwest's
//! request future, its redirect and retry layers' copies of each request, hyper-util's pool
//! future: about 7 KB per call, BENCHMARKS.md). HTTP/2 (negotiated by ALPN over TLS, or h2c by
//! prior knowledge to a plain-http endpoint) therefore goes over multiplexed connections held
//! here per origin, on the h2 crate (hyper's HTTP/2). Everything else goes through reqwest: a
//! plain-http endpoint without prior knowledge (HTTP/1.1), a proxy set in the environment
//! (`HTTPS_PROXY`, `ALL_PROXY`, ...), a server that doesn't offer h2.
//!
//! The only retries here are the ones HTTP/2 says are safe, the same ones reqwest makes: a
//! request that never left (the connection closed first), a stream the server refused
//! (`REFUSED_STREAM`) and one a graceful `GOAWAY` excluded. Graph never saw those: one more try.
//! Everything else is the pipeline's business.

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
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use url::Url;

use super::error::{BoxError, GraphError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Enough for 10,000 calls in flight at the 100 streams per connection servers commonly allow.
const MAX_CONNECTIONS_PER_ORIGIN: usize = 128;
/// A connection silent for this long is pinged; one that doesn't answer within the timeout is
/// closed, so calls fail over to a new connection instead of waiting out their deadline.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 receive windows, hyper's defaults (which reqwest used): a meeting is a few KB, an error
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
    /// reqwest would send https (http) requests through a proxy it found in the environment.
    proxied_https: bool,
    proxied_http: bool,
    origins: Mutex<HashMap<String, Arc<Origin>>>,
}

impl fmt::Debug for GraphTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphTransport").field("prior_knowledge", &self.prior_knowledge).finish_non_exhaustive()
    }
}

impl GraphTransport {
    /// `pooled` serves what isn't HTTP/2; `tls` verifies Graph's certificate (ALPN is set here);
    /// `env` reads the environment's proxy variables.
    pub fn new(
        pooled: reqwest::Client,
        mut tls: rustls::ClientConfig,
        prior_knowledge: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        GraphTransport {
            pooled,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            prior_knowledge,
            proxied_https: proxy_in_environment("https", env),
            proxied_http: proxy_in_environment("http", env),
            origins: Mutex::new(HashMap::new()),
        }
    }

    /// The way to `endpoint`; endpoints of one origin share a connection.
    pub fn route(&self, endpoint: &Url) -> Route {
        let https = endpoint.scheme() == "https";
        let (Some(host), Some(port)) = (endpoint.host_str(), endpoint.port_or_known_default()) else {
            return Route(Way::Pooled(self.pooled.clone()));
        };
        let proxied = if https { self.proxied_https } else { self.proxied_http };
        if proxied || !(https || self.prior_knowledge) {
            return Route(Way::Pooled(self.pooled.clone()));
        }
        // An IPv6 literal is bracketed in a URL, not in a socket address or a server name.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let tls = match https {
            true => match ServerName::try_from(host.to_owned()) {
                Ok(name) => Some((self.tls.clone(), name)),
                Err(_) => return Route(Way::Pooled(self.pooled.clone())),
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
        GraphTransport::new(reqwest::Client::new(), tls, prior_knowledge, &|_| None)
    }
}

/// Whether reqwest would send requests to a URL of this scheme through a proxy it finds in the
/// environment; those keep going through reqwest.
fn proxy_in_environment(scheme: &str, var: &dyn Fn(&str) -> Option<String>) -> bool {
    let names: &[&str] = match scheme {
        "https" => &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"],
        _ => &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"],
    };
    names.iter().any(|name| var(name).is_some_and(|v| !v.trim().is_empty()))
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
    /// Sends the request `build` makes (again, for the retries HTTP/2 allows) and reads the
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
    let (parts, mut body) = http::Response::from(response).into_parts();
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

/// One origin's HTTP/2 connections: made when needed, dropped when they close.
///
/// On the h2 crate directly: a call in flight is one stream and the futures of this module, no
/// task of its own (hyper's client spawns two per request, each the size of its connection
/// task). A connection carries as many calls as the server's SETTINGS_MAX_CONCURRENT_STREAMS
/// allows; beyond that another one is opened (reqwest's pool would queue every call on one).
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
    sender: SendRequest<Bytes>,
    /// Set by the connection's task when the connection ends.
    closed: Arc<AtomicBool>,
    /// Calls on this connection now.
    streams: Arc<AtomicUsize>,
}

/// A call's stream on a connection, counted until the call is done with it, however it ends.
struct Claim(Arc<AtomicUsize>);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
            let (connection, _claim) = match self.claim() {
                Some(claimed) => claimed,
                // Boxed: connecting (TCP, TLS, the handshake) is rare, and inline its state
                // would make every call's future as large as a TLS handshake.
                None => Box::pin(self.connect_once()).await?,
            };
            let (head, body) = build()?.into_parts();
            let mut request = Request::from_parts(head, ());
            request.headers_mut().insert(http::header::CONTENT_LENGTH, body.len().into());
            let (error, unprocessed) = match connection.sender.clone().send_request(request, body.is_empty()) {
                // The stream was never opened: nothing left, and this connection takes no more.
                Err(e) => {
                    connection.closed.store(true, Ordering::Relaxed);
                    (e, true)
                }
                Ok((response, mut stream)) => {
                    let sent = if body.is_empty() { Ok(()) } else { stream.send_data(body, true) };
                    let error = match sent {
                        Ok(()) => match response.await {
                            Ok(response) => return Ok(read(response, max_body).await?),
                            Err(e) => e,
                        },
                        Err(e) => e,
                    };
                    if error.is_io() || error.is_go_away() {
                        connection.closed.store(true, Ordering::Relaxed);
                    }
                    let unprocessed = never_processed(&error);
                    (error, unprocessed)
                }
            };
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

    /// A stream on an open connection with room for it; when every connection is full, on the
    /// least busy one (the stream waits in h2 for a free slot) once there are as many
    /// connections as allowed. None: open another connection.
    fn claim(&self) -> Option<(Connection, Claim)> {
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.retain(|c| !c.closed.load(Ordering::Relaxed));
        let busy = |c: &&Connection| c.streams.load(Ordering::Relaxed);
        let chosen = match connections.iter().find(|c| busy(c) < c.sender.current_max_send_streams()) {
            Some(with_room) => with_room,
            None if connections.len() < MAX_CONNECTIONS_PER_ORIGIN => return None,
            None => connections.iter().min_by_key(busy)?,
        };
        chosen.streams.fetch_add(1, Ordering::Relaxed);
        Some((chosen.clone(), Claim(chosen.streams.clone())))
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
        connection.streams.fetch_add(1, Ordering::Relaxed);
        let claim = Claim(connection.streams.clone());
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
        let (sender, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| unreachable(e.into()))?;
        let closed = Arc::new(AtomicBool::new(false));
        let mut pings = connection.ping_pong();
        let ended = closed.clone();
        let host = self.host.clone();
        let (settled, settings_applied) = tokio::sync::oneshot::channel();
        // Runs until the connection ends: the server closes it, it fails, or stops answering PINGs.
        tokio::spawn(async move {
            let pinging = async {
                // The server's SETTINGS come before anything else it sends (RFC 9113 3.4), so
                // once this PING is answered h2 knows how many streams a connection may carry.
                let answered = match pings.as_mut() {
                    Some(pings) => {
                        matches!(
                            tokio::time::timeout(KEEPALIVE_TIMEOUT, pings.ping(h2::Ping::opaque())).await,
                            Ok(Ok(_))
                        )
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
            ended.store(true, Ordering::Relaxed);
        });
        if settings_applied.await != Ok(true) {
            return Err(unreachable("the server closed the connection during the HTTP/2 handshake".into()));
        }
        Ok(Connection { sender, closed, streams: Arc::new(AtomicUsize::new(0)) })
    }
}

/// The connection's IO, TCP or TLS, boxed so that both make one connection type.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Returns when the peer leaves a PING unanswered: a connection a middlebox dropped silently
/// would otherwise hold its calls until their deadlines.
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

/// HTTP/2 says Graph never processed the request: the server refused the stream or excluded it
/// with a graceful GOAWAY (RFC 9113 8.7).
fn never_processed(error: &h2::Error) -> bool {
    error.is_remote()
        && ((error.is_reset() && error.reason() == Some(h2::Reason::REFUSED_STREAM))
            || (error.is_go_away() && error.reason() == Some(h2::Reason::NO_ERROR)))
}

/// Reads the answer's body, at most `max_body` bytes of it.
async fn read(response: Response<h2::RecvStream>, max_body: usize) -> Result<Exchange, GraphError> {
    let (parts, mut body) = response.into_parts();
    let mut reader = BodyReader::new(max_body);
    while let Some(data) = body.data().await {
        let data = data.map_err(|e| GraphError::ConnectionLost(e.into()))?;
        // Lets the server send more: h2 leaves flow control to the reader.
        let _ = body.flow_control().release_capacity(data.len());
        if !reader.take(&data) {
            break;
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
    fn a_proxy_in_the_environment_is_noticed_per_scheme() {
        let only = |name: &'static str, value: &'static str| move |var: &str| (var == name).then(|| value.to_owned());
        assert!(proxy_in_environment("https", &only("HTTPS_PROXY", "http://proxy:3128")));
        assert!(proxy_in_environment("https", &only("all_proxy", "http://proxy:3128")));
        assert!(!proxy_in_environment("https", &only("HTTP_PROXY", "http://proxy:3128")));
        assert!(proxy_in_environment("http", &only("http_proxy", "http://proxy:3128")));
        assert!(!proxy_in_environment("https", &only("HTTPS_PROXY", " ")));
        assert!(!proxy_in_environment("https", &|_| None));
    }

    fn pki(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/pki/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// A transport that trusts the test CA (and nothing else), as the service trusts Graph's.
    fn transport(env: &dyn Fn(&str) -> Option<String>) -> GraphTransport {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = CertificateDer::from_pem_slice(&pki("ca.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        let pooled = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pki("ca.pem")).unwrap()])
            .build()
            .unwrap();
        GraphTransport::new(pooled, tls, false, env)
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

    async fn post(route: &Route, port: u16) -> Exchange {
        let uri = format!("https://localhost:{port}/v1.0/users/u/onlineMeetings");
        let build = || {
            Ok(Request::post(uri.as_str())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Bytes::from_static(b"{}"))
                .unwrap())
        };
        route.exchange(&build, 1024).await.expect("answered")
    }

    #[tokio::test]
    async fn https_negotiates_http2_and_keeps_one_connection() {
        let (port, connections, seen) = https_server(&[b"h2", b"http/1.1"]).await;
        let transport = transport(&|_| None);
        let route = transport.route(&format!("https://localhost:{port}/").parse().unwrap());
        for _ in 0..3 {
            let answer = post(&route, port).await;
            assert_eq!((answer.status, answer.body.as_slice(), answer.truncated), (201, CREATED, false));
        }
        assert_eq!(*seen.lock().unwrap(), vec!["HTTP/2.0 /v1.0/users/u/onlineMeetings"; 3]);
        assert_eq!(connections.load(Ordering::SeqCst), 1, "one multiplexed connection");
        // Another tenant on the same origin shares it.
        let same_origin = transport.route(&format!("https://localhost:{port}/beta").parse().unwrap());
        post(&same_origin, port).await;
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_server_without_http2_is_reached_over_http1() {
        let (port, _, seen) = https_server(&[b"http/1.1"]).await;
        let transport = transport(&|_| None);
        let route = transport.route(&format!("https://localhost:{port}/").parse().unwrap());
        for _ in 0..2 {
            let answer = post(&route, port).await;
            assert_eq!((answer.status, answer.body.as_slice()), (201, CREATED));
        }
        assert_eq!(*seen.lock().unwrap(), vec!["POST /v1.0/users/u/onlineMeetings HTTP/1.1"; 2]);
    }

    #[tokio::test]
    async fn a_certificate_the_roots_dont_vouch_for_is_refused_before_anything_is_sent() {
        let (port, _, seen) = https_server(&[b"h2"]).await;
        let transport = GraphTransport::trusting_nothing(false);
        let route = transport.route(&format!("https://localhost:{port}/").parse().unwrap());
        let uri = format!("https://localhost:{port}/v1.0/users/u/onlineMeetings");
        let build = || Ok(Request::post(uri.as_str()).body(Bytes::new()).unwrap());
        let error = route.exchange(&build, 1024).await.expect_err("untrusted");
        assert!(matches!(error, GraphError::Connect(_)), "{error:?}");
        assert!(seen.lock().unwrap().is_empty());
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
        let route = transport.route(&format!("http://127.0.0.1:{port}/").parse().unwrap());
        let at_once = |calls: usize| {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..calls {
                let (route, uri) = (route.clone(), format!("http://127.0.0.1:{port}/v1.0/users/u/onlineMeetings"));
                set.spawn(async move {
                    let build = || Ok(Request::post(uri.as_str()).body(Bytes::from_static(b"{}")).unwrap());
                    route.exchange(&build, 1024).await.expect("answered").status
                });
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

    #[test]
    fn with_a_proxy_in_the_environment_reqwest_carries_the_calls() {
        let proxied = transport(&|name| (name == "HTTPS_PROXY").then(|| "http://proxy:3128".to_owned()));
        let route = proxied.route(&"https://graph.microsoft.com/".parse().unwrap());
        assert_eq!(format!("{route:?}"), "Route::Pooled");
        let direct = transport(&|_| None).route(&"https://graph.microsoft.com/".parse().unwrap());
        assert_eq!(format!("{direct:?}"), "Route::Http2(graph.microsoft.com:443)");
        let plain = transport(&|_| None).route(&"http://127.0.0.1:8081/".parse().unwrap());
        assert_eq!(format!("{plain:?}"), "Route::Pooled", "plain http without prior knowledge is HTTP/1.1");
    }
}
