//! The `sealq` command: `sealq serve` (or bare `sealq`) runs the server.

use clap::{Args, Parser, Subcommand};

/// mimalloc: every request allocates small buffers, and message bodies are
/// allocated and freed at high rates; it is measurably faster than glibc's
/// malloc here and packs 1 KiB bodies without per-allocation headers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use sealq::{AppState, Config};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// A local Amazon SQS emulator whose queues really encrypt.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Print the stored messages of a queue as they are at rest: envelopes
    /// (ciphertext, nonce, encrypted data key, key ARN, encryption context) for
    /// encrypted ones. Asks a running server.
    Envelopes(EnvelopesArgs),
}

#[derive(Debug, Args)]
struct EnvelopesArgs {
    /// Queue name.
    queue: String,
    /// The server to ask.
    #[arg(long, env = "SEALQ_ENDPOINT", default_value = "http://localhost:9324")]
    endpoint: String,
    /// Most messages to show.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SEALQ_HOST", default_value = "0.0.0.0")]
    host: String,
    /// Port to listen on.
    #[arg(long, env = "SEALQ_PORT", default_value_t = 9324)]
    port: u16,
    /// AWS region shown in ARNs.
    #[arg(long, env = "SEALQ_REGION", default_value = "us-east-1")]
    region: String,
    /// AWS account id shown in ARNs and queue URLs.
    #[arg(long, env = "SEALQ_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Start queue URLs with this instead of http://<Host header> (e.g. http://sealq:9324 in a container network).
    #[arg(long, env = "SEALQ_QUEUE_URL_BASE")]
    queue_url_base: Option<String>,
    /// Give queues created by signed requests SSE-SQS unless their attributes say otherwise (AWS's default).
    #[arg(long, env = "SEALQ_SSE_SQS_BY_DEFAULT", default_value_t = true, action = clap::ArgAction::Set)]
    sse_sqs_by_default: bool,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        Some(Command::Envelopes(a)) => {
            return match sealq::admin::inspect::envelopes(&a.endpoint, &a.queue, a.limit).await {
                Ok(text) => {
                    println!("{text}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sealq envelopes: {e}");
                    std::process::ExitCode::from(1)
                }
            };
        }
        None => cli.serve,
    };
    let config = Config {
        host: args.host,
        port: args.port,
        region: args.region,
        account_id: args.account_id,
        queue_url_base: args.queue_url_base,
        sse_sqs_by_default: args.sse_sqs_by_default,
    };
    let listener = match TcpListener::bind((config.host.as_str(), config.port)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(host = %config.host, port = config.port, error = %e, "cannot listen");
            return std::process::ExitCode::from(1);
        }
    };
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut config = config;
    if let Ok(a) = listener.local_addr() {
        config.port = a.port();
    }
    tracing::info!(address = %local, region = %config.region, account = %config.account_id, "sealq listening");
    let state = AppState::new(config);
    match sealq::serve(listener, state, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            std::process::ExitCode::from(1)
        }
    }
}
