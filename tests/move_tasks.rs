//! Message move tasks (dead-letter queue redrive) through aws-sdk-sqs and
//! the query protocol: rates on the virtual clock, statuses, cancel, errors,
//! and envelopes moved byte for byte.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageSystemAttributeName as M, QueueAttributeName as Q};
use common::{Server, kms, query, sqs, xml_text};
use sealq::Config;
use sealq::clock::Clock;
use serde_json::{Value, json};

async fn manual_server() -> Server {
    common::start_with(Config::default(), Arc::new(Clock::manual(1_795_000_000_000))).await
}

async fn create(c: &aws_sdk_sqs::Client, attrs: &[(Q, &str)]) -> (String, String) {
    let url = common::create_queue_with(c, "mv", attrs).await;
    let arn = common::queue_arn(c, &url).await;
    (url, arn)
}

async fn envelopes(server: &Server, url: &str) -> Vec<Value> {
    common::stored_messages(server, url).await
}

fn sealed_set(v: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(|m| common::envelope_parts(m).to_string()).collect();
    s.sort();
    s
}

async fn receive_all(c: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    common::receive_and_release(c, url).await
}

/// A source (SSE-KMS) whose DLQ (unencrypted) holds `n` dead-lettered messages.
async fn dead_lettered(server: &Server, n: usize) -> (String, String, String, String) {
    let c = sqs(server);
    let key = kms(server)
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    let (dlq, dlq_arn) = create(&c, &[(Q::SqsManagedSseEnabled, "false")]).await;
    let policy = json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1 }).to_string();
    let (source, source_arn) = create(
        &c,
        &[(Q::KmsMasterKeyId, key.key_id()), (Q::RedrivePolicy, &policy)],
    )
    .await;
    for i in 0..n {
        c.send_message()
            .queue_url(&source)
            .message_body(format!("failed order {i}"))
            .send()
            .await
            .expect("send");
    }
    assert_eq!(receive_all(&c, &source).await.len(), n);
    assert!(receive_all(&c, &source).await.is_empty(), "all dead-lettered");
    assert_eq!(envelopes(server, &dlq).await.len(), n);
    (source, source_arn, dlq, dlq_arn)
}

async fn tasks(
    c: &aws_sdk_sqs::Client,
    dlq_arn: &str,
) -> Vec<aws_sdk_sqs::types::ListMessageMoveTasksResultEntry> {
    c.list_message_move_tasks()
        .source_arn(dlq_arn)
        .max_results(10)
        .send()
        .await
        .expect("ListMessageMoveTasks")
        .results
        .unwrap_or_default()
}

/// Waits (bounded, in real time) until the newest task of `dlq_arn` matches.
async fn wait_for(
    c: &aws_sdk_sqs::Client,
    dlq_arn: &str,
    what: &str,
    ok: impl Fn(&aws_sdk_sqs::types::ListMessageMoveTasksResultEntry) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let t = tasks(c, dlq_arn).await;
        if t.first().is_some_and(&ok) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {t:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn redrive_moves_envelopes_back_at_the_rate_of_the_clock() {
    let server = manual_server().await;
    let c = sqs(&server);
    let (source, _source_arn, dlq, dlq_arn) = dead_lettered(&server, 3).await;
    let before = envelopes(&server, &dlq).await;

    let handle = c
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .expect("StartMessageMoveTask")
        .task_handle
        .expect("handle");
    // One message per second of the clock: the first at once, then one per advance.
    wait_for(&c, &dlq_arn, "first move", |t| {
        t.approximate_number_of_messages_moved() == 1
    })
    .await;
    let running = tasks(&c, &dlq_arn).await;
    assert_eq!(running[0].status(), Some("RUNNING"));
    assert_eq!(running[0].task_handle(), Some(handle.as_str()));
    assert_eq!(running[0].approximate_number_of_messages_to_move(), Some(3));
    assert_eq!(running[0].max_number_of_messages_per_second(), Some(1));
    assert!(running[0].destination_arn().is_none());
    server.advance(1);
    wait_for(&c, &dlq_arn, "second move", |t| {
        t.approximate_number_of_messages_moved() == 2
    })
    .await;
    server.advance(1);
    wait_for(&c, &dlq_arn, "completed", |t| t.status() == Some("COMPLETED")).await;
    let done = tasks(&c, &dlq_arn).await;
    assert_eq!(done[0].approximate_number_of_messages_moved(), 3);
    assert!(
        done[0].task_handle().is_none(),
        "handles are shown only while running"
    );

    // The envelopes are back in the source, byte for byte.
    assert!(envelopes(&server, &dlq).await.is_empty());
    let after = envelopes(&server, &source).await;
    assert_eq!(sealed_set(&after), sealed_set(&before));
    assert!(after.iter().all(|m| m["encrypted"] == json!(true)));

    // New deliveries there: new MessageIds, never received, no
    // DeadLetterQueueSourceArn.
    let old_ids: Vec<&Value> = before.iter().map(|m| &m["message_id"]).collect();
    assert!(
        after.iter().all(|m| !old_ids.contains(&&m["message_id"])),
        "new MessageIds"
    );
    assert!(
        after
            .iter()
            .all(|m| m["sealed_for_message_id"] != m["message_id"]),
        "the envelope still names the id it was sealed for"
    );
    let got = receive_all(&c, &source).await;
    let mut bodies: Vec<&str> = got.iter().filter_map(|m| m.body()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["failed order 0", "failed order 1", "failed order 2"]);
    for m in &got {
        let a = m.attributes().expect("attributes");
        assert_eq!(a.get(&M::ApproximateReceiveCount).map(String::as_str), Some("1"));
        assert!(!a.contains_key(&M::DeadLetterQueueSourceArn));
    }
}

#[tokio::test]
async fn a_task_can_be_cancelled_and_only_one_runs_per_source() {
    let server = manual_server().await;
    let c = sqs(&server);
    let (_source, _, dlq, dlq_arn) = dead_lettered(&server, 3).await;
    let handle = c
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .expect("start")
        .task_handle
        .expect("handle");
    wait_for(&c, &dlq_arn, "first move", |t| {
        t.approximate_number_of_messages_moved() == 1
    })
    .await;
    // A second task while one runs (AWS recorded: InvalidParameterValue).
    let err = c
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(
        err.message(),
        Some(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
        )
    );

    let out = c
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .expect("CancelMessageMoveTask");
    assert_eq!(out.approximate_number_of_messages_moved(), 1);
    wait_for(&c, &dlq_arn, "cancelled", |t| t.status() == Some("CANCELLED")).await;
    server.advance(5);
    assert_eq!(
        envelopes(&server, &dlq).await.len(),
        2,
        "the rest stays in the DLQ"
    );
    let err = c
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.message(), Some("Task does not exist."));
    assert!(err.into_service_error().is_resource_not_found_exception());

    // A new task may start once the old one ended; it moves the rest.
    c.start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .expect("second task");
    wait_for(&c, &dlq_arn, "second task completed", |t| {
        t.status() == Some("COMPLETED") && t.approximate_number_of_messages_moved() == 2
    })
    .await;
    let all = tasks(&c, &dlq_arn).await;
    assert_eq!(
        all.iter()
            .map(|t| t.status().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["COMPLETED", "CANCELLED"],
        "newest first"
    );
}

#[tokio::test]
async fn move_task_errors_are_aws_shaped_in_both_protocols() {
    let server = common::start().await;
    let c = sqs(&server);
    let (_plain, plain_arn) = create(&c, &[]).await;
    let err = c
        .start_message_move_task()
        .source_arn(&plain_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "not a DLQ");
    assert_eq!(
        err.message(),
        Some("Source queue must be configured as a Dead Letter Queue.")
    );
    // CancelMessageMoveTask: not a task handle; a handle whose source queue
    // does not exist (AWS recorded texts).
    let err = c
        .cancel_message_move_task()
        .task_handle("not-a-handle")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert_eq!(err.message(), Some("Value for parameter TaskHandle is invalid."));
    let gone = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        r#"{"taskId":"x","sourceArn":"arn:aws:sqs:us-east-1:000000000000:nope"}"#,
    );
    let err = c
        .cancel_message_move_task()
        .task_handle(&gone)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        err.message(),
        Some("The resource that you specified for the SourceArn parameter doesn't exist.")
    );
    let r = query(
        &server,
        &[
            ("Action", "CancelMessageMoveTask"),
            ("TaskHandle", "not-a-handle"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("InvalidParameterValue")
    );
    assert_eq!(
        xml_text(&r.body, "Message").as_deref(),
        Some("Value for parameter TaskHandle is invalid.")
    );
    let missing = "arn:aws:sqs:us-east-1:000000000000:nope";
    let err = c
        .start_message_move_task()
        .source_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let r = query(
        &server,
        &[("Action", "ListMessageMoveTasks"), ("SourceArn", missing)],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("ResourceNotFoundException")
    );

    let (_dlq, dlq_arn) = create(&c, &[]).await;
    let policy = json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3 }).to_string();
    create(&c, &[(Q::RedrivePolicy, &policy)]).await;
    let err = c
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .max_number_of_messages_per_second(501)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));

    // Query protocol: start on an empty DLQ completes at once; list shows it.
    let r = query(
        &server,
        &[("Action", "StartMessageMoveTask"), ("SourceArn", &dlq_arn)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(xml_text(&r.body, "TaskHandle").is_some_and(|h| !h.is_empty()));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = query(
            &server,
            &[
                ("Action", "ListMessageMoveTasks"),
                ("SourceArn", &dlq_arn),
                ("MaxResults", "10"),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        if xml_text(&r.body, "Status").as_deref() == Some("COMPLETED") {
            assert_eq!(
                xml_text(&r.body, "ApproximateNumberOfMessagesMoved").as_deref(),
                Some("0")
            );
            assert!(r.body.contains("<ListMessageMoveTasksResultEntry>"), "{}", r.body);
            break;
        }
        assert!(Instant::now() < deadline, "{}", r.body);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_task_whose_original_source_is_gone_fails_and_keeps_the_message() {
    let server = manual_server().await;
    let c = sqs(&server);
    let (source, _, dlq, dlq_arn) = dead_lettered(&server, 1).await;
    c.delete_queue()
        .queue_url(&source)
        .send()
        .await
        .expect("DeleteQueue");
    // Another source still names the DLQ, so it remains a dead-letter queue.
    let policy = json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3 }).to_string();
    create(&c, &[(Q::RedrivePolicy, &policy)]).await;
    c.start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .expect("start");
    wait_for(&c, &dlq_arn, "failed", |t| t.status() == Some("FAILED")).await;
    let t = tasks(&c, &dlq_arn).await;
    assert!(t[0].failure_reason().is_some_and(|r| !r.is_empty()), "{t:?}");
    assert_eq!(t[0].approximate_number_of_messages_moved(), 0);
    assert_eq!(
        envelopes(&server, &dlq).await.len(),
        1,
        "the message stays in the DLQ"
    );
}

#[tokio::test]
async fn a_destination_arn_sends_the_messages_elsewhere() {
    let server = manual_server().await;
    let c = sqs(&server);
    let (source, _, dlq, dlq_arn) = dead_lettered(&server, 2).await;
    let (other, other_arn) = create(&c, &[(Q::SqsManagedSseEnabled, "false")]).await;
    let before = envelopes(&server, &dlq).await;
    c.start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(&other_arn)
        .send()
        .await
        .expect("start");
    wait_for(&c, &dlq_arn, "completed", |t| t.status() == Some("COMPLETED")).await;
    let t = tasks(&c, &dlq_arn).await;
    assert_eq!(t[0].destination_arn(), Some(other_arn.as_str()));
    assert_eq!(t[0].approximate_number_of_messages_moved(), 2);
    assert!(envelopes(&server, &source).await.is_empty());
    let after = envelopes(&server, &other).await;
    assert_eq!(
        sealed_set(&after),
        sealed_set(&before),
        "still sealed, byte for byte"
    );
    let mut bodies: Vec<String> = receive_all(&c, &other)
        .await
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["failed order 0", "failed order 1"]);
}
