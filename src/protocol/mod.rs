//! The only code that knows XML, JSON, form encoding and AWS header names.
//!
//! A request is handled in named steps: [`detect`] the protocol from the
//! headers, read the body, decode it into an `SqsAction` (query parameters
//! are first turned into the JSON protocol's tree by `query`), resolve the
//! principal through `auth`, run `sqs::ops::dispatch`, and encode the output
//! or error in the protocol the client spoke. Every response carries a fresh
//! `x-amzn-RequestId`. KMS JSON 1.1 requests (`TrentService.*`) are decoded
//! by `kms` and run by `crate::kms::ops::dispatch`.

mod decode;
mod encode;
mod error;
mod kms;
mod query;
mod xml;

pub use kms::policy_document;

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::limits::MAX_REQUEST_BODY;
use crate::sqs::ops::{self, Ctx};
use crate::sqs::types::SqsOutput;
use crate::state::AppState;

/// Which wire protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// SQS query protocol: form parameters in, XML out.
    SqsQuery,
    /// SQS JSON 1.0 (`X-Amz-Target: AmazonSQS.*`).
    SqsJson,
    /// KMS JSON 1.1 (`X-Amz-Target: TrentService.*`).
    KmsJson,
}

/// JSON 1.0 content type.
const JSON_10: &str = "application/x-amz-json-1.0";
/// JSON 1.1 content type.
const JSON_11: &str = "application/x-amz-json-1.1";

/// The protocol and, for JSON protocols, the action named by `X-Amz-Target`.
pub fn detect(headers: &HeaderMap) -> (Protocol, Option<String>) {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    match target {
        Some(t) => match t.split_once('.') {
            Some(("AmazonSQS", action)) => (Protocol::SqsJson, Some(action.to_owned())),
            Some(("TrentService", action)) => (Protocol::KmsJson, Some(action.to_owned())),
            _ => (Protocol::SqsJson, Some(t.to_owned())),
        },
        None => (Protocol::SqsQuery, None),
    }
}

/// A fresh request id.
fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The axum handler for every AWS API request.
pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let rid = request_id();
    let (parts, body) = req.into_parts();
    let (protocol, target_action) = detect(&parts.headers);
    let client_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST_BODY).await else {
        let e = Error::RequestEntityTooLarge(
            format!("Request body must be at most {MAX_REQUEST_BODY} bytes.").into(),
        );
        return error::render(protocol, &e, &rid);
    };

    let (action, result) = match protocol {
        Protocol::KmsJson => {
            let action = target_action.unwrap_or_default();
            let response = match serve_kms(&state, &parts, &action, &bytes) {
                Ok(body) => respond(StatusCode::OK, JSON_11, body, &rid),
                Err(e) => {
                    if matches!(e, Error::InternalFailure) {
                        tracing::error!(action = %action, request_id = %rid, "internal failure");
                    }
                    error::render(protocol, &e, &rid)
                }
            };
            tracing::debug!(action = %action, protocol = ?protocol, status = response.status().as_u16(), "request");
            return response;
        }
        Protocol::SqsJson => {
            let action = target_action.unwrap_or_default();
            let r = serve_json(&state, &parts, &action, &bytes, client_ip).await;
            (action, r)
        }
        Protocol::SqsQuery => serve_query(&state, &parts, &bytes, client_ip).await,
    };
    let response = match result {
        Ok(out) => render_output(protocol, &action, out, &rid),
        Err(e) => {
            if matches!(e, Error::InternalFailure) {
                tracing::error!(action = %action, request_id = %rid, "internal failure");
            }
            error::render(protocol, &e, &rid)
        }
    };
    tracing::debug!(action = %action, protocol = ?protocol, status = response.status().as_u16(), "request");
    response
}

fn context(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    client_ip: Option<std::net::IpAddr>,
) -> Result<Ctx> {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let presigned = match query {
        Some(q) if q.contains("X-Amz-Credential") => query::parse_form(q)?
            .into_iter()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned()),
        _ => None,
    };
    let principal = state.principals.resolve(authorization, presigned.as_deref())?;
    let url_base = match &state.config.queue_url_base {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => match headers.get(HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => format!("http://{host}"),
            None => format!("http://localhost:{}", state.config.port),
        },
    };
    Ok(Ctx {
        principal,
        url_base,
        client_ip,
        journal_unit: std::sync::atomic::AtomicU64::new(0),
    })
}

async fn serve_json(
    state: &AppState,
    parts: &axum::http::request::Parts,
    action: &str,
    body: &Bytes,
    client_ip: Option<std::net::IpAddr>,
) -> Result<SqsOutput> {
    let ctx = context(state, &parts.headers, parts.uri.query(), client_ip)?;
    let map = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(Error::SerializationException(
                    "The request body is not a valid JSON object.".into(),
                ));
            }
        }
    };
    let input = decode::sqs_action(action, map)?;
    ops::dispatch(state, &ctx, input).await
}

/// Serves one KMS JSON 1.1 request: the caller must be signed (AWS answers
/// unsigned KMS requests with `MissingAuthenticationTokenException`).
fn serve_kms(
    state: &AppState,
    parts: &axum::http::request::Parts,
    action: &str,
    body: &Bytes,
) -> Result<Vec<u8>> {
    let authorization = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let presigned = match parts.uri.query() {
        Some(q) if q.contains("X-Amz-Credential") => query::parse_form(q)?
            .into_iter()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned()),
        _ => None,
    };
    let principal = state.principals.resolve(authorization, presigned.as_deref())?;
    if principal == crate::auth::Principal::Anonymous {
        return Err(Error::MissingAuthenticationToken(
            "Request is missing Authentication Token".into(),
        ));
    }
    let input = kms::kms_action(action, body)?;
    let out = crate::kms::ops::dispatch(&state.kms, &principal, input)?;
    Ok(kms::encode(out))
}

/// Query parameters from the URL and, for form posts, the body.
fn query_params(parts: &axum::http::request::Parts, body: &Bytes) -> Result<Map<String, Value>> {
    let from_url = parts.uri.query().unwrap_or("");
    let is_form = parts.method == Method::POST
        && parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        std::str::from_utf8(body)
            .map_err(|_| Error::MalformedQueryString("The request body is not valid UTF-8.".into()))?
    } else {
        ""
    };
    let mut pairs = query::parse_form(from_url)?;
    pairs.extend(query::parse_form(body)?);
    Ok(query::params_to_json(pairs))
}

async fn serve_query(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    client_ip: Option<std::net::IpAddr>,
) -> (String, Result<SqsOutput>) {
    let mut params = match query_params(parts, body) {
        Ok(p) => p,
        Err(e) => return (String::new(), Err(e)),
    };
    let Some(Value::String(action)) = params.remove("Action") else {
        let e = Error::MissingParameter("The request must contain the parameter Action.".into());
        return (String::new(), Err(e));
    };

    if let Some(Value::String(v)) = params.remove("Version")
        && v != "2012-11-05"
    {
        let e = Error::NoSuchVersion(
            format!("The requested version ({v}) of service AmazonSQS does not exist.").into(),
        );
        return (action, Err(e));
    }
    // Query requests may be posted to the queue URL instead of naming it.
    let path = parts.uri.path();
    if !params.contains_key("QueueUrl") && ops::parse_queue_url(path).is_ok() {
        params.insert("QueueUrl".into(), Value::String(path.to_owned()));
    }
    let result = async {
        let ctx = context(state, &parts.headers, parts.uri.query(), client_ip)?;
        let input = decode::sqs_action(&action, params)?;
        ops::dispatch(state, &ctx, input).await
    }
    .await;
    (action, result)
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Body>, rid: &str) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(rid) {
        h.insert("x-amzn-RequestId", v);
    }
    r
}

fn render_output(protocol: Protocol, action: &str, out: SqsOutput, rid: &str) -> Response {
    let node = encode::output_node(action, out);
    match protocol {
        Protocol::SqsQuery => respond(
            StatusCode::OK,
            "text/xml",
            encode::to_xml(action, node.as_ref(), rid),
            rid,
        ),
        Protocol::SqsJson | Protocol::KmsJson => {
            let v = node.as_ref().map_or_else(|| b"{}".to_vec(), encode::to_json);
            let ct = if protocol == Protocol::SqsJson {
                JSON_10
            } else {
                JSON_11
            };
            respond(StatusCode::OK, ct, v, rid)
        }
    }
}
