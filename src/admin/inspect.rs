//! The client side of the admin API, for the `sealq` subcommands that ask a
//! running server: `sealq envelopes QUEUE` fetches the envelope view
//! (`GET /_sealq/queues/QUEUE/messages`) and prints it; `sealq
//! explain-access` asks `POST /_sealq/authz/explain` and prints the trail;
//! `sealq health`
//! checks `GET /_sealq/health` (for container health checks, which may have
//! no shell or curl), once or, with `--wait`, until it answers 200. Both speak plain HTTP/1.1 over one TCP connection, so
//! the binary needs no HTTP client library. It shows what the server shows:
//! envelopes, never plaintext of encrypted messages or key material.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `host:port` of an `http://host:port` endpoint.
fn authority(endpoint: &str) -> Result<&str, String> {
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("endpoint must start with http:// (got {endpoint})"))?
        .trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(format!("endpoint must be http://HOST:PORT (got {endpoint})"));
    }
    Ok(authority)
}

/// `GET path` on the server at `endpoint`; its status and body.
async fn get(endpoint: &str, path: &str) -> Result<(u16, String), String> {
    exchange(endpoint, "GET", path, "").await
}

/// One request on the server at `endpoint`; its status and body.
async fn exchange(endpoint: &str, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let authority = authority(endpoint)?;
    let mut stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
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
    let status = head
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{endpoint} did not answer HTTP"))?;
    Ok((status, body.to_owned()))
}

/// `GET path` on the server at `endpoint`, answered 200 with JSON.
///
/// # Errors
/// A message for the user when the endpoint is malformed or unreachable,
/// or the server answers with an error (its status and message).
pub async fn get_json(endpoint: &str, path: &str) -> Result<serde_json::Value, String> {
    let (status, body) = get(endpoint, path).await?;
    let value: serde_json::Value =
        serde_json::from_str(&body).map_err(|_| format!("{endpoint} answered {status} without JSON"))?;
    if status != 200 {
        let message = value["message"].as_str().unwrap_or("error");
        return Err(format!("{endpoint} answered {status}: {message}"));
    }
    Ok(value)
}

/// Fetches the envelope view of `queue` from the server at `endpoint`
/// (`http://host:port`) and returns it as pretty JSON.
///
/// # Errors
/// A message for the user when the endpoint is malformed or unreachable or
/// the server answers with an error.
pub async fn envelopes(endpoint: &str, queue: &str, limit: usize) -> Result<String, String> {
    if queue.is_empty()
        || !queue
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!("not a queue name: {queue}"));
    }
    let value = get_json(
        endpoint,
        &format!("/_sealq/queues/{queue}/messages?limit={limit}"),
    )
    .await?;
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}

/// Asks the server at `endpoint` how it would decide `action` by
/// `principal` (an ARN, or `anonymous`) on `resource` with the extra
/// `context` keys; whether it would be allowed, and the trail to print.
///
/// # Errors
/// A message for the user when the endpoint is malformed or unreachable,
/// or the server cannot simulate the request (its message).
pub async fn explain_access(
    endpoint: &str,
    principal: &str,
    action: &str,
    resource: &str,
    context: &[(String, String)],
) -> Result<(bool, String), String> {
    let context: serde_json::Map<String, serde_json::Value> = context
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let body = serde_json::json!({
        "principal": principal,
        "action": action,
        "resource": resource,
        "context": context,
    })
    .to_string();
    let (status, answer) = exchange(endpoint, "POST", "/_sealq/authz/explain", &body).await?;
    let v: serde_json::Value =
        serde_json::from_str(&answer).map_err(|_| format!("{endpoint} answered {status} without JSON"))?;
    if status != 200 {
        return Err(v["message"].as_str().unwrap_or("error").to_owned());
    }
    let decision = v["decision"].as_str().unwrap_or_default();
    let mut out = String::new();
    out.push_str(&format!("decision:  {decision}\n"));
    out.push_str(&format!(
        "principal: {}\n",
        v["principal"].as_str().unwrap_or_default()
    ));
    out.push_str(&format!(
        "action:    {}\n",
        v["action"].as_str().unwrap_or_default()
    ));
    out.push_str(&format!(
        "resource:  {}\n",
        v["resource"].as_str().unwrap_or_default()
    ));
    out.push_str(&format!(
        "reason:    {}\n",
        v["reason"].as_str().unwrap_or_default()
    ));
    let deciding = v["deciding_statements"].as_array().cloned().unwrap_or_default();
    if deciding.is_empty() {
        out.push_str("deciding statements: none\n");
    } else {
        out.push_str("deciding statements:\n");
        for d in deciding {
            let sid = d["sid"]
                .as_str()
                .map(|s| format!(" (Sid {s})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {}, statement {}{sid}: {}\n",
                d["policy"].as_str().unwrap_or_default(),
                d["statement"],
                d["effect"].as_str().unwrap_or_default()
            ));
        }
    }
    out.push_str("context:\n");
    if let Some(c) = v["context"].as_object() {
        for (k, val) in c {
            let shown = val.as_str().map_or_else(|| val.to_string(), str::to_owned);
            out.push_str(&format!("  {k} = {shown}\n"));
        }
    }
    Ok((decision == "allow", out.trim_end().to_owned()))
}

/// Checks that the server at `endpoint` is up and ready: `GET
/// /_sealq/health` answers 200 within `timeout`.
///
/// # Errors
/// One line saying why not: malformed endpoint, unreachable, too slow, or
/// the status and `status` member the server answered (503 `starting` while
/// it loads).
pub async fn health(endpoint: &str, timeout: Duration) -> Result<(), String> {
    let (status, body) = tokio::time::timeout(timeout, get(endpoint, "/_sealq/health"))
        .await
        .map_err(|_| format!("{endpoint} did not answer within {} ms", timeout.as_millis()))??;
    if status == 200 {
        return Ok(());
    }
    let said = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["status"].as_str().map(str::to_owned));
    Err(match said {
        Some(s) => format!("{endpoint} answered {status} ({s})"),
        None => format!("{endpoint} answered {status}"),
    })
}

/// Pause between two tries of [`health_wait`]: short enough that a script
/// goes on soon after the server is ready, long enough not to busy-loop.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Asks [`health`] again and again, each try bounded by `timeout` (and by
/// the time left), until the server answers 200 or `wait_secs` seconds
/// have passed. Refused connections, 503 (starting) and slow answers all
/// mean "not yet".
///
/// # Errors
/// A malformed endpoint at once; else, after `wait_secs`, one line saying
/// so with the reason of the last try.
pub async fn health_wait(endpoint: &str, timeout: Duration, wait_secs: f64) -> Result<(), String> {
    // No point waiting for an endpoint that can never be asked.
    authority(endpoint)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(wait_secs);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let last = match health(endpoint, timeout.min(left)).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Err(format!("gave up after {wait_secs} s: {last}"));
        }
        tokio::time::sleep(RETRY_PAUSE.min(left)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn endpoints_must_be_plain_http_authorities() {
        assert_eq!(authority("http://localhost:9324/"), Ok("localhost:9324"));
        assert!(authority("https://localhost:9324").is_err());
        assert!(authority("http://").is_err());
        assert!(authority("http://host:1/path").is_err());
    }
}
