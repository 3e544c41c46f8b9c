//! The `sealq` command: `sealq serve` (or bare `sealq`) runs the server;
//! `sealq health` and `sealq envelopes` ask a running one. Logging (human
//! or JSON lines, on stderr) is set up here.

use std::io::IsTerminal as _;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

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
    /// Exit 0 if a running server answers `GET /_sealq/health` with 200
    /// (ready), else 1 with the reason on stderr. For container health
    /// checks that have no shell or curl.
    Health(HealthArgs),
}

#[derive(Debug, Args)]
struct HealthArgs {
    /// The server to ask. Default: the server this environment starts,
    /// http://localhost:PORT with PORT from SEALQ_PORT, else from the
    /// `[server]` port of the SEALQ_CONFIG file, else 9324 (so a container's
    /// health check follows the container's settings).
    #[arg(long, env = "SEALQ_ENDPOINT")]
    endpoint: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 2.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Keep asking until the server is ready or this many seconds have
    /// passed (refused connections, 503 and timeouts count as not yet); for
    /// CI scripts waiting for a server they just started.
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    wait: Option<f64>,
}

/// The endpoint of the server that `sealq serve` would start in this
/// environment: SEALQ_HOST / SEALQ_PORT, else the SEALQ_CONFIG file's
/// `[server]` host and port, else localhost:9324. A wildcard listen
/// address is asked through localhost.
fn local_endpoint() -> Result<String, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let file = var("SEALQ_CONFIG").and_then(|path| sealq::config::load(path).ok());
    let server = file.as_ref().map(|f| &f.server);
    let port = match var("SEALQ_PORT") {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("SEALQ_PORT must be a port number (got {p:?})"))?,
        None => server.and_then(|s| s.port).unwrap_or(9324),
    };
    let host = var("SEALQ_HOST").or_else(|| server.and_then(|s| s.host.clone()));
    let host = match host.as_deref() {
        None | Some("0.0.0.0" | "::" | "[::]") => "localhost".to_owned(),
        Some(h) if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        Some(h) => h.to_owned(),
    };
    Ok(format!("http://{host}:{port}"))
}

/// `--endpoint` (or SEALQ_ENDPOINT) if given, else [`local_endpoint`].
fn endpoint_or_local(given: Option<String>) -> Result<String, String> {
    given.map_or_else(local_endpoint, Ok)
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => Ok(t),
        _ => Err("a number of seconds in (0, 3600]".to_owned()),
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Logs to stderr in `format`, filtered by `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

#[derive(Debug, Args)]
struct EnvelopesArgs {
    /// Queue name.
    queue: String,
    /// The server to ask. Default: as for `sealq health`.
    #[arg(long, env = "SEALQ_ENDPOINT")]
    endpoint: Option<String>,
    /// Most messages to show.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Configuration file (TOML): server settings, KMS keys, queues, principals. Flags and environment variables win over it.
    #[arg(long, env = "SEALQ_CONFIG")]
    config: Option<std::path::PathBuf>,
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
    /// How signatures are checked: `open` (any well-formed signature passes, except for keys registered with a secret and STS session keys, which are verified), `verify` (every signed request is verified against the registered principals and STS sessions) or `strict` (verify, and encrypted queues refuse requests over plain HTTP, as AWS does).
    #[arg(long, env = "SEALQ_AUTH", default_value = "open", value_parser = ["open", "verify", "strict"])]
    auth: String,
    /// Log format on stderr: human or json (one object per line). Levels come from RUST_LOG (default info; sealq=debug adds one line per request).
    #[arg(long, env = "SEALQ_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

/// Exit code of a bad configuration file (as for bad command-line usage).
const BAD_CONFIG: u8 = 2;

/// Reports a bad configuration file on stderr; exit code 2.
fn bad_config(e: &sealq::config::ConfigError) -> std::process::ExitCode {
    eprintln!("sealq: bad configuration: {e}");
    std::process::ExitCode::from(BAD_CONFIG)
}

/// The server's settings: a flag or environment variable wins, then the
/// configuration file, then the default.
fn settings(args: &ServeArgs, m: &ArgMatches, file: Option<&sealq::config::FileConfig>) -> Config {
    let given = |id: &str| {
        matches!(
            m.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let mut config = Config {
        host: args.host.clone(),
        port: args.port,
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        queue_url_base: args.queue_url_base.clone(),
        sse_sqs_by_default: args.sse_sqs_by_default,
        data_dir: args.data_dir.clone(),
        sync: if args.sync == "normal" {
            sealq::store::durable::Sync::Normal
        } else {
            sealq::store::durable::Sync::Full
        },
        auth: match args.auth.as_str() {
            "verify" => sealq::auth::AuthMode::Verify,
            "strict" => sealq::auth::AuthMode::Strict,
            _ => sealq::auth::AuthMode::Open,
        },
    };
    let Some(server) = file.map(|f| &f.server) else {
        return config;
    };
    if !given("host")
        && let Some(v) = &server.host
    {
        config.host.clone_from(v);
    }
    if !given("port")
        && let Some(v) = server.port
    {
        config.port = v;
    }
    if !given("region")
        && let Some(v) = &server.region
    {
        config.region.clone_from(v);
    }
    if !given("account_id")
        && let Some(v) = &server.account_id
    {
        config.account_id.clone_from(v);
    }
    if !given("queue_url_base") && server.queue_url_base.is_some() {
        config.queue_url_base.clone_from(&server.queue_url_base);
    }
    if !given("sse_sqs_by_default")
        && let Some(v) = server.sse_sqs_by_default
    {
        config.sse_sqs_by_default = v;
    }
    if !given("data_dir") && server.data_dir.is_some() {
        config.data_dir.clone_from(&server.data_dir);
    }
    if !given("sync")
        && let Some(v) = server.sync
    {
        config.sync = v.store_sync();
    }
    if !given("auth")
        && let Some(v) = server.auth
    {
        config.auth = v.mode();
    }
    config
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
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let (args, serve_matches) = match cli.command {
        Some(Command::Serve(a)) => (a, matches.subcommand_matches("serve").unwrap_or(&matches)),
        Some(Command::Health(a)) => {
            let endpoint = match endpoint_or_local(a.endpoint) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("sealq health: {e}");
                    return std::process::ExitCode::from(BAD_CONFIG);
                }
            };
            let timeout = std::time::Duration::from_secs_f64(a.timeout);
            let checked = match a.wait {
                Some(wait) => sealq::admin::inspect::health_wait(&endpoint, timeout, wait).await,
                None => sealq::admin::inspect::health(&endpoint, timeout).await,
            };
            return match checked {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sealq health: {e}");
                    std::process::ExitCode::from(1)
                }
            };
        }
        Some(Command::Envelopes(a)) => {
            let endpoint = match endpoint_or_local(a.endpoint) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("sealq envelopes: {e}");
                    return std::process::ExitCode::from(BAD_CONFIG);
                }
            };
            return match sealq::admin::inspect::envelopes(&endpoint, &a.queue, a.limit).await {
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
        None => (cli.serve, &matches),
    };
    let file = match &args.config {
        Some(path) => match sealq::config::load(path) {
            Ok(f) => Some(f),
            Err(e) => return bad_config(&e),
        },
        None => None,
    };
    let log_format = match file.as_ref().and_then(|f| f.server.log_format) {
        Some(f)
            if !matches!(
                serve_matches.value_source("log_format"),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            ) =>
        {
            match f {
                sealq::config::LogFormat::Human => LogFormat::Human,
                sealq::config::LogFormat::Json => LogFormat::Json,
            }
        }
        _ => args.log_format,
    };
    init_logging(log_format);
    let config = settings(&args, serve_matches, file.as_ref());
    // The whole file is tried on a scratch server before the port is bound,
    // so a bad file fails fast and nothing is half-applied.
    if let Some(f) = &file
        && let Err(e) = sealq::config::check(&config, f)
    {
        return bad_config(&e);
    }
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
    // Until the data directory is read and the file applied, the port
    // answers 503 "starting" (health checks see "not ready", not a hang).
    let (loaded, loading) = tokio::sync::oneshot::channel();
    let starting = tokio::spawn(sealq::admin::starting::answer_until(listener, loading));
    // The data directory is read (or refused, untouched) before the file
    // is applied on top of what it holds.
    let state = match AppState::open(config, std::sync::Arc::new(sealq::clock::Clock::system())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sealq: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if let Some(f) = &file {
        if let Err(e) = sealq::config::apply(&state, f) {
            return bad_config(&e);
        }
        tracing::info!(
            file = %f.path().display(),
            keys = f.keys.len(),
            queues = f.queues.len(),
            principals = f.principals.len(),
            roles = f.roles.len(),
            "configuration applied"
        );
    }
    drop(file);
    if state.store.settle().await.is_err() {
        eprintln!("sealq: the configuration could not be saved in the data directory");
        return std::process::ExitCode::from(1);
    }
    // Configuration and data are loaded: the real server takes the port
    // and /_sealq/health answers 200 from now on.
    let _ = loaded.send(());
    let listener = match starting.await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot take the listener back");
            return std::process::ExitCode::from(1);
        }
    };
    state.set_ready();
    tracing::info!(address = %local, region = %state.config.region, account = %state.config.account_id, "sealq listening");
    match sealq::serve(listener, state, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            std::process::ExitCode::from(1)
        }
    }
}
