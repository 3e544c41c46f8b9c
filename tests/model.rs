//! Model-based tests: random sequences of SQS operations on a standard
//! queue and on a FIFO queue, through the SDK against a server with a data
//! directory (so restarts are among the operations), checked at every step
//! against a small reference model of SQS's semantics. proptest shrinks a
//! failing sequence to a short one; shrunk failures are kept in
//! `model.proptest-regressions` and replayed first.
//!
//! Invariants: a receive returns exactly the messages the model says are
//! visible (sealq's short poll returns every available one, up to the
//! maximum), never one that is invisible, deleted or unknown, with the
//! receive count the model expects; deletes and visibility changes with a
//! message's latest handle succeed; PurgeQueue removes everything, once per
//! 60 s; restarts keep everything; at the end, every message sent and not
//! deleted or purged is still there (no acknowledged message is lost).
//!
//! The standard queue encrypts (SSE-SQS) and has a dead-letter queue
//! (`maxReceiveCount` 2): a receive moves the messages received twice
//! to it instead of delivering them, and a move task
//! (StartMessageMoveTask) brings them back as new messages. Both moves keep
//! the stored envelope byte for byte; the model follows a message across
//! them by its envelope. FIFO: each group in send order, deduplication
//! within 5 minutes, expired receipt handles refused.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageSystemAttributeName as Sys, SendMessageBatchRequestEntry};
use proptest::prelude::*;
use sealq::clock::Clock;
use sealq::{AppState, Config};

const START_MS: u64 = 1_700_000_000_000;

/// 64 sequences per test (a few seconds); `PROPTEST_CASES` runs more.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Send,
    Batch(usize),
    Receive {
        max: i32,
        visibility: i32,
    },
    Delete(usize),
    ChangeVisibility {
        pick: usize,
        seconds: i32,
    },
    Purge,
    Advance(u64),
    Restart,
    /// A move task from the dead-letter queue back to the source.
    Redrive,
}

/// The source queue's `maxReceiveCount`.
const MAX_RECEIVES: u32 = 2;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Send),
        2 => (1usize..=10).prop_map(Op::Batch),
        // A visibility timeout of 0 half the time: messages come back at
        // once, so some reach the dead-letter queue.
        4 => (1i32..=10, prop_oneof![Just(0i32), 0i32..=30]).prop_map(|(max, visibility)| Op::Receive { max, visibility }),
        3 => (0usize..64).prop_map(Op::Delete),
        2 => (0usize..64, 0i32..=30).prop_map(|(pick, seconds)| Op::ChangeVisibility { pick, seconds }),
        1 => Just(Op::Purge),
        3 => (0u64..=45).prop_map(Op::Advance),
        1 => Just(Op::Restart),
        1 => Just(Op::Redrive),
    ]
}

/// One message as the model knows it.
#[derive(Debug)]
struct Known {
    body: String,
    receive_count: u32,
    /// When it is visible (ms on the server's clock).
    visible_at: u64,
    /// The handle of its latest receive.
    handle: Option<String>,
}

/// The reference model.
#[derive(Debug, Default)]
struct Model {
    now: u64,
    messages: BTreeMap<String, Known>,
    /// The dead-letter queue: id -> (body, stored envelope).
    dead: BTreeMap<String, (String, serde_json::Value)>,
    last_purge: Option<u64>,
    sent: u64,
}

impl Model {
    /// A new message, visible now.
    fn arrived(&mut self, id: String, body: String) {
        let known = Known {
            body,
            receive_count: 0,
            visible_at: self.now,
            handle: None,
        };
        self.messages.insert(id, known);
    }

    /// Visible messages a receive delivers (received fewer than
    /// `MAX_RECEIVES` times).
    fn deliverable(&self) -> usize {
        self.messages
            .values()
            .filter(|m| m.visible_at <= self.now && m.receive_count < MAX_RECEIVES)
            .count()
    }

    /// Visible messages a receive moves to the dead-letter queue when it
    /// comes across them.
    fn exhausted(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter(|(_, m)| m.visible_at <= self.now && m.receive_count >= MAX_RECEIVES)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The `pick`-th message that has a handle, if any.
    fn held(&self, pick: usize) -> Option<(String, String)> {
        let order = |m: &Known| m.body[1..].parse::<u64>().unwrap();
        nth_held(
            self.messages
                .iter()
                .map(|(id, m)| (order(m), id, m.handle.as_ref())),
            pick,
        )
    }
}

/// The `pick`-th (modulo), in send order, of the messages that have a
/// handle: its id and handle. (Not in id order: ids are random, and a
/// shrunk failure must pick the same message when it is replayed.)
fn nth_held<'a>(
    messages: impl Iterator<Item = (u64, &'a String, Option<&'a String>)>,
    pick: usize,
) -> Option<(String, String)> {
    let mut held: Vec<(u64, &String, &String)> = messages
        .filter_map(|(order, id, h)| h.map(|h| (order, id, h)))
        .collect();
    held.sort_unstable_by_key(|(order, _, _)| *order);
    (!held.is_empty()).then(|| {
        let (_, id, h) = held[pick % held.len()];
        (id.clone(), h.clone())
    })
}

/// The system under test: a server on a data directory, restartable.
struct Sut {
    dir: std::path::PathBuf,
    server: Option<common::Server>,
    client: aws_sdk_sqs::Client,
    url: String,
    /// The standard queue's dead-letter queue.
    dlq: Option<(String, String)>,
}

impl Sut {
    async fn boot(dir: &std::path::Path) -> common::Server {
        let config = Config {
            data_dir: Some(dir.to_owned()),
            ..Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = config;
        config.port = listener.local_addr().unwrap().port();
        let state = AppState::open(config, Arc::new(Clock::manual(START_MS))).expect("data directory opens");
        common::launch_with_tls(listener, None, state)
    }

    async fn start(dir: std::path::PathBuf, fifo: bool) -> Self {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let server = Self::boot(&dir).await;
        let client = common::sqs(&server);
        let mut dlq = None;
        let mut req = client.create_queue();
        req = if fifo {
            req.queue_name("model.fifo").attributes(A::FifoQueue, "true")
        } else {
            let dlq_url =
                common::create_queue_with(&client, "model-dlq", &[(A::SqsManagedSseEnabled, "true")]).await;
            let dlq_arn = common::queue_arn(&client, &dlq_url).await;
            let redrive =
                serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES });
            dlq = Some((dlq_url, dlq_arn));
            req.queue_name("model")
                .attributes(A::SqsManagedSseEnabled, "true")
                .attributes(A::RedrivePolicy, redrive.to_string())
        };
        let url = req.send().await.unwrap().queue_url.unwrap();
        Self {
            dir,
            server: Some(server),
            client,
            url,
            dlq,
        }
    }

    /// The stored envelope of each message of the queue at `url`, by id.
    async fn envelopes(&self, url: &str) -> BTreeMap<String, serde_json::Value> {
        let name = url.rsplit('/').next().unwrap();
        let view = common::admin_get(
            self.server.as_ref().unwrap(),
            &format!("/queues/{name}/messages?limit=100000"),
        )
        .await;
        view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["message_id"].as_str().unwrap().to_owned(),
                    common::envelope_parts(m),
                )
            })
            .collect()
    }

    async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        let server = Self::boot(&self.dir).await;
        self.client = common::sqs(&server);
        self.url = self.url_again(&self.url).await;
        if let Some((url, arn)) = self.dlq.take() {
            self.dlq = Some((self.url_again(&url).await, arn));
        }
        self.server = Some(server);
    }

    /// The URL of a queue after a restart (whatever the port).
    async fn url_again(&self, url: &str) -> String {
        let name = url.rsplit('/').next().unwrap().to_owned();
        self.client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    /// Moves the clock through the admin API, which saves it with the data.
    async fn advance(&self, secs: u64) -> Result<(), String> {
        let body = serde_json::json!({ "advance_seconds": secs });
        let (status, _) = common::admin_post(self.server.as_ref().unwrap(), "/clock", body).await;
        if status == 200 {
            Ok(())
        } else {
            Err(format!("clock advance answered {status}"))
        }
    }
}

async fn step(sut: &mut Sut, model: &mut Model, op: &Op) -> Result<(), String> {
    let c = sut.client.clone();
    let url = sut.url.clone();
    match op {
        Op::Send => {
            model.sent += 1;
            let body = format!("m{}", model.sent);
            let id = c
                .send_message()
                .queue_url(&url)
                .message_body(&body)
                .send()
                .await
                .map_err(|e| format!("SendMessage: {e:?}"))?
                .message_id
                .unwrap();
            model.arrived(id, body);
        }
        Op::Batch(n) => {
            let mut req = c.send_message_batch().queue_url(&url);
            let mut bodies = Vec::new();
            for i in 0..*n {
                model.sent += 1;
                let body = format!("m{}", model.sent);
                req = req.entries(
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("e{i}"))
                        .message_body(&body)
                        .build()
                        .unwrap(),
                );
                bodies.push(body);
            }
            let out = req.send().await.map_err(|e| format!("SendMessageBatch: {e:?}"))?;
            if !out.failed().is_empty() || out.successful().len() != *n {
                return Err(format!("batch: {out:?}"));
            }
            for r in out.successful() {
                let i: usize = r.id()[1..].parse().unwrap();
                model.arrived(r.message_id().to_owned(), bodies[i].clone());
            }
        }
        Op::Receive { max, visibility } => {
            let exhausted = model.exhausted();
            let before = if exhausted.is_empty() {
                BTreeMap::new()
            } else {
                sut.envelopes(&url).await
            };
            let out = c
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(*max)
                .visibility_timeout(*visibility)
                .message_system_attribute_names(Sys::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| format!("ReceiveMessage: {e:?}"))?;
            let max = usize::try_from(*max).unwrap();
            let want = model.deliverable().min(max);
            if out.messages().len() != want {
                return Err(format!(
                    "received {} messages, the model has {want} to give: {:?}",
                    out.messages().len(),
                    out.messages()
                ));
            }
            for m in out.messages() {
                let id = m.message_id().unwrap();
                let known = model
                    .messages
                    .get_mut(id)
                    .ok_or_else(|| format!("received {id}, which the model does not hold"))?;
                if known.visible_at > model.now {
                    return Err(format!("received {id} while it is invisible"));
                }
                if known.receive_count >= MAX_RECEIVES {
                    return Err(format!(
                        "delivered {id} a {}th time, past maxReceiveCount",
                        known.receive_count + 1
                    ));
                }
                if m.body() != Some(known.body.as_str()) {
                    return Err(format!("{id}: body {:?}, sent {:?}", m.body(), known.body));
                }
                let count: u32 = m.attributes().unwrap()[&Sys::ApproximateReceiveCount]
                    .parse()
                    .unwrap();
                known.receive_count += 1;
                if count != known.receive_count {
                    return Err(format!(
                        "{id}: receive count {count}, the model says {}",
                        known.receive_count
                    ));
                }
                known.visible_at = model.now + u64::try_from(*visibility).unwrap() * 1000;
                known.handle = m.receipt_handle().map(str::to_owned);
            }
            if !exhausted.is_empty() {
                dead_lettered(sut, model, &exhausted, &before, out.messages().len() < max).await?;
            }
        }
        Op::Delete(pick) => {
            let Some((id, handle)) = model.held(*pick) else {
                return Ok(());
            };
            c.delete_message()
                .queue_url(&url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|e| format!("DeleteMessage of {id}: {e:?}"))?;
            model.messages.remove(&id);
        }
        Op::ChangeVisibility { pick, seconds } => {
            let Some((id, handle)) = model.held(*pick) else {
                return Ok(());
            };
            c.change_message_visibility()
                .queue_url(&url)
                .receipt_handle(handle)
                .visibility_timeout(*seconds)
                .send()
                .await
                .map_err(|e| format!("ChangeMessageVisibility of {id}: {e:?}"))?;
            let m = model.messages.get_mut(&id).unwrap();
            m.visible_at = model.now + u64::try_from(*seconds).unwrap() * 1000;
        }
        Op::Purge => {
            let allowed = model.last_purge.is_none_or(|t| model.now >= t + 60_000);
            match c.purge_queue().queue_url(&url).send().await {
                Ok(_) if allowed => {
                    model.messages.clear();
                    model.last_purge = Some(model.now);
                }
                Ok(_) => return Err("PurgeQueue succeeded within 60 s of the last".into()),
                Err(e) if !allowed && e.code() == Some("AWS.SimpleQueueService.PurgeQueueInProgress") => {}
                Err(e) => return Err(format!("PurgeQueue: {e:?}")),
            }
        }
        Op::Advance(secs) => {
            sut.advance(*secs).await?;
            model.now += secs * 1000;
        }
        Op::Restart => sut.restart().await,
        Op::Redrive => redrive(sut, model).await?,
    }
    Ok(())
}

/// After a receive that came across `exhausted` messages (visible,
/// received `MAX_RECEIVES` times; `before` their envelopes): those now in
/// the dead-letter queue are among them, with the envelope they had; when
/// the receive got fewer than it asked for, it looked at every message, so
/// all of them moved. Nothing the dead-letter queue held is gone.
async fn dead_lettered(
    sut: &Sut,
    model: &mut Model,
    exhausted: &[String],
    before: &BTreeMap<String, serde_json::Value>,
    looked_at_all: bool,
) -> Result<(), String> {
    let (dlq_url, _) = sut.dlq.clone().unwrap();
    let now_dead = sut.envelopes(&dlq_url).await;
    if let Some(lost) = model.dead.keys().find(|id| !now_dead.contains_key(*id)) {
        return Err(format!("{lost} left the dead-letter queue"));
    }
    let moved: Vec<&String> = now_dead
        .keys()
        .filter(|id| !model.dead.contains_key(*id))
        .collect();
    for id in &moved {
        if !exhausted.contains(id) {
            return Err(format!(
                "{id} went to the dead-letter queue before its {MAX_RECEIVES} receives"
            ));
        }
        if before.get(*id) != now_dead.get(*id) {
            return Err(format!(
                "{id} changed on its way to the dead-letter queue: {:?} became {:?}",
                before.get(*id),
                now_dead.get(*id)
            ));
        }
        let known = model.messages.remove(*id).unwrap();
        model
            .dead
            .insert((*id).clone(), (known.body, now_dead[*id].clone()));
    }
    if looked_at_all && moved.len() != exhausted.len() {
        return Err(format!("a receive passed {exhausted:?} and moved only {moved:?}"));
    }
    Ok(())
}

/// A move task from the dead-letter queue to the source: every message
/// comes back as a new message (new id, receive count 0) whose envelope is
/// the one it had in the dead-letter queue.
async fn redrive(sut: &Sut, model: &mut Model) -> Result<(), String> {
    let (dlq_url, dlq_arn) = sut.dlq.clone().unwrap();
    let c = &sut.client;
    c.start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .map_err(|e| format!("StartMessageMoveTask: {e:?}"))?;
    // The task runs on the server; it moves everything in its first step.
    let mut status = String::new();
    for _ in 0..1000 {
        let tasks = c
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .map_err(|e| format!("ListMessageMoveTasks: {e:?}"))?;
        status = tasks.results()[0].status().unwrap_or_default().to_owned();
        if status != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    if status != "COMPLETED" {
        return Err(format!("the move task ended {status}"));
    }
    let left = sut.envelopes(&dlq_url).await;
    if !left.is_empty() {
        return Err(format!("the move task left {left:?}"));
    }
    let mut dead = std::mem::take(&mut model.dead);
    for (id, envelope) in sut.envelopes(&sut.url).await {
        if model.messages.contains_key(&id) {
            continue;
        }
        let Some(was) = dead
            .iter()
            .find(|(_, (_, e))| *e == envelope)
            .map(|(id, _)| id.clone())
        else {
            return Err(format!(
                "{id} appeared in the source, with no envelope the dead-letter queue held"
            ));
        };
        let (body, _) = dead.remove(&was).unwrap();
        model.arrived(id, body);
    }
    if !dead.is_empty() {
        return Err(format!("the move task lost {dead:?}"));
    }
    Ok(())
}

/// After the sequence: everything the model holds comes back, nothing else.
async fn drain(sut: &mut Sut, model: &mut Model) -> Result<(), String> {
    step(sut, model, &Op::Advance(60)).await?;
    let mut seen = BTreeMap::new();
    for _ in 0..200 {
        let out = sut
            .client
            .receive_message()
            .queue_url(&sut.url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage: {e:?}"))?;
        if out.messages().is_empty() {
            break;
        }
        for m in out.messages() {
            seen.insert(m.message_id().unwrap().to_owned(), m.body().unwrap().to_owned());
        }
    }
    // Messages received twice moved to the dead-letter queue while
    // draining; with those, the two queues hold what the model does.
    let (dlq_url, _) = sut.dlq.clone().unwrap();
    let dead: std::collections::BTreeSet<String> = sut.envelopes(&dlq_url).await.into_keys().collect();
    let want: BTreeMap<String, String> = model
        .messages
        .iter()
        .map(|(id, m)| (id.clone(), m.body.clone()))
        .collect();
    let got: BTreeMap<String, String> = seen
        .into_iter()
        .chain(dead.iter().map(|id| {
            let body = model.messages.get(id).map(|m| m.body.clone());
            (
                id.clone(),
                body.or_else(|| model.dead.get(id).map(|d| d.0.clone()))
                    .unwrap_or_default(),
            )
        }))
        .collect();
    let mut want_all = want;
    want_all.extend(
        model
            .dead
            .iter()
            .map(|(id, (body, _))| (id.clone(), body.clone())),
    );
    if got != want_all {
        return Err(format!(
            "at the end the queues hold {got:?}, the model {want_all:?}"
        ));
    }
    Ok(())
}

/// A fresh data directory and a runtime for one case.
fn case() -> (std::path::PathBuf, tokio::runtime::Runtime) {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sealq-model-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    (dir, rt)
}

fn run(ops: &[Op]) -> Result<(), String> {
    let (dir, rt) = case();
    let result = rt.block_on(async {
        let mut sut = Sut::start(dir.clone(), false).await;
        let mut model = Model {
            now: START_MS,
            ..Model::default()
        };
        for (i, op) in ops.iter().enumerate() {
            step(&mut sut, &mut model, op)
                .await
                .map_err(|e| format!("step {i} ({op:?}): {e}"))?;
        }
        let end = drain(&mut sut, &mut model).await;
        if let Some(s) = sut.server.take() {
            s.stop().await;
        }
        end
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_standard_queue_behaves_as_the_model_says(ops in proptest::collection::vec(op(), 1..40)) {
        if let Err(e) = run(&ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}

// ---------------------------------------------------------------- FIFO

/// Operations on a FIFO queue: sends name a group (4) and a deduplication
/// id, from a small set so that duplicates happen.
#[derive(Debug, Clone)]
enum FifoOp {
    Send { group: u8, dedup: u8 },
    Receive { max: i32, visibility: i32 },
    Delete(usize),
    Extend { pick: usize, seconds: i32 },
    Advance(u64),
    Restart,
}

fn fifo_op() -> impl Strategy<Value = FifoOp> {
    prop_oneof![
        5 => (0u8..4, 0u8..24).prop_map(|(group, dedup)| FifoOp::Send { group, dedup }),
        4 => (1i32..=10, 0i32..=30).prop_map(|(max, visibility)| FifoOp::Receive { max, visibility }),
        3 => (0usize..64).prop_map(FifoOp::Delete),
        2 => (0usize..64, 1i32..=60).prop_map(|(pick, seconds)| FifoOp::Extend { pick, seconds }),
        3 => (0u64..=120).prop_map(FifoOp::Advance),
        1 => Just(FifoOp::Restart),
    ]
}

#[derive(Debug)]
struct FifoKnown {
    seq: u64,
    group: u8,
    body: String,
    receive_count: u32,
    visible_at: u64,
    handle: Option<String>,
}

#[derive(Debug, Default)]
struct FifoModel {
    now: u64,
    next_seq: u64,
    sent: u64,
    messages: BTreeMap<String, FifoKnown>,
    /// Deduplication id -> (MessageId, expiry ms).
    dedup: BTreeMap<String, (String, u64)>,
}

impl FifoModel {
    /// What a receive of `max` returns, in order: each group's visible
    /// messages sent before its first in-flight one, across groups in send
    /// order.
    fn deliverable(&self, max: usize) -> Vec<String> {
        let mut first_in_flight: BTreeMap<u8, u64> = BTreeMap::new();
        for m in self.messages.values() {
            if m.visible_at > self.now {
                let f = first_in_flight.entry(m.group).or_insert(m.seq);
                *f = (*f).min(m.seq);
            }
        }
        let mut by_seq: Vec<(&String, &FifoKnown)> = self.messages.iter().collect();
        by_seq.sort_by_key(|(_, m)| m.seq);
        by_seq
            .into_iter()
            .filter(|(_, m)| {
                m.visible_at <= self.now && first_in_flight.get(&m.group).is_none_or(|f| *f > m.seq)
            })
            .take(max)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn held(&self, pick: usize) -> Option<(String, String)> {
        nth_held(
            self.messages.iter().map(|(id, m)| (m.seq, id, m.handle.as_ref())),
            pick,
        )
    }
}

async fn fifo_step(sut: &mut Sut, model: &mut FifoModel, op: &FifoOp) -> Result<(), String> {
    let c = sut.client.clone();
    let url = sut.url.clone();
    match op {
        FifoOp::Send { group, dedup } => {
            model.sent += 1;
            let body = format!("m{}", model.sent);
            let dedup_id = format!("d{dedup}");
            let out = c
                .send_message()
                .queue_url(&url)
                .message_body(&body)
                .message_group_id(format!("g{group}"))
                .message_deduplication_id(&dedup_id)
                .send()
                .await
                .map_err(|e| format!("SendMessage: {e:?}"))?;
            let id = out.message_id().unwrap().to_owned();
            match model.dedup.get(&dedup_id) {
                Some((first, expires)) if *expires > model.now => {
                    if id != *first {
                        return Err(format!("a duplicate of {first} got a new id {id}"));
                    }
                }
                _ => {
                    model.dedup.insert(dedup_id, (id.clone(), model.now + 300_000));
                    model.next_seq += 1;
                    model.messages.insert(
                        id,
                        FifoKnown {
                            seq: model.next_seq,
                            group: *group,
                            body,
                            receive_count: 0,
                            visible_at: model.now,
                            handle: None,
                        },
                    );
                }
            }
        }
        FifoOp::Receive { max, visibility } => {
            let want = model.deliverable(usize::try_from(*max).unwrap());
            let out = c
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(*max)
                .visibility_timeout(*visibility)
                .message_system_attribute_names(Sys::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| format!("ReceiveMessage: {e:?}"))?;
            let got: Vec<String> = out
                .messages()
                .iter()
                .map(|m| m.message_id().unwrap().to_owned())
                .collect();
            if got != want {
                return Err(format!("received {got:?}, the model gives {want:?} ({model:?})"));
            }
            for m in out.messages() {
                let known = model.messages.get_mut(m.message_id().unwrap()).unwrap();
                if m.body() != Some(known.body.as_str()) {
                    return Err(format!("body {:?}, sent {:?}", m.body(), known.body));
                }
                known.receive_count += 1;
                let count: u32 = m.attributes().unwrap()[&Sys::ApproximateReceiveCount]
                    .parse()
                    .unwrap();
                if count != known.receive_count {
                    return Err(format!(
                        "receive count {count}, the model says {}",
                        known.receive_count
                    ));
                }
                known.visible_at = model.now + u64::try_from(*visibility).unwrap() * 1000;
                known.handle = m.receipt_handle().map(str::to_owned);
            }
        }
        FifoOp::Delete(pick) => {
            let Some((id, handle)) = model.held(*pick) else {
                return Ok(());
            };
            let expired = model.messages[&id].visible_at <= model.now;
            match c
                .delete_message()
                .queue_url(&url)
                .receipt_handle(&handle)
                .send()
                .await
            {
                Ok(_) if !expired => {
                    model.messages.remove(&id);
                }
                Ok(_) => return Err(format!("deleted {id} with a handle whose timeout ran out")),
                Err(e) if expired && e.code() == Some("InvalidParameterValue") => {
                    if !e
                        .message()
                        .is_some_and(|m| m.ends_with("The receipt handle has expired."))
                    {
                        return Err(format!("{e:?}"));
                    }
                }
                Err(e) => return Err(format!("DeleteMessage of {id}: {e:?}")),
            }
        }
        FifoOp::Extend { pick, seconds } => {
            let Some((id, handle)) = model.held(*pick) else {
                return Ok(());
            };
            if model.messages[&id].visible_at <= model.now {
                return Ok(());
            }
            c.change_message_visibility()
                .queue_url(&url)
                .receipt_handle(handle)
                .visibility_timeout(*seconds)
                .send()
                .await
                .map_err(|e| format!("ChangeMessageVisibility of {id}: {e:?}"))?;
            model.messages.get_mut(&id).unwrap().visible_at =
                model.now + u64::try_from(*seconds).unwrap() * 1000;
        }
        FifoOp::Advance(secs) => {
            sut.advance(*secs).await?;
            model.now += secs * 1000;
        }
        FifoOp::Restart => sut.restart().await,
    }
    Ok(())
}

fn run_fifo(ops: &[FifoOp]) -> Result<(), String> {
    let (dir, rt) = case();
    let result = rt.block_on(async {
        let mut sut = Sut::start(dir.clone(), true).await;
        let mut model = FifoModel {
            now: START_MS,
            ..FifoModel::default()
        };
        for (i, op) in ops.iter().enumerate() {
            fifo_step(&mut sut, &mut model, op)
                .await
                .map_err(|e| format!("step {i} ({op:?}): {e}"))?;
        }
        // At the end every message comes back, each group in send order.
        fifo_step(&mut sut, &mut model, &FifoOp::Advance(120)).await?;
        for _ in 0..200 {
            if model.messages.is_empty() {
                break;
            }
            fifo_step(
                &mut sut,
                &mut model,
                &FifoOp::Receive {
                    max: 10,
                    visibility: 600,
                },
            )
            .await?;
            let ids: Vec<String> = model.messages.keys().cloned().collect();
            for (i, _) in ids.iter().enumerate() {
                fifo_step(&mut sut, &mut model, &FifoOp::Delete(i)).await?;
            }
        }
        let end = if model.messages.is_empty() {
            Ok(())
        } else {
            Err(format!("left behind: {:?}", model.messages))
        };
        if let Some(s) = sut.server.take() {
            s.stop().await;
        }
        end
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_fifo_queue_behaves_as_the_model_says(ops in proptest::collection::vec(fifo_op(), 1..40)) {
        if let Err(e) = run_fifo(&ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}
