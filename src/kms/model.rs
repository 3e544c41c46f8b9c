//! One KMS key: its metadata, state machine and backing-key versions.
//!
//! This module owns the key material. Material lives in
//! [`zeroize::Zeroizing`] buffers, is wiped on drop, and its `Debug` output is
//! redacted; nothing here logs. The model reads no global time: callers pass
//! `now_ms` from the `Clock`. It knows nothing of the wire or of aliases.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::{RngCore as _, TryRngCore as _};
use zeroize::Zeroizing;

use super::EncryptionContext;
use super::blob::{self, Header};

/// Milliseconds in a day.
pub(crate) const DAY_MS: u64 = 86_400_000;

/// 256 bits of backing-key material.
pub(crate) struct Material(Zeroizing<[u8; 32]>);

impl Material {
    /// Fresh material from the OS random number generator (falling back to
    /// the thread CSPRNG, itself seeded by the OS, if the OS source fails).
    pub(crate) fn random() -> Self {
        let mut m = Zeroizing::new([0u8; 32]);
        if rand::rngs::OsRng.try_fill_bytes(m.as_mut()).is_err() {
            rand::rng().fill_bytes(m.as_mut());
        }
        Self(m)
    }
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Material(<redacted>)")
    }
}

/// Lifecycle state of a key (KMS `KeyState`, the subset sealq models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyState {
    /// Usable.
    Enabled,
    /// Not usable for cryptographic operations until enabled.
    Disabled,
    /// Scheduled for deletion at `deletion_ms`.
    PendingDeletion {
        /// When the key is deleted (epoch ms).
        deletion_ms: u64,
        /// The window that was requested, in days.
        window_days: u32,
    },
}

impl KeyState {
    /// The `KeyState` enum value AWS uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion { .. } => "PendingDeletion",
        }
    }
}

/// Who manages a key (KMS `KeyManager`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyManager {
    /// Created by the account (CreateKey).
    Customer,
    /// Created by an AWS service on first use (`alias/aws/<service>`).
    Aws,
}

impl KeyManager {
    /// The `KeyManager` enum value AWS uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "CUSTOMER",
            Self::Aws => "AWS",
        }
    }
}

/// Why a backing-key version was made (KMS `RotationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotationKind {
    /// Automatic rotation (EnableKeyRotation's period came due).
    Automatic,
    /// RotateKeyOnDemand.
    OnDemand,
}

/// The mutable part of a key, behind the key's own lock.
#[derive(Debug)]
pub(crate) struct KeyInner {
    /// Description (may be empty).
    pub(crate) description: String,
    /// Lifecycle state.
    pub(crate) state: KeyState,
    /// Backing-key versions; the index is the version, the last is current.
    pub(crate) versions: Vec<Material>,
    /// Rotations done: (epoch ms, kind), oldest first.
    pub(crate) rotations: Vec<(u64, RotationKind)>,
    /// The key policy document, stored verbatim (not enforced yet).
    pub(crate) policy: String,
    /// Automatic rotation period in days, when rotation is enabled.
    pub(crate) rotation_period_days: Option<u32>,
    /// When automatic rotation next comes due (epoch ms).
    pub(crate) next_rotation_ms: Option<u64>,
    /// Tags.
    pub(crate) tags: BTreeMap<String, String>,
}

/// One KMS key.
#[derive(Debug)]
pub(crate) struct Key {
    /// Key id (UUID v4, text).
    pub(crate) id: Arc<str>,
    /// Key id as raw UUID bytes (what blobs carry).
    pub(crate) uuid: [u8; 16],
    /// Key ARN.
    pub(crate) arn: Arc<str>,
    /// Creation time (epoch ms).
    pub(crate) created_ms: u64,
    /// Customer or AWS managed.
    pub(crate) manager: KeyManager,
    /// Mutable state; never held across `.await`.
    inner: RwLock<KeyInner>,
}

impl Key {
    /// A new enabled key with one backing-key version.
    pub(crate) fn new(
        region: &str,
        account_id: &str,
        now_ms: u64,
        manager: KeyManager,
        description: String,
        policy: String,
    ) -> Self {
        let uuid = uuid::Uuid::new_v4();
        let id: Arc<str> = Arc::from(uuid.to_string());
        let arn = Arc::from(format!("arn:aws:kms:{region}:{account_id}:key/{id}"));
        Self {
            id,
            uuid: *uuid.as_bytes(),
            arn,
            created_ms: now_ms,
            manager,
            inner: RwLock::new(KeyInner {
                description,
                state: KeyState::Enabled,
                versions: vec![Material::random()],
                rotations: Vec::new(),
                policy,
                rotation_period_days: None,
                next_rotation_ms: None,
                tags: BTreeMap::new(),
            }),
        }
    }

    /// Reads the mutable state.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, KeyInner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the mutable state.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, KeyInner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the deletion window has passed at `now_ms`.
    pub(crate) fn is_deleted(&self, now_ms: u64) -> bool {
        matches!(self.read().state, KeyState::PendingDeletion { deletion_ms, .. } if now_ms >= deletion_ms)
    }

    /// Applies automatic rotations that came due by `now_ms`.
    pub(crate) fn catch_up_rotation(&self, now_ms: u64) {
        let due = {
            let g = self.read();
            matches!(g.next_rotation_ms, Some(next) if now_ms >= next)
        };
        if !due {
            return;
        }
        let mut g = self.write();
        let (Some(mut next), Some(days)) = (g.next_rotation_ms, g.rotation_period_days) else {
            return;
        };
        let period = u64::from(days.max(1)) * DAY_MS;
        // One new version per period that passed, bounded so that a clock
        // moved by centuries cannot allocate without limit.
        let mut made = 0;
        while now_ms >= next && made < 100 {
            g.versions.push(Material::random());
            g.rotations.push((next, RotationKind::Automatic));
            next += period;
            made += 1;
        }
        if now_ms >= next {
            next = now_ms + period;
        }
        g.next_rotation_ms = Some(next);
    }

    /// Seals `plaintext` under the newest backing-key version.
    pub(crate) fn seal(&self, plaintext: &[u8], context: &EncryptionContext) -> Vec<u8> {
        let g = self.read();
        let newest = g.versions.len() - 1;
        let header = Header {
            key_id: self.uuid,
            version: u32::try_from(newest).unwrap_or(u32::MAX),
        };
        blob::seal(&g.versions[newest].0, header, plaintext, context)
    }

    /// Opens a blob of this key; `None` if its version is unknown or it does
    /// not verify.
    pub(crate) fn open(
        &self,
        blob: &[u8],
        version: u32,
        context: &EncryptionContext,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let g = self.read();
        let material = g.versions.get(usize::try_from(version).ok()?)?;
        blob::open(&material.0, blob, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_debug_is_redacted() {
        let k = Key::new("r", "a", 0, KeyManager::Customer, String::new(), String::new());
        let dbg = format!("{k:?}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
        let g = k.read();
        let bytes = format!("{:?}", &g.versions[0].0[..]);
        assert!(!dbg.contains(&bytes));
    }

    #[test]
    fn automatic_rotation_adds_one_version_per_period() {
        let k = Key::new("r", "a", 0, KeyManager::Customer, String::new(), String::new());
        {
            let mut g = k.write();
            g.rotation_period_days = Some(90);
            g.next_rotation_ms = Some(90 * DAY_MS);
        }
        k.catch_up_rotation(89 * DAY_MS);
        assert_eq!(k.read().versions.len(), 1);
        k.catch_up_rotation(180 * DAY_MS);
        assert_eq!(k.read().versions.len(), 3);
        assert_eq!(k.read().next_rotation_ms, Some(270 * DAY_MS));
    }
}
