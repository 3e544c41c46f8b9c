//! Model-based tests: random sequences of SQS operations on a standard
//! queue, through the SDK against a server with a data directory (so
//! restarts are among the operations), checked at every step against a
//! small reference model of SQS's semantics. proptest shrinks a failing
//! sequence to a short one; shrunk failures are kept below as regression
//! cases.
//!
//! Invariants: a receive returns exactly the messages the model says are
//! visible (sealq's short poll returns every available one, up to the
//! maximum), never one that is invisible, deleted or unknown, with the
//! receive count the model expects; deletes and visibility changes with a
//! message's latest handle succeed; PurgeQueue removes everything, once per
//! 60 s; restarts keep everything; at the end, every message sent and not
//! deleted or purged is still there (no acknowledged message is lost).

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
    Receive { max: i32, visibility: i32 },
    Delete(usize),
    ChangeVisibility { pick: usize, seconds: i32 },
    Purge,
    Advance(u64),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Send),
        2 => (1usize..=10).prop_map(Op::Batch),
        4 => (1i32..=10, 0i32..=30).prop_map(|(max, visibility)| Op::Receive { max, visibility }),
        3 => (0usize..64).prop_map(Op::Delete),
        2 => (0usize..64, 0i32..=30).prop_map(|(pick, seconds)| Op::ChangeVisibility { pick, seconds }),
        1 => Just(Op::Purge),
        3 => (0u64..=45).prop_map(Op::Advance),
        1 => Just(Op::Restart),
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
    last_purge: Option<u64>,
    sent: u64,
}

impl Model {
    fn visible(&self) -> usize {
        self.messages
            .values()
            .filter(|m| m.visible_at <= self.now)
            .count()
    }

    /// The `pick`-th message that has a handle, if any.
    fn held(&self, pick: usize) -> Option<(String, String)> {
        nth_held(self.messages.iter().map(|(id, m)| (id, m.handle.as_ref())), pick)
    }
}

/// The `pick`-th (modulo) of the messages that have a handle: its id and
/// handle.
fn nth_held<'a>(
    messages: impl Iterator<Item = (&'a String, Option<&'a String>)>,
    pick: usize,
) -> Option<(String, String)> {
    let held: Vec<(&String, &String)> = messages.filter_map(|(id, h)| h.map(|h| (id, h))).collect();
    (!held.is_empty()).then(|| {
        let (id, h) = held[pick % held.len()];
        (id.clone(), h.clone())
    })
}

/// The system under test: a server on a data directory, restartable.
struct Sut {
    dir: std::path::PathBuf,
    server: Option<common::Server>,
    client: aws_sdk_sqs::Client,
    url: String,
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
        let server = Self::boot(&dir).await;
        let client = common::sqs(&server);
        let mut req = client.create_queue();
        req = if fifo {
            req.queue_name("model.fifo")
                .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        } else {
            req.queue_name("model")
        };
        let url = req.send().await.unwrap().queue_url.unwrap();
        Self {
            dir,
            server: Some(server),
            client,
            url,
        }
    }

    async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        let server = Self::boot(&self.dir).await;
        self.client = common::sqs(&server);
        // The URL names the queue by account and name, whatever the port.
        let name = self.url.rsplit('/').next().unwrap().to_owned();
        self.url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        self.server = Some(server);
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
            model.messages.insert(
                id,
                Known {
                    body,
                    receive_count: 0,
                    visible_at: model.now,
                    handle: None,
                },
            );
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
                model.messages.insert(
                    r.message_id().to_owned(),
                    Known {
                        body: bodies[i].clone(),
                        receive_count: 0,
                        visible_at: model.now,
                        handle: None,
                    },
                );
            }
        }
        Op::Receive { max, visibility } => {
            let out = c
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(*max)
                .visibility_timeout(*visibility)
                .message_system_attribute_names(Sys::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| format!("ReceiveMessage: {e:?}"))?;
            let want = model.visible().min(usize::try_from(*max).unwrap());
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
    let want: BTreeMap<String, String> = model
        .messages
        .iter()
        .map(|(id, m)| (id.clone(), m.body.clone()))
        .collect();
    if seen != want {
        return Err(format!("at the end the queue holds {seen:?}, the model {want:?}"));
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
        nth_held(self.messages.iter().map(|(id, m)| (id, m.handle.as_ref())), pick)
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
