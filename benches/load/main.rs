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

mod client;
mod compare;
mod long_polls;
mod options;
mod procfs;
mod report;
mod server;
mod workloads;

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

use client::*;
use compare::*;
use options::*;
use procfs::*;
use report::*;
use server::*;
use workloads::*;

fn main() {
    if std::env::var_os(long_polls::FLOOR_ENV).is_some() {
        long_polls::floor_writer();
        return;
    }
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
