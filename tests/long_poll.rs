//! Long polling at scale: many waiters on one queue are each woken by an
//! arriving message, none is lost, and none waits out its full wait time.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use common::{sqs, start};

const WAITERS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_waiters_each_get_one_arriving_message() {
    let server = start().await;
    let c = sqs(&server);
    // Unencrypted: the waiters below are unsigned requests, which an
    // encrypted queue refuses.
    let url = c
        .create_queue()
        .queue_name(common::unique("crowd"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled,
            "false",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let body =
        serde_json::json!({ "QueueUrl": url, "WaitTimeSeconds": 20, "MaxNumberOfMessages": 1 }).to_string();
    let mut waiters = Vec::with_capacity(WAITERS);
    for _ in 0..WAITERS {
        let req = http
            .post(&server.endpoint)
            .header("x-amz-target", "AmazonSQS.ReceiveMessage")
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.clone());
        waiters.push(tokio::spawn(async move {
            let r = req.send().await.expect("receive");
            assert_eq!(r.status(), 200);
            let v: serde_json::Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
            v["Messages"].as_array().cloned().unwrap_or_default()
        }));
    }
    // Give the waiters time to park, then send exactly one message per waiter.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    for batch in 0..WAITERS / 10 {
        let entries = (0..10)
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(format!("m{batch}-{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        c.send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }
    let mut bodies = HashSet::new();
    for w in waiters {
        let msgs = tokio::time::timeout(Duration::from_secs(15), w)
            .await
            .expect("woken before the wait time")
            .unwrap();
        assert_eq!(msgs.len(), 1, "every waiter gets exactly one message");
        bodies.insert(msgs[0]["Body"].as_str().unwrap().to_owned());
    }
    assert_eq!(bodies.len(), WAITERS, "no message delivered twice");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "woken by sends, not by the 20 s wait"
    );
}
