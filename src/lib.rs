//! sealq: a local emulator of Amazon SQS whose queues really encrypt.
//!
//! The crate's map (see ARCHITECTURE.md for the invariants):
//! - `protocol`: the only code that knows XML, JSON, form encoding and AWS
//!   headers; detects the protocol, decodes, encodes.
//! - `auth`: SigV4 credentials to a principal.
//! - `sqs`: actions, ops, model.
//! - `crypto`: envelope encryption of bodies, data-key caches, the KMS-call ledger.
//! - `kms`: the KMS model and its actions (keys, aliases, ciphertext blobs).
//! - `config`: server settings, and the configuration file (TOML) applied
//!   at start-up.
//! - `store`: where queues live.
//! - `clock`: the only source of "now".
//! - `error`: the one error enum and its wire table.
//! - `metrics`: request counters and histograms, the Prometheus exposition.
//! - `sts`: STS's GetCallerIdentity, AssumeRole and GetSessionToken.
//! - `admin`: `/_sealq/*`.
//! - `tls`: the HTTPS listener and the local CA.
//!
//! [`app`] builds the router; [`serve`] runs it with graceful shutdown,
//! [`serve_with_tls`] also over HTTPS.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod fuzz;
pub mod iam;
pub mod kms;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod protocol;
pub mod sqs;
pub mod state;
pub mod store;
pub mod sts;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// The HTTP application: admin routes under `/_sealq`, every other request
/// is an AWS API call.
pub fn app(state: AppState) -> Router {
    Router::new()
        .nest("/_sealq", admin::router())
        .fallback(protocol::handle)
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes; then releases
/// long polls at once and waits for in-flight requests to finish.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_tls(listener, None, state, shutdown).await
}

/// [`serve`], and the same API over HTTPS on `tls` when given: both
/// listeners stop together when `shutdown` completes, and this returns
/// once the requests in flight on either have finished.
///
/// # Errors
/// I/O errors of the plain listener.
pub async fn serve_with_tls(
    listener: TcpListener,
    tls: Option<tls::TlsListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let sweeper = {
        let state = state.clone();
        let stop = token.clone();
        tokio::spawn(async move { state.encryption.run_sweeper(stop).await })
    };
    let state_for_close = state.clone();
    let limits = state.config.limits;
    let router = app(state);
    // One cap on open connections for both listeners.
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let https = tls.map(|t| {
        let (l, handshake) = t.into_parts();
        let run = listen::run(
            l,
            handshake,
            router.clone(),
            token.clone(),
            limits,
            permits.clone(),
        );
        tokio::spawn(run)
    });
    let stop = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    listen::run(listener, listen::Plain, router, token.clone(), limits, permits).await;
    // The HTTPS listener stops with the plain one.
    token.cancel();
    if let Some(https) = https {
        let _ = https.await;
    }
    sweeper.abort();
    // Commits what the journal still holds before the process ends.
    state_for_close.store.close();
    Ok(())
}
