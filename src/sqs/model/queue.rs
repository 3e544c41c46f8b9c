//! One queue: its attributes, tags and messages, and the state machine of
//! delays, visibility and retention.
//!
//! Each queue guards its state with its own std `Mutex`, never held across an
//! `.await`; long polls wait on the queue's `Notify`. All work is O(messages
//! touched), never O(depth): visible messages wait in a FIFO deque, delayed
//! and in-flight ones in min-heaps keyed by the time they become visible.
//! Heap and deque entries are not removed when a message is deleted; they go
//! stale (their serial or state no longer matches) and are skipped, and a
//! heap is rebuilt when stale entries outnumber live ones. Expired messages
//! are dropped when met on receive, by a small sweep on every send, and by a
//! full sweep when counts are read, so nobody ever sees one.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use slab::Slab;
use tokio::sync::Notify;

use super::attributes::QueueAttributes;
use super::message::{Message, MessageExtra, MsgState, ReceiptHandle};
use crate::crypto::Body;
use crate::error::{Error, Result};
use crate::limits::{MAX_INFLIGHT_FIFO, MAX_INFLIGHT_STANDARD, MAX_VISIBILITY_TIMEOUT};

/// How long a FIFO deduplication id is remembered (AWS: 5 minutes).
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// First FIFO sequence number: AWS's are 20-digit decimal numbers.
const FIRST_SEQUENCE_NUMBER: u128 = 10_000_000_000_000_000_000;

/// What a FIFO send stored, or found already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FifoSent {
    /// MessageId (of the first message with this deduplication key).
    pub id: u128,
    /// SequenceNumber.
    pub sequence_number: u128,
    /// Whether the message was a duplicate (accepted, not stored).
    pub duplicate: bool,
    /// Whether a long poll should be woken.
    pub visible: bool,
}

/// A change to a queue's durable state, recorded while the queue is
/// journaled (with a data directory) and drained by `store` under the
/// queue's lock, so the journal sees changes in the order they happened.
/// Changes that follow from time alone (a delay or visibility timeout
/// running out) are not recorded: a restore works them out again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Attributes, tags or purge time changed.
    Meta,
    /// A message was stored in `slot`.
    Put {
        /// Slab slot.
        slot: u32,
        /// Serial.
        serial: u64,
    },
    /// A message's state or receive count changed.
    State {
        /// Slab slot.
        slot: u32,
        /// Serial.
        serial: u64,
    },
    /// A message left the queue (deleted, expired, moved).
    Remove {
        /// Serial.
        serial: u64,
    },
    /// Every message was deleted.
    Purge,
    /// FIFO: a deduplication key was remembered.
    Dedup {
        /// The key.
        key: String,
        /// MessageId of the first message with it.
        id: u128,
        /// Its SequenceNumber.
        sequence: u128,
        /// When it is forgotten (epoch ms).
        expires: u64,
    },
    /// The queue was deleted.
    Drop,
}

/// A queue's durable state read back from a data directory.
#[derive(Debug)]
pub struct Restored {
    /// Attributes.
    pub attrs: QueueAttributes,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// LastModifiedTimestamp, epoch seconds.
    pub last_modified_s: u64,
    /// When the last PurgeQueue started, epoch ms.
    pub last_purge_ms: Option<u64>,
    /// Messages with the slots they had (receipt handles name slots).
    pub messages: Vec<(usize, Message)>,
    /// FIFO deduplication entries: (key, MessageId, SequenceNumber, expiry ms).
    pub dedup: Vec<(String, u128, u128, u64)>,
    /// Next serial, receive sequence and FIFO SequenceNumber.
    pub counters: Counters,
}

/// The numbering a queue continues after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Next message serial.
    pub next_serial: u64,
    /// Next receive sequence (part of receipt handles).
    pub next_seq: u32,
    /// Next FIFO SequenceNumber.
    pub next_sequence: u128,
}

/// A queue in the registry.
#[derive(Debug)]
pub struct Queue {
    /// Queue name.
    pub name: String,
    /// Owner account.
    pub account_id: String,
    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    pub arn: String,
    /// Unique id of this queue instance (a queue recreated under the same
    /// name gets a new one, so old receipt handles stop working).
    pub uid: u64,
    /// CreatedTimestamp, epoch seconds.
    pub created_s: u64,
    state: Mutex<QueueState>,
    /// Woken when messages become visible, and when the queue is deleted.
    pub notify: Notify,
    deleted: AtomicBool,
}

/// What a sender hands to [`Queue::send`].
#[derive(Debug)]
pub struct NewMessage {
    /// Message id.
    pub id: u128,
    /// Body: plaintext, or sealed on an encrypted queue.
    pub body: Body,
    /// MD5 of the body (of its plaintext).
    pub md5_of_body: [u8; 16],
    /// Delay in seconds (already validated).
    pub delay_seconds: u64,
    /// SenderId.
    pub sender_id: Arc<str>,
    /// Attributes and trace header.
    pub extra: Option<Box<MessageExtra>>,
}

/// A message as handed out by a receive: a copy taken under the lock.
#[derive(Debug)]
pub struct Delivery {
    /// Message id.
    pub id: u128,
    /// Receipt handle of this receive.
    pub handle: ReceiptHandle,
    /// Body as stored (an envelope is opened by the caller, outside the lock).
    pub body: Body,
    /// MD5 of the body.
    pub md5_of_body: [u8; 16],
    /// SentTimestamp.
    pub sent_ms: u64,
    /// ApproximateFirstReceiveTimestamp.
    pub first_receive_ms: u64,
    /// ApproximateReceiveCount.
    pub receive_count: u32,
    /// SenderId.
    pub sender_id: Arc<str>,
    /// Attributes and trace header.
    pub extra: Option<Box<MessageExtra>>,
}

/// ApproximateNumberOfMessages*, read together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Visible.
    pub visible: u64,
    /// In flight.
    pub not_visible: u64,
    /// Delayed.
    pub delayed: u64,
}

/// Mutable state of a queue, behind its mutex.
#[derive(Debug)]
pub struct QueueState {
    /// Attributes.
    pub attrs: QueueAttributes,
    /// LastModifiedTimestamp, epoch seconds.
    pub last_modified_s: u64,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// When the last PurgeQueue started, epoch ms.
    pub last_purge_ms: Option<u64>,
    msgs: Slab<Message>,
    ready: VecDeque<(u32, u64)>,
    delayed: BinaryHeap<Reverse<(u64, u64, u32)>>,
    inflight: BinaryHeap<Reverse<(u64, u64, u32, u32)>>,
    counts: Counts,
    /// FIFO: visible messages by serial (send order), so that a message
    /// coming back from in flight takes its place again. Standard queues use
    /// `ready`.
    fifo_ready: BTreeMap<u64, u32>,
    /// FIFO: `ReceiveRequestAttemptId` -> (expiry ms, handles it returned).
    attempts: HashMap<String, (u64, Vec<ReceiptHandle>)>,
    /// FIFO: serials of the in-flight messages of each message group. A
    /// group delivers its visible messages that come before its first
    /// in-flight one (AWS recorded: extending the second of three in-flight
    /// messages lets the first come back when its timeout passes).
    inflight_groups: HashMap<String, BTreeSet<u64>>,
    /// FIFO deduplication: key -> (MessageId, SequenceNumber, expiry ms).
    dedup: HashMap<String, (u128, u128, u64)>,
    /// Keys of `dedup` in expiry order.
    dedup_expiry: VecDeque<(u64, String)>,
    /// Next FIFO sequence number.
    next_sequence: u128,
    next_serial: u64,
    next_seq: u32,
    sweep_cursor: usize,
    /// Changes not yet handed to the journal; `None` when the queue is not
    /// journaled (no data directory), so memory-only servers pay nothing.
    journal: Option<Vec<Change>>,
}

/// Region, account and name of a queue ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
pub fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("sqs"), Some(region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((region, account, name))
}

impl Queue {
    /// The region that holds the queue (from its ARN).
    pub fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or_default()
    }

    /// A new, empty queue.
    pub fn new(
        name: String,
        account_id: String,
        arn: String,
        uid: u64,
        now_ms: u64,
        attrs: QueueAttributes,
    ) -> Self {
        let created_s = now_ms / 1000;
        Self {
            name,
            account_id,
            arn,
            uid,
            created_s,
            state: Mutex::new(QueueState {
                attrs,
                last_modified_s: created_s,
                tags: BTreeMap::new(),
                last_purge_ms: None,
                msgs: Slab::new(),
                ready: VecDeque::new(),
                delayed: BinaryHeap::new(),
                inflight: BinaryHeap::new(),
                counts: Counts::default(),
                fifo_ready: BTreeMap::new(),
                inflight_groups: HashMap::new(),
                attempts: HashMap::new(),
                dedup: HashMap::new(),
                dedup_expiry: VecDeque::new(),
                next_sequence: FIRST_SEQUENCE_NUMBER,
                next_serial: 1,
                next_seq: 1,
                sweep_cursor: 0,
                journal: None,
            }),
            notify: Notify::new(),
            deleted: AtomicBool::new(false),
        }
    }

    /// Locks the queue's state. A poisoned lock (a panic while held) is
    /// recovered: every mutation leaves the state consistent between steps.
    pub fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A queue rebuilt from its durable state at `now_ms`: messages keep
    /// their slots, serials and states, so receipt handles given out before
    /// a restart still work.
    pub fn restore(
        name: String,
        account_id: String,
        arn: String,
        uid: u64,
        created_s: u64,
        r: Restored,
    ) -> Self {
        let mut q = Self::new(name, account_id, arn, uid, created_s * 1000, r.attrs);
        let s = q
            .state
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.tags = r.tags;
        s.last_modified_s = r.last_modified_s;
        s.last_purge_ms = r.last_purge_ms;
        s.next_serial = r.counters.next_serial.max(1);
        s.next_seq = r.counters.next_seq;
        s.next_sequence = r.counters.next_sequence.max(FIRST_SEQUENCE_NUMBER);
        let mut order: Vec<(u64, u32)> = Vec::with_capacity(r.messages.len());
        for (slot, m) in &r.messages {
            order.push((m.serial, u32::try_from(*slot).unwrap_or(u32::MAX)));
            s.next_serial = s.next_serial.max(m.serial + 1);
            if let Some(seq) = m.extra.as_ref().and_then(|e| e.sequence_number) {
                s.next_sequence = s.next_sequence.max(seq + 1);
            }
        }
        s.msgs = r.messages.into_iter().collect();
        order.sort_unstable();
        for (serial, slot) in order {
            let state = s.msgs[slot as usize].state;
            match state {
                MsgState::Visible => {
                    s.counts.visible += 1;
                    s.make_ready(slot, serial, false);
                }
                MsgState::Delayed { until } => {
                    s.counts.delayed += 1;
                    s.delayed.push(Reverse((until, serial, slot)));
                }
                MsgState::InFlight { until, seq, .. } => {
                    s.counts.not_visible += 1;
                    s.inflight.push(Reverse((until, serial, slot, seq)));
                    if s.attrs.fifo_queue {
                        let group = QueueState::group_of(&s.msgs[slot as usize]).to_owned();
                        s.inflight_groups.entry(group).or_default().insert(serial);
                    }
                }
            }
        }
        let mut dedup = r.dedup;
        dedup.sort_by_key(|d| d.3);
        for (key, id, sequence, expires) in dedup {
            s.next_sequence = s.next_sequence.max(sequence + 1);
            s.dedup_expiry.push_back((expires, key.clone()));
            s.dedup.insert(key, (id, sequence, expires));
        }
        q
    }

    /// Marks the queue deleted and releases its long polls.
    pub fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Whether DeleteQueue removed this queue.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}

impl QueueState {
    /// Starts recording [`Change`]s (the queue lives in a data directory);
    /// a new queue's first change is its creation.
    pub fn start_journal(&mut self) {
        self.journal = Some(vec![Change::Meta]);
    }

    /// Records a change, when journaled.
    pub fn note(&mut self, change: Change) {
        if let Some(j) = self.journal.as_mut() {
            j.push(change);
        }
    }

    /// The changes recorded since the last call (empty when not journaled).
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.journal.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Whether changes are recorded.
    pub fn journaled(&self) -> bool {
        self.journal.is_some()
    }

    /// The message in `slot` if it still has `serial`.
    pub fn message(&self, slot: u32, serial: u64) -> Option<&Message> {
        self.msgs.get(slot as usize).filter(|m| m.serial == serial)
    }

    /// The numbering the queue continues with.
    pub fn counters(&self) -> Counters {
        Counters {
            next_serial: self.next_serial,
            next_seq: self.next_seq,
            next_sequence: self.next_sequence,
        }
    }

    fn retention_ms(&self) -> u64 {
        self.attrs.message_retention_period * 1000
    }

    fn expired(&self, m: &Message, now: u64) -> bool {
        now >= m.sent_ms.saturating_add(self.retention_ms())
    }

    /// Removes the message in `slot`, keeping the counters right.
    fn remove(&mut self, slot: usize) -> Message {
        let m = self.msgs.remove(slot);
        self.note(Change::Remove { serial: m.serial });
        match m.state {
            MsgState::Delayed { .. } => self.counts.delayed -= 1,
            MsgState::Visible => self.counts.visible -= 1,
            MsgState::InFlight { .. } => {
                self.counts.not_visible -= 1;
                self.group_left_flight(&m);
            }
        }
        m
    }

    /// FIFO: message `serial` of `group` is no longer in flight.
    fn release_group(&mut self, group: &str, serial: u64) {
        if let Some(set) = self.inflight_groups.get_mut(group) {
            set.remove(&serial);
            if set.is_empty() {
                self.inflight_groups.remove(group);
            }
        }
    }

    /// FIFO: one message of `m`'s group is no longer in flight.
    fn group_left_flight(&mut self, m: &Message) {
        if !self.attrs.fifo_queue {
            return;
        }
        let group = Self::group_of(m).to_owned();
        self.release_group(&group, m.serial);
    }

    /// Moves delayed and in-flight messages whose time has come to visible.
    pub fn refresh(&mut self, now: u64) {
        while let Some(&Reverse((due, serial, slot))) = self.delayed.peek() {
            if due > now {
                break;
            }
            self.delayed.pop();
            if let Some(m) = self.msgs.get_mut(slot as usize)
                && m.serial == serial
                && m.state == (MsgState::Delayed { until: due })
            {
                m.state = MsgState::Visible;
                self.counts.delayed -= 1;
                self.counts.visible += 1;
                self.make_ready(slot, serial, false);
            }
        }
        while let Some(&Reverse((until, serial, slot, seq))) = self.inflight.peek() {
            if until > now {
                break;
            }
            self.inflight.pop();
            if let Some(m) = self.msgs.get_mut(slot as usize)
                && m.serial == serial
                && matches!(m.state, MsgState::InFlight { until: u, seq: s, .. } if u == until && s == seq)
            {
                m.state = MsgState::Visible;
                self.counts.not_visible -= 1;
                self.counts.visible += 1;
                if self.attrs.fifo_queue {
                    let m = &self.msgs[slot as usize];
                    let group = Self::group_of(m).to_owned();
                    self.release_group(&group, serial);
                }
                self.make_ready(slot, serial, false);
            }
        }
    }

    /// When the next delayed or in-flight message may become visible.
    pub fn next_due(&self) -> Option<u64> {
        let d = self.delayed.peek().map(|r| r.0.0);
        let i = self.inflight.peek().map(|r| r.0.0);
        match (d, i) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Stores a message; returns whether it is visible at once (so a long
    /// poll should be woken).
    pub fn send(&mut self, now: u64, new: NewMessage) -> bool {
        self.sweep(now, 2);
        let serial = self.next_serial;
        self.next_serial += 1;
        let state = if new.delay_seconds == 0 {
            MsgState::Visible
        } else {
            MsgState::Delayed {
                until: now + new.delay_seconds * 1000,
            }
        };
        let slot = self.msgs.insert(Message {
            serial,
            id: new.id,
            body: new.body,
            md5_of_body: new.md5_of_body,
            sent_ms: now,
            first_receive_ms: 0,
            receive_count: 0,
            state,
            sender_id: new.sender_id,
            extra: new.extra,
        });
        let slot32 = u32::try_from(slot).unwrap_or(u32::MAX);
        self.note(Change::Put { slot: slot32, serial });
        match state {
            MsgState::Visible => {
                self.counts.visible += 1;
                self.make_ready(slot32, serial, false);
                true
            }
            MsgState::Delayed { until } => {
                self.counts.delayed += 1;
                self.delayed.push(Reverse((until, serial, slot32)));
                false
            }
            MsgState::InFlight { .. } => false,
        }
    }

    /// Takes up to `max` visible messages and makes them invisible for
    /// `visibility_s` seconds.
    ///
    /// # Errors
    /// `OverLimit` when the queue already has the most in-flight messages AWS allows.
    pub fn receive(
        &mut self,
        now: u64,
        max: usize,
        visibility_s: u64,
        queue_uid: u64,
    ) -> Result<Vec<Delivery>> {
        self.receive_or_dead_letter(now, max, visibility_s, queue_uid, None, &mut Vec::new())
    }

    /// [`Self::receive`], with a redrive policy: a message already received
    /// `max_receive_count` times is not delivered but taken out into
    /// `dead_letters` (for the caller to hand to the dead-letter queue), as
    /// AWS moves it at receive time.
    ///
    /// # Errors
    /// As [`Self::receive`].
    pub fn receive_or_dead_letter(
        &mut self,
        now: u64,
        max: usize,
        visibility_s: u64,
        queue_uid: u64,
        max_receive_count: Option<u32>,
        dead_letters: &mut Vec<Message>,
    ) -> Result<Vec<Delivery>> {
        self.refresh(now);
        if self.attrs.fifo_queue {
            if self.counts.not_visible as usize >= MAX_INFLIGHT_FIFO {
                return Err(Error::OverLimit(
                    "Too many messages in flight on this queue (20,000 is the limit for FIFO queues).".into(),
                ));
            }
            return Ok(self.receive_fifo(now, max, visibility_s, queue_uid, max_receive_count, dead_letters));
        }
        let mut out = Vec::new();
        while out.len() < max {
            if self.counts.not_visible as usize >= MAX_INFLIGHT_STANDARD {
                if out.is_empty() {
                    return Err(Error::OverLimit(
                        "Too many messages in flight on this queue (120,000 is the limit for standard queues).".into(),
                    ));
                }
                break;
            }
            let Some((slot, serial)) = self.ready.pop_front() else {
                break;
            };
            let live = self
                .msgs
                .get(slot as usize)
                .is_some_and(|m| m.serial == serial && m.state == MsgState::Visible);
            if !live {
                continue;
            }
            if self.expired(&self.msgs[slot as usize], now) {
                self.remove(slot as usize);
                continue;
            }
            if max_receive_count.is_some_and(|max| self.msgs[slot as usize].receive_count >= max) {
                dead_letters.push(self.remove(slot as usize));
                continue;
            }
            out.push(self.deliver(now, slot, serial, visibility_s, queue_uid));
        }
        self.compact();
        Ok(out)
    }

    /// Makes the visible message in `slot` in flight for `visibility_s`
    /// seconds and copies it out.
    fn deliver(&mut self, now: u64, slot: u32, serial: u64, visibility_s: u64, queue_uid: u64) -> Delivery {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let until = now + visibility_s * 1000;
        let m = &mut self.msgs[slot as usize];
        if m.receive_count == 0 {
            m.first_receive_ms = now;
        }
        m.receive_count += 1;
        m.state = MsgState::InFlight {
            until,
            received_ms: now,
            seq,
        };
        let d = Delivery {
            id: m.id,
            handle: ReceiptHandle {
                queue_uid,
                slot,
                serial,
                seq,
            },
            body: m.body.clone(),
            md5_of_body: m.md5_of_body,
            sent_ms: m.sent_ms,
            first_receive_ms: m.first_receive_ms,
            receive_count: m.receive_count,
            sender_id: m.sender_id.clone(),
            extra: m.extra.clone(),
        };
        self.counts.visible -= 1;
        self.counts.not_visible += 1;
        self.note(Change::State { slot, serial });
        self.inflight.push(Reverse((until, serial, slot, seq)));
        if self.attrs.fifo_queue {
            let group = Self::group_of(&self.msgs[slot as usize]).to_owned();
            self.inflight_groups.entry(group).or_default().insert(serial);
        }
        d
    }

    /// FIFO: the messages a receive with `attempt_id` returned in the last 5
    /// minutes, with the same receipt handles, when some of them are still
    /// in flight under those handles (AWS returns the same messages to a
    /// retried attempt).
    pub fn retry_attempt(&mut self, now: u64, attempt_id: &str) -> Option<Vec<Delivery>> {
        let (expires, handles) = self.attempts.get(attempt_id)?;
        if *expires <= now {
            self.attempts.remove(attempt_id);
            return None;
        }
        let out: Vec<Delivery> = handles
            .iter()
            .filter_map(|h| {
                let m = self.msgs.get(h.slot as usize)?;
                let live = m.serial == h.serial
                    && matches!(m.state, MsgState::InFlight { seq, until, .. } if seq == h.seq && until > now);
                live.then(|| Delivery {
                    id: m.id,
                    handle: *h,
                    body: m.body.clone(),
                    md5_of_body: m.md5_of_body,
                    sent_ms: m.sent_ms,
                    first_receive_ms: m.first_receive_ms,
                    receive_count: m.receive_count,
                    sender_id: m.sender_id.clone(),
                    extra: m.extra.clone(),
                })
            })
            .collect();
        (!out.is_empty()).then_some(out)
    }

    /// FIFO: remembers what a receive with `attempt_id` returned, for 5
    /// minutes.
    pub fn remember_attempt(&mut self, now: u64, attempt_id: String, handles: Vec<ReceiptHandle>) {
        self.attempts.retain(|_, (expires, _)| *expires > now);
        self.attempts.insert(attempt_id, (now + DEDUP_WINDOW_MS, handles));
    }

    /// Queues a visible message for delivery: at the back (or, for a
    /// message made visible again at once, the front) of `ready`, or in
    /// send order for FIFO queues.
    fn make_ready(&mut self, slot: u32, serial: u64, front: bool) {
        if self.attrs.fifo_queue {
            self.fifo_ready.insert(serial, slot);
        } else if front {
            self.ready.push_front((slot, serial));
        } else {
            self.ready.push_back((slot, serial));
        }
    }

    /// The message group of a stored message.
    fn group_of(m: &Message) -> &str {
        m.extra
            .as_ref()
            .and_then(|e| e.group_id.as_deref())
            .unwrap_or_default()
    }

    /// FIFO receive: messages in send order within each group; a group
    /// delivers only the visible messages sent before its first in-flight
    /// one, so a group whose oldest message is in flight delivers nothing
    /// more until it is deleted or visible again, while other groups keep
    /// flowing. Costs the messages returned plus those of blocked groups
    /// ahead of them.
    fn receive_fifo(
        &mut self,
        now: u64,
        max: usize,
        visibility_s: u64,
        queue_uid: u64,
        max_receive_count: Option<u32>,
        dead_letters: &mut Vec<Message>,
    ) -> Vec<Delivery> {
        let mut picked = Vec::new();
        let mut stale = Vec::new();
        for (&serial, &slot) in &self.fifo_ready {
            if picked.len() >= max {
                break;
            }
            match self.msgs.get(slot as usize) {
                Some(m) if m.serial == serial && m.state == MsgState::Visible => {
                    let first_in_flight = self
                        .inflight_groups
                        .get(Self::group_of(m))
                        .and_then(|set| set.first().copied());
                    if first_in_flight.is_none_or(|f| f > serial) {
                        picked.push((serial, slot));
                    }
                }
                _ => stale.push(serial),
            }
        }
        for serial in stale {
            self.fifo_ready.remove(&serial);
        }
        let mut out = Vec::new();
        for (serial, slot) in picked {
            self.fifo_ready.remove(&serial);
            if self.expired(&self.msgs[slot as usize], now) {
                self.remove(slot as usize);
                continue;
            }
            if max_receive_count.is_some_and(|max| self.msgs[slot as usize].receive_count >= max) {
                dead_letters.push(self.remove(slot as usize));
                continue;
            }
            out.push(self.deliver(now, slot, serial, visibility_s, queue_uid));
        }
        out
    }

    /// Deletes the message `handle` was issued for, as DeleteMessage does:
    /// on a FIFO queue a handle whose receive is over (its visibility
    /// timeout ran out, or the message was received again) is refused, as
    /// AWS answers; a standard queue takes it, and a message already gone
    /// is no error on either.
    ///
    /// # Errors
    /// `InvalidParameterValue` "…The receipt handle has expired." (FIFO).
    pub fn delete_received(&mut self, now: u64, handle: &ReceiptHandle, raw: &str) -> Result<()> {
        if self.attrs.fifo_queue {
            self.refresh(now);
            let expired = self
                .message(handle.slot, handle.serial)
                .is_some_and(|m| !matches!(m.state, MsgState::InFlight { seq, .. } if seq == handle.seq));
            if expired {
                return Err(Error::invalid_value(
                    "ReceiptHandle",
                    raw,
                    "The receipt handle has expired.",
                ));
            }
        }
        self.delete(handle);
        Ok(())
    }

    /// Deletes the message of `handle` if it is still there.
    pub fn delete(&mut self, handle: &ReceiptHandle) {
        let slot = handle.slot as usize;
        if self.msgs.get(slot).is_some_and(|m| m.serial == handle.serial) {
            self.remove(slot);
        }
        self.compact();
    }

    /// Changes the visibility timeout of an in-flight message to `timeout_s`
    /// seconds from now; 0 makes it visible at once (returns true then).
    ///
    /// # Errors
    /// `InvalidParameterValue` when the message is gone or not in flight, or
    /// when the change would keep it invisible more than 12 hours after the
    /// receive.
    pub fn change_visibility(
        &mut self,
        now: u64,
        handle: &ReceiptHandle,
        raw: &str,
        timeout_s: u64,
    ) -> Result<bool> {
        self.refresh(now);
        let slot = handle.slot as usize;
        let not_available = || {
            Error::invalid_value(
                "ReceiptHandle",
                raw,
                "Message does not exist or is not available for visibility timeout change.",
            )
        };
        let m = self
            .msgs
            .get_mut(slot)
            .filter(|m| m.serial == handle.serial)
            .ok_or_else(not_available)?;
        // AWS accepts a change on a standard-queue message whose visibility
        // timeout already ran out: it becomes invisible again from now.
        // The receive keeps its id (`seq`), so its receipt handle stays the
        // current one (a FIFO delete checks it); the heap entry of the old
        // timeout goes stale by its `until`.
        let (received_ms, seq) = match m.state {
            MsgState::InFlight { received_ms, seq, .. } => (received_ms, seq),
            MsgState::Visible => (now, handle.seq),
            MsgState::Delayed { .. } => return Err(not_available()),
        };
        let was_visible = m.state == MsgState::Visible;
        let until = now + timeout_s * 1000;
        if until.saturating_sub(received_ms) > MAX_VISIBILITY_TIMEOUT * 1000 {
            return Err(Error::invalid_value(
                "VisibilityTimeout",
                timeout_s,
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            ));
        }
        if timeout_s == 0 {
            if !was_visible {
                m.state = MsgState::Visible;
                self.counts.not_visible -= 1;
                self.counts.visible += 1;
                if self.attrs.fifo_queue {
                    let group = Self::group_of(&self.msgs[slot]).to_owned();
                    self.release_group(&group, handle.serial);
                }
                self.make_ready(handle.slot, handle.serial, true);
                self.note(Change::State {
                    slot: handle.slot,
                    serial: handle.serial,
                });
            }
            return Ok(true);
        }
        if was_visible {
            // Its entry in `ready` goes stale; receive skips it.
            self.counts.visible -= 1;
            self.counts.not_visible += 1;
        }
        m.state = MsgState::InFlight {
            until,
            received_ms,
            seq,
        };
        self.inflight
            .push(Reverse((until, handle.serial, handle.slot, seq)));
        self.note(Change::State {
            slot: handle.slot,
            serial: handle.serial,
        });
        Ok(false)
    }

    /// Deletes every message.
    pub fn purge(&mut self, now: u64) {
        self.msgs.clear();
        self.ready.clear();
        self.fifo_ready.clear();
        self.inflight_groups.clear();
        self.delayed.clear();
        self.inflight.clear();
        self.counts = Counts::default();
        self.sweep_cursor = 0;
        self.last_purge_ms = Some(now);
        self.note(Change::Purge);
        self.note(Change::Meta);
    }

    /// Takes in a message dead-lettered from the queue `source_arn`: visible
    /// at once, with its id, body (an envelope stays byte for byte the same),
    /// digests, sender, attributes, receive count and original send time (so
    /// retention counts from the first enqueue, as AWS does for standard
    /// queues), and `DeadLetterQueueSourceArn`.
    pub fn adopt(&mut self, now: u64, mut m: Message, source_arn: Arc<str>) {
        if self.attrs.fifo_queue {
            // AWS: moving to a FIFO dead-letter queue resets the retention
            // period, and the deduplication id becomes the message id (so two
            // messages that shared one are both kept).
            m.sent_ms = now;
            if let Some(extra) = m.extra.as_mut() {
                extra.dedup_id = Some(uuid::Uuid::from_u128(m.id).to_string());
            }
        }
        m.extra
            .get_or_insert_with(|| {
                Box::new(MessageExtra {
                    attributes: Vec::new(),
                    trace_header: None,
                    group_id: None,
                    dead_letter_source_arn: None,
                    dedup_id: None,
                    sequence_number: None,
                })
            })
            .dead_letter_source_arn = Some(source_arn);
        self.put_back(m);
    }

    /// Sends to a FIFO queue: a message whose deduplication key (or, per
    /// group, its id under the queue scope) was seen in the last 5 minutes
    /// is accepted but not stored, and the first one's
    /// MessageId and SequenceNumber are returned; otherwise the message gets
    /// the next sequence number and is stored.
    pub fn send_fifo(&mut self, now: u64, mut new: NewMessage, dedup_key: String) -> FifoSent {
        while let Some((expires, _)) = self.dedup_expiry.front() {
            if *expires > now {
                break;
            }
            if let Some((expires, key)) = self.dedup_expiry.pop_front()
                && self.dedup.get(&key).is_some_and(|e| e.2 == expires)
            {
                self.dedup.remove(&key);
            }
        }
        // A per-group key is `GROUP\0ID`; an id deduplicated while the
        // scope was the queue (key `ID`) stays deduplicated for its 5
        // minutes in every group after the scope changes (AWS recorded).
        let seen = self
            .dedup
            .get(&dedup_key)
            .or_else(|| dedup_key.split_once('\0').and_then(|(_, id)| self.dedup.get(id)));
        if let Some(&(id, sequence_number, _)) = seen {
            return FifoSent {
                id,
                sequence_number,
                duplicate: true,
                visible: false,
            };
        }
        let sequence_number = self.next_sequence;
        self.next_sequence += 1;
        if let Some(extra) = new.extra.as_mut() {
            extra.sequence_number = Some(sequence_number);
        }
        let id = new.id;
        let expires = now + DEDUP_WINDOW_MS;
        self.dedup
            .insert(dedup_key.clone(), (id, sequence_number, expires));
        self.note(Change::Dedup {
            key: dedup_key.clone(),
            id,
            sequence: sequence_number,
            expires,
        });
        self.dedup_expiry.push_back((expires, dedup_key));
        let visible = self.send(now, new);
        FifoSent {
            id,
            sequence_number,
            duplicate: false,
            visible,
        }
    }

    /// Takes up to `n` visible messages out of the queue, oldest first (for
    /// a message move task).
    pub fn take_visible(&mut self, now: u64, n: usize) -> Vec<Message> {
        self.refresh(now);
        let mut out = Vec::new();
        while out.len() < n {
            let next = if self.attrs.fifo_queue {
                self.fifo_ready.pop_first().map(|(serial, slot)| (slot, serial))
            } else {
                self.ready.pop_front()
            };
            let Some((slot, serial)) = next else {
                break;
            };
            let live = self
                .msgs
                .get(slot as usize)
                .is_some_and(|m| m.serial == serial && m.state == MsgState::Visible);
            if !live {
                continue;
            }
            let expired = self.expired(&self.msgs[slot as usize], now);
            let m = self.remove(slot as usize);
            if !expired {
                out.push(m);
            }
        }
        self.compact();
        out
    }

    /// Takes in a message moved by a move task as a new delivery: a new
    /// MessageId, visible, sent now (retention starts again), never
    /// received, without `DeadLetterQueueSourceArn`; its attributes, digests
    /// and stored body (an envelope byte for byte, which records the id it
    /// was sealed for) are kept.
    pub fn redeliver(&mut self, now: u64, mut m: Message) {
        m.id = uuid::Uuid::new_v4().as_u128();
        m.sent_ms = now;
        m.receive_count = 0;
        m.first_receive_ms = 0;
        if let Some(extra) = m.extra.as_mut() {
            extra.dead_letter_source_arn = None;
        }
        self.put_back(m);
    }

    /// Stores a message taken out of a queue (by [`Self::take_visible`] or a
    /// move) as it is, visible at once, behind the messages already there.
    pub fn put_back(&mut self, mut m: Message) {
        let serial = self.next_serial;
        self.next_serial += 1;
        m.serial = serial;
        m.state = MsgState::Visible;
        let slot = u32::try_from(self.msgs.insert(m)).unwrap_or(u32::MAX);
        self.counts.visible += 1;
        self.note(Change::Put { slot, serial });
        self.make_ready(slot, serial, false);
    }

    /// Visible messages now.
    pub fn visible_count(&mut self, now: u64) -> u64 {
        self.refresh(now);
        self.counts.visible
    }

    /// One step of a scan of the stored messages that holds the queue's
    /// lock only briefly: shows `visit` each message in the `chunk` slots
    /// from `from` (with its slot), and returns where the next step starts,
    /// or `None` when the whole queue has been seen. The caller releases the
    /// lock between steps (the admin's envelope view) and reads what it
    /// chose with [`Self::stored_at`]; messages that move meanwhile may be
    /// seen twice or not at all.
    pub fn scan_step(
        &mut self,
        now: u64,
        from: usize,
        chunk: usize,
        visit: &mut dyn FnMut(usize, &Message),
    ) -> Option<usize> {
        if from == 0 {
            self.refresh(now);
        }
        let end = (from + chunk).min(self.msgs.capacity());
        for slot in from..end {
            if let Some(m) = self.msgs.get(slot) {
                visit(slot, m);
            }
        }
        (end < self.msgs.capacity()).then_some(end)
    }

    /// The message in `slot` if it is still the one with `serial`.
    pub fn stored_at(&self, slot: usize, serial: u64) -> Option<&Message> {
        self.msgs.get(slot).filter(|m| m.serial == serial)
    }

    /// Counts at `now` without looking for expired messages first, so it
    /// costs only the messages coming due (a message past its retention
    /// period is counted until it is dropped). For metrics scrapes.
    pub fn approximate_counts(&mut self, now: u64) -> Counts {
        self.refresh(now);
        self.counts
    }

    /// Exact counts at `now` (drops expired messages first).
    pub fn counts(&mut self, now: u64) -> Counts {
        self.refresh(now);
        self.sweep(now, self.msgs.capacity());
        self.counts
    }

    /// Drops expired messages among the next `budget` slots.
    fn sweep(&mut self, now: u64, budget: usize) {
        let cap = self.msgs.capacity();
        if cap == 0 {
            return;
        }
        for _ in 0..budget.min(cap) {
            let slot = self.sweep_cursor % cap;
            self.sweep_cursor = (slot + 1) % cap;
            if self.msgs.get(slot).is_some_and(|m| self.expired(m, now)) {
                self.remove(slot);
            }
        }
    }

    /// Rebuilds the heaps and the deque when stale entries outnumber live ones.
    fn compact(&mut self) {
        let Self {
            msgs,
            ready,
            delayed,
            inflight,
            counts,
            ..
        } = self;
        if inflight.len() > 1024 && inflight.len() as u64 > 2 * counts.not_visible {
            inflight.retain(|Reverse((until, serial, slot, seq))| {
                msgs.get(*slot as usize).is_some_and(|m| {
                    m.serial == *serial
                        && matches!(m.state, MsgState::InFlight { until: u, seq: s, .. } if u == *until && s == *seq)
                })
            });
        }
        if delayed.len() > 1024 && delayed.len() as u64 > 2 * counts.delayed {
            delayed.retain(|Reverse((due, serial, slot))| {
                msgs.get(*slot as usize)
                    .is_some_and(|m| m.serial == *serial && m.state == (MsgState::Delayed { until: *due }))
            });
        }
        if ready.len() > 1024 && ready.len() as u64 > 2 * counts.visible {
            ready.retain(|(slot, serial)| {
                msgs.get(*slot as usize)
                    .is_some_and(|m| m.serial == *serial && m.state == MsgState::Visible)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> Queue {
        Queue::new(
            "q".into(),
            "0".into(),
            "arn".into(),
            1,
            0,
            QueueAttributes::new(false),
        )
    }

    fn msg(body: &str, delay: u64) -> NewMessage {
        NewMessage {
            id: 1,
            body: Body::Plain(body.into()),
            md5_of_body: [0; 16],
            delay_seconds: delay,
            sender_id: Arc::from("s"),
            extra: None,
        }
    }

    #[test]
    fn fifo_queues_stop_delivering_at_twenty_thousand_in_flight() {
        let q = Queue::new(
            "q.fifo".into(),
            "0".into(),
            "arn".into(),
            1,
            0,
            QueueAttributes::new(true),
        );
        let mut s = q.lock();
        for i in 0..20_001u32 {
            let mut m = msg("m", 0);
            m.id = u128::from(i);
            m.extra = Some(Box::new(MessageExtra {
                attributes: Vec::new(),
                trace_header: None,
                group_id: Some(format!("g{i}")),
                dead_letter_source_arn: None,
                dedup_id: None,
                sequence_number: None,
            }));
            s.send_fifo(0, m, format!("d{i}"));
        }
        let mut received = 0;
        loop {
            match s.receive(0, 10, 300, 1) {
                Ok(got) => received += got.len(),
                Err(e) => {
                    assert!(matches!(e, Error::OverLimit(_)), "{e:?}");
                    break;
                }
            }
        }
        assert_eq!(received, 20_000);
    }

    #[test]
    fn visibility_timeout_hides_then_returns_a_message() {
        let q = queue();
        let mut s = q.lock();
        s.send(0, msg("a", 0));
        let got = s.receive(0, 10, 30, 1).unwrap();
        assert_eq!(got.len(), 1);
        assert!(s.receive(29_999, 10, 30, 1).unwrap().is_empty());
        let again = s.receive(30_000, 10, 30, 1).unwrap();
        assert_eq!(again[0].receive_count, 2);
        assert_ne!(again[0].handle, got[0].handle);
        assert_eq!(again[0].first_receive_ms, 0);
    }

    #[test]
    fn delayed_messages_wait_and_are_counted() {
        let q = queue();
        let mut s = q.lock();
        s.send(0, msg("a", 5));
        assert_eq!(
            s.counts(0),
            Counts {
                visible: 0,
                not_visible: 0,
                delayed: 1
            }
        );
        assert!(s.receive(4_999, 1, 30, 1).unwrap().is_empty());
        assert_eq!(s.next_due(), Some(5_000));
        assert_eq!(s.receive(5_000, 1, 30, 1).unwrap().len(), 1);
        assert_eq!(
            s.counts(5_000),
            Counts {
                visible: 0,
                not_visible: 1,
                delayed: 0
            }
        );
    }

    #[test]
    fn expired_messages_are_never_delivered_or_counted() {
        let q = queue();
        let mut s = q.lock();
        s.attrs.message_retention_period = 60;
        s.send(0, msg("a", 0));
        s.send(0, msg("b", 0));
        assert_eq!(s.counts(59_999).visible, 2);
        assert_eq!(s.counts(60_000).visible, 0);
        assert!(s.receive(60_000, 10, 30, 1).unwrap().is_empty());
    }

    #[test]
    fn delete_and_change_visibility_follow_the_handle() {
        let q = queue();
        let mut s = q.lock();
        s.send(0, msg("a", 0));
        let d = s.receive(0, 1, 30, 1).unwrap().remove(0);
        assert!(s.change_visibility(0, &d.handle, "h", 0).unwrap());
        assert!(
            s.change_visibility(0, &d.handle, "h", 10).is_ok(),
            "visible again: AWS accepts and hides it"
        );
        assert!(s.receive(0, 1, 30, 1).unwrap().is_empty());
        assert!(s.change_visibility(0, &d.handle, "h", 0).unwrap());
        let d = s.receive(0, 1, 30, 1).unwrap().remove(0);
        assert!(
            s.change_visibility(1_000, &d.handle, "h", 43_200).is_err(),
            "beyond 12 h after receive"
        );
        s.delete(&d.handle);
        s.delete(&d.handle);
        assert_eq!(s.counts(0), Counts::default());
    }

    #[test]
    fn stale_heap_entries_are_compacted() {
        let q = queue();
        let mut s = q.lock();
        for _ in 0..5_000 {
            s.send(0, msg("a", 0));
            let d = s.receive(0, 1, 30, 1).unwrap().remove(0);
            s.delete(&d.handle);
        }
        assert!(s.inflight.len() <= 2_048, "{}", s.inflight.len());
        assert_eq!(s.counts(0), Counts::default());
    }
}
