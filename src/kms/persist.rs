//! Keeping the KMS model in a data directory: every key (material
//! included), alias and service-owned key as an image that the store's key
//! database writes, and the restore from it.
//!
//! The image is taken while the vault holds its write lock, so a later
//! image never loses to an earlier one. It is written before the change is
//! acknowledged: a rotation that made a new backing-key version is saved
//! before any ciphertext made with it leaves the server. Encoded keys hold
//! key material, so their buffers are wiped on drop; nothing here logs.

use std::collections::BTreeMap;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::model::{Key, KeyInner, KeyManager, KeySpec, KeyState, MacMaterial, Material, RotationKind};
use super::{Alias, Kms};
use crate::error::{Error, Result};
use crate::store::codec::{Malformed, Reader, Writer};

/// Encoding version of a key record without its account (read only: such
/// keys belong to the server's account).
const KEY_RECORD_V1: u8 = 1;
/// Encoding version of a key record: V1 with the key's account after the
/// version tag (read only: such keys are in the server's region).
const KEY_RECORD_V2: u8 = 2;
/// Encoding version of a key record: V2 with the key's region before its
/// account.
const KEY_RECORD_V3: u8 = 3;

/// One key as stored.
#[derive(Debug)]
pub struct KeyRecord {
    /// Key id.
    pub id: String,
    /// Whether the key is service-owned (SSE-SQS), and for which service.
    pub service: Option<String>,
    /// The encoded key, material included; wiped on drop.
    pub bytes: Zeroizing<Vec<u8>>,
}

/// One alias as stored.
#[derive(Debug, Clone)]
pub struct AliasRecord {
    /// The account the alias belongs to (empty: the server's, as written
    /// before aliases were per account).
    pub account: String,
    /// `alias/...`.
    pub name: String,
    /// Target key id.
    pub target: String,
    /// Creation time, epoch ms.
    pub created_ms: u64,
    /// Last update, epoch ms.
    pub updated_ms: u64,
}

/// The whole KMS model as stored.
#[derive(Debug, Default)]
pub struct KmsImage {
    /// Keys, service-owned ones included.
    pub keys: Vec<KeyRecord>,
    /// Aliases.
    pub aliases: Vec<AliasRecord>,
}

/// Where the KMS model is saved (the store's key database).
pub trait KeyVault: Send + Sync + std::fmt::Debug {
    /// Takes an image with `image` while holding the vault's write lock and
    /// writes it durably.
    ///
    /// # Errors
    /// A message when the write failed.
    fn save(&self, image: &dyn Fn() -> KmsImage) -> std::result::Result<(), String>;
}

fn encode(key: &Key) -> Zeroizing<Vec<u8>> {
    let g = key.read();
    let mut w = Writer::new();
    w.u8(KEY_RECORD_V3)
        .str(key.region())
        .str(key.account())
        .str(&key.id)
        .u64(key.created_ms)
        .u8(match key.manager {
            KeyManager::Customer => 0,
            KeyManager::Aws => 1,
        })
        .str(key.spec.as_str())
        .opt_bytes(key.mac_secret_bytes())
        .str(&g.description);
    match g.state {
        KeyState::Enabled => w.u8(0),
        KeyState::Disabled => w.u8(1),
        KeyState::PendingDeletion {
            deletion_ms,
            window_days,
        } => w.u8(2).u64(deletion_ms).u32(window_days),
    };
    w.u32(u32::try_from(g.versions.len()).unwrap_or(u32::MAX));
    for v in &g.versions {
        w.bytes(v.bytes());
    }
    w.u32(u32::try_from(g.rotations.len()).unwrap_or(u32::MAX));
    for (at, kind) in &g.rotations {
        w.u64(*at).u8(match kind {
            RotationKind::Automatic => 0,
            RotationKind::OnDemand => 1,
        });
    }
    w.str(&g.policy);
    match g.rotation_period_days {
        Some(d) => w.u8(1).u32(d),
        None => w.u8(0),
    };
    match g.next_rotation_ms {
        Some(t) => w.u8(1).u64(t),
        None => w.u8(0),
    };
    w.u32(u32::try_from(g.tags.len()).unwrap_or(u32::MAX));
    for (k, v) in &g.tags {
        w.str(k).str(v);
    }
    Zeroizing::new(w.finish())
}

fn decode(region: &str, account_id: &str, bytes: &[u8]) -> std::result::Result<Key, Malformed> {
    let mut r = Reader::new(bytes);
    let (region, account) = match r.u8()? {
        KEY_RECORD_V1 => (region.to_owned(), account_id.to_owned()),
        version @ (KEY_RECORD_V2 | KEY_RECORD_V3) => {
            let region = if version == KEY_RECORD_V3 {
                let g = r.string()?;
                if !crate::auth::is_region_name(&g) {
                    return Err(Malformed);
                }
                g
            } else {
                region.to_owned()
            };
            let a = r.string()?;
            if !crate::iam::is_account_id(&a) {
                return Err(Malformed);
            }
            (region, a)
        }
        _ => return Err(Malformed),
    };
    let id = r.string()?;
    let uuid = uuid::Uuid::try_parse(&id).map_err(|_| Malformed)?;
    let created_ms = r.u64()?;
    let manager = match r.u8()? {
        0 => KeyManager::Customer,
        1 => KeyManager::Aws,
        _ => return Err(Malformed),
    };
    let spec = KeySpec::parse(&r.string()?).ok_or(Malformed)?;
    let mac_secret = r.opt_bytes()?.map(|b| MacMaterial::from_bytes(Zeroizing::new(b)));
    let description = r.string()?;
    let state = match r.u8()? {
        0 => KeyState::Enabled,
        1 => KeyState::Disabled,
        2 => KeyState::PendingDeletion {
            deletion_ms: r.u64()?,
            window_days: r.u32()?,
        },
        _ => return Err(Malformed),
    };
    let mut versions = Vec::new();
    for _ in 0..r.u32()? {
        versions.push(Material::from_slice(r.bytes()?).ok_or(Malformed)?);
    }
    let mut rotations = Vec::new();
    for _ in 0..r.u32()? {
        let at = r.u64()?;
        let kind = match r.u8()? {
            0 => RotationKind::Automatic,
            1 => RotationKind::OnDemand,
            _ => return Err(Malformed),
        };
        rotations.push((at, kind));
    }
    let policy = r.string()?;
    let rotation_period_days = match r.u8()? {
        0 => None,
        _ => Some(r.u32()?),
    };
    let next_rotation_ms = match r.u8()? {
        0 => None,
        _ => Some(r.u64()?),
    };
    let mut tags = BTreeMap::new();
    for _ in 0..r.u32()? {
        let k = r.string()?;
        tags.insert(k, r.string()?);
    }
    if !r.is_empty() {
        return Err(Malformed);
    }
    Ok(Key::from_parts(
        &region,
        &account,
        *uuid.as_bytes(),
        created_ms,
        manager,
        spec,
        mac_secret,
        KeyInner {
            description,
            state,
            versions,
            rotations,
            policy_document: super::model::read_policy(&policy),
            policy,
            rotation_period_days,
            next_rotation_ms,
            tags,
        },
    ))
}

impl Kms {
    /// Connects the model to `vault` and saves the current state there.
    ///
    /// # Errors
    /// `KmsInternalException` when the first save fails.
    pub fn attach(&self, vault: Box<dyn KeyVault>) -> Result<()> {
        let _ = self.vault.set(vault);
        self.persist()
    }

    /// Saves the whole model to the vault, if there is one.
    ///
    /// # Errors
    /// `KmsInternalException` when the write failed (the change stays in
    /// memory but is not acknowledged).
    pub(crate) fn persist(&self) -> Result<()> {
        let Some(vault) = self.vault.get() else {
            return Ok(());
        };
        vault.save(&|| self.image()).map_err(|e| {
            tracing::error!(error = %e, "could not save KMS keys");
            Error::KmsInternalException("The key store could not be written.".into())
        })
    }

    fn image(&self) -> KmsImage {
        let mut keys: Vec<KeyRecord> = self
            .keys
            .iter()
            .map(|k| KeyRecord {
                id: k.key().to_string(),
                service: None,
                bytes: encode(k.value()),
            })
            .collect();
        for entry in &self.service_owned {
            if let Some(k) = self.hidden.get(entry.value()) {
                keys.push(KeyRecord {
                    id: k.id.to_string(),
                    service: Some(entry.key().clone()),
                    bytes: encode(&k),
                });
            }
        }
        let aliases = self
            .aliases
            .iter()
            .map(|a| AliasRecord {
                account: a.key().1.clone(),
                name: a.key().2.clone(),
                target: a.target.to_string(),
                created_ms: a.created_ms,
                updated_ms: a.updated_ms,
            })
            .collect();
        KmsImage { keys, aliases }
    }

    /// Loads keys and aliases from an image (at start-up, before serving).
    ///
    /// # Errors
    /// A message naming the record that could not be read.
    pub fn restore(&self, image: &KmsImage) -> std::result::Result<(), String> {
        for rec in &image.keys {
            let key = decode(&self.region, &self.account_id, &rec.bytes)
                .map_err(|_| format!("key {} could not be read", rec.id))?;
            let key = Arc::new(key);
            match &rec.service {
                Some(service) => {
                    self.service_owned.insert(service.clone(), key.id.clone());
                    self.hidden.insert(key.id.clone(), key);
                }
                None => {
                    self.keys.insert(key.id.clone(), key);
                }
            }
        }
        for a in &image.aliases {
            let account = if a.account.is_empty() {
                self.account_id.clone()
            } else {
                a.account.clone()
            };
            // An alias is in its key's region (and account): the region
            // is not stored with it.
            let region = self
                .keys
                .get(a.target.as_str())
                .map_or_else(|| self.region.clone(), |k| k.region().to_owned());
            self.aliases.insert(
                (region, account, a.name.clone()),
                Alias {
                    target: Arc::from(a.target.as_str()),
                    created_ms: a.created_ms,
                    updated_ms: a.updated_ms,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    #[test]
    fn keys_and_aliases_survive_an_image_round_trip() {
        let clock = Arc::new(Clock::manual(1_000));
        let kms = Kms::new("us-east-1", "000000000000", clock.clone());
        let key = kms.create_key(
            KeySpec::SymmetricDefault,
            "d".into(),
            None,
            BTreeMap::new(),
            crate::kms::Home {
                region: "us-east-1",
                account: "000000000000",
            },
        );
        kms.insert_alias("alias/a", &key).unwrap();
        let mac = kms.create_key(
            KeySpec::Hmac256,
            String::new(),
            None,
            BTreeMap::new(),
            crate::kms::Home {
                region: "us-east-1",
                account: "000000000000",
            },
        );
        let sqs = kms.service_owned_key("sqs", "us-east-1");
        let ctx = crate::kms::EncryptionContext::new();
        let blob = key.seal(b"secret", &ctx).unwrap();
        let tag = mac.mac(b"m").unwrap();
        let image = kms.image();

        let again = Kms::new("us-east-1", "000000000000", clock);
        again.restore(&image).unwrap();
        let k2 = again
            .resolve_in(
                "alias/a",
                super::super::Forms::WithAlias,
                super::super::Scope::Api,
                crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000",
                },
            )
            .unwrap();
        assert_eq!(k2.id, key.id);
        let header = super::super::blob::header(&blob).unwrap();
        assert_eq!(&*k2.open(&blob, header.version, &ctx).unwrap(), b"secret");
        let m2 = again
            .resolve(
                &mac.id,
                super::super::Forms::KeyOnly,
                crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000",
                },
            )
            .unwrap();
        assert!(m2.verify_mac(b"m", &tag));
        assert_eq!(again.service_owned_key("sqs", "us-east-1"), sqs);
        assert!(
            again
                .resolve(
                    &key.id,
                    super::super::Forms::KeyOnly,
                    crate::kms::Home {
                        region: "us-east-1",
                        account: "000000000000"
                    }
                )
                .is_ok()
        );
    }

    #[test]
    fn keys_and_aliases_keep_their_account_and_old_records_are_the_servers() {
        use super::super::Forms;
        let clock = Arc::new(Clock::manual(1_000));
        let kms = Kms::new("us-east-1", "000000000000", clock.clone());
        let b = kms.create_key(
            KeySpec::SymmetricDefault,
            String::new(),
            None,
            BTreeMap::new(),
            crate::kms::Home {
                region: "us-east-1",
                account: "111111111111",
            },
        );
        kms.insert_alias("alias/x", &b).unwrap();
        let mut image = kms.image();
        // A version-1 record (no account) and an alias written before
        // aliases had an account: both are the server's.
        let old = Key::new(
            "us-east-1",
            "000000000000",
            5,
            KeyManager::Customer,
            String::new(),
            String::new(),
        );
        let mut v1 = encode(&old);
        // V3 puts the region and the account (length-prefixed strings)
        // after the tag; V1 has neither.
        let region_len = 4 + "us-east-1".len();
        let account_len = 4 + "000000000000".len();
        v1.drain(1..=region_len + account_len);
        v1[0] = KEY_RECORD_V1;
        image.keys.push(KeyRecord {
            id: old.id.to_string(),
            service: None,
            bytes: v1,
        });
        image.aliases.push(AliasRecord {
            account: String::new(),
            name: "alias/x".into(),
            target: old.id.to_string(),
            created_ms: 5,
            updated_ms: 5,
        });

        let again = Kms::new("us-east-1", "000000000000", clock);
        again.restore(&image).unwrap();
        let k = again
            .resolve(
                "alias/x",
                Forms::WithAlias,
                crate::kms::Home {
                    region: "us-east-1",
                    account: "111111111111",
                },
            )
            .unwrap();
        assert_eq!(k.arn, b.arn);
        assert!(
            again
                .resolve(
                    &b.id,
                    Forms::KeyOnly,
                    crate::kms::Home {
                        region: "us-east-1",
                        account: "000000000000"
                    }
                )
                .is_err()
        );
        let o = again
            .resolve(
                "alias/x",
                Forms::WithAlias,
                crate::kms::Home {
                    region: "us-east-1",
                    account: "000000000000",
                },
            )
            .unwrap();
        assert_eq!(o.id, old.id);
        assert_eq!(o.account(), "000000000000");
    }

    #[test]
    fn keys_keep_their_region_and_aliases_follow_their_key() {
        use super::super::{Forms, Home};
        let clock = Arc::new(Clock::manual(1_000));
        let kms = Kms::new("us-east-1", "000000000000", clock.clone());
        let west = Home {
            region: "us-west-2",
            account: "000000000000",
        };
        let k = kms.create_key(
            KeySpec::SymmetricDefault,
            String::new(),
            None,
            BTreeMap::new(),
            west,
        );
        kms.insert_alias("alias/w", &k).unwrap();
        let sqs_west = kms.service_owned_key("sqs", "us-west-2");
        let mut image = kms.image();
        // A V2 record (account, no region) is in the server's region.
        let old = Key::new(
            "us-east-1",
            "000000000000",
            5,
            KeyManager::Customer,
            String::new(),
            String::new(),
        );
        let mut v2 = encode(&old);
        v2.drain(1..=4 + "us-east-1".len());
        v2[0] = KEY_RECORD_V2;
        image.keys.push(KeyRecord {
            id: old.id.to_string(),
            service: None,
            bytes: v2,
        });

        let again = Kms::new("us-east-1", "000000000000", clock);
        again.restore(&image).unwrap();
        let got = again.resolve("alias/w", Forms::WithAlias, west).unwrap();
        assert_eq!((got.arn.clone(), got.region()), (k.arn.clone(), "us-west-2"));
        let east = Home {
            region: "us-east-1",
            account: "000000000000",
        };
        assert!(again.resolve("alias/w", Forms::WithAlias, east).is_err());
        assert!(again.resolve(&k.id, Forms::KeyOnly, east).is_err());
        assert_eq!(
            again.resolve(&old.id, Forms::KeyOnly, east).unwrap().region(),
            "us-east-1"
        );
        assert_eq!(again.service_owned_key("sqs", "us-west-2"), sqs_west);
        assert_ne!(again.service_owned_key("sqs", "us-east-1"), sqs_west);
    }
}
