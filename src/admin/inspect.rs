//! `sealq envelopes QUEUE`: fetches the envelope view of a running server
//! (`GET /_sealq/queues/QUEUE/messages`) over plain HTTP/1.1 and prints it.
//! It shows what the server shows: envelopes, never plaintext of encrypted
//! messages or key material.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Fetches the envelope view of `queue` from the server at `endpoint`
/// (`http://host:port`) and returns it as pretty JSON.
///
/// # Errors
/// A message for the user when the endpoint is malformed or unreachable or
/// the server answers with an error.
pub async fn envelopes(endpoint: &str, queue: &str, limit: usize) -> Result<String, String> {
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("endpoint must start with http:// (got {endpoint})"))?
        .trim_end_matches('/');
    if queue.is_empty()
        || !queue
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!("not a queue name: {queue}"));
    }
    let mut stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let request = format!(
        "GET /_sealq/queues/{queue}/messages?limit={limit} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send to {endpoint}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("cannot read from {endpoint}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{endpoint} did not answer HTTP"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|_| format!("{endpoint} answered {status} without JSON"))?;
    if status != "200" {
        let message = value["message"].as_str().unwrap_or("error");
        return Err(format!("{endpoint} answered {status}: {message}"));
    }
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}
