//! Message move tasks (dead-letter queue redrive): the registry of tasks and
//! the mover that runs each one on the `Clock`.
//!
//! A task moves visible messages out of a dead-letter queue, oldest first,
//! at most `MaxNumberOfMessagesPerSecond` per second of the (virtual) clock,
//! into the destination queue or each message's original source. A moved
//! message is a new delivery there; its stored body, an envelope included,
//! moves byte for byte (moving never decrypts). The mover waits on the
//! clock and on its cancel token, never in a sleep loop of its own.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::sqs::model::queue::Queue;
use crate::sqs::types::MessageMoveTask;
use crate::state::AppState;

/// Moves per second when the request names no rate ("system optimized";
/// AWS's limit for a custom rate is 500).
pub const DEFAULT_RATE: u64 = 500;

/// One task and its live counters.
#[derive(Debug)]
struct Task {
    info: MessageMoveTask,
    handle: String,
    cancel: CancellationToken,
}

/// Every move task of one server, newest last.
#[derive(Debug, Default)]
pub struct MoveTasks {
    tasks: Mutex<Vec<Task>>,
}

impl MoveTasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Task>> {
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `source_arn` has a task that is running or being cancelled.
    pub fn active(&self, source_arn: &str) -> bool {
        self.lock()
            .iter()
            .any(|t| t.info.source_arn == source_arn && matches!(t.info.status, "RUNNING" | "CANCELLING"))
    }

    /// Registers a running task.
    pub fn add(&self, handle: String, info: MessageMoveTask) -> CancellationToken {
        let cancel = CancellationToken::new();
        self.lock().push(Task {
            info,
            handle,
            cancel: cancel.clone(),
        });
        cancel
    }

    /// The most recent tasks of `source_arn`, newest first.
    pub fn list(&self, source_arn: &str, max: usize) -> Vec<MessageMoveTask> {
        self.lock()
            .iter()
            .rev()
            .filter(|t| t.info.source_arn == source_arn)
            .take(max)
            .map(|t| {
                let mut info = t.info.clone();
                if info.status == "RUNNING" {
                    info.task_handle = Some(t.handle.clone());
                }
                info
            })
            .collect()
    }

    /// Asks the running task `handle` to stop; returns the messages it has
    /// moved, or `None` if no running task has that handle.
    pub fn cancel(&self, handle: &str) -> Option<i64> {
        let mut tasks = self.lock();
        let t = tasks
            .iter_mut()
            .find(|t| t.handle == handle && t.info.status == "RUNNING")?;
        t.info.status = "CANCELLING";
        t.cancel.cancel();
        Some(t.info.approximate_number_of_messages_moved)
    }

    fn update(&self, handle: &str, f: impl FnOnce(&mut MessageMoveTask)) {
        if let Some(t) = self.lock().iter_mut().find(|t| t.handle == handle) {
            f(&mut t.info);
        }
    }
}

/// Runs task `handle`: moves messages from `source` to `destination` (or
/// each message's original source queue) at `rate` per second of the clock.
pub async fn run(
    state: AppState,
    handle: String,
    source: Arc<Queue>,
    destination: Option<Arc<Queue>>,
    rate: u64,
    to_move: u64,
    cancel: CancellationToken,
) {
    let tasks = &state.move_tasks;
    let mut moved: u64 = 0;
    loop {
        if cancel.is_cancelled() {
            tasks.update(&handle, |t| t.status = "CANCELLED");
            return;
        }
        let now = state.clock.now_ms();
        let budget = usize::try_from(rate.min(to_move.saturating_sub(moved))).unwrap_or(0);
        let batch = source.lock().take_visible(now, budget);
        let mut back = Vec::new();
        for m in batch {
            let target = match &destination {
                Some(d) => Some(d.clone()),
                None => m
                    .extra
                    .as_ref()
                    .and_then(|e| e.dead_letter_source_arn.as_deref())
                    .and_then(|arn| queue_of_arn(&state, arn)),
            };
            match target {
                Some(q) if !q.is_deleted() => {
                    q.lock().redeliver(now, m);
                    q.notify.notify_one();
                    moved += 1;
                }
                _ => back.push(m),
            }
        }
        if !back.is_empty() {
            // No destination for these: they stay in the dead-letter queue.
            let mut s = source.lock();
            for m in back {
                s.put_back(m);
            }
            drop(s);
            tasks.update(&handle, |t| {
                t.status = "FAILED";
                t.failure_reason = Some("AWS.SimpleQueueService.NonExistentQueue".to_owned());
                t.approximate_number_of_messages_moved = i64::try_from(moved).unwrap_or(i64::MAX);
            });
            return;
        }
        let empty = source.lock().visible_count(now) == 0;
        tasks.update(&handle, |t| {
            t.approximate_number_of_messages_moved = i64::try_from(moved).unwrap_or(i64::MAX);
        });
        if moved >= to_move || empty {
            tasks.update(&handle, |t| t.status = "COMPLETED");
            return;
        }
        tokio::select! {
            () = state.clock.sleep_until(now + 1000) => {}
            () = cancel.cancelled() => {}
            () = state.shutdown.cancelled() => return,
        }
    }
}

/// The live queue a queue ARN names.
pub fn queue_of_arn(state: &AppState, arn: &str) -> Option<Arc<Queue>> {
    let (account, name) = crate::sqs::ops::parse_queue_arn(arn)?;
    state.store.get(account, name).filter(|q| !q.is_deleted())
}
