//! One KMS key: its metadata, state machine and key material (backing-key
//! versions of a symmetric encryption key, or the secret of an HMAC key).
//!
//! This module owns the key material. Material lives in
//! [`zeroize::Zeroizing`] buffers, is wiped on drop, and its `Debug` output is
//! redacted; nothing here logs. The model reads no global time: callers pass
//! `now_ms` from the `Clock`. It knows nothing of the wire or of aliases.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::{RngCore as _, TryRngCore as _};
use sha2::{Sha224, Sha256, Sha384, Sha512};
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
        fill_random(m.as_mut());
        Self(m)
    }

    /// Material read back from a data directory (32 bytes).
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut m = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return None;
        }
        m.copy_from_slice(bytes);
        Some(Self(m))
    }

    /// The material, for the key database only.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Material(<redacted>)")
    }
}

/// The chosen parts of a key made from a configuration file: its id, and
/// optionally its first key material (borrowed; copied into a wiped buffer).
#[derive(Clone, Copy)]
pub(crate) struct Fixed<'a> {
    /// The key id.
    pub(crate) id: uuid::Uuid,
    /// The first backing-key version (32 bytes) or the HMAC secret.
    pub(crate) material: Option<&'a [u8]>,
}

impl std::fmt::Debug for Fixed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixed")
            .field("id", &self.id)
            .field("material", &self.material.map(|_| "<redacted>"))
            .finish()
    }
}

/// Fills `buf` from the OS random number generator (falling back to the
/// thread CSPRNG, itself seeded by the OS, if the OS source fails).
fn fill_random(buf: &mut [u8]) {
    if rand::rngs::OsRng.try_fill_bytes(buf).is_err() {
        rand::rng().fill_bytes(buf);
    }
}

/// The secret of an HMAC key: as many bytes as its spec says (28, 32, 48 or
/// 64). HMAC keys never rotate, so there is one secret per key.
pub(crate) struct MacMaterial(Zeroizing<Vec<u8>>);

impl MacMaterial {
    /// Fresh material of `len` bytes from the OS random number generator.
    fn random(len: usize) -> Self {
        let mut m = Zeroizing::new(vec![0u8; len]);
        fill_random(&mut m);
        Self(m)
    }

    /// A secret read back from a data directory.
    pub(crate) fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for MacMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacMaterial(<redacted>)")
    }
}

/// What a key may be used for (KMS `KeyUsage`, the subset sealq models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUsage {
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey*.
    EncryptDecrypt,
    /// GenerateMac, VerifyMac.
    GenerateVerifyMac,
}

impl KeyUsage {
    /// The `KeyUsage` enum value AWS uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
        }
    }
}

/// The kind of key material (KMS `KeySpec`, the subset sealq models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySpec {
    /// 256-bit AES-GCM backing keys, for encryption.
    SymmetricDefault,
    /// 224-bit HMAC key (HMAC_SHA_224).
    Hmac224,
    /// 256-bit HMAC key (HMAC_SHA_256).
    Hmac256,
    /// 384-bit HMAC key (HMAC_SHA_384).
    Hmac384,
    /// 512-bit HMAC key (HMAC_SHA_512).
    Hmac512,
}

impl KeySpec {
    /// The spec named `s` (a `KeySpec` value), if sealq models it.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SYMMETRIC_DEFAULT" => Self::SymmetricDefault,
            "HMAC_224" => Self::Hmac224,
            "HMAC_256" => Self::Hmac256,
            "HMAC_384" => Self::Hmac384,
            "HMAC_512" => Self::Hmac512,
            _ => return None,
        })
    }

    /// The `KeySpec` enum value AWS uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SymmetricDefault => "SYMMETRIC_DEFAULT",
            Self::Hmac224 => "HMAC_224",
            Self::Hmac256 => "HMAC_256",
            Self::Hmac384 => "HMAC_384",
            Self::Hmac512 => "HMAC_512",
        }
    }

    /// The only usage keys of this spec may have.
    pub(crate) fn usage(self) -> KeyUsage {
        match self {
            Self::SymmetricDefault => KeyUsage::EncryptDecrypt,
            _ => KeyUsage::GenerateVerifyMac,
        }
    }

    /// The MAC algorithm of an HMAC spec (`MacAlgorithmSpec`).
    pub(crate) fn mac_algorithm(self) -> Option<&'static str> {
        match self {
            Self::SymmetricDefault => None,
            Self::Hmac224 => Some("HMAC_SHA_224"),
            Self::Hmac256 => Some("HMAC_SHA_256"),
            Self::Hmac384 => Some("HMAC_SHA_384"),
            Self::Hmac512 => Some("HMAC_SHA_512"),
        }
    }

    /// Length of an HMAC spec's key material in bytes.
    pub(crate) fn mac_key_len(self) -> Option<usize> {
        match self {
            Self::SymmetricDefault => None,
            Self::Hmac224 => Some(28),
            Self::Hmac256 => Some(32),
            Self::Hmac384 => Some(48),
            Self::Hmac512 => Some(64),
        }
    }
}

/// HMAC of `message` under `secret` (RFC 2104). HMAC takes keys of any
/// length, so keying cannot fail; `None` only if it somehow did.
fn hmac_tag<M: Mac + KeyInit>(secret: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let mut m = <M as Mac>::new_from_slice(secret).ok()?;
    m.update(message);
    Some(m.finalize().into_bytes().to_vec())
}

/// Whether `mac` is the HMAC of `message` under `secret`, compared in
/// constant time (`verify_slice`).
fn hmac_check<M: Mac + KeyInit>(secret: &[u8], message: &[u8], mac: &[u8]) -> bool {
    let Ok(mut m) = <M as Mac>::new_from_slice(secret) else {
        return false;
    };
    m.update(message);
    m.verify_slice(mac).is_ok()
}

/// Whether two byte strings are equal, in time that depends only on their
/// lengths (key material is compared, so no early exit).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    /// Empty for HMAC keys, which have no encryption material.
    pub(crate) versions: Vec<Material>,
    /// Rotations done: (epoch ms, kind), oldest first.
    pub(crate) rotations: Vec<(u64, RotationKind)>,
    /// The key policy document, stored verbatim.
    pub(crate) policy: String,
    /// The key policy, read once when it is set (`None`: a stored policy
    /// this build cannot read; no statement of it then allows anything).
    pub(crate) policy_document: Option<Arc<crate::iam::policy::PolicyDocument>>,
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
    /// Kind of key material; fixed at creation.
    pub(crate) spec: KeySpec,
    /// The secret of an HMAC key (`None` for encryption keys); HMAC keys
    /// never rotate, so it needs no lock.
    mac_secret: Option<MacMaterial>,
    /// Mutable state; never held across `.await`.
    inner: RwLock<KeyInner>,
}

impl Key {
    /// The account that holds the key (from its ARN).
    pub(crate) fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }

    /// The region that holds the key (from its ARN).
    pub(crate) fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or_default()
    }

    /// The region and account that hold the key.
    pub(crate) fn home(&self) -> super::Home<'_> {
        super::Home {
            region: self.region(),
            account: self.account(),
        }
    }

    /// A new enabled symmetric encryption key with one backing-key version.
    pub(crate) fn new(
        region: &str,
        account_id: &str,
        now_ms: u64,
        manager: KeyManager,
        description: String,
        policy: String,
    ) -> Self {
        Self::with_spec(
            region,
            account_id,
            now_ms,
            manager,
            KeySpec::SymmetricDefault,
            description,
            policy,
        )
    }

    /// A new enabled key of `spec`: one backing-key version for an
    /// encryption key, one secret of the spec's length for an HMAC key.
    pub(crate) fn with_spec(
        region: &str,
        account_id: &str,
        now_ms: u64,
        manager: KeyManager,
        spec: KeySpec,
        description: String,
        policy: String,
    ) -> Self {
        let fixed = Fixed {
            id: uuid::Uuid::new_v4(),
            material: None,
        };
        Self::fixed(
            region,
            account_id,
            now_ms,
            manager,
            spec,
            fixed,
            description,
            policy,
        )
    }

    /// A new enabled key of `spec` with a chosen id and, optionally, chosen
    /// first key material (a configuration file's reproducible keys). The
    /// material must be as long as the spec needs (32 bytes for
    /// SYMMETRIC_DEFAULT, the HMAC length otherwise): material of another
    /// length is ignored and random material made, so callers check the
    /// length first (`ops::create_key_fixed` does).
    #[expect(clippy::too_many_arguments, reason = "one constructor behind two callers")]
    pub(crate) fn fixed(
        region: &str,
        account_id: &str,
        now_ms: u64,
        manager: KeyManager,
        spec: KeySpec,
        fixed: Fixed<'_>,
        description: String,
        policy: String,
    ) -> Self {
        let uuid = fixed.id;
        let id: Arc<str> = Arc::from(uuid.to_string());
        let arn = Arc::from(format!("arn:aws:kms:{region}:{account_id}:key/{id}"));
        let (mac_secret, versions) = match (spec.mac_key_len(), fixed.material) {
            (Some(len), Some(m)) if m.len() == len => {
                (Some(MacMaterial(Zeroizing::new(m.to_vec()))), Vec::new())
            }
            (Some(len), _) => (Some(MacMaterial::random(len)), Vec::new()),
            (None, Some(m)) => match <&[u8; 32]>::try_from(m) {
                Ok(bytes) => (None, vec![Material(Zeroizing::new(*bytes))]),
                Err(_) => (None, vec![Material::random()]),
            },
            (None, None) => (None, vec![Material::random()]),
        };
        Self {
            id,
            uuid: *uuid.as_bytes(),
            arn,
            created_ms: now_ms,
            manager,
            spec,
            mac_secret,
            inner: RwLock::new(KeyInner {
                description,
                state: KeyState::Enabled,
                versions,
                rotations: Vec::new(),
                policy_document: read_policy(&policy),
                policy,
                rotation_period_days: None,
                next_rotation_ms: None,
                tags: BTreeMap::new(),
            }),
        }
    }

    /// A key read back from a data directory.
    #[expect(clippy::too_many_arguments, reason = "every part of a stored key")]
    pub(crate) fn from_parts(
        region: &str,
        account_id: &str,
        uuid: [u8; 16],
        created_ms: u64,
        manager: KeyManager,
        spec: KeySpec,
        mac_secret: Option<MacMaterial>,
        inner: KeyInner,
    ) -> Self {
        let id: Arc<str> = Arc::from(uuid::Uuid::from_bytes(uuid).to_string());
        let arn = Arc::from(format!("arn:aws:kms:{region}:{account_id}:key/{id}"));
        Self {
            id,
            uuid,
            arn,
            created_ms,
            manager,
            spec,
            mac_secret,
            inner: RwLock::new(inner),
        }
    }

    /// The HMAC secret, for the key database only.
    pub(crate) fn mac_secret_bytes(&self) -> Option<&[u8]> {
        self.mac_secret.as_ref().map(|m| m.0.as_slice())
    }

    /// Whether `material` is this key's first material (backing-key version
    /// 0, or the HMAC secret), compared in constant time.
    pub(crate) fn material_is(&self, material: &[u8]) -> bool {
        let g = self.read();
        let mine: &[u8] = match (&self.mac_secret, g.versions.first()) {
            (Some(s), _) => &s.0,
            (None, Some(v)) => v.0.as_slice(),
            (None, None) => return false,
        };
        constant_time_eq(mine, material)
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

    /// Applies automatic rotations that came due by `now_ms`; returns
    /// whether the key changed.
    pub(crate) fn catch_up_rotation(&self, now_ms: u64) -> bool {
        let due = {
            let g = self.read();
            matches!(g.next_rotation_ms, Some(next) if now_ms >= next)
        };
        if !due {
            return false;
        }
        let mut g = self.write();
        let (Some(mut next), Some(days)) = (g.next_rotation_ms, g.rotation_period_days) else {
            return false;
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
        true
    }

    /// The usage of this key (fixed by its spec).
    pub(crate) fn usage(&self) -> KeyUsage {
        self.spec.usage()
    }

    /// `KeyMaterialId` of backing-key version `version`: 64 hex digits, as
    /// AWS's, derived from the key id and the version (never from the
    /// material), so it is stable across restarts.
    pub(crate) fn material_id(&self, version: u32) -> String {
        let mut h = <Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut h, b"sealq key material\0");
        sha2::Digest::update(&mut h, self.uuid);
        sha2::Digest::update(&mut h, version.to_be_bytes());
        sha2::Digest::finalize(h)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `CurrentKeyMaterialId`: the newest backing-key version's; `None` for
    /// an HMAC key (AWS sends it for symmetric encryption keys only).
    pub(crate) fn current_material_id(&self) -> Option<String> {
        let newest = self.read().versions.len().checked_sub(1)?;
        Some(self.material_id(u32::try_from(newest).unwrap_or(u32::MAX)))
    }

    /// The `KeyMaterialId` of the version a blob of this key was sealed
    /// under (from its header).
    pub(crate) fn material_id_of(&self, blob: &[u8]) -> Option<String> {
        blob::header(blob).map(|h| self.material_id(h.version))
    }

    /// Seals `plaintext` under the newest backing-key version; `None` for a
    /// key without encryption material (an HMAC key).
    pub(crate) fn seal(&self, plaintext: &[u8], context: &EncryptionContext) -> Option<Vec<u8>> {
        let g = self.read();
        let newest = g.versions.len().checked_sub(1)?;
        let header = Header {
            key_id: self.uuid,
            version: u32::try_from(newest).unwrap_or(u32::MAX),
        };
        Some(blob::seal(&g.versions[newest].0, header, plaintext, context))
    }

    /// HMAC of `message` under this key's secret with the spec's hash;
    /// `None` for a key that is not an HMAC key.
    pub(crate) fn mac(&self, message: &[u8]) -> Option<Vec<u8>> {
        let secret: &[u8] = &self.mac_secret.as_ref()?.0;
        match self.spec {
            KeySpec::SymmetricDefault => None,
            KeySpec::Hmac224 => hmac_tag::<Hmac<Sha224>>(secret, message),
            KeySpec::Hmac256 => hmac_tag::<Hmac<Sha256>>(secret, message),
            KeySpec::Hmac384 => hmac_tag::<Hmac<Sha384>>(secret, message),
            KeySpec::Hmac512 => hmac_tag::<Hmac<Sha512>>(secret, message),
        }
    }

    /// Whether `mac` is the HMAC of `message` under this key, compared in
    /// constant time; `false` for a key that is not an HMAC key.
    pub(crate) fn verify_mac(&self, message: &[u8], mac: &[u8]) -> bool {
        let Some(secret) = self.mac_secret.as_ref() else {
            return false;
        };
        let secret: &[u8] = &secret.0;
        match self.spec {
            KeySpec::SymmetricDefault => false,
            KeySpec::Hmac224 => hmac_check::<Hmac<Sha224>>(secret, message, mac),
            KeySpec::Hmac256 => hmac_check::<Hmac<Sha256>>(secret, message, mac),
            KeySpec::Hmac384 => hmac_check::<Hmac<Sha384>>(secret, message, mac),
            KeySpec::Hmac512 => hmac_check::<Hmac<Sha512>>(secret, message, mac),
        }
    }

    /// Length of the HMAC secret in bytes (0 for encryption keys).
    #[cfg(test)]
    pub(crate) fn mac_key_len(&self) -> usize {
        self.mac_secret.as_ref().map_or(0, |m| m.0.len())
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

/// A key policy read as the resource policy it is; `None` when it cannot
/// be read (checked where policies are set, so only a stored one).
pub(crate) fn read_policy(text: &str) -> Option<Arc<crate::iam::policy::PolicyDocument>> {
    crate::iam::policy::PolicyDocument::parse_json(text, crate::iam::policy::PolicyKind::Resource)
        .ok()
        .map(Arc::new)
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
    fn hmac_follows_the_rfc_4231_test_vectors() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let want = [
            (
                KeySpec::Hmac224,
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
            ),
            (
                KeySpec::Hmac256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                KeySpec::Hmac384,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                KeySpec::Hmac512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (spec, hex) in want {
            let mut k = Key::with_spec(
                "r",
                "a",
                0,
                KeyManager::Customer,
                spec,
                String::new(),
                String::new(),
            );
            k.mac_secret = Some(MacMaterial(Zeroizing::new(b"Jefe".to_vec())));
            let tag = k.mac(b"what do ya want for nothing?").unwrap();
            let got: String = tag.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, hex, "{spec:?}");
            assert!(k.verify_mac(b"what do ya want for nothing?", &tag));
        }
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
