//! Data-key caches of SQS server-side encryption, as the SQS key-management
//! guide describes them, and the ledger of every KMS call SQS makes.
//!
//! - A producer principal gets its own data key per (principal, queue, KMS
//!   key) from GenerateDataKey and verifies it with one Decrypt; it is reused
//!   until the queue's reuse period has passed since its creation. Principals
//!   never share data keys.
//! - A consumer principal pays one Decrypt per (principal, queue, KMS key)
//!   per reuse period, made as that principal so that key state applies to
//!   it. Within the period it opens messages whose data keys the server
//!   still holds without calling KMS; a message whose data key is no longer
//!   held costs a Decrypt of its own.
//! - Plaintext data keys live only here, in memory, for at most the reuse
//!   period; expired ones are dropped (and wiped) by [`Encryption::sweep`],
//!   which a background task runs at the next expiry.
//!
//! Cache lookups (hits and misses) and KMS calls are also counted, with
//! relaxed atomics, for `/_sealq/metrics`.
//!
//! So P producers and C consumers active through B seconds with reuse
//! period D make (B / D) * (2P + C) KMS calls. This module must never log a
//! key or a body.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use tokio::sync::Notify;

use super::envelope::{self, Cipher, Envelope, SealedDataKey, SseKind};
use crate::auth::Identity;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::kms::{DataKeySpec, EncryptionContext, Home, Kms};

/// Authorizes a KMS call SQS makes for the caller of a request: given the
/// IAM action (`kms:GenerateDataKey`, `kms:Decrypt`), the key's ARN and
/// policy, and the ARN of the queue in the call's encryption context. Only
/// calls on customer or AWS-managed keys (SSE-KMS) ask; SSE-SQS's
/// service-owned key needs no permission.
pub type Gate<'a> = &'a (
        dyn Fn(&'static str, &str, Option<&crate::iam::policy::PolicyDocument>, &Arc<str>) -> Result<()>
            + Sync
    );

/// How many ledger entries are kept (oldest dropped first).
pub const LEDGER_CAPACITY: usize = 100_000;

/// The encryption settings of a queue, read once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sse {
    /// SSE-SQS, or SSE-KMS with this key (any of the four identifier forms).
    pub kind: SseKind,
    /// `KmsMasterKeyId` as configured (empty for SSE-SQS).
    pub key_id: Arc<str>,
    /// `KmsDataKeyReusePeriodSeconds`, in milliseconds.
    pub reuse_ms: u64,
}

/// One KMS call SQS made.
#[derive(Debug, Clone)]
pub struct KmsCall {
    /// `GenerateDataKey` or `Decrypt`.
    pub operation: &'static str,
    /// ARN of the key, whatever form the queue's `KmsMasterKeyId` names it
    /// in; when that names no existing key (the call then failed), the
    /// identifier as the queue names it, or as the envelope recorded it.
    pub key_arn: Arc<str>,
    /// ARN of the principal the call was made as.
    pub principal: Arc<str>,
    /// ARN of the queue the data key belongs to.
    pub queue_arn: Arc<str>,
    /// SSE-SQS or SSE-KMS.
    pub sse: SseKind,
    /// The encryption context.
    pub encryption_context: EncryptionContext,
    /// When, epoch ms.
    pub time_ms: u64,
    /// `None` on success, else the KMS error code.
    pub error: Option<&'static str>,
    /// The data key the call made (GenerateDataKey) or opened (Decrypt):
    /// the `data_key_id` of the envelopes sealed with it.
    pub data_key_id: u64,
    /// Position in the ledger since the server started (1, 2, ...; never
    /// reused, also after the ledger is cleared), so a reader can ask only
    /// for calls it has not seen.
    pub seq: u64,
}

/// Which cache a [`CacheEntry`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheRole {
    /// A producer's data key, sealing its sends.
    Producer,
    /// A consumer's Decrypt grant, opening envelopes of one (queue, KMS key).
    Consumer,
}

/// One entry of the data-key caches as the admin API shows it: who, for
/// which queue and KMS key, since and until when; never the key itself.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// Producer or consumer cache.
    pub role: CacheRole,
    /// ARN of the principal the entry belongs to.
    pub principal: Arc<str>,
    /// ARN of the queue.
    pub queue_arn: Arc<str>,
    /// ARN of the KMS key.
    pub key_arn: Arc<str>,
    /// SSE-SQS or SSE-KMS.
    pub sse: SseKind,
    /// Producer: the data key it seals with. Consumer: none (a grant covers
    /// every data key of the queue and key that the server holds).
    pub data_key_id: Option<u64>,
    /// When the data key was made or the grant's Decrypt happened, epoch ms.
    pub made_ms: u64,
    /// When the entry stops being used, epoch ms (server clock).
    pub expires_ms: u64,
    /// Lookups this entry answered without calling KMS.
    pub hits: u64,
    /// Lookups by this principal for this queue and key that had to call
    /// KMS since the server started (each made this entry or an earlier one).
    pub misses: u64,
}

/// Lookups in the data-key caches since the server started: producer
/// lookups (one per send request to an encrypted queue) and consumer lookups
/// (one per data key per receive request); a miss calls KMS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// A producer's cached data key was still valid.
    pub producer_hits: u64,
    /// A producer needed a new data key (GenerateDataKey and Decrypt).
    pub producer_misses: u64,
    /// A consumer's grant and the data key were both held.
    pub consumer_hits: u64,
    /// A consumer had to Decrypt the data key.
    pub consumer_misses: u64,
}

/// A data key whose plaintext is held: its cipher (key schedule, wiped on
/// drop) and when it must be forgotten.
struct LiveKey {
    sealed: Arc<SealedDataKey>,
    cipher: Cipher,
    made_ms: u64,
    expires_ms: u64,
    /// Producer lookups it answered (cache hits).
    hits: AtomicU64,
}

/// A consumer's Decrypt grant for one (queue, KMS key).
struct Grant {
    kind: SseKind,
    made_ms: u64,
    until_ms: u64,
    /// Lookups it answered (cache hits).
    hits: AtomicU64,
}

/// A principal compared by identity (principals are interned, so one
/// access key is one allocation for the life of the server).
#[derive(Clone)]
struct Who(Arc<Identity>);

impl PartialEq for Who {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Who {}
impl Hash for Who {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

/// Producer cache key: (principal, queue instance, configured key).
#[derive(Clone, PartialEq, Eq, Hash)]
struct ProducerKey(Who, u64, Arc<str>);

/// Whose misses: (cache, principal ARN, queue ARN, KMS key).
type MissKey = (CacheRole, Arc<str>, Arc<str>, Arc<str>);

/// Consumer cache key: (principal, queue ARN, KMS key ARN).
#[derive(Clone, PartialEq, Eq, Hash)]
struct ConsumerKey(Who, Arc<str>, Arc<str>);

/// The data-key caches and the ledger of one server.
pub struct Encryption {
    kms: Arc<Kms>,
    clock: Arc<Clock>,
    region: String,
    account_id: String,
    producers: DashMap<ProducerKey, Arc<LiveKey>>,
    /// Consumer principals' Decrypt grants.
    consumers: DashMap<ConsumerKey, Grant>,
    /// Cache misses by (role, principal ARN, queue ARN, KMS key ARN or the
    /// configured key id): only written on a miss, which calls KMS anyway.
    misses: DashMap<MissKey, u64>,
    /// Plaintext data keys held, by data-key id.
    held: DashMap<u64, Arc<LiveKey>>,
    next_id: AtomicU64,
    /// Earliest expiry of a held key (`u64::MAX` when none).
    next_expiry: AtomicU64,
    expiry_changed: Notify,
    ledger: Mutex<VecDeque<KmsCall>>,
    /// Sequence number of the last ledger entry.
    ledger_seq: AtomicU64,
    /// KMS calls SQS made, by (operation, key ARN): unlike the ledger, never
    /// truncated.
    kms_calls: DashMap<(&'static str, Arc<str>), AtomicU64>,
    producer_hits: AtomicU64,
    producer_misses: AtomicU64,
    consumer_hits: AtomicU64,
    consumer_misses: AtomicU64,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("producers", &self.producers.len())
            .field("held_keys", &self.held.len())
            .finish_non_exhaustive()
    }
}

/// A producer's data key, taken once per request.
pub struct Sealer(Arc<LiveKey>);

impl Sealer {
    /// Seals `body` of message `message_id`.
    ///
    /// # Errors
    /// `InternalFailure` if the cipher refuses (it does not for bodies of any
    /// size SQS accepts).
    pub fn seal(&self, message_id: u128, body: Box<str>) -> Result<Envelope> {
        envelope::seal(&self.0.cipher, &self.0.sealed, message_id, body)
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sealer").field(&self.0.sealed.id).finish()
    }
}

/// Opens the envelopes of one receive for one principal; remembers the data
/// keys it used, so messages sealed under the same data key cost one cache
/// lookup per request.
pub struct Opener<'a> {
    keys: &'a Encryption,
    gate: Gate<'a>,
    who: Arc<Identity>,
    reuse_ms: u64,
    seen: Vec<Arc<LiveKey>>,
}

impl Opener<'_> {
    /// The plaintext body an envelope holds.
    ///
    /// # Errors
    /// The SQS `Kms*` error of a failed Decrypt.
    pub fn open(&mut self, envelope: &Envelope) -> Result<String> {
        if let Some(live) = self.seen.iter().find(|l| l.sealed.id == envelope.data_key.id) {
            return envelope::open(&live.cipher, envelope);
        }
        let (body, live) = self
            .keys
            .open_one(&self.who, envelope, self.reuse_ms, self.gate)?;
        self.seen.push(live);
        Ok(body)
    }
}

/// Compares two byte strings in time independent of where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The SQS error a KMS failure surfaces as, worded as SQS relays it.
pub fn sqs_error_for(e: &Error) -> Error {
    let meta = e.meta();
    let msg = format!(
        "{e} (Service: AWSKMS; Status Code: {}; Error Code: {}; Request ID: {}; Proxy: null)",
        meta.status,
        meta.query_code,
        uuid::Uuid::new_v4()
    )
    .into();
    match meta.query_code {
        "NotFoundException" => Error::KmsNotFound(msg),
        "DisabledException" => Error::KmsDisabled(msg),
        "KMSInvalidStateException" => Error::KmsInvalidState(msg),
        "InvalidKeyUsageException" | "IncorrectKeyException" | "InvalidCiphertextException" => {
            Error::KmsInvalidKeyUsage(msg)
        }
        "AccessDeniedException" => Error::KmsAccessDenied(msg),
        "ThrottlingException" => Error::KmsThrottled(msg),
        "OptInRequired" => Error::KmsOptInRequired(msg),
        _ => Error::KmsUnavailable(msg),
    }
}

impl Encryption {
    /// Empty caches in front of `kms`.
    pub fn new(kms: Arc<Kms>, clock: Arc<Clock>, region: &str, account_id: &str) -> Self {
        Self {
            kms,
            clock,
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            producers: DashMap::new(),
            consumers: DashMap::new(),
            misses: DashMap::new(),
            held: DashMap::new(),
            next_id: AtomicU64::new(1),
            next_expiry: AtomicU64::new(u64::MAX),
            expiry_changed: Notify::new(),
            ledger: Mutex::new(VecDeque::new()),
            ledger_seq: AtomicU64::new(0),
            kms_calls: DashMap::new(),
            producer_hits: AtomicU64::new(0),
            producer_misses: AtomicU64::new(0),
            consumer_hits: AtomicU64::new(0),
            consumer_misses: AtomicU64::new(0),
        }
    }

    /// The data key `who` seals with on the queue `queue_uid`/`queue_arn`
    /// with settings `sse`: the cached one, or a new one from KMS when there
    /// is none or its reuse period has passed, its calls authorized by
    /// `gate`. One per request: a batch seals all its bodies with it.
    ///
    /// # Errors
    /// The SQS `Kms*` error of a failed KMS call (only on a cache miss or
    /// expiry), `KmsAccessDenied` among them.
    pub fn sealer(
        &self,
        who: &Arc<Identity>,
        queue_uid: u64,
        queue_arn: &str,
        sse: &Sse,
        gate: Gate<'_>,
    ) -> Result<Sealer> {
        let now = self.clock.now_ms();
        let key = ProducerKey(Who(who.clone()), queue_uid, sse.key_id.clone());
        if let Some(live) = self.producers.get(&key)
            && now < live.expires_ms
        {
            self.producer_hits.fetch_add(1, Ordering::Relaxed);
            live.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Sealer(live.clone()));
        }
        self.producer_misses.fetch_add(1, Ordering::Relaxed);
        self.count_miss(CacheRole::Producer, who, queue_arn, &sse.key_id);
        let live = self.new_data_key(who, queue_arn, sse, now, gate)?;
        self.producers.insert(key, live.clone());
        Ok(Sealer(live))
    }

    /// Makes new data-key ids start above `max` (ids read back from a data
    /// directory key the plaintext cache).
    pub fn reserve_ids(&self, max: u64) {
        self.next_id.fetch_max(max + 1, Ordering::Relaxed);
    }

    /// Opens envelopes for `who` within one request, on a queue whose reuse
    /// period is `reuse_ms`, its KMS calls authorized by `gate`.
    pub fn opener<'a>(&'a self, who: &Arc<Identity>, reuse_ms: u64, gate: Gate<'a>) -> Opener<'a> {
        Opener {
            keys: self,
            gate,
            who: who.clone(),
            reuse_ms,
            seen: Vec::new(),
        }
    }

    /// Opens one envelope for `who` (see the module
    /// docs for when this calls KMS); returns the key it opened with.
    fn open_one(
        &self,
        who: &Arc<Identity>,
        envelope: &Envelope,
        reuse_ms: u64,
        gate: Gate<'_>,
    ) -> Result<(String, Arc<LiveKey>)> {
        let now = self.clock.now_ms();
        let dk = &envelope.data_key;
        let grant = ConsumerKey(Who(who.clone()), dk.queue_arn.clone(), dk.key_arn.clone());
        let held = self
            .held
            .get(&dk.id)
            .filter(|l| now < l.expires_ms)
            .map(|l| l.clone());
        if let Some(live) = &held
            && let Some(g) = self.consumers.get(&grant)
            && now < g.until_ms
        {
            self.consumer_hits.fetch_add(1, Ordering::Relaxed);
            g.hits.fetch_add(1, Ordering::Relaxed);
            let body = envelope::open(&live.cipher, envelope)?;
            return Ok((body, live.clone()));
        }
        self.consumer_misses.fetch_add(1, Ordering::Relaxed);
        self.count_miss(CacheRole::Consumer, who, &dk.queue_arn, &dk.key_arn);
        // Decrypt as the consumer: key state applies to it.
        let plain = self.decrypt_as(who, dk, dk.kind, gate)?;
        let cipher = Cipher::new(&plain)?;
        self.consumers.insert(
            grant,
            Grant {
                kind: dk.kind,
                made_ms: now,
                until_ms: now + reuse_ms,
                hits: AtomicU64::new(0),
            },
        );
        let live = match held {
            Some(live) => live,
            None => {
                let live = Arc::new(LiveKey {
                    sealed: dk.clone(),
                    cipher,
                    made_ms: now,
                    expires_ms: now + reuse_ms,
                    hits: AtomicU64::new(0),
                });
                self.hold(live.clone());
                live
            }
        };
        let body = envelope::open(&live.cipher, envelope)?;
        Ok((body, live))
    }

    /// GenerateDataKey as `who`, verified with one Decrypt; the key is held.
    fn new_data_key(
        &self,
        who: &Arc<Identity>,
        queue_arn: &str,
        sse: &Sse,
        now: u64,
        gate: Gate<'_>,
    ) -> Result<Arc<LiveKey>> {
        let queue_arn: Arc<str> = Arc::from(queue_arn);
        let context = envelope::context_for(&queue_arn);
        // The queue's KmsMasterKeyId names a key of the queue's account
        // and region.
        let home = self.home_of_queue(&queue_arn);
        let key_id: Arc<str> = match sse.kind {
            SseKind::SqsManaged => self.kms.service_owned_key("sqs", home.region),
            SseKind::Kms if self.is_aws_managed_alias(&sse.key_id, home) => {
                self.kms.aws_managed_key("sqs", home)
            }
            SseKind::Kms => sse.key_id.clone(),
        };
        let authorize = |key_arn: &str, policy: Option<&crate::iam::policy::PolicyDocument>| match sse.kind {
            SseKind::SqsManaged => Ok(()),
            SseKind::Kms => gate("kms:GenerateDataKey", key_arn, policy, &queue_arn),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let generated = self
            .kms
            .generate_data_key(&authorize, &key_id, DataKeySpec::Aes256, &context, home);
        // A failed call may name the key by alias: it is recorded under the
        // key's ARN when the key exists, so the ledger and the metrics
        // label show one name per key.
        let resolved = match &generated {
            Ok(d) => Some(d.key_arn.clone()),
            Err(_) => self.kms.internal_key_arn(&key_id, home),
        };
        self.record(
            "GenerateDataKey",
            &key_id,
            resolved,
            who,
            (&queue_arn, id),
            sse.kind,
            generated.as_ref().err(),
        );
        let generated = generated.map_err(|e| sqs_error_for(&e))?;
        let sealed = Arc::new(SealedDataKey {
            id,
            kind: sse.kind,
            key_arn: generated.key_arn.clone(),
            encrypted_data_key: generated.ciphertext_blob.into_boxed_slice(),
            queue_arn,
        });
        // SQS decrypts a new data key once to verify it before use.
        let check = self.decrypt_as(who, &sealed, sse.kind, gate)?;
        if !same_bytes(&check, &generated.plaintext) {
            tracing::error!("KMS returned a data key that did not verify");
            return Err(Error::InternalFailure);
        }
        let cipher = Cipher::new(&generated.plaintext)?;
        let live = Arc::new(LiveKey {
            sealed,
            cipher,
            made_ms: now,
            expires_ms: now + sse.reuse_ms,
            hits: AtomicU64::new(0),
        });
        self.hold(live.clone());
        Ok(live)
    }

    /// Decrypt of a data key as `who`, recorded in the ledger.
    fn decrypt_as(
        &self,
        who: &Arc<Identity>,
        dk: &SealedDataKey,
        kind: SseKind,
        gate: Gate<'_>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let authorize = |key_arn: &str, policy: Option<&crate::iam::policy::PolicyDocument>| match kind {
            SseKind::SqsManaged => Ok(()),
            SseKind::Kms => gate("kms:Decrypt", key_arn, policy, &dk.queue_arn),
        };
        let home = self.home_of_queue(&dk.queue_arn);
        let got = self
            .kms
            .decrypt(&authorize, &dk.encrypted_data_key, &dk.context(), None, home);
        // The envelope names its key by ARN; after a failure the key may be
        // gone (deleted), and then the metrics label is empty.
        let resolved = match &got {
            Ok(d) => Some(d.key_arn.clone()),
            Err(_) => self.kms.internal_key_arn(&dk.key_arn, home),
        };
        self.record(
            "Decrypt",
            &dk.key_arn,
            resolved,
            who,
            (&dk.queue_arn, dk.id),
            kind,
            got.as_ref().err(),
        );
        got.map(|d| d.plaintext).map_err(|e| sqs_error_for(&e))
    }

    /// Whether a configured key id names the AWS-managed key of SQS in the
    /// queue's region and account.
    fn is_aws_managed_alias(&self, key_id: &str, home: Home<'_>) -> bool {
        key_id == "alias/aws/sqs"
            || key_id == format!("arn:aws:kms:{}:{}:alias/aws/sqs", home.region, home.account)
    }

    /// The region and account of a queue (from its ARN), the server's if
    /// the ARN names none.
    fn home_of_queue<'a>(&'a self, queue_arn: &'a str) -> Home<'a> {
        Home::of_arn(queue_arn).unwrap_or(Home {
            region: &self.region,
            account: &self.account_id,
        })
    }

    fn hold(&self, live: Arc<LiveKey>) {
        let expires = live.expires_ms;
        self.held.insert(live.sealed.id, live);
        if self.next_expiry.fetch_min(expires, Ordering::AcqRel) > expires {
            self.expiry_changed.notify_one();
        }
    }

    /// Counts and records one call on the key `named` (as SQS named it),
    /// whose ARN is `resolved` when that key exists. The metrics label is
    /// the ARN or empty (labels come from a bounded set); the ledger keeps
    /// the name when there is no ARN, so a reader sees what was asked for.
    #[expect(
        clippy::too_many_arguments,
        reason = "one private recorder fed from two call sites"
    )]
    fn record(
        &self,
        operation: &'static str,
        named: &Arc<str>,
        resolved: Option<Arc<str>>,
        who: &Identity,
        (queue_arn, data_key_id): (&Arc<str>, u64),
        sse: SseKind,
        error: Option<&Error>,
    ) {
        let label: Arc<str> = resolved.clone().unwrap_or_else(|| Arc::from(""));
        match self.kms_calls.get(&(operation, label.clone())) {
            Some(n) => {
                n.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.kms_calls
                    .entry((operation, label))
                    .or_default()
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let call = KmsCall {
            operation,
            key_arn: resolved.unwrap_or_else(|| named.clone()),
            principal: Arc::from(who.arn.as_str()),
            queue_arn: queue_arn.clone(),
            sse,
            encryption_context: envelope::context_for(queue_arn),
            time_ms: self.clock.now_ms(),
            error: error.map(|e| e.meta().query_code),
            data_key_id,
            seq: 0,
        };
        let mut ledger = self
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Numbered under the lock, so the ledger is in sequence order.
        let call = KmsCall {
            seq: self.ledger_seq.fetch_add(1, Ordering::Relaxed) + 1,
            ..call
        };
        if ledger.len() == LEDGER_CAPACITY {
            ledger.pop_front();
        }
        ledger.push_back(call);
    }

    /// Every KMS call SQS made, oldest first (at most [`LEDGER_CAPACITY`]).
    pub fn ledger(&self) -> Vec<KmsCall> {
        self.ledger_since(0)
    }

    /// The ledger's calls numbered above `seq`, oldest first: what a reader
    /// that has seen up to `seq` has not seen yet.
    pub fn ledger_since(&self, seq: u64) -> Vec<KmsCall> {
        let ledger = self
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let skip = ledger.partition_point(|c| c.seq <= seq);
        ledger.range(skip..).cloned().collect()
    }

    /// Sequence number of the oldest call the ledger still holds (the next
    /// call's when it is empty): calls numbered below it were cleared or
    /// dropped for space.
    pub fn ledger_first_seq(&self) -> u64 {
        let ledger = self
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ledger
            .front()
            .map_or_else(|| self.ledger_seq.load(Ordering::Relaxed) + 1, |c| c.seq)
    }

    /// Counts one cache miss of `who` on a queue and key.
    fn count_miss(&self, role: CacheRole, who: &Identity, queue_arn: &str, key: &Arc<str>) {
        let id = (
            role,
            Arc::from(who.arn.as_str()),
            Arc::from(queue_arn),
            key.clone(),
        );
        *self.misses.entry(id).or_default() += 1;
    }

    /// The entries of both data-key caches that are in use at the server's
    /// time now (expired ones are not shown even before the sweeper drops
    /// them), producers first, each cache ordered by principal, queue, key.
    pub fn cache_entries(&self) -> Vec<CacheEntry> {
        let now = self.clock.now_ms();
        let misses = |role, principal: &Arc<str>, queue: &Arc<str>, key: &Arc<str>| {
            self.misses
                .get(&(role, principal.clone(), queue.clone(), key.clone()))
                .map_or(0, |n| *n)
        };
        let mut out: Vec<CacheEntry> = Vec::new();
        for e in &self.producers {
            let (ProducerKey(who, _, key_id), live) = (e.key(), e.value());
            if now >= live.expires_ms {
                continue;
            }
            let principal: Arc<str> = Arc::from(who.0.arn.as_str());
            out.push(CacheEntry {
                role: CacheRole::Producer,
                misses: misses(CacheRole::Producer, &principal, &live.sealed.queue_arn, key_id),
                principal,
                queue_arn: live.sealed.queue_arn.clone(),
                key_arn: live.sealed.key_arn.clone(),
                sse: live.sealed.kind,
                data_key_id: Some(live.sealed.id),
                made_ms: live.made_ms,
                expires_ms: live.expires_ms,
                hits: live.hits.load(Ordering::Relaxed),
            });
        }
        for e in &self.consumers {
            let (ConsumerKey(who, queue_arn, key_arn), g) = (e.key(), e.value());
            if now >= g.until_ms {
                continue;
            }
            let principal: Arc<str> = Arc::from(who.0.arn.as_str());
            out.push(CacheEntry {
                role: CacheRole::Consumer,
                misses: misses(CacheRole::Consumer, &principal, queue_arn, key_arn),
                principal,
                queue_arn: queue_arn.clone(),
                key_arn: key_arn.clone(),
                sse: g.kind,
                data_key_id: None,
                made_ms: g.made_ms,
                expires_ms: g.until_ms,
                hits: g.hits.load(Ordering::Relaxed),
            });
        }
        out.sort_by(|a, b| {
            (
                a.role == CacheRole::Consumer,
                &a.principal,
                &a.queue_arn,
                &a.key_arn,
            )
                .cmp(&(
                    b.role == CacheRole::Consumer,
                    &b.principal,
                    &b.queue_arn,
                    &b.key_arn,
                ))
        });
        out
    }

    /// Empties the ledger; how many calls it held. The counters behind the
    /// metrics are not reset (Prometheus counters only grow).
    pub fn clear_ledger(&self) -> usize {
        let mut ledger = self
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = ledger.len();
        ledger.clear();
        n
    }

    /// Forgets every plaintext data key and grant whose period has passed.
    pub fn sweep(&self) {
        let now = self.clock.now_ms();
        self.producers.retain(|_, l| now < l.expires_ms);
        self.held.retain(|_, l| now < l.expires_ms);
        self.consumers.retain(|_, g| now < g.until_ms);
        let next = self.held.iter().map(|l| l.expires_ms).min().unwrap_or(u64::MAX);
        self.next_expiry.store(next, Ordering::Release);
    }

    /// How many KMS calls SQS made, by operation and key ARN.
    pub fn kms_call_counts(&self) -> Vec<(&'static str, Arc<str>, u64)> {
        self.kms_calls
            .iter()
            .map(|e| (e.key().0, e.key().1.clone(), e.value().load(Ordering::Relaxed)))
            .collect()
    }

    /// Hits and misses of the data-key caches so far.
    pub fn cache_counts(&self) -> CacheCounts {
        CacheCounts {
            producer_hits: self.producer_hits.load(Ordering::Relaxed),
            producer_misses: self.producer_misses.load(Ordering::Relaxed),
            consumer_hits: self.consumer_hits.load(Ordering::Relaxed),
            consumer_misses: self.consumer_misses.load(Ordering::Relaxed),
        }
    }

    /// How many plaintext data keys are held (for tests and metrics).
    pub fn held_keys(&self) -> usize {
        self.held.len()
    }

    /// Runs [`Self::sweep`] whenever a held key comes due, until `stop`.
    pub async fn run_sweeper(&self, stop: tokio_util::sync::CancellationToken) {
        loop {
            let changed = self.expiry_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let next = self.next_expiry.load(Ordering::Acquire);
            tokio::select! {
                () = self.clock.sleep_until(next), if next != u64::MAX => self.sweep(),
                () = &mut changed => {}
                () = stop.cancelled() => return,
            }
        }
    }
}
