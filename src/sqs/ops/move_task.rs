//! Message move tasks: StartMessageMoveTask, CancelMessageMoveTask,
//! ListMessageMoveTasks. The mover itself lives in `sqs::move_tasks`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Ctx, admit};
use crate::error::{Error, Result};
use crate::sqs::model::queue::Queue;
use crate::sqs::move_tasks::{self, DEFAULT_RATE, queue_of_arn};
use crate::sqs::types::{
    CancelMessageMoveTaskInput, ListMessageMoveTasksInput, MessageMoveTask, SqsOutput,
    StartMessageMoveTaskInput,
};
use crate::state::AppState;

/// AWS's most messages per second for a custom rate.
const MAX_RATE: i64 = 500;

fn not_found(what: &str) -> Error {
    Error::ResourceNotFound(
        format!("The resource that you specified for the {what} parameter doesn't exist.").into(),
    )
}

/// The live queue an ARN names, if it is in the request's region (a queue
/// of another region is not found from this endpoint).
fn here(state: &AppState, ctx: &Ctx, arn: &str) -> Option<std::sync::Arc<Queue>> {
    queue_of_arn(state, arn).filter(|q| q.region() == ctx.region)
}

/// StartMessageMoveTask.
pub(super) fn start(state: &AppState, ctx: &Ctx, input: StartMessageMoveTaskInput) -> Result<SqsOutput> {
    let source = here(state, ctx, &input.source_arn).ok_or_else(|| not_found("SourceArn"))?;
    admit(state, ctx, &source)?;
    // The queues whose dead-letter queue the source is.
    let origins: Vec<_> = state
        .store
        .list(source.region(), &source.account_id)
        .into_iter()
        .filter(|q| {
            q.lock()
                .attrs
                .redrive
                .as_ref()
                .is_some_and(|r| r.target_arn == source.arn)
        })
        .collect();
    if origins.is_empty() {
        return Err(Error::InvalidParameterValue(
            "Source queue must be configured as a Dead Letter Queue.".into(),
        ));
    }
    let destination = match &input.destination_arn {
        None => None,
        Some(arn) => {
            let d = here(state, ctx, arn).ok_or_else(|| not_found("DestinationArn"))?;
            if d.lock().attrs.fifo_queue != source.lock().attrs.fifo_queue {
                return Err(Error::InvalidParameterValue(
                    "The source queue and the destination queue must be of the same queue type.".into(),
                ));
            }
            Some(d)
        }
    };
    let rate = match input.max_number_of_messages_per_second {
        None => DEFAULT_RATE,
        Some(r) if (1..=MAX_RATE).contains(&r) => r.unsigned_abs(),
        Some(r) => {
            return Err(Error::invalid_value(
                "MaxNumberOfMessagesPerSecond",
                r,
                "Value must be between 1 and 500.",
            ));
        }
    };
    if state.move_tasks.active(&source.arn) {
        return Err(Error::InvalidParameterValue(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.".into(),
        ));
    }
    // The task moves messages as its owner: where a destination is
    // encrypted with SSE-KMS, the owner must be able to use its key through
    // SQS, or the task fails.
    let destinations = match &destination {
        Some(d) => std::slice::from_ref(d),
        None => origins.as_slice(),
    };
    let failure = destinations.iter().find_map(|d| {
        let key_id = d.lock().attrs.kms_master_key_id.clone()?;
        // The key id names a key of the destination's account and region.
        let home = crate::kms::Home::of_arn(&d.arn)?;
        let (key_arn, policy) = state.kms.api_key_policy(&key_id, home)?;
        let queue_arn: std::sync::Arc<str> = std::sync::Arc::from(d.arn.as_str());
        crate::authz::kms_via_sqs(
            state,
            ctx,
            "kms:GenerateDataKey",
            (&key_arn, policy.as_deref()),
            &queue_arn,
        )
        .err()
    });
    let now = state.clock.now_ms();
    let to_move = source.lock().visible_count(now);
    let task_id = uuid::Uuid::new_v4();
    let handle =
        STANDARD.encode(format!("{{\"taskId\":\"{task_id}\",\"sourceArn\":\"{}\"}}", source.arn).as_bytes());
    let info = MessageMoveTask {
        task_handle: None,
        status: if failure.is_some() { "FAILED" } else { "RUNNING" },
        source_arn: source.arn.clone(),
        destination_arn: input.destination_arn.clone(),
        max_number_of_messages_per_second: input.max_number_of_messages_per_second,
        approximate_number_of_messages_moved: 0,
        approximate_number_of_messages_to_move: Some(i64::try_from(to_move).unwrap_or(i64::MAX)),
        // As SQS words it to requests: KMS.AccessDeniedException.
        failure_reason: failure
            .as_ref()
            .map(|e| crate::crypto::keys::sqs_error_for(e).meta().query_code.to_owned()),
        started_timestamp: i64::try_from(now).unwrap_or(i64::MAX),
    };
    let cancel = state.move_tasks.add(handle.clone(), info);
    if let Some((position, bytes)) = state.move_tasks.encoded(&handle) {
        ctx.after(state.store.save_move_task(&handle, position, bytes));
    }
    if failure.is_some() {
        return Ok(SqsOutput::TaskHandle(handle));
    }
    tokio::spawn(move_tasks::run(
        state.clone(),
        handle.clone(),
        source,
        destination,
        rate,
        to_move,
        0,
        cancel,
    ));
    Ok(SqsOutput::TaskHandle(handle))
}

/// The source queue ARN a task handle names (`None`: not a task handle).
fn source_arn_of_handle(handle: &str) -> Option<String> {
    let json = STANDARD.decode(handle).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    v.get("sourceArn")?.as_str().map(str::to_owned)
}

/// CancelMessageMoveTask: authorized on the task's source queue. As AWS
/// answers: a handle that is not a task handle is InvalidParameterValue; one
/// whose source queue does not exist names SourceArn; an unknown task (or
/// one no longer running) on an existing queue is "Task does not exist.".
pub(super) fn cancel(state: &AppState, ctx: &Ctx, input: &CancelMessageMoveTaskInput) -> Result<SqsOutput> {
    let arn = source_arn_of_handle(&input.task_handle)
        .ok_or_else(|| Error::InvalidParameterValue("Value for parameter TaskHandle is invalid.".into()))?;
    let source = here(state, ctx, &arn).ok_or_else(|| not_found("SourceArn"))?;
    admit(state, ctx, &source)?;
    state
        .move_tasks
        .cancel(&input.task_handle)
        .map(SqsOutput::MessagesMoved)
        .ok_or_else(|| Error::ResourceNotFound("Task does not exist.".into()))
}

/// ListMessageMoveTasks.
pub(super) fn list(state: &AppState, ctx: &Ctx, input: &ListMessageMoveTasksInput) -> Result<SqsOutput> {
    let source = here(state, ctx, &input.source_arn).ok_or_else(|| not_found("SourceArn"))?;
    admit(state, ctx, &source)?;
    let max = match input.max_results {
        None => 1,
        Some(n) if (1..=10).contains(&n) => usize::try_from(n).unwrap_or(1),
        Some(n) => {
            return Err(Error::invalid_value(
                "MaxResults",
                n,
                "Value must be between 1 and 10.",
            ));
        }
    };
    Ok(SqsOutput::MoveTasks(state.move_tasks.list(&source.arn, max)))
}
