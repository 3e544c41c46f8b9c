//! The scenarios: send, batch and drain workers, the throughput matrix, and drains at two depths (flatness and memory per message).

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Send,
    Batch,
    Drain,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Batch => "batch",
            Self::Drain => "drain",
        }
    }
}

/// What one worker observed.
#[derive(Default)]
pub(crate) struct Tally {
    /// Per-request latencies, microseconds.
    pub(crate) lat_us: Vec<u32>,
    pub(crate) requests: u64,
    pub(crate) messages: u64,
    pub(crate) errors: u64,
    pub(crate) last_end: Option<Instant>,
}

impl Tally {
    pub(crate) fn merge(&mut self, o: Self) {
        self.lat_us.extend(o.lat_us);
        self.requests += o.requests;
        self.messages += o.messages;
        self.errors += o.errors;
        self.last_end = match (self.last_end, o.last_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    pub(crate) fn record(&mut self, t0: Instant, t1: Instant, ok: bool) {
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
pub(crate) enum Stop {
    /// Record from `from` on; stop at `until`.
    Timed { from: Instant, until: Instant },
    /// Record everything; stop at the first empty receive, or at `cap`.
    Empty { cap: Instant },
}

/// One send or batch request.
pub(crate) async fn one_send(t: &Target, c: &mut Conn, proto: Proto, batch: bool) -> (bool, u64) {
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

pub(crate) async fn worker(t: Arc<Target>, proto: Proto, op: Op, stop: Stop) -> Tally {
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
pub(crate) struct Row {
    pub(crate) name: String,
    /// Name without the encryption suffix (pairs encrypted rows with plain ones).
    pub(crate) base: String,
    pub(crate) enc: Enc,
    pub(crate) storage: Storage,
    /// Name without the storage suffix (pairs disk rows with memory ones).
    pub(crate) mem_name: String,
    /// Messages/s of every run, in run order (runs of one scenario's
    /// encryption kinds alternate, so run i of each kind ran side by side).
    pub(crate) rounds: Vec<f64>,
    pub(crate) op: &'static str,
    pub(crate) conc: usize,
    pub(crate) msgs_per_s: f64,
    pub(crate) reqs_per_s: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) server_cpu_us_per_msg: f64,
    /// CPU used by neither server nor client, % of all CPUs (noise).
    pub(crate) other_cpu_pct: f64,
    pub(crate) client_cpu_us_per_msg: f64,
    pub(crate) server_rss: u64,
    pub(crate) errors: u64,
    pub(crate) messages: u64,
    pub(crate) elapsed: f64,
    pub(crate) note: String,
}

#[allow(clippy::cast_precision_loss)]
pub(crate) fn ncpu() -> f64 {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as f64
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
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
pub(crate) fn system_busy_ticks() -> u64 {
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
pub(crate) struct Cpu {
    pub(crate) tck: f64,
    pub(crate) server: u64,
    pub(crate) client: u64,
    pub(crate) system: u64,
}

/// CPU seconds spent in an interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuUse {
    pub(crate) server: f64,
    pub(crate) client: f64,
    /// Everything else on the machine (other processes, interrupts): noise.
    pub(crate) other: f64,
}

impl Cpu {
    pub(crate) fn read(server: &Server, tck: f64) -> Self {
        Self {
            tck,
            server: server.cpu_ticks(),
            client: cpu_ticks("self"),
            system: system_busy_ticks(),
        }
    }

    /// CPU seconds spent since `self`.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn since(&self, server: &Server) -> CpuUse {
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
pub(crate) async fn run_workers(
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
pub(crate) async fn prefill(t: &Arc<Target>, count: usize) -> f64 {
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
pub(crate) fn make_row(
    name: String,
    op: Op,
    conc: usize,
    mut tally: Tally,
    elapsed: f64,
    cpu: CpuUse,
    rss: u64,
) -> Row {
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

pub(crate) async fn throughput(
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

/// Deep/shallow drain and memory per stored message.
pub(crate) struct Flatness {
    pub(crate) shallow: Row,
    pub(crate) deep: Row,
    pub(crate) rss_before: u64,
    pub(crate) rss_after_fill: u64,
    pub(crate) deep_count: usize,
    pub(crate) deep_fill_s: f64,
}

pub(crate) async fn drain_at(opts: &Opts, count: usize, tck: f64) -> (Row, u64, u64, f64) {
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

pub(crate) async fn flatness(opts: &Opts, tck: f64) -> Flatness {
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
