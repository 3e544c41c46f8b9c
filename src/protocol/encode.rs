//! SQS outputs rendered as query-protocol XML or JSON 1.0.
//!
//! Each output is first described once as a [`Node`] tree that knows both its
//! JSON member names and its XML element names; the two renderers walk that
//! tree. XML lists and maps are flattened, as SQS writes them. Empty lists
//! and maps are left out in both formats, as SQS does (for example a
//! ReceiveMessage that found nothing has no `Messages` member).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::xml;
use crate::sqs::types::{
    BatchResultErrorEntry, MessageAttributeValue, MessageMoveTask, QueueUrlsOutput, ReceivedMessage,
    SendMessageOutput, SqsOutput,
};

/// A value with its names in both formats.
#[derive(Debug)]
pub(super) enum Node {
    /// Text.
    Str(String),
    /// `true`/`false`.
    Bool(bool),
    /// An integer: a JSON number, XML text.
    Int(i64),
    /// Bytes, base64 in both formats.
    Blob(Vec<u8>),
    /// Named members.
    Struct(Vec<Field>),
    /// A list; in XML each item is an element named after the field.
    List(Vec<Self>),
    /// A map; in XML each entry is an element named after the field holding
    /// a key element and a value element.
    Map {
        /// XML element name of keys.
        key: &'static str,
        /// XML element name of values.
        value: &'static str,
        /// Entries in output order.
        entries: Vec<(String, Self)>,
    },
}

/// One member of a [`Node::Struct`].
#[derive(Debug)]
pub(super) struct Field {
    json: &'static str,
    xml: &'static str,
    node: Node,
}

fn field(json: &'static str, xml: &'static str, node: Node) -> Field {
    Field { json, xml, node }
}

fn same(name: &'static str, node: Node) -> Field {
    field(name, name, node)
}

fn opt(name: &'static str, v: Option<String>) -> Option<Field> {
    v.map(|s| same(name, Node::Str(s)))
}

fn send_fields(out: SendMessageOutput) -> Vec<Field> {
    let mut f = vec![same("MD5OfMessageBody", Node::Str(out.md5_of_message_body))];
    f.extend(opt("MD5OfMessageAttributes", out.md5_of_message_attributes));
    f.extend(opt(
        "MD5OfMessageSystemAttributes",
        out.md5_of_message_system_attributes,
    ));
    f.push(same("MessageId", Node::Str(out.message_id)));
    f.extend(opt("SequenceNumber", out.sequence_number));
    f
}

fn failed(list: Vec<BatchResultErrorEntry>) -> Field {
    let items = list
        .into_iter()
        .map(|e| {
            Node::Struct(vec![
                same("Id", Node::Str(e.id)),
                same("SenderFault", Node::Bool(e.sender_fault)),
                same("Code", Node::Str(e.code)),
                same("Message", Node::Str(e.message)),
            ])
        })
        .collect();
    field("Failed", "BatchResultErrorEntry", Node::List(items))
}

fn attribute_value(v: MessageAttributeValue) -> Node {
    let mut f = Vec::new();
    f.extend(opt("StringValue", v.string_value));
    if let Some(b) = v.binary_value {
        f.push(same("BinaryValue", Node::Blob(b)));
    }
    f.push(same("DataType", Node::Str(v.data_type)));
    Node::Struct(f)
}

fn message(m: ReceivedMessage) -> Node {
    let mut f = vec![
        same("MessageId", Node::Str(m.message_id)),
        same("ReceiptHandle", Node::Str(m.receipt_handle)),
        same("MD5OfBody", Node::Str(m.md5_of_body)),
        same("Body", Node::Str(m.body)),
        field(
            "Attributes",
            "Attribute",
            Node::Map {
                key: "Name",
                value: "Value",
                entries: m
                    .attributes
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Node::Str(v)))
                    .collect(),
            },
        ),
    ];
    f.extend(opt("MD5OfMessageAttributes", m.md5_of_message_attributes));
    f.push(field(
        "MessageAttributes",
        "MessageAttribute",
        Node::Map {
            key: "Name",
            value: "Value",
            entries: m
                .message_attributes
                .into_iter()
                .map(|(k, v)| (k, attribute_value(v)))
                .collect(),
        },
    ));
    Node::Struct(f)
}

fn urls(json: &'static str, out: QueueUrlsOutput) -> Vec<Field> {
    let mut f = vec![field(
        json,
        "QueueUrl",
        Node::List(out.queue_urls.into_iter().map(Node::Str).collect()),
    )];
    f.extend(opt("NextToken", out.next_token));
    f
}

/// The result tree of an output; `None` for actions without a result element.
fn move_task(t: MessageMoveTask) -> Node {
    let mut f = Vec::new();
    f.extend(opt("TaskHandle", t.task_handle));
    f.push(same("Status", Node::Str(t.status.to_owned())));
    f.push(same("SourceArn", Node::Str(t.source_arn)));
    f.extend(opt("DestinationArn", t.destination_arn));
    if let Some(r) = t.max_number_of_messages_per_second {
        f.push(same("MaxNumberOfMessagesPerSecond", Node::Int(r)));
    }
    f.push(same(
        "ApproximateNumberOfMessagesMoved",
        Node::Int(t.approximate_number_of_messages_moved),
    ));
    if let Some(n) = t.approximate_number_of_messages_to_move {
        f.push(same("ApproximateNumberOfMessagesToMove", Node::Int(n)));
    }
    f.extend(opt("FailureReason", t.failure_reason));
    f.push(same("StartedTimestamp", Node::Int(t.started_timestamp)));
    Node::Struct(f)
}

pub(super) fn output_node(action: &str, out: SqsOutput) -> Option<Node> {
    let fields = match out {
        SqsOutput::Empty => return None,
        SqsOutput::QueueUrl(u) => vec![same("QueueUrl", Node::Str(u))],
        SqsOutput::ListQueues(o) => urls("QueueUrls", o),
        SqsOutput::ListDeadLetterSourceQueues(o) => urls("queueUrls", o),
        SqsOutput::Attributes(a) => vec![field(
            "Attributes",
            "Attribute",
            Node::Map {
                key: "Name",
                value: "Value",
                entries: a.into_iter().map(|(k, v)| (k, Node::Str(v))).collect(),
            },
        )],
        SqsOutput::SendMessage(o) => send_fields(o),
        SqsOutput::SendMessageBatch(o) => {
            let ok = o
                .successful
                .into_iter()
                .map(|e| {
                    let mut f = vec![same("Id", Node::Str(e.id))];
                    f.extend(send_fields(e.result));
                    Node::Struct(f)
                })
                .collect();
            vec![
                field("Successful", "SendMessageBatchResultEntry", Node::List(ok)),
                failed(o.failed),
            ]
        }
        SqsOutput::ReceiveMessage(o) => {
            vec![field(
                "Messages",
                "Message",
                Node::List(o.messages.into_iter().map(message).collect()),
            )]
        }
        SqsOutput::ReceiptBatch(o) => {
            let entry = if action == "DeleteMessageBatch" {
                "DeleteMessageBatchResultEntry"
            } else {
                "ChangeMessageVisibilityBatchResultEntry"
            };
            let ok = o
                .successful
                .into_iter()
                .map(|id| Node::Struct(vec![same("Id", Node::Str(id))]))
                .collect();
            vec![field("Successful", entry, Node::List(ok)), failed(o.failed)]
        }
        SqsOutput::TaskHandle(h) => vec![same("TaskHandle", Node::Str(h))],
        SqsOutput::MessagesMoved(n) => vec![same("ApproximateNumberOfMessagesMoved", Node::Int(n))],
        SqsOutput::MoveTasks(tasks) => vec![field(
            "Results",
            "ListMessageMoveTasksResultEntry",
            Node::List(tasks.into_iter().map(move_task).collect()),
        )],
        SqsOutput::Tags(t) => vec![field(
            "Tags",
            "Tag",
            Node::Map {
                key: "Key",
                value: "Value",
                entries: t.into_iter().map(|(k, v)| (k, Node::Str(v))).collect(),
            },
        )],
    };
    Some(Node::Struct(fields))
}

fn is_empty(n: &Node) -> bool {
    match n {
        Node::List(v) => v.is_empty(),
        Node::Map { entries, .. } => entries.is_empty(),
        _ => false,
    }
}

/// JSON is written straight from the tree (no intermediate `Value`): this
/// runs for every response of the JSON protocol.
impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Str(v) => s.serialize_str(v),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Int(i) => s.serialize_i64(*i),
            Self::Blob(b) => s.serialize_str(&STANDARD.encode(b)),
            Self::Struct(fields) => {
                let mut m = s.serialize_map(None)?;
                for f in fields.iter().filter(|f| !is_empty(&f.node)) {
                    m.serialize_entry(f.json, &f.node)?;
                }
                m.end()
            }
            Self::List(items) => s.collect_seq(items),
            Self::Map { entries, .. } => s.collect_map(entries.iter().map(|(k, v)| (k, v))),
        }
    }
}

/// The JSON text of a node.
pub(super) fn to_json(n: &Node) -> Vec<u8> {
    serde_json::to_vec(n).unwrap_or_else(|_| b"{}".to_vec())
}

/// Appends the XML of a node's content (its fields, for a struct).
fn xml_content(out: &mut String, n: &Node) {
    match n {
        Node::Str(s) => xml::escape_into(out, s),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Blob(b) => out.push_str(&STANDARD.encode(b)),
        Node::Struct(fields) => {
            for f in fields {
                xml_field(out, f.xml, &f.node);
            }
        }
        // Lists and maps are flattened by their field; bare ones do not occur.
        Node::List(_) | Node::Map { .. } => {}
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn xml_field(out: &mut String, name: &str, n: &Node) {
    match n {
        Node::List(items) => {
            for item in items {
                open(out, name);
                xml_content(out, item);
                close(out, name);
            }
        }
        Node::Map { key, value, entries } => {
            for (k, v) in entries {
                open(out, name);
                xml::element(out, key, k);
                open(out, value);
                xml_content(out, v);
                close(out, value);
                close(out, name);
            }
        }
        other => {
            open(out, name);
            xml_content(out, other);
            close(out, name);
        }
    }
}

/// Namespace of SQS query responses.
pub(super) const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// The full query-protocol response document of `action`.
pub(super) fn to_xml(action: &str, node: Option<&Node>, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\"?><");
    out.push_str(action);
    out.push_str("Response xmlns=\"");
    out.push_str(XMLNS);
    out.push_str("\">");
    if let Some(n) = node {
        out.push('<');
        out.push_str(action);
        out.push_str("Result>");
        xml_content(&mut out, n);
        out.push_str("</");
        out.push_str(action);
        out.push_str("Result>");
    }
    out.push_str("<ResponseMetadata>");
    xml::element(&mut out, "RequestId", request_id);
    out.push_str("</ResponseMetadata></");
    out.push_str(action);
    out.push_str("Response>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::types::ReceiveMessageOutput;

    fn received() -> SqsOutput {
        SqsOutput::ReceiveMessage(ReceiveMessageOutput {
            messages: vec![ReceivedMessage {
                message_id: "m1".into(),
                receipt_handle: "rh".into(),
                md5_of_body: "md5".into(),
                body: "a\"b\r".into(),
                attributes: vec![("SenderId", "AKID".into())],
                md5_of_message_attributes: Some("amd5".into()),
                message_attributes: vec![(
                    "k".into(),
                    MessageAttributeValue {
                        data_type: "Binary".into(),
                        string_value: None,
                        binary_value: Some(b"hi".to_vec()),
                        has_list_values: false,
                    },
                )],
            }],
        })
    }

    #[test]
    fn receive_renders_as_flattened_xml() {
        let node = output_node("ReceiveMessage", received());
        let xml = to_xml("ReceiveMessage", node.as_ref(), "rid");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\"?><ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
             <ReceiveMessageResult><Message><MessageId>m1</MessageId><ReceiptHandle>rh</ReceiptHandle>\
             <MD5OfBody>md5</MD5OfBody><Body>a&quot;b&#xD;</Body>\
             <Attribute><Name>SenderId</Name><Value>AKID</Value></Attribute>\
             <MD5OfMessageAttributes>amd5</MD5OfMessageAttributes>\
             <MessageAttribute><Name>k</Name><Value><BinaryValue>aGk=</BinaryValue><DataType>Binary</DataType></Value></MessageAttribute>\
             </Message></ReceiveMessageResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>\
             </ReceiveMessageResponse>"
        );
    }

    #[test]
    fn receive_renders_as_json_maps() {
        let v: serde_json::Value =
            serde_json::from_slice(&to_json(&output_node("ReceiveMessage", received()).unwrap())).unwrap();
        assert_eq!(v["Messages"][0]["Attributes"]["SenderId"], "AKID");
        assert_eq!(v["Messages"][0]["MessageAttributes"]["k"]["BinaryValue"], "aGk=");
        assert_eq!(v["Messages"][0]["Body"], "a\"b\r");
    }

    #[test]
    fn empty_lists_are_left_out() {
        let empty = SqsOutput::ReceiveMessage(ReceiveMessageOutput { messages: vec![] });
        assert_eq!(to_json(&output_node("ReceiveMessage", empty).unwrap()), b"{}");
        let xml = to_xml("DeleteQueue", None, "r");
        assert!(xml.contains("<DeleteQueueResponse") && !xml.contains("Result"));
    }
}
