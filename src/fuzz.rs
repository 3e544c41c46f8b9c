//! Entry points for the coverage-guided fuzz targets (`fuzz/`, run with
//! cargo-fuzz) and for the test that replays their corpora
//! (`tests/fuzz_corpus.rs`). Each takes bytes a client, or the author of a
//! configuration file, could send; runs the code that reads them as the
//! server does; and panics only on a defect: a panic in that code, a
//! server error (5xx) for bad input, or a round trip that does not give
//! back what went in.
//!
//! Inputs that carry a request use small text framings, so that seeds
//! recorded from the test suites stay readable: `TARGET\nBODY` for the query
//! protocol, `ACTION\nBODY` for the JSON protocols, and
//! `METHOD TARGET\nHeader: value\n...\n\nBODY` for whole requests.

use std::sync::{Arc, OnceLock};

use crate::auth::sigv4::{self, AuthorizationHeader, Presigned, RequestParts};
use crate::auth::{AuthMode, Expect, Principals, SecretAccessKey, SignedRequest};
use crate::kms::EncryptionContext;
use crate::kms::blob;

pub use crate::protocol::fuzz::{kms_json, query, sqs_json, xml_element};

/// A whole HTTP request, read from `METHOD TARGET\nHeader: value\n...\n\nBODY`.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: Vec<(&'a str, &'a [u8])>,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    /// None when the head is not text or the request line has no target.
    fn read(data: &'a [u8]) -> Option<Self> {
        let (head, body) = match memchr::memmem::find(data, b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &[][..]),
        };
        let head = std::str::from_utf8(head).ok()?;
        let mut lines = head.split('\n');
        let (method, target) = lines.next()?.split_once(' ')?;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim(), v.trim().as_bytes()))
            .collect();
        Some(Self {
            method,
            path,
            query,
            headers,
            body,
        })
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// The test suites sign with this secret, whatever the access key.
const TEST_SECRET: &str = "secret";

/// A signed request (`METHOD TARGET\nHeaders\n\nBODY`) through SigV4:
/// the `Authorization` header, presigned query parameters, the credential
/// scope, the date, canonical URI and query, and
/// [`Principals::authenticate`] as `--auth open` and `verify` do, its access key
/// registered with the test suites' secret and the clock at its signing
/// time (so a seed's signature verifies and mutations get past it).
pub fn sigv4(data: &[u8]) {
    let Some(req) = Request::read(data) else {
        return;
    };
    let header = req.header("authorization").map(AuthorizationHeader::parse);
    let presigned = Presigned::parse(req.query);
    let signed_at = req
        .header("x-amz-date")
        .and_then(|d| sigv4::parse_amz_date(d).ok());
    let _ = sigv4::canonical_uri(req.path, true);
    let _ = sigv4::canonical_uri(req.path, false);
    let _ = sigv4::canonical_query(req.query, Some("X-Amz-Signature"));
    let credential = match (&header, &presigned) {
        (Some(Ok(h)), _) => Some(&h.credential),
        (_, Ok(Some(p))) => Some(&p.credential),
        _ => None,
    };
    let principals = Principals::new("000000000000");
    if let Some(c) = credential {
        principals.register(
            &c.access_key_id,
            "arn:aws:iam::000000000000:user/fuzz",
            Some(SecretAccessKey::new(TEST_SECRET.to_owned())),
        );
    }
    let signed = SignedRequest {
        parts: RequestParts {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: &req.headers,
        },
        body: req.body,
    };
    // The service the request signed for (so a seed verifies), and one it
    // did not; `Strict` authenticates as `Verify` does.
    let named = credential.map_or("sqs", |c| c.service.as_str());
    let other = if named == "kms" { "sqs" } else { "kms" };
    for mode in [AuthMode::Open, AuthMode::Verify] {
        for service in [named, other] {
            let expect = Expect {
                mode,
                now_secs: signed_at.unwrap_or(1_440_938_160),
                service,
            };
            let _ = principals.authenticate(&signed, expect);
        }
    }
}

/// Key material the blob target seals and opens with.
const MATERIAL: [u8; 32] = [7; 32];

/// A KMS ciphertext blob as Decrypt reads it (its header, then opening it
/// under a key); then `data` as a plaintext and an encryption context,
/// sealed: the blob must open to the same plaintext, and not at all once
/// one byte of it, or the context, changes.
pub fn ciphertext_blob(data: &[u8]) {
    if blob::header(data).is_some() {
        let _ = blob::open(&MATERIAL, data, &EncryptionContext::new());
    }
    let (value, plaintext) = data.split_at(
        data.len()
            .min(usize::from(data.first().copied().unwrap_or(0) % 32)),
    );
    let mut context = EncryptionContext::new();
    context.insert(
        "aws:sqs:arn".to_owned(),
        String::from_utf8_lossy(value).into_owned(),
    );
    let header = blob::Header {
        key_id: [0xAB; 16],
        version: u32::try_from(data.len()).unwrap_or(u32::MAX),
    };
    let sealed = blob::seal(&MATERIAL, header, plaintext, &context);
    assert_eq!(blob::header(&sealed), Some(header), "the header reads back");
    let opened = blob::open(&MATERIAL, &sealed, &context).expect("a sealed blob opens");
    assert_eq!(&opened[..], plaintext, "a sealed blob opens to its plaintext");
    let at = usize::from(data.last().copied().unwrap_or(0)) * 7 % sealed.len();
    let mut altered = sealed.clone();
    altered[at] ^= 0x01;
    assert!(
        blob::open(&MATERIAL, &altered, &context).is_none(),
        "byte {at} changed, still opens"
    );
    context.insert("x".to_owned(), String::new());
    assert!(
        blob::open(&MATERIAL, &sealed, &context).is_none(),
        "opened under another context"
    );
}

/// A configuration file, as `sealq serve --config` and `sealq check` read
/// it: parsed and checked, then (when it parses) applied to a scratch
/// in-memory server. A refusal must name a place inside the text.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // refused before parsing: a file must be UTF-8
    };
    let lines = text.lines().count() + 1;
    match crate::config::parse("fuzz.toml", text.to_owned()) {
        Ok(cfg) => {
            let config = cfg.server_config(crate::Config::default());
            if let Err(e) = crate::config::check(&config, &cfg) {
                let _ = e.to_string();
            }
        }
        Err(e) => {
            assert!(e.line <= lines, "line {} of a {lines}-line file", e.line);
            let _ = e.to_string();
        }
    }
}

/// The admin API (`/_sealq/...`) of one in-memory server, built once.
struct Admin {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
}

fn admin_server() -> &'static Admin {
    static ADMIN: OnceLock<Admin> = OnceLock::new();
    ADMIN.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let app = runtime.block_on(async {
            let state = crate::AppState::with_clock(
                crate::Config::default(),
                Arc::new(crate::clock::Clock::system()),
            );
            state.set_ready();
            crate::app(state)
        });
        Admin { runtime, app }
    })
}

/// A request to the admin API (`METHOD TARGET\nHeaders\n\nBODY`, its
/// target under `/_sealq/`), served by an in-memory server: never a 5xx.
pub fn admin(data: &[u8]) {
    use tower_service::Service as _;
    let Some(req) = Request::read(data) else {
        return;
    };
    let target = if req.query.is_empty() {
        req.path.to_owned()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    let mut builder = axum::http::Request::builder()
        .method(req.method)
        .uri(format!("/_sealq/{}", target.trim_start_matches('/')));
    for (name, value) in &req.headers {
        builder = builder.header(*name, *value);
    }
    let Ok(request) = builder.body(axum::body::Body::from(req.body.to_vec())) else {
        return; // not a request hyper would hand over
    };
    let server = admin_server();
    let mut app = server.app.clone();
    let status = server.runtime.block_on(async move {
        let response = app.call(request).await.expect("the router answers");
        let status = response.status();
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        status
    });
    assert!(!status.is_server_error(), "admin answered {status}");
}
