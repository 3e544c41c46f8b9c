//! STS on sealq's port, through aws-sdk-sts: GetCallerIdentity in every
//! mode, AssumeRole against roles of the configuration file (trust
//! policies, durations, role chaining), GetSessionToken, and temporary
//! credentials used with SQS and KMS until they expire on the server's
//! clock. Also a profile with `role_arn` + `source_profile`, where the SDK
//! calls AssumeRole itself at `AWS_ENDPOINT_URL`.

mod common;

use std::sync::Arc;

use aws_credential_types::Credentials;
use sealq::clock::Clock;

const ALICE: &str = "AKIDALICE";
const ALICE_SECRET: &str = "alice-secret";
const MALLORY: &str = "AKIDMALLORY";
const MALLORY_SECRET: &str = "mallory-secret";
const ROLE: &str = "arn:aws:iam::000000000000:role/app";

/// Alice may assume `app` (JSON trust policy); `ci` trusts the whole
/// account and allows 2-hour sessions (TOML trust policy); mallory is
/// registered but trusted by neither... except `ci`, which denies her.
fn config(auth: &str) -> String {
    format!(
        r#"
[server]
auth = "{auth}"

[[keys]]
key_id = "11111111-2222-3333-4444-555555555555"
aliases = ["alias/orders"]

[[queues]]
name = "orders"
attributes = {{ KmsMasterKeyId = "alias/orders" }}

[[principals]]
access_key_id = "{ALICE}"
name = "alice"
secret_access_key = "{ALICE_SECRET}"
[[principals.policies]]
name = "sqs"
document = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = ["sqs:*", "sts:AssumeRole"], Resource = "*" }}] }}

[[principals]]
access_key_id = "{MALLORY}"
name = "mallory"
secret_access_key = "{MALLORY_SECRET}"

[[roles]]
name = "app"
trust_policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/alice"}},"Action":"sts:AssumeRole"}}]}}'''
[[roles.policies]]
name = "work-orders"
document = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["sqs:GetQueueUrl","sqs:SendMessage","sqs:ReceiveMessage","sqs:ListQueues","kms:DescribeKey","kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}}]}}'''

[[roles]]
name = "ci"
max_session_duration_seconds = 7200
[roles.trust_policy]
Version = "2012-10-17"
[[roles.trust_policy.Statement]]
Effect = "Allow"
Principal = {{ AWS = "000000000000" }}
Action = "sts:AssumeRole"
[[roles.trust_policy.Statement]]
Effect = "Deny"
Principal = {{ AWS = "arn:aws:iam::000000000000:user/mallory" }}
Action = "sts:*"
[[roles.policies]]
name = "chain"
document = {{ Statement = [{{ Effect = "Allow", Action = "sts:AssumeRole", Resource = "arn:aws:iam::000000000000:role/ci" }}] }}
"#
    )
}

async fn server(auth: &str) -> common::Server {
    let file = sealq::config::parse("sts.toml", config(auth)).expect("the file parses");
    common::start_with_file(&file, Arc::new(Clock::system())).await
}

/// A client of SDK crate `$sdk` for `endpoint` signing with `creds`, with
/// no retries, and signing at `$at` (a `SystemTime`) when given.
macro_rules! client {
    ($sdk:ident, $endpoint:expr, $creds:expr $(, at $at:expr)?) => {{
        let conf = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($creds)
            .endpoint_url($endpoint)
            $(.time_source(aws_smithy_async::time::StaticTimeSource::new($at)))?
            .retry_config($sdk::config::retry::RetryConfig::disabled())
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

fn sts_with(endpoint: &str, creds: Credentials) -> aws_sdk_sts::Client {
    client!(aws_sdk_sts, endpoint, creds)
}

fn sts(endpoint: &str, key: &str, secret: &str) -> aws_sdk_sts::Client {
    sts_with(endpoint, Credentials::new(key, secret, None, None, "test"))
}

fn sqs_with(endpoint: &str, creds: Credentials) -> aws_sdk_sqs::Client {
    client!(aws_sdk_sqs, endpoint, creds)
}

fn kms_with(endpoint: &str, creds: Credentials) -> aws_sdk_kms::Client {
    client!(aws_sdk_kms, endpoint, creds)
}

type AssumeRoleResult = Result<
    aws_sdk_sts::operation::assume_role::AssumeRoleOutput,
    aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
>;

/// AssumeRole of `role` as `session`, for `secs` when given.
async fn assume(c: &aws_sdk_sts::Client, role: &str, session: &str, secs: Option<i32>) -> AssumeRoleResult {
    c.assume_role()
        .role_arn(role)
        .role_session_name(session)
        .set_duration_seconds(secs)
        .send()
        .await
}

/// The credentials of an AssumeRole or GetSessionToken answer.
fn creds_of(c: &aws_sdk_sts::types::Credentials) -> Credentials {
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "sts",
    )
}

/// Code, message and HTTP status of an SDK error.
fn error_of<E: aws_sdk_sqs::error::ProvideErrorMetadata + std::fmt::Debug>(
    e: &aws_sdk_sqs::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> (String, String, u16) {
    match e {
        aws_sdk_sqs::error::SdkError::ServiceError(s) => (
            s.err().code().unwrap_or_default().to_owned(),
            s.err().message().unwrap_or_default().to_owned(),
            s.raw().status().as_u16(),
        ),
        other => panic!("not a service error: {other:?}"),
    }
}

#[tokio::test]
async fn get_caller_identity_answers_in_open_mode_with_any_key() {
    let s = common::start().await;
    let who = sts(&s.endpoint, "AKIDANYBODY", "anything")
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(who.account(), Some("000000000000"));
    assert_eq!(who.arn(), Some("arn:aws:iam::000000000000:user/AKIDANYBODY"));
    let user_id = who.user_id().unwrap();
    assert!(user_id.starts_with("AIDA") && user_id.len() == 21, "{user_id}");
    // Unsigned: STS refuses, in its own XML.
    let raw = common::query_as(
        &s,
        "/",
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        None,
    )
    .await;
    assert_eq!(raw.status, 403, "{}", raw.body);
    assert!(
        raw.body
            .starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
        "{}",
        raw.body
    );
    assert_eq!(
        common::xml_text(&raw.body, "Code").as_deref(),
        Some("MissingAuthenticationToken")
    );
    assert_eq!(
        common::xml_text(&raw.body, "Message").as_deref(),
        Some("Request is missing Authentication Token")
    );
    // Counted as STS requests, by action and status.
    let metrics = reqwest::get(format!("{}/_sealq/metrics", s.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"sealq_requests_total{service="sts",protocol="sts",action="GetCallerIdentity",status="200"} 1"#,
        r#"sealq_requests_total{service="sts",protocol="sts",action="GetCallerIdentity",status="403"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn an_assumed_role_sends_and_receives_as_its_session() {
    let s = server("verify").await;
    let alice = sts(&s.endpoint, ALICE, ALICE_SECRET);
    let out = assume(&alice, ROLE, "worker-1", None)
        .await
        .expect("alice may assume app");
    let user = out.assumed_role_user().unwrap();
    assert_eq!(user.arn(), "arn:aws:sts::000000000000:assumed-role/app/worker-1");
    let role_id = user.assumed_role_id();
    assert!(
        role_id.starts_with("AROA") && role_id.ends_with(":worker-1"),
        "{role_id}"
    );
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"), "{}", c.access_key_id());
    let lifetime = c.expiration().secs() - s.state.clock.now_ms().cast_signed() / 1000;
    assert!(
        (3590..=3600).contains(&lifetime),
        "default one hour, got {lifetime}"
    );

    let session = creds_of(c);
    let who = sts_with(&s.endpoint, session.clone())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn(), Some(user.arn()));
    assert_eq!(who.user_id(), Some(role_id));

    // The session's principal sends to the SSE-KMS queue: its SenderId is
    // the role session's id, and the KMS ledger shows the session's ARN.
    let sqs = sqs_with(&s.endpoint, session.clone());
    let url = sqs.get_queue_url().queue_name("orders").send().await.unwrap();
    let url = url.queue_url().unwrap();
    sqs.send_message()
        .queue_url(url)
        .message_body("from the role")
        .send()
        .await
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(url)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap();
    let m = &got.messages()[0];
    assert_eq!(m.body(), Some("from the role"));
    let sender = m
        .attributes()
        .unwrap()
        .get(&aws_sdk_sqs::types::MessageSystemAttributeName::SenderId)
        .unwrap();
    assert_eq!(sender, role_id);
    let calls = common::admin_get(
        &s,
        "/kms/calls?principal=arn:aws:sts::000000000000:assumed-role/app/worker-1",
    )
    .await;
    let ops: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["operation"].as_str())
        .collect();
    assert!(ops.contains(&"GenerateDataKey"), "{calls}");

    // KMS sees the session too: the key's default policy delegates to the
    // account, and the role's policy allows DescribeKey but not Encrypt.
    let kms = kms_with(&s.endpoint, session);
    kms.describe_key()
        .key_id("alias/orders")
        .send()
        .await
        .expect("KMS with session credentials");
    let e = kms
        .encrypt()
        .key_id("alias/orders")
        .plaintext(aws_sdk_kms::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    let (code, message, status) = error_of(&e);
    assert_eq!((code.as_str(), status), ("AccessDeniedException", 400));
    assert_eq!(
        message,
        "User: arn:aws:sts::000000000000:assumed-role/app/worker-1 is not authorized to perform: kms:Encrypt \
         on resource: arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555 \
         because no identity-based policy allows the kms:Encrypt action"
    );
}

#[tokio::test]
async fn trust_policies_decide_who_may_assume_a_role() {
    let s = server("verify").await;
    let mallory = sts(&s.endpoint, MALLORY, MALLORY_SECRET);
    let e = assume(&mallory, ROLE, "nope", None).await.unwrap_err();
    assert_eq!(
        error_of(&e),
        (
            "AccessDenied".to_owned(),
            format!(
                "User: arn:aws:iam::000000000000:user/mallory is not authorized to perform: sts:AssumeRole on resource: {ROLE}"
            ),
            403
        )
    );
    // `ci` trusts the account but explicitly denies mallory.
    let e = assume(&mallory, "arn:aws:iam::000000000000:role/ci", "nope", None)
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "AccessDenied");
    // A role that does not exist is denied the same way.
    let alice = sts(&s.endpoint, ALICE, ALICE_SECRET);
    let e = assume(&alice, "arn:aws:iam::000000000000:role/ghost", "s1", None)
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "AccessDenied");
    assert!(
        error_of(&e)
            .1
            .ends_with("on resource: arn:aws:iam::000000000000:role/ghost")
    );
    // A trust policy that names the account only delegates: without an
    // identity policy allowing sts:AssumeRole, alice may not assume `ci`.
    let put = |body: &'static str| {
        reqwest::Client::new()
            .put(format!("{}/_sealq/iam/principals/{ALICE}/policies", s.endpoint))
            .body(body)
            .send()
    };
    assert_eq!(
        put(
            r#"[{"name":"sqs","document":{"Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}}]"#
        )
        .await
        .unwrap()
        .status(),
        200
    );
    let e = assume(&alice, "arn:aws:iam::000000000000:role/ci", "build", None)
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "AccessDenied");
    // `app` names alice herself: no identity permission needed.
    assume(&alice, ROLE, "direct", None)
        .await
        .expect("named directly");
    assert_eq!(
        put(r#"[{"name":"assume","document":{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::000000000000:role/ci"}}}]"#)
            .await
            .unwrap()
            .status(),
        200
    );
    // The account-wide trust lets alice into `ci` for up to its 2 hours.
    let out = assume(&alice, "arn:aws:iam::000000000000:role/ci", "build", Some(7200))
        .await
        .expect("ci trusts the account");
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::000000000000:assumed-role/ci/build"
    );
}

#[tokio::test]
async fn durations_are_bounded_as_sts_bounds_them() {
    let s = server("verify").await;
    let alice = sts(&s.endpoint, ALICE, ALICE_SECRET);
    let attempt = |role: &'static str, secs: i32| assume(&alice, role, "dur", Some(secs));
    let e = attempt(ROLE, 899).await.unwrap_err();
    assert_eq!(
        error_of(&e),
        (
            "ValidationError".to_owned(),
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900".to_owned(),
            400
        )
    );
    let e = attempt(ROLE, 3601).await.unwrap_err();
    assert_eq!(
        error_of(&e).1,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );
    let e = attempt(ROLE, 43_201).await.unwrap_err();
    assert_eq!(error_of(&e).0, "ValidationError");
    attempt(ROLE, 900).await.expect("15 minutes");

    // Role chaining: a session may assume a role for at most an hour.
    let first = attempt("arn:aws:iam::000000000000:role/ci", 7200).await.unwrap();
    let chained = sts_with(&s.endpoint, creds_of(first.credentials().unwrap()));
    let e = assume(&chained, "arn:aws:iam::000000000000:role/ci", "again", Some(3601))
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&e).1,
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    );
    let out = assume(&chained, "arn:aws:iam::000000000000:role/ci", "again", None)
        .await
        .expect("a chained session of an hour");
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::000000000000:assumed-role/ci/again"
    );
    // Session names follow the model.
    let e = assume(&alice, ROLE, "has space", None).await.unwrap_err();
    assert_eq!(error_of(&e).0, "ValidationError");
}

#[tokio::test]
async fn temporary_credentials_expire_on_the_server_clock() {
    let file = sealq::config::parse("sts.toml", config("verify")).unwrap();
    let clock = Arc::new(Clock::system());
    let s = common::start_with_file(&file, clock).await;
    let alice = sts(&s.endpoint, ALICE, ALICE_SECRET);
    let out = assume(&alice, ROLE, "short", Some(900)).await.unwrap();
    let session = creds_of(out.credentials().unwrap());
    let sqs = sqs_with(&s.endpoint, session.clone());
    sqs.list_queues().send().await.expect("valid for now");

    // A forged token for the same key, or none, is not this session.
    let forged = Credentials::new(
        session.access_key_id(),
        session.secret_access_key(),
        Some("forged".to_owned()),
        None,
        "t",
    );
    let e = sqs_with(&s.endpoint, forged)
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&e),
        (
            "InvalidClientTokenId".to_owned(),
            "The security token included in the request is invalid.".to_owned(),
            403
        )
    );
    let tokenless = Credentials::new(
        session.access_key_id(),
        session.secret_access_key(),
        None,
        None,
        "t",
    );
    let e = sqs_with(&s.endpoint, tokenless)
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "InvalidClientTokenId");
    // A wrong secret with the right token: the signature does not match.
    let wrong = Credentials::new(
        session.access_key_id(),
        "not-the-secret",
        session.session_token().map(str::to_owned),
        None,
        "t",
    );
    let e = sqs_with(&s.endpoint, wrong)
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "SignatureDoesNotMatch");

    // 15 minutes later (the SDK signs with the server's time moved along
    // with it, so only the token is stale).
    s.advance(901);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(901);
    let e = client!(aws_sdk_sqs, &s.endpoint, session.clone(), at later)
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&e),
        (
            "ExpiredToken".to_owned(),
            "The security token included in the request is expired".to_owned(),
            403
        )
    );
    let e = client!(aws_sdk_kms, &s.endpoint, session.clone(), at later)
        .list_keys()
        .send()
        .await
        .unwrap_err();
    let (code, message, status) = error_of(&e);
    assert_eq!(
        (code.as_str(), message.as_str(), status),
        (
            "ExpiredTokenException",
            "The security token included in the request is expired",
            400
        )
    );
    let e = client!(aws_sdk_sts, &s.endpoint, session, at later)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "ExpiredToken");
    // A session key that was never issued: unknown in verify mode.
    let never = Credentials::new("ASIANEVERISSUED0000", "s", Some("t".to_owned()), None, "t");
    let e = sqs_with(&s.endpoint, never)
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "InvalidClientTokenId");
}

#[tokio::test]
async fn session_tokens_act_as_their_user_and_cannot_be_renewed_with_themselves() {
    let s = server("verify").await;
    let alice = sts(&s.endpoint, ALICE, ALICE_SECRET);
    let out = alice.get_session_token().send().await.expect("GetSessionToken");
    let c = out.credentials().unwrap();
    let lifetime = c.expiration().secs() - s.state.clock.now_ms().cast_signed() / 1000;
    assert!(
        (43_190..=43_200).contains(&lifetime),
        "default 12 hours, got {lifetime}"
    );
    let session = sts_with(&s.endpoint, creds_of(c));
    let who = session.get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some("arn:aws:iam::000000000000:user/alice"));
    let e = session.get_session_token().send().await.unwrap_err();
    assert_eq!(
        error_of(&e),
        (
            "AccessDenied".to_owned(),
            "Cannot call GetSessionToken with session credentials".to_owned(),
            403
        )
    );
    let e = alice
        .get_session_token()
        .duration_seconds(129_601)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "ValidationError");
    // In verify mode STS verifies too: a wrong secret is refused.
    let e = sts(&s.endpoint, ALICE, "wrong")
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn strict_mode_refuses_plain_http_to_encrypted_queues() {
    let s = server("strict").await;
    let alice = common::sqs_signing(&s.endpoint, ALICE, ALICE_SECRET, "us-east-1");
    // Signed and verified, but over plain HTTP: AWS's transport rule.
    let e = alice
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&e),
        (
            "InvalidSecurity".to_owned(),
            "All requests to this queue must use HTTPS and SigV4.".to_owned(),
            403
        )
    );
    // Unencrypted queues still answer over plain HTTP; a queue created
    // over plain HTTP does not get SSE-SQS by default (AWS gives it to
    // queues created over HTTPS).
    let url = alice
        .create_queue()
        .queue_name(common::unique("plain"))
        .send()
        .await
        .unwrap();
    let url = url.queue_url().unwrap();
    assert_eq!(
        common::queue_attr(&alice, url, "SqsManagedSseEnabled".into())
            .await
            .as_deref(),
        Some("false")
    );
    alice
        .send_message()
        .queue_url(url)
        .message_body("plain")
        .send()
        .await
        .unwrap();
}

/// The child half of `a_profile_with_role_arn_assumes_the_role`: loads the
/// SDK's configuration from the environment its parent set (profile
/// files, `AWS_PROFILE`, `AWS_ENDPOINT_URL`) and prints who it is and the
/// SenderId of the message it sent.
#[tokio::test]
#[ignore = "run in a child process by a_profile_with_role_arn_assumes_the_role"]
async fn profile_child() {
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let who = aws_sdk_sts::Client::new(&conf)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity through the profile");
    println!("ARN={}", who.arn().unwrap_or_default());
}

#[tokio::test]
async fn a_profile_with_role_arn_assumes_the_role() {
    let s = server("verify").await;
    let dir = std::env::temp_dir().join(common::unique("sts-profile"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile base]\nregion = us-east-1\n\n[profile app]\nregion = us-east-1\nrole_arn = {ROLE}\nsource_profile = base\nrole_session_name = from-profile\n"
        ),
    )
    .unwrap();
    let credentials = dir.join("credentials");
    std::fs::write(
        &credentials,
        format!("[base]\naws_access_key_id = {ALICE}\naws_secret_access_key = {ALICE_SECRET}\n"),
    )
    .unwrap();
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "profile_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_PROFILE", "app")
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ARN=arn:aws:sts::000000000000:assumed-role/app/from-profile"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
