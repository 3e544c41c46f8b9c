//! Seed recording for the fuzz targets: with `SEALQ_FUZZ_SEEDS=DIR`, the
//! servers the integration tests start write each request they receive
//! into `DIR/<target>/`, framed as `sealq::fuzz` reads it (the query
//! protocol as `TARGET\nBODY`, JSON protocols as `ACTION\nBODY`, signed
//! and admin requests whole, ciphertext blobs raw). `fuzz/seed.sh` runs the
//! suites this way and merges what they sent into the committed corpora.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::Digest as _;

/// Requests larger than this are not worth a seed.
const LARGEST: usize = 64 * 1024;

/// Where seeds go, when they are recorded.
pub fn dir() -> Option<PathBuf> {
    std::env::var_os("SEALQ_FUZZ_SEEDS").map(PathBuf::from)
}

/// Records `data` as a seed of `target`, when seeds are recorded.
pub fn record_seed(target: &str, data: &[u8]) {
    if let Some(dir) = dir() {
        write(&dir, target, data);
    }
}

fn write(dir: &Path, target: &str, data: &[u8]) {
    let name: String = sha2::Sha256::digest(data)[..10]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = dir.join(target);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name), data);
}

/// The request whole: `METHOD TARGET\nname: value\n...\n\nBODY`.
fn whole(parts: &axum::http::request::Parts, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{} {}\n", parts.method, parts.uri).into_bytes();
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn framed(first: &str, body: &[u8]) -> Vec<u8> {
    let mut out = first.as_bytes().to_vec();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// Writes the seeds `parts` and `body` make.
fn record(dir: &Path, parts: &axum::http::request::Parts, body: &[u8]) {
    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix("/_sealq") {
        let target = parts
            .uri
            .query()
            .map_or(rest.to_owned(), |q| format!("{rest}?{q}"));
        let mut head = format!("{} {target}\n", parts.method).into_bytes();
        head.push(b'\n');
        head.extend_from_slice(body);
        return write(dir, "admin", &head);
    }
    write(dir, "sigv4", &whole(parts, body));
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    match target.and_then(|t| t.split_once('.')) {
        Some(("AmazonSQS", action)) => write(dir, "sqs_json", &framed(action, body)),
        Some(("TrentService", action)) => {
            write(dir, "kms_json", &framed(action, body));
            let blob = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("CiphertextBlob")?.as_str().map(str::to_owned))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
            if let Some(blob) = blob {
                write(dir, "ciphertext_blob", &blob);
            }
        }
        _ => {
            let target = parts.uri.path_and_query().map_or(path, |pq| pq.as_str());
            write(dir, "query", &framed(target, body));
        }
    }
}

/// Middleware: records the request's seeds, then serves it.
pub async fn recorder(req: Request, next: Next) -> Response {
    let Some(dir) = dir() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    if bytes.len() <= LARGEST {
        record(&dir, &parts, &bytes);
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
