//! The only code that knows XML, JSON, form encoding and AWS header names.
//!
//! A request is handled in named steps: [`detect`] the protocol from the
//! headers, read the body, decode it into an `SqsAction` (query parameters
//! are first turned into the JSON protocol's tree by `query`), resolve the
//! principal through `auth`, run `sqs::ops::dispatch`, and encode the output
//! or error in the protocol the client spoke. Every response carries a fresh
//! `x-amzn-RequestId`. KMS JSON 1.1 requests (`TrentService.*`) are decoded
//! by `kms` and run by `crate::kms::ops::dispatch`.
//!
//! `handle` is also the one place that knows a request's protocol and
//! action, so it records the request metrics (`crate::metrics`, lock-free)
//! and writes the one DEBUG line per request: action, queue, principal,
//! protocol, status and latency, never a body, key or signature.

mod decode;
mod encode;
mod error;
pub mod fuzz;
mod kms;
mod query;
mod sts;
mod xml;

pub use kms::policy_document;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::limits::MAX_REQUEST_BODY;
use crate::metrics::Series;
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
    /// STS query protocol (`Version=2011-06-15`): form parameters in, XML out.
    StsQuery,
}

impl Protocol {
    /// The `protocol` label of metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::SqsQuery => "query",
            Self::SqsJson => "json",
            Self::KmsJson => "kms",
            Self::StsQuery => "sts",
        }
    }
}

/// The labels of every series of request metrics, in the order
/// `series_index` numbers them: SQS actions (query, then JSON), then KMS
/// actions, then STS actions, each list ending with `unknown` for names
/// sealq does not know.
pub fn metric_series() -> Vec<Series> {
    let mut v = Vec::with_capacity(
        2 * (decode::SQS_ACTIONS.len() + 1) + kms::ACTIONS.len() + 1 + sts::ACTIONS.len() + 1,
    );
    for protocol in [Protocol::SqsQuery, Protocol::SqsJson] {
        for action in decode::SQS_ACTIONS.iter().chain(&["unknown"]) {
            v.push(Series {
                service: "sqs",
                protocol: protocol.label(),
                action,
            });
        }
    }
    for action in kms::ACTIONS.iter().chain(&["unknown"]) {
        v.push(Series {
            service: "kms",
            protocol: Protocol::KmsJson.label(),
            action,
        });
    }
    for action in sts::ACTIONS.iter().chain(&["unknown"]) {
        v.push(Series {
            service: "sts",
            protocol: Protocol::StsQuery.label(),
            action,
        });
    }
    v
}

/// The index in [`metric_series`] of a request's series.
fn series_index(protocol: Protocol, action: &str) -> usize {
    let sqs = decode::SQS_ACTIONS.len() + 1;
    let sqs_action = || decode::SQS_ACTIONS.binary_search(&action).unwrap_or(sqs - 1);
    match protocol {
        Protocol::SqsQuery => sqs_action(),
        Protocol::SqsJson => sqs + sqs_action(),
        Protocol::KmsJson => {
            2 * sqs
                + kms::ACTIONS
                    .iter()
                    .position(|a| *a == action)
                    .unwrap_or(kms::ACTIONS.len())
        }
        Protocol::StsQuery => {
            2 * sqs
                + kms::ACTIONS.len()
                + 1
                + sts::ACTIONS
                    .iter()
                    .position(|a| *a == action)
                    .unwrap_or(sts::ACTIONS.len())
        }
    }
}

/// What the request log line says beyond action, protocol and status;
/// gathered only when that line will be written.
#[derive(Debug, Default)]
struct Facts {
    /// Whether to gather at all.
    wanted: bool,
    /// The caller, once resolved.
    principal: Option<Principal>,
    /// The queue the request names (by URL or name), if any.
    queue: Option<String>,
    /// How the caller was established (or refused), once known.
    auth: Option<crate::auth::AuthOutcome>,
    /// Whether the request came over TLS.
    tls: bool,
}

impl Facts {
    fn principal(&mut self, p: &Principal) {
        if self.wanted {
            self.principal = Some(p.clone());
        }
    }

    /// Notes the queue named by `QueueUrl` (its last path segment) or
    /// `QueueName` among the request's members.
    fn queue_of(&mut self, members: &Map<String, Value>) {
        if !self.wanted {
            return;
        }
        let named = match (members.get("QueueUrl"), members.get("QueueName")) {
            (Some(Value::String(url)), _) => url.trim_end_matches('/').rsplit('/').next(),
            (_, Some(Value::String(name))) => Some(name.as_str()),
            _ => None,
        };
        // Queue names are at most 80 characters; a longer value is not one
        // and is cut, so a log line stays a line of reasonable size.
        self.queue = named.map(|n| n.chars().take(80).collect());
    }
}

/// Marks a request that came over a TLS connection: the TLS listener
/// inserts it into every request's extensions. Such requests get `https://`
/// queue URLs and count as `tls="yes"` in metrics and logs.
#[derive(Debug, Clone, Copy)]
pub struct Tls;

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

/// The axum handler for every AWS API request: serves it, counts it in the
/// metrics and logs one DEBUG line about it.
pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    // Latency is a duration measured on the monotonic clock, not domain
    // time, so it does not come from `Clock` (which tests move by hand).
    let started = Instant::now();
    let mut facts = Facts {
        wanted: tracing::enabled!(tracing::Level::DEBUG),
        ..Facts::default()
    };
    let (protocol, action, response) = serve_request(&state, req, &mut facts).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .record_request(series_index(protocol, &action), status, elapsed);
    if facts.wanted {
        let principal = facts.principal.as_ref().map(|p| p.arn().unwrap_or("anonymous"));
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a request lasting 584 years is not expected"
        )]
        let latency_us = elapsed.as_micros() as u64;
        tracing::debug!(
            // Recorded as a string value (quoted and escaped by the human
            // format) and cut at 64 characters: the client chose it, so it
            // must not forge lines or flood the log.
            action = action
                .char_indices()
                .nth(64)
                .map_or(action.as_str(), |(i, _)| &action[..i]),
            queue = facts.queue.as_deref(),
            principal,
            protocol = protocol.label(),
            auth = facts.auth.map(crate::auth::AuthOutcome::label),
            tls = if facts.tls { "yes" } else { "no" },
            status,
            latency_us,
            "request"
        );
    }
    response
}

/// Serves one AWS API request; returns its protocol and action (as the
/// client named it; empty when it named none) with the response.
async fn serve_request(state: &AppState, req: Request, facts: &mut Facts) -> (Protocol, String, Response) {
    let rid = request_id();
    let (parts, body) = req.into_parts();
    let (protocol, target_action) = detect(&parts.headers);
    facts.tls = parts.extensions.get::<Tls>().is_some();
    let client_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let refuse = |e: &Error| {
        // The body is left unread: the connection closes after the answer.
        let mut r = error::render(protocol, e, &rid);
        r.headers_mut()
            .insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
        (protocol, target_action.clone().unwrap_or_default(), r)
    };
    let too_large = || {
        Error::RequestEntityTooLarge(format!("Request body must be at most {MAX_REQUEST_BODY} bytes.").into())
    };
    // A declared length above the largest valid request is refused before
    // a byte of the body is read.
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
        return refuse(&too_large());
    }
    let read = tokio::time::timeout(
        state.config.limits.body_timeout,
        axum::body::to_bytes(body, MAX_REQUEST_BODY),
    );
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return refuse(&too_large()),
        Err(_) => {
            let e = Error::RequestTimeout(
                "Your socket connection to the server was not read from or written to within the timeout period."
                    .into(),
            );
            return refuse(&e);
        }
    };

    let (action, result) = match protocol {
        Protocol::KmsJson => {
            let action = target_action.unwrap_or_default();
            let response = match serve_kms(state, &parts, &action, &bytes, facts) {
                Ok(body) => respond(StatusCode::OK, JSON_11, body, &rid),
                Err(e) => {
                    if matches!(e, Error::InternalFailure) {
                        tracing::error!(action = action.as_str(), request_id = %rid, "internal failure");
                    }
                    error::render(protocol, &e, &rid)
                }
            };
            return (protocol, action, response);
        }
        Protocol::SqsJson => {
            let action = target_action.unwrap_or_default();
            let r = serve_json(state, &parts, &action, &bytes, client_ip, facts).await;
            (action, r)
        }
        // `detect` tells only the query protocol; its parameters tell STS.
        Protocol::SqsQuery | Protocol::StsQuery => {
            let params = match query_params(&parts, &bytes) {
                Ok(p) => p,
                Err(e) => return (protocol, String::new(), error::render(protocol, &e, &rid)),
            };
            if sts::is_sts(&params) {
                let (action, response) = serve_sts(state, &parts, &bytes, params, facts, &rid);
                return (Protocol::StsQuery, action, response);
            }
            serve_query(state, &parts, &bytes, params, client_ip, facts).await
        }
    };
    let response = match result {
        Ok(out) => render_output(protocol, &action, out, &rid),
        Err(e) => {
            if matches!(e, Error::InternalFailure) {
                tracing::error!(action = action.as_str(), request_id = %rid, "internal failure");
            }
            error::render(protocol, &e, &rid)
        }
    };
    (protocol, action, response)
}

/// Which service a request is for, as its signature must name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Sqs,
    Kms,
    Sts,
}

/// The request's principal: anonymous, or its signer once the signature
/// checks out as `--auth` asks (see `auth::Principals::authenticate`).
/// Refusals become the service's own errors.
fn authenticate(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &[u8],
    service: Service,
    facts: &mut Facts,
) -> Result<(Principal, String)> {
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let req = crate::auth::SignedRequest {
        parts: crate::auth::sigv4::RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            headers: &headers,
        },
        body,
    };
    let expect = crate::auth::Expect {
        mode: state.config.auth,
        now_secs: state.clock.now_ms() / 1000,
        service: match service {
            Service::Sqs => "sqs",
            Service::Kms => "kms",
            Service::Sts => "sts",
        },
    };
    let result = state.principals.authenticate(&req, expect);
    let outcome = match &result {
        Ok(a) => a.outcome,
        Err(e) => e.outcome(),
    };
    state.metrics.record_auth(outcome, facts.tls);
    facts.auth = Some(outcome);
    // A request is served in the region it signed for; an unsigned one in
    // the server's.
    result
        .map(|a| {
            let region = a.region.unwrap_or_else(|| state.config.region.clone());
            (a.principal, region)
        })
        .map_err(|e| {
            use crate::auth::AuthError as A;
            match (service, e) {
                (Service::Sqs | Service::Sts, A::Incomplete(m)) => Error::IncompleteSignature(m.into()),
                (Service::Sqs | Service::Sts, A::BadSignature(m) | A::Expired(m)) => {
                    Error::SignatureDoesNotMatch(m.into())
                }
                (Service::Sqs | Service::Sts, A::UnknownKey) => {
                    Error::InvalidClientTokenId(crate::auth::INVALID_CLIENT_TOKEN.into())
                }
                (Service::Sqs | Service::Sts, A::ExpiredToken) => {
                    Error::ExpiredToken(crate::auth::EXPIRED_TOKEN.into())
                }
                (Service::Kms, A::ExpiredToken) => {
                    Error::ExpiredTokenException(crate::auth::EXPIRED_TOKEN.into())
                }
                (Service::Kms, A::Incomplete(m)) => Error::IncompleteSignatureException(m.into()),
                (Service::Kms, A::BadSignature(m) | A::Expired(m)) => {
                    Error::InvalidSignatureException(m.into())
                }
                (Service::Kms, A::UnknownKey) => {
                    Error::UnrecognizedClientException(crate::auth::INVALID_CLIENT_TOKEN.into())
                }
            }
        })
}

/// `scheme://host[:port]` that queue URLs start with for this request:
/// `--queue-url-base` when set, else the scheme it came over and the `Host`
/// the client sent (as SQS builds them from the endpoint the client used).
pub fn url_base(state: &AppState, parts: &axum::http::request::Parts) -> String {
    let scheme = if parts.extensions.get::<Tls>().is_some() {
        "https"
    } else {
        "http"
    };
    match &state.config.queue_url_base {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => match parts.headers.get(HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => format!("{scheme}://{host}"),
            None => format!("{scheme}://localhost:{}", state.config.port),
        },
    }
}

fn context(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &[u8],
    client_ip: Option<std::net::IpAddr>,
    facts: &mut Facts,
) -> Result<Ctx> {
    let (principal, region) = authenticate(state, parts, body, Service::Sqs, facts)?;
    facts.principal(&principal);
    let url_base = url_base(state, parts);
    Ok(Ctx {
        principal,
        region,
        url_base,
        tls: facts.tls,
        strict: state.config.auth == crate::auth::AuthMode::Strict,
        iam_action: "",
        client_ip,
        journal_unit: std::sync::atomic::AtomicU64::new(0),
    })
}

/// SendMessage with an `X-Amzn-Trace-Id` header: the message carries it as
/// its `AWSTraceHeader` system attribute, as AWS does, unless
/// `MessageSystemAttributes` sets one.
fn trace_header_into(input: &mut crate::sqs::types::SqsAction, parts: &axum::http::request::Parts) {
    let crate::sqs::types::SqsAction::SendMessage(send) = input else {
        return;
    };
    let Some(trace) = parts
        .headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    if send
        .message_system_attributes
        .iter()
        .any(|(name, _)| name == "AWSTraceHeader")
    {
        return;
    }
    send.message_system_attributes.push((
        "AWSTraceHeader".to_owned(),
        crate::sqs::types::MessageAttributeValue {
            data_type: "String".to_owned(),
            string_value: Some(trace.to_owned()),
            binary_value: None,
            has_list_values: false,
        },
    ));
}

/// The members of a JSON protocol body: an object, or none for an empty
/// (or blank) body; anything else is `SerializationException`.
fn json_object(body: &[u8]) -> Result<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::SerializationException(
            "The request body is not a valid JSON object.".into(),
        )),
    }
}

async fn serve_json(
    state: &AppState,
    parts: &axum::http::request::Parts,
    action: &str,
    body: &Bytes,
    client_ip: Option<std::net::IpAddr>,
    facts: &mut Facts,
) -> Result<SqsOutput> {
    let mut ctx = context(state, parts, body, client_ip, facts)?;
    let map = json_object(body)?;
    facts.queue_of(&map);
    let mut input = decode::sqs_action(action, map, true)?;
    trace_header_into(&mut input, parts);
    ctx.iam_action = input.iam_action();
    ops::dispatch(state, &ctx, input).await
}

/// Serves one KMS JSON 1.1 request: the caller must be signed (AWS answers
/// unsigned KMS requests with `MissingAuthenticationTokenException`). Every
/// request that names a known action is counted by operation and key.
fn serve_kms(
    state: &AppState,
    parts: &axum::http::request::Parts,
    action: &str,
    body: &Bytes,
    facts: &mut Facts,
) -> Result<Vec<u8>> {
    let (principal, region) = authenticate(state, parts, body, Service::Kms, facts)?;
    facts.principal(&principal);
    if principal == Principal::Anonymous {
        return Err(Error::MissingAuthenticationToken(
            "Request is missing Authentication Token".into(),
        ));
    }
    let input = kms::kms_action(action, body)?;
    let known = kms::ACTIONS.iter().position(|a| *a == action);
    let operation = known.map_or("unknown", |i| kms::ACTIONS[i]);
    // Key ids and alias names resolve in the caller's account; a blob's
    // header names its key by id, found in whatever account holds it.
    let account = crate::kms::ops::caller_account(&state.kms, &principal).to_owned();
    let home = crate::kms::Home {
        region: &region,
        account: &account,
    };
    let from_blob = |id: String| state.kms.blob_key_arn(&id).map_or(id, |arn| arn.to_string());
    let named_key = input.named_key(from_blob);
    if let Some(i) = known {
        authorize_kms(
            state,
            &principal,
            (facts.tls, home),
            &input,
            kms::IAM_ACTIONS[i],
            named_key.as_deref(),
        )?;
    }
    let out = crate::kms::ops::dispatch_in(&state.kms, &principal, home, input);
    // The key label is an existing key's ARN (never a made-up identifier a
    // client sent), or empty.
    let key = out
        .as_ref()
        .ok()
        .and_then(|o| o.key_arn().map(Arc::<str>::from))
        .or_else(|| named_key.and_then(|k| state.kms.api_key_arn(&k, home)));
    state
        .metrics
        .record_kms_api_call(operation, key.as_deref().unwrap_or(""));
    Ok(kms::encode(out?))
}

/// Authorizes a KMS API request as IAM does: `iam_action` on the key it
/// names (`named`; identity policies alone when it names none or none that
/// exists, so a missing key is still NotFound for those allowed to ask).
/// ReEncrypt needs `kms:ReEncryptFrom` on the source key and
/// `kms:ReEncryptTo` on the destination key; CreateAlias, UpdateAlias and
/// DeleteAlias need their action on the alias (identity policies: aliases
/// have no policy) and on each key involved (the target; for UpdateAlias
/// the current one too; for DeleteAlias the alias's key).
fn authorize_kms(
    state: &AppState,
    principal: &Principal,
    (tls, home): (bool, crate::kms::Home<'_>),
    input: &crate::kms::types::KmsAction,
    iam_action: &'static str,
    named: Option<&str>,
) -> Result<()> {
    use crate::authz::KmsTarget;
    let key_policy = |id: &str| state.kms.api_key_policy(id, home);
    let on_key = |action: &'static str, id: Option<&str>, required: bool| -> Result<()> {
        match id.and_then(key_policy) {
            Some((arn, policy)) => crate::authz::kms(
                state,
                principal,
                tls,
                action,
                KmsTarget::Key(&arn, policy.as_deref()),
            ),
            None if required => crate::authz::kms(state, principal, tls, action, KmsTarget::Account),
            None => Ok(()),
        }
    };
    let from_blob = |id: String| state.kms.blob_key_arn(&id).map_or(id, |arn| arn.to_string());
    if let Some(source) = input.reencrypt_source(from_blob) {
        on_key("kms:ReEncryptFrom", Some(&source), false)?;
        return on_key("kms:ReEncryptTo", named, true);
    }
    if let Some(alias) = input.alias_name() {
        // Aliases are the caller's region's and account's.
        let alias_arn = format!("arn:aws:kms:{}:{}:{alias}", home.region, home.account);
        crate::authz::kms(state, principal, tls, iam_action, KmsTarget::Alias(&alias_arn))?;
        if !matches!(input, crate::kms::types::KmsAction::CreateAlias(_)) {
            on_key(iam_action, Some(alias), false)?;
        }
        return match input {
            crate::kms::types::KmsAction::DeleteAlias(_) => Ok(()),
            _ => on_key(iam_action, named, false),
        };
    }
    on_key(iam_action, named, true)
}

/// Query parameters from the URL and, for form posts, the body.
fn query_params(parts: &axum::http::request::Parts, body: &Bytes) -> Result<Map<String, Value>> {
    let is_form = parts.method == Method::POST
        && parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    form_params(parts.uri.query().unwrap_or(""), is_form.then_some(body))
}

/// Query parameters from a URL's query string and a form body (none when
/// the request is not a form post), reshaped into the JSON protocol's tree.
fn form_params(url_query: &str, form: Option<&[u8]>) -> Result<Map<String, Value>> {
    let body = match form {
        Some(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| Error::MalformedQueryString("The request body is not valid UTF-8.".into()))?,
        None => "",
    };
    let mut pairs = query::parse_form(url_query)?;
    pairs.extend(query::parse_form(body)?);
    Ok(query::params_to_json(pairs))
}

/// Serves one STS request (query protocol): the caller must be signed.
fn serve_sts(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    mut params: Map<String, Value>,
    facts: &mut Facts,
    rid: &str,
) -> (String, Response) {
    let action = sts::take_action(&mut params);
    let result = authenticate(state, parts, body, Service::Sts, facts).and_then(|(principal, _)| {
        facts.principal(&principal);
        let input = sts::sts_action(&action, params)?;
        crate::sts::dispatch(state, &principal, facts.tls, input)
    });
    let response = match result {
        Ok(out) => respond(StatusCode::OK, "text/xml", sts::to_xml(&action, &out, rid), rid),
        Err(e) => error::render(Protocol::StsQuery, &e, rid),
    };
    (action, response)
}

/// Takes the action and version out of SQS query parameters (refusing
/// another version) and, for a request posted to a queue URL, names that
/// queue. Returns the action, or the error with the action as named.
fn query_action(path: &str, params: &mut Map<String, Value>) -> std::result::Result<String, (String, Error)> {
    let Some(Value::String(action)) = params.remove("Action") else {
        let e = Error::MissingParameter("The request must contain the parameter Action.".into());
        return Err((String::new(), e));
    };
    if let Some(Value::String(v)) = params.remove("Version")
        && v != "2012-11-05"
    {
        let e = Error::NoSuchVersion(
            format!("The requested version ({v}) of service AmazonSQS does not exist.").into(),
        );
        return Err((action, e));
    }
    // Query requests may be posted to the queue URL instead of naming it.
    if !params.contains_key("QueueUrl") && ops::parse_queue_url(path).is_ok() {
        params.insert("QueueUrl".into(), Value::String(path.to_owned()));
    }
    Ok(action)
}

async fn serve_query(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    mut params: Map<String, Value>,
    client_ip: Option<std::net::IpAddr>,
    facts: &mut Facts,
) -> (String, Result<SqsOutput>) {
    let action = match query_action(parts.uri.path(), &mut params) {
        Ok(action) => action,
        Err((action, e)) => return (action, Err(e)),
    };
    facts.queue_of(&params);
    let result = async {
        let mut ctx = context(state, parts, body, client_ip, facts)?;
        let mut input = decode::sqs_action(&action, params, false)?;
        trace_header_into(&mut input, parts);
        ctx.iam_action = input.iam_action();
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
        Protocol::SqsQuery | Protocol::StsQuery => respond(
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

#[cfg(test)]
mod tests {
    use super::{Protocol, metric_series, series_index};

    #[test]
    fn every_series_is_found_by_its_labels_and_unknown_names_fall_into_unknown() {
        let series = metric_series();
        for (i, s) in series.iter().enumerate() {
            let p = match s.protocol {
                "query" => Protocol::SqsQuery,
                "json" => Protocol::SqsJson,
                "sts" => Protocol::StsQuery,
                _ => Protocol::KmsJson,
            };
            assert_eq!(series_index(p, s.action), i, "{s:?}");
        }
        for p in [
            Protocol::SqsQuery,
            Protocol::SqsJson,
            Protocol::KmsJson,
            Protocol::StsQuery,
        ] {
            let s = series[series_index(p, "NoSuchAction")];
            assert_eq!((s.protocol, s.action), (p.label(), "unknown"));
            assert_eq!(series_index(p, ""), series_index(p, "NoSuchAction"));
        }
    }
}
