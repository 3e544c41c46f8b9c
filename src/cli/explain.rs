//! `sealq explain QUEUE`: a plain-text walkthrough of one queue of a
//! running server, for a terminal or a CI log: its encryption set-up, the
//! path a message takes through KMS with this queue's real key ARN,
//! encryption context and reuse period, the KMS calls made so far for it,
//! the data keys held for it now, and its audit findings. It reads the
//! admin endpoints the console reads (`/_sealq/queues`, `/_sealq/kms/keys`,
//! `/_sealq/kms/calls`, `/_sealq/datakeys`, `/_sealq/audit`), so it shows
//! what they show: never a body or a key.

use std::fmt::Write as _;

use serde_json::Value;

use crate::admin::inspect::get_json;

/// How many of the queue's latest KMS calls are listed (all are counted).
const CALLS_SHOWN: usize = 20;

/// What the walkthrough is made from, as the admin endpoints answer.
#[derive(Debug)]
pub struct Facts {
    /// The queue's entry of `GET /_sealq/queues`.
    pub queue: Value,
    /// `GET /_sealq/kms/keys`'s entry of the queue's key, if it has one.
    pub key: Option<Value>,
    /// The queue's calls from `GET /_sealq/kms/calls?queue=ARN`.
    pub calls: Vec<Value>,
    /// Entries of `GET /_sealq/datakeys` for the queue.
    pub caches: Vec<Value>,
    /// The server's clock (epoch ms).
    pub now_ms: u64,
    /// The findings of `GET /_sealq/audit` on the queue and its key.
    pub findings: Vec<Value>,
    /// The server's region (from the queue's ARN).
    pub region: String,
}

/// Which queue `spec` (a name, URL or ARN) names among `queues`, in
/// `account` when given.
fn pick<'a>(queues: &'a [Value], spec: &str, account: Option<&str>) -> Result<&'a Value, String> {
    let (want_account, name) = if spec.starts_with("arn:") {
        let mut parts = spec.split(':');
        let acct = parts.nth(4).map(str::to_owned);
        (acct, parts.next().unwrap_or_default().to_owned())
    } else if spec.starts_with("http://") || spec.starts_with("https://") {
        let mut parts = spec.trim_end_matches('/').rsplit('/');
        let name = parts.next().unwrap_or_default().to_owned();
        (parts.next().map(str::to_owned), name)
    } else {
        (None, spec.to_owned())
    };
    let account = account.map(str::to_owned).or(want_account);
    let found: Vec<&Value> = queues
        .iter()
        .filter(|q| q["name"] == name.as_str())
        .filter(|q| account.as_deref().is_none_or(|a| q["account"] == a))
        .collect();
    match found.as_slice() {
        [q] => Ok(q),
        [] => Err(match account {
            Some(a) => format!("no queue {name} in account {a}"),
            None => format!("no queue {name}"),
        }),
        _ => Err(format!(
            "queue {name} exists in several accounts ({}): give --account or the queue's ARN",
            found
                .iter()
                .map(|q| q["account"].as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Asks the server at `endpoint` and writes the walkthrough of `queue`.
///
/// # Errors
/// A message for the user: the endpoint is malformed or unreachable, or no
/// such queue (or several, in different accounts, without `account`).
pub async fn explain(endpoint: &str, queue: &str, account: Option<&str>) -> Result<String, String> {
    let queues = get_json(endpoint, "/_sealq/queues").await?;
    let list = queues["queues"].as_array().cloned().unwrap_or_default();
    let q = pick(&list, queue, account)?.clone();
    let arn = q["arn"].as_str().unwrap_or_default().to_owned();
    let key = match q["key_arn"].as_str() {
        Some(key_arn) => get_json(endpoint, "/_sealq/kms/keys").await?["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["arn"] == key_arn).cloned()),
        None => None,
    };
    let calls = get_json(endpoint, &format!("/_sealq/kms/calls?queue={arn}"))
        .await?
        .as_array()
        .cloned()
        .unwrap_or_default();
    let datakeys = get_json(endpoint, "/_sealq/datakeys").await?;
    let caches = datakeys["entries"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|x| x["queue_arn"] == arn.as_str())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    // The queue's findings and its key's (rotation, state).
    let key_arn = q["key_arn"].as_str().unwrap_or("-").to_owned();
    let findings = get_json(endpoint, "/_sealq/audit").await?["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter(|x| x["resource"] == arn.as_str() || x["resource"] == key_arn.as_str())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let region = arn.split(':').nth(3).unwrap_or("us-east-1").to_owned();
    Ok(render(&Facts {
        queue: q,
        key,
        calls,
        caches,
        now_ms: datakeys["now_ms"].as_u64().unwrap_or_default(),
        findings,
        region,
    }))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The last part of an ARN's path (a user, role session or queue name).
fn short(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

/// `03:49:33.079Z` of an epoch-ms time (the ledger's `time` is RFC 3339).
fn clock_of(rfc3339: &str) -> &str {
    rfc3339.split_once('T').map_or(rfc3339, |(_, t)| t)
}

/// Seconds as `1h 2m 3s` / `4m 05s` / `6s`.
fn duration(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, s) => format!("{h}h {m}m {s}s"),
    }
}

/// The walkthrough: plain text, lines under 100 columns where the values
/// allow, sections separated by blank lines.
pub fn render(f: &Facts) -> String {
    let q = &f.queue;
    let arn = text(&q["arn"]);
    let name = text(&q["name"]);
    let mut o = String::new();
    let _ = writeln!(o, "Queue {name}");
    let _ = writeln!(o, "  ARN            {arn}");
    let _ = writeln!(o, "  URL            {}", text(&q["url"]));
    let _ = writeln!(
        o,
        "  Type           {}",
        if q["fifo"] == true { "FIFO" } else { "standard" }
    );
    let _ = writeln!(
        o,
        "  Messages       {} visible, {} in flight, {} delayed",
        q["visible"], q["in_flight"], q["delayed"]
    );
    match q["dead_letter_queue"].as_str() {
        Some(dlq) => {
            let _ = writeln!(
                o,
                "  Dead-letter    {} (after {} receives)",
                short(dlq),
                q["max_receive_count"]
            );
        }
        None => {
            let _ = writeln!(o, "  Dead-letter    none");
        }
    }
    let sources: Vec<&str> = q["dead_letter_source_queues"]
        .as_array()
        .map(|a| a.iter().map(|s| short(text(s))).collect())
        .unwrap_or_default();
    if !sources.is_empty() {
        let _ = writeln!(o, "  DLQ of         {}", sources.join(", "));
    }
    o.push('\n');

    let sse = q["sse"].as_str();
    let reuse = q["reuse_period_seconds"].as_u64().unwrap_or(300);
    let context = format!("{{\"aws:sqs:arn\": \"{arn}\"}}");
    let via = format!("sqs.{}.amazonaws.com", f.region);
    match sse {
        None => {
            let _ = writeln!(o, "Encryption: none");
            let _ = writeln!(
                o,
                "  Bodies are stored as sent and no KMS call is made. To encrypt new messages, set\n  SqsManagedSseEnabled=true (SSE-SQS) or KmsMasterKeyId=<key> (SSE-KMS)."
            );
        }
        Some(kind) => {
            let _ = writeln!(o, "Encryption: {kind}");
            if kind == "SSE-KMS" {
                let configured = text(&q["kms_master_key_id"]);
                match (&f.key, q["key_arn"].as_str()) {
                    (Some(k), Some(key_arn)) => {
                        let rotation = if k["rotation_enabled"] == true {
                            format!("rotation every {} days", k["rotation_period_days"])
                        } else {
                            "rotation off".to_owned()
                        };
                        let _ = writeln!(o, "  KMS key        {configured}");
                        let _ = writeln!(
                            o,
                            "                 = {key_arn}\n                 ({}, {} managed, {rotation})",
                            text(&k["state"]),
                            text(&k["manager"]).to_lowercase()
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            o,
                            "  KMS key        {configured} (NO SUCH KEY: every send and receive that needs KMS fails\n                 with KMS.NotFoundException)"
                        );
                    }
                }
            } else {
                let _ = writeln!(
                    o,
                    "  KMS key        owned by SQS (not in your account; no key policy, no KMS permission needed)"
                );
            }
            let _ = writeln!(o, "  Context        {context}");
            let _ = writeln!(
                o,
                "  Reuse period   {reuse} s{}",
                if kind == "SSE-KMS" {
                    " (KmsDataKeyReusePeriodSeconds)"
                } else {
                    ""
                }
            );
            o.push('\n');
            walk(&mut o, f, kind, reuse, &context, &via);
        }
    }
    o.push('\n');
    calls(&mut o, f);
    o.push('\n');
    caches(&mut o, f);
    o.push('\n');
    findings(&mut o, f);
    o
}

/// The path of one message through KMS.
fn walk(o: &mut String, f: &Facts, kind: &str, reuse: u64, context: &str, via: &str) {
    let q = &f.queue;
    let key = q["key_arn"].as_str().unwrap_or_else(|| {
        if kind == "SSE-KMS" {
            text(&q["kms_master_key_id"])
        } else {
            "(the SQS-owned key)"
        }
    });
    let kms_perm = kind == "SSE-KMS";
    let _ = writeln!(o, "The path of a message");
    let _ = writeln!(
        o,
        "  1. SendMessage. SQS looks up the producer's data key for (producer, {}, key). Without a\n     valid one it calls KMS as the producer:\n       GenerateDataKey  KeyId={key}\n                        KeySpec=AES_256  EncryptionContext={context}\n       Decrypt          the new encrypted data key, once, to check it",
        text(&q["name"])
    );
    if kms_perm {
        let _ = writeln!(
            o,
            "     The producer needs sqs:SendMessage on the queue, and kms:GenerateDataKey and kms:Decrypt\n     on the key for calls through SQS (kms:ViaService = {via})."
        );
    } else {
        let _ = writeln!(
            o,
            "     The producer needs sqs:SendMessage only (SQS's own key needs no KMS permission)."
        );
    }
    let _ = writeln!(
        o,
        "  2. The body is sealed with AES-256-GCM under the data key, with a fresh 96-bit nonce and\n     additional authenticated data = length + queue ARN + message id. Stored: ciphertext, tag,\n     nonce, the encrypted data key, the key ARN and the context. Never the plaintext."
    );
    let _ = writeln!(
        o,
        "  3. The producer reuses its data key for {reuse} s from when it was made; the next send after\n     that calls GenerateDataKey and Decrypt again."
    );
    let _ = writeln!(
        o,
        "  4. ReceiveMessage. Each consumer calls Decrypt as itself on the encrypted data key with the\n     same context, once per {reuse} s, then opens messages under data keys the server holds\n     without KMS.{}",
        if kms_perm {
            format!(
                " The consumer needs sqs:ReceiveMessage and kms:Decrypt on the key\n     (kms:ViaService = {via})."
            )
        } else {
            " The consumer needs sqs:ReceiveMessage only.".to_owned()
        }
    );
    if let Some(dlq) = q["dead_letter_queue"].as_str() {
        let _ = writeln!(
            o,
            "  5. After {} receives a message moves to {} with its envelope as it is: readers of the\n     dead-letter queue need kms:Decrypt on this queue's key{}.",
            q["max_receive_count"],
            short(dlq),
            if kms_perm { "" } else { " (none for SSE-SQS)" }
        );
    }
    let _ = writeln!(
        o,
        "  Cost: P producers and C consumers active for B seconds make about (B / {reuse}) x (2P + C)\n  KMS calls."
    );
}

/// The KMS calls made so far for the queue.
fn calls(o: &mut String, f: &Facts) {
    let count = |op: &str| f.calls.iter().filter(|c| c["operation"] == op).count();
    let failed = f.calls.iter().filter(|c| !c["error"].is_null()).count();
    let _ = writeln!(
        o,
        "KMS calls so far for this queue: {} (GenerateDataKey {}, Decrypt {}, failed {failed})",
        f.calls.len(),
        count("GenerateDataKey"),
        count("Decrypt")
    );
    let skip = f.calls.len().saturating_sub(CALLS_SHOWN);
    if skip > 0 {
        let _ = writeln!(o, "  ({skip} older calls not listed)");
    }
    for c in &f.calls[skip..] {
        let result = c["error"].as_str().unwrap_or("ok");
        let _ = writeln!(
            o,
            "  #{:<5} {:<14} {:<16} {:<32} data key {:<4} {result}",
            c["seq"],
            clock_of(text(&c["time"])),
            text(&c["operation"]),
            short_principal(text(&c["principal"])),
            c["data_key_id"]
        );
    }
}

/// `user/NAME`, `assumed-role/ROLE/SESSION`: an ARN without its prefix.
fn short_principal(arn: &str) -> &str {
    arn.splitn(6, ':').nth(5).unwrap_or(arn)
}

/// The data keys held for the queue now.
fn caches(o: &mut String, f: &Facts) {
    if f.caches.is_empty() {
        let _ = writeln!(
            o,
            "Data keys in use now: none (the next send and receive call KMS)"
        );
        return;
    }
    let _ = writeln!(o, "Data keys in use now:");
    for e in &f.caches {
        let left = e["expires_ms"]
            .as_u64()
            .unwrap_or_default()
            .saturating_sub(f.now_ms);
        let dk = e["data_key_id"]
            .as_u64()
            .map(|d| format!("data key {d}, "))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {:<8} {:<32} {dk}expires in {}, hits {}, misses {}",
            text(&e["cache"]),
            short_principal(text(&e["principal"])),
            duration(left),
            e["hits"],
            e["misses"]
        );
    }
}

/// The queue's findings.
fn findings(o: &mut String, f: &Facts) {
    if f.findings.is_empty() {
        let _ = writeln!(o, "Findings: none");
        return;
    }
    let _ = writeln!(o, "Findings: {}", f.findings.len());
    for x in &f.findings {
        let _ = writeln!(
            o,
            "  [{}] {}: {}",
            text(&x["severity"]),
            text(&x["rule"]),
            text(&x["title"])
        );
        let _ = writeln!(o, "      on:  {}", text(&x["resource"]));
        let _ = writeln!(o, "      why: {}", text(&x["why"]));
        let _ = writeln!(o, "      fix: {}", text(&x["fix"]));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn queue(name: &str, account: &str) -> Value {
        json!({"name": name, "account": account, "arn": format!("arn:aws:sqs:us-east-1:{account}:{name}")})
    }

    #[test]
    fn queues_are_named_by_name_url_or_arn() {
        let qs = vec![
            queue("a", "111111111111"),
            queue("a", "222222222222"),
            queue("b", "111111111111"),
        ];
        assert_eq!(pick(&qs, "b", None).unwrap()["name"], "b");
        assert_eq!(
            pick(&qs, "http://localhost:9324/222222222222/a", None).unwrap()["account"],
            "222222222222"
        );
        assert_eq!(
            pick(&qs, "arn:aws:sqs:us-east-1:111111111111:a", None).unwrap()["account"],
            "111111111111"
        );
        assert_eq!(
            pick(&qs, "a", Some("111111111111")).unwrap()["account"],
            "111111111111"
        );
        assert!(pick(&qs, "a", None).unwrap_err().contains("several accounts"));
        assert_eq!(pick(&qs, "c", None).unwrap_err(), "no queue c");
    }

    #[test]
    fn an_unencrypted_queue_says_how_to_encrypt() {
        let mut q = queue("plain", "000000000000");
        q["sse"] = Value::Null;
        let out = render(&Facts {
            queue: q,
            key: None,
            calls: vec![],
            caches: vec![],
            now_ms: 0,
            findings: vec![],
            region: "us-east-1".into(),
        });
        assert!(out.contains("Encryption: none"), "{out}");
        assert!(out.contains("SqsManagedSseEnabled=true"), "{out}");
        assert!(!out.contains("GenerateDataKey  KeyId"), "{out}");
    }

    #[test]
    fn durations_read_like_the_console() {
        assert_eq!(duration(59_001), "1m 00s");
        assert_eq!(duration(5_000), "5s");
        assert_eq!(duration(3_723_000), "1h 2m 3s");
    }
}
