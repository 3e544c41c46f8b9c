//! Load benchmark for sealq, run by hand (never as a test):
//!
//! ```text
//! cargo bench --bench load                      # full run (~6 minutes; ~16 with --repeat 3)
//! cargo bench --bench load -- --quick           # shorter runs, smaller queues
//! cargo bench --bench load -- --seconds 5 --only "json send"
//! ```
//!
//! Options: `--seconds N` (measured wall time of each timed scenario, default
//! 3, after a 0.5 s warm-up), `--only SUBSTRING` (run the scenarios whose name
//! contains it, e.g. `query`, `c16`, `drain`, `flatness`, `memory`, `idle`,
//! `startup`), `--quick` (1 s runs, 0.2 s warm-up, smaller prefills),
//! `--repeat N` (run each throughput scenario N times on fresh servers and
//! report the median by messages/s), `--client-threads N` (tokio worker
//! threads of the load generator, default: number of CPUs),
//! `--auth-compare` (instead of the matrix: SendMessage at c16 with `--auth
//! open` and `--auth verify`, alternating, medians of 5 rounds or
//! `--repeat N`), `--tls-compare` (instead of the matrix: SendMessage at c16
//! over plain HTTP and over HTTPS with keep-alive, on the two ports of one
//! server started with `--tls-port`, alternating within each round; medians
//! of 5 rounds or `--repeat N`), `--authz-compare` (instead of the matrix:
//! SendMessage at c16 over HTTPS to an SSE-KMS queue, on a server with
//! `--auth open` and no policy against one with `--auth strict` and an
//! identity, a queue and a key policy; medians of 5 rounds or `--repeat N`),
//! `--console-compare` (instead of the matrix: SendMessage at c16 to an
//! SSE-KMS queue with nothing watching, with the requests the web console
//! makes on that queue's view every 2 s (no browser), and with the console
//! open in headless Chromium; rotating order, medians of 5 rounds or
//! `--repeat N`; needs `chromium` on PATH or `SEALQ_CHROMIUM`).
//!
//! The "other CPU %" column is the machine's busy time used by neither the
//! server nor the load generator during the measured interval, as a share of
//! all CPUs: when it is not near 0, something else was running and the row
//! is noisy.
//!
//! Without `--bench` (which `cargo bench` passes, and `cargo test
//! --all-targets` does not) the binary exits at once, so test runs never
//! start the benchmark.
//!
//! It spawns the release binary `sealq serve --host 127.0.0.1 --port <free>`
//! as a child process (a fresh server for every scenario, so queue depth and
//! memory never leak from one scenario into the next), sends it traffic on
//! 127.0.0.1 only, and kills it afterwards (also on panic, via `Drop`).
//!
//! Every request carries a real SigV4 `Authorization` header, computed per
//! request by a lean signer that is checked against the aws-sigv4 crate at
//! start-up; signing is part of the client's cost. The payload hash of a
//! body that never changes (SendMessage, SendMessageBatch, ReceiveMessage)
//! is computed once, as any client resending the same bytes could;
//! DeleteMessageBatch bodies are hashed per request. Concurrency is
//! the number of requests in flight: each worker owns one keep-alive HTTP/1.1
//! connection and sends one request at a time.
//!
//! Scenarios (each of send, batch and drain runs on three queues, one per
//! row: unencrypted (`SqsManagedSseEnabled=false`), `sse-sqs`, and `sse-kms`
//! with a key made by CreateKey. Their runs alternate (plain, sse-sqs,
//! sse-kms, plain, ...), and the "vs unencrypted" column is the median over
//! runs of an encrypted run's rate divided by the unencrypted run made just
//! before it, so drift of a shared machine cancels out. Each runs in memory
//! and with `--data-dir` (a fresh directory under the system temp dir; rows
//! end in `disk`; `--storage memory|disk|both`, default both), interleaved
//! too; "vs in-memory" is the same paired median against the in-memory row.
//! One principal sends, so data-key caches are warm after the first request):
//! - `send`: SendMessage with a 1 KiB body, for a fixed wall time.
//! - `batch`: SendMessageBatch with 10 x 1 KiB, for a fixed wall time.
//! - `drain`: time to empty a queue prefilled with a fixed number of 1 KiB
//!   messages (100,000; 20,000 with `--quick`): each worker loops
//!   ReceiveMessage(MaxNumberOfMessages=10, WaitTimeSeconds=0) then
//!   DeleteMessageBatch of what it received, and stops at its first empty
//!   receive. The prefill is done with SendMessageBatch at concurrency 16
//!   (JSON) before the clock starts.
//! - `flatness`: the same drain at concurrency 16 (JSON) of a queue
//!   prefilled with 20,000 messages and of one prefilled with 500,000 (100,000
//!   with `--quick`); reports both rates and their ratio.
//! - `memory`: server RSS growth per stored 1 KiB message (measured while
//!   prefilling the deep flatness queue) and the idle RSS of a fresh server.
//! - `startup`: time from spawning the process to the first successful
//!   `GET /_sealq/health`, best of 5, in memory and with a new data dir.
//! - `restart`: the same after a SIGTERM, on a data directory holding
//!   100,000 SSE-SQS messages (20,000 with `--quick`).
//!
//! Server CPU time is utime+stime of the server process from
//! `/proc/<pid>/stat`, read at the start and end of the measured interval;
//! clock ticks per second come from `getconf CLK_TCK` (assumed 100 if that
//! cannot be run). The client's own CPU time is read the same way from
//! `/proc/self/stat`: on a small machine the load generator competes with
//! the server for the same cores, and the table shows how much.

#![allow(missing_docs, unreachable_pub)]

mod long_polls;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::net::TcpStream;

const BODY_SIZE: usize = 1024;
const JSON_10: &str = "application/x-amz-json-1.0";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

// ---------------------------------------------------------------- options

#[derive(Debug, Clone)]
struct Opts {
    seconds: f64,
    warmup: f64,
    only: Option<String>,
    quick: bool,
    repeat: usize,
    client_threads: usize,
    drain_count: usize,
    shallow: usize,
    deep: usize,
    /// Which storage the throughput matrix runs on.
    storages: Vec<Storage>,
    /// Instead of the matrix: SendMessage at c16 with `--auth open` and
    /// `--auth verify`, alternating, `repeat` rounds (default 5).
    auth_compare: bool,
    /// Instead of the matrix: SendMessage at c16 over HTTP and HTTPS on
    /// one server, alternating, `repeat` rounds (default 5).
    tls_compare: bool,
    /// Instead of the matrix: SendMessage at c16 over HTTPS to an SSE-KMS
    /// queue, `--auth open` without policies against `--auth strict` with
    /// an identity, a queue and a key policy, alternating, `repeat` rounds
    /// (default 5).
    authz_compare: bool,
    /// Instead of the matrix: SendMessage at c16 to an SSE-KMS queue
    /// without and with the web console open in headless Chromium.
    console_compare: bool,
    /// Instead of the matrix: 10,000 concurrent long polls on one queue
    /// and over 1,000 queues (`long_polls`).
    long_polls: bool,
}

/// Where the server under test keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// In memory (no `--data-dir`).
    Memory,
    /// `--data-dir` in a fresh directory under the system temp dir.
    Disk,
}

impl Storage {
    /// Suffix of scenario names.
    fn label(self) -> &'static str {
        match self {
            Self::Memory => "",
            Self::Disk => " disk",
        }
    }
}

fn parse_args() -> Opts {
    let ncpu = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut seconds: Option<f64> = None;
    let mut only = None;
    let mut quick = false;
    let mut repeat = 1;
    let mut client_threads = ncpu;
    let mut storages = vec![Storage::Memory, Storage::Disk];
    let mut auth_compare = false;
    let mut tls_compare = false;
    let mut authz_compare = false;
    let mut console_compare = false;
    let mut long_polls = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = Some(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .filter(|s: &f64| *s > 0.0 && *s <= 600.0)
                        .expect("--seconds needs a number in (0, 600]"),
                );
            }
            "--only" => only = Some(args.next().expect("--only needs a substring")),
            "--quick" => quick = true,
            "--auth-compare" => auth_compare = true,
            "--tls-compare" => tls_compare = true,
            "--authz-compare" => authz_compare = true,
            "--console-compare" => console_compare = true,
            "--long-polls" => long_polls = true,
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n: &usize| (1..=9).contains(n))
                    .expect("--repeat needs an integer in 1..=9");
            }
            "--client-threads" => {
                client_threads = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|n: &usize| *n >= 1)
                    .expect("--client-threads needs a positive integer");
            }
            "--storage" => {
                storages = match args.next().as_deref() {
                    Some("memory") => vec![Storage::Memory],
                    Some("disk") => vec![Storage::Disk],
                    Some("both") => vec![Storage::Memory, Storage::Disk],
                    _ => panic!("--storage needs memory, disk or both"),
                };
            }
            // `cargo bench` passes `--bench` to harness-less benches.
            "--bench" => {}
            "-h" | "--help" => {
                eprintln!(
                    "usage: cargo bench --bench load -- [--seconds N] [--only SUBSTRING] [--quick] [--repeat N] [--client-threads N] [--storage memory|disk|both] [--auth-compare] [--tls-compare] [--authz-compare] [--console-compare] [--long-polls]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (try --help)"),
        }
    }
    Opts {
        seconds: seconds.unwrap_or(if quick { 1.0 } else { 3.0 }),
        warmup: if quick { 0.2 } else { 0.5 },
        only,
        quick,
        repeat,
        client_threads,
        drain_count: if quick { 20_000 } else { 100_000 },
        shallow: 20_000,
        deep: if quick { 100_000 } else { 500_000 },
        storages,
        auth_compare,
        tls_compare,
        authz_compare,
        console_compare,
        long_polls,
    }
}

impl Opts {
    fn wants(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|s| name.contains(s))
    }
}

// ---------------------------------------------------------------- /proc

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at
    // field 3 (state); utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// VmRSS of a process, in bytes.
fn rss_bytes(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn machine_header() -> String {
    let ncpu = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let secs = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("unix time {secs}")
        });
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or("unknown".to_owned(), |s| s.trim().to_owned());
    format!(
        "### sealq load benchmark\n\nMachine: {ncpu} CPUs ({model}), {mem_gib:.1} GiB RAM; {date}; commit {rev} (+ working tree)."
    )
}

// ---------------------------------------------------------------- server

/// A sealq child process; killed when dropped.
struct Server {
    child: Child,
    /// The data directory, removed on drop.
    data_dir: Option<std::path::PathBuf>,
    pid: String,
    addr: SocketAddr,
    spawned: Instant,
    ready_after: Duration,
}

impl Server {
    /// Spawns a server on a free port and waits until `/_sealq/health`
    /// answers 200 (at most 10 s).
    fn start() -> Self {
        Self::start_on(Storage::Memory)
    }

    /// Spawns a server keeping its state as `storage` says.
    fn start_on(storage: Storage) -> Self {
        static DIRS: AtomicU64 = AtomicU64::new(0);
        let data_dir = (storage == Storage::Disk).then(|| {
            std::env::temp_dir().join(format!(
                "sealq-bench-{}-{}",
                std::process::id(),
                DIRS.fetch_add(1, Ordering::Relaxed)
            ))
        });
        Self::spawn_in(data_dir)
    }

    /// Stops the server with SIGTERM (it commits and exits) and starts a
    /// new one on the same data directory.
    fn restart(mut self) -> Self {
        let _ = Command::new("kill").args(["-TERM", &self.pid]).status();
        let _ = self.child.wait();
        Self::spawn_in(self.data_dir.take())
    }

    /// Spawns a server on `data_dir` (in memory when `None`).
    fn spawn_in(data_dir: Option<std::path::PathBuf>) -> Self {
        Self::spawn_with(data_dir, &[])
    }

    /// Spawns a server on `data_dir` with `extra` arguments for `serve`.
    fn spawn_with(data_dir: Option<std::path::PathBuf>, extra: &[&str]) -> Self {
        let port = {
            let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().expect("local addr").port()
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let spawned = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(extra)
            .args(
                data_dir
                    .iter()
                    .flat_map(|d| [std::ffi::OsStr::new("--data-dir"), d.as_os_str()]),
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sealq");
        let pid = child.id().to_string();
        let mut server = Self {
            child,
            data_dir,
            pid,
            addr,
            spawned,
            ready_after: Duration::ZERO,
        };
        server.ready_after = server.wait_healthy();
        server
    }

    /// Polls `GET /_sealq/health` with blocking sockets in a tight loop.
    fn wait_healthy(&mut self) -> Duration {
        use std::io::{Read, Write};
        let deadline = self.spawned + Duration::from_secs(10);
        let req = format!(
            "GET /_sealq/health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        loop {
            if Instant::now() > deadline {
                panic!("sealq did not become healthy within 10 s");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sealq exited early: {status}");
            }
            let Ok(mut s) = StdStream::connect_timeout(&self.addr, Duration::from_millis(100)) else {
                std::thread::sleep(Duration::from_micros(50));
                continue;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(req.as_bytes()).is_err() {
                continue;
            }
            let mut buf = Vec::with_capacity(256);
            let mut chunk = [0u8; 256];
            while let Ok(n) = s.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= 12 {
                    break;
                }
            }
            if buf.starts_with(b"HTTP/1.1 200") {
                return self.spawned.elapsed();
            }
        }
    }

    fn cpu_ticks(&self) -> u64 {
        cpu_ticks(&self.pid)
    }

    fn rss(&self) -> u64 {
        rss_bytes(&self.pid)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.data_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

// ---------------------------------------------------------------- client

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Json,
    Query,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Query => "query",
        }
    }
}

/// What every worker shares: where to send, how to sign, prebuilt bodies.
struct Target {
    addr: SocketAddr,
    url: String,
    host: String,
    queue_url: String,
    identity: Identity,
    signer: Signer,
    /// SendMessage body, per protocol.
    send: [Bytes; 2],
    /// SendMessageBatch body, per protocol.
    batch: [Bytes; 2],
    /// ReceiveMessage body, per protocol.
    receive: [Bytes; 2],
    /// SigV4 payload hashes of the bodies above, which never change: a
    /// client sending the same bytes again need not hash them again (the
    /// signature itself is computed for every request).
    fixed_hashes: Vec<(usize, usize, String)>,
    /// When set, connections speak TLS (to `addr`, the server's HTTPS port).
    tls: Option<tokio_rustls::TlsConnector>,
}

fn idx(p: Proto) -> usize {
    match p {
        Proto::Json => 0,
        Proto::Query => 1,
    }
}

fn message_body() -> String {
    (0..BODY_SIZE)
        .map(|i| char::from(b'a' + u8::try_from(i % 26).expect("small")))
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> Bytes {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    Bytes::from(f.finish())
}

impl Target {
    fn new(addr: SocketAddr, queue_url: String) -> Self {
        let body = message_body();
        let send_json = json!({"QueueUrl": queue_url, "MessageBody": body}).to_string();
        let send_query = form(&[
            ("Action", "SendMessage"),
            ("Version", "2012-11-05"),
            ("QueueUrl", &queue_url),
            ("MessageBody", &body),
        ]);
        let entries: Vec<Value> = (0..10)
            .map(|i| json!({"Id": format!("m{i}"), "MessageBody": body}))
            .collect();
        let batch_json = json!({"QueueUrl": queue_url, "Entries": entries}).to_string();
        let mut pairs: Vec<(String, String)> = vec![
            ("Action".into(), "SendMessageBatch".into()),
            ("Version".into(), "2012-11-05".into()),
            ("QueueUrl".into(), queue_url.clone()),
        ];
        for i in 1..=10 {
            pairs.push((format!("SendMessageBatchRequestEntry.{i}.Id"), format!("m{i}")));
            pairs.push((
                format!("SendMessageBatchRequestEntry.{i}.MessageBody"),
                body.clone(),
            ));
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let batch_query = form(&refs);
        let receive_json =
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}).to_string();
        let receive_query = form(&[
            ("Action", "ReceiveMessage"),
            ("Version", "2012-11-05"),
            ("QueueUrl", &queue_url),
            ("MaxNumberOfMessages", "10"),
            ("WaitTimeSeconds", "0"),
        ]);
        let send = [Bytes::from(send_json), send_query];
        let batch = [Bytes::from(batch_json), batch_query];
        let receive = [Bytes::from(receive_json), receive_query];
        let fixed_hashes = send
            .iter()
            .chain(&batch)
            .chain(&receive)
            .map(|b| (b.as_ptr() as usize, b.len(), payload_hash(b)))
            .collect();
        Self {
            addr,
            url: format!("http://{addr}/"),
            host: addr.to_string(),
            queue_url,
            identity: Credentials::new("AKIDBENCH", "benchsecret", None, None, "bench").into(),
            signer: Signer::new("AKIDBENCH", "benchsecret"),
            send,
            batch,
            receive,
            fixed_hashes,
            tls: None,
        }
    }

    /// The same target reached over TLS at `addr`, trusting `ca_pem`.
    fn over_tls(mut self, addr: SocketAddr, ca_pem: &str) -> Self {
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA root");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        self.addr = addr;
        self.host = addr.to_string();
        self.url = format!("https://{addr}/");
        self.tls = Some(tokio_rustls::TlsConnector::from(Arc::new(config)));
        self
    }

    /// The payload hash of `body`: looked up for the fixed bodies, computed
    /// for the others (DeleteMessageBatch, CreateQueue, ...).
    fn hash_of(&self, body: &Bytes) -> String {
        let key = (body.as_ptr() as usize, body.len());
        self.fixed_hashes
            .iter()
            .find(|(p, n, _)| (*p, *n) == key)
            .map_or_else(|| payload_hash(body), |(_, _, h)| h.clone())
    }

    fn delete_batch(&self, proto: Proto, handles: &[String]) -> Bytes {
        match proto {
            Proto::Json => {
                let entries: Vec<Value> = handles
                    .iter()
                    .enumerate()
                    .map(|(i, h)| json!({"Id": format!("d{i}"), "ReceiptHandle": h}))
                    .collect();
                Bytes::from(json!({"QueueUrl": self.queue_url, "Entries": entries}).to_string())
            }
            Proto::Query => {
                let mut f = form_urlencoded::Serializer::new(String::new());
                f.append_pair("Action", "DeleteMessageBatch");
                f.append_pair("Version", "2012-11-05");
                f.append_pair("QueueUrl", &self.queue_url);
                for (i, h) in handles.iter().enumerate() {
                    let n = i + 1;
                    f.append_pair(
                        &format!("DeleteMessageBatchRequestEntry.{n}.Id"),
                        &format!("d{n}"),
                    );
                    f.append_pair(&format!("DeleteMessageBatchRequestEntry.{n}.ReceiptHandle"), h);
                }
                Bytes::from(f.finish())
            }
        }
    }

    /// The headers every request of `proto` carries, before signing.
    fn headers<'a>(&'a self, proto: Proto, target: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut headers: Vec<(&str, &str)> = vec![("host", &self.host)];
        match proto {
            Proto::Json => {
                headers.push(("content-type", JSON_10));
                headers.push(("x-amz-target", target));
            }
            Proto::Query => headers.push(("content-type", FORM)),
        }
        headers
    }

    /// A signed request for `action` with `body`, signed by [`Signer`] (a
    /// lean SigV4 signer, checked against aws-sigv4 at start-up, so the load
    /// generator does not spend most of the shared CPU on signing).
    fn request(&self, proto: Proto, action: &str, body: Bytes) -> http::Request<Full<Bytes>> {
        let target = format!("AmazonSQS.{action}");
        let headers = self.headers(proto, &target);
        let hash = self.hash_of(&body);
        let (amz_date, authorization) = self.signer.sign(&headers, &hash, SystemTime::now());
        let mut b = http::Request::builder().method("POST").uri("/");
        for (k, v) in &headers {
            b = b.header(*k, *v);
        }
        b = b
            .header("x-amz-date", amz_date)
            .header("authorization", authorization);
        b.body(Full::new(body)).expect("request")
    }

    /// A signed KMS (JSON 1.1) request.
    fn kms_request(&self, action: &str, body: Bytes) -> http::Request<Full<Bytes>> {
        let target = format!("TrentService.{action}");
        let headers: Vec<(&str, &str)> = vec![
            ("host", &self.host),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
        ];
        let (amz_date, authorization) = self
            .signer
            .sign(&headers, &payload_hash(&body), SystemTime::now());
        let mut b = http::Request::builder().method("POST").uri("/");
        for (k, v) in &headers {
            b = b.header(*k, *v);
        }
        b.header("x-amz-date", amz_date)
            .header("authorization", authorization)
            .body(Full::new(body))
            .expect("request")
    }

    /// The `Authorization` header aws-sigv4 computes for the same request.
    fn reference_authorization(&self, proto: Proto, action: &str, body: &[u8], time: SystemTime) -> String {
        let target = format!("AmazonSQS.{action}");
        let headers = self.headers(proto, &target);
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region("us-east-1")
            .name("sqs")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            "POST",
            &self.url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .body(())
            .expect("request");
        instructions.apply_to_request_http1x(&mut req);
        req.headers()["authorization"].to_str().expect("ascii").to_owned()
    }

    /// Panics unless [`Signer`] and aws-sigv4 agree on every request shape.
    fn check_signer(&self) {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600 + 3_723);
        for (proto, action) in [Proto::Json, Proto::Query]
            .into_iter()
            .flat_map(|p| [(p, "SendMessage"), (p, "SendMessageBatch")])
        {
            let body = if action == "SendMessage" {
                &self.send[idx(proto)]
            } else {
                &self.batch[idx(proto)]
            };
            let want = self.reference_authorization(proto, action, body, time);
            let target = format!("AmazonSQS.{action}");
            let (_, got) = self
                .signer
                .sign(&self.headers(proto, &target), &self.hash_of(body), time);
            assert_eq!(
                got,
                want,
                "the bench's SigV4 signer disagrees with aws-sigv4 ({})",
                proto.name()
            );
        }
    }
}

/// SigV4 for this benchmark's requests: POST to `/`, no query string, the
/// headers given, payload hash unsigned-header style (as aws-sigv4 does for
/// SQS). The signing key is derived once per day.
struct Signer {
    access_key: &'static str,
    secret: &'static str,
    keys: std::sync::Mutex<Option<(String, [u8; 32])>>,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Hex SHA-256 of a request body (SigV4's payload hash).
fn payload_hash(body: &[u8]) -> String {
    use sha2::Digest;
    hex32(&sha2::Sha256::digest(body))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut m = HmacSha256::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

fn hex32(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `YYYYMMDDTHHMMSSZ` for a time.
fn amz_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let days = i64::try_from(secs / 86_400).expect("small");
    let rem = secs % 86_400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Signer {
    fn new(access_key: &'static str, secret: &'static str) -> Self {
        Self {
            access_key,
            secret,
            keys: std::sync::Mutex::new(None),
        }
    }

    fn signing_key(&self, date: &str) -> [u8; 32] {
        let mut cache = self.keys.lock().expect("signer lock");
        if let Some((d, k)) = cache.as_ref()
            && d == date
        {
            return *k;
        }
        let k_date = hmac(format!("AWS4{}", self.secret).as_bytes(), date.as_bytes());
        let k = hmac(&hmac(&hmac(&k_date, b"us-east-1"), b"sqs"), b"aws4_request");
        *cache = Some((date.to_owned(), k));
        k
    }

    /// `(x-amz-date, authorization)` for a POST to `/` with these headers
    /// and a body whose SHA-256 (hex) is `payload_hash`.
    fn sign(&self, headers: &[(&str, &str)], payload_hash: &str, time: SystemTime) -> (String, String) {
        use sha2::Digest;
        let amz = amz_date(time);
        let date = &amz[..8];
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("x-amz-date", &amz));
        all.sort_by(|a, b| a.0.cmp(b.0));
        let mut canonical = String::with_capacity(256);
        canonical.push_str("POST\n/\n\n");
        for (k, v) in &all {
            canonical.push_str(k);
            canonical.push(':');
            canonical.push_str(v.trim());
            canonical.push('\n');
        }
        let signed: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
        let signed = signed.join(";");
        canonical.push('\n');
        canonical.push_str(&signed);
        canonical.push('\n');
        canonical.push_str(payload_hash);
        let scope = format!("{date}/us-east-1/sqs/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz}\n{scope}\n{}",
            hex32(&sha2::Sha256::digest(canonical.as_bytes()))
        );
        let signature = hex32(&hmac(&self.signing_key(date), to_sign.as_bytes()));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            self.access_key
        );
        (amz, auth)
    }
}

/// One keep-alive HTTP/1.1 connection, spoken by hand: each request is
/// written as one buffer and the response is read by its Content-Length.
/// The generator shares the machine's two cores with the server, so it must
/// be lean: hyper's client cost about as much CPU per request as the server.
struct Conn {
    stream: Box<dyn Io>,
    buf: BytesMut,
    out: Vec<u8>,
}

/// A connection's byte stream: TCP, or TLS over TCP.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl Conn {
    /// A plain connection to `addr`.
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self::over(Box::new(stream))
    }

    /// A connection to `t`: over TLS when `t` says so (the handshake is
    /// done here, before any request is timed).
    async fn open_to(t: &Target) -> Self {
        let Some(connector) = &t.tls else {
            return Self::open(t.addr).await;
        };
        let stream = TcpStream::connect(t.addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let name = rustls::pki_types::ServerName::IpAddress(t.addr.ip().into());
        let tls = connector.connect(name, stream).await.expect("TLS handshake");
        Self::over(Box::new(tls))
    }

    fn over(stream: Box<dyn Io>) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            out: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends and returns (status, body).
    async fn call(&mut self, req: http::Request<Full<Bytes>>) -> (u16, Bytes) {
        self.write_request(req).await;
        self.read_response().await
    }

    /// Writes a request (one buffer).
    async fn write_request(&mut self, req: http::Request<Full<Bytes>>) {
        use tokio::io::AsyncWriteExt;
        let (parts, body) = req.into_parts();
        let body = body.collect().await.expect("full body").to_bytes();
        self.out.clear();
        self.out.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (k, v) in &parts.headers {
            self.out.extend_from_slice(k.as_str().as_bytes());
            self.out.extend_from_slice(b": ");
            self.out.extend_from_slice(v.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        let _ = write!(LenWriter(&mut self.out), "content-length: {}\r\n\r\n", body.len());
        self.out.extend_from_slice(&body);
        self.stream.write_all(&self.out).await.expect("write request");
    }

    /// Reads one response: (status, body).
    async fn read_response(&mut self) -> (u16, Bytes) {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(end) = memchr::memmem::find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).expect("ascii head");
                let status: u16 = head.get(9..12).and_then(|c| c.parse().ok()).expect("status line");
                let len: usize = head
                    .split("\r\n")
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .expect("content-length");
                while self.buf.len() < end + 4 + len {
                    assert!(
                        self.stream.read_buf(&mut self.buf).await.expect("read") > 0,
                        "connection closed"
                    );
                }
                let mut whole = self.buf.split_to(end + 4 + len);
                return (status, whole.split_off(end + 4).freeze());
            }
            assert!(
                self.stream.read_buf(&mut self.buf).await.expect("read") > 0,
                "connection closed"
            );
        }
    }
}

/// `fmt::Write` into a byte buffer.
struct LenWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for LenWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Receipt handles in a ReceiveMessage response.
fn receipt_handles(proto: Proto, body: &[u8]) -> Vec<String> {
    match proto {
        Proto::Json => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            v.get("Messages")
                .and_then(Value::as_array)
                .map(|ms| {
                    ms.iter()
                        .filter_map(|m| m.get("ReceiptHandle").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        }
        Proto::Query => {
            let text = std::str::from_utf8(body).unwrap_or("");
            let mut out = Vec::new();
            let mut rest = text;
            while let Some(i) = rest.find("<ReceiptHandle>") {
                rest = &rest[i + "<ReceiptHandle>".len()..];
                let Some(j) = rest.find("</ReceiptHandle>") else {
                    break;
                };
                out.push(xml_unescape(&rest[..j]));
                rest = &rest[j..];
            }
            out
        }
    }
}

fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xD;", "\r")
        .replace("&#13;", "\r")
        .replace("&amp;", "&")
}

/// Entries a DeleteMessageBatch / SendMessageBatch response reports as failed.
fn batch_failures(proto: Proto, body: &[u8]) -> usize {
    match proto {
        Proto::Json => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("Failed").and_then(Value::as_array).map(Vec::len))
            .unwrap_or(0),
        Proto::Query => std::str::from_utf8(body)
            .unwrap_or("")
            .matches("<BatchResultErrorEntry>")
            .count(),
    }
}

/// How the benchmark queue encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enc {
    /// `SqsManagedSseEnabled=false`.
    Plain,
    /// SSE-SQS (service-owned key).
    SseSqs,
    /// SSE-KMS with a customer key made by CreateKey.
    SseKms,
}

impl Enc {
    /// Suffix of scenario names.
    fn label(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::SseSqs => " sse-sqs",
            Self::SseKms => " sse-kms",
        }
    }
}

async fn create_queue(addr: SocketAddr, name: &str, enc: Enc) -> String {
    let t = Target::new(addr, String::new());
    let mut c = Conn::open(addr).await;
    let attributes = match enc {
        Enc::Plain => json!({"SqsManagedSseEnabled": "false"}),
        Enc::SseSqs => json!({"SqsManagedSseEnabled": "true"}),
        Enc::SseKms => {
            let (status, resp) = c
                .call(t.kms_request("CreateKey", Bytes::from_static(b"{}")))
                .await;
            assert_eq!(status, 200, "CreateKey: {}", String::from_utf8_lossy(&resp));
            let v: Value = serde_json::from_slice(&resp).expect("CreateKey JSON");
            let key = v["KeyMetadata"]["KeyId"].as_str().expect("KeyId");
            json!({"KmsMasterKeyId": key})
        }
    };
    let body = Bytes::from(json!({"QueueName": name, "Attributes": attributes}).to_string());
    let (status, resp) = c.call(t.request(Proto::Json, "CreateQueue", body)).await;
    assert_eq!(status, 200, "CreateQueue: {}", String::from_utf8_lossy(&resp));
    let v: Value = serde_json::from_slice(&resp).expect("CreateQueue JSON");
    v["QueueUrl"].as_str().expect("QueueUrl").to_owned()
}

// ---------------------------------------------------------------- workloads

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Send,
    Batch,
    Drain,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Batch => "batch",
            Self::Drain => "drain",
        }
    }
}

/// What one worker observed.
#[derive(Default)]
struct Tally {
    /// Per-request latencies, microseconds.
    lat_us: Vec<u32>,
    requests: u64,
    messages: u64,
    errors: u64,
    last_end: Option<Instant>,
}

impl Tally {
    fn merge(&mut self, o: Self) {
        self.lat_us.extend(o.lat_us);
        self.requests += o.requests;
        self.messages += o.messages;
        self.errors += o.errors;
        self.last_end = match (self.last_end, o.last_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn record(&mut self, t0: Instant, t1: Instant, ok: bool) {
        let us = u32::try_from((t1 - t0).as_micros()).unwrap_or(u32::MAX);
        self.lat_us.push(us);
        self.requests += 1;
        if !ok {
            self.errors += 1;
        }
        self.last_end = Some(t1);
    }
}

/// When a worker stops.
#[derive(Clone)]
enum Stop {
    /// Record from `from` on; stop at `until`.
    Timed { from: Instant, until: Instant },
    /// Record everything; stop at the first empty receive, or at `cap`.
    Empty { cap: Instant },
}

/// One send or batch request.
async fn one_send(t: &Target, c: &mut Conn, proto: Proto, batch: bool) -> (bool, u64) {
    let (action, body, n) = if batch {
        ("SendMessageBatch", t.batch[idx(proto)].clone(), 10)
    } else {
        ("SendMessage", t.send[idx(proto)].clone(), 1)
    };
    let (status, resp) = c.call(t.request(proto, action, body)).await;
    let failed = if batch && status == 200 {
        batch_failures(proto, &resp) as u64
    } else {
        0
    };
    let ok = status == 200 && failed == 0;
    (ok, if status == 200 { n - failed } else { 0 })
}

async fn worker(t: Arc<Target>, proto: Proto, op: Op, stop: Stop) -> Tally {
    let mut c = Conn::open_to(&t).await;
    let mut tally = Tally::default();
    loop {
        let now = Instant::now();
        let recording = match &stop {
            Stop::Timed { from, until } => {
                if now >= *until {
                    break;
                }
                now >= *from
            }
            Stop::Empty { cap } => {
                if now >= *cap {
                    break;
                }
                true
            }
        };
        match op {
            Op::Send | Op::Batch => {
                let t0 = Instant::now();
                let (ok, n) = one_send(&t, &mut c, proto, op == Op::Batch).await;
                let t1 = Instant::now();
                if recording {
                    tally.record(t0, t1, ok);
                    tally.messages += n;
                }
            }
            Op::Drain => {
                let t0 = Instant::now();
                let req = t.request(proto, "ReceiveMessage", t.receive[idx(proto)].clone());
                let (status, resp) = c.call(req).await;
                let t1 = Instant::now();
                if recording {
                    tally.record(t0, t1, status == 200);
                }
                let handles = if status == 200 {
                    receipt_handles(proto, &resp)
                } else {
                    Vec::new()
                };
                if handles.is_empty() {
                    if status == 200 && matches!(stop, Stop::Empty { .. }) {
                        // Our view of the queue is empty: other workers may
                        // still hold in-flight messages they will delete.
                        break;
                    }
                    continue;
                }
                let body = t.delete_batch(proto, &handles);
                let t2 = Instant::now();
                let (status, resp) = c.call(t.request(proto, "DeleteMessageBatch", body)).await;
                let t3 = Instant::now();
                let failed = if status == 200 {
                    batch_failures(proto, &resp)
                } else {
                    handles.len()
                };
                if recording {
                    tally.record(t2, t3, status == 200 && failed == 0);
                    tally.messages += (handles.len() - failed) as u64;
                }
            }
        }
    }
    tally
}

/// Result of one scenario.
#[derive(Clone)]
struct Row {
    name: String,
    /// Name without the encryption suffix (pairs encrypted rows with plain ones).
    base: String,
    enc: Enc,
    storage: Storage,
    /// Name without the storage suffix (pairs disk rows with memory ones).
    mem_name: String,
    /// Messages/s of every run, in run order (runs of one scenario's
    /// encryption kinds alternate, so run i of each kind ran side by side).
    rounds: Vec<f64>,
    op: &'static str,
    conc: usize,
    msgs_per_s: f64,
    reqs_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_us_per_msg: f64,
    /// CPU used by neither server nor client, % of all CPUs (noise).
    other_cpu_pct: f64,
    client_cpu_us_per_msg: f64,
    server_rss: u64,
    errors: u64,
    messages: u64,
    elapsed: f64,
    note: String,
}

#[allow(clippy::cast_precision_loss)]
fn ncpu() -> f64 {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as f64
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Busy ticks of all CPUs (user+nice+system+irq+softirq+steal) from `/proc/stat`.
fn system_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    get(0) + get(1) + get(2) + get(5) + get(6) + get(7)
}

/// CPU time counters at one instant.
struct Cpu {
    tck: f64,
    server: u64,
    client: u64,
    system: u64,
}

/// CPU seconds spent in an interval.
#[derive(Debug, Clone, Copy)]
struct CpuUse {
    server: f64,
    client: f64,
    /// Everything else on the machine (other processes, interrupts): noise.
    other: f64,
}

impl Cpu {
    fn read(server: &Server, tck: f64) -> Self {
        Self {
            tck,
            server: server.cpu_ticks(),
            client: cpu_ticks("self"),
            system: system_busy_ticks(),
        }
    }

    /// CPU seconds spent since `self`.
    #[allow(clippy::cast_precision_loss)]
    fn since(&self, server: &Server) -> CpuUse {
        let s = server.cpu_ticks().saturating_sub(self.server);
        let c = cpu_ticks("self").saturating_sub(self.client);
        let all = system_busy_ticks().saturating_sub(self.system);
        CpuUse {
            server: s as f64 / self.tck,
            client: c as f64 / self.tck,
            other: all.saturating_sub(s + c) as f64 / self.tck,
        }
    }
}

/// Runs `conc` workers until the stop condition; returns the merged tally,
/// the measured wall time, and (server, client) CPU seconds in it.
async fn run_workers(
    server: &Server,
    t: &Arc<Target>,
    proto: Proto,
    op: Op,
    conc: usize,
    stop: Stop,
    tck: f64,
) -> (Tally, f64, CpuUse) {
    let start = Instant::now();
    let mut cpu0 = Cpu::read(server, tck);
    let handles: Vec<_> = (0..conc)
        .map(|_| tokio::spawn(worker(t.clone(), proto, op, stop.clone())))
        .collect();
    let from = match &stop {
        Stop::Timed { from, until } => {
            tokio::time::sleep_until((*from).into()).await;
            cpu0 = Cpu::read(server, tck);
            tokio::time::sleep_until((*until).into()).await;
            *from
        }
        Stop::Empty { .. } => start,
    };
    let mut tally = Tally::default();
    for h in handles {
        tally.merge(h.await.expect("worker"));
    }
    let cpu = cpu0.since(server);
    let end = match &stop {
        Stop::Timed { until, .. } => tally.last_end.unwrap_or(*until).max(*until),
        Stop::Empty { .. } => tally.last_end.unwrap_or_else(Instant::now),
    };
    (tally, (end - from).as_secs_f64(), cpu)
}

/// Fills the queue with `count` 1 KiB messages using SendMessageBatch at
/// concurrency 16 over JSON. Returns the seconds it took.
async fn prefill(t: &Arc<Target>, count: usize) -> f64 {
    let batches = count.div_ceil(10);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let t = t.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut c = Conn::open_to(&t).await;
                while next.fetch_add(1, Ordering::Relaxed) < batches as u64 {
                    let (ok, _) = one_send(&t, &mut c, Proto::Json, true).await;
                    assert!(ok, "prefill SendMessageBatch failed");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("prefill worker");
    }
    start.elapsed().as_secs_f64()
}

#[allow(clippy::cast_precision_loss)]
fn make_row(name: String, op: Op, conc: usize, mut tally: Tally, elapsed: f64, cpu: CpuUse, rss: u64) -> Row {
    tally.lat_us.sort_unstable();
    let msgs = tally.messages as f64;
    Row {
        base: name.clone(),
        mem_name: name.clone(),
        enc: Enc::Plain,
        storage: Storage::Memory,
        rounds: Vec::new(),
        name,
        op: op.name(),
        conc,
        msgs_per_s: msgs / elapsed,
        reqs_per_s: tally.requests as f64 / elapsed,
        p50_ms: percentile(&tally.lat_us, 0.50),
        p99_ms: percentile(&tally.lat_us, 0.99),
        server_cpu_us_per_msg: cpu.server * 1e6 / msgs,
        client_cpu_us_per_msg: cpu.client * 1e6 / msgs,
        other_cpu_pct: cpu.other / elapsed / ncpu() * 100.0,
        server_rss: rss,
        errors: tally.errors,
        messages: tally.messages,
        elapsed,
        note: String::new(),
    }
}

async fn throughput(
    opts: &Opts,
    proto: Proto,
    op: Op,
    conc: usize,
    enc: Enc,
    storage: Storage,
    tck: f64,
) -> Row {
    let mem_base = format!("{} {} c{conc}", proto.name(), op.name());
    let mem_name = format!("{mem_base}{}", enc.label());
    let base = format!("{mem_base}{}", storage.label());
    let name = format!("{mem_name}{}", storage.label());
    let server = Server::start_on(storage);
    let queue_url = create_queue(server.addr, "bench", enc).await;
    let t = Arc::new(Target::new(server.addr, queue_url));
    let (tally, elapsed, cpu, note) = if op == Op::Drain {
        let fill = prefill(&t, opts.drain_count).await;
        let cap = Instant::now() + Duration::from_secs(120);
        let (tally, elapsed, cpu) = run_workers(&server, &t, proto, op, conc, Stop::Empty { cap }, tck).await;
        let note = format!(
            "time to empty {} msgs: {elapsed:.2} s (prefill {fill:.2} s){}",
            opts.drain_count,
            if Instant::now() >= cap {
                "; HIT 120 s CAP"
            } else {
                ""
            }
        );
        (tally, elapsed, cpu, note)
    } else {
        let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
        let until = from + Duration::from_secs_f64(opts.seconds);
        let (tally, elapsed, cpu) =
            run_workers(&server, &t, proto, op, conc, Stop::Timed { from, until }, tck).await;
        (tally, elapsed, cpu, String::new())
    };
    let rss = server.rss();
    let mut row = make_row(name, op, conc, tally, elapsed, cpu, rss);
    row.base = base;
    row.enc = enc;
    row.storage = storage;
    row.mem_name = mem_name;
    row.note = note;
    if op == Op::Drain && row.messages != opts.drain_count as u64 {
        let _ = write!(row.note, "; deleted {} of {}", row.messages, opts.drain_count);
    }
    row
}

/// SendMessage at concurrency 16, JSON and query, on servers started with
/// `--auth open` and with `--auth verify` (the bench's key registered with
/// its secret, so every request is verified), alternating so the machine's
/// drift hits both alike; medians of `--repeat` rounds (5 unless given).
async fn auth_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let config = std::env::temp_dir().join(format!("sealq-bench-auth-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        // Under verify every request is authorized too: one identity
        // policy, as a producer would have.
        "[[principals]]\naccess_key_id = \"AKIDBENCH\"\nname = \"bench\"\nsecret_access_key = \"benchsecret\"\n\
         [[principals.policies]]\nname = \"produce\"\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", \
         Action = [\"sqs:CreateQueue\", \"sqs:SendMessage\"], Resource = \"arn:aws:sqs:*:000000000000:*\" }] }\n",
    )
    .expect("write the bench's config");
    let config_arg = config.to_str().expect("temp path").to_owned();
    let _ = writeln!(
        out,
        "| scenario | --auth open msgs/s | --auth verify msgs/s | verify / open | open p99 ms | verify p99 ms | server CPU µs/msg open / verify |\n|---|---:|---:|---:|---:|---:|---|"
    );
    for proto in [Proto::Json, Proto::Query] {
        let mut runs: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (i, extra) in [
                vec!["--auth", "open"],
                vec!["--auth", "verify", "--config", config_arg.as_str()],
            ]
            .iter()
            .enumerate()
            {
                let server = Server::spawn_with(None, extra);
                let queue_url = create_queue(server.addr, "bench", Enc::Plain).await;
                let t = Arc::new(Target::new(server.addr, queue_url));
                let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
                let until = from + Duration::from_secs_f64(opts.seconds);
                let (tally, elapsed, cpu) =
                    run_workers(&server, &t, proto, Op::Send, 16, Stop::Timed { from, until }, tck).await;
                let name = format!("{} send c16", proto.name());
                let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
                assert_eq!(row.errors, 0, "{} had errors with {extra:?}", row.name);
                runs[i].push(row);
            }
        }
        let median = |rows: &mut Vec<Row>| -> Row {
            rows.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
            rows.remove(rows.len() / 2)
        };
        let (open, verify) = (median(&mut runs[0]), median(&mut runs[1]));
        let _ = writeln!(
            out,
            "| {} send c16 | {:.0} | {:.0} | {:.0}% | {:.3} | {:.3} | {:.1} / {:.1} |",
            proto.name(),
            open.msgs_per_s,
            verify.msgs_per_s,
            100.0 * verify.msgs_per_s / open.msgs_per_s,
            open.p99_ms,
            verify.p99_ms,
            open.server_cpu_us_per_msg,
            verify.server_cpu_us_per_msg,
        );
    }
    let _ = writeln!(
        out,
        "\nMedians of {rounds} alternating rounds of {} s each.",
        opts.seconds
    );
    let _ = std::fs::remove_file(&config);
}

/// SendMessage at concurrency 16 (JSON), on one server started with
/// `--tls-port`: over plain HTTP on its port, then over HTTPS (keep-alive
/// connections, handshakes done before the clock starts) on its TLS port,
/// or the other way round on every other round, each on a queue of its
/// own; medians of `--repeat` rounds (5 unless given) and the median of
/// each round's HTTPS / HTTP ratio.
async fn tls_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let ca_out = std::env::temp_dir().join(format!("sealq-bench-ca-{}.pem", std::process::id()));
    let mut runs: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let tls_port = {
            let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
            l.local_addr().expect("local addr").port()
        };
        let server = Server::spawn_with(
            None,
            &[
                "--tls-port",
                &tls_port.to_string(),
                "--tls-ca-out",
                ca_out.to_str().expect("temp path"),
            ],
        );
        let ca = std::fs::read_to_string(&ca_out).expect("the CA from --tls-ca-out");
        let tls_addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
        let mut rates = [0.0; 2];
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let queue_url = create_queue(server.addr, &format!("bench-{i}"), Enc::Plain).await;
            let mut t = Target::new(server.addr, queue_url);
            if i == 1 {
                t = t.over_tls(tls_addr, &ca);
            }
            let t = Arc::new(t);
            let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
            let until = from + Duration::from_secs_f64(opts.seconds);
            let (tally, elapsed, cpu) = run_workers(
                &server,
                &t,
                Proto::Json,
                Op::Send,
                16,
                Stop::Timed { from, until },
                tck,
            )
            .await;
            let name = format!("json send c16{}", if i == 1 { " https" } else { "" });
            let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
            assert_eq!(row.errors, 0, "{} had errors", row.name);
            rates[i] = row.msgs_per_s;
            runs[i].push(row);
        }
        ratios.push(rates[1] / rates[0]);
    }
    let _ = std::fs::remove_file(&ca_out);
    let (plain, https, ratio) = medians(runs, &ratios);
    let _ = writeln!(
        out,
        "| scenario | HTTP msgs/s | HTTPS msgs/s | HTTPS / HTTP | HTTP p50 / p99 ms | HTTPS p50 / p99 ms | server CPU µs/msg HTTP / HTTPS | client CPU µs/msg HTTP / HTTPS | other CPU % HTTP / HTTPS |\n|---|---:|---:|---:|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| json send c16 | {:.0} | {:.0} | {:.0}% {} | {:.3} / {:.3} | {:.3} / {:.3} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
        plain.msgs_per_s,
        https.msgs_per_s,
        100.0 * ratio,
        mark(ratio >= 0.70),
        plain.p50_ms,
        plain.p99_ms,
        https.p50_ms,
        https.p99_ms,
        plain.server_cpu_us_per_msg,
        https.server_cpu_us_per_msg,
        plain.client_cpu_us_per_msg,
        https.client_cpu_us_per_msg,
        plain.other_cpu_pct,
        https.other_cpu_pct,
    );
    let _ = writeln!(
        out,
        "\nMedians of {rounds} rounds of {} s each; HTTPS / HTTP is the median of each round's ratio (both on one server, alternating which goes first; target 70%). Ratios in round order: {}.",
        opts.seconds,
        percents(&ratios)
    );
}

/// The rows of median throughput of each side's rounds, and the median of
/// the rounds' ratios (second side / first).
fn medians(runs: [Vec<Row>; 2], ratios: &[f64]) -> (Row, Row, f64) {
    let median = |mut rows: Vec<Row>| -> Row {
        rows.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
        rows.remove(rows.len() / 2)
    };
    let [a, b] = runs;
    let mut sorted = ratios.to_vec();
    sorted.sort_by(f64::total_cmp);
    (median(a), median(b), sorted[sorted.len() / 2])
}

/// Ratios as `86%, 92%, ...`.
fn percents(ratios: &[f64]) -> String {
    ratios
        .iter()
        .map(|r| format!("{:.0}%", 100.0 * r))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The servers `--authz-compare` starts: the bench's key with its secret
/// (so both verify signatures), an SSE-KMS queue `bench` under a key of its
/// own and, with `policies`, the typical three: the producer's identity
/// policy, a queue policy denying plain HTTP, and a key policy letting the
/// producer use the key through SQS only.
fn authz_config(policies: bool) -> String {
    let mut c = String::from(
        "[[principals]]\naccess_key_id = \"AKIDBENCH\"\nname = \"bench\"\nsecret_access_key = \"benchsecret\"\n",
    );
    if policies {
        c.push_str(
            "[[principals.policies]]\nname = \"produce\"\ndocument = { Version = \"2012-10-17\", Statement = [{ Sid = \"Send\", Effect = \"Allow\", \
             Action = [\"sqs:SendMessage\", \"sqs:GetQueueUrl\"], Resource = \"arn:aws:sqs:us-east-1:000000000000:bench\" }] }\n",
        );
    }
    c.push_str("[[keys]]\nkey_id = \"8e1f0c9a-6b2d-4e3f-9a1b-2c3d4e5f6a7b\"\naliases = [\"alias/bench\"]\n");
    if policies {
        c.push_str(
            "policy = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Admin\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Action\":[\"kms:Describe*\",\"kms:Get*\",\"kms:PutKeyPolicy\"],\"Resource\":\"*\"},\
             {\"Sid\":\"Producer\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:user/bench\"},\"Action\":[\"kms:GenerateDataKey\",\"kms:Decrypt\"],\"Resource\":\"*\",\
             \"Condition\":{\"StringEquals\":{\"kms:ViaService\":\"sqs.us-east-1.amazonaws.com\"}}}]}'\n",
        );
    }
    c.push_str("[[queues]]\nname = \"bench\"\nattributes = { KmsMasterKeyId = \"alias/bench\"");
    if policies {
        c.push_str(
            ", Policy = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"DenyInsecureTransport\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sqs:*\",\"Resource\":\"arn:aws:sqs:us-east-1:000000000000:bench\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}'",
        );
    }
    c.push_str(" }\n");
    c
}

/// SendMessage at concurrency 16 (JSON, 1 KiB bodies, over HTTPS, in
/// memory) to an SSE-KMS queue on a server with `--auth open` and no policy
/// (signatures verified, nothing to evaluate) and on one with `--auth
/// strict` and the typical three policies ([`authz_config`]), alternating
/// which goes first; medians of `--repeat` rounds (5 unless given).
async fn authz_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let configs = [false, true].map(|policies| {
        let path = dir.join(format!("sealq-bench-authz-{pid}-{policies}.toml"));
        std::fs::write(&path, authz_config(policies)).expect("write the bench's config");
        path
    });
    let ca_out = dir.join(format!("sealq-bench-authz-ca-{pid}.pem"));
    let mut runs: [Vec<Row>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let mut rates = [0.0; 2];
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let tls_port = {
                let l = StdListener::bind("127.0.0.1:0").expect("bind a free port");
                l.local_addr().expect("local addr").port()
            };
            let server = Server::spawn_with(
                None,
                &[
                    "--auth",
                    if i == 0 { "open" } else { "strict" },
                    "--config",
                    configs[i].to_str().expect("temp path"),
                    "--tls-port",
                    &tls_port.to_string(),
                    "--tls-ca-out",
                    ca_out.to_str().expect("temp path"),
                ],
            );
            let ca = std::fs::read_to_string(&ca_out).expect("the CA from --tls-ca-out");
            let queue_url = format!("http://{}/000000000000/bench", server.addr);
            let t = Target::new(server.addr, queue_url)
                .over_tls(SocketAddr::from(([127, 0, 0, 1], tls_port)), &ca);
            let t = Arc::new(t);
            let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
            let until = from + Duration::from_secs_f64(opts.seconds);
            let (tally, elapsed, cpu) = run_workers(
                &server,
                &t,
                Proto::Json,
                Op::Send,
                16,
                Stop::Timed { from, until },
                tck,
            )
            .await;
            let name = format!(
                "json send c16 https sse-kms{}",
                if i == 1 { " strict+policies" } else { "" }
            );
            let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
            assert_eq!(row.errors, 0, "{} had errors", row.name);
            rates[i] = row.msgs_per_s;
            runs[i].push(row);
        }
        ratios.push(rates[1] / rates[0]);
    }
    for c in &configs {
        let _ = std::fs::remove_file(c);
    }
    let _ = std::fs::remove_file(&ca_out);
    let (open, strict, ratio) = medians(runs, &ratios);
    let _ = writeln!(
        out,
        "| scenario | open, no policy msgs/s | strict + 3 policies msgs/s | strict / open | p99 ms open / strict | server CPU µs/msg open / strict |\n|---|---:|---:|---:|---|---|"
    );
    let _ = writeln!(
        out,
        "| json send c16 https sse-kms | {:.0} | {:.0} | {:.0}% {} | {:.3} / {:.3} | {:.1} / {:.1} |",
        open.msgs_per_s,
        strict.msgs_per_s,
        100.0 * ratio,
        mark(ratio >= 0.90),
        open.p99_ms,
        strict.p99_ms,
        open.server_cpu_us_per_msg,
        strict.server_cpu_us_per_msg,
    );
    let _ = writeln!(
        out,
        "\nMedians of {rounds} rounds of {} s each; strict / open is the median of each round's ratio (target 90%). Ratios in round order: {}.",
        opts.seconds,
        percents(&ratios)
    );
}

/// Headless Chromium showing the console's view of queue `bench` (the
/// queue's settings, findings and its 50 oldest envelopes, fetched every
/// 2 s); killed on drop.
struct ConsoleBrowser {
    child: std::process::Child,
    profile: std::path::PathBuf,
}

impl ConsoleBrowser {
    fn open(addr: SocketAddr) -> Self {
        let chromium = std::env::var("SEALQ_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = std::env::temp_dir().join(format!(
            "sealq-bench-chromium-{}-{}",
            std::process::id(),
            addr.port()
        ));
        let child = Command::new(&chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,800",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("http://{addr}/_sealq/console#/queue/000000000000/bench"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("--console-compare needs chromium ({chromium}): {e}"));
        Self { child, profile }
    }
}

impl Drop for ConsoleBrowser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The requests the console's view of queue `bench` makes, without a
/// browser: every 2 s the queue list, the audit and the 50 oldest
/// envelopes, every 4 s the fault switch; one connection per request, as
/// a browser's pool may. Runs until aborted.
async fn console_poller(addr: SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let get = |path: &'static str| async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.expect("read");
        assert!(body.starts_with(b"HTTP/1.1 200"), "GET {path} failed");
    };
    for tick in 0u64.. {
        get("/_sealq/queues").await;
        get("/_sealq/audit").await;
        get("/_sealq/queues/bench/messages?limit=50&account=000000000000").await;
        if tick % 2 == 0 {
            get("/_sealq/faults").await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// SendMessage at concurrency 16 (JSON, 1 KiB bodies, in memory) to an
/// SSE-KMS queue three ways, in rotating order: with nothing watching;
/// with the console's requests made by [`console_poller`] (the server's
/// share of the console's cost); and with the web console open on the
/// queue's view in headless Chromium (started 3 s before the warm-up, so
/// its start-up is not measured; its polling and rendering are, on the
/// same machine). Medians of `--repeat` rounds (5 unless given).
async fn console_compare(opts: &Opts, tck: f64, out: &mut String) {
    let rounds = if opts.repeat > 1 { opts.repeat } else { 5 };
    let mut runs: [Vec<Row>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let mut rates = [0.0; 3];
        let order = [[0, 1, 2], [1, 2, 0], [2, 0, 1]][round % 3];
        for i in order {
            let server = Server::start();
            let queue_url = create_queue(server.addr, "bench", Enc::SseKms).await;
            let t = Arc::new(Target::new(server.addr, queue_url));
            let poller = (i == 1).then(|| tokio::spawn(console_poller(server.addr)));
            let browser = (i == 2).then(|| ConsoleBrowser::open(server.addr));
            if browser.is_some() {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            let from = Instant::now() + Duration::from_secs_f64(opts.warmup);
            let until = from + Duration::from_secs_f64(opts.seconds);
            let (tally, elapsed, cpu) = run_workers(
                &server,
                &t,
                Proto::Json,
                Op::Send,
                16,
                Stop::Timed { from, until },
                tck,
            )
            .await;
            drop(browser);
            if let Some(p) = poller {
                p.abort();
            }
            let name = format!(
                "json send c16 sse-kms{}",
                ["", " console requests", " console open"][i]
            );
            let row = make_row(name, Op::Send, 16, tally, elapsed, cpu, server.rss());
            assert_eq!(row.errors, 0, "{} had errors", row.name);
            rates[i] = row.msgs_per_s;
            runs[i].push(row);
        }
        ratios[0].push(rates[1] / rates[0]);
        ratios[1].push(rates[2] / rates[0]);
    }
    let median_row = |mut rows: Vec<Row>| -> Row {
        rows.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
        rows.remove(rows.len() / 2)
    };
    let median_ratio = |r: &[f64]| -> f64 {
        let mut v = r.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let [none, requests, open] = runs;
    let (none, requests, open) = (median_row(none), median_row(requests), median_row(open));
    let _ = writeln!(
        out,
        "| scenario | msgs/s | vs nothing watching | p99 ms | server CPU µs/msg | other CPU % |\n|---|---:|---:|---:|---:|---:|"
    );
    for (row, ratio) in [
        (&none, None),
        (&requests, Some(median_ratio(&ratios[0]))),
        (&open, Some(median_ratio(&ratios[1]))),
    ] {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {:.3} | {:.1} | {:.0} |",
            row.name,
            row.msgs_per_s,
            ratio.map_or_else(String::new, |r| format!("{:.0}% {}", 100.0 * r, mark(r >= 0.95))),
            row.p99_ms,
            row.server_cpu_us_per_msg,
            row.other_cpu_pct,
        );
    }
    let _ = writeln!(
        out,
        "\nMedians of {rounds} rounds of {} s each; \"vs nothing watching\" is the median of each round's ratio (target 95%: an open console costs under 5%). Ratios in round order, console requests: {}; console open: {}.",
        opts.seconds,
        percents(&ratios[0]),
        percents(&ratios[1])
    );
}

/// Deep/shallow drain and memory per stored message.
struct Flatness {
    shallow: Row,
    deep: Row,
    rss_before: u64,
    rss_after_fill: u64,
    deep_count: usize,
    deep_fill_s: f64,
}

async fn drain_at(opts: &Opts, count: usize, tck: f64) -> (Row, u64, u64, f64) {
    let server = Server::start();
    let queue_url = create_queue(server.addr, "bench", Enc::Plain).await;
    let t = Arc::new(Target::new(server.addr, queue_url));
    // Let the allocator settle after queue creation.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss_before = server.rss();
    let fill = prefill(&t, count).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rss_after = server.rss();
    let cap = Instant::now() + Duration::from_secs(180);
    let (tally, elapsed, cpu) =
        run_workers(&server, &t, Proto::Json, Op::Drain, 16, Stop::Empty { cap }, tck).await;
    let rss = server.rss();
    let mut row = make_row(
        format!("json drain c16 ({count})"),
        Op::Drain,
        16,
        tally,
        elapsed,
        cpu,
        rss,
    );
    row.note = format!("time to empty {count} msgs: {elapsed:.2} s");
    if Instant::now() >= cap {
        row.note.push_str("; HIT 180 s CAP");
    }
    if row.messages != count as u64 {
        let _ = write!(row.note, "; deleted {} of {count}", row.messages);
    }
    let _ = opts;
    (row, rss_before, rss_after, fill)
}

async fn flatness(opts: &Opts, tck: f64) -> Flatness {
    let (shallow, _, _, _) = drain_at(opts, opts.shallow, tck).await;
    let (deep, rss_before, rss_after_fill, deep_fill_s) = drain_at(opts, opts.deep, tck).await;
    Flatness {
        shallow,
        deep,
        rss_before,
        rss_after_fill,
        deep_count: opts.deep,
        deep_fill_s,
    }
}

// ---------------------------------------------------------------- report

fn fmt_int(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[allow(clippy::cast_precision_loss)]
fn mib(b: u64) -> f64 {
    b as f64 / 1024.0 / 1024.0
}

fn mark(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// Throughput of an encrypted row relative to the unencrypted row of the
/// same scenario: the median, over runs, of the ratio of the runs made side
/// by side (so drift of the machine between runs cancels out).
fn vs_plain(r: &Row, rows: &[Row]) -> Option<f64> {
    if r.enc == Enc::Plain {
        return None;
    }
    let p = rows.iter().find(|p| p.enc == Enc::Plain && p.base == r.base)?;
    let mut ratios: Vec<f64> = r.rounds.iter().zip(&p.rounds).map(|(e, p)| e / p).collect();
    if ratios.is_empty() {
        return Some(r.msgs_per_s / p.msgs_per_s);
    }
    ratios.sort_by(f64::total_cmp);
    Some(ratios[ratios.len() / 2])
}

/// Throughput of a disk row relative to the in-memory row of the same
/// scenario and encryption (median of paired runs, as [`vs_plain`]).
fn vs_memory(r: &Row, rows: &[Row]) -> Option<f64> {
    if r.storage == Storage::Memory {
        return None;
    }
    let m = rows
        .iter()
        .find(|m| m.storage == Storage::Memory && m.name == r.mem_name)?;
    let mut ratios: Vec<f64> = r.rounds.iter().zip(&m.rounds).map(|(d, m)| d / m).collect();
    if ratios.is_empty() {
        return Some(r.msgs_per_s / m.msgs_per_s);
    }
    ratios.sort_by(f64::total_cmp);
    Some(ratios[ratios.len() / 2])
}

fn target_for(r: &Row, rows: &[Row]) -> String {
    if r.storage == Storage::Disk {
        return match vs_memory(r, rows) {
            Some(ratio) if r.conc == 64 && r.op == "send" => {
                format!("durable >= 1/3 of in-memory: {}", mark(ratio >= 1.0 / 3.0))
            }
            _ => String::new(),
        };
    }
    if let Some(ratio) = vs_plain(r, rows) {
        return format!("cost <= 10% (warm caches): {}", mark(ratio >= 0.9));
    }
    if r.conc != 16 {
        return String::new();
    }
    match r.op {
        "send" => format!(
            ">= 45,000 msgs/s, p99 <= 1 ms: {}",
            mark(r.msgs_per_s >= 45_000.0 && r.p99_ms <= 1.0)
        ),
        "batch" => format!(">= 150,000 msgs/s: {}", mark(r.msgs_per_s >= 150_000.0)),
        "drain" => format!(">= 100,000 msgs/s: {}", mark(r.msgs_per_s >= 100_000.0)),
        _ => String::new(),
    }
}

fn throughput_table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str(
        "| scenario | msgs/s | vs unencrypted | vs in-memory | req/s | p50 ms | p99 ms | server CPU µs/msg | client CPU µs/msg | other CPU % | server RSS MiB | errors | target |\n",
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.1} | {:.1} | {:.0} | {:.1} | {} | {} |",
            r.name,
            fmt_int(r.msgs_per_s),
            vs_plain(r, rows).map_or_else(String::new, |x| format!("{:.0}%", x * 100.0)),
            vs_memory(r, rows).map_or_else(String::new, |x| format!("{:.0}%", x * 100.0)),
            fmt_int(r.reqs_per_s),
            r.p50_ms,
            r.p99_ms,
            r.server_cpu_us_per_msg,
            r.client_cpu_us_per_msg,
            r.other_cpu_pct,
            mib(r.server_rss),
            r.errors,
            target_for(r, rows)
        );
    }
    s
}

// ---------------------------------------------------------------- main

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // binary without it. The benchmark is run by hand only, so a test run
    // does nothing.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("load: benchmark skipped (run it with `cargo bench --bench load`)");
        return;
    }
    let opts = parse_args();
    // The lean signer must produce exactly what aws-sigv4 produces.
    Target::new(
        SocketAddr::from(([127, 0, 0, 1], 9324)),
        "http://127.0.0.1:9324/000000000000/q".into(),
    )
    .check_signer();
    let tck = clk_tck();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.client_threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut out = String::new();
    out.push_str(&machine_header());
    let _ = writeln!(
        out,
        "\n\nSettings: {} s measured per timed scenario after {} s warm-up; drain scenarios time the emptying of {} prefilled messages; 1 KiB bodies; SigV4-signed requests (a lean signer checked against aws-sigv4 at start-up); load generator on the same machine with {} tokio threads{}{}; CPU clock ticks {tck}/s{}.\n",
        opts.seconds,
        opts.warmup,
        opts.drain_count,
        opts.client_threads,
        if opts.quick { "; --quick" } else { "" },
        if opts.repeat > 1 {
            format!("; median of {} runs per throughput row", opts.repeat)
        } else {
            String::new()
        },
        if Command::new("getconf").arg("CLK_TCK").output().is_ok() {
            " (getconf CLK_TCK)"
        } else {
            " (assumed)"
        },
    );

    if opts.auth_compare {
        rt.block_on(auth_compare(&opts, tck, &mut out));
        print!("{out}");
        return;
    }
    if opts.authz_compare {
        rt.block_on(authz_compare(&opts, tck, &mut out));
        print!("{out}");
        return;
    }
    if opts.console_compare {
        rt.block_on(console_compare(&opts, tck, &mut out));
        print!("{out}");
        return;
    }
    if opts.long_polls {
        rt.block_on(long_polls::run(&mut out));
        print!("{out}");
        return;
    }
    if opts.tls_compare {
        rt.block_on(tls_compare(&opts, tck, &mut out));
        print!("{out}");
        return;
    }
    let mut rows = Vec::new();
    rt.block_on(async {
        for proto in [Proto::Json, Proto::Query] {
            for op in [Op::Send, Op::Batch, Op::Drain] {
                for conc in [1, 16, 64] {
                    // The three encryption kinds of one scenario run
                    // interleaved (plain, sse-sqs, sse-kms, plain, ...), so
                    // drift of this shared machine hits them alike and the
                    // "vs unencrypted" column compares like with like.
                    // Memory and disk runs of one scenario alternate too.
                    let encs: Vec<(Storage, Enc)> = opts
                        .storages
                        .iter()
                        .flat_map(|st| [Enc::Plain, Enc::SseSqs, Enc::SseKms].map(|e| (*st, e)))
                        .filter(|(st, e)| {
                            opts.wants(&format!(
                                "{} {} c{conc}{}{}",
                                proto.name(),
                                op.name(),
                                e.label(),
                                st.label()
                            ))
                        })
                        .collect();
                    if encs.is_empty() {
                        continue;
                    }
                    let mut runs: Vec<Vec<Row>> = vec![Vec::new(); encs.len()];
                    for round in 0..opts.repeat {
                        for (i, (st, enc)) in encs.iter().enumerate() {
                            let name = format!(
                                "{} {} c{conc}{}{}",
                                proto.name(),
                                op.name(),
                                enc.label(),
                                st.label()
                            );
                            eprintln!("running {name} (run {} of {}) ...", round + 1, opts.repeat);
                            runs[i].push(throughput(&opts, proto, op, conc, *enc, *st, tck).await);
                        }
                    }
                    for mut runs in runs {
                        let rounds: Vec<f64> = runs.iter().map(|r| r.msgs_per_s).collect();
                        // Keep the median run by messages/s.
                        runs.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
                        let all: Vec<String> = runs.iter().map(|r| fmt_int(r.msgs_per_s)).collect();
                        let mut r = runs.swap_remove(runs.len() / 2);
                        r.rounds = rounds;
                        if opts.repeat > 1 {
                            let sep = if r.note.is_empty() { "" } else { "; " };
                            r.note = format!(
                                "{}{sep}median of {} runs: {} msgs/s",
                                r.note,
                                opts.repeat,
                                all.join(" / ")
                            );
                        }
                        eprintln!(
                            "  {}: {} msgs/s, {} req/s, p50 {:.3} ms, p99 {:.3} ms, errors {} {}",
                            r.name,
                            fmt_int(r.msgs_per_s),
                            fmt_int(r.reqs_per_s),
                            r.p50_ms,
                            r.p99_ms,
                            r.errors,
                            r.note
                        );
                        rows.push(r);
                    }
                }
            }
        }
    });
    if !rows.is_empty() {
        out.push_str(&throughput_table(&rows));
        let notes: Vec<String> = rows
            .iter()
            .filter(|r| !r.note.is_empty())
            .map(|r| format!("- {}: {} ({:.2} s measured)", r.name, r.note, r.elapsed))
            .collect();
        if !notes.is_empty() {
            out.push('\n');
            out.push_str(&notes.join("\n"));
            out.push('\n');
        }
        out.push('\n');
    }

    let mut other = String::new();
    if opts.wants("flatness") || opts.wants("memory") {
        eprintln!(
            "running flatness / memory (prefills {} and {} messages) ...",
            opts.shallow, opts.deep
        );
        let f = rt.block_on(flatness(&opts, tck));
        if opts.wants("flatness") {
            let ratio = f.deep.msgs_per_s / f.shallow.msgs_per_s;
            let _ = writeln!(
                other,
                "| drain rate, queue of {} (json c16) | {} msgs/s (p99 {:.3} ms; server CPU {:.1} µs/msg; other CPU {:.0}%) | >= 100,000 msgs/s: {} |",
                opts.shallow,
                fmt_int(f.shallow.msgs_per_s),
                f.shallow.p99_ms,
                f.shallow.server_cpu_us_per_msg,
                f.shallow.other_cpu_pct,
                mark(f.shallow.msgs_per_s >= 100_000.0)
            );
            let _ = writeln!(
                other,
                "| drain rate, queue of {} (json c16) | {} msgs/s (p99 {:.3} ms; server CPU {:.1} µs/msg; other CPU {:.0}%) | |",
                opts.deep,
                fmt_int(f.deep.msgs_per_s),
                f.deep.p99_ms,
                f.deep.server_cpu_us_per_msg,
                f.deep.other_cpu_pct
            );
            let _ = writeln!(
                other,
                "| drain flatness (deep / shallow) | {:.0}% | >= 80%: {} |",
                ratio * 100.0,
                mark(ratio >= 0.8)
            );
            #[allow(clippy::cast_precision_loss)]
            let fill_rate = f.deep_count as f64 / f.deep_fill_s;
            let _ = writeln!(
                other,
                "| prefill of {} (SendMessageBatch, json c16) | {} msgs/s | |",
                f.deep_count,
                fmt_int(fill_rate)
            );
        }
        if opts.wants("memory") {
            #[allow(clippy::cast_precision_loss)]
            let per = f.rss_after_fill.saturating_sub(f.rss_before) as f64 / f.deep_count as f64;
            let _ = writeln!(
                other,
                "| server RSS per stored 1 KiB message ({} stored; RSS {:.1} -> {:.1} MiB) | {} bytes | <= 1,300 bytes: {} |",
                f.deep_count,
                mib(f.rss_before),
                mib(f.rss_after_fill),
                fmt_int(per),
                mark(per <= 1300.0)
            );
            let _ = writeln!(
                other,
                "| server RSS after the deep queue was drained | {:.1} MiB | |",
                mib(f.deep.server_rss)
            );
        }
        for r in [&f.shallow, &f.deep] {
            if r.errors > 0 || r.note.contains("CAP") || r.note.contains("deleted") {
                let _ = writeln!(other, "| note: {} | {} (errors {}) | |", r.name, r.note, r.errors);
            }
        }
    }
    if opts.wants("memory") || opts.wants("idle") {
        eprintln!("running idle RSS ...");
        for st in &opts.storages {
            let s = Server::start_on(*st);
            std::thread::sleep(Duration::from_millis(300));
            let rss = s.rss();
            drop(s);
            let _ = writeln!(
                other,
                "| idle RSS of a fresh server{} | {:.1} MiB | <= 15 MiB: {} |",
                if *st == Storage::Disk {
                    " with --data-dir"
                } else {
                    ""
                },
                mib(rss),
                mark(rss <= 15 * 1024 * 1024)
            );
        }
    }
    if opts.wants("startup") {
        eprintln!("running startup x5 ...");
        for st in &opts.storages {
            let times: Vec<f64> = (0..5)
                .map(|_| {
                    let s = Server::start_on(*st);
                    s.ready_after.as_secs_f64() * 1000.0
                })
                .collect();
            let best = times.iter().copied().fold(f64::INFINITY, f64::min);
            let all: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
            let _ = writeln!(
                other,
                "| spawn to first served `GET /_sealq/health`{} (best of 5; all: {} ms) | {best:.1} ms | <= 100 ms: {} |",
                if *st == Storage::Disk {
                    ", new --data-dir"
                } else {
                    ""
                },
                all.join(", "),
                mark(best <= 100.0)
            );
        }
    }
    if opts.wants("restart") && opts.storages.contains(&Storage::Disk) {
        let n = if opts.quick { 20_000 } else { 100_000 };
        eprintln!("running restart with {n} stored messages ...");
        let s = Server::start_on(Storage::Disk);
        rt.block_on(async {
            let url = create_queue(s.addr, "restart", Enc::SseSqs).await;
            prefill(&Arc::new(Target::new(s.addr, url)), n).await;
        });
        let s = s.restart();
        let ms = s.ready_after.as_secs_f64() * 1000.0;
        let _ = writeln!(
            other,
            "| restart: spawn to first served `GET /_sealq/health` with {} stored SSE-SQS messages in --data-dir (RSS then {:.1} MiB) | {ms:.1} ms | |",
            fmt_int(n as f64),
            mib(s.rss())
        );
    }
    if !other.is_empty() {
        out.push_str("| measure | result | target |\n|---|---:|---|\n");
        out.push_str(&other);
    }
    println!("{out}");
}
