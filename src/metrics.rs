//! Request counters and latency histograms, and the Prometheus text
//! exposition (format 0.0.4) that `/_sealq/metrics` serves.
//!
//! Recording happens on every request, so it takes no lock: each series of
//! requests (service, protocol, action) owns a fixed cell of atomics, found
//! by an index that `protocol` computes from names it knows; counters for
//! rare cases (an HTTP status outside the usual set, KMS API calls by key)
//! live in sharded maps. Everything else the exposition shows (messages by
//! queue and state, data-key cache counters, KMS calls SQS made) is read at
//! scrape time from the store and from `crypto`.
//!
//! Labels are names chosen from bounded sets: action names sealq knows (any
//! other is `unknown`), queue names, key ARNs. A body, a receipt handle, key
//! material or a signature never becomes a label.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;

use crate::state::AppState;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// HTTP statuses with a counter of their own in every series; any other
/// status is counted in a map (sealq answers only these today).
const STATUSES: [u16; 7] = [200, 400, 403, 404, 413, 500, 503];

/// Upper bounds of the latency buckets, in nanoseconds: 100 µs to 25 s
/// (a long poll may last 20 s).
const BUCKETS_NS: [u64; 17] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    25_000_000_000,
];

/// The `le` labels of [`BUCKETS_NS`], in seconds.
const BUCKET_LABELS: [&str; 17] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10", "25",
];

/// The labels of one series of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    /// `sqs` or `kms`.
    pub service: &'static str,
    /// `query`, `json` or `kms`.
    pub protocol: &'static str,
    /// The action, or `unknown`.
    pub action: &'static str,
}

/// The counters of one series: requests by status, and the latency histogram.
#[derive(Debug, Default)]
struct Cell {
    by_status: [AtomicU64; STATUSES.len()],
    /// Requests per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS_NS.len() + 1],
    sum_ns: AtomicU64,
}

/// The request metrics of one server.
#[derive(Debug)]
pub struct Metrics {
    series: Box<[Series]>,
    cells: Box<[Cell]>,
    /// Requests answered with a status outside [`STATUSES`], by (series, status).
    other_statuses: DashMap<(usize, u16), AtomicU64>,
    /// KMS API calls from clients, by (operation, key ARN or "").
    kms_api: DashMap<(&'static str, Arc<str>), AtomicU64>,
    /// Requests by authentication outcome (`AuthOutcome::ALL`'s order),
    /// over plain HTTP and over TLS.
    auth: [[AtomicU64; crate::auth::AuthOutcome::ALL.len()]; 2],
}

impl Metrics {
    /// Zeroed counters for these series; a request is recorded by its index
    /// in `series`.
    pub fn new(series: Vec<Series>) -> Self {
        let cells = series.iter().map(|_| Cell::default()).collect();
        Self {
            series: series.into_boxed_slice(),
            cells,
            other_statuses: DashMap::new(),
            kms_api: DashMap::new(),
            auth: Default::default(),
        }
    }

    /// Counts one request of series `series` answered with `status` after
    /// `elapsed`. Lock-free unless the status is unusual.
    pub fn record_request(&self, series: usize, status: u16, elapsed: Duration) {
        let Some(cell) = self.cells.get(series) else {
            return;
        };
        match STATUSES.iter().position(|s| *s == status) {
            Some(i) => {
                cell.by_status[i].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.other_statuses
                    .entry((series, status))
                    .or_default()
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_NS
            .iter()
            .position(|le| ns <= *le)
            .unwrap_or(BUCKETS_NS.len());
        cell.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        cell.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Counts one request's authentication outcome (one relaxed addition).
    pub fn record_auth(&self, outcome: crate::auth::AuthOutcome, tls: bool) {
        if let Some(i) = crate::auth::AuthOutcome::ALL.iter().position(|o| *o == outcome) {
            self.auth[usize::from(tls)][i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one KMS API call from a client: `operation` on the key
    /// `key_arn` (empty when the call named no existing key).
    pub fn record_kms_api_call(&self, operation: &'static str, key_arn: &str) {
        let key = (operation, Arc::<str>::from(key_arn));
        self.kms_api
            .entry(key)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// How many requests of the series with these labels were answered with
    /// `status` (for tests).
    pub fn requests(&self, service: &str, protocol: &str, action: &str, status: u16) -> u64 {
        let Some(i) = self
            .series
            .iter()
            .position(|s| s.service == service && s.protocol == protocol && s.action == action)
        else {
            return 0;
        };
        match STATUSES.iter().position(|s| *s == status) {
            Some(j) => self.cells[i].by_status[j].load(Ordering::Relaxed),
            None => self
                .other_statuses
                .get(&(i, status))
                .map_or(0, |c| c.load(Ordering::Relaxed)),
        }
    }
}

/// Escapes a label value as the text format requires.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.into()
}

/// Nanoseconds as seconds, exactly enough for the text format.
#[expect(
    clippy::cast_precision_loss,
    reason = "a float sum is what the format carries"
)]
fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition of every metric of `state`, in the text format 0.0.4.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8192);
    render_requests(&state.metrics, &mut out);
    render_messages(state, &mut out);
    render_kms(state, &mut out);
    render_cache(state, &mut out);
    render_auth(&state.metrics, &mut out);
    out
}

fn render_auth(m: &Metrics, out: &mut String) {
    header(
        out,
        "sealq_auth_requests_total",
        "counter",
        "AWS API requests by how their caller was established (ok: signature verified; unchecked: open mode passed an unregistered key; anonymous; refused: incomplete, bad_signature, unknown_key, expired) and whether they came over TLS.",
    );
    for (t, tls) in ["no", "yes"].iter().enumerate() {
        for (i, outcome) in crate::auth::AuthOutcome::ALL.iter().enumerate() {
            let n = m.auth[t][i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "sealq_auth_requests_total{{outcome=\"{}\",tls=\"{tls}\"}} {n}",
                outcome.label()
            );
        }
    }
}

fn render_requests(m: &Metrics, out: &mut String) {
    header(
        out,
        "sealq_requests_total",
        "counter",
        "AWS API requests answered, by service, protocol, action and HTTP status.",
    );
    for (i, (s, cell)) in m.series.iter().zip(m.cells.iter()).enumerate() {
        let mut rows: Vec<(u16, u64)> = STATUSES
            .iter()
            .zip(cell.by_status.iter())
            .map(|(st, c)| (*st, c.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        for e in &m.other_statuses {
            if e.key().0 == i {
                rows.push((e.key().1, e.value().load(Ordering::Relaxed)));
            }
        }
        rows.sort_unstable();
        for (status, n) in rows {
            let _ = writeln!(
                out,
                "sealq_requests_total{{service=\"{}\",protocol=\"{}\",action=\"{}\",status=\"{status}\"}} {n}",
                s.service, s.protocol, s.action
            );
        }
    }
    header(
        out,
        "sealq_request_duration_seconds",
        "histogram",
        "Time from receiving an AWS API request to its response, by service, protocol and action.",
    );
    for (s, cell) in m.series.iter().zip(m.cells.iter()) {
        let counts: Vec<u64> = cell.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            continue;
        }
        let labels = format!(
            "service=\"{}\",protocol=\"{}\",action=\"{}\"",
            s.service, s.protocol, s.action
        );
        let mut cumulative = 0;
        for (le, n) in BUCKET_LABELS.iter().zip(&counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "sealq_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "sealq_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}"
        );
        let _ = writeln!(
            out,
            "sealq_request_duration_seconds_sum{{{labels}}} {}",
            seconds(cell.sum_ns.load(Ordering::Relaxed))
        );
        let _ = writeln!(out, "sealq_request_duration_seconds_count{{{labels}}} {total}");
    }
}

fn render_messages(state: &AppState, out: &mut String) {
    header(
        out,
        "sealq_messages",
        "gauge",
        "Messages stored, by account, region, queue and state (visible, in_flight, delayed).",
    );
    let now = state.clock.now_ms();
    let mut queues = state.store.all();
    queues.sort_by(|a, b| (&a.account_id, a.region(), &a.name).cmp(&(&b.account_id, b.region(), &b.name)));
    for q in queues {
        // One queue's lock at a time, released before the next.
        let c = q.lock().approximate_counts(now);
        let (account, region, name) = (escape(&q.account_id), escape(q.region()), escape(&q.name));
        for (label, n) in [
            ("visible", c.visible),
            ("in_flight", c.not_visible),
            ("delayed", c.delayed),
        ] {
            let _ = writeln!(
                out,
                "sealq_messages{{account=\"{account}\",region=\"{region}\",queue=\"{name}\",state=\"{label}\"}} {n}"
            );
        }
    }
}

fn render_kms(state: &AppState, out: &mut String) {
    header(
        out,
        "sealq_kms_calls_total",
        "counter",
        "KMS calls by caller (sqs: made in-process for SSE; api: KMS API requests from clients), operation and key ARN.",
    );
    let mut rows: Vec<(&str, &'static str, Arc<str>, u64)> = state
        .encryption
        .kms_call_counts()
        .into_iter()
        .map(|(op, key, n)| ("sqs", op, key, n))
        .collect();
    rows.extend(state.metrics.kms_api.iter().map(|e| {
        let (op, key) = e.key();
        ("api", *op, key.clone(), e.value().load(Ordering::Relaxed))
    }));
    rows.sort_unstable_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    for (caller, op, key, n) in rows {
        let _ = writeln!(
            out,
            "sealq_kms_calls_total{{caller=\"{caller}\",operation=\"{op}\",key=\"{}\"}} {n}",
            escape(&key)
        );
    }
}

fn render_cache(state: &AppState, out: &mut String) {
    header(
        out,
        "sealq_data_key_cache_total",
        "counter",
        "Lookups in SQS's data-key caches: producer (one per send request) and consumer (one per data key per receive request); a miss calls KMS.",
    );
    let c = state.encryption.cache_counts();
    for (cache, result, n) in [
        ("producer", "hit", c.producer_hits),
        ("producer", "miss", c.producer_misses),
        ("consumer", "hit", c.consumer_hits),
        ("consumer", "miss", c.consumer_misses),
    ] {
        let _ = writeln!(
            out,
            "sealq_data_key_cache_total{{cache=\"{cache}\",result=\"{result}\"}} {n}"
        );
    }
    header(
        out,
        "sealq_data_keys_held",
        "gauge",
        "Plaintext data keys held in memory (each for at most its reuse period).",
    );
    let _ = writeln!(out, "sealq_data_keys_held {}", state.encryption.held_keys());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one() -> Metrics {
        Metrics::new(vec![Series {
            service: "sqs",
            protocol: "json",
            action: "SendMessage",
        }])
    }

    #[test]
    fn buckets_and_labels_agree() {
        assert_eq!(BUCKETS_NS.len(), BUCKET_LABELS.len());
        for (ns, label) in BUCKETS_NS.iter().zip(BUCKET_LABELS) {
            let secs: f64 = label.parse().expect("number");
            assert!((seconds(*ns) - secs).abs() < 1e-12, "{label}");
        }
        assert!(BUCKETS_NS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn requests_land_in_their_status_and_bucket() {
        let m = one();
        m.record_request(0, 200, Duration::from_micros(80));
        m.record_request(0, 200, Duration::from_millis(3));
        m.record_request(0, 418, Duration::from_secs(30));
        m.record_request(7, 200, Duration::from_secs(1)); // no such series: ignored
        assert_eq!(m.requests("sqs", "json", "SendMessage", 200), 2);
        assert_eq!(m.requests("sqs", "json", "SendMessage", 418), 1);
        let mut out = String::new();
        render_requests(&m, &mut out);
        let l = "service=\"sqs\",protocol=\"json\",action=\"SendMessage\"";
        for line in [
            format!("sealq_requests_total{{{l},status=\"200\"}} 2"),
            format!("sealq_requests_total{{{l},status=\"418\"}} 1"),
            format!("sealq_request_duration_seconds_bucket{{{l},le=\"0.0001\"}} 1"),
            format!("sealq_request_duration_seconds_bucket{{{l},le=\"0.0025\"}} 1"),
            format!("sealq_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 2"),
            format!("sealq_request_duration_seconds_bucket{{{l},le=\"25\"}} 2"),
            format!("sealq_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 3"),
            format!("sealq_request_duration_seconds_count{{{l}}} 3"),
            format!("sealq_request_duration_seconds_sum{{{l}}} 30.00308"),
        ] {
            assert!(out.lines().any(|x| x == line), "missing {line} in\n{out}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
