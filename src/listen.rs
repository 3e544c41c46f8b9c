//! The accept loop both listeners share (plain HTTP, and HTTPS with
//! `--tls-port`), and the limits that keep bad or slow clients from
//! hurting the server or starving others.
//!
//! - **Open connections** are capped ([`Limits::max_connections`], both
//!   listeners together): a connection past the cap gets `503` with
//!   `connection: close` at once, and the accept loop goes on.
//! - **Request heads** must arrive within [`Limits::header_timeout`] of the
//!   connection waiting for one, which also closes idle keep-alive
//!   connections after that long (hyper's header-read timer starts when the
//!   connection waits for a request head). Heads are bounded by hyper's
//!   buffer limit and at most [`MAX_HEADERS`] headers (`431`).
//! - **Request bodies** are read by the API handler under
//!   [`Limits::body_timeout`], and a `Content-Length` above the largest
//!   valid request is refused before the body is read
//!   (`crate::protocol`).
//!
//! Each connection runs in its own task; on shutdown the loop stops
//! accepting, connections finish their in-flight request (long polls are
//! released by the state's shutdown token) and [`run`] returns when the
//! last one has closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Most headers in one request (hyper answers `431` past it).
pub const MAX_HEADERS: usize = 100;

/// Fewest open connections `--max-connections` may allow.
pub const MIN_CONNECTIONS: u32 = 1;
/// Most open connections `--max-connections` may allow.
pub const MAX_CONNECTIONS: u32 = 1_000_000;
/// Longest `--client-timeout`, in seconds.
pub const MAX_CLIENT_TIMEOUT: u32 = 3_600;

/// The limits of the listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most open connections, both listeners together.
    pub max_connections: usize,
    /// How long a connection may take to send a request head, and how
    /// long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Above 10,000 concurrent long polls, each a connection.
            max_connections: 16_384,
            header_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
        }
    }
}

/// How an accepted connection becomes the stream HTTP is spoken on: as
/// it is (plain), or after a TLS handshake.
pub trait Upgrade: Clone + Send + Sync + 'static {
    /// The stream HTTP runs on.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Whether requests on it came over TLS.
    const TLS: bool;
    /// The stream, or `None` when the connection is to be dropped (the
    /// upgrade has answered or logged why).
    fn upgrade(&self, tcp: TcpStream, peer: SocketAddr) -> impl Future<Output = Option<Self::Stream>> + Send;
}

/// Plain HTTP.
#[derive(Debug, Clone, Copy)]
pub struct Plain;

impl Upgrade for Plain {
    type Stream = TcpStream;
    const TLS: bool = false;
    async fn upgrade(&self, tcp: TcpStream, _peer: SocketAddr) -> Option<TcpStream> {
        Some(tcp)
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, each connection
/// made into an HTTP stream by `upgrade`; `permits` caps the open
/// connections (shared by the listeners).
pub async fn run<U: Upgrade>(
    listener: TcpListener,
    upgrade: U,
    router: Router,
    stop: CancellationToken,
    limits: Limits,
    permits: Arc<Semaphore>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Per-connection errors are skipped; others (e.g. out
                    // of file descriptors) are waited out.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                    ) {
                        tracing::error!(error = %e, "listener: accept failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse_busy(tcp, peer, limits.max_connections));
            continue;
        };
        tokio::spawn(connection(
            tcp,
            peer,
            upgrade.clone(),
            router.clone(),
            graceful.watcher(),
            (stop.clone(), limits, permit),
        ));
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One connection: its upgrade (bounded by `stop`), then HTTP/1.1 until
/// the client closes, a timeout passes or the server stops. Holds its
/// permit until it ends.
async fn connection<U: Upgrade>(
    tcp: TcpStream,
    peer: SocketAddr,
    upgrade: U,
    router: Router,
    watcher: Watcher,
    (stop, limits, _permit): (CancellationToken, Limits, OwnedSemaphorePermit),
) {
    let stream = tokio::select! {
        () = stop.cancelled() => return,
        s = upgrade.upgrade(tcp, peer) => match s {
            Some(s) => s,
            None => return,
        },
    };
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        if U::TLS {
            req.extensions_mut().insert(crate::protocol::Tls);
        }
        tower_service::Service::call(&mut router.clone(), req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(MAX_HEADERS)
        // One buffer per response, so one TLS record (vectored writes
        // would seal head and body separately).
        .writev(!U::TLS)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// The answer to a connection past the cap: `503`, then close.
async fn refuse_busy(mut tcp: TcpStream, peer: SocketAddr, max: usize) {
    tracing::warn!(%peer, max_connections = max, "connection refused: too many open connections");
    let body =
        format!("sealq has {max} open connections, its maximum (--max-connections); try again later.\n");
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // Read (some of) the request so the client is not reset mid-send.
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(answer.as_bytes())).await;
    let _ = tcp.shutdown().await;
}
