//! The least-privilege sample (`docker/least-privilege.toml`) end to end
//! through the official SDKs over HTTPS: the producer, consumer, DLQ-reader
//! and admin roles can do exactly their jobs; each permission removed one at
//! a time gives the error AWS gives (`AccessDenied` 403 for SQS permissions,
//! `KMS.AccessDeniedException` 400 for the KMS permissions SSE needs, once
//! the cached data key's reuse period is over); a consumer that may not
//! decrypt leaves the messages in the queue; and the decisions and the
//! ledger show why.

mod common;

use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_sdk_sqs::error::ProvideErrorMetadata as _;
use aws_sdk_sqs::types::{MessageSystemAttributeName as M, QueueAttributeName as A};
use sealq::clock::Clock;
use sealq::{AppState, Config};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const SAMPLE: &str = include_str!("../docker/least-privilege.toml");
const ACCOUNT: &str = "000000000000";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/5c0f5e3a-9b1d-4c2e-8f7a-6d5e4c3b2a19";
const DENIED: &str = "Access to the resource https://sqs.us-east-1.amazonaws.com/ is denied.";

/// The sample served over HTTP and HTTPS (its local CA trusted by the
/// clients made here).
struct Lab {
    server: common::Server,
    https: String,
    ca: String,
}

/// A client of SDK crate `$sdk` for `$endpoint` with `$creds`, trusting
/// the lab's CA, with no retries.
macro_rules! client {
    ($sdk:ident, $lab:expr, $endpoint:expr, $creds:expr) => {{
        let conf = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($creds)
            .endpoint_url($endpoint)
            .http_client(common::https_trusting(&$lab.ca))
            .retry_config($sdk::config::retry::RetryConfig::disabled())
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

/// One role's session, with clients over HTTPS (and SQS over plain HTTP).
struct Session {
    arn: String,
    sqs: aws_sdk_sqs::Client,
    sqs_plain: aws_sdk_sqs::Client,
    kms: aws_sdk_kms::Client,
}

async fn lab() -> Lab {
    let file = sealq::config::parse("least-privilege.toml", SAMPLE.to_owned()).expect("the sample parses");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind TLS");
    let tls_port = tls_listener.local_addr().expect("addr").port();
    let mut config = file.server_config(Config::default());
    config.port = listener.local_addr().expect("addr").port();
    config.queue_url_base = None;
    config.tls.port = Some(tls_port);
    config.tls.ca_out = None;
    let state = AppState::with_clock(config, Arc::new(Clock::system()));
    sealq::config::apply(&state, &file).expect("the sample applies");
    let identity = sealq::tls::Identity::prepare(&state.config.tls, None).expect("TLS identity");
    let ca = identity.ca_pem.clone().expect("the local CA");
    let server = common::launch_with_tls(
        listener,
        Some(sealq::tls::TlsListener::new(tls_listener, identity.config)),
        state,
    );
    Lab {
        server,
        https: format!("https://localhost:{tls_port}"),
        ca,
    }
}

impl Lab {
    /// The URL of the sample's queue `name` over HTTPS.
    fn url(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.https)
    }

    /// A session of the sample's `role`, assumed by the user `app`.
    async fn assume(&self, role: &str) -> Session {
        let app = Credentials::new(
            "AKIDLEASTPRIVAPP",
            "least-privilege-app-secret",
            None,
            None,
            "test",
        );
        let sts = client!(aws_sdk_sts, self, &self.https, app);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
            .role_session_name("lab")
            .send()
            .await
            .unwrap_or_else(|e| panic!("AssumeRole {role}: {e:?}"));
        let c = out.credentials().expect("credentials");
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "sts",
        );
        Session {
            arn: out.assumed_role_user().expect("user").arn().to_owned(),
            sqs: client!(aws_sdk_sqs, self, &self.https, creds.clone()),
            sqs_plain: client!(aws_sdk_sqs, self, &self.server.endpoint, creds.clone()),
            kms: client!(aws_sdk_kms, self, &self.https, creds),
        }
    }

    /// Replaces the inline policies of `role` (`PUT /_sealq/iam/roles/...`).
    async fn set_role_policies(&self, role: &str, policies: Value) {
        let r = reqwest::Client::new()
            .put(format!(
                "{}/_sealq/iam/roles/{role}/policies",
                self.server.endpoint
            ))
            .body(policies.to_string())
            .send()
            .await
            .expect("PUT");
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
    }

    /// The sample's key policy, changed by `edit`, put back by the admin
    /// role through KMS's PutKeyPolicy.
    async fn edit_key_policy(&self, admin: &Session, edit: impl FnOnce(&mut Value)) {
        let got = admin
            .kms
            .get_key_policy()
            .key_id(KEY_ARN)
            .send()
            .await
            .expect("the admin reads the key policy");
        let mut policy: Value = serde_json::from_str(got.policy().expect("a policy")).expect("JSON");
        edit(&mut policy);
        admin
            .kms
            .put_key_policy()
            .key_id(KEY_ARN)
            .policy(policy.to_string())
            .send()
            .await
            .expect("the admin puts the key policy");
    }

    /// The KMS calls SQS made as `principal`, oldest first.
    async fn ledger_of(&self, principal: &str) -> Vec<Value> {
        let v = common::admin_get(&self.server, "/kms/calls").await;
        v.as_array()
            .expect("a list")
            .iter()
            .filter(|c| c["principal"] == json!(principal))
            .cloned()
            .collect()
    }
}

/// The statement `sid` of a key policy.
fn statement<'a>(policy: &'a mut Value, sid: &str) -> &'a mut Value {
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .iter_mut()
        .find(|s| s["Sid"] == json!(sid))
        .expect("the statement")
}

async fn send(s: &Session, url: &str, body: &str) -> Result<(), (String, String, u16)> {
    s.sqs
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            (
                e.code().unwrap_or_default().to_owned(),
                e.message().unwrap_or_default().to_owned(),
                e.raw_response().map_or(0, |r| r.status().as_u16()),
            )
        })
}

async fn receive(s: &Session, url: &str) -> Result<Vec<aws_sdk_sqs::types::Message>, (String, String, u16)> {
    s.sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(M::ApproximateReceiveCount)
        .send()
        .await
        .map(|o| o.messages().to_vec())
        .map_err(|e| {
            (
                e.code().unwrap_or_default().to_owned(),
                e.message().unwrap_or_default().to_owned(),
                e.raw_response().map_or(0, |r| r.status().as_u16()),
            )
        })
}

/// The queue attribute `name` of `url`, as `s` reads it.
async fn attribute(s: &Session, url: &str, name: A) -> Option<String> {
    s.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes()
        .and_then(|a| a.get(&name))
        .cloned()
}

/// Receives the one message of `url` as `consumer` three times without
/// deleting it, letting each visibility timeout pass: the orders queue's
/// redrive policy then moves it to the dead-letter queue.
async fn fail_three_times(lab: &Lab, consumer: &Session, url: &str) {
    for _ in 0..3 {
        assert_eq!(receive(consumer, url).await.expect("received").len(), 1);
        lab.server.advance(30);
    }
    assert!(
        receive(consumer, url).await.expect("received").is_empty(),
        "moved"
    );
}

fn access_denied() -> (String, String, u16) {
    ("AccessDenied".to_owned(), DENIED.to_owned(), 403)
}

/// `KMS.AccessDeniedException` as SQS relays it, for `action` by `who`.
fn assert_kms_denied(got: &(String, String, u16), who: &str, action: &str) {
    assert_eq!(
        (got.0.as_str(), got.2),
        ("KMS.AccessDeniedException", 400),
        "{got:?}"
    );
    let kms = format!(
        "User: {who} is not authorized to perform: {action} on resource: {KEY_ARN} because no resource-based policy allows the {action} action"
    );
    assert!(
        got.1.starts_with(&kms)
            && got
                .1
                .contains("(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException;"),
        "{got:?}"
    );
}

#[tokio::test]
async fn each_role_can_do_its_job_and_nothing_more() {
    let lab = lab().await;
    let (orders, dlq) = (lab.url("orders"), lab.url("orders-dlq"));
    let producer = lab.assume("orders-producer").await;
    let consumer = lab.assume("orders-consumer").await;
    let reader = lab.assume("orders-dlq-reader").await;
    let admin = lab.assume("orders-admin").await;

    // The producer sends over HTTPS; over plain HTTP the queue policy
    // denies it.
    send(&producer, &orders, "order-1")
        .await
        .expect("the producer sends");
    let e = producer
        .sqs_plain
        .send_message()
        .queue_url(format!("{}/{ACCOUNT}/orders", lab.server.endpoint))
        .message_body("plain")
        .send()
        .await
        .expect_err("plain HTTP is denied");
    assert_eq!((e.code(), e.message()), (Some("AccessDenied"), Some(DENIED)));
    // It may not read, nor use the key outside SQS.
    assert_eq!(receive(&producer, &orders).await.unwrap_err(), access_denied());
    let e = producer
        .kms
        .generate_data_key()
        .key_id(KEY_ARN)
        .number_of_bytes(32)
        .send()
        .await
        .expect_err("the key is usable through SQS only");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    assert_eq!(
        e.message().unwrap_or_default(),
        format!(
            "User: {} is not authorized to perform: kms:GenerateDataKey on resource: {KEY_ARN} because no resource-based policy allows the kms:GenerateDataKey action",
            producer.arn
        )
    );

    // The consumer reads and deletes, and may not send.
    let got = receive(&consumer, &orders).await.expect("the consumer receives");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("order-1"));
    consumer
        .sqs
        .delete_message()
        .queue_url(&orders)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .send()
        .await
        .expect("the consumer deletes");
    assert_eq!(send(&consumer, &orders, "x").await.unwrap_err(), access_denied());

    // The admin runs the queue but reads nothing and decrypts nothing.
    assert_eq!(
        attribute(&admin, &orders, A::KmsMasterKeyId).await.as_deref(),
        Some("alias/orders"),
        "the admin reads attributes"
    );
    assert_eq!(receive(&admin, &orders).await.unwrap_err(), access_denied());
    admin
        .kms
        .describe_key()
        .key_id(KEY_ARN)
        .send()
        .await
        .expect("the admin describes the key");
    send(&producer, &orders, "order-2")
        .await
        .expect("the producer sends");
    assert_eq!(
        receive(&admin, &orders).await.unwrap_err(),
        access_denied(),
        "the admin may not read"
    );

    // A message the consumer fails three times moves to the dead-letter
    // queue with the envelope the orders key made; the DLQ reader decrypts
    // it with kms:Decrypt on the SOURCE queue's key.
    fail_three_times(&lab, &consumer, &orders).await;
    let got = receive(&reader, &dlq).await.expect("the DLQ reader receives");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("order-2"));
    let calls = lab.ledger_of(&reader.arn).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["operation"], "Decrypt");
    assert_eq!(calls[0]["key_arn"], KEY_ARN);
    assert_eq!(calls[0]["queue_arn"], "arn:aws:sqs:us-east-1:000000000000:orders");
    assert_eq!(calls[0]["error"], Value::Null);

    // The decisions show the data-key calls SQS made for the producer,
    // through SQS, with the key policy's statement that allowed them.
    let d = common::admin_get(
        &lab.server,
        &format!(
            "/authz/decisions?principal={}&action=kms:GenerateDataKey",
            producer.arn
        ),
    )
    .await;
    let via_sqs = d
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["decision"] == "allow")
        .expect("an allowed GenerateDataKey");
    assert_eq!(via_sqs["via_service"], "sqs.us-east-1.amazonaws.com");
    assert_eq!(via_sqs["resource"], KEY_ARN);
    assert_eq!(via_sqs["deciding_statements"][0]["policy"], "key policy");
    assert_eq!(via_sqs["deciding_statements"][0]["sid"], "ProducerThroughSqs");
    assert_eq!(
        via_sqs["context"]["kms:viaservice"],
        "sqs.us-east-1.amazonaws.com"
    );
    assert_eq!(
        via_sqs["context"]["kms:encryptioncontext:aws:sqs:arn"],
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );
    // As in AWS's forward access sessions, the caller's address is kept.
    assert_eq!(via_sqs["context"]["aws:sourceip"], "127.0.0.1");
    assert_eq!(via_sqs["context"]["aws:viaawsservice"], "true");
}

#[tokio::test]
async fn a_producer_without_an_sqs_or_kms_permission_gets_the_error_aws_gives() {
    let lab = lab().await;
    let orders = lab.url("orders");
    let producer = lab.assume("orders-producer").await;
    let admin = lab.assume("orders-admin").await;
    send(&producer, &orders, "first").await.expect("sends");

    // Without sqs:SendMessage in its identity policy: AccessDenied.
    lab.set_role_policies(
        "orders-producer",
        json!([{"name": "send-orders", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:GetQueueUrl", "Resource": "arn:aws:sqs:us-east-1:000000000000:orders"}]}}]),
    )
    .await;
    assert_eq!(send(&producer, &orders, "x").await.unwrap_err(), access_denied());
    lab.set_role_policies(
        "orders-producer",
        json!([{"name": "send-orders", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:000000000000:orders"}]}}]),
    )
    .await;

    // Without kms:GenerateDataKey in the key policy: the cached data key
    // keeps working until its reuse period is over, as on AWS.
    lab.edit_key_policy(&admin, |p| {
        statement(p, "ProducerThroughSqs")["Action"] = json!(["kms:Decrypt"]);
    })
    .await;
    send(&producer, &orders, "cached")
        .await
        .expect("the cached data key still works");
    lab.server.advance(301);
    let e = send(&producer, &orders, "x").await.unwrap_err();
    assert_kms_denied(&e, &producer.arn, "kms:GenerateDataKey");
    let calls = lab.ledger_of(&producer.arn).await;
    let last = calls.last().expect("the denied call");
    assert_eq!(last["operation"], "GenerateDataKey");
    assert_eq!(last["error"], "AccessDeniedException");

    // Without kms:Decrypt (SQS checks each new data key with a Decrypt).
    lab.edit_key_policy(&admin, |p| {
        statement(p, "ProducerThroughSqs")["Action"] = json!(["kms:GenerateDataKey"]);
    })
    .await;
    let e = send(&producer, &orders, "x").await.unwrap_err();
    assert_kms_denied(&e, &producer.arn, "kms:Decrypt");

    // Without the kms:ViaService condition met (the condition names another
    // service): denied too.
    lab.edit_key_policy(&admin, |p| {
        let s = statement(p, "ProducerThroughSqs");
        s["Action"] = json!(["kms:GenerateDataKey", "kms:Decrypt"]);
        s["Condition"] = json!({"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}});
    })
    .await;
    let e = send(&producer, &orders, "x").await.unwrap_err();
    assert_kms_denied(&e, &producer.arn, "kms:GenerateDataKey");

    // Restored: the producer sends again at once (no data key was cached).
    lab.edit_key_policy(&admin, |p| {
        statement(p, "ProducerThroughSqs")["Condition"] =
            json!({"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}});
    })
    .await;
    send(&producer, &orders, "again").await.expect("sends");
}

#[tokio::test]
async fn a_consumer_that_may_not_decrypt_leaves_the_messages_in_the_queue() {
    let lab = lab().await;
    let orders = lab.url("orders");
    let producer = lab.assume("orders-producer").await;
    let consumer = lab.assume("orders-consumer").await;
    let admin = lab.assume("orders-admin").await;
    send(&producer, &orders, "kept").await.expect("sends");

    lab.edit_key_policy(&admin, |p| {
        statement(p, "ConsumersThroughSqs")["Principal"] =
            json!({"AWS": "arn:aws:iam::000000000000:role/orders-dlq-reader"});
    })
    .await;
    let e = receive(&consumer, &orders).await.unwrap_err();
    assert_kms_denied(&e, &consumer.arn, "kms:Decrypt");
    let calls = lab.ledger_of(&consumer.arn).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["operation"], "Decrypt");
    assert_eq!(calls[0]["error"], "AccessDeniedException");

    // The message stayed, in flight until the visibility timeout.
    assert_eq!(
        attribute(&admin, &orders, A::ApproximateNumberOfMessagesNotVisible)
            .await
            .as_deref(),
        Some("1")
    );
    let e = receive(&consumer, &orders).await.expect("nothing visible yet");
    assert!(e.is_empty());

    // Granted again: after the visibility timeout it is received, the
    // failed receive counted.
    lab.edit_key_policy(&admin, |p| {
        statement(p, "ConsumersThroughSqs")["Principal"] = json!({"AWS": [
            "arn:aws:iam::000000000000:role/orders-consumer",
            "arn:aws:iam::000000000000:role/orders-dlq-reader"]});
    })
    .await;
    lab.server.advance(30);
    let got = receive(&consumer, &orders).await.expect("received");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("kept"));
    assert_eq!(
        got[0]
            .attributes()
            .and_then(|a| a.get(&M::ApproximateReceiveCount))
            .map(String::as_str),
        Some("2")
    );

    // Without sqs:ReceiveMessage: AccessDenied, before any KMS call.
    lab.set_role_policies(
        "orders-consumer",
        json!([{"name": "consume-orders", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:DeleteMessage", "Resource": "arn:aws:sqs:us-east-1:000000000000:orders"}]}}]),
    )
    .await;
    assert_eq!(receive(&consumer, &orders).await.unwrap_err(), access_denied());
}

#[tokio::test]
async fn a_dlq_reader_needs_decrypt_on_the_source_queues_key() {
    let lab = lab().await;
    let (orders, dlq) = (lab.url("orders"), lab.url("orders-dlq"));
    let producer = lab.assume("orders-producer").await;
    let consumer = lab.assume("orders-consumer").await;
    let reader = lab.assume("orders-dlq-reader").await;
    let admin = lab.assume("orders-admin").await;
    send(&producer, &orders, "poison").await.expect("sends");
    fail_three_times(&lab, &consumer, &orders).await;

    lab.edit_key_policy(&admin, |p| {
        statement(p, "ConsumersThroughSqs")["Principal"] =
            json!({"AWS": "arn:aws:iam::000000000000:role/orders-consumer"});
    })
    .await;
    let e = receive(&reader, &dlq).await.unwrap_err();
    assert_kms_denied(&e, &reader.arn, "kms:Decrypt");
    let calls = lab.ledger_of(&reader.arn).await;
    assert_eq!(calls[0]["queue_arn"], "arn:aws:sqs:us-east-1:000000000000:orders");
    assert_eq!(calls[0]["error"], "AccessDeniedException");
}

#[tokio::test]
async fn a_move_task_into_an_encrypted_queue_needs_its_owner_to_use_the_key() {
    let lab = lab().await;
    let orders = lab.url("orders");
    let producer = lab.assume("orders-producer").await;
    let consumer = lab.assume("orders-consumer").await;
    let admin = lab.assume("orders-admin").await;
    send(&producer, &orders, "redriven").await.expect("sends");
    fail_three_times(&lab, &consumer, &orders).await;
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:orders-dlq";

    // Without kms:GenerateDataKey on the orders key, the task fails.
    lab.edit_key_policy(&admin, |p| {
        statement(p, "AdminRedrivesThroughSqs")["Action"] = json!("kms:DescribeKey");
    })
    .await;
    admin
        .sqs
        .start_message_move_task()
        .source_arn(dlq_arn)
        .send()
        .await
        .expect("the task starts");
    let tasks = admin
        .sqs
        .list_message_move_tasks()
        .source_arn(dlq_arn)
        .send()
        .await
        .expect("ListMessageMoveTasks");
    let task = &tasks.results()[0];
    assert_eq!(task.status(), Some("FAILED"));
    assert_eq!(task.failure_reason(), Some("KMS.AccessDeniedException"));
    assert_eq!(task.approximate_number_of_messages_moved(), 0);

    // With it, the message moves back and the consumer reads it.
    lab.edit_key_policy(&admin, |p| {
        statement(p, "AdminRedrivesThroughSqs")["Action"] = json!("kms:GenerateDataKey");
    })
    .await;
    admin
        .sqs
        .start_message_move_task()
        .source_arn(dlq_arn)
        .send()
        .await
        .expect("the task starts");
    let mut got = Vec::new();
    for _ in 0..50 {
        got = receive(&consumer, &orders).await.expect("received");
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("redriven"));
    // The consumer may not cancel or list the admin's tasks.
    let e = consumer
        .sqs
        .list_message_move_tasks()
        .source_arn(dlq_arn)
        .send()
        .await
        .expect_err("not the consumer's");
    assert_eq!(e.code(), Some("AccessDenied"));
}

/// Runs `sealq explain-access` against the lab: exit code and stdout.
async fn explain_access(lab: &Lab, args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealq"))
        .arg("explain-access")
        .args(["--endpoint", &lab.server.endpoint])
        .args(args)
        .output()
        .await
        .expect("run sealq explain-access");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn explain_access_simulates_kms_calls_directly_and_through_sqs() {
    let lab = lab().await;
    let producer = "arn:aws:sts::000000000000:assumed-role/orders-producer/lab";
    let base = [
        "--principal",
        producer,
        "--action",
        "kms:GenerateDataKey",
        "--resource",
        "alias/orders",
    ];
    // Directly: the key policy's statement needs kms:ViaService.
    let (code, out) = explain_access(&lab, &base).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.starts_with("decision:  implicit_deny\n"), "{out}");
    assert!(out.contains(&format!("resource:  {KEY_ARN}")), "{out}");
    assert!(out.contains("kms:calleraccount = 000000000000"), "{out}");
    // Through SQS: allowed by the producer's statement.
    let mut via = base.to_vec();
    via.extend([
        "--context",
        "kms:ViaService=sqs.us-east-1.amazonaws.com",
        "--context",
        "kms:EncryptionContext:aws:sqs:arn=arn:aws:sqs:us-east-1:000000000000:orders",
    ]);
    let (code, out) = explain_access(&lab, &via).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("key policy, statement 2 (Sid ProducerThroughSqs): Allow"),
        "{out}"
    );
    assert!(
        out.contains("kms:viaservice = sqs.us-east-1.amazonaws.com"),
        "{out}"
    );
    // The consumer may not make data keys even through SQS.
    let mut consumer = via.clone();
    consumer[1] = "arn:aws:sts::000000000000:assumed-role/orders-consumer/lab";
    let (code, _) = explain_access(&lab, &consumer).await;
    assert_eq!(code, Some(1));
    // An alias action is decided on the alias's ARN.
    let (code, out) = explain_access(
        &lab,
        &[
            "--principal",
            "arn:aws:sts::000000000000:assumed-role/orders-admin/lab",
            "--action",
            "kms:CreateAlias",
            "--resource",
            "alias/orders-next",
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("resource:  arn:aws:kms:us-east-1:000000000000:alias/orders-next"),
        "{out}"
    );
}
