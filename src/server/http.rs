//! The Event Server's HTTP side: the accept loop (connection limit, timeouts, optional TLS) and
//! the routes `POST /events`, `GET /stats`, `GET /metrics`, `GET /health`, and the read API's
//! `GET /api/events` and `GET /api/reports/<name>` (`server/read_api.rs`), and the `/ui/` viewer
//! page that calls them (`server/ui.rs`), and the anchor ledger's `POST /anchors`,
//! `GET /api/anchors` and `GET /api/anchors/key` (`server/anchors/`).
//!
//! Answers of `POST /events`, all with a JSON body:
//!
//! | status | when | body |
//! |---|---|---|
//! | 200 | every event is stored (or was already, or no destination takes it) and synced | `{"stored":N,"duplicates":M,"unrouted":U}` |
//! | 400 | the batch is malformed, or a destination can never take the event on that line (a Kafka message over `message.max.bytes`); nothing of it is stored | `{"error":"line 3: unknown topic `x`"}` |
//! | 401 | no valid `Authorization: Bearer <event key>` | `{"error":"…"}` |
//! | 408 | the body did not arrive within `read_timeout` | `{"error":"…"}` |
//! | 403 | the batch's node id is bound to another event key, or would be one more than `max_nodes_per_key` for this key; nothing of it is stored | `{"error":"node id `web-2` is bound to another event key …"}` |
//! | 413 | the body (or its decompressed form) exceeds `max_body_bytes` | `{"error":"…"}` |
//! | 415 | a `Content-Encoding` other than `gzip` or `identity` | `{"error":"…"}` |
//! | 500 | writing failed; nothing of the batch is stored; retry | `{"error":"…"}` |
//! | 503 | the write queue or the body budget (`queue_max_bytes`, every copy of every body held) is full, or a `kafka` destination did not confirm the batch's events (`Retry-After: 1`), or the server is stopping | `{"error":"…"}` |

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};

use super::anchors::http::{self as anchor_routes, AnchorApi};
use super::read_api::{self, ReadApi};
use super::ui;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::auth::KeyRing;
use super::budget::{
    inflate_counted, parse_estimate, parsed_size, Budget, CountedBuf, Full, InflateError, Share,
};
use super::config::{ServerConfig, TlsConfig};
use super::metrics::Metrics;
use super::store::{Batch, OpenError, Store, StoreError};
use crate::protocol::wire::{parse_batch, BatchError, BatchErrorKind};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A key could not be read, or a required key is not an event key.
    #[error("{0}")]
    Keys(super::config::InvalidServerConfig),
    /// TLS certificate or key unusable.
    #[error("tls: {0}")]
    Tls(String),
    /// The journal could not be opened or repaired.
    #[error("state: {0}")]
    State(#[from] super::journal::JournalError),
    /// A destination could not be set up (e.g. its Kafka producer).
    #[error("{0}")]
    Destination(String),
    /// Binding or running failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<OpenError> for ServeError {
    fn from(e: OpenError) -> ServeError {
        match e {
            OpenError::Journal(e) => ServeError::State(e),
            OpenError::Destination(e) => ServeError::Destination(e),
        }
    }
}

/// What the routes share.
struct App {
    store: Store,
    event_keys: KeyRing,
    stats_keys: KeyRing,
    metrics: Arc<Metrics>,
    max_body: usize,
    read_timeout: Duration,
    /// Every copy of every request body held, from its first byte to its answer
    /// (`queue_max_bytes`): memory stays bounded however many clients send at once, and a
    /// stalled upload holds only what it sent.
    budget: Arc<Budget>,
    /// `GET /api/events` and `/api/reports/<name>` (see [`super::read_api`]).
    read: Arc<ReadApi>,
    /// `POST /anchors`, `GET /api/anchors`, `GET /api/anchors/key` (see [`super::anchors`]).
    anchors: Arc<AnchorApi>,
}

/// The peer's address, put in each request by the accept loop.
#[derive(Clone, Copy)]
struct Peer(IpAddr);

/// Runs the server until SIGINT or SIGTERM, then stops accepting, lets open requests finish
/// (up to `read_timeout`), stores what was accepted and returns. `ready` is called with the
/// bound address (useful with port 0) once it accepts connections.
pub fn serve(config: ServerConfig, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("event-server")
        .build()?;
    runtime.block_on(serve_async(config, ready))
}

async fn serve_async(
    config: ServerConfig,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let keys = config.resolve_keys().map_err(ServeError::Keys)?;
    let tls = match &config.tls {
        Some(t) => Some(tls_acceptor(t)?),
        None => None,
    };
    let metrics = Arc::new(Metrics::default());
    let (store, recovered) = Store::open(&config, &keys, Arc::clone(&metrics))?;
    for line in recovered {
        eprintln!("event-server: recovered: {line}");
    }
    let app = Arc::new(App {
        store,
        event_keys: KeyRing::new(&keys.event),
        stats_keys: KeyRing::new(&keys.stats),
        metrics: Arc::clone(&metrics),
        max_body: config.max_body_bytes.0 as usize,
        read_timeout: config.read_timeout,
        budget: Budget::new(config.queue_max_bytes.0 as usize, Arc::clone(&metrics)),
        read: Arc::new(ReadApi::new(&config, &keys)),
        anchors: Arc::new(AnchorApi::new(&config, &keys).map_err(ServeError::Keys)?),
    });
    let router = Router::new()
        .route("/events", post(post_events))
        .route("/stats", get(get_stats))
        .route("/metrics", get(get_metrics))
        .route("/health", get(|| async { "ok\n" }))
        .route("/api/events", get(api_events))
        .route("/api/reports/{name}", get(api_report))
        .route("/anchors", post(post_anchors))
        .route("/api/anchors", get(api_anchors))
        .route("/api/anchors/key", get(api_anchor_key))
        .merge(ui::routes())
        .with_state(Arc::clone(&app));

    let mut stop = Box::pin(shutdown_signal()?);
    let listener = TcpListener::bind(config.listen).await?;
    ready(listener.local_addr()?);
    let limit = Arc::new(Semaphore::new(config.max_connections));
    loop {
        // Wait for a free slot before accepting: excess connections wait in the backlog and
        // cannot starve those being served.
        let permit = tokio::select! {
            p = Arc::clone(&limit).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and the like: wait a little rather than spin.
                    eprintln!("event-server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let metrics = Arc::clone(&metrics);
        let (read_timeout, idle_timeout) = (config.read_timeout, config.idle_timeout);
        tokio::spawn(async move {
            metrics.connections.fetch_add(1, Relaxed);
            let peer = Peer(peer.ip().to_canonical());
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => {
                            serve_connection(s, peer, router, read_timeout, idle_timeout).await
                        }
                        _ => metrics.reject("tls_handshake"),
                    }
                }
                None => serve_connection(stream, peer, router, read_timeout, idle_timeout).await,
            }
            metrics.connections.fetch_sub(1, Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    // Let in-flight requests finish, then store what the queue holds.
    let deadline = Instant::now() + config.read_timeout;
    while limit.available_permits() < config.max_connections && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(router);
    if let Ok(app) = Arc::try_unwrap(app) {
        tokio::task::spawn_blocking(move || app.store.shutdown())
            .await
            .map_err(io::Error::other)?;
    }
    Ok(())
}

/// SIGINT or SIGTERM. The handlers are installed when this is called (not when first polled),
/// so a stop request that arrives right after the "listening" line is not missed.
fn shutdown_signal() -> io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Serves one connection; closes it when it has been idle (nothing read or written) for
/// `idle_timeout`. Headers must arrive within `read_timeout` (hyper's header timeout); the
/// body's own deadline is in [`post_events`].
async fn serve_connection<S>(
    stream: S,
    peer: Peer,
    router: Router,
    read_timeout: Duration,
    idle_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let in_request = Arc::clone(&activity);
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(peer);
            let mut router = router.clone();
            let activity = Arc::clone(&in_request);
            async move {
                // Not idle while a request is being handled (e.g. waiting for the writer).
                activity.requests.fetch_add(1, Relaxed);
                // A Router is always ready; `call` directly.
                let response = tower_service::Service::call(&mut router, req.map(Body::new)).await;
                activity.requests.fetch_sub(1, Relaxed);
                activity.touch();
                response
            }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep(idle_timeout.min(Duration::from_secs(1))) => {
                if activity.requests.load(Relaxed) == 0 && activity.idle_for() >= idle_timeout {
                    // Dropping the connection closes it.
                    return;
                }
            }
        }
    }
}

/// The last time a connection read or wrote, as milliseconds since it opened, and how many of
/// its requests are being handled.
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
    requests: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.opened.elapsed().as_millis() as u64, Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.opened.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Relaxed)))
    }
}

/// A stream that notes when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reads and drops up to `limit` bytes of `body`, for at most `timeout`, so that a client
/// still sending gets the answer instead of a connection reset.
async fn discard(body: Body, limit: usize, timeout: Duration) {
    use http_body_util::BodyExt;
    let mut body = body;
    let drain = async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, drain).await;
}

/// Why a body was not read whole.
enum ReadError {
    /// Over `max_body_bytes`.
    TooLarge,
    /// The budget is taken by other requests.
    Busy,
    /// The connection broke or the chunked framing is bad.
    Broken(String),
}

/// Reads `body` into a [`CountedBuf`] that takes budget as bytes arrive (not from the
/// declared length), at most `limit` bytes.
async fn read_body(
    body: &mut Body,
    limit: usize,
    share: &mut Share,
) -> Result<CountedBuf, ReadError> {
    use http_body_util::BodyExt;
    let mut buf = CountedBuf::new(limit);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Broken(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        match buf.extend(&data, share) {
            Ok(()) => {}
            Err(Full::Limit) => return Err(ReadError::TooLarge),
            Err(Full::Budget) => return Err(ReadError::Busy),
        }
    }
    Ok(buf)
}

fn busy() -> Response {
    let mut r = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "server busy reading other batches",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn json_error(status: StatusCode, message: impl AsRef<str>) -> Response {
    let body = serde_json::json!({ "error": message.as_ref() }).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

async fn post_events(
    State(app): State<Arc<App>>,
    Extension(Peer(peer)): Extension<Peer>,
    req: Request,
) -> Response {
    let received = SystemTime::now();
    let m = &app.metrics;
    let Some(key) = app.event_keys.check(authorization(req.headers())) else {
        m.reject("unauthorized");
        discard(req.into_body(), app.max_body, app.read_timeout).await;
        let mut r = json_error(StatusCode::UNAUTHORIZED, "missing or invalid event key");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    };
    let gzip = match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => false,
        Some(e) if e == "identity" => false,
        Some(e) if e == "gzip" || e == "x-gzip" => true,
        Some(e) => {
            m.reject("unsupported_encoding");
            return json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding `{e}` (use gzip or none)"),
            );
        }
    };
    let too_large = || {
        m.reject("too_large");
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {} bytes", app.max_body),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body as u64) {
        return too_large();
    }
    // The body takes budget as it arrives: up to its declared length (an exact buffer), or
    // `max_body_bytes` for a chunked one.
    let mut share = app.budget.share();
    let limit = declared.map_or(app.max_body, |n| n as usize);
    let mut body = req.into_body();
    let read =
        tokio::time::timeout(app.read_timeout, read_body(&mut body, limit, &mut share)).await;
    let raw = match read {
        Err(_) => {
            m.reject("read_timeout");
            return json_error(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            );
        }
        Ok(Err(ReadError::TooLarge)) => return too_large(),
        Ok(Err(ReadError::Busy)) => {
            m.reject("busy");
            // Let go of what was read, then read and drop the rest (no memory kept) so the
            // client reads our answer, not a reset.
            drop(share);
            discard(body, app.max_body, app.read_timeout).await;
            return busy();
        }
        // A broken connection or chunked framing: not the batch's fault, so not a 400 (which
        // a client would give up on); 408 is retried.
        Ok(Err(ReadError::Broken(e))) => {
            m.reject("body_error");
            return json_error(StatusCode::REQUEST_TIMEOUT, format!("reading body: {e}"));
        }
        Ok(Ok(b)) => b,
    };
    drop(body);
    m.bytes_received
        .fetch_add(raw.as_slice().len() as u64, Relaxed);
    let batch_error = |e: BatchError| {
        m.reject(e.kind.reason());
        let status = match e.kind {
            BatchErrorKind::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        json_error(status, e.to_string())
    };
    // A gzip body is inflated first, into budget too; the compressed copy is dropped then.
    let text = if gzip {
        let inflated = match inflate_counted(raw.as_slice(), app.max_body, &mut share) {
            Ok(t) => t,
            Err(InflateError::Batch(e)) => return batch_error(e),
            Err(InflateError::Busy) => {
                m.reject("busy");
                return busy();
            }
        };
        share.release(raw.counted());
        drop(raw);
        inflated
    } else {
        raw
    };
    // Parsing copies the events: the copy is counted before it is made, then the text is
    // dropped and the items alone stay counted until the answer.
    if !share.grow(parse_estimate(text.as_slice())) {
        m.reject("busy");
        return busy();
    }
    let items = match parse_batch(text.as_slice(), false, app.max_body) {
        Ok(items) => items,
        Err(e) => return batch_error(e),
    };
    let text_len = text.as_slice().len();
    drop(text);
    share.set(parsed_size(&items, items.capacity()));
    m.events_received.fetch_add(items.len() as u64, Relaxed);
    let batch = Batch {
        items,
        peer,
        key,
        received,
        bytes: text_len,
    };
    let outcome = match app.store.submit(batch) {
        // The share is held until the writer is done with the batch, even when the client
        // hangs up first (this handler is then dropped, the task is not).
        Ok(rx) => {
            let waiter = tokio::spawn(async move {
                let outcome = rx.await;
                drop(share);
                outcome
            });
            match waiter.await {
                Ok(Ok(r)) => r,
                _ => Err(StoreError::Stopping),
            }
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(o) => {
            let body = o.answer().to_json();
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e @ StoreError::Refused { .. }) => json_error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ StoreError::Node(_)) => json_error(StatusCode::FORBIDDEN, e.to_string()),
        Err(e @ (StoreError::QueueFull | StoreError::Stopping | StoreError::Unavailable(_))) => {
            if matches!(e, StoreError::QueueFull) {
                m.reject("queue_full");
            }
            let mut r = json_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `None` when `headers` carry a stats key, else the 401 to answer.
fn stats_refusal(app: &App, headers: &HeaderMap) -> Option<Response> {
    if app.stats_keys.check(authorization(headers)).is_some() {
        return None;
    }
    app.metrics.reject("unauthorized");
    let mut r = json_error(StatusCode::UNAUTHORIZED, "missing or invalid stats key");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(r)
}

async fn get_stats(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = stats_refusal(&app, &headers) {
        return r;
    }
    let mut r = app.metrics.stats_json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn get_metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = stats_refusal(&app, &headers) {
        return r;
    }
    let mut r = app.metrics.prometheus().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn api_events(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    let query = uri.query().map(str::to_owned);
    read_api::get_events(Arc::clone(&app.read), headers, query).await
}

async fn api_report(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query = uri.query().map(str::to_owned);
    read_api::get_report(Arc::clone(&app.read), name, headers, query).await
}

async fn post_anchors(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    anchor_routes::post(Arc::clone(&app.anchors), parts.headers, body).await
}

async fn api_anchors(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    let query = uri.query().map(str::to_owned);
    anchor_routes::get_ledger(Arc::clone(&app.anchors), headers, query).await
}

async fn api_anchor_key(State(app): State<Arc<App>>) -> Response {
    anchor_routes::get_key(Arc::clone(&app.anchors)).await
}

fn tls_acceptor(config: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| ServeError::Tls(format!("{}: {e}", path.display())))
    };
    let certs = rustls_pemfile::certs(&mut &read(&config.cert)?[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", config.cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{}: no certificate found",
            config.cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut &read(&config.key)?[..])
        .map_err(|e| ServeError::Tls(format!("{}: {e}", config.key.display())))?
        .ok_or_else(|| {
            ServeError::Tls(format!("{}: no private key found", config.key.display()))
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}
