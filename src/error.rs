//! THE error enum of sealq and its wire metadata table.
//!
//! Every failure a client can see is one variant of [`Error`]; its `Display`
//! text is the message the client reads. [`Error::meta`] is the one exhaustive
//! table giving each variant its HTTP status, its query-protocol code (also
//! sent in `x-amzn-query-error` by the JSON protocol), its JSON `__type` and
//! its fault side. Codes and statuses come from the SQS service model's
//! `awsQueryError` traits in botocore's `data/sqs`, never from memory.
//!
//! This module depends on nothing else in the crate and knows no wire format:
//! `protocol::error` turns an `Error` into bytes.

use std::borrow::Cow;

/// Which side AWS blames for an error (`<Type>` in query errors, second half
/// of `x-amzn-query-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The client sent something wrong.
    Sender,
    /// The service failed.
    Receiver,
}

impl Fault {
    /// The word AWS writes for this side.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sender => "Sender",
            Self::Receiver => "Receiver",
        }
    }
}

/// Wire metadata of one error variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorMeta {
    /// HTTP status code.
    pub status: u16,
    /// Query-protocol `<Code>`, and first half of `x-amzn-query-error`.
    pub query_code: &'static str,
    /// JSON-protocol `__type`: fully qualified for SQS, the bare shape name
    /// for KMS (as KMS sends it).
    pub json_type: &'static str,
    /// Sender or Receiver.
    pub fault: Fault,
}

/// Message text of a message.
type Msg = Cow<'static, str>;

/// Every error sealq can return to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // ---- SQS, modelled errors -------------------------------------------------
    /// The queue named by the request does not exist.
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    /// A queue with this name exists with different attributes.
    #[error("{0}")]
    QueueNameExists(Msg),
    /// A queue with this name was deleted less than 60 seconds ago.
    #[error("{0}")]
    QueueDeletedRecently(Msg),
    /// Unknown or misplaced attribute name.
    #[error("{0}")]
    InvalidAttributeName(Msg),
    /// Attribute value out of range or malformed.
    #[error("{0}")]
    InvalidAttributeValue(Msg),
    /// Message body or attribute holds characters outside the allowed set.
    #[error("{0}")]
    InvalidMessageContents(Msg),
    /// Malformed receipt handle (older operations).
    #[error("{0}")]
    InvalidIdFormat(Msg),
    /// Receipt handle is not valid for this queue.
    #[error("{0}")]
    ReceiptHandleIsInvalid(Msg),
    /// The message is not in flight.
    #[error("{0}")]
    MessageNotInflight(Msg),
    /// PurgeQueue called again within 60 seconds.
    #[error("{0}")]
    PurgeQueueInProgress(Msg),
    /// A limit was exceeded (in-flight messages, permissions, tags).
    #[error("{0}")]
    OverLimit(Msg),
    /// Two batch entries share an id.
    #[error("{0}")]
    BatchEntryIdsNotDistinct(Msg),
    /// The batch is larger than the maximum request size.
    #[error("{0}")]
    BatchRequestTooLong(Msg),
    /// The batch has no entries.
    #[error("{0}")]
    EmptyBatchRequest(Msg),
    /// A batch entry id breaks the id rules.
    #[error("{0}")]
    InvalidBatchEntryId(Msg),
    /// The batch has more than 10 entries.
    #[error("{0}")]
    TooManyEntriesInBatchRequest(Msg),
    /// The action is not supported on this queue (or by sealq).
    #[error("{0}")]
    UnsupportedOperation(Msg),
    /// The request was not signed with SigV4 (or not over HTTPS).
    #[error("{0}")]
    InvalidSecurity(Msg),
    /// Too many requests.
    #[error("{0}")]
    RequestThrottled(Msg),
    /// The queue URL is not valid.
    #[error("{0}")]
    InvalidAddress(Msg),
    /// A resource named by the request (move task, source ARN) does not exist.
    #[error("{0}")]
    ResourceNotFound(Msg),

    // ---- SQS errors for KMS failures (SendMessage/SendMessageBatch/ReceiveMessage)
    /// KMS denied the call SQS made for the caller.
    #[error("{0}")]
    KmsAccessDenied(Msg),
    /// The KMS key is disabled.
    #[error("{0}")]
    KmsDisabled(Msg),
    /// The KMS key cannot be used to encrypt or decrypt.
    #[error("{0}")]
    KmsInvalidKeyUsage(Msg),
    /// The KMS key is in a state that does not allow the call (pending deletion).
    #[error("{0}")]
    KmsInvalidState(Msg),
    /// The KMS key does not exist.
    #[error("{0}")]
    KmsNotFound(Msg),
    /// The account is not subscribed to KMS.
    #[error("{0}")]
    KmsOptInRequired(Msg),
    /// KMS throttled the call.
    #[error("{0}")]
    KmsThrottled(Msg),
    /// KMS could not be reached (not modelled by SQS: a service-side 500).
    #[error("{0}")]
    KmsUnavailable(Msg),

    // ---- KMS API errors (JSON 1.1) ----------------------------------------------
    // Served to clients of the KMS API (`TrentService.*`). Each variant is named
    // after its shape in the KMS service model; `__type` is the bare shape name.
    /// KMS `NotFoundException`: the key or alias does not exist.
    #[error("{0}")]
    NotFoundException(Msg),
    /// KMS `DisabledException`: the key is disabled.
    #[error("{0}")]
    DisabledException(Msg),
    /// KMS `KMSInvalidStateException`: the key state does not allow the call.
    #[error("{0}")]
    KmsInvalidStateException(Msg),
    /// KMS `InvalidCiphertextException`: not ours, altered, or another context
    /// (AWS sends an empty message).
    #[error("{0}")]
    InvalidCiphertextException(Msg),
    /// KMS `IncorrectKeyException`: the named key did not make the ciphertext.
    #[error("{0}")]
    IncorrectKeyException(Msg),
    /// KMS `InvalidKeyUsageException`: the key's usage (or its spec's
    /// algorithms) does not allow the operation.
    #[error("{0}")]
    InvalidKeyUsageException(Msg),
    /// KMS `KMSInvalidMacException`: VerifyMac computed another HMAC.
    #[error("{0}")]
    KmsInvalidMacException(Msg),
    /// KMS `AlreadyExistsException` (alias taken).
    #[error("{0}")]
    AlreadyExistsException(Msg),
    /// `ValidationException`: a parameter breaks the model's constraints.
    #[error("{0}")]
    ValidationException(Msg),
    /// KMS `InvalidArnException`.
    #[error("{0}")]
    InvalidArnException(Msg),
    /// KMS `InvalidAliasNameException`.
    #[error("{0}")]
    InvalidAliasNameException(Msg),
    /// KMS `MalformedPolicyDocumentException`.
    #[error("{0}")]
    MalformedPolicyDocumentException(Msg),
    /// KMS `TagException`.
    #[error("{0}")]
    TagException(Msg),
    /// KMS `UnsupportedOperationException`.
    #[error("{0}")]
    UnsupportedOperationException(Msg),
    /// KMS `LimitExceededException`.
    #[error("{0}")]
    LimitExceededException(Msg),
    /// KMS `KMSInternalException` (server fault).
    #[error("{0}")]
    KmsInternalException(Msg),
    /// KMS `DependencyTimeoutException` (server fault).
    #[error("{0}")]
    DependencyTimeoutException(Msg),
    /// KMS `KeyUnavailableException` (server fault).
    #[error("{0}")]
    KeyUnavailableException(Msg),
    /// `ThrottlingException` (common AWS error, not in the KMS model).
    #[error("{0}")]
    KmsThrottlingException(Msg),
    /// `AccessDeniedException` (common AWS error, not in the KMS model).
    #[error("{0}")]
    AccessDeniedException(Msg),
    /// KMS `InvalidMarkerException`: a pagination marker that is not ours.
    #[error("{0}")]
    InvalidMarkerException(Msg),
    /// `UnknownOperationException`: the `X-Amz-Target` action is unknown.
    #[error("{0}")]
    UnknownOperationException(Msg),
    /// `MissingAuthenticationTokenException`: an unsigned KMS request.
    #[error("{0}")]
    MissingAuthenticationToken(Msg),

    // ---- common AWS errors (not in the service model) -------------------------
    /// The action is unknown.
    #[error("{0}")]
    InvalidAction(Msg),
    /// A required parameter is missing.
    #[error("{0}")]
    MissingParameter(Msg),
    /// A parameter has a value AWS rejects.
    #[error("{0}")]
    InvalidParameterValue(Msg),
    /// Query parameters that cannot be decoded (bad percent-encoding, not UTF-8).
    #[error("{0}")]
    MalformedQueryString(Msg),
    /// A JSON body that is not a JSON object.
    #[error("{0}")]
    SerializationException(Msg),
    /// The request is larger than sealq accepts.
    #[error("{0}")]
    RequestEntityTooLarge(Msg),
    /// The request's body did not arrive within `--client-timeout`.
    #[error("{0}")]
    RequestTimeout(Msg),
    /// The query protocol `Version` is not `2012-11-05`.
    #[error("{0}")]
    NoSuchVersion(Msg),
    /// An `Authorization` header that is not a SigV4 header.
    #[error("{0}")]
    IncompleteSignature(Msg),
    /// SQS: the signature, its scope or its time does not match (403).
    #[error("{0}")]
    SignatureDoesNotMatch(Msg),
    /// SQS: the access key id is not known (403).
    #[error("{0}")]
    InvalidClientTokenId(Msg),
    /// KMS: the signature, its scope or its time does not match.
    #[error("{0}")]
    InvalidSignatureException(Msg),
    /// KMS: the access key id is not known.
    #[error("{0}")]
    UnrecognizedClientException(Msg),
    /// KMS: the signature's parts cannot be read.
    #[error("{0}")]
    IncompleteSignatureException(Msg),
    /// SQS and STS: the session token has expired (403).
    #[error("{0}")]
    ExpiredToken(Msg),
    /// KMS: the session token has expired.
    #[error("{0}")]
    ExpiredTokenException(Msg),
    /// STS: an unsigned request (403 `MissingAuthenticationToken`).
    #[error("{0}")]
    MissingAuthentication(Msg),
    /// The caller may not do this (403 `AccessDenied`).
    #[error("{0}")]
    AccessDenied(Msg),
    /// STS: a parameter breaks the model's constraints (`ValidationError`).
    #[error("{0}")]
    ValidationError(Msg),
    /// Something failed inside sealq; the details are logged, not returned.
    #[error("We encountered an internal error. Please try again.")]
    InternalFailure,
}

/// Namespace of SQS JSON `__type` values.
macro_rules! sqs_type {
    ($shape:literal) => {
        concat!("com.amazonaws.sqs#", $shape)
    };
}

impl Error {
    /// The wire metadata of this error: one exhaustive table, so a new variant
    /// without a row does not compile.
    pub fn meta(&self) -> ErrorMeta {
        use Fault::{Receiver, Sender};
        let (status, query_code, json_type, fault) = match self {
            Self::QueueDoesNotExist => (
                400,
                "AWS.SimpleQueueService.NonExistentQueue",
                sqs_type!("QueueDoesNotExist"),
                Sender,
            ),
            Self::QueueNameExists(_) => (400, "QueueAlreadyExists", sqs_type!("QueueNameExists"), Sender),
            Self::QueueDeletedRecently(_) => (
                400,
                "AWS.SimpleQueueService.QueueDeletedRecently",
                sqs_type!("QueueDeletedRecently"),
                Sender,
            ),
            Self::InvalidAttributeName(_) => (
                400,
                "InvalidAttributeName",
                sqs_type!("InvalidAttributeName"),
                Sender,
            ),
            Self::InvalidAttributeValue(_) => (
                400,
                "InvalidAttributeValue",
                sqs_type!("InvalidAttributeValue"),
                Sender,
            ),
            Self::InvalidMessageContents(_) => (
                400,
                "InvalidMessageContents",
                sqs_type!("InvalidMessageContents"),
                Sender,
            ),
            Self::InvalidIdFormat(_) => (400, "InvalidIdFormat", sqs_type!("InvalidIdFormat"), Sender),
            Self::ReceiptHandleIsInvalid(_) => (
                404,
                "ReceiptHandleIsInvalid",
                sqs_type!("ReceiptHandleIsInvalid"),
                Sender,
            ),
            Self::MessageNotInflight(_) => (
                400,
                "AWS.SimpleQueueService.MessageNotInflight",
                sqs_type!("MessageNotInflight"),
                Sender,
            ),
            Self::PurgeQueueInProgress(_) => (
                403,
                "AWS.SimpleQueueService.PurgeQueueInProgress",
                sqs_type!("PurgeQueueInProgress"),
                Sender,
            ),
            Self::OverLimit(_) => (403, "OverLimit", sqs_type!("OverLimit"), Sender),
            Self::BatchEntryIdsNotDistinct(_) => (
                400,
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                sqs_type!("BatchEntryIdsNotDistinct"),
                Sender,
            ),
            Self::BatchRequestTooLong(_) => (
                400,
                "AWS.SimpleQueueService.BatchRequestTooLong",
                sqs_type!("BatchRequestTooLong"),
                Sender,
            ),
            Self::EmptyBatchRequest(_) => (
                400,
                "AWS.SimpleQueueService.EmptyBatchRequest",
                sqs_type!("EmptyBatchRequest"),
                Sender,
            ),
            Self::InvalidBatchEntryId(_) => (
                400,
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                sqs_type!("InvalidBatchEntryId"),
                Sender,
            ),
            Self::TooManyEntriesInBatchRequest(_) => (
                400,
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                sqs_type!("TooManyEntriesInBatchRequest"),
                Sender,
            ),
            Self::UnsupportedOperation(_) => (
                400,
                "AWS.SimpleQueueService.UnsupportedOperation",
                sqs_type!("UnsupportedOperation"),
                Sender,
            ),
            Self::InvalidSecurity(_) => (403, "InvalidSecurity", sqs_type!("InvalidSecurity"), Sender),
            Self::RequestThrottled(_) => (403, "RequestThrottled", sqs_type!("RequestThrottled"), Sender),
            Self::InvalidAddress(_) => (404, "InvalidAddress", sqs_type!("InvalidAddress"), Sender),
            Self::ResourceNotFound(_) => (
                404,
                "ResourceNotFoundException",
                sqs_type!("ResourceNotFoundException"),
                Sender,
            ),
            Self::KmsAccessDenied(_) => (
                400,
                "KMS.AccessDeniedException",
                sqs_type!("KmsAccessDenied"),
                Sender,
            ),
            Self::KmsDisabled(_) => (400, "KMS.DisabledException", sqs_type!("KmsDisabled"), Sender),
            Self::KmsInvalidKeyUsage(_) => (
                400,
                "KMS.InvalidKeyUsageException",
                sqs_type!("KmsInvalidKeyUsage"),
                Sender,
            ),
            Self::KmsInvalidState(_) => (
                400,
                "KMS.InvalidStateException",
                sqs_type!("KmsInvalidState"),
                Sender,
            ),
            Self::KmsNotFound(_) => (400, "KMS.NotFoundException", sqs_type!("KmsNotFound"), Sender),
            Self::KmsOptInRequired(_) => (403, "KMS.OptInRequired", sqs_type!("KmsOptInRequired"), Sender),
            Self::KmsThrottled(_) => (400, "KMS.ThrottlingException", sqs_type!("KmsThrottled"), Sender),
            Self::KmsUnavailable(_) => (500, "InternalFailure", sqs_type!("InternalFailure"), Receiver),
            // ---- KMS API errors (JSON 1.1): statuses from the KMS model, where
            // no shape sets `httpStatusCode`: 400 for client faults, 500 for
            // the shapes marked `fault` (KMSInternal, DependencyTimeout,
            // KeyUnavailable).
            Self::NotFoundException(_) => (400, "NotFoundException", "NotFoundException", Sender),
            Self::DisabledException(_) => (400, "DisabledException", "DisabledException", Sender),
            Self::KmsInvalidStateException(_) => (
                400,
                "KMSInvalidStateException",
                "KMSInvalidStateException",
                Sender,
            ),
            Self::InvalidCiphertextException(_) => (
                400,
                "InvalidCiphertextException",
                "InvalidCiphertextException",
                Sender,
            ),
            Self::IncorrectKeyException(_) => (400, "IncorrectKeyException", "IncorrectKeyException", Sender),
            Self::InvalidKeyUsageException(_) => (
                400,
                "InvalidKeyUsageException",
                "InvalidKeyUsageException",
                Sender,
            ),
            Self::KmsInvalidMacException(_) => {
                (400, "KMSInvalidMacException", "KMSInvalidMacException", Sender)
            }
            Self::AlreadyExistsException(_) => {
                (400, "AlreadyExistsException", "AlreadyExistsException", Sender)
            }
            Self::ValidationException(_) => (400, "ValidationException", "ValidationException", Sender),
            Self::InvalidArnException(_) => (400, "InvalidArnException", "InvalidArnException", Sender),
            Self::InvalidAliasNameException(_) => (
                400,
                "InvalidAliasNameException",
                "InvalidAliasNameException",
                Sender,
            ),
            Self::MalformedPolicyDocumentException(_) => (
                400,
                "MalformedPolicyDocumentException",
                "MalformedPolicyDocumentException",
                Sender,
            ),
            Self::TagException(_) => (400, "TagException", "TagException", Sender),
            Self::UnsupportedOperationException(_) => (
                400,
                "UnsupportedOperationException",
                "UnsupportedOperationException",
                Sender,
            ),
            Self::LimitExceededException(_) => {
                (400, "LimitExceededException", "LimitExceededException", Sender)
            }
            Self::KmsInternalException(_) => (500, "KMSInternalException", "KMSInternalException", Receiver),
            Self::DependencyTimeoutException(_) => (
                500,
                "DependencyTimeoutException",
                "DependencyTimeoutException",
                Receiver,
            ),
            Self::KeyUnavailableException(_) => (
                500,
                "KeyUnavailableException",
                "KeyUnavailableException",
                Receiver,
            ),
            Self::KmsThrottlingException(_) => (400, "ThrottlingException", "ThrottlingException", Sender),
            Self::AccessDeniedException(_) => (400, "AccessDeniedException", "AccessDeniedException", Sender),
            Self::InvalidMarkerException(_) => {
                (400, "InvalidMarkerException", "InvalidMarkerException", Sender)
            }
            Self::UnknownOperationException(_) => (
                400,
                "UnknownOperationException",
                "UnknownOperationException",
                Sender,
            ),
            Self::MissingAuthenticationToken(_) => (
                400,
                "MissingAuthenticationTokenException",
                "MissingAuthenticationTokenException",
                Sender,
            ),
            Self::InvalidAction(_) => (400, "InvalidAction", sqs_type!("InvalidAction"), Sender),
            // Errors outside the SQS model are coral's: AWS recorded
            // `com.amazon.coral.service#InvalidParameterValueException` in
            // 2025; MissingParameter follows it (not recorded).
            Self::MissingParameter(_) => (
                400,
                "MissingParameter",
                "com.amazon.coral.service#MissingRequiredParameterException",
                Sender,
            ),
            Self::InvalidParameterValue(_) => (
                400,
                "InvalidParameterValue",
                "com.amazon.coral.service#InvalidParameterValueException",
                Sender,
            ),
            Self::MalformedQueryString(_) => (
                400,
                "MalformedQueryString",
                sqs_type!("MalformedQueryString"),
                Sender,
            ),
            Self::SerializationException(_) => (
                400,
                "SerializationException",
                "com.amazon.coral.service#SerializationException",
                Sender,
            ),
            Self::RequestEntityTooLarge(_) => (
                413,
                "RequestEntityTooLarge",
                sqs_type!("RequestEntityTooLarge"),
                Sender,
            ),
            Self::NoSuchVersion(_) => (400, "NoSuchVersion", sqs_type!("NoSuchVersion"), Sender),
            // Not an SQS error: the code and text are S3's for a client
            // that stopped sending (AWS documents none for SQS).
            Self::RequestTimeout(_) => (
                408,
                "RequestTimeout",
                "com.amazon.coral.service#RequestTimeoutException",
                Sender,
            ),
            Self::IncompleteSignature(_) => (
                400,
                "IncompleteSignature",
                sqs_type!("IncompleteSignature"),
                Sender,
            ),
            // Common AWS errors: SQS's JSON protocol names them by their
            // coral type, and its x-amzn-query-error header by the query
            // code, which is what the SDKs show.
            Self::SignatureDoesNotMatch(_) => (
                403,
                "SignatureDoesNotMatch",
                "com.amazon.coral.service#InvalidSignatureException",
                Sender,
            ),
            Self::InvalidClientTokenId(_) => (
                403,
                "InvalidClientTokenId",
                "com.amazon.coral.service#UnrecognizedClientException",
                Sender,
            ),
            Self::InvalidSignatureException(_) => (
                400,
                "InvalidSignatureException",
                "InvalidSignatureException",
                Sender,
            ),
            Self::UnrecognizedClientException(_) => (
                400,
                "UnrecognizedClientException",
                "UnrecognizedClientException",
                Sender,
            ),
            Self::IncompleteSignatureException(_) => (
                400,
                "IncompleteSignatureException",
                "IncompleteSignatureException",
                Sender,
            ),
            Self::ExpiredToken(_) => (
                403,
                "ExpiredToken",
                "com.amazon.coral.service#ExpiredTokenException",
                Sender,
            ),
            Self::ExpiredTokenException(_) => (400, "ExpiredTokenException", "ExpiredTokenException", Sender),
            Self::MissingAuthentication(_) => (
                403,
                "MissingAuthenticationToken",
                "com.amazon.coral.service#MissingAuthenticationTokenException",
                Sender,
            ),
            Self::AccessDenied(_) => (
                403,
                "AccessDenied",
                "com.amazon.coral.service#AccessDeniedException",
                Sender,
            ),
            Self::ValidationError(_) => (
                400,
                "ValidationError",
                "com.amazon.coral.validate#ValidationException",
                Sender,
            ),
            Self::InternalFailure => (500, "InternalFailure", sqs_type!("InternalFailure"), Receiver),
        };
        ErrorMeta {
            status,
            query_code,
            json_type,
            fault,
        }
    }

    /// `InvalidParameterValue` with AWS's usual wording for a bad value.
    pub fn invalid_value(name: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        Self::InvalidParameterValue(
            format!("Value {value} for parameter {name} is invalid. Reason: {reason}").into(),
        )
    }

    /// `MissingParameter` for one parameter.
    pub fn missing(name: &str) -> Self {
        Self::MissingParameter(format!("The request must contain the parameter {name}.").into())
    }
}

/// Result type of every fallible operation in sealq.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_does_not_exist_matches_the_service_model() {
        let m = Error::QueueDoesNotExist.meta();
        assert_eq!(m.status, 400);
        assert_eq!(m.query_code, "AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!(m.json_type, "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(m.fault, Fault::Sender);
    }

    #[test]
    fn statuses_follow_the_query_error_traits() {
        assert_eq!(Error::ReceiptHandleIsInvalid("x".into()).meta().status, 404);
        let p = Error::PurgeQueueInProgress("x".into()).meta();
        assert_eq!(
            (p.status, p.query_code),
            (403, "AWS.SimpleQueueService.PurgeQueueInProgress")
        );
        assert_eq!(
            Error::QueueNameExists("x".into()).meta().query_code,
            "QueueAlreadyExists"
        );
        assert_eq!(
            Error::EmptyBatchRequest("x".into()).meta().query_code,
            "AWS.SimpleQueueService.EmptyBatchRequest"
        );
        assert_eq!(Error::InternalFailure.meta().fault, Fault::Receiver);
    }
}
