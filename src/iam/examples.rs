//! The evaluator against the examples of AWS's documentation, table-driven:
//! IAM's policy evaluation logic (same account, cross account, explicit
//! deny), the SQS developer guide's queue-policy examples (an account, a
//! user, everyone within a time window or from an address range, HTTPS
//! only) and the KMS developer guide's key-policy examples (the default
//! policy, `kms:ViaService`, `kms:CallerAccount`, the encryption context and
//! its keys). The documents are written as the guides write them; the
//! accounts and names are ours.

use super::condition::Context;
use super::policy::{Caller, PolicyDocument, PolicyKind, Request, account_of};
use super::{Attached, Outcome, ResourceKind, Source, authorize};

const A: &str = "111122223333";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::444455556666:user/bob";
const ROLE_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/producer/s1";
const QUEUE: &str = "arn:aws:sqs:us-east-2:111122223333:queue1";
const KEY: &str = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// One example: who asks for what, the policies, the request context, and
/// AWS's answer.
struct Case {
    name: &'static str,
    caller: Option<&'static str>,
    action: &'static str,
    resource: &'static str,
    identity: &'static [&'static str],
    resource_policy: Option<&'static str>,
    context: &'static [(&'static str, &'static str)],
    want: Outcome,
}

fn evaluate(c: &Case) -> Outcome {
    let kind = if c.resource.starts_with("arn:aws:kms:") {
        ResourceKind::Key
    } else {
        ResourceKind::Queue
    };
    let identity: Vec<PolicyDocument> = c
        .identity
        .iter()
        .map(|d| {
            PolicyDocument::parse_json(d, PolicyKind::Identity).unwrap_or_else(|e| panic!("{}: {e}", c.name))
        })
        .collect();
    let resource_policy = c.resource_policy.map(|d| {
        PolicyDocument::parse_json(d, PolicyKind::Resource).unwrap_or_else(|e| panic!("{}: {e}", c.name))
    });
    let mut ctx = Context::new();
    for (k, v) in c.context {
        ctx.set(k, *v);
    }
    let req = Request {
        caller: Caller {
            arn: c.caller,
            service: None,
        },
        action: c.action,
        resource: c.resource,
        context: &ctx,
    };
    let attached: Vec<Attached<'_>> = identity
        .iter()
        .map(|document| Attached {
            source: Source::Identity("inline"),
            document,
        })
        .collect();
    let source = if kind == ResourceKind::Key {
        Source::Key
    } else {
        Source::Queue
    };
    authorize(
        &req,
        c.caller.and_then(account_of),
        account_of(c.resource).unwrap_or_default(),
        kind,
        &attached,
        resource_policy
            .as_ref()
            .map(|document| Attached { source, document }),
    )
    .outcome
}

/// An identity policy allowing `sqs:*` on every queue.
const ALL_SQS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#;

/// The SQS guide's "grant all permissions to an account" example.
const QUEUE_TO_ACCOUNT: &str = r#"{"Version":"2012-10-17","Id":"Queue1_Policy_UUID","Statement":[{"Sid":"Queue1_AllActions","Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":"sqs:*","Resource":"arn:aws:sqs:us-east-2:111122223333:queue1"}]}"#;

/// The SQS guide's "grant cross-account permissions to a user" example.
const QUEUE_TO_BOB: &str = r#"{"Version":"2012-10-17","Id":"Queue1_Policy_UUID","Statement":[{"Sid":"Queue1_Send_Receive","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:user/bob"]},"Action":["sqs:SendMessage","sqs:ReceiveMessage"],"Resource":"arn:aws:sqs:us-east-2:111122223333:queue1"}]}"#;

/// The SQS guide's "send messages within a time window" example.
const QUEUE_TIME_WINDOW: &str = r#"{"Version":"2012-10-17","Id":"Queue1_Policy_UUID","Statement":[{"Sid":"Queue1_Send_Between","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-2:111122223333:queue1","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2009-01-31T12:00Z"},"DateLessThan":{"aws:CurrentTime":"2009-01-31T15:00Z"}}}]}"#;

/// The SQS guide's "allow an address range, but not a part of it" example.
const QUEUE_IP_RANGE: &str = r#"{"Version":"2012-10-17","Id":"Queue1_Policy_UUID","Statement":[{"Sid":"Queue1_AnonymousAccess_AllActions_AllowlistIP","Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-2:111122223333:queue1","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"},"NotIpAddress":{"aws:SourceIp":"192.0.2.128/25"}}}]}"#;

/// The SQS best practice: deny every request that is not over TLS.
const QUEUE_HTTPS_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":"sqs:*","Resource":"arn:aws:sqs:us-east-2:111122223333:queue1"},{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-2:111122223333:queue1","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// KMS's default key policy.
const KEY_DEFAULT: &str = r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;

/// The KMS guide's `kms:ViaService` example with `kms:CallerAccount`, for
/// SQS.
const KEY_VIA_SQS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"sqs.us-east-2.amazonaws.com","kms:CallerAccount":"111122223333"}}}]}"#;

/// The KMS guide's encryption-context examples: an exact context pair, and
/// only the keys it allows (`ForAllValues:` holds with no key at all, so the
/// guide pairs it with a `Null` check).
const KEY_CONTEXT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/producer"},"Action":"kms:GenerateDataKey","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:aws:sqs:arn":"arn:aws:sqs:us-east-2:111122223333:queue1"}}},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/producer"},"Action":"kms:Decrypt","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["aws:sqs:arn"]},"Null":{"kms:EncryptionContextKeys":"false"}}}]}"#;

const SQS_VIA: &[(&str, &str)] = &[
    ("kms:viaservice", "sqs.us-east-2.amazonaws.com"),
    ("kms:calleraccount", A),
];

fn cases() -> Vec<Case> {
    use Outcome::{Allow, ExplicitDeny, ImplicitDeny};
    vec![
        // IAM policy evaluation logic.
        Case {
            name: "same account, identity policy alone",
            caller: Some(ALICE),
            action: "sqs:SendMessage",
            resource: QUEUE,
            identity: &[ALL_SQS],
            resource_policy: None,
            context: &[],
            want: Allow,
        },
        Case {
            name: "same account, nothing allows",
            caller: Some(ALICE),
            action: "sqs:SendMessage",
            resource: QUEUE,
            identity: &[],
            resource_policy: None,
            context: &[],
            want: ImplicitDeny,
        },
        Case {
            name: "same account, the queue policy names the account: delegation, identity decides",
            caller: Some(ALICE),
            action: "sqs:DeleteQueue",
            resource: QUEUE,
            identity: &[],
            resource_policy: Some(QUEUE_TO_ACCOUNT),
            context: &[],
            want: ImplicitDeny,
        },
        Case {
            name: "same account, delegation and identity policy",
            caller: Some(ALICE),
            action: "sqs:DeleteQueue",
            resource: QUEUE,
            identity: &[ALL_SQS],
            resource_policy: Some(QUEUE_TO_ACCOUNT),
            context: &[],
            want: Allow,
        },
        Case {
            name: "cross account, queue policy names the user, identity allows",
            caller: Some(BOB),
            action: "sqs:ReceiveMessage",
            resource: QUEUE,
            identity: &[ALL_SQS],
            resource_policy: Some(QUEUE_TO_BOB),
            context: &[],
            want: Allow,
        },
        Case {
            name: "cross account, queue policy alone is not enough",
            caller: Some(BOB),
            action: "sqs:ReceiveMessage",
            resource: QUEUE,
            identity: &[],
            resource_policy: Some(QUEUE_TO_BOB),
            context: &[],
            want: ImplicitDeny,
        },
        Case {
            name: "cross account, an action the queue policy does not grant",
            caller: Some(BOB),
            action: "sqs:DeleteMessage",
            resource: QUEUE,
            identity: &[ALL_SQS],
            resource_policy: Some(QUEUE_TO_BOB),
            context: &[],
            want: ImplicitDeny,
        },
        Case {
            name: "an explicit deny in an identity policy wins over the queue policy",
            caller: Some(BOB),
            action: "sqs:SendMessage",
            resource: QUEUE,
            identity: &[
                ALL_SQS,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:*:111122223333:*"}]}"#,
            ],
            resource_policy: Some(QUEUE_TO_BOB),
            context: &[],
            want: ExplicitDeny,
        },
        // SQS developer guide.
        Case {
            name: "everyone may send within the window",
            caller: None,
            action: "sqs:SendMessage",
            resource: QUEUE,
            identity: &[],
            resource_policy: Some(QUEUE_TIME_WINDOW),
            context: &[("aws:currenttime", "2009-01-31T13:30:00Z")],
            want: Allow,
        },
        Case {
            name: "nobody may send after the window",
            caller: Some(ALICE),
            action: "sqs:SendMessage",
            resource: QUEUE,
            identity: &[],
            resource_policy: Some(QUEUE_TIME_WINDOW),
            context: &[("aws:currenttime", "2009-01-31T15:00:01Z")],
            want: ImplicitDeny,
        },
        Case {
            name: "an address in the allowed range",
            caller: None,
            action: "sqs:ReceiveMessage",
            resource: QUEUE,
            identity: &[],
            resource_policy: Some(QUEUE_IP_RANGE),
            context: &[("aws:sourceip", "192.0.2.10")],
            want: Allow,
        },
        Case {
            name: "an address in the excluded part of the range",
            caller: None,
            action: "sqs:ReceiveMessage",
            resource: QUEUE,
            identity: &[],
            resource_policy: Some(QUEUE_IP_RANGE),
            context: &[("aws:sourceip", "192.0.2.200")],
            want: ImplicitDeny,
        },
        Case {
            name: "HTTPS only: over TLS",
            caller: Some(ALICE),
            action: "sqs:SendMessage",
            resource: QUEUE,
            identity: &[ALL_SQS],
            resource_policy: Some(QUEUE_HTTPS_ONLY),
            context: &[("aws:securetransport", "true")],
            want: Allow,
        },
        Case {
            name: "HTTPS only: plain HTTP is denied whatever allows",
            caller: Some(ALICE),
            action: "sqs:SendMessage",
            resource: QUEUE,
            identity: &[ALL_SQS],
            resource_policy: Some(QUEUE_HTTPS_ONLY),
            context: &[("aws:securetransport", "false")],
            want: ExplicitDeny,
        },
        // KMS developer guide.
        Case {
            name: "default key policy: the account delegates, IAM decides (allowed)",
            caller: Some(ALICE),
            action: "kms:Decrypt",
            resource: KEY,
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}"#,
            ],
            resource_policy: Some(KEY_DEFAULT),
            context: &[],
            want: Allow,
        },
        Case {
            name: "default key policy: no identity policy, no access",
            caller: Some(ALICE),
            action: "kms:Decrypt",
            resource: KEY,
            identity: &[],
            resource_policy: Some(KEY_DEFAULT),
            context: &[],
            want: ImplicitDeny,
        },
        Case {
            name: "a key's identity policy alone does not do without the key policy",
            caller: Some(ALICE),
            action: "kms:Decrypt",
            resource: KEY,
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
            ],
            resource_policy: Some(KEY_VIA_SQS),
            context: &[],
            want: ImplicitDeny,
        },
        Case {
            name: "kms:ViaService: through SQS by the account",
            caller: Some(ALICE),
            action: "kms:GenerateDataKey",
            resource: KEY,
            identity: &[],
            resource_policy: Some(KEY_VIA_SQS),
            context: SQS_VIA,
            want: Allow,
        },
        Case {
            name: "kms:ViaService: another service",
            caller: Some(ALICE),
            action: "kms:GenerateDataKey",
            resource: KEY,
            identity: &[],
            resource_policy: Some(KEY_VIA_SQS),
            context: &[
                ("kms:viaservice", "sns.us-east-2.amazonaws.com"),
                ("kms:calleraccount", A),
            ],
            want: ImplicitDeny,
        },
        Case {
            name: "kms:CallerAccount: another account through SQS",
            caller: Some(BOB),
            action: "kms:Decrypt",
            resource: KEY,
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
            ],
            resource_policy: Some(KEY_VIA_SQS),
            context: &[
                ("kms:viaservice", "sqs.us-east-2.amazonaws.com"),
                ("kms:calleraccount", "444455556666"),
            ],
            want: ImplicitDeny,
        },
        Case {
            name: "encryption context: the queue's ARN",
            caller: Some(ROLE_SESSION),
            action: "kms:GenerateDataKey",
            resource: KEY,
            identity: &[],
            resource_policy: Some(KEY_CONTEXT),
            context: &[("kms:encryptioncontext:aws:sqs:arn", QUEUE)],
            want: Allow,
        },
        Case {
            name: "encryption context: another queue",
            caller: Some(ROLE_SESSION),
            action: "kms:GenerateDataKey",
            resource: KEY,
            identity: &[],
            resource_policy: Some(KEY_CONTEXT),
            context: &[(
                "kms:encryptioncontext:aws:sqs:arn",
                "arn:aws:sqs:us-east-2:111122223333:queue2",
            )],
            want: ImplicitDeny,
        },
        Case {
            name: "encryption context keys: only aws:sqs:arn",
            caller: Some(ROLE_SESSION),
            action: "kms:Decrypt",
            resource: KEY,
            identity: &[],
            resource_policy: Some(KEY_CONTEXT),
            context: &[("kms:encryptioncontextkeys", "aws:sqs:arn")],
            want: Allow,
        },
        Case {
            name: "encryption context keys: none at all fails the Null check",
            caller: Some(ROLE_SESSION),
            action: "kms:Decrypt",
            resource: KEY,
            identity: &[],
            resource_policy: Some(KEY_CONTEXT),
            context: &[],
            want: ImplicitDeny,
        },
    ]
}

#[test]
fn the_documented_examples_decide_as_aws_documents() {
    let mut failures = Vec::new();
    for c in cases() {
        let got = evaluate(&c);
        if got != c.want {
            failures.push(format!("{}: got {got:?}, want {:?}", c.name, c.want));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_multivalued_context_key_against_for_all_values() {
    // Two context keys, one of them not allowed: ForAllValues fails.
    let c = Case {
        name: "encryption context keys: an extra key",
        caller: Some(ROLE_SESSION),
        action: "kms:Decrypt",
        resource: KEY,
        identity: &[],
        resource_policy: Some(KEY_CONTEXT),
        context: &[],
        want: Outcome::ImplicitDeny,
    };
    let document = PolicyDocument::parse_json(c.resource_policy.unwrap(), PolicyKind::Resource).unwrap();
    let mut ctx = Context::new();
    ctx.set_all(
        "kms:encryptioncontextkeys",
        vec!["aws:sqs:arn".into(), "purpose".into()],
    );
    let req = Request {
        caller: Caller {
            arn: c.caller,
            service: None,
        },
        action: c.action,
        resource: c.resource,
        context: &ctx,
    };
    let e = authorize(
        &req,
        Some(A),
        A,
        ResourceKind::Key,
        &[],
        Some(Attached {
            source: Source::Key,
            document: &document,
        }),
    );
    assert_eq!(e.outcome, c.want, "{}", c.name);
}
