//! `/_sealq/iam/*`: replacing the inline identity policies of a principal
//! or a role at run time, so a test can change permissions between steps.
//!
//! The body is a JSON list `[{"name": "...", "document": ...}]`, the
//! document a JSON object or a JSON string, as IAM takes it; the whole list
//! is checked before anything changes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::bad_request;
use crate::iam::NamedPolicy;
use crate::iam::policy::{PolicyDocument, PolicyKind};
use crate::state::AppState;

/// The policies of a request body, checked.
fn policies(body: &[u8]) -> Result<Vec<NamedPolicy>, String> {
    let shape = "the body must be a JSON list like [{\"name\": \"send\", \"document\": {\"Version\": \"2012-10-17\", \"Statement\": [...]}}]";
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(shape.to_owned());
    };
    let mut out: Vec<NamedPolicy> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(format!("[{i}]: {shape}"));
        };
        if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "name" | "document")) {
            return Err(format!("[{i}]: unknown field `{k}` (give name and document)"));
        }
        let Some(Value::String(name)) = m.get("name") else {
            return Err(format!("[{i}].name must be a string"));
        };
        if !crate::iam::is_iam_name(name, 128) {
            return Err(format!(
                "[{i}].name: `{name}` is not a policy name (1 to 128 of letters, digits and +=,.@-_)"
            ));
        }
        if out.iter().any(|p| p.name == *name) {
            return Err(format!("[{i}].name: policy {name} is given twice"));
        }
        let document = match m.get("document") {
            Some(Value::String(text)) => PolicyDocument::parse_json(text, PolicyKind::Identity),
            Some(v @ Value::Object(_)) => PolicyDocument::from_value(v, PolicyKind::Identity),
            _ => Err("it must be a policy document (a JSON object or a JSON string)".to_owned()),
        }
        .map_err(|e| format!("[{i}].document: {e}"))?;
        out.push(NamedPolicy {
            name: name.clone(),
            document,
        });
    }
    Ok(out)
}

fn replaced(arn: &str, policies: &[NamedPolicy]) -> Response {
    let names: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
    tracing::info!(principal = %arn, policies = ?names, "identity policies replaced");
    Json(json!({ "arn": arn, "policies": names })).into_response()
}

/// `PUT /_sealq/iam/principals/{access_key_id}/policies`: the policies of
/// the principal that access key id acts as (a registered one, else the
/// IAM user it names); `{"arn", "policies": [names]}`.
pub(super) async fn put_principal_policies(
    State(state): State<AppState>,
    Path(access_key_id): Path<String>,
    body: Bytes,
) -> Response {
    let policies = match policies(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let arn = state
        .principals
        .registered_arn(&access_key_id)
        .unwrap_or_else(|| {
            format!(
                "arn:aws:iam::{}:user/{access_key_id}",
                state.principals.account_id()
            )
        });
    let response = replaced(&arn, &policies);
    state.principals.set_identity_policies(&arn, policies);
    response
}

/// Query of `PUT /_sealq/iam/roles/{name}/policies`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleQuery {
    /// The role's account, when roles of several accounts share the name.
    account: Option<String>,
}

/// `PUT /_sealq/iam/roles/{name}/policies[?account=ID]`: the policies of a
/// role declared in the configuration file (what its sessions may do).
pub(super) async fn put_role_policies(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<RoleQuery>,
    body: Bytes,
) -> Response {
    let policies = match policies(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let mut roles = state.principals.roles_named(&name);
    if let Some(account) = &q.account {
        roles.retain(|r| crate::iam::policy::account_of(&r.arn) == Some(account.as_str()));
    }
    let role = match roles.as_slice() {
        [role] => role.clone(),
        [] => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "message": format!("no role {name} is declared (roles come from [[roles]] in the configuration file)") })),
            )
                .into_response();
        }
        _ => {
            return bad_request(&format!(
                "roles named {name} exist in several accounts: give ?account=ID"
            ));
        }
    };
    let response = replaced(&role.arn, &policies);
    state.principals.set_identity_policies(&role.arn, policies);
    response
}

#[cfg(test)]
mod tests {
    use super::policies;

    #[test]
    fn bodies_are_checked_whole() {
        let ok = br#"[{"name":"send","document":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}}},
                      {"name":"json-text","document":"{\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"sqs:*\",\"Resource\":\"*\"}}"}]"#;
        let p = policies(ok).unwrap();
        assert_eq!(p.len(), 2);
        assert!(policies(b"[]").unwrap().is_empty());
        for (body, needle) in [
            (&b"{}"[..], "JSON list"),
            (br#"[{"name":"a b","document":{}}]"#, "not a policy name"),
            (br#"[{"name":"a","document":{"Statement":{"Effect":"Allow","Action":"*","Principal":"*","Resource":"*"}}}]"#, "must not name a Principal"),
            (br#"[{"name":"a","document":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}},{"name":"a","document":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}]"#, "twice"),
            (br#"[{"name":"a","doc":{}}]"#, "unknown field"),
        ] {
            let e = policies(body).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }
}

/// The deciding statements of a decision, as the admin API shows them.
fn deciding_json(deciding: &[crate::iam::Deciding]) -> Vec<Value> {
    deciding
        .iter()
        .map(|d| {
            json!({
                "policy": d.policy,
                "statement": d.index,
                "sid": d.sid,
                "effect": match d.effect {
                    crate::iam::policy::Effect::Allow => "Allow",
                    crate::iam::policy::Effect::Deny => "Deny",
                },
            })
        })
        .collect()
}

/// A request context as a JSON object: one value as a string, several as
/// a list.
fn context_json(entries: impl Iterator<Item = (String, Vec<String>)>) -> serde_json::Map<String, Value> {
    entries
        .map(|(k, mut v)| {
            let value = if v.len() == 1 {
                Value::String(v.remove(0))
            } else {
                json!(v)
            };
            (k, value)
        })
        .collect()
}

/// Filters of `GET /_sealq/authz/decisions`; several given means all must
/// match.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionFilter {
    /// The caller's ARN (or `anonymous`).
    principal: Option<String>,
    /// The IAM action, such as `sqs:SendMessage` (any case).
    action: Option<String>,
    /// `allow`, `explicit_deny` or `implicit_deny`.
    decision: Option<String>,
}

/// `GET /_sealq/authz/decisions[?principal=&action=&decision=]`: the last
/// authorization decisions, newest first, each with the deciding
/// statements and the context keys the request had.
pub(super) async fn decisions(
    State(state): State<AppState>,
    filter: Result<Query<DecisionFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(f)) = filter else {
        return bad_request(
            "the query parameters are principal, action and decision (allow, explicit_deny, implicit_deny)",
        );
    };
    if let Some(d) = &f.decision
        && !matches!(d.as_str(), "allow" | "explicit_deny" | "implicit_deny")
    {
        return bad_request("decision must be allow, explicit_deny or implicit_deny");
    }
    let list: Vec<Value> = state
        .decisions
        .newest_first()
        .into_iter()
        .filter(|r| f.principal.as_deref().is_none_or(|p| p == r.principal()))
        .filter(|r| {
            f.action
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case(r.action))
        })
        .filter(|r| f.decision.as_deref().is_none_or(|d| d == r.outcome.label()))
        .map(|r| {
            let deciding = deciding_json(&r.deciding);
            // The region of the resource the decision was on.
            let region = crate::kms::Home::of_arn(&r.resource)
                .map(|h| h.region)
                .filter(|g| !g.is_empty())
                .unwrap_or(&state.config.region);
            let context = context_json(
                r.context(region)
                    .entries()
                    .map(|(k, v)| (k.to_owned(), v.iter().map(ToString::to_string).collect())),
            );
            json!({
                "time": crate::clock::rfc3339(r.facts.time_ms),
                "principal": r.principal(),
                "action": r.action,
                "resource": r.resource,
                "decision": r.outcome.label(),
                "enforced": r.enforced,
                "via_service": match &r.facts.call {
                    crate::authz::Call::KmsViaSqs(_) => Value::from(format!("sqs.{region}.amazonaws.com")),
                    _ => Value::Null,
                },
                "reason": r.reason,
                "deciding_statements": deciding,
                "context": context,
            })
        })
        .collect();
    Json(Value::Array(list)).into_response()
}

/// `POST /_sealq/authz/explain` with `{"principal": ARN | "anonymous",
/// "action": "sqs:SendMessage", "resource": QUEUE (name, URL or ARN),
/// "context": {"aws:SecureTransport": "true"}}`: the decision the request
/// would get from the current policies, like IAM's policy simulator
/// (records nothing).
pub(super) async fn explain(State(state): State<AppState>, body: Bytes) -> Response {
    let shape = "the body must be {\"principal\": ARN or \"anonymous\", \"action\": \"sqs:...\", \"resource\": QUEUE, \"context\": {KEY: VALUE}}";
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(shape);
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "principal" | "action" | "resource" | "context"))
    {
        return bad_request(&format!("unknown field `{k}`; {shape}"));
    }
    let (Some(Value::String(principal)), Some(Value::String(action)), Some(Value::String(resource))) =
        (m.get("principal"), m.get("action"), m.get("resource"))
    else {
        return bad_request(shape);
    };
    let mut extra = Vec::new();
    match m.get("context") {
        None => {}
        Some(Value::Object(c)) => {
            for (k, v) in c {
                let Value::String(v) = v else {
                    return bad_request(&format!("context value of {k} must be a string"));
                };
                extra.push((k.to_ascii_lowercase(), v.clone()));
            }
        }
        Some(_) => return bad_request(shape),
    }
    let who = (principal != "anonymous").then_some(principal.as_str());
    match crate::authz::explain(&state, who, action, resource, &extra) {
        Ok(x) => {
            let deciding = deciding_json(&x.evaluation.deciding);
            let context = context_json(x.context.into_iter());
            Json(json!({
                "principal": principal,
                "action": action,
                "resource": x.resource,
                "decision": x.evaluation.outcome.label(),
                "reason": x.evaluation.reason,
                "deciding_statements": deciding,
                "context": context,
            }))
            .into_response()
        }
        Err(e) => bad_request(&e),
    }
}
