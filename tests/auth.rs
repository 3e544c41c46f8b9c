//! SigV4 verification as clients see it: `--auth open` verifies only keys
//! registered with a secret, `--auth verify` every signed request; wrong
//! secrets, unknown keys, stale signatures, other scopes and presigned URLs
//! get AWS's errors in the protocol the client spoke.

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use sealq::auth::{AuthMode, SecretAccessKey};
use sealq::clock::Clock;
use sealq::{AppState, Config};

const KEY: &str = "AKIDREGISTERED";
const SECRET: &str = "the-registered-secret";

/// A server in `mode` where `KEY` is registered with `SECRET`.
async fn server(mode: AuthMode) -> common::Server {
    let config = Config {
        auth: mode,
        ..Config::default()
    };
    let s = common::start_with(config, Arc::new(Clock::system())).await;
    register(&s.state);
    s
}

fn register(state: &AppState) {
    state.principals.register(
        KEY,
        "arn:aws:iam::000000000000:user/registered",
        Some(SecretAccessKey::new(SECRET.to_owned())),
    );
    // Under verify, SQS requests are authorized too: this user may use SQS.
    let all_sqs = sealq::iam::policy::PolicyDocument::parse_json(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
        sealq::iam::policy::PolicyKind::Identity,
    )
    .expect("a policy");
    state.principals.set_identity_policies(
        "arn:aws:iam::000000000000:user/registered",
        vec![sealq::iam::NamedPolicy {
            name: "all-sqs".to_owned(),
            document: all_sqs,
        }],
    );
}

/// The SDK error's code, message and HTTP status.
fn error_of<E, R>(e: &aws_sdk_sqs::error::SdkError<E, R>) -> (String, String, u16)
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata,
    R: std::fmt::Debug,
{
    let meta = e.as_service_error().map(|s| (s.code(), s.message()));
    let status = match e {
        aws_sdk_sqs::error::SdkError::ServiceError(s) => format!("{:?}", s.raw()),
        _ => String::new(),
    };
    let status = status
        .split("status: StatusCode(")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let (code, message) = meta.unwrap_or((None, None));
    (
        code.unwrap_or_default().to_owned(),
        message.unwrap_or_default().to_owned(),
        status,
    )
}

#[tokio::test]
async fn open_mode_verifies_registered_keys_only() {
    let s = server(AuthMode::Open).await;
    // Any key that is not registered passes with any secret, as before.
    let anyone = common::sqs_signing(&s.endpoint, "AKIDANYONE", "whatever", "us-east-1");
    anyone
        .list_queues()
        .send()
        .await
        .expect("an unregistered key passes");
    // The registered key with its secret passes and acts as its ARN.
    let good = common::sqs_signing(&s.endpoint, KEY, SECRET, "us-east-1");
    let url = common::new_queue(&good, "open").await;
    good.send_message()
        .queue_url(&url)
        .message_body("hi")
        .send()
        .await
        .expect("signed right");
    // A wrong secret for it is an error, not a new principal.
    let wrong = common::sqs_signing(&s.endpoint, KEY, "not-the-secret", "us-east-1");
    let e = wrong
        .list_queues()
        .send()
        .await
        .expect_err("a wrong secret fails");
    let (code, message, status) = error_of(&e);
    assert_eq!(code, "SignatureDoesNotMatch");
    assert_eq!(status, 403);
    assert!(
        message.starts_with("The request signature we calculated does not match"),
        "{message}"
    );
    // KMS answers in its own protocol.
    let kms = common::kms_signing(&s.endpoint, KEY, "not-the-secret");
    let e = kms.list_keys().send().await.expect_err("a wrong secret fails");
    assert_eq!(
        e.as_service_error().and_then(|s| s.meta().code()),
        Some("InvalidSignatureException")
    );
    common::kms_signing(&s.endpoint, KEY, SECRET)
        .list_keys()
        .send()
        .await
        .expect("KMS signed right");
}

#[tokio::test]
async fn verify_mode_refuses_unknown_keys() {
    let s = server(AuthMode::Verify).await;
    let stranger = common::sqs_signing(&s.endpoint, "AKIDSTRANGER", "whatever", "us-east-1");
    let e = stranger.list_queues().send().await.expect_err("unknown key");
    let (code, message, status) = error_of(&e);
    assert_eq!((code.as_str(), status), ("InvalidClientTokenId", 403));
    assert_eq!(message, "The security token included in the request is invalid.");
    let kms = common::kms_signing(&s.endpoint, "AKIDSTRANGER", "whatever");
    let e = kms.list_keys().send().await.expect_err("unknown key");
    assert_eq!(
        e.as_service_error().and_then(|s| s.meta().code()),
        Some("UnrecognizedClientException")
    );
    // The registered key passes; anonymous requests stay allowed where AWS
    // allows them: a queue that does not encrypt, whose policy lets
    // everyone send.
    let good = common::sqs_signing(&s.endpoint, KEY, SECRET, "us-east-1");
    let url = common::create_queue_with(
        &good,
        "plain",
        &[
            (
                aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled,
                "false",
            ),
            (
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}]}"#,
            ),
        ],
    )
    .await;
    let r = common::json_anonymous(
        &s,
        "SendMessage",
        serde_json::json!({"QueueUrl": url, "MessageBody": "x"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = common::json_anonymous(&s, "ReceiveMessage", serde_json::json!({"QueueUrl": url})).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.headers["x-amzn-query-error"], "AccessDenied;Sender");
}

#[tokio::test]
async fn stale_signatures_and_other_scopes_are_refused() {
    let s = server(AuthMode::Verify).await;
    let good = common::sqs_signing(&s.endpoint, KEY, SECRET, "us-east-1");
    good.list_queues().send().await.expect("in time");
    // The server's clock moves 16 minutes ahead of the signer's.
    s.advance(16 * 60);
    let e = good.list_queues().send().await.expect_err("stale");
    let (code, message, status) = error_of(&e);
    assert_eq!((code.as_str(), status), ("SignatureDoesNotMatch", 403));
    assert!(message.starts_with("Signature expired: "), "{message}");
    assert!(message.ends_with(" - 15 min.)"), "{message}");

    // Every region is served (queues are regional), but a scope must name
    // one.
    let s = server(AuthMode::Verify).await;
    let elsewhere = common::sqs_signing(&s.endpoint, KEY, SECRET, "eu-west-1");
    elsewhere
        .list_queues()
        .send()
        .await
        .expect("another region is served");
    let nowhere = common::sqs_signing(&s.endpoint, KEY, SECRET, "Not_A_Region");
    let e = nowhere.list_queues().send().await.expect_err("no region");
    let (code, message, _) = error_of(&e);
    assert_eq!(code, "SignatureDoesNotMatch");
    assert_eq!(
        message,
        "Credential should be scoped to a valid region, not 'Not_A_Region'. "
    );
}

/// A query-protocol request to `/`, signed by the aws-sigv4 crate as `key`
/// with `secret` for `service`, with the signature in the header or (with
/// `presign_secs`) in the query.
async fn signed_query(
    s: &common::Server,
    key: &str,
    secret: &str,
    service: &str,
    params: &str,
    presign_secs: Option<u64>,
) -> common::Raw {
    let identity = Credentials::new(key, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(secs) = presign_secs {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(secs));
    }
    let signing = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let url = format!("{}/?{params}", s.endpoint);
    let host = s.addr.to_string();
    let headers = [("host", host.as_str())];
    let signable = SignableRequest::new("GET", &url, headers.iter().copied(), SignableBody::Bytes(b""))
        .expect("signable");
    let (instructions, _) = sign(signable, &signing).expect("sign").into_parts();
    let mut req = http::Request::builder()
        .method("GET")
        .uri(&url)
        .header("host", &host)
        .body(String::new())
        .expect("request");
    instructions.apply_to_request_http1x(&mut req);
    common::send(req).await
}

#[tokio::test]
async fn query_protocol_and_presigned_urls() {
    let s = server(AuthMode::Verify).await;
    let list = "Action=ListQueues&Version=2012-11-05";
    let r = signed_query(&s, KEY, SECRET, "sqs", list, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = signed_query(&s, KEY, "wrong", "sqs", list, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        common::xml_text(&r.body, "Code").as_deref(),
        Some("SignatureDoesNotMatch")
    );
    assert_eq!(common::xml_text(&r.body, "Type").as_deref(), Some("Sender"));
    let r = signed_query(&s, KEY, SECRET, "kms", list, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let message = common::xml_text(&r.body, "Message").unwrap_or_default();
    assert!(message.contains("correct service: 'sqs'"), "{message}");

    // A presigned GET works until it expires, and not once tampered with.
    let r = signed_query(&s, KEY, SECRET, "sqs", list, Some(60)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = signed_query(&s, KEY, "wrong", "sqs", list, Some(60)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let identity = Credentials::new(KEY, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(std::time::Duration::from_secs(60));
    let signing = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sqs")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("{}/?{list}", s.endpoint);
    let host = s.addr.to_string();
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", host.as_str())].into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &signing).unwrap().into_parts();
    let mut presigned = url.clone();
    for (name, value) in instructions.params() {
        presigned.push('&');
        presigned.push_str(name);
        presigned.push('=');
        presigned.push_str(&form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>());
    }
    let get = |u: String| async move { reqwest::get(u).await.expect("GET").status().as_u16() };
    assert_eq!(get(presigned.clone()).await, 200);
    assert_eq!(get(presigned.replace("ListQueues", "ListQueuez")).await, 403);
    s.advance(61);
    assert_eq!(get(presigned).await, 403, "past X-Amz-Expires");
}

/// `sealq_auth_requests_total{outcome, tls}` from the metrics page.
async fn auth_counts(s: &common::Server) -> std::collections::HashMap<String, u64> {
    let text = reqwest::get(format!("{}/_sealq/metrics", s.endpoint))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    text.lines()
        .filter_map(|l| l.strip_prefix("sealq_auth_requests_total{outcome=\""))
        .filter_map(|l| {
            let (outcome, rest) = l.split_once("\",tls=\"no\"} ")?;
            Some((outcome.to_owned(), rest.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_each_authentication_outcome() {
    let s = server(AuthMode::Open).await;
    let good = common::sqs_signing(&s.endpoint, KEY, SECRET, "us-east-1");
    let url = common::create_queue_with(
        &good,
        "metrics",
        &[(
            aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled,
            "false",
        )],
    )
    .await;
    good.list_queues().send().await.expect("ok");
    common::sqs_signing(&s.endpoint, "AKIDANYONE", "x", "us-east-1")
        .list_queues()
        .send()
        .await
        .expect("unchecked");
    let r = common::json_anonymous(&s, "GetQueueAttributes", serde_json::json!({"QueueUrl": url})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let _ = common::sqs_signing(&s.endpoint, KEY, "wrong", "us-east-1")
        .list_queues()
        .send()
        .await;
    s.advance(16 * 60);
    let _ = good.list_queues().send().await;
    let counts = auth_counts(&s).await;
    let n = |o: &str| counts.get(o).copied().unwrap_or(u64::MAX);
    assert_eq!((n("ok"), n("unchecked"), n("anonymous")), (2, 1, 1), "{counts:?}");
    assert_eq!(
        (n("bad_signature"), n("expired"), n("unknown_key")),
        (1, 1, 0),
        "{counts:?}"
    );

    let v = server(AuthMode::Verify).await;
    let _ = common::sqs_signing(&v.endpoint, "AKIDSTRANGER", "x", "us-east-1")
        .list_queues()
        .send()
        .await;
    assert_eq!(auth_counts(&v).await.get("unknown_key"), Some(&1));
}

/// A query-protocol ListQueues with this `Authorization` header, unsigned
/// otherwise.
async fn with_header(s: &common::Server, authorization: &str) -> common::Raw {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", s.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-amz-date", "20150830T123600Z")
        .header("authorization", authorization)
        .body("Action=ListQueues&Version=2012-11-05".to_owned())
        .expect("request");
    common::send(req).await
}

#[tokio::test]
async fn malformed_authorization_headers_get_aws_errors() {
    let s = server(AuthMode::Verify).await;
    let sig = "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    let cred = "Credential=AKIDREGISTERED/20150830/us-east-1/sqs/aws4_request";
    for (header, code, needle) in [
        (
            format!("AWS4-HMAC-SHA256 SignedHeaders=host, {sig}"),
            "IncompleteSignature",
            "requires 'Credential'",
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {cred}, SignedHeaders=host, {sig}"),
            "IncompleteSignature",
            "duplicate 'Credential'",
        ),
        (
            format!("AWS4-HMAC-SHA512 {cred}, SignedHeaders=host, {sig}"),
            "IncompleteSignature",
            "algorithm",
        ),
        (
            format!("AWS4-HMAC-SHA256 Credential=AKIDREGISTERED/2015/us-east-1, SignedHeaders=host, {sig}"),
            "IncompleteSignature",
            "5 slash-delimited",
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature=xyz"),
            "IncompleteSignature",
            "64 hexadecimal",
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDREGISTERED/20150830/us-east-1/kms/aws4_request, SignedHeaders=host, {sig}"
            ),
            "SignatureDoesNotMatch",
            "correct service: 'sqs'",
        ),
    ] {
        let r = with_header(&s, &header).await;
        assert_eq!(
            common::xml_text(&r.body, "Code").as_deref(),
            Some(code),
            "{header}: {}",
            r.body
        );
        let message = common::xml_text(&r.body, "Message").unwrap_or_default();
        assert!(message.contains(needle), "{header}: {message}");
        assert!(r.status == 400 || r.status == 403, "{header}: {}", r.status);
        assert!(!r.body.contains("5d672d79"), "the signature is never echoed");
    }
    // A bad X-Amz-Date with a well-formed header.
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", s.endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-amz-date", "2015-08-30T12:36:00Z")
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;x-amz-date, {sig}"),
        )
        .body("Action=ListQueues".to_owned())
        .unwrap();
    let r = common::send(req).await;
    assert_eq!(
        common::xml_text(&r.body, "Code").as_deref(),
        Some("IncompleteSignature"),
        "{}",
        r.body
    );
    // An oversize header is refused by the HTTP layer; the server goes on.
    let huge = format!("AWS4-HMAC-SHA256 Credential={}", "A".repeat(512 * 1024));
    let r = with_header(&s, &huge).await;
    assert!(r.status >= 400, "{}", r.status);
    let ok = common::sqs_signing(&s.endpoint, KEY, SECRET, "us-east-1");
    ok.list_queues().send().await.expect("still serving");
}
