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
//! last one has answered. A connection that ends while the server stops
//! is not shut down and closed there: its socket is parked ([`Parked`])
//! and closed with the others once every answer is out, so the FIN, the
//! close and the poller's bookkeeping of thousands of sockets do not delay
//! the answers still waiting to be written.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
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
    let parked = Park::default();
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
            (stop.clone(), limits, permit, parked.clone()),
        ));
    }
    drop(listener);
    graceful.shutdown().await;
    // Every answer is out: the parked sockets close now.
    drop(parked);
}

/// The sockets of connections that ended while the server stops, closed
/// together at the end of [`run`].
type Park<S> = Arc<Mutex<Vec<S>>>;

/// A connection's stream, parked instead of shut down and closed when
/// the connection ends while the server stops.
struct Parked<S> {
    /// `None` once parked (in `drop`).
    stream: Option<S>,
    stop: CancellationToken,
    park: Park<S>,
}

impl<S: Unpin> Parked<S> {
    fn stream(&mut self) -> Pin<&mut S> {
        Pin::new(self.stream.as_mut().expect("a stream until dropped"))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Parked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.get_mut().stream().poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Parked<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.get_mut().stream().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().stream().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.stop.is_cancelled() {
            // Closed with the other parked sockets once all have answered.
            return Poll::Ready(Ok(()));
        }
        this.stream().poll_shutdown(cx)
    }
}

impl<S> Drop for Parked<S> {
    fn drop(&mut self) {
        if self.stop.is_cancelled()
            && let Some(stream) = self.stream.take()
            && let Ok(mut park) = self.park.lock()
        {
            park.push(stream);
        }
    }
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
    (stop, limits, _permit, park): (CancellationToken, Limits, OwnedSemaphorePermit, Park<U::Stream>),
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
        .serve_connection(
            TokioIo::new(Parked {
                stream: Some(stream),
                stop,
                park,
            }),
            service,
        );
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
