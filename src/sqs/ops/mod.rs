//! One function per SQS action, and [`dispatch`], the one exhaustive match
//! from a decoded [`SqsAction`] to its function.
//!
//! Functions here validate inputs with AWS's error codes and drive the model;
//! they know no wire format and read time only from the `Clock`.

mod message;
mod move_task;
mod queue;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The queue actions a configuration file applies in-process at start-up,
/// through the same checks as the API (no HTTP).
pub(crate) use queue::{create_queue, set_queue_attributes, tag_queue};

use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::sqs::model::queue::Queue;
use crate::sqs::types::{SqsAction, SqsOutput};
use crate::state::AppState;

/// Per-request facts the actions need besides their input.
#[derive(Debug)]
pub struct Ctx {
    /// Who calls.
    pub principal: Principal,
    /// The region the request is served in: its signature's, or the
    /// server's for an unsigned request. Queues are regional.
    pub region: String,
    /// `http://host:port` that queue URLs start with.
    pub url_base: String,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub tls: bool,
    /// Whether encrypted queues refuse requests not over TLS (`--auth
    /// strict`).
    pub strict: bool,
    /// The IAM action the request needs (`sqs:SendMessage`); empty for
    /// changes sealq makes itself (the configuration file), which are not
    /// authorized.
    pub iam_action: &'static str,
    /// The caller's address, when known (SenderId of anonymous senders).
    pub client_ip: Option<std::net::IpAddr>,
    /// The last journal unit this request submitted (0: none): the
    /// answer waits until it is committed.
    pub journal_unit: AtomicU64,
}

impl Ctx {
    /// The caller's account: its ARN's, or the server's for anonymous
    /// callers. Queues are created and listed in it, and GetQueueUrl looks
    /// there unless told another account.
    pub fn account<'a>(&'a self, state: &'a AppState) -> &'a str {
        self.principal
            .arn()
            .and_then(crate::iam::policy::account_of)
            .unwrap_or(&state.config.account_id)
    }

    /// Notes that the answer must wait for journal unit `n`.
    pub fn after(&self, n: u64) {
        if n > 0 {
            self.journal_unit.fetch_max(n, Ordering::Relaxed);
        }
    }
}

/// Runs one action.
///
/// # Errors
/// Whatever the action's rules say, as AWS names it.
pub async fn dispatch(state: &AppState, ctx: &Ctx, action: SqsAction) -> Result<SqsOutput> {
    let out = run(state, ctx, action).await;
    // With a data directory, nothing is acknowledged before it is committed.
    state.store.wait(ctx.journal_unit.load(Ordering::Relaxed)).await?;
    out
}

async fn run(state: &AppState, ctx: &Ctx, action: SqsAction) -> Result<SqsOutput> {
    use SqsAction as A;
    // Actions on no existing queue are authorized here; the others when
    // their queue is found (`admit`).
    if !ctx.iam_action.is_empty() {
        let (region, account) = (&ctx.region, ctx.account(state));
        let resource = match &action {
            A::CreateQueue(i) => Some(format!("arn:aws:sqs:{region}:{account}:{}", i.queue_name)),
            A::ListQueues(_) => Some(format!("arn:aws:sqs:{region}:{account}:*")),
            _ => None,
        };
        if let Some(r) = resource {
            let policy = policy_of_arn(state, &r);
            crate::authz::sqs(state, ctx, ctx.iam_action, &r, policy.as_deref())?;
        }
    }
    match action {
        A::CreateQueue(i) => queue::create_queue(state, ctx, i),
        A::GetQueueUrl(i) => queue::get_queue_url(state, ctx, i),
        A::ListQueues(i) => queue::list_queues(state, ctx, i),
        A::DeleteQueue(i) => queue::delete_queue(state, ctx, &i.queue_url),
        A::GetQueueAttributes(i) => queue::get_queue_attributes(state, ctx, i),
        A::SetQueueAttributes(i) => queue::set_queue_attributes(state, ctx, i),
        A::PurgeQueue(i) => queue::purge_queue(state, ctx, &i.queue_url),
        A::TagQueue(i) => queue::tag_queue(state, ctx, i),
        A::UntagQueue(i) => queue::untag_queue(state, ctx, i),
        A::ListQueueTags(i) => queue::list_queue_tags(state, ctx, &i.queue_url),
        A::AddPermission(i) => queue::add_permission(state, ctx, i),
        A::RemovePermission(i) => queue::remove_permission(state, ctx, i),
        A::ListDeadLetterSourceQueues(i) => queue::list_dead_letter_source_queues(state, ctx, i),
        A::SendMessage(i) => message::send_message(state, ctx, i),
        A::SendMessageBatch(i) => message::send_message_batch(state, ctx, i),
        A::ReceiveMessage(i) => message::receive_message(state, ctx, i).await,
        A::DeleteMessage(i) => message::delete_message(state, ctx, i),
        A::DeleteMessageBatch(i) => message::delete_message_batch(state, ctx, i),
        A::ChangeMessageVisibility(i) => message::change_message_visibility(state, ctx, i),
        A::ChangeMessageVisibilityBatch(i) => message::change_message_visibility_batch(state, ctx, i),
        A::StartMessageMoveTask(i) => move_task::start(state, ctx, i),
        A::CancelMessageMoveTask(i) => move_task::cancel(state, ctx, &i),
        A::ListMessageMoveTasks(i) => move_task::list(state, ctx, &i),
    }
}

/// What a queue URL names: the region when the URL says one, the account
/// and the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAddress<'a> {
    /// `sqs.REGION.amazonaws.com` / `REGION.queue.amazonaws.com` hosts, or
    /// a `/REGION/ACCOUNT/NAME` path; `None`: the request's region.
    pub region: Option<&'a str>,
    /// The account.
    pub account: &'a str,
    /// The queue name.
    pub name: &'a str,
    /// The URL up to the account (`https://sqs.us-west-2.amazonaws.com/`),
    /// which InvalidAddress names.
    pub endpoint: &'a str,
}

/// Whether `s` has the form of an AWS region name (`us-west-2`,
/// `us-gov-west-1`), as a queue URL's path or host carries it.
fn looks_like_region(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    (2..=4).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && rest.len() >= 2
        && rest[..rest.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && rest[rest.len() - 1].len() <= 2
        && !rest[rest.len() - 1].is_empty()
        && rest[rest.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Reads a queue URL in any accepted form:
/// `http://host:port/ACCOUNT/NAME`, `http://host:port/REGION/ACCOUNT/NAME`
/// (sealq's URLs of queues outside the server's region),
/// `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`,
/// `https://REGION.queue.amazonaws.com/ACCOUNT/NAME`,
/// `https://queue.amazonaws.com/ACCOUNT/NAME` (us-east-1), or just the path.
///
/// # Errors
/// `InvalidAddress` when it has no account and name.
pub fn parse_queue_url(url: &str) -> Result<QueueAddress<'_>> {
    let invalid =
        || Error::InvalidAddress(format!("The address {url} is not valid for this endpoint.").into());
    let (host, path) = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            match rest.find('/') {
                Some(j) => (&rest[..j], &rest[j..]),
                None => (rest, ""),
            }
        }
        None => ("", url),
    };
    let path = path
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let name = segments.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
    let account = segments.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
    let host = host.split(':').next().unwrap_or_default();
    let from_host = if host == "queue.amazonaws.com" {
        Some("us-east-1")
    } else {
        host.strip_prefix("sqs.")
            .and_then(|h| h.strip_suffix(".amazonaws.com"))
            .or_else(|| host.strip_suffix(".queue.amazonaws.com"))
    };
    let from_path = segments.next().filter(|s| looks_like_region(s));
    let endpoint_len = url
        .find(&format!("/{account}/{name}"))
        .map_or(url.len(), |i| i + 1);
    Ok(QueueAddress {
        region: from_host.or(from_path),
        account,
        name,
        endpoint: &url[..endpoint_len],
    })
}

/// Account and name of a queue ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
pub fn parse_queue_arn(arn: &str) -> Option<(&str, &str)> {
    crate::sqs::model::queue::arn_parts(arn).map(|(_, account, name)| (account, name))
}

/// The live queue a `QueueUrl` names: a URL in any form
/// [`parse_queue_url`] takes, or the bare queue name, which names the
/// queue in the caller's account (AWS accepts both). Queues are regional:
/// the request's region is searched, and a URL naming another region is
/// not valid for this endpoint, as AWS answers.
///
/// # Errors
/// `QueueDoesNotExist` for an unknown queue or a URL that names none (AWS
/// recorded: not InvalidAddress); `InvalidAddress` for a URL of another
/// region.
pub fn resolve(state: &AppState, ctx: &Ctx, url: &str) -> Result<Arc<Queue>> {
    if url.is_empty() {
        return Err(Error::missing("QueueUrl"));
    }
    let (account, name) = if url.contains('/') {
        let a = parse_queue_url(url).map_err(|_| Error::QueueDoesNotExist)?;
        if a.region.is_some_and(|r| r != ctx.region) {
            return Err(Error::InvalidAddress(
                format!("The address {} is not valid for this endpoint.", a.endpoint).into(),
            ));
        }
        (a.account, a.name)
    } else {
        (ctx.account(state), url)
    };
    // `queue` stands for the default account, as in ElasticMQ's `/queue/NAME`.
    let account = if account == "queue" {
        state.config.account_id.as_str()
    } else {
        account
    };
    let q = state
        .store
        .get(&ctx.region, account, name)
        .ok_or(Error::QueueDoesNotExist)?;
    admit(state, ctx, &q)?;
    Ok(q)
}

/// Admits a request to the queue `q` it names: the rule of encrypted
/// queues ([`check_security`]), then authorization of the request's IAM
/// action on the queue (its policy with the caller's). Every action that
/// names an existing queue passes here, whichever way it names it.
///
/// # Errors
/// `InvalidSecurity`, or `AccessDenied` when `--auth` enforces a denial.
pub fn admit(state: &AppState, ctx: &Ctx, q: &Queue) -> Result<()> {
    check_security(ctx, q)?;
    if !ctx.iam_action.is_empty() {
        let policy = q.lock().attrs.policy_document.clone();
        crate::authz::sqs(state, ctx, ctx.iam_action, &q.arn, policy.as_deref())?;
    }
    Ok(())
}

/// The queue policy of the queue with this ARN, if it exists and has one.
fn policy_of_arn(state: &AppState, arn: &str) -> Option<Arc<crate::iam::policy::PolicyDocument>> {
    let q = state.store.get_by_arn(arn)?;
    let s = q.lock();
    s.attrs.policy_document.clone()
}

/// Every request to an encrypted queue must be signed; with `--auth
/// strict` it must also come over TLS, as AWS requires of all of them.
///
/// # Errors
/// `InvalidSecurity` for an anonymous request to an encrypted queue, or
/// (strict) one over plain HTTP.
pub fn check_security(ctx: &Ctx, q: &Queue) -> Result<()> {
    let refused = ctx.principal == Principal::Anonymous || (ctx.strict && !ctx.tls);
    if refused && q.lock().attrs.is_encrypted() {
        return Err(Error::InvalidSecurity(
            "All requests to this queue must use HTTPS and SigV4.".into(),
        ));
    }
    Ok(())
}

/// The URL of a queue as this request should see it.
pub fn queue_url(state: &AppState, ctx: &Ctx, q: &Queue) -> String {
    queue_url_at(&ctx.url_base, &state.config.region, q)
}

/// The URL of queue `q` under `base` (`http://host:port`): `BASE/ACCOUNT/NAME`
/// for a queue of the server's region (`server_region`), whose URLs stay
/// as they always were, `BASE/REGION/ACCOUNT/NAME` for one of another
/// region, so that URLs carry the region, as AWS's do.
pub fn queue_url_at(base: &str, server_region: &str, q: &Queue) -> String {
    let region = q.region();
    if region == server_region {
        format!("{base}/{}/{}", q.account_id, q.name)
    } else {
        format!("{base}/{region}/{}/{}", q.account_id, q.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_in_every_form_name_account_and_queue() {
        for url in [
            "http://localhost:9324/000000000000/q1",
            "https://sqs.us-east-1.amazonaws.com/000000000000/q1",
            "https://queue.amazonaws.com/000000000000/q1",
            "http://sealq:9324/000000000000/q1/",
            "/000000000000/q1",
        ] {
            let a = parse_queue_url(url).unwrap();
            assert_eq!((a.account, a.name), ("000000000000", "q1"), "{url}");
        }
        assert!(parse_queue_url("http://localhost:9324/").is_err());
        assert!(parse_queue_url("q1").is_err());
    }

    #[test]
    fn queue_urls_carry_their_region_in_the_host_or_the_path() {
        for (url, region, endpoint) in [
            (
                "http://localhost:9324/000000000000/q1",
                None,
                "http://localhost:9324/",
            ),
            (
                "http://localhost:9324/us-west-2/000000000000/q1",
                Some("us-west-2"),
                "http://localhost:9324/us-west-2/",
            ),
            (
                "https://sqs.eu-west-1.amazonaws.com/000000000000/q1",
                Some("eu-west-1"),
                "https://sqs.eu-west-1.amazonaws.com/",
            ),
            (
                "https://ap-southeast-2.queue.amazonaws.com/000000000000/q1",
                Some("ap-southeast-2"),
                "https://ap-southeast-2.queue.amazonaws.com/",
            ),
            (
                "https://queue.amazonaws.com/000000000000/q1",
                Some("us-east-1"),
                "https://queue.amazonaws.com/",
            ),
            (
                "/us-gov-west-1/000000000000/q1",
                Some("us-gov-west-1"),
                "/us-gov-west-1/",
            ),
            // A path prefix that is no region is not read as one.
            ("http://proxy/sqs/000000000000/q1", None, "http://proxy/sqs/"),
        ] {
            let a = parse_queue_url(url).unwrap();
            assert_eq!(
                (a.region, a.account, a.name, a.endpoint),
                (region, "000000000000", "q1", endpoint),
                "{url}"
            );
        }
        for not in ["us", "local", "us-west", "us-west-2a", "US-WEST-2", "us--2"] {
            assert!(!looks_like_region(not), "{not}");
        }
    }
}
