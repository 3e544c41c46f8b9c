//! Roles and temporary credentials: what STS's AssumeRole and
//! GetSessionToken issue, and what [`super::Principals::authenticate`]
//! checks a request signed with them against.
//!
//! A session is an `ASIA…` access key id, a secret access key and a session
//! token, valid until its expiry on the server's clock. The token itself is
//! never kept: only its SHA-256, compared in constant time. With a data
//! directory every session is written there (a [`SessionVault`]) before
//! its credentials are returned, so they stay valid across restarts, as
//! AWS's do; without one a restart forgets them (requests then get
//! `InvalidClientTokenId`). An expired session is kept for a day after its
//! expiry so its requests get `ExpiredToken` rather than
//! `InvalidClientTokenId`, then swept when a new one is issued.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

use super::{Identity, SecretAccessKey};
use crate::iam::policy::PolicyDocument;

/// A role that callers may assume, from the configuration file.
#[derive(Debug, Clone)]
pub struct Role {
    /// `arn:aws:iam::ACCOUNT:role/NAME`.
    pub arn: String,
    /// The role's name.
    pub name: String,
    /// Who may assume it (`sts:AssumeRole`).
    pub trust_policy: PolicyDocument,
    /// The longest session AssumeRole grants, seconds (3,600–43,200).
    pub max_session_secs: u64,
    /// IAM's unique id of the role (`AROA…`), stable for its ARN.
    pub role_id: String,
}

impl Role {
    /// A role named `name` in `account`.
    pub fn new(account: &str, name: &str, trust_policy: PolicyDocument, max_session_secs: u64) -> Self {
        let arn = format!("arn:aws:iam::{account}:role/{name}");
        let role_id = unique_id("AROA", &arn);
        Self {
            arn,
            name: name.to_owned(),
            trust_policy,
            max_session_secs,
            role_id,
        }
    }
}

/// IAM's unique ids are a four-letter prefix (`AIDA` users, `AROA` roles)
/// and 17 characters; sealq derives them from the ARN, so they are stable.
pub fn unique_id(prefix: &str, arn: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(arn.as_bytes());
    let mut id = String::with_capacity(21);
    id.push_str(prefix);
    id.extend(
        digest
            .iter()
            .take(17)
            .map(|b| char::from(ALPHABET[usize::from(b % 32)])),
    );
    id
}

/// A session as a data directory keeps it (the secret included, wiped on
/// drop and redacted in `Debug`).
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The principal the session acts as.
    pub arn: String,
    /// Its messages' `SenderId`.
    pub sender_id: String,
    /// The secret access key.
    pub secret: SecretAccessKey,
    /// SHA-256 of the session token.
    pub token_digest: [u8; 32],
    /// Seconds since the epoch.
    pub expires_secs: u64,
}

/// Where sessions are kept across restarts (the data directory's key
/// database).
pub trait SessionVault: Send + Sync + std::fmt::Debug {
    /// Writes `record` durably.
    ///
    /// # Errors
    /// Why it could not be written.
    fn save(&self, record: &SessionRecord) -> Result<(), String>;

    /// Removes the sessions that expired before `secs`.
    ///
    /// # Errors
    /// Why they could not be removed.
    fn forget_expired_before(&self, secs: u64) -> Result<(), String>;
}

/// One issued set of temporary credentials.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) secret: SecretAccessKey,
    pub(super) token_digest: [u8; 32],
    /// Seconds since the epoch.
    pub(super) expires_secs: u64,
    pub(super) identity: Arc<Identity>,
}

/// Seconds an expired session is remembered (so it is reported expired).
pub(super) const EXPIRED_KEPT_SECS: u64 = 86_400;

/// What a request's session token says, checked against a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenCheck {
    /// The right token, not expired.
    Valid,
    /// No token, or not this session's.
    Invalid,
    /// The right token, past its expiry.
    Expired,
}

impl Session {
    pub(super) fn check(&self, token: Option<&[u8]>, now_secs: u64) -> TokenCheck {
        let Some(token) = token else {
            return TokenCheck::Invalid;
        };
        let digest: [u8; 32] = Sha256::digest(token).into();
        // Constant time: the digest of a guess reveals nothing by timing.
        if aws_lc_rs::constant_time::verify_slices_are_equal(&digest, &self.token_digest).is_err() {
            return TokenCheck::Invalid;
        }
        if now_secs >= self.expires_secs {
            return TokenCheck::Expired;
        }
        TokenCheck::Valid
    }
}

/// Freshly issued temporary credentials, returned to the caller once.
#[derive(Debug)]
pub struct Issued {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key (redacted in `Debug`).
    pub secret_access_key: SecretAccessKey,
    /// The session token (redacted in `Debug`).
    pub session_token: SecretAccessKey,
    /// Seconds since the epoch.
    pub expires_secs: u64,
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A new random temporary access key id (`ASIA` and 16 characters).
pub(super) fn new_access_key_id() -> String {
    format!("ASIA{}", random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
}

/// New random credentials with `access_key_id`, valid until
/// `expires_secs`, and the session that checks them.
pub(super) fn issue(identity: Arc<Identity>, access_key_id: String, expires_secs: u64) -> (Issued, Session) {
    let secret = SecretAccessKey::new(random_string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    ));
    let mut raw = zeroize::Zeroizing::new([0u8; 160]);
    rand::rng().fill(&mut raw[..]);
    let token = SecretAccessKey::new(B64.encode(&raw[..]));
    let token_digest = Sha256::digest(token.expose().as_bytes()).into();
    let session = Session {
        secret: secret.clone(),
        token_digest,
        expires_secs,
        identity,
    };
    (
        Issued {
            access_key_id,
            secret_access_key: secret,
            session_token: token,
            expires_secs,
        },
        session,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Arc<Identity> {
        Arc::new(Identity {
            access_key_id: "AKID".into(),
            arn: "arn:aws:iam::000000000000:user/a".into(),
            sender_id: Arc::from("AKID"),
            temporary: false,
        })
    }

    #[test]
    fn issued_credentials_look_like_aws_ones_and_check_only_their_token() {
        let (issued, session) = issue(identity(), new_access_key_id(), 1_000);
        assert!(issued.access_key_id.starts_with("ASIA"));
        assert_eq!(issued.access_key_id.len(), 20);
        assert_eq!(issued.secret_access_key.expose().len(), 40);
        let token = issued.session_token.expose().as_bytes();
        assert_eq!(session.check(Some(token), 999), TokenCheck::Valid);
        assert_eq!(session.check(Some(token), 1_000), TokenCheck::Expired);
        assert_eq!(session.check(Some(b"forged"), 999), TokenCheck::Invalid);
        assert_eq!(session.check(None, 999), TokenCheck::Invalid);
        let (other, _) = issue(identity(), new_access_key_id(), 1_000);
        assert_ne!(other.access_key_id, issued.access_key_id);
        let dbg = format!("{issued:?}");
        assert!(!dbg.contains(issued.session_token.expose()), "{dbg}");
        assert!(!dbg.contains(issued.secret_access_key.expose()), "{dbg}");
    }

    #[test]
    fn unique_ids_are_stable_per_arn() {
        let a = unique_id("AROA", "arn:aws:iam::1:role/a");
        assert_eq!(a, unique_id("AROA", "arn:aws:iam::1:role/a"));
        assert_ne!(a, unique_id("AROA", "arn:aws:iam::1:role/b"));
        assert_eq!(a.len(), 21);
        assert!(a.starts_with("AROA"));
    }
}
