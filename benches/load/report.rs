//! Rows, targets and the Markdown tables of the results.

use super::*;

pub(crate) fn fmt_int(x: f64) -> String {
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
pub(crate) fn mib(b: u64) -> f64 {
    b as f64 / 1024.0 / 1024.0
}

pub(crate) fn mark(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// Throughput of an encrypted row relative to the unencrypted row of the
/// same scenario: the median, over runs, of the ratio of the runs made side
/// by side (so drift of the machine between runs cancels out).
pub(crate) fn vs_plain(r: &Row, rows: &[Row]) -> Option<f64> {
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
pub(crate) fn vs_memory(r: &Row, rows: &[Row]) -> Option<f64> {
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

pub(crate) fn target_for(r: &Row, rows: &[Row]) -> String {
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

pub(crate) fn throughput_table(rows: &[Row]) -> String {
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
