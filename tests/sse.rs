//! Server-side encryption through real clients: SSE attributes as AWS
//! recorded them, envelopes at rest, data-key caches and the KMS-call
//! ledger, KMS failures as SQS surfaces them (both protocols), fault
//! injection, and anonymous requests to encrypted queues.

mod common;

use std::sync::Arc;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName as Q;
use common::{Server, admin_get, admin_post, kms, query, query_as, sqs, sqs_as, unique, xml_text};
use sealq::Config;
use sealq::clock::Clock;
use serde_json::{Value, json};

/// A server on a manual clock (for reuse periods).
async fn manual_server() -> Server {
    common::start_with(Config::default(), Arc::new(Clock::manual(1_795_000_000_000))).await
}

async fn create(c: &aws_sdk_sqs::Client, attrs: &[(Q, &str)]) -> String {
    let mut req = c.create_queue().queue_name(unique("sse"));
    for (k, v) in attrs {
        req = req.attributes(k.clone(), *v);
    }
    req.send().await.expect("CreateQueue").queue_url.expect("url")
}

async fn new_key(server: &Server) -> (String, String) {
    let md = kms(server)
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    (md.key_id().to_owned(), md.arn().expect("arn").to_owned())
}

async fn attrs(c: &aws_sdk_sqs::Client, url: &str) -> std::collections::HashMap<Q, String> {
    c.get_queue_attributes()
        .queue_url(url)
        .attribute_names(Q::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default()
}

async fn send_ok(c: &aws_sdk_sqs::Client, url: &str, body: &str) -> String {
    c.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .expect("SendMessage")
        .message_id
        .expect("id")
}

/// Receives (up to `max`) and deletes what came.
async fn take(c: &aws_sdk_sqs::Client, url: &str, max: i32) -> Vec<String> {
    let got = c
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default();
    let mut bodies = Vec::new();
    for m in got {
        c.delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().expect("handle"))
            .send()
            .await
            .expect("DeleteMessage");
        bodies.push(m.body().expect("body").to_owned());
    }
    bodies
}

fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().expect("name")
}

async fn ledger(server: &Server, queue_url: &str) -> Vec<Value> {
    let name = queue_name(queue_url);
    let Value::Array(calls) = admin_get(server, "/kms/calls").await else {
        panic!("ledger is not an array")
    };
    calls
        .into_iter()
        .filter(|c| {
            c["queue_arn"]
                .as_str()
                .is_some_and(|a| a.ends_with(&format!(":{name}")))
        })
        .collect()
}

async fn envelopes(server: &Server, queue_url: &str) -> Value {
    common::envelope_view(server, queue_url).await
}

#[tokio::test]
async fn signed_create_queue_gets_sse_sqs_and_anonymous_or_opted_out_does_not() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = create(&c, &[]).await;
    let a = attrs(&c, &url).await;
    assert_eq!(a.get(&Q::SqsManagedSseEnabled).map(String::as_str), Some("true"));
    assert!(
        !a.contains_key(&Q::KmsMasterKeyId),
        "KMS attributes omitted, not empty"
    );
    assert!(!a.contains_key(&Q::KmsDataKeyReusePeriodSeconds));

    let url = create(&c, &[(Q::SqsManagedSseEnabled, "false")]).await;
    assert_eq!(
        attrs(&c, &url)
            .await
            .get(&Q::SqsManagedSseEnabled)
            .map(String::as_str),
        Some("false")
    );

    // Unsigned CreateQueue: no SSE default, as AWS for non-SigV4 requests.
    let name = unique("anon");
    let r = query_as(
        &server,
        "/",
        &[("Action", "CreateQueue"), ("QueueName", &name)],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = xml_text(&r.body, "QueueUrl").expect("url");
    assert_eq!(
        attrs(&c, &url)
            .await
            .get(&Q::SqsManagedSseEnabled)
            .map(String::as_str),
        Some("false")
    );

    // The server setting turns the default off.
    let config = Config {
        sse_sqs_by_default: false,
        ..Config::default()
    };
    let off = common::start_with(config, Arc::new(Clock::system())).await;
    let c = sqs(&off);
    let url = create(&c, &[]).await;
    assert_eq!(
        attrs(&c, &url)
            .await
            .get(&Q::SqsManagedSseEnabled)
            .map(String::as_str),
        Some("false")
    );
}

#[tokio::test]
async fn sse_attribute_rules_follow_the_aws_recordings() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = create(&c, &[]).await;

    // Both kinds at once: refused in both protocols.
    let err = c
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::KmsMasterKeyId, "testKeyId")
        .attributes(Q::SqsManagedSseEnabled, "true")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAttributeName"));
    assert_eq!(
        err.message(),
        Some(
            "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE."
        )
    );
    let r = query(
        &server,
        &[
            ("Action", "SetQueueAttributes"),
            ("QueueUrl", &url),
            ("Attribute.1.Name", "KmsMasterKeyId"),
            ("Attribute.1.Value", "testKeyId"),
            ("Attribute.2.Name", "SqsManagedSseEnabled"),
            ("Attribute.2.Value", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(xml_text(&r.body, "Code").as_deref(), Some("InvalidAttributeName"));

    // A key that does not exist is accepted now and fails later; naming a key
    // turns SSE-SQS off.
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::KmsMasterKeyId, "testKeyId")
        .attributes(Q::KmsDataKeyReusePeriodSeconds, "6000")
        .send()
        .await
        .expect("accepted without checking the key");
    let a = attrs(&c, &url).await;
    assert_eq!(a.get(&Q::KmsMasterKeyId).map(String::as_str), Some("testKeyId"));
    assert_eq!(
        a.get(&Q::KmsDataKeyReusePeriodSeconds).map(String::as_str),
        Some("6000")
    );
    assert_eq!(a.get(&Q::SqsManagedSseEnabled).map(String::as_str), Some("false"));

    // Out of range reuse periods.
    for bad in ["59", "86401", "x"] {
        let err = c
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(Q::KmsDataKeyReusePeriodSeconds, bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidAttributeValue"), "{bad}");
    }

    // Clearing the key leaves the queue unencrypted.
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::KmsMasterKeyId, "")
        .attributes(Q::KmsDataKeyReusePeriodSeconds, "300")
        .send()
        .await
        .expect("clear");
    let a = attrs(&c, &url).await;
    assert!(!a.contains_key(&Q::KmsMasterKeyId));
    assert!(!a.contains_key(&Q::KmsDataKeyReusePeriodSeconds));
    assert_eq!(a.get(&Q::SqsManagedSseEnabled).map(String::as_str), Some("false"));
    send_ok(&c, &url, "clear again").await;
    let view = envelopes(&server, &url).await;
    assert_eq!(view["messages"][0]["encrypted"], json!(false));
}

#[tokio::test]
async fn sse_kms_bodies_are_envelopes_at_rest_and_round_trip() {
    let server = common::start().await;
    let c = sqs(&server);
    let (key_id, key_arn) = new_key(&server).await;
    let url = create(&c, &[(Q::KmsMasterKeyId, key_id.as_str())]).await;
    let body = "the secret body \"quoted\" \r\n end";
    let sent = c
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .message_attributes(
            "attribName1",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("attribValue 1")
                .build()
                .expect("attr"),
        )
        .send()
        .await
        .expect("SendMessage");
    // Digests are over the plaintext.
    assert_eq!(
        sent.md5_of_message_body(),
        Some(format!("{:x}", md5_of(body)).as_str())
    );
    assert_eq!(
        sent.md5_of_message_attributes(),
        Some("19e27d4e946b072f3f58da80d94fd778")
    );

    let view = envelopes(&server, &url).await;
    let text = view.to_string();
    assert!(
        !text.contains("secret"),
        "plaintext leaked into the envelope view: {text}"
    );
    let m = &view["messages"][0];
    assert_eq!(m["encrypted"], json!(true));
    assert_eq!(m["sse"], json!("SSE-KMS"));
    assert_eq!(m["key_arn"], json!(key_arn));
    let queue_arn = view["queue_arn"].as_str().expect("queue arn");
    assert_eq!(m["encryption_context"], json!({ "aws:sqs:arn": queue_arn }));
    assert_eq!(m["ciphertext_bytes"], json!(body.len()));
    assert!(
        m["tag"].as_str().is_some_and(|t| t.len() == 24),
        "a 16-byte GCM tag"
    );
    assert!(m["nonce"].as_str().is_some_and(|n| n.len() == 16));
    assert!(m["encrypted_data_key"].as_str().is_some_and(|k| k.len() > 40));
    assert!(m.get("body").is_none());

    let got = c
        .receive_message()
        .queue_url(&url)
        .message_attribute_names("All")
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some(body));
    assert_eq!(got[0].md5_of_body(), sent.md5_of_message_body());
    assert_eq!(
        got[0].md5_of_message_attributes(),
        Some("19e27d4e946b072f3f58da80d94fd778")
    );
}

fn md5_of(s: &str) -> u128 {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(s.as_bytes()).into())
}

#[tokio::test]
async fn sse_sqs_queues_seal_with_a_service_owned_key_that_kms_does_not_list() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = create(&c, &[]).await;
    send_ok(&c, &url, "sse-sqs body").await;
    let view = envelopes(&server, &url).await;
    let m = &view["messages"][0];
    assert_eq!(m["encrypted"], json!(true));
    assert_eq!(m["sse"], json!("SSE-SQS"));
    let owned = m["key_arn"].as_str().expect("key").to_owned();
    assert_eq!(take(&c, &url, 10).await, ["sse-sqs body"]);
    let listed = kms(&server).list_keys().send().await.expect("ListKeys");
    assert!(
        listed.keys().iter().all(|k| k.key_arn() != Some(owned.as_str())),
        "service-owned key listed"
    );
    assert!(kms(&server).describe_key().key_id(&owned).send().await.is_err());
}

#[tokio::test]
async fn every_key_identifier_form_works_and_alias_aws_sqs_is_created_on_first_send() {
    let server = common::start().await;
    let c = sqs(&server);
    let k = kms(&server);
    let (key_id, key_arn) = new_key(&server).await;
    let alias = format!("alias/{}", unique("a"));
    k.create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias");
    let alias_arn = format!("arn:aws:kms:us-east-1:000000000000:{alias}");
    for form in [
        key_id.as_str(),
        key_arn.as_str(),
        alias.as_str(),
        alias_arn.as_str(),
    ] {
        let url = create(&c, &[(Q::KmsMasterKeyId, form)]).await;
        send_ok(&c, &url, form).await;
        assert_eq!(take(&c, &url, 10).await, [form]);
        let calls = ledger(&server, &url).await;
        assert!(!calls.is_empty());
        assert!(
            calls.iter().all(|c| c["key_arn"] == json!(key_arn)),
            "{form}: {calls:?}"
        );
    }

    assert!(
        k.describe_key().key_id("alias/aws/sqs").send().await.is_err(),
        "not before first use"
    );
    let url = create(&c, &[(Q::KmsMasterKeyId, "alias/aws/sqs")]).await;
    send_ok(&c, &url, "managed").await;
    let md = k
        .describe_key()
        .key_id("alias/aws/sqs")
        .send()
        .await
        .expect("alias/aws/sqs exists after the first send")
        .key_metadata
        .expect("metadata");
    assert_eq!(md.key_manager(), Some(&aws_sdk_kms::types::KeyManagerType::Aws));
    assert_eq!(take(&c, &url, 10).await, ["managed"]);
    let calls = ledger(&server, &url).await;
    assert_eq!(calls[0]["key_arn"].as_str(), md.arn());
}

/// Runs `rounds` reuse periods with `p` producers and `c` consumers and
/// returns the queue's ledger.
async fn run_periods(server: &Server, p: usize, c: usize, reuse: u64, rounds: u64) -> Vec<Value> {
    let admin = sqs(server);
    let (key_id, _) = new_key(server).await;
    let reuse_s = reuse.to_string();
    let url = create(
        &admin,
        &[
            (Q::KmsMasterKeyId, key_id.as_str()),
            (Q::KmsDataKeyReusePeriodSeconds, reuse_s.as_str()),
        ],
    )
    .await;
    // Creating and configuring the queue costs no KMS call.
    assert!(ledger(server, &url).await.is_empty());
    let producers: Vec<_> = (0..p).map(|i| sqs_as(server, &format!("PRODUCER{i}"))).collect();
    let consumers: Vec<_> = (0..c).map(|i| sqs_as(server, &format!("CONSUMER{i}"))).collect();
    for round in 0..rounds {
        for (i, prod) in producers.iter().enumerate() {
            for j in 0..=c {
                send_ok(prod, &url, &format!("r{round} p{i} m{j}")).await;
            }
        }
        // Every consumer receives at least one message, then the queue is drained.
        let mut received = 0;
        for cons in &consumers {
            received += take(cons, &url, 1).await.len();
        }
        loop {
            let n = take(&consumers[0], &url, 10).await.len();
            if n == 0 {
                break;
            }
            received += n;
        }
        assert_eq!(received, p * (c + 1), "round {round}");
        server.advance(reuse);
    }
    ledger(server, &url).await
}

#[tokio::test]
async fn kms_calls_follow_the_cost_formula_of_the_key_management_guide() {
    let server = manual_server().await;
    for (p, c, reuse) in [(2usize, 1usize, 60u64), (3, 2, 300), (1, 3, 120), (4, 4, 86_400)] {
        let rounds = 3u64;
        let calls = run_periods(&server, p, c, reuse, rounds).await;
        let expected = rounds as usize * (2 * p + c);
        assert_eq!(calls.len(), expected, "P={p} C={c} D={reuse}: {calls:#?}");
        // Each producer: one GenerateDataKey and one verifying Decrypt per period.
        for i in 0..p {
            let who = format!("arn:aws:iam::000000000000:user/PRODUCER{i}");
            let mine: Vec<_> = calls.iter().filter(|c| c["principal"] == json!(who)).collect();
            let gdk = mine
                .iter()
                .filter(|c| c["operation"] == json!("GenerateDataKey"))
                .count();
            let dec = mine.iter().filter(|c| c["operation"] == json!("Decrypt")).count();
            assert_eq!((gdk, dec), (rounds as usize, rounds as usize), "{who}");
        }
        // Each consumer: one Decrypt per period, made as itself.
        for i in 0..c {
            let who = format!("arn:aws:iam::000000000000:user/CONSUMER{i}");
            let mine: Vec<_> = calls.iter().filter(|c| c["principal"] == json!(who)).collect();
            assert_eq!(mine.len(), rounds as usize, "{who}");
            assert!(mine.iter().all(|c| c["operation"] == json!("Decrypt")));
        }
        for call in &calls {
            for field in [
                "operation",
                "key_arn",
                "principal",
                "queue_arn",
                "encryption_context",
                "time",
            ] {
                assert!(
                    call.get(field).is_some_and(|v| !v.is_null()),
                    "{field} missing: {call}"
                );
            }
            assert_eq!(call["encryption_context"]["aws:sqs:arn"], call["queue_arn"]);
        }
    }
}

#[tokio::test]
async fn principals_never_share_data_keys() {
    let server = common::start().await;
    let admin = sqs(&server);
    let (key_id, _) = new_key(&server).await;
    let url = create(&admin, &[(Q::KmsMasterKeyId, key_id.as_str())]).await;
    for who in ["ALICE", "BOB", "ALICE", "BOB"] {
        send_ok(&sqs_as(&server, who), &url, who).await;
    }
    let view = envelopes(&server, &url).await;
    let keys: Vec<&str> = view["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["encrypted_data_key"].as_str().expect("edk"))
        .collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[0], keys[2], "one producer reuses its data key");
    assert_eq!(keys[1], keys[3]);
    assert_ne!(keys[0], keys[1], "two producers never share one");
}

#[tokio::test]
async fn a_message_whose_data_key_is_no_longer_held_costs_its_own_decrypt() {
    let server = manual_server().await;
    let admin = sqs(&server);
    let (key_id, _) = new_key(&server).await;
    let url = create(
        &admin,
        &[
            (Q::KmsMasterKeyId, key_id.as_str()),
            (Q::KmsDataKeyReusePeriodSeconds, "60"),
        ],
    )
    .await;
    let producer = sqs_as(&server, "PRODUCER");
    let consumer = sqs_as(&server, "CONSUMER");
    send_ok(&producer, &url, "one").await;
    send_ok(&producer, &url, "two").await;
    server.advance(30);
    assert_eq!(take(&consumer, &url, 1).await, ["one"]);
    // The data key (made at t=0) is forgotten at t=60; the consumer's
    // grant (made at t=30) is not.
    server.advance(31);
    assert_eq!(take(&consumer, &url, 1).await, ["two"]);
    let decrypts = ledger(&server, &url)
        .await
        .into_iter()
        .filter(|c| c["principal"] == json!("arn:aws:iam::000000000000:user/CONSUMER"))
        .count();
    assert_eq!(decrypts, 2);
}

/// `METHOD /_sealq/kms/calls` with these query parameters; status and JSON.
async fn kms_calls_with(server: &Server, method: reqwest::Method, params: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, format!("{}/_sealq/kms/calls", server.endpoint))
        .query(params)
        .send()
        .await
        .expect("kms/calls");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The calls `GET /_sealq/kms/calls` lists for these parameters.
async fn calls_where(server: &Server, params: &[(&str, &str)]) -> Vec<Value> {
    let (status, v) = kms_calls_with(server, reqwest::Method::GET, params).await;
    assert_eq!(status, 200, "{params:?}: {v}");
    v.as_array()
        .cloned()
        .unwrap_or_else(|| panic!("not an array: {v}"))
}

#[tokio::test]
async fn the_ledger_filters_by_queue_and_principal_and_delete_empties_it() {
    let server = common::start().await;
    let writer = sqs_as(&server, "AKIDWRITER");
    let reader = sqs_as(&server, "AKIDREADER");
    let (one, two) = (create(&writer, &[]).await, create(&writer, &[]).await);
    send_ok(&writer, &one, "a").await;
    send_ok(&writer, &two, "b").await;
    assert_eq!(take(&reader, &one, 1).await, ["a"]);
    let one_arn = common::queue_arn(&writer, &one).await;
    let writer_arn = "arn:aws:iam::000000000000:user/AKIDWRITER";

    // Two sends (GenerateDataKey + Decrypt each) and one receive (Decrypt).
    assert_eq!(calls_where(&server, &[]).await.len(), 5);
    for queue in [queue_name(&one), one_arn.as_str()] {
        let calls = calls_where(&server, &[("queue", queue)]).await;
        assert_eq!(calls.len(), 3, "{queue}");
        assert!(
            calls.iter().all(|c| c["queue_arn"] == json!(one_arn)),
            "{calls:#?}"
        );
    }
    let calls = calls_where(&server, &[("principal", "AKIDREADER")]).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["principal"], "arn:aws:iam::000000000000:user/AKIDREADER");
    assert_eq!(calls[0]["operation"], "Decrypt");
    assert_eq!(calls_where(&server, &[("principal", writer_arn)]).await.len(), 4);
    let both = calls_where(
        &server,
        &[("queue", queue_name(&one)), ("principal", "AKIDWRITER")],
    )
    .await;
    assert_eq!(both.len(), 2);
    assert!(
        both.iter()
            .all(|c| c["queue_arn"] == json!(one_arn) && c["principal"] == writer_arn)
    );
    // Whole names only: no prefixes, no partial paths.
    let prefix = &queue_name(&one)[..queue_name(&one).len() - 1];
    assert!(calls_where(&server, &[("queue", prefix)]).await.is_empty());
    assert!(
        calls_where(&server, &[("principal", "user/AKIDWRITER")])
            .await
            .is_empty()
    );

    // Parameters the endpoint does not take, and empty ones, are refused.
    for params in [
        &[("queue", queue_name(&one)), ("limit", "1")][..],
        &[("queue", "")][..],
        &[("principal", "AKIDWRITER"), ("principal", "AKIDREADER")][..],
    ] {
        let (status, v) = kms_calls_with(&server, reqwest::Method::GET, params).await;
        assert_eq!(status, 400, "{params:?}");
        assert!(v["message"].is_string(), "{params:?}: {v}");
    }
    let (_, v) = kms_calls_with(&server, reqwest::Method::GET, &[("limit", "1")]).await;
    assert!(v["message"].as_str().is_some_and(|m| m.contains("limit")), "{v}");

    // DELETE with a filter is refused rather than clearing everything.
    let (status, v) = kms_calls_with(&server, reqwest::Method::DELETE, &[("queue", queue_name(&one))]).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert_eq!(calls_where(&server, &[]).await.len(), 5);
    let (status, v) = kms_calls_with(&server, reqwest::Method::DELETE, &[]).await;
    assert_eq!((status, v), (200, json!({ "cleared": 5 })));
    assert!(calls_where(&server, &[]).await.is_empty());
    let (status, v) = kms_calls_with(&server, reqwest::Method::DELETE, &[]).await;
    assert_eq!((status, v), (200, json!({ "cleared": 0 })));

    // New calls are recorded from an empty ledger; the metrics counters
    // were not reset.
    send_ok(&sqs_as(&server, "AKIDLATE"), &one, "c").await;
    let calls = calls_where(&server, &[]).await;
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(
        calls
            .iter()
            .all(|c| c["principal"] == "arn:aws:iam::000000000000:user/AKIDLATE")
    );
    let metrics = reqwest::get(format!("{}/_sealq/metrics", server.endpoint))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let generated: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("sealq_kms_calls_total{caller=\"sqs\",operation=\"GenerateDataKey\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(generated, 3.0, "{metrics}");
}

#[tokio::test]
async fn kms_key_state_surfaces_on_cache_misses_only_and_nothing_is_lost() {
    let server = manual_server().await;
    let k = kms(&server);
    let (key_id, key_arn) = new_key(&server).await;
    let producer = sqs(&server);
    let url = create(&producer, &[(Q::KmsMasterKeyId, key_id.as_str())]).await;
    send_ok(&producer, &url, "before").await;
    k.disable_key().key_id(&key_id).send().await.expect("DisableKey");

    // The producer's cached data key keeps working.
    send_ok(&producer, &url, "cached").await;
    // A new principal must call KMS: KmsDisabled.
    let err = sqs_as(&server, "NEWCOMER")
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMS.DisabledException"));
    assert!(
        err.message()
            .is_some_and(|m| m.contains(&format!("{key_arn} is disabled."))),
        "{err:?}"
    );
    assert!(err.into_service_error().is_kms_disabled());
    // A new consumer too; the messages stay in the queue.
    let err = sqs_as(&server, "READER")
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_kms_disabled());
    // After the reuse period, the producer's cache expires too.
    server.advance(300);
    let err = producer
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_kms_disabled());
    // Query protocol: the same code and status.
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "q"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("KMS.DisabledException")
    );
    assert_eq!(xml_text(&r.body, "Type").as_deref(), Some("Sender"));

    k.enable_key().key_id(&key_id).send().await.expect("EnableKey");
    let mut bodies = take(&sqs_as(&server, "READER"), &url, 10).await;
    bodies.sort();
    assert_eq!(bodies, ["before", "cached"], "a failed receive loses nothing");

    // Pending deletion: KmsInvalidState.
    k.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    server.advance(300);
    let err = producer
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMS.InvalidStateException"));
    assert!(
        err.message()
            .is_some_and(|m| m.contains(&format!("{key_arn} is pending deletion."))),
        "{err:?}"
    );
    assert!(err.into_service_error().is_kms_invalid_state());
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "q"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("KMS.InvalidStateException")
    );
}

#[tokio::test]
async fn a_missing_key_fails_on_send_in_both_protocols() {
    let server = common::start().await;
    let c = sqs(&server);
    let url = create(&c, &[(Q::KmsMasterKeyId, "alias/does-not-exist")]).await;
    let err = c
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMS.NotFoundException"));
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(400));
    assert!(err.into_service_error().is_kms_not_found());
    let r = query(
        &server,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "q"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("KMS.NotFoundException")
    );
    let err = c
        .send_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("x")
                .build()
                .expect("entry"),
        )
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_kms_not_found());
}

#[tokio::test]
async fn fault_injection_keeps_cached_keys_working_and_fails_new_callers() {
    let server = common::start().await;
    let (key_id, _) = new_key(&server).await;
    let warm = sqs(&server);
    let url = create(&warm, &[(Q::KmsMasterKeyId, key_id.as_str())]).await;
    send_ok(&warm, &url, "warm").await;

    let (status, v) = admin_post(&server, "/faults", json!({ "kms": "throttling" })).await;
    assert_eq!((status, v), (200, json!({ "kms": "throttling" })));
    send_ok(&warm, &url, "still cached").await;
    let err = sqs_as(&server, "COLD")
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMS.ThrottlingException"));
    assert!(err.into_service_error().is_kms_throttled());
    let r = query_as(
        &server,
        "/",
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "q"),
        ],
        Some("COLDQUERY"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        xml_text(&r.body, "Code").as_deref(),
        Some("KMS.ThrottlingException")
    );

    admin_post(&server, "/faults", json!({ "kms": "unavailable" })).await;
    send_ok(&warm, &url, "cached again").await;
    let err = sqs_as(&server, "COLD")
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));

    let (status, _) = admin_post(&server, "/faults", json!({ "kms": "sideways" })).await;
    assert_eq!(status, 400);
    admin_post(&server, "/faults", json!({ "kms": "healthy" })).await;
    assert_eq!(admin_get(&server, "/faults").await, json!({ "kms": "healthy" }));
    let mut bodies = take(&sqs_as(&server, "COLD"), &url, 10).await;
    bodies.sort();
    assert_eq!(bodies, ["cached again", "still cached", "warm"]);
}

#[tokio::test]
async fn anonymous_requests_to_encrypted_queues_get_invalid_security() {
    let server = common::start().await;
    let c = sqs(&server);
    let encrypted = create(&c, &[]).await;
    let clear = create(&c, &[(Q::SqsManagedSseEnabled, "false")]).await;

    for (action, body) in [
        (
            "GetQueueAttributes",
            json!({ "QueueUrl": encrypted, "AttributeNames": ["All"] }),
        ),
        (
            "SendMessage",
            json!({ "QueueUrl": encrypted, "MessageBody": "x" }),
        ),
        ("ReceiveMessage", json!({ "QueueUrl": encrypted })),
        ("PurgeQueue", json!({ "QueueUrl": encrypted })),
        ("GetQueueUrl", json!({ "QueueName": queue_name(&encrypted) })),
    ] {
        let r = common::json_anonymous(&server, action, body).await;
        assert_eq!(r.status, 403, "{action}: {}", r.body);
        assert_eq!(
            r.headers.get("x-amzn-query-error").and_then(|v| v.to_str().ok()),
            Some("InvalidSecurity;Sender"),
            "{action}"
        );
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["__type"], json!("com.amazonaws.sqs#InvalidSecurity"));
        assert_eq!(
            v["message"],
            json!("All requests to this queue must use HTTPS and SigV4.")
        );
    }
    let r = query_as(
        &server,
        "/",
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &encrypted),
            ("MessageBody", "x"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(xml_text(&r.body, "Code").as_deref(), Some("InvalidSecurity"));

    // Unencrypted queues still serve anonymous requests.
    let r = common::json_anonymous(
        &server,
        "SendMessage",
        json!({ "QueueUrl": clear, "MessageBody": "hi" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = common::json_anonymous(&server, "ReceiveMessage", json!({ "QueueUrl": clear })).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("\"hi\""));
    // Signed requests to the encrypted queue work.
    send_ok(&c, &encrypted, "signed").await;
    assert_eq!(take(&c, &encrypted, 10).await, ["signed"]);
}

#[tokio::test]
async fn changing_encryption_affects_new_messages_only() {
    let server = common::start().await;
    let c = sqs(&server);
    let (key_id, _) = new_key(&server).await;
    let url = create(&c, &[(Q::SqsManagedSseEnabled, "false")]).await;
    send_ok(&c, &url, "plain").await;
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::KmsMasterKeyId, &key_id)
        .send()
        .await
        .expect("turn on SSE-KMS");
    send_ok(&c, &url, "kms").await;
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::SqsManagedSseEnabled, "true")
        .send()
        .await
        .expect("switch to SSE-SQS");
    let a = attrs(&c, &url).await;
    assert!(
        !a.contains_key(&Q::KmsMasterKeyId),
        "turning SSE-SQS on forgets the KMS key"
    );
    send_ok(&c, &url, "sqs").await;
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(Q::SqsManagedSseEnabled, "false")
        .send()
        .await
        .expect("turn off");
    send_ok(&c, &url, "plain again").await;

    let view = envelopes(&server, &url).await;
    let kinds: Vec<Value> = view["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m.get("sse").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        kinds,
        [Value::Null, json!("SSE-KMS"), json!("SSE-SQS"), Value::Null]
    );
    let mut bodies = take(&c, &url, 10).await;
    bodies.sort();
    assert_eq!(bodies, ["kms", "plain", "plain again", "sqs"]);
}

#[tokio::test]
async fn plaintext_data_keys_are_wiped_when_their_reuse_period_passes() {
    let server = manual_server().await;
    let c = sqs(&server);
    let (key_id, _) = new_key(&server).await;
    let url = create(
        &c,
        &[
            (Q::KmsMasterKeyId, key_id.as_str()),
            (Q::KmsDataKeyReusePeriodSeconds, "60"),
        ],
    )
    .await;
    send_ok(&c, &url, "short-lived key").await;
    assert_eq!(server.state.encryption.held_keys(), 1);
    server.advance(59);
    tokio::task::yield_now().await;
    assert_eq!(server.state.encryption.held_keys(), 1, "still within the period");
    server.advance(1);
    // The sweeper wakes at the expiry on the (virtual) clock; bounded wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.state.encryption.held_keys() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired data key is still held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // The message is still readable: a new Decrypt brings the key back.
    assert_eq!(take(&c, &url, 10).await, ["short-lived key"]);
}
