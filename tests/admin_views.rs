//! The admin views the web console reads, as documented: `/_sealq/queues`,
//! `/_sealq/datakeys`, `/_sealq/kms/keys`, the ledger's `since` and
//! `data_key` filters, the envelope view's `message` filter, and the
//! console's own files. Traffic comes from the Rust SDKs; the clock is
//! manual so expiry is exact.

mod common;

use std::sync::Arc;

use aws_sdk_sqs::types::QueueAttributeName as Q;
use common::{Server, admin_get, kms, sqs, sqs_as};
use sealq::Config;
use sealq::clock::Clock;
use serde_json::Value;

async fn start() -> Server {
    common::start_with(Config::default(), Arc::new(Clock::manual(1_795_000_000_000))).await
}

/// An SSE-KMS queue `orders` (reuse period 60 s, key `alias/orders`) with
/// the SSE-KMS dead-letter queue `orders-dlq`; their URLs and the key's ARN.
async fn orders(server: &Server) -> (String, String, String) {
    let k = kms(server);
    let key = k.create_key().send().await.expect("CreateKey");
    let meta = key.key_metadata().expect("metadata");
    k.create_alias()
        .alias_name("alias/orders")
        .target_key_id(meta.key_id())
        .send()
        .await
        .expect("CreateAlias");
    let admin = sqs(server);
    let dlq = admin
        .create_queue()
        .queue_name("orders-dlq")
        .attributes(Q::KmsMasterKeyId, "alias/orders")
        .send()
        .await
        .expect("CreateQueue dlq");
    let dlq_url = dlq.queue_url().expect("url").to_owned();
    let dlq_arn = common::queue_arn(&admin, &dlq_url).await;
    let q = admin
        .create_queue()
        .queue_name("orders")
        .attributes(Q::KmsMasterKeyId, "alias/orders")
        .attributes(Q::KmsDataKeyReusePeriodSeconds, "60")
        .attributes(
            Q::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
        )
        .send()
        .await
        .expect("CreateQueue");
    (
        q.queue_url().expect("url").to_owned(),
        dlq_url,
        meta.arn().expect("arn").to_owned(),
    )
}

async fn send(c: &aws_sdk_sqs::Client, url: &str, body: &str) -> String {
    c.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .expect("SendMessage")
        .message_id()
        .expect("id")
        .to_owned()
}

fn by<'a>(list: &'a Value, field: &str, value: &str) -> Vec<&'a Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .filter(|v| v[field] == value)
        .collect()
}

#[tokio::test]
async fn queues_view_lists_encryption_counts_and_dead_letter_links_both_ways() {
    let server = start().await;
    let (url, _, key_arn) = orders(&server).await;
    let p = sqs_as(&server, "PRODUCER1");
    send(&p, &url, "one").await;
    send(&p, &url, "two").await;
    let got = p
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .send()
        .await
        .expect("ReceiveMessage");
    assert_eq!(got.messages().len(), 1);

    let v = admin_get(&server, "/queues").await;
    let queues = &v["queues"];
    let q = by(queues, "name", "orders")[0];
    assert_eq!(q["sse"], "SSE-KMS");
    assert_eq!(q["kms_master_key_id"], "alias/orders");
    assert_eq!(q["key_arn"], key_arn.as_str());
    assert_eq!(q["reuse_period_seconds"], 60);
    assert_eq!(
        (
            q["visible"].as_u64(),
            q["in_flight"].as_u64(),
            q["delayed"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(
        q["dead_letter_queue"],
        "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
    );
    assert_eq!(q["max_receive_count"], 2);
    assert!(q["url"].as_str().unwrap().ends_with("/000000000000/orders"));
    let dlq = by(queues, "name", "orders-dlq")[0];
    assert_eq!(dlq["dead_letter_source_queues"], serde_json::json!([q["arn"]]));
    assert_eq!(dlq["reuse_period_seconds"], 300, "the default reuse period");
}

#[tokio::test]
async fn datakeys_view_shows_both_caches_until_the_reuse_period_passes() {
    let server = start().await;
    let (url, _, key_arn) = orders(&server).await;
    let p = sqs_as(&server, "PRODUCER1");
    let c = sqs_as(&server, "CONSUMER1");
    send(&p, &url, "one").await;
    server.advance(10);
    send(&p, &url, "two").await;
    let got = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("ReceiveMessage");
    assert_eq!(got.messages().len(), 2);

    let v = admin_get(&server, "/datakeys").await;
    let now = v["now_ms"].as_u64().unwrap();
    let entries = &v["entries"];
    assert_eq!(entries.as_array().unwrap().len(), 2, "{v}");
    let prod = by(entries, "cache", "producer")[0];
    assert_eq!(prod["principal"], "arn:aws:iam::000000000000:user/PRODUCER1");
    assert_eq!(prod["queue_arn"], "arn:aws:sqs:us-east-1:000000000000:orders");
    assert_eq!(prod["key_arn"], key_arn.as_str());
    assert_eq!(prod["sse"], "SSE-KMS");
    // Made 10 s ago, used again once without KMS.
    assert_eq!(prod["made_ms"].as_u64().unwrap(), now - 10_000);
    assert_eq!(prod["expires_ms"].as_u64().unwrap(), now + 50_000);
    assert_eq!(
        (prod["hits"].as_u64(), prod["misses"].as_u64()),
        (Some(1), Some(1))
    );
    let cons = by(entries, "cache", "consumer")[0];
    assert_eq!(cons["principal"], "arn:aws:iam::000000000000:user/CONSUMER1");
    assert!(cons["data_key_id"].is_null());
    assert_eq!(cons["expires_ms"].as_u64().unwrap(), now + 60_000);
    // One Decrypt opened both messages (one data key): one miss, then a
    // second lookup for the second message was answered from the seen key.
    assert_eq!(cons["misses"], 1);
    assert_eq!(v["totals"]["producer_hits"], 1);
    assert_eq!(v["totals"]["producer_misses"], 1);
    assert!(
        !v.to_string().contains("plaintext"),
        "the view names no plaintext: {v}"
    );

    // 50 s later the producer's key has expired; the consumer's grant
    // lasts until 60 s after its Decrypt.
    server.advance(50);
    let v = admin_get(&server, "/datakeys").await;
    assert_eq!(by(&v["entries"], "cache", "producer").len(), 0, "{v}");
    assert_eq!(by(&v["entries"], "cache", "consumer").len(), 1, "{v}");
    server.advance(10);
    let v = admin_get(&server, "/datakeys").await;
    assert!(v["entries"].as_array().unwrap().is_empty(), "{v}");
    // The next send makes a new entry, and its misses count both.
    send(&p, &url, "three").await;
    let v = admin_get(&server, "/datakeys").await;
    let prod = by(&v["entries"], "cache", "producer")[0];
    assert_eq!(
        (prod["hits"].as_u64(), prod["misses"].as_u64()),
        (Some(0), Some(2))
    );
}

#[tokio::test]
async fn ledger_filters_by_sequence_and_by_data_key() {
    let server = start().await;
    let (url, _, _) = orders(&server).await;
    let p = sqs_as(&server, "PRODUCER1");
    let id = send(&p, &url, "one").await;
    let all = admin_get(&server, "/kms/calls").await;
    let seqs: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2]);

    // The envelope names its data key; the ledger finds the calls for it.
    let one = admin_get(&server, &format!("/queues/orders/messages?message={id}")).await;
    let messages = one["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["message_id"], id.as_str());
    assert_eq!(messages[0]["sender_id"], "PRODUCER1");
    assert_eq!(messages[0]["receive_count"], 0);
    assert_eq!(
        messages[0]["sealed_by_queue_arn"],
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );
    // AAD: 4-byte length, the queue ARN, the 16-byte message id.
    let arn = "arn:aws:sqs:us-east-1:000000000000:orders";
    let aad: String = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        messages[0]["aad"].as_str().unwrap(),
    )
    .expect("base64")
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    assert!(aad.starts_with(&format!("{:08x}", arn.len())), "{aad}");
    assert!(aad.ends_with(&id.replace('-', "")), "{aad}");
    let dk = messages[0]["data_key_id"].as_u64().unwrap();

    // Clearing keeps the numbering; `since` gives only what is new.
    common::admin_post(&server, "/clock", serde_json::json!({"advance_seconds": 61})).await;
    let c = sqs_as(&server, "CONSUMER1");
    c.receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("ReceiveMessage");
    let reqwest_client = reqwest::Client::new();
    reqwest_client
        .delete(format!("{}/_sealq/kms/calls", server.endpoint))
        .send()
        .await
        .expect("DELETE");
    send(&p, &url, "two").await;
    // The oldest call still held is the first after the clear.
    let first = reqwest_client
        .get(format!("{}/_sealq/kms/calls?since=5", server.endpoint))
        .send()
        .await
        .expect("GET");
    assert_eq!(first.headers()["x-sealq-ledger-first-seq"], "4");
    let since = admin_get(&server, "/kms/calls?since=3").await;
    let ops: Vec<(u64, &str)> = since
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["seq"].as_u64().unwrap(), c["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(ops, vec![(4, "GenerateDataKey"), (5, "Decrypt")]);
    let fresh = admin_get(&server, "/kms/calls?since=5").await;
    assert!(fresh.as_array().unwrap().is_empty());
    // The second data key's calls, and none of the first's (cleared).
    let second = admin_get(&server, &format!("/kms/calls?data_key={}", dk + 1)).await;
    assert_eq!(second.as_array().unwrap().len(), 2, "{second}");
    let first = admin_get(&server, &format!("/kms/calls?data_key={dk}")).await;
    assert!(first.as_array().unwrap().is_empty(), "{first}");
}

#[tokio::test]
async fn kms_keys_view_shows_aliases_state_rotation_and_policy() {
    let server = start().await;
    let (_, _, key_arn) = orders(&server).await;
    let k = kms(&server);
    k.enable_key_rotation()
        .key_id(&key_arn)
        .send()
        .await
        .expect("EnableKeyRotation");
    let v = admin_get(&server, "/kms/keys").await;
    let key = by(&v["keys"], "arn", &key_arn)[0];
    assert_eq!(key["aliases"], serde_json::json!(["alias/orders"]));
    assert_eq!(key["state"], "Enabled");
    assert_eq!(key["manager"], "CUSTOMER");
    assert_eq!(key["rotation_enabled"], true);
    assert_eq!(key["rotation_period_days"], 365);
    let policy: Value = serde_json::from_str(key["policy"].as_str().unwrap()).expect("policy JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    k.disable_key().key_id(&key_arn).send().await.expect("DisableKey");
    let v = admin_get(&server, "/kms/keys").await;
    assert_eq!(by(&v["keys"], "arn", &key_arn)[0]["state"], "Disabled");
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_a_strict_policy() {
    let server = start().await;
    let http = reqwest::Client::new();
    for (path, kind) in [
        ("/_sealq/console", "text/html"),
        ("/_sealq/console/app.js", "text/javascript"),
        ("/_sealq/console/app.css", "text/css"),
    ] {
        let r = http
            .get(format!("{}{path}", server.endpoint))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let h = r.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let body = r.text().await.expect("body");
        assert!(!body.is_empty());
        // No CDN, nothing fetched from elsewhere.
        assert!(!body.contains("https://"), "{path} refers to another site");
    }
}

#[tokio::test]
async fn the_envelope_view_lists_the_oldest_messages_of_a_deep_queue_in_order() {
    let server = start().await;
    let c = sqs(&server);
    let url = c
        .create_queue()
        .queue_name("deep")
        .attributes(Q::SqsManagedSseEnabled, "false")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("url")
        .to_owned();
    // More messages than one step of the scan (4,096 slots) looks at.
    let mut ids = Vec::new();
    for batch in 0..430 {
        let entries: Vec<_> = (0..10)
            .map(|i| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .message_body(format!("b{batch}-{i}"))
                    .build()
                    .expect("entry")
            })
            .collect();
        let out = c
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("SendMessageBatch");
        let mut sent: Vec<_> = out.successful().to_vec();
        sent.sort_by_key(|e| e.id()[1..].parse::<u32>().unwrap());
        ids.extend(sent.iter().map(|e| e.message_id().to_owned()));
    }
    // Delete the three oldest: their slots are reused by three new
    // messages, which are the newest though they sit first in storage.
    let got = c
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(3)
        .send()
        .await
        .expect("ReceiveMessage");
    let received: Vec<String> = got
        .messages()
        .iter()
        .map(|m| m.message_id().unwrap().to_owned())
        .collect();
    assert_eq!(received, ids[..3].to_vec());
    for m in got.messages() {
        c.delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .expect("DeleteMessage");
    }
    for i in 0..3 {
        c.send_message()
            .queue_url(&url)
            .message_body(format!("late {i}"))
            .send()
            .await
            .expect("send");
    }
    let v = admin_get(&server, "/queues/deep/messages?limit=5").await;
    let shown: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ids[3..8].iter().map(String::as_str).collect::<Vec<_>>());
    let last = admin_get(&server, "/queues/deep/messages?limit=5000").await;
    assert_eq!(last["messages"].as_array().unwrap().len(), 4_300);
}

#[tokio::test]
async fn queue_urls_in_the_queues_view_follow_queue_url_base_like_the_api() {
    let config = Config {
        queue_url_base: Some("http://sealq:9324".into()),
        ..Config::default()
    };
    let server = common::start_with(config, Arc::new(Clock::manual(1_795_000_000_000))).await;
    let url = sqs(&server)
        .create_queue()
        .queue_name("based")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("url")
        .to_owned();
    assert_eq!(url, "http://sealq:9324/000000000000/based");
    let v = admin_get(&server, "/queues").await;
    assert_eq!(by(&v["queues"], "name", "based")[0]["url"], url.as_str());
}
