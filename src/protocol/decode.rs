//! JSON request trees (from either protocol) decoded into typed SQS inputs.
//!
//! Numbers are accepted as JSON numbers (JSON protocol) or numeric strings
//! (query protocol); binary values are base64 in both.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::sqs::types::{
    AddPermissionInput, ChangeMessageVisibilityBatchInput, ChangeMessageVisibilityInput, CreateQueueInput,
    DeleteMessageBatchInput, DeleteMessageInput, GetQueueAttributesInput, GetQueueUrlInput,
    ListDeadLetterSourceQueuesInput, ListQueuesInput, MessageAttributeValue, QueueUrlInput,
    ReceiptBatchEntry, ReceiveMessageInput, RemovePermissionInput, SendMessageBatchInput,
    SendMessageBatchRequestEntry, SendMessageInput, SetQueueAttributesInput, SqsAction, TagQueueInput,
    UntagQueueInput,
};
use crate::sqs::types::{CancelMessageMoveTaskInput, ListMessageMoveTasksInput, StartMessageMoveTaskInput};

/// One JSON object, consumed member by member (so strings such as message
/// bodies move into the typed input instead of being copied), with AWS-style
/// errors for missing or mistyped members. The flag says whether the tree
/// is a JSON-protocol body, whose members must have their model's JSON
/// types (`SerializationException` otherwise); the query protocol's are
/// all strings, read as the member's type.
struct Obj(Map<String, Value>, bool);

fn type_error(json: bool, name: &str, v: &Value, expected: &str) -> Error {
    if json {
        Error::SerializationException(format!("Member {name} must be {expected}.").into())
    } else {
        Error::invalid_value(name, v, &format!("Must be {expected}."))
    }
}

impl Obj {
    fn opt_str(&mut self, name: &str) -> Result<Option<String>> {
        let json = self.1;
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v @ (Value::Number(_) | Value::Bool(_))) if !json => Ok(Some(v.to_string())),
            Some(v) => Err(type_error(json, name, &v, "a string")),
        }
    }

    fn str(&mut self, name: &str) -> Result<String> {
        self.opt_str(name)?.ok_or_else(|| Error::missing(name))
    }

    fn opt_int(&mut self, name: &str) -> Result<Option<i64>> {
        let json = self.1;
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| type_error(json, name, &Value::Number(n), "an integer")),
            Some(Value::String(s)) if !json => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Error::invalid_value(name, &s, "Must be an integer.")),
            Some(v) => Err(type_error(json, name, &v, "an integer")),
        }
    }

    fn str_list(&mut self, name: &str) -> Result<Vec<String>> {
        let json = self.1;
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(type_error(json, name, &other, "a list of strings")),
                })
                .collect(),
            Some(v) => Err(type_error(json, name, &v, "a list of strings")),
        }
    }

    fn str_map(&mut self, name: &str) -> Result<Vec<(String, String)>> {
        let json = self.1;
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    Value::Null => Ok((k, String::new())),
                    other => Err(type_error(json, &k, &other, "a string")),
                })
                .collect(),
            Some(v) => Err(type_error(json, name, &v, "a map of strings")),
        }
    }

    fn objects(&mut self, name: &str) -> Result<Vec<Self>> {
        let json = self.1;
        match self.0.remove(name) {
            // The query protocol writes an empty list as `Entries=`.
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(Self(m, json)),
                    other => Err(type_error(json, name, &other, "a list of structures")),
                })
                .collect(),
            Some(v) => Err(type_error(json, name, &v, "a list of structures")),
        }
    }

    fn attribute_values(&mut self, name: &str) -> Result<Vec<(String, MessageAttributeValue)>> {
        let json = self.1;
        let m = match self.0.remove(name) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Object(m)) => m,
            Some(v) => return Err(type_error(json, name, &v, "a map of message attribute values")),
        };
        m.into_iter()
            .map(|(k, v)| {
                let Value::Object(fields) = v else {
                    return Err(Error::InvalidParameterValue(
                        format!("The message attribute '{k}' must contain a value.").into(),
                    ));
                };
                let mut o = Self(fields, json);
                let binary_value = o
                    .opt_str("BinaryValue")?
                    .map(|b| {
                        STANDARD.decode(b.as_bytes()).map_err(|_| {
                            Error::InvalidParameterValue(
                                format!(
                                    "The message attribute '{k}' has an invalid BinaryValue (not base64)."
                                )
                                .into(),
                            )
                        })
                    })
                    .transpose()?;
                let has_list_values = ["StringListValues", "BinaryListValues"].iter().any(|n| {
                    o.0.get(*n)
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty())
                });
                let data_type = o.opt_str("DataType")?.unwrap_or_default();
                let string_value = o.opt_str("StringValue")?;
                Ok((
                    k,
                    MessageAttributeValue {
                        data_type,
                        string_value,
                        binary_value,
                        has_list_values,
                    },
                ))
            })
            .collect()
    }

    fn url(&mut self) -> Result<String> {
        self.str("QueueUrl")
    }
}

fn send_input(o: &mut Obj, queue_url: String) -> Result<SendMessageInput> {
    Ok(SendMessageInput {
        queue_url,
        message_body: o.opt_str("MessageBody")?,
        delay_seconds: o.opt_int("DelaySeconds")?,
        message_attributes: o.attribute_values("MessageAttributes")?,
        message_system_attributes: o.attribute_values("MessageSystemAttributes")?,
        message_deduplication_id: o.opt_str("MessageDeduplicationId")?,
        message_group_id: o.opt_str("MessageGroupId")?,
    })
}

fn receipt_entries(o: &mut Obj) -> Result<Vec<ReceiptBatchEntry>> {
    o.objects("Entries")?
        .into_iter()
        .map(|mut e| {
            Ok(ReceiptBatchEntry {
                id: e.opt_str("Id")?.unwrap_or_default(),
                receipt_handle: e.opt_str("ReceiptHandle")?.unwrap_or_default(),
                visibility_timeout: e.opt_int("VisibilityTimeout")?,
            })
        })
        .collect()
}

fn tags(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

/// Every action [`sqs_action`] decodes, sorted (metrics find an action's
/// series by binary search).
pub(super) const SQS_ACTIONS: [&str; 23] = [
    "AddPermission",
    "CancelMessageMoveTask",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "DeleteMessage",
    "DeleteMessageBatch",
    "DeleteQueue",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "RemovePermission",
    "SendMessage",
    "SendMessageBatch",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];

/// Decodes the members of `action` into its typed input.
///
/// # Errors
/// `InvalidAction` for unknown actions, `MissingParameter` for absent required
/// members, `InvalidParameterValue` for mistyped ones.
pub(super) fn sqs_action(action: &str, body: Map<String, Value>, json: bool) -> Result<SqsAction> {
    let mut o = Obj(body, json);
    Ok(match action {
        "CreateQueue" => SqsAction::CreateQueue(CreateQueueInput {
            queue_name: o.str("QueueName")?,
            attributes: o.str_map("Attributes")?,
            tags: tags(o.str_map("tags")?),
        }),
        "GetQueueUrl" => SqsAction::GetQueueUrl(GetQueueUrlInput {
            queue_name: o.str("QueueName")?,
            queue_owner_aws_account_id: o.opt_str("QueueOwnerAWSAccountId")?,
        }),
        "ListQueues" => SqsAction::ListQueues(ListQueuesInput {
            queue_name_prefix: o.opt_str("QueueNamePrefix")?,
            next_token: o.opt_str("NextToken")?,
            max_results: o.opt_int("MaxResults")?,
        }),
        "DeleteQueue" => SqsAction::DeleteQueue(QueueUrlInput { queue_url: o.url()? }),
        "GetQueueAttributes" => SqsAction::GetQueueAttributes(GetQueueAttributesInput {
            queue_url: o.url()?,
            attribute_names: o.str_list("AttributeNames")?,
        }),
        "SetQueueAttributes" => {
            if !o.0.contains_key("Attributes") {
                return Err(Error::missing("Attributes"));
            }
            SqsAction::SetQueueAttributes(SetQueueAttributesInput {
                queue_url: o.url()?,
                attributes: o.str_map("Attributes")?,
            })
        }
        "PurgeQueue" => SqsAction::PurgeQueue(QueueUrlInput { queue_url: o.url()? }),
        "SendMessage" => {
            let url = o.url()?;
            SqsAction::SendMessage(send_input(&mut o, url)?)
        }
        "SendMessageBatch" => {
            let url = o.url()?;
            let entries = o
                .objects("Entries")?
                .into_iter()
                .map(|mut e| {
                    Ok(SendMessageBatchRequestEntry {
                        id: e.opt_str("Id")?.unwrap_or_default(),
                        message: send_input(&mut e, url.clone())?,
                    })
                })
                .collect::<Result<_>>()?;
            SqsAction::SendMessageBatch(SendMessageBatchInput {
                queue_url: url,
                entries,
            })
        }
        "ReceiveMessage" => SqsAction::ReceiveMessage(ReceiveMessageInput {
            queue_url: o.url()?,
            attribute_names: o.str_list("AttributeNames")?,
            message_system_attribute_names: o.str_list("MessageSystemAttributeNames")?,
            message_attribute_names: o.str_list("MessageAttributeNames")?,
            max_number_of_messages: o.opt_int("MaxNumberOfMessages")?,
            visibility_timeout: o.opt_int("VisibilityTimeout")?,
            wait_time_seconds: o.opt_int("WaitTimeSeconds")?,
            receive_request_attempt_id: o.opt_str("ReceiveRequestAttemptId")?,
        }),
        "DeleteMessage" => SqsAction::DeleteMessage(DeleteMessageInput {
            queue_url: o.url()?,
            receipt_handle: o.str("ReceiptHandle")?,
        }),
        "DeleteMessageBatch" => SqsAction::DeleteMessageBatch(DeleteMessageBatchInput {
            queue_url: o.url()?,
            entries: receipt_entries(&mut o)?,
        }),
        "ChangeMessageVisibility" => SqsAction::ChangeMessageVisibility(ChangeMessageVisibilityInput {
            queue_url: o.url()?,
            receipt_handle: o.str("ReceiptHandle")?,
            visibility_timeout: o
                .opt_int("VisibilityTimeout")?
                .ok_or_else(|| Error::missing("VisibilityTimeout"))?,
        }),
        "ChangeMessageVisibilityBatch" => {
            SqsAction::ChangeMessageVisibilityBatch(ChangeMessageVisibilityBatchInput {
                queue_url: o.url()?,
                entries: receipt_entries(&mut o)?,
            })
        }
        "TagQueue" => {
            // The query protocol sends TagQueue's `Tags` as `Tag.N.Key/Value`,
            // the same prefix as CreateQueue's `tags`.
            let mut t = o.str_map("Tags")?;
            t.extend(o.str_map("tags")?);
            SqsAction::TagQueue(TagQueueInput {
                queue_url: o.url()?,
                tags: tags(t),
            })
        }
        "UntagQueue" => SqsAction::UntagQueue(UntagQueueInput {
            queue_url: o.url()?,
            tag_keys: o.str_list("TagKeys")?,
        }),
        "ListQueueTags" => SqsAction::ListQueueTags(QueueUrlInput { queue_url: o.url()? }),
        "AddPermission" => SqsAction::AddPermission(AddPermissionInput {
            queue_url: o.url()?,
            label: o.str("Label")?,
            aws_account_ids: o.str_list("AWSAccountIds")?,
            actions: o.str_list("Actions")?,
        }),
        "RemovePermission" => SqsAction::RemovePermission(RemovePermissionInput {
            queue_url: o.url()?,
            label: o.str("Label")?,
        }),
        "ListDeadLetterSourceQueues" => {
            SqsAction::ListDeadLetterSourceQueues(ListDeadLetterSourceQueuesInput {
                queue_url: o.url()?,
                next_token: o.opt_str("NextToken")?,
                max_results: o.opt_int("MaxResults")?,
            })
        }
        "StartMessageMoveTask" => SqsAction::StartMessageMoveTask(StartMessageMoveTaskInput {
            source_arn: o.str("SourceArn")?,
            destination_arn: o.opt_str("DestinationArn")?,
            max_number_of_messages_per_second: o.opt_int("MaxNumberOfMessagesPerSecond")?,
        }),
        "CancelMessageMoveTask" => SqsAction::CancelMessageMoveTask(CancelMessageMoveTaskInput {
            task_handle: o.str("TaskHandle")?,
        }),
        "ListMessageMoveTasks" => SqsAction::ListMessageMoveTasks(ListMessageMoveTasksInput {
            source_arn: o.str("SourceArn")?,
            max_results: o.opt_int("MaxResults")?,
        }),
        other => {
            return Err(Error::InvalidAction(
                format!("The action {other} is not valid for this endpoint.").into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{SQS_ACTIONS, sqs_action};
    use crate::error::Error;

    #[test]
    fn the_action_list_is_sorted_and_decodable() {
        assert!(SQS_ACTIONS.windows(2).all(|w| w[0] < w[1]));
        for a in SQS_ACTIONS {
            let r = sqs_action(a, serde_json::Map::new(), true);
            assert!(!matches!(r, Err(Error::InvalidAction(_))), "{a}");
        }
        assert!(matches!(
            sqs_action("Nope", serde_json::Map::new(), false),
            Err(Error::InvalidAction(_))
        ));
    }

    #[test]
    fn json_members_must_have_their_types_and_query_strings_are_read_as_them() {
        let map = |v: serde_json::Value| v.as_object().unwrap().clone();
        let body = serde_json::json!({"QueueUrl": "u", "MaxNumberOfMessages": "5"});
        assert!(matches!(
            sqs_action("ReceiveMessage", map(body.clone()), true),
            Err(Error::SerializationException(_))
        ));
        assert!(sqs_action("ReceiveMessage", map(body), false).is_ok());
        let body = serde_json::json!({"QueueUrl": 7});
        assert!(matches!(
            sqs_action("PurgeQueue", map(body.clone()), true),
            Err(Error::SerializationException(_))
        ));
        assert!(sqs_action("PurgeQueue", map(body), false).is_ok());
    }
}
