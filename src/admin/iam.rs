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
        let name_ok = (1..=128).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
        if !name_ok {
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
