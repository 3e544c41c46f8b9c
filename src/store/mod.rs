//! Where state lives: concurrent maps of regions, of their accounts, and of
//! each account's queues by name, so no lock is shared by two queues and a
//! lookup by `&str` allocates nothing; and, with a data directory, the journal that makes
//! every acknowledged change durable (`durable`).
//!
//! Without a data directory nothing here touches the disk: queues do not
//! record changes and [`Store::flush`] returns at once. With one, each
//! queue records its [`Change`]s; whoever changed a queue calls
//! [`Store::flush`] while still holding the queue's lock, which encodes the
//! changes into records and hands them to the journal in order, and the
//! request waits for the commit ([`Store::wait`]) before it answers.

pub mod codec;
pub mod durable;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::crypto::{Body, Envelope};
use crate::error::{Error, Result};
use crate::sqs::model::attributes::QueueAttributes;
use crate::sqs::model::message::{Message, MessageExtra, MsgState};
use crate::sqs::model::queue::{Change, Queue, QueueState, Restored};
use crate::sqs::types::MessageAttributeValue;
use codec::{Malformed, Reader, Writer};
use durable::{DataDirError, Journal, MessageRow, QueueRow, Record, SqsImage, StateRow, message_key};

/// Meta name of the virtual clock's offset.
pub const META_CLOCK: &str = "clock_offset_ms";
/// Meta name of the next queue uid.
const META_NEXT_UID: &str = "next_uid";

/// The queue registry, and the journal when there is a data directory.
#[derive(Debug, Default)]
pub struct Store {
    /// Queues by region, account and name: queues are regional.
    regions: DashMap<String, DashMap<String, DashMap<String, Arc<Queue>>>>,
    next_uid: AtomicU64,
    journal: Option<Journal>,
    /// The data directory's lock, held until [`Self::close`] (or the
    /// store's end).
    lock: std::sync::Mutex<Option<std::fs::File>>,
    /// When each queue was deleted (epoch ms, by ARN), for
    /// `--strict-deletion`; touched only by CreateQueue and DeleteQueue.
    deleted: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

/// How long a deleted queue's name stays taken under `--strict-deletion`
/// (AWS: 60 seconds).
const DELETED_NAME_MS: u64 = 60_000;

/// Attributes a queue row stores (the settable ones; the rest are derived).
const STORED_ATTRIBUTES: &[&str] = &[
    "FifoQueue",
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];

impl Store {
    /// An empty store in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose changes go to `journal`, holding the data
    /// directory's `lock`.
    pub fn durable(journal: Journal, lock: std::fs::File) -> Self {
        Self {
            journal: Some(journal),
            lock: std::sync::Mutex::new(Some(lock)),
            ..Self::default()
        }
    }

    /// Whether changes are written to a data directory.
    pub fn is_durable(&self) -> bool {
        self.journal.is_some()
    }

    /// A fresh queue uid. With a data directory, the next one is recorded
    /// by the flush of the queue's creation.
    pub fn next_uid(&self) -> u64 {
        self.next_uid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The queue `name` of `account` in `region`.
    pub fn get(&self, region: &str, account: &str, name: &str) -> Option<Arc<Queue>> {
        self.regions
            .get(region)?
            .get(account)?
            .get(name)
            .map(|q| q.clone())
    }

    /// The queue with this ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
    pub fn get_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let (region, account, name) = crate::sqs::model::queue::arn_parts(arn)?;
        self.get(region, account, name)
    }

    /// Returns the existing queue, or inserts the one `make` builds. The bool
    /// says whether it was created. A created queue records its changes from
    /// the start when the store is durable (flush it to save it).
    pub fn get_or_create(
        &self,
        (region, account): (&str, &str),
        name: &str,
        make: impl FnOnce() -> Queue,
    ) -> (Arc<Queue>, bool) {
        let accounts = match self.regions.get(region) {
            Some(a) => a,
            None => self.regions.entry(region.to_owned()).or_default().downgrade(),
        };
        let queues = match accounts.get(account) {
            Some(q) => q,
            None => accounts.entry(account.to_owned()).or_default().downgrade(),
        };
        match queues.entry(name.to_owned()) {
            Entry::Occupied(e) => (e.get().clone(), false),
            Entry::Vacant(e) => {
                let q = make();
                if self.is_durable() {
                    q.lock().start_journal();
                }
                (e.insert(Arc::new(q)).clone(), true)
            }
        }
    }

    /// Removes a queue. With a data directory, the removal is flushed under
    /// the queue's lock; the returned number is the unit to wait for.
    pub fn remove(&self, q: &Queue) -> Option<(Arc<Queue>, u64)> {
        let q = self
            .regions
            .get(q.region())?
            .get(&q.account_id)?
            .remove(&q.name)
            .map(|(_, q)| q)?;
        let n = {
            let mut s = q.lock();
            s.note(Change::Drop);
            self.flush(&q, &mut s)
        };
        Some((q, n))
    }

    /// Notes that the queue with this ARN was deleted at `now` (ms).
    pub fn note_deleted(&self, arn: &str, now: u64) {
        let mut d = self
            .deleted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        d.retain(|_, at| now.saturating_sub(*at) < DELETED_NAME_MS);
        d.insert(arn.to_owned(), now);
    }

    /// Whether the queue with this ARN was deleted less than 60 s before
    /// `now` (ms).
    pub fn deleted_recently(&self, arn: &str, now: u64) -> bool {
        let d = self
            .deleted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        d.get(arn)
            .is_some_and(|at| now.saturating_sub(*at) < DELETED_NAME_MS)
    }

    /// Every queue of every region and account, in no particular order
    /// (for metrics).
    pub fn all(&self) -> Vec<Arc<Queue>> {
        let mut out = Vec::new();
        for accounts in &self.regions {
            for queues in accounts.value() {
                out.extend(queues.value().iter().map(|e| e.value().clone()));
            }
        }
        out
    }

    /// All queues of `account` in `region`, sorted by name.
    pub fn list(&self, region: &str, account: &str) -> Vec<Arc<Queue>> {
        let Some(accounts) = self.regions.get(region) else {
            return Vec::new();
        };
        let Some(queues) = accounts.get(account) else {
            return Vec::new();
        };
        let mut v: Vec<_> = queues.iter().map(|e| e.value().clone()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    // ---- the journal ---------------------------------------------------------

    /// Hands the changes `s` recorded to the journal; call it with the
    /// queue's lock held (`s` is its guard), so the journal sees each
    /// queue's changes in order. Returns the unit to wait for (0: nothing
    /// to wait for).
    pub fn flush(&self, q: &Queue, s: &mut QueueState) -> u64 {
        let Some(journal) = &self.journal else {
            return 0;
        };
        let records = self.drain(q, s);
        if records.is_empty() {
            return 0;
        }
        journal.submit(records)
    }

    /// The records of the changes `s` recorded, not yet submitted (for a
    /// move, whose removal from the source is submitted after the
    /// destination has the message: a crash in between duplicates a
    /// message, never loses one). Call with the queue's lock held.
    pub fn drain(&self, q: &Queue, s: &mut QueueState) -> Vec<Record> {
        let changes = s.take_changes();
        if changes.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(changes.len() + 1);
        let mut dropped = false;
        let mut meta_written = false;
        for c in changes {
            match c {
                // The row is read at drain time: once per drain is enough.
                Change::Meta if meta_written => {}
                Change::Meta => {
                    out.push(Record::Queue(queue_row(q, s)));
                    meta_written = true;
                }
                Change::Put { slot, serial } => {
                    if let Some(m) = s.message(slot, serial) {
                        if let Body::Sealed(e) = &m.body {
                            out.push(Record::DataKey(e.data_key.clone()));
                        }
                        out.push(Record::Put(message_row(q.uid, slot, m)));
                    }
                }
                Change::State { slot, serial } => {
                    if let Some(m) = s.message(slot, serial) {
                        out.push(Record::State(message_key(q.uid, serial), state_row(m)));
                    }
                }
                Change::Remove { serial } => out.push(Record::Remove(message_key(q.uid, serial))),
                Change::Purge => out.push(Record::Purge(q.uid)),
                Change::Dedup {
                    key,
                    id,
                    sequence,
                    expires,
                } => out.push(Record::Dedup(q.uid, key, id, sequence, expires)),
                Change::Drop => {
                    out.push(Record::DropQueue(q.uid));
                    // Its uid stays used: handles of the old queue never
                    // match a later one.
                    out.push(Record::Meta(
                        META_NEXT_UID,
                        i64::try_from(q.uid).unwrap_or(i64::MAX),
                    ));
                    dropped = true;
                }
            }
        }
        if !dropped {
            out.push(Record::Counters(q.uid, s.counters()));
        }
        out
    }

    /// Submits records gathered by [`Self::drain`] (or others); returns the
    /// unit to wait for.
    pub fn submit(&self, records: Vec<Record>) -> u64 {
        match &self.journal {
            Some(j) if !records.is_empty() => j.submit(records),
            _ => 0,
        }
    }

    /// Waits until unit `n` is committed (at once without a data directory).
    ///
    /// # Errors
    /// `InternalFailure` when the data directory could not be written: the
    /// change is then not acknowledged.
    pub async fn wait(&self, n: u64) -> Result<()> {
        match &self.journal {
            Some(j) if n > 0 => j.wait(n).await.map_err(|e| {
                tracing::error!(error = %e, "a change could not be saved");
                Error::InternalFailure
            }),
            _ => Ok(()),
        }
    }

    /// Whether changes can still be saved: always without a data
    /// directory; with one, until a write failed (or the journal closed).
    pub fn writable(&self) -> bool {
        self.journal.as_ref().is_none_or(Journal::writable)
    }

    /// Waits until everything submitted so far is committed (after the
    /// configuration file was applied, before the server reports ready).
    ///
    /// # Errors
    /// As [`Self::wait`].
    pub async fn settle(&self) -> Result<()> {
        match &self.journal {
            Some(j) => self.wait(j.last_submitted()).await,
            None => Ok(()),
        }
    }

    /// Records a named server-wide number (the virtual clock's offset);
    /// returns the unit to wait for.
    pub fn save_meta(&self, name: &'static str, value: u64) -> u64 {
        self.submit(vec![Record::Meta(name, i64::try_from(value).unwrap_or(i64::MAX))])
    }

    /// Records a move task; returns the unit to wait for.
    pub fn save_move_task(&self, handle: &str, position: u64, task: Vec<u8>) -> u64 {
        self.submit(vec![Record::MoveTask(
            handle.to_owned(),
            i64::try_from(position).unwrap_or(i64::MAX),
            task,
        )])
    }

    /// Commits what was submitted, stops the journal and releases the data
    /// directory (at shutdown): another server may open it at once, even
    /// while tasks of this one still hold the store.
    pub fn close(&self) {
        if let Some(j) = &self.journal {
            j.close();
        }
        drop(
            self.lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
    }

    // ---- restore -----------------------------------------------------------

    /// Rebuilds queues and messages from `img`; returns the queues restored.
    ///
    /// # Errors
    /// A [`DataDirError`] naming what could not be read.
    pub fn restore(&self, img: SqsImage) -> std::result::Result<usize, DataDirError> {
        let corrupt = |what: String| {
            DataDirError(format!(
                "{}: {what} could not be read; the data directory is left as it is",
                durable::SQS_DB
            ))
        };
        let mut by_queue: HashMap<u64, Vec<(usize, Message)>> = HashMap::new();
        for lm in img.messages {
            let slot = lm.row.slot as usize;
            let m = message_of(lm.serial, lm.row, &img.data_keys)
                .map_err(|()| corrupt(format!("message {} of queue {}", lm.serial, lm.uid)))?;
            by_queue.entry(lm.uid).or_default().push((slot, m));
        }
        let mut dedup: HashMap<u64, Vec<(String, u128, u128, u64)>> = HashMap::new();
        for (uid, key, id, seq, expires) in img.dedup {
            dedup.entry(uid).or_default().push((key, id, seq, expires));
        }
        let mut max_uid = u64::try_from(img.meta.get(META_NEXT_UID).copied().unwrap_or(0)).unwrap_or(0);
        let n = img.queues.len();
        for row in img.queues {
            max_uid = max_uid.max(row.uid);
            let attrs = attributes_of(&row.attributes)
                .map_err(|()| corrupt(format!("the attributes of queue {}", row.name)))?;
            let tags = tags_of(&row.tags).map_err(|_| corrupt(format!("the tags of queue {}", row.name)))?;
            let mut messages = by_queue.remove(&row.uid).unwrap_or_default();
            reslot(&mut messages);
            let q = Queue::restore(
                row.name.clone(),
                row.account.clone(),
                row.arn,
                row.uid,
                row.created_s,
                Restored {
                    attrs,
                    tags,
                    last_modified_s: row.last_modified_s,
                    last_purge_ms: row.last_purge_ms,
                    messages,
                    dedup: dedup.remove(&row.uid).unwrap_or_default(),
                    counters: row.counters,
                },
            );
            {
                let mut s = q.lock();
                s.start_journal();
                // Restoring is not a change.
                s.take_changes();
            }
            let region = q.region().to_owned();
            self.regions
                .entry(region)
                .or_default()
                .entry(row.account)
                .or_default()
                .insert(row.name, Arc::new(q));
        }
        self.next_uid.store(max_uid, Ordering::Relaxed);
        // Messages of a queue deleted while a send to it was under way.
        let orphans: Vec<Record> = by_queue
            .into_iter()
            .flat_map(|(uid, ms)| {
                ms.into_iter()
                    .map(move |(_, m)| Record::Remove(message_key(uid, m.serial)))
            })
            .collect();
        self.submit(orphans);
        Ok(n)
    }
}

/// Gives messages that claim a slot already taken (which a consistent
/// journal never produces) free slots, so none is lost.
fn reslot(messages: &mut [(usize, Message)]) {
    let mut used = std::collections::HashSet::new();
    let mut next = messages.iter().map(|(s, _)| *s + 1).max().unwrap_or(0);
    for (slot, _) in messages.iter_mut() {
        if !used.insert(*slot) {
            *slot = next;
            used.insert(next);
            next += 1;
        }
    }
}

fn queue_row(q: &Queue, s: &QueueState) -> QueueRow {
    let mut attrs = Writer::new();
    let pairs: Vec<(&str, String)> = STORED_ATTRIBUTES
        .iter()
        .filter_map(|n| match *n {
            // Stored as set (GetQueueAttributes shows the default when unset).
            "KmsDataKeyReusePeriodSeconds" => s
                .attrs
                .kms_data_key_reuse_period_seconds
                .map(|v| (*n, v.to_string())),
            _ => s.attrs.get(n).map(|v| (*n, v)),
        })
        .collect();
    attrs.u32(u32::try_from(pairs.len()).unwrap_or(0));
    for (k, v) in &pairs {
        attrs.str(k).str(v);
    }
    QueueRow {
        uid: q.uid,
        account: q.account_id.clone(),
        name: q.name.clone(),
        arn: q.arn.clone(),
        created_s: q.created_s,
        last_modified_s: s.last_modified_s,
        last_purge_ms: s.last_purge_ms,
        attributes: attrs.finish(),
        tags: tags_bytes(&s.tags),
        counters: s.counters(),
    }
}

fn tags_bytes(tags: &BTreeMap<String, String>) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(u32::try_from(tags.len()).unwrap_or(0));
    for (k, v) in tags {
        w.str(k).str(v);
    }
    w.finish()
}

fn tags_of(bytes: &[u8]) -> std::result::Result<BTreeMap<String, String>, Malformed> {
    let mut r = Reader::new(bytes);
    let mut tags = BTreeMap::new();
    for _ in 0..r.u32()? {
        let k = r.string()?;
        tags.insert(k, r.string()?);
    }
    Ok(tags)
}

fn attributes_of(bytes: &[u8]) -> std::result::Result<QueueAttributes, ()> {
    let mut r = Reader::new(bytes);
    let mut pairs = Vec::new();
    let mut stored_policy = None;
    for _ in 0..r.u32().map_err(|_| ())? {
        let k = r.string().map_err(|_| ())?;
        let v = r.string().map_err(|_| ())?;
        if k == "Policy" {
            stored_policy = Some(v);
        } else {
            pairs.push((k, v));
        }
    }
    let fifo = pairs.iter().any(|(k, v)| k == "FifoQueue" && v == "true");
    let mut attrs = QueueAttributes::new(fifo);
    attrs.set_all(&pairs, true).map_err(|_| ())?;
    // A policy stored by an earlier build may use what this one refuses
    // to read: it is kept as it was and shown, and said at start.
    if let Some(text) = stored_policy {
        match crate::sqs::policy::check_policy(&text) {
            Ok(p) => (attrs.policy, attrs.policy_document) = p.unzip(),
            Err(e) => {
                tracing::warn!(error = %e, "a stored queue Policy cannot be read; it is kept but not evaluated");
                attrs.policy = Some(text);
            }
        }
    }
    Ok(attrs)
}

fn state_row(m: &Message) -> StateRow {
    let (kind, until_ms, received_ms, seq) = match m.state {
        MsgState::Visible => (0, 0, 0, 0),
        MsgState::Delayed { until } => (1, until, 0, 0),
        MsgState::InFlight {
            until,
            received_ms,
            seq,
        } => (2, until, received_ms, seq),
    };
    StateRow {
        first_receive_ms: m.first_receive_ms,
        receive_count: m.receive_count,
        kind,
        until_ms,
        received_ms,
        seq,
    }
}

fn message_row(uid: u64, slot: u32, m: &Message) -> MessageRow {
    let (body, envelope) = match &m.body {
        Body::Plain(text) => (text.as_bytes().to_vec(), None),
        Body::Sealed(e) => {
            let mut w = Writer::new();
            w.u64(e.data_key.id)
                .bytes(&e.nonce)
                .bytes(&e.tag)
                .u128(e.sealed_for);
            (e.ciphertext.to_vec(), Some(w.finish()))
        }
    };
    MessageRow {
        key: message_key(uid, m.serial),
        slot,
        id: m.id,
        md5: m.md5_of_body,
        sent_ms: m.sent_ms,
        state: state_row(m),
        sender: m.sender_id.clone(),
        body,
        envelope,
        extra: m.extra.as_deref().map(extra_bytes),
    }
}

fn extra_bytes(e: &MessageExtra) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(u32::try_from(e.attributes.len()).unwrap_or(0));
    for (name, v) in &e.attributes {
        w.str(name)
            .str(&v.data_type)
            .opt_str(v.string_value.as_deref())
            .opt_bytes(v.binary_value.as_deref())
            .u8(u8::from(v.has_list_values));
    }
    w.opt_str(e.trace_header.as_deref())
        .opt_str(e.group_id.as_deref())
        .opt_str(e.dead_letter_source_arn.as_deref())
        .opt_str(e.dedup_id.as_deref());
    match e.sequence_number {
        Some(n) => w.u8(1).u128(n),
        None => w.u8(0),
    };
    w.finish()
}

fn extra_of(bytes: &[u8]) -> std::result::Result<MessageExtra, Malformed> {
    let mut r = Reader::new(bytes);
    let mut attributes = Vec::new();
    for _ in 0..r.u32()? {
        let name = r.string()?;
        attributes.push((
            name,
            MessageAttributeValue {
                data_type: r.string()?,
                string_value: r.opt_string()?,
                binary_value: r.opt_bytes()?,
                has_list_values: r.u8()? != 0,
            },
        ));
    }
    Ok(MessageExtra {
        attributes,
        trace_header: r.opt_string()?,
        group_id: r.opt_string()?,
        dead_letter_source_arn: r.opt_string()?.map(Arc::from),
        dedup_id: r.opt_string()?,
        sequence_number: match r.u8()? {
            0 => None,
            _ => Some(r.u128()?),
        },
    })
}

/// The message a row holds (the body moves out of the row, uncopied).
fn message_of(
    serial: u64,
    row: MessageRow,
    data_keys: &HashMap<u64, Arc<crate::crypto::SealedDataKey>>,
) -> std::result::Result<Message, ()> {
    let body = match &row.envelope {
        None => Body::Plain(String::from_utf8(row.body).map_err(|_| ())?.into_boxed_str()),
        Some(env) => {
            let mut r = Reader::new(env);
            let id = r.u64().map_err(|_| ())?;
            let nonce = r.bytes().map_err(|_| ())?.try_into().map_err(|_| ())?;
            let tag = r.bytes().map_err(|_| ())?.try_into().map_err(|_| ())?;
            let sealed_for = r.u128().map_err(|_| ())?;
            Body::Sealed(Box::new(Envelope {
                data_key: data_keys.get(&id).ok_or(())?.clone(),
                nonce,
                tag,
                sealed_for,
                ciphertext: row.body.into_boxed_slice(),
            }))
        }
    };
    let s = row.state;
    let state = match s.kind {
        0 => MsgState::Visible,
        1 => MsgState::Delayed { until: s.until_ms },
        2 => MsgState::InFlight {
            until: s.until_ms,
            received_ms: s.received_ms,
            seq: s.seq,
        },
        _ => return Err(()),
    };
    Ok(Message {
        serial,
        id: row.id,
        body,
        md5_of_body: row.md5,
        sent_ms: row.sent_ms,
        first_receive_ms: s.first_receive_ms,
        receive_count: s.receive_count,
        state,
        sender_id: row.sender.clone(),
        extra: match &row.extra {
            Some(b) => Some(Box::new(extra_of(b).map_err(|_| ())?)),
            None => None,
        },
    })
}

/// Opens a data directory: restores the KMS model into `kms` and returns
/// the store (journal running) with its queues, the virtual clock offset,
/// the largest data-key id, and the stored move tasks.
///
/// # Errors
/// A [`DataDirError`] naming the directory and the problem.
pub fn open_data_dir(
    dir: &Path,
    sync: durable::Sync,
    kms: &crate::kms::Kms,
) -> std::result::Result<Opened, DataDirError> {
    let d = durable::DataDir::open(dir, sync)?;
    let key_db = durable::KeyDb::new(d.kms);
    let image = key_db.load()?;
    kms.restore(&image).map_err(|e| {
        DataDirError(format!(
            "{}: {e}; the data directory is left as it is",
            durable::KMS_DB
        ))
    })?;
    let img = durable::load_sqs(&d.sqs)?;
    let clock_offset = img
        .meta
        .get(META_CLOCK)
        .and_then(|v| u64::try_from(*v).ok())
        .unwrap_or(0);
    let max_data_key = img.data_keys.keys().copied().max().unwrap_or(0);
    let written: std::collections::HashSet<u64> = img.data_keys.keys().copied().collect();
    let move_tasks = img.move_tasks.clone();
    let journal = Journal::start(d.sqs, written);
    let store = Store::durable(journal, d.lock);
    let queues = store.restore(img)?;
    Ok(Opened {
        store,
        key_db,
        clock_offset,
        max_data_key,
        move_tasks,
        queues,
    })
}

/// A data directory opened by [`open_data_dir`].
#[derive(Debug)]
pub struct Opened {
    /// The store, journal running.
    pub store: Store,
    /// The key database (attach it to the KMS model).
    pub key_db: durable::KeyDb,
    /// The virtual clock's saved offset.
    pub clock_offset: u64,
    /// The largest data-key id stored.
    pub max_data_key: u64,
    /// Stored move tasks: handle, encoded task.
    pub move_tasks: Vec<(String, Vec<u8>)>,
    /// How many queues were restored.
    pub queues: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{SealedDataKey, SseKind};

    fn message(body: Body, extra: Option<Box<MessageExtra>>) -> Message {
        Message {
            serial: 7,
            id: 0x1234_5678,
            body,
            md5_of_body: [9; 16],
            sent_ms: 1_000,
            first_receive_ms: 2_000,
            receive_count: 3,
            state: MsgState::InFlight {
                until: 5_000,
                received_ms: 2_500,
                seq: 11,
            },
            sender_id: Arc::from("AKID"),
            extra,
        }
    }

    #[test]
    fn a_message_row_reads_back_as_the_message_it_was_made_from() {
        let key = Arc::new(SealedDataKey {
            id: 42,
            kind: SseKind::Kms,
            key_arn: Arc::from("arn:aws:kms:us-east-1:0:key/k"),
            encrypted_data_key: Box::new([1, 2, 3]),
            queue_arn: Arc::from("arn:aws:sqs:us-east-1:0:q"),
        });
        let sealed = Body::Sealed(Box::new(Envelope {
            data_key: key.clone(),
            nonce: [4; 12],
            tag: [5; 16],
            sealed_for: 99,
            ciphertext: Box::new([6, 7, 8]),
        }));
        let extra = MessageExtra {
            attributes: vec![(
                "a".into(),
                MessageAttributeValue {
                    data_type: "Binary".into(),
                    string_value: None,
                    binary_value: Some(vec![0, 255]),
                    has_list_values: false,
                },
            )],
            trace_header: Some("t".into()),
            group_id: Some("g".into()),
            dead_letter_source_arn: Some(Arc::from("arn:src")),
            dedup_id: Some("d".into()),
            sequence_number: Some(10_000_000_000_000_000_001),
        };
        let keys = HashMap::from([(42, key)]);
        for m in [
            message(sealed, Some(Box::new(extra))),
            message(Body::Plain("héllo".into()), None),
        ] {
            let row = message_row(3, 5, &m);
            assert_eq!(durable::split_key(row.key), (3, 7));
            let back = message_of(7, row, &keys).unwrap();
            assert_eq!(format!("{back:?}"), format!("{m:?}"));
        }
    }

    #[test]
    fn queue_attributes_and_tags_read_back() {
        let q = Queue::new(
            "q.fifo".into(),
            "0".into(),
            "arn".into(),
            1,
            0,
            QueueAttributes::new(true),
        );
        let mut s = q.lock();
        s.attrs
            .set_all(
                &[
                    ("KmsMasterKeyId".into(), "alias/x".into()),
                    ("VisibilityTimeout".into(), "45".into()),
                    ("ContentBasedDeduplication".into(), "true".into()),
                ],
                false,
            )
            .unwrap();
        s.tags.insert("k".into(), "v".into());
        let row = queue_row(&q, &s);
        assert_eq!(attributes_of(&row.attributes).unwrap(), s.attrs);
        assert_eq!(tags_of(&row.tags).unwrap(), s.tags);
    }
}
