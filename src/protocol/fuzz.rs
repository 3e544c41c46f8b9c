//! The protocol half of [`crate::fuzz`]: fuzz entry points that run the
//! very functions a request's bytes go through before an action runs
//! (form parsing and its reshaping into the JSON tree, the SQS, KMS and
//! STS decoders, error rendering, XML escaping).
//!
//! An input is refused or decoded; either way nothing may panic, and a
//! refusal must be a client error (4xx, never `InternalFailure`), rendered
//! in the protocol the client spoke.

use super::{Protocol, decode, error, json_object, kms, sts, xml};
use crate::error::Error;

/// `data` cut at its first newline: the line and what follows it.
fn first_line(data: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'\n', data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Renders a refusal as its client would read it; it must be a 4xx.
fn refused(protocol: Protocol, e: &Error) {
    assert!(!matches!(e, Error::InternalFailure), "decoding failed internally");
    let r = error::render(protocol, e, "fuzz");
    assert!(r.status().is_client_error(), "{e:?} rendered as {}", r.status());
}

/// A query-protocol request (SQS or STS), as `TARGET\nBODY`: the request
/// target (path and query string) on the first line, the form-encoded
/// body after it.
pub fn query(data: &[u8]) {
    let (target, body) = first_line(data);
    let Ok(target) = std::str::from_utf8(target) else {
        return; // hyper refuses a request line that is not ASCII
    };
    let (path, url_query) = target.split_once('?').unwrap_or((target, ""));
    let mut params = match super::form_params(url_query, Some(body)) {
        Ok(p) => p,
        Err(e) => return refused(Protocol::SqsQuery, &e),
    };
    if sts::is_sts(&params) {
        let action = sts::take_action(&mut params);
        if let Err(e) = sts::sts_action(&action, params) {
            refused(Protocol::StsQuery, &e);
        }
        return;
    }
    let decoded = super::query_action(path, &mut params)
        .map_err(|(_, e)| e)
        .and_then(|action| decode::sqs_action(&action, params, false));
    if let Err(e) = decoded {
        refused(Protocol::SqsQuery, &e);
    }
}

/// An SQS JSON 1.0 request, as `ACTION\nBODY`: the action of its
/// `X-Amz-Target` (`AmazonSQS.ACTION`) on the first line, the body after.
pub fn sqs_json(data: &[u8]) {
    let (action, body) = first_line(data);
    let action = String::from_utf8_lossy(action);
    if let Err(e) = json_object(body).and_then(|m| decode::sqs_action(&action, m, true)) {
        refused(Protocol::SqsJson, &e);
    }
}

/// A KMS JSON 1.1 request, as `ACTION\nBODY`: the action of its
/// `X-Amz-Target` (`TrentService.ACTION`) on the first line, the body after.
pub fn kms_json(data: &[u8]) {
    let (action, body) = first_line(data);
    let action = String::from_utf8_lossy(action);
    if let Err(e) = kms::kms_action(&action, body) {
        refused(Protocol::KmsJson, &e);
    }
}

/// `text` as the query protocol writes it in an element:
/// `<Body>ESCAPED</Body>`. An XML parser must read `text` back from it.
pub fn xml_element(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    xml::element(&mut out, "Body", text);
    out
}
