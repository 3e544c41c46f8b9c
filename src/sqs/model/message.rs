//! One stored message, its digests, its receipt handles, and the checks on
//! message contents.
//!
//! Digests follow the SQS Developer Guide ("Calculating the MD5 message digest
//! for message attributes"); the vectors in the tests are AWS's.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::{Digest, Md5};

use crate::crypto::Body;
use crate::error::{Error, Result};
use crate::sqs::types::MessageAttributeValue;

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgState {
    /// Sent with a delay; becomes visible at `until` (epoch ms).
    Delayed {
        /// When it becomes visible.
        until: u64,
    },
    /// Can be received.
    Visible,
    /// Received; invisible until `until`.
    InFlight {
        /// When it becomes visible again.
        until: u64,
        /// When this receive happened.
        received_ms: u64,
        /// Which receive this is (part of the receipt handle).
        seq: u32,
    },
}

/// Rarely present parts of a message, boxed so common messages stay small.
#[derive(Debug, Clone)]
pub struct MessageExtra {
    /// Message attributes, sorted by name.
    pub attributes: Vec<(String, MessageAttributeValue)>,
    /// `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// `MessageGroupId` (standard queues accept one since AWS's fair queues).
    pub group_id: Option<String>,
    /// `DeadLetterQueueSourceArn`: set when the message was moved to a
    /// dead-letter queue.
    pub dead_letter_source_arn: Option<Arc<str>>,
    /// FIFO: `MessageDeduplicationId` (given, or the SHA-256 of the body).
    pub dedup_id: Option<String>,
    /// FIFO: `SequenceNumber`.
    pub sequence_number: Option<u128>,
}

/// A stored message.
#[derive(Debug)]
pub struct Message {
    /// Queue-unique serial number (guards slot reuse).
    pub serial: u64,
    /// MessageId (a UUID).
    pub id: u128,
    /// Body: plaintext, or an envelope on an encrypted queue.
    pub body: Body,
    /// MD5 of the body.
    pub md5_of_body: [u8; 16],
    /// SentTimestamp, epoch ms.
    pub sent_ms: u64,
    /// ApproximateFirstReceiveTimestamp, 0 before the first receive.
    pub first_receive_ms: u64,
    /// ApproximateReceiveCount.
    pub receive_count: u32,
    /// Delayed, visible or in flight.
    pub state: MsgState,
    /// SenderId.
    pub sender_id: Arc<str>,
    /// Attributes and trace header, when present.
    pub extra: Option<Box<MessageExtra>>,
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// MD5 of a body.
pub fn md5_of_body(body: &str) -> [u8; 16] {
    Md5::digest(body.as_bytes()).into()
}

/// MD5OfMessageAttributes: attributes sorted by name; for each, the length-
/// prefixed name, the length-prefixed data type, a transport byte (1 string,
/// 2 binary), and the length-prefixed value.
pub fn md5_of_attributes<'a, I>(attributes: I) -> [u8; 16]
where
    I: IntoIterator<Item = (&'a str, &'a MessageAttributeValue)>,
{
    fn field(h: &mut Md5, bytes: &[u8]) {
        h.update(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(bytes);
    }
    let mut sorted: Vec<_> = attributes.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Md5::new();
    for (name, value) in sorted {
        field(&mut h, name.as_bytes());
        field(&mut h, value.data_type.as_bytes());
        if let Some(b) = &value.binary_value {
            h.update([2u8]);
            field(&mut h, b);
        } else {
            h.update([1u8]);
            field(&mut h, value.string_value.as_deref().unwrap_or("").as_bytes());
        }
    }
    h.finalize().into()
}

/// Checks a body or string value for characters SQS refuses.
///
/// Works on bytes: in UTF-8, the only refused characters are C0 controls
/// other than tab, LF and CR (one byte each, below 0x20) and U+FFFE/U+FFFF
/// (`EF BF BE`, `EF BF BF`); surrogates cannot occur in a Rust string. This
/// runs on every body sent, so it avoids decoding characters.
///
/// # Errors
/// `InvalidMessageContents` naming the first bad character.
pub fn check_contents(text: &str) -> Result<()> {
    let b = text.as_bytes();
    // Branch-free over fixed chunks, so it vectorizes: a chunk with no byte
    // below 0x20 and no 0xEF cannot hold a refused character.
    let clean = b
        .chunks(64)
        .all(|c| c.iter().fold(true, |ok, &x| ok & (x >= 0x20) & (x != 0xEF)));
    if clean {
        return Ok(());
    }
    let bad = b.iter().enumerate().find_map(|(i, &x)| {
        if x < 0x20 && !matches!(x, b'\t' | b'\n' | b'\r') {
            Some(u32::from(x))
        } else if x == 0xEF && b.get(i + 1) == Some(&0xBF) {
            match b.get(i + 2) {
                Some(0xBE) => Some(0xFFFE),
                Some(0xBF) => Some(0xFFFF),
                _ => None,
            }
        } else {
            None
        }
    });
    match bad {
        None => Ok(()),
        Some(c) => Err(Error::InvalidMessageContents(
            format!(
                "Invalid binary character '#x{c:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]."
            )
            .into(),
        )),
    }
}

/// Where a receipt handle points: a message slot of one queue, at one receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptHandle {
    /// Unique id of the queue instance.
    pub queue_uid: u64,
    /// Slot of the message in its queue.
    pub slot: u32,
    /// Serial of the message (guards slot reuse).
    pub serial: u64,
    /// Which receive issued it.
    pub seq: u32,
}

/// Version byte of the receipt-handle layout. Changing the layout breaks
/// receipt handles held by clients (and, later, stored state): bump it.
const HANDLE_VERSION: u8 = 1;
const HANDLE_LEN: usize = 1 + 8 + 4 + 8 + 4;

impl ReceiptHandle {
    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        let mut b = [0u8; HANDLE_LEN];
        b[0] = HANDLE_VERSION;
        b[1..9].copy_from_slice(&self.queue_uid.to_be_bytes());
        b[9..13].copy_from_slice(&self.slot.to_be_bytes());
        b[13..21].copy_from_slice(&self.serial.to_be_bytes());
        b[21..25].copy_from_slice(&self.seq.to_be_bytes());
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Parses a handle made by [`ReceiptHandle::encode`].
    ///
    /// # Errors
    /// `ReceiptHandleIsInvalid` for anything else.
    pub fn decode(s: &str) -> Result<Self> {
        let invalid = || {
            Error::ReceiptHandleIsInvalid(
                format!("The input receipt handle \"{s}\" is not a valid receipt handle.").into(),
            )
        };
        let b = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        if b.len() != HANDLE_LEN || b[0] != HANDLE_VERSION {
            return Err(invalid());
        }
        let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap_or_default());
        Ok(Self {
            queue_uid: u64_at(1),
            slot: u32_at(9),
            serial: u64_at(13),
            seq: u32_at(21),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(data_type: &str, v: &str) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: data_type.into(),
            string_value: Some(v.into()),
            binary_value: None,
            has_list_values: false,
        }
    }

    fn binary(v: &[u8]) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: "Binary".into(),
            string_value: None,
            binary_value: Some(v.to_vec()),
            has_list_values: false,
        }
    }

    #[test]
    fn attribute_digests_match_aws_vectors() {
        let s = string("String", "attribValue 1");
        assert_eq!(
            hex(&md5_of_attributes([("attribName1", &s)])),
            "19e27d4e946b072f3f58da80d94fd778"
        );
        let n = string("Number.float", "4563442423554324324264524243.32543234");
        assert_eq!(
            hex(&md5_of_attributes([("customNumberTypeAttrib", &n)])),
            "9fe1b90bbd9965bdf77bac517c7d2495"
        );
        let b = binary(b"Hello binary world!");
        assert_eq!(
            hex(&md5_of_attributes([("binaryAttribute", &b)])),
            "31a92b15d92f8db860eda32aceb656c3"
        );
        let all = [
            ("customNumberTypeAttrib", &n),
            ("binaryAttribute", &b),
            ("attribName1", &s),
        ];
        assert_eq!(hex(&md5_of_attributes(all)), "c932db14a896c663f83c260297d594ff");
    }

    #[test]
    fn body_digest_is_plain_md5() {
        assert_eq!(hex(&md5_of_body("hello")), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn receipt_handles_round_trip_and_reject_garbage() {
        let h = ReceiptHandle {
            queue_uid: 7,
            slot: 3,
            serial: 99,
            seq: 2,
        };
        assert_eq!(ReceiptHandle::decode(&h.encode()).unwrap(), h);
        for bad in ["", "abc", "!!!!", &h.encode()[1..]] {
            assert!(
                matches!(ReceiptHandle::decode(bad), Err(Error::ReceiptHandleIsInvalid(_))),
                "{bad}"
            );
        }
    }

    /// Whether `c` may appear in a message body or string attribute:
    /// `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
    fn allowed_char(c: char) -> bool {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }

    #[test]
    fn the_byte_check_agrees_with_the_character_rule() {
        let ranges = [
            0..0x300u32,
            0xD700..0xE100,
            0xEF00..0xF100,
            0xFFF0..0x10010,
            0x10_FFF0..0x11_0000,
        ];
        for c in ranges.into_iter().flatten().filter_map(char::from_u32) {
            let text = format!("ok {c} ok");
            assert_eq!(
                check_contents(&text).is_ok(),
                allowed_char(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn contents_outside_the_xml_range_are_refused() {
        assert!(check_contents("tab\tnew\nline\r ok \u{10FFFF}").is_ok());
        assert!(check_contents("bell\u{7}").is_err());
        assert!(check_contents("\u{FFFE}").is_err());
        assert!(check_contents("x\u{FFFF}").is_err());
        assert!(
            check_contents("\u{FFFD}\u{EFFF}\u{7F}").is_ok(),
            "EF lead bytes of allowed characters"
        );
        assert!(check_contents("\u{0}").is_err());
    }
}
