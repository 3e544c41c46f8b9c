//! Every SQS action on standard queues through the official Rust SDK
//! (JSON 1.0 protocol).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, MessageAttributeValue,
    MessageSystemAttributeName, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use common::{long_poll, new_queue, queue_attr, receive_now, sqs, sqs_as, start, unique};

fn string_attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .unwrap()
}

async fn create(client: &aws_sdk_sqs::Client, name: &str) -> String {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

#[tokio::test]
async fn create_get_list_delete_queue() {
    let server = start().await;
    let c = sqs(&server);
    let name = unique("lifecycle");
    let url = create(&c, &name).await;
    assert_eq!(url, format!("{}/000000000000/{name}", server.endpoint));
    // Same name, same (no) attributes: the same URL.
    assert_eq!(create(&c, &name).await, url);
    let got = c.get_queue_url().queue_name(&name).send().await.unwrap();
    assert_eq!(got.queue_url.as_deref(), Some(url.as_str()));
    let listed = c.list_queues().queue_name_prefix(&name).send().await.unwrap();
    assert_eq!(listed.queue_urls(), std::slice::from_ref(&url));
    c.delete_queue().queue_url(&url).send().await.unwrap();
    let err = c
        .get_queue_url()
        .queue_name(&name)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_queue_does_not_exist(), "{err:?}");
    assert_eq!(err.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));
    assert_eq!(err.message(), Some("The specified queue does not exist."));
}

#[tokio::test]
async fn list_queues_pages_with_max_results_and_next_token() {
    let server = start().await;
    let c = sqs(&server);
    let prefix = unique("page");
    for i in 0..5 {
        create(&c, &format!("{prefix}-{i}")).await;
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_queues()
            .queue_name_prefix(&prefix)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.queue_urls().len() <= 2);
        seen.extend(page.queue_urls().iter().cloned());
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    let all = c.list_queues().queue_name_prefix(&prefix).send().await.unwrap();
    assert_eq!(all.queue_urls().len(), 5);
    assert!(all.next_token.is_none());
    let none = c
        .list_queues()
        .queue_name_prefix("no-such-prefix-x")
        .send()
        .await
        .unwrap();
    assert!(none.queue_urls().is_empty());
    let err = c
        .list_queues()
        .max_results(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn create_queue_with_different_attributes_is_queue_already_exists() {
    let server = start().await;
    let c = sqs(&server);
    let name = unique("exists");
    c.create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::VisibilityTimeout, "10")
        .send()
        .await
        .unwrap();
    c.create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::VisibilityTimeout, "10")
        .send()
        .await
        .unwrap();
    let err = c
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::VisibilityTimeout, "11")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_queue_name_exists(), "{err:?}");
    assert_eq!(err.code(), Some("QueueAlreadyExists"));
    assert_eq!(
        err.message(),
        Some(
            "A queue already exists with the same name and a different value for attribute VisibilityTimeout"
        )
    );
}

#[tokio::test]
async fn queue_names_and_attributes_are_validated() {
    let server = start().await;
    let c = sqs(&server);
    for bad in ["has space", "dot.ted", &"x".repeat(81), "q.fifo"] {
        let err = c
            .create_queue()
            .queue_name(bad)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.code(), Some("InvalidParameterValue"), "{bad}");
    }
    let err = c
        .create_queue()
        .queue_name(unique("attr"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "59")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_attribute_value(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("Invalid value for the parameter MessageRetentionPeriod.")
    );
    let err = c
        .create_queue()
        .queue_name(unique("attr"))
        .attributes(QueueAttributeName::from("NoSuchAttribute"), "1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_attribute_name(), "{err:?}");
    assert_eq!(err.message(), Some("Unknown Attribute NoSuchAttribute."));
    let fifo = c
        .create_queue()
        .queue_name(format!("{}.fifo", unique("f")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap();
    assert!(fifo.queue_url.unwrap().ends_with(".fifo"));
}

#[tokio::test]
async fn get_and_set_queue_attributes() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "attrs").await;
    let all = c
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let a = all.attributes().unwrap();
    assert_eq!(a[&QueueAttributeName::VisibilityTimeout], "30");
    assert_eq!(a[&QueueAttributeName::MaximumMessageSize], "1048576");
    assert_eq!(a[&QueueAttributeName::MessageRetentionPeriod], "345600");
    assert_eq!(a[&QueueAttributeName::DelaySeconds], "0");
    assert_eq!(a[&QueueAttributeName::ReceiveMessageWaitTimeSeconds], "0");
    assert_eq!(a[&QueueAttributeName::ApproximateNumberOfMessages], "0");
    assert!(a[&QueueAttributeName::QueueArn].starts_with("arn:aws:sqs:us-east-1:000000000000:attrs-"));
    assert!(a[&QueueAttributeName::CreatedTimestamp].parse::<u64>().unwrap() > 1_600_000_000);
    assert!(a.contains_key(&QueueAttributeName::LastModifiedTimestamp));
    assert!(!a.contains_key(&QueueAttributeName::FifoQueue));
    assert!(!a.contains_key(&QueueAttributeName::Policy));

    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .attributes(QueueAttributeName::MaximumMessageSize, "2048")
        .send()
        .await
        .unwrap();
    let some = c
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .attribute_names(QueueAttributeName::MaximumMessageSize)
        .send()
        .await
        .unwrap();
    let a = some.attributes().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[&QueueAttributeName::VisibilityTimeout], "45");
    assert_eq!(a[&QueueAttributeName::MaximumMessageSize], "2048");

    let err = c
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "43201")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_attribute_value());
    let err = c
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("Bogus"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_attribute_name());
}

#[tokio::test]
async fn send_receive_delete_with_attributes_and_digests() {
    let server = start().await;
    let c = sqs_as(&server, "AKIDSENDER");
    let url = new_queue(&c, "msgs").await;
    let sent = c
        .send_message()
        .queue_url(&url)
        .message_body("hello \"world\"\r\n")
        .message_attributes("attribName1", string_attr("attribValue 1"))
        .message_attributes(
            "binaryAttribute",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(Blob::new("Hello binary world!"))
                .build()
                .unwrap(),
        )
        .message_attributes(
            "customNumberTypeAttrib",
            MessageAttributeValue::builder()
                .data_type("Number.float")
                .string_value("4563442423554324324264524243.32543234")
                .build()
                .unwrap(),
        )
        .message_group_id("tenant-1")
        .message_system_attributes(
            MessageSystemAttributeNameForSends::AwsTraceHeader,
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value("Root=1-abc")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_attributes(),
        Some("c932db14a896c663f83c260297d594ff")
    );
    assert!(sent.md5_of_message_system_attributes().is_some());
    let got = c
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let m = &got.messages()[0];
    assert_eq!(m.body(), Some("hello \"world\"\r\n"));
    assert_eq!(m.message_id(), sent.message_id());
    assert_eq!(m.md5_of_body(), sent.md5_of_message_body());
    assert_eq!(
        m.md5_of_message_attributes(),
        Some("c932db14a896c663f83c260297d594ff")
    );
    let sys = m.attributes().unwrap();
    assert_eq!(sys[&MessageSystemAttributeName::SenderId], "AKIDSENDER");
    assert_eq!(sys[&MessageSystemAttributeName::ApproximateReceiveCount], "1");
    assert_eq!(sys[&MessageSystemAttributeName::AwsTraceHeader], "Root=1-abc");
    assert_eq!(
        sys[&MessageSystemAttributeName::MessageGroupId],
        "tenant-1",
        "fair queues return the group"
    );
    let sent_ts: u64 = sys[&MessageSystemAttributeName::SentTimestamp].parse().unwrap();
    let first: u64 = sys[&MessageSystemAttributeName::ApproximateFirstReceiveTimestamp]
        .parse()
        .unwrap();
    assert!(first >= sent_ts && sent_ts > 1_600_000_000_000);
    let attrs = m.message_attributes().unwrap();
    assert_eq!(attrs.len(), 3);
    assert_eq!(
        attrs["binaryAttribute"].binary_value().unwrap().as_ref(),
        b"Hello binary world!"
    );
    c.delete_message()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let a = c
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let a = a.attributes().unwrap();
    assert_eq!(a[&QueueAttributeName::ApproximateNumberOfMessages], "0");
    assert_eq!(a[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible], "0");
}

#[tokio::test]
async fn message_attribute_selection_by_name_prefix_and_all() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "select").await;
    c.send_message()
        .queue_url(&url)
        .message_body("b")
        .message_attributes("foo", string_attr("1"))
        .message_attributes("bar.one", string_attr("2"))
        .message_attributes("bar.two", string_attr("3"))
        .send()
        .await
        .unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (&["foo"], &["foo"]),
        (&["bar.*"], &["bar.one", "bar.two"]),
        (&[".*"], &["bar.one", "bar.two", "foo"]),
        (&[], &[]),
    ];
    for (selectors, expected) in cases {
        let got = c
            .receive_message()
            .queue_url(&url)
            .set_message_attribute_names(Some(selectors.iter().map(|s| (*s).to_owned()).collect()))
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        let m = &got.messages()[0];
        let mut names: Vec<String> = m
            .message_attributes()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        assert_eq!(names, expected, "{selectors:?}");
        assert_eq!(m.md5_of_message_attributes().is_some(), !expected.is_empty());
        assert!(
            m.attributes().is_none_or(HashMap::is_empty),
            "no system attributes asked for"
        );
    }
}

#[tokio::test]
async fn send_validation_errors() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "valid").await;
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("bell\u{7}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_message_contents(), "{err:?}");
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("MissingParameter"));
    assert_eq!(
        err.message(),
        Some("The request must contain the parameter MessageBody.")
    );
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .delay_seconds(901)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(
        err.message(),
        Some(
            "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
        )
    );
    let mut too_many = c.send_message().queue_url(&url).message_body("x");
    for i in 0..11 {
        too_many = too_many.message_attributes(format!("a{i}"), string_attr("v"));
    }
    let err = too_many.send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("has space")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.message(),
        Some(
            "Value has space for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )
    );
    for bad in ["AWS.x", "a..b", ".a"] {
        let err = c
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_attributes(bad, string_attr("v"))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.code(), Some("InvalidParameterValue"), "{bad}");
    }
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes(
            "n",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("abc")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    // Body plus attributes count toward MaximumMessageSize.
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap();
    c.send_message()
        .queue_url(&url)
        .message_body("x".repeat(1024))
        .send()
        .await
        .unwrap();
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1000))
        .message_attributes("name", string_attr(&"v".repeat(20)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.message(),
        Some("One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.")
    );
}

#[tokio::test]
async fn default_max_size_is_one_mebibyte() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "big").await;
    c.send_message()
        .queue_url(&url)
        .message_body("x".repeat(1_048_576))
        .send()
        .await
        .unwrap();
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1_048_577))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.message(),
        Some("One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.")
    );
    let got = c.receive_message().queue_url(&url).send().await.unwrap();
    assert_eq!(got.messages()[0].body().unwrap().len(), 1_048_576);
}

#[tokio::test]
async fn receive_limits_are_validated() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "recv").await;
    let err = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(11)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.message(),
        Some(
            "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
        )
    );
    let err = c
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(21)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.message(),
        Some(
            "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
        )
    );
    let err = c
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(43_201)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn receive_returns_at_most_max_messages_with_fresh_handles() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "many").await;
    for i in 0..15 {
        c.send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    let first = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    assert_eq!(first.messages().len(), 10);
    let again = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let handles: std::collections::HashSet<_> = first
        .messages()
        .iter()
        .chain(again.messages())
        .map(|m| m.receipt_handle().unwrap().to_owned())
        .collect();
    assert_eq!(
        handles.len(),
        first.messages().len() + again.messages().len(),
        "every receive gets a fresh handle"
    );
}

#[tokio::test]
async fn visibility_timeout_and_change_message_visibility() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "vis").await;
    c.send_message()
        .queue_url(&url)
        .message_body("v")
        .send()
        .await
        .unwrap();
    let m = c
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(60)
        .send()
        .await
        .unwrap()
        .messages()[0]
        .clone();
    assert!(receive_now(&c, &url).await.is_empty());
    server.advance(61);
    let m2 = c
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap()
        .messages()[0]
        .clone();
    assert_eq!(m2.message_id(), m.message_id());
    let h = m2.receipt_handle().unwrap();
    // Visibility 0 makes it visible at once.
    c.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(h)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let m3 = c
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap()
        .messages()[0]
        .clone();
    assert_eq!(
        m3.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
        "3"
    );
    let h3 = m3.receipt_handle().unwrap();
    c.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(h3)
        .visibility_timeout(600)
        .send()
        .await
        .unwrap();
    server.advance(300);
    assert!(receive_now(&c, &url).await.is_empty());
    let err = c
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(h3)
        .visibility_timeout(43_200)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    let err = c
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle("not-a-handle")
        .visibility_timeout(5)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_receipt_handle_is_invalid(), "{err:?}");
    let err = c
        .delete_message()
        .queue_url(&url)
        .receipt_handle("garbage")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_receipt_handle_is_invalid(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(r#"The input receipt handle "garbage" is not a valid receipt handle."#)
    );
}

#[tokio::test]
async fn delays_per_queue_and_per_message() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "delay").await;
    c.send_message()
        .queue_url(&url)
        .message_body("d")
        .delay_seconds(30)
        .send()
        .await
        .unwrap();
    assert_eq!(
        queue_attr(&c, &url, QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .await
            .as_deref(),
        Some("1")
    );
    assert!(receive_now(&c, &url).await.is_empty());
    server.advance(30);
    let got = c.receive_message().queue_url(&url).send().await.unwrap();
    assert_eq!(got.messages().len(), 1);
    c.delete_message()
        .queue_url(&url)
        .receipt_handle(got.messages()[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();

    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::DelaySeconds, "100")
        .send()
        .await
        .unwrap();
    c.send_message()
        .queue_url(&url)
        .message_body("q")
        .send()
        .await
        .unwrap();
    server.advance(99);
    assert!(receive_now(&c, &url).await.is_empty());
    server.advance(1);
    assert_eq!(
        c.receive_message()
            .queue_url(&url)
            .send()
            .await
            .unwrap()
            .messages()[0]
            .body(),
        Some("q")
    );
}

#[tokio::test]
async fn retention_expires_messages() {
    let server = start().await;
    let c = sqs(&server);
    let url = c
        .create_queue()
        .queue_name(unique("ret"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "60")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    c.send_message()
        .queue_url(&url)
        .message_body("old")
        .send()
        .await
        .unwrap();
    server.advance(60);
    assert_eq!(
        queue_attr(&c, &url, QueueAttributeName::ApproximateNumberOfMessages)
            .await
            .as_deref(),
        Some("0")
    );
    assert!(receive_now(&c, &url).await.is_empty());
}

#[tokio::test]
async fn long_poll_is_woken_by_a_send() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "poll").await;
    let started = Instant::now();
    let waiter = long_poll(&c, &url, 20);
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.send_message()
        .queue_url(&url)
        .message_body("wake")
        .send()
        .await
        .unwrap();
    let got = waiter.await.unwrap();
    assert_eq!(got[0].body(), Some("wake"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn long_poll_is_woken_when_a_delayed_message_comes_due() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "pollclock").await;
    c.send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(600)
        .send()
        .await
        .unwrap();
    let waiter = long_poll(&c, &url, 20);
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.advance(600);
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got[0].body(), Some("later"));
}

#[tokio::test]
async fn long_poll_ends_empty_at_the_wait_time_on_the_clock() {
    let server = start().await;
    let c = sqs(&server);
    let url = c
        .create_queue()
        .queue_name(unique("pollwait"))
        .attributes(QueueAttributeName::ReceiveMessageWaitTimeSeconds, "20")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let c2 = c.clone();
    let waiter = tokio::spawn(async move { c2.receive_message().queue_url(&url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiter.is_finished(),
        "the queue's ReceiveMessageWaitTimeSeconds applies"
    );
    server.advance(20);
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(got.messages().is_empty());
}

#[tokio::test]
async fn batches_send_delete_and_change_visibility() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "batch").await;
    let entries: Vec<_> = (0..3)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("e{i}"))
                .message_body(format!("b{i}"))
                .build()
                .unwrap()
        })
        .chain([SendMessageBatchRequestEntry::builder()
            .id("bad")
            .message_body("x")
            .delay_seconds(3600)
            .build()
            .unwrap()])
        .collect();
    let out = c
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 3);
    assert_eq!(out.failed().len(), 1);
    let f = &out.failed()[0];
    assert_eq!(
        (f.id(), f.code(), f.sender_fault()),
        ("bad", "InvalidParameterValue", true)
    );
    let msgs = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages()
        .to_vec();
    assert_eq!(msgs.len(), 3);
    let vis: Vec<_> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(format!("v{i}"))
                .receipt_handle(m.receipt_handle().unwrap())
                .visibility_timeout(100)
                .build()
                .unwrap()
        })
        .chain([ChangeMessageVisibilityBatchRequestEntry::builder()
            .id("junk")
            .receipt_handle("junk")
            .build()
            .unwrap()])
        .collect();
    let out = c
        .change_message_visibility_batch()
        .queue_url(&url)
        .set_entries(Some(vis))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 3);
    assert_eq!(out.failed()[0].code(), "ReceiptHandleIsInvalid");
    let del: Vec<_> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("d{i}"))
                .receipt_handle(m.receipt_handle().unwrap())
                .build()
                .unwrap()
        })
        .chain([DeleteMessageBatchRequestEntry::builder()
            .id("junk")
            .receipt_handle("junk")
            .build()
            .unwrap()])
        .collect();
    let out = c
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(del))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 3);
    assert_eq!(out.failed().len(), 1);
    assert!(out.failed()[0].sender_fault());
    server.advance(200);
    assert!(receive_now(&c, &url).await.is_empty());
}

#[tokio::test]
async fn batch_rules_fail_the_whole_request() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "rules").await;
    let entry = |id: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body("x")
            .build()
            .unwrap()
    };
    let err = c
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_empty_batch_request(), "{err:?}");
    let eleven = (0..11).map(|i| entry(&format!("i{i}"))).collect();
    let err = c
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(eleven))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_too_many_entries_in_batch_request(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("Maximum number of entries per request are 10. You have sent 11.")
    );
    let err = c
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a"))
        .entries(entry("a"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_batch_entry_ids_not_distinct(), "{err:?}");
    assert_eq!(err.message(), Some("Id a repeated."));
    let err = c
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("bad:id"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_batch_entry_id(), "{err:?}");
    let big = |id: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body("x".repeat(600_000))
            .build()
            .unwrap()
    };
    let err = c
        .send_message_batch()
        .queue_url(&url)
        .entries(big("a"))
        .entries(big("b"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_batch_request_too_long(), "{err:?}");
    let err = c
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_empty_batch_request(), "{err:?}");
    let err = c
        .change_message_visibility_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_empty_batch_request(), "{err:?}");
}

#[tokio::test]
async fn purge_queue_once_per_minute() {
    let server = start().await;
    let c = sqs(&server);
    let name = unique("purge");
    let url = create(&c, &name).await;
    for _ in 0..3 {
        c.send_message()
            .queue_url(&url)
            .message_body("p")
            .send()
            .await
            .unwrap();
    }
    c.purge_queue().queue_url(&url).send().await.unwrap();
    assert!(receive_now(&c, &url).await.is_empty());
    let err = c
        .purge_queue()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_purge_queue_in_progress(), "{err:?}");
    assert_eq!(err.code(), Some("AWS.SimpleQueueService.PurgeQueueInProgress"));
    assert_eq!(
        err.message(),
        Some(format!("Only one PurgeQueue operation on {name} is allowed every 60 seconds.").as_str())
    );
    let raw = err.meta().clone();
    assert!(raw.code().is_some());
    server.advance(60);
    c.purge_queue().queue_url(&url).send().await.unwrap();
}

#[tokio::test]
async fn tags_add_list_remove() {
    let server = start().await;
    let c = sqs(&server);
    let url = c
        .create_queue()
        .queue_name(unique("tags"))
        .tags("team", "core")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    c.tag_queue()
        .queue_url(&url)
        .tags("env", "test")
        .tags("team", "sealq")
        .send()
        .await
        .unwrap();
    let tags = c.list_queue_tags().queue_url(&url).send().await.unwrap();
    let t = tags.tags().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t["team"], "sealq");
    c.untag_queue()
        .queue_url(&url)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = c.list_queue_tags().queue_url(&url).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().keys().collect::<Vec<_>>(), ["env"]);
}

#[tokio::test]
async fn add_and_remove_permission_edit_the_policy() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "perm").await;
    c.add_permission()
        .queue_url(&url)
        .label("send")
        .aws_account_ids("111122223333")
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
    let policy = queue_attr(&c, &url, QueueAttributeName::Policy).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(v["Version"], "2008-10-17");
    assert_eq!(v["Statement"][0]["Sid"], "send");
    assert_eq!(
        v["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(v["Statement"][0]["Action"], "SQS:SendMessage");
    let err = c
        .add_permission()
        .queue_url(&url)
        .label("send")
        .aws_account_ids("111122223333")
        .actions("ReceiveMessage")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.message(),
        Some("Value send for parameter Label is invalid. Reason: Already exists.")
    );
    c.remove_permission()
        .queue_url(&url)
        .label("send")
        .send()
        .await
        .unwrap();
    assert_eq!(queue_attr(&c, &url, QueueAttributeName::Policy).await, None);
    let err = c
        .remove_permission()
        .queue_url(&url)
        .label("send")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    // AWS's text (recorded).
    assert_eq!(
        err.message(),
        Some("Value send for parameter Label is invalid. Reason: can't find label.")
    );
}

#[tokio::test]
async fn an_empty_string_attribute_is_refused_with_aws_text() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "emptyattr").await;
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("body")
        .message_attributes(
            "ErrorDetails",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(
        err.message(),
        Some("Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.")
    );
}

#[tokio::test]
async fn list_dead_letter_source_queues_finds_sources() {
    let server = start().await;
    let c = sqs(&server);
    let dlq = new_queue(&c, "dlq").await;
    let arn = queue_attr(&c, &dlq, QueueAttributeName::QueueArn).await.unwrap();
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}"#);
    let src = c
        .create_queue()
        .queue_name(unique("src"))
        .attributes(QueueAttributeName::RedrivePolicy, &policy)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    new_queue(&c, "other").await;
    let out = c
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert_eq!(out.queue_urls(), [src]);
}

#[tokio::test]
async fn aws_style_queue_urls_resolve_to_the_same_queue() {
    let server = start().await;
    let c = sqs(&server);
    let name = unique("awsurl");
    create(&c, &name).await;
    for url in [
        format!("https://sqs.us-east-1.amazonaws.com/000000000000/{name}"),
        format!("https://queue.amazonaws.com/000000000000/{name}"),
    ] {
        c.send_message()
            .queue_url(&url)
            .message_body("via aws url")
            .send()
            .await
            .unwrap();
    }
    let got = c
        .receive_message()
        .queue_url(format!("{}/000000000000/{name}", server.endpoint))
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 2);
}

#[tokio::test]
async fn deleting_a_queue_releases_its_long_polls_and_forgets_it() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "gone").await;
    let waiter = long_poll(&c, &url, 20);
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.delete_queue().queue_url(&url).send().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(got.is_empty());
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_queue_does_not_exist());
}

#[tokio::test]
async fn an_x_amzn_trace_id_header_becomes_the_aws_trace_header_attribute() {
    let server = start().await;
    let c = sqs(&server);
    let url = common::create_queue_with(
        &c,
        "trace",
        &[(QueueAttributeName::SqsManagedSseEnabled, "false")],
    )
    .await;
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    // JSON protocol (an unsigned request, on an unencrypted queue).
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "AmazonSQS.SendMessage")
        .header("x-amzn-trace-id", trace)
        .body(serde_json::json!({ "QueueUrl": url, "MessageBody": "json" }).to_string())
        .unwrap();
    assert_eq!(common::send(req).await.status, 200);
    // Query protocol.
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "SendMessage")
        .append_pair("QueueUrl", &url)
        .append_pair("MessageBody", "query")
        .finish();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", server.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-amzn-trace-id", trace)
        .body(form)
        .unwrap();
    assert_eq!(common::send(req).await.status, 200);
    // MessageSystemAttributes wins over the header; without either, none.
    c.send_message()
        .queue_url(&url)
        .message_body("explicit")
        .message_system_attributes(
            aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
            aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value("Root=1-00000000-000000000000000000000000")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    c.send_message()
        .queue_url(&url)
        .message_body("none")
        .send()
        .await
        .unwrap();
    let got = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .unwrap();
    let seen: HashMap<&str, Option<&str>> = got
        .messages()
        .iter()
        .map(|m| {
            (
                m.body().unwrap(),
                m.attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader))
                    .map(String::as_str),
            )
        })
        .collect();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen["json"], Some(trace));
    assert_eq!(seen["query"], Some(trace));
    assert_eq!(seen["explicit"], Some("Root=1-00000000-000000000000000000000000"));
    assert_eq!(seen["none"], None);
}
