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
    /// Keep queues, messages (encrypted ones as envelopes), KMS keys, move tasks and the virtual clock in this directory across restarts (SQLite). Without it everything stays in memory.
    #[arg(long, env = "SEALQ_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// How a commit to the data directory is made durable: `full` fsyncs (survives power loss), `normal` survives a crash or kill -9 of sealq only.
    #[arg(long, env = "SEALQ_SYNC", default_value = "full", value_parser = ["full", "normal"])]
    sync: String,
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
        data_dir: args.data_dir,
        sync: if args.sync == "normal" {
            sealq::store::durable::Sync::Normal
        } else {
            sealq::store::durable::Sync::Full
        },
    };
    // Data first: a directory that cannot be used stops the start before
    // the port is taken.
    let state = match AppState::open(config, std::sync::Arc::new(sealq::clock::Clock::system())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sealq: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let config = state.config.clone();
    let listener = match TcpListener::bind((config.host.as_str(), config.port)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(host = %config.host, port = config.port, error = %e, "cannot listen");
            return std::process::ExitCode::from(1);
        }
    };
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(address = %local, region = %config.region, account = %config.account_id, "sealq listening");
    match sealq::serve(listener, state, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            std::process::ExitCode::from(1)
        }
    }
}
