//! Envelope encryption of message bodies (SSE-SQS and SSE-KMS).
//!
//! `envelope` seals and opens one body with AES-256-GCM under a data key;
//! `keys` holds the data-key caches of the SQS key-management guide, calls
//! the KMS model in-process (never over HTTP) as the requesting principal,
//! and records every such call in a ledger and in counters (with the caches'
//! hits and misses) that `/_sealq/metrics` shows. Plaintext bodies of encrypted
//! queues exist only while a request is served; plaintext data keys only in
//! `keys`, for at most the reuse period. Nothing here logs a key or a body.

pub mod envelope;
pub mod keys;

pub use envelope::{Body, Envelope, SealedDataKey, SseKind};
pub use keys::{CacheCounts, CacheEntry, CacheRole, Encryption, KmsCall, Opener, Sealer, Sse};
