//! HTTPS: the official SDK over TLS trusting sealq's local CA (round trip
//! on an encrypted queue, `https://` queue URLs, `tls="yes"` in metrics);
//! plain HTTP, untrusted clients and stalled handshakes on the TLS port
//! fail alone; a given certificate and key are served; the CA is kept in
//! the data directory across restarts; the binary's TLS flags, good and
//! bad.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName as A;
use common::{Binary, Server, free_port, launch_with_tls, unique};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use sealq::clock::Clock;
use sealq::config::TlsSettings;
use sealq::{AppState, Config};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A server with an HTTPS listener.
struct TlsServer {
    server: Server,
    /// The HTTPS listener's address.
    tls_addr: SocketAddr,
    /// `https://localhost:PORT`.
    https: String,
    /// The local CA's certificate (None with a given certificate).
    ca_pem: Option<String>,
}

/// Starts a server whose HTTPS settings are `tls` (port 0), on
/// `data_dir` when given.
async fn start_tls(tls: TlsSettings, data_dir: Option<PathBuf>) -> TlsServer {
    start_tls_with(tls, data_dir, sealq::auth::AuthMode::Open).await
}

/// As [`start_tls`], with `--auth mode`.
async fn start_tls_with(
    tls: TlsSettings,
    data_dir: Option<PathBuf>,
    mode: sealq::auth::AuthMode,
) -> TlsServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind TLS");
    let tls_addr = tls_listener.local_addr().expect("addr");
    let config = Config {
        port: listener.local_addr().expect("addr").port(),
        data_dir,
        tls: TlsSettings {
            port: Some(tls_addr.port()),
            ..tls
        },
        auth: mode,
        ..Config::default()
    };
    let state = AppState::open(config, Arc::new(Clock::system())).expect("state");
    let identity = sealq::tls::Identity::prepare(&state.config.tls, state.config.data_dir.as_deref())
        .expect("TLS identity");
    let ca_pem = identity.ca_pem.clone();
    let server = launch_with_tls(
        listener,
        Some(sealq::tls::TlsListener::new(tls_listener, identity.config)),
        state,
    );
    TlsServer {
        server,
        tls_addr,
        https: format!("https://localhost:{}", tls_addr.port()),
        ca_pem,
    }
}

/// An SQS client for `endpoint` whose HTTPS trusts only `ca_pem`.
fn sqs_trusting(endpoint: &str, ca_pem: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDTLS", "secret", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .http_client(common::https_trusting(ca_pem))
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// A rustls client configuration trusting only `ca_pem`.
fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// `GET path` over a new TLS connection to `addr` as `localhost`, trusting
/// `ca_pem`; (status, body), or the handshake's error.
async fn https_get(addr: SocketAddr, ca_pem: &str, path: &str) -> Result<(u16, String), std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(client_config(ca_pem));
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await?;
    Ok(parse_response(&raw))
}

/// (status, body) of a whole HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Sends `request` as plain bytes to `addr`; what came back before the
/// connection closed (bounded).
async fn plain_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request).await.expect("write");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut raw)).await;
    raw
}

/// The value of the Prometheus sample `series` (exact labels) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

/// The metrics page, over plain HTTP.
async fn metrics(server: &Server) -> String {
    reqwest::get(format!("{}/_sealq/metrics", server.endpoint))
        .await
        .expect("GET metrics")
        .text()
        .await
        .expect("metrics text")
}

/// Creates the queue `name` over HTTPS (base URL `https`): its URL is an
/// `https://` one, and, created over HTTPS with SigV4, it has SSE-SQS by
/// default, as on AWS (so what it stores is sealed at rest).
async fn sse_queue_over_https(c: &aws_sdk_sqs::Client, https: &str, name: &str) -> String {
    let url = c
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue over HTTPS")
        .queue_url
        .expect("QueueUrl");
    assert_eq!(url, format!("{https}/000000000000/{name}"));
    assert_eq!(
        common::queue_attr(c, &url, A::SqsManagedSseEnabled)
            .await
            .as_deref(),
        Some("true")
    );
    url
}

#[tokio::test]
async fn the_sdk_round_trips_over_https_on_an_encrypted_queue() {
    let s = start_tls(TlsSettings::default(), None).await;
    let ca = s.ca_pem.clone().expect("the local CA");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let c = sqs_trusting(&s.https, &ca);
    let name = unique("tls");
    let url = sse_queue_over_https(&c, &s.https, &name).await;
    c.send_message()
        .queue_url(&url)
        .message_body("over TLS")
        .send()
        .await
        .expect("SendMessage");
    let got = common::receive_now(&c, &url).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("over TLS"));
    let stored = common::stored_messages(&s.server, &url).await;
    assert_eq!(stored[0]["encrypted"], serde_json::json!(true));
    c.delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().expect("handle"))
        .send()
        .await
        .expect("DeleteMessage");
    let listed = c
        .list_queues()
        .queue_name_prefix(&name)
        .send()
        .await
        .expect("ListQueues");
    assert_eq!(listed.queue_urls(), std::slice::from_ref(&url));
    // The same queue over plain HTTP has an http:// URL.
    let plain = common::sqs(&s.server);
    let listed = plain
        .list_queues()
        .queue_name_prefix(&name)
        .send()
        .await
        .expect("ListQueues");
    assert_eq!(
        listed.queue_urls(),
        [format!("http://{}/000000000000/{name}", s.server.addr)]
    );
    // Metrics tell the requests that came over TLS from the others.
    let m = metrics(&s.server).await;
    let over_tls = sample(&m, r#"sealq_auth_requests_total{outcome="unchecked",tls="yes"} "#).unwrap_or(0.0);
    assert!(over_tls >= 6.0, "{m}");
    let plain_count =
        sample(&m, r#"sealq_auth_requests_total{outcome="unchecked",tls="no"} "#).unwrap_or(0.0);
    assert!(plain_count >= 1.0, "{m}");
    // The admin API answers over HTTPS too.
    let (status, body) = https_get(s.tls_addr, &ca, "/_sealq/health")
        .await
        .expect("GET over HTTPS");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    s.server.stop().await;
}

#[tokio::test]
async fn plain_http_untrusted_clients_and_stalled_handshakes_fail_alone() {
    let s = start_tls(TlsSettings::default(), None).await;
    let ca = s.ca_pem.clone().expect("the local CA");
    let c = sqs_trusting(&s.https, &ca);
    let url = common::new_queue(&c, "alone").await;
    // A connection that never says anything, and one stuck mid-handshake.
    let _silent = TcpStream::connect(s.tls_addr).await.expect("connect");
    let mut stuck = TcpStream::connect(s.tls_addr).await.expect("connect");
    stuck
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .await
        .expect("half a record");

    // Plain HTTP on the TLS port: a 400 saying so, and that connection closes.
    let raw = plain_exchange(
        s.tls_addr,
        b"GET /_sealq/health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    let (status, body) = parse_response(&raw);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&raw));
    assert!(body.contains("HTTPS"), "{body}");
    // Garbage that looks like a handshake record: the handshake fails.
    let raw = plain_exchange(s.tls_addr, &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]).await;
    assert!(!raw.starts_with(b"HTTP/"), "{raw:?}");

    // A client that does not trust sealq's CA fails its handshake...
    let stranger = sealq::tls::LocalCa::generate().expect("another CA");
    let e = https_get(s.tls_addr, stranger.cert_pem(), "/_sealq/health")
        .await
        .expect_err("an untrusted certificate");
    // (Another sealq's CA has the same name: the signature is what fails.)
    assert!(e.to_string().contains("invalid peer certificate"), "{e}");
    // ...and so does the SDK with the system's trust store only.
    let untrusting = common::sqs_at(&s.https, "AKIDTLS");
    let err = untrusting
        .list_queues()
        .send()
        .await
        .expect_err("the local CA is not a system root");
    let err = format!(
        "{:?}",
        aws_smithy_runtime_api::client::result::SdkError::into_source(err)
    );
    assert!(
        err.contains("UnknownIssuer") || err.contains("certificate"),
        "{err}"
    );

    // Meanwhile the trusting client goes on, on its kept-alive connection
    // and on new ones.
    let started = Instant::now();
    for i in 0..5 {
        c.send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .expect("SendMessage while others fail");
    }
    let fresh = sqs_trusting(&s.https, &ca);
    assert_eq!(common::receive_now(&fresh, &url).await.len(), 5);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stalled handshakes held others up"
    );
    // And the plain port never noticed.
    let (status, _) = https_get(s.tls_addr, &ca, "/_sealq/health").await.expect("HTTPS");
    assert_eq!(status, 200);
    assert_eq!(
        common::admin_get(&s.server, "/health").await,
        serde_json::json!({"status": "ok"})
    );
    s.server.stop().await;
}

#[tokio::test]
async fn shutdown_releases_long_polls_over_https_and_stops_both_listeners() {
    let s = start_tls(TlsSettings::default(), None).await;
    let ca = s.ca_pem.clone().expect("the local CA");
    let c = sqs_trusting(&s.https, &ca);
    let url = common::new_queue(&c, "stop").await;
    let waiter = common::long_poll(&c, &url, 20);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tls_addr = s.tls_addr;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), s.server.stop())
        .await
        .expect("shutdown finished");
    assert!(waiter.await.expect("the long poll was answered").is_empty());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        TcpStream::connect(tls_addr).await.is_err(),
        "the TLS port still accepts"
    );
}

/// A directory of its own under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sealq-tls-{}-{}", std::process::id(), unique(name)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A CA and a `localhost` certificate signed by it, made with rcgen as a
/// user would: (CA PEM, certificate path, key path).
fn users_certificate(dir: &Path) -> (String, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "users test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "users sealq");
    let cert = params.signed_by(&key, &issuer).expect("certificate");
    let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    (ca_cert.pem(), cert_path, key_path)
}

#[tokio::test]
async fn a_given_certificate_and_key_are_served() {
    let dir = temp_dir("given");
    let (users_ca, cert, key) = users_certificate(&dir);
    let s = start_tls(
        TlsSettings {
            cert: Some(cert.clone()),
            key: Some(key),
            ..TlsSettings::default()
        },
        None,
    )
    .await;
    assert!(s.ca_pem.is_none(), "no local CA with a given certificate");
    let c = sqs_trusting(&s.https, &users_ca);
    let url = common::new_queue(&c, "given").await;
    assert!(url.starts_with("https://localhost:"), "{url}");
    // The certificate presented is the file's.
    let tcp = TcpStream::connect(s.tls_addr).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(client_config(&users_ca))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    let presented = tls.get_ref().1.peer_certificates().expect("certificates")[0].clone();
    let file = CertificateDer::from_pem_file(&cert).expect("the file's certificate");
    assert_eq!(presented, file);
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        None,
        "no ALPN asked, none chosen"
    );
    // A client that trusts sealq's own CA instead does not get in.
    let local = sealq::tls::LocalCa::generate().expect("CA");
    assert!(
        https_get(s.tls_addr, local.cert_pem(), "/_sealq/health")
            .await
            .is_err()
    );
    s.server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn alpn_offers_http_1_1_only() {
    let s = start_tls(TlsSettings::default(), None).await;
    let ca = s.ca_pem.clone().expect("the local CA");
    let connect = |protocols: Vec<Vec<u8>>| {
        let mut config = (*client_config(&ca)).clone();
        config.alpn_protocols = protocols;
        let addr = s.tls_addr;
        async move {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(ServerName::try_from("localhost").expect("name"), tcp)
                .await
        }
    };
    let tls = connect(vec![b"h2".to_vec(), b"http/1.1".to_vec()])
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert!(
        connect(vec![b"h2".to_vec()]).await.is_err(),
        "HTTP/2 only: refused"
    );
    s.server.stop().await;
}

#[tokio::test]
async fn the_local_ca_is_kept_in_the_data_directory_across_restarts() {
    let dir = temp_dir("restart");
    let data = dir.join("data");
    let out = dir.join("ca-out.pem");
    let settings = TlsSettings {
        ca_out: Some(out.clone()),
        hostnames: vec!["sealq.test".to_owned()],
        ..TlsSettings::default()
    };
    let first = start_tls(settings.clone(), Some(data.clone())).await;
    let ca = first.ca_pem.clone().expect("the local CA");
    assert_eq!(std::fs::read_to_string(&out).expect("--tls-ca-out"), ca);
    assert_eq!(
        std::fs::read_to_string(data.join("tls/ca.pem")).expect("ca.pem"),
        ca
    );
    let key = std::fs::read_to_string(data.join("tls/ca.key")).expect("ca.key");
    assert!(key.contains("PRIVATE KEY"));
    assert!(
        !std::fs::read_to_string(&out).unwrap().contains("PRIVATE"),
        "the key is never written out"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("tls/ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "ca.key is private");
    }
    let c = sqs_trusting(&first.https, &ca);
    let url = common::new_queue(&c, "kept").await;
    c.send_message()
        .queue_url(&url)
        .message_body("before the restart")
        .send()
        .await
        .expect("send");
    first.server.stop().await;
    std::fs::remove_file(&out).expect("remove the CA copy");

    // A client configured with the first CA still trusts the restarted
    // server, whose new certificate also holds a new name.
    let second = start_tls(
        TlsSettings {
            hostnames: vec!["sealq.test".to_owned(), "other.test".to_owned()],
            ..settings
        },
        Some(data.clone()),
    )
    .await;
    assert_eq!(second.ca_pem.as_deref(), Some(ca.as_str()));
    assert_eq!(std::fs::read_to_string(&out).expect("written again"), ca);
    assert_eq!(std::fs::read_to_string(data.join("tls/ca.key")).unwrap(), key);
    let c = sqs_trusting(&second.https, &ca);
    let got = common::receive_now(&c, &url.replace(&first.https, &second.https)).await;
    assert_eq!(got[0].body(), Some("before the restart"));
    let tcp = TcpStream::connect(second.tls_addr).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(client_config(&ca))
        .connect(ServerName::try_from("other.test").expect("name"), tcp)
        .await;
    assert!(tls.is_ok(), "the new name is in the new certificate: {tls:?}");
    second.server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_samples_commented_tls_settings_parse_when_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/sealq.toml");
    let text = std::fs::read_to_string(&path).expect("the sample");
    let mut uncommented = text.clone();
    for key in ["tls_port", "tls_hostnames", "tls_ca_out", "tls_cert", "tls_key"] {
        let commented = format!("# {key} = ");
        assert!(text.contains(&commented), "the sample shows {key} commented out");
        uncommented = uncommented.replacen(&commented, &commented[2..], 1);
    }
    let f = sealq::config::parse(&path, uncommented).unwrap_or_else(|e| panic!("{e}"));
    let tls = f.server_config(Config::default()).tls;
    assert_eq!(tls.port, Some(9443));
    assert_eq!(tls.hostnames, ["sealq"]);
    assert_eq!(tls.ca_out.as_deref(), Some(Path::new("/data/sealq-ca.pem")));
    assert_eq!(tls.cert.as_deref(), Some(Path::new("/etc/sealq/server.pem")));
    assert_eq!(tls.key.as_deref(), Some(Path::new("/etc/sealq/server.key")));
    // As it is (commented), the sample serves no HTTPS.
    let f = sealq::config::parse(&path, text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.server.tls_port, None);
}

// ------------------------------------------------------------ the binary

/// Runs the binary to completion (bounded); exit code and stderr.
fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"));
    cmd.args(["serve", "--host", "127.0.0.1"]);
    if !args.contains(&"--port") {
        cmd.args(["--port", &free_port().to_string()]);
    }
    cmd.args(args).env_remove("SEALQ_CONFIG").env_remove("SEALQ_PORT");
    common::refusal(cmd, &format!("with bad TLS settings {args:?}"))
}

#[test]
fn bad_tls_settings_exit_non_zero_with_a_message() {
    let dir = temp_dir("bad");
    let (_, cert, key) = users_certificate(&dir);
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (_, other_cert, _) = users_certificate(&other);
    let (cert, key, other_cert) = (
        cert.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
        other_cert.to_str().unwrap().to_owned(),
    );
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let junk = junk.to_str().unwrap().to_owned();
    let port = free_port().to_string();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["--tls-port", &port, "--tls-cert", &cert],
            2,
            "--tls-cert needs --tls-key",
        ),
        (
            vec!["--tls-port", &port, "--tls-key", &key],
            2,
            "--tls-key needs --tls-cert",
        ),
        (vec!["--tls-cert", &cert, "--tls-key", &key], 2, "need --tls-port"),
        (
            vec![
                "--tls-port",
                &port,
                "--tls-cert",
                "/nonexistent/c.pem",
                "--tls-key",
                &key,
            ],
            2,
            "cannot read the certificate /nonexistent/c.pem",
        ),
        (
            vec!["--tls-port", &port, "--tls-cert", &junk, "--tls-key", &key],
            2,
            "no certificate in it",
        ),
        (
            vec!["--tls-port", &port, "--tls-cert", &cert, "--tls-key", &junk],
            2,
            "no private key in it",
        ),
        (
            vec!["--tls-port", &port, "--tls-cert", &other_cert, "--tls-key", &key],
            2,
            "the private key does not match the certificate",
        ),
        (
            vec!["--tls-port", &port, "--tls-hostnames", "ok.test,not a name"],
            2,
            "neither a DNS name nor an IP address",
        ),
        (
            vec!["--tls-port", &port, "--tls-ca-out", "/nonexistent/dir/ca.pem"],
            1,
            "--tls-ca-out: cannot write /nonexistent/dir/ca.pem",
        ),
    ];
    for (args, code, message) in cases {
        let (got, stderr) = run_binary(&args);
        assert_eq!(got, Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(message),
            "{args:?}: wanted {message:?} in {stderr}"
        );
    }
    // The TLS port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let (got, stderr) = run_binary(&["--tls-port", &taken_port]);
    assert_eq!(got, Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen for HTTPS"), "{stderr}");
    // The same port for both.
    let (got, stderr) = run_binary(&["--port", &taken_port, "--tls-port", &taken_port]);
    assert_eq!(got, Some(2), "{stderr}");
    assert!(stderr.contains("different ports"), "{stderr}");
    // In the configuration file: a certificate without its key.
    let file = dir.join("sealq.toml");
    std::fs::write(
        &file,
        format!("[server]\ntls_port = {port}\ntls_cert = \"{cert}\"\n"),
    )
    .unwrap();
    let (got, stderr) = run_binary(&["--config", file.to_str().unwrap()]);
    assert_eq!(got, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-cert needs --tls-key"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads the child's stderr until the "sealq listening" line; returns it.
fn listening_line(child: &mut std::process::Child) -> String {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("sealq listening") {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("a \"sealq listening\" line")
}

#[tokio::test]
async fn the_binary_serves_https_on_a_free_port_and_writes_its_ca() {
    let dir = temp_dir("bin");
    let out = dir.join("ca.pem");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"));
    cmd.args(["serve", "--host", "127.0.0.1", "--port", "0", "--tls-port", "0"])
        .env_remove("SEALQ_CONFIG")
        .env("SEALQ_TLS_CA_OUT", &out)
        .env("SEALQ_TLS_HOSTNAMES", "sealq.test,10.1.2.3")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = Binary(cmd.spawn().expect("spawn sealq"));
    let line = listening_line(&mut child.0);
    let tls_addr: SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("tls_address="))
        .expect("tls_address in the listening line")
        .parse()
        .expect("an address");
    let ca = std::fs::read_to_string(&out).expect("the CA was written");
    let (status, body) = https_get(tls_addr, &ca, "/_sealq/health").await.expect("HTTPS");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let c = sqs_trusting(&format!("https://localhost:{}", tls_addr.port()), &ca);
    let url = common::new_queue(&c, "bin").await;
    assert!(
        url.starts_with(&format!("https://localhost:{}/", tls_addr.port())),
        "{url}"
    );
    // The names from SEALQ_TLS_HOSTNAMES are in the certificate.
    let tcp = TcpStream::connect(tls_addr).await.expect("connect");
    tokio_rustls::TlsConnector::from(client_config(&ca))
        .connect(ServerName::try_from("sealq.test").expect("name"), tcp)
        .await
        .expect("sealq.test is a name of the certificate");
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn strict_mode_serves_encrypted_queues_over_https_only() {
    let s = start_tls_with(TlsSettings::default(), None, sealq::auth::AuthMode::Strict).await;
    s.server.state.principals.register(
        "AKIDTLS",
        "arn:aws:iam::000000000000:user/tls",
        Some(sealq::auth::SecretAccessKey::new("secret".to_owned())),
    );
    // Strict enforces authorization too: this user may use SQS.
    let all_sqs = sealq::iam::policy::PolicyDocument::parse_json(
        r#"{"Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}"#,
        sealq::iam::policy::PolicyKind::Identity,
    )
    .expect("a policy");
    s.server.state.principals.set_identity_policies(
        "arn:aws:iam::000000000000:user/tls",
        vec![sealq::iam::NamedPolicy {
            name: "all-sqs".to_owned(),
            document: all_sqs,
        }],
    );
    let ca = s.ca_pem.clone().expect("the local CA");
    let https = sqs_trusting(&s.https, &ca);
    let name = unique("strict");
    let url = sse_queue_over_https(&https, &s.https, &name).await;
    https
        .send_message()
        .queue_url(&url)
        .message_body("strict")
        .send()
        .await
        .expect("SendMessage over HTTPS");
    // The same signed caller over plain HTTP: InvalidSecurity.
    let plain = common::sqs_signing(&s.server.endpoint, "AKIDTLS", "secret", "us-east-1");
    let e = plain
        .receive_message()
        .queue_url(format!("{}/000000000000/{name}", s.server.endpoint))
        .send()
        .await
        .expect_err("plain HTTP to an encrypted queue");
    let e = e.into_service_error();
    assert_eq!(
        aws_sdk_sqs::error::ProvideErrorMetadata::code(&e),
        Some("InvalidSecurity")
    );
    assert_eq!(
        aws_sdk_sqs::error::ProvideErrorMetadata::message(&e),
        Some("All requests to this queue must use HTTPS and SigV4.")
    );
    let got = common::receive_now(&https, &url).await;
    assert_eq!(got.len(), 1, "the message is still there for HTTPS");
}
