//! The envelope a message body of an encrypted queue is stored as, and the
//! AES-256-GCM sealing and opening of bodies under a plaintext data key.
//!
//! This module owns no keys and calls no KMS: `crypto::keys` hands it a
//! ready cipher. The additional authenticated data binds a ciphertext to the
//! queue that sealed it and to its message id, so a stored ciphertext moved
//! to another message or queue fails to open instead of decrypting.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::error::{Error, Result};
use crate::kms::EncryptionContext;

/// The encryption-context key SQS binds to its data keys.
pub const CONTEXT_KEY: &str = "aws:sqs:arn";

/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;

/// An AES-256-GCM key ready to seal and open bodies.
///
/// AWS-LC (through aws-lc-rs) does the work: its AES-GCM is several times
/// faster than the pure-Rust crates here, which keeps encryption within a
/// few percent of an unencrypted queue's throughput, and it wipes the key
/// schedule when the key is freed (`OPENSSL_free` cleanses), so no key
/// material outlives its data key.
pub struct Cipher(LessSafeKey);

impl Cipher {
    /// A cipher for a 32-byte data key.
    ///
    /// # Errors
    /// `InternalFailure` for a key of another length.
    pub fn new(key: &[u8]) -> Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::InternalFailure)?;
        Ok(Self(LessSafeKey::new(key)))
    }
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

/// Which kind of server-side encryption sealed a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SseKind {
    /// SSE-SQS: a service-owned key.
    SqsManaged,
    /// SSE-KMS: a KMS key the queue names.
    Kms,
}

impl SseKind {
    /// How AWS names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::SqsManaged => "SSE-SQS",
            Self::Kms => "SSE-KMS",
        }
    }
}

/// A data key as stored beside the messages it sealed: the data key
/// encrypted by KMS, and what is needed to ask KMS for it again. Shared by
/// every message sealed under it; holds no plaintext.
#[derive(Debug)]
pub struct SealedDataKey {
    /// Server-unique number; keys the cache of plaintext data keys.
    pub id: u64,
    /// SSE-SQS or SSE-KMS.
    pub kind: SseKind,
    /// ARN of the KMS key that encrypted the data key.
    pub key_arn: Arc<str>,
    /// The ciphertext blob KMS returned for the data key.
    pub encrypted_data_key: Box<[u8]>,
    /// ARN of the queue that sealed with it: the encryption context.
    pub queue_arn: Arc<str>,
}

impl SealedDataKey {
    /// The encryption context of the data key: `{"aws:sqs:arn": <queue ARN>}`.
    pub fn context(&self) -> EncryptionContext {
        context_for(&self.queue_arn)
    }
}

/// The encryption context SQS uses for a queue.
pub fn context_for(queue_arn: &str) -> EncryptionContext {
    EncryptionContext::from([(CONTEXT_KEY.to_owned(), queue_arn.to_owned())])
}

/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;

/// A sealed body: nonce, AES-256-GCM ciphertext and tag, and the data key it
/// was sealed under. The tag is kept beside the ciphertext rather than
/// appended, so a 1 KiB body's ciphertext still fits the allocator's 1 KiB
/// size class.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The data key (encrypted) and its KMS key.
    pub data_key: Arc<SealedDataKey>,
    /// Fresh random nonce of this body.
    pub nonce: [u8; NONCE_LEN],
    /// GCM authentication tag.
    pub tag: [u8; TAG_LEN],
    /// Id of the message the body was sealed as: with the sealing queue's
    /// ARN, the additional authenticated data. A message redriven by a move
    /// task gets a new MessageId but keeps this envelope as it is.
    pub sealed_for: u128,
    /// Ciphertext, as long as the body.
    pub ciphertext: Box<[u8]>,
}

/// A stored message body: plaintext on unencrypted queues, an envelope on
/// encrypted ones.
#[derive(Debug, Clone)]
pub enum Body {
    /// Stored as sent.
    Plain(Box<str>),
    /// Stored sealed; the plaintext exists only while a request is served.
    Sealed(Box<Envelope>),
}

/// Runs `f` on the additional authenticated data of a body: the sealing
/// queue's ARN (length-prefixed) and the message id. Built on the stack (an
/// ARN is at most ~130 bytes); a longer one falls back to the heap.
fn with_aad<R>(queue_arn: &str, message_id: u128, f: impl FnOnce(&[u8]) -> R) -> R {
    const STACK: usize = 256;
    let len = 4 + queue_arn.len() + 16;
    let arn_len = u32::try_from(queue_arn.len()).unwrap_or(u32::MAX).to_be_bytes();
    if len <= STACK {
        let mut buf = [0u8; STACK];
        buf[..4].copy_from_slice(&arn_len);
        buf[4..4 + queue_arn.len()].copy_from_slice(queue_arn.as_bytes());
        buf[4 + queue_arn.len()..len].copy_from_slice(&message_id.to_be_bytes());
        f(&buf[..len])
    } else {
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(&arn_len);
        v.extend_from_slice(queue_arn.as_bytes());
        v.extend_from_slice(&message_id.to_be_bytes());
        f(&v)
    }
}

/// The additional authenticated data a body of message `message_id` sealed
/// by `queue_arn` is bound to (for the admin's envelope view).
pub fn aad(queue_arn: &str, message_id: u128) -> Vec<u8> {
    with_aad(queue_arn, message_id, <[u8]>::to_vec)
}

/// Seals `body` of message `message_id` with `cipher` (the data key of
/// `data_key`) under a fresh random nonce, in place: the body's own buffer
/// becomes the ciphertext, so the plaintext is overwritten, not copied.
///
/// # Errors
/// `InternalFailure` if the cipher refuses (it does not for bodies of any
/// size SQS accepts).
pub fn seal(
    cipher: &Cipher,
    data_key: &Arc<SealedDataKey>,
    message_id: u128,
    body: Box<str>,
) -> Result<Envelope> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut ciphertext: Box<[u8]> = body.into_boxed_bytes();
    let tag = with_aad(&data_key.queue_arn, message_id, |aad| {
        cipher.0.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut ciphertext,
        )
    })
    .map_err(|_| Error::InternalFailure)?;
    let tag: [u8; TAG_LEN] = tag.as_ref().try_into().map_err(|_| Error::InternalFailure)?;
    Ok(Envelope {
        data_key: data_key.clone(),
        nonce,
        tag,
        sealed_for: message_id,
        ciphertext,
    })
}

/// Opens `envelope` with `cipher`.
///
/// # Errors
/// `InternalFailure` when the tag does not verify (the stored envelope was
/// altered or moved) or the plaintext is not UTF-8; the cause is logged
/// without any key or body.
pub fn open(cipher: &Cipher, envelope: &Envelope) -> Result<String> {
    let mut plain = vec![0u8; envelope.ciphertext.len()];
    with_aad(&envelope.data_key.queue_arn, envelope.sealed_for, |aad| {
        cipher.0.open_separate_gather(
            Nonce::assume_unique_for_key(envelope.nonce),
            Aad::from(aad),
            &envelope.ciphertext,
            &envelope.tag,
            &mut plain,
        )
    })
    .map_err(|_| {
        tracing::error!(
            data_key = envelope.data_key.id,
            "a stored envelope failed authentication"
        );
        Error::InternalFailure
    })?;
    String::from_utf8(plain).map_err(|_| Error::InternalFailure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (Cipher, Arc<SealedDataKey>) {
        let cipher = Cipher::new(&[7u8; 32]).unwrap();
        let dk = Arc::new(SealedDataKey {
            id: 1,
            kind: SseKind::Kms,
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/k".into(),
            encrypted_data_key: Box::new([1, 2, 3]),
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
        });
        (cipher, dk)
    }

    #[test]
    fn sealed_bodies_hold_no_plaintext_and_open_again() {
        let (c, dk) = key();
        let e = seal(&c, &dk, 42, "secret body".into()).unwrap();
        assert!(!e.ciphertext.windows(6).any(|w| w == b"secret"));
        assert_eq!(e.ciphertext.len(), "secret body".len());
        assert_eq!(open(&c, &e).unwrap(), "secret body");
        assert_eq!(e.sealed_for, 42);
    }

    #[test]
    fn nonces_are_fresh() {
        let (c, dk) = key();
        let a = seal(&c, &dk, 1, "x".into()).unwrap();
        let b = seal(&c, &dk, 1, "x".into()).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn tampering_moving_or_another_key_fails() {
        let (c, dk) = key();
        let e = seal(&c, &dk, 9, "body".into()).unwrap();
        let mut flipped = e.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(open(&c, &flipped).is_err());
        let mut bad_tag = e.clone();
        bad_tag.tag[15] ^= 0x80;
        assert!(open(&c, &bad_tag).is_err());
        let mut other_id = e.clone();
        other_id.sealed_for = 10;
        assert!(open(&c, &other_id).is_err(), "bound to its message id");
        let other_queue = Envelope {
            data_key: Arc::new(SealedDataKey {
                queue_arn: "arn:aws:sqs:us-east-1:000000000000:other".into(),
                ..SealedDataKey {
                    id: dk.id,
                    kind: dk.kind,
                    key_arn: dk.key_arn.clone(),
                    encrypted_data_key: dk.encrypted_data_key.clone(),
                    queue_arn: dk.queue_arn.clone(),
                }
            }),
            ..e.clone()
        };
        assert!(open(&c, &other_queue).is_err(), "bound to its queue");
        let other = Cipher::new(&[8u8; 32]).unwrap();
        assert!(open(&other, &e).is_err());
    }
}
