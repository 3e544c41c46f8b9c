//! Applying a configuration file to a server's state at start-up, all or
//! nothing: [`apply`] first checks the file against what the state already
//! holds, then dry-runs it on a scratch state (a copy of the real queues'
//! settings, no messages), and only then applies it for real.
//!
//! Order: keys (then their aliases), then queues with every dead-letter
//! queue before its sources (a topological sort over `RedrivePolicy`),
//! then principals. Queues go through the same functions as CreateQueue,
//! SetQueueAttributes and TagQueue, and keys through CreateKey's checks and
//! the KMS actions, so every value is judged as the API judges it. Applying
//! the same file twice creates nothing twice: existing keys and queues are
//! brought to the file's values.
//!
//! Nothing here goes over HTTP, reads time other than from the `Clock`, or
//! logs secrets.

use std::collections::HashMap;
use std::sync::Arc;

use super::file::{FileConfig, KeySection, QueueSection, Seg, Source, field};
use super::{Config, ConfigError};
use crate::auth::{Identity, Principal, SecretAccessKey};
use crate::clock::Clock;
use crate::error::Error;
use crate::kms::ops::{create_key_fixed, dispatch_in};
use crate::kms::types::{
    AliasRequest, CreateKeyRequest, KeyIdRequest, KmsAction, PutKeyPolicyRequest, Tag, TagResourceRequest,
};
use crate::kms::{DAY_MS, Forms, KeyManager, KeySpec, KeyState};
use crate::protocol::policy_document;
use crate::sqs::model::attributes::QueueAttributes;
use crate::sqs::model::queue::Queue;
use crate::sqs::ops::{Ctx, create_queue, parse_queue_arn, set_queue_attributes, tag_queue};
use crate::sqs::policy;
use crate::sqs::types::{CreateQueueInput, SetQueueAttributesInput, TagQueueInput};
use crate::state::AppState;

/// Applies `cfg` to `state`, all or nothing (see the module docs).
///
/// # Errors
/// The first problem, located in the file; `state` is then unchanged.
pub fn apply(state: &AppState, cfg: &FileConfig) -> Result<(), ConfigError> {
    check_existing(state, cfg)?;
    let scratch = scratch_of(state);
    apply_to(&scratch, state, cfg)?;
    apply_to(state, state, cfg)?;
    // Keys made or changed here go to the data directory, if there is one
    // (queues are saved by the actions that made them).
    state.kms.persist().map_err(|e| ConfigError {
        file: cfg.path().to_owned(),
        line: 0,
        column: 0,
        field: "keys".to_owned(),
        message: describe(&e),
    })
}

/// Dry-runs `cfg` on a fresh, empty server with settings `config` (what
/// `sealq serve` does before binding its port).
///
/// # Errors
/// The first problem, located in the file.
pub fn check(config: &Config, cfg: &FileConfig) -> Result<(), ConfigError> {
    scratch_state(config, cfg).map(drop)
}

/// A fresh in-memory server with settings `config` and `cfg` applied (the
/// dry run of [`check`], kept): what `sealq audit --config` inspects.
///
/// # Errors
/// The first problem, located in the file.
pub fn scratch_state(config: &Config, cfg: &FileConfig) -> Result<AppState, ConfigError> {
    let scratch = AppState::with_clock(config.clone(), Arc::new(Clock::system()));
    apply_to(&scratch, &scratch, cfg)?;
    Ok(scratch)
}

/// A scratch state with `state`'s settings and clock and a copy of its
/// queues' attributes and tags (no messages), for the dry run: dead-letter
/// targets and queue types outside the file are then seen as they are.
fn scratch_of(state: &AppState) -> AppState {
    let scratch = AppState::with_clock(state.config.clone(), state.clock.clone());
    let now = state.clock.now_ms();
    for q in state.store.all() {
        let (attrs, tags) = {
            let s = q.lock();
            (s.attrs.clone(), s.tags.clone())
        };
        let (copy, _) = scratch
            .store
            .get_or_create((q.region(), &q.account_id), &q.name, || {
                Queue::new(
                    q.name.clone(),
                    q.account_id.clone(),
                    q.arn.clone(),
                    scratch.store.next_uid(),
                    now,
                    attrs,
                )
            });
        copy.lock().tags = tags;
    }
    scratch
}

/// What the scratch state cannot know: keys the real state already holds
/// must be customer keys of the configured spec and material.
fn check_existing(state: &AppState, cfg: &FileConfig) -> Result<(), ConfigError> {
    let src = &cfg.source;
    for (i, k) in cfg.keys.iter().enumerate() {
        let Some(key) = state.kms.key(&k.key_id.to_ascii_lowercase()) else {
            continue;
        };
        if key.manager != KeyManager::Customer {
            return Err(src.error(
                &field!["keys", i, "key_id"],
                format!("{} is an AWS managed key; it cannot be configured", key.arn),
            ));
        }
        let account = k.account.as_deref().unwrap_or(&state.config.account_id);
        if key.account() != account {
            let field = if k.account.is_some() { "account" } else { "key_id" };
            return Err(src.error(
                &field!["keys", i, field],
                format!(
                    "key {} exists in account {}; a key's account cannot change",
                    key.id,
                    key.account()
                ),
            ));
        }
        let spec = k.key_spec.as_deref().unwrap_or("SYMMETRIC_DEFAULT");
        if KeySpec::parse(spec).is_some_and(|s| s != key.spec) {
            let field = if k.key_spec.is_some() {
                "key_spec"
            } else {
                "key_id"
            };
            return Err(src.error(
                &field!["keys", i, field],
                format!(
                    "key {} exists with key spec {}; a key's spec cannot change",
                    key.id,
                    key.spec.as_str()
                ),
            ));
        }
        if let Some(m) = k.material()
            && !key.material_is(&m)
        {
            return Err(src.error(
                &field!["keys", i, "key_material"],
                format!(
                    "key {} exists with other key material; key material cannot change",
                    key.id
                ),
            ));
        }
    }
    Ok(())
}

/// The principal configuration changes are made as: the account's root.
fn config_principal(account: &str) -> Principal {
    Principal::Signed(Arc::new(Identity {
        access_key_id: "sealq-config".to_owned(),
        arn: format!("arn:aws:iam::{account}:root"),
        sender_id: Arc::from("sealq-config"),
        temporary: false,
    }))
}

/// `Code: message` of an API error.
fn describe(e: &Error) -> String {
    format!("{}: {e}", e.meta().query_code)
}

/// Applies the whole file to `state`, stopping at the first error; `real`
/// is the state the file is meant for (`state` itself, or the real state
/// behind a scratch one), where keys outside the file are looked up.
fn apply_to(state: &AppState, real: &AppState, cfg: &FileConfig) -> Result<(), ConfigError> {
    let src = &cfg.source;
    let admin = config_principal(&state.config.account_id);
    for (i, k) in cfg.keys.iter().enumerate() {
        apply_key(state, &admin, src, i, k)?;
    }
    let ctx = Ctx {
        principal: admin,
        // The file's queues and keys are in the server's region.
        region: state.config.region.clone(),
        url_base: "http://sealq-config".to_owned(),
        // In-process: no network transport for the strict mode to refuse.
        tls: true,
        strict: false,
        iam_action: "",
        client_ip: None,
        journal_unit: std::sync::atomic::AtomicU64::new(0),
    };
    for i in queue_order(state, cfg)? {
        let q = &cfg.queues[i];
        match &q.account {
            // A queue of another account is created as that account's root.
            Some(a) if *a != state.config.account_id => {
                let ctx = Ctx {
                    principal: config_principal(a),
                    journal_unit: std::sync::atomic::AtomicU64::new(0),
                    url_base: ctx.url_base.clone(),
                    region: ctx.region.clone(),
                    ..ctx
                };
                apply_queue(state, real, &ctx, src, i, q)?;
            }
            _ => apply_queue(state, real, &ctx, src, i, q)?,
        }
    }
    for (i, p) in cfg.principals.iter().enumerate() {
        let arn = p.principal_arn(&state.config.account_id);
        state.principals.register(
            &p.access_key_id,
            &arn,
            p.secret_access_key
                .as_ref()
                .map(|s| SecretAccessKey::new(s.expose().to_owned())),
        );
        let policies = identity_policies(src, "principals", i, &p.policies)?;
        state.principals.set_identity_policies(&arn, policies);
    }
    for (i, r) in cfg.roles.iter().enumerate() {
        let trust = r
            .trust_policy
            .document(crate::iam::policy::PolicyKind::Resource)
            .map_err(|e| src.error(&field!["roles", i, "trust_policy"], e))?;
        let role = crate::auth::session::Role::new(
            r.account.as_deref().unwrap_or(&state.config.account_id),
            &r.name,
            trust,
            r.max_session_duration_seconds.unwrap_or(3_600),
        );
        let policies = identity_policies(src, "roles", i, &r.policies)?;
        state.principals.set_identity_policies(&role.arn, policies);
        state.principals.register_role(role);
    }
    Ok(())
}

/// The checked inline identity policies of `section[i]`.
fn identity_policies(
    src: &Source,
    section: &'static str,
    i: usize,
    policies: &[super::file::NamedPolicy],
) -> Result<Vec<crate::iam::NamedPolicy>, ConfigError> {
    policies
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let document = p
                .document
                .document(crate::iam::policy::PolicyKind::Identity)
                .map_err(|e| src.error(&field![section, i, "policies", j, "document"], e))?;
            Ok(crate::iam::NamedPolicy {
                name: p.name.clone(),
                document,
            })
        })
        .collect()
}

/// The field of a `[[keys]]` entry that a CreateKey-style error is about.
fn key_field(e: &Error) -> &'static str {
    let m = e.to_string();
    match e {
        Error::MalformedPolicyDocumentException(_) | Error::LimitExceededException(_) => "policy",
        Error::TagException(_) => "tags",
        _ if m.contains("material") => "key_material",
        _ if m.contains("policy") => "policy",
        _ if m.contains("description") => "description",
        _ if m.contains("KeyUsage") || m.contains("keyUsage") => "key_usage",
        _ if m.contains("KeySpec") || m.contains("keySpec") || m.contains("supported") => "key_spec",
        _ if m.contains("tag") => "tags",
        _ => "key_id",
    }
}

fn apply_key(
    state: &AppState,
    admin: &Principal,
    src: &Source,
    i: usize,
    k: &KeySection,
) -> Result<(), ConfigError> {
    let kms = &*state.kms;
    // The key and its aliases live in the configured account, in the
    // server's region.
    let account = k.account.as_deref().unwrap_or(&state.config.account_id);
    let home = crate::kms::Home {
        region: &state.config.region,
        account,
    };
    let kms_dispatch =
        |kms: &crate::kms::Kms, admin: &Principal, action: KmsAction| dispatch_in(kms, admin, home, action);
    let at = |field: &str| -> Vec<Seg> { field!["keys", i, field].to_vec() };
    let fail = |field: &str, e: &Error| src.error(&at(field), describe(e));
    let id = k.key_id.to_ascii_lowercase();
    let key_id = uuid::Uuid::try_parse(&id)
        .map_err(|_| src.error(&at("key_id"), format!("`{}` is not a key id", k.key_id)))?;
    let tags: Vec<Tag> = k
        .tags
        .iter()
        .map(|(key, value)| Tag {
            tag_key: key.clone(),
            tag_value: value.clone(),
        })
        .collect();
    let key = match kms.key(&id) {
        Some(key) => {
            if matches!(key.read().state, KeyState::PendingDeletion { .. }) {
                kms_dispatch(
                    kms,
                    admin,
                    KmsAction::CancelKeyDeletion(KeyIdRequest { key_id: id.clone() }),
                )
                .map_err(|e| fail("key_id", &e))?;
            }
            if let Some(d) = &k.description {
                key.write().description.clone_from(d);
            }
            if let Some(p) = &k.policy {
                let r = PutKeyPolicyRequest {
                    key_id: id.clone(),
                    policy_name: None,
                    policy: policy_document(p.clone()),
                };
                kms_dispatch(kms, admin, KmsAction::PutKeyPolicy(r)).map_err(|e| fail("policy", &e))?;
            }
            if !tags.is_empty() {
                let r = TagResourceRequest {
                    key_id: id.clone(),
                    tags,
                };
                kms_dispatch(kms, admin, KmsAction::TagResource(r)).map_err(|e| fail("tags", &e))?;
            }
            key
        }
        None => {
            let r = CreateKeyRequest {
                policy: k.policy.clone().map(policy_document),
                description: k.description.clone(),
                key_usage: k.key_usage.clone(),
                key_spec: k.key_spec.clone(),
                tags,
                ..CreateKeyRequest::default()
            };
            let material = k.material();
            create_key_fixed(kms, home, r, key_id, material.as_deref().map(Vec::as_slice))
                .map_err(|e| fail(key_field(&e), &e))?
        }
    };
    if let Some(usage) = &k.key_usage
        && usage != key.usage().as_str()
    {
        return Err(src.error(
            &at("key_usage"),
            format!(
                "key {} has key usage {}; a key's usage cannot change",
                key.id,
                key.usage().as_str()
            ),
        ));
    }
    // Rotation: written directly (EnableKeyRotation refuses disabled keys,
    // and a key may be configured disabled with rotation on), with
    // EnableKeyRotation's limits; the schedule is kept when the period is
    // unchanged, so a restart does not postpone the next rotation.
    let period = match &k.rotation {
        Some(r) if r.enabled => {
            let days = r.rotation_period_in_days.unwrap_or(365);
            if !(90..=2560).contains(&days) {
                return Err(src.error(
                    &field!["keys", i, "rotation", "rotation_period_in_days"],
                    format!("{days} is not a rotation period: it must be from 90 to 2560 days"),
                ));
            }
            if key.spec != KeySpec::SymmetricDefault {
                return Err(src.error(
                    &field!["keys", i, "rotation"],
                    format!(
                        "a {} key does not rotate: only SYMMETRIC_DEFAULT keys do",
                        key.spec.as_str()
                    ),
                ));
            }
            u32::try_from(days).ok()
        }
        _ => None,
    };
    {
        let mut g = key.write();
        if g.rotation_period_days != period {
            g.rotation_period_days = period;
            g.next_rotation_ms = period.map(|d| state.clock.now_ms() + u64::from(d) * DAY_MS);
        }
    }
    let toggle = KeyIdRequest { key_id: id.clone() };
    let action = if k.enabled {
        KmsAction::EnableKey(toggle)
    } else {
        KmsAction::DisableKey(toggle)
    };
    kms_dispatch(kms, admin, action).map_err(|e| fail("enabled", &e))?;
    for (j, alias) in k.aliases.iter().enumerate() {
        let here = field!["keys", i, "aliases", j];
        if kms
            .resolve(alias, Forms::WithAlias, home)
            .is_ok_and(|target| target.id == key.id)
        {
            continue;
        }
        let r = AliasRequest {
            alias_name: alias.clone(),
            target_key_id: id.clone(),
        };
        match kms_dispatch(kms, admin, KmsAction::CreateAlias(r)) {
            Ok(_) => {}
            Err(Error::AlreadyExistsException(_)) => {
                let r = AliasRequest {
                    alias_name: alias.clone(),
                    target_key_id: id.clone(),
                };
                kms_dispatch(kms, admin, KmsAction::UpdateAlias(r))
                    .map_err(|e| src.error(&here, describe(&e)))?;
            }
            Err(e) => return Err(src.error(&here, describe(&e))),
        }
    }
    Ok(())
}

/// The queue a `RedrivePolicy` of a queue of `account` targets, when it is
/// a queue of that account named by ARN or by bare name.
fn redrive_target_name(state: &AppState, account: &str, redrive_policy: &str) -> Option<String> {
    let target = policy::redrive_target(redrive_policy)?;
    if !target.starts_with("arn:") {
        return Some(target);
    }
    let here = format!("arn:aws:sqs:{}:{account}:", state.config.region);
    target.starts_with(&here).then_some(())?;
    parse_queue_arn(&target).map(|(_, name)| name.to_owned())
}

/// Indexes of the file's queues with every dead-letter queue of the file
/// before its sources; a cycle is an error at one of its `RedrivePolicy`s.
fn queue_order(state: &AppState, cfg: &FileConfig) -> Result<Vec<usize>, ConfigError> {
    let account_of = |i: usize| {
        cfg.queues[i]
            .account
            .as_deref()
            .unwrap_or(&state.config.account_id)
    };
    let by_name: HashMap<(&str, &str), usize> = cfg
        .queues
        .iter()
        .enumerate()
        .map(|(i, q)| ((account_of(i), q.name.as_str()), i))
        .collect();
    let target_of = |i: usize| -> Option<usize> {
        let rp = cfg.queues[i].attributes.get("RedrivePolicy")?;
        let account = account_of(i);
        let name = redrive_target_name(state, account, &rp.0)?;
        by_name.get(&(account, name.as_str())).copied()
    };
    // 0 = unvisited, 1 = on the current chain, 2 = placed. Each queue has
    // at most one dead-letter queue, so a chain is a path, walked without
    // recursion.
    let mut mark = vec![0u8; cfg.queues.len()];
    let mut order = Vec::with_capacity(cfg.queues.len());
    for start in 0..cfg.queues.len() {
        let mut chain = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            match mark[i] {
                2 => break,
                1 => {
                    let from = chain.iter().position(|c| *c == i).unwrap_or(0);
                    let mut names: Vec<&str> = chain[from..]
                        .iter()
                        .map(|c: &usize| cfg.queues[*c].name.as_str())
                        .collect();
                    names.push(&cfg.queues[i].name);
                    return Err(cfg.source.error(
                        &field!["queues", i, "attributes", "RedrivePolicy"],
                        format!("dead-letter queues form a cycle: {}", names.join(" -> ")),
                    ));
                }
                _ => {
                    mark[i] = 1;
                    chain.push(i);
                    at = target_of(i);
                }
            }
        }
        for i in chain.into_iter().rev() {
            mark[i] = 2;
            order.push(i);
        }
    }
    Ok(order)
}

/// The field of a `[[queues]]` entry an SQS error is about: an attribute
/// the message names, else the name or the tags.
fn queue_field(e: &Error, q: &QueueSection) -> Vec<String> {
    let m = e.to_string();
    if let Some(name) = q.attributes.keys().find(|a| m.contains(a.as_str())) {
        return vec!["attributes".to_owned(), name.clone()];
    }
    if m.contains("Tag") || m.contains("tags") {
        return vec!["tags".to_owned()];
    }
    if m.contains("name") || matches!(e, Error::InvalidParameterValue(_)) {
        return vec!["name".to_owned()];
    }
    if q.attributes.is_empty() {
        vec!["name".to_owned()]
    } else {
        vec!["attributes".to_owned()]
    }
}

fn apply_queue(
    state: &AppState,
    real: &AppState,
    ctx: &Ctx,
    src: &Source,
    i: usize,
    q: &QueueSection,
) -> Result<(), ConfigError> {
    let fail = |e: &Error| {
        let mut p = field!["queues", i].to_vec();
        p.extend(queue_field(e, q).iter().map(Seg::from));
        src.error(&p, describe(e))
    };
    let (region, account) = (
        &state.config.region,
        q.account.as_deref().unwrap_or(&state.config.account_id),
    );
    let attributes: Vec<(String, String)> = q
        .attributes
        .iter()
        .map(|(name, v)| {
            let mut value = v.0.clone();
            if name == "RedrivePolicy"
                && let Some(target) = policy::redrive_target(&value)
                && !target.starts_with("arn:")
                && let Some(expanded) =
                    policy::with_redrive_target(&value, &format!("arn:aws:sqs:{region}:{account}:{target}"))
            {
                value = expanded;
            }
            (name.clone(), value)
        })
        .collect();
    let fifo = attributes
        .iter()
        .any(|(k, v)| k == "FifoQueue" && v.eq_ignore_ascii_case("true"));
    // The file's keys are in the server's region.
    let home = crate::kms::Home {
        region: &state.config.region,
        account,
    };
    // Each attribute alone first, so an error names its own line.
    for (name, value) in &attributes {
        let mut a = QueueAttributes::new(fifo);
        a.set(name, value, true)
            .map_err(|e| src.error(&field!["queues", i, "attributes", name], describe(&e)))?;
        if name == "KmsMasterKeyId"
            && (value.starts_with("alias/") && !value.starts_with("alias/aws/")
                || uuid::Uuid::try_parse(value).is_ok())
            && state.kms.resolve(value, Forms::WithAlias, home).is_err()
            && real.kms.resolve(value, Forms::WithAlias, home).is_err()
        {
            return Err(src.error(
                &field!["queues", i, "attributes", name],
                format!("{value} names no KMS key or alias of this file or server"),
            ));
        }
    }
    match state.store.get(&state.config.region, account, &q.name) {
        Some(existing) => {
            let was_fifo = existing.lock().attrs.fifo_queue;
            if q.attributes.contains_key("FifoQueue") && fifo != was_fifo {
                let kind = if was_fifo { "a FIFO" } else { "a standard" };
                return Err(src.error(
                    &field!["queues", i, "attributes", "FifoQueue"],
                    format!(
                        "queue {} exists as {kind} queue; a queue's type cannot change",
                        q.name
                    ),
                ));
            }
            let queue_url = format!("/{account}/{}", q.name);
            let rest: Vec<(String, String)> =
                attributes.into_iter().filter(|(k, _)| k != "FifoQueue").collect();
            if !rest.is_empty() {
                let input = SetQueueAttributesInput {
                    queue_url: queue_url.clone(),
                    attributes: rest,
                };
                set_queue_attributes(state, ctx, input).map_err(|e| fail(&e))?;
            }
            if !q.tags.is_empty() {
                let input = TagQueueInput {
                    queue_url,
                    tags: q.tags.clone(),
                };
                tag_queue(state, ctx, input).map_err(|e| fail(&e))?;
            }
        }
        None => {
            let input = CreateQueueInput {
                queue_name: q.name.clone(),
                attributes,
                tags: q.tags.clone(),
            };
            create_queue(state, ctx, input).map_err(|e| fail(&e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const KEY: &str = "6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7";

    fn state() -> AppState {
        AppState::with_clock(Config::default(), Arc::new(Clock::manual(1_700_000_000_000)))
    }

    fn cfg(text: &str) -> FileConfig {
        parse("t.toml", text.to_owned()).expect("parses")
    }

    fn queue_names(state: &AppState) -> Vec<String> {
        state
            .store
            .list(&state.config.region, &state.config.account_id)
            .iter()
            .map(|q| q.name.clone())
            .collect()
    }

    #[test]
    fn queues_of_another_account_live_there_with_their_dead_letter_queue_and_key() {
        let s = state();
        let c = cfg(concat!(
            "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naccount = \"111111111111\"\naliases = [\"alias/k\"]\n",
            "[[queues]]\nname = \"orders\"\naccount = \"111111111111\"\n",
            "attributes = { KmsMasterKeyId = \"alias/k\", RedrivePolicy = '{\"deadLetterTargetArn\":\"orders-dlq\",\"maxReceiveCount\":3}' }\n",
            "[[queues]]\nname = \"orders-dlq\"\naccount = \"111111111111\"\n",
            "[[queues]]\nname = \"orders\"\n",
        ));
        apply(&s, &c).expect("applies");
        let theirs = s
            .store
            .get("us-east-1", "111111111111", "orders")
            .expect("orders of 111111111111");
        assert_eq!(theirs.arn, "arn:aws:sqs:us-east-1:111111111111:orders");
        assert_eq!(
            theirs.lock().attrs.redrive.as_ref().map(|r| r.target_arn.clone()),
            Some("arn:aws:sqs:us-east-1:111111111111:orders-dlq".to_owned())
        );
        assert!(s.store.get("us-east-1", "111111111111", "orders-dlq").is_some());
        assert!(s.store.get("us-east-1", "000000000000", "orders").is_some());
        assert!(s.store.get("us-east-1", "000000000000", "orders-dlq").is_none());
        // A bad account, and one name twice in one account, are refused.
        let e = parse(
            "t.toml",
            "[[queues]]\nname = \"q\"\naccount = \"12\"\n".to_owned(),
        )
        .unwrap_err();
        assert!(e.message.contains("not an account id"), "{}", e.message);
        let e = parse(
            "t.toml",
            "[[queues]]\nname = \"q\"\n[[queues]]\nname = \"q\"\naccount = \"000000000000\"\n".to_owned(),
        )
        .unwrap_err();
        assert!(e.message.contains("configured twice"), "{}", e.message);
    }

    #[test]
    fn an_invalid_third_queue_applies_nothing() {
        let s = state();
        let c = cfg(concat!(
            "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naliases = [\"alias/k\"]\n",
            "[[principals]]\naccess_key_id = \"AKIDCONF\"\nname = \"app\"\n",
            "[[queues]]\nname = \"one\"\n",
            "[[queues]]\nname = \"two\"\n",
            "[[queues]]\nname = \"three\"\n",
            "[queues.attributes]\n",
            "DelaySeconds = 1\n",
            "VisibilityTimeout = 99999\n",
        ));
        let e = apply(&s, &c).unwrap_err();
        assert_eq!(e.field, "queues[2].attributes.VisibilityTimeout", "{e}");
        assert_eq!(e.line, 15, "{e}");
        assert!(e.message.contains("InvalidAttributeValue"), "{e}");
        assert!(queue_names(&s).is_empty(), "{:?}", queue_names(&s));
        assert!(s.kms.key(KEY).is_none());
        let p = s.principals.principal("AKIDCONF");
        assert_eq!(p.arn(), Some("arn:aws:iam::000000000000:user/AKIDCONF"));
    }

    #[test]
    fn a_key_of_another_account_and_its_aliases_live_there() {
        let s = state();
        let c = cfg(concat!(
            "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naccount = \"111111111111\"\n",
            "aliases = [\"alias/k\"]\n",
            "[[keys]]\nkey_id = \"7f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naliases = [\"alias/k\"]\n",
        ));
        apply(&s, &c).unwrap();
        apply(&s, &c).expect("applies again");
        let key = s.kms.key(KEY).unwrap();
        assert_eq!(key.account(), "111111111111");
        assert!(key.read().policy.contains("arn:aws:iam::111111111111:root"));
        let theirs = s
            .kms
            .resolve(
                "alias/k",
                Forms::WithAlias,
                crate::kms::Home {
                    region: "us-east-1",
                    account: "111111111111",
                },
            )
            .unwrap();
        assert_eq!(theirs.id, key.id);
        let ours = s
            .kms
            .resolve(
                "alias/k",
                Forms::WithAlias,
                crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000",
                },
            )
            .unwrap();
        assert_eq!(&*ours.id, "7f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7");
        assert_eq!(
            s.kms
                .list_keys(crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000"
                })
                .len(),
            1
        );
        // A key's account cannot change.
        let moved = cfg("[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\n");
        let e = apply(&s, &moved).unwrap_err();
        assert_eq!(e.field, "keys[0].key_id", "{e}");
        assert!(e.message.contains("exists in account 111111111111"), "{e}");
        // The account is 12 digits.
        let e = parse(
            "t.toml",
            "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naccount = \"12\"\n".to_owned(),
        )
        .unwrap_err();
        assert_eq!(e.field, "keys[0].account", "{e}");
    }

    #[test]
    fn applying_twice_creates_nothing_twice() {
        let s = state();
        let c = cfg(concat!(
            "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naliases = [\"alias/k\"]\n",
            "description = \"d\"\nrotation = { rotation_period_in_days = 90 }\ntags = { team = \"a\" }\n",
            "key_material = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\n",
            "[[queues]]\nname = \"src\"\n",
            "attributes = { RedrivePolicy = '{\"deadLetterTargetArn\":\"dlq\",\"maxReceiveCount\":3}', KmsMasterKeyId = \"alias/k\" }\n",
            "tags = { env = \"t\" }\n",
            "[[queues]]\nname = \"dlq\"\n",
        ));
        apply(&s, &c).unwrap();
        let next = s.kms.key(KEY).unwrap().read().next_rotation_ms;
        s.clock.advance(1000);
        apply(&s, &c).unwrap();
        assert_eq!(queue_names(&s), ["dlq", "src"]);
        assert_eq!(
            s.kms
                .list_keys(crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000"
                })
                .len(),
            1
        );
        let key = s.kms.key(KEY).unwrap();
        assert_eq!(
            key.read().next_rotation_ms,
            next,
            "a restart keeps the rotation schedule"
        );
        assert_eq!(key.read().versions.len(), 1);
        assert_eq!(
            s.kms
                .list_aliases(crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000"
                })
                .len(),
            1
        );
        let src = s.store.get("us-east-1", "000000000000", "src").unwrap();
        let g = src.lock();
        assert_eq!(
            g.attrs.redrive.as_ref().map(|r| r.target_arn.as_str()),
            Some("arn:aws:sqs:us-east-1:000000000000:dlq")
        );
        assert_eq!(g.attrs.kms_master_key_id.as_deref(), Some("alias/k"));
        assert_eq!(g.tags.get("env").map(String::as_str), Some("t"));
    }

    #[test]
    fn existing_keys_and_queues_are_brought_to_the_file() {
        let s = state();
        apply(
            &s,
            &cfg("[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\n[[queues]]\nname = \"q\"\n"),
        )
        .unwrap();
        apply(
            &s,
            &cfg(concat!(
                "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\nenabled = false\ndescription = \"new\"\n",
                "[[queues]]\nname = \"q\"\nattributes = { VisibilityTimeout = 7 }\n",
            )),
        )
        .unwrap();
        let key = s.kms.key(KEY).unwrap();
        assert_eq!(key.read().state, KeyState::Disabled);
        assert_eq!(key.read().description, "new");
        let q = s.store.get("us-east-1", "000000000000", "q").unwrap();
        assert_eq!(q.lock().attrs.visibility_timeout, 7);
    }

    #[test]
    fn other_material_for_an_existing_key_is_refused() {
        let s = state();
        apply(
            &s,
            &cfg("[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\n"),
        )
        .unwrap();
        let e = apply(
            &s,
            &cfg(concat!(
                "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\n",
                "key_material = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\n",
            )),
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "keys[0].key_material"), "{e}");
    }

    #[test]
    fn bad_key_settings_name_their_field() {
        let s = state();
        let e = apply(
            &s,
            &cfg("[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\nkey_material = \"AQID\"\n"),
        )
        .unwrap_err();
        assert_eq!(e.field, "keys[0].key_material", "{e}");
        let e = apply(
            &s,
            &cfg("[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\npolicy = \"not json\"\n"),
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "keys[0].policy"), "{e}");
        let e = apply(
            &s,
            &cfg("[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naliases = [\"nope\"]\n"),
        )
        .unwrap_err();
        assert_eq!(e.field, "keys[0].aliases[0]", "{e}");
        let e = apply(
            &s,
            &cfg(concat!(
                "[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\n",
                "key_spec = \"HMAC_256\"\nkey_usage = \"GENERATE_VERIFY_MAC\"\n",
                "rotation = { enabled = true }\n",
            )),
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (5, "keys[0].rotation"), "{e}");
        let e = apply(
            &s,
            &cfg("[[queues]]\nname = \"q\"\nattributes = { KmsMasterKeyId = \"alias/typo\" }\n"),
        )
        .unwrap_err();
        assert_eq!(e.field, "queues[0].attributes.KmsMasterKeyId", "{e}");
        assert!(
            s.kms
                .list_keys(crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000"
                })
                .is_empty()
        );
        assert!(queue_names(&s).is_empty());
    }

    #[test]
    fn a_queue_may_name_a_key_the_server_already_has() {
        let s = state();
        apply(
            &s,
            &cfg("[[keys]]\nkey_id = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\"\naliases = [\"alias/k\"]\n"),
        )
        .unwrap();
        apply(
            &s,
            &cfg(concat!(
                "[[queues]]\nname = \"q\"\n",
                "attributes = { KmsMasterKeyId = \"alias/k\" }\n",
                "[[queues]]\nname = \"r\"\n",
                "attributes = { KmsMasterKeyId = \"6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7\" }\n",
            )),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(queue_names(&s), ["q", "r"]);
    }

    #[test]
    fn a_dead_letter_cycle_is_an_error_at_its_redrive_policy() {
        let s = state();
        let e = apply(
            &s,
            &cfg(concat!(
                "[[queues]]\nname = \"a\"\n",
                "attributes = { RedrivePolicy = '{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:b\",\"maxReceiveCount\":3}' }\n",
                "[[queues]]\nname = \"b\"\n",
                "attributes = { RedrivePolicy = '{\"deadLetterTargetArn\":\"a\",\"maxReceiveCount\":3}' }\n",
            )),
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (3, "queues[0].attributes.RedrivePolicy"),
            "{e}"
        );
        assert!(e.message.contains("a -> b -> a"), "{e}");
        assert!(queue_names(&s).is_empty());
    }

    #[test]
    fn a_dead_letter_queue_outside_the_file_must_exist() {
        let s = state();
        let c = cfg(concat!(
            "[[queues]]\nname = \"src\"\n",
            "attributes = { RedrivePolicy = '{\"deadLetterTargetArn\":\"elsewhere\",\"maxReceiveCount\":3}' }\n",
        ));
        let e = apply(&s, &c).unwrap_err();
        assert_eq!(e.field, "queues[0].attributes.RedrivePolicy", "{e}");
        assert!(e.message.contains("does not exist"), "{e}");
        apply(&s, &cfg("[[queues]]\nname = \"elsewhere\"\n")).unwrap();
        apply(&s, &c).unwrap();
    }
}
