//! Authorization as users see it: identity policies from the config file
//! and from `PUT /_sealq/iam/...`, queue policies read when they are set (a
//! malformed one refused as AWS refuses it), SQS requests refused with
//! AWS's `AccessDenied` under `--auth verify` (in both protocols), and every
//! decision at `GET /_sealq/authz/decisions` with the statements that
//! decided and the request context; under `--auth open` the decisions are
//! recorded (`enforced: false`) and nothing is refused.

mod common;

use std::sync::Arc;

use aws_sdk_sqs::error::ProvideErrorMetadata as _;
use aws_sdk_sqs::types::QueueAttributeName as A;
use sealq::clock::Clock;

const PRODUCER: &str = "AKIDPRODUCER";
const CONSUMER: &str = "AKIDCONSUMER";

/// A producer allowed to send to `orders` and `jobs`, a consumer allowed to
/// receive and delete, a role `auditor`, `orders` with a queue policy that
/// denies every request over plain HTTP, and `jobs` without a policy.
const CONFIG: &str = r#"
[server]
auth = "verify"

[[queues]]
name = "jobs"
attributes = { SqsManagedSseEnabled = "false" }

[[queues]]
name = "orders"
[queues.attributes]
Policy = '''{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}'''

[[principals]]
access_key_id = "AKIDPRODUCER"
name = "producer"
secret_access_key = "producer-secret"
[[principals.policies]]
name = "send"
document = { Version = "2012-10-17", Statement = [{ Sid = "SendWork", Effect = "Allow", Action = "sqs:SendMessage", Resource = ["arn:aws:sqs:*:000000000000:orders", "arn:aws:sqs:*:000000000000:jobs"] }] }

[[principals]]
access_key_id = "AKIDCONSUMER"
name = "consumer"
secret_access_key = "consumer-secret"
[[principals.policies]]
name = "consume"
document = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueUrl"],"Resource":"arn:aws:sqs:*:000000000000:*"}]}'''

[[roles]]
name = "auditor"
trust_policy = { Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::000000000000:user/consumer" }, Action = "sts:AssumeRole" }] }
"#;

async fn server() -> common::Server {
    server_in(CONFIG).await
}

async fn server_in(config: &str) -> common::Server {
    let file = sealq::config::parse("authz.toml", config.to_owned()).expect("the file parses");
    common::start_with_file(&file, Arc::new(Clock::system())).await
}

const DENIED: &str = "Access to the resource https://sqs.us-east-1.amazonaws.com/ is denied.";

async fn decisions(s: &common::Server, query: &str) -> Vec<serde_json::Value> {
    let v = common::admin_get(s, &format!("/authz/decisions{query}")).await;
    v.as_array().expect("a list").clone()
}

async fn put(s: &common::Server, path: &str, body: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/_sealq{path}", s.endpoint))
        .body(body.to_owned())
        .send()
        .await
        .expect("PUT");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn every_sqs_request_is_decided_explained_and_enforced() {
    let s = server().await;
    let producer = common::sqs_signing(&s.endpoint, PRODUCER, "producer-secret", "us-east-1");
    let consumer = common::sqs_signing(&s.endpoint, CONSUMER, "consumer-secret", "us-east-1");
    let orders = format!("{}/000000000000/orders", s.endpoint);
    let jobs = format!("{}/000000000000/jobs", s.endpoint);
    // Over plain HTTP the queue policy's deny applies to everyone.
    let e = producer
        .send_message()
        .queue_url(&orders)
        .message_body("o-1")
        .send()
        .await
        .expect_err("denied by the queue policy");
    assert_eq!((e.code(), e.message()), (Some("AccessDenied"), Some(DENIED)));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
    let d = decisions(&s, "?principal=arn:aws:iam::000000000000:user/producer").await;
    let send = &d[0];
    assert_eq!(send["action"], "sqs:SendMessage");
    assert_eq!(send["resource"], "arn:aws:sqs:us-east-1:000000000000:orders");
    assert_eq!(send["decision"], "explicit_deny");
    assert_eq!(send["enforced"], true);
    assert_eq!(send["deciding_statements"][0]["policy"], "queue policy");
    assert_eq!(send["deciding_statements"][0]["sid"], "DenyInsecureTransport");
    assert_eq!(send["deciding_statements"][0]["effect"], "Deny");
    assert_eq!(send["context"]["aws:securetransport"], "false");
    assert_eq!(send["context"]["aws:username"], "producer");
    assert_eq!(send["context"]["aws:principalaccount"], "000000000000");
    assert!(
        send["context"]["aws:currenttime"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // Without a queue policy, the identity policies decide.
    producer
        .send_message()
        .queue_url(&jobs)
        .message_body("j-1")
        .send()
        .await
        .expect("the producer may send");
    let e = consumer
        .send_message()
        .queue_url(&jobs)
        .message_body("not allowed")
        .send()
        .await
        .expect_err("the consumer may not send");
    assert_eq!(e.code(), Some("AccessDenied"));
    // GetQueueUrl is authorized too: the producer may only send.
    let e = producer
        .get_queue_url()
        .queue_name("jobs")
        .send()
        .await
        .expect_err("GetQueueUrl is not in the producer's policy");
    assert_eq!(e.code(), Some("AccessDenied"));
    let got = consumer.receive_message().queue_url(&jobs).send().await.unwrap();
    assert_eq!(got.messages().len(), 1);
    assert_eq!(got.messages()[0].body(), Some("j-1"));
    // The query protocol answers AccessDenied as AWS does.
    let r = common::query_as(
        &s,
        "/",
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &jobs),
            ("MessageBody", "q"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(common::xml_text(&r.body, "Code").as_deref(), Some("AccessDenied"));
    assert_eq!(common::xml_text(&r.body, "Message").as_deref(), Some(DENIED));

    let allowed = decisions(&s, "?decision=allow").await;
    let by = |p: &str, a: &str| {
        allowed
            .iter()
            .find(|d| d["principal"] == p && d["action"] == a)
            .cloned()
    };
    let send = by("arn:aws:iam::000000000000:user/producer", "sqs:SendMessage").expect("the producer's send");
    assert_eq!(send["deciding_statements"][0]["policy"], "identity policy send");
    assert_eq!(send["deciding_statements"][0]["sid"], "SendWork");
    assert_eq!(send["reason"], "an identity policy allows it");
    assert!(by("arn:aws:iam::000000000000:user/consumer", "sqs:ReceiveMessage").is_some());
    let denied = decisions(&s, "?decision=implicit_deny&action=SQS:SendMessage").await;
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(denied[0]["principal"], "anonymous");
    assert_eq!(denied[1]["principal"], "arn:aws:iam::000000000000:user/consumer");
    assert_eq!(denied[1]["deciding_statements"], serde_json::json!([]));
    // Newest first.
    let all = decisions(&s, "").await;
    assert!(all[0]["time"].as_str() >= all[all.len() - 1]["time"].as_str());
    // Bad filters are 400s that say what is accepted.
    let r = reqwest::get(format!("{}/_sealq/authz/decisions?decision=maybe", s.endpoint))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn open_mode_records_what_would_be_denied_and_refuses_nothing() {
    let s = server_in(&CONFIG.replace("auth = \"verify\"", "auth = \"open\"")).await;
    let consumer = common::sqs_signing(&s.endpoint, CONSUMER, "consumer-secret", "us-east-1");
    let jobs = format!("{}/000000000000/jobs", s.endpoint);
    consumer
        .send_message()
        .queue_url(&jobs)
        .message_body("allowed in open mode")
        .send()
        .await
        .expect("open mode enforces nothing");
    let d = decisions(&s, "?action=sqs:SendMessage").await;
    assert_eq!(d[0]["decision"], "implicit_deny");
    assert_eq!(d[0]["enforced"], false);
}

#[tokio::test]
async fn identity_policies_are_replaced_at_run_time() {
    let s = server().await;
    let consumer = common::sqs_signing(&s.endpoint, CONSUMER, "consumer-secret", "us-east-1");
    let (status, body) = put(
        &s,
        "/iam/principals/AKIDCONSUMER/policies",
        r#"[{"name":"send-too","document":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sqs:SendMessage","sqs:CreateQueue"],"Resource":"*"}}}]"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["arn"], "arn:aws:iam::000000000000:user/consumer");
    assert_eq!(body["policies"], serde_json::json!(["send-too"]));
    let url = consumer
        .create_queue()
        .queue_name(common::unique("plain"))
        .send()
        .await
        .unwrap();
    let url = url.queue_url().unwrap();
    consumer
        .send_message()
        .queue_url(url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    let d = decisions(&s, "?action=sqs:SendMessage").await;
    assert_eq!(d[0]["decision"], "allow");
    assert_eq!(
        d[0]["deciding_statements"][0]["policy"],
        "identity policy send-too"
    );
    // CreateQueue is decided too, by the replaced policies.
    let c = decisions(&s, "?action=sqs:CreateQueue").await;
    assert_eq!(c[0]["decision"], "allow");
    // The consumer's own policy is gone with the replacement.
    let e = consumer
        .receive_message()
        .queue_url(url)
        .send()
        .await
        .expect_err("replaced");
    assert_eq!(e.code(), Some("AccessDenied"));

    // A role's policies: what its sessions may do.
    let (status, _) = put(
        &s,
        "/iam/roles/auditor/policies",
        r#"[{"name":"read","document":"{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"sqs:GetQueueAttributes\",\"Resource\":\"*\"}}"}]"#,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = put(&s, "/iam/roles/ghost/policies", "[]").await;
    assert_eq!(status, 404, "{body}");
    for bad in [
        "{}",
        r#"[{"name":"x","document":{"Statement":{"Effect":"Allow","Action":"*"}}}]"#,
        r#"[{"name":"x","document":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"k":"AA=="}}}}}]"#,
    ] {
        let (status, body) = put(&s, "/iam/principals/AKIDCONSUMER/policies", bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let sts = {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                CONSUMER,
                "consumer-secret",
                None,
                None,
                "t",
            ))
            .endpoint_url(&s.endpoint)
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    };
    let out = sts
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/auditor")
        .role_session_name("audit")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let auditor = common::sqs_at_with(
        &s.endpoint,
        aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "sts",
        ),
    );
    auditor
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    let d = decisions(
        &s,
        "?principal=arn:aws:sts::000000000000:assumed-role/auditor/audit",
    )
    .await;
    assert_eq!(d[0]["decision"], "allow");
    assert_eq!(d[0]["deciding_statements"][0]["policy"], "identity policy read");
    let e = auditor
        .send_message()
        .queue_url(url)
        .message_body("no")
        .send()
        .await
        .expect_err("the role's policies allow reading only");
    assert_eq!(e.code(), Some("AccessDenied"));
    assert_eq!(d[0]["context"]["aws:principaltype"], "AssumedRole");
    assert_eq!(
        d[0]["context"]["aws:principalarn"],
        "arn:aws:iam::000000000000:role/auditor"
    );
}

#[tokio::test]
async fn malformed_queue_policies_are_refused_where_they_are_set() {
    let s = common::start().await;
    let c = common::sqs(&s);
    let url = common::new_queue(&c, "policy").await;
    for (policy, needle) in [
        ("not json", "not valid JSON"),
        (
            r#"{"Statement":[{"Effect":"Allow","Action":"sqs:*"}]}"#,
            "needs a Principal",
        ),
        (
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Condition":{"StringEqualz":{"aws:username":"a"}}}]}"#,
            "StringEqualz",
        ),
    ] {
        let e = c
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(A::Policy, policy)
            .send()
            .await
            .expect_err("a malformed policy");
        assert_eq!(e.code(), Some("InvalidAttributeValue"), "{policy}");
        let m = e.message().unwrap_or_default();
        assert!(m.starts_with("Invalid value for the parameter Policy."), "{m}");
        assert!(m.contains(needle), "{m}");
    }
    // The query protocol answers the same.
    let r = common::query(
        &s,
        &[
            ("Action", "SetQueueAttributes"),
            ("QueueUrl", &url),
            ("Attribute.1.Name", "Policy"),
            ("Attribute.1.Value", "{}"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        common::xml_text(&r.body, "Code").as_deref(),
        Some("InvalidAttributeValue")
    );
    // A good one is kept as written and read back.
    let good = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sqs:SendMessage","Resource":"*"}]}"#;
    c.set_queue_attributes()
        .queue_url(&url)
        .attributes(A::Policy, good)
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::queue_attr(&c, &url, A::Policy).await.as_deref(),
        Some(good)
    );
    // AddPermission's statements are read as a policy too.
    c.add_permission()
        .queue_url(&url)
        .label("partner")
        .aws_account_ids("444455556666")
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
}

/// Runs `sealq explain-access` against `s` with `args`: exit code, stdout,
/// stderr.
async fn explain_access(s: &common::Server, args: &[&str]) -> (Option<i32>, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealq"))
        .arg("explain-access")
        .args(["--endpoint", &s.endpoint])
        .args(args)
        .output()
        .await
        .expect("run sealq explain-access");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn explain_access_simulates_a_request_against_the_current_policies() {
    let s = server().await;
    let producer = "arn:aws:iam::000000000000:user/producer";
    // Over plain HTTP (the default context) the queue policy denies.
    let (code, out, err) = explain_access(
        &s,
        &[
            "--principal",
            producer,
            "--action",
            "sqs:SendMessage",
            "--resource",
            "orders",
        ],
    )
    .await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.starts_with("decision:  explicit_deny\n"), "{out}");
    assert!(
        out.contains("resource:  arn:aws:sqs:us-east-1:000000000000:orders"),
        "{out}"
    );
    assert!(
        out.contains("queue policy, statement 0 (Sid DenyInsecureTransport): Deny"),
        "{out}"
    );
    assert!(out.contains("aws:securetransport = false"), "{out}");
    // Over TLS the identity policy allows it.
    let (code, out, _) = explain_access(
        &s,
        &[
            "--principal",
            producer,
            "--action",
            "sqs:SendMessage",
            "--resource",
            &format!("{}/000000000000/orders", s.endpoint),
            "--context",
            "aws:SecureTransport=true",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("identity policy send, statement 0 (Sid SendWork): Allow"),
        "{out}"
    );
    assert!(out.contains("aws:securetransport = true"), "{out}");
    // Nothing allows the consumer to send; anonymous callers neither.
    let (code, out, _) = explain_access(
        &s,
        &[
            "--principal",
            "arn:aws:iam::000000000000:user/consumer",
            "--action",
            "sqs:SendMessage",
            "--resource",
            "arn:aws:sqs:us-east-1:000000000000:jobs",
        ],
    )
    .await;
    assert_eq!(code, Some(1));
    assert!(
        out.contains("decision:  implicit_deny") && out.contains("deciding statements: none"),
        "{out}"
    );
    let (code, _, _) = explain_access(
        &s,
        &[
            "--principal",
            "anonymous",
            "--action",
            "sqs:ReceiveMessage",
            "--resource",
            "jobs",
        ],
    )
    .await;
    assert_eq!(code, Some(1));
    // Simulating records nothing.
    assert!(decisions(&s, "").await.is_empty());
    // What cannot be simulated exits 2 with a message.
    for (args, needle) in [
        (
            vec!["--action", "kms:Decrypt", "--resource", "orders"],
            "no key orders in this server",
        ),
        (
            vec!["--action", "sqs:SendMessage", "--resource", "ghost"],
            "no queue ghost",
        ),
    ] {
        let mut all = vec!["--principal", producer];
        all.extend(args);
        let (code, _, err) = explain_access(&s, &all).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(needle), "{err}");
    }
    let (code, _, err) = explain_access(
        &s,
        &[
            "--principal",
            producer,
            "--action",
            "sqs:SendMessage",
            "--resource",
            "jobs",
            "--context",
            "novalue",
        ],
    )
    .await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("KEY=VALUE"), "{err}");
}

#[tokio::test]
async fn kms_api_calls_need_the_key_policy_and_identity_policies() {
    let config = r#"
[server]
auth = "verify"

[[keys]]
key_id = "22222222-3333-4444-5555-666666666666"
aliases = ["alias/mine"]

[[principals]]
access_key_id = "AKIDKMSUSER"
name = "kms-user"
secret_access_key = "kms-secret"
[[principals.policies]]
name = "all"
document = { Statement = [{ Effect = "Allow", Action = ["kms:*", "sqs:*"], Resource = "*" }] }

[[principals]]
access_key_id = "AKIDNOKMS"
name = "no-kms"
secret_access_key = "no-kms-secret"
"#;
    let s = server_in(config).await;
    let user = common::kms_signing(&s.endpoint, "AKIDKMSUSER", "kms-secret");
    let nobody = common::kms_signing(&s.endpoint, "AKIDNOKMS", "no-kms-secret");
    let key_arn = "arn:aws:kms:us-east-1:000000000000:key/22222222-3333-4444-5555-666666666666";
    // The default key policy delegates to the account: IAM decides.
    let blob = user
        .encrypt()
        .key_id("alias/mine")
        .plaintext(aws_sdk_kms::primitives::Blob::new("secret"))
        .send()
        .await
        .expect("allowed by the identity policy");
    let e = nobody
        .decrypt()
        .ciphertext_blob(blob.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap_err();
    let meta = e
        .as_service_error()
        .map(|s| (s.meta().code(), s.meta().message()));
    assert_eq!(
        meta,
        Some((
            Some("AccessDeniedException"),
            Some(
                format!(
                    "User: arn:aws:iam::000000000000:user/no-kms is not authorized to perform: kms:Decrypt on resource: {key_arn} because no identity-based policy allows the kms:Decrypt action"
                )
                .as_str()
            )
        ))
    );
    // Actions on no key need an identity policy.
    let e = nobody.list_keys().send().await.unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(|s| s.meta().message()),
        Some(
            "User: arn:aws:iam::000000000000:user/no-kms is not authorized to perform: kms:ListKeys because no identity-based policy allows the kms:ListKeys action"
        )
    );
    // A key policy that names neither the user nor the account: the
    // identity policy alone is not enough.
    user.put_key_policy()
        .key_id(key_arn)
        .policy_name("default")
        .policy(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyAdmin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/admin"},"Action":"kms:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("allowed before the change");
    let e = user.describe_key().key_id(key_arn).send().await.unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(|s| s.meta().message()),
        Some(
            format!(
                "User: arn:aws:iam::000000000000:user/kms-user is not authorized to perform: kms:DescribeKey on resource: {key_arn} because no resource-based policy allows the kms:DescribeKey action"
            )
            .as_str()
        )
    );
    let d = decisions(&s, "?action=kms:DescribeKey").await;
    assert_eq!(d[0]["decision"], "implicit_deny");
    assert_eq!(d[0]["enforced"], true);

    // The AWS-managed key for SQS may be used only through SQS.
    let sqs = common::sqs_signing(&s.endpoint, "AKIDKMSUSER", "kms-secret", "us-east-1");
    let url = common::create_queue_with(&sqs, "managed", &[(A::KmsMasterKeyId, "alias/aws/sqs")]).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("through SQS")
        .send()
        .await
        .unwrap();
    user.describe_key()
        .key_id("alias/aws/sqs")
        .send()
        .await
        .expect("metadata is readable by the account");
    let e = user
        .encrypt()
        .key_id("alias/aws/sqs")
        .plaintext(aws_sdk_kms::primitives::Blob::new("direct"))
        .send()
        .await
        .unwrap_err();
    let message = e
        .as_service_error()
        .and_then(|s| s.meta().message())
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.ends_with("because no resource-based policy allows the kms:Encrypt action"),
        "{message}"
    );
}

/// Two accounts in one server: alice in 000000000000, bob in 111111111111,
/// each allowed every SQS action by an identity policy.
const TWO_ACCOUNTS: &str = r#"
[server]
auth = "verify"

[[principals]]
access_key_id = "AKIDALICE"
name = "alice"
secret_access_key = "alice-secret"
[[principals.policies]]
name = "all-sqs"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:*", Resource = "*" }] }

[[principals]]
access_key_id = "AKIDBOB"
name = "bob"
account = "111111111111"
secret_access_key = "bob-secret"
[[principals.policies]]
name = "all-sqs"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:*", Resource = "*" }] }
"#;

#[tokio::test]
async fn queues_live_in_their_creators_account_and_cross_account_access_needs_both_policies() {
    let s = server_in(TWO_ACCOUNTS).await;
    let alice = common::sqs_signing(&s.endpoint, "AKIDALICE", "alice-secret", "us-east-1");
    let bob = common::sqs_signing(&s.endpoint, "AKIDBOB", "bob-secret", "us-east-1");
    let url = bob
        .create_queue()
        .queue_name("shared")
        .attributes(A::SqsManagedSseEnabled, "false")
        .send()
        .await
        .expect("bob creates a queue")
        .queue_url
        .expect("a URL");
    assert_eq!(url, format!("{}/111111111111/shared", s.endpoint));
    let arn = common::queue_arn(&bob, &url).await;
    assert_eq!(arn, "arn:aws:sqs:us-east-1:111111111111:shared");
    // Each account lists its own queues; GetQueueUrl looks in the caller's
    // account unless told another.
    let listed = |c: aws_sdk_sqs::Client| async move {
        c.list_queues()
            .send()
            .await
            .expect("ListQueues")
            .queue_urls()
            .to_vec()
    };
    assert_eq!(listed(bob.clone()).await, std::slice::from_ref(&url));
    assert!(listed(alice.clone()).await.is_empty());
    let e = alice
        .get_queue_url()
        .queue_name("shared")
        .send()
        .await
        .expect_err("not in alice's account");
    assert_eq!(e.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));

    // Across accounts an identity policy alone is not enough...
    let send = |body: &'static str| {
        let (alice, url) = (alice.clone(), url.clone());
        async move {
            alice
                .send_message()
                .queue_url(url)
                .message_body(body)
                .send()
                .await
        }
    };
    let e = send("no queue policy").await.expect_err("cross-account");
    assert_eq!((e.code(), e.message()), (Some("AccessDenied"), Some(DENIED)));
    let d = decisions(
        &s,
        "?principal=arn:aws:iam::000000000000:user/alice&action=sqs:SendMessage",
    )
    .await;
    assert_eq!(d[0]["decision"], "implicit_deny");
    assert_eq!(d[0]["context"]["aws:resourceaccount"], "111111111111");
    // ...bob's queue policy must grant alice's account too.
    bob.set_queue_attributes()
        .queue_url(&url)
        .attributes(
            A::Policy,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"AliceSends","Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:111111111111:shared"}]}"#,
        )
        .send()
        .await
        .expect("bob sets the queue policy");
    send("both allow").await.expect("allowed by both");
    // And an identity policy that does not allow it still denies.
    let (status, _) = put(
        &s,
        "/iam/principals/AKIDALICE/policies",
        r#"[{"name": "own-account", "document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:*:000000000000:*"}]}}]"#,
    )
    .await;
    assert_eq!(status, 200);
    let e = send("identity denies")
        .await
        .expect_err("the identity policy does not allow");
    assert_eq!(e.code(), Some("AccessDenied"));
    // Alice's own queues are in her account.
    let mine = alice
        .create_queue()
        .queue_name("shared")
        .send()
        .await
        .expect("alice creates a queue of the same name")
        .queue_url
        .expect("a URL");
    assert_eq!(mine, format!("{}/000000000000/shared", s.endpoint));
}

#[tokio::test]
async fn reencrypt_and_alias_actions_need_each_resource_they_touch() {
    let config = r#"
[server]
auth = "verify"

[[keys]]
key_id = "33333333-4444-5555-6666-777777777777"
aliases = ["alias/old"]

[[keys]]
key_id = "44444444-5555-6666-7777-888888888888"

[[principals]]
access_key_id = "AKIDROTATOR"
name = "rotator"
secret_access_key = "rotator-secret"
[[principals.policies]]
name = "rotate"
document = { Statement = [
  { Effect = "Allow", Action = ["kms:Encrypt", "kms:ReEncryptFrom", "kms:CreateAlias", "kms:DeleteAlias"], Resource = "*" },
  { Effect = "Deny", Action = "kms:ReEncryptTo", Resource = "arn:aws:kms:us-east-1:000000000000:key/33333333-4444-5555-6666-777777777777" },
  { Effect = "Allow", Action = "kms:ReEncryptTo", Resource = "arn:aws:kms:us-east-1:000000000000:key/44444444-5555-6666-7777-888888888888" },
  { Effect = "Deny", Action = "kms:CreateAlias", Resource = "arn:aws:kms:us-east-1:000000000000:alias/reserved-*" },
] }
"#;
    let s = server_in(config).await;
    let c = common::kms_signing(&s.endpoint, "AKIDROTATOR", "rotator-secret");
    let (old, new) = (
        "arn:aws:kms:us-east-1:000000000000:key/33333333-4444-5555-6666-777777777777",
        "arn:aws:kms:us-east-1:000000000000:key/44444444-5555-6666-7777-888888888888",
    );
    let blob = c
        .encrypt()
        .key_id("alias/old")
        .plaintext(aws_sdk_kms::primitives::Blob::new("rotate me"))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("a blob");
    // ReEncrypt needs kms:ReEncryptFrom on the source and kms:ReEncryptTo
    // on the destination.
    let moved = c
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .destination_key_id(new)
        .send()
        .await
        .expect("allowed on both keys");
    assert_eq!(moved.key_id(), Some(new));
    assert_eq!(moved.source_key_id(), Some(old));
    let e = c
        .re_encrypt()
        .ciphertext_blob(blob)
        .destination_key_id(old)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(|s| s.meta().message()),
        Some(
            format!(
                "User: arn:aws:iam::000000000000:user/rotator is not authorized to perform: kms:ReEncryptTo on resource: {old} with an explicit deny in an identity-based policy"
            )
            .as_str()
        )
    );
    let d = decisions(&s, "?action=kms:ReEncryptFrom").await;
    assert_eq!(d[0]["resource"], old);
    assert_eq!(d[0]["decision"], "allow");

    // CreateAlias is decided on the alias and on its key.
    c.create_alias()
        .alias_name("alias/rotated")
        .target_key_id(new)
        .send()
        .await
        .expect("allowed");
    let e = c
        .create_alias()
        .alias_name("alias/reserved-one")
        .target_key_id(new)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error().and_then(|s| s.meta().message()),
        Some(
            "User: arn:aws:iam::000000000000:user/rotator is not authorized to perform: kms:CreateAlias on resource: arn:aws:kms:us-east-1:000000000000:alias/reserved-one with an explicit deny in an identity-based policy"
        )
    );
    let d = decisions(&s, "?action=kms:CreateAlias").await;
    let resources: Vec<&str> = d.iter().map(|d| d["resource"].as_str().unwrap()).collect();
    assert_eq!(
        resources,
        [
            "arn:aws:kms:us-east-1:000000000000:alias/reserved-one",
            new,
            "arn:aws:kms:us-east-1:000000000000:alias/rotated",
        ]
    );
    c.delete_alias()
        .alias_name("alias/rotated")
        .send()
        .await
        .expect("DeleteAlias on the alias and its key");
    let d = decisions(&s, "?action=kms:DeleteAlias").await;
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["resource"], new);
}

#[tokio::test]
async fn an_enforced_denial_is_logged_at_info_with_its_facts_and_no_secret() {
    use std::io::BufRead as _;
    let config = std::env::temp_dir().join(format!("sealq-authz-log-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        "[server]\nauth = \"verify\"\n\n[[principals]]\naccess_key_id = \"AKIDLOGGED\"\nname = \"logged\"\nsecret_access_key = \"logged-SECRET-value\"\n",
    )
    .expect("write the config");
    let port = common::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"))
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--log-format",
            "json",
        ])
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sealq");
    let stderr = child.stderr.take().expect("stderr");
    let lines = std::thread::spawn(move || {
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let running = common::Binary(child);
    common::wait_healthy(port).await;
    let c = common::sqs_signing(
        &format!("http://127.0.0.1:{port}"),
        "AKIDLOGGED",
        "logged-SECRET-value",
        "us-east-1",
    );
    let e = c
        .create_queue()
        .queue_name("nope")
        .send()
        .await
        .expect_err("no policy allows it");
    assert_eq!(e.code(), Some("AccessDenied"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(running);
    let _ = std::fs::remove_file(&config);
    let lines = tokio::task::spawn_blocking(move || lines.join().expect("reader"))
        .await
        .unwrap();
    for l in &lines {
        assert!(!l.contains("SECRET"), "a secret was logged: {l}");
        assert!(!l.contains("Signature="), "a signature was logged: {l}");
    }
    let denial: serde_json::Value = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "access denied")
        .unwrap_or_else(|| panic!("no denial logged: {lines:#?}"));
    assert_eq!(denial["level"], "INFO");
    assert_eq!(denial["principal"], "arn:aws:iam::000000000000:user/logged");
    assert_eq!(denial["action"], "sqs:CreateQueue");
    assert_eq!(denial["resource"], "arn:aws:sqs:us-east-1:000000000000:nope");
    assert_eq!(denial["decision"], "implicit_deny");
    let context = denial["context"].as_str().expect("the context");
    assert!(context.contains("aws:securetransport=false"), "{context}");
    assert!(context.contains("aws:sourceip=127.0.0.1"), "{context}");
}

const TWO_ACCOUNTS_WITH_KMS: &str = r#"
[server]
auth = "verify"

[[principals]]
access_key_id = "AKIDALICE"
name = "alice"
secret_access_key = "alice-secret"
[[principals.policies]]
name = "all"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["sqs:*", "kms:*"], Resource = "*" }] }

[[principals]]
access_key_id = "AKIDBOB"
name = "bob"
account = "111111111111"
secret_access_key = "bob-secret"
[[principals.policies]]
name = "all"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["sqs:*", "kms:*"], Resource = "*" }] }
"#;

#[tokio::test]
async fn keys_and_aliases_live_in_their_creators_account_and_cross_account_use_needs_both_policies() {
    use aws_sdk_kms::error::ProvideErrorMetadata as _;
    use aws_sdk_kms::primitives::Blob;
    let s = server_in(TWO_ACCOUNTS_WITH_KMS).await;
    let alice = common::kms_signing(&s.endpoint, "AKIDALICE", "alice-secret");
    let bob = common::kms_signing(&s.endpoint, "AKIDBOB", "bob-secret");
    let key = bob
        .create_key()
        .send()
        .await
        .expect("bob creates a key")
        .key_metadata
        .expect("metadata");
    let (id, arn) = (key.key_id().to_owned(), key.arn().expect("an ARN").to_owned());
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:111111111111:key/{id}"));
    assert_eq!(key.aws_account_id(), Some("111111111111"));
    let policy = bob
        .get_key_policy()
        .key_id(&id)
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy
        .expect("a policy");
    assert!(policy.contains("arn:aws:iam::111111111111:root"), "{policy}");
    bob.create_alias()
        .alias_name("alias/shared")
        .target_key_id(&id)
        .send()
        .await
        .expect("bob creates alias/shared");

    // A bare id or alias name names a key of the caller's account.
    let e = alice
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect_err("not alice's key");
    assert_eq!(e.code(), Some("NotFoundException"));
    assert_eq!(
        e.message(),
        Some(format!("Key 'arn:aws:kms:us-east-1:000000000000:key/{id}' does not exist").as_str())
    );
    let e = alice
        .describe_key()
        .key_id("alias/shared")
        .send()
        .await
        .expect_err("not alice's alias");
    assert_eq!(e.code(), Some("NotFoundException"));
    assert_eq!(
        e.message(),
        Some("Alias arn:aws:kms:us-east-1:000000000000:alias/shared is not found.")
    );
    // Each account lists its own keys and aliases.
    let keys = |c: aws_sdk_kms::Client| async move {
        c.list_keys()
            .send()
            .await
            .expect("ListKeys")
            .keys()
            .iter()
            .filter_map(|k| k.key_arn().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(bob.clone()).await, vec![arn.clone()]);
    assert!(keys(alice.clone()).await.is_empty());
    let aliases = bob.list_aliases().send().await.expect("ListAliases");
    assert_eq!(
        aliases.aliases()[0].alias_arn(),
        Some("arn:aws:kms:us-east-1:111111111111:alias/shared")
    );
    assert!(
        alice
            .list_aliases()
            .send()
            .await
            .expect("ListAliases")
            .aliases()
            .is_empty()
    );
    // Alice's alias/shared is another alias.
    let hers = alice.create_key().send().await.expect("alice creates a key");
    let hers = hers.key_metadata.expect("metadata").key_id().to_owned();
    alice
        .create_alias()
        .alias_name("alias/shared")
        .target_key_id(&hers)
        .send()
        .await
        .expect("the same alias name in another account");
    let described = alice
        .describe_key()
        .key_id("alias/shared")
        .send()
        .await
        .expect("alice's alias")
        .key_metadata
        .expect("metadata");
    assert_eq!(described.key_id(), hers);

    // By ARN, authorization decides: bob's default key policy names only
    // his account.
    let blob = bob
        .encrypt()
        .key_id("alias/shared")
        .plaintext(Blob::new("for alice"))
        .send()
        .await
        .expect("bob encrypts")
        .ciphertext_blob
        .expect("a blob");
    let encrypt = |key: String| {
        let alice = alice.clone();
        async move { alice.encrypt().key_id(key).plaintext(Blob::new("x")).send().await }
    };
    let e = encrypt(arn.clone())
        .await
        .expect_err("bob's key policy does not name alice");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    let e = encrypt("arn:aws:kms:us-east-1:111111111111:alias/shared".into())
        .await
        .expect_err("by alias ARN too");
    assert_eq!(e.code(), Some("AccessDeniedException"));
    let decrypt = || {
        let (alice, blob) = (alice.clone(), blob.clone());
        async move { alice.decrypt().ciphertext_blob(blob).send().await }
    };
    let e = decrypt().await.expect_err("the blob's key is bob's");
    assert_eq!(e.code(), Some("AccessDeniedException"));

    bob.put_key_policy()
        .key_id(&id)
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"},{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}"#)
        .send()
        .await
        .expect("bob names alice's account in his key policy");
    let done = encrypt(arn.clone()).await.expect("both policies allow");
    assert_eq!(done.key_id(), Some(arn.as_str()));
    let opened = decrypt().await.expect("both policies allow");
    assert_eq!(opened.key_id(), Some(arn.as_str()));
    assert_eq!(opened.plaintext().map(Blob::as_ref), Some(&b"for alice"[..]));
    // The bare id still names nothing of alice's account.
    let e = encrypt(id.clone()).await.expect_err("a bare id");
    assert_eq!(e.code(), Some("NotFoundException"));
    // Alice's identity policy must allow it too.
    let (status, _) = put(
        &s,
        "/iam/principals/AKIDALICE/policies",
        r#"[{"name": "own-account", "document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "arn:aws:kms:*:000000000000:*"}]}}]"#,
    )
    .await;
    assert_eq!(status, 200);
    let e = encrypt(arn.clone())
        .await
        .expect_err("the identity policy does not allow");
    assert_eq!(e.code(), Some("AccessDeniedException"));

    // Bob's queue encrypted with alias/shared uses bob's key.
    let sqs = common::sqs_signing(&s.endpoint, "AKIDBOB", "bob-secret", "us-east-1");
    let url = sqs
        .create_queue()
        .queue_name("sealed")
        .attributes(A::KmsMasterKeyId, "alias/shared")
        .send()
        .await
        .expect("bob creates an SSE-KMS queue")
        .queue_url
        .expect("a URL");
    sqs.send_message()
        .queue_url(&url)
        .message_body("sealed with bob's key")
        .send()
        .await
        .expect("SendMessage");
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("ReceiveMessage");
    assert_eq!(got.messages()[0].body(), Some("sealed with bob's key"));
    let calls = common::admin_get(&s, "/kms/calls").await;
    let calls = calls.as_array().expect("a list");
    let generated: Vec<&serde_json::Value> = calls
        .iter()
        .filter(|c| c["operation"] == "GenerateDataKey")
        .collect();
    assert!(!generated.is_empty(), "{calls:?}");
    for c in generated {
        assert_eq!(c["key_arn"], serde_json::Value::String(arn.clone()), "{c}");
    }
}
