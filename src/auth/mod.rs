//! Who is calling: SigV4 credentials parsed into a [`Principal`].
//!
//! The `Authorization` header (`AWS4-HMAC-SHA256 Credential=AKID/date/region/
//! service/aws4_request, ...`) or the presigned `X-Amz-Credential` query
//! parameter names an access key id; it maps to the IAM user
//! `arn:aws:iam::ACCOUNT:user/<access key id>`. Requests with neither are
//! anonymous. [`Principals::authenticate`] verifies the signature (see
//! [`sigv4`]) of keys registered with a secret, and of every key in
//! [`AuthMode::Verify`]; in [`AuthMode::Open`] other keys pass unchecked.
//! This module must never log or keep a signature or secret.
//!
//! Principals are interned, so every message sent by one principal shares one
//! allocation for its sender id. A configuration file may register
//! principals ahead of time ([`Principals::register`]): an access key id then
//! maps to a chosen ARN, and its secret access key is kept (redacted in
//! `Debug`, wiped on drop) to verify its signatures.

pub mod session;
pub mod sigv4;

#[cfg(test)]
mod fuzz;

use std::sync::Arc;

use dashmap::DashMap;
use zeroize::Zeroizing;

/// An authenticated caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// Access key id from the credential scope (for a session principal,
    /// the access key of the session that first named it).
    pub access_key_id: String,
    /// IAM ARN of the caller.
    pub arn: String,
    /// What `SenderId` shows for messages this caller sends.
    pub sender_id: Arc<str>,
    /// Whether the caller signs with temporary credentials (issued by
    /// STS); such callers cannot call GetSessionToken, and roles they
    /// assume are limited to one-hour sessions (role chaining).
    pub temporary: bool,
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No SigV4 credentials.
    Anonymous,
    /// Signed by this identity.
    Signed(Arc<Identity>),
}

/// `SenderId` of anonymous senders whose address is unknown (AWS shows the
/// caller's IP address; sealq does too when it has one).
pub const ANONYMOUS_SENDER_ID: &str = "anonymous";

impl Principal {
    /// The principal's ARN, or `None` when anonymous.
    pub fn arn(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::Signed(id) => Some(&id.arn),
        }
    }
}

/// A secret access key: never logged, redacted in `Debug`, wiped on drop.
#[derive(Clone)]
pub struct SecretAccessKey(Zeroizing<String>);

impl SecretAccessKey {
    /// Wraps a secret access key.
    pub fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    /// The secret itself, for signature checks; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretAccessKey(<redacted>)")
    }
}

/// Interning table of principals, keyed by access key id.
#[derive(Debug)]
pub struct Principals {
    account_id: String,
    known: DashMap<String, Arc<Identity>>,
    /// Access key ids registered ahead of time (the configuration file),
    /// unlike those merely seen in requests.
    registered: DashMap<String, ()>,
    /// Secret access keys of registered principals, by access key id.
    secrets: DashMap<String, SecretAccessKey>,
    /// Derived signing keys of the registered secrets and of sessions.
    keys: sigv4::KeyCache,
    anonymous_sender: Arc<str>,
    /// Roles callers may assume, by ARN.
    roles: DashMap<String, Arc<session::Role>>,
    /// Temporary credentials issued by STS, by access key id.
    sessions: DashMap<String, session::Session>,
    /// Principals of temporary credentials, interned by ARN (every session
    /// of one role and session name is one principal).
    session_identities: DashMap<String, Arc<Identity>>,
    /// Where sessions are written, with a data directory.
    vault: std::sync::OnceLock<Box<dyn session::SessionVault>>,
    /// Inline identity policies, by the ARN of the user or role holding
    /// them.
    identity_policies: DashMap<String, Arc<[crate::iam::NamedPolicy]>>,
}

/// How signatures are checked (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Any well-formed signature passes and the access key id names the
    /// principal, except for keys registered with a secret: those are
    /// verified.
    #[default]
    Open,
    /// Every signed request is verified against the registered principals.
    Verify,
    /// `Verify`, and AWS's transport rule: requests to an encrypted queue
    /// must come over TLS (`InvalidSecurity` otherwise).
    Strict,
}

/// A request as the verifier reads it: its parts and its body.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    /// Method, path, query and headers.
    pub parts: sigv4::RequestParts<'a>,
    /// The body, whose hash the signature covers.
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    /// The first value of the header `name` (any case).
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.parts
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// What the server checks a signature against.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// `--auth`.
    pub mode: AuthMode,
    /// The server's clock, seconds since the epoch.
    pub now_secs: u64,
    /// The service the request is for (`sqs`, `kms`).
    pub service: &'a str,
}

/// Why a signed request is refused, before it is given a service's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The signature's parts cannot be read (`IncompleteSignature`).
    Incomplete(String),
    /// The signature or its scope is wrong (`SignatureDoesNotMatch`).
    BadSignature(String),
    /// The signature is too old or too new for the server's clock, or a
    /// presigned URL has expired (`SignatureDoesNotMatch`).
    Expired(String),
    /// The access key id is not known, or its session token is missing or
    /// wrong (`InvalidClientTokenId`).
    UnknownKey,
    /// The session token has expired (`ExpiredToken`).
    ExpiredToken,
}

/// Who a request's caller is, how that was established, and the region
/// it signed for.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The caller.
    pub principal: Principal,
    /// How the caller was established.
    pub outcome: AuthOutcome,
    /// The region of the signature's credential scope; `None` for an
    /// anonymous request (it is served in the server's region).
    pub region: Option<String>,
}

/// Whether `s` can name a region: lowercase letters, digits and hyphens,
/// starting with a letter, at most 50 characters (AWS's names, and the
/// `local`-style names clients of local emulators sign with).
pub fn is_region_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// How a request's caller was established: what metrics and the request
/// log show (never a signature, secret or token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The signature was verified.
    Ok,
    /// Open mode let an unregistered key's signature pass unchecked.
    Unchecked,
    /// The request carried no signature.
    Anonymous,
    /// Refused: the signature's parts could not be read.
    Incomplete,
    /// Refused: the signature or its scope did not match.
    BadSignature,
    /// Refused: the access key id is not known.
    UnknownKey,
    /// Refused: the signature's time is outside the window, or expired.
    Expired,
}

impl AuthOutcome {
    /// Every outcome, in the order metrics list them.
    pub const ALL: [Self; 7] = [
        Self::Ok,
        Self::Unchecked,
        Self::Anonymous,
        Self::Incomplete,
        Self::BadSignature,
        Self::UnknownKey,
        Self::Expired,
    ];

    /// The outcome's label in metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unchecked => "unchecked",
            Self::Anonymous => "anonymous",
            Self::Incomplete => "incomplete",
            Self::BadSignature => "bad_signature",
            Self::UnknownKey => "unknown_key",
            Self::Expired => "expired",
        }
    }
}

impl AuthError {
    /// The outcome this refusal is counted as.
    pub fn outcome(&self) -> AuthOutcome {
        match self {
            Self::Incomplete(_) => AuthOutcome::Incomplete,
            Self::BadSignature(_) => AuthOutcome::BadSignature,
            Self::Expired(_) => AuthOutcome::Expired,
            Self::UnknownKey => AuthOutcome::UnknownKey,
            Self::ExpiredToken => AuthOutcome::Expired,
        }
    }
}

/// AWS's message for a signature that does not match.
pub const SIGNATURE_DOES_NOT_MATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// AWS's message for an unknown access key id.
pub const INVALID_CLIENT_TOKEN: &str = "The security token included in the request is invalid.";

/// AWS's message for an expired session token.
pub const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

/// Minutes a signed request may be early or late by the server's clock.
const REQUEST_WINDOW_MINUTES: u64 = 15;

fn parse_error(e: &sigv4::ParseError) -> AuthError {
    use sigv4::ParseError as P;
    AuthError::Incomplete(match e {
        P::Algorithm(a) => format!("Unsupported AWS 'algorithm': '{a}'."),
        P::Missing(part) => format!("Authorization header requires '{part}' parameter."),
        P::Duplicate(part) => format!("Authorization header has a duplicate '{part}' parameter."),
        P::Credential(c) => format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{c}'"
        ),
        P::Signature => "Signature must be 64 hexadecimal characters.".to_owned(),
        P::SignedHeaders(h) => format!(
            "SignedHeaders must be lower-case, sorted, separated by ';' and include 'host', got '{h}'."
        ),
        P::Date(d) => format!("Date must be in ISO-8601 'basic format'. Got '{d}'."),
        P::Expires(e) => {
            format!("X-Amz-Expires must be a number of seconds from 1 to 604800 (7 days), got '{e}'.")
        }
    })
}

impl Principals {
    /// An empty table for principals of `account_id`.
    pub fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            known: DashMap::new(),
            registered: DashMap::new(),
            secrets: DashMap::new(),
            keys: sigv4::KeyCache::default(),
            anonymous_sender: Arc::from(ANONYMOUS_SENDER_ID),
            roles: DashMap::new(),
            sessions: DashMap::new(),
            session_identities: DashMap::new(),
            vault: std::sync::OnceLock::new(),
            identity_policies: DashMap::new(),
        }
    }

    /// Replaces the inline identity policies of the user or role `arn`.
    pub fn set_identity_policies(&self, arn: &str, policies: Vec<crate::iam::NamedPolicy>) {
        self.identity_policies.insert(arn.to_owned(), policies.into());
    }

    /// The identity policies that apply to `principal_arn` (its role's,
    /// for a role session), if it has any.
    pub fn identity_policies(&self, principal_arn: &str) -> Option<Arc<[crate::iam::NamedPolicy]>> {
        if self.identity_policies.is_empty() {
            return None;
        }
        let holder = crate::iam::policy_holder(principal_arn);
        self.identity_policies
            .get(holder.as_ref())
            .map(|p| p.clone())
            .filter(|p| !p.is_empty())
    }

    /// The ARNs of the principals registered for `access_key_id`, if any.
    pub fn registered_arn(&self, access_key_id: &str) -> Option<String> {
        self.known.get(access_key_id).map(|id| id.arn.clone())
    }

    /// The principals registered ahead of time as (access key id, ARN),
    /// ordered by access key id: long-lived access keys of IAM users.
    pub fn registered(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .registered
            .iter()
            .filter_map(|r| {
                self.known
                    .get(r.key())
                    .map(|id| (r.key().clone(), id.arn.clone()))
            })
            .collect();
        out.sort();
        out
    }

    /// Every declared role, ordered by ARN.
    pub fn all_roles(&self) -> Vec<Arc<session::Role>> {
        let mut out: Vec<Arc<session::Role>> = self.roles.iter().map(|r| r.clone()).collect();
        out.sort_by(|a, b| a.arn.cmp(&b.arn));
        out
    }

    /// The users and roles that have identity policies, by ARN, with them.
    pub fn policy_holders(&self) -> Vec<(String, Arc<[crate::iam::NamedPolicy]>)> {
        let mut out: Vec<(String, Arc<[crate::iam::NamedPolicy]>)> = self
            .identity_policies
            .iter()
            .filter(|r| !r.value().is_empty())
            .map(|r| (r.key().clone(), r.value().clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The roles declared with this name (in any account).
    pub fn roles_named(&self, name: &str) -> Vec<Arc<session::Role>> {
        self.roles
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.clone())
            .collect()
    }

    /// Restores the sessions a data directory kept (those expired for
    /// more than a day are left out) and writes new ones to `vault` from
    /// now on.
    pub fn attach_sessions(
        &self,
        vault: Box<dyn session::SessionVault>,
        records: Vec<session::SessionRecord>,
        now_secs: u64,
    ) {
        for r in records {
            if r.expires_secs + session::EXPIRED_KEPT_SECS <= now_secs {
                continue;
            }
            let identity = self.session_identity(&r.arn, &r.sender_id, &r.access_key_id);
            self.sessions.insert(
                r.access_key_id.clone(),
                session::Session {
                    secret: r.secret,
                    token_digest: r.token_digest,
                    expires_secs: r.expires_secs,
                    identity,
                },
            );
        }
        let _ = self.vault.set(vault);
    }

    /// The interned principal of sessions acting as `arn`.
    fn session_identity(&self, arn: &str, sender_id: &str, access_key_id: &str) -> Arc<Identity> {
        if let Some(id) = self.session_identities.get(arn) {
            return id.clone();
        }
        let id = Arc::new(Identity {
            access_key_id: access_key_id.to_owned(),
            arn: arn.to_owned(),
            sender_id: Arc::from(sender_id),
            temporary: true,
        });
        self.session_identities
            .entry(arn.to_owned())
            .or_insert(id)
            .clone()
    }

    /// The server's account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Declares a role that callers may assume (replacing one of the same
    /// ARN).
    pub fn register_role(&self, role: session::Role) {
        self.roles.insert(role.arn.clone(), Arc::new(role));
    }

    /// The role of this ARN, if declared.
    pub fn role(&self, arn: &str) -> Option<Arc<session::Role>> {
        self.roles.get(arn).map(|r| r.clone())
    }

    /// Issues temporary credentials acting as `arn` (with `sender_id` as
    /// its messages' `SenderId`), valid until `expires_secs`. Every session
    /// of one ARN is one principal (one allocation, one set of data keys).
    /// Sessions expired for more than a day are forgotten. With a data
    /// directory the session is written there before it is returned.
    ///
    /// # Errors
    /// Why the data directory could not keep the session (nothing is
    /// issued then).
    pub fn issue_session(
        &self,
        arn: &str,
        sender_id: &str,
        now_secs: u64,
        expires_secs: u64,
    ) -> std::result::Result<session::Issued, String> {
        let horizon = now_secs.saturating_sub(session::EXPIRED_KEPT_SECS);
        self.sessions.retain(|akid, s| {
            let keep = s.expires_secs > horizon;
            if !keep {
                self.keys.forget(akid);
            }
            keep
        });
        let access_key_id = session::new_access_key_id();
        let identity = self.session_identity(arn, sender_id, &access_key_id);
        let (issued, session) = session::issue(identity, access_key_id, expires_secs);
        if let Some(vault) = self.vault.get() {
            vault.forget_expired_before(horizon)?;
            vault.save(&session::SessionRecord {
                access_key_id: issued.access_key_id.clone(),
                arn: arn.to_owned(),
                sender_id: sender_id.to_owned(),
                secret: session.secret.clone(),
                token_digest: session.token_digest,
                expires_secs,
            })?;
        }
        self.sessions.insert(issued.access_key_id.clone(), session);
        Ok(issued)
    }

    /// Registers `access_key_id` as the principal `arn` (replacing what was
    /// known for it), with its secret access key when given; requests signed
    /// with this access key id then act as `arn`. `SenderId` stays the access
    /// key id.
    pub fn register(&self, access_key_id: &str, arn: &str, secret: Option<SecretAccessKey>) {
        let id = Arc::new(Identity {
            access_key_id: access_key_id.to_owned(),
            arn: arn.to_owned(),
            sender_id: Arc::from(access_key_id),
            temporary: false,
        });
        self.known.insert(access_key_id.to_owned(), id);
        self.registered.insert(access_key_id.to_owned(), ());
        self.keys.forget(access_key_id);
        match secret {
            Some(s) => {
                self.secrets.insert(access_key_id.to_owned(), s);
            }
            None => {
                self.secrets.remove(access_key_id);
            }
        }
    }

    /// Authenticates a request: Anonymous when it carries neither an
    /// `Authorization` header nor presigned `X-Amz-*` parameters; else the
    /// signer, after checking the signature where `expect.mode` asks for it
    /// (always for a key registered with a secret; for every key in
    /// `Verify`): its parts, its scope (date, region, service), its time
    /// against the server's clock (15 minutes either way; a presigned URL
    /// until `X-Amz-Expires` has passed) and the signature itself, in
    /// constant time.
    ///
    /// # Errors
    /// An [`AuthError`] saying why the request is refused.
    pub fn authenticate(
        &self,
        req: &SignedRequest<'_>,
        expect: Expect<'_>,
    ) -> std::result::Result<Authenticated, AuthError> {
        let header = req
            .header("authorization")
            .map(|v| std::str::from_utf8(v).unwrap_or_default());
        let mut presigned_token = None;
        let (credential, signed_headers, signature, amz_date, presign_expires) = match header {
            Some(h) => {
                let parsed = sigv4::AuthorizationHeader::parse(h).map_err(|e| parse_error(&e))?;
                let date = req.header("x-amz-date").map(String::from_utf8_lossy);
                (
                    parsed.credential,
                    parsed.signed_headers,
                    parsed.signature,
                    date,
                    None,
                )
            }
            None => match sigv4::Presigned::parse(req.parts.query).map_err(|e| parse_error(&e))? {
                Some(p) => {
                    presigned_token = p.security_token;
                    (
                        p.credential,
                        p.signed_headers,
                        p.signature,
                        Some(std::borrow::Cow::Owned(p.amz_date)),
                        Some(p.expires),
                    )
                }
                None => {
                    return Ok(Authenticated {
                        principal: Principal::Anonymous,
                        outcome: AuthOutcome::Anonymous,
                        region: None,
                    });
                }
            },
        };
        // Every region is served (the request's is its credential scope's),
        // but a scope must name one.
        if !is_region_name(&credential.region) {
            return Err(AuthError::BadSignature(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                credential.region
            )));
        }
        let region = Some(credential.region.clone());
        // Temporary credentials: the session token must be the one issued
        // with the key, and not expired.
        let session = if credential.access_key_id.starts_with("ASIA") {
            match self.sessions.get(&credential.access_key_id) {
                Some(s) => {
                    let token = presigned_token
                        .as_deref()
                        .map(str::as_bytes)
                        .or_else(|| req.header("x-amz-security-token"));
                    match s.check(token, expect.now_secs) {
                        session::TokenCheck::Valid => Some(s.identity.clone()),
                        session::TokenCheck::Invalid => return Err(AuthError::UnknownKey),
                        session::TokenCheck::Expired => return Err(AuthError::ExpiredToken),
                    }
                }
                None => None,
            }
        } else {
            None
        };
        // A derived key exists only for a registered secret or a session,
        // so the hot path (a key signing again on the same day) asks one
        // map.
        let derived = self.keys.get(&credential, |_| ()).is_some();
        if !derived && session.is_none() && !self.secrets.contains_key(&credential.access_key_id) {
            return match expect.mode {
                AuthMode::Open => Ok(Authenticated {
                    principal: self.principal(&credential.access_key_id),
                    outcome: AuthOutcome::Unchecked,
                    region,
                }),
                AuthMode::Verify | AuthMode::Strict => Err(AuthError::UnknownKey),
            };
        };
        let amz_date = amz_date.ok_or_else(|| {
            AuthError::Incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                    .to_owned(),
            )
        })?;
        let signed_at = sigv4::parse_amz_date(&amz_date).map_err(|e| parse_error(&e))?;
        if !amz_date.starts_with(&credential.date) {
            return Err(AuthError::BadSignature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
                credential.date,
                &amz_date[..8]
            )));
        }
        if credential.service != expect.service {
            return Err(AuthError::BadSignature(format!(
                "Credential should be scoped to correct service: '{}'. ",
                expect.service
            )));
        }
        match presign_expires {
            None => sigv4::check_request_time(signed_at, expect.now_secs, REQUEST_WINDOW_MINUTES)
                .map_err(AuthError::Expired)?,
            Some(expires) if signed_at + expires < expect.now_secs => {
                return Err(AuthError::Expired(format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - {expires} sec.)",
                    sigv4::format_amz_date(expect.now_secs - expires),
                    sigv4::format_amz_date(expect.now_secs)
                )));
            }
            // A presigned URL signed ahead of the server's clock: the same
            // window as a header (its "not yet current" message).
            Some(_) if signed_at > expect.now_secs => {
                sigv4::check_request_time(signed_at, expect.now_secs, REQUEST_WINDOW_MINUTES)
                    .map_err(AuthError::Expired)?;
            }
            Some(_) => {}
        }
        // The secret is read (and copied) only to derive a new key.
        if !derived {
            let secret = match &session {
                Some(_) => self
                    .sessions
                    .get(&credential.access_key_id)
                    .map(|s| s.secret.clone()),
                None => self.secret_access_key(&credential.access_key_id),
            }
            .ok_or(AuthError::UnknownKey)?;
            self.keys.key(&credential, secret.expose());
        }
        let declared = req
            .header("x-amz-content-sha256")
            .map(|v| std::str::from_utf8(v).unwrap_or_default());
        // The payload hash the client signed: its declared one (which must
        // be the body's, or UNSIGNED-PAYLOAD), else the body's.
        let body_hash;
        let payload_hash = match declared {
            Some(d @ "UNSIGNED-PAYLOAD") => d,
            _ => {
                body_hash = sigv4::Sha256Hex::of(req.body);
                match declared {
                    Some(d) if d != body_hash.as_str() => {
                        return Err(AuthError::BadSignature(
                            "The provided 'x-amz-content-sha256' header does not match what was computed."
                                .to_owned(),
                        ));
                    }
                    _ => body_hash.as_str(),
                }
            }
        };
        let skip = presign_expires.map(|_| "X-Amz-Signature");
        // A signed header the request lacks cannot have been signed as
        // sent: the signature does not match, as AWS says.
        let canonical = sigv4::canonical_request(&req.parts, payload_hash, &signed_headers, true, skip)
            .map_err(|_| AuthError::BadSignature(SIGNATURE_DOES_NOT_MATCH.to_owned()))?;
        let canonical_hash = sigv4::Sha256Hex::of(canonical.as_bytes());
        let verified = self.keys.get(&credential, |key| {
            sigv4::verify_request(key, &amz_date, &credential, &canonical_hash, &signature)
        });
        if verified == Some(true) {
            let principal = match session {
                Some(id) => Principal::Signed(id),
                None => self.principal(&credential.access_key_id),
            };
            return Ok(Authenticated {
                principal,
                outcome: AuthOutcome::Ok,
                region,
            });
        }
        Err(AuthError::BadSignature(SIGNATURE_DOES_NOT_MATCH.to_owned()))
    }

    /// The interned principal of an access key id (the IAM user named by
    /// it unless registered), without any check.
    pub fn principal(&self, access_key_id: &str) -> Principal {
        if let Some(id) = self.known.get(access_key_id) {
            return Principal::Signed(id.clone());
        }
        let id = Arc::new(Identity {
            access_key_id: access_key_id.to_owned(),
            arn: format!("arn:aws:iam::{}:user/{access_key_id}", self.account_id),
            sender_id: Arc::from(access_key_id),
            temporary: false,
        });
        Principal::Signed(self.known.entry(access_key_id.to_owned()).or_insert(id).clone())
    }

    /// The secret access key registered for `access_key_id`, if any.
    pub fn secret_access_key(&self, access_key_id: &str) -> Option<SecretAccessKey> {
        self.secrets.get(access_key_id).map(|s| s.clone())
    }

    /// The shared sender id of anonymous callers.
    pub fn anonymous_sender_id(&self) -> Arc<str> {
        self.anonymous_sender.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sqs/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

    /// Authenticates in open mode a request with this `Authorization`
    /// header (if any) and query.
    fn open(p: &Principals, header: Option<&str>, query: &str) -> std::result::Result<Principal, AuthError> {
        let mut headers: Vec<(&str, &[u8])> =
            vec![("host", b"localhost"), ("x-amz-date", b"20150830T123600Z")];
        if let Some(h) = header {
            headers.push(("authorization", h.as_bytes()));
        }
        let req = SignedRequest {
            parts: sigv4::RequestParts {
                method: "POST",
                path: "/",
                query,
                headers: &headers,
            },
            body: b"",
        };
        let expect = Expect {
            mode: AuthMode::Open,
            now_secs: 1_440_938_160,
            service: "sqs",
        };
        p.authenticate(&req, expect).map(|a| a.principal)
    }

    #[test]
    fn authorization_header_names_an_iam_user() {
        let p = Principals::new("123456789012");
        let Principal::Signed(id) = open(&p, Some(HEADER), "").unwrap() else {
            panic!("anonymous")
        };
        assert_eq!(id.access_key_id, "AKIDEXAMPLE");
        assert_eq!(id.arn, "arn:aws:iam::123456789012:user/AKIDEXAMPLE");
        assert_eq!(&*id.sender_id, "AKIDEXAMPLE");
    }

    #[test]
    fn presigned_credential_is_used_without_a_header() {
        let p = Principals::new("000000000000");
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAPRESIGN%2F20150830%2Fus-east-1%2Fsqs%2Faws4_request\
            &X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
        let got = open(&p, None, query).unwrap();
        assert_eq!(got.arn(), Some("arn:aws:iam::000000000000:user/AKIAPRESIGN"));
    }

    #[test]
    fn unsigned_requests_are_anonymous() {
        let p = Principals::new("000000000000");
        assert_eq!(open(&p, None, "Action=ListQueues").unwrap(), Principal::Anonymous);
    }

    #[test]
    fn principals_are_interned() {
        let p = Principals::new("000000000000");
        let (Principal::Signed(a), Principal::Signed(b)) = (
            open(&p, Some(HEADER), "").unwrap(),
            open(&p, Some(HEADER), "").unwrap(),
        ) else {
            panic!("anonymous")
        };
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn registered_principals_act_as_their_arn_and_hide_their_secret() {
        let p = Principals::new("000000000000");
        p.register(
            "AKIDEXAMPLE",
            "arn:aws:iam::000000000000:role/app",
            Some(SecretAccessKey::new("wJalrXUtnFEMI".to_owned())),
        );
        // Registered with a secret: verified even in open mode (and this
        // header's signature is not made with that secret).
        assert_eq!(
            open(&p, Some(HEADER), ""),
            Err(AuthError::BadSignature(SIGNATURE_DOES_NOT_MATCH.to_owned()))
        );
        assert_eq!(
            p.principal("AKIDEXAMPLE").arn(),
            Some("arn:aws:iam::000000000000:role/app")
        );
        assert_eq!(
            p.secret_access_key("AKIDEXAMPLE").unwrap().expose(),
            "wJalrXUtnFEMI"
        );
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("wJalrXUtnFEMI"), "{dbg}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
    }

    #[test]
    fn malformed_header_is_an_incomplete_signature() {
        let p = Principals::new("000000000000");
        assert!(matches!(
            open(&p, Some("Basic dXNlcjpwYXNz"), ""),
            Err(AuthError::Incomplete(_))
        ));
        assert_eq!(
            open(&p, Some("AWS4-HMAC-SHA256 SignedHeaders=host"), ""),
            Err(AuthError::Incomplete(
                "Authorization header requires 'Credential' parameter.".to_owned()
            ))
        );
    }
}
