//! The server as a whole: the `sealq` binary and its settings, graceful
//! shutdown, queue URL overrides.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use common::{
    free_port, http1_bytes, new_queue, query_request, queue_attr, spawn_binary, sqs, start, start_with,
    unique, wait_healthy,
};
use sealq::Config;
use sealq::clock::Clock;

fn client_for(endpoint: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDBIN", "secret", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

#[tokio::test]
async fn graceful_shutdown_releases_long_polls_and_finishes_requests() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "shutdown").await;
    let waiter = tokio::spawn({
        let c = c.clone();
        async move {
            c.receive_message()
                .queue_url(url)
                .wait_time_seconds(20)
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("shutdown finished");
    let got = waiter
        .await
        .unwrap()
        .expect("the long poll got an answer, not a dropped connection");
    assert!(got.messages().is_empty());
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Reads `tcp` to its end, within 5 s: what the server wrote before closing.
async fn read_to_close(tcp: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut got))
        .await
        .expect("the server closed the connection when it stopped")
        .expect("an orderly close, not a reset");
    String::from_utf8(got).expect("UTF-8 answer")
}

#[tokio::test]
async fn at_shutdown_every_held_poll_gets_its_whole_answer_and_every_connection_closes() {
    use tokio::io::AsyncWriteExt as _;
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "park").await;
    let request = http1_bytes(&query_request(
        &server,
        "/",
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", &url),
            ("WaitTimeSeconds", "20"),
        ],
        Some(("AKIDTEST", "us-east-1")),
    ));
    let mut polls = Vec::new();
    for _ in 0..64 {
        let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(&request).await.unwrap();
        polls.push(tcp);
    }
    // A connection with no request in flight closes too.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("shutdown finished");
    for tcp in &mut polls {
        let answer = read_to_close(tcp).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.ends_with("</ReceiveMessageResponse>"),
            "one whole answer: {answer}"
        );
        assert!(!answer.contains("<Message>"), "{answer}");
    }
    assert_eq!(read_to_close(&mut idle).await, "");
}

#[tokio::test]
async fn binary_takes_settings_from_flags_and_stops_on_sigterm() {
    let port = free_port();
    let mut running = spawn_binary(|cmd| {
        cmd.args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--region",
            "eu-west-1",
        ])
        .env("SEALQ_ACCOUNT_ID", "123456789012");
    });
    wait_healthy(port).await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = client_for(&endpoint);
    let name = unique("bin");
    let url = c
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_eq!(url, format!("{endpoint}/123456789012/{name}"));
    let arn = queue_attr(&c, &url, QueueAttributeName::QueueArn).await.unwrap();
    assert_eq!(arn, format!("arn:aws:sqs:eu-west-1:123456789012:{name}"));

    let waiter = tokio::spawn({
        let c = c.clone();
        async move {
            c.receive_message()
                .queue_url(url)
                .wait_time_seconds(20)
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = running.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("long poll released")
        .unwrap();
    assert!(got.unwrap().messages().is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = running.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "sealq did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn bare_sealq_serves_with_environment_settings() {
    let port = free_port();
    let _running = spawn_binary(|cmd| {
        cmd.env("SEALQ_HOST", "127.0.0.1")
            .env("SEALQ_PORT", port.to_string());
    });
    wait_healthy(port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"));
    let url = c
        .create_queue()
        .queue_name("plain")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(url.ends_with("/000000000000/plain"), "{url}");
}

#[tokio::test]
async fn queue_url_base_overrides_the_host_header() {
    let config = Config {
        queue_url_base: Some("http://sealq:9324/".into()),
        ..Config::default()
    };
    let server = start_with(config, Arc::new(Clock::system())).await;
    let c = sqs(&server);
    let name = unique("base");
    let url = c
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_eq!(url, format!("http://sealq:9324/000000000000/{name}"));
    // The overridden URL is accepted back, though it names another host.
    c.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    let listed = c.list_queues().queue_name_prefix(&name).send().await.unwrap();
    assert_eq!(listed.queue_urls(), std::slice::from_ref(&url));
}

/// Runs `sealq envelopes ...` against `endpoint`; returns exit success, stdout, stderr.
async fn envelopes_cli(endpoint: &str, queue: &str) -> (bool, String, String) {
    let (endpoint, queue) = (endpoint.to_owned(), queue.to_owned());
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_sealq"))
            .args(["envelopes", &queue, "--endpoint", &endpoint])
            .output()
            .expect("run sealq envelopes");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn envelopes_subcommand_prints_envelopes_never_plaintext() {
    let server = start().await;
    let c = sqs(&server);
    let url = new_queue(&c, "inspect").await;
    c.send_message()
        .queue_url(&url)
        .message_body("top secret payload")
        .send()
        .await
        .expect("send");
    let name = url.rsplit('/').next().expect("name");
    let (ok, out, err) = envelopes_cli(&server.endpoint, name).await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(v["sse"], serde_json::json!("SSE-SQS"));
    assert_eq!(v["messages"][0]["encrypted"], serde_json::json!(true));
    assert!(v["messages"][0]["ciphertext"].is_string());
    assert!(!out.contains("top secret"), "{out}");

    let (ok, _, err) = envelopes_cli(&server.endpoint, "no-such-queue").await;
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
}
