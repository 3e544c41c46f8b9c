//! IAM policy documents: read once (from JSON, or a TOML table of the same
//! shape), matched per request.
//!
//! A document is a list of statements; each has an `Effect`, and matches a
//! request by `Principal`/`NotPrincipal` (resource policies: queue, key and
//! trust policies), `Action`/`NotAction`, `Resource`/`NotResource` and
//! `Condition` (see [`super::condition`]). Actions match case-insensitively,
//! resources case-sensitively, both with `*` and `?`; resources may use
//! policy variables. A document with an element, principal type or
//! operator sealq does not evaluate is refused when read, never ignored, so
//! nothing is silently skipped.

use serde_json::Value;

use super::condition::{Condition, Context, Operator, glob, glob_ignore_case, resolve};

/// Which kind of policy a document is: it decides which elements it must
/// and must not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to an identity (user, role): no `Principal`, a `Resource`.
    Identity,
    /// Attached to a resource (queue, key, a role's trust): a `Principal`.
    Resource,
}

/// A policy document, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    statements: Vec<Statement>,
    /// The context keys its statements read (conditions' keys, and the
    /// policy variables of resources and condition values), lower-case,
    /// sorted: callers build only these, and no context at all when there
    /// are none.
    context_keys: Vec<String>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, over any grant.
    Deny,
}

/// What one document says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// No statement applies.
    NotApplicable,
}

/// How a resource policy's statement names the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// By ARN, as `*`, or as a service: the statement grants (or denies)
    /// by itself.
    Directly,
    /// By its account (id or `:root` ARN): a grant is a delegation to the
    /// account, whose identity policies must then allow.
    ByAccount,
}

/// The caller a request is evaluated for.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// Its ARN; `None` when anonymous.
    pub arn: Option<&'a str>,
    /// The AWS service calling on its own behalf (`sqs.amazonaws.com`),
    /// for `Principal: {"Service": ...}`.
    pub service: Option<&'a str>,
}

/// The request a document is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who calls.
    pub caller: Caller<'a>,
    /// The action, `service:Name`.
    pub action: &'a str,
    /// The resource's ARN.
    pub resource: &'a str,
    /// The request's condition keys.
    pub context: &'a Context<'a>,
}

/// Values matched positively (`Action`) or negated (`NotAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Matcher {
    values: Vec<String>,
    negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Principals {
    /// `"*"` or `{"AWS": "*"}`.
    any: bool,
    /// `AWS` values: ARNs or account ids.
    aws: Vec<String>,
    /// `Service` values.
    services: Vec<String>,
    negated: bool,
}

/// One statement of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    principal: Option<Principals>,
    action: Matcher,
    resource: Option<Matcher>,
    conditions: Vec<Condition>,
}

/// The account of an IAM or STS ARN (`arn:aws:iam::ACCOUNT:...`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Whether the policy's principal `p` names the caller `arn`, and how.
fn principal_matches(p: &str, arn: &str) -> Option<Named> {
    if p == "*" || p == arn {
        return Some(Named::Directly);
    }
    let account = if super::is_account_id(p) {
        Some(p)
    } else {
        p.strip_prefix("arn:aws:iam::")
            .and_then(|r| r.strip_suffix(":root"))
    };
    if let Some(a) = account {
        // The account's root user itself is named directly.
        return (account_of(arn) == Some(a)).then(|| {
            if arn.ends_with(":root") {
                Named::Directly
            } else {
                Named::ByAccount
            }
        });
    }
    if let Some((acct, role)) = p
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":role/"))
    {
        // A role names its sessions; its path is not part of their ARNs.
        let name = role.rsplit('/').next().unwrap_or(role);
        let session = arn
            .strip_prefix("arn:aws:sts::")
            .and_then(|r| r.strip_prefix(acct))
            .and_then(|r| r.strip_prefix(":assumed-role/"))
            .and_then(|r| r.strip_prefix(name))
            .is_some_and(|r| r.starts_with('/'));
        return session.then_some(Named::Directly);
    }
    None
}

impl Principals {
    /// How this element names the caller, if it does (`NotPrincipal`:
    /// every caller it does not name, directly).
    fn names(&self, caller: &Caller<'_>) -> Option<Named> {
        let hit = if self.any {
            Some(Named::Directly)
        } else {
            let by_arn = caller.arn.and_then(|arn| {
                self.aws
                    .iter()
                    .filter_map(|p| principal_matches(p, arn))
                    .min_by_key(|n| *n != Named::Directly)
            });
            let by_service = caller
                .service
                .is_some_and(|s| self.services.iter().any(|v| v == s))
                .then_some(Named::Directly);
            by_arn.or(by_service)
        };
        match (self.negated, hit) {
            (false, h) => h,
            (true, Some(_)) => None,
            (true, None) => Some(Named::Directly),
        }
    }
}

/// How a statement names its principals, for readers that inspect a
/// policy rather than evaluate it (the posture audit).
#[derive(Debug, Clone, Copy)]
pub struct PrincipalView<'a> {
    /// `"*"` or `{"AWS": "*"}`.
    pub anyone: bool,
    /// `AWS` values: ARNs or account ids.
    pub aws: &'a [String],
    /// `Service` values.
    pub services: &'a [String],
    /// `NotPrincipal`.
    pub negated: bool,
}

impl Statement {
    /// `Action` values (`negated`: `NotAction`).
    pub fn action_patterns(&self) -> (&[String], bool) {
        (&self.action.values, self.action.negated)
    }

    /// `Resource` values (`negated`: `NotResource`); `None` when the
    /// statement has neither (a trust policy's).
    pub fn resource_patterns(&self) -> Option<(&[String], bool)> {
        self.resource.as_ref().map(|r| (r.values.as_slice(), r.negated))
    }

    /// `Principal` / `NotPrincipal`; `None` in identity policies.
    pub fn principal_view(&self) -> Option<PrincipalView<'_>> {
        self.principal.as_ref().map(|p| PrincipalView {
            anyone: p.any,
            aws: &p.aws,
            services: &p.services,
            negated: p.negated,
        })
    }

    /// The statement's conditions.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Whether the statement applies to `req`; for resource policies, how
    /// it names the caller (`Directly` for identity policies).
    pub fn applies(&self, req: &Request<'_>) -> Option<Named> {
        let named = match &self.principal {
            Some(p) => p.names(&req.caller)?,
            None => Named::Directly,
        };
        let action = self.action.values.iter().any(|a| glob_ignore_case(a, req.action));
        if action == self.action.negated {
            return None;
        }
        if let Some(r) = &self.resource {
            let hit = r
                .values
                .iter()
                .any(|v| resolve(v, req.context).is_some_and(|v| glob(&v, req.resource)));
            if hit == r.negated {
                return None;
            }
        }
        self.conditions
            .iter()
            .all(|c| c.holds(req.context))
            .then_some(named)
    }
}

/// A string or a list of strings, as IAM allows for most elements.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let one = |i: &Value| match i {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(format!("{what} must be a string or a list of strings")),
    };
    match v {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => Err(format!("{what} must not be empty")),
        other => one(other).map(|s| vec![s]),
    }
}

fn principals(v: &Value, negated: bool, what: &str) -> Result<Principals, String> {
    let mut p = Principals {
        any: false,
        aws: Vec::new(),
        services: Vec::new(),
        negated,
    };
    match v {
        Value::String(s) if s == "*" => p.any = true,
        Value::Object(m) => {
            for (kind, values) in m {
                match kind.as_str() {
                    "AWS" => p.aws.extend(strings(values, &format!("{what}.AWS"))?),
                    "Service" => p.services.extend(strings(values, &format!("{what}.Service"))?),
                    // Federated identities never sign requests to sealq:
                    // such entries match no caller.
                    "Federated" | "CanonicalUser" => {
                        strings(values, &format!("{what}.{kind}"))?;
                    }
                    other => return Err(format!("{what} has an unknown principal type `{other}`")),
                }
            }
            p.any = p.aws.iter().any(|a| a == "*");
            for a in &p.aws {
                if a != "*" && a.contains('*') {
                    return Err(format!(
                        "{what}: `{a}`: wildcards are not allowed in principal ARNs"
                    ));
                }
                let account = super::is_account_id(a);
                if a != "*" && !account && !a.starts_with("arn:aws:iam::") && !a.starts_with("arn:aws:sts::")
                {
                    return Err(format!("{what}: `{a}` is not an account id or an IAM or STS ARN"));
                }
            }
        }
        _ => {
            return Err(format!(
                "{what} must be \"*\" or an object such as {{\"AWS\": \"ARN\"}}"
            ));
        }
    }
    Ok(p)
}

fn conditions(v: &Value, what: &str) -> Result<Vec<Condition>, String> {
    let Value::Object(ops) = v else {
        return Err(format!("{what} must be an object of operators"));
    };
    let mut out = Vec::new();
    for (name, keys) in ops {
        let op = Operator::parse(name).map_err(|e| format!("{what}: {e}"))?;
        let Value::Object(keys) = keys else {
            return Err(format!("{what}.{name} must be an object of condition keys"));
        };
        for (key, values) in keys {
            let values = strings(values, &format!("{what}.{name}.{key}"))?;
            for v in &values {
                op.check_value(v)
                    .map_err(|e| format!("{what}.{name}.{key}: {e}"))?;
            }
            out.push(Condition {
                op,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

fn statement(v: &Value, kind: PolicyKind, what: &str) -> Result<Statement, String> {
    let Value::Object(m) = v else {
        return Err(format!("{what} must be an object"));
    };
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(format!("{what} has an unknown element `{k}`"));
        }
    }
    let sid = match m.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(format!("{what}.Sid must be a string")),
    };
    let effect = match m.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(format!("{what}.Effect must be \"Allow\" or \"Deny\"")),
    };
    let principal = match (m.get("Principal"), m.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(format!("{what} has both Principal and NotPrincipal")),
        (Some(p), None) => Some(principals(p, false, &format!("{what}.Principal"))?),
        (None, Some(p)) => Some(principals(p, true, &format!("{what}.NotPrincipal"))?),
        (None, None) => None,
    };
    match (kind, &principal) {
        (PolicyKind::Identity, Some(_)) => {
            return Err(format!(
                "{what}: an identity policy must not name a Principal (it applies to the identity it is attached to)"
            ));
        }
        (PolicyKind::Resource, None) => {
            return Err(format!(
                "{what}: a resource policy needs a Principal or NotPrincipal"
            ));
        }
        _ => {}
    }
    let action = match (m.get("Action"), m.get("NotAction")) {
        (Some(a), None) => Matcher {
            values: strings(a, &format!("{what}.Action"))?,
            negated: false,
        },
        (None, Some(a)) => Matcher {
            values: strings(a, &format!("{what}.NotAction"))?,
            negated: true,
        },
        _ => return Err(format!("{what} needs exactly one of Action and NotAction")),
    };
    let resource = match (m.get("Resource"), m.get("NotResource")) {
        (Some(_), Some(_)) => return Err(format!("{what} has both Resource and NotResource")),
        (Some(r), None) => Some(Matcher {
            values: strings(r, &format!("{what}.Resource"))?,
            negated: false,
        }),
        (None, Some(r)) => Some(Matcher {
            values: strings(r, &format!("{what}.NotResource"))?,
            negated: true,
        }),
        (None, None) if kind == PolicyKind::Identity => {
            return Err(format!("{what} needs a Resource or NotResource"));
        }
        (None, None) => None,
    };
    let conditions = match m.get("Condition") {
        Some(c) => conditions(c, &format!("{what}.Condition"))?,
        None => Vec::new(),
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

impl PolicyDocument {
    /// Reads a policy document of `kind` from JSON text.
    ///
    /// # Errors
    /// What is wrong with it (not JSON, an unknown element, an operator
    /// sealq does not evaluate, an element its kind must or must not have).
    pub fn parse_json(text: &str, kind: PolicyKind) -> Result<Self, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("the policy is not valid JSON: {e}"))?;
        Self::from_value(&v, kind)
    }

    /// Reads a policy document of `kind` from its JSON tree.
    ///
    /// # Errors
    /// As [`Self::parse_json`].
    pub fn from_value(v: &Value, kind: PolicyKind) -> Result<Self, String> {
        let Value::Object(m) = v else {
            return Err("the policy must be a JSON object".to_owned());
        };
        for k in m.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(format!("the policy has an unknown element `{k}`"));
            }
        }
        if let Some(version) = m.get("Version")
            && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return Err("Version must be \"2012-10-17\" or \"2008-10-17\"".to_owned());
        }
        let statements = match m.get("Statement") {
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, s)| statement(s, kind, &format!("Statement[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(s @ Value::Object(_)) => vec![statement(s, kind, "Statement")?],
            _ => return Err("the policy needs a Statement (an object or a non-empty list)".to_owned()),
        };
        let mut context_keys = Vec::new();
        for s in &statements {
            let s: &Statement = s;
            for c in &s.conditions {
                context_keys.push(c.key.clone());
                for v in &c.values {
                    context_keys.extend(super::condition::variables(v).map(str::to_ascii_lowercase));
                }
            }
            for r in s.resource.iter().flat_map(|r| &r.values) {
                context_keys.extend(super::condition::variables(r).map(str::to_ascii_lowercase));
            }
        }
        context_keys.sort_unstable();
        context_keys.dedup();
        Ok(Self {
            statements,
            context_keys,
        })
    }

    /// Whether matching it reads the context key `key` (lower-case).
    pub fn reads(&self, key: &str) -> bool {
        self.context_keys
            .binary_search_by(|k| k.as_str().cmp(key))
            .is_ok()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Whether matching it reads the request context.
    pub fn needs_context(&self) -> bool {
        !self.context_keys.is_empty()
    }

    /// What this document alone says about `req`, however its statements
    /// name the caller: an explicit deny wins, then an allow.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut decision = Decision::NotApplicable;
        for s in &self.statements {
            if s.applies(req).is_some() {
                match s.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => decision = Decision::Allow,
                }
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/app";

    fn trust(principal: &str) -> PolicyDocument {
        PolicyDocument::parse_json(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":{principal}}},"Action":"sts:AssumeRole"}}]}}"#
            ),
            PolicyKind::Resource,
        )
        .unwrap()
    }

    fn assume(doc: &PolicyDocument, caller: &str, pairs: &[(&'static str, &'static str)]) -> Decision {
        let mut ctx = Context::new();
        for (k, v) in pairs {
            ctx.set(k, *v);
        }
        doc.evaluate(&Request {
            caller: Caller {
                arn: Some(caller),
                service: None,
            },
            action: "sts:AssumeRole",
            resource: ROLE,
            context: &ctx,
        })
    }

    #[test]
    fn an_account_names_every_principal_in_it_by_delegation() {
        for p in [r#""111122223333""#, r#""arn:aws:iam::111122223333:root""#] {
            let doc = trust(p);
            assert_eq!(
                assume(&doc, "arn:aws:iam::111122223333:user/alice", &[]),
                Decision::Allow
            );
            assert_eq!(
                assume(&doc, "arn:aws:sts::111122223333:assumed-role/x/s", &[]),
                Decision::Allow
            );
            assert_eq!(
                assume(&doc, "arn:aws:iam::999999999999:user/alice", &[]),
                Decision::NotApplicable
            );
        }
        assert_eq!(
            principal_matches("111122223333", "arn:aws:iam::111122223333:user/a"),
            Some(Named::ByAccount)
        );
        assert_eq!(
            principal_matches("111122223333", "arn:aws:iam::111122223333:root"),
            Some(Named::Directly)
        );
        assert_eq!(
            principal_matches(
                "arn:aws:iam::111122223333:user/a",
                "arn:aws:iam::111122223333:user/a"
            ),
            Some(Named::Directly)
        );
    }

    #[test]
    fn users_roles_and_their_sessions_are_named_exactly() {
        let doc =
            trust(r#"["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:role/ops/admin"]"#);
        assert_eq!(
            assume(&doc, "arn:aws:iam::111122223333:user/alice", &[]),
            Decision::Allow
        );
        assert_eq!(
            assume(&doc, "arn:aws:iam::111122223333:user/bob", &[]),
            Decision::NotApplicable
        );
        assert_eq!(
            assume(&doc, "arn:aws:sts::111122223333:assumed-role/admin/s1", &[]),
            Decision::Allow
        );
        assert_eq!(
            assume(
                &doc,
                "arn:aws:sts::111122223333:assumed-role/administrator/s1",
                &[]
            ),
            Decision::NotApplicable
        );
    }

    #[test]
    fn deny_wins_and_conditions_are_evaluated() {
        let doc = PolicyDocument::parse_json(
            r#"{"Statement":[
                {"Effect":"Allow","Principal":"*","Action":"sts:*","Condition":{"StringEquals":{"sts:ExternalId":"s3cr3t"}}},
                {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/mallory"},"Action":"*"}
            ]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let alice = "arn:aws:iam::111122223333:user/alice";
        assert_eq!(assume(&doc, alice, &[]), Decision::NotApplicable);
        assert_eq!(
            assume(&doc, alice, &[("sts:externalid", "s3cr3t")]),
            Decision::Allow
        );
        assert_eq!(
            assume(&doc, alice, &[("sts:externalid", "other")]),
            Decision::NotApplicable
        );
        assert_eq!(
            assume(
                &doc,
                "arn:aws:iam::111122223333:user/mallory",
                &[("sts:externalid", "s3cr3t")]
            ),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn not_principal_names_everyone_else_and_services_are_principals() {
        let doc = PolicyDocument::parse_json(
            r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"sqs:DeleteQueue","Resource":"*"},
                             {"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let ctx = Context::new();
        let req = |arn: Option<&'static str>, service: Option<&'static str>, action: &'static str| Request {
            caller: Caller { arn, service },
            action,
            resource: "arn:aws:sqs:us-east-1:111122223333:q",
            context: &ctx,
        };
        assert_eq!(
            doc.evaluate(&req(
                Some("arn:aws:iam::111122223333:user/bob"),
                None,
                "sqs:DeleteQueue"
            )),
            Decision::ExplicitDeny
        );
        assert_eq!(
            doc.evaluate(&req(
                Some("arn:aws:iam::111122223333:user/admin"),
                None,
                "sqs:DeleteQueue"
            )),
            Decision::NotApplicable
        );
        assert_eq!(
            doc.evaluate(&req(None, Some("sns.amazonaws.com"), "sqs:SendMessage")),
            Decision::Allow
        );
        assert_eq!(
            doc.evaluate(&req(
                Some("arn:aws:iam::111122223333:user/bob"),
                None,
                "sqs:SendMessage"
            )),
            Decision::NotApplicable
        );
    }

    #[test]
    fn identity_policies_match_actions_and_resources_with_variables() {
        let doc = PolicyDocument::parse_json(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Own","Effect":"Allow","Action":["SQS:Send*","sqs:ReceiveMessage"],
                "Resource":"arn:aws:sqs:*:${aws:PrincipalAccount}:${aws:username}-*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(doc.statements()[0].sid.as_deref(), Some("Own"));
        let mut ctx = Context::new();
        ctx.set("aws:username", "alice")
            .set("aws:PrincipalAccount", "111122223333");
        let req = |action: &'static str, resource: &'static str| Request {
            caller: Caller {
                arn: Some("arn:aws:iam::111122223333:user/alice"),
                service: None,
            },
            action,
            resource,
            context: &ctx,
        };
        assert_eq!(
            doc.evaluate(&req(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:111122223333:alice-jobs"
            )),
            Decision::Allow
        );
        assert_eq!(
            doc.evaluate(&req(
                "sqs:DeleteQueue",
                "arn:aws:sqs:us-east-1:111122223333:alice-jobs"
            )),
            Decision::NotApplicable
        );
        assert_eq!(
            doc.evaluate(&req(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:111122223333:bob-jobs"
            )),
            Decision::NotApplicable
        );
        // Resources are case-sensitive.
        assert_eq!(
            doc.evaluate(&req(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:111122223333:ALICE-jobs"
            )),
            Decision::NotApplicable
        );
    }

    #[test]
    fn documents_sealq_cannot_evaluate_are_refused() {
        for (doc, kind, needle) in [
            ("[]", PolicyKind::Resource, "JSON object"),
            ("{}", PolicyKind::Resource, "Statement"),
            (
                r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"*"}]}"#,
                PolicyKind::Resource,
                "Effect",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*"}]}"#,
                PolicyKind::Resource,
                "Action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"BinaryEquals":{"k":"AA=="}}}]}"#,
                PolicyKind::Resource,
                "BinaryEquals",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"NumericLessThan":{"k":"many"}}}]}"#,
                PolicyKind::Resource,
                "not a valid value",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Principal":{"AWS":"arn:aws:iam::1:user/*"}}]}"#,
                PolicyKind::Resource,
                "wildcards",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Principal":"*","Colour":1}]}"#,
                PolicyKind::Resource,
                "Colour",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#,
                PolicyKind::Resource,
                "needs a Principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Principal":"*","Resource":"*"}]}"#,
                PolicyKind::Identity,
                "must not name a Principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#,
                PolicyKind::Identity,
                "needs a Resource",
            ),
            ("{not json", PolicyKind::Identity, "not valid JSON"),
        ] {
            let e = PolicyDocument::parse_json(doc, kind).unwrap_err();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn a_document_knows_the_context_keys_it_reads() {
        let doc = PolicyDocument::parse_json(
            r#"{"Statement":[
                {"Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs:*:${aws:PrincipalAccount}:${aws:username}-*"},
                {"Effect":"Deny","Action":"sqs:*","Resource":"*","Condition":{
                    "Bool":{"aws:SecureTransport":"false"},
                    "StringNotLike":{"aws:userid":"${aws:userid, 'x'}${*}"}}}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert!(doc.needs_context());
        for key in [
            "aws:principalaccount",
            "aws:username",
            "aws:securetransport",
            "aws:userid",
        ] {
            assert!(doc.reads(key), "{key}");
        }
        assert!(!doc.reads("aws:currenttime"));
        assert!(!doc.reads("*"));
        let plain = PolicyDocument::parse_json(
            r#"{"Statement":{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert!(!plain.needs_context());
    }
}
