//! The data directory: two SQLite databases (WAL) and the lock that keeps a
//! second server out.
//!
//! - `sqs.db` holds queues, messages (bodies of encrypted queues only as
//!   envelopes: ciphertext, nonce, tag, and the KMS-encrypted data key),
//!   FIFO deduplication state, move tasks and the virtual clock.
//! - `kms.db` holds KMS keys, their material included, and aliases: kept
//!   apart from the data they protect, as the SQS best practices ask.
//! - `sealq.lock` is locked (advisory, whole file) while a server uses the
//!   directory; the OS releases it when the process dies, even by `kill -9`.
//!
//! Writes to `sqs.db` go through one writer thread ([`Journal`]): requests
//! hand it units of [`Record`]s and wait for the unit to be committed. The
//! writer takes every unit that has arrived, applies them in one
//! transaction and commits once (group commit), so many concurrent
//! requests share one fsync. Writes to `kms.db` are rare (key changes) and
//! are made by the caller, under the vault's lock.
//!
//! Opening refuses, with a message naming the problem, a directory that is
//! not sealq's, a database that is corrupt or written by a newer sealq, or
//! a directory with only one of the two databases: a refused directory is
//! never emptied or rewritten.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::watch;
use zeroize::Zeroizing;

use super::codec::{Malformed, Reader, Writer};
use crate::auth::SecretAccessKey;
use crate::auth::session::{SessionRecord, SessionVault};
use crate::crypto::{SealedDataKey, SseKind};
use crate::kms::{AliasRecord, KeyRecord, KeyVault, KmsImage};
use crate::sqs::model::queue::Counters;

/// `PRAGMA application_id` of sealq's databases ("sealq" in spirit: `SEAL`).
pub const APPLICATION_ID: i32 = 0x5345_414C;

/// Schema version this build writes and reads: 2 added `sessions` to the
/// key database, 3 the account of each alias (aliases are per account);
/// older directories are brought to 3 when opened.
pub const SCHEMA_VERSION: i32 = 3;

/// File names inside a data directory.
pub const SQS_DB: &str = "sqs.db";
/// The key database.
pub const KMS_DB: &str = "kms.db";
/// The lock file.
pub const LOCK_FILE: &str = "sealq.lock";
/// The local CA's directory (see `tls`).
pub const TLS_DIR: &str = "tls";

/// Bits of a message row key that hold its serial; the queue uid sits
/// above them.
const SERIAL_BITS: u32 = 40;

/// Row key of message `serial` of queue `uid`.
pub fn message_key(uid: u64, serial: u64) -> i64 {
    i64::from_ne_bytes(((uid << SERIAL_BITS) | (serial & ((1 << SERIAL_BITS) - 1))).to_ne_bytes())
}

/// The first and last row keys of queue `uid`.
fn queue_range(uid: u64) -> (i64, i64) {
    (message_key(uid, 0), message_key(uid, (1 << SERIAL_BITS) - 1))
}

/// (queue uid, serial) of a row key.
pub fn split_key(key: i64) -> (u64, u64) {
    let k = u64::from_ne_bytes(key.to_ne_bytes());
    (k >> SERIAL_BITS, k & ((1 << SERIAL_BITS) - 1))
}

/// A data directory that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirError(pub String);

impl std::fmt::Display for DataDirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataDirError {}

fn err(dir: &Path, what: impl std::fmt::Display) -> DataDirError {
    DataDirError(format!("data directory {}: {what}", dir.display()))
}

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sync {
    /// fsync the write-ahead log on every commit: survives power loss.
    #[default]
    Full,
    /// Let the OS write the log: survives a crash or `kill -9` of sealq,
    /// not of the machine. Faster on slow disks.
    Normal,
}

/// An opened, locked data directory.
#[derive(Debug)]
pub struct DataDir {
    /// Its path.
    pub path: PathBuf,
    /// Held (locked) while the server runs.
    pub lock: File,
    /// `sqs.db`, until the journal takes it.
    pub sqs: Connection,
    /// `kms.db`, until the vault takes it.
    pub kms: Connection,
}

/// Files a data directory may hold besides sealq's (file systems put
/// `lost+found` at the root of a volume).
fn tolerated(name: &str) -> bool {
    name == "lost+found" || name.starts_with('.')
}

fn ours(name: &str) -> bool {
    [SQS_DB, KMS_DB]
        .iter()
        .any(|db| name == *db || name == format!("{db}-wal") || name == format!("{db}-shm"))
        || name == LOCK_FILE
        || name == TLS_DIR
}

impl DataDir {
    /// Opens (creating if needed) and locks `dir`.
    ///
    /// # Errors
    /// A [`DataDirError`] naming the directory and the problem: in use by
    /// another server, not a sealq directory, corrupt, newer schema,
    /// incomplete, or an I/O error.
    pub fn open(dir: &Path, sync: Sync) -> Result<Self, DataDirError> {
        std::fs::create_dir_all(dir).map_err(|e| err(dir, format!("cannot create it: {e}")))?;
        let entries = std::fs::read_dir(dir).map_err(|e| err(dir, format!("cannot read it: {e}")))?;
        let mut foreign = Vec::new();
        for e in entries {
            let e = e.map_err(|e| err(dir, format!("cannot read it: {e}")))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !ours(&name) && !tolerated(&name) {
                foreign.push(name);
            }
        }
        let sqs_path = dir.join(SQS_DB);
        let kms_path = dir.join(KMS_DB);
        let (has_sqs, has_kms) = (sqs_path.exists(), kms_path.exists());
        if !has_sqs && !has_kms && !foreign.is_empty() {
            foreign.sort();
            return Err(err(
                dir,
                format!(
                    "not a sealq data directory (it holds {}, and no {SQS_DB} or {KMS_DB}); give sealq an empty directory of its own",
                    foreign.join(", ")
                ),
            ));
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| err(dir, format!("cannot create {LOCK_FILE}: {e}")))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(err(
                    dir,
                    format!("in use by another sealq server (it holds the lock on {LOCK_FILE})"),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(err(dir, format!("cannot lock {LOCK_FILE}: {e}")));
            }
        }
        match (has_sqs, has_kms) {
            (true, false) => {
                return Err(err(
                    dir,
                    format!(
                        "{KMS_DB} is missing: the messages in {SQS_DB} could not be decrypted without its keys"
                    ),
                ));
            }
            (false, true) => {
                return Err(err(dir, format!("{SQS_DB} is missing beside {KMS_DB}")));
            }
            _ => {}
        }
        let fresh = !has_sqs;
        let sqs = open_db(dir, &sqs_path, SQS_DB, fresh, (SQS_SCHEMA, ""), sync)?;
        let kms = open_db(dir, &kms_path, KMS_DB, fresh, (KMS_SCHEMA, KMS_UPGRADE), sync)?;
        Ok(Self {
            path: dir.to_owned(),
            lock,
            sqs,
            kms,
        })
    }
}

const SQS_SCHEMA: &str = "
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE queues (
    uid INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL,
    created_s INTEGER NOT NULL, last_modified_s INTEGER NOT NULL, last_purge_ms INTEGER,
    attributes BLOB NOT NULL, tags BLOB NOT NULL,
    next_serial INTEGER NOT NULL, next_seq INTEGER NOT NULL, next_sequence BLOB NOT NULL);
CREATE TABLE messages (
    key INTEGER PRIMARY KEY, slot INTEGER NOT NULL, id BLOB NOT NULL, md5 BLOB NOT NULL,
    sent_ms INTEGER NOT NULL, first_receive_ms INTEGER NOT NULL, receive_count INTEGER NOT NULL,
    state INTEGER NOT NULL, until_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, seq INTEGER NOT NULL,
    sender TEXT NOT NULL, body BLOB NOT NULL, envelope BLOB, extra BLOB);
CREATE TABLE data_keys (
    id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, key_arn TEXT NOT NULL,
    encrypted BLOB NOT NULL, queue_arn TEXT NOT NULL);
CREATE TABLE dedup (
    queue INTEGER NOT NULL, key TEXT NOT NULL, id BLOB NOT NULL, sequence BLOB NOT NULL,
    expires_ms INTEGER NOT NULL, PRIMARY KEY (queue, key)) WITHOUT ROWID;
CREATE INDEX dedup_expiry ON dedup (expires_ms);
CREATE TABLE move_tasks (handle TEXT PRIMARY KEY, position INTEGER NOT NULL, task BLOB NOT NULL);
";

const KMS_SCHEMA: &str = "
CREATE TABLE keys (id TEXT PRIMARY KEY, service TEXT, record BLOB NOT NULL);
CREATE TABLE aliases (name TEXT PRIMARY KEY, target TEXT NOT NULL,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
";

/// What schemas 2 and 3 changed in the key database: STS's temporary
/// credentials (2); aliases keyed by account and name (3), those written
/// before with the empty account, which stands for the server's. Run on new
/// databases after the schema, and on older ones when opened.
const KMS_UPGRADE: &str = "
CREATE TABLE IF NOT EXISTS sessions (access_key_id TEXT PRIMARY KEY, expires_s INTEGER NOT NULL, record BLOB NOT NULL);
CREATE TABLE aliases_v3 (account TEXT NOT NULL, name TEXT NOT NULL, target TEXT NOT NULL,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY (account, name));
INSERT INTO aliases_v3 (account, name, target, created_ms, updated_ms)
    SELECT '', name, target, created_ms, updated_ms FROM aliases;
DROP TABLE aliases;
ALTER TABLE aliases_v3 RENAME TO aliases;
";

fn open_db(
    dir: &Path,
    path: &Path,
    name: &str,
    fresh: bool,
    (schema, upgrade): (&str, &str),
    sync: Sync,
) -> Result<Connection, DataDirError> {
    let bad = |what: String| err(dir, format!("{name}: {what}"));
    let conn = Connection::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let not_ours = |e: rusqlite::Error| {
        bad(format!(
            "not a readable SQLite database ({e}); it is corrupt or not sealq's, and is left as it is"
        ))
    };
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(not_ours)?;
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(not_ours)?;
    if fresh {
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; BEGIN; {schema} {upgrade} PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        ))
        .map_err(|e| bad(format!("cannot create: {e}")))?;
    } else {
        if app != APPLICATION_ID {
            return Err(bad(format!(
                "not written by sealq (application id {app:#x}); it is left as it is"
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(bad(format!(
                "written by a newer sealq (schema {version}; this build reads up to {SCHEMA_VERSION}); it is left as it is"
            )));
        }
        if version < 1 {
            return Err(bad(format!("unknown schema version {version}")));
        }
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(not_ours)?;
        if check != "ok" {
            return Err(bad(format!("corrupt ({check}); it is left as it is")));
        }
        conn.execute_batch("PRAGMA journal_mode=WAL;")
            .map_err(|e| bad(format!("cannot use a write-ahead log: {e}")))?;
        if version < SCHEMA_VERSION {
            conn.execute_batch(&format!(
                "BEGIN; {upgrade} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(|e| bad(format!("cannot upgrade from schema {version}: {e}")))?;
        }
    }
    let sync = match sync {
        Sync::Full => "FULL",
        Sync::Normal => "NORMAL",
    };
    conn.execute_batch(&format!("PRAGMA synchronous={sync}; PRAGMA foreign_keys=OFF;"))
        .map_err(|e| bad(format!("cannot configure: {e}")))?;
    Ok(conn)
}

// ---- records and the writer --------------------------------------------------

/// A message as stored.
#[derive(Debug)]
pub struct MessageRow {
    /// Row key ([`message_key`]).
    pub key: i64,
    /// Slab slot.
    pub slot: u32,
    /// MessageId.
    pub id: u128,
    /// MD5 of the body.
    pub md5: [u8; 16],
    /// SentTimestamp.
    pub sent_ms: u64,
    /// State columns.
    pub state: StateRow,
    /// SenderId.
    pub sender: Arc<str>,
    /// Plaintext body, or the ciphertext of an envelope.
    pub body: Vec<u8>,
    /// The envelope's other parts: data-key id, nonce, tag, sealed-for id.
    pub envelope: Option<Vec<u8>>,
    /// Attributes and other rare parts.
    pub extra: Option<Vec<u8>>,
}

/// The columns that change while a message lives.
#[derive(Debug, Clone, Copy)]
pub struct StateRow {
    /// ApproximateFirstReceiveTimestamp.
    pub first_receive_ms: u64,
    /// ApproximateReceiveCount.
    pub receive_count: u32,
    /// 0 visible, 1 delayed, 2 in flight.
    pub kind: u8,
    /// Delayed or invisible until.
    pub until_ms: u64,
    /// When received (in flight).
    pub received_ms: u64,
    /// Receive sequence (in flight).
    pub seq: u32,
}

/// A queue's row.
#[derive(Debug)]
pub struct QueueRow {
    /// Uid.
    pub uid: u64,
    /// Owner account.
    pub account: String,
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// CreatedTimestamp, seconds.
    pub created_s: u64,
    /// LastModifiedTimestamp, seconds.
    pub last_modified_s: u64,
    /// Last purge.
    pub last_purge_ms: Option<u64>,
    /// Encoded attributes.
    pub attributes: Vec<u8>,
    /// Encoded tags.
    pub tags: Vec<u8>,
    /// Numbering.
    pub counters: Counters,
}

/// One durable change.
#[derive(Debug)]
pub enum Record {
    /// Create or update a queue row.
    Queue(QueueRow),
    /// Delete a queue and everything it held.
    DropQueue(u64),
    /// A queue's numbering.
    Counters(u64, Counters),
    /// Store a message.
    Put(MessageRow),
    /// A message's state changed.
    State(i64, StateRow),
    /// Delete a message.
    Remove(i64),
    /// Delete every message of a queue.
    Purge(u64),
    /// Remember a FIFO deduplication key: queue, key, MessageId,
    /// SequenceNumber, expiry.
    Dedup(u64, String, u128, u128, u64),
    /// A data key that sealed stored messages.
    DataKey(Arc<SealedDataKey>),
    /// A named server-wide number (virtual clock offset, next queue uid).
    Meta(&'static str, i64),
    /// A move task: handle, position, encoded task.
    MoveTask(String, i64, Vec<u8>),
}

/// Commit progress shared with waiters.
#[derive(Debug, Clone, Copy, Default)]
struct Committed {
    /// Every unit up to this number is committed.
    upto: u64,
    /// The writer failed or stopped: later units will not commit.
    failed: bool,
}

enum Msg {
    Unit(u64, Vec<Record>),
    Stop(mpsc::SyncSender<()>),
}

/// The writer of `sqs.db`: a thread that group-commits units of records.
#[derive(Debug)]
pub struct Journal {
    sender: mpsc::Sender<Msg>,
    next: AtomicU64,
    committed: watch::Receiver<Committed>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl Journal {
    /// Starts the writer on `conn`; `written_keys` are the data keys
    /// already stored.
    pub fn start(conn: Connection, written_keys: HashSet<u64>) -> Self {
        let (tx, rx) = mpsc::channel();
        let (ctx, crx) = watch::channel(Committed::default());
        let thread = std::thread::Builder::new()
            .name("sealq-journal".into())
            .spawn(move || writer(conn, &rx, &ctx, written_keys))
            .ok();
        if thread.is_none() {
            tracing::error!("could not start the journal writer thread");
        }
        Self {
            sender: tx,
            next: AtomicU64::new(0),
            committed: crx,
            thread: Mutex::new(thread),
        }
    }

    /// Hands a unit of records to the writer; returns its number, to wait
    /// for with [`Self::wait`]. Called under the lock of the queue the
    /// records belong to, so one queue's units keep their order.
    pub fn submit(&self, records: Vec<Record>) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        // A send fails only after `close`: the unit then never commits and
        // its waiter gets an error.
        let _ = self.sender.send(Msg::Unit(n, records));
        n
    }

    /// Whether the writer still commits (no write failed, not closed).
    pub fn writable(&self) -> bool {
        !self.committed.borrow().failed
    }

    /// The number of the last unit submitted.
    pub fn last_submitted(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    /// Waits until unit `n` is committed.
    ///
    /// # Errors
    /// A message when the writer failed or stopped first.
    pub async fn wait(&self, n: u64) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        let mut rx = self.committed.clone();
        match rx.wait_for(|c| c.upto >= n || c.failed).await {
            Ok(c) if c.upto >= n => Ok(()),
            _ => Err("the data directory could not be written".into()),
        }
    }

    /// Commits what was submitted and stops the writer.
    pub fn close(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = thread {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            if self.sender.send(Msg::Stop(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
            let _ = t.join();
        }
    }
}

/// Most records one transaction takes, so a flood of units still commits
/// (and acknowledges) in bounded steps.
const MAX_BATCH_RECORDS: usize = 50_000;

fn writer(
    mut conn: Connection,
    rx: &mpsc::Receiver<Msg>,
    committed: &watch::Sender<Committed>,
    mut written_keys: HashSet<u64>,
) {
    let mut done: BinaryHeap<std::cmp::Reverse<u64>> = BinaryHeap::new();
    let mut upto = 0u64;
    let mut stop: Option<mpsc::SyncSender<()>> = None;
    while stop.is_none() {
        let Ok(first) = rx.recv() else {
            break;
        };
        let mut units = Vec::new();
        let mut records = 0;
        match first {
            Msg::Unit(n, r) => {
                records += r.len();
                units.push((n, r));
            }
            Msg::Stop(s) => stop = Some(s),
        }
        while stop.is_none() && records < MAX_BATCH_RECORDS {
            match rx.try_recv() {
                Ok(Msg::Unit(n, r)) => {
                    records += r.len();
                    units.push((n, r));
                }
                Ok(Msg::Stop(s)) => stop = Some(s),
                Err(_) => break,
            }
        }
        if units.is_empty() {
            continue;
        }
        let result = apply(&mut conn, &units, &mut written_keys);
        if let Err(e) = result {
            tracing::error!(error = %e, "could not write the data directory; refusing further changes");
            committed.send_modify(|c| c.failed = true);
            // Nothing more commits; units are dropped as they come (their
            // waiters already see the failure) until the journal closes.
            loop {
                match rx.recv() {
                    Ok(Msg::Stop(s)) => {
                        let _ = s.send(());
                        return;
                    }
                    Ok(Msg::Unit(..)) => {}
                    Err(_) => return,
                }
            }
        }
        for (n, _) in &units {
            done.push(std::cmp::Reverse(*n));
        }
        while done.peek().is_some_and(|r| r.0 == upto + 1) {
            done.pop();
            upto += 1;
        }
        committed.send_modify(|c| c.upto = upto);
    }
    committed.send_modify(|c| c.failed = true);
    if let Some(s) = stop {
        let _ = s.send(());
    }
}

fn apply(
    conn: &mut Connection,
    units: &[(u64, Vec<Record>)],
    written_keys: &mut HashSet<u64>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    // The latest "now" a deduplication entry of this batch was made at:
    // entries that expired by then are deleted with the batch.
    let mut dedup_now: Option<u64> = None;
    let mut numbering: HashMap<u64, Counters> = HashMap::new();
    {
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO messages (key, slot, id, md5, sent_ms, first_receive_ms, receive_count, state, until_ms, received_ms, seq, sender, body, envelope, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        let mut state = tx.prepare_cached(
            "UPDATE messages SET first_receive_ms = ?2, receive_count = ?3, state = ?4, until_ms = ?5, received_ms = ?6, seq = ?7 WHERE key = ?1",
        )?;
        let mut remove = tx.prepare_cached("DELETE FROM messages WHERE key = ?1")?;
        let mut counters = tx.prepare_cached(
            "UPDATE queues SET next_serial = ?2, next_seq = ?3, next_sequence = ?4 WHERE uid = ?1",
        )?;
        for (_, records) in units {
            for r in records {
                match r {
                    Record::Put(m) => {
                        put.execute(params![
                            m.key,
                            m.slot,
                            &m.id.to_le_bytes()[..],
                            &m.md5[..],
                            i(m.sent_ms),
                            i(m.state.first_receive_ms),
                            m.state.receive_count,
                            m.state.kind,
                            i(m.state.until_ms),
                            i(m.state.received_ms),
                            m.state.seq,
                            &*m.sender,
                            &m.body,
                            &m.envelope,
                            &m.extra,
                        ])?;
                    }
                    Record::State(key, s) => {
                        state.execute(params![
                            key,
                            i(s.first_receive_ms),
                            s.receive_count,
                            s.kind,
                            i(s.until_ms),
                            i(s.received_ms),
                            s.seq
                        ])?;
                    }
                    Record::Remove(key) => {
                        remove.execute(params![key])?;
                    }
                    Record::Counters(uid, c) => {
                        // Every unit carries its queue's numbering; only
                        // the last of the batch needs writing.
                        numbering.insert(*uid, *c);
                    }
                    Record::DataKey(k) => {
                        if written_keys.insert(k.id) {
                            tx.prepare_cached(
                                "INSERT OR REPLACE INTO data_keys (id, kind, key_arn, encrypted, queue_arn) VALUES (?1, ?2, ?3, ?4, ?5)",
                            )?
                            .execute(params![
                                i(k.id),
                                match k.kind {
                                    SseKind::SqsManaged => 0,
                                    SseKind::Kms => 1,
                                },
                                &*k.key_arn,
                                &*k.encrypted_data_key,
                                &*k.queue_arn
                            ])?;
                        }
                    }
                    Record::Queue(q) => {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO queues (uid, account, name, arn, created_s, last_modified_s, last_purge_ms, attributes, tags, next_serial, next_seq, next_sequence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        )?
                        .execute(params![
                            i(q.uid),
                            q.account,
                            q.name,
                            q.arn,
                            i(q.created_s),
                            i(q.last_modified_s),
                            q.last_purge_ms.map(i),
                            q.attributes,
                            q.tags,
                            i(q.counters.next_serial),
                            q.counters.next_seq,
                            &q.counters.next_sequence.to_le_bytes()[..]
                        ])?;
                    }
                    Record::DropQueue(uid) => {
                        let (lo, hi) = queue_range(*uid);
                        tx.execute(
                            "DELETE FROM messages WHERE key BETWEEN ?1 AND ?2",
                            params![lo, hi],
                        )?;
                        tx.execute("DELETE FROM dedup WHERE queue = ?1", params![i(*uid)])?;
                        tx.execute("DELETE FROM queues WHERE uid = ?1", params![i(*uid)])?;
                    }
                    Record::Purge(uid) => {
                        let (lo, hi) = queue_range(*uid);
                        tx.execute(
                            "DELETE FROM messages WHERE key BETWEEN ?1 AND ?2",
                            params![lo, hi],
                        )?;
                    }
                    Record::Dedup(uid, key, id, sequence, expires) => {
                        let made = expires.saturating_sub(crate::sqs::model::queue::DEDUP_WINDOW_MS);
                        dedup_now = Some(dedup_now.map_or(made, |n| n.max(made)));
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO dedup (queue, key, id, sequence, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                        )?
                        .execute(params![
                            i(*uid),
                            key,
                            &id.to_le_bytes()[..],
                            &sequence.to_le_bytes()[..],
                            i(*expires)
                        ])?;
                    }
                    Record::Meta(name, value) => {
                        // Meta numbers only grow (clock offset, queue uids).
                        tx.execute(
                            "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
                            params![name, value],
                        )?;
                    }
                    Record::MoveTask(handle, position, task) => {
                        tx.execute(
                            "INSERT OR REPLACE INTO move_tasks (handle, position, task) VALUES (?1, ?2, ?3)",
                            params![handle, position, task],
                        )?;
                    }
                }
            }
        }
        for (uid, c) in &numbering {
            counters.execute(params![
                i(*uid),
                i(c.next_serial),
                c.next_seq,
                &c.next_sequence.to_le_bytes()[..]
            ])?;
        }
    }
    if let Some(now) = dedup_now {
        tx.prepare_cached("DELETE FROM dedup WHERE expires_ms <= ?1")?
            .execute(params![i(now)])?;
    }
    tx.commit()
}

/// A u64 as SQLite's i64 (times and counters stay far below 2^63).
fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn u128_of(b: &[u8]) -> Option<u128> {
    Some(u128::from_le_bytes(b.try_into().ok()?))
}

// ---- reading back ------------------------------------------------------------

/// A stored message row, read back.
#[derive(Debug)]
pub struct LoadedMessage {
    /// Queue uid.
    pub uid: u64,
    /// Serial.
    pub serial: u64,
    /// The row.
    pub row: MessageRow,
}

/// Everything `sqs.db` holds.
#[derive(Debug, Default)]
pub struct SqsImage {
    /// Named numbers (virtual clock offset, next queue uid).
    pub meta: HashMap<String, i64>,
    /// Queues.
    pub queues: Vec<QueueRow>,
    /// Messages, in key order.
    pub messages: Vec<LoadedMessage>,
    /// Data keys by id.
    pub data_keys: HashMap<u64, Arc<SealedDataKey>>,
    /// FIFO deduplication entries: queue, key, MessageId, SequenceNumber, expiry.
    pub dedup: Vec<(u64, String, u128, u128, u64)>,
    /// Move tasks in order: handle, encoded task.
    pub move_tasks: Vec<(String, Vec<u8>)>,
}

fn corrupt(what: &str) -> DataDirError {
    DataDirError(format!(
        "{SQS_DB}: {what} could not be read; the data directory is left as it is"
    ))
}

/// Reads `sqs.db`.
///
/// # Errors
/// A [`DataDirError`] when a row cannot be read.
pub fn load_sqs(conn: &Connection) -> Result<SqsImage, DataDirError> {
    let q = |e: rusqlite::Error| DataDirError(format!("{SQS_DB}: {e}"));
    let mut img = SqsImage::default();
    let mut st = conn.prepare("SELECT name, value FROM meta").map_err(q)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(q)?;
    for row in rows {
        let (k, v) = row.map_err(q)?;
        img.meta.insert(k, v);
    }
    let mut st = conn
        .prepare("SELECT uid, account, name, arn, created_s, last_modified_s, last_purge_ms, attributes, tags, next_serial, next_seq, next_sequence FROM queues ORDER BY uid")
        .map_err(q)?;
    let rows = st
        .query_map([], |r| {
            let seq: Vec<u8> = r.get(11)?;
            Ok((
                QueueRow {
                    uid: u(r.get(0)?),
                    account: r.get(1)?,
                    name: r.get(2)?,
                    arn: r.get(3)?,
                    created_s: u(r.get(4)?),
                    last_modified_s: u(r.get(5)?),
                    last_purge_ms: r.get::<_, Option<i64>>(6)?.map(u),
                    attributes: r.get(7)?,
                    tags: r.get(8)?,
                    counters: Counters {
                        next_serial: u(r.get(9)?),
                        next_seq: r.get(10)?,
                        next_sequence: 0,
                    },
                },
                seq,
            ))
        })
        .map_err(q)?;
    for row in rows {
        let (mut row, seq) = row.map_err(q)?;
        row.counters.next_sequence = u128_of(&seq).ok_or_else(|| corrupt("a queue"))?;
        img.queues.push(row);
    }
    let mut st = conn
        .prepare("SELECT id, kind, key_arn, encrypted, queue_arn FROM data_keys")
        .map_err(q)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                u(r.get(0)?),
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(q)?;
    for row in rows {
        let (id, kind, key_arn, encrypted, queue_arn) = row.map_err(q)?;
        let kind = match kind {
            0 => SseKind::SqsManaged,
            1 => SseKind::Kms,
            _ => return Err(corrupt("a data key")),
        };
        img.data_keys.insert(
            id,
            Arc::new(SealedDataKey {
                id,
                kind,
                key_arn: Arc::from(key_arn),
                encrypted_data_key: encrypted.into_boxed_slice(),
                queue_arn: Arc::from(queue_arn),
            }),
        );
    }
    let mut senders: HashMap<String, Arc<str>> = HashMap::new();
    let mut st = conn
        .prepare("SELECT key, slot, id, md5, sent_ms, first_receive_ms, receive_count, state, until_ms, received_ms, seq, sender, body, envelope, extra FROM messages ORDER BY key")
        .map_err(q)?;
    let mut rows = st.query([]).map_err(q)?;
    while let Some(r) = rows.next().map_err(q)? {
        let key: i64 = r.get(0).map_err(q)?;
        let (uid, serial) = split_key(key);
        let id: Vec<u8> = r.get(2).map_err(q)?;
        let md5: Vec<u8> = r.get(3).map_err(q)?;
        let sender: String = r.get(11).map_err(q)?;
        let sender = senders
            .entry(sender)
            .or_insert_with_key(|s| Arc::from(s.as_str()))
            .clone();
        img.messages.push(LoadedMessage {
            uid,
            serial,
            row: MessageRow {
                key,
                slot: r.get(1).map_err(q)?,
                id: u128_of(&id).ok_or_else(|| corrupt("a message"))?,
                md5: md5.try_into().map_err(|_| corrupt("a message"))?,
                sent_ms: u(r.get(4).map_err(q)?),
                state: StateRow {
                    first_receive_ms: u(r.get(5).map_err(q)?),
                    receive_count: r.get(6).map_err(q)?,
                    kind: r.get(7).map_err(q)?,
                    until_ms: u(r.get(8).map_err(q)?),
                    received_ms: u(r.get(9).map_err(q)?),
                    seq: r.get(10).map_err(q)?,
                },
                sender,
                body: r.get(12).map_err(q)?,
                envelope: r.get(13).map_err(q)?,
                extra: r.get(14).map_err(q)?,
            },
        });
    }
    drop(rows);
    let mut st = conn
        .prepare("SELECT queue, key, id, sequence, expires_ms FROM dedup")
        .map_err(q)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                u(r.get(0)?),
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                u(r.get(4)?),
            ))
        })
        .map_err(q)?;
    for row in rows {
        let (uid, key, id, seq, expires) = row.map_err(q)?;
        let (Some(id), Some(seq)) = (u128_of(&id), u128_of(&seq)) else {
            return Err(corrupt("a deduplication entry"));
        };
        img.dedup.push((uid, key, id, seq, expires));
    }
    let mut st = conn
        .prepare("SELECT handle, task FROM move_tasks ORDER BY position")
        .map_err(q)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .map_err(q)?;
    for row in rows {
        img.move_tasks.push(row.map_err(q)?);
    }
    Ok(img)
}

// ---- the key database --------------------------------------------------------

/// `kms.db`, written under its own lock; clones share it (the KMS model
/// keeps its keys there, the principals their sessions).
#[derive(Debug, Clone)]
pub struct KeyDb(std::sync::Arc<Mutex<Connection>>);

/// Encoding version of a session record.
const SESSION_RECORD_V1: u8 = 1;

impl KeyDb {
    /// Wraps the opened key database.
    pub fn new(conn: Connection) -> Self {
        Self(std::sync::Arc::new(Mutex::new(conn)))
    }

    /// Reads every kept session.
    ///
    /// # Errors
    /// A [`DataDirError`] when the database cannot be read or a record is
    /// malformed.
    pub fn load_sessions(&self) -> Result<Vec<SessionRecord>, DataDirError> {
        let conn = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let q = |e: rusqlite::Error| DataDirError(format!("{KMS_DB}: {e}"));
        let mut st = conn
            .prepare("SELECT access_key_id, expires_s, record FROM sessions")
            .map_err(q)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    u(r.get(1)?),
                    Zeroizing::new(r.get::<_, Vec<u8>>(2)?),
                ))
            })
            .map_err(q)?;
        let mut out = Vec::new();
        for row in rows {
            let (access_key_id, expires_secs, bytes) = row.map_err(q)?;
            let bad = |_| DataDirError(format!("{KMS_DB}: session {access_key_id} is malformed"));
            let mut r = Reader::new(&bytes);
            if r.u8().map_err(bad)? != SESSION_RECORD_V1 {
                return Err(bad(Malformed));
            }
            let arn = r.string().map_err(bad)?;
            let sender_id = r.string().map_err(bad)?;
            let secret = SecretAccessKey::new(r.string().map_err(bad)?);
            let token_digest: [u8; 32] = r.bytes().map_err(bad)?.try_into().map_err(|_| bad(Malformed))?;
            out.push(SessionRecord {
                access_key_id,
                arn,
                sender_id,
                secret,
                token_digest,
                expires_secs,
            });
        }
        Ok(out)
    }
}

impl SessionVault for KeyDb {
    fn save(&self, record: &SessionRecord) -> Result<(), String> {
        let mut w = Writer::new();
        w.u8(SESSION_RECORD_V1)
            .str(&record.arn)
            .str(&record.sender_id)
            .str(record.secret.expose())
            .bytes(&record.token_digest);
        let bytes = Zeroizing::new(w.finish());
        let conn = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        conn.execute(
            "INSERT OR REPLACE INTO sessions (access_key_id, expires_s, record) VALUES (?1, ?2, ?3)",
            params![record.access_key_id, i(record.expires_secs), &bytes[..]],
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    fn forget_expired_before(&self, secs: u64) -> Result<(), String> {
        let conn = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        conn.execute("DELETE FROM sessions WHERE expires_s < ?1", params![i(secs)])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl KeyDb {
    /// Reads every key and alias.
    ///
    /// # Errors
    /// A [`DataDirError`] when the database cannot be read.
    pub fn load(&self) -> Result<KmsImage, DataDirError> {
        let conn = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let q = |e: rusqlite::Error| DataDirError(format!("{KMS_DB}: {e}"));
        let mut img = KmsImage::default();
        let mut st = conn.prepare("SELECT id, service, record FROM keys").map_err(q)?;
        let rows = st
            .query_map([], |r| {
                Ok(KeyRecord {
                    id: r.get(0)?,
                    service: r.get(1)?,
                    bytes: Zeroizing::new(r.get(2)?),
                })
            })
            .map_err(q)?;
        for row in rows {
            img.keys.push(row.map_err(q)?);
        }
        let mut st = conn
            .prepare("SELECT account, name, target, created_ms, updated_ms FROM aliases")
            .map_err(q)?;
        let rows = st
            .query_map([], |r| {
                Ok(AliasRecord {
                    account: r.get(0)?,
                    name: r.get(1)?,
                    target: r.get(2)?,
                    created_ms: u(r.get(3)?),
                    updated_ms: u(r.get(4)?),
                })
            })
            .map_err(q)?;
        for row in rows {
            img.aliases.push(row.map_err(q)?);
        }
        Ok(img)
    }
}

impl KeyVault for KeyDb {
    fn save(&self, image: &dyn Fn() -> KmsImage) -> Result<(), String> {
        let mut conn = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let img = image();
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch("DELETE FROM keys; DELETE FROM aliases;")
            .map_err(|e| e.to_string())?;
        for k in &img.keys {
            tx.execute(
                "INSERT INTO keys (id, service, record) VALUES (?1, ?2, ?3)",
                params![k.id, k.service, &k.bytes[..]],
            )
            .map_err(|e| e.to_string())?;
        }
        for a in &img.aliases {
            tx.execute(
                "INSERT INTO aliases (account, name, target, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a.account, a.name, a.target, i(a.created_ms), i(a.updated_ms)],
            )
            .map_err(|e| e.to_string())?;
        }
        tx.commit().map_err(|e| e.to_string())
    }
}

/// Reads a named number from `meta` of an opened `sqs.db` (tests).
///
/// # Errors
/// SQLite errors.
pub fn meta_value(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", params![name], |r| {
        r.get(0)
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_write_is_never_acknowledged_and_stops_further_changes() {
        // No schema: the first statement fails, as a full or broken disk would.
        let conn = Connection::open_in_memory().unwrap();
        let j = Journal::start(conn, HashSet::new());
        assert!(j.writable());
        let n = j.submit(vec![Record::Remove(message_key(1, 1))]);
        assert!(j.wait(n).await.is_err());
        assert!(!j.writable());
        let later = j.submit(vec![Record::Purge(1)]);
        assert!(j.wait(later).await.is_err());
        j.close();
    }

    #[tokio::test]
    async fn units_commit_in_order_and_are_acknowledged_after_commit() {
        let dir = std::env::temp_dir().join(format!("sealq-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = DataDir::open(&dir, Sync::Normal).unwrap();
        let check = Connection::open(dir.join(SQS_DB)).unwrap();
        let j = Journal::start(d.sqs, HashSet::new());
        let mut last = 0;
        for v in 1..=50 {
            last = j.submit(vec![Record::Meta("n", v)]);
        }
        j.wait(last).await.unwrap();
        assert_eq!(meta_value(&check, "n").unwrap(), Some(50));
        j.close();
        drop(d.lock);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn message_keys_split_back_and_queues_are_ranges() {
        for (uid, serial) in [(1, 1), (3, 7), ((1 << 23) + 5, (1 << 40) - 1)] {
            let k = message_key(uid, serial);
            assert_eq!(split_key(k), (uid, serial));
            let (lo, hi) = queue_range(uid);
            assert!(lo <= k && k <= hi);
            let (nlo, _) = queue_range(uid + 1);
            assert!(!(lo..=hi).contains(&nlo));
        }
    }
}
