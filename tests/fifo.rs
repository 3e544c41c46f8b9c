//! FIFO queues, send side: deduplication within the 5-minute window
//! (explicit ids, content-based, per-group scope), sequence numbers, and the
//! FIFO system attributes, through aws-sdk-sqs and the query protocol.

mod common;

use std::sync::Arc;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    MessageSystemAttributeName as M, QueueAttributeName as Q, SendMessageBatchRequestEntry,
};
use common::{Server, query, sqs, unique, xml_text};
use sealq::Config;
use sealq::clock::Clock;

async fn manual_server() -> Server {
    common::start_with(Config::default(), Arc::new(Clock::manual(1_795_000_000_000))).await
}

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

async fn send(
    c: &aws_sdk_sqs::Client,
    url: &str,
    body: &str,
    group: &str,
    dedup: Option<&str>,
) -> (String, String) {
    let out = c
        .send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id(group)
        .set_message_deduplication_id(dedup.map(str::to_owned))
        .send()
        .await
        .expect("SendMessage");
    (
        out.message_id.expect("id"),
        out.sequence_number.expect("SequenceNumber"),
    )
}

async fn count(c: &aws_sdk_sqs::Client, url: &str) -> String {
    common::queue_attr(c, url, Q::ApproximateNumberOfMessages)
        .await
        .expect("count")
}

#[tokio::test]
async fn duplicates_within_five_minutes_are_accepted_but_stored_once() {
    let server = manual_server().await;
    let c = sqs(&server);
    let url = fifo(&c, &[]).await;
    let (id1, seq1) = send(&c, &url, "order 1", "g1", Some("d-1")).await;
    let (id2, seq2) = send(&c, &url, "order 1 again", "g1", Some("d-1")).await;
    assert_eq!(
        (id1.as_str(), seq1.as_str()),
        (id2.as_str(), seq2.as_str()),
        "the first one's id and number"
    );
    assert_eq!(seq1.len(), 20, "20-digit sequence numbers: {seq1}");
    assert_eq!(count(&c, &url).await, "1");

    let got = c
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(M::All)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("order 1"));
    let a = got[0].attributes().expect("attributes");
    assert_eq!(a.get(&M::MessageDeduplicationId).map(String::as_str), Some("d-1"));
    assert_eq!(a.get(&M::MessageGroupId).map(String::as_str), Some("g1"));
    assert_eq!(a.get(&M::SequenceNumber), Some(&seq1));

    // After the window, the same id is a new message with a larger number.
    server.advance(299);
    assert_eq!(
        send(&c, &url, "x", "g1", Some("d-1")).await.0,
        id1,
        "still inside the window"
    );
    server.advance(2);
    let (id3, seq3) = send(&c, &url, "order 1, later", "g1", Some("d-1")).await;
    assert_ne!(id3, id1);
    assert!(seq3.parse::<u128>().unwrap() > seq1.parse::<u128>().unwrap());
}

#[tokio::test]
async fn content_based_deduplication_hashes_the_body() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
    let (a, _) = send(&c, &url, "same body", "g", None).await;
    let (b, _) = send(&c, &url, "same body", "g", None).await;
    let (other, _) = send(&c, &url, "another body", "g", None).await;
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert_eq!(count(&c, &url).await, "2");
    let got = c
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(M::MessageDeduplicationId)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    // The deduplication id is the hex SHA-256 of the body.
    let want: String = {
        use sha2::Digest;
        sha2::Sha256::digest(b"same body")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let dedup = got[0]
        .attributes()
        .and_then(|a| a.get(&M::MessageDeduplicationId))
        .expect("dedup id");
    assert_eq!(dedup, &want);
}

#[tokio::test]
async fn a_deduplication_id_is_required_without_content_based_deduplication() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(&c, &[]).await;
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(
        err.message(),
        Some(
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
        )
    );
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "x"),
            ("MessageGroupId", "g"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("InvalidParameterValue")
    );
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "x"),
            ("MessageGroupId", "g"),
            ("MessageDeduplicationId", "q-1"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(xml_text(&r.body, "SequenceNumber").is_some_and(|s| s.len() == 20));
}

#[tokio::test]
async fn message_group_scope_deduplicates_per_group() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(
        &c,
        &[
            (Q::DeduplicationScope, "messageGroup"),
            (Q::FifoThroughputLimit, "perMessageGroupId"),
        ],
    )
    .await;
    let (a, _) = send(&c, &url, "a", "g1", Some("same")).await;
    let (b, _) = send(&c, &url, "b", "g2", Some("same")).await;
    let (a2, _) = send(&c, &url, "a2", "g1", Some("same")).await;
    assert_ne!(a, b, "other group, other message");
    assert_eq!(a, a2);
    assert_eq!(count(&c, &url).await, "2");
}

#[tokio::test]
async fn batch_entries_are_numbered_in_order_and_deduplicated() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(&c, &[]).await;
    let entry = |id: &str, dedup: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(format!("body {id}"))
            .message_group_id("g")
            .message_deduplication_id(dedup)
            .build()
            .expect("entry")
    };
    let out = c
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", "d1"))
        .entries(entry("b", "d2"))
        .entries(entry("c", "d1"))
        .send()
        .await
        .expect("batch");
    assert!(out.failed().is_empty());
    let ok = out.successful();
    let seq = |i: usize| {
        ok[i]
            .sequence_number()
            .expect("seq")
            .parse::<u128>()
            .expect("number")
    };
    assert!(seq(0) < seq(1), "entry order");
    assert_eq!(
        ok[2].message_id(),
        ok[0].message_id(),
        "a duplicate within the batch"
    );
    assert_eq!(seq(2), seq(0));
    assert_eq!(count(&c, &url).await, "2");
}

async fn bodies_of(c: &aws_sdk_sqs::Client, url: &str, max: i32) -> Vec<(String, String)> {
    c.receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.body.unwrap_or_default(), m.receipt_handle.unwrap_or_default()))
        .collect()
}

fn names(v: &[(String, String)]) -> Vec<&str> {
    v.iter().map(|(b, _)| b.as_str()).collect()
}

#[tokio::test]
async fn groups_deliver_in_order_and_block_while_a_message_is_in_flight() {
    let server = manual_server().await;
    let c = sqs(&server);
    let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
    for (body, group) in [("a1", "A"), ("b1", "B"), ("a2", "A"), ("b2", "B"), ("a3", "A")] {
        send(&c, &url, body, group, None).await;
    }
    // One message: the oldest.
    let first = bodies_of(&c, &url, 1).await;
    assert_eq!(names(&first), ["a1"]);
    // Group A is blocked while a1 is in flight; group B keeps flowing, in order.
    let b = bodies_of(&c, &url, 10).await;
    assert_eq!(names(&b), ["b1", "b2"]);
    assert!(bodies_of(&c, &url, 10).await.is_empty(), "both groups blocked");
    // Deleting a1 unblocks A: a2 then a3.
    c.delete_message()
        .queue_url(&url)
        .receipt_handle(&first[0].1)
        .send()
        .await
        .expect("delete");
    assert_eq!(names(&bodies_of(&c, &url, 10).await), ["a2", "a3"]);
    // b1 and b2 come back visible in their order, before anything newer of B.
    send(&c, &url, "b3", "B", None).await;
    server.advance(31);
    let all = bodies_of(&c, &url, 10).await;
    let of = |g: char| {
        names(&all)
            .into_iter()
            .filter(|b| b.starts_with(g))
            .collect::<Vec<_>>()
    };
    assert_eq!(of('b'), ["b1", "b2", "b3"], "order within group B");
    assert_eq!(of('a'), ["a2", "a3"], "order within group A");
}

#[tokio::test]
async fn a_message_made_visible_again_keeps_its_place_in_its_group() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
    for body in ["m1", "m2", "m3"] {
        send(&c, &url, body, "G", None).await;
    }
    let got = bodies_of(&c, &url, 1).await;
    assert_eq!(names(&got), ["m1"]);
    c.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&got[0].1)
        .visibility_timeout(0)
        .send()
        .await
        .expect("visible again");
    assert_eq!(names(&bodies_of(&c, &url, 10).await), ["m1", "m2", "m3"]);
}

#[tokio::test]
async fn per_group_throughput_needs_per_group_deduplication() {
    let server = common::start().await;
    let c = sqs(&server);
    let err = c
        .create_queue()
        .queue_name(format!("{}.fifo", unique("f")))
        .attributes(Q::FifoQueue, "true")
        .attributes(Q::FifoThroughputLimit, "perMessageGroupId")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAttributeValue"));
}

#[tokio::test]
async fn a_fifo_dead_letter_queue_resets_retention_and_takes_the_message_id_as_deduplication_id() {
    let server = manual_server().await;
    let c = sqs(&server);
    let dlq = fifo(&c, &[(Q::MessageRetentionPeriod, "60")]).await;
    let dlq_arn = common::queue_arn(&c, &dlq).await;
    let policy = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1 }).to_string();
    let source = fifo(&c, &[(Q::RedrivePolicy, &policy)]).await;
    let (id, _) = send(&c, &source, "poison", "g", Some("dedup-1")).await;
    let handle = bodies_of(&c, &source, 1).await.remove(0).1;
    c.change_message_visibility()
        .queue_url(&source)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .expect("visible");
    server.advance(50);
    assert!(bodies_of(&c, &source, 1).await.is_empty(), "moved at t=50");
    server.advance(11);
    // 61 s after the send, but only 11 s after the move: still there.
    let got = c
        .receive_message()
        .queue_url(&dlq)
        .message_system_attribute_names(M::All)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id(), Some(id.as_str()));
    let a = got[0].attributes().expect("attributes");
    assert_eq!(a.get(&M::MessageDeduplicationId), Some(&id));
    assert_eq!(a.get(&M::MessageGroupId).map(String::as_str), Some("g"));
}

async fn receive_attempt(c: &aws_sdk_sqs::Client, url: &str, attempt: &str) -> Vec<(String, String)> {
    c.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .receive_request_attempt_id(attempt)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.body.unwrap_or_default(), m.receipt_handle.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn a_retried_receive_attempt_gets_the_same_messages_and_handles() {
    let server = manual_server().await;
    let c = sqs(&server);
    let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
    send(&c, &url, "one", "g", None).await;
    send(&c, &url, "two", "g", None).await;
    let first = receive_attempt(&c, &url, "attempt-1").await;
    assert_eq!(names(&first), ["one", "two"]);
    assert!(
        receive_attempt(&c, &url, "attempt-2").await.is_empty(),
        "group blocked"
    );
    let retried = receive_attempt(&c, &url, "attempt-1").await;
    assert_eq!(retried, first, "same messages, same receipt handles");
    // A message deleted since is not returned again.
    c.delete_message()
        .queue_url(&url)
        .receipt_handle(&first[0].1)
        .send()
        .await
        .expect("delete");
    let retried = receive_attempt(&c, &url, "attempt-1").await;
    assert_eq!(retried, first[1..].to_vec());
    // After the visibility timeout the attempt no longer holds the message:
    // a retry is a new receive.
    server.advance(31);
    let again = receive_attempt(&c, &url, "attempt-1").await;
    assert_eq!(names(&again), ["two"]);
    assert_ne!(again[0].1, first[1].1, "a new receive, a new handle");
}

#[tokio::test]
async fn fifo_send_errors_have_aws_codes_in_both_protocols() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
    // No MessageGroupId.
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MissingParameter"));
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "x"),
        ],
    )
    .await;
    assert_eq!(
        (r.status, xml_text(&r.body, "Code").as_deref()),
        (400, Some("MissingParameter"))
    );
    // Per-message DelaySeconds on a FIFO queue.
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .delay_seconds(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "x"),
            ("MessageGroupId", "g"),
            ("DelaySeconds", "5"),
        ],
    )
    .await;
    assert_eq!(
        (r.status, xml_text(&r.body, "Code").as_deref()),
        (400, Some("InvalidParameterValue"))
    );
    // A deduplication id on a standard queue.
    let standard = c
        .create_queue()
        .queue_name(unique("std"))
        .send()
        .await
        .expect("create")
        .queue_url
        .expect("url");
    let err = c
        .send_message()
        .queue_url(&standard)
        .message_body("x")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    // FifoQueue cannot be changed after creation.
    let err = c
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::FifoQueue, "false")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAttributeValue"));
}

#[tokio::test]
async fn fifo_takes_delay_seconds_zero_in_both_protocols_and_refuses_more() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = fifo(&c, &[(Q::ContentBasedDeduplication, "true")]).await;
    // AWS recorded: 0 is accepted (the message gets the queue's delay).
    c.send_message()
        .queue_url(&url)
        .message_body("zero")
        .message_group_id("g")
        .delay_seconds(0)
        .send()
        .await
        .expect("DelaySeconds=0 on a FIFO queue");
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "zero by query"),
            ("MessageGroupId", "g"),
            ("DelaySeconds", "0"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let batch = c
        .send_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("zero in a batch")
                .message_group_id("g")
                .delay_seconds(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("batch");
    assert_eq!(batch.successful().len(), 1, "{batch:?}");
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("two")
        .message_group_id("g")
        .delay_seconds(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(
        err.message(),
        Some(
            "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
        )
    );
    let got = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    let bodies: Vec<&str> = got
        .messages()
        .iter()
        .map(|m| m.body().unwrap_or_default())
        .collect();
    assert_eq!(
        bodies,
        ["zero", "zero by query", "zero in a batch"],
        "visible at once, in order"
    );
}
