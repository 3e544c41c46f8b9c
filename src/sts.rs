//! STS on sealq's port: GetCallerIdentity, AssumeRole and GetSessionToken.
//!
//! Roles come from the configuration file (`[[roles]]`); a role may be
//! assumed by the principals its trust policy allows. The temporary
//! credentials issued expire on the server's clock; a request signed with
//! them acts as the session's principal (`auth::session`). This module
//! knows no wire format: `protocol::sts` decodes the query parameters and
//! writes the XML.

use std::sync::Arc;

use crate::auth::session::{self, Issued};
use crate::auth::{Identity, Principal};
use crate::error::{Error, Result};
use crate::iam::condition::Context;
use crate::iam::policy::{self, Caller, Decision};
use crate::state::AppState;

/// The STS API version of the query protocol.
pub const VERSION: &str = "2011-06-15";

/// AssumeRole's parameters.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleInput {
    /// The role's ARN.
    pub role_arn: String,
    /// The session's name (2–64 of `[\w+=,.@-]`).
    pub role_session_name: String,
    /// Seconds (900 to the role's maximum); default 3,600.
    pub duration_seconds: Option<u64>,
    /// `sts:ExternalId`, for trust policies that ask for it.
    pub external_id: Option<String>,
}

/// One STS request.
#[derive(Debug, Clone)]
pub enum StsAction {
    /// Who is calling.
    GetCallerIdentity,
    /// Temporary credentials of a role.
    AssumeRole(AssumeRoleInput),
    /// Temporary credentials of the calling IAM user; seconds 900–129,600,
    /// default 43,200.
    GetSessionToken {
        /// Requested lifetime.
        duration_seconds: Option<u64>,
    },
}

/// What an STS request answers.
#[derive(Debug)]
pub enum StsOutput {
    /// GetCallerIdentity.
    CallerIdentity {
        /// The account of the caller.
        account: String,
        /// The caller's ARN.
        arn: String,
        /// IAM's unique id of the caller (`AIDA…`, `AROA…:session`).
        user_id: String,
    },
    /// AssumeRole and GetSessionToken.
    Credentials {
        /// The credentials, shown once.
        issued: Issued,
        /// AssumeRole: the session's ARN and its `AROA…:session` id.
        assumed_role: Option<(String, String)>,
    },
}

/// Role session durations, seconds (the STS model's bounds).
const ASSUME_ROLE_SECS: std::ops::RangeInclusive<u64> = 900..=43_200;
/// GetSessionToken durations, seconds (IAM users).
const SESSION_TOKEN_SECS: std::ops::RangeInclusive<u64> = 900..=129_600;
/// Longest session of a role assumed with temporary credentials.
const ROLE_CHAINING_SECS: u64 = 3_600;

/// STS's message for a validation failure of one member.
fn invalid(member: &str, value: &str, constraint: &str) -> Error {
    Error::ValidationError(
        format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}")
            .into(),
    )
}

fn signed(principal: &Principal) -> Result<&Arc<Identity>> {
    match principal {
        Principal::Signed(id) => Ok(id),
        Principal::Anonymous => Err(Error::MissingAuthentication(
            "Request is missing Authentication Token".into(),
        )),
    }
}

/// IAM's unique id of a caller: the session's `AROA…:name` for an
/// assumed role, the account for its root, else an id stable for the ARN.
fn user_id(id: &Identity) -> String {
    let arn = id.arn.as_str();
    if arn.contains(":assumed-role/") {
        return id.sender_id.to_string();
    }
    if arn.ends_with(":root") {
        return policy::account_of(arn).unwrap_or_default().to_owned();
    }
    let prefix = if arn.contains(":role/") { "AROA" } else { "AIDA" };
    session::unique_id(prefix, arn)
}

/// Runs one STS request for `principal`; `tls` says whether it came over
/// TLS (`aws:SecureTransport` in trust policies).
///
/// # Errors
/// STS's errors: `MissingAuthenticationToken` for an unsigned request,
/// `AccessDenied`, `ValidationError`.
pub fn dispatch(state: &AppState, principal: &Principal, tls: bool, action: StsAction) -> Result<StsOutput> {
    let caller = signed(principal)?;
    let now_secs = state.clock.now_ms() / 1000;
    match action {
        StsAction::GetCallerIdentity => Ok(StsOutput::CallerIdentity {
            account: policy::account_of(&caller.arn)
                .unwrap_or(&state.config.account_id)
                .to_owned(),
            arn: caller.arn.clone(),
            user_id: user_id(caller),
        }),
        StsAction::GetSessionToken { duration_seconds } => {
            if caller.temporary {
                return Err(Error::AccessDenied(
                    "Cannot call GetSessionToken with session credentials".into(),
                ));
            }
            let secs = duration_seconds.unwrap_or(43_200);
            check_duration(secs, &SESSION_TOKEN_SECS)?;
            let issued = state
                .principals
                .issue_session(&caller.arn, &caller.sender_id, now_secs, now_secs + secs)
                .map_err(|e| {
                    tracing::error!(error = %e, "the data directory could not keep a session");
                    Error::InternalFailure
                })?;
            Ok(StsOutput::Credentials {
                issued,
                assumed_role: None,
            })
        }
        StsAction::AssumeRole(input) => assume_role(state, caller, tls, now_secs, &input),
    }
}

fn check_duration(secs: u64, bounds: &std::ops::RangeInclusive<u64>) -> Result<()> {
    if secs < *bounds.start() {
        return Err(invalid(
            "durationSeconds",
            &secs.to_string(),
            &format!(
                "Member must have value greater than or equal to {}",
                bounds.start()
            ),
        ));
    }
    if secs > *bounds.end() {
        return Err(invalid(
            "durationSeconds",
            &secs.to_string(),
            &format!("Member must have value less than or equal to {}", bounds.end()),
        ));
    }
    Ok(())
}

fn check_session_name(name: &str) -> Result<()> {
    if name.chars().count() < 2 {
        return Err(invalid(
            "roleSessionName",
            name,
            "Member must have length greater than or equal to 2",
        ));
    }
    if name.chars().count() > 64 {
        return Err(invalid(
            "roleSessionName",
            name,
            "Member must have length less than or equal to 64",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(invalid(
            "roleSessionName",
            name,
            r"Member must satisfy regular expression pattern: [\w+=,.@-]*",
        ));
    }
    Ok(())
}

fn assume_role(
    state: &AppState,
    caller: &Arc<Identity>,
    tls: bool,
    now_secs: u64,
    input: &AssumeRoleInput,
) -> Result<StsOutput> {
    if input.role_arn.len() < 20 || input.role_arn.len() > 2048 {
        return Err(invalid(
            "roleArn",
            &input.role_arn,
            "Member must have length greater than or equal to 20",
        ));
    }
    check_session_name(&input.role_session_name)?;
    if let Some(secs) = input.duration_seconds {
        check_duration(secs, &ASSUME_ROLE_SECS)?;
    }
    let denied = || {
        Error::AccessDenied(
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn, input.role_arn
            )
            .into(),
        )
    };
    let role = state.principals.role(&input.role_arn).ok_or_else(denied)?;
    // The caller's ARN as trust policies see it: a role session is its role.
    let principal_arn = crate::iam::policy_holder(&caller.arn);
    let account = policy::account_of(&caller.arn).unwrap_or_default();
    let secure = if tls { "true" } else { "false" };
    let mut context = Context::new();
    context
        .set("aws:principalarn", principal_arn.as_ref())
        .set("aws:principalaccount", account)
        .set("aws:securetransport", secure)
        .set("sts:rolesessionname", input.role_session_name.as_str())
        .set("aws:currenttime", crate::clock::rfc3339(now_secs * 1000))
        .set("aws:epochtime", now_secs.to_string());
    if let Some(e) = &input.external_id {
        context.set("sts:externalid", e.as_str());
    }
    let req = policy::Request {
        caller: Caller {
            arn: Some(&caller.arn),
            service: None,
        },
        action: "sts:AssumeRole",
        resource: &role.arn,
        context: &context,
    };
    let allowed = if state.config.auth == crate::auth::AuthMode::Open {
        // Open mode checks the trust policy alone.
        role.trust_policy.evaluate(&req) == Decision::Allow
    } else {
        // IAM's logic: a trust policy that names the caller allows it; one
        // that names its account delegates, and the caller's identity
        // policies must allow sts:AssumeRole too (across accounts always).
        let identity = state.principals.identity_policies(&caller.arn);
        let attached = crate::iam::attach_identity(identity.as_deref());
        let evaluation = crate::iam::authorize(
            &req,
            policy::account_of(&caller.arn),
            policy::account_of(&role.arn).unwrap_or_default(),
            crate::iam::ResourceKind::Key,
            &attached,
            Some(crate::iam::Attached {
                source: crate::iam::Source::Trust,
                document: &role.trust_policy,
            }),
        );
        if evaluation.outcome != crate::iam::Outcome::Allow {
            tracing::info!(
                principal = %caller.arn,
                role = %role.arn,
                decision = evaluation.outcome.label(),
                reason = evaluation.reason,
                "AssumeRole denied"
            );
        }
        evaluation.outcome == crate::iam::Outcome::Allow
    };
    if !allowed {
        return Err(denied());
    }
    let chained = caller.arn.contains(":assumed-role/");
    let secs = input.duration_seconds.unwrap_or(3_600);
    if chained && secs > ROLE_CHAINING_SECS {
        return Err(Error::ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
                .into(),
        ));
    }
    if secs > role.max_session_secs {
        return Err(Error::ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
        ));
    }
    let role_account = policy::account_of(&role.arn).unwrap_or_default();
    let arn = format!(
        "arn:aws:sts::{role_account}:assumed-role/{}/{}",
        role.name, input.role_session_name
    );
    let assumed_id = format!("{}:{}", role.role_id, input.role_session_name);
    let issued = state
        .principals
        .issue_session(&arn, &assumed_id, now_secs, now_secs + secs)
        .map_err(|e| {
            tracing::error!(error = %e, "the data directory could not keep a session");
            Error::InternalFailure
        })?;
    tracing::info!(role = %role.arn, session = %arn, caller = %caller.arn, expires_in_secs = secs, "role assumed");
    Ok(StsOutput::Credentials {
        issued,
        assumed_role: Some((arn, assumed_id)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_follow_the_sts_model() {
        assert!(check_session_name("ci-run_42@example.com").is_ok());
        for bad in ["a", "has space", &"x".repeat(65), "slash/no"] {
            let e = check_session_name(bad).unwrap_err();
            assert!(matches!(e, Error::ValidationError(_)), "{bad}");
        }
    }

    #[test]
    fn durations_have_sts_bounds_and_messages() {
        assert!(check_duration(900, &ASSUME_ROLE_SECS).is_ok());
        let e = check_duration(899, &ASSUME_ROLE_SECS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        );
        assert!(check_duration(129_601, &SESSION_TOKEN_SECS).is_err());
    }
}
