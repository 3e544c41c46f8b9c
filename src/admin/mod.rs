//! `/_sealq/*`: health (readiness), Prometheus metrics, the virtual clock,
//! KMS fault injection, the ledger of KMS calls SQS made (read, filtered
//! by queue and principal, or cleared), and identity policies replaced at
//! run time (`iam`). Admin endpoints never return message bodies
//! of encrypted queues or key material. Like `protocol`, this is a wire
//! surface, so it may use serde_json.

mod audit;
mod console;
mod iam;
pub mod inspect;
pub mod starting;
mod views;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::BinaryHeap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::crypto::Body;
use crate::kms::KmsFault;
use crate::sqs::model::message::{Message, MsgState, hex};
use crate::state::AppState;

/// Routes under `/_sealq`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/clock", get(clock).post(advance_clock))
        .route("/faults", get(faults).post(set_faults))
        .route("/kms/calls", get(kms_calls).delete(clear_kms_calls))
        .route("/audit", get(audit::audit))
        .route("/console", get(console::index))
        .route("/console/", get(console::index))
        .route("/console/app.js", get(console::script))
        .route("/console/app.css", get(console::style))
        .route("/kms/keys", get(views::kms_keys))
        .route("/queues", get(views::queues))
        .route("/datakeys", get(views::datakeys))
        .route("/queues/{name}/messages", get(queue_messages))
        .route(
            "/iam/principals/{access_key_id}/policies",
            axum::routing::put(iam::put_principal_policies),
        )
        .route(
            "/iam/roles/{name}/policies",
            axum::routing::put(iam::put_role_policies),
        )
        .route("/authz/decisions", get(iam::decisions))
        .route("/authz/explain", axum::routing::post(iam::explain))
}

/// `GET /_sealq/health`: 200 `{"status":"ok"}` once the server is ready
/// (configuration and data loaded), 503 `{"status":"starting"}` before.
async fn health(State(state): State<AppState>) -> Response {
    if !state.store.writable() {
        // Changes are refused (500 InternalFailure) until a restart.
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "failing", "reason": "the data directory cannot be written" })),
        )
            .into_response()
    } else if state.is_ready() {
        Json(json!({ "status": "ok" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "starting" })),
        )
            .into_response()
    }
}

/// `GET /_sealq/metrics`: the Prometheus text exposition (format 0.0.4).
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(&state),
    )
        .into_response()
}

async fn clock(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "now_ms": state.clock.now_ms() }))
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "message": message }))).into_response()
}

/// Most seconds one clock advance may move (ten years): timers, ARNs and
/// dates stay meaningful, and nothing saturates.
const MAX_ADVANCE_SECONDS: f64 = 315_360_000.0;

/// The latest time the virtual clock may show: 9999-12-31T23:59:59Z, the
/// last a four-digit year (SigV4 dates, ISO-8601) can name.
const LATEST_CLOCK_MS: u64 = 253_402_300_799_000;

/// `POST /_sealq/clock {"advance_seconds": N}`: moves every timer forward.
async fn advance_clock(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body must be a JSON object like {\"advance_seconds\": 60}");
    };
    let Some(secs) = v
        .get("advance_seconds")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
    else {
        return bad_request("advance_seconds must be a non-negative number");
    };
    if secs > MAX_ADVANCE_SECONDS {
        return bad_request(&format!(
            "advance_seconds must be at most {MAX_ADVANCE_SECONDS} (ten years) per call"
        ));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked finite, non-negative and at most ten years"
    )]
    let ms = (secs * 1000.0).round() as u64;
    if state.clock.now_ms().saturating_add(ms) > LATEST_CLOCK_MS {
        return bad_request("the clock cannot pass the end of the year 9999");
    }
    state.clock.advance(ms);
    let n = state
        .store
        .save_meta(crate::store::META_CLOCK, state.clock.offset_ms());
    if state.store.wait(n).await.is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "message": "the clock could not be saved in the data directory" })),
        )
            .into_response();
    }
    Json(json!({ "now_ms": state.clock.now_ms() })).into_response()
}

/// Slots of a queue the envelope view looks at per hold of its lock.
const SCAN_STEP: usize = 4096;

/// Query parameters of the envelope view.
#[derive(Debug, serde::Deserialize)]
struct ViewParams {
    /// Most messages to show (default 100).
    limit: Option<usize>,
    /// Owner account (default: the server's).
    account: Option<String>,
    /// The queue's region (default: the server's).
    region: Option<String>,
    /// Only this message (its MessageId).
    message: Option<String>,
}

/// `GET /_sealq/queues/{name}/messages`: stored messages as they are at
/// rest. Encrypted ones show their envelope (ciphertext, nonce, encrypted
/// data key, key ARN, encryption context) and never a plaintext body; a
/// plaintext body is shown only for a message stored in clear on a queue
/// that does not encrypt.
async fn queue_messages(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<ViewParams>,
) -> Response {
    let account = params.account.unwrap_or_else(|| state.config.account_id.clone());
    let region = params.region.unwrap_or_else(|| state.config.region.clone());
    let Some(q) = state.store.get(&region, &account, &name) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": format!("no queue {name} in account {account} in {region}") })),
        )
            .into_response();
    };
    let now = state.clock.now_ms();
    let (encrypted, sse) = {
        let s = q.lock();
        (s.attrs.is_encrypted(), s.attrs.sse().map(|x| x.kind.label()))
    };
    // Chosen in steps with the lock released between them, so senders and
    // receivers wait at most one step; copied under the lock, formatted
    // after it.
    let wanted = params
        .message
        .as_deref()
        .map(|id| uuid::Uuid::parse_str(id).map(|u| u.as_u128()));
    let limit = match wanted {
        Some(Err(_)) => 0,
        Some(Ok(_)) => 1,
        None => params.limit.unwrap_or(100),
    };
    // The oldest `limit` (or the one message asked for), as a max-heap of
    // (serial, slot).
    let mut chosen: BinaryHeap<(u64, usize)> = BinaryHeap::with_capacity(limit + 1);
    let mut visit = |slot: usize, m: &Message| match wanted {
        Some(Ok(id)) if m.id == id => chosen.push((m.serial, slot)),
        Some(_) => {}
        None if chosen.len() < limit => chosen.push((m.serial, slot)),
        None => {
            if chosen.peek().is_some_and(|&(top, _)| m.serial < top) {
                chosen.pop();
                chosen.push((m.serial, slot));
            }
        }
    };
    let mut from = (limit > 0).then_some(0);
    while let Some(start) = from {
        from = q.lock().scan_step(now, start, SCAN_STEP, &mut visit);
        if from.is_some() {
            tokio::task::yield_now().await;
        }
    }
    let copies: Vec<Stored> = {
        let s = q.lock();
        chosen
            .into_sorted_vec()
            .into_iter()
            .filter_map(|(serial, slot)| s.stored_at(slot, serial).map(Stored::of))
            .collect()
    };
    let messages: Vec<Value> = copies.iter().map(|m| message_view(m, encrypted)).collect();
    Json(json!({
        "queue_arn": q.arn,
        "sse": sse,
        "messages": messages,
    }))
    .into_response()
}

/// What the envelope view shows of one message, copied out of the queue.
struct Stored {
    id: u128,
    state: MsgState,
    sent_ms: u64,
    md5_of_body: [u8; 16],
    receive_count: u32,
    sender_id: std::sync::Arc<str>,
    group_id: Option<String>,
    dead_letter_source_arn: Option<std::sync::Arc<str>>,
    body: Body,
}

impl Stored {
    fn of(m: &Message) -> Self {
        Self {
            id: m.id,
            state: m.state,
            sent_ms: m.sent_ms,
            md5_of_body: m.md5_of_body,
            receive_count: m.receive_count,
            sender_id: m.sender_id.clone(),
            group_id: m.extra.as_ref().and_then(|x| x.group_id.clone()),
            dead_letter_source_arn: m.extra.as_ref().and_then(|x| x.dead_letter_source_arn.clone()),
            body: m.body.clone(),
        }
    }
}

fn message_view(m: &Stored, queue_encrypted: bool) -> Value {
    let state = match m.state {
        MsgState::Delayed { .. } => "delayed",
        MsgState::Visible => "visible",
        MsgState::InFlight { .. } => "in_flight",
    };
    let mut v = json!({
        "message_id": uuid::Uuid::from_u128(m.id).to_string(),
        "state": state,
        "sent_timestamp": m.sent_ms,
        "md5_of_body": hex(&m.md5_of_body),
        "receive_count": m.receive_count,
        "sender_id": &*m.sender_id,
        "message_group_id": m.group_id,
        "dead_letter_source_arn": m.dead_letter_source_arn.as_deref(),
    });
    match &m.body {
        Body::Plain(text) => {
            v["encrypted"] = json!(false);
            v["body_bytes"] = json!(text.len());
            if !queue_encrypted {
                v["body"] = json!(&**text);
            }
        }
        Body::Sealed(e) => {
            let dk = &e.data_key;
            v["encrypted"] = json!(true);
            v["sse"] = json!(dk.kind.label());
            v["key_arn"] = json!(&*dk.key_arn);
            v["encryption_context"] = json!(dk.context());
            v["data_key_id"] = json!(dk.id);
            v["encrypted_data_key"] = json!(B64.encode(&dk.encrypted_data_key));
            v["encrypted_data_key_bytes"] = json!(dk.encrypted_data_key.len());
            v["nonce"] = json!(B64.encode(e.nonce));
            v["tag"] = json!(B64.encode(e.tag));
            v["sealed_for_message_id"] = json!(uuid::Uuid::from_u128(e.sealed_for).to_string());
            v["aad"] = json!(B64.encode(crate::crypto::envelope::aad(&dk.queue_arn, e.sealed_for)));
            v["sealed_by_queue_arn"] = json!(&*dk.queue_arn);
            v["ciphertext"] = json!(B64.encode(&e.ciphertext));
            v["ciphertext_bytes"] = json!(e.ciphertext.len());
        }
    }
    v
}

fn fault_name(f: KmsFault) -> &'static str {
    match f {
        KmsFault::Healthy => "healthy",
        KmsFault::Unavailable => "unavailable",
        KmsFault::Throttling => "throttling",
    }
}

async fn faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "kms": fault_name(state.kms.fault()) }))
}

/// `POST /_sealq/faults {"kms": "unavailable" | "throttling" | "healthy"}`.
async fn set_faults(State(state): State<AppState>, body: Bytes) -> Response {
    let v = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let fault = match v.get("kms").and_then(Value::as_str) {
        Some("healthy") => KmsFault::Healthy,
        Some("unavailable") => KmsFault::Unavailable,
        Some("throttling") => KmsFault::Throttling,
        _ => return bad_request("body must be {\"kms\": \"unavailable\" | \"throttling\" | \"healthy\"}"),
    };
    state.kms.set_fault(fault);
    tracing::info!(kms = fault_name(fault), "KMS fault switch set");
    Json(json!({ "kms": fault_name(fault) })).into_response()
}

/// Query parameters of `GET /_sealq/kms/calls`; both given means both
/// must match.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CallFilter {
    /// The queue's name (the last part of its ARN) or its ARN.
    queue: Option<String>,
    /// The principal's ARN, or its last path segment (a user name or an
    /// access key id).
    principal: Option<String>,
    /// Only calls numbered above this (`seq` of the last call seen).
    since: Option<u64>,
    /// Only calls about this data key (`data_key_id` of an envelope).
    data_key: Option<u64>,
}

impl CallFilter {
    fn matches(&self, call: &crate::crypto::KmsCall) -> bool {
        let queue_ok = self
            .queue
            .as_deref()
            .is_none_or(|q| *call.queue_arn == *q || call.queue_arn.rsplit(':').next() == Some(q));
        let principal_ok = self
            .principal
            .as_deref()
            .is_none_or(|p| *call.principal == *p || call.principal.rsplit('/').next() == Some(p));
        queue_ok && principal_ok && self.data_key.is_none_or(|id| call.data_key_id == id)
    }
}

/// What `/_sealq/kms/calls` says about query parameters it does not take.
const CALL_PARAMS: &str = "GET /_sealq/kms/calls takes only queue (name or ARN), principal (ARN or last path segment), since (a seq number) and data_key (a data_key_id)";

/// `GET /_sealq/kms/calls[?queue=Q][&principal=P][&since=N][&data_key=D]`:
/// the KMS calls SQS made, oldest first, those of queue `Q`, principal `P`,
/// numbered above `N` and about data key `D` when given. The header
/// `x-sealq-ledger-first-seq` gives the oldest call still held.
async fn kms_calls(
    State(state): State<AppState>,
    filter: std::result::Result<Query<CallFilter>, QueryRejection>,
) -> Response {
    let filter = match filter {
        Ok(Query(f)) => f,
        // The rejection names the parameter (unknown or repeated).
        Err(e) => return bad_request(&format!("{}; {CALL_PARAMS}", e.body_text())),
    };
    if filter.queue.as_deref() == Some("") || filter.principal.as_deref() == Some("") {
        // Most likely an unset shell variable: matching nothing would hide it.
        return bad_request("queue and principal must not be empty");
    }
    let calls: Vec<Value> = state
        .encryption
        .ledger_since(filter.since.unwrap_or(0))
        .into_iter()
        .filter(|c| filter.matches(c))
        .map(|c| {
            json!({
                "operation": c.operation,
                "key_arn": &*c.key_arn,
                "principal": &*c.principal,
                "queue_arn": &*c.queue_arn,
                "sse": c.sse.label(),
                "encryption_context": c.encryption_context,
                "time": crate::clock::rfc3339(c.time_ms),
                "time_ms": c.time_ms,
                "error": c.error,
                "data_key_id": c.data_key_id,
                "seq": c.seq,
            })
        })
        .collect();
    // Calls below this were cleared or dropped: a reader polling with
    // `since` forgets them.
    let first = state.encryption.ledger_first_seq().to_string();
    (
        [(
            axum::http::header::HeaderName::from_static("x-sealq-ledger-first-seq"),
            first,
        )],
        Json(Value::Array(calls)),
    )
        .into_response()
}

/// `DELETE /_sealq/kms/calls`: empties the ledger (a walkthrough can start
/// from nothing on a server already used); 200 `{"cleared": N}`. Takes no
/// query parameter, so a filter meant for GET never clears everything.
async fn clear_kms_calls(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    if query.is_some_and(|q| !q.is_empty()) {
        return bad_request("DELETE /_sealq/kms/calls takes no query parameters: it clears the whole ledger");
    }
    let cleared = state.encryption.clear_ledger();
    tracing::info!(cleared, "KMS call ledger cleared");
    Json(json!({ "cleared": cleared })).into_response()
}
