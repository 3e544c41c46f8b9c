//! STS's query protocol (`Action=…&Version=2011-06-15`): parameters into
//! an [`StsAction`], outputs and errors into STS's XML.

use serde_json::{Map, Value};

use super::xml;
use crate::error::{Error, Result};
use crate::sts::{AssumeRoleInput, StsAction, StsOutput, VERSION};

/// STS's XML namespace.
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The STS actions sealq serves, in the order metrics list them.
pub(super) const ACTIONS: [&str; 3] = ["AssumeRole", "GetCallerIdentity", "GetSessionToken"];

/// Whether query parameters are an STS request: STS's `Version`, or, with
/// no version, an action only STS has.
pub(super) fn is_sts(params: &Map<String, Value>) -> bool {
    match params.get("Version") {
        Some(Value::String(v)) => v == VERSION,
        _ => matches!(
            params.get("Action"),
            Some(Value::String(a)) if ACTIONS.contains(&a.as_str())
        ),
    }
}

/// Takes `Action` (empty when missing) and `Version` out of STS's query
/// parameters; what remains are the action's members.
pub(super) fn take_action(params: &mut Map<String, Value>) -> String {
    params.remove("Version");
    match params.remove("Action") {
        Some(Value::String(a)) => a,
        _ => String::new(),
    }
}

fn string(params: &mut Map<String, Value>, name: &str) -> Option<String> {
    match params.remove(name) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn seconds(params: &mut Map<String, Value>) -> Result<Option<u64>> {
    string(params, "DurationSeconds")
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                Error::ValidationError(
                    format!(
                        "1 validation error detected: Value '{s}' at 'durationSeconds' failed to satisfy constraint: Member must be a whole number of seconds"
                    )
                    .into(),
                )
            })
        })
        .transpose()
}

fn required(params: &mut Map<String, Value>, name: &str, member: &str) -> Result<String> {
    string(params, name).ok_or_else(|| {
        Error::ValidationError(
            format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null")
                .into(),
        )
    })
}

/// The action named by `action` with its parameters (`Action` and
/// `Version` already taken out).
///
/// # Errors
/// `InvalidAction` for an action sealq does not serve; `ValidationError`
/// for a missing or malformed parameter.
pub(super) fn sts_action(action: &str, mut params: Map<String, Value>) -> Result<StsAction> {
    match action {
        "GetCallerIdentity" => Ok(StsAction::GetCallerIdentity),
        "GetSessionToken" => Ok(StsAction::GetSessionToken {
            duration_seconds: seconds(&mut params)?,
        }),
        "AssumeRole" => Ok(StsAction::AssumeRole(AssumeRoleInput {
            role_arn: required(&mut params, "RoleArn", "roleArn")?,
            role_session_name: required(&mut params, "RoleSessionName", "roleSessionName")?,
            duration_seconds: seconds(&mut params)?,
            external_id: string(&mut params, "ExternalId"),
        })),
        other => Err(Error::InvalidAction(
            format!("Could not find operation {other} for version {VERSION}").into(),
        )),
    }
}

/// The XML response of `action`.
pub(super) fn to_xml(action: &str, out: &StsOutput, rid: &str) -> String {
    let mut s = String::with_capacity(1024);
    s.push('<');
    s.push_str(action);
    s.push_str("Response xmlns=\"");
    s.push_str(XMLNS);
    s.push_str("\"><");
    s.push_str(action);
    s.push_str("Result>");
    match out {
        StsOutput::CallerIdentity {
            account,
            arn,
            user_id,
        } => {
            xml::element(&mut s, "Arn", arn);
            xml::element(&mut s, "UserId", user_id);
            xml::element(&mut s, "Account", account);
        }
        StsOutput::Credentials { issued, assumed_role } => {
            if let Some((arn, id)) = assumed_role {
                s.push_str("<AssumedRoleUser>");
                xml::element(&mut s, "Arn", arn);
                xml::element(&mut s, "AssumedRoleId", id);
                s.push_str("</AssumedRoleUser>");
            }
            s.push_str("<Credentials>");
            xml::element(&mut s, "AccessKeyId", &issued.access_key_id);
            xml::element(&mut s, "SecretAccessKey", issued.secret_access_key.expose());
            xml::element(&mut s, "SessionToken", issued.session_token.expose());
            xml::element(
                &mut s,
                "Expiration",
                &crate::clock::rfc3339(issued.expires_secs * 1000).replace(".000Z", "Z"),
            );
            s.push_str("</Credentials>");
        }
    }
    s.push_str("</");
    s.push_str(action);
    s.push_str("Result><ResponseMetadata>");
    xml::element(&mut s, "RequestId", rid);
    s.push_str("</ResponseMetadata></");
    s.push_str(action);
    s.push_str("Response>");
    s
}

/// STS's `ErrorResponse` for `e`.
pub(super) fn error_xml(e: &Error, rid: &str) -> String {
    let meta = e.meta();
    let mut s = String::with_capacity(256);
    s.push_str("<ErrorResponse xmlns=\"");
    s.push_str(XMLNS);
    s.push_str("\"><Error>");
    xml::element(&mut s, "Type", meta.fault.as_str());
    xml::element(&mut s, "Code", meta.query_code);
    xml::element(&mut s, "Message", &e.to_string());
    s.push_str("</Error>");
    xml::element(&mut s, "RequestId", rid);
    s.push_str("</ErrorResponse>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect()
    }

    #[test]
    fn sts_requests_are_told_by_version_or_action() {
        assert!(is_sts(&params(&[("Action", "ListQueues"), ("Version", VERSION)])));
        assert!(is_sts(&params(&[("Action", "GetCallerIdentity")])));
        assert!(!is_sts(&params(&[("Action", "ListQueues")])));
        assert!(!is_sts(&params(&[
            ("Action", "GetCallerIdentity"),
            ("Version", "2012-11-05")
        ])));
    }

    #[test]
    fn assume_role_needs_its_members() {
        let e = sts_action("AssumeRole", params(&[("RoleSessionName", "s")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
        );
        let e = sts_action("GetSessionToken", params(&[("DurationSeconds", "soon")])).unwrap_err();
        assert!(matches!(e, Error::ValidationError(_)));
        let e = sts_action("GetFederationToken", Map::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Could not find operation GetFederationToken for version 2011-06-15"
        );
    }
}
