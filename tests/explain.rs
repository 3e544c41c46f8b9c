//! `sealq explain QUEUE`: the binary against a server fed by the SDKs, as
//! a user runs it in a terminal or a CI job.

mod common;

use std::sync::Arc;

use aws_sdk_sqs::types::QueueAttributeName as Q;
use common::{kms, sqs, sqs_as};
use sealq::Config;
use sealq::clock::Clock;

/// Runs `sealq explain ARGS --endpoint ENDPOINT`: exit code, stdout, stderr.
async fn explain(endpoint: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all: Vec<String> = vec!["explain".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all.extend(["--endpoint".to_owned(), endpoint.to_owned()]);
    common::run_sealq(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), all).await
}

#[tokio::test]
async fn explain_walks_an_sse_kms_queue_with_its_real_key_context_calls_and_findings() {
    let server = common::start_with(Config::default(), Arc::new(Clock::manual(1_795_000_000_000))).await;
    let k = kms(&server);
    let key = k.create_key().send().await.expect("CreateKey");
    let key_arn = key.key_metadata().and_then(|m| m.arn()).expect("arn").to_owned();
    k.create_alias()
        .alias_name("alias/orders")
        .target_key_id(&key_arn)
        .send()
        .await
        .expect("CreateAlias");
    let admin = sqs(&server);
    let url = admin
        .create_queue()
        .queue_name("orders")
        .attributes(Q::KmsMasterKeyId, "alias/orders")
        .attributes(Q::KmsDataKeyReusePeriodSeconds, "120")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("url")
        .to_owned();
    let p = sqs_as(&server, "PRODUCER1");
    p.send_message()
        .queue_url(&url)
        .message_body("card 4242")
        .send()
        .await
        .expect("send");
    let c = sqs_as(&server, "CONSUMER1");
    c.receive_message().queue_url(&url).send().await.expect("receive");

    let (code, out, err) = explain(&server.endpoint, &["orders"]).await;
    assert_eq!(code, Some(0), "{err}");
    for needle in [
        "Queue orders",
        "Encryption: SSE-KMS",
        "alias/orders",
        key_arn.as_str(),
        "Enabled, customer managed, rotation off",
        r#"{"aws:sqs:arn": "arn:aws:sqs:us-east-1:000000000000:orders"}"#,
        "Reuse period   120 s",
        "kms:ViaService = sqs.us-east-1.amazonaws.com",
        "(B / 120) x (2P + C)",
        "KMS calls so far for this queue: 3 (GenerateDataKey 1, Decrypt 2, failed 0)",
        "GenerateDataKey  user/PRODUCER1",
        "Decrypt          user/CONSUMER1",
        "producer user/PRODUCER1",
        "expires in 2m 00s, hits 0, misses 1",
        "consumer user/CONSUMER1",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    // Never a body.
    assert!(!out.contains("card 4242"), "{out}");
    // No DLQ, no policy, a key without rotation: the audit's findings on
    // the queue and its key are listed.
    for rule in ["sqs-no-dlq", "sqs-no-secure-transport", "kms-rotation-disabled"] {
        assert!(out.contains(&format!("] {rule}: ")), "missing {rule} in:\n{out}");
    }
}

#[tokio::test]
async fn explain_tells_how_to_encrypt_an_unencrypted_queue() {
    let server = common::start().await;
    let admin = sqs(&server);
    admin
        .create_queue()
        .queue_name("plain")
        .attributes(Q::SqsManagedSseEnabled, "false")
        .send()
        .await
        .expect("CreateQueue");
    let (code, out, err) = explain(&server.endpoint, &["plain"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Encryption: none"), "{out}");
    assert!(out.contains("SqsManagedSseEnabled=true"), "{out}");
    assert!(out.contains("KMS calls so far for this queue: 0"), "{out}");
    assert!(out.contains("sqs-not-encrypted"), "{out}");
}

#[tokio::test]
async fn explain_of_a_missing_queue_or_server_exits_2_with_the_reason() {
    let server = common::start().await;
    let (code, out, err) = explain(&server.endpoint, &["nope"]).await;
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert!(err.contains("no queue nope"), "{err}");

    let port = common::free_port();
    let (code, _, err) = explain(&format!("http://127.0.0.1:{port}"), &["orders"]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot reach"), "{err}");
}
