//! The KMS API actions: one function per action and one exhaustive
//! [`dispatch`]. Validation with AWS's codes and messages lives here; the
//! model does the work. No wire format here (the protocol layer decodes and
//! encodes), and key policies are stored, not enforced yet.
//!
//! Key usage is checked wherever AWS checks it: encryption actions refuse
//! HMAC keys and the MAC actions refuse encryption keys, with
//! `InvalidKeyUsageException` naming the action.

use std::sync::Arc;

use rand::RngCore as _;
use zeroize::Zeroizing;

use super::types::{
    AliasListEntry, AliasRequest, CreateKeyRequest, DecryptRequest, DeleteAliasRequest,
    EnableKeyRotationRequest, EncryptRequest, GenerateDataKeyRequest, GenerateMacRequest,
    GenerateRandomRequest, GetKeyPolicyRequest, KeyIdRequest, KeyListEntry, KeyListingRequest, KeyMetadata,
    KmsAction, KmsOutput, ListAliasesRequest, ListKeysRequest, Page, PolicyDocument, PutKeyPolicyRequest,
    ReEncryptRequest, ScheduleKeyDeletionRequest, Tag, TagResourceRequest, UntagResourceRequest,
    VerifyMacRequest, tag_map,
};
use super::{
    DAY_MS, DataKeySpec, Forms, Home, Key, KeyManager, KeySpec, KeyState, KeyUsage, Kms, RotationKind,
};
use crate::auth::Principal;
use crate::error::{Error, Result};

/// The only encryption algorithm of symmetric keys.
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
/// The only policy name KMS has.
const DEFAULT_POLICY: &str = "default";
/// Most tags a key may carry.
const MAX_TAGS: usize = 50;
/// Most on-demand rotations of one key.
const MAX_ON_DEMAND_ROTATIONS: usize = 25;

/// Runs one KMS API action as `caller`, in the caller's account (that of
/// its ARN; the server's for a caller without one) and the server's region.
///
/// # Errors
/// The action's errors, as the KMS API returns them.
pub fn dispatch(kms: &Kms, caller: &Principal, action: KmsAction) -> Result<KmsOutput> {
    let home = Home {
        region: kms.region(),
        account: caller_account(kms, caller),
    };
    dispatch_in(kms, caller, home, action)
}

/// The account a caller's KMS requests act in: that of its ARN, or the
/// server's.
pub fn caller_account<'a>(kms: &'a Kms, caller: &'a Principal) -> &'a str {
    caller
        .arn()
        .and_then(crate::iam::policy::account_of)
        .filter(|a| crate::iam::is_account_id(a))
        .unwrap_or(kms.account_id())
}

/// Runs one KMS API action as `caller` in `account`: bare key ids and alias
/// names resolve there, and keys and aliases are created there (a
/// configuration file's keys of another account).
///
/// # Errors
/// The action's errors, as the KMS API returns them.
pub(crate) fn dispatch_in(
    kms: &Kms,
    caller: &Principal,
    acct: Home<'_>,
    action: KmsAction,
) -> Result<KmsOutput> {
    kms.check_fault()?;
    let mutates = matches!(
        action,
        KmsAction::CreateKey(_)
            | KmsAction::CreateAlias(_)
            | KmsAction::UpdateAlias(_)
            | KmsAction::DeleteAlias(_)
            | KmsAction::EnableKey(_)
            | KmsAction::DisableKey(_)
            | KmsAction::ScheduleKeyDeletion(_)
            | KmsAction::CancelKeyDeletion(_)
            | KmsAction::PutKeyPolicy(_)
            | KmsAction::EnableKeyRotation(_)
            | KmsAction::DisableKeyRotation(_)
            | KmsAction::RotateKeyOnDemand(_)
            | KmsAction::TagResource(_)
            | KmsAction::UntagResource(_)
    );
    let out = run(kms, caller, acct, action)?;
    if mutates {
        // Acknowledged only once saved (with a data directory).
        kms.persist()?;
    }
    Ok(out)
}

fn run(kms: &Kms, caller: &Principal, acct: Home<'_>, action: KmsAction) -> Result<KmsOutput> {
    match action {
        KmsAction::CreateKey(r) => create_key(kms, acct, r),
        KmsAction::DescribeKey(r) => describe_key(kms, acct, &r),
        KmsAction::ListKeys(r) => list_keys(kms, acct, &r),
        KmsAction::CreateAlias(r) => create_alias(kms, acct, caller, &r),
        KmsAction::UpdateAlias(r) => update_alias(kms, acct, caller, &r),
        KmsAction::DeleteAlias(r) => delete_alias(kms, acct, caller, &r),
        KmsAction::ListAliases(r) => list_aliases(kms, acct, &r),
        KmsAction::Encrypt(r) => encrypt(kms, acct, &r),
        KmsAction::Decrypt(r) => decrypt(kms, acct, &r),
        KmsAction::ReEncrypt(r) => re_encrypt(kms, acct, &r),
        KmsAction::GenerateDataKey(r) => generate_data_key(kms, acct, &r, true),
        KmsAction::GenerateDataKeyWithoutPlaintext(r) => generate_data_key(kms, acct, &r, false),
        KmsAction::GenerateRandom(r) => generate_random(&r),
        KmsAction::GenerateMac(r) => generate_mac(kms, acct, &r),
        KmsAction::VerifyMac(r) => verify_mac(kms, acct, &r),
        KmsAction::EnableKey(r) => enable_key(kms, acct, caller, &r),
        KmsAction::DisableKey(r) => disable_key(kms, acct, caller, &r),
        KmsAction::ScheduleKeyDeletion(r) => schedule_key_deletion(kms, acct, caller, &r),
        KmsAction::CancelKeyDeletion(r) => cancel_key_deletion(kms, acct, caller, &r),
        KmsAction::GetKeyPolicy(r) => get_key_policy(kms, acct, &r),
        KmsAction::PutKeyPolicy(r) => put_key_policy(kms, acct, caller, r),
        KmsAction::ListKeyPolicies(r) => list_key_policies(kms, acct, &r),
        KmsAction::EnableKeyRotation(r) => enable_key_rotation(kms, acct, &r),
        KmsAction::DisableKeyRotation(r) => disable_key_rotation(kms, acct, &r),
        KmsAction::GetKeyRotationStatus(r) => get_key_rotation_status(kms, acct, &r),
        KmsAction::RotateKeyOnDemand(r) => rotate_key_on_demand(kms, acct, &r),
        KmsAction::TagResource(r) => tag_resource(kms, acct, caller, r),
        KmsAction::UntagResource(r) => untag_resource(kms, acct, caller, &r),
        KmsAction::ListResourceTags(r) => list_resource_tags(kms, acct, &r),
    }
}

// ---- validation helpers ---------------------------------------------------------

/// AWS's wording for one failed constraint.
fn validation(value: &str, member: &str, constraint: &str) -> Error {
    Error::ValidationException(
        format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}")
            .into(),
    )
}

/// A string member's length bounds (in characters, as the model counts them).
fn check_len(value: &str, member: &str, min: usize, max: usize) -> Result<()> {
    let n = value.chars().count();
    if n < min {
        return Err(validation(
            value,
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(validation(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// An integer member's bounds.
fn check_range(value: i64, member: &str, min: i64, max: i64) -> Result<()> {
    if value < min {
        return Err(validation(
            &value.to_string(),
            member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(validation(
            &value.to_string(),
            member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A `KeyId` member (1..=2048 characters).
fn check_key_id(value: &str, member: &str) -> Result<()> {
    check_len(value, member, 1, 2048)
}

/// An `EncryptionAlgorithm` member: symmetric keys know one algorithm.
fn check_algorithm(value: Option<&str>, member: &str) -> Result<()> {
    const ALL: [&str; 4] = [
        "SYMMETRIC_DEFAULT",
        "RSAES_OAEP_SHA_1",
        "RSAES_OAEP_SHA_256",
        "SM2PKE",
    ];
    match value {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(v) if ALL.contains(&v) => Err(Error::InvalidKeyUsageException(
            format!("The request was rejected because the specified encryption algorithm {v} is not supported by this KMS key.").into(),
        )),
        Some(v) => Err(validation(
            v,
            member,
            "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
        )),
    }
}

/// A `Limit` member (1..=1000), with the action's default.
fn limit(value: Option<i64>, default: usize) -> Result<usize> {
    match value {
        None => Ok(default),
        Some(v) => {
            check_range(v, "limit", 1, 1000)?;
            Ok(usize::try_from(v).unwrap_or(default))
        }
    }
}

/// Pages `items` (sorted by `key`) after `marker`: the marker is the key of
/// the last item of the previous page.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    marker: Option<&str>,
    marker_ok: impl Fn(&str) -> bool,
    limit: usize,
) -> Result<(Vec<T>, Page)> {
    let mut rest: Vec<T> = match marker {
        None => items,
        Some(m) if !m.is_empty() && m.len() <= 1024 && marker_ok(m) => {
            items.into_iter().filter(|i| key(i).as_str() > m).collect()
        }
        Some(_) => {
            return Err(Error::InvalidMarkerException(
                "The request was rejected because the marker that specifies where pagination should next begin is not valid.".into(),
            ));
        }
    };
    let truncated = rest.len() > limit;
    rest.truncate(limit);
    let next_marker = if truncated { rest.last().map(&key) } else { None };
    Ok((
        rest,
        Page {
            next_marker,
            truncated,
        },
    ))
}

/// An alias name as CreateAlias/UpdateAlias/DeleteAlias accept it.
fn check_alias_name(name: &str) -> Result<()> {
    check_len(name, "aliasName", 1, 256)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
    {
        return Err(validation(
            name,
            "aliasName",
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ));
    }
    if !name.starts_with("alias/") {
        return Err(Error::ValidationException(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
        ));
    }
    if name == "alias/" {
        return Err(Error::InvalidAliasNameException(
            "Alias name must have at least one character after the prefix \"alias/\".".into(),
        ));
    }
    Ok(())
}

/// Tags as TagResource and CreateKey accept them.
/// Length errors name the tag's 1-based index (`tags.1.member.tagKey`);
/// the `aws:` prefix is reserved in any case; a key may appear once (AWS
/// recorded).
fn check_tags(tags: &[Tag]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        check_len(&t.tag_key, &format!("tags.{n}.member.tagKey"), 1, 128)?;
        check_len(&t.tag_value, &format!("tags.{n}.member.tagValue"), 0, 256)?;
        if t.tag_key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(Error::TagException(
                "Tags beginning with aws: are reserved".into(),
            ));
        }
        if !seen.insert(t.tag_key.as_str()) {
            return Err(Error::TagException("Duplicate tag keys".into()));
        }
    }
    Ok(())
}

/// AccessDeniedException for a change AWS-managed keys refuse (their key
/// policy grants the account only read access).
fn denied(caller: &Principal, action: &str, resource: &str) -> Error {
    let who = caller.arn().unwrap_or("anonymous");
    Error::AccessDeniedException(
        format!(
            "User: {who} is not authorized to perform: kms:{action} on resource: {resource} because no resource-based policy allows the kms:{action} action"
        )
        .into(),
    )
}

/// The customer-managed key named by `key_id` (key id or key ARN only) for
/// an action that changes it.
fn customer_key(
    kms: &Kms,
    acct: Home<'_>,
    caller: &Principal,
    key_id: &str,
    action: &str,
) -> Result<Arc<Key>> {
    check_key_id(key_id, "keyId")?;
    let key = kms.resolve(key_id, Forms::KeyOnly, acct)?;
    if key.manager == KeyManager::Aws {
        return Err(denied(caller, action, &key.arn));
    }
    Ok(key)
}

/// Fails when the key is pending deletion.
fn not_pending(key: &Key) -> Result<()> {
    match key.read().state {
        KeyState::PendingDeletion { .. } => Err(Error::KmsInvalidStateException(
            format!("{} is pending deletion.", key.arn).into(),
        )),
        _ => Ok(()),
    }
}

/// KeyMetadata of `key`.
fn metadata(key: &Key) -> KeyMetadata {
    let g = key.read();
    let (deletion_date_ms, pending_deletion_window_in_days) = match g.state {
        KeyState::PendingDeletion {
            deletion_ms,
            window_days,
        } => (Some(deletion_ms), Some(window_days)),
        _ => (None, None),
    };
    KeyMetadata {
        aws_account_id: key.account().to_owned(),
        key_id: key.id.to_string(),
        arn: key.arn.to_string(),
        creation_date_ms: key.created_ms,
        enabled: g.state == KeyState::Enabled,
        description: g.description.clone(),
        key_usage: key.usage().as_str(),
        key_state: g.state.as_str(),
        deletion_date_ms,
        pending_deletion_window_in_days,
        origin: "AWS_KMS",
        key_manager: key.manager.as_str(),
        customer_master_key_spec: key.spec.as_str(),
        key_spec: key.spec.as_str(),
        encryption_algorithms: match key.usage() {
            KeyUsage::EncryptDecrypt => vec![SYMMETRIC_DEFAULT],
            KeyUsage::GenerateVerifyMac => Vec::new(),
        },
        mac_algorithms: key.spec.mac_algorithm().into_iter().collect(),
        multi_region: false,
        current_key_material_id: key.current_material_id(),
    }
}

/// The data-key length of GenerateDataKey(WithoutPlaintext).
fn data_key_spec(number_of_bytes: Option<i64>, key_spec: Option<&str>) -> Result<DataKeySpec> {
    match (number_of_bytes, key_spec) {
        (Some(n), None) => {
            check_range(n, "numberOfBytes", 1, 1024)?;
            Ok(DataKeySpec::Bytes(u16::try_from(n).unwrap_or(1024)))
        }
        (None, Some("AES_256")) => Ok(DataKeySpec::Aes256),
        (None, Some("AES_128")) => Ok(DataKeySpec::Aes128),
        (None, Some(other)) => Err(validation(
            other,
            "keySpec",
            "Member must satisfy enum value set: [AES_256, AES_128]",
        )),
        _ => Err(Error::ValidationException(
            "Please specify either number of bytes or key spec.".into(),
        )),
    }
}

/// A ciphertext blob member: present and 1..=6144 bytes.
fn blob_member<'a>(blob: Option<&'a [u8]>, member: &str) -> Result<&'a [u8]> {
    let Some(b) = blob else {
        return Err(Error::ValidationException(
            format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null").into(),
        ));
    };
    if b.is_empty() || b.len() > 6144 {
        return Err(Error::ValidationException(
            format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length {}",
                if b.is_empty() {
                    "greater than or equal to 1"
                } else {
                    "less than or equal to 6144"
                }
            )
            .into(),
        ));
    }
    Ok(b)
}

/// A key policy: well-formed JSON, at most 32 KiB (KMS's policy size quota).
fn check_policy(policy: &PolicyDocument) -> Result<()> {
    check_len(&policy.text, "policy", 1, 131_072)?;
    if !policy.well_formed {
        return Err(Error::MalformedPolicyDocumentException(
            "The policy is not a valid JSON document.".into(),
        ));
    }
    if let Err(e) =
        crate::iam::policy::PolicyDocument::parse_json(&policy.text, crate::iam::policy::PolicyKind::Resource)
    {
        return Err(Error::MalformedPolicyDocumentException(
            format!("The key policy is not a valid policy: {e}").into(),
        ));
    }
    if policy.text.len() > 32_768 {
        return Err(Error::LimitExceededException(
            "The key policy size exceeds the quota of 32768 bytes.".into(),
        ));
    }
    Ok(())
}

/// A `PolicyName` member: only `default` exists.
fn check_policy_name(name: Option<&str>) -> Result<()> {
    match name {
        None | Some(DEFAULT_POLICY) => Ok(()),
        Some(other) => {
            check_len(other, "policyName", 1, 128)?;
            Err(Error::NotFoundException(
                format!("Policy {other} not found").into(),
            ))
        }
    }
}

// ---- actions --------------------------------------------------------------------

fn create_key(kms: &Kms, acct: Home<'_>, r: CreateKeyRequest) -> Result<KmsOutput> {
    let key_spec = check_create_key(&r)?;
    let key = kms.create_key(
        key_spec,
        r.description.unwrap_or_default(),
        r.policy.map(|p| p.text),
        tag_map(r.tags),
        acct,
    );
    Ok(KmsOutput::KeyMetadata(Box::new(metadata(&key))))
}

/// CreateKey with a chosen key id and, optionally, chosen key material: the
/// in-process path of a configuration file's keys. The request is checked
/// exactly as CreateKey checks it; the material must be as long as the spec
/// needs (32 bytes for SYMMETRIC_DEFAULT, 28/32/48/64 for HMAC_224..512).
///
/// # Errors
/// CreateKey's errors; `AlreadyExistsException` when a key with this id
/// exists; `ValidationException` for material of the wrong length.
pub(crate) fn create_key_fixed(
    kms: &Kms,
    acct: Home<'_>,
    r: CreateKeyRequest,
    key_id: uuid::Uuid,
    material: Option<&[u8]>,
) -> Result<Arc<Key>> {
    let key_spec = check_create_key(&r)?;
    if let Some(m) = material {
        let want = key_spec.mac_key_len().unwrap_or(32);
        if m.len() != want {
            return Err(Error::ValidationException(
                format!(
                    "Key material of a {} key must be {want} bytes, not {}.",
                    key_spec.as_str(),
                    m.len()
                )
                .into(),
            ));
        }
    }
    kms.create_key_fixed(
        key_spec,
        super::model::Fixed { id: key_id, material },
        r.description.unwrap_or_default(),
        r.policy.map(|p| p.text),
        tag_map(r.tags),
        acct,
    )
}

/// CreateKey's checks of its request; the spec of the key to make.
fn check_create_key(r: &CreateKeyRequest) -> Result<KeySpec> {
    const SPECS: [&str; 17] = [
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "SYMMETRIC_DEFAULT",
        "HMAC_224",
        "HMAC_256",
        "HMAC_384",
        "HMAC_512",
        "SM2",
        "ML_DSA_44",
        "ML_DSA_65",
        "ML_DSA_87",
        "ECC_NIST_EDWARDS25519",
    ];
    const USAGES: [&str; 4] = [
        "SIGN_VERIFY",
        "ENCRYPT_DECRYPT",
        "GENERATE_VERIFY_MAC",
        "KEY_AGREEMENT",
    ];
    if let Some(d) = &r.description {
        check_len(d, "description", 0, 8192)?;
    }
    if r.key_spec.is_some() && r.customer_master_key_spec.is_some() {
        return Err(Error::ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.".into(),
        ));
    }
    let (spec_member, spec) = match (&r.key_spec, &r.customer_master_key_spec) {
        (Some(s), _) => ("keySpec", s.as_str()),
        (None, Some(s)) => ("customerMasterKeySpec", s.as_str()),
        (None, None) => ("keySpec", SYMMETRIC_DEFAULT),
    };
    if !SPECS.contains(&spec) {
        return Err(validation(
            spec,
            spec_member,
            &format!("Member must satisfy enum value set: [{}]", SPECS.join(", ")),
        ));
    }
    let usage = r.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT");
    if !USAGES.contains(&usage) {
        return Err(validation(
            usage,
            "keyUsage",
            "Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT]",
        ));
    }
    let Some(key_spec) = KeySpec::parse(spec) else {
        return Err(Error::UnsupportedOperationException(
            format!("{spec} is not supported by sealq: only SYMMETRIC_DEFAULT and HMAC keys are.").into(),
        ));
    };
    // KeyUsage may be left out only for symmetric encryption keys (its
    // default); every other spec has exactly one usage sealq models.
    if r.key_usage.is_none() && key_spec != KeySpec::SymmetricDefault {
        return Err(Error::ValidationException(
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.".into(),
        ));
    }
    if usage != key_spec.usage().as_str() {
        return Err(Error::ValidationException(
            format!("KeyUsage {usage} is not compatible with KeySpec {spec}").into(),
        ));
    }
    match r.origin.as_deref() {
        None | Some("AWS_KMS") => {}
        Some(o @ ("EXTERNAL" | "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE")) => {
            return Err(Error::UnsupportedOperationException(
                format!("Origin {o} is not supported by sealq.").into(),
            ));
        }
        Some(o) => {
            return Err(validation(
                o,
                "origin",
                "Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]",
            ));
        }
    }
    if r.custom_key_store_id.is_some() {
        return Err(Error::UnsupportedOperationException(
            "Custom key stores are not supported by sealq.".into(),
        ));
    }
    if r.multi_region == Some(true) {
        return Err(Error::UnsupportedOperationException(
            "Multi-Region keys are not supported by sealq.".into(),
        ));
    }
    if let Some(p) = &r.policy {
        check_policy(p)?;
    }
    check_tags(&r.tags)?;
    if r.tags.len() > MAX_TAGS {
        return Err(Error::TagException("Too many tags".into()));
    }
    Ok(key_spec)
}

fn describe_key(kms: &Kms, acct: Home<'_>, r: &KeyIdRequest) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    let key = kms.resolve(&r.key_id, Forms::WithAlias, acct)?;
    Ok(KmsOutput::KeyMetadata(Box::new(metadata(&key))))
}

fn list_keys(kms: &Kms, acct: Home<'_>, r: &ListKeysRequest) -> Result<KmsOutput> {
    let limit = limit(r.limit, 100)?;
    let entries: Vec<KeyListEntry> = kms
        .list_keys(acct)
        .iter()
        .map(|k| KeyListEntry {
            key_id: k.id.to_string(),
            key_arn: k.arn.to_string(),
        })
        .collect();
    let (keys, page) = page(
        entries,
        |e| e.key_id.clone(),
        r.marker.as_deref(),
        |m| uuid::Uuid::try_parse(m).is_ok(),
        limit,
    )?;
    Ok(KmsOutput::ListKeys(keys, page))
}

/// The target of CreateAlias/UpdateAlias: a customer key not pending deletion.
fn alias_target(
    kms: &Kms,
    acct: Home<'_>,
    caller: &Principal,
    target_key_id: &str,
    alias: &str,
) -> Result<Arc<Key>> {
    check_key_id(target_key_id, "targetKeyId")?;
    let key = kms.resolve(target_key_id, Forms::KeyOnly, acct)?;
    // An alias and its key are in the same account: a key of another
    // account (named by ARN) is not one the caller's account can alias.
    if key.account() != acct.account {
        return Err(Error::NotFoundException(
            format!("Key '{target_key_id}' does not exist").into(),
        ));
    }
    if key.manager == KeyManager::Aws {
        return Err(denied(caller, "CreateAlias", &kms.alias_arn(acct, alias)));
    }
    not_pending(&key)?;
    Ok(key)
}

fn create_alias(kms: &Kms, acct: Home<'_>, caller: &Principal, r: &AliasRequest) -> Result<KmsOutput> {
    check_alias_name(&r.alias_name)?;
    if r.alias_name.starts_with("alias/aws/") {
        return Err(denied(caller, "CreateAlias", &kms.alias_arn(acct, &r.alias_name)));
    }
    let key = alias_target(kms, acct, caller, &r.target_key_id, &r.alias_name)?;
    kms.insert_alias(&r.alias_name, &key)?;
    Ok(KmsOutput::Empty)
}

fn update_alias(kms: &Kms, acct: Home<'_>, caller: &Principal, r: &AliasRequest) -> Result<KmsOutput> {
    check_alias_name(&r.alias_name)?;
    if r.alias_name.starts_with("alias/aws/") {
        return Err(denied(caller, "UpdateAlias", &kms.alias_arn(acct, &r.alias_name)));
    }
    let key = alias_target(kms, acct, caller, &r.target_key_id, &r.alias_name)?;
    kms.retarget_alias(&r.alias_name, &key)?;
    Ok(KmsOutput::Empty)
}

fn delete_alias(kms: &Kms, acct: Home<'_>, caller: &Principal, r: &DeleteAliasRequest) -> Result<KmsOutput> {
    check_alias_name(&r.alias_name)?;
    if r.alias_name.starts_with("alias/aws/") {
        return Err(denied(caller, "DeleteAlias", &kms.alias_arn(acct, &r.alias_name)));
    }
    kms.remove_alias(&r.alias_name, acct)?;
    Ok(KmsOutput::Empty)
}

fn list_aliases(kms: &Kms, acct: Home<'_>, r: &ListAliasesRequest) -> Result<KmsOutput> {
    let limit = limit(r.limit, 50)?;
    let filter = match &r.key_id {
        Some(id) => {
            check_key_id(id, "keyId")?;
            Some(kms.resolve(id, Forms::KeyOnly, acct)?.id.clone())
        }
        None => None,
    };
    let entries: Vec<AliasListEntry> = kms
        .list_aliases(acct)
        .into_iter()
        .filter(|(_, a)| filter.as_ref().is_none_or(|f| *f == a.target))
        .map(|(name, a)| AliasListEntry {
            alias_arn: kms.alias_arn(acct, &name),
            alias_name: name,
            target_key_id: a.target.to_string(),
            creation_date_ms: a.created_ms,
            last_updated_date_ms: a.updated_ms,
        })
        .collect();
    let (aliases, page) = page(
        entries,
        |e| e.alias_name.clone(),
        r.marker.as_deref(),
        |m| m.starts_with("alias/"),
        limit,
    )?;
    Ok(KmsOutput::ListAliases(aliases, page))
}

fn encrypt(kms: &Kms, acct: Home<'_>, r: &EncryptRequest) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    if r.plaintext.is_empty() || r.plaintext.len() > 4096 {
        return Err(Error::ValidationException(
            format!(
                "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length {}",
                if r.plaintext.is_empty() {
                    "greater than or equal to 1"
                } else {
                    "less than or equal to 4096"
                }
            )
            .into(),
        ));
    }
    check_algorithm(r.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
    let key = kms.resolve(&r.key_id, Forms::WithAlias, acct)?;
    let ciphertext_blob = Kms::encrypt_with(&key, &r.plaintext, &r.encryption_context, "Encrypt")?;
    Ok(KmsOutput::Encrypt {
        ciphertext_blob,
        key_id: key.arn.to_string(),
    })
}

fn decrypt(kms: &Kms, acct: Home<'_>, r: &DecryptRequest) -> Result<KmsOutput> {
    let blob = blob_member(r.ciphertext_blob.as_deref(), "ciphertextBlob")?;
    if let Some(id) = &r.key_id {
        check_key_id(id, "keyId")?;
    }
    check_algorithm(r.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
    let (key, plaintext) = kms.open_blob(blob, &r.encryption_context, r.key_id.as_deref(), acct)?;
    Ok(KmsOutput::Decrypt {
        key_id: key.arn.to_string(),
        plaintext,
        key_material_id: key.material_id_of(blob),
    })
}

fn re_encrypt(kms: &Kms, acct: Home<'_>, r: &ReEncryptRequest) -> Result<KmsOutput> {
    let blob = blob_member(r.ciphertext_blob.as_deref(), "ciphertextBlob")?;
    check_key_id(&r.destination_key_id, "destinationKeyId")?;
    if let Some(id) = &r.source_key_id {
        check_key_id(id, "sourceKeyId")?;
    }
    check_algorithm(
        r.source_encryption_algorithm.as_deref(),
        "sourceEncryptionAlgorithm",
    )?;
    check_algorithm(
        r.destination_encryption_algorithm.as_deref(),
        "destinationEncryptionAlgorithm",
    )?;
    let (source, plaintext) = kms.open_blob(
        blob,
        &r.source_encryption_context,
        r.source_key_id.as_deref(),
        acct,
    )?;
    let dest = kms.resolve(&r.destination_key_id, Forms::WithAlias, acct)?;
    let ciphertext_blob =
        Kms::encrypt_with(&dest, &plaintext, &r.destination_encryption_context, "ReEncrypt")?;
    Ok(KmsOutput::ReEncrypt {
        source_key_material_id: source.material_id_of(blob),
        destination_key_material_id: dest.material_id_of(&ciphertext_blob),
        ciphertext_blob,
        source_key_id: source.arn.to_string(),
        key_id: dest.arn.to_string(),
    })
}

fn generate_data_key(
    kms: &Kms,
    acct: Home<'_>,
    r: &GenerateDataKeyRequest,
    with_plaintext: bool,
) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    let spec = data_key_spec(r.number_of_bytes, r.key_spec.as_deref())?;
    let key = kms.resolve(&r.key_id, Forms::WithAlias, acct)?;
    let operation = if with_plaintext {
        "GenerateDataKey"
    } else {
        "GenerateDataKeyWithoutPlaintext"
    };
    let dk = kms.generate_with(&key, spec, &r.encryption_context, operation)?;
    Ok(KmsOutput::GenerateDataKey {
        key_material_id: key.material_id_of(&dk.ciphertext_blob),
        ciphertext_blob: dk.ciphertext_blob,
        plaintext: with_plaintext.then_some(dk.plaintext),
        key_id: dk.key_arn.to_string(),
    })
}

fn generate_random(r: &GenerateRandomRequest) -> Result<KmsOutput> {
    if r.custom_key_store_id.is_some() {
        return Err(Error::UnsupportedOperationException(
            "Custom key stores are not supported by sealq.".into(),
        ));
    }
    let Some(n) = r.number_of_bytes else {
        return Err(Error::ValidationException("NumberOfBytes is required.".into()));
    };
    check_range(n, "numberOfBytes", 1, 1024)?;
    let mut bytes = Zeroizing::new(vec![0u8; usize::try_from(n).unwrap_or(1)]);
    rand::rng().fill_bytes(&mut bytes);
    Ok(KmsOutput::GenerateRandom(bytes))
}

/// A `Message` member of GenerateMac/VerifyMac: present and 1..=4096 bytes.
fn mac_message(message: Option<&Zeroizing<Vec<u8>>>) -> Result<&[u8]> {
    let Some(m) = message else {
        return Err(Error::ValidationException(
            "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null".into(),
        ));
    };
    if m.is_empty() || m.len() > 4096 {
        return Err(Error::ValidationException(
            format!(
                "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length {}",
                if m.is_empty() {
                    "greater than or equal to 1"
                } else {
                    "less than or equal to 4096"
                }
            )
            .into(),
        ));
    }
    Ok(m)
}

/// A `MacAlgorithm` member: one of the four `MacAlgorithmSpec` values.
fn check_mac_algorithm(value: &str) -> Result<()> {
    const ALL: [&str; 4] = ["HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"];
    if ALL.contains(&value) {
        Ok(())
    } else {
        Err(validation(
            value,
            "macAlgorithm",
            "Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]",
        ))
    }
}

/// The HMAC key of GenerateMac/VerifyMac (`operation`): resolved, usable,
/// of usage GENERATE_VERIFY_MAC, and whose spec supports `mac_algorithm`.
/// Returns the key and the algorithm as the model names it.
fn mac_key(
    kms: &Kms,
    acct: Home<'_>,
    key_id: &str,
    mac_algorithm: &str,
    operation: &str,
) -> Result<(Arc<Key>, &'static str)> {
    let key = kms.resolve(key_id, Forms::WithAlias, acct)?;
    Kms::usable(&key)?;
    Kms::check_usage(&key, KeyUsage::GenerateVerifyMac, operation)?;
    match key.spec.mac_algorithm() {
        Some(alg) if alg == mac_algorithm => Ok((key, alg)),
        _ => Err(Error::InvalidKeyUsageException(
            format!(
                "Algorithm {mac_algorithm} is incompatible with key spec {}.",
                key.spec.as_str()
            )
            .into(),
        )),
    }
}

fn generate_mac(kms: &Kms, acct: Home<'_>, r: &GenerateMacRequest) -> Result<KmsOutput> {
    let message = mac_message(r.message.as_ref())?;
    check_key_id(&r.key_id, "keyId")?;
    check_mac_algorithm(&r.mac_algorithm)?;
    let (key, mac_algorithm) = mac_key(kms, acct, &r.key_id, &r.mac_algorithm, "GenerateMac")?;
    // `mac` is `None` only for a key without an HMAC secret, which
    // `mac_key` has already refused.
    let mac = key.mac(message).ok_or(Error::InternalFailure)?;
    Ok(KmsOutput::GenerateMac {
        mac,
        mac_algorithm,
        key_id: key.arn.to_string(),
    })
}

fn verify_mac(kms: &Kms, acct: Home<'_>, r: &VerifyMacRequest) -> Result<KmsOutput> {
    let message = mac_message(r.message.as_ref())?;
    check_key_id(&r.key_id, "keyId")?;
    check_mac_algorithm(&r.mac_algorithm)?;
    let mac = blob_member(r.mac.as_deref(), "mac")?;
    let (key, mac_algorithm) = mac_key(kms, acct, &r.key_id, &r.mac_algorithm, "VerifyMac")?;
    if !key.verify_mac(message, mac) {
        return Err(Error::KmsInvalidMacException("".into()));
    }
    Ok(KmsOutput::VerifyMac {
        key_id: key.arn.to_string(),
        mac_algorithm,
    })
}

fn enable_key(kms: &Kms, acct: Home<'_>, caller: &Principal, r: &KeyIdRequest) -> Result<KmsOutput> {
    let key = customer_key(kms, acct, caller, &r.key_id, "EnableKey")?;
    let mut g = key.write();
    match g.state {
        KeyState::PendingDeletion { .. } => Err(Error::KmsInvalidStateException(
            format!("{} is pending deletion.", key.arn).into(),
        )),
        _ => {
            g.state = KeyState::Enabled;
            Ok(KmsOutput::Empty)
        }
    }
}

fn disable_key(kms: &Kms, acct: Home<'_>, caller: &Principal, r: &KeyIdRequest) -> Result<KmsOutput> {
    let key = customer_key(kms, acct, caller, &r.key_id, "DisableKey")?;
    let mut g = key.write();
    match g.state {
        KeyState::PendingDeletion { .. } => Err(Error::KmsInvalidStateException(
            format!("{} is pending deletion.", key.arn).into(),
        )),
        _ => {
            g.state = KeyState::Disabled;
            Ok(KmsOutput::Empty)
        }
    }
}

fn schedule_key_deletion(
    kms: &Kms,
    acct: Home<'_>,
    caller: &Principal,
    r: &ScheduleKeyDeletionRequest,
) -> Result<KmsOutput> {
    let days = r.pending_window_in_days.unwrap_or(30);
    check_range(days, "pendingWindowInDays", 7, 30)?;
    let days = u32::try_from(days).unwrap_or(30);
    let key = customer_key(kms, acct, caller, &r.key_id, "ScheduleKeyDeletion")?;
    let mut g = key.write();
    if let KeyState::PendingDeletion { .. } = g.state {
        return Err(Error::KmsInvalidStateException(
            format!("{} is pending deletion.", key.arn).into(),
        ));
    }
    let deletion_ms = kms.now() + u64::from(days) * DAY_MS;
    g.state = KeyState::PendingDeletion {
        deletion_ms,
        window_days: days,
    };
    Ok(KmsOutput::ScheduleKeyDeletion {
        key_id: key.arn.to_string(),
        deletion_date_ms: deletion_ms,
        key_state: g.state.as_str(),
        pending_window_in_days: days,
    })
}

fn cancel_key_deletion(kms: &Kms, acct: Home<'_>, caller: &Principal, r: &KeyIdRequest) -> Result<KmsOutput> {
    let key = customer_key(kms, acct, caller, &r.key_id, "CancelKeyDeletion")?;
    let mut g = key.write();
    if !matches!(g.state, KeyState::PendingDeletion { .. }) {
        return Err(Error::KmsInvalidStateException(
            format!("{} is not pending deletion.", key.arn).into(),
        ));
    }
    // As AWS: a key whose deletion is cancelled comes back disabled.
    g.state = KeyState::Disabled;
    Ok(KmsOutput::KeyId(key.arn.to_string()))
}

fn get_key_policy(kms: &Kms, acct: Home<'_>, r: &GetKeyPolicyRequest) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    check_policy_name(r.policy_name.as_deref())?;
    let key = kms.resolve(&r.key_id, Forms::KeyOnly, acct)?;
    let policy = key.read().policy.clone();
    Ok(KmsOutput::GetKeyPolicy {
        policy,
        policy_name: DEFAULT_POLICY.to_owned(),
    })
}

fn put_key_policy(
    kms: &Kms,
    acct: Home<'_>,
    caller: &Principal,
    r: PutKeyPolicyRequest,
) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    check_policy_name(r.policy_name.as_deref())?;
    let key = customer_key(kms, acct, caller, &r.key_id, "PutKeyPolicy")?;
    not_pending(&key)?;
    check_policy(&r.policy)?;
    let document = super::model::read_policy(&r.policy.text);
    let mut w = key.write();
    w.policy = r.policy.text;
    w.policy_document = document;
    Ok(KmsOutput::Empty)
}

fn list_key_policies(kms: &Kms, acct: Home<'_>, r: &KeyListingRequest) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    limit(r.limit, 100)?;
    kms.resolve(&r.key_id, Forms::KeyOnly, acct)?;
    Ok(KmsOutput::ListKeyPolicies(
        vec![DEFAULT_POLICY.to_owned()],
        Page::default(),
    ))
}

/// Rotation actions (`operation`) need an enabled customer-managed
/// symmetric encryption key: KMS does not rotate HMAC keys.
fn rotatable(kms: &Kms, acct: Home<'_>, key_id: &str, operation: &str) -> Result<Arc<Key>> {
    check_key_id(key_id, "keyId")?;
    let key = kms.resolve(key_id, Forms::KeyOnly, acct)?;
    if key.manager == KeyManager::Aws {
        return Err(Error::UnsupportedOperationException(
            format!(
                "{} is an AWS managed key: KMS rotates it every year and its rotation cannot be changed.",
                key.arn
            )
            .into(),
        ));
    }
    if key.spec != KeySpec::SymmetricDefault {
        return Err(Error::UnsupportedOperationException(
            format!(
                "{} key spec is {} which is not valid for {operation}.",
                key.arn,
                key.spec.as_str()
            )
            .into(),
        ));
    }
    Kms::usable(&key)?;
    Ok(key)
}

fn enable_key_rotation(kms: &Kms, acct: Home<'_>, r: &EnableKeyRotationRequest) -> Result<KmsOutput> {
    let days = r.rotation_period_in_days.unwrap_or(365);
    check_range(days, "rotationPeriodInDays", 90, 2560)?;
    let days = u32::try_from(days).unwrap_or(365);
    let key = rotatable(kms, acct, &r.key_id, "EnableKeyRotation")?;
    let mut g = key.write();
    g.rotation_period_days = Some(days);
    g.next_rotation_ms = Some(kms.now() + u64::from(days) * DAY_MS);
    Ok(KmsOutput::Empty)
}

fn disable_key_rotation(kms: &Kms, acct: Home<'_>, r: &KeyIdRequest) -> Result<KmsOutput> {
    let key = rotatable(kms, acct, &r.key_id, "DisableKeyRotation")?;
    let mut g = key.write();
    g.rotation_period_days = None;
    g.next_rotation_ms = None;
    Ok(KmsOutput::Empty)
}

fn get_key_rotation_status(kms: &Kms, acct: Home<'_>, r: &KeyIdRequest) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    let key = kms.resolve(&r.key_id, Forms::KeyOnly, acct)?;
    let g = key.read();
    // `OnDemandRotationStartDate` is sent only while an on-demand rotation
    // is in progress (AWS recorded); sealq's complete at once.
    Ok(KmsOutput::GetKeyRotationStatus {
        key_rotation_enabled: g.rotation_period_days.is_some(),
        key_id: key.arn.to_string(),
        rotation_period_in_days: g.rotation_period_days,
        next_rotation_date_ms: g.next_rotation_ms,
    })
}

fn rotate_key_on_demand(kms: &Kms, acct: Home<'_>, r: &KeyIdRequest) -> Result<KmsOutput> {
    let key = rotatable(kms, acct, &r.key_id, "RotateKeyOnDemand")?;
    let mut g = key.write();
    let done = g
        .rotations
        .iter()
        .filter(|(_, kind)| *kind == RotationKind::OnDemand)
        .count();
    if done >= MAX_ON_DEMAND_ROTATIONS {
        return Err(Error::LimitExceededException(
            format!(
                "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                key.arn
            )
            .into(),
        ));
    }
    g.versions.push(super::model::Material::random());
    g.rotations.push((kms.now(), RotationKind::OnDemand));
    Ok(KmsOutput::KeyId(key.arn.to_string()))
}

fn tag_resource(kms: &Kms, acct: Home<'_>, caller: &Principal, r: TagResourceRequest) -> Result<KmsOutput> {
    let key = customer_key(kms, acct, caller, &r.key_id, "TagResource")?;
    not_pending(&key)?;
    check_tags(&r.tags)?;
    let mut g = key.write();
    let mut tags = g.tags.clone();
    tags.extend(tag_map(r.tags));
    if tags.len() > MAX_TAGS {
        return Err(Error::TagException("Too many tags".into()));
    }
    g.tags = tags;
    Ok(KmsOutput::Empty)
}

fn untag_resource(
    kms: &Kms,
    acct: Home<'_>,
    caller: &Principal,
    r: &UntagResourceRequest,
) -> Result<KmsOutput> {
    let key = customer_key(kms, acct, caller, &r.key_id, "UntagResource")?;
    not_pending(&key)?;
    for k in &r.tag_keys {
        check_len(k, "tagKeys.member", 1, 128)?;
    }
    let mut g = key.write();
    for k in &r.tag_keys {
        g.tags.remove(k);
    }
    Ok(KmsOutput::Empty)
}

fn list_resource_tags(kms: &Kms, acct: Home<'_>, r: &KeyListingRequest) -> Result<KmsOutput> {
    check_key_id(&r.key_id, "keyId")?;
    let limit = limit(r.limit, 50)?;
    let key = kms.resolve(&r.key_id, Forms::KeyOnly, acct)?;
    let tags: Vec<Tag> = key
        .read()
        .tags
        .iter()
        .map(|(k, v)| Tag {
            tag_key: k.clone(),
            tag_value: v.clone(),
        })
        .collect();
    let (tags, page) = page(tags, |t| t.tag_key.clone(), r.marker.as_deref(), |_| true, limit)?;
    Ok(KmsOutput::ListResourceTags(tags, page))
}
