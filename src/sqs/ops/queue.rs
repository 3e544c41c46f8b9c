//! Queue actions: create, find, list, delete, attributes, purge, tags,
//! permissions, dead-letter sources.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Ctx, admit, check_security, queue_url, resolve};
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::limits::{
    MAX_LIST_RESULTS, MAX_QUEUE_NAME_LEN, MAX_TAG_KEY_LEN, MAX_TAG_VALUE_LEN, MAX_TAGS, PURGE_INTERVAL_MS,
};
use crate::sqs::model::attributes::{QueueAttributes, READABLE};
use crate::sqs::model::queue::{Change, Queue, QueueState};
use crate::sqs::policy;
use crate::sqs::types::{
    AddPermissionInput, CreateQueueInput, GetQueueAttributesInput, GetQueueUrlInput,
    ListDeadLetterSourceQueuesInput, ListQueuesInput, QueueUrlsOutput, RemovePermissionInput,
    SetQueueAttributesInput, SqsOutput, TagQueueInput, UntagQueueInput,
};
use crate::state::AppState;

fn check_queue_name(name: &str, fifo: bool) -> Result<()> {
    let base = name.strip_suffix(".fifo");
    let stem = if fifo { base } else { Some(name) };
    let ok = name.len() <= MAX_QUEUE_NAME_LEN
        && stem.is_some_and(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        return Ok(());
    }
    let reason = if fifo || base.is_some() {
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
    } else {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    };
    Err(Error::InvalidParameterValue(reason.into()))
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > MAX_TAG_KEY_LEN {
            return Err(Error::invalid_value(
                "TagKey",
                k,
                "Tag keys must be between 1 and 128 characters in length.",
            ));
        }
        if v.chars().count() > MAX_TAG_VALUE_LEN {
            return Err(Error::invalid_value(
                "TagValue",
                v,
                "Tag values may not exceed 256 characters in length.",
            ));
        }
    }
    Ok(())
}

/// CreateQueue: creates the queue, or returns the existing one when every
/// given attribute matches.
pub(crate) fn create_queue(state: &AppState, ctx: &Ctx, input: CreateQueueInput) -> Result<SqsOutput> {
    let name = input.queue_name;
    if name.is_empty() {
        return Err(Error::missing("QueueName"));
    }
    let fifo_attr = input
        .attributes
        .iter()
        .find(|(k, _)| k == "FifoQueue")
        .map(|(_, v)| v.as_str());
    let fifo = match fifo_attr {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(Error::InvalidAttributeValue(
                "Invalid value for the parameter FifoQueue.".into(),
            ));
        }
    };
    check_queue_name(&name, fifo)?;
    check_tags(&input.tags)?;
    if input.tags.len() > MAX_TAGS {
        return Err(Error::InvalidParameterValue(
            format!("Too many tags added for queue {name}.").into(),
        ));
    }
    let mut attrs = QueueAttributes::new(fifo);
    // AWS turns SSE-SQS on for queues created with SigV4 over HTTPS unless
    // the request chooses otherwise. sealq asks for HTTPS only in strict
    // mode, where a queue created over plain HTTP could not be used over it.
    attrs.sqs_managed_sse_enabled = state.config.sse_sqs_by_default
        && matches!(ctx.principal, Principal::Signed(_))
        && (ctx.tls || !ctx.strict);
    attrs.set_all(&input.attributes, true)?;
    let account = ctx.account(state).to_owned();
    // Queues are created in the request's region.
    let region = ctx.region.as_str();
    let arn = format!("arn:aws:sqs:{region}:{account}:{name}");
    check_redrive_target(state, &arn, fifo, &attrs, &input.attributes)?;

    let now = state.clock.now_ms();
    if state.config.strict_deletion
        && state.store.get(region, &account, &name).is_none()
        && state.store.deleted_recently(&arn, now)
    {
        return Err(Error::QueueDeletedRecently(
            "You must wait 60 seconds after deleting a queue before you can create another queue with the same name."
                .into(),
        ));
    }
    let (q, created) = state.store.get_or_create((region, &account), &name, || {
        Queue::new(
            name.clone(),
            account.clone(),
            arn,
            state.store.next_uid(),
            now,
            attrs.clone(),
        )
    });
    if created {
        let mut s = q.lock();
        s.tags = input.tags;
        ctx.after(state.store.flush(&q, &mut s));
    } else {
        check_security(ctx, &q)?;
        let existing = q.lock().attrs.clone();
        for (k, _) in &input.attributes {
            if attrs.get(k) != existing.get(k) {
                return Err(Error::QueueNameExists(
                    format!(
                        "A queue already exists with the same name and a different value for attribute {k}"
                    )
                    .into(),
                ));
            }
        }
    }
    Ok(SqsOutput::QueueUrl(queue_url(state, ctx, &q)))
}

/// GetQueueUrl.
pub(super) fn get_queue_url(state: &AppState, ctx: &Ctx, input: GetQueueUrlInput) -> Result<SqsOutput> {
    if input.queue_name.is_empty() {
        return Err(Error::missing("QueueName"));
    }
    let account = input
        .queue_owner_aws_account_id
        .unwrap_or_else(|| ctx.account(state).to_owned());
    let q = state
        .store
        .get(&ctx.region, &account, &input.queue_name)
        .ok_or(Error::QueueDoesNotExist)?;
    admit(state, ctx, &q)?;
    Ok(SqsOutput::QueueUrl(queue_url(state, ctx, &q)))
}

/// Page of `items` after the token, and the token of the next page.
fn paginate<T: Clone>(
    items: &[(String, T)],
    next_token: Option<&str>,
    max_results: Option<i64>,
) -> Result<(Vec<T>, Option<String>)> {
    let max = match max_results {
        None => None,
        Some(m) if (1..=MAX_LIST_RESULTS as i64).contains(&m) => {
            Some(usize::try_from(m).unwrap_or(MAX_LIST_RESULTS))
        }
        Some(m) => {
            return Err(Error::invalid_value(
                "MaxResults",
                m,
                "MaxResults must be an integer between 1 and 1000.",
            ));
        }
    };
    let start = match next_token {
        None | Some("") => 0,
        Some(t) => {
            let after = URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Error::InvalidParameterValue("Invalid NextToken value.".into()))?;
            items.partition_point(|(k, _)| k.as_str() <= after.as_str())
        }
    };
    let rest = &items[start..];
    let take = max.unwrap_or(MAX_LIST_RESULTS).min(rest.len());
    let page: Vec<T> = rest[..take].iter().map(|(_, v)| v.clone()).collect();
    let token = (max.is_some() && take < rest.len()).then(|| URL_SAFE_NO_PAD.encode(&rest[take - 1].0));
    Ok((page, token))
}

/// ListQueues.
pub(super) fn list_queues(state: &AppState, ctx: &Ctx, input: ListQueuesInput) -> Result<SqsOutput> {
    let prefix = input.queue_name_prefix.unwrap_or_default();
    let items: Vec<(String, String)> = state
        .store
        .list(&ctx.region, ctx.account(state))
        .iter()
        .filter(|q| q.name.starts_with(&prefix))
        .map(|q| (q.name.clone(), queue_url(state, ctx, q)))
        .collect();
    let (queue_urls, next_token) = paginate(&items, input.next_token.as_deref(), input.max_results)?;
    Ok(SqsOutput::ListQueues(QueueUrlsOutput {
        queue_urls,
        next_token,
    }))
}

/// DeleteQueue: the queue and its messages go at once; long polls on it return.
pub(super) fn delete_queue(state: &AppState, ctx: &Ctx, url: &str) -> Result<SqsOutput> {
    let q = resolve(state, ctx, url)?;
    if let Some((q, n)) = state.store.remove(&q) {
        ctx.after(n);
        q.mark_deleted();
        if state.config.strict_deletion {
            state.store.note_deleted(&q.arn, state.clock.now_ms());
        }
    }
    Ok(SqsOutput::Empty)
}

/// The value of a readable attribute.
fn read_attribute(q: &Queue, s: &mut QueueState, now: u64, name: &str) -> Option<String> {
    match name {
        "ApproximateNumberOfMessages" => Some(s.counts(now).visible.to_string()),
        "ApproximateNumberOfMessagesNotVisible" => Some(s.counts(now).not_visible.to_string()),
        "ApproximateNumberOfMessagesDelayed" => Some(s.counts(now).delayed.to_string()),
        "CreatedTimestamp" => Some(q.created_s.to_string()),
        "LastModifiedTimestamp" => Some(s.last_modified_s.to_string()),
        "QueueArn" => Some(q.arn.clone()),
        other => s.attrs.get(other),
    }
}

/// GetQueueAttributes (`All` or any readable names).
pub(super) fn get_queue_attributes(
    state: &AppState,
    ctx: &Ctx,
    input: GetQueueAttributesInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    let mut names: Vec<&str> = Vec::new();
    for n in &input.attribute_names {
        if n == "All" {
            names = READABLE.to_vec();
            break;
        }
        let known = READABLE
            .iter()
            .find(|r| **r == n.as_str())
            .ok_or_else(|| Error::InvalidAttributeName(format!("Unknown Attribute {n}.").into()))?;
        if !names.contains(known) {
            names.push(known);
        }
    }
    let now = state.clock.now_ms();
    let mut s = q.lock();
    let attributes = names
        .into_iter()
        .filter_map(|n| read_attribute(&q, &mut s, now, n).map(|v| (n.to_owned(), v)))
        .collect();
    Ok(SqsOutput::Attributes(attributes))
}

/// SetQueueAttributes: all or nothing.
pub(crate) fn set_queue_attributes(
    state: &AppState,
    ctx: &Ctx,
    input: SetQueueAttributesInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    let now = state.clock.now_ms();
    let mut s = q.lock();
    let mut attrs = s.attrs.clone();
    attrs.set_all(&input.attributes, false)?;
    if input.attributes.iter().any(|(k, _)| k == "RedrivePolicy") {
        // The target's state is read under its own lock, never both at once.
        drop(s);
        check_redrive_target(state, &q.arn, attrs.fifo_queue, &attrs, &input.attributes)?;
        s = q.lock();
        let mut merged = s.attrs.clone();
        merged.set_all(&input.attributes, false)?;
        attrs = merged;
    }
    s.attrs = attrs;
    s.last_modified_s = now / 1000;
    s.note(Change::Meta);
    ctx.after(state.store.flush(&q, &mut s));
    drop(s);
    // A shorter delay or retention may have made messages due; wake waiters
    // so they look again.
    q.notify.notify_waiters();
    Ok(SqsOutput::Empty)
}

/// AWS's checks of a `RedrivePolicy` set by this request that need the
/// target queue: it exists in this account and region, is of the same type
/// (FIFO with FIFO), and its `RedriveAllowPolicy` admits the source.
fn check_redrive_target(
    state: &AppState,
    source_arn: &str,
    source_fifo: bool,
    attrs: &QueueAttributes,
    given: &[(String, String)],
) -> Result<()> {
    if !given.iter().any(|(k, _)| k == "RedrivePolicy") {
        return Ok(());
    }
    let (Some(redrive), Some(value)) = (&attrs.redrive, attrs.redrive_policy.as_deref()) else {
        return Ok(());
    };
    let bad = |reason: String| {
        Error::InvalidParameterValue(
            format!("Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}").into(),
        )
    };
    // The dead-letter queue must be in the source queue's account and region.
    let place = |arn: &str| arn.rsplit_once(':').map(|(p, _)| p.to_owned());
    let same_place = place(source_arn).is_some() && place(source_arn) == place(&redrive.target_arn);
    let target = Some(&redrive.target_arn)
        .filter(|_| same_place)
        .and_then(|arn| state.store.get_by_arn(arn))
        .filter(|t| !t.is_deleted());
    let Some(target) = target else {
        return Err(bad("Dead letter target does not exist.".to_owned()));
    };
    let t = target.lock();
    if t.attrs.fifo_queue != source_fifo {
        return Err(bad(
            "Dead-letter queue must be of the same type (standard or FIFO) as the source queue.".to_owned(),
        ));
    }
    if let Some(allow) = t.attrs.redrive_allow_policy.as_deref()
        && !policy::allows_source(allow, source_arn)
    {
        return Err(bad(format!(
            "Queue {} does not allow {source_arn} to use it as a dead-letter queue.",
            target.arn
        )));
    }
    Ok(())
}

/// PurgeQueue: once per 60 seconds.
pub(super) fn purge_queue(state: &AppState, ctx: &Ctx, url: &str) -> Result<SqsOutput> {
    let q = resolve(state, ctx, url)?;
    let now = state.clock.now_ms();
    let mut s = q.lock();
    if s.last_purge_ms.is_some_and(|t| now < t + PURGE_INTERVAL_MS) {
        return Err(Error::PurgeQueueInProgress(
            format!(
                "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                q.name
            )
            .into(),
        ));
    }
    s.purge(now);
    ctx.after(state.store.flush(&q, &mut s));
    Ok(SqsOutput::Empty)
}

/// TagQueue.
pub(crate) fn tag_queue(state: &AppState, ctx: &Ctx, input: TagQueueInput) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    if input.tags.is_empty() {
        return Err(Error::missing("Tags"));
    }
    check_tags(&input.tags)?;
    let mut s = q.lock();
    let mut tags = s.tags.clone();
    tags.extend(input.tags);
    if tags.len() > MAX_TAGS {
        return Err(Error::InvalidParameterValue(
            format!("Too many tags added for queue {}.", q.name).into(),
        ));
    }
    s.tags = tags;
    s.note(Change::Meta);
    ctx.after(state.store.flush(&q, &mut s));
    Ok(SqsOutput::Empty)
}

/// UntagQueue.
pub(super) fn untag_queue(state: &AppState, ctx: &Ctx, input: UntagQueueInput) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    if input.tag_keys.is_empty() {
        return Err(Error::missing("TagKeys"));
    }
    let mut s = q.lock();
    for k in &input.tag_keys {
        s.tags.remove(k);
    }
    s.note(Change::Meta);
    ctx.after(state.store.flush(&q, &mut s));
    Ok(SqsOutput::Empty)
}

/// ListQueueTags.
pub(super) fn list_queue_tags(state: &AppState, ctx: &Ctx, url: &str) -> Result<SqsOutput> {
    let q = resolve(state, ctx, url)?;
    let tags = q.lock().tags.clone();
    Ok(SqsOutput::Tags(tags))
}

/// AddPermission: adds a statement to the queue's Policy.
pub(super) fn add_permission(state: &AppState, ctx: &Ctx, input: AddPermissionInput) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    let mut s = q.lock();
    let p = policy::add_permission(
        s.attrs.policy.as_deref(),
        &q.arn,
        &input.label,
        &input.aws_account_ids,
        &input.actions,
    )?;
    let (text, document) = policy::check_policy(&p)?.unzip();
    s.attrs.policy = text;
    s.attrs.policy_document = document;
    s.note(Change::Meta);
    ctx.after(state.store.flush(&q, &mut s));
    Ok(SqsOutput::Empty)
}

/// RemovePermission: removes a statement from the queue's Policy.
pub(super) fn remove_permission(
    state: &AppState,
    ctx: &Ctx,
    input: RemovePermissionInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    let mut s = q.lock();
    let kept = policy::remove_permission(s.attrs.policy.as_deref(), &input.label)?;
    let (text, document) = match kept {
        Some(p) => policy::check_policy(&p)?.unzip(),
        None => (None, None),
    };
    s.attrs.policy = text;
    s.attrs.policy_document = document;
    s.note(Change::Meta);
    ctx.after(state.store.flush(&q, &mut s));
    Ok(SqsOutput::Empty)
}

/// ListDeadLetterSourceQueues: queues whose RedrivePolicy targets this one.
pub(super) fn list_dead_letter_source_queues(
    state: &AppState,
    ctx: &Ctx,
    input: ListDeadLetterSourceQueuesInput,
) -> Result<SqsOutput> {
    let dlq = resolve(state, ctx, &input.queue_url)?;
    let items: Vec<(String, String)> = state
        .store
        .list(dlq.region(), &dlq.account_id)
        .iter()
        .filter(|q| {
            q.lock()
                .attrs
                .redrive
                .as_ref()
                .is_some_and(|r| r.target_arn == dlq.arn)
        })
        .map(|q| (q.name.clone(), queue_url(state, ctx, q)))
        .collect();
    let (queue_urls, next_token) = paginate(&items, input.next_token.as_deref(), input.max_results)?;
    Ok(SqsOutput::ListDeadLetterSourceQueues(QueueUrlsOutput {
        queue_urls,
        next_token,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_aws_rules() {
        assert!(check_queue_name("a-b_C9", false).is_ok());
        assert!(check_queue_name(&"x".repeat(80), false).is_ok());
        assert!(check_queue_name(&"x".repeat(81), false).is_err());
        assert!(check_queue_name("a.b", false).is_err());
        assert!(check_queue_name("q.fifo", false).is_err());
        assert!(check_queue_name("q.fifo", true).is_ok());
        assert!(check_queue_name("q", true).is_err());
        assert!(check_queue_name(".fifo", true).is_err());
    }

    #[test]
    fn pagination_walks_every_item_once() {
        let items: Vec<(String, u32)> = (0..25).map(|i| (format!("q{i:02}"), i)).collect();
        let mut token = None;
        let mut seen = Vec::new();
        loop {
            let (page, next) = paginate(&items, token.as_deref(), Some(10)).unwrap();
            seen.extend(page);
            if next.is_none() {
                break;
            }
            token = next;
        }
        assert_eq!(seen, (0..25).collect::<Vec<_>>());
        assert!(paginate(&items, None, Some(0)).is_err());
        assert_eq!(paginate(&items, None, None).unwrap().1, None);
    }
}
