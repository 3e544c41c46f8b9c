//! Each rule on a small configuration: the finding when the condition
//! holds, none when it does not.

use super::*;
use crate::config::{Config, parse, scratch_state};

/// The findings of the configuration `toml`.
fn audit_of(toml: &str) -> Vec<Finding> {
    let file = parse("test.toml", toml.to_owned()).expect("a valid file");
    let config = file.server_config(Config::default());
    let state = scratch_state(&config, &file).expect("applies");
    audit(&state)
}

fn rules(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const SECURE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// A rotating key and a secure SSE-KMS queue with an SSE-KMS DLQ: nothing
/// to find. Each test adds one problem to it.
fn clean(extra: &str) -> String {
    format!(
        r#"
[[keys]]
key_id = "{KEY}"
aliases = ["alias/app"]
rotation = {{ enabled = true }}

[[queues]]
name = "app-dlq"
attributes = {{ KmsMasterKeyId = "alias/app", Policy = '{SECURE}' }}

[[queues]]
name = "app"
attributes = {{ KmsMasterKeyId = "alias/app", Policy = '{SECURE}', RedrivePolicy = '{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:app-dlq","maxReceiveCount":3}}' }}
{extra}
"#
    )
}

#[test]
fn every_rule_id_used_is_declared() {
    for id in [
        "sqs-not-encrypted",
        "sqs-sse-service-key",
        "policy-public-principal",
        "policy-wildcard-action",
        "sqs-no-secure-transport",
        "kms-rotation-disabled",
        "kms-key-unusable",
        "sqs-no-dlq",
        "sqs-dlq-weaker",
        "dlq-consumer-cannot-decrypt",
        "iam-long-lived-keys",
    ] {
        assert_eq!(rule(id).id, id);
    }
    assert_eq!(RULES.len(), 11);
}

#[test]
fn the_clean_setup_has_no_findings() {
    assert_eq!(audit_of(&clean("")), vec![]);
}

#[test]
fn unencrypted_and_sse_sqs_queues() {
    let f = audit_of(&clean(&format!(
        r#"
[[queues]]
name = "plain"
attributes = {{ SqsManagedSseEnabled = "false", Policy = '{SECURE}', RedrivePolicy = '{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:app-dlq","maxReceiveCount":3}}' }}

[[queues]]
name = "service"
attributes = {{ SqsManagedSseEnabled = "true", Policy = '{SECURE}', RedrivePolicy = '{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:app-dlq","maxReceiveCount":3}}' }}
"#
    )));
    assert_eq!(
        rules(&f),
        vec!["sqs-not-encrypted", "sqs-sse-service-key"],
        "{f:#?}"
    );
    assert_eq!(f[0].resource, "arn:aws:sqs:us-east-1:000000000000:plain");
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[1].resource, "arn:aws:sqs:us-east-1:000000000000:service");
}

#[test]
fn a_public_allow_is_critical_unless_a_condition_narrows_it() {
    let public = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Sid":"Anyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:SendMessage","Resource":"*"}]}"#;
    let narrowed = public.replace(
        r#""Resource":"*"}]}"#,
        r#""Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:000000000000:topic"}}}]}"#,
    );
    let toml = |p: &str| {
        format!(
            r#"
[[queues]]
name = "open"
attributes = {{ KmsMasterKeyId = "alias/app", Policy = '{p}', RedrivePolicy = '{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:app-dlq","maxReceiveCount":3}}' }}
"#
        )
    };
    let f = audit_of(&clean(&toml(public)));
    assert_eq!(rules(&f), vec!["policy-public-principal"], "{f:#?}");
    assert_eq!(f[0].severity, Severity::Critical);
    assert!(f[0].title.contains("\"Anyone\""), "{}", f[0].title);
    assert_eq!(audit_of(&clean(&toml(&narrowed))), vec![]);
}

#[test]
fn wildcard_actions_to_non_administrators_and_on_everything() {
    // The default key policy gives kms:* to the account's root: an
    // administrator, so no finding (the clean setup uses it).
    let f = audit_of(&clean(
        r#"
[[principals]]
access_key_id = "AKIAWORKER"
name = "worker"
[[principals.policies]]
name = "all-sqs"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:*", Resource = "arn:aws:sqs:us-east-1:000000000000:app" }] }

[[principals]]
access_key_id = "AKIAADMIN"
name = "queue-admin"
[[principals.policies]]
name = "scoped"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:*", Resource = "arn:aws:sqs:us-east-1:000000000000:app" }] }
"#,
    ));
    let wild: Vec<&Finding> = f.iter().filter(|x| x.rule == "policy-wildcard-action").collect();
    assert_eq!(wild.len(), 1, "{f:#?}");
    assert_eq!(wild[0].resource, "arn:aws:iam::000000000000:user/worker");
    // An administrator with sqs:* on every resource is flagged too.
    let f = audit_of(&clean(
        r#"
[[principals]]
access_key_id = "AKIAADMIN"
name = "queue-admin"
[[principals.policies]]
name = "everything"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:*", Resource = "*" }] }
"#,
    ));
    let wild: Vec<&Finding> = f.iter().filter(|x| x.rule == "policy-wildcard-action").collect();
    assert_eq!(wild.len(), 1, "{f:#?}");
    assert!(wild[0].title.contains("on Resource \"*\""), "{}", wild[0].title);
}

#[test]
fn a_queue_policy_without_the_https_deny_is_flagged() {
    let f = audit_of(&clean(
        r#"
[[queues]]
name = "lax"
attributes = { KmsMasterKeyId = "alias/app", RedrivePolicy = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:app-dlq","maxReceiveCount":3}' }
"#,
    ));
    assert_eq!(rules(&f), vec!["sqs-no-secure-transport"], "{f:#?}");
    assert_eq!(f[0].resource, "arn:aws:sqs:us-east-1:000000000000:lax");
}

#[test]
fn keys_without_rotation_and_queues_on_unusable_keys() {
    let f = audit_of(&clean(&format!(
        r#"
[[keys]]
key_id = "0000abcd-12ab-34cd-56ef-1234567890ab"
aliases = ["alias/off"]
enabled = false
rotation = {{ enabled = true }}

[[keys]]
key_id = "1111abcd-12ab-34cd-56ef-1234567890ab"

[[queues]]
name = "stuck"
attributes = {{ KmsMasterKeyId = "alias/off", Policy = '{SECURE}', RedrivePolicy = '{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:app-dlq","maxReceiveCount":3}}' }}
"#
    )));
    assert_eq!(
        rules(&f),
        vec!["kms-key-unusable", "kms-rotation-disabled"],
        "{f:#?}"
    );
    assert_eq!(f[0].resource, "arn:aws:sqs:us-east-1:000000000000:stuck");
    assert!(f[0].title.contains("disabled"));
    assert_eq!(
        f[1].resource,
        "arn:aws:kms:us-east-1:000000000000:key/1111abcd-12ab-34cd-56ef-1234567890ab"
    );
    let _ = KEY_ARN;
}

#[test]
fn a_queue_without_dlq_and_a_weaker_dlq() {
    let f = audit_of(&clean(&format!(
        r#"
[[queues]]
name = "loose-dlq"
attributes = {{ SqsManagedSseEnabled = "false", Policy = '{SECURE}' }}

[[queues]]
name = "orders"
attributes = {{ KmsMasterKeyId = "alias/app", Policy = '{SECURE}', RedrivePolicy = '{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:loose-dlq","maxReceiveCount":3}}' }}

[[queues]]
name = "lonely"
attributes = {{ KmsMasterKeyId = "alias/app", Policy = '{SECURE}' }}
"#
    )));
    let got: Vec<(&str, &str)> = f.iter().map(|x| (x.rule, x.resource.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                "sqs-not-encrypted",
                "arn:aws:sqs:us-east-1:000000000000:loose-dlq"
            ),
            ("sqs-dlq-weaker", "arn:aws:sqs:us-east-1:000000000000:loose-dlq"),
            ("sqs-no-dlq", "arn:aws:sqs:us-east-1:000000000000:lonely"),
        ],
        "{f:#?}"
    );
}

#[test]
fn a_dlq_reader_without_decrypt_on_the_source_key() {
    // The reader may receive from the DLQ (identity policy), and the key
    // policy does not delegate to the account, nor name the reader.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":["kms:Describe*","kms:Get*","kms:PutKeyPolicy","kms:EnableKeyRotation"],"Resource":"*"}]}"#;
    let toml = format!(
        r#"
[[keys]]
key_id = "2222abcd-12ab-34cd-56ef-1234567890ab"
aliases = ["alias/strict"]
rotation = {{ enabled = true }}
policy = '{policy}'

[[queues]]
name = "s-dlq"
attributes = {{ KmsMasterKeyId = "alias/app", Policy = '{SECURE}' }}

[[queues]]
name = "s"
attributes = {{ KmsMasterKeyId = "alias/strict", Policy = '{SECURE}', RedrivePolicy = '{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:s-dlq","maxReceiveCount":3}}' }}

[[roles]]
name = "dlq-reader"
trust_policy = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::000000000000:root" }}, Action = "sts:AssumeRole" }}] }}
[[roles.policies]]
name = "read-dlq"
document = {{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource = "arn:aws:sqs:us-east-1:000000000000:s-dlq" }}, {{ Effect = "Allow", Action = "kms:Decrypt", Resource = "*" }}] }}
"#
    );
    let f = audit_of(&clean(&toml));
    let got: Vec<(&str, &str)> = f.iter().map(|x| (x.rule, x.resource.as_str())).collect();
    assert!(
        got.contains(&(
            "dlq-consumer-cannot-decrypt",
            "arn:aws:sqs:us-east-1:000000000000:s-dlq"
        )),
        "{f:#?}"
    );
    let finding = f
        .iter()
        .find(|x| x.rule == "dlq-consumer-cannot-decrypt")
        .unwrap();
    assert!(finding.title.contains("role/dlq-reader"), "{}", finding.title);
    assert!(finding.title.contains("2222abcd"), "{}", finding.title);
}

#[test]
fn configured_users_with_permissions_have_long_lived_keys() {
    let f = audit_of(&clean(
        r#"
[[principals]]
access_key_id = "AKIAEXAMPLE"
name = "app"
[[principals.policies]]
name = "send"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:SendMessage", Resource = "arn:aws:sqs:us-east-1:000000000000:app" }] }
"#,
    ));
    assert_eq!(rules(&f), vec!["iam-long-lived-keys"], "{f:#?}");
    assert_eq!(f[0].resource, "arn:aws:iam::000000000000:user/app");
    assert!(f[0].title.contains("AKIAEXAMPLE"));
    // A user that only assumes roles already uses them.
    let f = audit_of(&clean(
        r#"
[[principals]]
access_key_id = "AKIAEXAMPLE"
name = "app"
[[principals.policies]]
name = "assume"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Resource = "arn:aws:iam::000000000000:role/*" }] }
"#,
    ));
    assert_eq!(f, vec![]);
}

#[test]
fn severities_order_and_parse() {
    assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    assert_eq!(Severity::parse("MEDIUM"), Some(Severity::Medium));
    assert_eq!(Severity::parse("urgent"), None);
}
