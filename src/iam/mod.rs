//! Who may do what: IAM policy documents ([`policy`]), their conditions
//! ([`condition`]), and AWS's evaluation logic over the policies that apply
//! to one request ([`authorize`]), with the statements that decided it.
//!
//! No I/O and no clock: callers give the request context (the virtual
//! clock's time as `aws:CurrentTime`, `aws:SecureTransport`, ...).
//!
//! The logic, as IAM's "policy evaluation logic" documents it:
//! 1. an explicit `Deny` in any policy that applies wins;
//! 2. else, for a resource whose own policy is optional (an SQS queue):
//!    within one account an `Allow` in an identity policy or in the
//!    resource policy suffices; across accounts both must allow;
//! 3. for a KMS key the key policy must allow, either directly (it names
//!    the caller) or by delegating to the caller's account (it names the
//!    account), in which case the account's identity policies must allow
//!    too; across accounts both must allow;
//! 4. a resource policy that names an account (its id or `:root`) only
//!    delegates to that account: its principals need an identity policy
//!    that allows as well; `*` names everyone, anonymous callers included.

pub mod condition;
#[cfg(test)]
mod examples;
pub mod policy;

use policy::{Effect, Named, PolicyDocument, Request};

/// An inline identity policy: its name and document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPolicy {
    /// The policy's name.
    pub name: String,
    /// The document (an identity policy).
    pub document: PolicyDocument,
}

/// The ARN whose identity policies apply to `principal_arn`: a role's for
/// its sessions (`arn:aws:sts::A:assumed-role/R/S` → `arn:aws:iam::A:role/R`),
/// else the principal's own.
pub fn policy_holder(principal_arn: &str) -> std::borrow::Cow<'_, str> {
    let session = principal_arn
        .strip_prefix("arn:aws:sts::")
        .and_then(|r| r.split_once(":assumed-role/"))
        .and_then(|(account, rest)| rest.split_once('/').map(|(role, _)| (account, role)));
    match session {
        Some((account, role)) => std::borrow::Cow::Owned(format!("arn:aws:iam::{account}:role/{role}")),
        None => std::borrow::Cow::Borrowed(principal_arn),
    }
}

/// Whether `s` is an AWS account id (12 digits).
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is an IAM name of at most `max` characters: letters,
/// digits and `+=,.@-_` (policy names: 128; role names: 64).
pub fn is_iam_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c))
}

/// A caller's inline identity policies as policies that apply.
pub fn attach_identity(policies: Option<&[NamedPolicy]>) -> Vec<Attached<'_>> {
    policies
        .into_iter()
        .flatten()
        .map(|p| Attached {
            source: Source::Identity(&p.name),
            document: &p.document,
        })
        .collect()
}

/// Where a policy is attached, as a decision's explanation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// An identity policy of the caller, by name.
    Identity(&'a str),
    /// The queue's policy (`Policy` attribute).
    Queue,
    /// The KMS key's policy.
    Key,
    /// A role's trust policy.
    Trust,
}

impl Source<'_> {
    /// `identity policy NAME`, `queue policy`, `key policy`.
    pub fn label(&self) -> String {
        match self {
            Self::Identity(name) => format!("identity policy {name}"),
            Self::Queue => "queue policy".to_owned(),
            Self::Key => "key policy".to_owned(),
            Self::Trust => "trust policy".to_owned(),
        }
    }
}

/// A policy that applies to a request, and where it is attached.
#[derive(Debug, Clone, Copy)]
pub struct Attached<'a> {
    /// Where.
    pub source: Source<'a>,
    /// The document.
    pub document: &'a PolicyDocument,
}

/// How the resource's policy takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// An SQS queue: its policy is optional; within one account an
    /// identity policy alone may allow.
    Queue,
    /// A KMS key, or a role (its trust policy): the resource's policy
    /// must allow, directly or by delegation.
    Key,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed.
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// Nothing allows it.
    ImplicitDeny,
}

impl Outcome {
    /// `allow`, `explicit_deny`, `implicit_deny`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::ExplicitDeny => "explicit_deny",
            Self::ImplicitDeny => "implicit_deny",
        }
    }
}

/// One statement that decided: the policy it is in, its index and `Sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deciding {
    /// Where its policy is attached (`identity policy NAME`, ...).
    pub policy: String,
    /// Its index in the document's `Statement` list.
    pub index: usize,
    /// Its `Sid`, if any.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: Effect,
}

/// A decision and the statements that made it (none for an implicit
/// deny).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub outcome: Outcome,
    /// The statements that made it.
    pub deciding: Vec<Deciding>,
    /// Why, in a sentence (for an implicit deny: what was missing).
    pub reason: &'static str,
}

/// AWS's evaluation logic for `req` on a resource of `kind` owned by
/// `resource_account`: the caller's identity policies (`identity`; none
/// for anonymous callers), and the resource's own policy (`resource`;
/// `None` when it has none).
pub fn authorize(
    req: &Request<'_>,
    caller_account: Option<&str>,
    resource_account: &str,
    kind: ResourceKind,
    identity: &[Attached<'_>],
    resource: Option<Attached<'_>>,
) -> Evaluation {
    let mut denies = Vec::new();
    let mut identity_allows = Vec::new();
    let mut direct_allows = Vec::new();
    let mut delegating_allows = Vec::new();
    let note = |a: &Attached<'_>, i: usize, s: &policy::Statement| Deciding {
        policy: a.source.label(),
        index: i,
        sid: s.sid.clone(),
        effect: s.effect,
    };
    for a in identity {
        for (i, s) in a.document.statements().iter().enumerate() {
            if s.applies(req).is_some() {
                match s.effect {
                    Effect::Deny => denies.push(note(a, i, s)),
                    Effect::Allow => identity_allows.push(note(a, i, s)),
                }
            }
        }
    }
    if let Some(a) = &resource {
        for (i, s) in a.document.statements().iter().enumerate() {
            match (s.applies(req), s.effect) {
                (None, _) => {}
                (Some(_), Effect::Deny) => denies.push(note(a, i, s)),
                (Some(Named::Directly), Effect::Allow) => direct_allows.push(note(a, i, s)),
                (Some(Named::ByAccount), Effect::Allow) => delegating_allows.push(note(a, i, s)),
            }
        }
    }
    if !denies.is_empty() {
        return Evaluation {
            outcome: Outcome::ExplicitDeny,
            deciding: denies,
            reason: "a statement denies it",
        };
    }
    let same_account = caller_account == Some(resource_account);
    let allow = |deciding: Vec<Deciding>, reason| Evaluation {
        outcome: Outcome::Allow,
        deciding,
        reason,
    };
    let deny = |reason| Evaluation {
        outcome: Outcome::ImplicitDeny,
        deciding: Vec::new(),
        reason,
    };
    let resource_allows = !direct_allows.is_empty() || !delegating_allows.is_empty();
    if caller_account.is_none() {
        // Anonymous: only a statement naming everyone can allow.
        return if direct_allows.is_empty() {
            deny("the caller is anonymous and no statement of the resource's policy allows everyone")
        } else {
            allow(direct_allows, "the resource's policy allows everyone")
        };
    }
    if !same_account {
        return match (identity_allows.is_empty(), resource_allows) {
            (false, true) => {
                let mut d = identity_allows;
                d.extend(direct_allows);
                d.extend(delegating_allows);
                allow(
                    d,
                    "across accounts, an identity policy and the resource's policy both allow it",
                )
            }
            (true, true) => {
                deny("across accounts the caller's identity policies must allow it too, and none does")
            }
            (false, false) => deny("across accounts the resource's policy must allow it too, and none does"),
            (true, false) => deny(
                "across accounts both the identity and the resource's policy must allow it, and neither does",
            ),
        };
    }
    match kind {
        ResourceKind::Queue => {
            if !direct_allows.is_empty() {
                allow(direct_allows, "the queue policy allows it")
            } else if !identity_allows.is_empty() {
                allow(identity_allows, "an identity policy allows it")
            } else {
                deny("no identity policy and no statement of the queue policy allows it")
            }
        }
        ResourceKind::Key => {
            if !direct_allows.is_empty() {
                allow(direct_allows, "the key policy allows it")
            } else if delegating_allows.is_empty() {
                deny(
                    "no resource-based policy allows it: the key policy neither names the caller nor delegates to its account",
                )
            } else if identity_allows.is_empty() {
                deny("the key policy delegates to the account, and no identity policy allows it")
            } else {
                let mut d = delegating_allows;
                d.extend(identity_allows);
                allow(
                    d,
                    "the key policy delegates to the account, and an identity policy allows it",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::condition::Context;
    use super::policy::{Caller, PolicyKind};
    use super::*;

    const ALICE: &str = "arn:aws:iam::111111111111:user/alice";
    const BOB: &str = "arn:aws:iam::222222222222:user/bob";
    const QUEUE: &str = "arn:aws:sqs:us-east-1:111111111111:orders";
    const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/k";

    fn doc(kind: PolicyKind, statements: &str) -> PolicyDocument {
        PolicyDocument::parse_json(
            &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
            kind,
        )
        .unwrap()
    }

    fn id(statements: &str) -> PolicyDocument {
        doc(PolicyKind::Identity, statements)
    }

    fn res(statements: &str) -> PolicyDocument {
        doc(PolicyKind::Resource, statements)
    }

    /// The outcome of `action` on `resource` by `caller` (None: anonymous).
    fn decide(
        caller: Option<&str>,
        action: &str,
        resource: &str,
        kind: ResourceKind,
        identity: &[PolicyDocument],
        resource_policy: Option<&PolicyDocument>,
    ) -> Evaluation {
        let mut ctx = Context::new();
        ctx.set("aws:securetransport", "true");
        let req = Request {
            caller: Caller {
                arn: caller,
                service: None,
            },
            action,
            resource,
            context: &ctx,
        };
        let attached: Vec<Attached<'_>> = identity
            .iter()
            .map(|d| Attached {
                source: Source::Identity("inline"),
                document: d,
            })
            .collect();
        let r = resource_policy.map(|d| Attached {
            source: if kind == ResourceKind::Key {
                Source::Key
            } else {
                Source::Queue
            },
            document: d,
        });
        authorize(
            &req,
            caller.and_then(policy::account_of),
            policy::account_of(resource).unwrap(),
            kind,
            &attached,
            r,
        )
    }

    #[test]
    fn a_session_acts_as_its_role() {
        assert_eq!(
            policy_holder("arn:aws:sts::1:assumed-role/app/s"),
            "arn:aws:iam::1:role/app"
        );
        assert_eq!(policy_holder("arn:aws:iam::1:user/a"), "arn:aws:iam::1:user/a");
    }

    #[test]
    fn within_an_account_either_policy_allows() {
        let send = id(r#"{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}"#);
        let e = decide(
            Some(ALICE),
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            &[send],
            None,
        );
        assert_eq!(e.outcome, Outcome::Allow);
        assert_eq!(e.deciding[0].policy, "identity policy inline");
        let qp = res(&format!(
            r#"{{"Sid":"AliceSends","Effect":"Allow","Principal":{{"AWS":"{ALICE}"}},"Action":"sqs:SendMessage","Resource":"{QUEUE}"}}"#
        ));
        let e = decide(
            Some(ALICE),
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            &[],
            Some(&qp),
        );
        assert_eq!(e.outcome, Outcome::Allow);
        assert_eq!(e.deciding[0].sid.as_deref(), Some("AliceSends"));
        // Nothing at all: implicit deny.
        let e = decide(
            Some(ALICE),
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            &[],
            None,
        );
        assert_eq!((e.outcome, e.deciding.len()), (Outcome::ImplicitDeny, 0));
    }

    #[test]
    fn a_resource_policy_naming_the_account_only_delegates() {
        let qp =
            res(r#"{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sqs:*","Resource":"*"}"#);
        let e = decide(
            Some(ALICE),
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            &[],
            Some(&qp),
        );
        assert_eq!(e.outcome, Outcome::ImplicitDeny);
        let everyone = res(r#"{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}"#);
        let e = decide(
            None,
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            &[],
            Some(&everyone),
        );
        assert_eq!(e.outcome, Outcome::Allow, "public queue: anonymous senders");
        let e = decide(
            None,
            "sqs:ReceiveMessage",
            QUEUE,
            ResourceKind::Queue,
            &[],
            Some(&everyone),
        );
        assert_eq!(e.outcome, Outcome::ImplicitDeny);
    }

    #[test]
    fn across_accounts_both_must_allow() {
        let bob_may = id(r#"{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}"#);
        let queue_allows_bob = res(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{BOB}"}},"Action":"sqs:SendMessage","Resource":"*"}}"#
        ));
        let queue_allows_account = res(
            r#"{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sqs:SendMessage","Resource":"*"}"#,
        );
        let only_identity = decide(
            Some(BOB),
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            std::slice::from_ref(&bob_may),
            None,
        );
        assert_eq!(only_identity.outcome, Outcome::ImplicitDeny);
        let only_resource = decide(
            Some(BOB),
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            &[],
            Some(&queue_allows_bob),
        );
        assert_eq!(only_resource.outcome, Outcome::ImplicitDeny);
        for qp in [&queue_allows_bob, &queue_allows_account] {
            let both = decide(
                Some(BOB),
                "sqs:SendMessage",
                QUEUE,
                ResourceKind::Queue,
                std::slice::from_ref(&bob_may),
                Some(qp),
            );
            assert_eq!(both.outcome, Outcome::Allow);
            assert_eq!(both.deciding.len(), 2);
        }
    }

    #[test]
    fn an_explicit_deny_anywhere_wins() {
        let allow_all = id(r#"{"Effect":"Allow","Action":"sqs:*","Resource":"*"}"#);
        let tls_only = res(
            r#"{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        );
        let e = decide(
            Some(ALICE),
            "sqs:SendMessage",
            QUEUE,
            ResourceKind::Queue,
            std::slice::from_ref(&allow_all),
            Some(&tls_only),
        );
        assert_eq!(e.outcome, Outcome::Allow, "over TLS the deny does not apply");
        let deny_delete = id(r#"{"Effect":"Deny","Action":"sqs:DeleteQueue","Resource":"*"}"#);
        let e = decide(
            Some(ALICE),
            "sqs:DeleteQueue",
            QUEUE,
            ResourceKind::Queue,
            &[allow_all, deny_delete],
            None,
        );
        assert_eq!(e.outcome, Outcome::ExplicitDeny);
        assert_eq!(e.deciding[0].effect, Effect::Deny);
    }

    #[test]
    fn a_key_policy_must_allow_directly_or_by_delegation() {
        let default = res(
            r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}"#,
        );
        let may_decrypt = id(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#);
        // Delegated to the account: IAM decides.
        let e = decide(
            Some(ALICE),
            "kms:Decrypt",
            KEY,
            ResourceKind::Key,
            std::slice::from_ref(&may_decrypt),
            Some(&default),
        );
        assert_eq!(e.outcome, Outcome::Allow);
        let e = decide(
            Some(ALICE),
            "kms:Decrypt",
            KEY,
            ResourceKind::Key,
            &[],
            Some(&default),
        );
        assert_eq!(e.outcome, Outcome::ImplicitDeny);
        // A key policy that names neither: an identity policy is not enough.
        let only_bob = res(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{BOB}"}},"Action":"kms:Decrypt","Resource":"*"}}"#
        ));
        let e = decide(
            Some(ALICE),
            "kms:Decrypt",
            KEY,
            ResourceKind::Key,
            std::slice::from_ref(&may_decrypt),
            Some(&only_bob),
        );
        assert_eq!(e.outcome, Outcome::ImplicitDeny);
        assert!(e.reason.contains("no resource-based policy"), "{}", e.reason);
        // Named directly: no identity policy needed.
        let names_alice = res(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{ALICE}"}},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"}}"#
        ));
        let e = decide(
            Some(ALICE),
            "kms:GenerateDataKey",
            KEY,
            ResourceKind::Key,
            &[],
            Some(&names_alice),
        );
        assert_eq!(e.outcome, Outcome::Allow);
        // Across accounts: the key policy and bob's identity policy.
        let e = decide(
            Some(BOB),
            "kms:Decrypt",
            KEY,
            ResourceKind::Key,
            std::slice::from_ref(&may_decrypt),
            Some(&only_bob),
        );
        assert_eq!(e.outcome, Outcome::Allow);
        let e = decide(
            Some(BOB),
            "kms:Decrypt",
            KEY,
            ResourceKind::Key,
            &[],
            Some(&only_bob),
        );
        assert_eq!(e.outcome, Outcome::ImplicitDeny);
    }
}
