//! Inputs and outputs of every SQS action, named as the AWS shapes are.
//!
//! These are plain data: `protocol` decodes requests into `*Input` values and
//! encodes `*Output` values; `ops` turns one into the other. Nothing here
//! knows a wire format.

use std::collections::BTreeMap;

/// One decoded SQS request.
#[derive(Debug)]
pub enum SqsAction {
    /// `CreateQueue`
    CreateQueue(CreateQueueInput),
    /// `GetQueueUrl`
    GetQueueUrl(GetQueueUrlInput),
    /// `ListQueues`
    ListQueues(ListQueuesInput),
    /// `DeleteQueue`
    DeleteQueue(QueueUrlInput),
    /// `GetQueueAttributes`
    GetQueueAttributes(GetQueueAttributesInput),
    /// `SetQueueAttributes`
    SetQueueAttributes(SetQueueAttributesInput),
    /// `PurgeQueue`
    PurgeQueue(QueueUrlInput),
    /// `SendMessage`
    SendMessage(SendMessageInput),
    /// `SendMessageBatch`
    SendMessageBatch(SendMessageBatchInput),
    /// `ReceiveMessage`
    ReceiveMessage(ReceiveMessageInput),
    /// `DeleteMessage`
    DeleteMessage(DeleteMessageInput),
    /// `DeleteMessageBatch`
    DeleteMessageBatch(DeleteMessageBatchInput),
    /// `ChangeMessageVisibility`
    ChangeMessageVisibility(ChangeMessageVisibilityInput),
    /// `ChangeMessageVisibilityBatch`
    ChangeMessageVisibilityBatch(ChangeMessageVisibilityBatchInput),
    /// `TagQueue`
    TagQueue(TagQueueInput),
    /// `UntagQueue`
    UntagQueue(UntagQueueInput),
    /// `ListQueueTags`
    ListQueueTags(QueueUrlInput),
    /// `AddPermission`
    AddPermission(AddPermissionInput),
    /// `RemovePermission`
    RemovePermission(RemovePermissionInput),
    /// `ListDeadLetterSourceQueues`
    ListDeadLetterSourceQueues(ListDeadLetterSourceQueuesInput),
    /// `StartMessageMoveTask`
    StartMessageMoveTask(StartMessageMoveTaskInput),
    /// `CancelMessageMoveTask`
    CancelMessageMoveTask(CancelMessageMoveTaskInput),
    /// `ListMessageMoveTasks`
    ListMessageMoveTasks(ListMessageMoveTasksInput),
}

impl SqsAction {
    /// The IAM action that authorizes it (a batch needs its single
    /// action's permission, as AWS's permissions reference says).
    pub fn iam_action(&self) -> &'static str {
        match self {
            Self::CreateQueue(_) => "sqs:CreateQueue",
            Self::GetQueueUrl(_) => "sqs:GetQueueUrl",
            Self::ListQueues(_) => "sqs:ListQueues",
            Self::DeleteQueue(_) => "sqs:DeleteQueue",
            Self::GetQueueAttributes(_) => "sqs:GetQueueAttributes",
            Self::SetQueueAttributes(_) => "sqs:SetQueueAttributes",
            Self::PurgeQueue(_) => "sqs:PurgeQueue",
            Self::SendMessage(_) | Self::SendMessageBatch(_) => "sqs:SendMessage",
            Self::ReceiveMessage(_) => "sqs:ReceiveMessage",
            Self::DeleteMessage(_) | Self::DeleteMessageBatch(_) => "sqs:DeleteMessage",
            Self::ChangeMessageVisibility(_) | Self::ChangeMessageVisibilityBatch(_) => {
                "sqs:ChangeMessageVisibility"
            }
            Self::TagQueue(_) => "sqs:TagQueue",
            Self::UntagQueue(_) => "sqs:UntagQueue",
            Self::ListQueueTags(_) => "sqs:ListQueueTags",
            Self::AddPermission(_) => "sqs:AddPermission",
            Self::RemovePermission(_) => "sqs:RemovePermission",
            Self::ListDeadLetterSourceQueues(_) => "sqs:ListDeadLetterSourceQueues",
            Self::StartMessageMoveTask(_) => "sqs:StartMessageMoveTask",
            Self::CancelMessageMoveTask(_) => "sqs:CancelMessageMoveTask",
            Self::ListMessageMoveTasks(_) => "sqs:ListMessageMoveTasks",
        }
    }
}

/// Every action name sealq knows, in the order of [`SqsAction`].
pub const ACTIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "PurgeQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "AddPermission",
    "RemovePermission",
    "ListDeadLetterSourceQueues",
];

/// Input of actions that take only a queue URL.
#[derive(Debug)]
pub struct QueueUrlInput {
    /// Queue URL.
    pub queue_url: String,
}

/// `CreateQueue` input.
#[derive(Debug)]
pub struct CreateQueueInput {
    /// Queue name.
    pub queue_name: String,
    /// Attributes, in request order.
    pub attributes: Vec<(String, String)>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// `GetQueueUrl` input.
#[derive(Debug)]
pub struct GetQueueUrlInput {
    /// Queue name.
    pub queue_name: String,
    /// Owner account, when not the caller's.
    pub queue_owner_aws_account_id: Option<String>,
}

/// `ListQueues` input.
#[derive(Debug, Default)]
pub struct ListQueuesInput {
    /// Only names starting with this.
    pub queue_name_prefix: Option<String>,
    /// Page token from a previous call.
    pub next_token: Option<String>,
    /// Page size (1–1000).
    pub max_results: Option<i64>,
}

/// `GetQueueAttributes` input.
#[derive(Debug)]
pub struct GetQueueAttributesInput {
    /// Queue URL.
    pub queue_url: String,
    /// Names asked for (`All` allowed).
    pub attribute_names: Vec<String>,
}

/// `SetQueueAttributes` input.
#[derive(Debug)]
pub struct SetQueueAttributesInput {
    /// Queue URL.
    pub queue_url: String,
    /// Attributes to set.
    pub attributes: Vec<(String, String)>,
}

/// A message attribute value as sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttributeValue {
    /// `String`, `Number`, `Binary`, optionally with a `.suffix`.
    pub data_type: String,
    /// `StringValue`.
    pub string_value: Option<String>,
    /// `BinaryValue`, decoded.
    pub binary_value: Option<Vec<u8>>,
    /// Whether `StringListValues` or `BinaryListValues` were given (reserved by AWS).
    pub has_list_values: bool,
}

/// `SendMessage` input (also one entry of a batch, without the id).
#[derive(Debug)]
pub struct SendMessageInput {
    /// Queue URL.
    pub queue_url: String,
    /// Message body.
    pub message_body: Option<String>,
    /// Per-message delay.
    pub delay_seconds: Option<i64>,
    /// Message attributes.
    pub message_attributes: Vec<(String, MessageAttributeValue)>,
    /// Message system attributes (`AWSTraceHeader`).
    pub message_system_attributes: Vec<(String, MessageAttributeValue)>,
    /// FIFO deduplication id.
    pub message_deduplication_id: Option<String>,
    /// FIFO group id.
    pub message_group_id: Option<String>,
}

/// One entry of `SendMessageBatch`.
#[derive(Debug)]
pub struct SendMessageBatchRequestEntry {
    /// Entry id.
    pub id: String,
    /// The message.
    pub message: SendMessageInput,
}

/// `SendMessageBatch` input.
#[derive(Debug)]
pub struct SendMessageBatchInput {
    /// Queue URL.
    pub queue_url: String,
    /// Entries.
    pub entries: Vec<SendMessageBatchRequestEntry>,
}

/// `SendMessage` output.
#[derive(Debug)]
pub struct SendMessageOutput {
    /// New message id.
    pub message_id: String,
    /// MD5 of the body.
    pub md5_of_message_body: String,
    /// MD5 of the message attributes, if any were sent.
    pub md5_of_message_attributes: Option<String>,
    /// MD5 of the system attributes, if any were sent.
    pub md5_of_message_system_attributes: Option<String>,
    /// FIFO sequence number.
    pub sequence_number: Option<String>,
}

/// One successful entry of `SendMessageBatch`.
#[derive(Debug)]
pub struct SendMessageBatchResultEntry {
    /// Entry id.
    pub id: String,
    /// What a single send would have returned.
    pub result: SendMessageOutput,
}

/// One failed batch entry.
#[derive(Debug)]
pub struct BatchResultErrorEntry {
    /// Entry id.
    pub id: String,
    /// Whether the caller is at fault.
    pub sender_fault: bool,
    /// Error code.
    pub code: String,
    /// Error message.
    pub message: String,
}

/// `SendMessageBatch` output.
#[derive(Debug)]
pub struct SendMessageBatchOutput {
    /// Entries that were sent.
    pub successful: Vec<SendMessageBatchResultEntry>,
    /// Entries that failed.
    pub failed: Vec<BatchResultErrorEntry>,
}

/// `ReceiveMessage` input.
#[derive(Debug)]
pub struct ReceiveMessageInput {
    /// Queue URL.
    pub queue_url: String,
    /// Legacy `AttributeNames` (system attributes).
    pub attribute_names: Vec<String>,
    /// `MessageSystemAttributeNames`.
    pub message_system_attribute_names: Vec<String>,
    /// `MessageAttributeNames` (names, `All`, `.*`, `prefix.*`).
    pub message_attribute_names: Vec<String>,
    /// 1–10.
    pub max_number_of_messages: Option<i64>,
    /// Visibility timeout for these messages.
    pub visibility_timeout: Option<i64>,
    /// Long-poll wait.
    pub wait_time_seconds: Option<i64>,
    /// FIFO receive attempt id.
    pub receive_request_attempt_id: Option<String>,
}

/// One received message.
#[derive(Debug)]
pub struct ReceivedMessage {
    /// Message id.
    pub message_id: String,
    /// Receipt handle of this receive.
    pub receipt_handle: String,
    /// MD5 of the body.
    pub md5_of_body: String,
    /// Body.
    pub body: String,
    /// Selected system attributes.
    pub attributes: Vec<(&'static str, String)>,
    /// MD5 of the returned message attributes.
    pub md5_of_message_attributes: Option<String>,
    /// Selected message attributes.
    pub message_attributes: Vec<(String, MessageAttributeValue)>,
}

/// `ReceiveMessage` output.
#[derive(Debug)]
pub struct ReceiveMessageOutput {
    /// Messages received.
    pub messages: Vec<ReceivedMessage>,
}

/// `DeleteMessage` input.
#[derive(Debug)]
pub struct DeleteMessageInput {
    /// Queue URL.
    pub queue_url: String,
    /// Receipt handle.
    pub receipt_handle: String,
}

/// One entry of a receipt-handle batch (delete or change visibility).
#[derive(Debug)]
pub struct ReceiptBatchEntry {
    /// Entry id.
    pub id: String,
    /// Receipt handle.
    pub receipt_handle: String,
    /// New visibility timeout (change visibility only).
    pub visibility_timeout: Option<i64>,
}

/// `DeleteMessageBatch` input.
#[derive(Debug)]
pub struct DeleteMessageBatchInput {
    /// Queue URL.
    pub queue_url: String,
    /// Entries.
    pub entries: Vec<ReceiptBatchEntry>,
}

/// Output of the receipt-handle batches.
#[derive(Debug)]
pub struct ReceiptBatchOutput {
    /// Ids of the entries that succeeded.
    pub successful: Vec<String>,
    /// Entries that failed.
    pub failed: Vec<BatchResultErrorEntry>,
}

/// `ChangeMessageVisibility` input.
#[derive(Debug)]
pub struct ChangeMessageVisibilityInput {
    /// Queue URL.
    pub queue_url: String,
    /// Receipt handle.
    pub receipt_handle: String,
    /// New timeout, seconds from now.
    pub visibility_timeout: i64,
}

/// `ChangeMessageVisibilityBatch` input.
#[derive(Debug)]
pub struct ChangeMessageVisibilityBatchInput {
    /// Queue URL.
    pub queue_url: String,
    /// Entries.
    pub entries: Vec<ReceiptBatchEntry>,
}

/// `TagQueue` input.
#[derive(Debug)]
pub struct TagQueueInput {
    /// Queue URL.
    pub queue_url: String,
    /// Tags to add or replace.
    pub tags: BTreeMap<String, String>,
}

/// `UntagQueue` input.
#[derive(Debug)]
pub struct UntagQueueInput {
    /// Queue URL.
    pub queue_url: String,
    /// Keys to remove.
    pub tag_keys: Vec<String>,
}

/// `AddPermission` input.
#[derive(Debug)]
pub struct AddPermissionInput {
    /// Queue URL.
    pub queue_url: String,
    /// Statement id.
    pub label: String,
    /// Accounts granted.
    pub aws_account_ids: Vec<String>,
    /// Actions granted.
    pub actions: Vec<String>,
}

/// `RemovePermission` input.
#[derive(Debug)]
pub struct RemovePermissionInput {
    /// Queue URL.
    pub queue_url: String,
    /// Statement id to remove.
    pub label: String,
}

/// `ListDeadLetterSourceQueues` input.
#[derive(Debug)]
pub struct ListDeadLetterSourceQueuesInput {
    /// URL of the dead-letter queue.
    pub queue_url: String,
    /// Page token.
    pub next_token: Option<String>,
    /// Page size (1–1000).
    pub max_results: Option<i64>,
}

/// `StartMessageMoveTask` input.
#[derive(Debug)]
pub struct StartMessageMoveTaskInput {
    /// ARN of the dead-letter queue to move messages out of.
    pub source_arn: String,
    /// Where to move them (default: each message's original source).
    pub destination_arn: Option<String>,
    /// Rate limit (1–500 messages per second).
    pub max_number_of_messages_per_second: Option<i64>,
}

/// `CancelMessageMoveTask` input.
#[derive(Debug)]
pub struct CancelMessageMoveTaskInput {
    /// The handle StartMessageMoveTask returned.
    pub task_handle: String,
}

/// `ListMessageMoveTasks` input.
#[derive(Debug)]
pub struct ListMessageMoveTasksInput {
    /// ARN of the dead-letter queue.
    pub source_arn: String,
    /// Most tasks to list (1–10, default 1).
    pub max_results: Option<i64>,
}

/// One `ListMessageMoveTasksResultEntry`.
#[derive(Debug, Clone)]
pub struct MessageMoveTask {
    /// Handle, shown only while the task runs.
    pub task_handle: Option<String>,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: &'static str,
    /// Source (dead-letter) queue ARN.
    pub source_arn: String,
    /// Destination queue ARN, when one was given.
    pub destination_arn: Option<String>,
    /// Rate limit, when one was given.
    pub max_number_of_messages_per_second: Option<i64>,
    /// Messages moved so far.
    pub approximate_number_of_messages_moved: i64,
    /// Messages to move, counted when the task started.
    pub approximate_number_of_messages_to_move: Option<i64>,
    /// Why the task failed.
    pub failure_reason: Option<String>,
    /// Start time, epoch ms.
    pub started_timestamp: i64,
}

/// A list of queue URLs with a page token (ListQueues, ListDeadLetterSourceQueues).
#[derive(Debug)]
pub struct QueueUrlsOutput {
    /// URLs.
    pub queue_urls: Vec<String>,
    /// Token of the next page.
    pub next_token: Option<String>,
}

/// The result of one SQS action.
#[derive(Debug)]
pub enum SqsOutput {
    /// No result element (DeleteQueue, SetQueueAttributes, ...).
    Empty,
    /// CreateQueue / GetQueueUrl.
    QueueUrl(String),
    /// ListQueues.
    ListQueues(QueueUrlsOutput),
    /// ListDeadLetterSourceQueues.
    ListDeadLetterSourceQueues(QueueUrlsOutput),
    /// GetQueueAttributes.
    Attributes(Vec<(String, String)>),
    /// SendMessage.
    SendMessage(SendMessageOutput),
    /// SendMessageBatch.
    SendMessageBatch(SendMessageBatchOutput),
    /// ReceiveMessage.
    ReceiveMessage(ReceiveMessageOutput),
    /// DeleteMessageBatch / ChangeMessageVisibilityBatch.
    ReceiptBatch(ReceiptBatchOutput),
    /// ListQueueTags.
    Tags(BTreeMap<String, String>),
    /// StartMessageMoveTask: the task handle.
    TaskHandle(String),
    /// CancelMessageMoveTask: messages moved before the cancel.
    MessagesMoved(i64),
    /// ListMessageMoveTasks.
    MoveTasks(Vec<MessageMoveTask>),
}
