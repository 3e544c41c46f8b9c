//! Who is calling: SigV4 credentials parsed into a [`Principal`].
//!
//! The `Authorization` header (`AWS4-HMAC-SHA256 Credential=AKID/date/region/
//! service/aws4_request, ...`) or the presigned `X-Amz-Credential` query
//! parameter names an access key id; it maps to the IAM user
//! `arn:aws:iam::ACCOUNT:user/<access key id>`. Requests with neither are
//! anonymous. Signatures are not verified yet (any signature passes);
//! this module must never log or keep a signature or secret.
//!
//! Principals are interned, so every message sent by one principal shares one
//! allocation for its sender id. A configuration file may register
//! principals ahead of time ([`Principals::register`]): an access key id then
//! maps to a chosen ARN, and its secret access key is kept (redacted in
//! `Debug`, wiped on drop) for signature checks to come.

pub mod sigv4;

use std::sync::Arc;

use dashmap::DashMap;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// An authenticated caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity {
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// IAM ARN of the caller.
    pub arn: String,
    /// What `SenderId` shows for messages this caller sends.
    pub sender_id: Arc<str>,
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
    /// Secret access keys of registered principals, by access key id.
    secrets: DashMap<String, SecretAccessKey>,
    anonymous_sender: Arc<str>,
}

impl Principals {
    /// An empty table for principals of `account_id`.
    pub fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            known: DashMap::new(),
            secrets: DashMap::new(),
            anonymous_sender: Arc::from(ANONYMOUS_SENDER_ID),
        }
    }

    /// Resolves the principal of a request from its `Authorization` header
    /// and its presigned `X-Amz-Credential` parameter, if any.
    ///
    /// # Errors
    /// `IncompleteSignature` when an `Authorization` header is present but
    /// carries no SigV4 credential.
    pub fn resolve(
        &self,
        authorization: Option<&str>,
        presigned_credential: Option<&str>,
    ) -> Result<Principal> {
        let credential = match (authorization, presigned_credential) {
            (Some(h), _) => Some(credential_of_header(h)?),
            (None, Some(c)) => Some(c),
            (None, None) => None,
        };
        let Some(credential) = credential else {
            return Ok(Principal::Anonymous);
        };
        let access_key_id = credential.split('/').next().unwrap_or_default();
        if access_key_id.is_empty() {
            return Err(incomplete(
                "Credential must have exactly 5 slash-delimited elements",
            ));
        }
        if let Some(id) = self.known.get(access_key_id) {
            return Ok(Principal::Signed(id.clone()));
        }
        let id = Arc::new(Identity {
            access_key_id: access_key_id.to_owned(),
            arn: format!("arn:aws:iam::{}:user/{access_key_id}", self.account_id),
            sender_id: Arc::from(access_key_id),
        });
        let id = self.known.entry(access_key_id.to_owned()).or_insert(id).clone();
        Ok(Principal::Signed(id))
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
        });
        self.known.insert(access_key_id.to_owned(), id);
        match secret {
            Some(s) => {
                self.secrets.insert(access_key_id.to_owned(), s);
            }
            None => {
                self.secrets.remove(access_key_id);
            }
        }
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

fn incomplete(why: &str) -> Error {
    Error::IncompleteSignature(why.to_owned().into())
}

/// The `Credential=...` value of a SigV4 `Authorization` header.
fn credential_of_header(header: &str) -> Result<&str> {
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| incomplete("Authorization header must use the AWS4-HMAC-SHA256 algorithm"))?;
    rest.split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Credential="))
        .ok_or_else(|| incomplete("Authorization header requires 'Credential' parameter."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sqs/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

    #[test]
    fn authorization_header_names_an_iam_user() {
        let p = Principals::new("123456789012");
        let Principal::Signed(id) = p.resolve(Some(HEADER), None).unwrap() else {
            panic!("anonymous")
        };
        assert_eq!(id.access_key_id, "AKIDEXAMPLE");
        assert_eq!(id.arn, "arn:aws:iam::123456789012:user/AKIDEXAMPLE");
        assert_eq!(&*id.sender_id, "AKIDEXAMPLE");
    }

    #[test]
    fn presigned_credential_is_used_without_a_header() {
        let p = Principals::new("000000000000");
        let got = p
            .resolve(None, Some("AKIAPRESIGN/20240101/us-east-1/sqs/aws4_request"))
            .unwrap();
        assert_eq!(got.arn(), Some("arn:aws:iam::000000000000:user/AKIAPRESIGN"));
    }

    #[test]
    fn unsigned_requests_are_anonymous() {
        let p = Principals::new("000000000000");
        assert_eq!(p.resolve(None, None).unwrap(), Principal::Anonymous);
    }

    #[test]
    fn principals_are_interned() {
        let p = Principals::new("000000000000");
        let (Principal::Signed(a), Principal::Signed(b)) = (
            p.resolve(Some(HEADER), None).unwrap(),
            p.resolve(Some(HEADER), None).unwrap(),
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
        let got = p.resolve(Some(HEADER), None).unwrap();
        assert_eq!(got.arn(), Some("arn:aws:iam::000000000000:role/app"));
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
        let err = p.resolve(Some("Basic dXNlcjpwYXNz"), None).unwrap_err();
        assert_eq!(err.meta().query_code, "IncompleteSignature");
        let err = p
            .resolve(Some("AWS4-HMAC-SHA256 SignedHeaders=host"), None)
            .unwrap_err();
        assert!(matches!(err, Error::IncompleteSignature(_)));
    }
}
