//! The SQS query protocol end to end: form-encoded requests signed with
//! SigV4 (or not signed at all), XML responses and `ErrorResponse` errors,
//! asserted on the text a user of the wire protocol sees. Also the JSON
//! protocol's error shape, checked with raw HTTP rather than the SDK.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{
    Binary, Raw, Server, free_port, query, query_as, send, spawn_binary, start, unique, wait_healthy,
    xml_all, xml_text,
};
use md5::{Digest, Md5};

/// Namespace of every query-protocol response.
const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// The account queues live in by default.
const ACCOUNT: &str = "000000000000";

/// The response document without its XML declaration.
fn document(body: &str) -> &str {
    let body = body.trim();
    body.strip_prefix("<?xml version=\"1.0\"?>")
        .unwrap_or(body)
        .trim_start()
}

/// The `x-amzn-RequestId` header of a response.
fn request_id_header(r: &Raw) -> String {
    r.headers
        .get("x-amzn-RequestId")
        .unwrap_or_else(|| panic!("no x-amzn-RequestId header: {:?}", r.headers))
        .to_str()
        .unwrap()
        .to_owned()
}

fn content_type(r: &Raw) -> String {
    r.headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Asserts a successful `<{action}Response>` whose `ResponseMetadata` carries
/// the request id of the header; returns that id.
fn assert_ok(r: &Raw, action: &str) -> String {
    assert_eq!(r.status, 200, "{action}: {}", r.body);
    assert!(
        content_type(r).starts_with("text/xml"),
        "{action}: {:?}",
        r.headers
    );
    let rid = request_id_header(r);
    assert!(!rid.is_empty());
    let doc = document(&r.body);
    let head = format!("<{action}Response xmlns=\"{XMLNS}\">");
    assert!(doc.starts_with(&head), "{action}: {doc}");
    let tail =
        format!("<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{action}Response>");
    assert!(doc.ends_with(&tail), "{action}: {doc}");
    rid
}

/// Checks the `ErrorResponse` shape (any code) and returns `(code, message)`.
fn error_parts(r: &Raw) -> (String, String) {
    assert!(content_type(r).starts_with("text/xml"), "{:?}", r.headers);
    let rid = request_id_header(r);
    let doc = document(&r.body);
    let head = format!("<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>");
    assert!(doc.starts_with(&head), "{doc}");
    let tail = format!("</Message><Detail/></Error><RequestId>{rid}</RequestId></ErrorResponse>");
    assert!(doc.ends_with(&tail), "{doc}");
    let code = xml_text(&r.body, "Code").expect("Code");
    let message = xml_text(&r.body, "Message").expect("Message");
    assert!(!message.is_empty(), "{doc}");
    (code, message)
}

/// Asserts an `ErrorResponse` with this status and code; returns the message.
fn assert_error(r: &Raw, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "expected {status} {code}: {}", r.body);
    let (got, message) = error_parts(r);
    assert_eq!(got, code, "{}", r.body);
    message
}

/// Borrowed form pairs from owned ones.
fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a queue with extra parameters; returns its URL.
async fn create_with(server: &Server, name: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("Action", "CreateQueue"), ("QueueName", name)];
    params.extend_from_slice(extra);
    let r = query(server, &params).await;
    assert_ok(&r, "CreateQueue");
    xml_text(&r.body, "QueueUrl").expect("QueueUrl")
}

async fn create(server: &Server, name: &str) -> String {
    create_with(server, name, &[]).await
}

async fn send_body(server: &Server, url: &str, body: &str) -> Raw {
    query(
        server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", url),
            ("MessageBody", body),
        ],
    )
    .await
}

/// Receives with every system and message attribute.
async fn receive_all(server: &Server, url: &str, extra: &[(&str, &str)]) -> Raw {
    let mut params = vec![
        ("Action", "ReceiveMessage"),
        ("QueueUrl", url),
        ("AttributeName.1", "All"),
        ("MessageAttributeName.1", "All"),
    ];
    params.extend_from_slice(extra);
    let r = query(server, &params).await;
    assert_ok(&r, "ReceiveMessage");
    r
}

/// `(visible, not visible)` message counts of a queue.
async fn counts(server: &Server, url: &str) -> (String, String) {
    let r = query(
        server,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", url),
            ("AttributeName.1", "ApproximateNumberOfMessages"),
            ("AttributeName.2", "ApproximateNumberOfMessagesNotVisible"),
        ],
    )
    .await;
    assert_ok(&r, "GetQueueAttributes");
    let names = xml_all(&r.body, "Name");
    let values = xml_all(&r.body, "Value");
    let get = |n: &str| {
        names
            .iter()
            .position(|x| x == n)
            .map(|i| values[i].clone())
            .unwrap_or_else(|| panic!("no {n}: {}", r.body))
    };
    (
        get("ApproximateNumberOfMessages"),
        get("ApproximateNumberOfMessagesNotVisible"),
    )
}

/// The value of system attribute `name` in a receive response holding one message.
fn system_attribute(xml: &str, name: &str) -> Option<String> {
    let open = format!("<Attribute><Name>{name}</Name><Value>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find("</Value>")?;
    Some(xml[start..start + len].to_owned())
}

#[tokio::test]
async fn create_queue_returns_url_and_fresh_request_ids() {
    let server = start().await;
    let name = unique("qcreate");
    let r = query(&server, &[("Action", "CreateQueue"), ("QueueName", &name)]).await;
    let rid = assert_ok(&r, "CreateQueue");
    assert_eq!(content_type(&r), "text/xml");
    let port = server.addr.port();
    let expected = format!(
        "<CreateQueueResponse xmlns=\"{XMLNS}\"><CreateQueueResult><QueueUrl>http://127.0.0.1:{port}/{ACCOUNT}/{name}</QueueUrl></CreateQueueResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></CreateQueueResponse>"
    );
    assert_eq!(document(&r.body), expected);
    assert_eq!(xml_text(&r.body, "RequestId").as_deref(), Some(rid.as_str()));

    // The same request again: same URL, a new request id.
    let again = query(&server, &[("Action", "CreateQueue"), ("QueueName", &name)]).await;
    let rid2 = assert_ok(&again, "CreateQueue");
    assert_ne!(rid, rid2);
    assert_eq!(xml_text(&again.body, "QueueUrl"), xml_text(&r.body, "QueueUrl"));

    let got = query(&server, &[("Action", "GetQueueUrl"), ("QueueName", &name)]).await;
    let rid3 = assert_ok(&got, "GetQueueUrl");
    assert!(rid3 != rid && rid3 != rid2);
    assert_eq!(xml_text(&got.body, "QueueUrl"), xml_text(&r.body, "QueueUrl"));
    assert!(got.body.contains("<GetQueueUrlResult><QueueUrl>"), "{}", got.body);
}

#[tokio::test]
async fn create_queue_attributes_and_tags_are_listed_flattened() {
    let server = start().await;
    let name = unique("qattrs");
    let url = create_with(
        &server,
        &name,
        &[
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "5"),
            ("Attribute.2.Name", "DelaySeconds"),
            ("Attribute.2.Value", "2"),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "blue"),
            ("Tag.2.Key", "env"),
            ("Tag.2.Value", "test"),
        ],
    )
    .await;

    let r = query(
        &server,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &url),
            ("AttributeName.1", "All"),
        ],
    )
    .await;
    assert_ok(&r, "GetQueueAttributes");
    assert!(
        r.body
            .contains("<Attribute><Name>VisibilityTimeout</Name><Value>5</Value></Attribute>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<Attribute><Name>DelaySeconds</Name><Value>2</Value></Attribute>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!(
            "<Attribute><Name>QueueArn</Name><Value>arn:aws:sqs:us-east-1:{ACCOUNT}:{name}</Value></Attribute>"
        )),
        "{}",
        r.body
    );
    // Flattened: no wrapper element around the list.
    assert!(!r.body.contains("<Attributes>"), "{}", r.body);
    assert!(
        r.body.contains("<GetQueueAttributesResult><Attribute>"),
        "{}",
        r.body
    );

    // Only the names asked for.
    let some = query(
        &server,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &url),
            ("AttributeName.1", "VisibilityTimeout"),
        ],
    )
    .await;
    assert_ok(&some, "GetQueueAttributes");
    assert!(
        some.body.contains(
            "<GetQueueAttributesResult><Attribute><Name>VisibilityTimeout</Name><Value>5</Value></Attribute></GetQueueAttributesResult>"
        ),
        "{}",
        some.body
    );

    let tags = query(&server, &[("Action", "ListQueueTags"), ("QueueUrl", &url)]).await;
    assert_ok(&tags, "ListQueueTags");
    assert!(
        tags.body
            .contains("<Tag><Key>team</Key><Value>blue</Value></Tag>"),
        "{}",
        tags.body
    );
    assert!(
        tags.body.contains("<Tag><Key>env</Key><Value>test</Value></Tag>"),
        "{}",
        tags.body
    );
    assert_eq!(xml_all(&tags.body, "Tag").len(), 2);
    assert!(!tags.body.contains("<Tags>"), "{}", tags.body);
}

#[tokio::test]
async fn send_message_returns_md5_of_string_and_binary_attributes() {
    let server = start().await;
    let url = create(&server, &unique("qmd5")).await;

    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "hello"),
            ("MessageAttribute.1.Name", "attribName1"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "attribValue 1"),
        ],
    )
    .await;
    assert_ok(&r, "SendMessage");
    assert!(r.body.contains("<SendMessageResult>"), "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "MD5OfMessageBody").as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    assert_eq!(
        xml_text(&r.body, "MD5OfMessageAttributes").as_deref(),
        Some("19e27d4e946b072f3f58da80d94fd778")
    );
    let id = xml_text(&r.body, "MessageId").unwrap();
    assert_eq!(id.len(), 36, "{id}");

    let binary = STANDARD.encode("Hello binary world!");
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "bin"),
            ("MessageAttribute.1.Name", "binaryAttribute"),
            ("MessageAttribute.1.Value.DataType", "Binary"),
            ("MessageAttribute.1.Value.BinaryValue", &binary),
        ],
    )
    .await;
    assert_ok(&r, "SendMessage");
    assert_eq!(
        xml_text(&r.body, "MD5OfMessageAttributes").as_deref(),
        Some("31a92b15d92f8db860eda32aceb656c3")
    );
    assert_eq!(
        xml_text(&r.body, "MD5OfMessageBody").as_deref(),
        Some(md5_hex("bin").as_str())
    );

    // Without attributes there is no attribute digest.
    let r = send_body(&server, &url, "plain").await;
    assert_ok(&r, "SendMessage");
    assert!(!r.body.contains("MD5OfMessageAttributes"), "{}", r.body);
}

#[tokio::test]
async fn receive_message_returns_flattened_attributes_and_sender_id() {
    let server = start().await;
    let url = create(&server, &unique("qrecv")).await;
    let binary = STANDARD.encode("Hello binary world!");
    let sent = query_as(
        &server,
        "/",
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "the body"),
            ("MessageAttribute.1.Name", "attribName1"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "attribValue 1"),
            ("MessageAttribute.2.Name", "binaryAttribute"),
            ("MessageAttribute.2.Value.DataType", "Binary"),
            ("MessageAttribute.2.Value.BinaryValue", &binary),
        ],
        Some("AKIDQUERY"),
    )
    .await;
    assert_ok(&sent, "SendMessage");
    let message_id = xml_text(&sent.body, "MessageId").unwrap();
    let attrs_md5 = xml_text(&sent.body, "MD5OfMessageAttributes").unwrap();

    let r = receive_all(&server, &url, &[]).await;
    let b = &r.body;
    assert_eq!(xml_all(b, "Message").len(), 1, "{b}");
    assert!(b.contains("<ReceiveMessageResult><Message><MessageId>"), "{b}");
    assert_eq!(xml_text(b, "MessageId"), Some(message_id));
    assert!(!xml_text(b, "ReceiptHandle").unwrap().is_empty());
    assert_eq!(xml_text(b, "MD5OfBody"), Some(md5_hex("the body")));
    assert_eq!(xml_text(b, "Body").as_deref(), Some("the body"));
    assert!(
        b.contains("<Attribute><Name>SenderId</Name><Value>AKIDQUERY</Value></Attribute>"),
        "{b}"
    );
    assert_eq!(
        system_attribute(b, "ApproximateReceiveCount").as_deref(),
        Some("1")
    );
    let sent_ts: u64 = system_attribute(b, "SentTimestamp").unwrap().parse().unwrap();
    assert!(sent_ts > 1_600_000_000_000, "{sent_ts}");
    let first: u64 = system_attribute(b, "ApproximateFirstReceiveTimestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(first >= sent_ts);
    assert!(
        b.contains(
            "<MessageAttribute><Name>attribName1</Name><Value><StringValue>attribValue 1</StringValue><DataType>String</DataType></Value></MessageAttribute>"
        ),
        "{b}"
    );
    assert!(
        b.contains(&format!(
            "<MessageAttribute><Name>binaryAttribute</Name><Value><BinaryValue>{binary}</BinaryValue><DataType>Binary</DataType></Value></MessageAttribute>"
        )),
        "{b}"
    );
    assert_eq!(xml_text(b, "MD5OfMessageAttributes"), Some(attrs_md5));
    // Flattened, no wrappers.
    assert!(!b.contains("<Messages>") && !b.contains("<Attributes>"), "{b}");
    assert!(!b.contains("<MessageAttributes>"), "{b}");

    // Nothing left: an empty result, no Message element.
    let empty = receive_all(&server, &url, &[]).await;
    assert!(!empty.body.contains("<Message>"), "{}", empty.body);
    assert!(empty.body.contains("ReceiveMessageResult"), "{}", empty.body);
}

#[tokio::test]
async fn receive_without_attribute_names_returns_no_attributes() {
    let server = start().await;
    let url = create(&server, &unique("qnoattr")).await;
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "x"),
            ("MessageAttribute.1.Name", "a"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "v"),
        ],
    )
    .await;
    assert_ok(&r, "SendMessage");
    let r = query(&server, &[("Action", "ReceiveMessage"), ("QueueUrl", &url)]).await;
    assert_ok(&r, "ReceiveMessage");
    assert_eq!(xml_all(&r.body, "Message").len(), 1, "{}", r.body);
    assert!(!r.body.contains("<Attribute>"), "{}", r.body);
    assert!(!r.body.contains("<MessageAttribute>"), "{}", r.body);
}

#[tokio::test]
async fn body_is_escaped_like_sqs_and_round_trips() {
    let server = start().await;
    let url = create(&server, &unique("qescape")).await;
    let body = "say \"hi\" <b> & 'bye'\r\nline2\ttab";
    let sent = send_body(&server, &url, body).await;
    assert_ok(&sent, "SendMessage");
    assert_eq!(xml_text(&sent.body, "MD5OfMessageBody"), Some(md5_hex(body)));

    let r = receive_all(&server, &url, &[]).await;
    assert!(
        r.body
            .contains("<Body>say &quot;hi&quot; &lt;b&gt; &amp; 'bye'&#xD;\nline2\ttab</Body>"),
        "{}",
        r.body
    );
    assert_eq!(xml_text(&r.body, "Body").as_deref(), Some(body));
    assert_eq!(xml_text(&r.body, "MD5OfBody"), Some(md5_hex(body)));
}

#[tokio::test]
async fn delete_message_empties_the_queue() {
    let server = start().await;
    let url = create(&server, &unique("qdelete")).await;
    assert_ok(&send_body(&server, &url, "bye").await, "SendMessage");
    assert_eq!(counts(&server, &url).await, ("1".into(), "0".into()));
    let r = receive_all(&server, &url, &[]).await;
    let handle = xml_text(&r.body, "ReceiptHandle").unwrap();
    assert_eq!(counts(&server, &url).await, ("0".into(), "1".into()));

    let d = query(
        &server,
        &[
            ("Action", "DeleteMessage"),
            ("QueueUrl", &url),
            ("ReceiptHandle", &handle),
        ],
    )
    .await;
    let rid = assert_ok(&d, "DeleteMessage");
    // No result element for DeleteMessage, only the metadata.
    assert_eq!(
        document(&d.body),
        format!(
            "<DeleteMessageResponse xmlns=\"{XMLNS}\"><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></DeleteMessageResponse>"
        )
    );
    assert_eq!(counts(&server, &url).await, ("0".into(), "0".into()));
    let again = receive_all(&server, &url, &[]).await;
    assert!(!again.body.contains("<Message>"), "{}", again.body);
}

#[tokio::test]
async fn send_and_delete_message_batch_report_successes_and_failures() {
    let server = start().await;
    let url = create(&server, &unique("qbatch")).await;
    let mut params = vec![
        ("Action".to_owned(), "SendMessageBatch".to_owned()),
        ("QueueUrl".to_owned(), url.clone()),
    ];
    for i in 1..=3 {
        params.push((format!("SendMessageBatchRequestEntry.{i}.Id"), format!("ok{i}")));
        params.push((
            format!("SendMessageBatchRequestEntry.{i}.MessageBody"),
            format!("body {i}"),
        ));
    }
    params.push(("SendMessageBatchRequestEntry.4.Id".into(), "late".into()));
    params.push((
        "SendMessageBatchRequestEntry.4.MessageBody".into(),
        "body 4".into(),
    ));
    params.push((
        "SendMessageBatchRequestEntry.4.DelaySeconds".into(),
        "3600".into(),
    ));
    let r = query(&server, &pairs(&params)).await;
    assert_ok(&r, "SendMessageBatch");
    let b = &r.body;
    assert!(
        b.contains("<SendMessageBatchResult><SendMessageBatchResultEntry>"),
        "{b}"
    );
    assert_eq!(xml_all(b, "SendMessageBatchResultEntry").len(), 3, "{b}");
    assert_eq!(xml_all(b, "BatchResultErrorEntry").len(), 1, "{b}");
    for i in 1..=3 {
        assert!(
            b.contains(&format!("<SendMessageBatchResultEntry><Id>ok{i}</Id>")),
            "{b}"
        );
        assert!(
            b.contains(&format!(
                "<MD5OfMessageBody>{}</MD5OfMessageBody>",
                md5_hex(&format!("body {i}"))
            )),
            "{b}"
        );
    }
    assert!(
        b.contains(
            "<BatchResultErrorEntry><Id>late</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code><Message>"
        ),
        "{b}"
    );
    assert_eq!(xml_all(b, "MessageId").len(), 3);

    // Receive all three, then delete them in one batch.
    let mut handles = Vec::new();
    for _ in 0..10 {
        let r = receive_all(&server, &url, &[("MaxNumberOfMessages", "10")]).await;
        handles.extend(xml_all(&r.body, "ReceiptHandle"));
        if handles.len() >= 3 {
            break;
        }
    }
    assert_eq!(handles.len(), 3);
    let mut params = vec![
        ("Action".to_owned(), "DeleteMessageBatch".to_owned()),
        ("QueueUrl".to_owned(), url.clone()),
    ];
    for (i, h) in handles.iter().enumerate() {
        let n = i + 1;
        params.push((format!("DeleteMessageBatchRequestEntry.{n}.Id"), format!("d{n}")));
        params.push((
            format!("DeleteMessageBatchRequestEntry.{n}.ReceiptHandle"),
            h.clone(),
        ));
    }
    params.push(("DeleteMessageBatchRequestEntry.4.Id".into(), "bad".into()));
    params.push((
        "DeleteMessageBatchRequestEntry.4.ReceiptHandle".into(),
        "garbage".into(),
    ));
    let d = query(&server, &pairs(&params)).await;
    assert_ok(&d, "DeleteMessageBatch");
    let b = &d.body;
    for n in 1..=3 {
        assert!(
            b.contains(&format!(
                "<DeleteMessageBatchResultEntry><Id>d{n}</Id></DeleteMessageBatchResultEntry>"
            )),
            "{b}"
        );
    }
    assert!(
        b.contains(
            "<BatchResultErrorEntry><Id>bad</Id><SenderFault>true</SenderFault><Code>ReceiptHandleIsInvalid</Code>"
        ),
        "{b}"
    );
    assert_eq!(counts(&server, &url).await, ("0".into(), "0".into()));
}

#[tokio::test]
async fn visibility_timeout_hides_until_clock_passes_and_change_visibility_zero_shows() {
    let server = start().await;
    let url = create(&server, &unique("qvis")).await;
    assert_ok(&send_body(&server, &url, "peekaboo").await, "SendMessage");

    let first = receive_all(&server, &url, &[("VisibilityTimeout", "60")]).await;
    assert_eq!(xml_text(&first.body, "Body").as_deref(), Some("peekaboo"));
    assert_eq!(
        system_attribute(&first.body, "ApproximateReceiveCount").as_deref(),
        Some("1")
    );
    let hidden = receive_all(&server, &url, &[]).await;
    assert!(!hidden.body.contains("<Message>"), "{}", hidden.body);
    assert_eq!(counts(&server, &url).await, ("0".into(), "1".into()));

    server.advance(30);
    let still = receive_all(&server, &url, &[]).await;
    assert!(!still.body.contains("<Message>"), "{}", still.body);

    server.advance(31);
    let second = receive_all(&server, &url, &[("VisibilityTimeout", "600")]).await;
    assert_eq!(xml_text(&second.body, "Body").as_deref(), Some("peekaboo"));
    assert_eq!(
        system_attribute(&second.body, "ApproximateReceiveCount").as_deref(),
        Some("2")
    );
    let handle = xml_text(&second.body, "ReceiptHandle").unwrap();
    let hidden = receive_all(&server, &url, &[]).await;
    assert!(!hidden.body.contains("<Message>"), "{}", hidden.body);

    let c = query(
        &server,
        &[
            ("Action", "ChangeMessageVisibility"),
            ("QueueUrl", &url),
            ("ReceiptHandle", &handle),
            ("VisibilityTimeout", "0"),
        ],
    )
    .await;
    assert_ok(&c, "ChangeMessageVisibility");
    assert!(!c.body.contains("ChangeMessageVisibilityResult"), "{}", c.body);
    let third = receive_all(&server, &url, &[]).await;
    assert_eq!(xml_text(&third.body, "Body").as_deref(), Some("peekaboo"));
    assert_eq!(
        system_attribute(&third.body, "ApproximateReceiveCount").as_deref(),
        Some("3")
    );
}

#[tokio::test]
async fn requests_posted_to_the_queue_url_path_act_on_that_queue() {
    let server = start().await;
    let name = unique("qpath");
    create(&server, &name).await;
    let path = format!("/{ACCOUNT}/{name}");
    let key = Some("AKIDTEST");

    let sent = query_as(
        &server,
        &path,
        &[("Action", "SendMessage"), ("MessageBody", "via path")],
        key,
    )
    .await;
    assert_ok(&sent, "SendMessage");

    let attrs = query_as(
        &server,
        &path,
        &[
            ("Action", "GetQueueAttributes"),
            ("AttributeName.1", "ApproximateNumberOfMessages"),
        ],
        key,
    )
    .await;
    assert_ok(&attrs, "GetQueueAttributes");
    assert!(
        attrs
            .body
            .contains("<Attribute><Name>ApproximateNumberOfMessages</Name><Value>1</Value></Attribute>"),
        "{}",
        attrs.body
    );

    let r = query_as(&server, &path, &[("Action", "ReceiveMessage")], key).await;
    assert_ok(&r, "ReceiveMessage");
    assert_eq!(xml_text(&r.body, "Body").as_deref(), Some("via path"));
    let handle = xml_text(&r.body, "ReceiptHandle").unwrap();
    let d = query_as(
        &server,
        &path,
        &[("Action", "DeleteMessage"), ("ReceiptHandle", &handle)],
        key,
    )
    .await;
    assert_ok(&d, "DeleteMessage");

    // The path of a queue that does not exist names that missing queue.
    let missing = query_as(
        &server,
        &format!("/{ACCOUNT}/{}", unique("qnosuch")),
        &[("Action", "GetQueueAttributes"), ("AttributeName.1", "All")],
        key,
    )
    .await;
    assert_error(&missing, 400, "AWS.SimpleQueueService.NonExistentQueue");

    let del = query_as(&server, &path, &[("Action", "DeleteQueue")], key).await;
    assert_ok(&del, "DeleteQueue");
    let gone = query(&server, &[("Action", "GetQueueUrl"), ("QueueName", &name)]).await;
    assert_error(&gone, 400, "AWS.SimpleQueueService.NonExistentQueue");
}

#[tokio::test]
async fn get_queue_url_of_missing_queue_is_non_existent_queue() {
    let server = start().await;
    let r = query(
        &server,
        &[("Action", "GetQueueUrl"), ("QueueName", &unique("qmissing"))],
    )
    .await;
    let msg = assert_error(&r, 400, "AWS.SimpleQueueService.NonExistentQueue");
    assert_eq!(msg, "The specified queue does not exist for this wsdl version.");
    assert_eq!(xml_text(&r.body, "Type").as_deref(), Some("Sender"));
    assert_eq!(xml_text(&r.body, "RequestId"), Some(request_id_header(&r)));
}

#[tokio::test]
async fn unknown_action_is_invalid_action() {
    let server = start().await;
    let r = query(&server, &[("Action", "FlyToTheMoon")]).await;
    assert_error(&r, 400, "InvalidAction");
}

#[tokio::test]
async fn missing_parameters_are_missing_parameter() {
    let server = start().await;
    let r = query(&server, &[("Action", "CreateQueue")]).await;
    let msg = assert_error(&r, 400, "MissingParameter");
    assert!(msg.contains("QueueName"), "{msg}");
    let r = query(&server, &[("QueueName", "x")]).await;
    let msg = assert_error(&r, 400, "MissingParameter");
    assert!(msg.contains("Action"), "{msg}");
}

#[tokio::test]
async fn create_queue_with_different_attribute_is_queue_already_exists() {
    let server = start().await;
    let name = unique("qexists");
    let vt = |v: &'static str| {
        [
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", v),
        ]
    };
    create_with(&server, &name, &vt("10")).await;
    create_with(&server, &name, &vt("10")).await;
    let mut params = vec![("Action", "CreateQueue"), ("QueueName", name.as_str())];
    params.extend_from_slice(&vt("11"));
    let r = query(&server, &params).await;
    let msg = assert_error(&r, 400, "QueueAlreadyExists");
    assert_eq!(
        msg,
        "A queue already exists with the same name and a different value for attribute VisibilityTimeout"
    );
}

#[tokio::test]
async fn queue_names_and_attributes_are_validated() {
    let server = start().await;
    for bad in ["has space", "dot.ted", &"x".repeat(81)] {
        let r = query(&server, &[("Action", "CreateQueue"), ("QueueName", bad)]).await;
        assert_error(&r, 400, "InvalidParameterValue");
    }
    let r = query(
        &server,
        &[
            ("Action", "CreateQueue"),
            ("QueueName", &unique("qrange")),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "43201"),
        ],
    )
    .await;
    assert_error(&r, 400, "InvalidAttributeValue");
    let r = query(
        &server,
        &[
            ("Action", "CreateQueue"),
            ("QueueName", &unique("qunknown")),
            ("Attribute.1.Name", "NoSuchAttribute"),
            ("Attribute.1.Value", "1"),
        ],
    )
    .await;
    let msg = assert_error(&r, 400, "InvalidAttributeName");
    assert_eq!(msg, "Unknown Attribute NoSuchAttribute.");

    let url = create(&server, &unique("qattrcheck")).await;
    let r = query(
        &server,
        &[
            ("Action", "SetQueueAttributes"),
            ("QueueUrl", &url),
            ("Attribute.1.Name", "MessageRetentionPeriod"),
            ("Attribute.1.Value", "59"),
        ],
    )
    .await;
    assert_error(&r, 400, "InvalidAttributeValue");
    let r = query(
        &server,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &url),
            ("AttributeName.1", "Bogus"),
        ],
    )
    .await;
    assert_error(&r, 400, "InvalidAttributeName");
}

#[tokio::test]
async fn body_with_control_character_is_invalid_message_contents() {
    let server = start().await;
    let url = create(&server, &unique("qcontents")).await;
    let r = send_body(&server, &url, "bell \u{7} here").await;
    assert_error(&r, 400, "InvalidMessageContents");
    assert_eq!(counts(&server, &url).await, ("0".into(), "0".into()));
}

#[tokio::test]
async fn message_over_maximum_message_size_is_invalid_parameter_value() {
    let server = start().await;
    let url = create_with(
        &server,
        &unique("qsize"),
        &[
            ("Attribute.1.Name", "MaximumMessageSize"),
            ("Attribute.1.Value", "1024"),
        ],
    )
    .await;
    assert_ok(&send_body(&server, &url, &"a".repeat(1024)).await, "SendMessage");
    let r = send_body(&server, &url, &"a".repeat(1025)).await;
    assert_error(&r, 400, "InvalidParameterValue");
    assert_eq!(counts(&server, &url).await, ("1".into(), "0".into()));
}

/// A SendMessageBatch request with these `(id, body)` entries.
async fn send_batch(server: &Server, url: &str, entries: &[(String, String)]) -> Raw {
    let mut params = vec![
        ("Action".to_owned(), "SendMessageBatch".to_owned()),
        ("QueueUrl".to_owned(), url.to_owned()),
    ];
    for (i, (id, body)) in entries.iter().enumerate() {
        let n = i + 1;
        params.push((format!("SendMessageBatchRequestEntry.{n}.Id"), id.clone()));
        params.push((
            format!("SendMessageBatchRequestEntry.{n}.MessageBody"),
            body.clone(),
        ));
    }
    query(server, &pairs(&params)).await
}

#[tokio::test]
async fn batch_rules_are_enforced_with_simple_queue_service_codes() {
    let server = start().await;
    let url = create(&server, &unique("qbatchrules")).await;
    let entry = |id: &str, body: &str| (id.to_owned(), body.to_owned());

    let r = send_batch(&server, &url, &[]).await;
    assert_error(&r, 400, "AWS.SimpleQueueService.EmptyBatchRequest");

    let eleven: Vec<_> = (0..11).map(|i| entry(&format!("e{i}"), "b")).collect();
    let r = send_batch(&server, &url, &eleven).await;
    assert_error(&r, 400, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest");

    let r = send_batch(&server, &url, &[entry("same", "a"), entry("same", "b")]).await;
    assert_error(&r, 400, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct");

    let r = send_batch(&server, &url, &[entry("bad id!", "a")]).await;
    assert_error(&r, 400, "AWS.SimpleQueueService.InvalidBatchEntryId");

    let big = "x".repeat(600_000);
    let r = send_batch(&server, &url, &[entry("one", &big), entry("two", &big)]).await;
    assert_error(&r, 400, "AWS.SimpleQueueService.BatchRequestTooLong");

    // None of the rejected batches stored anything.
    assert_eq!(counts(&server, &url).await, ("0".into(), "0".into()));

    // The same rules apply to DeleteMessageBatch.
    let r = query(&server, &[("Action", "DeleteMessageBatch"), ("QueueUrl", &url)]).await;
    assert_error(&r, 400, "AWS.SimpleQueueService.EmptyBatchRequest");
}

#[tokio::test]
async fn garbage_receipt_handle_is_receipt_handle_is_invalid() {
    let server = start().await;
    let url = create(&server, &unique("qhandle")).await;
    let r = query(
        &server,
        &[
            ("Action", "DeleteMessage"),
            ("QueueUrl", &url),
            ("ReceiptHandle", "not-a-real-handle"),
        ],
    )
    .await;
    assert_error(&r, 404, "ReceiptHandleIsInvalid");
    // A handle with XML metacharacters is echoed back well-formed.
    let r = query(
        &server,
        &[
            ("Action", "DeleteMessage"),
            ("QueueUrl", &url),
            ("ReceiptHandle", "<bad&\"handle>"),
        ],
    )
    .await;
    let msg = assert_error(&r, 404, "ReceiptHandleIsInvalid");
    // AWS quotes the handle it refuses.
    assert_eq!(
        msg,
        "The input receipt handle \"<bad&\"handle>\" is not a valid receipt handle."
    );
    assert!(!r.body.contains("<bad&"), "{}", r.body);
}

#[tokio::test]
async fn purge_queue_twice_is_purge_queue_in_progress() {
    let server = start().await;
    let url = create(&server, &unique("qpurge")).await;
    assert_ok(&send_body(&server, &url, "gone soon").await, "SendMessage");
    let r = query(&server, &[("Action", "PurgeQueue"), ("QueueUrl", &url)]).await;
    assert_ok(&r, "PurgeQueue");
    assert_eq!(counts(&server, &url).await, ("0".into(), "0".into()));
    let r = query(&server, &[("Action", "PurgeQueue"), ("QueueUrl", &url)]).await;
    assert_error(&r, 403, "AWS.SimpleQueueService.PurgeQueueInProgress");
    // Once 60 seconds have passed, purging is allowed again.
    server.advance(61);
    let r = query(&server, &[("Action", "PurgeQueue"), ("QueueUrl", &url)]).await;
    assert_ok(&r, "PurgeQueue");
}

#[tokio::test]
async fn unknown_version_is_a_client_error() {
    let server = start().await;
    let r = query(&server, &[("Action", "ListQueues"), ("Version", "2011-01-01")]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let (code, _) = error_parts(&r);
    assert!(!code.is_empty());
}

#[tokio::test]
async fn unsigned_requests_work_and_sender_id_is_the_client_ip() {
    let server = start().await;
    let name = unique("qanon");
    let r = query_as(
        &server,
        "/",
        &[("Action", "CreateQueue"), ("QueueName", &name)],
        None,
    )
    .await;
    assert_ok(&r, "CreateQueue");
    let url = xml_text(&r.body, "QueueUrl").unwrap();
    let r = query_as(
        &server,
        "/",
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "anonymous"),
        ],
        None,
    )
    .await;
    assert_ok(&r, "SendMessage");
    let r = query_as(
        &server,
        "/",
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", &url),
            ("AttributeName.1", "SenderId"),
        ],
        None,
    )
    .await;
    assert_ok(&r, "ReceiveMessage");
    assert_eq!(xml_text(&r.body, "Body").as_deref(), Some("anonymous"));
    assert!(
        r.body
            .contains("<Attribute><Name>SenderId</Name><Value>127.0.0.1</Value></Attribute>"),
        "{}",
        r.body
    );
}

/// Sends a hand-built request, failing if the server takes over 10 seconds.
async fn send_quickly(req: http::Request<String>) -> Raw {
    tokio::time::timeout(Duration::from_secs(10), send(req))
        .await
        .expect("the server answered within 10 seconds")
}

#[tokio::test]
async fn odd_requests_never_fail_with_500_or_hang() {
    let server = start().await;
    let root = format!("{}/", server.endpoint);
    let form = "application/x-www-form-urlencoded";

    // Raw bytes that are not UTF-8 in a form body.
    let client = reqwest::Client::new();
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .post(&root)
            .header("content-type", form)
            .body(b"Action=ListQueues&QueueNamePrefix=\xff\xfe&Version=2012-11-05".to_vec())
            .send(),
    )
    .await
    .expect("answered within 10 seconds")
    .expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap();
    let raw = Raw {
        status,
        headers,
        body,
    };
    assert!((400..500).contains(&raw.status), "{} {}", raw.status, raw.body);
    error_parts(&raw);

    // Percent-encoded bytes that are not UTF-8.
    let req = http::Request::post(&root)
        .header("content-type", form)
        .body("Action=ListQueues&QueueNamePrefix=%FF%FE&Version=2012-11-05".to_owned())
        .unwrap();
    let r = send_quickly(req).await;
    assert!(r.status < 500, "{} {}", r.status, r.body);

    // An empty POST: no Action.
    let req = http::Request::post(&root)
        .header("content-type", form)
        .body(String::new())
        .unwrap();
    let r = send_quickly(req).await;
    assert_error(&r, 400, "MissingParameter");

    // An empty POST without any content type.
    let req = http::Request::post(&root).body(String::new()).unwrap();
    let r = send_quickly(req).await;
    assert_error(&r, 400, "MissingParameter");

    // Broken percent-encoding and stray separators.
    let req = http::Request::post(&root)
        .header("content-type", form)
        .body("Action=ListQueues&&=&%zz=%&Version=2012-11-05&QueueNamePrefix=%".to_owned())
        .unwrap();
    let r = send_quickly(req).await;
    assert!(r.status < 500, "{} {}", r.status, r.body);

    // Keys that collide as a leaf and a branch.
    let req = http::Request::post(&root)
        .header("content-type", form)
        .body(
            "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=/000000000000/nope\
             &SendMessageBatchRequestEntry=1&SendMessageBatchRequestEntry.1=x\
             &SendMessageBatchRequestEntry.1.Id.2=y"
                .to_owned(),
        )
        .unwrap();
    let r = send_quickly(req).await;
    assert!(r.status < 500, "{} {}", r.status, r.body);

    // A query string only, as a GET.
    let req = http::Request::get(format!("{root}?Action=ListQueues&Version=2012-11-05"))
        .body(String::new())
        .unwrap();
    let r = send_quickly(req).await;
    assert_ok(&r, "ListQueues");
    assert!(r.body.contains("<ListQueuesResult"), "{}", r.body);

    // A GET that lists a queue made before.
    let name = unique("qget");
    let url = create(&server, &name).await;
    let req = http::Request::get(format!(
        "{root}?Action=ListQueues&Version=2012-11-05&QueueNamePrefix={name}"
    ))
    .body(String::new())
    .unwrap();
    let r = send_quickly(req).await;
    assert_ok(&r, "ListQueues");
    assert!(
        r.body.contains(&format!(
            "<ListQueuesResult><QueueUrl>{url}</QueueUrl></ListQueuesResult>"
        )),
        "{}",
        r.body
    );
}

/// A raw JSON 1.0 request with this target and body.
fn json_request(server: &Server, target: &str, body: &str) -> http::Request<String> {
    http::Request::post(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .body(body.to_owned())
        .unwrap()
}

fn json_body(r: &Raw) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

#[tokio::test]
async fn json_protocol_errors_have_type_message_and_query_error_header() {
    let server = start().await;
    let r = send_quickly(json_request(
        &server,
        "AmazonSQS.GetQueueUrl",
        r#"{"QueueName":"missing"}"#,
    ))
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.headers.get("x-amzn-query-error").map(|v| v.to_str().unwrap()),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );
    assert!(
        content_type(&r).starts_with("application/x-amz-json-1.0"),
        "{:?}",
        r.headers
    );
    assert!(!request_id_header(&r).is_empty());
    assert_eq!(
        json_body(&r),
        serde_json::json!({
            "__type": "com.amazonaws.sqs#QueueDoesNotExist",
            "message": "The specified queue does not exist."
        })
    );

    let r = send_quickly(json_request(&server, "AmazonSQS.GetQueueUrl", "{not json")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let v = json_body(&r);
    assert!(v["__type"].as_str().is_some_and(|t| !t.is_empty()), "{}", r.body);

    let r = send_quickly(json_request(&server, "AmazonSQS.Nope", "{}")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let v = json_body(&r);
    assert!(
        v["__type"].as_str().is_some_and(|t| t.ends_with("InvalidAction")),
        "{}",
        r.body
    );
    assert_eq!(
        r.headers.get("x-amzn-query-error").map(|v| v.to_str().unwrap()),
        Some("InvalidAction;Sender")
    );
}

/// Panics unless the process still runs after answering `sent`; returns the status.
async fn assert_survived(server: &mut Binary, what: &str, sent: reqwest::Result<reqwest::Response>) -> u16 {
    if sent.is_err() {
        // Give a dying process a moment to be reaped.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let exited = server.0.try_wait().unwrap();
    assert!(
        exited.is_none(),
        "the server process died ({exited:?}) on {what}; response: {sent:?}"
    );
    sent.unwrap_or_else(|e| panic!("no HTTP response to {what}: {e}"))
        .status()
        .as_u16()
}

#[tokio::test]
async fn deeply_dotted_parameter_names_do_not_crash_the_server() {
    let port = free_port();
    let mut server = spawn_binary(|cmd| {
        cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()]);
    });
    wait_healthy(port).await;
    let root = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::new();
    let deep = vec!["x"; 10_000].join(".");

    // A 20 KB form body whose one key has 10,000 dot-separated parts.
    let sent = client
        .post(&root)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("Action=ListQueues&Version=2012-11-05&{deep}=1"))
        .timeout(Duration::from_secs(20))
        .send()
        .await;
    let status = assert_survived(&mut server, "a form key with 10,000 dotted parts", sent).await;
    assert!(status < 500, "{status}");

    // The same key in a GET query string.
    let sent = client
        .get(format!("{root}?Action=ListQueues&Version=2012-11-05&{deep}=1"))
        .timeout(Duration::from_secs(20))
        .send()
        .await;
    let status = assert_survived(&mut server, "a query-string key with 10,000 dotted parts", sent).await;
    assert!(status < 500, "{status}");

    let sent = client
        .get(format!("{root}?Action=ListQueues&Version=2012-11-05"))
        .send()
        .await;
    assert_eq!(
        assert_survived(&mut server, "a plain ListQueues", sent).await,
        200
    );
}

#[tokio::test]
async fn tag_queue_sends_tags_as_tag_n_like_old_botocore() {
    let server = start().await;
    let url = create(&server, &unique("qtag")).await;
    let params = [
        ("Action", "TagQueue"),
        ("QueueUrl", url.as_str()),
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "test"),
    ];
    assert_ok(&query(&server, &params).await, "TagQueue");
    let r = query(
        &server,
        &[("Action", "ListQueueTags"), ("QueueUrl", url.as_str())],
    )
    .await;
    assert_eq!(xml_all(&r.body, "Key"), ["env"]);
    assert_eq!(xml_all(&r.body, "Value"), ["test"]);
    let params = [
        ("Action", "UntagQueue"),
        ("QueueUrl", url.as_str()),
        ("TagKey.1", "env"),
    ];
    assert_ok(&query(&server, &params).await, "UntagQueue");
    let r = query(
        &server,
        &[("Action", "ListQueueTags"), ("QueueUrl", url.as_str())],
    )
    .await;
    assert!(xml_all(&r.body, "Key").is_empty());
}

#[tokio::test]
async fn an_empty_entries_list_is_an_empty_batch() {
    let server = start().await;
    let url = create(&server, &unique("qempty")).await;
    // botocore's query serializer writes an empty list as `Entries=`.
    let r = query(
        &server,
        &[
            ("Action", "SendMessageBatch"),
            ("QueueUrl", url.as_str()),
            ("Entries", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("AWS.SimpleQueueService.EmptyBatchRequest")
    );
}

#[tokio::test]
async fn recorded_error_texts_in_the_query_protocol() {
    let server = start().await;
    let url = create(&server, &unique("qtexts")).await;
    // An empty String attribute (AWS recorded: no leading "The").
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "hello"),
            ("MessageAttribute.1.Name", "ErrorDetails"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", ""),
        ],
    )
    .await;
    let msg = assert_error(&r, 400, "InvalidParameterValue");
    assert_eq!(
        msg,
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
    );
    // RemovePermission of a label the policy does not have.
    let r = query(
        &server,
        &[
            ("Action", "RemovePermission"),
            ("QueueUrl", &url),
            ("Label", "nope"),
        ],
    )
    .await;
    let msg = assert_error(&r, 400, "InvalidParameterValue");
    assert_eq!(
        msg,
        "Value nope for parameter Label is invalid. Reason: can't find label."
    );
}
