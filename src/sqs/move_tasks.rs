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
use crate::store::codec::{Reader, Writer};

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

    /// Task `handle` encoded for the data directory, with its position.
    pub fn encoded(&self, handle: &str) -> Option<(u64, Vec<u8>)> {
        let tasks = self.lock();
        let (i, t) = tasks.iter().enumerate().find(|(_, t)| t.handle == handle)?;
        Some((u64::try_from(i).unwrap_or(u64::MAX), encode(&t.info)))
    }

    fn update(&self, handle: &str, f: impl FnOnce(&mut MessageMoveTask)) {
        if let Some(t) = self.lock().iter_mut().find(|t| t.handle == handle) {
            f(&mut t.info);
        }
    }
}

/// Runs task `handle`: moves messages from `source` to `destination` (or
/// each message's original source queue) at `rate` per second of the clock.
#[expect(clippy::too_many_arguments, reason = "a task's whole description")]
pub async fn run(
    state: AppState,
    handle: String,
    source: Arc<Queue>,
    destination: Option<Arc<Queue>>,
    rate: u64,
    to_move: u64,
    moved: u64,
    cancel: CancellationToken,
) {
    let tasks = &state.move_tasks;
    let mut moved = moved;
    loop {
        if cancel.is_cancelled() {
            tasks.update(&handle, |t| t.status = "CANCELLED");
            save(&state, &handle).await;
            return;
        }
        let now = state.clock.now_ms();
        let budget = usize::try_from(rate.min(to_move.saturating_sub(moved))).unwrap_or(0);
        let (batch, taken) = {
            let mut s = source.lock();
            let batch = s.take_visible(now, budget);
            // Saved after the destinations have the messages: a crash in
            // between leaves a copy in both queues, never in neither.
            (batch, state.store.drain(&source, &mut s))
        };
        let mut units = Vec::new();
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
                    {
                        let mut s = q.lock();
                        s.redeliver(now, m);
                        units.push(state.store.flush(&q, &mut s));
                    }
                    q.notify.notify_one();
                    moved += 1;
                }
                _ => back.push(m),
            }
        }
        if !back.is_empty() {
            // No destination for these: they stay in the dead-letter queue.
            {
                let mut s = source.lock();
                for m in back {
                    s.put_back(m);
                }
                units.push(state.store.flush(&source, &mut s));
            }
            units.push(state.store.submit(taken));
            wait_all(&state, &units).await;
            tasks.update(&handle, |t| {
                t.status = "FAILED";
                t.failure_reason = Some("AWS.SimpleQueueService.NonExistentQueue".to_owned());
                t.approximate_number_of_messages_moved = i64::try_from(moved).unwrap_or(i64::MAX);
            });
            save(&state, &handle).await;
            return;
        }
        units.push(state.store.submit(taken));
        wait_all(&state, &units).await;
        let empty = source.lock().visible_count(now) == 0;
        tasks.update(&handle, |t| {
            t.approximate_number_of_messages_moved = i64::try_from(moved).unwrap_or(i64::MAX);
        });
        if moved >= to_move || empty {
            tasks.update(&handle, |t| t.status = "COMPLETED");
            save(&state, &handle).await;
            return;
        }
        save(&state, &handle).await;
        tokio::select! {
            () = state.clock.sleep_until(now + 1000) => {}
            () = cancel.cancelled() => {}
            () = state.shutdown.cancelled() => return,
        }
    }
}

/// Waits for the journal units of one step of a task.
async fn wait_all(state: &AppState, units: &[u64]) {
    if let Some(&n) = units.iter().max() {
        // A failed write is logged by the store; the task goes on in memory.
        let _ = state.store.wait(n).await;
    }
}

/// Saves task `handle` (with a data directory) and waits for the commit.
pub async fn save(state: &AppState, handle: &str) {
    if let Some((position, bytes)) = state.move_tasks.encoded(handle) {
        let n = state.store.save_move_task(handle, position, bytes);
        let _ = state.store.wait(n).await;
    }
}

fn encode(t: &MessageMoveTask) -> Vec<u8> {
    let mut w = Writer::new();
    w.str(t.status)
        .str(&t.source_arn)
        .opt_str(t.destination_arn.as_deref())
        .opt_str(
            t.max_number_of_messages_per_second
                .map(|r| r.to_string())
                .as_deref(),
        )
        .u64(t.approximate_number_of_messages_moved.unsigned_abs())
        .opt_str(
            t.approximate_number_of_messages_to_move
                .map(|r| r.to_string())
                .as_deref(),
        )
        .opt_str(t.failure_reason.as_deref())
        .u64(t.started_timestamp.unsigned_abs());
    w.finish()
}

fn decode(bytes: &[u8]) -> Option<MessageMoveTask> {
    let mut r = Reader::new(bytes);
    let status = match r.string().ok()?.as_str() {
        "RUNNING" => "RUNNING",
        "COMPLETED" => "COMPLETED",
        "CANCELLING" => "CANCELLING",
        "CANCELLED" => "CANCELLED",
        "FAILED" => "FAILED",
        _ => return None,
    };
    Some(MessageMoveTask {
        task_handle: None,
        status,
        source_arn: r.string().ok()?,
        destination_arn: r.opt_string().ok()?,
        max_number_of_messages_per_second: r.opt_string().ok()?.and_then(|s| s.parse().ok()),
        approximate_number_of_messages_moved: i64::try_from(r.u64().ok()?).ok()?,
        approximate_number_of_messages_to_move: r.opt_string().ok()?.and_then(|s| s.parse().ok()),
        failure_reason: r.opt_string().ok()?,
        started_timestamp: i64::try_from(r.u64().ok()?).ok()?,
    })
}

/// Loads the tasks of a data directory and resumes the ones that were
/// running (a task being cancelled when the server stopped is cancelled).
pub fn restore(state: &AppState, stored: &[(String, Vec<u8>)]) {
    for (handle, bytes) in stored {
        let Some(mut info) = decode(bytes) else {
            tracing::warn!("a stored move task could not be read; it is skipped");
            continue;
        };
        if info.status == "CANCELLING" {
            info.status = "CANCELLED";
        }
        let running = info.status == "RUNNING";
        let source = queue_of_arn(state, &info.source_arn);
        let destination = info.destination_arn.as_deref().map(|a| queue_of_arn(state, a));
        let rate = info
            .max_number_of_messages_per_second
            .map_or(DEFAULT_RATE, i64::unsigned_abs);
        let to_move = info
            .approximate_number_of_messages_to_move
            .map_or(0, i64::unsigned_abs);
        let moved = info.approximate_number_of_messages_moved.unsigned_abs();
        let cancel = state.move_tasks.add(handle.clone(), info);
        if !running {
            continue;
        }
        match (source, destination) {
            (Some(source), None) => {
                tokio::spawn(run(
                    state.clone(),
                    handle.clone(),
                    source,
                    None,
                    rate,
                    to_move,
                    moved,
                    cancel,
                ));
            }
            (Some(source), Some(Some(d))) => {
                tokio::spawn(run(
                    state.clone(),
                    handle.clone(),
                    source,
                    Some(d),
                    rate,
                    to_move,
                    moved,
                    cancel,
                ));
            }
            _ => state.move_tasks.update(handle, |t| {
                t.status = "FAILED";
                t.failure_reason = Some("AWS.SimpleQueueService.NonExistentQueue".to_owned());
            }),
        }
    }
}

/// The live queue a queue ARN names.
pub fn queue_of_arn(state: &AppState, arn: &str) -> Option<Arc<Queue>> {
    state.store.get_by_arn(arn).filter(|q| !q.is_deleted())
}
