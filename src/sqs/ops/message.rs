//! Message actions: send (single and batch), receive with long polling,
//! delete, and visibility changes.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use std::sync::Arc;

use super::{Ctx, resolve};
use crate::auth::Principal;
use crate::crypto::{Body, Sealer, Sse};
use crate::error::{Error, Result};
use crate::limits::{
    MAX_ATTRIBUTE_NAME_LEN, MAX_BATCH_ENTRIES, MAX_BATCH_ENTRY_ID_LEN, MAX_BATCH_SIZE, MAX_DELAY_SECONDS,
    MAX_MESSAGE_ATTRIBUTES, MAX_RECEIVE_MESSAGES, MAX_VISIBILITY_TIMEOUT, MAX_WAIT_SECONDS,
};
use crate::sqs::model::message::{
    MessageExtra, ReceiptHandle, check_contents, hex, md5_of_attributes, md5_of_body,
};
use crate::sqs::model::queue::{Delivery, NewMessage, Queue};
use crate::sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchInput, ChangeMessageVisibilityInput,
    DeleteMessageBatchInput, DeleteMessageInput, MessageAttributeValue, ReceiptBatchEntry,
    ReceiptBatchOutput, ReceiveMessageInput, ReceiveMessageOutput, ReceivedMessage, SendMessageBatchInput,
    SendMessageBatchOutput, SendMessageBatchRequestEntry, SendMessageBatchResultEntry, SendMessageInput,
    SendMessageOutput, SqsOutput,
};
use crate::state::AppState;

/// A message that passed validation, ready to store.
struct Checked {
    new: NewMessage,
    output: SendMessageOutput,
    /// FIFO: the key the message is deduplicated by.
    dedup_key: Option<String>,
}

fn attribute_error(msg: String) -> Error {
    Error::InvalidParameterValue(msg.into())
}

fn check_attribute_name(name: &str, what: &str) -> Result<()> {
    let lower = name.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= MAX_ATTRIBUTE_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(attribute_error(format!(
            "Message ({what}) attribute name '{name}' is invalid."
        )))
    }
}

/// Checks one attribute value; returns its size in bytes for the size limit.
fn check_attribute_value(name: &str, v: &MessageAttributeValue, what: &str) -> Result<usize> {
    if v.data_type.is_empty() {
        return Err(attribute_error(format!(
            "The message ({what}) attribute '{name}' must contain a non-empty message attribute type."
        )));
    }
    let base = v.data_type.split('.').next().unwrap_or_default();
    let custom_ok = v.data_type.len() <= MAX_ATTRIBUTE_NAME_LEN
        && !v.data_type.ends_with('.')
        && v.data_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !matches!(base, "String" | "Number" | "Binary") || !custom_ok {
        return Err(attribute_error(format!(
            "The type of message ({what}) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
        )));
    }
    if v.has_list_values {
        return Err(attribute_error(format!(
            "Message ({what}) attribute '{name}' uses StringListValues or BinaryListValues, which are reserved for future use."
        )));
    }
    let size = match base {
        "Binary" => match &v.binary_value {
            Some(b) if !b.is_empty() => b.len(),
            _ => {
                return Err(attribute_error(format!(
                    "Message ({what}) attribute '{name}' must contain a non-empty value of type '{}'.",
                    v.data_type
                )));
            }
        },
        _ => match &v.string_value {
            Some(s) if !s.is_empty() => {
                check_contents(s)?;
                if base == "Number" && !is_number(s) {
                    return Err(attribute_error(format!(
                        "Can't cast the value of message ({what}) attribute '{name}' to a number."
                    )));
                }
                s.len()
            }
            _ => {
                return Err(attribute_error(format!(
                    "Message ({what}) attribute '{name}' must contain a non-empty value of type '{}'.",
                    v.data_type
                )));
            }
        },
    };
    Ok(name.len() + v.data_type.len() + size)
}

/// 1–128 alphanumeric or ASCII punctuation characters.
fn is_group_or_dedup_id(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
}

/// A decimal number with up to 38 significant digits, as SQS accepts.
fn is_number(s: &str) -> bool {
    let t = s.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int = parts.next().unwrap_or_default();
    let frac = parts.next().unwrap_or_default();
    let digits_ok = !(int.is_empty() && frac.is_empty())
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit());
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    let significant = format!("{int}{frac}").trim_start_matches('0').len();
    digits_ok && exp_ok && significant <= 38
}

/// The queue settings a send is checked against, read once per request.
struct SendRules {
    max_size: u64,
    default_delay: u64,
    fifo: bool,
    /// FIFO: deduplicate by the SHA-256 of the body when no id is given.
    content_based: bool,
    /// FIFO: deduplication ids are per message group.
    dedup_per_group: bool,
    /// Encryption of new messages, if any.
    sse: Option<Sse>,
}

impl SendRules {
    fn of(q: &Queue) -> Self {
        let s = q.lock();
        Self {
            max_size: s.attrs.maximum_message_size,
            default_delay: s.attrs.delay_seconds,
            fifo: s.attrs.fifo_queue,
            content_based: s.attrs.content_based_deduplication,
            dedup_per_group: s.attrs.deduplication_scope.as_deref() == Some("messageGroup"),
            sse: s.attrs.sse(),
        }
    }
}

/// Seals bodies for one request when the queue encrypts: only the body,
/// after its digest was computed over the plaintext (attributes stay clear,
/// as in AWS). The data key is taken from the cache (or KMS) at the first
/// body, so a batch costs one lookup.
struct Sealing<'a> {
    state: &'a AppState,
    ctx: &'a Ctx,
    q: &'a Queue,
    sealer: Option<Sealer>,
}

impl<'a> Sealing<'a> {
    fn new(state: &'a AppState, ctx: &'a Ctx, q: &'a Queue) -> Self {
        Self {
            state,
            ctx,
            q,
            sealer: None,
        }
    }

    fn seal(&mut self, rules: &SendRules, new: &mut NewMessage) -> Result<()> {
        let Some(sse) = &rules.sse else {
            return Ok(());
        };
        if !matches!(new.body, Body::Plain(_)) {
            return Ok(());
        }
        let sealer = match &self.sealer {
            Some(s) => s,
            None => {
                let Principal::Signed(who) = &self.ctx.principal else {
                    return Err(Error::InvalidSecurity(
                        "All requests to this queue must use HTTPS and SigV4.".into(),
                    ));
                };
                let (state, ctx) = (self.state, self.ctx);
                let gate = |action, key: &str, policy: Option<&_>, queue: &Arc<str>| {
                    crate::authz::kms_via_sqs(state, ctx, action, (key, policy), queue)
                };
                let s = state
                    .encryption
                    .sealer(who, self.q.uid, &self.q.arn, sse, &gate)?;
                self.sealer.insert(s)
            }
        };
        let Body::Plain(text) = std::mem::replace(&mut new.body, Body::Plain(Box::default())) else {
            return Ok(());
        };
        let envelope = sealer.seal(new.id, text)?;
        new.body = Body::Sealed(Box::new(envelope));
        Ok(())
    }
}

/// A FIFO batch in which an entry lacks its group id, or its deduplication
/// id without content-based deduplication, fails as a whole (AWS
/// recorded), where other invalid entries fail alone.
///
/// # Errors
/// `InvalidParameterValue` naming what the first such entry lacks.
fn check_fifo_batch(rules: &SendRules, entries: &[SendMessageBatchRequestEntry]) -> Result<()> {
    for e in entries {
        if e.message.message_group_id.is_none() {
            return Err(Error::InvalidParameterValue(
                "The request must contain the parameter MessageGroupId.".into(),
            ));
        }
        if e.message.message_deduplication_id.is_none() && !rules.content_based {
            return Err(no_dedup_id());
        }
    }
    Ok(())
}

fn no_dedup_id() -> Error {
    Error::InvalidParameterValue(
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
    )
}

/// Validates a message and prepares what to store and to answer.
fn check_message(
    rules: &SendRules,
    sender_id: &Arc<str>,
    input: SendMessageInput,
    in_batch: bool,
) -> Result<Checked> {
    let SendRules {
        max_size,
        default_delay,
        fifo,
        ..
    } = *rules;
    let body = match input.message_body {
        Some(b) if !b.is_empty() => b,
        _ => return Err(Error::missing("MessageBody")),
    };
    let delay = match input.delay_seconds {
        // FIFO queues take DelaySeconds=0 (AWS recorded): the queue's delay.
        None | Some(0) if fifo => default_delay,
        None => default_delay,
        Some(d) if fifo => {
            return Err(Error::invalid_value(
                "DelaySeconds",
                d,
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        Some(d) => u64::try_from(d)
            .ok()
            .filter(|d| *d <= MAX_DELAY_SECONDS)
            .ok_or_else(|| {
                Error::invalid_value("DelaySeconds", d, "DelaySeconds must be >= 0 and <= 900.")
            })?,
    };
    if fifo && input.message_group_id.is_none() {
        return Err(Error::missing("MessageGroupId"));
    }
    for (name, value) in [
        ("MessageGroupId", &input.message_group_id),
        ("MessageDeduplicationId", &input.message_deduplication_id),
    ] {
        if let Some(v) = value
            && !is_group_or_dedup_id(v)
        {
            return Err(Error::invalid_value(
                name,
                v,
                &format!(
                    "{name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
                ),
            ));
        }
    }
    if !fifo && let Some(d) = &input.message_deduplication_id {
        return Err(Error::invalid_value(
            "MessageDeduplicationId",
            d,
            "The request include parameter that is not valid for this queue type.",
        ));
    }
    check_contents(&body)?;
    if input.message_attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(attribute_error(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            input.message_attributes.len()
        )));
    }
    let mut size = body.len();
    let mut seen = HashSet::new();
    for (name, v) in &input.message_attributes {
        check_attribute_name(name, "user")?;
        if !seen.insert(name.as_str()) {
            return Err(attribute_error(format!(
                "Message (user) attribute name '{name}' is not unique."
            )));
        }
        size += check_attribute_value(name, v, "user")?;
    }
    let mut trace_header = None;
    for (name, v) in &input.message_system_attributes {
        if name != "AWSTraceHeader" {
            return Err(attribute_error(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if v.data_type != "String" {
            return Err(attribute_error(format!(
                "The message system attribute '{name}' must be of type 'String'."
            )));
        }
        size += check_attribute_value(name, v, "system")?;
        trace_header = v.string_value.clone();
    }
    if size as u64 > max_size {
        return Err(Error::InvalidParameterValue(
            format!(
                "One or more parameters {} Reason: Message must be shorter than {max_size} bytes.",
                if in_batch {
                    "cannot be validated."
                } else {
                    "are invalid."
                }
            )
            .into(),
        ));
    }
    let md5 = md5_of_body(&body);
    let id = uuid::Uuid::new_v4();
    let md5_attrs = (!input.message_attributes.is_empty()).then(|| {
        hex(&md5_of_attributes(
            input.message_attributes.iter().map(|(n, v)| (n.as_str(), v)),
        ))
    });
    let md5_system = (!input.message_system_attributes.is_empty()).then(|| {
        hex(&md5_of_attributes(
            input
                .message_system_attributes
                .iter()
                .map(|(n, v)| (n.as_str(), v)),
        ))
    });
    let dedup_id = if fifo {
        match input.message_deduplication_id {
            Some(d) => Some(d),
            None if rules.content_based => Some(hex(&Sha256::digest(body.as_bytes()))),
            None => return Err(no_dedup_id()),
        }
    } else {
        None
    };
    let group_id = input.message_group_id;
    let dedup_key = dedup_id.as_ref().map(|d| {
        if rules.dedup_per_group {
            format!("{}\u{0}{d}", group_id.as_deref().unwrap_or_default())
        } else {
            d.clone()
        }
    });
    let extra = if input.message_attributes.is_empty()
        && trace_header.is_none()
        && group_id.is_none()
        && dedup_id.is_none()
    {
        None
    } else {
        let mut attributes = input.message_attributes;
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Box::new(MessageExtra {
            attributes,
            trace_header,
            group_id,
            dead_letter_source_arn: None,
            dedup_id,
            sequence_number: None,
        }))
    };
    Ok(Checked {
        new: NewMessage {
            id: id.as_u128(),
            body: Body::Plain(body.into_boxed_str()),
            md5_of_body: md5,
            delay_seconds: delay,
            sender_id: sender_id.clone(),
            extra,
        },
        output: SendMessageOutput {
            message_id: id.to_string(),
            md5_of_message_body: hex(&md5),
            md5_of_message_attributes: md5_attrs,
            md5_of_message_system_attributes: md5_system,
            sequence_number: None,
        },
        dedup_key,
    })
}

/// Stores a checked (and sealed) message; FIFO queues deduplicate and
/// number it. Returns the answer to give and whether a poll should wake.
fn store(state: &AppState, ctx: &Ctx, q: &Queue, now: u64, checked: Checked) -> (SendMessageOutput, bool) {
    let Checked {
        new,
        mut output,
        dedup_key,
    } = checked;
    let mut s = q.lock();
    match dedup_key {
        None => {
            let visible = s.send(now, new);
            ctx.after(state.store.flush(q, &mut s));
            (output, visible)
        }
        Some(key) => {
            let sent = s.send_fifo(now, new, key);
            ctx.after(state.store.flush(q, &mut s));
            output.message_id = uuid::Uuid::from_u128(sent.id).to_string();
            output.sequence_number = Some(sent.sequence_number.to_string());
            (output, sent.visible)
        }
    }
}

fn sender_id(state: &AppState, ctx: &Ctx) -> Arc<str> {
    match (&ctx.principal, ctx.client_ip) {
        (crate::auth::Principal::Signed(id), _) => id.sender_id.clone(),
        // AWS documents the caller's IP address as the SenderId of anonymous senders.
        (crate::auth::Principal::Anonymous, Some(ip)) => Arc::from(ip.to_string()),
        (crate::auth::Principal::Anonymous, None) => state.principals.anonymous_sender_id(),
    }
}

/// SendMessage.
pub(super) fn send_message(state: &AppState, ctx: &Ctx, input: SendMessageInput) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    let rules = SendRules::of(&q);
    let mut checked = check_message(&rules, &sender_id(state, ctx), input, false)?;
    Sealing::new(state, ctx, &q).seal(&rules, &mut checked.new)?;
    let now = state.clock.now_ms();
    let (output, visible) = store(state, ctx, &q, now, checked);
    if visible {
        q.notify.notify_one();
    }
    Ok(SqsOutput::SendMessage(output))
}

/// The batch rules every batch action shares: 1–10 entries, ids well formed
/// and distinct.
fn check_batch_ids<'a>(ids: impl ExactSizeIterator<Item = &'a str>, entry_name: &str) -> Result<()> {
    let n = ids.len();
    if n == 0 {
        return Err(Error::EmptyBatchRequest(
            format!("There should be at least one {entry_name} in the request.").into(),
        ));
    }
    if n > MAX_BATCH_ENTRIES {
        return Err(Error::TooManyEntriesInBatchRequest(
            format!("Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {n}.")
                .into(),
        ));
    }
    let mut seen = HashSet::new();
    for id in ids {
        if id.is_empty()
            || id.len() > MAX_BATCH_ENTRY_ID_LEN
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.".into(),
            ));
        }
        if !seen.insert(id) {
            return Err(Error::BatchEntryIdsNotDistinct(
                format!("Id {id} repeated.").into(),
            ));
        }
    }
    Ok(())
}

fn failed_entry(id: String, e: &Error) -> BatchResultErrorEntry {
    let meta = e.meta();
    BatchResultErrorEntry {
        id,
        sender_fault: meta.fault == crate::error::Fault::Sender,
        code: meta.query_code.to_owned(),
        message: e.to_string(),
    }
}

/// SendMessageBatch: batch rules fail the request; a bad entry fails alone.
pub(super) fn send_message_batch(
    state: &AppState,
    ctx: &Ctx,
    input: SendMessageBatchInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    check_batch_ids(
        input.entries.iter().map(|e| e.id.as_str()),
        "SendMessageBatchRequestEntry",
    )?;
    let total: usize = input
        .entries
        .iter()
        .map(|e| {
            let m = &e.message;
            let attrs: usize = m
                .message_attributes
                .iter()
                .map(|(n, v)| {
                    n.len()
                        + v.data_type.len()
                        + v.string_value.as_ref().map_or(0, String::len)
                        + v.binary_value.as_ref().map_or(0, Vec::len)
                })
                .sum();
            m.message_body.as_ref().map_or(0, String::len) + attrs
        })
        .sum();
    if total > MAX_BATCH_SIZE {
        return Err(Error::BatchRequestTooLong(
            format!(
                "Batch requests cannot be longer than {MAX_BATCH_SIZE} bytes. You have sent {total} bytes."
            )
            .into(),
        ));
    }
    let sender = sender_id(state, ctx);
    let rules = SendRules::of(&q);
    if rules.fifo {
        check_fifo_batch(&rules, &input.entries)?;
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let mut ready = Vec::new();
    let mut sealing = Sealing::new(state, ctx, &q);
    for entry in input.entries {
        match check_message(&rules, &sender, entry.message, true) {
            Ok(mut c) => {
                // A KMS failure fails the whole request, as AWS declares it.
                sealing.seal(&rules, &mut c.new)?;
                ready.push((successful.len(), c.new, c.dedup_key));
                successful.push(SendMessageBatchResultEntry {
                    id: entry.id,
                    result: c.output,
                });
            }
            Err(e) => failed.push(failed_entry(entry.id, &e)),
        }
    }
    let now = state.clock.now_ms();
    let mut woken = 0;
    {
        // Entries are stored in request order (FIFO queues number them so).
        let mut s = q.lock();
        for (i, new, dedup_key) in ready {
            match dedup_key {
                None => woken += usize::from(s.send(now, new)),
                Some(key) => {
                    let sent = s.send_fifo(now, new, key);
                    let out = &mut successful[i].result;
                    out.message_id = uuid::Uuid::from_u128(sent.id).to_string();
                    out.sequence_number = Some(sent.sequence_number.to_string());
                    woken += usize::from(sent.visible);
                }
            }
        }
        ctx.after(state.store.flush(&q, &mut s));
    }
    for _ in 0..woken {
        q.notify.notify_one();
    }
    Ok(SqsOutput::SendMessageBatch(SendMessageBatchOutput {
        successful,
        failed,
    }))
}

/// Which system attributes a receive returns.
#[derive(Debug, Default, Clone, Copy)]
struct SystemSelection {
    sender_id: bool,
    sent_timestamp: bool,
    receive_count: bool,
    first_receive: bool,
    trace_header: bool,
    group_id: bool,
    dead_letter_source: bool,
    sequence_number: bool,
    dedup_id: bool,
}

impl SystemSelection {
    fn from_names<'a>(names: impl Iterator<Item = &'a String>) -> Self {
        let mut s = Self::default();
        for n in names {
            match n.as_str() {
                "All" => {
                    s = Self {
                        sender_id: true,
                        sent_timestamp: true,
                        receive_count: true,
                        first_receive: true,
                        trace_header: true,
                        group_id: true,
                        dead_letter_source: true,
                        sequence_number: true,
                        dedup_id: true,
                    };
                }
                "SenderId" => s.sender_id = true,
                "SentTimestamp" => s.sent_timestamp = true,
                "ApproximateReceiveCount" => s.receive_count = true,
                "ApproximateFirstReceiveTimestamp" => s.first_receive = true,
                "AWSTraceHeader" => s.trace_header = true,
                "MessageGroupId" => s.group_id = true,
                "DeadLetterQueueSourceArn" => s.dead_letter_source = true,
                "SequenceNumber" => s.sequence_number = true,
                "MessageDeduplicationId" => s.dedup_id = true,
                // FIFO and dead-letter attributes do not apply to standard
                // queues; queue attribute names in the legacy list are ignored.
                _ => {}
            }
        }
        s
    }
}

/// Whether message attribute `name` matches a `MessageAttributeNames` list:
/// `All`, `.*` and `*` match every name, `prefix.*` every name that starts
/// with `prefix` as a plain string (`Hel.*` matches `Hello` and `Help.Me`,
/// as AWS answers), anything else the name itself.
fn wants_attribute(selectors: &[String], name: &str) -> bool {
    selectors.iter().any(|s| match s.as_str() {
        "All" | ".*" | "*" => true,
        sel => sel
            .strip_suffix(".*")
            .map_or(sel == name, |prefix| name.starts_with(prefix)),
    })
}

fn to_received(d: Delivery, body: String, sys: SystemSelection, selectors: &[String]) -> ReceivedMessage {
    let mut attributes = Vec::new();
    if sys.sender_id {
        attributes.push(("SenderId", d.sender_id.to_string()));
    }
    if sys.sent_timestamp {
        attributes.push(("SentTimestamp", d.sent_ms.to_string()));
    }
    if sys.receive_count {
        attributes.push(("ApproximateReceiveCount", d.receive_count.to_string()));
    }
    if sys.first_receive {
        attributes.push(("ApproximateFirstReceiveTimestamp", d.first_receive_ms.to_string()));
    }
    let mut message_attributes = Vec::new();
    if let Some(extra) = d.extra {
        if sys.trace_header
            && let Some(t) = extra.trace_header
        {
            attributes.push(("AWSTraceHeader", t));
        }
        if sys.group_id
            && let Some(g) = extra.group_id
        {
            attributes.push(("MessageGroupId", g));
        }
        if sys.dead_letter_source
            && let Some(arn) = extra.dead_letter_source_arn
        {
            attributes.push(("DeadLetterQueueSourceArn", arn.to_string()));
        }
        if sys.dedup_id
            && let Some(d) = extra.dedup_id
        {
            attributes.push(("MessageDeduplicationId", d));
        }
        if sys.sequence_number
            && let Some(n) = extra.sequence_number
        {
            attributes.push(("SequenceNumber", n.to_string()));
        }
        if !selectors.is_empty() {
            message_attributes = extra
                .attributes
                .into_iter()
                .filter(|(n, _)| wants_attribute(selectors, n))
                .collect();
        }
    }
    let md5_of_message_attributes = (!message_attributes.is_empty()).then(|| {
        hex(&md5_of_attributes(
            message_attributes.iter().map(|(n, v)| (n.as_str(), v)),
        ))
    });
    ReceivedMessage {
        message_id: uuid::Uuid::from_u128(d.id).to_string(),
        receipt_handle: d.handle.encode(),
        md5_of_body: hex(&d.md5_of_body),
        body,
        attributes,
        md5_of_message_attributes,
        message_attributes,
    }
}

fn bounded(name: &str, v: Option<i64>, min: u64, max: u64, reason: &str) -> Result<Option<u64>> {
    v.map(|v| {
        u64::try_from(v)
            .ok()
            .filter(|x| (min..=max).contains(x))
            .ok_or_else(|| Error::invalid_value(name, v, reason))
    })
    .transpose()
}

/// ReceiveMessage, with long polling: the request waits on the queue's
/// notification (woken by sends) and on the clock (for delayed and in-flight
/// messages coming due), never in a sleep loop.
pub(super) async fn receive_message(
    state: &AppState,
    ctx: &Ctx,
    input: ReceiveMessageInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    let max = bounded(
        "MaxNumberOfMessages",
        input.max_number_of_messages,
        1,
        MAX_RECEIVE_MESSAGES,
        "Must be between 1 and 10, if provided.",
    )?
    .unwrap_or(1);
    let visibility = bounded(
        "VisibilityTimeout",
        input.visibility_timeout,
        0,
        MAX_VISIBILITY_TIMEOUT,
        "Must be >= 0 and <= 43200, if provided.",
    )?;
    let wait = bounded(
        "WaitTimeSeconds",
        input.wait_time_seconds,
        0,
        MAX_WAIT_SECONDS,
        "Must be >= 0 and <= 20, if provided.",
    )?;
    let sys = SystemSelection::from_names(
        input
            .attribute_names
            .iter()
            .chain(&input.message_system_attribute_names),
    );
    let (default_visibility, default_wait, reuse_ms, redrive) = {
        let s = q.lock();
        (
            s.attrs.visibility_timeout,
            s.attrs.receive_message_wait_time_seconds,
            s.attrs.reuse_ms(),
            s.attrs.redrive.clone(),
        )
    };
    // The dead-letter queue, when the policy names one that exists: messages
    // received too often move there at receive time.
    let dlq = redrive.as_ref().and_then(|r| {
        state
            .store
            .get_by_arn(&r.target_arn)
            .filter(|d| !d.is_deleted() && d.uid != q.uid)
    });
    let max_receive_count = dlq.as_ref().and(redrive.as_ref()).map(|r| r.max_receive_count);
    let visibility = visibility.unwrap_or(default_visibility);
    let deadline = state.clock.now_ms() + wait.unwrap_or(default_wait) * 1000;
    let max = usize::try_from(max).unwrap_or(1);
    // FIFO: a retried attempt gets the messages (and handles) it got before.
    let attempt = input
        .receive_request_attempt_id
        .clone()
        .filter(|_| q.lock().attrs.fifo_queue);
    if let Some(id) = &attempt {
        let retried = q.lock().retry_attempt(state.clock.now_ms(), id);
        if let Some(got) = retried {
            let bodies = open_bodies(state, ctx, &got, reuse_ms)?;
            let messages = got
                .into_iter()
                .zip(bodies)
                .map(|(d, body)| to_received(d, body, sys, &input.message_attribute_names))
                .collect();
            return Ok(SqsOutput::ReceiveMessage(ReceiveMessageOutput { messages }));
        }
    }
    loop {
        // Register interest before looking, so a send between the look and
        // the wait still wakes this request.
        let notified = q.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = state.clock.now_ms();
        let mut dead_letters = Vec::new();
        let mut moved_out = Vec::new();
        let (got, next_due) = {
            let mut s = q.lock();
            let got =
                s.receive_or_dead_letter(now, max, visibility, q.uid, max_receive_count, &mut dead_letters)?;
            let mut records = state.store.drain(&q, &mut s);
            if !dead_letters.is_empty() {
                // Removals of dead-lettered messages are saved after the
                // dead-letter queue has them (a crash in between keeps a
                // copy in both; it never loses one).
                let keys: std::collections::HashSet<i64> = dead_letters
                    .iter()
                    .map(|m| crate::store::durable::message_key(q.uid, m.serial))
                    .collect();
                let (out, keep): (Vec<_>, Vec<_>) = records
                    .into_iter()
                    .partition(|r| matches!(r, crate::store::durable::Record::Remove(k) if keys.contains(k)));
                moved_out = out;
                records = keep;
            }
            ctx.after(state.store.submit(records));
            (got, s.next_due())
        };
        if let Some(dlq) = &dlq
            && !dead_letters.is_empty()
        {
            let source: Arc<str> = Arc::from(q.arn.as_str());
            let n = dead_letters.len();
            {
                let mut d = dlq.lock();
                for m in dead_letters {
                    d.adopt(now, m, source.clone());
                }
                ctx.after(state.store.flush(dlq, &mut d));
            }
            ctx.after(state.store.submit(moved_out));
            for _ in 0..n {
                dlq.notify.notify_one();
            }
        }
        if !got.is_empty() || now >= deadline || q.is_deleted() || state.shutdown.is_cancelled() {
            let bodies = match open_bodies(state, ctx, &got, reuse_ms) {
                Ok(b) => b,
                // As on AWS, a receive that KMS failed (a consumer without
                // kms:Decrypt, a disabled key) counted as a receive: its
                // messages stay in flight until the visibility timeout, and
                // may reach the dead-letter queue that way.
                Err(e) if e.meta().query_code.starts_with("KMS.") => return Err(e),
                Err(e) => {
                    ctx.after(release(state, &q, now, &got));
                    return Err(e);
                }
            };
            if let Some(id) = attempt
                && !got.is_empty()
            {
                q.lock()
                    .remember_attempt(now, id, got.iter().map(|d| d.handle).collect());
            }
            let messages = got
                .into_iter()
                .zip(bodies)
                .map(|(d, body)| to_received(d, body, sys, &input.message_attribute_names))
                .collect();
            return Ok(SqsOutput::ReceiveMessage(ReceiveMessageOutput { messages }));
        }
        let wake_at = next_due.map_or(deadline, |d| d.min(deadline));
        tokio::select! {
            () = &mut notified => {}
            () = state.clock.sleep_until(wake_at) => {}
            // The server stops: the poll ends at once, empty, without
            // another look at the queue (whatever arrived stays there).
            () = state.shutdown.cancelled() => {
                return Ok(SqsOutput::ReceiveMessage(ReceiveMessageOutput { messages: Vec::new() }));
            }
        }
    }
}

/// The plaintext bodies of received messages, opening envelopes as the
/// receiving principal (outside the queue's lock).
fn open_bodies(state: &AppState, ctx: &Ctx, got: &[Delivery], reuse_ms: u64) -> Result<Vec<String>> {
    let gate = |action, key: &str, policy: Option<&_>, queue: &Arc<str>| {
        crate::authz::kms_via_sqs(state, ctx, action, (key, policy), queue)
    };
    let mut opener = None;
    got.iter()
        .map(|d| match &d.body {
            Body::Plain(text) => Ok(text.to_string()),
            Body::Sealed(envelope) => {
                let opener = match &mut opener {
                    Some(o) => o,
                    None => {
                        let Principal::Signed(who) = &ctx.principal else {
                            return Err(Error::InvalidSecurity(
                                "All requests to this queue must use HTTPS and SigV4.".into(),
                            ));
                        };
                        opener.insert(state.encryption.opener(who, reuse_ms, &gate))
                    }
                };
                opener.open(envelope)
            }
        })
        .collect()
}

/// Makes messages of a receive that failed for another reason than KMS
/// visible again at once.
fn release(state: &AppState, q: &Queue, now: u64, got: &[Delivery]) -> u64 {
    let mut s = q.lock();
    for d in got {
        let _ = s.change_visibility(now, &d.handle, "", 0);
    }
    state.store.flush(q, &mut s)
}

/// Decodes a handle and checks it belongs to `q`.
fn handle_for(q: &Queue, raw: &str) -> Result<ReceiptHandle> {
    let h = ReceiptHandle::decode(raw)?;
    if h.queue_uid != q.uid {
        return Err(Error::ReceiptHandleIsInvalid(
            format!("The input receipt handle \"{raw}\" is not a valid receipt handle.").into(),
        ));
    }
    Ok(h)
}

/// DeleteMessage.
pub(super) fn delete_message(state: &AppState, ctx: &Ctx, input: DeleteMessageInput) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    if input.receipt_handle.is_empty() {
        return Err(Error::missing("ReceiptHandle"));
    }
    let h = handle_for(&q, &input.receipt_handle)?;
    let now = state.clock.now_ms();
    let mut s = q.lock();
    let deleted = s.delete_received(now, &h, &input.receipt_handle);
    ctx.after(state.store.flush(&q, &mut s));
    deleted?;
    Ok(SqsOutput::Empty)
}

/// DeleteMessageBatch.
pub(super) fn delete_message_batch(
    state: &AppState,
    ctx: &Ctx,
    input: DeleteMessageBatchInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    check_batch_ids(
        input.entries.iter().map(|e| e.id.as_str()),
        "DeleteMessageBatchRequestEntry",
    )?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let now = state.clock.now_ms();
    let mut s = q.lock();
    for ReceiptBatchEntry {
        id, receipt_handle, ..
    } in input.entries
    {
        match handle_for(&q, &receipt_handle).and_then(|h| s.delete_received(now, &h, &receipt_handle)) {
            Ok(()) => successful.push(id),
            Err(e) => failed.push(failed_entry(id, &e)),
        }
    }
    ctx.after(state.store.flush(&q, &mut s));
    Ok(SqsOutput::ReceiptBatch(ReceiptBatchOutput { successful, failed }))
}

fn change_one(state: &AppState, ctx: &Ctx, q: &Queue, raw: &str, timeout: Option<i64>) -> Result<()> {
    if raw.is_empty() {
        return Err(Error::missing("ReceiptHandle"));
    }
    let h = handle_for(q, raw)?;
    let timeout = timeout.ok_or_else(|| Error::missing("VisibilityTimeout"))?;
    let t = u64::try_from(timeout)
        .ok()
        .filter(|t| *t <= MAX_VISIBILITY_TIMEOUT)
        .ok_or_else(|| {
            Error::invalid_value(
                "VisibilityTimeout",
                timeout,
                "VisibilityTimeout must be an integer between 0 and 43200",
            )
        })?;

    let now = state.clock.now_ms();
    let visible = {
        let mut s = q.lock();
        let r = s.change_visibility(now, &h, raw, t);
        ctx.after(state.store.flush(q, &mut s));
        r?
    };
    if visible {
        q.notify.notify_one();
    }
    Ok(())
}

/// ChangeMessageVisibility.
pub(super) fn change_message_visibility(
    state: &AppState,
    ctx: &Ctx,
    input: ChangeMessageVisibilityInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    change_one(
        state,
        ctx,
        &q,
        &input.receipt_handle,
        Some(input.visibility_timeout),
    )?;
    Ok(SqsOutput::Empty)
}

/// ChangeMessageVisibilityBatch.
pub(super) fn change_message_visibility_batch(
    state: &AppState,
    ctx: &Ctx,
    input: ChangeMessageVisibilityBatchInput,
) -> Result<SqsOutput> {
    let q = resolve(state, ctx, &input.queue_url)?;
    check_batch_ids(
        input.entries.iter().map(|e| e.id.as_str()),
        "ChangeMessageVisibilityBatchRequestEntry",
    )?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for e in input.entries {
        match change_one(state, ctx, &q, &e.receipt_handle, e.visibility_timeout) {
            Ok(()) => successful.push(e.id),
            Err(err) => failed.push(failed_entry(e.id, &err)),
        }
    }
    Ok(SqsOutput::ReceiptBatch(ReceiptBatchOutput { successful, failed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_selectors_match_names_all_and_prefixes() {
        let sel = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(wants_attribute(&sel(&["All"]), "x"));
        assert!(wants_attribute(&sel(&[".*"]), "x"));
        assert!(wants_attribute(&sel(&["*"]), "x"));
        assert!(wants_attribute(&sel(&["bar.*"]), "bar.baz"));
        assert!(wants_attribute(&sel(&["Hel.*"]), "Hello"));
        assert!(wants_attribute(&sel(&["Hel.*"]), "Help.Me"));
        assert!(!wants_attribute(&sel(&["Hel.*"]), "Hi"));
        assert!(wants_attribute(&sel(&["x"]), "x"));
        assert!(!wants_attribute(&sel(&["x"]), "y"));
    }

    #[test]
    fn numbers_are_decimal_with_38_digits_at_most() {
        for ok in ["1", "-1.5", "4563442423554324324264524243.32543234", "1e10", ".5"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "abc", "1.2.3", "1e", &"9".repeat(39)] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_names_follow_aws_rules() {
        assert!(check_attribute_name("a.b-c_d", "user").is_ok());
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "AWS.x",
            "amazon.y",
            "a b",
            &"a".repeat(257),
        ] {
            assert!(check_attribute_name(bad, "user").is_err(), "{bad}");
        }
    }
}
