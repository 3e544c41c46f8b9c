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
    Serve(Box<ServeArgs>),
    /// Print the stored messages of a queue as they are at rest: envelopes
    /// (ciphertext, nonce, encrypted data key, key ARN, encryption context) for
    /// encrypted ones. Asks a running server.
    Envelopes(EnvelopesArgs),
    /// Exit 0 if a running server answers `GET /_sealq/health` with 200
    /// (ready), else 1 with the reason on stderr. For container health
    /// checks that have no shell or curl.
    Health(HealthArgs),
    /// Ask a running server how its policies decide a request, like IAM's
    /// policy simulator: prints the decision, the statements that made it
    /// and the request context; exit 0 when allowed, 1 when denied, 2 when
    /// the request cannot be simulated.
    ExplainAccess(ExplainArgs),
    /// Check a running server (--endpoint) or, offline, a configuration
    /// file (--config) against security posture rules (encryption, public
    /// and wildcard policies, HTTPS, key rotation, dead-letter queues,
    /// long-lived keys); exit 1 when a finding reaches --fail-on, 2 on bad
    /// input.
    Audit(AuditArgs),
    /// Walk through one queue of a running server: its encryption, the
    /// path a message takes through KMS with its real key, context and
    /// reuse period, the KMS calls made for it, the data keys held for it
    /// and its audit findings. Plain text for a terminal or a CI log.
    Explain(QueueExplainArgs),
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// The running server to audit. Default (without --config): as for
    /// `sealq health`.
    #[arg(long, env = "SEALQ_ENDPOINT", conflicts_with = "config")]
    endpoint: Option<String>,
    /// Audit this configuration file offline instead: it is applied to an
    /// empty in-memory server (nothing is started or bound).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Output: table, json or sarif (SARIF 2.1.0, for GitHub code scanning).
    #[arg(long, default_value = "table", value_parser = parse_format)]
    format: sealq::audit::render::Format,
    /// Exit 1 when any finding is at or above this severity: critical,
    /// high, medium, low or info. Without it findings never fail.
    #[arg(long, value_name = "LEVEL", value_parser = parse_severity)]
    fail_on: Option<sealq::audit::Severity>,
}

fn parse_format(s: &str) -> Result<sealq::audit::render::Format, String> {
    sealq::audit::render::Format::parse(s).ok_or_else(|| "one of table, json, sarif".to_owned())
}

fn parse_severity(s: &str) -> Result<sealq::audit::Severity, String> {
    sealq::audit::Severity::parse(s).ok_or_else(|| "one of critical, high, medium, low, info".to_owned())
}

#[derive(Debug, Args)]
struct QueueExplainArgs {
    /// The queue: its name, URL or ARN.
    queue: String,
    /// The queue's account, when several accounts have a queue of this name.
    #[arg(long)]
    account: Option<String>,
    /// The server to ask. Default: as for `sealq health`.
    #[arg(long, env = "SEALQ_ENDPOINT")]
    endpoint: Option<String>,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// The caller's ARN (arn:aws:iam::ACCOUNT:user/NAME, a role session's
    /// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), or `anonymous`.
    #[arg(long)]
    principal: String,
    /// The IAM action, e.g. sqs:SendMessage.
    #[arg(long)]
    action: String,
    /// The queue: its name, URL or ARN.
    #[arg(long)]
    resource: String,
    /// A request context key, KEY=VALUE (e.g. aws:SecureTransport=true);
    /// repeat for more. The default context is that of a plain-HTTP
    /// request now.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_context)]
    context: Vec<(String, String)>,
    /// The server to ask. Default: as for `sealq health`.
    #[arg(long, env = "SEALQ_ENDPOINT")]
    endpoint: Option<String>,
}

/// `KEY=VALUE` of `--context`.
fn parse_context(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
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
    /// The region of unsigned requests and of the config file's queues and keys; signed requests are served in the region they signed for.
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
    /// Most open connections, both listeners together; past it a new connection gets 503 and is closed. Above 10,000 long polls, each is a connection.
    #[arg(long, env = "SEALQ_MAX_CONNECTIONS", default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(i64::from(sealq::listen::MIN_CONNECTIONS)..=i64::from(sealq::listen::MAX_CONNECTIONS)))]
    max_connections: u32,
    /// Seconds a client may take to send a request's head or body (else its connection is closed), and an idle keep-alive connection stays open.
    #[arg(long, env = "SEALQ_CLIENT_TIMEOUT", default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=i64::from(sealq::listen::MAX_CLIENT_TIMEOUT)))]
    client_timeout: u32,
    /// Keep a deleted queue's name taken for 60 seconds of sealq's clock (QueueDeletedRecently), as AWS does. Off by default, so test suites can recreate queues at once.
    #[arg(long, env = "SEALQ_STRICT_DELETION", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    strict_deletion: bool,
    /// Keep queues, messages (encrypted ones as envelopes), KMS keys, move tasks and the virtual clock in this directory across restarts (SQLite). Without it everything stays in memory.
    #[arg(long, env = "SEALQ_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// How a commit to the data directory is made durable: `full` fsyncs (survives power loss), `normal` survives a crash or kill -9 of sealq only.
    #[arg(long, env = "SEALQ_SYNC", default_value = "full", value_parser = ["full", "normal"])]
    sync: String,
    /// How signatures are checked: `open` (any well-formed signature passes, except for keys registered with a secret and STS session keys, which are verified), `verify` (every signed request is verified against the registered principals and STS sessions) or `strict` (verify, and encrypted queues refuse requests over plain HTTP, as AWS does).
    #[arg(long, env = "SEALQ_AUTH", default_value = "open", value_parser = ["open", "verify", "strict"])]
    auth: String,
    /// Also serve the API over HTTPS on this port, on the same address (0 picks a free one; the "sealq listening" log line names it). Off by default.
    #[arg(long, env = "SEALQ_TLS_PORT")]
    tls_port: Option<u16>,
    /// Serve this certificate chain (PEM, leaf first) over HTTPS instead of one made by sealq's local CA; needs --tls-key.
    #[arg(long, env = "SEALQ_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "SEALQ_TLS_KEY", value_name = "FILE")]
    tls_key: Option<std::path::PathBuf>,
    /// More names (DNS names or IP addresses, comma-separated) for the certificate the local CA makes, beside localhost, 127.0.0.1 and ::1.
    #[arg(long, env = "SEALQ_TLS_HOSTNAMES", value_delimiter = ',', value_parser = sealq::tls::parse_hostname, value_name = "NAMES")]
    tls_hostnames: Vec<String>,
    /// Write the local CA's certificate (PEM, never its key) to this file, for clients to trust (AWS_CA_BUNDLE, boto3 verify=). The CA is kept under the data directory when there is one.
    #[arg(long, env = "SEALQ_TLS_CA_OUT", value_name = "FILE")]
    tls_ca_out: Option<std::path::PathBuf>,
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
        strict_deletion: args.strict_deletion,
        limits: sealq::listen::Limits {
            max_connections: args.max_connections as usize,
            header_timeout: std::time::Duration::from_secs(u64::from(args.client_timeout)),
            body_timeout: std::time::Duration::from_secs(u64::from(args.client_timeout)),
        },
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
        tls: sealq::config::TlsSettings {
            port: args.tls_port,
            cert: args.tls_cert.clone(),
            key: args.tls_key.clone(),
            hostnames: args.tls_hostnames.clone(),
            ca_out: args.tls_ca_out.clone(),
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
    if !given("strict_deletion")
        && let Some(v) = server.strict_deletion
    {
        config.strict_deletion = v;
    }
    if !given("max_connections")
        && let Some(v) = server.max_connections
    {
        config.limits.max_connections = v as usize;
    }
    if !given("client_timeout")
        && let Some(v) = server.client_timeout
    {
        let t = std::time::Duration::from_secs(u64::from(v));
        config.limits.header_timeout = t;
        config.limits.body_timeout = t;
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
    if !given("tls_port") && server.tls_port.is_some() {
        config.tls.port = server.tls_port;
    }
    if !given("tls_cert") && server.tls_cert.is_some() {
        config.tls.cert.clone_from(&server.tls_cert);
    }
    if !given("tls_key") && server.tls_key.is_some() {
        config.tls.key.clone_from(&server.tls_key);
    }
    if !given("tls_hostnames")
        && let Some(v) = &server.tls_hostnames
    {
        config.tls.hostnames.clone_from(v);
    }
    if !given("tls_ca_out") && server.tls_ca_out.is_some() {
        config.tls.ca_out.clone_from(&server.tls_ca_out);
    }
    config
}

/// Reports bad TLS settings on stderr; exit code 2 (bad usage).
fn bad_tls(e: &sealq::tls::TlsError) -> std::process::ExitCode {
    eprintln!("sealq: bad TLS settings: {e}");
    std::process::ExitCode::from(BAD_CONFIG)
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
        Some(Command::Serve(a)) => (*a, matches.subcommand_matches("serve").unwrap_or(&matches)),
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
        Some(Command::Audit(a)) => {
            let target = match (a.config, a.endpoint) {
                (Some(path), _) => sealq::cli::audit::Target::Config(path),
                (None, given) => match endpoint_or_local(given) {
                    Ok(e) => sealq::cli::audit::Target::Endpoint(e),
                    Err(e) => {
                        eprintln!("sealq audit: {e}");
                        return std::process::ExitCode::from(2);
                    }
                },
            };
            return match sealq::cli::audit::run(&target, a.format, a.fail_on).await {
                Ok(report) => {
                    print!("{}", report.output);
                    std::process::ExitCode::from(u8::from(report.failed))
                }
                Err(e) => {
                    eprintln!("sealq audit: {e}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Some(Command::Explain(a)) => {
            let endpoint = match endpoint_or_local(a.endpoint) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("sealq explain: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            return match sealq::cli::explain::explain(&endpoint, &a.queue, a.account.as_deref()).await {
                Ok(text) => {
                    print!("{text}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sealq explain: {e}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Some(Command::ExplainAccess(a)) => {
            let endpoint = match endpoint_or_local(a.endpoint) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("sealq explain-access: {e}");
                    return std::process::ExitCode::from(BAD_CONFIG);
                }
            };
            return match sealq::admin::inspect::explain_access(
                &endpoint,
                &a.principal,
                &a.action,
                &a.resource,
                &a.context,
            )
            .await
            {
                Ok((allowed, trail)) => {
                    println!("{trail}");
                    std::process::ExitCode::from(u8::from(!allowed))
                }
                Err(e) => {
                    eprintln!("sealq explain-access: {e}");
                    std::process::ExitCode::from(2)
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
    // TLS settings that cannot work (and the user's certificate and key)
    // are refused before anything is bound.
    if let Err(e) = sealq::tls::check_settings(&config.tls, config.port) {
        return bad_tls(&e);
    }
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key)
        && let Err(e) = sealq::tls::load_pem(cert, key)
    {
        return bad_tls(&e);
    }
    let listener = match TcpListener::bind((config.host.as_str(), config.port)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(host = %config.host, port = config.port, error = %e, "cannot listen");
            return std::process::ExitCode::from(1);
        }
    };
    // The HTTPS port is bound now too, so a port in use fails start-up at
    // once; it accepts connections once the server is ready.
    let tls_listener = match config.tls.port {
        Some(port) => match TcpListener::bind((config.host.as_str(), port)).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::error!(host = %config.host, port, error = %e, "cannot listen for HTTPS");
                return std::process::ExitCode::from(1);
            }
        },
        None => None,
    };
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let tls_local = tls_listener
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.to_string());
    let mut config = config;
    if let Ok(a) = listener.local_addr() {
        config.port = a.port();
    }
    if let Some(a) = tls_listener.as_ref().and_then(|l| l.local_addr().ok()) {
        config.tls.port = Some(a.port());
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
    // The certificate: the user's, or made by the local CA (kept in the
    // data directory, now opened and locked, when there is one).
    let tls = match tls_listener {
        Some(l) => match sealq::tls::Identity::prepare(&state.config.tls, state.config.data_dir.as_deref()) {
            Ok(identity) => Some(sealq::tls::TlsListener::new(l, identity.config)),
            Err(e) => {
                eprintln!("sealq: TLS: {e}");
                return std::process::ExitCode::from(1);
            }
        },
        None => None,
    };
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
    tracing::info!(
        address = %local,
        tls_address = tls_local.as_ref().map(tracing::field::display),
        region = %state.config.region,
        account = %state.config.account_id,
        "sealq listening"
    );
    match sealq::serve_with_tls(listener, tls, state, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            std::process::ExitCode::from(1)
        }
    }
}
