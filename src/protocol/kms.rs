//! KMS JSON 1.1 (`X-Amz-Target: TrentService.<Op>`): request bodies decoded
//! into the typed `KmsAction`, responses encoded from `KmsOutput`. Blobs are
//! base64 in JSON, timestamps are epoch seconds as JSON numbers.
//!
//! Only wire work happens here: constraints with AWS's messages are checked
//! by `kms::ops`; this module reports only what it cannot decode
//! (`SerializationException`), missing required members
//! (`ValidationException`) and unknown actions (`UnknownOperationException`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::kms::EncryptionContext;
use crate::kms::types::{
    AliasRequest, CreateKeyRequest, DecryptRequest, DeleteAliasRequest, EnableKeyRotationRequest,
    EncryptRequest, GenerateDataKeyRequest, GenerateMacRequest, GenerateRandomRequest, GetKeyPolicyRequest,
    KeyIdRequest, KeyListingRequest, KeyMetadata, KmsAction, KmsOutput, ListAliasesRequest, ListKeysRequest,
    Page, PolicyDocument, PutKeyPolicyRequest, ReEncryptRequest, ScheduleKeyDeletionRequest, Tag,
    TagResourceRequest, UntagResourceRequest, VerifyMacRequest,
};

/// Every action this module decodes.
pub(super) const ACTIONS: [&str; 29] = [
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GenerateMac",
    "VerifyMac",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
];

/// The IAM action of each of [`ACTIONS`], in the same order (`kms:NAME`).
pub(super) const IAM_ACTIONS: [&str; 29] = [
    "kms:CreateKey",
    "kms:DescribeKey",
    "kms:ListKeys",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:ListAliases",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateRandom",
    "kms:GenerateMac",
    "kms:VerifyMac",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:GetKeyRotationStatus",
    "kms:RotateKeyOnDemand",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ListResourceTags",
];

fn serialization(member: &str, expected: &str) -> Error {
    Error::SerializationException(format!("Member {member} must be {expected}.").into())
}

/// Members of a request body, consumed as they are decoded.
struct Obj(Map<String, Value>);

impl Obj {
    fn take(&mut self, name: &str) -> Option<Value> {
        match self.0.remove(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn opt_str(&mut self, name: &str) -> Result<Option<String>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(serialization(name, "a string")),
        }
    }

    /// A required string; `member` is the lowerCamel name AWS's validation
    /// messages use.
    fn str(&mut self, name: &str, member: &str) -> Result<String> {
        self.opt_str(name)?.ok_or_else(|| {
            Error::ValidationException(
                format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null").into(),
            )
        })
    }

    fn opt_int(&mut self, name: &str) -> Result<Option<i64>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| serialization(name, "an integer")),
            Some(_) => Err(serialization(name, "an integer")),
        }
    }

    fn opt_bool(&mut self, name: &str) -> Result<Option<bool>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(serialization(name, "a boolean")),
        }
    }

    fn opt_blob(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.opt_str(name)? {
            None => Ok(None),
            Some(s) => STANDARD
                .decode(s.as_bytes())
                .map(Some)
                .map_err(|_| serialization(name, "base64-encoded binary data")),
        }
    }

    fn context(&mut self, name: &str) -> Result<EncryptionContext> {
        match self.take(name) {
            None => Ok(EncryptionContext::new()),
            Some(Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    _ => Err(serialization(name, "a map of strings")),
                })
                .collect(),
            Some(_) => Err(serialization(name, "a map of strings")),
        }
    }

    fn str_list(&mut self, name: &str) -> Result<Vec<String>> {
        match self.take(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(serialization(name, "a list of strings")),
                })
                .collect(),
            Some(_) => Err(serialization(name, "a list of strings")),
        }
    }

    fn tags(&mut self, name: &str) -> Result<Vec<Tag>> {
        match self.take(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let Value::Object(m) = v else {
                        return Err(serialization(name, "a list of tags"));
                    };
                    let mut t = Self(m);
                    // AWS names the member by its 1-based index.
                    let n = i + 1;
                    Ok(Tag {
                        tag_key: t.str("TagKey", &format!("tags.{n}.member.tagKey"))?,
                        tag_value: t.str("TagValue", &format!("tags.{n}.member.tagValue"))?,
                    })
                })
                .collect(),
            Some(_) => Err(serialization(name, "a list of tags")),
        }
    }

    fn policy(&mut self, name: &str) -> Result<Option<PolicyDocument>> {
        Ok(self.opt_str(name)?.map(policy_document))
    }

    fn key_id(&mut self) -> Result<String> {
        self.str("KeyId", "keyId")
    }

    fn key_id_request(&mut self) -> Result<KeyIdRequest> {
        Ok(KeyIdRequest {
            key_id: self.key_id()?,
        })
    }

    fn listing(&mut self) -> Result<KeyListingRequest> {
        Ok(KeyListingRequest {
            key_id: self.key_id()?,
            limit: self.opt_int("Limit")?,
            marker: self.opt_str("Marker")?,
        })
    }

    fn alias(&mut self) -> Result<AliasRequest> {
        Ok(AliasRequest {
            alias_name: self.str("AliasName", "aliasName")?,
            target_key_id: self.str("TargetKeyId", "targetKeyId")?,
        })
    }

    fn data_key(&mut self) -> Result<GenerateDataKeyRequest> {
        Ok(GenerateDataKeyRequest {
            key_id: self.key_id()?,
            encryption_context: self.context("EncryptionContext")?,
            number_of_bytes: self.opt_int("NumberOfBytes")?,
            key_spec: self.opt_str("KeySpec")?,
        })
    }
}

/// KMS actions of the service model that sealq does not offer (grants,
/// custom key stores, asymmetric keys, key import, multi-Region keys, and
/// a few others): AWS would accept them, so they are
/// `UnsupportedOperationException`, not unknown.
const NOT_OFFERED: [&str; 25] = [
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "CreateGrant",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GetKeyLastUsage",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListGrants",
    "ListKeyRotations",
    "ListRetirableGrants",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "Sign",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
];

/// Decodes the body of a KMS request for `action`.
///
/// # Errors
/// `UnsupportedOperationException` for an action of the KMS model sealq
/// does not offer, `UnknownOperationException` for any other it does not
/// serve,
/// `SerializationException` for a body that is not a JSON object or a member
/// of the wrong type, `ValidationException` for a missing required member.
pub(super) fn kms_action(action: &str, body: &[u8]) -> Result<KmsAction> {
    if NOT_OFFERED.contains(&action) {
        return Err(Error::UnsupportedOperationException(
            format!("{action} is not supported by sealq.").into(),
        ));
    }
    if !ACTIONS.contains(&action) {
        return Err(Error::UnknownOperationException(String::new().into()));
    }
    let map = super::json_object(body)?;
    let mut o = Obj(map);
    Ok(match action {
        "CreateKey" => KmsAction::CreateKey(CreateKeyRequest {
            policy: o.policy("Policy")?,
            description: o.opt_str("Description")?,
            key_usage: o.opt_str("KeyUsage")?,
            customer_master_key_spec: o.opt_str("CustomerMasterKeySpec")?,
            key_spec: o.opt_str("KeySpec")?,
            origin: o.opt_str("Origin")?,
            custom_key_store_id: o.opt_str("CustomKeyStoreId")?,
            tags: o.tags("Tags")?,
            multi_region: o.opt_bool("MultiRegion")?,
        }),
        "DescribeKey" => KmsAction::DescribeKey(o.key_id_request()?),
        "ListKeys" => KmsAction::ListKeys(ListKeysRequest {
            limit: o.opt_int("Limit")?,
            marker: o.opt_str("Marker")?,
        }),
        "CreateAlias" => KmsAction::CreateAlias(o.alias()?),
        "UpdateAlias" => KmsAction::UpdateAlias(o.alias()?),
        "DeleteAlias" => KmsAction::DeleteAlias(DeleteAliasRequest {
            alias_name: o.str("AliasName", "aliasName")?,
        }),
        "ListAliases" => KmsAction::ListAliases(ListAliasesRequest {
            key_id: o.opt_str("KeyId")?,
            limit: o.opt_int("Limit")?,
            marker: o.opt_str("Marker")?,
        }),
        "Encrypt" => KmsAction::Encrypt(EncryptRequest {
            key_id: o.key_id()?,
            plaintext: Zeroizing::new(o.opt_blob("Plaintext")?.ok_or_else(|| {
                Error::ValidationException(
                    "1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: Member must not be null".into(),
                )
            })?),
            encryption_context: o.context("EncryptionContext")?,
            encryption_algorithm: o.opt_str("EncryptionAlgorithm")?,
        }),
        "Decrypt" => KmsAction::Decrypt(DecryptRequest {
            ciphertext_blob: o.opt_blob("CiphertextBlob")?,
            encryption_context: o.context("EncryptionContext")?,
            key_id: o.opt_str("KeyId")?,
            encryption_algorithm: o.opt_str("EncryptionAlgorithm")?,
        }),
        "ReEncrypt" => KmsAction::ReEncrypt(ReEncryptRequest {
            ciphertext_blob: o.opt_blob("CiphertextBlob")?,
            source_encryption_context: o.context("SourceEncryptionContext")?,
            source_key_id: o.opt_str("SourceKeyId")?,
            destination_key_id: o.str("DestinationKeyId", "destinationKeyId")?,
            destination_encryption_context: o.context("DestinationEncryptionContext")?,
            source_encryption_algorithm: o.opt_str("SourceEncryptionAlgorithm")?,
            destination_encryption_algorithm: o.opt_str("DestinationEncryptionAlgorithm")?,
        }),
        "GenerateDataKey" => KmsAction::GenerateDataKey(o.data_key()?),
        "GenerateDataKeyWithoutPlaintext" => KmsAction::GenerateDataKeyWithoutPlaintext(o.data_key()?),
        "GenerateRandom" => KmsAction::GenerateRandom(GenerateRandomRequest {
            number_of_bytes: o.opt_int("NumberOfBytes")?,
            custom_key_store_id: o.opt_str("CustomKeyStoreId")?,
        }),
        "GenerateMac" => KmsAction::GenerateMac(GenerateMacRequest {
            message: o.opt_blob("Message")?.map(Zeroizing::new),
            key_id: o.key_id()?,
            mac_algorithm: o.str("MacAlgorithm", "macAlgorithm")?,
        }),
        "VerifyMac" => KmsAction::VerifyMac(VerifyMacRequest {
            message: o.opt_blob("Message")?.map(Zeroizing::new),
            key_id: o.key_id()?,
            mac_algorithm: o.str("MacAlgorithm", "macAlgorithm")?,
            mac: o.opt_blob("Mac")?,
        }),
        "EnableKey" => KmsAction::EnableKey(o.key_id_request()?),
        "DisableKey" => KmsAction::DisableKey(o.key_id_request()?),
        "ScheduleKeyDeletion" => KmsAction::ScheduleKeyDeletion(ScheduleKeyDeletionRequest {
            key_id: o.key_id()?,
            pending_window_in_days: o.opt_int("PendingWindowInDays")?,
        }),
        "CancelKeyDeletion" => KmsAction::CancelKeyDeletion(o.key_id_request()?),
        "GetKeyPolicy" => KmsAction::GetKeyPolicy(GetKeyPolicyRequest {
            key_id: o.key_id()?,
            policy_name: o.opt_str("PolicyName")?,
        }),
        "PutKeyPolicy" => KmsAction::PutKeyPolicy(PutKeyPolicyRequest {
            key_id: o.key_id()?,
            policy_name: o.opt_str("PolicyName")?,
            policy: o.policy("Policy")?.ok_or_else(|| {
                Error::ValidationException(
                    "1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null".into(),
                )
            })?,
        }),
        "ListKeyPolicies" => KmsAction::ListKeyPolicies(o.listing()?),
        "EnableKeyRotation" => KmsAction::EnableKeyRotation(EnableKeyRotationRequest {
            key_id: o.key_id()?,
            rotation_period_in_days: o.opt_int("RotationPeriodInDays")?,
        }),
        "DisableKeyRotation" => KmsAction::DisableKeyRotation(o.key_id_request()?),
        "GetKeyRotationStatus" => KmsAction::GetKeyRotationStatus(o.key_id_request()?),
        "RotateKeyOnDemand" => KmsAction::RotateKeyOnDemand(o.key_id_request()?),
        "TagResource" => KmsAction::TagResource(TagResourceRequest {
            key_id: o.key_id()?,
            tags: o.tags("Tags")?,
        }),
        "UntagResource" => KmsAction::UntagResource(UntagResourceRequest {
            key_id: o.key_id()?,
            tag_keys: o.str_list("TagKeys")?,
        }),
        "ListResourceTags" => KmsAction::ListResourceTags(o.listing()?),
        _ => return Err(Error::UnknownOperationException(String::new().into())),
    })
}

/// Epoch milliseconds as KMS's epoch-seconds JSON number.
fn seconds(ms: u64) -> Value {
    // Millisecond precision survives the conversion (f64 has 52 bits).
    #[allow(clippy::cast_precision_loss)]
    let s = ms as f64 / 1000.0;
    json!(s)
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(STANDARD.encode(bytes))
}

fn key_metadata(m: KeyMetadata) -> Value {
    let mut o = Map::new();
    o.insert("AWSAccountId".into(), json!(m.aws_account_id));
    o.insert("KeyId".into(), json!(m.key_id));
    o.insert("Arn".into(), json!(m.arn));
    o.insert("CreationDate".into(), seconds(m.creation_date_ms));
    o.insert("Enabled".into(), json!(m.enabled));
    o.insert("Description".into(), json!(m.description));
    o.insert("KeyUsage".into(), json!(m.key_usage));
    o.insert("KeyState".into(), json!(m.key_state));
    if let Some(d) = m.deletion_date_ms {
        o.insert("DeletionDate".into(), seconds(d));
    }
    if let Some(w) = m.pending_deletion_window_in_days {
        o.insert("PendingDeletionWindowInDays".into(), json!(w));
    }
    o.insert("Origin".into(), json!(m.origin));
    o.insert("KeyManager".into(), json!(m.key_manager));
    o.insert("CustomerMasterKeySpec".into(), json!(m.customer_master_key_spec));
    o.insert("KeySpec".into(), json!(m.key_spec));
    // Each list is sent only for the keys it describes, as AWS does:
    // EncryptionAlgorithms for encryption keys, MacAlgorithms for HMAC keys.
    if !m.encryption_algorithms.is_empty() {
        o.insert("EncryptionAlgorithms".into(), json!(m.encryption_algorithms));
    }
    if !m.mac_algorithms.is_empty() {
        o.insert("MacAlgorithms".into(), json!(m.mac_algorithms));
    }
    o.insert("MultiRegion".into(), json!(m.multi_region));
    if let Some(id) = m.current_key_material_id {
        o.insert("CurrentKeyMaterialId".into(), json!(id));
    }
    Value::Object(o)
}

fn with_page(mut o: Map<String, Value>, page: Page) -> Value {
    if let Some(m) = page.next_marker {
        o.insert("NextMarker".into(), json!(m));
    }
    o.insert("Truncated".into(), json!(page.truncated));
    Value::Object(o)
}

/// The JSON body of a KMS response.
pub(super) fn encode(out: KmsOutput) -> Vec<u8> {
    let v = match out {
        KmsOutput::Empty => json!({}),
        KmsOutput::KeyMetadata(m) => json!({ "KeyMetadata": key_metadata(*m) }),
        KmsOutput::ListKeys(keys, page) => {
            let keys: Vec<Value> = keys
                .into_iter()
                .map(|k| json!({ "KeyId": k.key_id, "KeyArn": k.key_arn }))
                .collect();
            let mut o = Map::new();
            o.insert("Keys".into(), Value::Array(keys));
            with_page(o, page)
        }
        KmsOutput::ListAliases(aliases, page) => {
            let aliases: Vec<Value> = aliases
                .into_iter()
                .map(|a| {
                    json!({
                        "AliasName": a.alias_name,
                        "AliasArn": a.alias_arn,
                        "TargetKeyId": a.target_key_id,
                        "CreationDate": seconds(a.creation_date_ms),
                        "LastUpdatedDate": seconds(a.last_updated_date_ms),
                    })
                })
                .collect();
            let mut o = Map::new();
            o.insert("Aliases".into(), Value::Array(aliases));
            with_page(o, page)
        }
        KmsOutput::Encrypt {
            ciphertext_blob,
            key_id,
        } => json!({
            "CiphertextBlob": b64(&ciphertext_blob),
            "KeyId": key_id,
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }),
        KmsOutput::Decrypt {
            key_id,
            plaintext,
            key_material_id,
        } => json!({
            "KeyId": key_id,
            "Plaintext": b64(&plaintext),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "KeyMaterialId": key_material_id,
        }),
        KmsOutput::ReEncrypt {
            ciphertext_blob,
            source_key_id,
            key_id,
            source_key_material_id,
            destination_key_material_id,
        } => json!({
            "CiphertextBlob": b64(&ciphertext_blob),
            "SourceKeyId": source_key_id,
            "KeyId": key_id,
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "SourceKeyMaterialId": source_key_material_id,
            "DestinationKeyMaterialId": destination_key_material_id,
        }),
        KmsOutput::GenerateDataKey {
            ciphertext_blob,
            plaintext,
            key_id,
            key_material_id,
        } => {
            let mut o = Map::new();
            o.insert("CiphertextBlob".into(), b64(&ciphertext_blob));
            if let Some(p) = plaintext {
                o.insert("Plaintext".into(), b64(&p));
            }
            o.insert("KeyId".into(), json!(key_id));
            if let Some(id) = key_material_id {
                o.insert("KeyMaterialId".into(), json!(id));
            }
            Value::Object(o)
        }
        KmsOutput::GenerateRandom(bytes) => json!({ "Plaintext": b64(&bytes) }),
        KmsOutput::GenerateMac {
            mac,
            mac_algorithm,
            key_id,
        } => json!({
            "Mac": b64(&mac),
            "MacAlgorithm": mac_algorithm,
            "KeyId": key_id,
        }),
        KmsOutput::VerifyMac {
            key_id,
            mac_algorithm,
        } => json!({
            "KeyId": key_id,
            "MacValid": true,
            "MacAlgorithm": mac_algorithm,
        }),
        KmsOutput::ScheduleKeyDeletion {
            key_id,
            deletion_date_ms,
            key_state,
            pending_window_in_days,
        } => json!({
            "KeyId": key_id,
            "DeletionDate": seconds(deletion_date_ms),
            "KeyState": key_state,
            "PendingWindowInDays": pending_window_in_days,
        }),
        KmsOutput::KeyId(key_id) => json!({ "KeyId": key_id }),
        KmsOutput::GetKeyPolicy { policy, policy_name } => {
            json!({ "Policy": policy, "PolicyName": policy_name })
        }
        KmsOutput::ListKeyPolicies(names, page) => {
            let mut o = Map::new();
            o.insert("PolicyNames".into(), json!(names));
            with_page(o, page)
        }
        KmsOutput::GetKeyRotationStatus {
            key_rotation_enabled,
            key_id,
            rotation_period_in_days,
            next_rotation_date_ms,
        } => {
            let mut o = Map::new();
            o.insert("KeyRotationEnabled".into(), json!(key_rotation_enabled));
            o.insert("KeyId".into(), json!(key_id));
            if let Some(d) = rotation_period_in_days {
                o.insert("RotationPeriodInDays".into(), json!(d));
            }
            if let Some(ms) = next_rotation_date_ms {
                o.insert("NextRotationDate".into(), seconds(ms));
            }
            Value::Object(o)
        }
        KmsOutput::ListResourceTags(tags, page) => {
            let tags: Vec<Value> = tags
                .into_iter()
                .map(|t| json!({ "TagKey": t.tag_key, "TagValue": t.tag_value }))
                .collect();
            let mut o = Map::new();
            o.insert("Tags".into(), Value::Array(tags));
            with_page(o, page)
        }
    };
    // An optional member that is absent is left out, never sent as null.
    let v = match v {
        Value::Object(mut o) => {
            o.retain(|_, m| !m.is_null());
            Value::Object(o)
        }
        other => other,
    };
    v.to_string().into_bytes()
}

/// A key policy as the KMS actions take it: the text, and whether it is a
/// JSON object (judged here, where JSON is known). Also used for key
/// policies read from a configuration file.
pub fn policy_document(text: String) -> PolicyDocument {
    let well_formed = matches!(serde_json::from_str::<Value>(&text), Ok(Value::Object(_)));
    PolicyDocument { text, well_formed }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_action_has_its_iam_action() {
        for (a, iam) in super::ACTIONS.iter().zip(super::IAM_ACTIONS) {
            assert_eq!(format!("kms:{a}"), iam);
        }
    }

    use super::*;

    #[test]
    fn unknown_actions_and_bad_bodies_are_refused() {
        assert!(matches!(
            kms_action("Frobnicate", b"{}"),
            Err(Error::UnknownOperationException(_))
        ));
        assert!(matches!(
            kms_action("ListKeys", b"[1]"),
            Err(Error::SerializationException(_))
        ));
        assert!(matches!(
            kms_action("Encrypt", br#"{"KeyId":"k","Plaintext":"@@"}"#),
            Err(Error::SerializationException(_))
        ));
        assert!(matches!(
            kms_action("DescribeKey", b"{}"),
            Err(Error::ValidationException(_))
        ));
    }

    #[test]
    fn blobs_are_base64_and_times_are_epoch_seconds() {
        let Ok(KmsAction::Encrypt(r)) = kms_action(
            "Encrypt",
            br#"{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":{"a":"b"}}"#,
        ) else {
            panic!("not decoded")
        };
        assert_eq!(&r.plaintext[..], b"hi");
        assert_eq!(r.encryption_context.get("a").map(String::as_str), Some("b"));
        let body = encode(KmsOutput::ScheduleKeyDeletion {
            key_id: "arn".into(),
            deletion_date_ms: 1_700_000_000_500,
            key_state: "PendingDeletion",
            pending_window_in_days: 7,
        });
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["DeletionDate"], json!(1_700_000_000.5));
    }

    #[test]
    fn policies_are_judged_as_json_objects() {
        let Ok(KmsAction::PutKeyPolicy(r)) =
            kms_action("PutKeyPolicy", br#"{"KeyId":"k","Policy":"not json"}"#)
        else {
            panic!("not decoded")
        };
        assert!(!r.policy.well_formed);
    }
}
