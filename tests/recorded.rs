//! Answers recorded from the real SQS and KMS that sealq reproduces: each
//! test drives one recorded behaviour through the Rust SDK (JSON protocol)
//! and, for SQS, through plain HTTP in the query protocol, and asserts what
//! a user of either sees.

mod common;

use std::sync::Arc;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    MessageAttributeValue, QueueAttributeName as Q, SendMessageBatchRequestEntry as Entry,
};
use common::{Server, json_anonymous, query, sqs, unique, xml_all, xml_text};
use sealq::Config;
use sealq::clock::Clock;

async fn fifo(c: &aws_sdk_sqs::Client, attrs: &[(Q, &str)]) -> String {
    let mut req = c
        .create_queue()
        .queue_name(format!("{}.fifo", unique("f")))
        .attributes(Q::FifoQueue, "true");
    for (k, v) in attrs {
        req = req.attributes(k.clone(), *v);
    }
    req.send().await.expect("CreateQueue").queue_url.expect("url")
}

async fn standard(c: &aws_sdk_sqs::Client) -> (String, String) {
    let name = unique("std");
    let url = c
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("url");
    (name, url)
}

/// A server on a clock the test moves.
async fn start_frozen(config: Config) -> Server {
    common::start_with(config, Arc::new(Clock::manual(1_700_000_000_000))).await
}

fn string_attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .unwrap()
}

/// Status and `<Code>` of a query-protocol error.
fn query_error(r: &common::Raw) -> (u16, String, String) {
    (
        r.status,
        xml_text(&r.body, "Code").unwrap_or_default(),
        xml_text(&r.body, "Message").unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_bare_queue_name_is_a_queue_url_and_an_address_without_a_path_is_no_queue() {
    let server = common::start().await;
    let c = sqs(&server);
    let (name, url) = standard(&c).await;
    c.send_message()
        .queue_url(&name)
        .message_body("by name")
        .send()
        .await
        .expect("SendMessage to a bare queue name");
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &name),
            ("MessageBody", "by name, query"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = c
        .receive_message()
        .queue_url(&name)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("ReceiveMessage by name");
    assert_eq!(got.messages().len(), 2);
    let attrs = c
        .get_queue_attributes()
        .queue_url(&name)
        .attribute_names(Q::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes by name");
    assert!(attrs.attributes().unwrap()[&Q::QueueArn].ends_with(&format!(":{name}")));
    c.delete_queue()
        .queue_url(&name)
        .send()
        .await
        .expect("DeleteQueue by name");
    let e = c.get_queue_attributes().queue_url(&url).send().await.unwrap_err();
    assert_eq!(e.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));

    // No account/name path: AWS says the queue does not exist (400).
    let bad = "http://whatever-incorrect-queue-address";
    let e = c
        .send_message()
        .queue_url(bad)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));
    assert_eq!(e.message(), Some("The specified queue does not exist."));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    let r = query(
        &server,
        &[("Action", "SendMessage"), ("QueueUrl", bad), ("MessageBody", "x")],
    )
    .await;
    assert_eq!(
        query_error(&r),
        (
            400,
            "AWS.SimpleQueueService.NonExistentQueue".to_owned(),
            // The query protocol's wording of the same error.
            "The specified queue does not exist for this wsdl version.".to_owned()
        )
    );
}

#[tokio::test]
async fn message_attribute_names_match_plain_prefixes_and_star_and_the_md5_covers_what_is_returned() {
    let server = common::start().await;
    let c = sqs(&server);
    let (_, url) = standard(&c).await;
    let (_, twin) = standard(&c).await;
    c.send_message()
        .queue_url(&url)
        .message_body("m")
        .message_attributes("Hello", string_attr("1"))
        .message_attributes("Help.Me", string_attr("2"))
        .message_attributes("General", string_attr("3"))
        .send()
        .await
        .unwrap();
    // The digest of exactly Hello and Help.Me, as SendMessage computes it.
    let want_md5 = c
        .send_message()
        .queue_url(&twin)
        .message_body("m")
        .message_attributes("Hello", string_attr("1"))
        .message_attributes("Help.Me", string_attr("2"))
        .send()
        .await
        .unwrap()
        .md5_of_message_attributes
        .unwrap();

    let receive = |names: &'static [&'static str]| {
        let c = c.clone();
        let url = url.clone();
        async move {
            let mut req = c.receive_message().queue_url(&url).visibility_timeout(0);
            for n in names {
                req = req.message_attribute_names(*n);
            }
            let out = req.send().await.unwrap();
            let m = out.messages()[0].clone();
            let mut keys: Vec<String> = m
                .message_attributes()
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default();
            keys.sort();
            (keys, m.md5_of_message_attributes)
        }
    };
    let (keys, md5) = receive(&["Hel.*"]).await;
    assert_eq!(keys, ["Hello", "Help.Me"]);
    assert_eq!(md5.as_deref(), Some(want_md5.as_str()));
    let (keys, _) = receive(&["*"]).await;
    assert_eq!(keys, ["General", "Hello", "Help.Me"]);

    // Query protocol: the same prefix, and the bare `MessageAttributeNames=`
    // older botocore sends for an empty list (200, no attributes).
    let r = query(
        &server,
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", &url),
            ("VisibilityTimeout", "0"),
            ("MessageAttributeName.1", "Hel.*"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut names = xml_all(&r.body, "Name");
    names.sort();
    assert_eq!(names, ["Hello", "Help.Me"]);
    let r = query(
        &server,
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", &url),
            ("VisibilityTimeout", "0"),
            ("MessageAttributeNames", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(xml_all(&r.body, "Body"), ["m"]);
    assert!(xml_all(&r.body, "MessageAttribute").is_empty(), "{}", r.body);
}

#[tokio::test]
async fn query_empty_lists_get_the_answer_of_the_json_empty_list() {
    let server = common::start().await;
    // An unencrypted queue, so unsigned JSON requests may use it.
    let r = json_anonymous(
        &server,
        "CreateQueue",
        serde_json::json!({"QueueName": unique("empty")}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = query(
        &server,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &url),
            ("AttributeNames", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(xml_all(&r.body, "Attribute").is_empty(), "{}", r.body);
    let r = query(
        &server,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &url),
            ("AttributeName", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(xml_all(&r.body, "Attribute").is_empty(), "{}", r.body);

    // The same answer as the JSON protocol's `[]`, code for code.
    for (action, list, extra) in [
        ("UntagQueue", "TagKeys", vec![]),
        (
            "AddPermission",
            "Actions",
            vec![("Label", "l"), ("AWSAccountId.1", "111111111111")],
        ),
        (
            "AddPermission",
            "AWSAccountIds",
            vec![("Label", "l"), ("ActionName.1", "SendMessage")],
        ),
        ("ReceiveMessage", "MessageSystemAttributeNames", vec![]),
    ] {
        let mut params = vec![("Action", action), ("QueueUrl", url.as_str()), (list, "")];
        params.extend(extra.iter().copied());
        let q = query(&server, &params).await;
        let mut body = serde_json::json!({"QueueUrl": url, list: []});
        for (k, v) in &extra {
            match *k {
                "AWSAccountId.1" => body["AWSAccountIds"] = serde_json::json!([v]),
                "ActionName.1" => body["Actions"] = serde_json::json!([v]),
                k => body[k] = serde_json::json!(v),
            }
        }
        let j = json_anonymous(&server, action, body).await;
        let json_code = j
            .headers
            .get("x-amzn-query-error")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        assert_eq!(q.status, j.status, "{action} {list}: {} / {}", q.body, j.body);
        assert_eq!(xml_text(&q.body, "Code"), json_code, "{action} {list}");
    }
}

#[tokio::test]
async fn a_fifo_batch_missing_a_group_or_deduplication_id_fails_as_a_whole() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(&c, &[]).await;
    let entry = |id: &str, group: Option<&str>, dedup: Option<&str>| {
        Entry::builder()
            .id(id)
            .message_body(id)
            .set_message_group_id(group.map(str::to_owned))
            .set_message_deduplication_id(dedup.map(str::to_owned))
            .build()
            .unwrap()
    };
    for (missing, want) in [
        (
            entry("b", Some("g"), None),
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        ),
        (
            entry("b", None, Some("d2")),
            "The request must contain the parameter MessageGroupId.",
        ),
    ] {
        let e = c
            .send_message_batch()
            .queue_url(&url)
            .entries(entry("a", Some("g"), Some("d1")))
            .entries(missing)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidParameterValue"));
        assert_eq!(e.message(), Some(want));
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    }
    let r = query(
        &server,
        &[
            ("Action", "SendMessageBatch"),
            ("QueueUrl", &url),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "a"),
            ("SendMessageBatchRequestEntry.1.MessageGroupId", "g"),
            ("SendMessageBatchRequestEntry.1.MessageDeduplicationId", "d1"),
            ("SendMessageBatchRequestEntry.2.Id", "b"),
            ("SendMessageBatchRequestEntry.2.MessageBody", "b"),
            ("SendMessageBatchRequestEntry.2.MessageDeduplicationId", "d2"),
        ],
    )
    .await;
    assert_eq!(
        query_error(&r),
        (
            400,
            "InvalidParameterValue".to_owned(),
            "The request must contain the parameter MessageGroupId.".to_owned()
        )
    );
    assert!(xml_all(&r.body, "SendMessageBatchResultEntry").is_empty());
    // Nothing of the failed requests was stored.
    let got = c.receive_message().queue_url(&url).send().await.unwrap();
    assert!(got.messages().is_empty(), "{got:?}");
}

#[tokio::test]
async fn fifo_only_attributes_on_standard_queues_and_queue_type_changes() {
    let server = common::start().await;
    let c = sqs(&server);
    for (name, value, want) in [
        (Q::FifoQueue, "false", "Unknown Attribute FifoQueue."),
        (
            Q::ContentBasedDeduplication,
            "true",
            "Unknown Attribute ContentBasedDeduplication.",
        ),
        (
            Q::DeduplicationScope,
            "queue",
            "You can specify the DeduplicationScope only when FifoQueue is set to true.",
        ),
        (
            Q::FifoThroughputLimit,
            "perQueue",
            "You can specify the FifoThroughputLimit only when FifoQueue is set to true.",
        ),
    ] {
        let e = c
            .create_queue()
            .queue_name(unique("std"))
            .attributes(name.clone(), value)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidAttributeName"), "{name:?}");
        assert_eq!(e.message(), Some(want), "{name:?}");
    }
    let r = query(
        &server,
        &[
            ("Action", "CreateQueue"),
            ("QueueName", &unique("std")),
            ("Attribute.1.Name", "FifoQueue"),
            ("Attribute.1.Value", "false"),
        ],
    )
    .await;
    assert_eq!(
        query_error(&r),
        (
            400,
            "InvalidAttributeName".to_owned(),
            "Unknown Attribute FifoQueue.".to_owned()
        )
    );

    let url = fifo(&c, &[]).await;
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::FifoQueue, "true")
        .send()
        .await
        .expect("FifoQueue=true on a FIFO queue is accepted");
    let e = c
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::FifoQueue, "false")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidAttributeValue"));
    assert_eq!(
        e.message(),
        Some("Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")
    );
    let (_, std_url) = standard(&c).await;
    let r = query(
        &server,
        &[
            ("Action", "SetQueueAttributes"),
            ("QueueUrl", &std_url),
            ("Attribute.1.Name", "FifoQueue"),
            ("Attribute.1.Value", "true"),
        ],
    )
    .await;
    assert_eq!(
        query_error(&r),
        (
            400,
            "InvalidAttributeName".to_owned(),
            "Unknown Attribute FifoQueue.".to_owned()
        )
    );
}

#[tokio::test]
async fn queue_policies_hold_seven_actions_per_statement_and_twenty_statements() {
    let server = common::start().await;
    let c = sqs(&server);
    let (_, url) = standard(&c).await;
    let seven = [
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "GetQueueUrl",
        "PurgeQueue",
    ];
    let mut req = c
        .add_permission()
        .queue_url(&url)
        .label("seven")
        .aws_account_ids("111111111111");
    for a in seven {
        req = req.actions(a);
    }
    req.send().await.expect("seven actions fit");
    let mut req = c
        .add_permission()
        .queue_url(&url)
        .label("eight")
        .aws_account_ids("111111111111");
    for a in seven.iter().chain(&["ListQueueTags"]) {
        req = req.actions(*a);
    }
    let e = req.send().await.unwrap_err();
    assert_eq!(e.code(), Some("OverLimit"));
    assert_eq!(
        e.message(),
        Some("8 actions were found in a statement from the submitted policy, max allowed is 7")
    );
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));

    let arn = common::queue_arn(&c, &url).await;
    let statements: Vec<serde_json::Value> = (0..21)
        .map(|i| {
            serde_json::json!({"Sid": format!("s{i}"), "Effect": "Allow",
                "Principal": {"AWS": "111111111111"}, "Action": "sqs:SendMessage", "Resource": arn})
        })
        .collect();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    let r = query(
        &server,
        &[
            ("Action", "SetQueueAttributes"),
            ("QueueUrl", &url),
            ("Attribute.1.Name", "Policy"),
            ("Attribute.1.Value", &policy),
        ],
    )
    .await;
    assert_eq!(
        query_error(&r),
        (
            403,
            "OverLimit".to_owned(),
            "21 statements were found in the submitted policy, max allowed is 20".to_owned()
        )
    );
}

#[tokio::test]
async fn json_errors_outside_the_model_carry_coral_types() {
    let server = common::start().await;
    let r = json_anonymous(
        &server,
        "CreateQueue",
        serde_json::json!({"QueueName": unique("coral")}),
    )
    .await;
    let url = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, ty, code) in [
        (
            serde_json::json!({"QueueUrl": url, "MessageBody": "x", "DelaySeconds": 901}),
            "com.amazon.coral.service#InvalidParameterValueException",
            "InvalidParameterValue;Sender",
        ),
        (
            serde_json::json!({"QueueUrl": url}),
            "com.amazon.coral.service#MissingRequiredParameterException",
            "MissingParameter;Sender",
        ),
    ] {
        let r = json_anonymous(&server, "SendMessage", body).await;
        assert_eq!(r.status, 400, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["__type"], ty, "{}", r.body);
        assert_eq!(r.headers["x-amzn-query-error"], code);
    }
}

#[tokio::test]
async fn a_fifo_receipt_handle_expires_with_its_visibility_timeout_and_a_standard_one_does_not() {
    let server = start_frozen(Config::default()).await;
    let c = sqs(&server);
    let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
    let (_, std_url) = standard(&c).await;
    for u in [&url, &std_url] {
        let mut req = c.send_message().queue_url(u.as_str()).message_body("m");
        if u == &url {
            req = req.message_group_id("g");
        }
        req.send().await.unwrap();
    }
    let handle = |u: String| {
        let c = c.clone();
        async move {
            let out = c
                .receive_message()
                .queue_url(&u)
                .visibility_timeout(5)
                .send()
                .await
                .unwrap();
            out.messages()[0].receipt_handle().unwrap().to_owned()
        }
    };
    let (fifo_handle, std_handle) = (handle(url.clone()).await, handle(std_url.clone()).await);
    server.advance(6);
    let e = c
        .delete_message()
        .queue_url(&url)
        .receipt_handle(&fifo_handle)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue"));
    assert_eq!(
        e.message(),
        Some(
            format!(
                "Value {fifo_handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
            )
            .as_str()
        )
    );
    let r = query(
        &server,
        &[
            ("Action", "DeleteMessageBatch"),
            ("QueueUrl", &url),
            ("DeleteMessageBatchRequestEntry.1.Id", "a"),
            ("DeleteMessageBatchRequestEntry.1.ReceiptHandle", &fifo_handle),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("InvalidParameterValue")
    );
    c.delete_message()
        .queue_url(&std_url)
        .receipt_handle(&std_handle)
        .send()
        .await
        .expect("a standard queue takes a handle whose timeout ran out");
    // The FIFO message is still there; a live handle deletes it.
    let live = handle(url.clone()).await;
    c.delete_message()
        .queue_url(&url)
        .receipt_handle(&live)
        .send()
        .await
        .expect("live handle");
}

#[tokio::test]
async fn extending_a_later_message_of_an_in_flight_group_lets_the_earlier_ones_return() {
    let server = start_frozen(Config::default()).await;
    let c = sqs(&server);
    // Extend the 2nd of three: the 1st comes back; extend the 3rd: the 1st
    // and 2nd come back (AWS recorded).
    for (extended, want) in [(1usize, vec!["m0"]), (2, vec!["m0", "m1"])] {
        let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
        for i in 0..3 {
            c.send_message()
                .queue_url(&url)
                .message_body(format!("m{i}"))
                .message_group_id("g")
                .send()
                .await
                .unwrap();
        }
        let got = c
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(10)
            .send()
            .await
            .unwrap();
        assert_eq!(got.messages().len(), 3);
        c.change_message_visibility()
            .queue_url(&url)
            .receipt_handle(got.messages()[extended].receipt_handle().unwrap())
            .visibility_timeout(100)
            .send()
            .await
            .unwrap();
        server.advance(11);
        let again = c
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let bodies: Vec<&str> = again.messages().iter().filter_map(|m| m.body()).collect();
        assert_eq!(bodies, want, "extended message {extended}");
    }
}

#[tokio::test]
async fn ids_deduplicated_under_the_queue_scope_stay_deduplicated_in_every_group() {
    let server = start_frozen(Config::default()).await;
    let c = sqs(&server);
    let url = fifo(&c, &[]).await;
    let send = |group: &'static str| {
        let c = c.clone();
        let url = url.clone();
        async move {
            c.send_message()
                .queue_url(&url)
                .message_body("b")
                .message_group_id(group)
                .message_deduplication_id("same")
                .send()
                .await
                .unwrap()
                .message_id
                .unwrap()
        }
    };
    let first = send("g1").await;
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::DeduplicationScope, "messageGroup")
        .attributes(Q::FifoThroughputLimit, "perMessageGroupId")
        .send()
        .await
        .unwrap();
    assert_eq!(send("g2").await, first, "still a duplicate in a new group");
    let got = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 1);
    // After the 5 minutes, the id is new in each group.
    server.advance(301);
    assert_ne!(send("g2").await, first);
}

#[tokio::test]
async fn strict_deletion_keeps_a_deleted_name_for_sixty_seconds_and_the_default_does_not() {
    let server = start_frozen(Config {
        strict_deletion: true,
        ..Config::default()
    })
    .await;
    let c = sqs(&server);
    let (name, url) = standard(&c).await;
    c.delete_queue().queue_url(&url).send().await.unwrap();
    let e = c.create_queue().queue_name(&name).send().await.unwrap_err();
    assert_eq!(e.code(), Some("AWS.SimpleQueueService.QueueDeletedRecently"));
    assert_eq!(
        e.message(),
        Some(
            "You must wait 60 seconds after deleting a queue before you can create another queue with the same name."
        )
    );
    let r = query(&server, &[("Action", "CreateQueue"), ("QueueName", &name)]).await;
    assert_eq!(query_error(&r).0, 400);
    assert_eq!(query_error(&r).1, "AWS.SimpleQueueService.QueueDeletedRecently");
    server.advance(60);
    c.create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("60 s later");

    let relaxed = start_frozen(Config::default()).await;
    let c = sqs(&relaxed);
    let (name, url) = standard(&c).await;
    c.delete_queue().queue_url(&url).send().await.unwrap();
    c.create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("recreated at once by default");
}

#[tokio::test]
async fn the_strict_deletion_flag_and_setting_are_read() {
    let port = common::free_port();
    let _server = common::spawn_binary(|cmd| {
        cmd.args(["--port", &port.to_string(), "--strict-deletion"]);
    });
    common::wait_healthy(port).await;
    let c = common::sqs_at(&format!("http://127.0.0.1:{port}"), "AKIDTEST");
    let url = c
        .create_queue()
        .queue_name("flagged")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    c.delete_queue().queue_url(&url).send().await.unwrap();
    let e = c.create_queue().queue_name("flagged").send().await.unwrap_err();
    assert_eq!(e.code(), Some("AWS.SimpleQueueService.QueueDeletedRecently"));
    let (code, err) = common::refusal(
        {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"));
            cmd.arg("--strict-deletion=maybe");
            cmd
        },
        "a strict-deletion value that is not a boolean",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("strict-deletion"), "{err}");
}

mod kms {
    use aws_sdk_kms::error::ProvideErrorMetadata;
    use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType, Tag};

    use super::common::{self, kms};

    async fn new_key(c: &aws_sdk_kms::Client) -> String {
        let meta = c.create_key().send().await.unwrap().key_metadata.unwrap();
        meta.key_id().to_owned()
    }

    fn is_material_id(s: &str) -> bool {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }

    #[tokio::test]
    async fn key_material_ids_name_the_backing_key_that_sealed_and_opened() {
        let server = common::start().await;
        let c = kms(&server);
        let meta = c.create_key().send().await.unwrap().key_metadata.unwrap();
        let id = meta.key_id().to_owned();
        let first = meta.current_key_material_id().expect("CreateKey").to_owned();
        assert!(is_material_id(&first), "{first}");
        let described = c
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(described.current_key_material_id(), Some(first.as_str()));
        let dk = c
            .generate_data_key()
            .key_id(&id)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
            .unwrap();
        assert_eq!(dk.key_material_id(), Some(first.as_str()));
        let old_blob = dk.ciphertext_blob().unwrap().clone();

        c.rotate_key_on_demand().key_id(&id).send().await.unwrap();
        let status = c.get_key_rotation_status().key_id(&id).send().await.unwrap();
        assert!(
            status.on_demand_rotation_start_date().is_none(),
            "completed: {status:?}"
        );
        let now = c
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let second = now.current_key_material_id().unwrap().to_owned();
        assert!(is_material_id(&second) && second != first);
        let d = c
            .decrypt()
            .ciphertext_blob(old_blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            d.key_material_id(),
            Some(first.as_str()),
            "opened by the old material"
        );
        let re = c
            .re_encrypt()
            .ciphertext_blob(old_blob)
            .destination_key_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(re.source_key_material_id(), Some(first.as_str()));
        assert_eq!(re.destination_key_material_id(), Some(second.as_str()));

        let mac = c
            .create_key()
            .key_spec(KeySpec::Hmac256)
            .key_usage(KeyUsageType::GenerateVerifyMac)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(mac.current_key_material_id(), None, "HMAC keys have none");
    }

    #[tokio::test]
    async fn kms_features_sealq_does_not_offer_are_unsupported_not_unknown() {
        let server = common::start().await;
        let c = kms(&server);
        let id = new_key(&c).await;
        let e = c
            .create_grant()
            .key_id(&id)
            .grantee_principal("arn:aws:iam::000000000000:user/x")
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("UnsupportedOperationException"));
        assert_eq!(e.message(), Some("CreateGrant is not supported by sealq."));
        let e = c.get_public_key().key_id(&id).send().await.unwrap_err();
        assert_eq!(e.code(), Some("UnsupportedOperationException"));
        let e = c
            .get_parameters_for_import()
            .key_id(&id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("UnsupportedOperationException"));
        let e = c
            .create_key()
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("UnsupportedOperationException"));
    }

    #[tokio::test]
    async fn recorded_kms_errors() {
        let server = common::start().await;
        let c = kms(&server);
        let id = new_key(&c).await;

        let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
        let e = c.describe_key().key_id(mrk).send().await.unwrap_err();
        assert_eq!(e.code(), Some("NotFoundException"));
        assert_eq!(
            e.message(),
            Some(format!("Key 'arn:aws:kms:us-east-1:000000000000:key/{mrk}' does not exist").as_str())
        );

        let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().unwrap();
        let e = c
            .tag_resource()
            .key_id(&id)
            .tags(tag("k", "1"))
            .tags(tag("k", "2"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Some("TagException"), Some("Duplicate tag keys"))
        );
        let e = c
            .create_key()
            .tags(tag("a", "1"))
            .tags(tag("a", "1"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Some("TagException"), Some("Duplicate tag keys"))
        );
        let e = c
            .tag_resource()
            .key_id(&id)
            .tags(tag("AWS:key1", "x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (
                Some("TagException"),
                Some("Tags beginning with aws: are reserved")
            )
        );
        let long = "k".repeat(129);
        let e = c
            .tag_resource()
            .key_id(&id)
            .tags(tag("ok", "1"))
            .tags(tag(&long, "2"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("ValidationException"));
        assert!(
            e.message().unwrap().contains("at 'tags.2.member.tagKey'"),
            "{e:?}"
        );

        let e = c.generate_random().send().await.unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Some("ValidationException"), Some("NumberOfBytes is required."))
        );

        let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
        for _ in 0..25 {
            c.rotate_key_on_demand().key_id(&id).send().await.unwrap();
        }
        let e = c.rotate_key_on_demand().key_id(&id).send().await.unwrap_err();
        assert_eq!(e.code(), Some("LimitExceededException"));
        assert_eq!(
            e.message(),
            Some(
                format!(
                    "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {arn}"
                )
                .as_str()
            )
        );
    }
}
