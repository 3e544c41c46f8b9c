//! The ciphertext-blob format of sealq's KMS: what Encrypt, GenerateDataKey
//! and ReEncrypt return and Decrypt accepts.
//!
//! This is NOT AWS's format. Real KMS ciphertext is opaque and not
//! interoperable with anything else; sealq's blobs are self-describing so that
//! Decrypt needs no `KeyId`, as in AWS. A blob made by sealq is only useful to
//! the sealq server that made it (backing keys live in its memory).
//!
//! Byte layout (all integers big-endian):
//!
//! ```text
//! offset  size  field
//!      0     1  format byte: 0xE1 (magic and version 1 in one byte)
//!      1    16  key id: the UUID of the KMS key, as 16 raw bytes
//!     17     4  backing-key version (u32): which key material sealed it
//!     21    12  nonce: fresh random 96-bit AES-GCM nonce
//!     33     n  AES-256-GCM ciphertext of the plaintext (n = plaintext length)
//!   33+n    16  AES-GCM tag
//! ```
//!
//! The additional authenticated data is the 21-byte header (format byte, key
//! id, version) followed by the canonical encryption context: its pairs sorted
//! by key (byte order), each written as `u32 len(key) ‖ key ‖ u32 len(value)
//! ‖ value`. So another context, another key, a flipped bit or a truncated
//! blob all fail to open.
//!
//! This module only packs and unpacks bytes and runs AES-GCM; it knows nothing
//! of key states, aliases or errors on the wire, and never logs.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore as _;
use zeroize::Zeroizing;

use super::EncryptionContext;

/// The format byte that starts every blob (magic + version 1).
pub const FORMAT: u8 = 0xE1;
/// Length of the header that is authenticated as AAD.
pub const HEADER_LEN: usize = 1 + 16 + 4;
/// Length of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Shortest possible blob (empty plaintext).
pub const MIN_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// What a blob's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// UUID of the KMS key, raw bytes.
    pub key_id: [u8; 16],
    /// Backing-key version that sealed the blob.
    pub version: u32,
}

/// Canonical bytes of an encryption context (see the module docs).
pub fn canonical_context(context: &EncryptionContext) -> Vec<u8> {
    let len = context.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(len);
    for (k, v) in context {
        push_len_prefixed(&mut out, k.as_bytes());
        push_len_prefixed(&mut out, v.as_bytes());
    }
    out
}

fn push_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    // Context pairs are bounded far below 4 GiB by the request size limit.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + 64);
    aad.extend_from_slice(header);
    aad.extend_from_slice(&canonical_context(context));
    aad
}

/// Seals `plaintext` under `material` (a 256-bit backing key), binding it to
/// `header` and `context`.
pub fn seal(material: &[u8; 32], header: Header, plaintext: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut out = Vec::with_capacity(MIN_LEN + plaintext.len());
    out.push(FORMAT);
    out.extend_from_slice(&header.key_id);
    out.extend_from_slice(&header.version.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let cipher = Aes256Gcm::new(material.into());
    let aad = aad(&out[..HEADER_LEN], context);
    // AES-GCM encryption fails only for plaintexts beyond 64 GiB, which the
    // request size limit rules out.
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .unwrap_or_default();
    out.extend_from_slice(&sealed);
    out
}

/// Reads the header of `blob`; `None` when it cannot be one of ours.
pub fn header(blob: &[u8]) -> Option<Header> {
    if blob.len() < MIN_LEN || blob[0] != FORMAT {
        return None;
    }
    let key_id: [u8; 16] = blob[1..17].try_into().ok()?;
    let version = u32::from_be_bytes(blob[17..21].try_into().ok()?);
    Some(Header { key_id, version })
}

/// Opens `blob` under `material`; `None` when the tag does not verify (altered
/// blob, other context, other key material).
pub fn open(material: &[u8; 32], blob: &[u8], context: &EncryptionContext) -> Option<Zeroizing<Vec<u8>>> {
    header(blob)?;
    let nonce = &blob[HEADER_LEN..HEADER_LEN + NONCE_LEN];
    let cipher = Aes256Gcm::new(material.into());
    let aad = aad(&blob[..HEADER_LEN], context);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: &blob[HEADER_LEN + NONCE_LEN..],
                aad: &aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const HDR: Header = Header {
        key_id: [1; 16],
        version: 3,
    };

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn layout_is_as_documented() {
        let b = seal(&KEY, HDR, b"hello", &EncryptionContext::new());
        assert_eq!(b.len(), MIN_LEN + 5);
        assert_eq!(b[0], FORMAT);
        assert_eq!(header(&b), Some(HDR));
        assert_eq!(&b[17..21], &[0, 0, 0, 3]);
    }

    #[test]
    fn round_trip_and_tamper() {
        let c = ctx(&[("b", "2"), ("a", "1")]);
        let b = seal(&KEY, HDR, b"secret", &c);
        assert_eq!(
            open(&KEY, &b, &c).as_deref().map(Vec::as_slice),
            Some(&b"secret"[..])
        );
        for i in 0..b.len() {
            let mut t = b.clone();
            t[i] ^= 1;
            assert!(open(&KEY, &t, &c).is_none(), "flip at {i}");
        }
        assert!(open(&KEY, &b[..b.len() - 1], &c).is_none());
        assert!(open(&KEY, &b, &ctx(&[("a", "1")])).is_none());
        assert!(open(&[8; 32], &b, &c).is_none());
    }

    #[test]
    fn context_is_length_prefixed_so_pairs_cannot_be_shifted() {
        assert_ne!(
            canonical_context(&ctx(&[("ab", "c")])),
            canonical_context(&ctx(&[("a", "bc")]))
        );
        assert_eq!(
            canonical_context(&ctx(&[("k", "v")])),
            vec![0, 0, 0, 1, b'k', 0, 0, 0, 1, b'v']
        );
    }

    #[test]
    fn short_or_foreign_blobs_have_no_header() {
        assert!(header(&[FORMAT; MIN_LEN - 1]).is_none());
        assert!(header(&[0u8; 64]).is_none());
    }
}
