//! Read-only views the web console draws (and scripts may read): every
//! queue of every account with its encryption, counts and dead-letter
//! links (`GET /_sealq/queues`), the entries of the data-key caches
//! (`GET /_sealq/datakeys`), and KMS keys with their aliases and policies
//! (`GET /_sealq/kms/keys`). None of them shows a body, a data key or key
//! material.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::crypto::CacheRole;
use crate::state::AppState;

/// `GET /_sealq/queues`: every queue of every account, ordered by account
/// and name, with its encryption (`sse`: null, `SSE-SQS` or `SSE-KMS`; the
/// configured `kms_master_key_id` and the ARN it resolves to), data-key
/// reuse period, message counts, its dead-letter queue and the queues that
/// use it as theirs.
pub(super) async fn queues(State(state): State<AppState>, parts: axum::http::request::Parts) -> Json<Value> {
    // As the SQS API would name them to this client.
    let base = crate::protocol::url_base(&state, &parts);
    let now = state.clock.now_ms();
    let mut queues = state.store.all();
    queues.sort_by(|a, b| (&a.account_id, &a.name).cmp(&(&b.account_id, &b.name)));
    // Each queue's settings, read once under its lock.
    let mut rows: Vec<(
        std::sync::Arc<crate::sqs::model::queue::Queue>,
        Value,
        Option<String>,
    )> = Vec::with_capacity(queues.len());
    for q in queues {
        let mut s = q.lock();
        let counts = s.approximate_counts(now);
        let attrs = &s.attrs;
        let sse = attrs.sse();
        let key_arn = attrs
            .kms_master_key_id
            .as_deref()
            .and_then(|k| crate::kms::Home::of_arn(&q.arn).and_then(|h| state.kms.internal_key_arn(k, h)));
        let dlq = attrs.redrive.as_ref().map(|r| r.target_arn.clone());
        let row = json!({
            "account": q.account_id,
            "region": q.region(),
            "name": q.name,
            "arn": q.arn,
            "url": crate::sqs::ops::queue_url_at(&base, &state.config.region, &q),
            "fifo": attrs.fifo_queue,
            "sse": sse.as_ref().map(|s| s.kind.label()),
            "kms_master_key_id": attrs.kms_master_key_id,
            "key_arn": key_arn.as_deref(),
            "reuse_period_seconds": sse.as_ref().map(|s| s.reuse_ms / 1000),
            "visible": counts.visible,
            "in_flight": counts.not_visible,
            "delayed": counts.delayed,
            "dead_letter_queue": dlq,
            "max_receive_count": attrs.redrive.as_ref().map(|r| r.max_receive_count),
            "has_policy": attrs.policy.is_some(),
        });
        drop(s);
        rows.push((q, row, dlq));
    }
    // Sources of each dead-letter queue.
    let mut sources: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (q, _, dlq) in &rows {
        if let Some(dlq) = dlq {
            sources.entry(dlq.clone()).or_default().push(q.arn.clone());
        }
    }
    let out: Vec<Value> = rows
        .into_iter()
        .map(|(q, mut row, _)| {
            row["dead_letter_source_queues"] = json!(sources.remove(&q.arn).unwrap_or_default());
            row
        })
        .collect();
    Json(json!({ "now_ms": now, "queues": out }))
}

/// `GET /_sealq/datakeys`: the entries of the producer and consumer
/// data-key caches in use now (principal, queue, KMS key, when made and
/// when they expire on the server's clock, hits and misses), and the
/// caches' totals. Never a plaintext data key.
pub(super) async fn datakeys(State(state): State<AppState>) -> Json<Value> {
    let entries: Vec<Value> = state
        .encryption
        .cache_entries()
        .into_iter()
        .map(|e| {
            json!({
                "cache": match e.role {
                    CacheRole::Producer => "producer",
                    CacheRole::Consumer => "consumer",
                },
                "principal": &*e.principal,
                "queue_arn": &*e.queue_arn,
                "key_arn": &*e.key_arn,
                "sse": e.sse.label(),
                "data_key_id": e.data_key_id,
                "made_ms": e.made_ms,
                "expires_ms": e.expires_ms,
                "hits": e.hits,
                "misses": e.misses,
            })
        })
        .collect();
    let c = state.encryption.cache_counts();
    Json(json!({
        "now_ms": state.clock.now_ms(),
        "entries": entries,
        "held_data_keys": state.encryption.held_keys(),
        "totals": {
            "producer_hits": c.producer_hits,
            "producer_misses": c.producer_misses,
            "consumer_hits": c.consumer_hits,
            "consumer_misses": c.consumer_misses,
        },
    }))
}

/// `GET /_sealq/kms/keys`: every KMS key of every account (not SSE-SQS's
/// service-owned key, which KMS never lists), ordered by account and key
/// id: state, manager, rotation, policy (as stored) and the aliases that
/// point to it. No key material.
pub(super) async fn kms_keys(State(state): State<AppState>) -> Json<Value> {
    let mut aliases: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for ((_, account, name), alias) in state.kms.all_aliases() {
        aliases
            .entry((account, alias.target.to_string()))
            .or_default()
            .push(name);
    }
    let keys: Vec<Value> = state
        .kms
        .all_keys()
        .iter()
        .map(|k| {
            let g = k.read();
            let deletion_ms = match g.state {
                crate::kms::model::KeyState::PendingDeletion { deletion_ms, .. } => Some(deletion_ms),
                _ => None,
            };
            json!({
                "account": k.account(),
                "key_id": &*k.id,
                "arn": &*k.arn,
                "manager": k.manager.as_str(),
                "spec": k.spec.as_str(),
                "state": g.state.as_str(),
                "description": g.description,
                "created_ms": k.created_ms,
                "deletion_ms": deletion_ms,
                "rotation_enabled": g.rotation_period_days.is_some(),
                "rotation_period_days": g.rotation_period_days,
                "next_rotation_ms": g.next_rotation_ms,
                "rotations": g.rotations.len(),
                "policy": g.policy,
                "aliases": aliases.get(&(k.account().to_owned(), k.id.to_string())).cloned().unwrap_or_default(),
            })
        })
        .collect();
    Json(json!({ "now_ms": state.clock.now_ms(), "keys": keys }))
}
