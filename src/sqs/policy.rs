//! JSON documents stored as queue attributes: `Policy`, `RedrivePolicy` and
//! `RedriveAllowPolicy`, and the Policy edits of AddPermission and
//! RemovePermission.
//!
//! These documents are domain data that happen to be JSON, not wire format:
//! this is the one place outside `protocol` that uses serde_json (see
//! ARCHITECTURE.md). Policies are stored and edited here; they are not enforced yet.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::iam::policy::{PolicyDocument, PolicyKind};
use crate::limits::{MAX_POLICY_STATEMENTS, MAX_STATEMENT_ACTIONS};
use crate::sqs::types::ACTIONS;

fn invalid_attr(name: &str) -> Error {
    Error::InvalidAttributeValue(format!("Invalid value for the parameter {name}.").into())
}

fn parse_object(name: &str, value: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid_attr(name)),
    }
}

/// Reads a `Policy` value as the resource policy it is; the empty string
/// removes the policy. A queue policy has at most 20 statements of at most
/// 7 actions each (SQS quotas); AddPermission builds its statement and
/// comes here too.
///
/// # Errors
/// `InvalidAttributeValue` naming what is wrong (not JSON, an element or
/// operator IAM does not know or sealq does not evaluate, ...); `OverLimit`
/// past a quota, in AWS's words (recorded).
pub fn check_policy(value: &str) -> Result<Option<(String, std::sync::Arc<PolicyDocument>)>> {
    if value.is_empty() {
        return Ok(None);
    }
    let document = PolicyDocument::parse_json(value, PolicyKind::Resource).map_err(|e| {
        Error::InvalidAttributeValue(format!("Invalid value for the parameter Policy. Reason: {e}").into())
    })?;
    let statements = document.statements();
    if statements.len() > MAX_POLICY_STATEMENTS {
        return Err(Error::OverLimit(
            format!(
                "{} statements were found in the submitted policy, max allowed is {MAX_POLICY_STATEMENTS}",
                statements.len()
            )
            .into(),
        ));
    }
    for st in statements {
        let n = st.action_patterns().0.len();
        if n > MAX_STATEMENT_ACTIONS {
            return Err(Error::OverLimit(
                format!(
                    "{n} actions were found in a statement from the submitted policy, max allowed is {MAX_STATEMENT_ACTIONS}"
                )
                .into(),
            ));
        }
    }
    Ok(Some((value.to_owned(), std::sync::Arc::new(document))))
}

/// Checks a `RedrivePolicy`: `deadLetterTargetArn` and `maxReceiveCount`
/// (1–1,000). The empty string removes it.
///
/// # Errors
/// `InvalidAttributeValue` naming what is wrong.
pub fn check_redrive_policy(value: &str) -> Result<Option<String>> {
    if value.is_empty() {
        return Ok(None);
    }
    let bad = |reason: &str| {
        Error::InvalidParameterValue(
            format!("Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}").into(),
        )
    };
    let m = serde_json::from_str::<Value>(value)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .ok_or_else(|| bad("Redrive policy is not a valid JSON map."))?;
    let arn = m.get("deadLetterTargetArn").and_then(Value::as_str);
    if arn.is_none_or(|a| !a.starts_with("arn:")) {
        return Err(bad("Invalid value for deadLetterTargetArn."));
    }
    let count = match m.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let Some(count) = count.filter(|c| (1..=1000).contains(c)) else {
        return Err(bad(
            "Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
        ));
    };
    // Kept as GetQueueAttributes returns it on AWS: compact, in this
    // order, maxReceiveCount a number even when it was set as a string.
    let arn = serde_json::to_string(arn.unwrap_or_default())
        .map_err(|_| bad("Invalid value for deadLetterTargetArn."))?;
    Ok(Some(format!(
        "{{\"deadLetterTargetArn\":{arn},\"maxReceiveCount\":{count}}}"
    )))
}

/// Target ARN and receive limit of a `RedrivePolicy` that
/// [`check_redrive_policy`] accepted.
pub fn redrive_parts(redrive_policy: &str) -> Option<crate::sqs::model::attributes::Redrive> {
    let v: Value = serde_json::from_str(redrive_policy).ok()?;
    let target_arn = v.get("deadLetterTargetArn")?.as_str()?.to_owned();
    let max_receive_count = match v.get("maxReceiveCount")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())?;
    Some(crate::sqs::model::attributes::Redrive {
        target_arn,
        max_receive_count,
    })
}

/// The `deadLetterTargetArn` of a `RedrivePolicy` document, whatever it
/// holds (an ARN, or a bare queue name in a configuration file); `None`
/// when the document is not a JSON object with that string member.
pub fn redrive_target(redrive_policy: &str) -> Option<String> {
    let v: Value = serde_json::from_str(redrive_policy).ok()?;
    Some(v.get("deadLetterTargetArn")?.as_str()?.to_owned())
}

/// The `RedrivePolicy` document with its `deadLetterTargetArn` replaced by
/// `target_arn` (a configuration file may name its dead-letter queue by
/// name); `None` when the document is not a JSON object.
pub fn with_redrive_target(redrive_policy: &str, target_arn: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(redrive_policy).ok()?;
    v.as_object_mut()?.insert(
        "deadLetterTargetArn".to_owned(),
        Value::String(target_arn.to_owned()),
    );
    Some(v.to_string())
}

/// Whether a stored `RedriveAllowPolicy` lets `source_arn` use the queue as
/// its dead-letter queue.
pub fn allows_source(redrive_allow_policy: &str, source_arn: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(redrive_allow_policy) else {
        return true;
    };
    match v.get("redrivePermission").and_then(Value::as_str) {
        Some("denyAll") => false,
        Some("byQueue") => v
            .get("sourceQueueArns")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(source_arn))),
        _ => true,
    }
}

/// Checks a `RedriveAllowPolicy`: `redrivePermission` of `allowAll`,
/// `denyAll` or `byQueue` (with 1–10 `sourceQueueArns`).
///
/// # Errors
/// `InvalidAttributeValue` naming what is wrong.
pub fn check_redrive_allow_policy(value: &str) -> Result<Option<String>> {
    if value.is_empty() {
        return Ok(None);
    }
    let bad = |reason: &str| {
        Error::InvalidAttributeValue(
            format!("Value {value} for parameter RedriveAllowPolicy is invalid. Reason: {reason}").into(),
        )
    };
    let m = parse_object("RedriveAllowPolicy", value)?;
    let sources = m
        .get("sourceQueueArns")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    match m.get("redrivePermission").and_then(Value::as_str) {
        Some("allowAll" | "denyAll") if sources == 0 => {}
        Some("allowAll" | "denyAll") => {
            return Err(bad("Only byQueue redrivePermission can have sourceQueueArns."));
        }
        Some("byQueue") if (1..=10).contains(&sources) => {}
        Some("byQueue") => return Err(bad("byQueue redrivePermission needs 1 to 10 sourceQueueArns.")),
        _ => return Err(bad("Invalid value for redrivePermission.")),
    }
    Ok(Some(value.to_owned()))
}

fn label_error(label: &str, reason: &str) -> Error {
    Error::invalid_value("Label", label, reason)
}

/// One or many, as AWS writes principals and actions in a statement.
fn one_or_many(items: Vec<String>) -> Value {
    if items.len() == 1 {
        json!(items[0])
    } else {
        json!(items)
    }
}

/// Adds statement `label` granting `actions` to `accounts` on `queue_arn`.
///
/// # Errors
/// `InvalidParameterValue` for a label already in use, an unknown action or
/// a malformed account id; `MissingParameter` for empty lists.
pub fn add_permission(
    policy: Option<&str>,
    queue_arn: &str,
    label: &str,
    accounts: &[String],
    actions: &[String],
) -> Result<String> {
    if accounts.is_empty() {
        return Err(Error::missing("AWSAccountIds"));
    }
    if actions.is_empty() {
        return Err(Error::missing("Actions"));
    }
    if label.is_empty()
        || label.len() > crate::limits::MAX_PERMISSION_LABEL_LEN
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(label_error(
            label,
            "Labels can have up to 80 alphanumeric characters, hyphens and underscores.",
        ));
    }
    for account in accounts {
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::invalid_value("PrincipalId", account, "Unable to verify."));
        }
    }
    for action in actions {
        if action != "*" && !ACTIONS.contains(&action.as_str()) {
            return Err(Error::invalid_value(
                "ActionName",
                action,
                "Please refer to the appropriate WSDL for a list of valid actions.",
            ));
        }
    }
    let mut doc = match policy {
        Some(p) => parse_object("Policy", p)?,
        None => {
            let mut m = Map::new();
            m.insert("Version".into(), json!("2008-10-17"));
            m.insert("Id".into(), json!(format!("{queue_arn}/SQSDefaultPolicy")));
            m
        }
    };
    let statements = doc.entry("Statement").or_insert_with(|| json!([]));
    if !statements.is_array() {
        *statements = json!([statements.take()]);
    }
    let list = statements.as_array_mut().ok_or(Error::InternalFailure)?;
    if list
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label))
    {
        return Err(label_error(label, "Already exists."));
    }
    let principals = accounts
        .iter()
        .map(|a| format!("arn:aws:iam::{a}:root"))
        .collect();
    let actions = actions.iter().map(|a| format!("SQS:{a}")).collect();
    list.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": { "AWS": one_or_many(principals) },
        "Action": one_or_many(actions),
        "Resource": queue_arn,
    }));
    Ok(Value::Object(doc).to_string())
}

/// Removes statement `label`; `None` when no statement is left.
///
/// # Errors
/// `InvalidParameterValue` when no statement has that label.
pub fn remove_permission(policy: Option<&str>, label: &str) -> Result<Option<String>> {
    let not_found = || label_error(label, "can't find label.");
    let mut doc = parse_object("Policy", policy.ok_or_else(not_found)?)?;
    let Some(Value::Array(list)) = doc.get_mut("Statement") else {
        return Err(not_found());
    };
    let before = list.len();
    list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
    if list.len() == before {
        return Err(not_found());
    }
    if list.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Object(doc).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:q";

    #[test]
    fn add_then_remove_permission_edits_the_policy() {
        let p = add_permission(None, ARN, "l1", &["111122223333".into()], &["SendMessage".into()]).unwrap();
        let v: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(
            v["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(v["Statement"][0]["Action"], "SQS:SendMessage");
        assert_eq!(v["Statement"][0]["Resource"], ARN);
        let p2 = add_permission(
            Some(&p),
            ARN,
            "l2",
            &["111122223333".into()],
            &["*".into(), "ReceiveMessage".into()],
        )
        .unwrap();
        assert!(add_permission(Some(&p2), ARN, "l1", &["111122223333".into()], &["*".into()]).is_err());
        let p3 = remove_permission(Some(&p2), "l1").unwrap().unwrap();
        assert!(!p3.contains("\"l1\""));
        assert_eq!(remove_permission(Some(&p3), "l2").unwrap(), None);
        assert!(remove_permission(None, "l2").is_err());
    }

    #[test]
    fn redrive_policy_is_checked() {
        let ok = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"5"}"#;
        assert!(check_redrive_policy(ok).unwrap().is_some());
        let parts = redrive_parts(ok).unwrap();
        assert_eq!(parts.target_arn, "arn:aws:sqs:us-east-1:000000000000:dlq");
        assert_eq!(parts.max_receive_count, 5);
        assert!(check_redrive_policy(r#"{"deadLetterTargetArn":"x","maxReceiveCount":5}"#).is_err());
        assert!(check_redrive_policy(r#"{"deadLetterTargetArn":"arn:x","maxReceiveCount":0}"#).is_err());
        assert!(check_redrive_policy("nope").is_err());
        assert_eq!(check_redrive_policy("").unwrap(), None);
    }
}
