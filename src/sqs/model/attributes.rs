//! Queue attributes: their names, defaults, ranges and rendering.
//!
//! Names and ranges are those of the SQS API Reference (`CreateQueue`,
//! `SetQueueAttributes`, `GetQueueAttributes`).

use std::sync::Arc;

use crate::crypto::{Sse, SseKind};
use crate::error::{Error, Result};
use crate::limits::{
    DEFAULT_RETENTION_SECONDS, DEFAULT_REUSE_PERIOD_SECONDS, DEFAULT_VISIBILITY_TIMEOUT, MAX_DELAY_SECONDS,
    MAX_MESSAGE_SIZE, MAX_RETENTION_SECONDS, MAX_VISIBILITY_TIMEOUT, MAX_WAIT_SECONDS,
    MIN_MESSAGE_SIZE_LIMIT, MIN_RETENTION_SECONDS,
};
use crate::sqs::policy;

/// Every attribute name `GetQueueAttributes` knows, `All` excluded, in the
/// order sealq returns them.
pub const READABLE: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "ContentBasedDeduplication",
    "CreatedTimestamp",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
];

/// A parsed `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// ARN of the dead-letter queue.
    pub target_arn: String,
    /// Receives after which a message moves there.
    pub max_receive_count: u32,
}

/// The attributes a queue stores (the counters live with the messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAttributes {
    /// Default delay of new messages, seconds.
    pub delay_seconds: u64,
    /// Largest message, bytes.
    pub maximum_message_size: u64,
    /// Retention, seconds.
    pub message_retention_period: u64,
    /// Default long-poll wait, seconds.
    pub receive_message_wait_time_seconds: u64,
    /// Default visibility timeout, seconds.
    pub visibility_timeout: u64,
    /// Access policy document, as set.
    pub policy: Option<String>,
    /// The access policy, read once when it is set (`None`: no policy, or
    /// a stored one this build cannot read, which is logged at start).
    pub policy_document: Option<Arc<crate::iam::policy::PolicyDocument>>,
    /// Dead-letter policy document.
    pub redrive_policy: Option<String>,
    /// The dead-letter target and receive limit of `redrive_policy`.
    pub redrive: Option<Redrive>,
    /// Which sources may use this queue as a dead-letter queue.
    pub redrive_allow_policy: Option<String>,
    /// FIFO queue (set at creation only).
    pub fifo_queue: bool,
    /// FIFO content-based deduplication.
    pub content_based_deduplication: bool,
    /// FIFO `queue` | `messageGroup`.
    pub deduplication_scope: Option<String>,
    /// FIFO `perQueue` | `perMessageGroupId`.
    pub fifo_throughput_limit: Option<String>,
    /// KMS key of SSE-KMS.
    pub kms_master_key_id: Option<String>,
    /// Data-key reuse period, seconds.
    pub kms_data_key_reuse_period_seconds: Option<u64>,
    /// SSE-SQS.
    pub sqs_managed_sse_enabled: bool,
}

impl QueueAttributes {
    /// A new queue's attributes.
    pub fn new(fifo: bool) -> Self {
        Self {
            delay_seconds: 0,
            maximum_message_size: MAX_MESSAGE_SIZE,
            message_retention_period: DEFAULT_RETENTION_SECONDS,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            policy: None,
            policy_document: None,
            redrive_policy: None,
            redrive: None,
            redrive_allow_policy: None,
            fifo_queue: fifo,
            content_based_deduplication: false,
            deduplication_scope: fifo.then(|| "queue".to_owned()),
            fifo_throughput_limit: fifo.then(|| "perQueue".to_owned()),
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: None,
            sqs_managed_sse_enabled: false,
        }
    }

    /// Sets one attribute after checking name and value. `creating` allows
    /// the attributes that only CreateQueue may set.
    ///
    /// # Errors
    /// `InvalidAttributeName` for unknown or read-only names, or FIFO
    /// attributes on a standard queue; `InvalidAttributeValue` for bad values.
    pub fn set(&mut self, name: &str, value: &str, creating: bool) -> Result<()> {
        match name {
            "DelaySeconds" => self.delay_seconds = number(name, value, 0, MAX_DELAY_SECONDS)?,
            "MaximumMessageSize" => {
                self.maximum_message_size = number(name, value, MIN_MESSAGE_SIZE_LIMIT, MAX_MESSAGE_SIZE)?;
            }
            "MessageRetentionPeriod" => {
                self.message_retention_period =
                    number(name, value, MIN_RETENTION_SECONDS, MAX_RETENTION_SECONDS)?;
            }
            "ReceiveMessageWaitTimeSeconds" => {
                self.receive_message_wait_time_seconds = number(name, value, 0, MAX_WAIT_SECONDS)?;
            }
            "VisibilityTimeout" => self.visibility_timeout = number(name, value, 0, MAX_VISIBILITY_TIMEOUT)?,
            "Policy" => {
                let (text, document) = policy::check_policy(value)?.unzip();
                self.policy = text;
                self.policy_document = document;
            }
            "RedrivePolicy" => {
                self.redrive_policy = policy::check_redrive_policy(value)?;
                self.redrive = self.redrive_policy.as_deref().and_then(policy::redrive_parts);
            }
            "RedriveAllowPolicy" => self.redrive_allow_policy = policy::check_redrive_allow_policy(value)?,
            // A FIFO queue takes `FifoQueue=true` again and refuses `false`
            // (AWS recorded); a standard queue knows no such attribute,
            // not even `false`.
            "FifoQueue" if self.fifo_queue => match boolean(name, value)? {
                true => {}
                false if creating => return Err(invalid_value(name)),
                false => {
                    return Err(Error::InvalidAttributeValue(
                        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.".into(),
                    ));
                }
            },
            "ContentBasedDeduplication" if self.fifo_queue => {
                self.content_based_deduplication = boolean(name, value)?;
            }
            "DeduplicationScope" if self.fifo_queue => {
                self.deduplication_scope = Some(one_of(name, value, &["queue", "messageGroup"])?);
            }
            "FifoThroughputLimit" if self.fifo_queue => {
                self.fifo_throughput_limit = Some(one_of(name, value, &["perQueue", "perMessageGroupId"])?);
            }
            "DeduplicationScope" | "FifoThroughputLimit" => {
                return Err(Error::InvalidAttributeName(
                    format!("You can specify the {name} only when FifoQueue is set to true.").into(),
                ));
            }
            "KmsMasterKeyId" => {
                self.kms_master_key_id = (!value.is_empty()).then(|| value.to_owned());
            }
            "KmsDataKeyReusePeriodSeconds" => {
                self.kms_data_key_reuse_period_seconds = Some(number(name, value, 60, 86_400)?);
            }
            "SqsManagedSseEnabled" => self.sqs_managed_sse_enabled = boolean(name, value)?,
            _ => {
                return Err(Error::InvalidAttributeName(
                    format!("Unknown Attribute {name}.").into(),
                ));
            }
        }
        Ok(())
    }

    /// Sets every attribute of one request (CreateQueue or
    /// SetQueueAttributes), then applies the server-side-encryption rules
    /// recorded against AWS: SSE-SQS and SSE-KMS are exclusive; naming a KMS
    /// key turns SSE-SQS off; turning SSE-SQS on forgets the KMS key; clearing
    /// the key (`""`) leaves the queue unencrypted.
    ///
    /// # Errors
    /// As [`Self::set`], and `InvalidAttributeName` when one request asks
    /// for both kinds of SSE.
    pub fn set_all(&mut self, attributes: &[(String, String)], creating: bool) -> Result<()> {
        for (k, v) in attributes {
            self.set(k, v, creating)?;
        }
        if self.fifo_throughput_limit.as_deref() == Some("perMessageGroupId")
            && self.deduplication_scope.as_deref() != Some("messageGroup")
        {
            return Err(Error::InvalidAttributeValue(
                "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId is valid only when DeduplicationScope is messageGroup.".into(),
            ));
        }
        let given = |name: &str| {
            attributes
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let kms_key = given("KmsMasterKeyId").filter(|v| !v.is_empty());
        let sqs_sse = given("SqsManagedSseEnabled").map(|v| v.eq_ignore_ascii_case("true"));
        match (kms_key, sqs_sse) {
            (Some(_), Some(true)) => {
                return Err(Error::InvalidAttributeName(
                    "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.".into(),
                ));
            }
            (Some(_), _) => self.sqs_managed_sse_enabled = false,
            (None, Some(true)) => self.kms_master_key_id = None,
            _ => {}
        }
        Ok(())
    }

    /// Whether any server-side encryption is on.
    pub fn is_encrypted(&self) -> bool {
        self.sqs_managed_sse_enabled || self.kms_master_key_id.is_some()
    }

    /// How long data keys of this queue are reused, in ms: the KMS reuse
    /// period with SSE-KMS, else the default.
    pub fn reuse_ms(&self) -> u64 {
        let secs = match &self.kms_master_key_id {
            Some(_) => self
                .kms_data_key_reuse_period_seconds
                .unwrap_or(DEFAULT_REUSE_PERIOD_SECONDS),
            None => DEFAULT_REUSE_PERIOD_SECONDS,
        };
        secs * 1000
    }

    /// The encryption settings new messages are sealed with, if any.
    pub fn sse(&self) -> Option<Sse> {
        let reuse_ms = self.reuse_ms();
        if let Some(key) = &self.kms_master_key_id {
            Some(Sse {
                kind: SseKind::Kms,
                key_id: Arc::from(key.as_str()),
                reuse_ms,
            })
        } else if self.sqs_managed_sse_enabled {
            Some(Sse {
                kind: SseKind::SqsManaged,
                key_id: Arc::from(""),
                reuse_ms,
            })
        } else {
            None
        }
    }

    /// The stored value of a settable attribute, as GetQueueAttributes shows
    /// it; `None` when unset (then the name is omitted from the output).
    pub fn get(&self, name: &str) -> Option<String> {
        let fifo = self.fifo_queue;
        match name {
            "DelaySeconds" => Some(self.delay_seconds.to_string()),
            "MaximumMessageSize" => Some(self.maximum_message_size.to_string()),
            "MessageRetentionPeriod" => Some(self.message_retention_period.to_string()),
            "ReceiveMessageWaitTimeSeconds" => Some(self.receive_message_wait_time_seconds.to_string()),
            "VisibilityTimeout" => Some(self.visibility_timeout.to_string()),
            "Policy" => self.policy.clone(),
            "RedrivePolicy" => self.redrive_policy.clone(),
            "RedriveAllowPolicy" => self.redrive_allow_policy.clone(),
            "FifoQueue" => fifo.then(|| "true".to_owned()),
            "ContentBasedDeduplication" => fifo.then(|| self.content_based_deduplication.to_string()),
            "DeduplicationScope" => self.deduplication_scope.clone().filter(|_| fifo),
            "FifoThroughputLimit" => self.fifo_throughput_limit.clone().filter(|_| fifo),
            "KmsMasterKeyId" => self.kms_master_key_id.clone(),
            "KmsDataKeyReusePeriodSeconds" => self.kms_master_key_id.as_ref().map(|_| {
                self.kms_data_key_reuse_period_seconds
                    .unwrap_or(DEFAULT_REUSE_PERIOD_SECONDS)
                    .to_string()
            }),
            "SqsManagedSseEnabled" => Some(self.sqs_managed_sse_enabled.to_string()),
            _ => None,
        }
    }
}

fn invalid_value(name: &str) -> Error {
    Error::InvalidAttributeValue(format!("Invalid value for the parameter {name}.").into())
}

fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| invalid_value(name))
}

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_value(name)),
    }
}

fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<String> {
    allowed
        .iter()
        .find(|a| **a == value)
        .map(|a| (*a).to_owned())
        .ok_or_else(|| invalid_value(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_enforced() {
        let mut a = QueueAttributes::new(false);
        assert!(a.set("VisibilityTimeout", "43200", false).is_ok());
        assert!(matches!(
            a.set("VisibilityTimeout", "43201", false),
            Err(Error::InvalidAttributeValue(_))
        ));
        assert!(a.set("MaximumMessageSize", "1023", false).is_err());
        assert!(a.set("MaximumMessageSize", "1048576", false).is_ok());
        assert!(a.set("MessageRetentionPeriod", "59", false).is_err());
        assert!(a.set("DelaySeconds", "x", false).is_err());
    }

    #[test]
    fn fifo_attributes_need_a_fifo_queue_and_read_only_names_are_refused() {
        let mut a = QueueAttributes::new(false);
        assert!(matches!(
            a.set("ContentBasedDeduplication", "true", false),
            Err(Error::InvalidAttributeName(_))
        ));
        assert!(matches!(
            a.set("QueueArn", "x", false),
            Err(Error::InvalidAttributeName(_))
        ));
        assert!(matches!(
            a.set("FifoQueue", "false", false),
            Err(Error::InvalidAttributeName(_))
        ));
        assert!(matches!(
            a.set("FifoQueue", "false", true),
            Err(Error::InvalidAttributeName(m)) if &*m == "Unknown Attribute FifoQueue."
        ));
        let mut f = QueueAttributes::new(true);
        assert!(f.set("FifoQueue", "true", false).is_ok());
        assert!(matches!(
            f.set("FifoQueue", "false", false),
            Err(Error::InvalidAttributeValue(m)) if m.contains("Modifying queue type is not supported.")
        ));
    }
}
