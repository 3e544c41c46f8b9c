//! The security posture audit: rules over what a server holds (every
//! account's queues, KMS keys, registered principals, roles and identity
//! policies), each finding with a rule id, a severity, the resource's ARN,
//! why it matters (the AWS guidance it comes from) and how to fix it.
//!
//! One engine for both uses: `GET /_sealq/audit` and `sealq audit
//! --endpoint` audit a running server's state; `sealq audit --config`
//! applies a configuration file to a scratch in-memory state (the dry run
//! `sealq serve` makes before binding) and audits that. Questions of the
//! kind "may this principal do that" are asked of the IAM evaluator
//! (`authz::explain`), never answered by matching policies here; rules
//! that look at a policy's shape (who it names, which actions) read its
//! parsed statements.
//!
//! Renderers (table, JSON, SARIF 2.1.0) are in [`render`].

pub mod render;

use std::collections::BTreeSet;

use crate::iam::Outcome;
use crate::iam::policy::{Effect, PolicyDocument, Statement};
use crate::kms::model::{KeyManager, KeySpec, KeyState};
use crate::state::AppState;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational: a better practice exists.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical: fix before anything else.
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Self; 5] = [Self::Critical, Self::High, Self::Medium, Self::Low, Self::Info];

    /// `critical`, `high`, `medium`, `low`, `info`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Info => "info",
        }
    }

    /// The severity a label names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.label().eq_ignore_ascii_case(s))
    }
}

/// One rule: what it checks, and why, citing the AWS guidance.
#[derive(Debug)]
pub struct Rule {
    /// Rule id, e.g. `sqs-not-encrypted`.
    pub id: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// One line: what is wrong.
    pub summary: &'static str,
    /// Why it matters, citing the AWS document it comes from.
    pub why: &'static str,
    /// How to fix it, in general (each finding's `fix` is specific).
    pub help: &'static str,
}

/// Every rule, in the order they are documented.
pub const RULES: &[Rule] = &[
    Rule {
        id: "sqs-not-encrypted",
        severity: Severity::High,
        summary: "Queue is not encrypted server-side",
        why: "The Amazon SQS Developer Guide's security best practices (\"Implement server-side encryption\") ask for SSE-SQS or SSE-KMS so that message bodies are encrypted at rest.",
        help: "Set SqsManagedSseEnabled=true (SSE-SQS) or KmsMasterKeyId to a KMS key (SSE-KMS).",
    },
    Rule {
        id: "sqs-sse-service-key",
        severity: Severity::Info,
        summary: "Queue uses SSE-SQS where a customer managed key would allow key policies and audit",
        why: "The Amazon SQS Developer Guide (\"Encryption at rest\" and \"Key management\") notes that with SSE-KMS and a customer managed key you control who may use the key through its key policy and see every use in CloudTrail, which the SQS-owned key of SSE-SQS does not offer.",
        help: "Set KmsMasterKeyId to a customer managed KMS key whose key policy names the producers and consumers.",
    },
    Rule {
        id: "policy-public-principal",
        severity: Severity::Critical,
        summary: "Policy allows anyone (Principal \"*\") without a condition that narrows it",
        why: "The Amazon SQS Developer Guide's security best practices (\"Make sure that queues aren't publicly accessible\") and the AWS KMS key policy guidance warn that a Principal of \"*\" in an Allow grants every AWS account, and anonymous callers, unless a condition limits it.",
        help: "Name the principals (account or role ARNs) instead of \"*\", or add a condition on aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID, aws:PrincipalAccount or aws:SourceIp.",
    },
    Rule {
        id: "policy-wildcard-action",
        severity: Severity::Medium,
        summary: "Wildcard action (*, sqs:*, kms:*) allowed to a principal that is not an administrator, or on Resource \"*\"",
        why: "The Amazon SQS Developer Guide's security best practices (\"Implement least-privilege access\") and IAM's security best practices (\"Apply least-privilege permissions\") ask to grant only the actions a principal needs on the resources it needs.",
        help: "List the actions the principal uses (e.g. sqs:SendMessage, sqs:ReceiveMessage, sqs:DeleteMessage, kms:GenerateDataKey, kms:Decrypt) and name the resources.",
    },
    Rule {
        id: "sqs-no-secure-transport",
        severity: Severity::Medium,
        summary: "Queue policy does not deny requests that are not over HTTPS",
        why: "The Amazon SQS Developer Guide's security best practices (\"Enforce encryption of data in transit\") recommend a queue policy statement that denies every request with aws:SecureTransport false.",
        help: "Add to the queue policy: {\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sqs:*\",\"Resource\":\"<queue ARN>\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}.",
    },
    Rule {
        id: "kms-rotation-disabled",
        severity: Severity::Medium,
        summary: "Customer managed KMS key without automatic rotation",
        why: "The AWS KMS Developer Guide (\"Rotate AWS KMS keys\") and the KMS best practices recommend automatic rotation of customer managed keys, so new data keys are protected by fresh key material.",
        help: "Call EnableKeyRotation on the key (or set rotation = { enabled = true } in [[keys]]).",
    },
    Rule {
        id: "kms-key-unusable",
        severity: Severity::High,
        summary: "The queue's KMS key is disabled, pending deletion or missing",
        why: "The Amazon SQS Developer Guide (\"Key management\") and the AWS KMS key-state table: SQS cannot generate or decrypt data keys with such a key, so sends fail once cached data keys expire and stored messages cannot be read.",
        help: "Enable the key (EnableKey, or CancelKeyDeletion then EnableKey), or point KmsMasterKeyId at a usable key.",
    },
    Rule {
        id: "sqs-no-dlq",
        severity: Severity::Low,
        summary: "Queue has no dead-letter queue",
        why: "The Amazon SQS Developer Guide (\"Using dead-letter queues\") recommends a dead-letter queue so messages that cannot be processed are set aside for inspection instead of being received again and again until they expire.",
        help: "Set RedrivePolicy to {\"deadLetterTargetArn\":\"<DLQ ARN>\",\"maxReceiveCount\":N}.",
    },
    Rule {
        id: "sqs-dlq-weaker",
        severity: Severity::Medium,
        summary: "Dead-letter queue is less protected than its source queue",
        why: "Messages keep their contents when moved to a dead-letter queue (Amazon SQS Developer Guide, \"Using dead-letter queues\"), so the security best practices on encryption and least privilege apply to it as much as to its source.",
        help: "Encrypt the dead-letter queue at least as the source is, and let only the source's readers (or fewer) receive from it.",
    },
    Rule {
        id: "dlq-consumer-cannot-decrypt",
        severity: Severity::Medium,
        summary: "A principal allowed to receive from a dead-letter queue lacks kms:Decrypt on a source queue's key",
        why: "Moved messages stay encrypted under the source queue's KMS key, and the Amazon SQS Developer Guide (\"Key management\") says consumers need kms:Decrypt on the key that encrypted the messages they receive; without it receives fail with KMS.AccessDeniedException.",
        help: "Allow kms:Decrypt on the source queue's key to the dead-letter queue's readers (with kms:ViaService sqs.REGION.amazonaws.com), or stop granting them sqs:ReceiveMessage.",
    },
    Rule {
        id: "iam-long-lived-keys",
        severity: Severity::Info,
        summary: "Long-lived access key where a role would do",
        why: "IAM's security best practices (\"Require workloads to use temporary credentials with IAM roles to access AWS\") recommend roles and their temporary credentials over long-lived access keys of IAM users.",
        help: "Declare a role ([[roles]]) with the user's permissions and have the workload assume it (sts:AssumeRole).",
    },
];

/// The rule with id `id`.
///
/// # Panics
/// Never for the ids this module uses (a test checks each).
pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no audit rule {id}"))
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's id.
    pub rule: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// ARN of the queue, key, user or role concerned.
    pub resource: String,
    /// What was found, naming the parts concerned.
    pub title: String,
    /// Why it matters (the rule's).
    pub why: &'static str,
    /// How to fix it here.
    pub fix: String,
}

fn finding(id: &'static str, resource: &str, title: String, fix: String) -> Finding {
    let r = rule(id);
    Finding {
        rule: r.id,
        severity: r.severity,
        resource: resource.to_owned(),
        title,
        why: r.why,
        fix,
    }
}

/// What the audit reads of one queue.
struct QueueFacts {
    arn: String,
    account: String,
    encrypted: bool,
    sse_sqs: bool,
    kms_key: Option<String>,
    policy: Option<std::sync::Arc<PolicyDocument>>,
    dlq: Option<String>,
}

/// Condition keys that narrow who a public principal is (an Allow to `*`
/// with a condition on one of these is not public).
const NARROWING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "aws:username",
    "kms:calleraccount",
];

/// The name of a statement for a reader: its Sid, or its position.
fn statement_name(i: usize, s: &Statement) -> String {
    s.sid.as_ref().map_or_else(
        || format!("statement {}", i + 1),
        |sid| format!("statement {sid:?}"),
    )
}

/// Whether an Allow statement grants anyone, with no narrowing condition.
fn public_allow(s: &Statement) -> bool {
    if s.effect != Effect::Allow {
        return false;
    }
    let Some(p) = s.principal_view() else {
        return false;
    };
    // `NotPrincipal` in an Allow grants everyone it does not name.
    let anyone = p.anyone || p.negated || p.aws.iter().any(|a| a == "*");
    anyone
        && !s
            .conditions()
            .iter()
            .any(|c| NARROWING_KEYS.contains(&c.key.as_str()))
}

/// The wildcard actions (`*`, `sqs:*`, `kms:*`) an Allow statement grants.
fn wildcard_actions(s: &Statement) -> Vec<&str> {
    if s.effect != Effect::Allow {
        return Vec::new();
    }
    let (actions, negated) = s.action_patterns();
    if negated {
        // NotAction in an Allow grants everything it does not name.
        return vec!["NotAction"];
    }
    actions
        .iter()
        .map(String::as_str)
        .filter(|a| matches!(a.to_ascii_lowercase().as_str(), "*" | "sqs:*" | "kms:*"))
        .collect()
}

/// Whether a principal (ARN or account id) is an administrator: an
/// account's root, or a user or role whose name contains `admin`.
fn is_admin(principal: &str) -> bool {
    crate::iam::is_account_id(principal)
        || principal.ends_with(":root")
        || principal
            .rsplit([':', '/'])
            .next()
            .is_some_and(|n| n.to_ascii_lowercase().contains("admin"))
}

/// Findings of the policy-shape rules on one resource policy.
fn resource_policy_findings(out: &mut Vec<Finding>, resource: &str, kind: &str, doc: &PolicyDocument) {
    let statements = doc.statements();
    let public: Vec<String> = statements
        .iter()
        .enumerate()
        .filter(|(_, s)| public_allow(s))
        .map(|(i, s)| statement_name(i, s))
        .collect();
    if !public.is_empty() {
        out.push(finding(
            "policy-public-principal",
            resource,
            format!("The {kind} policy's {} allows anyone", public.join(", ")),
            format!(
                "In the {kind} policy's {}, replace Principal \"*\" by the accounts or roles that need access, or add a condition on aws:SourceArn, aws:SourceAccount or aws:PrincipalOrgID.",
                public.join(", ")
            ),
        ));
    }
    for (i, s) in statements.iter().enumerate() {
        let wild = wildcard_actions(s);
        if wild.is_empty() {
            continue;
        }
        let Some(p) = s.principal_view() else { continue };
        let admins_only = !p.anyone && !p.negated && !p.aws.is_empty() && p.aws.iter().all(|a| is_admin(a));
        if admins_only {
            continue;
        }
        let who = if p.anyone || p.negated {
            "anyone".to_owned()
        } else {
            p.aws
                .iter()
                .chain(p.services)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(finding(
            "policy-wildcard-action",
            resource,
            format!(
                "The {kind} policy's {} allows {} to {who}",
                statement_name(i, s),
                wild.join(", ")
            ),
            format!(
                "In the {kind} policy's {}, list the actions {who} needs instead of {}.",
                statement_name(i, s),
                wild.join(", ")
            ),
        ));
    }
}

/// The principals whose access the audit can evaluate: registered users,
/// declared roles (as a session of the role) and other holders of identity
/// policies, by the ARN findings name and the ARN evaluated.
fn known_principals(state: &AppState) -> Vec<(String, String)> {
    // A role is evaluated as one of its sessions; others as themselves.
    let evaluated_as = |arn: &str| match arn.split_once(":role/") {
        Some((_, path)) => format!(
            "arn:aws:sts::{}:assumed-role/{}/sealq-audit",
            crate::iam::policy::account_of(arn).unwrap_or_default(),
            path.rsplit('/').next().unwrap_or(path)
        ),
        None => arn.to_owned(),
    };
    let arns: BTreeSet<String> = state
        .principals
        .registered()
        .into_iter()
        .map(|(_, arn)| arn)
        .chain(state.principals.all_roles().iter().map(|r| r.arn.clone()))
        .chain(state.principals.policy_holders().into_iter().map(|(arn, _)| arn))
        .collect();
    arns.into_iter()
        .map(|arn| {
            let eval = evaluated_as(&arn);
            (arn, eval)
        })
        .collect()
}

/// Whether `principal` (an ARN, `None`: anonymous) may do `action` on
/// `resource` over HTTPS, with `extra` context keys.
fn allowed(
    state: &AppState,
    principal: Option<&str>,
    action: &str,
    resource: &str,
    extra: &[(&str, &str)],
) -> bool {
    let mut context = vec![("aws:SecureTransport".to_owned(), "true".to_owned())];
    context.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    crate::authz::explain(state, principal, action, resource, &context)
        .is_ok_and(|e| e.evaluation.outcome == Outcome::Allow)
}

/// Runs every rule on `state`; findings ordered by severity (most severe
/// first), rule, resource and title.
pub fn audit(state: &AppState) -> Vec<Finding> {
    let mut out = Vec::new();
    let region = state.config.region.clone();
    let queues: Vec<QueueFacts> = state
        .store
        .all()
        .into_iter()
        .map(|q| {
            let s = q.lock();
            QueueFacts {
                arn: q.arn.clone(),
                account: q.account_id.clone(),
                encrypted: s.attrs.is_encrypted(),
                sse_sqs: s.attrs.sqs_managed_sse_enabled && s.attrs.kms_master_key_id.is_none(),
                kms_key: s.attrs.kms_master_key_id.clone(),
                policy: s.attrs.policy_document.clone(),
                dlq: s.attrs.redrive.as_ref().map(|r| r.target_arn.clone()),
            }
        })
        .collect();
    let dlq_arns: BTreeSet<&str> = queues.iter().filter_map(|q| q.dlq.as_deref()).collect();
    let principals = known_principals(state);

    for q in &queues {
        if !q.encrypted {
            out.push(finding(
                "sqs-not-encrypted",
                &q.arn,
                "Messages are stored unencrypted".to_owned(),
                "Set the queue attribute SqsManagedSseEnabled=true, or KmsMasterKeyId=<key> for SSE-KMS (messages already stored stay as they are).".to_owned(),
            ));
        }
        if q.sse_sqs {
            out.push(finding(
                "sqs-sse-service-key",
                &q.arn,
                "Encrypted with SSE-SQS (a key SQS owns)".to_owned(),
                "Set KmsMasterKeyId to a customer managed key (e.g. alias/NAME) to control its use with a key policy.".to_owned(),
            ));
        }
        if let Some(doc) = &q.policy {
            resource_policy_findings(&mut out, &q.arn, "queue", doc);
        }
        let probe = format!("arn:aws:iam::{}:user/sealq-audit", q.account);
        let plain = [("aws:SecureTransport", "false")];
        let enforced = ["sqs:SendMessage", "sqs:ReceiveMessage"].iter().all(|action| {
            crate::authz::explain(
                state,
                Some(&probe),
                action,
                &q.arn,
                &plain.map(|(k, v)| (k.to_owned(), v.to_owned())),
            )
            .is_ok_and(|e| e.evaluation.outcome == Outcome::ExplicitDeny)
        });
        if !enforced {
            out.push(finding(
                "sqs-no-secure-transport",
                &q.arn,
                "Requests over plain HTTP are not denied by the queue policy".to_owned(),
                format!(
                    "Add to the queue policy: {{\"Sid\":\"DenyInsecureTransport\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sqs:*\",\"Resource\":\"{}\",\"Condition\":{{\"Bool\":{{\"aws:SecureTransport\":\"false\"}}}}}}.",
                    q.arn
                ),
            ));
        }
        if let Some(key) = &q.kms_key {
            let aws_managed = key == "alias/aws/sqs" || key.ends_with(":alias/aws/sqs");
            match crate::kms::Home::of_arn(&q.arn).and_then(|h| state.kms.internal_key_arn(key, h)) {
                None if aws_managed => {}
                None => out.push(finding(
                    "kms-key-unusable",
                    &q.arn,
                    format!("KmsMasterKeyId {key} names no key"),
                    format!("Point KmsMasterKeyId at an existing key, or create {key}."),
                )),
                Some(arn) => {
                    let state_label = state.kms.key(short_id(&arn)).map(|k| k.read().state);
                    match state_label {
                        Some(KeyState::Disabled) => out.push(finding(
                            "kms-key-unusable",
                            &q.arn,
                            format!("Its KMS key {arn} is disabled"),
                            format!("Enable the key: aws kms enable-key --key-id {arn}."),
                        )),
                        Some(KeyState::PendingDeletion { .. }) => out.push(finding(
                            "kms-key-unusable",
                            &q.arn,
                            format!("Its KMS key {arn} is pending deletion"),
                            format!(
                                "Cancel the deletion and enable the key: aws kms cancel-key-deletion --key-id {arn}, then aws kms enable-key --key-id {arn}."
                            ),
                        )),
                        _ => {}
                    }
                }
            }
        }
        if q.dlq.is_none() && !dlq_arns.contains(q.arn.as_str()) {
            out.push(finding(
                "sqs-no-dlq",
                &q.arn,
                "No dead-letter queue".to_owned(),
                "Create a dead-letter queue (encrypted like this one) and set RedrivePolicy={\"deadLetterTargetArn\":\"<its ARN>\",\"maxReceiveCount\":5}.".to_owned(),
            ));
        }
    }

    // Dead-letter queues against their sources.
    for source in &queues {
        let Some(dlq_arn) = &source.dlq else { continue };
        let Some(dlq) = queues.iter().find(|q| &q.arn == dlq_arn) else {
            continue;
        };
        let mut weaker = Vec::new();
        if source.encrypted && !dlq.encrypted {
            weaker.push("it is not encrypted while its source is".to_owned());
        }
        let readers: Vec<(&str, Option<&str>)> = std::iter::once(("anonymous callers", None))
            .chain(
                principals
                    .iter()
                    .map(|(shown, eval)| (shown.as_str(), Some(eval.as_str()))),
            )
            .collect();
        // Who may read the source's messages. For an SSE-KMS source the
        // key decides: a DLQ reader its key lets decrypt was admitted by
        // the key's owner, and one it does not cannot read the envelopes
        // (dlq-consumer-cannot-decrypt reports that). Otherwise the
        // source's receivers are its readers.
        let extra_readers: Vec<&str> = if source.kms_key.is_some() {
            Vec::new()
        } else {
            readers
                .iter()
                .filter(|(_, p)| {
                    allowed(state, *p, "sqs:ReceiveMessage", &dlq.arn, &[])
                        && !allowed(state, *p, "sqs:ReceiveMessage", &source.arn, &[])
                })
                .map(|(shown, _)| *shown)
                .collect()
        };
        if !extra_readers.is_empty() {
            weaker.push(format!(
                "{} may receive from it but not from its source",
                extra_readers.join(", ")
            ));
        }
        if !weaker.is_empty() {
            out.push(finding(
                "sqs-dlq-weaker",
                &dlq.arn,
                format!("Dead-letter queue of {}: {}", source.arn, weaker.join("; ")),
                format!(
                    "Encrypt {} at least as {} is, and allow sqs:ReceiveMessage on it only to principals that may receive from {}.",
                    dlq.arn, source.arn, source.arn
                ),
            ));
        }
        // Its readers must be able to open the source's envelopes.
        let Some(key) = &source.kms_key else { continue };
        let Some(key_arn) =
            crate::kms::Home::of_arn(&source.arn).and_then(|h| state.kms.internal_key_arn(key, h))
        else {
            continue;
        };
        let via = format!(
            "sqs.{}.amazonaws.com",
            crate::kms::Home::of_arn(&source.arn).map_or(region.as_str(), |h| h.region)
        );
        for (shown, eval) in &principals {
            if !allowed(state, Some(eval), "sqs:ReceiveMessage", &dlq.arn, &[]) {
                continue;
            }
            let ok = allowed(
                state,
                Some(eval),
                "kms:Decrypt",
                &key_arn,
                &[
                    ("kms:ViaService", via.as_str()),
                    ("kms:EncryptionContext:aws:sqs:arn", source.arn.as_str()),
                ],
            );
            if !ok {
                out.push(finding(
                    "dlq-consumer-cannot-decrypt",
                    &dlq.arn,
                    format!(
                        "{shown} may receive from this dead-letter queue but not decrypt messages of {} (key {key_arn})",
                        source.arn
                    ),
                    format!(
                        "Allow kms:Decrypt on {key_arn} to {shown} for calls through SQS (Condition StringEquals kms:ViaService {via}), in the key policy or its identity policy."
                    ),
                ));
            }
        }
    }

    // Keys.
    let keys = state.kms.all_keys();
    for key in &keys {
        if key.manager != KeyManager::Customer || key.spec != KeySpec::SymmetricDefault {
            continue;
        }
        let g = key.read();
        if let Some(doc) = &g.policy_document {
            resource_policy_findings(&mut out, &key.arn, "key", doc);
        }
        let pending = matches!(g.state, KeyState::PendingDeletion { .. });
        if g.rotation_period_days.is_none() && !pending {
            out.push(finding(
                "kms-rotation-disabled",
                &key.arn,
                "Automatic key rotation is off".to_owned(),
                format!("aws kms enable-key-rotation --key-id {}", key.arn),
            ));
        }
    }

    // Identity policies.
    let holders = state.principals.policy_holders();
    for (holder, policies) in &holders {
        let admin = is_admin(holder);
        for p in policies.iter() {
            for (i, s) in p.document.statements().iter().enumerate() {
                let wild = wildcard_actions(s);
                if wild.is_empty() {
                    continue;
                }
                let on_everything = s
                    .resource_patterns()
                    .is_some_and(|(r, negated)| negated || r.iter().any(|x| x == "*"));
                if admin && !on_everything {
                    continue;
                }
                let title = format!(
                    "Identity policy {:?}, {}, allows {}{}",
                    p.name,
                    statement_name(i, s),
                    wild.join(", "),
                    if on_everything { " on Resource \"*\"" } else { "" }
                );
                out.push(finding(
                    "policy-wildcard-action",
                    holder,
                    title,
                    format!(
                        "In identity policy {:?}, list the actions this principal uses and the ARNs of the queues and keys it uses.",
                        p.name
                    ),
                ));
            }
        }
    }

    // Long-lived keys: a user's key is flagged unless the user only
    // assumes roles (its identity policies allow nothing but sts:
    // actions, and no queue or key policy names it).
    let named_by_resources: BTreeSet<String> = queues
        .iter()
        .filter_map(|q| q.policy.clone())
        .chain(keys.iter().filter_map(|k| k.read().policy_document.clone()))
        .flat_map(|doc| {
            doc.statements()
                .iter()
                .filter_map(|s| s.principal_view().map(|p| p.aws.to_vec()))
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    for (access_key_id, arn) in state.principals.registered() {
        if !arn.contains(":user/") {
            continue;
        }
        let beyond_sts = holders.iter().filter(|(h, _)| *h == arn).any(|(_, policies)| {
            policies.iter().any(|p| {
                p.document.statements().iter().any(|s| {
                    let (actions, negated) = s.action_patterns();
                    s.effect == Effect::Allow
                        && (negated
                            || actions
                                .iter()
                                .any(|a| !a.to_ascii_lowercase().starts_with("sts:")))
                })
            })
        });
        if !beyond_sts && !named_by_resources.contains(&arn) {
            continue;
        }
        out.push(finding(
            "iam-long-lived-keys",
            &arn,
            format!("Access key {access_key_id} is a long-lived key of an IAM user"),
            "Declare a role with this user's permissions ([[roles]]) and have the workload assume it with sts:AssumeRole; then remove the user's access key.".to_owned(),
        ));
    }

    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| (a.rule, &a.resource, &a.title).cmp(&(b.rule, &b.resource, &b.title)))
    });
    out.dedup();
    out
}

/// The key id at the end of a key ARN.
fn short_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// How many findings of each severity, most severe first.
pub fn summary(findings: &[Finding]) -> Vec<(Severity, usize)> {
    Severity::ALL
        .iter()
        .map(|s| (*s, findings.iter().filter(|f| f.severity == *s).count()))
        .collect()
}

#[cfg(test)]
mod tests;
