//! How a request reaches Graph and its answer comes back.
//!
//! Graph speaks HTTP/2 and the service holds many slow calls at once, so a call in flight
//! should cost an HTTP/2 stream, not a general-purpose client's per-request machinery (reqwest's
//! request future, its redirect and retry layers' copies of each request, hyper-util's pool
//! future: about 7 KB per call, BENCHMARKS.md). HTTP/2 (negotiated by ALPN over TLS, or h2c by
//! prior knowledge to a plain-http endpoint) therefore goes over one multiplexed connection per
//! origin, held here, on the h2 crate (hyper's HTTP/2). Everything else goes through reqwest: a
//! plain-http endpoint without prior knowledge (HTTP/1.1), a proxy set in the environment
//! (`HTTPS_PROXY`, `ALL_PROXY`, ...), a server that doesn't offer h2.
//!
//! The only retries here are the ones HTTP/2 says are safe, the same ones reqwest makes: a
//! request that never left (the connection closed first), a stream the server refused
//! (`REFUSED_STREAM`) and one a graceful `GOAWAY` excluded. Graph never saw those; one more try
//! on a fresh connection. Everything else is the pipeline's business.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicBool, Ordering},
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
        let tls = match https {
            true => match ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_owned()) {
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
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                without_h2: AtomicBool::new(false),
            })
        });
        Route(Way::Http2(origin.clone()))
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

async fn pooled_exchange(client: &reqwest::Client, request: Request<Bytes>, max_body: usize) -> Result<Exchange, GraphError> {
    let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
        .map_err(|e| GraphError::Connect(Box::new(e)))?;
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

/// One origin's HTTP/2 connection: made when first needed, replaced when it closes.
///
/// On the h2 crate directly: a call in flight is one stream and the futures of this module, no
/// task of its own (hyper's client spawns two per request, each the size of its connection
/// task).
struct Origin {
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// For a server that answers ALPN without h2.
    pooled: reqwest::Client,
    current: Mutex<Option<Connection>>,
    /// One connection attempt at a time; the calls that arrive meanwhile wait for it.
    connecting: tokio::sync::Mutex<()>,
    without_h2: AtomicBool,
}

#[derive(Clone)]
struct Connection {
    sender: SendRequest<Bytes>,
    /// Set by the connection's task when the connection ends.
    closed: Arc<AtomicBool>,
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
            let connection = match self.open() {
                Some(connection) => connection,
                // Boxed: connecting (TCP, TLS, the handshake) is rare, and inline its state
                // would make every call's future as large as a TLS handshake.
                None => Box::pin(self.connect_once()).await?,
            };
            let (head, body) = build()?.into_parts();
            let mut request = Request::from_parts(head, ());
            request.headers_mut().insert(http::header::CONTENT_LENGTH, body.len().into());
            let mut sender = connection.sender.clone();
            // An error here means the stream was never opened: nothing left.
            let (response, mut stream) = match sender.send_request(request, body.is_empty()) {
                Ok(opened) => opened,
                Err(e) if !retried => {
                    connection.closed.store(true, Ordering::Relaxed);
                    tracing::debug!(error = %e, "the HTTP/2 connection to Graph refused a new stream; reconnecting");
                    retried = true;
                    continue;
                }
                Err(e) => return Err(GraphError::Connect(Box::new(e)).into()),
            };
            let answered = match body.is_empty() {
                true => response.await,
                false => match stream.send_data(body, true) {
                    Ok(()) => response.await,
                    Err(e) => Err(e),
                },
            };
            match answered {
                Ok(response) => return Ok(read(response, max_body).await?),
                Err(e) => {
                    if e.is_io() || e.is_go_away() {
                        connection.closed.store(true, Ordering::Relaxed);
                    }
                    let unprocessed = never_processed(&e);
                    if unprocessed && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(Failure::Graph(match unprocessed {
                        true => GraphError::Connect(Box::new(e)),
                        false => GraphError::ConnectionLost(Box::new(e)),
                    }));
                }
            }
        }
    }

    fn open(&self) -> Option<Connection> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|c| !c.closed.load(Ordering::Relaxed)).cloned()
    }

    /// A new connection, unless another call made one meanwhile.
    async fn connect_once(&self) -> Result<Connection, Failure> {
        let _connecting = self.connecting.lock().await;
        if let Some(connection) = self.open() {
            return Ok(connection);
        }
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
            Ok(result) => result?,
            Err(_) => return Err(GraphError::Connect("connecting timed out".into()).into()),
        };
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(connection.clone());
        Ok(connection)
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
        let pings = connection.ping_pong();
        let ended = closed.clone();
        let host = self.host.clone();
        // Runs until the connection ends: the server closes it, it fails, or stops answering PINGs.
        tokio::spawn(async move {
            tokio::select! {
                result = &mut connection => {
                    if let Err(e) = result {
                        tracing::debug!(graph.host = %host, error = %e, "HTTP/2 connection to Graph closed");
                    }
                }
                () = keepalive(pings) => {
                    tracing::warn!(graph.host = %host, "Graph did not answer an HTTP/2 PING in time; closing the connection");
                }
            }
            ended.store(true, Ordering::Relaxed);
        });
        Ok(Connection { sender, closed })
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
    use super::*;

    #[test]
    fn a_proxy_in_the_environment_is_noticed_per_scheme() {
        let only = |name: &'static str, value: &'static str| {
            move |var: &str| (var == name).then(|| value.to_owned())
        };
        assert!(proxy_in_environment("https", &only("HTTPS_PROXY", "http://proxy:3128")));
        assert!(proxy_in_environment("https", &only("all_proxy", "http://proxy:3128")));
        assert!(!proxy_in_environment("https", &only("HTTP_PROXY", "http://proxy:3128")));
        assert!(proxy_in_environment("http", &only("http_proxy", "http://proxy:3128")));
        assert!(!proxy_in_environment("https", &only("HTTPS_PROXY", " ")));
        assert!(!proxy_in_environment("https", &|_| None));
    }
}
