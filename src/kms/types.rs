//! The KMS API's typed requests and responses, named as the shapes of the
//! KMS service model (`*Request`, `*Response`, `KeyMetadata`, ...). No wire
//! format here and nothing derives `Serialize`: `crate::protocol::kms`
//! decodes into and encodes out of these types. Plaintexts are held in
//! `Zeroizing` buffers.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::EncryptionContext;

/// A key policy document as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The document, verbatim.
    pub text: String,
    /// Whether the text is a JSON object (judged by the protocol layer).
    pub well_formed: bool,
}

/// One tag (`Tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// `TagKey`.
    pub tag_key: String,
    /// `TagValue`.
    pub tag_value: String,
}

/// `CreateKeyRequest`.
#[derive(Debug, Default)]
pub struct CreateKeyRequest {
    /// `Policy`.
    pub policy: Option<PolicyDocument>,
    /// `Description`.
    pub description: Option<String>,
    /// `KeyUsage`.
    pub key_usage: Option<String>,
    /// `CustomerMasterKeySpec` (deprecated alias of `KeySpec`).
    pub customer_master_key_spec: Option<String>,
    /// `KeySpec`.
    pub key_spec: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `CustomKeyStoreId`.
    pub custom_key_store_id: Option<String>,
    /// `Tags`.
    pub tags: Vec<Tag>,
    /// `MultiRegion`.
    pub multi_region: Option<bool>,
}

/// A request that names one key and nothing else (DescribeKey, EnableKey,
/// DisableKey, CancelKeyDeletion, DisableKeyRotation, GetKeyRotationStatus,
/// RotateKeyOnDemand).
#[derive(Debug, Default)]
pub struct KeyIdRequest {
    /// `KeyId`.
    pub key_id: String,
}

/// `ListKeysRequest`.
#[derive(Debug, Default)]
pub struct ListKeysRequest {
    /// `Limit`.
    pub limit: Option<i64>,
    /// `Marker`.
    pub marker: Option<String>,
}

/// `CreateAliasRequest` and `UpdateAliasRequest`.
#[derive(Debug, Default)]
pub struct AliasRequest {
    /// `AliasName`.
    pub alias_name: String,
    /// `TargetKeyId`.
    pub target_key_id: String,
}

/// `DeleteAliasRequest`.
#[derive(Debug, Default)]
pub struct DeleteAliasRequest {
    /// `AliasName`.
    pub alias_name: String,
}

/// `ListAliasesRequest`.
#[derive(Debug, Default)]
pub struct ListAliasesRequest {
    /// `KeyId`.
    pub key_id: Option<String>,
    /// `Limit`.
    pub limit: Option<i64>,
    /// `Marker`.
    pub marker: Option<String>,
}

/// `EncryptRequest`.
#[derive(Debug, Default)]
pub struct EncryptRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `Plaintext`.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// `EncryptionContext`.
    pub encryption_context: EncryptionContext,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: Option<String>,
}

/// `DecryptRequest`.
#[derive(Debug, Default)]
pub struct DecryptRequest {
    /// `CiphertextBlob`.
    pub ciphertext_blob: Option<Vec<u8>>,
    /// `EncryptionContext`.
    pub encryption_context: EncryptionContext,
    /// `KeyId`.
    pub key_id: Option<String>,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: Option<String>,
}

/// `ReEncryptRequest`.
#[derive(Debug, Default)]
pub struct ReEncryptRequest {
    /// `CiphertextBlob`.
    pub ciphertext_blob: Option<Vec<u8>>,
    /// `SourceEncryptionContext`.
    pub source_encryption_context: EncryptionContext,
    /// `SourceKeyId`.
    pub source_key_id: Option<String>,
    /// `DestinationKeyId`.
    pub destination_key_id: String,
    /// `DestinationEncryptionContext`.
    pub destination_encryption_context: EncryptionContext,
    /// `SourceEncryptionAlgorithm`.
    pub source_encryption_algorithm: Option<String>,
    /// `DestinationEncryptionAlgorithm`.
    pub destination_encryption_algorithm: Option<String>,
}

/// `GenerateDataKeyRequest` and `GenerateDataKeyWithoutPlaintextRequest`.
#[derive(Debug, Default)]
pub struct GenerateDataKeyRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `EncryptionContext`.
    pub encryption_context: EncryptionContext,
    /// `NumberOfBytes`.
    pub number_of_bytes: Option<i64>,
    /// `KeySpec`.
    pub key_spec: Option<String>,
}

/// `GenerateMacRequest`.
#[derive(Debug, Default)]
pub struct GenerateMacRequest {
    /// `Message` (absent when the client left it out).
    pub message: Option<Zeroizing<Vec<u8>>>,
    /// `KeyId`.
    pub key_id: String,
    /// `MacAlgorithm`.
    pub mac_algorithm: String,
}

/// `VerifyMacRequest`.
#[derive(Debug, Default)]
pub struct VerifyMacRequest {
    /// `Message` (absent when the client left it out).
    pub message: Option<Zeroizing<Vec<u8>>>,
    /// `KeyId`.
    pub key_id: String,
    /// `MacAlgorithm`.
    pub mac_algorithm: String,
    /// `Mac` (absent when the client left it out).
    pub mac: Option<Vec<u8>>,
}

/// `GenerateRandomRequest`.
#[derive(Debug, Default)]
pub struct GenerateRandomRequest {
    /// `NumberOfBytes`.
    pub number_of_bytes: Option<i64>,
    /// `CustomKeyStoreId`.
    pub custom_key_store_id: Option<String>,
}

/// `ScheduleKeyDeletionRequest`.
#[derive(Debug, Default)]
pub struct ScheduleKeyDeletionRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `PendingWindowInDays`.
    pub pending_window_in_days: Option<i64>,
}

/// `GetKeyPolicyRequest`.
#[derive(Debug, Default)]
pub struct GetKeyPolicyRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `PolicyName`.
    pub policy_name: Option<String>,
}

/// `PutKeyPolicyRequest`.
#[derive(Debug)]
pub struct PutKeyPolicyRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `PolicyName`.
    pub policy_name: Option<String>,
    /// `Policy`.
    pub policy: PolicyDocument,
}

/// `ListKeyPoliciesRequest` and `ListResourceTagsRequest`.
#[derive(Debug, Default)]
pub struct KeyListingRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `Limit`.
    pub limit: Option<i64>,
    /// `Marker`.
    pub marker: Option<String>,
}

/// `EnableKeyRotationRequest`.
#[derive(Debug, Default)]
pub struct EnableKeyRotationRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `RotationPeriodInDays`.
    pub rotation_period_in_days: Option<i64>,
}

/// `TagResourceRequest`.
#[derive(Debug, Default)]
pub struct TagResourceRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `Tags`.
    pub tags: Vec<Tag>,
}

/// `UntagResourceRequest`.
#[derive(Debug, Default)]
pub struct UntagResourceRequest {
    /// `KeyId`.
    pub key_id: String,
    /// `TagKeys`.
    pub tag_keys: Vec<String>,
}

/// Every KMS API action sealq serves, with its decoded request.
#[derive(Debug)]
pub enum KmsAction {
    /// CreateKey.
    CreateKey(CreateKeyRequest),
    /// DescribeKey.
    DescribeKey(KeyIdRequest),
    /// ListKeys.
    ListKeys(ListKeysRequest),
    /// CreateAlias.
    CreateAlias(AliasRequest),
    /// UpdateAlias.
    UpdateAlias(AliasRequest),
    /// DeleteAlias.
    DeleteAlias(DeleteAliasRequest),
    /// ListAliases.
    ListAliases(ListAliasesRequest),
    /// Encrypt.
    Encrypt(EncryptRequest),
    /// Decrypt.
    Decrypt(DecryptRequest),
    /// ReEncrypt.
    ReEncrypt(ReEncryptRequest),
    /// GenerateDataKey.
    GenerateDataKey(GenerateDataKeyRequest),
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext(GenerateDataKeyRequest),
    /// GenerateRandom.
    GenerateRandom(GenerateRandomRequest),
    /// GenerateMac.
    GenerateMac(GenerateMacRequest),
    /// VerifyMac.
    VerifyMac(VerifyMacRequest),
    /// EnableKey.
    EnableKey(KeyIdRequest),
    /// DisableKey.
    DisableKey(KeyIdRequest),
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion(ScheduleKeyDeletionRequest),
    /// CancelKeyDeletion.
    CancelKeyDeletion(KeyIdRequest),
    /// GetKeyPolicy.
    GetKeyPolicy(GetKeyPolicyRequest),
    /// PutKeyPolicy.
    PutKeyPolicy(PutKeyPolicyRequest),
    /// ListKeyPolicies.
    ListKeyPolicies(KeyListingRequest),
    /// EnableKeyRotation.
    EnableKeyRotation(EnableKeyRotationRequest),
    /// DisableKeyRotation.
    DisableKeyRotation(KeyIdRequest),
    /// GetKeyRotationStatus.
    GetKeyRotationStatus(KeyIdRequest),
    /// RotateKeyOnDemand.
    RotateKeyOnDemand(KeyIdRequest),
    /// TagResource.
    TagResource(TagResourceRequest),
    /// UntagResource.
    UntagResource(UntagResourceRequest),
    /// ListResourceTags.
    ListResourceTags(KeyListingRequest),
}

impl KmsAction {
    /// For ReEncrypt, the key its ciphertext was made under: `SourceKeyId`,
    /// else the key the blob's header names.
    ///
    /// A key id read from the blob's header goes through `from_blob`, which
    /// may name the key by ARN: a blob's key may be in any account.
    pub fn reencrypt_source(&self, from_blob: impl Fn(String) -> String) -> Option<String> {
        let Self::ReEncrypt(r) = self else {
            return None;
        };
        r.source_key_id.clone().or_else(|| {
            r.ciphertext_blob
                .as_deref()
                .and_then(super::blob::header)
                .map(|h| from_blob(uuid::Uuid::from_bytes(h.key_id).to_string()))
        })
    }

    /// The alias CreateAlias, UpdateAlias or DeleteAlias is about.
    pub fn alias_name(&self) -> Option<&str> {
        match self {
            Self::CreateAlias(r) | Self::UpdateAlias(r) => Some(&r.alias_name),
            Self::DeleteAlias(r) => Some(&r.alias_name),
            _ => None,
        }
    }

    /// The key the request names, for the metrics label: [`Self::key_id`],
    /// or for a Decrypt without `KeyId` the id of the key its ciphertext
    /// blob's header names (the key a failed Decrypt was about), through
    /// `from_blob` as for [`Self::reencrypt_source`].
    pub fn named_key(&self, from_blob: impl Fn(String) -> String) -> Option<String> {
        if let Self::Decrypt(r) = self
            && r.key_id.is_none()
        {
            return r
                .ciphertext_blob
                .as_deref()
                .and_then(super::blob::header)
                .map(|h| from_blob(uuid::Uuid::from_bytes(h.key_id).to_string()));
        }
        self.key_id().map(str::to_owned)
    }

    /// The key identifier the request names, as the client wrote it (the
    /// destination key of ReEncrypt, the target of an alias).
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Self::CreateKey(_) | Self::ListKeys(_) | Self::DeleteAlias(_) | Self::GenerateRandom(_) => None,
            Self::ListAliases(r) => r.key_id.as_deref(),
            Self::Decrypt(r) => r.key_id.as_deref(),
            Self::CreateAlias(r) | Self::UpdateAlias(r) => Some(&r.target_key_id),
            Self::ReEncrypt(r) => Some(&r.destination_key_id),
            Self::Encrypt(r) => Some(&r.key_id),
            Self::GenerateDataKey(r) | Self::GenerateDataKeyWithoutPlaintext(r) => Some(&r.key_id),
            Self::GenerateMac(r) => Some(&r.key_id),
            Self::VerifyMac(r) => Some(&r.key_id),
            Self::ScheduleKeyDeletion(r) => Some(&r.key_id),
            Self::GetKeyPolicy(r) => Some(&r.key_id),
            Self::PutKeyPolicy(r) => Some(&r.key_id),
            Self::ListKeyPolicies(r) | Self::ListResourceTags(r) => Some(&r.key_id),
            Self::EnableKeyRotation(r) => Some(&r.key_id),
            Self::TagResource(r) => Some(&r.key_id),
            Self::UntagResource(r) => Some(&r.key_id),
            Self::DescribeKey(r)
            | Self::EnableKey(r)
            | Self::DisableKey(r)
            | Self::CancelKeyDeletion(r)
            | Self::DisableKeyRotation(r)
            | Self::GetKeyRotationStatus(r)
            | Self::RotateKeyOnDemand(r) => Some(&r.key_id),
        }
    }
}

/// `KeyMetadata`. Times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    /// `AWSAccountId`.
    pub aws_account_id: String,
    /// `KeyId`.
    pub key_id: String,
    /// `Arn`.
    pub arn: String,
    /// `CreationDate`.
    pub creation_date_ms: u64,
    /// `Enabled`.
    pub enabled: bool,
    /// `Description`.
    pub description: String,
    /// `KeyUsage`.
    pub key_usage: &'static str,
    /// `KeyState`.
    pub key_state: &'static str,
    /// `DeletionDate` (pending deletion only).
    pub deletion_date_ms: Option<u64>,
    /// `PendingDeletionWindowInDays` (pending deletion only).
    pub pending_deletion_window_in_days: Option<u32>,
    /// `Origin`.
    pub origin: &'static str,
    /// `KeyManager`.
    pub key_manager: &'static str,
    /// `CustomerMasterKeySpec`.
    pub customer_master_key_spec: &'static str,
    /// `KeySpec`.
    pub key_spec: &'static str,
    /// `EncryptionAlgorithms` (empty, and not sent, for HMAC keys).
    pub encryption_algorithms: Vec<&'static str>,
    /// `MacAlgorithms` (empty, and not sent, for encryption keys).
    pub mac_algorithms: Vec<&'static str>,
    /// `MultiRegion`.
    pub multi_region: bool,
    /// `CurrentKeyMaterialId` (symmetric encryption keys only).
    pub current_key_material_id: Option<String>,
}

/// `KeyListEntry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListEntry {
    /// `KeyId`.
    pub key_id: String,
    /// `KeyArn`.
    pub key_arn: String,
}

/// `AliasListEntry`. Times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasListEntry {
    /// `AliasName`.
    pub alias_name: String,
    /// `AliasArn`.
    pub alias_arn: String,
    /// `TargetKeyId`.
    pub target_key_id: String,
    /// `CreationDate`.
    pub creation_date_ms: u64,
    /// `LastUpdatedDate`.
    pub last_updated_date_ms: u64,
}

/// A page of a listing: `NextMarker` and `Truncated`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// `NextMarker`, when truncated.
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}

/// Every KMS API response, one variant per response shape.
#[derive(Debug)]
pub enum KmsOutput {
    /// Actions whose response has no members.
    Empty,
    /// `CreateKeyResponse` / `DescribeKeyResponse` (boxed: by far the
    /// largest response).
    KeyMetadata(Box<KeyMetadata>),
    /// `ListKeysResponse`.
    ListKeys(Vec<KeyListEntry>, Page),
    /// `ListAliasesResponse`.
    ListAliases(Vec<AliasListEntry>, Page),
    /// `EncryptResponse`.
    Encrypt {
        /// `CiphertextBlob`.
        ciphertext_blob: Vec<u8>,
        /// `KeyId` (key ARN).
        key_id: String,
    },
    /// `DecryptResponse`.
    Decrypt {
        /// `KeyId` (key ARN).
        key_id: String,
        /// `Plaintext`.
        plaintext: Zeroizing<Vec<u8>>,
        /// `KeyMaterialId` of the backing-key version that opened it.
        key_material_id: Option<String>,
    },
    /// `ReEncryptResponse`.
    ReEncrypt {
        /// `CiphertextBlob`.
        ciphertext_blob: Vec<u8>,
        /// `SourceKeyId` (key ARN).
        source_key_id: String,
        /// `KeyId` (destination key ARN).
        key_id: String,
        /// `SourceKeyMaterialId`.
        source_key_material_id: Option<String>,
        /// `DestinationKeyMaterialId`.
        destination_key_material_id: Option<String>,
    },
    /// `GenerateDataKeyResponse` (with `Plaintext`) and
    /// `GenerateDataKeyWithoutPlaintextResponse` (without).
    GenerateDataKey {
        /// `CiphertextBlob`.
        ciphertext_blob: Vec<u8>,
        /// `Plaintext`.
        plaintext: Option<Zeroizing<Vec<u8>>>,
        /// `KeyId` (key ARN).
        key_id: String,
        /// `KeyMaterialId` of the backing-key version that sealed it.
        key_material_id: Option<String>,
    },
    /// `GenerateRandomResponse`.
    GenerateRandom(Zeroizing<Vec<u8>>),
    /// `GenerateMacResponse`.
    GenerateMac {
        /// `Mac`.
        mac: Vec<u8>,
        /// `MacAlgorithm`.
        mac_algorithm: &'static str,
        /// `KeyId` (key ARN).
        key_id: String,
    },
    /// `VerifyMacResponse` (`MacValid` is always true: a MAC that does not
    /// verify is `KMSInvalidMacException`).
    VerifyMac {
        /// `KeyId` (key ARN).
        key_id: String,
        /// `MacAlgorithm`.
        mac_algorithm: &'static str,
    },
    /// `ScheduleKeyDeletionResponse`.
    ScheduleKeyDeletion {
        /// `KeyId` (key ARN).
        key_id: String,
        /// `DeletionDate`.
        deletion_date_ms: u64,
        /// `KeyState`.
        key_state: &'static str,
        /// `PendingWindowInDays`.
        pending_window_in_days: u32,
    },
    /// `CancelKeyDeletionResponse` and `RotateKeyOnDemandResponse`: `KeyId`.
    KeyId(String),
    /// `GetKeyPolicyResponse`.
    GetKeyPolicy {
        /// `Policy`.
        policy: String,
        /// `PolicyName`.
        policy_name: String,
    },
    /// `ListKeyPoliciesResponse`.
    ListKeyPolicies(Vec<String>, Page),
    /// `GetKeyRotationStatusResponse`.
    GetKeyRotationStatus {
        /// `KeyRotationEnabled`.
        key_rotation_enabled: bool,
        /// `KeyId` (key ARN).
        key_id: String,
        /// `RotationPeriodInDays`, when enabled.
        rotation_period_in_days: Option<u32>,
        /// `NextRotationDate`, when enabled.
        next_rotation_date_ms: Option<u64>,
    },
    /// `ListResourceTagsResponse`.
    ListResourceTags(Vec<Tag>, Page),
}

impl KmsOutput {
    /// The ARN of the key the response names, if it names one.
    pub fn key_arn(&self) -> Option<&str> {
        match self {
            Self::KeyMetadata(m) => Some(&m.arn),
            Self::Encrypt { key_id, .. }
            | Self::Decrypt { key_id, .. }
            | Self::ReEncrypt { key_id, .. }
            | Self::GenerateDataKey { key_id, .. }
            | Self::GenerateMac { key_id, .. }
            | Self::VerifyMac { key_id, .. }
            | Self::ScheduleKeyDeletion { key_id, .. }
            | Self::GetKeyRotationStatus { key_id, .. }
            | Self::KeyId(key_id) => Some(key_id),
            _ => None,
        }
    }
}

/// Tags as a map, for storing.
pub(crate) fn tag_map(tags: Vec<Tag>) -> BTreeMap<String, String> {
    tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect()
}
