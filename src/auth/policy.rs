//! IAM policy documents: read once (from JSON, or a TOML table of the same
//! shape), evaluated per request.
//!
//! A document is a list of statements; each has an `Effect`, and matches a
//! request by `Principal`/`NotPrincipal` (resource policies such as a
//! role's trust policy), `Action`/`NotAction`, `Resource`/`NotResource` and
//! `Condition`. [`PolicyDocument::evaluate`] follows IAM's order: an
//! explicit deny wins over any allow; with neither, the request is not
//! allowed by this document.
//!
//! Conditions support the string, ARN, `Bool` and `Null` operators (with
//! `...IfExists`), keys compared case-insensitively; a document using an
//! operator sealq does not evaluate is refused when read, never ignored,
//! so a condition can never be silently skipped.

use serde_json::Value;

/// A policy document, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    statements: Vec<Statement>,
}

/// What a document says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// No statement applies.
    NotApplicable,
}

/// The request a document is evaluated for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The caller's ARN (`None`: anonymous).
    pub principal_arn: Option<&'a str>,
    /// The action, `service:Name`.
    pub action: &'a str,
    /// The resource's ARN.
    pub resource: &'a str,
    /// Condition keys present in the request, by lower-case name.
    pub context: &'a [(&'a str, &'a str)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
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
    negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    Null,
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "StringEquals" => Self::StringEquals,
            "StringNotEquals" => Self::StringNotEquals,
            "StringEqualsIgnoreCase" => Self::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Self::StringNotEqualsIgnoreCase,
            "StringLike" => Self::StringLike,
            "StringNotLike" => Self::StringNotLike,
            "ArnEquals" => Self::ArnEquals,
            "ArnNotEquals" => Self::ArnNotEquals,
            "ArnLike" => Self::ArnLike,
            "ArnNotLike" => Self::ArnNotLike,
            "Bool" => Self::Bool,
            "Null" => Self::Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// Whether the request's `actual` matches the policy's `wanted` (before
    /// negation).
    fn matches(self, wanted: &str, actual: &str) -> bool {
        match self {
            Self::StringEquals | Self::StringNotEquals | Self::ArnEquals | Self::ArnNotEquals => {
                wanted == actual
            }
            Self::StringEqualsIgnoreCase | Self::StringNotEqualsIgnoreCase | Self::Bool => {
                wanted.eq_ignore_ascii_case(actual)
            }
            Self::StringLike | Self::StringNotLike | Self::ArnLike | Self::ArnNotLike => glob(wanted, actual),
            Self::Null => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    op: Op,
    if_exists: bool,
    /// Lower-case key name.
    key: String,
    values: Vec<String>,
}

impl Condition {
    fn holds(&self, context: &[(&str, &str)]) -> bool {
        let actual = context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.key))
            .map(|(_, v)| *v);
        if self.op == Op::Null {
            // `Null: true` holds when the key is absent.
            let absent = actual.is_none();
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case(if absent { "true" } else { "false" }));
        }
        match actual {
            // IAM: a missing key matches nothing, so a negated operator
            // holds; `...IfExists` holds either way.
            None => self.if_exists || self.op.negated(),
            Some(a) => {
                let any = self.values.iter().any(|w| self.op.matches(w, a));
                any != self.op.negated()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    effect: Effect,
    principal: Option<Principals>,
    action: Matcher,
    resource: Option<Matcher>,
    conditions: Vec<Condition>,
}

/// `*` any run of characters, `?` any one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The account of an IAM or STS ARN (`arn:aws:iam::ACCOUNT:...`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

impl Principals {
    fn matches(&self, caller: Option<&str>) -> bool {
        let hit = self.any || caller.is_some_and(|c| self.aws.iter().any(|p| principal_matches(p, c)));
        hit != self.negated
    }
}

/// Whether the policy's principal `p` names the caller `arn`: the same
/// ARN; an account (its id or `:root` ARN) names every principal in it; a
/// role names its sessions.
fn principal_matches(p: &str, arn: &str) -> bool {
    if p == "*" || p == arn {
        return true;
    }
    let account = if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        Some(p)
    } else {
        p.strip_prefix("arn:aws:iam::")
            .and_then(|r| r.strip_suffix(":root"))
    };
    if let Some(a) = account {
        return account_of(arn) == Some(a);
    }
    if let Some((acct, role)) = p
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":role/"))
    {
        // A role's path is not part of its sessions' ARNs.
        let name = role.rsplit('/').next().unwrap_or(role);
        return arn
            .strip_prefix("arn:aws:sts::")
            .and_then(|r| r.strip_prefix(acct))
            .and_then(|r| r.strip_prefix(":assumed-role/"))
            .and_then(|r| r.strip_prefix(name))
            .is_some_and(|r| r.starts_with('/'));
    }
    false
}

impl Statement {
    fn applies(&self, req: &Request<'_>) -> bool {
        if let Some(p) = &self.principal
            && !p.matches(req.principal_arn)
        {
            return false;
        }
        let action = self
            .action
            .values
            .iter()
            .any(|a| glob(&a.to_ascii_lowercase(), &req.action.to_ascii_lowercase()));
        if action == self.action.negated {
            return false;
        }
        if let Some(r) = &self.resource {
            let hit = r.values.iter().any(|v| glob(v, req.resource));
            if hit == r.negated {
                return false;
            }
        }
        self.conditions.iter().all(|c| c.holds(req.context))
    }
}

/// A string or a list of strings, as IAM allows for most elements.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(format!("{what} must be a string or a list of strings")),
            })
            .collect(),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        _ => Err(format!("{what} must be a string or a list of strings")),
    }
}

fn principals(v: &Value, negated: bool, what: &str) -> Result<Principals, String> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals {
            any: true,
            aws: Vec::new(),
            negated,
        }),
        Value::Object(m) => {
            let mut aws = Vec::new();
            for (kind, values) in m {
                match kind.as_str() {
                    "AWS" => aws.extend(strings(values, &format!("{what}.AWS"))?),
                    // Services and federated identities never sign requests
                    // to sealq: such entries match no caller.
                    "Service" | "Federated" | "CanonicalUser" => {
                        strings(values, &format!("{what}.{kind}"))?;
                    }
                    other => return Err(format!("{what} has an unknown principal type `{other}`")),
                }
            }
            let any = aws.iter().any(|a| a == "*");
            for a in &aws {
                if a != "*" && a.contains('*') {
                    return Err(format!(
                        "{what}: `{a}`: wildcards are not allowed in principal ARNs"
                    ));
                }
            }
            Ok(Principals { any, aws, negated })
        }
        _ => Err(format!(
            "{what} must be \"*\" or an object such as {{\"AWS\": \"ARN\"}}"
        )),
    }
}

fn conditions(v: &Value, what: &str) -> Result<Vec<Condition>, String> {
    let Value::Object(ops) = v else {
        return Err(format!("{what} must be an object of operators"));
    };
    let mut out = Vec::new();
    for (name, keys) in ops {
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (name.as_str(), false),
        };
        let op = Op::parse(base).ok_or_else(|| {
            format!(
                "{what}: the condition operator `{name}` is not supported by sealq (supported: the String, Arn, Bool and Null operators, and their IfExists forms)"
            )
        })?;
        let Value::Object(keys) = keys else {
            return Err(format!("{what}.{name} must be an object of condition keys"));
        };
        for (key, values) in keys {
            out.push(Condition {
                op,
                if_exists,
                key: key.to_ascii_lowercase(),
                values: strings(values, &format!("{what}.{name}.{key}"))?,
            });
        }
    }
    Ok(out)
}

fn statement(v: &Value, what: &str) -> Result<Statement, String> {
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
        (None, None) => None,
    };
    let conditions = match m.get("Condition") {
        Some(c) => conditions(c, &format!("{what}.Condition"))?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

impl PolicyDocument {
    /// Reads a policy document from JSON text.
    ///
    /// # Errors
    /// What is wrong with it (not JSON, an unknown element, an operator
    /// sealq does not evaluate, ...).
    pub fn parse_json(text: &str) -> Result<Self, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("the policy is not valid JSON: {e}"))?;
        Self::from_value(&v)
    }

    /// Reads a policy document from its JSON tree.
    ///
    /// # Errors
    /// As [`Self::parse_json`].
    pub fn from_value(v: &Value) -> Result<Self, String> {
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
                .map(|(i, s)| statement(s, &format!("Statement[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(s @ Value::Object(_)) => vec![statement(s, "Statement")?],
            _ => return Err("the policy needs a Statement (an object or a non-empty list)".to_owned()),
        };
        Ok(Self { statements })
    }

    /// What this document says about `req`: an explicit deny wins, then an
    /// allow; else it does not apply.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut decision = Decision::NotApplicable;
        for s in &self.statements {
            if s.applies(req) {
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
        PolicyDocument::parse_json(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":{principal}}},"Action":"sts:AssumeRole"}}]}}"#
        ))
        .unwrap()
    }

    fn assume(doc: &PolicyDocument, caller: &str, context: &[(&str, &str)]) -> Decision {
        doc.evaluate(&Request {
            principal_arn: Some(caller),
            action: "sts:AssumeRole",
            resource: ROLE,
            context,
        })
    }

    #[test]
    fn an_account_names_every_principal_in_it() {
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
    fn negated_and_null_operators_follow_iam_for_missing_keys() {
        let doc = PolicyDocument::parse_json(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole",
                "Condition":{"StringNotLike":{"sts:RoleSessionName":"bad-*"},"Null":{"sts:ExternalId":"true"}}}}"#,
        )
        .unwrap();
        let c = "arn:aws:iam::111122223333:user/a";
        assert_eq!(assume(&doc, c, &[]), Decision::Allow);
        assert_eq!(
            assume(&doc, c, &[("sts:rolesessionname", "bad-one")]),
            Decision::NotApplicable
        );
        assert_eq!(
            assume(&doc, c, &[("sts:externalid", "x")]),
            Decision::NotApplicable
        );
    }

    #[test]
    fn documents_sealq_cannot_evaluate_are_refused() {
        for (doc, needle) in [
            ("[]", "JSON object"),
            ("{}", "Statement"),
            (r#"{"Statement":[{"Effect":"Maybe","Action":"*"}]}"#, "Effect"),
            (r#"{"Statement":[{"Effect":"Allow"}]}"#, "Action"),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01"}}}]}"#,
                "DateGreaterThan",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Principal":{"AWS":"arn:aws:iam::1:user/*"}}]}"#,
                "wildcards",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Colour":1}]}"#,
                "Colour",
            ),
            ("{not json", "not valid JSON"),
        ] {
            let e = PolicyDocument::parse_json(doc).unwrap_err();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn globs_match_like_iam() {
        assert!(glob("sts:*", "sts:assumerole"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob(
            "arn:aws:sqs:*:*:orders*",
            "arn:aws:sqs:us-east-1:1:orders-dlq"
        ));
        assert!(!glob(
            "arn:aws:sqs:*:*:orders",
            "arn:aws:sqs:us-east-1:1:orders-dlq"
        ));
    }
}
