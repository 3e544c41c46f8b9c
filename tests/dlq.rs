//! Dead-letter queues on standard queues: RedrivePolicy validation, the move
//! at receive time, and envelopes kept byte for byte across the move.

mod common;

use std::sync::Arc;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageSystemAttributeName as M, QueueAttributeName as Q};
use common::{Server, admin_get, kms, query, sqs, sqs_as, unique, xml_text};
use sealq::Config;
use sealq::clock::Clock;
use serde_json::{Value, json};

async fn create(c: &aws_sdk_sqs::Client, attrs: &[(Q, &str)]) -> String {
    common::create_queue_with(c, "dlq", attrs).await
}

async fn arn(c: &aws_sdk_sqs::Client, url: &str) -> String {
    common::queue_arn(c, url).await
}

fn redrive(target_arn: &str, max: u32) -> String {
    json!({ "deadLetterTargetArn": target_arn, "maxReceiveCount": max }).to_string()
}

async fn envelopes(server: &Server, url: &str) -> Vec<Value> {
    common::stored_messages(server, url).await
}

/// The envelope of a stored message, with its id and digest (a move to a
/// DLQ keeps all of them).
fn sealed_parts(m: &Value) -> Value {
    json!({
        "envelope": common::envelope_parts(m),
        "message_id": m["message_id"],
        "md5_of_body": m["md5_of_body"],
    })
}

async fn receive(c: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    common::receive_and_release(c, url).await
}

#[tokio::test]
async fn an_encrypted_message_moves_to_an_unencrypted_dlq_with_its_envelope_intact() {
    let server = common::start().await;
    let c = sqs(&server);
    let key = kms(&server)
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    let key_arn = key.arn().expect("arn").to_owned();
    let dlq = create(&c, &[(Q::SqsManagedSseEnabled, "false")]).await;
    let dlq_arn = arn(&c, &dlq).await;
    let source = create(&c, &[(Q::KmsMasterKeyId, key.key_id())]).await;
    let source_arn = arn(&c, &source).await;
    c.set_queue_attributes()
        .queue_url(&source)
        .attributes(Q::RedrivePolicy, redrive(&dlq_arn, 2))
        .send()
        .await
        .expect("RedrivePolicy");
    let sent = c
        .send_message()
        .queue_url(&source)
        .message_body("poison pill")
        .send()
        .await
        .expect("send")
        .message_id
        .expect("id");
    let before = envelopes(&server, &source).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["encrypted"], json!(true));

    // Two receives deliver it; the third moves it instead.
    for n in 1..=2 {
        let got = receive(&c, &source).await;
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].body(), Some("poison pill"));
    }
    assert!(receive(&c, &source).await.is_empty(), "moved, not delivered");
    assert!(envelopes(&server, &source).await.is_empty());

    let after = envelopes(&server, &dlq).await;
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0]["encrypted"],
        json!(true),
        "still sealed in an unencrypted DLQ"
    );
    assert_eq!(
        sealed_parts(&after[0]),
        sealed_parts(&before[0]),
        "envelope byte for byte"
    );
    assert_eq!(
        after[0]["encryption_context"],
        json!({ "aws:sqs:arn": source_arn })
    );

    // A DLQ consumer decrypts through the source key, as itself.
    let reader = sqs_as(&server, "DLQREADER");
    let got = receive(&reader, &dlq).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.message_id(), Some(sent.as_str()));
    assert_eq!(m.body(), Some("poison pill"));
    let attrs = m.attributes().expect("attributes");
    assert_eq!(
        attrs.get(&M::DeadLetterQueueSourceArn).map(String::as_str),
        Some(source_arn.as_str())
    );
    assert_eq!(
        attrs.get(&M::ApproximateReceiveCount).map(String::as_str),
        Some("3")
    );
    let Value::Array(calls) = admin_get(&server, "/kms/calls").await else {
        panic!("ledger")
    };
    let mine: Vec<&Value> = calls
        .iter()
        .filter(|c| c["principal"] == json!("arn:aws:iam::000000000000:user/DLQREADER"))
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["operation"], json!("Decrypt"));
    assert_eq!(mine[0]["key_arn"], json!(key_arn));
    assert_eq!(mine[0]["queue_arn"], json!(source_arn));

    // The source key's state applies to DLQ consumers that must call KMS.
    kms(&server)
        .disable_key()
        .key_id(key.key_id())
        .send()
        .await
        .expect("DisableKey");
    let err = sqs_as(&server, "LATECOMER")
        .receive_message()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMS.DisabledException"));
    assert_eq!(envelopes(&server, &dlq).await.len(), 1, "nothing lost");
    // As on AWS, the failed receive counted: the message is in flight until
    // the visibility timeout (30 s) passes.
    assert!(
        receive(&reader, &dlq).await.is_empty(),
        "in flight after a failed receive"
    );
    server.advance(30);
    // The consumer that already read it keeps its cached key until the
    // reuse period passes; then it must call KMS and fails too.
    let got = receive(&reader, &dlq).await;
    assert_eq!(got.len(), 1, "cached data key still works");
    server.advance(301);
    let err = reader.receive_message().queue_url(&dlq).send().await.unwrap_err();
    assert_eq!(err.code(), Some("KMS.DisabledException"));
    assert!(err.into_service_error().is_kms_disabled());

    // ListDeadLetterSourceQueues names the source.
    let sources = c
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .expect("ListDeadLetterSourceQueues");
    assert_eq!(sources.queue_urls(), std::slice::from_ref(&source));
}

#[tokio::test]
async fn a_plaintext_message_stays_plaintext_in_an_encrypted_dlq() {
    let server = common::start().await;
    let c = sqs(&server);
    let dlq = create(&c, &[]).await; // SSE-SQS by default
    let dlq_arn = arn(&c, &dlq).await;
    let source = create(
        &c,
        &[
            (Q::SqsManagedSseEnabled, "false"),
            (Q::RedrivePolicy, &redrive(&dlq_arn, 1)),
        ],
    )
    .await;
    c.send_message()
        .queue_url(&source)
        .message_body("clear")
        .send()
        .await
        .expect("send");
    assert_eq!(receive(&c, &source).await.len(), 1);
    assert!(receive(&c, &source).await.is_empty());
    let after = envelopes(&server, &dlq).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["encrypted"], json!(false));
    let got = receive(&c, &dlq).await;
    assert_eq!(got[0].body(), Some("clear"));
    // The query protocol shows the source too; unsigned requests to the
    // encrypted DLQ are refused like on any encrypted queue.
    let r = query(
        &server,
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", &dlq),
            ("AttributeName.1", "All"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("<Name>DeadLetterQueueSourceArn</Name>"),
        "{}",
        r.body
    );
    let r = common::json_anonymous(&server, "ReceiveMessage", json!({ "QueueUrl": dlq })).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("InvalidSecurity"), "{}", r.body);
}

#[tokio::test]
async fn redrive_policies_are_checked_against_their_target() {
    let server = common::start().await;
    let c = sqs(&server);
    let source = create(&c, &[]).await;
    let missing = "arn:aws:sqs:us-east-1:000000000000:no-such-dlq";
    let err = c
        .set_queue_attributes()
        .queue_url(&source)
        .attributes(Q::RedrivePolicy, redrive(missing, 3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert!(
        err.message()
            .is_some_and(|m| m.ends_with("Reason: Dead letter target does not exist.")),
        "{err:?}"
    );
    let r = query(
        &server,
        &[
            ("Action", "SetQueueAttributes"),
            ("QueueUrl", &source),
            ("Attribute.1.Name", "RedrivePolicy"),
            ("Attribute.1.Value", &redrive(missing, 3)),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("InvalidParameterValue")
    );

    // Another region is not "the same region".
    let elsewhere = arn(&c, &source).await.replace("us-east-1", "eu-west-1");
    let err = c
        .set_queue_attributes()
        .queue_url(&source)
        .attributes(Q::RedrivePolicy, redrive(&elsewhere, 3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));

    // FIFO with FIFO only.
    let fifo_dlq = c
        .create_queue()
        .queue_name(format!("{}.fifo", unique("fdlq")))
        .attributes(Q::FifoQueue, "true")
        .send()
        .await
        .expect("fifo")
        .queue_url
        .expect("url");
    let err = c
        .set_queue_attributes()
        .queue_url(&source)
        .attributes(Q::RedrivePolicy, redrive(&arn(&c, &fifo_dlq).await, 3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));

    // RedriveAllowPolicy of the target is enforced.
    let closed = create(
        &c,
        &[(Q::RedriveAllowPolicy, r#"{"redrivePermission":"denyAll"}"#)],
    )
    .await;
    let err = c
        .set_queue_attributes()
        .queue_url(&source)
        .attributes(Q::RedrivePolicy, redrive(&arn(&c, &closed).await, 3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert!(
        err.message().is_some_and(|m| m.contains("does not allow")),
        "{err:?}"
    );
    let source_arn = arn(&c, &source).await;
    let by_queue = json!({ "redrivePermission": "byQueue", "sourceQueueArns": [source_arn] }).to_string();
    let open = create(&c, &[(Q::RedriveAllowPolicy, &by_queue)]).await;
    c.set_queue_attributes()
        .queue_url(&source)
        .attributes(Q::RedrivePolicy, redrive(&arn(&c, &open).await, 3))
        .send()
        .await
        .expect("allowed by byQueue");
    let other = create(&c, &[]).await;
    let err = c
        .set_queue_attributes()
        .queue_url(&other)
        .attributes(Q::RedrivePolicy, redrive(&arn(&c, &open).await, 3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("InvalidParameterValue"),
        "not in sourceQueueArns"
    );

    // CreateQueue checks the same.
    let err = c
        .create_queue()
        .queue_name(unique("dlq"))
        .attributes(Q::RedrivePolicy, redrive(missing, 3))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn a_dead_lettered_standard_message_keeps_its_original_enqueue_time() {
    let server = common::start_with(Config::default(), Arc::new(Clock::manual(1_795_000_000_000))).await;
    let c = sqs(&server);
    let dlq = create(&c, &[(Q::MessageRetentionPeriod, "60")]).await;
    let dlq_arn = arn(&c, &dlq).await;
    let source = create(&c, &[(Q::RedrivePolicy, &redrive(&dlq_arn, 1))]).await;
    c.send_message()
        .queue_url(&source)
        .message_body("old")
        .send()
        .await
        .expect("send");
    assert_eq!(receive(&c, &source).await.len(), 1);
    server.advance(50);
    assert!(receive(&c, &source).await.is_empty(), "moved at t=50");
    assert_eq!(envelopes(&server, &dlq).await.len(), 1);
    server.advance(11);
    // 61 s after it was first sent: past the DLQ's 60 s retention.
    assert!(receive(&c, &dlq).await.is_empty());
}

#[tokio::test]
async fn redrive_policy_is_returned_normalised_in_both_protocols() {
    let server = common::start().await;
    let c = sqs(&server);
    let dlq = create(&c, &[]).await;
    let dlq_arn = arn(&c, &dlq).await;
    // Set with a string count and spaces, as clients do.
    let set = format!("{{ \"maxReceiveCount\": \"5\", \"deadLetterTargetArn\": \"{dlq_arn}\" }}");
    let source = create(&c, &[(Q::RedrivePolicy, &set)]).await;
    let want = format!("{{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":5}}");
    assert_eq!(
        common::queue_attr(&c, &source, Q::RedrivePolicy).await.as_deref(),
        Some(want.as_str())
    );
    let r = common::query(
        &server,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &source),
            ("AttributeName.1", "RedrivePolicy"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(common::xml_text(&r.body, "Value").as_deref(), Some(want.as_str()));
}
