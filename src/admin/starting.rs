//! What the port answers while the server is still loading its data
//! directory and configuration file: every request gets `503
//! {"status":"starting"}` at once, so a health check sees "not ready yet"
//! instead of a connection that hangs. Once loading is done the listener is
//! handed back to the real server; nothing here reads or answers AWS API
//! requests.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The answer to every request while starting.
const BODY: &str = r#"{"status":"starting"}"#;

/// Answers every connection on `listener` with 503 until `done` fires (or
/// is dropped), then returns the listener.
pub async fn answer_until(listener: TcpListener, done: oneshot::Receiver<()>) -> TcpListener {
    tokio::pin!(done);
    loop {
        tokio::select! {
            biased;
            _ = &mut done => return listener,
            accepted = listener.accept() => {
                let Ok((mut sock, _)) = accepted else { continue };
                tokio::spawn(async move {
                    // Read (some of) the request so the client is not reset
                    // mid-send, then answer and close.
                    let mut buf = [0u8; 4096];
                    let _ = tokio::time::timeout(Duration::from_secs(1), sock.read(&mut buf)).await;
                    let answer = format!(
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
                        BODY.len()
                    );
                    let _ = sock.write_all(answer.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        }
    }
}
