//! The KMS model: keys, aliases, key states, policies, rotation, and the
//! ciphertext-blob format; served on the same port as SQS (JSON 1.1,
//! `TrentService.*`) and called in-process by SQS's envelope encryption.
//!
//! CONTRACT (in-process API used by `crate::crypto`; do not change the
//! signatures without telling the crypto side):
//! - [`Kms::generate_data_key`] and [`Kms::decrypt`] behave exactly like the
//!   KMS API actions of the same name, made as `caller`, and check key state
//!   and the fault switch the same way.
//! - [`Kms::aws_managed_key`] creates `alias/aws/<service>` of an account on
//!   first use.
//! - A key id or alias name the service passes resolves in the account it
//!   names (the queue's); a blob's key is found in whatever account holds
//!   it.
//! - [`Kms::service_owned_key`] names a key that the KMS API never lists or
//!   accepts (SSE-SQS).
//!
//! Key material never leaves this module except as a data key's plaintext
//! returned to the caller. It must never be logged.
//!
//! Layout: `model` (one key: state, spec, backing-key versions or HMAC
//! secret), `blob` (the
//! ciphertext format), this file (the registry of keys and aliases, key
//! identifiers, lazy deletion, the fault switch), `types` and `ops` (the KMS
//! API actions, one function each). This module knows no wire format: the
//! JSON 1.1 encoding lives in `crate::protocol::kms`.

pub mod blob;
pub(crate) mod model;
pub mod ops;
pub mod persist;
pub mod types;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::error::{Error, Result};

pub(crate) use model::{DAY_MS, Key, KeyManager, KeySpec, KeyState, KeyUsage, RotationKind};
pub use persist::{AliasRecord, KeyRecord, KeyVault, KmsImage};

/// An encryption context: string pairs bound to a ciphertext as AAD.
pub type EncryptionContext = BTreeMap<String, String>;

/// Decides whether the caller of a service's KMS call may use a key, given
/// the key's ARN and policy (`None`: a stored policy this build cannot
/// read); an `Err` is the call's answer (AccessDeniedException).
pub type Authorize<'a> = &'a dyn Fn(&str, Option<&crate::iam::policy::PolicyDocument>) -> Result<()>;

/// What the fault switch makes KMS do (`POST /_sealq/faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KmsFault {
    /// Normal service.
    #[default]
    Healthy,
    /// Every call fails as if KMS could not be reached.
    Unavailable,
    /// Every call fails with `ThrottlingException`.
    Throttling,
}

/// Result of GenerateDataKey.
#[derive(Debug)]
pub struct DataKey {
    /// ARN of the KMS key that encrypted the data key.
    pub key_arn: Arc<str>,
    /// The plaintext data key; wiped on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The data key encrypted under the KMS key (a ciphertext blob).
    pub ciphertext_blob: Vec<u8>,
}

/// Result of Decrypt.
#[derive(Debug)]
pub struct Decrypted {
    /// ARN of the KMS key that decrypted the blob.
    pub key_arn: Arc<str>,
    /// The plaintext; wiped on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
}

/// Length of a data key, as GenerateDataKey's `KeySpec` or `NumberOfBytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeySpec {
    /// 32 bytes.
    Aes256,
    /// 16 bytes.
    Aes128,
    /// 1..=1024 bytes.
    Bytes(u16),
}

impl DataKeySpec {
    /// Length of the data key in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            Self::Aes256 => 32,
            Self::Aes128 => 16,
            Self::Bytes(n) => usize::from(n),
        }
    }
}

/// Which key-identifier forms an action accepts (the model's `KeyId` docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forms {
    /// Key id or key ARN.
    KeyOnly,
    /// Key id, key ARN, alias name or alias ARN.
    WithAlias,
}

/// Who may see a key: the KMS API never sees service-owned keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A KMS API request.
    Api,
    /// SQS calling in-process.
    Internal,
}

/// One alias.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    /// Id of the key it points to.
    pub(crate) target: Arc<str>,
    /// Creation time (epoch ms).
    pub(crate) created_ms: u64,
    /// Last UpdateAlias (epoch ms).
    pub(crate) updated_ms: u64,
}

/// Message of `ThrottlingException`, as AWS words it.
const RATE_EXCEEDED: &str = "Rate exceeded";

/// Where a key lives and a caller acts: KMS keys and aliases are regional
/// and per account, as in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home<'a> {
    /// The region (`us-east-1`).
    pub region: &'a str,
    /// The account id.
    pub account: &'a str,
}

impl<'a> Home<'a> {
    /// The region and account an ARN names (`arn:aws:SERVICE:REGION:ACCOUNT:…`).
    pub fn of_arn(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some(_), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        Some(Self { region, account })
    }
}

/// The KMS model of one server.
#[derive(Debug)]
pub struct Kms {
    region: String,
    account_id: String,
    clock: Arc<Clock>,
    /// Customer-managed and AWS-managed keys, by key id.
    keys: DashMap<Arc<str>, Arc<Key>>,
    /// Service-owned keys (SSE-SQS), by key id: never visible to the API.
    hidden: DashMap<Arc<str>, Arc<Key>>,
    /// Service name -> id of its service-owned key.
    service_owned: DashMap<String, Arc<str>>,
    /// Aliases by region, account and full name (`alias/...`): aliases are
    /// regional and per account.
    aliases: DashMap<(String, String, String), Alias>,
    /// [`KmsFault`] as a byte.
    fault: AtomicU8,
    /// Where changes are saved, with a data directory.
    vault: OnceLock<Box<dyn KeyVault>>,
}

impl Kms {
    /// An empty KMS for `account_id` in `region`, on `clock`.
    pub fn new(region: &str, account_id: &str, clock: Arc<Clock>) -> Self {
        Self {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            clock,
            keys: DashMap::new(),
            hidden: DashMap::new(),
            service_owned: DashMap::new(),
            aliases: DashMap::new(),
            fault: AtomicU8::new(0),
            vault: OnceLock::new(),
        }
    }

    /// GenerateDataKey for a service: `key_id` in any form GenerateDataKey
    /// accepts, a key id or alias name resolved in `account` (the account of
    /// the resource the service protects, e.g. the queue); `authorize` decides, once the key is known and before its
    /// state is looked at, whether the caller may use it.
    ///
    /// # Errors
    /// As the KMS API: NotFoundException, `authorize`'s refusal
    /// (AccessDeniedException), DisabledException, KMSInvalidStateException,
    /// InvalidKeyUsageException, ThrottlingException, and the fault switch's
    /// errors (`DependencyTimeoutException` when [`KmsFault::Unavailable`]).
    pub fn generate_data_key(
        &self,
        authorize: Authorize<'_>,
        key_id: &str,
        spec: DataKeySpec,
        context: &EncryptionContext,
        home: Home<'_>,
    ) -> Result<DataKey> {
        self.check_fault()?;
        let key = self.resolve_in(key_id, Forms::WithAlias, Scope::Internal, home)?;
        authorize(&key.arn, key.read().policy_document.as_deref())?;
        self.generate_with(&key, spec, context, "GenerateDataKey")
    }

    /// Decrypt for a service, `authorize` deciding as for
    /// [`Self::generate_data_key`]. `key_id`, when given, must name the key
    /// the blob was made with (IncorrectKeyException otherwise) and be an
    /// encryption key (InvalidKeyUsageException otherwise); a key id or alias
    /// name there resolves in `account`. The blob's key is found in whatever
    /// account holds it.
    ///
    /// # Errors
    /// As the KMS API, with InvalidCiphertextException (empty message) for a
    /// blob that is not ours, altered, or bound to another context.
    pub fn decrypt(
        &self,
        authorize: Authorize<'_>,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
        home: Home<'_>,
    ) -> Result<Decrypted> {
        self.check_fault()?;
        let (key, plaintext) = self.open_in(
            ciphertext_blob,
            context,
            (key_id, home),
            Scope::Internal,
            authorize,
        )?;
        Ok(Decrypted {
            key_arn: key.arn.clone(),
            plaintext,
        })
    }

    /// Key ARN of the AWS-managed key `alias/aws/<service>` (e.g. `sqs`) of
    /// `home`, creating key and alias on first use (KeyManager AWS).
    pub fn aws_managed_key(&self, service: &str, home: Home<'_>) -> Arc<str> {
        let name = format!("alias/aws/{service}");
        let now = self.now();
        let mut created = false;
        // The alias entry is held while the key is created, so two first uses
        // racing create one key.
        let target = self
            .aliases
            .entry((home.region.to_owned(), home.account.to_owned(), name))
            .or_insert_with(|| {
                let description = if service == "sqs" {
                    "Default key that protects my SQS messages when no other key is defined".to_owned()
                } else {
                    format!("Default key that protects my {service} data when no other key is defined")
                };
                let key = Key::new(
                    home.region,
                    home.account,
                    now,
                    KeyManager::Aws,
                    description,
                    self.aws_managed_policy(service, home),
                );
                {
                    // AWS-managed keys rotate every year.
                    let mut g = key.write();
                    g.rotation_period_days = Some(365);
                    g.next_rotation_ms = Some(now + 365 * DAY_MS);
                }
                let id = key.id.clone();
                self.keys.insert(id.clone(), Arc::new(key));
                created = true;
                Alias {
                    target: id,
                    created_ms: now,
                    updated_ms: now,
                }
            })
            .target
            .clone();
        if created {
            // Saved before any data key it makes leaves the server. A failed
            // save is logged by `persist`; the key then lives in memory only.
            let _ = self.persist();
        }
        match self.live(&target) {
            Some(k) => k.arn.clone(),
            // The AWS-managed key is never scheduled for deletion (the API
            // refuses), so this is only reached after an alias race; the ARN
            // is still the right name.
            None => Arc::from(self.key_arn(home, &target)),
        }
    }

    /// Identifier of the service-owned key of `service` (SSE-SQS) in
    /// `region`: usable by [`Self::generate_data_key`] and
    /// [`Self::decrypt`], never listed or accepted by the KMS API.
    pub fn service_owned_key(&self, service: &str, region: &str) -> Arc<str> {
        let mut created = false;
        // Keyed `service` in the server's region (as stored before keys
        // were regional), `service@region` elsewhere.
        let entry = if region == self.region {
            service.to_owned()
        } else {
            format!("{service}@{region}")
        };
        let id = self
            .service_owned
            .entry(entry)
            .or_insert_with(|| {
                let key = Key::new(
                    region,
                    &self.account_id,
                    self.now(),
                    KeyManager::Aws,
                    format!("Service-owned key of {service}"),
                    String::new(),
                );
                let id = key.id.clone();
                self.hidden.insert(id.clone(), Arc::new(key));
                created = true;
                id
            })
            .clone();
        if created {
            let _ = self.persist();
        }
        let home = Home {
            region,
            account: &self.account_id,
        };
        self.hidden
            .get(&id)
            .map_or_else(|| Arc::from(self.key_arn(home, &id)), |k| k.arn.clone())
    }

    /// Sets the fault switch.
    pub fn set_fault(&self, fault: KmsFault) {
        let b = match fault {
            KmsFault::Healthy => 0,
            KmsFault::Unavailable => 1,
            KmsFault::Throttling => 2,
        };
        self.fault.store(b, Ordering::Release);
    }

    /// The fault switch.
    pub fn fault(&self) -> KmsFault {
        match self.fault.load(Ordering::Acquire) {
            1 => KmsFault::Unavailable,
            2 => KmsFault::Throttling,
            _ => KmsFault::Healthy,
        }
    }

    // ---- shared by the contract above and the API actions in `ops` ---------

    /// The server's account: keys of configuration files and data
    /// directories that name no account live there.
    pub(crate) fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The server's region (`--region`): unsigned callers, and keys of
    /// configuration files and data directories that name none, are there.
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// Now, from the clock (epoch ms).
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Fails as the fault switch says.
    pub(crate) fn check_fault(&self) -> Result<()> {
        match self.fault() {
            KmsFault::Healthy => Ok(()),
            KmsFault::Unavailable => Err(Error::DependencyTimeoutException(
                "The system timed out while trying to fulfill the request. You can retry the request.".into(),
            )),
            KmsFault::Throttling => Err(Error::KmsThrottlingException(RATE_EXCEEDED.into())),
        }
    }

    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub(crate) fn key_arn(&self, home: Home<'_>, id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{id}", home.region, home.account)
    }

    /// `arn:aws:kms:REGION:ACCOUNT:alias/NAME` for `name` = `alias/NAME`.
    pub(crate) fn alias_arn(&self, home: Home<'_>, name: &str) -> String {
        format!("arn:aws:kms:{}:{}:{name}", home.region, home.account)
    }

    /// The key with this id if it exists and its deletion window has not
    /// passed; a key whose window has passed is deleted now (lazily), with
    /// its aliases.
    fn live(&self, id: &str) -> Option<Arc<Key>> {
        let key = self.keys.get(id).map(|r| r.value().clone())?;
        let now = self.now();
        if key.is_deleted(now) {
            self.purge(&key.id);
            return None;
        }
        if key.catch_up_rotation(now) {
            // The new backing-key version is saved before it seals anything.
            let _ = self.persist();
        }
        Some(key)
    }

    /// Deletes a key and the aliases that point to it.
    fn purge(&self, id: &str) {
        self.keys.remove(id);
        self.aliases.retain(|_, a| &*a.target != id);
    }

    /// NotFoundException for a key id that names no key of `home` (the
    /// caller's), as AWS words it.
    pub(crate) fn key_not_found(&self, id: &str, home: Home<'_>) -> Error {
        Error::NotFoundException(format!("Key '{}' does not exist", self.key_arn(home, id)).into())
    }

    /// NotFoundException for an alias that `home` does not have.
    pub(crate) fn alias_not_found(&self, name: &str, home: Home<'_>) -> Error {
        Error::NotFoundException(format!("Alias {} is not found.", self.alias_arn(home, name)).into())
    }

    /// The ARN of the key a KMS API request of a caller of `account` names
    /// by `key_id` (any of the four forms), if it exists; for metrics
    /// labels. Never a service-owned key.
    pub fn api_key_arn(&self, key_id: &str, home: Home<'_>) -> Option<Arc<str>> {
        self.resolve(key_id, Forms::WithAlias, home)
            .ok()
            .map(|k| k.arn.clone())
    }

    /// The ARN of the live key (never a service-owned one) with key id `id`,
    /// in whatever account holds it: a ciphertext blob names its key by id
    /// alone, and key ids are unique across accounts.
    pub fn blob_key_arn(&self, id: &str) -> Option<Arc<str>> {
        self.live(id).map(|k| k.arn.clone())
    }

    /// The ARN and the key policy (read when it was set) of the key that a
    /// KMS API request of a caller of `account` names by `key_id`, if it
    /// exists; for authorization.
    pub fn api_key_policy(
        &self,
        key_id: &str,
        home: Home<'_>,
    ) -> Option<(Arc<str>, Option<Arc<crate::iam::policy::PolicyDocument>>)> {
        let key = self.resolve(key_id, Forms::WithAlias, home).ok()?;
        let policy = key.read().policy_document.clone();
        Some((key.arn.clone(), policy))
    }

    /// The ARN of the key SQS names by `key_id` (any of the four forms,
    /// service-owned keys included), if it exists; for the ledger and
    /// metrics of the KMS calls SQS makes, whose failures may happen
    /// before KMS resolved the key (the fault switch) or after (a disabled
    /// key). A key id or alias name resolves in `account` (the queue's).
    pub fn internal_key_arn(&self, key_id: &str, home: Home<'_>) -> Option<Arc<str>> {
        self.resolve_in(key_id, Forms::WithAlias, Scope::Internal, home)
            .ok()
            .map(|k| k.arn.clone())
    }

    /// Resolves a key identifier given to the KMS API by a caller of
    /// `account` in the `forms` the action accepts. A key id or alias name
    /// resolves in `account` only; a key ARN or alias ARN may name another
    /// account's key (authorization then decides whether it may be used).
    ///
    /// # Errors
    /// NotFoundException as AWS words it for each form.
    pub(crate) fn resolve(&self, key_id: &str, forms: Forms, home: Home<'_>) -> Result<Arc<Key>> {
        self.resolve_in(key_id, forms, Scope::Api, home)
    }

    fn resolve_in(&self, key_id: &str, forms: Forms, scope: Scope, caller: Home<'_>) -> Result<Arc<Key>> {
        let invalid = || Error::NotFoundException(format!("Invalid keyId '{key_id}'").into());
        // (key id, alias name, the account named, whether named by ARN)
        let (id, alias, account, by_arn) = if let Some(rest) = key_id.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(Error::NotFoundException("Invalid arn".into()));
            };
            if partition != "aws" || service != "kms" {
                return Err(Error::NotFoundException("Invalid arn".into()));
            }
            if region != caller.region {
                return Err(Error::NotFoundException(format!("Invalid arn {region}").into()));
            }
            if let Some(id) = resource.strip_prefix("key/") {
                if !crate::iam::is_account_id(account) || !is_key_id(id) {
                    return Err(Error::NotFoundException(
                        format!("Key '{key_id}' does not exist").into(),
                    ));
                }
                (Some(id), None, account, true)
            } else if resource.starts_with("alias/") {
                if forms == Forms::KeyOnly {
                    return Err(invalid());
                }
                if !crate::iam::is_account_id(account) {
                    return Err(Error::NotFoundException(
                        format!("Alias {key_id} is not found.").into(),
                    ));
                }
                (None, Some(resource), account, true)
            } else {
                return Err(Error::NotFoundException("Invalid arn".into()));
            }
        } else if key_id.starts_with("alias/") {
            if forms == Forms::KeyOnly {
                return Err(invalid());
            }
            (None, Some(key_id), caller.account, false)
        } else if is_key_id(key_id) {
            (Some(key_id), None, caller.account, false)
        } else if is_multi_region_key_id(key_id) {
            // sealq makes no multi-Region keys, so none exists (AWS's
            // answer for a missing one, recorded).
            return Err(Error::NotFoundException(
                format!("Key '{}' does not exist", self.key_arn(caller, key_id)).into(),
            ));
        } else {
            return Err(invalid());
        };
        // Keys and aliases are the named account's, in the caller's region.
        let home = Home {
            region: caller.region,
            account,
        };
        if let Some(name) = alias {
            let not_found = || {
                if by_arn {
                    Error::NotFoundException(format!("Alias {key_id} is not found.").into())
                } else {
                    self.alias_not_found(name, home)
                }
            };
            let target = self
                .aliases
                .get(&(home.region.to_owned(), account.to_owned(), name.to_owned()))
                .map(|a| a.target.clone())
                .ok_or_else(not_found)?;
            return self
                .live(&target)
                .filter(|k| k.home() == home)
                .ok_or_else(not_found);
        }
        let id = id.unwrap_or_default();
        if scope == Scope::Internal
            && let Some(k) = self.hidden.get(id)
            && (!by_arn || k.account() == account)
        {
            // Service-owned keys serve every account.
            return Ok(k.clone());
        }
        let not_found = || {
            if by_arn {
                Error::NotFoundException(format!("Key '{key_id}' does not exist").into())
            } else {
                self.key_not_found(id, home)
            }
        };
        self.live(id).filter(|k| k.home() == home).ok_or_else(not_found)
    }

    /// Fails unless `key` may be used for cryptographic operations.
    pub(crate) fn usable(key: &Key) -> Result<()> {
        match key.read().state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(Error::DisabledException(
                format!("{} is disabled.", key.arn).into(),
            )),
            KeyState::PendingDeletion { .. } => Err(Error::KmsInvalidStateException(
                format!("{} is pending deletion.", key.arn).into(),
            )),
        }
    }

    /// Fails unless `key` has `usage`: InvalidKeyUsageException worded as
    /// AWS words it, naming the `operation` (e.g. `Encrypt`).
    pub(crate) fn check_usage(key: &Key, usage: KeyUsage, operation: &str) -> Result<()> {
        if key.usage() == usage {
            Ok(())
        } else {
            Err(wrong_usage(key, operation))
        }
    }

    /// Encrypts `plaintext` under `key` (checking its state, then its usage
    /// for `operation`).
    pub(crate) fn encrypt_with(
        key: &Key,
        plaintext: &[u8],
        context: &EncryptionContext,
        operation: &str,
    ) -> Result<Vec<u8>> {
        Self::usable(key)?;
        Self::check_usage(key, KeyUsage::EncryptDecrypt, operation)?;
        key.seal(plaintext, context)
            .ok_or_else(|| wrong_usage(key, operation))
    }

    /// A fresh data key of `spec` sealed under `key` (checking its state,
    /// then its usage for `operation`).
    pub(crate) fn generate_with(
        &self,
        key: &Key,
        spec: DataKeySpec,
        context: &EncryptionContext,
        operation: &str,
    ) -> Result<DataKey> {
        Self::usable(key)?;
        Self::check_usage(key, KeyUsage::EncryptDecrypt, operation)?;
        let mut plaintext = Zeroizing::new(vec![0u8; spec.byte_len()]);
        rand::rng().fill_bytes(&mut plaintext);
        let ciphertext_blob = key
            .seal(&plaintext, context)
            .ok_or_else(|| wrong_usage(key, operation))?;
        Ok(DataKey {
            key_arn: key.arn.clone(),
            plaintext,
            ciphertext_blob,
        })
    }

    /// Opens a blob made by the KMS API (never by a service-owned key) for
    /// Decrypt or ReEncrypt.
    /// `key_id`, when given, resolves in `home` (the caller's); the
    /// blob's key is found in whatever account holds it, in the caller's
    /// region (ciphertexts are regional).
    pub(crate) fn open_blob(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
        home: Home<'_>,
    ) -> Result<(Arc<Key>, Zeroizing<Vec<u8>>)> {
        // The API authorized the request before it got here.
        self.open_in(blob, context, (key_id, home), Scope::Api, &|_, _| Ok(()))
    }

    fn open_in(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
        (key_id, home): (Option<&str>, Home<'_>),
        scope: Scope,
        authorize: Authorize<'_>,
    ) -> Result<(Arc<Key>, Zeroizing<Vec<u8>>)> {
        let bad = || Error::InvalidCiphertextException("".into());
        let header = blob::header(blob).ok_or_else(bad)?;
        let blob_id = uuid::Uuid::from_bytes(header.key_id).to_string();
        if let Some(named) = key_id {
            let named = self.resolve_in(named, Forms::WithAlias, scope, home)?;
            // A blob never names an HMAC key, but KeyId can: AWS answers
            // that it is not the key that can decrypt (recorded), as for
            // any other key than the blob's.
            if named.usage() != KeyUsage::EncryptDecrypt || *named.id != *blob_id {
                return Err(Error::IncorrectKeyException(
                    "The key ID in the request does not identify a CMK that can perform this operation."
                        .into(),
                ));
            }
        }
        let key = match scope {
            Scope::Internal => self.hidden.get(blob_id.as_str()).map(|k| k.clone()),
            Scope::Api => None,
        };
        let key = key
            .or_else(|| self.live(&blob_id).filter(|k| k.region() == home.region))
            .ok_or_else(bad)?;
        authorize(&key.arn, key.read().policy_document.as_deref())?;
        Self::usable(&key)?;
        // A blob whose header names an HMAC key was not made by KMS: the HMAC
        // key has no backing-key versions, so it does not open (invalid
        // ciphertext, as for any forged blob).
        let plaintext = key.open(blob, header.version, context).ok_or_else(bad)?;
        Ok((key, plaintext))
    }

    /// Creates a customer-managed key of `spec` in `home`.
    pub(crate) fn create_key(
        &self,
        spec: KeySpec,
        description: String,
        policy: Option<String>,
        tags: BTreeMap<String, String>,
        home: Home<'_>,
    ) -> Arc<Key> {
        let key = Key::with_spec(
            home.region,
            home.account,
            self.now(),
            KeyManager::Customer,
            spec,
            description,
            policy.unwrap_or_else(|| Self::default_policy(home.account)),
        );
        key.write().tags = tags;
        let key = Arc::new(key);
        self.keys.insert(key.id.clone(), key.clone());
        key
    }

    /// Creates a customer-managed key of `spec` in `home` with a chosen
    /// id (and optionally chosen first material, see [`model::Key::fixed`]).
    ///
    /// # Errors
    /// `AlreadyExistsException` when a key (live or service-owned) has this id.
    pub(crate) fn create_key_fixed(
        &self,
        spec: KeySpec,
        fixed: model::Fixed<'_>,
        description: String,
        policy: Option<String>,
        tags: BTreeMap<String, String>,
        home: Home<'_>,
    ) -> Result<Arc<Key>> {
        use dashmap::mapref::entry::Entry;
        let id = fixed.id.to_string();
        if let Some(k) = self
            .hidden
            .get(id.as_str())
            .map(|k| k.clone())
            .or_else(|| self.live(&id))
        {
            return Err(Error::AlreadyExistsException(
                format!("Key '{}' already exists", k.arn).into(),
            ));
        }
        let key = Key::fixed(
            home.region,
            home.account,
            self.now(),
            KeyManager::Customer,
            spec,
            fixed,
            description,
            policy.unwrap_or_else(|| Self::default_policy(home.account)),
        );
        key.write().tags = tags;
        let key = Arc::new(key);
        match self.keys.entry(key.id.clone()) {
            Entry::Occupied(_) => Err(Error::AlreadyExistsException(
                format!("Key '{}' already exists", key.arn).into(),
            )),
            Entry::Vacant(v) => {
                v.insert(key.clone());
                Ok(key)
            }
        }
    }

    /// The live key with this id (not service-owned), if any.
    pub(crate) fn key(&self, id: &str) -> Option<Arc<Key>> {
        self.live(id)
    }

    /// The key policy AWS gives a key of `account` created without one.
    pub(crate) fn default_policy(account: &str) -> String {
        format!(
            concat!(
                "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n",
                "  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n",
                "    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n",
                "      \"AWS\" : \"arn:aws:iam::{}:root\"\n    }},\n",
                "    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
            ),
            account
        )
    }

    /// The policy of the AWS-managed key of `service` in `account`: use
    /// through the service by principals of the account, metadata access
    /// for the account.
    fn aws_managed_policy(&self, service: &str, home: Home<'_>) -> String {
        let (region, account) = (home.region, home.account);
        format!(
            concat!(
                "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"auto-{service}-2\",\n",
                "  \"Statement\" : [ {{\n",
                "    \"Sid\" : \"Allow access through {service} for all principals in the account that are authorized to use {service}\",\n",
                "    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"*\"\n    }},\n",
                "    \"Action\" : [ \"kms:Encrypt\", \"kms:Decrypt\", \"kms:ReEncrypt*\", \"kms:GenerateDataKey*\", \"kms:CreateGrant\", \"kms:DescribeKey\" ],\n",
                "    \"Resource\" : \"*\",\n    \"Condition\" : {{\n      \"StringEquals\" : {{\n",
                "        \"kms:CallerAccount\" : \"{account}\",\n",
                "        \"kms:ViaService\" : \"{service}.{region}.amazonaws.com\"\n      }}\n    }}\n  }}, {{\n",
                "    \"Sid\" : \"Allow direct access to key metadata to the account\",\n",
                "    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account}:root\"\n    }},\n",
                "    \"Action\" : [ \"kms:Describe*\", \"kms:Get*\", \"kms:List*\", \"kms:RevokeGrant\" ],\n",
                "    \"Resource\" : \"*\"\n  }} ]\n}}"
            ),
            service = service,
            account = account,
            region = region
        )
    }

    /// Every live key of the API (not service-owned) in `home`, ordered
    /// by key id; keys whose deletion window has passed (anywhere) are
    /// deleted on the way.
    pub(crate) fn list_keys(&self, home: Home<'_>) -> Vec<Arc<Key>> {
        let ids: Vec<Arc<str>> = self.keys.iter().map(|r| r.key().clone()).collect();
        let mut keys: Vec<Arc<Key>> = ids
            .iter()
            .filter_map(|id| self.live(id))
            .filter(|k| k.home() == home)
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        keys
    }

    /// Every live key of the API in every region and account, ordered by
    /// account, region and key id (for the admin API).
    pub(crate) fn all_keys(&self) -> Vec<Arc<Key>> {
        let ids: Vec<Arc<str>> = self.keys.iter().map(|r| r.key().clone()).collect();
        let mut keys: Vec<Arc<Key>> = ids.iter().filter_map(|id| self.live(id)).collect();
        keys.sort_by(|a, b| (a.account(), a.region(), &a.id).cmp(&(b.account(), b.region(), &b.id)));
        keys
    }

    /// Every alias of every region and account as ((region, account,
    /// name), alias), ordered by account, region and name (for the admin
    /// API).
    pub(crate) fn all_aliases(&self) -> Vec<((String, String, String), Alias)> {
        let _ = self.all_keys();
        let mut out: Vec<((String, String, String), Alias)> = self
            .aliases
            .iter()
            .map(|r| (r.key().clone(), r.value().clone()))
            .collect();
        out.sort_by(|(a, _), (b, _)| (&a.1, &a.0, &a.2).cmp(&(&b.1, &b.0, &b.2)));
        out
    }

    /// Every alias (name, alias) of `home` whose key is live, ordered by
    /// name.
    pub(crate) fn list_aliases(&self, home: Home<'_>) -> Vec<(String, Alias)> {
        // Deletes lapsed keys (and their aliases) first.
        let _ = self.list_keys(home);
        let mut out: Vec<(String, Alias)> = self
            .aliases
            .iter()
            .filter(|r| r.key().0 == home.region && r.key().1 == home.account)
            .map(|r| (r.key().2.clone(), r.value().clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Creates alias `name` for `target`, in the target's region and
    /// account.
    ///
    /// # Errors
    /// AlreadyExistsException when the name is taken there.
    pub(crate) fn insert_alias(&self, name: &str, target: &Key) -> Result<()> {
        use dashmap::mapref::entry::Entry;
        let now = self.now();
        let home = target.home();
        let entry = (home.region.to_owned(), home.account.to_owned(), name.to_owned());
        match self.aliases.entry(entry) {
            Entry::Occupied(_) => Err(Error::AlreadyExistsException(
                format!(
                    "An alias with the name {} already exists",
                    self.alias_arn(home, name)
                )
                .into(),
            )),
            Entry::Vacant(v) => {
                v.insert(Alias {
                    target: target.id.clone(),
                    created_ms: now,
                    updated_ms: now,
                });
                Ok(())
            }
        }
    }

    /// Points alias `name` of the target's account at `target`.
    ///
    /// # Errors
    /// NotFoundException when the alias does not exist.
    pub(crate) fn retarget_alias(&self, name: &str, target: &Key) -> Result<()> {
        let now = self.now();
        let home = target.home();
        let mut a = self
            .aliases
            .get_mut(&(home.region.to_owned(), home.account.to_owned(), name.to_owned()))
            .ok_or_else(|| self.alias_not_found(name, home))?;
        a.target = target.id.clone();
        a.updated_ms = now;
        Ok(())
    }

    /// The key alias `name` of `account` points to, if the alias exists.
    #[cfg(test)]
    pub(crate) fn alias_target(&self, name: &str, home: Home<'_>) -> Option<Arc<str>> {
        self.aliases
            .get(&(home.region.to_owned(), home.account.to_owned(), name.to_owned()))
            .map(|a| a.target.clone())
    }

    /// Deletes alias `name` of `home`.
    ///
    /// # Errors
    /// NotFoundException when the alias does not exist.
    pub(crate) fn remove_alias(&self, name: &str, home: Home<'_>) -> Result<()> {
        self.aliases
            .remove(&(home.region.to_owned(), home.account.to_owned(), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| self.alias_not_found(name, home))
    }
}

/// InvalidKeyUsageException for `key` used by `operation`, as AWS words it:
/// `<key ARN> key usage is <KeyUsage> which is not valid for <Operation>.`
fn wrong_usage(key: &Key, operation: &str) -> Error {
    Error::InvalidKeyUsageException(
        format!(
            "{} key usage is {} which is not valid for {operation}.",
            key.arn,
            key.usage().as_str()
        )
        .into(),
    )
}

/// Whether `s` is a key id in the form KMS issues (a UUID, hyphenated).
fn is_key_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// Whether `s` has the form of a multi-Region key id (`mrk-` and 32 hex
/// digits).
fn is_multi_region_key_id(s: &str) -> bool {
    s.strip_prefix("mrk-")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;
