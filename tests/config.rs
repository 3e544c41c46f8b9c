//! The configuration file: the sample `docker/sealq.toml` applied to a
//! server and checked through the official SDKs; reproducible ciphertexts
//! from fixed key material; the `sealq` binary with a good file (settings
//! precedence) and with bad ones (exit code 2, file:line and field named,
//! nothing served).

mod common;

use std::sync::Arc;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, MacAlgorithmSpec};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName as A};
use common::{admin_get, free_port, kms_as, receive_now, sqs_as, start_with_file, wait_healthy};
use sealq::clock::Clock;
use sealq::config::{FileConfig, LogFormat};
use serde_json::Value;

const ORDERS_KEY: &str = "0b6c6b7e-2f4f-4c1a-9d8e-5a3f2e1d0c9b";
const HMAC_KEY: &str = "7d1e4b2a-8c3f-4e5d-a6b7-c8d9e0f1a2b3";
const RETIRED_KEY: &str = "e3a1f9c2-5b6d-4a7e-8f90-1a2b3c4d5e6f";
const ACCOUNT: &str = "000000000000";

fn sample_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/sealq.toml")
}

/// An SQS client of the sample's `orders-service` principal, signing with
/// its registered secret (a registered key is verified).
fn orders_service_sqs(server: &common::Server) -> aws_sdk_sqs::Client {
    common::sqs_signing(
        &server.endpoint,
        "AKIDORDERSERVICE",
        "orders-service-secret",
        "us-east-1",
    )
}

fn sample() -> FileConfig {
    sealq::config::load(sample_path()).unwrap_or_else(|e| panic!("{e}"))
}

async fn url_of(c: &aws_sdk_sqs::Client, name: &str) -> String {
    c.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .queue_url
        .expect("QueueUrl")
}

async fn attrs(c: &aws_sdk_sqs::Client, url: &str) -> std::collections::HashMap<A, String> {
    c.get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default()
}

#[test]
fn the_sample_parses_with_every_server_setting() {
    let f = sample();
    let s = &f.server;
    assert_eq!(s.host.as_deref(), Some("0.0.0.0"));
    assert_eq!(s.port, Some(9324));
    assert_eq!(s.region.as_deref(), Some("us-east-1"));
    assert_eq!(s.account_id.as_deref(), Some(ACCOUNT));
    // Commented out in the sample (right on the host, not in a container network).
    assert_eq!(s.queue_url_base, None);
    assert_eq!(s.sse_sqs_by_default, Some(true));
    assert_eq!(s.log_format, Some(LogFormat::Human));
    assert_eq!(f.keys.len(), 3);
    assert_eq!(f.queues.len(), 5);
    assert_eq!(f.principals.len(), 2);
    assert_eq!(f.roles.len(), 1);
    assert_eq!(f.roles[0].max_session_duration_seconds, Some(7200));
    assert_eq!(f.roles[0].policies[0].name, "consume-orders");
    assert_eq!(f.principals[0].policies[0].name, "produce-orders");
    let dbg = format!("{f:?}");
    assert!(!dbg.contains("orders-service-secret"), "secret in Debug: {dbg}");
    assert!(!dbg.contains("AAECAwQF"), "key material in Debug");
}

#[test]
fn the_samples_commented_queue_url_base_parses_when_uncommented() {
    let text = std::fs::read_to_string(sample_path()).expect("the sample");
    let line = "# queue_url_base = \"http://sealq:9324\"\n";
    assert!(
        text.contains(line),
        "the sample shows queue_url_base commented out"
    );
    let f =
        sealq::config::parse(sample_path(), text.replace(line, &line[2..])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.server.queue_url_base.as_deref(), Some("http://sealq:9324"));
}

#[tokio::test]
async fn the_sample_makes_its_queues_with_their_attributes() {
    let server = start_with_file(&sample(), Arc::new(Clock::system())).await;
    let c = orders_service_sqs(&server);

    let listed = c.list_queues().send().await.unwrap();
    let mut names: Vec<&str> = listed
        .queue_urls()
        .iter()
        .map(|u| u.rsplit('/').next().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["events-dlq.fifo", "events.fifo", "orders", "orders-dlq", "plain"]
    );

    let orders = attrs(&c, &url_of(&c, "orders").await).await;
    assert_eq!(orders[&A::KmsMasterKeyId], "alias/orders");
    assert_eq!(orders[&A::KmsDataKeyReusePeriodSeconds], "300");
    assert_eq!(orders[&A::VisibilityTimeout], "30");
    assert_eq!(orders[&A::SqsManagedSseEnabled], "false");
    let redrive: Value = serde_json::from_str(&orders[&A::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
    );
    let policy: Value = serde_json::from_str(&orders[&A::Policy]).unwrap();
    assert_eq!(policy["Id"], "orders-policy");
    let tags = c
        .list_queue_tags()
        .queue_url(url_of(&c, "orders").await)
        .send()
        .await
        .unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!(tags["team"], "orders");
    assert_eq!(tags["cost-center"], "1234");

    let dlq = attrs(&c, &url_of(&c, "orders-dlq").await).await;
    assert_eq!(dlq[&A::SqsManagedSseEnabled], "true");
    assert_eq!(dlq[&A::MessageRetentionPeriod], "1209600");
    assert!(dlq[&A::RedriveAllowPolicy].contains("byQueue"));

    let fifo = attrs(&c, &url_of(&c, "events.fifo").await).await;
    assert_eq!(fifo[&A::FifoQueue], "true");
    assert_eq!(fifo[&A::ContentBasedDeduplication], "true");
    assert_eq!(fifo[&A::DeduplicationScope], "messageGroup");
    assert_eq!(fifo[&A::FifoThroughputLimit], "perMessageGroupId");
    // Listed before its dead-letter queue in the file, applied after it.
    let redrive: Value = serde_json::from_str(&fifo[&A::RedrivePolicy]).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        "arn:aws:sqs:us-east-1:000000000000:events-dlq.fifo"
    );
    assert_eq!(redrive["maxReceiveCount"], 5);

    let plain = attrs(&c, &url_of(&c, "plain").await).await;
    assert_eq!(plain[&A::SqsManagedSseEnabled], "false");
    assert!(!plain.contains_key(&A::KmsMasterKeyId));
    assert_eq!(plain[&A::ReceiveMessageWaitTimeSeconds], "5");
    assert_eq!(plain[&A::VisibilityTimeout], "60");
    assert_eq!(plain[&A::MessageRetentionPeriod], "345600");
    server.stop().await;
}

#[tokio::test]
async fn the_sample_makes_its_keys_and_aliases() {
    let server = start_with_file(&sample(), Arc::new(Clock::system())).await;
    let k = common::kms_signing(&server.endpoint, "AKIDORDERSERVICE", "orders-service-secret");

    for alias in ["alias/orders", "alias/orders-current"] {
        let meta = k.describe_key().key_id(alias).send().await.unwrap();
        let meta = meta.key_metadata().unwrap();
        assert_eq!(meta.key_id(), ORDERS_KEY, "{alias}");
        assert_eq!(meta.description(), Some("Encrypts the orders queue"));
        assert_eq!(
            meta.arn(),
            Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{ORDERS_KEY}").as_str())
        );
    }
    let rotation = k
        .get_key_rotation_status()
        .key_id(ORDERS_KEY)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    assert_eq!(rotation.rotation_period_in_days(), Some(180));
    let policy = k
        .get_key_policy()
        .key_id(ORDERS_KEY)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(policy.policy().unwrap().contains("\"Id\": \"orders-key\""));
    let tags = k.list_resource_tags().key_id(ORDERS_KEY).send().await.unwrap();
    let mut tags: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            ("env".to_owned(), "dev".to_owned()),
            ("team".to_owned(), "orders".to_owned())
        ]
    );

    let hmac = k
        .describe_key()
        .key_id("alias/webhook-signing")
        .send()
        .await
        .unwrap();
    let hmac = hmac.key_metadata().unwrap();
    assert_eq!(hmac.key_id(), HMAC_KEY);
    assert_eq!(hmac.key_spec().map(|s| s.as_str()), Some("HMAC_256"));
    // The configured secret: HMAC-SHA-256 of "hello" under bytes 100..=131.
    let mac = k
        .generate_mac()
        .key_id(HMAC_KEY)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new("hello"))
        .send()
        .await
        .unwrap();
    let hex: String = mac
        .mac()
        .unwrap()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, hmac_sha256_hex(&(100u8..132).collect::<Vec<_>>(), b"hello"));

    let retired = k.describe_key().key_id(RETIRED_KEY).send().await.unwrap();
    assert_eq!(
        retired.key_metadata().unwrap().key_state(),
        Some(&KeyState::Disabled)
    );
    server.stop().await;
}

/// HMAC-SHA-256 in hex, computed independently of sealq with the aws-lc-rs
/// HMAC.
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&k, message)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_sample_dead_letter_link_and_principals_work() {
    let server = start_with_file(&sample(), Arc::new(Clock::system())).await;
    let producer = orders_service_sqs(&server);
    let worker = sqs_as(&server, "AKIDWORKER");
    let orders = url_of(&producer, "orders").await;
    let dlq = url_of(&producer, "orders-dlq").await;
    producer
        .send_message()
        .queue_url(&orders)
        .message_body("order 1")
        .send()
        .await
        .unwrap();
    for n in 1..=3 {
        assert_eq!(receive_now(&worker, &orders).await.len(), 1, "receive {n}");
        server.advance(31);
    }
    assert!(
        receive_now(&worker, &orders).await.is_empty(),
        "moved after 3 receives"
    );
    let moved = worker
        .receive_message()
        .queue_url(&dlq)
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap();
    let m = &moved.messages()[0];
    assert_eq!(m.body(), Some("order 1"));
    // SenderId stays the access key id.
    assert_eq!(
        m.attributes().unwrap()[&MessageSystemAttributeName::SenderId],
        "AKIDORDERSERVICE"
    );

    let Value::Array(calls) = admin_get(&server, "/kms/calls").await else {
        panic!("ledger is not an array")
    };
    let principal_of = |op: &str| -> Vec<String> {
        calls
            .iter()
            .filter(|c| c["operation"] == op)
            .map(|c| c["principal"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(
        principal_of("GenerateDataKey").contains(&format!("arn:aws:iam::{ACCOUNT}:user/orders-service")),
        "{calls:?}"
    );
    assert!(
        principal_of("Decrypt").contains(&format!("arn:aws:iam::{ACCOUNT}:role/worker")),
        "{calls:?}"
    );
    let kms_calls: Vec<&Value> = calls.iter().filter(|c| c["sse"] == "SSE-KMS").collect();
    assert!(!kms_calls.is_empty(), "{calls:?}");
    for c in kms_calls {
        assert_eq!(
            c["key_arn"],
            format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{ORDERS_KEY}"),
            "{c}"
        );
    }
    assert_eq!(
        server
            .state
            .principals
            .secret_access_key("AKIDORDERSERVICE")
            .map(|s| s.expose().to_owned()),
        Some("orders-service-secret".to_owned())
    );
    server.stop().await;
}

#[tokio::test]
async fn fixed_key_material_decrypts_on_another_server() {
    let file = sample();
    let a = start_with_file(&file, Arc::new(Clock::system())).await;
    let blob = kms_as(&a, "AKIDTEST")
        .encrypt()
        .key_id("alias/orders")
        .plaintext(Blob::new("across servers"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    a.stop().await;

    let b = start_with_file(&file, Arc::new(Clock::system())).await;
    let out = kms_as(&b, "AKIDTEST")
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext().unwrap().as_ref(), b"across servers");
    assert_eq!(
        out.key_id(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{ORDERS_KEY}").as_str())
    );
    b.stop().await;

    // Without fixed material the same key id does not open it.
    let text = std::fs::read_to_string(sample_path()).unwrap().replace(
        "key_material = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"",
        "",
    );
    let random = sealq::config::parse("random.toml", text).unwrap();
    let c = start_with_file(&random, Arc::new(Clock::system())).await;
    let err = kms_as(&c, "AKIDTEST")
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("InvalidCiphertextException"),
        "{err:?}"
    );
    c.stop().await;
}

#[tokio::test]
async fn applying_the_sample_twice_keeps_one_of_everything() {
    let file = sample();
    let server = start_with_file(&file, Arc::new(Clock::system())).await;
    let c = orders_service_sqs(&server);
    let orders = url_of(&c, "orders").await;
    c.send_message()
        .queue_url(&orders)
        .message_body("kept")
        .send()
        .await
        .unwrap();
    sealq::config::apply(&server.state, &file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.list_queues().send().await.unwrap().queue_urls().len(), 5);
    let k = common::kms_signing(&server.endpoint, "AKIDORDERSERVICE", "orders-service-secret");
    assert_eq!(k.list_keys().send().await.unwrap().keys().len(), 3);
    assert_eq!(
        attrs(&c, &orders).await[&A::ApproximateNumberOfMessages],
        "1",
        "the queue was kept, with its message"
    );
    server.stop().await;
}

/// Runs the binary to completion (bounded); exit code and stderr.
fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let port = free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"));
    cmd.args(args)
        .env("SEALQ_PORT", port.to_string())
        .env_remove("SEALQ_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, stderr) = common::refusal(cmd, "with a bad configuration");
    // Nothing is left serving on the port.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something listens on {port}"
    );
    (code, stderr)
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sealq-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    common::record_seed("config_toml", text.as_bytes());
    path
}

#[test]
fn a_bad_file_exits_2_naming_file_line_and_field() {
    let path = temp_file(
        "bad-attr.toml",
        "[[queues]]\nname = \"fine\"\n\n[[queues]]\nname = \"broken\"\n[queues.attributes]\nMaximumMessageSize = 10\n",
    );
    let p = path.to_str().unwrap();
    let (code, stderr) = run_binary(&["serve", "--config", p], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{p}:7:")), "file and line: {stderr}");
    assert!(
        stderr.contains("queues[1].attributes.MaximumMessageSize"),
        "field: {stderr}"
    );
    let _ = std::fs::remove_file(&path);

    // The same through SEALQ_CONFIG and bare `sealq`, with an unknown field.
    let path = temp_file("unknown.toml", "[server]\nport = 1\nprot = 2\n");
    let p = path.to_str().unwrap();
    let (code, stderr) = run_binary(&[], &[("SEALQ_CONFIG", p)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{p}:3:1")), "{stderr}");
    assert!(
        stderr.contains("server.prot") && stderr.contains("unknown field"),
        "{stderr}"
    );

    let _ = std::fs::remove_file(&path);

    // A role whose trust policy sealq cannot evaluate: refused, located.
    let path = temp_file(
        "bad-role.toml",
        "[[roles]]\nname = \"app\"\n[roles.trust_policy]\nVersion = \"2012-10-17\"\n[[roles.trust_policy.Statement]]\n\
         Effect = \"Allow\"\nAction = \"sts:AssumeRole\"\nPrincipal = \"*\"\n\
         Condition = { BinaryEquals = { \"aws:userid\" = \"QUJD\" } }\n",
    );
    let p = path.to_str().unwrap();
    let (code, stderr) = run_binary(&["serve", "--config", p], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{p}:3:")), "file and line: {stderr}");
    assert!(
        stderr.contains("roles[0].trust_policy") && stderr.contains("BinaryEquals"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&path);
    for (text, needle) in [
        (
            "[[roles]]\nname = \"a/b\"\ntrust_policy = '{\"Statement\":[]}'\n",
            "roles[0].name",
        ),
        (
            "[[roles]]\nname = \"ok\"\nmax_session_duration_seconds = 60\ntrust_policy = '{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\"}}'\n",
            "roles[0].max_session_duration_seconds",
        ),
        (
            "[[roles]]\nname = \"ok\"\ntrust_policy = '{not json'\n",
            "not valid JSON",
        ),
    ] {
        let path = temp_file("bad-role-2.toml", text);
        let (code, stderr) = run_binary(&["--config", path.to_str().unwrap()], &[]);
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(stderr.contains(needle), "{text}: {stderr}");
        let _ = std::fs::remove_file(&path);
    }

    // A file that is not there.
    let (code, stderr) = run_binary(&["--config", "/nonexistent/sealq.toml"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent/sealq.toml"), "{stderr}");
}

#[tokio::test]
async fn the_binary_applies_the_file_under_flags_and_environment() {
    let port = free_port();
    let path = temp_file(
        "good.toml",
        &format!(
            "[server]\nport = {port}\nregion = \"eu-west-1\"\naccount_id = \"111111111111\"\n\
             sse_sqs_by_default = false\n\n[[queues]]\nname = \"from-file\"\n"
        ),
    );
    let _server = common::spawn_binary(|cmd| {
        cmd.args([
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--account-id",
            "222222222222",
        ])
        .env_remove("SEALQ_PORT")
        .env_remove("SEALQ_ACCOUNT_ID")
        .env_remove("SEALQ_SSE_SQS_BY_DEFAULT")
        .env("SEALQ_REGION", "ap-south-1");
    });
    // The file's port is used: no flag or variable names one.
    wait_healthy(port).await;
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        // Queues are regional: the file's queue is in the environment's
        // region, where a client of that region finds it.
        .region(aws_sdk_sqs::config::Region::new("ap-south-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDTEST", "s", None, None, "t",
        ))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let c = aws_sdk_sqs::Client::from_conf(conf);
    let url = c
        .get_queue_url()
        .queue_name("from-file")
        .queue_owner_aws_account_id("222222222222")
        .send()
        .await
        .expect("the file's queue exists under the flag's account")
        .queue_url
        .unwrap();
    let a = attrs(&c, &url).await;
    // Flag > file (account), environment > file (region), file > default (SSE).
    assert_eq!(a[&A::QueueArn], "arn:aws:sqs:ap-south-1:222222222222:from-file");
    assert_eq!(a[&A::SqsManagedSseEnabled], "false");
    let _ = std::fs::remove_file(&path);
}
