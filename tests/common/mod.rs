//! Shared harness for integration tests: starts `sealq::serve` in-process on
//! 127.0.0.1:0, builds official SDK clients pointed at it, and signs
//! query-protocol requests with the aws-sigv4 crate.

#![allow(dead_code, unreachable_pub, missing_docs)]

mod seeds;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use sealq::clock::Clock;
use sealq::{AppState, Config};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running server; dropping it shuts the server down.
pub struct Server {
    pub addr: SocketAddr,
    pub endpoint: String,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    pub handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server io");
        }
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, secs: u64) {
        self.state.clock.advance(secs * 1000);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Records `data` as a seed of the fuzz target `target` when the tests
/// run with `SEALQ_FUZZ_SEEDS` (see `seeds`).
pub fn record_seed(target: &str, data: &[u8]) {
    seeds::record_seed(target, data);
}

/// Starts a server with default settings on the system clock.
pub async fn start() -> Server {
    start_with(Config::default(), Arc::new(Clock::system())).await
}

/// Starts a server with these settings and clock.
pub async fn start_with(mut config: Config, clock: Arc<Clock>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    config.port = addr.port();
    launch(listener, AppState::with_clock(config, clock))
}

/// Serves `state` (marked ready) on `listener`.
fn launch(listener: TcpListener, state: AppState) -> Server {
    launch_with_tls(listener, None, state)
}

/// Serves `state` (marked ready) on `listener` and, when given, over HTTPS
/// on `tls`.
pub fn launch_with_tls(
    listener: TcpListener,
    tls: Option<sealq::tls::TlsListener>,
    state: AppState,
) -> Server {
    let addr = listener.local_addr().expect("addr");
    state.set_ready();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = if tls.is_none() && seeds::dir().is_some() {
        // Recording seeds for the fuzz targets (see `seeds`): the same
        // application, behind a recorder, on axum's plain server.
        let app = sealq::app(state.clone())
            .layer(axum::middleware::from_fn(seeds::recorder))
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        })
    } else {
        tokio::spawn(sealq::serve_with_tls(listener, tls, state.clone(), async move {
            let _ = rx.await;
        }))
    };
    Server {
        addr,
        endpoint: format!("http://{addr}"),
        state,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

/// Starts a server with the settings of a configuration file (port 0
/// instead of the file's) after applying the file to its state, as
/// `sealq serve --config` does.
pub async fn start_with_file(file: &sealq::config::FileConfig, clock: Arc<Clock>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = file.server_config(Config::default());
    config.port = addr.port();
    config.queue_url_base = None;
    let state = AppState::with_clock(config, clock);
    sealq::config::apply(&state, file).expect("the configuration applies");
    launch(listener, state)
}

/// An HTTP client for the SDKs whose HTTPS trusts only `ca_pem` (the way
/// to trust a private CA with the Rust SDK).
pub fn https_trusting(ca_pem: &str) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(ca_pem.as_bytes()))
                .build()
                .expect("TLS context"),
        )
        .build_https()
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// An SQS client (JSON protocol) signing as `access_key`.
pub fn sqs_as(server: &Server, access_key: &str) -> aws_sdk_sqs::Client {
    sqs_at(&server.endpoint, access_key)
}

/// An SQS client (JSON protocol) for the server at `endpoint`, signing
/// with the secret `secret`.
pub fn sqs_at(endpoint: &str, access_key: &str) -> aws_sdk_sqs::Client {
    sqs_signing(endpoint, access_key, "secret", "us-east-1")
}

/// An SQS client (JSON protocol) signing as `access_key` with `secret`
/// for `region`.
pub fn sqs_signing(endpoint: &str, access_key: &str, secret: &str, region: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .endpoint_url(endpoint)
        // Tests assert on the first answer; retries would hide 5xx and throttling.
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// An SQS client (JSON protocol) for `endpoint` with these credentials
/// (temporary ones included), no retries.
pub fn sqs_at_with(endpoint: &str, creds: Credentials) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// An SQS client signing as `AKIDTEST`.
pub fn sqs(server: &Server) -> aws_sdk_sqs::Client {
    sqs_as(server, "AKIDTEST")
}

/// A KMS client signing as `access_key`.
pub fn kms_as(server: &Server, access_key: &str) -> aws_sdk_kms::Client {
    kms_at(&server.endpoint, access_key)
}

/// A KMS client for the server at `endpoint`.
pub fn kms_at(endpoint: &str, access_key: &str) -> aws_sdk_kms::Client {
    kms_signing(endpoint, access_key, "secret")
}

/// A KMS client signing as `access_key` with `secret`.
pub fn kms_signing(endpoint: &str, access_key: &str, secret: &str) -> aws_sdk_kms::Client {
    kms_in(endpoint, access_key, secret, "us-east-1")
}

/// A KMS client signing as `access_key` with `secret` for `region`.
pub fn kms_in(endpoint: &str, access_key: &str, secret: &str, region: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// A KMS client signing as `AKIDTEST`.
pub fn kms(server: &Server) -> aws_sdk_kms::Client {
    kms_as(server, "AKIDTEST")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `sealq` child process, killed when dropped (so a failing test leaves
/// no server behind).
pub struct Binary(pub std::process::Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `sealq` binary configured by `configure`, quiet.
pub fn spawn_binary(configure: impl FnOnce(&mut std::process::Command)) -> Binary {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"));
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    configure(&mut cmd);
    Binary(cmd.spawn().expect("spawn sealq"))
}

/// Runs `cmd` (a `sealq` that must refuse to start) to completion, at
/// most 20 s: its exit code and stderr. `what` names the run in a failure.
pub fn refusal(mut cmd: std::process::Command, what: &str) -> (Option<i32>, String) {
    use std::io::Read as _;
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = Binary(cmd.spawn().expect("spawn sealq"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "sealq kept running: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    (status.code(), stderr)
}

/// Waits (bounded) until the server on `port` answers `/_sealq/health`.
pub async fn wait_healthy(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let url = format!("http://127.0.0.1:{port}/_sealq/health");
    while std::time::Instant::now() < deadline {
        if let Ok(r) = reqwest::get(&url).await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("sealq on port {port} never became healthy");
}

/// One attribute of a queue, through the SDK.
pub async fn queue_attr(
    c: &aws_sdk_sqs::Client,
    url: &str,
    name: aws_sdk_sqs::types::QueueAttributeName,
) -> Option<String> {
    let out = c
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .expect("GetQueueAttributes");
    out.attributes().and_then(|a| a.get(&name).cloned())
}

/// Creates a queue with a unique name starting with `prefix`; its URL.
pub async fn new_queue(c: &aws_sdk_sqs::Client, prefix: &str) -> String {
    c.create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("QueueUrl")
}

/// One short-poll receive (up to 10 messages).
pub async fn receive_now(c: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    c.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default()
}

/// A long poll of `secs` seconds running in the background.
pub fn long_poll(
    c: &aws_sdk_sqs::Client,
    url: &str,
    secs: i32,
) -> tokio::task::JoinHandle<Vec<aws_sdk_sqs::types::Message>> {
    let req = c.receive_message().queue_url(url).wait_time_seconds(secs);
    tokio::spawn(async move {
        req.send()
            .await
            .expect("long poll answered")
            .messages
            .unwrap_or_default()
    })
}

/// A response as raw parts.
pub struct Raw {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

/// Sends a query-protocol request (form body) to `path`, signed as
/// `access_key` with SigV4 unless `access_key` is `None`.
pub async fn query_as(server: &Server, path: &str, params: &[(&str, &str)], access_key: Option<&str>) -> Raw {
    query_signed(server, path, params, access_key.map(|ak| (ak, "us-east-1"))).await
}

/// Sends a query-protocol request (form body) to `path`, signed as the
/// access key for the region of `signer` with SigV4 unless it is `None`.
pub async fn query_signed(
    server: &Server,
    path: &str,
    params: &[(&str, &str)],
    signer: Option<(&str, &str)>,
) -> Raw {
    send(query_request(server, path, params, signer)).await
}

/// The request [`query_signed`] sends.
pub fn query_request(
    server: &Server,
    path: &str,
    params: &[(&str, &str)],
    signer: Option<(&str, &str)>,
) -> http::Request<String> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    let mut has_version = false;
    for (k, v) in params {
        has_version |= *k == "Version";
        form.append_pair(k, v);
    }
    if !has_version {
        form.append_pair("Version", "2012-11-05");
    }
    let body = form.finish();
    let url = format!("{}{}", server.endpoint, path);
    let mut req = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header("host", server.addr.to_string())
        .body(body.clone())
        .expect("request");
    if let Some((ak, region)) = signer {
        let identity = Credentials::new(ak, "secret", None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("sqs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
    }
    req
}

/// `req` as HTTP/1.1 bytes, for raw connections.
pub fn http1_bytes(req: &http::Request<String>) -> Vec<u8> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut out = format!("{} {path} HTTP/1.1\r\n", req.method());
    for (k, v) in req.headers() {
        out.push_str(&format!("{k}: {}\r\n", v.to_str().expect("ASCII header")));
    }
    out.push_str(&format!(
        "content-length: {}\r\n\r\n{}",
        req.body().len(),
        req.body()
    ));
    out.into_bytes()
}

/// Sends a signed query-protocol request to `/`.
pub async fn query(server: &Server, params: &[(&str, &str)]) -> Raw {
    query_as(server, "/", params, Some("AKIDTEST")).await
}

/// Sends any request and collects the response.
pub async fn send(req: http::Request<String>) -> Raw {
    let client = reqwest::Client::new();
    let (parts, body) = req.into_parts();
    let mut rb = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body);
    rb = rb.timeout(std::time::Duration::from_secs(60));
    let resp = rb.send().await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    Raw {
        status,
        headers,
        body,
    }
}

/// Text of the first `<tag>` element in `xml`.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml_all(xml, tag).into_iter().next()
}

/// Texts of every `<tag>` element in `xml`, unescaped, in order.
pub fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    use quick_xml::Reader;
    use quick_xml::events::Event;
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut depth_in: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.name().as_ref() == tag.as_bytes() => depth_in = Some(String::new()),
            Ok(Event::Text(t)) => {
                if let Some(s) = depth_in.as_mut() {
                    s.push_str(&t.unescape().expect("unescape"));
                }
            }
            Ok(Event::End(e)) if e.name().as_ref() == tag.as_bytes() => {
                if let Some(s) = depth_in.take() {
                    out.push(s);
                }
            }
            Ok(Event::Eof) => break,
            Err(e) => panic!("bad xml: {e}: {xml}"),
            _ => {}
        }
    }
    out
}

/// `GET /_sealq{path}` as JSON.
pub async fn admin_get(server: &Server, path: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .get(format!("{}/_sealq{path}", server.endpoint))
        .send()
        .await
        .expect("admin GET");
    assert_eq!(resp.status().as_u16(), 200, "GET /_sealq{path}");
    serde_json::from_str(&resp.text().await.expect("body")).expect("admin JSON")
}

/// `POST /_sealq{path}` with a JSON body; returns status and JSON answer.
pub async fn admin_post(server: &Server, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/_sealq{path}", server.endpoint))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("admin POST");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// An unsigned SQS JSON 1.0 request.
pub async fn json_anonymous(server: &Server, action: &str, body: serde_json::Value) -> Raw {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", server.endpoint))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .body(body.to_string())
        .expect("request");
    send(req).await
}

/// Creates a queue named `prefix-<unique>` with these attributes; returns its URL.
pub async fn create_queue_with(
    c: &aws_sdk_sqs::Client,
    prefix: &str,
    attrs: &[(aws_sdk_sqs::types::QueueAttributeName, &str)],
) -> String {
    let mut req = c.create_queue().queue_name(unique(prefix));
    for (k, v) in attrs {
        req = req.attributes(k.clone(), *v);
    }
    req.send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("QueueUrl")
}

/// The `QueueArn` of a queue.
pub async fn queue_arn(c: &aws_sdk_sqs::Client, url: &str) -> String {
    queue_attr(c, url, aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .await
        .expect("QueueArn")
}

/// The envelope view (`GET /_sealq/queues/<name>/messages`) of a queue.
pub async fn envelope_view(server: &Server, url: &str) -> serde_json::Value {
    let name = url.rsplit('/').next().expect("queue name");
    admin_get(server, &format!("/queues/{name}/messages")).await
}

/// The stored messages of a queue as the envelope view shows them.
pub async fn stored_messages(server: &Server, url: &str) -> Vec<serde_json::Value> {
    envelope_view(server, url).await["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The parts of a stored envelope (as the envelope view shows it) that a
/// move must keep byte for byte.
pub fn envelope_parts(m: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "ciphertext": m["ciphertext"], "nonce": m["nonce"], "tag": m["tag"],
        "encrypted_data_key": m["encrypted_data_key"], "key_arn": m["key_arn"],
        "encryption_context": m["encryption_context"],
        "sealed_for_message_id": m["sealed_for_message_id"],
    })
}

/// One receive of up to 10 messages with every system attribute, leaving
/// them visible again at once (VisibilityTimeout 0).
pub async fn receive_and_release(c: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    c.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default()
}

/// What a load (see [`spawn_load`]) saw acknowledged.
#[derive(Default)]
pub struct Acked {
    pub sent: std::collections::HashSet<String>,
    /// Deletes asked for: one may be committed just before a crash, with
    /// its answer lost.
    pub deleting: std::collections::HashSet<String>,
    pub deleted: std::collections::HashSet<String>,
}

impl Acked {
    /// Against the bodies `left` in the queue after a crash and restart:
    /// acknowledged sends that are missing (and were not being deleted),
    /// and acknowledged deletes that came back.
    pub fn lost_and_resurrected<'a>(
        &'a self,
        left: &std::collections::HashSet<String>,
    ) -> (Vec<&'a String>, Vec<&'a String>) {
        let lost = self
            .sent
            .iter()
            .filter(|b| !left.contains(*b) && !self.deleting.contains(*b))
            .collect();
        let resurrected = self.deleted.iter().filter(|b| left.contains(*b)).collect();
        (lost, resurrected)
    }
}

/// A load on `url` until the server stops answering: 4 senders (single and
/// batch sends in turn, bodies `{tag}-p{n}-m{i}`) and 2 consumers that
/// delete what they receive, recording what was acknowledged. Each task
/// ends at its first failed request.
pub fn spawn_load(
    c: &aws_sdk_sqs::Client,
    url: &str,
    tag: &str,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<std::sync::Mutex<Acked>>) {
    let acked = Arc::new(std::sync::Mutex::new(Acked::default()));
    let mut tasks = Vec::new();
    for p in 0..4 {
        let (c, url, acked, tag) = (c.clone(), url.to_owned(), acked.clone(), tag.to_owned());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let body = format!("{tag}-p{p}-m{i}");
                let ok = if i % 2 == 0 {
                    let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id("e")
                        .message_body(&body)
                        .build()
                        .expect("entry");
                    c.send_message_batch()
                        .queue_url(&url)
                        .entries(entry)
                        .send()
                        .await
                        .is_ok_and(|o| o.successful.len() == 1)
                } else {
                    c.send_message()
                        .queue_url(&url)
                        .message_body(&body)
                        .send()
                        .await
                        .is_ok()
                };
                if !ok {
                    return;
                }
                acked.lock().unwrap().sent.insert(body);
            }
        }));
    }
    for _ in 0..2 {
        let (c, url, acked) = (c.clone(), url.to_owned(), acked.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok(r) = c
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                else {
                    return;
                };
                for m in r.messages.unwrap_or_default() {
                    let body = m.body.unwrap_or_default();
                    acked.lock().unwrap().deleting.insert(body.clone());
                    let handle = m.receipt_handle.unwrap_or_default();
                    if c.delete_message()
                        .queue_url(&url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .is_err()
                    {
                        return;
                    }
                    acked.lock().unwrap().deleted.insert(body);
                }
            }
        }));
    }
    (tasks, acked)
}

/// Every body left in `url`, received (and hidden for 10 minutes) until a
/// receive comes back empty.
pub async fn drain_bodies(c: &aws_sdk_sqs::Client, url: &str) -> std::collections::HashSet<String> {
    let mut left = std::collections::HashSet::new();
    loop {
        let got = c
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return left;
        }
        left.extend(got.into_iter().filter_map(|m| m.body));
    }
}

/// Runs the `sealq` binary with `args` in `dir`, off the runtime (which
/// serves in-process servers meanwhile): exit code, stdout, stderr.
pub async fn run_sealq(dir: &std::path::Path, args: Vec<String>) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"));
    cmd.current_dir(dir).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run sealq"))
        .await
        .expect("join");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
