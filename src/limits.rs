//! AWS's documented limits, as constants (botocore SQS model docs and the SQS
//! quotas pages).

/// Largest message (body plus attributes), and the default `MaximumMessageSize`.
pub const MAX_MESSAGE_SIZE: u64 = 1_048_576;
/// Smallest allowed `MaximumMessageSize`.
pub const MIN_MESSAGE_SIZE_LIMIT: u64 = 1_024;
/// Largest total size of a batch request's messages.
pub const MAX_BATCH_SIZE: usize = 1_048_576;
/// Entries per batch request.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Longest batch entry id.
pub const MAX_BATCH_ENTRY_ID_LEN: usize = 80;
/// Longest `DelaySeconds`.
pub const MAX_DELAY_SECONDS: u64 = 900;
/// Longest visibility timeout (12 hours), also the longest total time a
/// message may stay invisible after one receive.
pub const MAX_VISIBILITY_TIMEOUT: u64 = 43_200;
/// Default visibility timeout.
pub const DEFAULT_VISIBILITY_TIMEOUT: u64 = 30;
/// Shortest retention period.
pub const MIN_RETENTION_SECONDS: u64 = 60;
/// Longest retention period (14 days).
pub const MAX_RETENTION_SECONDS: u64 = 1_209_600;
/// Default retention period (4 days).
pub const DEFAULT_RETENTION_SECONDS: u64 = 345_600;
/// Longest long-poll wait.
pub const MAX_WAIT_SECONDS: u64 = 20;
/// Messages per receive.
pub const MAX_RECEIVE_MESSAGES: u64 = 10;
/// Message attributes per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// Longest message attribute name and data type.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 256;
/// Longest queue name.
pub const MAX_QUEUE_NAME_LEN: usize = 80;
/// Time between two PurgeQueue calls on one queue.
pub const PURGE_INTERVAL_MS: u64 = 60_000;
/// Tags per queue.
pub const MAX_TAGS: usize = 50;
/// Longest tag key.
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value.
pub const MAX_TAG_VALUE_LEN: usize = 256;
/// Most queue URLs ListQueues returns in one page.
pub const MAX_LIST_RESULTS: usize = 1_000;
/// Longest `Label` of AddPermission.
pub const MAX_PERMISSION_LABEL_LEN: usize = 80;

/// Most statements in a queue policy (SQS quota; `OverLimit`).
pub const MAX_POLICY_STATEMENTS: usize = 20;

/// Most actions in one statement of a queue policy (SQS quota; `OverLimit`).
pub const MAX_STATEMENT_ACTIONS: usize = 7;
/// Most in-flight messages of a standard queue.
pub const MAX_INFLIGHT_STANDARD: usize = 120_000;
/// Most in-flight messages of a FIFO queue.
pub const MAX_INFLIGHT_FIFO: usize = 20_000;
/// Largest request body sealq reads (a 1 MiB batch, percent-encoded).
pub const MAX_REQUEST_BODY: usize = 8 * 1_048_576;
/// Default `KmsDataKeyReusePeriodSeconds` (also SSE-SQS's reuse period).
pub const DEFAULT_REUSE_PERIOD_SECONDS: u64 = 300;
