//! Errors rendered per protocol: query `ErrorResponse` XML; SQS JSON 1.0
//! `{"__type","message"}` plus `x-amzn-query-error: <code>;<fault>` (the
//! official SDKs take the error code from that header); KMS JSON 1.1
//! `{"__type","message"}` without it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{JSON_10, JSON_11, Protocol, respond, xml};
use crate::error::Error;

/// The message a client of `protocol` reads for `e`.
fn message(protocol: Protocol, e: &Error) -> String {
    match (protocol, e) {
        // Recorded against AWS: the query protocol words this one differently.
        (Protocol::SqsQuery, Error::QueueDoesNotExist) => {
            "The specified queue does not exist for this wsdl version.".to_owned()
        }
        _ => e.to_string(),
    }
}

/// The response for `e` in `protocol`.
pub(super) fn render(protocol: Protocol, e: &Error, rid: &str) -> Response {
    let meta = e.meta();
    let status = StatusCode::from_u16(meta.status).unwrap_or(StatusCode::BAD_REQUEST);
    let msg = message(protocol, e);
    match protocol {
        Protocol::SqsQuery => {
            let mut out = String::with_capacity(256);
            out.push_str("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"");
            out.push_str(super::encode::XMLNS);
            out.push_str("\"><Error>");
            xml::element(&mut out, "Type", meta.fault.as_str());
            xml::element(&mut out, "Code", meta.query_code);
            xml::element(&mut out, "Message", &msg);
            out.push_str("<Detail/></Error>");
            xml::element(&mut out, "RequestId", rid);
            out.push_str("</ErrorResponse>");
            respond(status, "text/xml", out, rid)
        }
        Protocol::SqsJson => {
            let body = json!({ "__type": meta.json_type, "message": msg }).to_string();
            let mut r = respond(status, JSON_10, body, rid);
            let header = format!("{};{}", meta.query_code, meta.fault.as_str());
            if let Ok(v) = HeaderValue::from_str(&header) {
                r.headers_mut().insert("x-amzn-query-error", v);
            }
            r
        }
        Protocol::StsQuery => respond(status, "text/xml", super::sts::error_xml(e, rid), rid),
        Protocol::KmsJson => {
            let short = meta.json_type.rsplit('#').next().unwrap_or(meta.json_type);
            let body = json!({ "__type": short, "message": msg }).to_string();
            respond(status, JSON_11, body, rid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn json_errors_carry_the_query_error_header() {
        let r = render(Protocol::SqsJson, &Error::QueueDoesNotExist, "rid");
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.headers()["x-amzn-query-error"],
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        assert_eq!(r.headers()["x-amzn-RequestId"], "rid");
        assert_eq!(
            body(r).await,
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#
        );
    }

    #[tokio::test]
    async fn query_errors_are_error_responses() {
        let r = render(
            Protocol::SqsQuery,
            &Error::PurgeQueueInProgress("Only one".into()),
            "rid",
        );
        assert_eq!(r.status(), 403);
        assert_eq!(
            body(r).await,
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error>\
             <Type>Sender</Type><Code>AWS.SimpleQueueService.PurgeQueueInProgress</Code><Message>Only one</Message>\
             <Detail/></Error><RequestId>rid</RequestId></ErrorResponse>"
        );
    }

    #[tokio::test]
    async fn every_variant_renders_in_every_protocol() {
        let all = [
            Error::QueueDoesNotExist,
            Error::InvalidAction("x".into()),
            Error::InternalFailure,
            Error::ReceiptHandleIsInvalid("x".into()),
        ];
        for e in &all {
            for p in [
                Protocol::SqsQuery,
                Protocol::SqsJson,
                Protocol::KmsJson,
                Protocol::StsQuery,
            ] {
                let r = render(p, e, "rid");
                assert_eq!(r.status().as_u16(), e.meta().status);
                assert!(!body(r).await.is_empty());
            }
        }
    }
}
