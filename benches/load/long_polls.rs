//! `--long-polls`: 10,000 concurrent long polls (ReceiveMessage with
//! WaitTimeSeconds=20, each on its own connection) held by one server, on
//! one queue and spread over 1,000 queues (10 each). Measured: the
//! server's RSS before and while it holds them (bytes per poll), how soon
//! after a matching send each poll is answered (the send is stamped when
//! its request is written; the poll when its answer is read), and how soon
//! every poll is answered after SIGTERM. For scale, the floor: how soon
//! the same client reads the same answers when one thread writes them on
//! bare sockets, with no HTTP server in between.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::{Conn, Enc, Proto, Server, Target, content_length, create_queue, mib};

/// Concurrent long polls.
const POLLS: usize = 10_000;
/// Connections that send the matching messages.
const SENDERS: usize = 8;
/// What the target says, in ms, for answers after a send or a shutdown.
const TARGET_MS: f64 = 50.0;

/// One layout: `queues` queues, `POLLS / queues` polls on each.
struct Layout {
    label: &'static str,
    queues: usize,
}

/// What one layout measured.
struct Measured {
    label: &'static str,
    rss_idle: u64,
    rss_held: u64,
    /// ms from each send to the poll that got its message, sorted.
    after_send: Vec<f64>,
    /// ms from SIGTERM to each poll's answer, sorted.
    after_stop: Vec<f64>,
    /// Polls that got no message in the send phase.
    unmatched: usize,
}

/// Opens `urls.len() × per_queue` polls; returns once every request is
/// written, with the tasks that read the answers (each yields when its
/// answer came and the message body, if any).
async fn open_polls(
    addr: SocketAddr,
    urls: &[String],
    per_queue: usize,
) -> Vec<tokio::task::JoinHandle<(Instant, Option<String>)>> {
    let written = Arc::new(AtomicUsize::new(0));
    let all_written = Arc::new(Notify::new());
    let total = urls.len() * per_queue;
    let mut tasks = Vec::with_capacity(total);
    for url in urls {
        let t = Arc::new(Target::new(addr, url.clone()));
        for _ in 0..per_queue {
            let (t, written, all_written) = (t.clone(), written.clone(), all_written.clone());
            tasks.push(tokio::spawn(async move {
                let mut c = Conn::open(addr).await;
                let body = Bytes::from(
                    json!({"QueueUrl": t.queue_url, "WaitTimeSeconds": 20, "MaxNumberOfMessages": 1})
                        .to_string(),
                );
                c.write_request(t.request(Proto::Json, "ReceiveMessage", body))
                    .await;
                if written.fetch_add(1, Ordering::AcqRel) + 1 == total {
                    all_written.notify_one();
                }
                let (status, resp) = c.read_response().await;
                let at = Instant::now();
                assert_eq!(status, 200, "ReceiveMessage: {}", String::from_utf8_lossy(&resp));
                let v: Value = serde_json::from_slice(&resp).expect("ReceiveMessage JSON");
                let body = v["Messages"][0]["Body"].as_str().map(str::to_owned);
                (at, body)
            }));
        }
    }
    if written.load(Ordering::Acquire) < total {
        all_written.notified().await;
    }
    tasks
}

/// Sends `per_queue` messages to each queue from `SENDERS` connections;
/// each body is the send's offset from `base` in ns, taken as its request
/// is written.
async fn send_matching(addr: SocketAddr, urls: &[String], per_queue: usize, base: Instant) {
    let targets: Arc<Vec<Target>> = Arc::new(urls.iter().map(|u| Target::new(addr, u.clone())).collect());
    let total = urls.len() * per_queue;
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (targets, next) = (targets.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            let mut c = Conn::open(addr).await;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = &targets[i % targets.len()];
                let stamp = base.elapsed().as_nanos().to_string();
                let body = Bytes::from(json!({"QueueUrl": t.queue_url, "MessageBody": stamp}).to_string());
                let (status, resp) = c.call(t.request(Proto::Json, "SendMessage", body)).await;
                assert_eq!(status, 200, "SendMessage: {}", String::from_utf8_lossy(&resp));
            }
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
}

fn ms_between(earlier: Instant, later: Instant) -> f64 {
    later.saturating_duration_since(earlier).as_secs_f64() * 1000.0
}

async fn measure(layout: &Layout) -> Measured {
    let per_queue = POLLS / layout.queues;
    let server = Server::spawn_with(None, &["--max-connections", "20000"]);
    let mut urls = Vec::with_capacity(layout.queues);
    for i in 0..layout.queues {
        urls.push(create_queue(server.addr, &format!("poll-{i}"), Enc::Plain).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server.rss();

    // Send phase: every poll held, then one message per poll.
    let polls = open_polls(server.addr, &urls, per_queue).await;
    // Written is not yet parsed: give the server a moment to take them all.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_held = server.rss();
    let base = Instant::now();
    send_matching(server.addr, &urls, per_queue, base).await;
    let mut after_send = Vec::with_capacity(POLLS);
    let mut unmatched = 0;
    for p in polls {
        let (at, body) = p.await.expect("poll");
        match body.and_then(|b| b.parse::<u64>().ok()) {
            Some(ns) => after_send.push(ms_between(base + Duration::from_nanos(ns), at)),
            None => unmatched += 1,
        }
    }

    // Shutdown phase: every poll held again, then SIGTERM.
    let polls = open_polls(server.addr, &urls, per_queue).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stop = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.pid])
        .status();
    let mut after_stop = Vec::with_capacity(POLLS);
    for p in polls {
        let (at, _) = p.await.expect("poll answered at shutdown");
        after_stop.push(ms_between(stop, at));
    }
    after_send.sort_by(f64::total_cmp);
    after_stop.sort_by(f64::total_cmp);
    Measured {
        label: layout.label,
        rss_idle,
        rss_held,
        after_send,
        after_stop,
        unmatched,
    }
}

/// The answer sealq gives a poll at shutdown (200, no messages), as the
/// floor writes it.
const EMPTY_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: 00000000-0000-0000-0000-000000000000\r\ncontent-length: 2\r\ndate: Sat, 05 Dec 2026 00:00:00 GMT\r\n\r\n{}";

/// Reads one request (head and `content-length` body) from `s`.
fn read_request(s: &mut std::net::TcpStream) {
    use std::io::Read as _;
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            let len = content_length(&String::from_utf8_lossy(&buf[..end])).unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return;
            }
        }
        let n = s.read(&mut chunk).expect("read a request");
        assert!(n > 0, "the client closed before its request was read");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Set in the environment of the floor's writer: the bench binary,
/// started again, runs [`floor_writer`] instead of the benchmark.
pub(crate) const FLOOR_ENV: &str = "SEALQ_BENCH_FLOOR_WRITER";

/// The floor's writer, in its own process (as sealq is): binds a port
/// and prints it, holds `POLLS` connections and reads their requests,
/// prints `ready`; on a line from stdin writes each connection the empty
/// answer, one blocking write after another, then closes them.
pub(crate) fn floor_writer() {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().expect("address").port());
    let mut held = Vec::with_capacity(POLLS);
    for _ in 0..POLLS {
        let (s, _) = listener.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        held.push(s);
    }
    for s in &mut held {
        read_request(s);
    }
    println!("ready");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).expect("go");
    for s in &mut held {
        s.write_all(EMPTY_ANSWER).expect("write an answer");
    }
}

/// The floor: `POLLS` polls held by [`floor_writer`], then answered.
/// Returns the ms from "go" to each answer being read, sorted.
async fn floor() -> Vec<f64> {
    use std::io::{BufRead as _, Write as _};
    let mut child = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .env(FLOOR_ENV, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the floor's writer");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut line = || {
        lines
            .next()
            .expect("a line from the floor's writer")
            .expect("read")
    };
    let port: u16 = line().parse().expect("a port");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let urls = [format!("http://{addr}/000000000000/floor")];
    let polls = open_polls(addr, &urls, POLLS).await;
    let ready = tokio::task::block_in_place(&mut line);
    assert_eq!(ready, "ready");
    let mut stdin = child.stdin.take().expect("stdin");
    let go = Instant::now();
    stdin.write_all(b"go\n").expect("go");
    let mut after = Vec::with_capacity(POLLS);
    for p in polls {
        let (at, _) = p.await.expect("poll answered by the floor");
        after.push(ms_between(go, at));
    }
    assert!(child.wait().expect("the floor's writer").success());
    after.sort_by(f64::total_cmp);
    after
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short, non-empty list"
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Runs both layouts and writes their table to `out`.
pub(crate) async fn run(out: &mut String) {
    let layouts = [
        Layout {
            label: "10,000 polls on one queue",
            queues: 1,
        },
        Layout {
            label: "10 polls on each of 1,000 queues",
            queues: 1_000,
        },
    ];
    let _ = writeln!(
        out,
        "| layout | RSS idle MiB | RSS holding MiB | bytes per poll | answered after a send: p50 / p99 / max ms | unmatched | answered after SIGTERM: p50 / p99 / max ms | target |\n|---|---:|---:|---:|---:|---:|---:|---|"
    );
    for l in &layouts {
        eprintln!("running long polls: {} ...", l.label);
        let m = measure(l).await;
        #[expect(clippy::cast_precision_loss, reason = "byte counts far below 2^52")]
        let per_poll = m.rss_held.saturating_sub(m.rss_idle) as f64 / POLLS as f64;
        let worst = pct(&m.after_send, 1.0).max(pct(&m.after_stop, 1.0));
        let met = m.unmatched == 0 && worst <= TARGET_MS;
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.0} | {:.1} / {:.1} / {:.1} | {} | {:.1} / {:.1} / {:.1} | every answer within {TARGET_MS} ms: {} |",
            m.label,
            mib(m.rss_idle),
            mib(m.rss_held),
            per_poll,
            pct(&m.after_send, 0.5),
            pct(&m.after_send, 0.99),
            pct(&m.after_send, 1.0),
            m.unmatched,
            pct(&m.after_stop, 0.5),
            pct(&m.after_stop, 0.99),
            pct(&m.after_stop, 1.0),
            if met { "met" } else { "**missed**" },
        );
    }
    eprintln!("running long polls: the floor (bare sockets) ...");
    let f = floor().await;
    let _ = writeln!(
        out,
        "| the floor: the same answers written by one thread on bare sockets, no HTTP server | | | | | | {:.1} / {:.1} / {:.1} | |",
        pct(&f, 0.5),
        pct(&f, 0.99),
        pct(&f, 1.0),
    );
}
