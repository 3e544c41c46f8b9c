//! Limits that protect the server from bad and slow clients, through raw
//! TCP (the misbehaviour no SDK would commit) and the SDK (the well-behaved
//! client that must keep being served): oversized declared bodies, heads
//! with too many headers, stalled heads and bodies, idle keep-alive
//! connections, the cap on open connections, and bounded admin inputs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use sealq::Config;
use sealq::clock::Clock;
use sealq::listen::Limits;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A server whose client timeout is one second and which takes `max`
/// connections.
async fn strict_server(max: usize) -> common::Server {
    let config = Config {
        limits: Limits {
            max_connections: max,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
        },
        ..Config::default()
    };
    common::start_with(config, Arc::new(Clock::system())).await
}

/// Everything the server sends until it closes the connection, waiting at
/// most `limit`; `None` if it kept the connection open that long.
async fn until_closed(tcp: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok()?;
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// The SDK is still served.
async fn still_serves(server: &common::Server) {
    common::sqs(server)
        .list_queues()
        .send()
        .await
        .expect("a well-behaved client is served");
}

#[tokio::test]
async fn a_declared_body_above_the_largest_request_is_refused_before_it_is_read() {
    let server = common::start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    // 100 MB declared, not a byte of it sent.
    tcp.write_all(
        b"POST / HTTP/1.1\r\nhost: sealq\r\ncontent-type: application/x-amz-json-1.0\r\n\
          x-amz-target: AmazonSQS.ListQueues\r\ncontent-length: 100000000\r\n\r\n",
    )
    .await
    .unwrap();
    let answer = until_closed(&mut tcp, Duration::from_secs(10))
        .await
        .expect("answered and closed at once");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains("RequestEntityTooLarge"), "{answer}");
    still_serves(&server).await;
}

#[tokio::test]
async fn too_many_headers_are_refused() {
    let server = common::start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut head = String::from("GET /_sealq/health HTTP/1.1\r\nhost: sealq\r\n");
    for i in 0..200 {
        head.push_str(&format!("x-h{i}: v\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let answer = until_closed(&mut tcp, Duration::from_secs(10))
        .await
        .expect("closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    still_serves(&server).await;
}

#[tokio::test]
async fn a_stalled_head_an_idle_connection_and_a_stalled_body_are_dropped() {
    let server = strict_server(64).await;
    // Half a request head, then nothing.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nhost: sea").await.unwrap();
    // Others are served meanwhile.
    still_serves(&server).await;
    assert!(
        until_closed(&mut slow, Duration::from_secs(10)).await.is_some(),
        "a stalled head is dropped after the client timeout"
    );

    // A keep-alive connection left idle after its request.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /_sealq/health HTTP/1.1\r\nhost: sealq\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut idle, Duration::from_secs(10))
        .await
        .expect("closed once idle past the client timeout");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A body that stops half way.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(
            b"POST / HTTP/1.1\r\nhost: sealq\r\ncontent-type: application/x-amz-json-1.0\r\n\
              x-amz-target: AmazonSQS.ListQueues\r\ncontent-length: 100\r\n\r\n{\"Queue",
        )
        .await
        .unwrap();
    let answer = until_closed(&mut stalled, Duration::from_secs(10))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeout"), "{answer}");
    still_serves(&server).await;
}

#[tokio::test]
async fn connections_past_the_cap_get_503_and_a_freed_slot_serves_again() {
    let server = strict_server(2).await;
    let holders = [
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    // The two are accepted (and hold their slots) before the third comes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET /_sealq/health HTTP/1.1\r\nhost: sealq\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut third, Duration::from_secs(10))
        .await
        .expect("closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("--max-connections"), "{answer}");
    drop(holders);
    // The slots free as the server sees the connections close.
    let mut served = false;
    for _ in 0..50 {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"GET /_sealq/health HTTP/1.1\r\nhost: sealq\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = until_closed(&mut tcp, Duration::from_secs(10))
            .await
            .unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a freed slot serves again");
}

#[tokio::test]
async fn clock_advances_are_bounded() {
    let server = common::start().await;
    let before = common::admin_get(&server, "/clock").await["now_ms"]
        .as_u64()
        .unwrap();
    for body in [
        serde_json::json!({"advance_seconds": 1e308}),
        serde_json::json!({"advance_seconds": -1}),
        serde_json::json!({"advance_seconds": "NaN"}),
        serde_json::json!({"advance_seconds": 315_360_001}),
        serde_json::json!({}),
    ] {
        let (status, answer) = common::admin_post(&server, "/clock", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("advance_seconds")),
            "{answer}"
        );
    }
    let after = common::admin_get(&server, "/clock").await["now_ms"]
        .as_u64()
        .unwrap();
    assert!(
        after - before < 60_000,
        "the clock did not move: {before} -> {after}"
    );
    let (status, _) = common::admin_post(
        &server,
        "/clock",
        serde_json::json!({"advance_seconds": 315_360_000}),
    )
    .await;
    assert_eq!(status, 200, "ten years is allowed");
}

#[test]
fn bad_limit_flags_exit_2_with_a_clear_message() {
    for (args, what) in [
        (["--max-connections", "0"], "max-connections"),
        (["--client-timeout", "0"], "client-timeout"),
        (["--client-timeout", "soon"], "client-timeout"),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sealq"));
        cmd.args(args);
        let (code, err) = common::refusal(cmd, what);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(what), "{err}");
    }
}
