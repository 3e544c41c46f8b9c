//! `--data-dir`: the real binary restarted (gracefully and by `kill -9`)
//! on one data directory, driven by the official SDKs.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_sdk_sqs::types::QueueAttributeName as Attr;
use common::{free_port, kms_at, sqs_at, wait_healthy};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(common::unique(&format!("sealq-{name}")));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `sealq` binary serving `dir` on a free port.
struct Durable {
    child: std::process::Child,
    port: u16,
}

impl Durable {
    async fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[]).await
    }

    async fn start_with(dir: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--data-dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sealq");
        wait_healthy(port).await;
        Self { child, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn sqs(&self) -> aws_sdk_sqs::Client {
        sqs_at(&self.endpoint(), "AKIDTEST")
    }

    fn url(&self, name: &str) -> String {
        format!("{}/000000000000/{name}", self.endpoint())
    }

    /// SIGTERM, then wait for the process to finish.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "graceful stop exits 0, got {exit:?}");
    }

    /// `kill -9`.
    fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Durable {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary on `dir` and returns its exit status and stderr, for a
/// start that must be refused.
fn refused_start(dir: &Path) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealq"))
        .args(["--host", "127.0.0.1", "--port", &free_port().to_string()])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sealq");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut err = String::new();
            use std::io::Read as _;
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut err)
                .expect("read stderr");
            return (status.code().unwrap_or(-1), err);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("sealq started on a data directory it should refuse");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

async fn admin(endpoint: &str, method: &str, path: &str, body: &str) -> serde_json::Value {
    let c = reqwest::Client::new();
    let url = format!("{endpoint}/_sealq{path}");
    let req = if method == "POST" {
        c.post(url)
            .header("content-type", "application/json")
            .body(body.to_owned())
    } else {
        c.get(url)
    };
    let resp = req.send().await.expect("admin");
    assert_eq!(resp.status().as_u16(), 200);
    serde_json::from_str(&resp.text().await.expect("body")).expect("json")
}

async fn attrs(c: &aws_sdk_sqs::Client, url: &str) -> HashMap<Attr, String> {
    c.get_queue_attributes()
        .queue_url(url)
        .attribute_names(Attr::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default()
}

/// CreateQueue with these attributes; the queue URL.
async fn create(c: &aws_sdk_sqs::Client, name: &str, attributes: &[(Attr, &str)]) -> String {
    let mut req = c.create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(k.clone(), *v);
    }
    req.send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("QueueUrl")
}

/// ListQueues: every queue URL.
async fn queue_urls(c: &aws_sdk_sqs::Client) -> Vec<String> {
    c.list_queues()
        .send()
        .await
        .expect("ListQueues")
        .queue_urls
        .unwrap_or_default()
}

/// SendMessage of `body`.
async fn send(c: &aws_sdk_sqs::Client, url: impl Into<String>, body: impl Into<String>) {
    c.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .expect("SendMessage");
}

/// Encrypt through the KMS API.
async fn encrypt(k: &aws_sdk_kms::Client, key: &str, plaintext: &str) -> aws_sdk_kms::primitives::Blob {
    k.encrypt()
        .key_id(key)
        .plaintext(aws_sdk_kms::primitives::Blob::new(plaintext))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("CiphertextBlob")
}

/// Decrypt through the KMS API.
async fn decrypt(k: &aws_sdk_kms::Client, blob: aws_sdk_kms::primitives::Blob) -> Vec<u8> {
    k.decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .expect("Decrypt")
        .plaintext
        .expect("plaintext")
        .into_inner()
}

/// Every file of `dir`, concatenated (databases and write-ahead logs).
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            out.extend(std::fs::read(&p).expect("read file"));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_queues_messages_keys_tasks_and_the_clock() {
    let dir = TempDir::new("restart");
    let s = Durable::start(&dir.0).await;
    let c = s.sqs();
    let k = kms_at(&s.endpoint(), "AKIDTEST");
    // The virtual clock moved forward by a day.
    let before = admin(&s.endpoint(), "POST", "/clock", "{\"advance_seconds\": 86400}").await["now_ms"]
        .as_u64()
        .unwrap();

    // A KMS key with an alias, and a ciphertext made before the restart.
    let key = k
        .create_key()
        .description("orders")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let key_id = key.key_id;
    k.create_alias()
        .alias_name("alias/orders")
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();
    let blob = encrypt(&k, "alias/orders", "kms-plaintext").await;

    // Queues: SSE-KMS with attributes and tags, a DLQ pair, a FIFO queue.
    let dlq = create(&c, "p-dlq", &[]).await;
    let dlq_arn = attrs(&c, &dlq).await[&Attr::QueueArn].clone();
    let main = c
        .create_queue()
        .queue_name("p-main")
        .attributes(Attr::KmsMasterKeyId, "alias/orders")
        .attributes(Attr::VisibilityTimeout, "45")
        .attributes(
            Attr::RedrivePolicy,
            format!("{{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":\"3\"}}"),
        )
        .tags("team", "payments")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let fifo = create(&c, "p.fifo", &[(Attr::FifoQueue, "true")]).await;
    for i in 0..3 {
        c.send_message()
            .queue_url(&main)
            .message_body(format!("main-{i}"))
            .message_attributes(
                "n",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(i.to_string())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let first = c
        .send_message()
        .queue_url(&fifo)
        .message_body("f1")
        .message_group_id("g")
        .message_deduplication_id("d1")
        .send()
        .await
        .unwrap();
    // One message in flight, received once, with its receipt handle.
    let got = c
        .receive_message()
        .queue_url(&main)
        .max_number_of_messages(1)
        .visibility_timeout(600)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got.len(), 1);
    let handle = got[0].receipt_handle.clone().unwrap();
    let main_attrs = attrs(&c, &main).await;
    s.stop();

    let s = Durable::start(&dir.0).await;
    let c = s.sqs();
    let k = kms_at(&s.endpoint(), "AKIDTEST");
    let now = admin(&s.endpoint(), "GET", "/clock", "").await["now_ms"]
        .as_u64()
        .unwrap();
    assert!(now >= before, "virtual clock kept: {now} >= {before}");
    let urls = queue_urls(&c).await;
    assert_eq!(urls.len(), 3, "{urls:?}");
    let again = attrs(&c, &s.url("p-main")).await;
    for name in [
        Attr::KmsMasterKeyId,
        Attr::VisibilityTimeout,
        Attr::RedrivePolicy,
        Attr::CreatedTimestamp,
        Attr::QueueArn,
    ] {
        assert_eq!(again.get(&name), main_attrs.get(&name), "{name:?}");
    }
    assert_eq!(again[&Attr::ApproximateNumberOfMessages], "2");
    assert_eq!(again[&Attr::ApproximateNumberOfMessagesNotVisible], "1");
    let tags = c
        .list_queue_tags()
        .queue_url(s.url("p-main"))
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.get("team").map(String::as_str), Some("payments"));

    // The remaining messages decrypt, with their attributes.
    let rest = c
        .receive_message()
        .queue_url(s.url("p-main"))
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let mut bodies: Vec<String> = rest.iter().map(|m| m.body.clone().unwrap()).collect();
    bodies.push(got[0].body.clone().unwrap());
    bodies.sort();
    assert_eq!(bodies, ["main-0", "main-1", "main-2"]);
    assert!(
        rest.iter()
            .all(|m| m.message_attributes.as_ref().is_some_and(|a| a.contains_key("n")))
    );
    // The receipt handle from before the restart still deletes its message.
    c.delete_message()
        .queue_url(s.url("p-main"))
        .receipt_handle(&handle)
        .send()
        .await
        .unwrap();
    let after = attrs(&c, &s.url("p-main")).await;
    assert_eq!(after[&Attr::ApproximateNumberOfMessagesNotVisible], "2");

    // FIFO deduplication state survived: the same id is a duplicate.
    let dup = c
        .send_message()
        .queue_url(s.url("p.fifo"))
        .message_body("f1-again")
        .message_group_id("g")
        .message_deduplication_id("d1")
        .send()
        .await
        .unwrap();
    assert_eq!(dup.message_id, first.message_id);
    assert_eq!(dup.sequence_number, first.sequence_number);
    let next = c
        .send_message()
        .queue_url(s.url("p.fifo"))
        .message_body("f2")
        .message_group_id("g")
        .message_deduplication_id("d2")
        .send()
        .await
        .unwrap();
    assert!(
        next.sequence_number.unwrap().parse::<u128>().unwrap()
            > first.sequence_number.unwrap().parse::<u128>().unwrap()
    );

    // The key, its alias, and a ciphertext from before the restart.
    let d = k
        .describe_key()
        .key_id("alias/orders")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(d.key_id, key_id);
    assert_eq!(d.description.as_deref(), Some("orders"));
    assert_eq!(decrypt(&k, blob).await, b"kms-plaintext");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_counts_and_dead_letter_moves_survive_a_restart() {
    let dir = TempDir::new("counts");
    let s = Durable::start(&dir.0).await;
    let c = s.sqs();
    let dlq = create(&c, "c-dlq", &[]).await;
    let dlq_arn = attrs(&c, &dlq).await[&Attr::QueueArn].clone();
    let src = create(
        &c,
        "c-src",
        &[(
            Attr::RedrivePolicy,
            &format!("{{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":\"2\"}}"),
        )],
    )
    .await;
    send(&c, &src, "poison").await;
    for _ in 0..2 {
        let m = c
            .receive_message()
            .queue_url(&src)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        c.change_message_visibility()
            .queue_url(&src)
            .receipt_handle(m[0].receipt_handle.clone().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    s.kill9();

    let s = Durable::start(&dir.0).await;
    let c = s.sqs();
    // Received twice before the crash: the third receive moves it.
    let none = c
        .receive_message()
        .queue_url(s.url("c-src"))
        .send()
        .await
        .unwrap();
    assert!(none.messages.unwrap_or_default().is_empty());
    s.kill9();

    let s = Durable::start(&dir.0).await;
    let c = s.sqs();
    let moved = c
        .receive_message()
        .queue_url(s.url("c-dlq"))
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body.as_deref(), Some("poison"));
    let a = moved[0].attributes.clone().unwrap();
    assert_eq!(
        a[&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount],
        "3"
    );
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_hold_no_plaintext_body_of_an_encrypted_queue() {
    let dir = TempDir::new("plaintext");
    let s = Durable::start(&dir.0).await;
    let c = s.sqs();
    let k = kms_at(&s.endpoint(), "AKIDTEST");
    let key = k.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let sse_sqs = create(&c, "x-sqs", &[]).await;
    let sse_kms = create(&c, "x-kms", &[(Attr::KmsMasterKeyId, key.as_str())]).await;
    let plain = create(&c, "x-plain", &[(Attr::SqsManagedSseEnabled, "false")]).await;
    let secret_sqs = format!("TOP-SECRET-SSE-SQS-{}", uuid_like());
    let secret_kms = format!("TOP-SECRET-SSE-KMS-{}", uuid_like());
    let visible = format!("PLAIN-BODY-{}", uuid_like());
    send(&c, &sse_sqs, &secret_sqs).await;
    c.send_message_batch()
        .queue_url(&sse_kms)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body(&secret_kms)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    send(&c, &plain, &visible).await;
    // A received (in-flight) encrypted message is still stored sealed.
    let got = c
        .receive_message()
        .queue_url(&sse_sqs)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got[0].body.as_deref(), Some(secret_sqs.as_str()));

    // While running (bytes still in the write-ahead log) and after a crash.
    let bytes = all_bytes(&dir.0);
    assert!(
        contains(&bytes, &visible),
        "the search finds a plaintext-queue body"
    );
    assert!(
        !contains(&bytes, &secret_sqs),
        "SSE-SQS body at rest in plaintext"
    );
    assert!(
        !contains(&bytes, &secret_kms),
        "SSE-KMS body at rest in plaintext"
    );
    s.kill9();
    let bytes = all_bytes(&dir.0);
    assert!(!contains(&bytes, &secret_sqs));
    assert!(!contains(&bytes, &secret_kms));

    // And the bodies still open after the restart.
    let s = Durable::start(&dir.0).await;
    let c = s.sqs();
    let got = c
        .receive_message()
        .queue_url(s.url("x-kms"))
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got[0].body.as_deref(), Some(secret_kms.as_str()));
    s.stop();
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{t:x}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_newer_and_foreign_data_dirs_are_refused_and_left_untouched() {
    // Foreign: another program's files.
    let foreign = TempDir::new("foreign");
    std::fs::create_dir_all(&foreign.0).unwrap();
    std::fs::write(foreign.0.join("elasticmq.db"), b"H2 database").unwrap();
    let (code, err) = refused_start(&foreign.0);
    assert_ne!(code, 0);
    assert!(err.contains("not a sealq data directory"), "{err}");
    assert_eq!(
        std::fs::read(foreign.0.join("elasticmq.db")).unwrap(),
        b"H2 database"
    );

    // A valid directory, then damaged three ways.
    let good = TempDir::new("good");
    let s = Durable::start(&good.0).await;
    s.sqs().create_queue().queue_name("keep").send().await.unwrap();
    s.stop();

    // Newer schema.
    {
        let conn = rusqlite::Connection::open(good.0.join("sqs.db")).unwrap();
        conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    let (code, err) = refused_start(&good.0);
    assert_ne!(code, 0);
    assert!(err.contains("newer sealq"), "{err}");
    {
        let conn = rusqlite::Connection::open(good.0.join("sqs.db")).unwrap();
        let v: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 99, "left as it was");
        conn.execute_batch("PRAGMA user_version = 1;").unwrap();
    }
    // Foreign SQLite database in sealq's place.
    let kms = std::fs::read(good.0.join("kms.db")).unwrap();
    {
        let conn = rusqlite::Connection::open(good.0.join("kms.db")).unwrap();
        conn.execute_batch("PRAGMA application_id = 42;").unwrap();
    }
    let (code, err) = refused_start(&good.0);
    assert_ne!(code, 0);
    assert!(
        err.contains("kms.db") && err.contains("not written by sealq"),
        "{err}"
    );
    {
        let conn = rusqlite::Connection::open(good.0.join("kms.db")).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA application_id = {};",
            sealq::store::durable::APPLICATION_ID
        ))
        .unwrap();
    }
    let _ = kms;
    // Corrupt: garbage where the queue database was.
    let garbage = vec![0xA5u8; 8192];
    std::fs::write(good.0.join("sqs.db"), &garbage).unwrap();
    let _ = std::fs::remove_file(good.0.join("sqs.db-wal"));
    let _ = std::fs::remove_file(good.0.join("sqs.db-shm"));
    let (code, err) = refused_start(&good.0);
    assert_ne!(code, 0);
    assert!(err.contains("sqs.db") && err.contains("corrupt"), "{err}");
    assert_eq!(
        std::fs::read(good.0.join("sqs.db")).unwrap(),
        garbage,
        "never emptied"
    );

    // Half a data directory: messages without their keys.
    let half = TempDir::new("half");
    let s = Durable::start(&half.0).await;
    s.stop();
    std::fs::remove_file(half.0.join("kms.db")).unwrap();
    let _ = std::fs::remove_file(half.0.join("kms.db-wal"));
    let (code, err) = refused_start(&half.0);
    assert_ne!(code, 0);
    assert!(err.contains("kms.db is missing"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_dir_refuses_to_start() {
    let dir = TempDir::new("twice");
    let s = Durable::start(&dir.0).await;
    s.sqs().create_queue().queue_name("one").send().await.unwrap();
    let (code, err) = refused_start(&dir.0);
    assert_ne!(code, 0);
    assert!(err.contains("in use by another sealq server"), "{err}");
    // The first one is unharmed.
    let urls = s
        .sqs()
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default();
    assert_eq!(urls.len(), 1);
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_send_and_resurrects_no_acknowledged_delete() {
    for round in 0..3 {
        let dir = TempDir::new(&format!("kill9-{round}"));
        let s = Durable::start(&dir.0).await;
        let c = s.sqs();
        let url = create(&c, "load", &[(Attr::VisibilityTimeout, "1")]).await;
        let (tasks, acked) = common::spawn_load(&c, &url, &format!("r{round}"));
        // Let the load run, then kill the server in the middle of it.
        let ms = 400 + 300 * round;
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        s.kill9();
        for t in tasks {
            let _ = t.await;
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        assert!(acked.sent.len() > 20, "the load ran: {} sends", acked.sent.len());

        let s = Durable::start(&dir.0).await;
        let c = s.sqs();
        // Everything in flight becomes visible again.
        admin(&s.endpoint(), "POST", "/clock", "{\"advance_seconds\": 60}").await;
        let left = common::drain_bodies(&c, &s.url("load")).await;
        let (lost, resurrected) = acked.lost_and_resurrected(&left);
        assert!(
            resurrected.is_empty(),
            "round {round}: deleted messages came back: {resurrected:?}"
        );
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged sends lost: {lost:?}"
        );
        s.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_config_applies_again_on_restart_without_duplicating_anything() {
    let dir = TempDir::new("config");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/sealq.toml");
    let s = Durable::start_with(&dir.0, &["--config", sample]).await;
    let c = s.sqs();
    let k = kms_at(&s.endpoint(), "AKIDTEST");
    let queues = queue_urls(&c).await;
    send(&c, s.url("orders"), "kept").await;
    let blob = encrypt(&k, "alias/orders", "p").await;
    // A change made through the API to a configured attribute...
    c.set_queue_attributes()
        .queue_url(s.url("orders"))
        .attributes(Attr::VisibilityTimeout, "99")
        .send()
        .await
        .unwrap();
    let keys = k.list_keys().send().await.unwrap().keys.unwrap_or_default().len();
    s.stop();

    let s = Durable::start_with(&dir.0, &["--config", sample]).await;
    let c = s.sqs();
    let k = kms_at(&s.endpoint(), "AKIDTEST");
    let again = queue_urls(&c).await;
    assert_eq!(again.len(), queues.len(), "{again:?}");
    assert_eq!(
        k.list_keys().send().await.unwrap().keys.unwrap_or_default().len(),
        keys
    );
    // ...is set back to the file's value; the message stays.
    assert_eq!(attrs(&c, &s.url("orders")).await[&Attr::VisibilityTimeout], "30");
    let got = c
        .receive_message()
        .queue_url(s.url("orders"))
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got[0].body.as_deref(), Some("kept"));
    assert_eq!(decrypt(&k, blob).await, b"p");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_data_dir_nothing_is_written_to_disk() {
    let cwd = TempDir::new("memory-only");
    std::fs::create_dir_all(&cwd.0).unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealq"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(&cwd.0)
        .env("TMPDIR", &cwd.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sealq");
    wait_healthy(port).await;
    let c = sqs_at(&format!("http://127.0.0.1:{port}"), "AKIDTEST");
    let url = create(&c, "m", &[]).await;
    send(&c, &url, "in memory").await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let left: Vec<_> = std::fs::read_dir(&cwd.0).unwrap().collect();
    assert!(left.is_empty(), "files written: {left:?}");
}

#[tokio::test]
async fn temporary_credentials_survive_a_restart_and_old_data_dirs_are_upgraded() {
    let dir = TempDir::new("sessions");
    let config = dir.0.with_extension("toml");
    std::fs::write(
        &config,
        "[[principals]]\naccess_key_id = \"AKIDALICE\"\nname = \"alice\"\nsecret_access_key = \"alice-secret\"\n\
         [[principals.policies]]\nname = \"assume\"\ndocument = { Statement = { Effect = \"Allow\", Action = \"sts:AssumeRole\", Resource = \"*\" } }\n\
         [[roles]]\nname = \"app\"\ntrust_policy = { Statement = { Effect = \"Allow\", Principal = { AWS = \"000000000000\" }, Action = \"sts:AssumeRole\" } }\n",
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap(), "--auth", "verify"];
    let sts = |endpoint: &str, creds: aws_credential_types::Credentials| {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(endpoint)
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    };
    let alice = aws_credential_types::Credentials::new("AKIDALICE", "alice-secret", None, None, "t");
    let s = Durable::start_with(&dir.0, &args).await;
    let out = sts(&s.endpoint(), alice.clone())
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/app")
        .role_session_name("kept")
        .send()
        .await
        .expect("AssumeRole");
    let c = out.credentials().unwrap();
    let session = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "sts",
    );
    s.stop();
    // The session token is not written anywhere, the secret only in kms.db.
    for file in ["sqs.db", "kms.db"] {
        let bytes = std::fs::read(dir.0.join(file)).unwrap();
        let token = c.session_token().as_bytes();
        assert!(!bytes.windows(token.len()).any(|w| w == token), "token in {file}");
    }
    let s = Durable::start_with(&dir.0, &args).await;
    let who = sts(&s.endpoint(), session.clone())
        .get_caller_identity()
        .send()
        .await
        .expect("the session is still valid after a restart");
    assert_eq!(who.arn(), Some("arn:aws:sts::000000000000:assumed-role/app/kept"));
    s.stop();

    // A data directory of schema 1 (no sessions table) is upgraded.
    {
        let conn = rusqlite::Connection::open(dir.0.join("kms.db")).unwrap();
        conn.execute_batch("DROP TABLE sessions; PRAGMA user_version = 1;")
            .unwrap();
        let conn = rusqlite::Connection::open(dir.0.join("sqs.db")).unwrap();
        conn.execute_batch("PRAGMA user_version = 1;").unwrap();
    }
    let s = Durable::start_with(&dir.0, &args).await;
    let e = sts(&s.endpoint(), session)
        .get_caller_identity()
        .send()
        .await
        .expect_err("the schema-1 directory kept no session");
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&e),
        Some("InvalidClientTokenId")
    );
    sts(&s.endpoint(), alice)
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/app")
        .role_session_name("again")
        .send()
        .await
        .expect("sessions are kept again after the upgrade");
    s.stop();
    for file in ["sqs.db", "kms.db"] {
        let conn = rusqlite::Connection::open(dir.0.join(file)).unwrap();
        let v: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 3, "{file}");
    }
    let _ = std::fs::remove_file(&config);
}

#[tokio::test]
async fn keys_and_aliases_of_every_account_survive_a_restart_and_old_alias_tables_are_the_servers() {
    use aws_sdk_kms::error::ProvideErrorMetadata as _;
    let dir = TempDir::new("accounts");
    let config = dir.0.with_extension("toml");
    let all = "[[principals.policies]]\nname = \"all\"\ndocument = { Statement = { Effect = \"Allow\", Action = \"kms:*\", Resource = \"*\" } }\n";
    std::fs::write(
        &config,
        format!(
            "[[principals]]\naccess_key_id = \"AKIDALICE\"\nname = \"alice\"\nsecret_access_key = \"alice-secret\"\n{all}\
             [[principals]]\naccess_key_id = \"AKIDBOB\"\nname = \"bob\"\naccount = \"111111111111\"\nsecret_access_key = \"bob-secret\"\n{all}"
        ),
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap(), "--auth", "verify"];
    let s = Durable::start_with(&dir.0, &args).await;
    let alice = common::kms_signing(&s.endpoint(), "AKIDALICE", "alice-secret");
    let bob = common::kms_signing(&s.endpoint(), "AKIDBOB", "bob-secret");
    let bobs = bob
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap();
    let bobs_arn = bobs.arn().unwrap().to_owned();
    assert!(
        bobs_arn.starts_with("arn:aws:kms:us-east-1:111111111111:key/"),
        "{bobs_arn}"
    );
    bob.create_alias()
        .alias_name("alias/b")
        .target_key_id(bobs.key_id())
        .send()
        .await
        .expect("CreateAlias");
    let alices = alice
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap();
    alice
        .create_alias()
        .alias_name("alias/mine")
        .target_key_id(alices.key_id())
        .send()
        .await
        .expect("CreateAlias");
    let blob = encrypt(&bob, "alias/b", "kept").await;
    s.stop();

    let s = Durable::start_with(&dir.0, &args).await;
    let alice = common::kms_signing(&s.endpoint(), "AKIDALICE", "alice-secret");
    let bob = common::kms_signing(&s.endpoint(), "AKIDBOB", "bob-secret");
    let described = bob
        .describe_key()
        .key_id("alias/b")
        .send()
        .await
        .expect("bob's alias survived")
        .key_metadata
        .unwrap();
    assert_eq!(described.arn(), Some(bobs_arn.as_str()));
    assert_eq!(described.aws_account_id(), Some("111111111111"));
    assert_eq!(decrypt(&bob, blob.clone()).await, b"kept");
    let e = alice
        .describe_key()
        .key_id("alias/b")
        .send()
        .await
        .expect_err("bob's alias is not alice's");
    assert_eq!(e.code(), Some("NotFoundException"));
    let listed = bob.list_keys().send().await.expect("ListKeys");
    assert_eq!(listed.keys().len(), 1);
    assert_eq!(listed.keys()[0].key_arn(), Some(bobs_arn.as_str()));
    s.stop();

    // A key database of schema 2 (aliases without an account): its aliases
    // are the server's account's.
    {
        let conn = rusqlite::Connection::open(dir.0.join("kms.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE old (name TEXT PRIMARY KEY, target TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
             INSERT INTO old SELECT name, target, created_ms, updated_ms FROM aliases WHERE account = '000000000000';
             DROP TABLE aliases; ALTER TABLE old RENAME TO aliases; PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let s = Durable::start_with(&dir.0, &args).await;
    let alice = common::kms_signing(&s.endpoint(), "AKIDALICE", "alice-secret");
    let bob = common::kms_signing(&s.endpoint(), "AKIDBOB", "bob-secret");
    let mine = alice
        .describe_key()
        .key_id("alias/mine")
        .send()
        .await
        .expect("the old alias is the server account's")
        .key_metadata
        .unwrap();
    assert_eq!(mine.key_id(), alices.key_id());
    // Bob's key kept its account (its record names it).
    assert_eq!(decrypt(&bob, blob).await, b"kept");
    s.stop();
    let conn = rusqlite::Connection::open(dir.0.join("kms.db")).unwrap();
    let v: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, 3);
    let _ = std::fs::remove_file(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_and_keys_keep_their_region_across_a_restart() {
    let dir = TempDir::new("regions");
    let s = Durable::start(&dir.0).await;
    let west = common::sqs_signing(&s.endpoint(), "AKIDTEST", "secret", "us-west-2");
    let kms = common::kms_in(&s.endpoint(), "AKIDTEST", "secret", "us-west-2");
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    kms.create_alias()
        .alias_name("alias/west")
        .target_key_id(key.key_id())
        .send()
        .await
        .unwrap();
    let url = create(&west, "w-sse", &[(Attr::KmsMasterKeyId, "alias/west")]).await;
    send(&west, &url, "kept in us-west-2").await;
    s.stop();

    let s = Durable::start(&dir.0).await;
    let west = common::sqs_signing(&s.endpoint(), "AKIDTEST", "secret", "us-west-2");
    let url = format!("{}/us-west-2/000000000000/w-sse", s.endpoint());
    assert_eq!(
        attrs(&west, &url).await[&Attr::QueueArn],
        "arn:aws:sqs:us-west-2:000000000000:w-sse"
    );
    let got = common::receive_now(&west, &url).await;
    assert_eq!(got[0].body(), Some("kept in us-west-2"));
    let kms = common::kms_in(&s.endpoint(), "AKIDTEST", "secret", "us-west-2");
    let again = kms.describe_key().key_id("alias/west").send().await.unwrap();
    assert_eq!(again.key_metadata().unwrap().arn(), key.arn());
    // Still not in the server's region.
    assert!(queue_urls(&s.sqs()).await.iter().all(|u| !u.ends_with("/w-sse")));
    s.stop();
}

/// In one process (as tests that embed sealq restart it): once `serve`
/// returns, the data directory is free, even while something still holds
/// the stopped server's state, and the new server finds what the old one
/// wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_releases_its_data_directory_while_its_state_is_still_held() {
    let dir = TempDir::new("reopen");
    let open = || {
        let config = sealq::Config {
            data_dir: Some(dir.0.clone()),
            ..sealq::Config::default()
        };
        sealq::AppState::open(config, std::sync::Arc::new(sealq::clock::Clock::system()))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = open().expect("the directory opens");
    let held = state.clone();
    let server = common::launch_with_tls(listener, None, state);
    let c = sqs_at(&server.endpoint, "AKIDTEST");
    c.create_queue().queue_name("kept").send().await.unwrap();
    // While it runs, the directory is taken.
    let Err(refused) = open() else {
        panic!("a second server is refused while the first runs");
    };
    assert!(
        refused.to_string().contains("in use by another sealq server"),
        "{refused}"
    );
    server.stop().await;
    let again = open().expect("the directory opens once the first server stopped");
    assert!(again.store.get("us-east-1", "000000000000", "kept").is_some());
    drop(held);
}
