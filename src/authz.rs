//! Authorization of requests: the request context of a caller (its ARN,
//! account, transport, address, the virtual clock's time), the policies
//! that apply (its identity policies, the resource's policy), AWS's
//! evaluation logic over them (`iam::authorize`), and the record of every
//! decision: the last [`KEPT`] at `GET /_sealq/authz/decisions`, and a log
//! line.
//!
//! Policies are evaluated in every auth mode; under `--auth verify` and
//! `strict` a denial refuses the request (`AccessDenied`, logged at INFO),
//! under `open` it is recorded with `enforced: false`, so users can watch
//! what would be denied. The record never holds a secret: principals,
//! actions, resources, the context keys used and the deciding statements.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::auth::Principal;
use crate::iam::condition::Context;
use crate::iam::policy::{Caller, PolicyDocument, Request, account_of};
use crate::iam::{Attached, Deciding, Outcome, ResourceKind, Source};
use crate::sqs::ops::Ctx;
use crate::state::AppState;

/// How many decisions are kept.
pub const KEPT: usize = 1024;

/// What a request's context is made of, kept with its decision so the
/// context can be shown later without being copied on the request path.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The caller.
    pub principal: Principal,
    /// Whether the request came over TLS.
    pub tls: bool,
    /// The caller's address, when known.
    pub client_ip: Option<std::net::IpAddr>,
    /// The virtual clock's time, epoch ms.
    pub time_ms: u64,
    /// What kind of call: the caller's own request to SQS or KMS, or a KMS
    /// call SQS made for it.
    pub call: Call,
}

/// What kind of call a decision was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A request to SQS (or a simulation of one).
    Sqs,
    /// A request to the KMS API.
    Kms,
    /// A data-key call (GenerateDataKey, Decrypt) SQS made as the caller of
    /// a request to the queue whose ARN is in the encryption context
    /// (`aws:sqs:arn`): for a dead-letter queue's reader, the source
    /// queue's.
    KmsViaSqs(Arc<str>),
}

/// One decision, as recorded.
#[derive(Debug, Clone)]
pub struct Record {
    /// Order of recording (1, 2, ...).
    pub seq: u64,
    /// The request's context, as facts.
    pub facts: Facts,
    /// `sqs:SendMessage`, ...
    pub action: &'static str,
    /// The resource's ARN.
    pub resource: String,
    /// The decision.
    pub outcome: Outcome,
    /// Whether it was enforced (a denial refused the request).
    pub enforced: bool,
    /// The statements that decided.
    pub deciding: Vec<Deciding>,
    /// Why, in a sentence.
    pub reason: &'static str,
}

impl Record {
    /// The caller's ARN, or `anonymous`.
    pub fn principal(&self) -> &str {
        self.facts.principal.arn().unwrap_or("anonymous")
    }

    /// The request context the decision was made with, in `region`.
    pub fn context(&self, region: &str) -> Context<'_> {
        let account = account_of(&self.resource).unwrap_or_default();
        self.facts.context(account, region)
    }
}

/// The last [`KEPT`] decisions, in slots written round-robin: a recording
/// locks one slot only, so concurrent requests do not wait on each other.
#[derive(Debug)]
pub struct Decisions {
    slots: Box<[Mutex<Option<Arc<Record>>>]>,
    next: AtomicU64,
}

impl Default for Decisions {
    fn default() -> Self {
        Self {
            slots: (0..KEPT).map(|_| Mutex::new(None)).collect(),
            next: AtomicU64::new(0),
        }
    }
}

impl Decisions {
    fn record(&self, mut r: Record) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        r.seq = n + 1;
        #[expect(clippy::cast_possible_truncation, reason = "KEPT fits in usize and in u64")]
        let slot = (n % KEPT as u64) as usize;
        let mut s = self.slots[slot]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *s = Some(Arc::new(r));
    }

    /// The kept decisions, newest first.
    pub fn newest_first(&self) -> Vec<Arc<Record>> {
        let mut all: Vec<Arc<Record>> = self
            .slots
            .iter()
            .filter_map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            })
            .collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.seq));
        all
    }
}

/// `aws:PrincipalType`, as IAM names it.
fn principal_type(arn: &str) -> &'static str {
    if arn.contains(":assumed-role/") {
        "AssumedRole"
    } else if arn.ends_with(":root") {
        "Account"
    } else if arn.contains(":role/") {
        "Role"
    } else {
        "User"
    }
}

impl Facts {
    /// The request context: `aws:SecureTransport`, `aws:CurrentTime`,
    /// `aws:EpochTime`, `aws:ResourceAccount`, `aws:SourceIp`, and for a
    /// signed caller `aws:PrincipalArn` (a session's role), `aws:PrincipalType`,
    /// `aws:PrincipalAccount`, `aws:username` (users), `aws:userid`; for KMS
    /// `kms:CallerAccount`; for a KMS call SQS makes for its caller
    /// `kms:ViaService`, `aws:ViaAWSService`, `kms:EncryptionContextKeys`
    /// and `kms:EncryptionContext:aws:sqs:arn`, with the caller's own
    /// `aws:SourceIp` (as AWS's forward access sessions keep it).
    pub fn context<'a>(&'a self, resource_account: &'a str, region: &str) -> Context<'a> {
        self.context_for(resource_account, region, &|_| true)
    }

    /// [`Self::context`], with only the keys `wants` (given a lower-case
    /// key): the policies of a request name the few they read, and the
    /// others are never computed.
    pub fn context_for<'a>(
        &'a self,
        resource_account: &'a str,
        region: &str,
        wants: &dyn Fn(&str) -> bool,
    ) -> Context<'a> {
        let mut c = Context::new();
        let mut set = |key: &'a str, value: &dyn Fn() -> Cow<'a, str>| {
            if wants(key) {
                c.set(key, value());
            }
        };
        set("aws:securetransport", &|| {
            (if self.tls { "true" } else { "false" }).into()
        });
        set("aws:currenttime", &|| crate::clock::rfc3339(self.time_ms).into());
        set("aws:epochtime", &|| (self.time_ms / 1000).to_string().into());
        set("aws:resourceaccount", &|| resource_account.into());
        // A call SQS makes for its caller (a forward access session, in
        // AWS's words) keeps the caller's address.
        if let Some(ip) = self.client_ip {
            set("aws:sourceip", &|| ip.to_string().into());
        }
        match &self.call {
            Call::KmsViaSqs(queue_arn) => {
                set("kms:viaservice", &|| format!("sqs.{region}.amazonaws.com").into());
                set("aws:viaawsservice", &|| "true".into());
                set("kms:encryptioncontextkeys", &|| {
                    crate::crypto::envelope::CONTEXT_KEY.into()
                });
                set("kms:encryptioncontext:aws:sqs:arn", &|| {
                    Cow::Borrowed(&**queue_arn)
                });
            }
            Call::Sqs | Call::Kms => set("aws:viaawsservice", &|| "false".into()),
        }
        if let Principal::Signed(id) = &self.principal {
            let arn = id.arn.as_str();
            set("aws:principalarn", &|| crate::iam::policy_holder(arn));
            set("aws:principaltype", &|| principal_type(arn).into());
            if let Some(account) = account_of(arn) {
                set("aws:principalaccount", &|| account.into());
                if self.call != Call::Sqs {
                    set("kms:calleraccount", &|| account.into());
                }
            }
            if let Some((_, path)) = arn.split_once(":user/") {
                set("aws:username", &|| path.rsplit('/').next().unwrap_or(path).into());
            }
            if arn.contains(":assumed-role/") {
                set("aws:userid", &|| Cow::Borrowed(&*id.sender_id));
            } else {
                set("aws:userid", &|| {
                    crate::auth::session::unique_id("AIDA", arn).into()
                });
            }
        }
        c
    }
}

/// AWS's evaluation of `action` on the SQS `resource` for the request
/// `facts` describe, with the caller's identity policies and
/// `queue_policy`; `extra` context keys are added to (or replace) the
/// request's own. The context is built only if a policy reads it.
fn evaluate_sqs(
    state: &AppState,
    facts: &Facts,
    action: &str,
    resource: &str,
    queue_policy: Option<&PolicyDocument>,
    extra: &[(String, String)],
) -> crate::iam::Evaluation {
    let resource_account = account_of(resource).unwrap_or(&state.config.account_id);
    let arn = facts.principal.arn();
    let identity_policies = arn.and_then(|a| state.principals.identity_policies(a));
    if identity_policies.is_none() && queue_policy.is_none() {
        // Nothing can allow it; no context needs building.
        return crate::iam::Evaluation {
            outcome: Outcome::ImplicitDeny,
            deciding: Vec::new(),
            reason: "no identity policy and no queue policy applies",
        };
    }
    let queue_policy = queue_policy.map(|document| Attached {
        source: Source::Queue,
        document,
    });
    let target = (resource, resource_account, ResourceKind::Queue, queue_policy);
    evaluate(state, facts, action, target, identity_policies.as_deref(), extra)
}

/// The evaluation both services share: the caller's `identity` policies
/// and the resource's policy against a context holding only the keys those
/// policies read (plus `extra`, which replaces the request's own), for
/// `action` on `target` = (resource ARN, its account, its kind, its
/// policy).
fn evaluate(
    state: &AppState,
    facts: &Facts,
    action: &str,
    target: (&str, &str, ResourceKind, Option<Attached<'_>>),
    identity: Option<&[crate::iam::NamedPolicy]>,
    extra: &[(String, String)],
) -> crate::iam::Evaluation {
    let (resource, resource_account, kind, resource_policy) = target;
    let arn = facts.principal.arn();
    let attached = crate::iam::attach_identity(identity);
    let policies = || {
        attached
            .iter()
            .chain(resource_policy.as_ref())
            .map(|a| a.document)
    };
    let mut context = if !extra.is_empty() {
        facts.context(resource_account, region_of(state, resource))
    } else if policies().any(PolicyDocument::needs_context) {
        let wants = |k: &str| policies().any(|p| p.reads(k));
        facts.context_for(resource_account, region_of(state, resource), &wants)
    } else {
        Context::new()
    };
    for (k, v) in extra {
        context.set(k, v.as_str());
    }
    let req = Request {
        caller: Caller { arn, service: None },
        action,
        resource,
        context: &context,
    };
    crate::iam::authorize(
        &req,
        arn.and_then(account_of),
        resource_account,
        kind,
        &attached,
        resource_policy,
    )
}

/// What `explain` answers: the decision a request would get, and the
/// context it was evaluated with.
#[derive(Debug)]
pub struct Explained {
    /// The decision and the statements that made it.
    pub evaluation: crate::iam::Evaluation,
    /// The resource's ARN.
    pub resource: String,
    /// The context the policies were evaluated against.
    pub context: Vec<(String, Vec<String>)>,
}

/// Simulates `action` by `principal_arn` (`None`: anonymous) on an SQS
/// `resource` (a queue's name, URL or ARN, or `arn:aws:sqs:REGION:ACCOUNT:*`)
/// against the server's current policies, like IAM's policy simulator:
/// the request's context is that of a plain-HTTP request now, with
/// `extra` keys added or replacing its own. Records nothing.
///
/// # Errors
/// Why the request cannot be simulated (an action that is not an SQS one,
/// a resource that names no queue of this server).
pub fn explain(
    state: &AppState,
    principal_arn: Option<&str>,
    action: &str,
    resource: &str,
    extra: &[(String, String)],
) -> Result<Explained, String> {
    let principal = match principal_arn {
        None => Principal::Anonymous,
        Some(a) => Principal::Signed(std::sync::Arc::new(crate::auth::Identity {
            access_key_id: String::new(),
            arn: a.to_owned(),
            sender_id: std::sync::Arc::from(""),
            temporary: a.contains(":assumed-role/"),
        })),
    };
    if action.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("kms:")) {
        return explain_kms(state, principal, action, resource, extra);
    }
    if !action.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sqs:")) {
        return Err(format!(
            "`{action}` is not an SQS or KMS action (sqs:SendMessage, kms:Decrypt, ...)"
        ));
    }
    let (region, account) = (&state.config.region, &state.config.account_id);
    let (arn, queue) = if resource.starts_with("arn:") {
        let mut parts = resource.splitn(6, ':');
        if parts.nth(2) != Some("sqs") {
            return Err(format!("`{resource}` is not an SQS resource ARN"));
        }
        (resource.to_owned(), state.store.get_by_arn(resource))
    } else {
        // A URL may name a region; a bare name is in the server's.
        let (region, acct, name) = if resource.contains('/') {
            let a = crate::sqs::ops::parse_queue_url(resource).map_err(|e| e.to_string())?;
            (a.region.unwrap_or(region), a.account, a.name)
        } else {
            (region.as_str(), account.as_str(), resource)
        };
        let q = state
            .store
            .get(region, acct, name)
            .ok_or_else(|| format!("no queue {name} in account {acct} in {region}"))?;
        (format!("arn:aws:sqs:{region}:{acct}:{name}"), Some(q))
    };
    let policy = queue.and_then(|q| q.lock().attrs.policy_document.clone());
    let facts = Facts {
        principal,
        tls: false,
        client_ip: None,
        time_ms: state.clock.now_ms(),
        call: Call::Sqs,
    };
    let evaluation = evaluate_sqs(state, &facts, action, &arn, policy.as_deref(), extra);
    Ok(explained(state, &facts, evaluation, arn, extra))
}

/// What [`explain`] answers for `evaluation` of a request on `resource`:
/// the whole context of `facts`, with `extra` keys added or replacing.
fn explained(
    state: &AppState,
    facts: &Facts,
    evaluation: crate::iam::Evaluation,
    resource: String,
    extra: &[(String, String)],
) -> Explained {
    let resource_account = account_of(&resource).unwrap_or(&state.config.account_id);
    let mut context = facts.context(resource_account, region_of(state, &resource));
    for (k, v) in extra {
        context.set(k, v.as_str());
    }
    let context = context
        .entries()
        .map(|(k, v)| (k.to_owned(), v.iter().map(ToString::to_string).collect()))
        .collect();
    Explained {
        evaluation,
        resource,
        context,
    }
}

/// [`explain`] for a KMS action: `resource` is a key (id, ARN, alias name
/// or alias ARN; an alias action's alias when `action` is one), or `*` for
/// actions on no key. The context is that of a KMS request now over plain
/// HTTP, or, when `extra` gives `kms:ViaService`, of a call SQS makes for
/// the caller (then `kms:EncryptionContext:aws:sqs:arn` may be given too).
fn explain_kms(
    state: &AppState,
    principal: Principal,
    action: &str,
    resource: &str,
    extra: &[(String, String)],
) -> Result<Explained, String> {
    let via_sqs = extra
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("kms:ViaService") && v.starts_with("sqs."));
    let queue = extra
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("kms:EncryptionContext:aws:sqs:arn"))
        .map_or_else(|| Arc::from(""), |(_, v)| Arc::from(v.as_str()));
    // A key id or alias name names a key of the caller's account, or, for
    // a call SQS makes for a queue, of the queue's account (and region); a
    // key ARN or alias ARN names its region, else the server's.
    let (region, account) = match crate::kms::Home::of_arn(&queue) {
        Some(h) if via_sqs => (h.region.to_owned(), h.account.to_owned()),
        _ => (
            crate::kms::Home::of_arn(resource)
                .map_or_else(|| state.config.region.clone(), |h| h.region.to_owned()),
            crate::kms::ops::caller_account(&state.kms, &principal).to_owned(),
        ),
    };
    let home = crate::kms::Home {
        region: &region,
        account: &account,
    };
    let facts = Facts {
        principal,
        tls: false,
        client_ip: None,
        time_ms: state.clock.now_ms(),
        call: if via_sqs {
            Call::KmsViaSqs(queue)
        } else {
            Call::Kms
        },
    };
    let is_alias_action = ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action));
    let key = (resource != "*").then(|| state.kms.api_key_policy(resource, home));
    let (arn, evaluation) = match key {
        None => (
            "*".to_owned(),
            evaluate_kms(state, &facts, action, KmsTarget::Account, extra),
        ),
        Some(_) if is_alias_action && resource.contains("alias/") => {
            let arn = if resource.starts_with("arn:") {
                resource.to_owned()
            } else {
                format!("arn:aws:kms:{region}:{account}:{resource}")
            };
            let e = evaluate_kms(state, &facts, action, KmsTarget::Alias(&arn), extra);
            (arn, e)
        }
        Some(Some((arn, policy))) => {
            let e = evaluate_kms(
                state,
                &facts,
                action,
                KmsTarget::Key(&arn, policy.as_deref()),
                extra,
            );
            (arn.to_string(), e)
        }
        Some(None) => return Err(format!("no key {resource} in this server")),
    };
    Ok(explained(state, &facts, evaluation, arn, extra))
}

/// Keeps a decision in the ring.
fn record(
    state: &AppState,
    facts: Facts,
    action: &'static str,
    resource: &str,
    evaluation: crate::iam::Evaluation,
    enforced: bool,
) {
    state.decisions.record(Record {
        seq: 0,
        facts,
        action,
        resource: resource.to_owned(),
        outcome: evaluation.outcome,
        enforced,
        deciding: evaluation.deciding,
        reason: evaluation.reason,
    });
}

/// SQS's message for a denied request (AWS's text).
fn sqs_denied(region: &str) -> crate::error::Error {
    crate::error::Error::AccessDenied(
        format!("Access to the resource https://sqs.{region}.amazonaws.com/ is denied.").into(),
    )
}

/// Decides `action` by `ctx`'s caller on the SQS resource `resource` (a
/// queue's ARN, or `arn:aws:sqs:REGION:ACCOUNT:*` for account-wide
/// actions), whose queue policy is `queue_policy`, and records it.
///
/// # Errors
/// `AccessDenied` when the decision is a denial and `--auth` enforces it
/// (`verify`, `strict`).
pub fn sqs(
    state: &AppState,
    ctx: &Ctx,
    action: &'static str,
    resource: &str,
    queue_policy: Option<&PolicyDocument>,
) -> crate::error::Result<()> {
    let facts = Facts {
        principal: ctx.principal.clone(),
        tls: ctx.tls,
        client_ip: ctx.client_ip,
        time_ms: state.clock.now_ms(),
        call: Call::Sqs,
    };
    let arn = ctx.principal.arn();
    let evaluation = evaluate_sqs(state, &facts, action, resource, queue_policy, &[]);
    let denied = evaluation.outcome != Outcome::Allow;
    let enforced = state.config.auth != crate::auth::AuthMode::Open;
    if denied && enforced {
        log_denial(state, &facts, action, resource, &evaluation);
    } else {
        tracing::debug!(
            principal = arn.unwrap_or("anonymous"),
            action,
            resource,
            decision = evaluation.outcome.label(),
            enforced,
            reason = evaluation.reason,
            "authorization"
        );
    }
    record(state, facts, action, resource, evaluation, enforced);
    if denied && enforced {
        return Err(sqs_denied(region_of(state, resource)));
    }
    Ok(())
}

/// KMS's `AccessDeniedException` for `action` by `principal` on `key`, in
/// KMS's words for why.
fn kms_denied(
    principal: &str,
    action: &str,
    target: KmsTarget<'_>,
    evaluation: &crate::iam::Evaluation,
) -> crate::error::Error {
    let (on, key) = match target {
        KmsTarget::Account => (String::new(), None),
        KmsTarget::Alias(a) => (format!(" on resource: {a}"), None),
        KmsTarget::Key(k, _) => (format!(" on resource: {k}"), Some(k)),
    };
    let deny_in_key = evaluation
        .deciding
        .iter()
        .any(|d| d.policy == Source::Key.label());
    let why = match (evaluation.outcome, key) {
        (Outcome::ExplicitDeny, _) if deny_in_key => {
            " with an explicit deny in a resource-based policy".to_owned()
        }
        (Outcome::ExplicitDeny, _) => " with an explicit deny in an identity-based policy".to_owned(),
        (_, Some(_)) if evaluation.reason.starts_with("no resource-based policy") => {
            format!(" because no resource-based policy allows the {action} action")
        }
        _ => format!(" because no identity-based policy allows the {action} action"),
    };
    crate::error::Error::AccessDeniedException(
        format!("User: {principal} is not authorized to perform: {action}{on}{why}").into(),
    )
}

/// What a KMS action is authorized on.
#[derive(Debug, Clone, Copy)]
pub enum KmsTarget<'a> {
    /// No resource (CreateKey, ListKeys, GenerateRandom): identity policies
    /// decide.
    Account,
    /// An alias, by ARN (CreateAlias, UpdateAlias, DeleteAlias): aliases
    /// have no policy of their own, so identity policies decide.
    Alias(&'a str),
    /// A key: its ARN and its policy (`None`: a stored policy this build
    /// cannot read, which allows nothing).
    Key(&'a str, Option<&'a PolicyDocument>),
}

/// Decides the KMS API `action` (`kms:Decrypt`) by a signed `principal` on
/// `target`, and records it. A key's policy must allow, directly or by
/// delegating to the caller's account (then an identity policy must allow
/// too); an action on no key, or on an alias, needs an identity policy.
///
/// # Errors
/// `AccessDeniedException` in KMS's words when the decision is a denial and
/// `--auth` enforces it (`verify`, `strict`).
pub fn kms(
    state: &AppState,
    principal: &Principal,
    tls: bool,
    action: &'static str,
    target: KmsTarget<'_>,
) -> crate::error::Result<()> {
    let facts = Facts {
        principal: principal.clone(),
        tls,
        client_ip: None,
        time_ms: state.clock.now_ms(),
        call: Call::Kms,
    };
    decide_kms(state, facts, action, target)
}

/// Decides a data-key call (`kms:GenerateDataKey`, `kms:Decrypt`) SQS makes
/// on `key` (ARN and policy) for the caller of the request `ctx`, as that
/// caller, through SQS (`kms:ViaService`), with the encryption context of
/// `queue_arn`; records it like any other decision.
///
/// # Errors
/// `AccessDeniedException` in KMS's words (SQS relays it as
/// `KmsAccessDenied`) when the decision is a denial and `--auth` enforces
/// it.
pub fn kms_via_sqs(
    state: &AppState,
    ctx: &Ctx,
    action: &'static str,
    key: (&str, Option<&PolicyDocument>),
    queue_arn: &Arc<str>,
) -> crate::error::Result<()> {
    let facts = Facts {
        principal: ctx.principal.clone(),
        tls: ctx.tls,
        client_ip: ctx.client_ip,
        time_ms: state.clock.now_ms(),
        call: Call::KmsViaSqs(queue_arn.clone()),
    };
    decide_kms(state, facts, action, KmsTarget::Key(key.0, key.1))
}

/// AWS's evaluation of the KMS `action` on `target` for the request
/// `facts` describe, with `extra` context keys added (or replacing the
/// request's own).
fn evaluate_kms(
    state: &AppState,
    facts: &Facts,
    action: &str,
    target: KmsTarget<'_>,
    extra: &[(String, String)],
) -> crate::iam::Evaluation {
    let arn = facts.principal.arn();
    // No key or an alias: identity policies decide. A key: its policy must
    // allow too (an unreadable stored one allows nothing).
    let (resource, kind, key_policy) = match target {
        KmsTarget::Account => ("*", ResourceKind::Queue, None),
        KmsTarget::Alias(a) => (a, ResourceKind::Queue, None),
        KmsTarget::Key(k, p) => (
            k,
            ResourceKind::Key,
            Some(Attached {
                source: Source::Key,
                document: p.unwrap_or(&NO_POLICY),
            }),
        ),
    };
    // Actions on no key (CreateKey, ListKeys, a key that does not exist)
    // act in the caller's own account.
    let resource_account = match target {
        KmsTarget::Account => arn.and_then(account_of),
        _ => account_of(resource),
    }
    .unwrap_or(&state.config.account_id);
    let identity_policies = arn.and_then(|a| state.principals.identity_policies(a));
    let target = (resource, resource_account, kind, key_policy);
    evaluate(state, facts, action, target, identity_policies.as_deref(), extra)
}

fn decide_kms(
    state: &AppState,
    facts: Facts,
    action: &'static str,
    target: KmsTarget<'_>,
) -> crate::error::Result<()> {
    let principal = facts.principal.clone();
    let arn = principal.arn();
    let resource = match target {
        KmsTarget::Account => "*",
        KmsTarget::Alias(a) | KmsTarget::Key(a, _) => a,
    };
    let evaluation = evaluate_kms(state, &facts, action, target, &[]);
    let denied = evaluation.outcome != Outcome::Allow;
    let enforced = state.config.auth != crate::auth::AuthMode::Open;
    let who = arn.unwrap_or("anonymous");
    if denied && enforced {
        log_denial(state, &facts, action, resource, &evaluation);
    }
    let error = (denied && enforced).then(|| kms_denied(who, action, target, &evaluation));
    record(state, facts, action, resource, evaluation, enforced);
    error.map_or(Ok(()), Err)
}

/// Logs an enforced denial at INFO with the facts `GET
/// The region of a resource ARN (that of a request on it: a queue or a
/// key), the server's for `*` or an ARN without one.
fn region_of<'a>(state: &'a AppState, resource: &'a str) -> &'a str {
    crate::kms::Home::of_arn(resource)
        .map(|h| h.region)
        .filter(|r| !r.is_empty())
        .unwrap_or(&state.config.region)
}

/// /_sealq/authz/decisions` shows: who, what, on what, through which
/// service, the decision and why, the deciding statements, and the request
/// context (never a secret: principals, addresses, times, ARNs).
fn log_denial(
    state: &AppState,
    facts: &Facts,
    action: &str,
    resource: &str,
    evaluation: &crate::iam::Evaluation,
) {
    let account = account_of(resource).unwrap_or(&state.config.account_id);
    let context = facts.context(account, region_of(state, resource));
    let context: Vec<String> = context
        .entries()
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect();
    tracing::info!(
        principal = facts.principal.arn().unwrap_or("anonymous"),
        action,
        resource,
        via = if matches!(facts.call, Call::KmsViaSqs(_)) { "sqs" } else { "" },
        decision = evaluation.outcome.label(),
        reason = evaluation.reason,
        deciding = ?evaluation.deciding.iter().map(|d| (&d.policy, d.index, &d.sid)).collect::<Vec<_>>(),
        context = %context.join(" "),
        "access denied"
    );
}

/// A key policy with no statement that allows anything (for a stored
/// policy this build cannot read).
static NO_POLICY: std::sync::LazyLock<PolicyDocument> = std::sync::LazyLock::new(|| {
    PolicyDocument::parse_json(
        r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"*"}]}"#,
        crate::iam::policy::PolicyKind::Resource,
    )
    .expect("a fixed policy")
});
