//! The state shared by every request: settings, clock, queue store,
//! principal table, request metrics, readiness and the shutdown signal.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

use crate::auth::Principals;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Encryption;
use crate::kms::Kms;
use crate::metrics::Metrics;
use crate::sqs::move_tasks::MoveTasks;
use crate::store::Store;
use crate::store::durable::DataDirError;

/// Shared state of one server; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// Settings.
    pub config: Config,
    /// The only source of time.
    pub clock: Arc<Clock>,
    /// Queues.
    pub store: Store,
    /// Interned principals.
    pub principals: Principals,
    /// The last authorization decisions.
    pub decisions: crate::authz::Decisions,
    /// The KMS model (keys, aliases), shared by the KMS API and SQS encryption.
    pub kms: Arc<Kms>,
    /// SQS's data-key caches and KMS-call ledger.
    pub encryption: Encryption,
    /// Message move tasks (dead-letter queue redrive).
    pub move_tasks: MoveTasks,
    /// Request counters and latency histograms.
    pub metrics: Metrics,
    /// Set once configuration and data are loaded; `/_sealq/health`
    /// answers 503 until then.
    ready: AtomicBool,
    /// Cancelled when the server shuts down; releases long polls.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// State for a server with these settings on the system clock.
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Arc::new(Clock::system()))
    }

    /// State on a given clock (tests use a manual one), in memory.
    pub fn with_clock(config: Config, clock: Arc<Clock>) -> Self {
        let kms = Arc::new(Kms::new(&config.region, &config.account_id, clock.clone()));
        Self::assemble(config, clock, kms, Store::new())
    }

    fn assemble(config: Config, clock: Arc<Clock>, kms: Arc<Kms>, store: Store) -> Self {
        let principals = Principals::new(&config.account_id);
        let encryption = Encryption::new(kms.clone(), clock.clone(), &config.region, &config.account_id);
        Self(Arc::new(Inner {
            config,
            clock,
            store,
            principals,
            decisions: crate::authz::Decisions::default(),
            kms,
            encryption,
            move_tasks: MoveTasks::default(),
            metrics: Metrics::new(crate::protocol::metric_series()),
            ready: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
        }))
    }

    /// State kept in `config.data_dir` (in memory when it is `None`): KMS
    /// keys, queues, messages, move tasks and the virtual clock's offset are
    /// read back, and every later change is saved before it is
    /// acknowledged. Must run inside a Tokio runtime (running move tasks
    /// resume).
    ///
    /// # Errors
    /// A [`DataDirError`] naming the directory and why it cannot be used;
    /// the directory is then left untouched.
    pub fn open(config: Config, clock: Arc<Clock>) -> Result<Self, DataDirError> {
        let Some(dir) = config.data_dir.clone() else {
            return Ok(Self::with_clock(config, clock));
        };
        let kms = Arc::new(Kms::new(&config.region, &config.account_id, clock.clone()));
        let opened = crate::store::open_data_dir(&dir, config.sync, &kms)?;
        // The clock moves forward only: the saved offset is added once.
        clock.advance(opened.clock_offset.saturating_sub(clock.offset_ms()));
        let sessions = opened.key_db.load_sessions()?;
        kms.attach(Box::new(opened.key_db.clone()))
            .map_err(|e| DataDirError(format!("data directory {}: {e}", dir.display())))?;
        let state = Self::assemble(config, clock, kms, opened.store);
        state
            .principals
            .attach_sessions(Box::new(opened.key_db), sessions, state.clock.now_ms() / 1000);
        state.encryption.reserve_ids(opened.max_data_key);
        crate::sqs::move_tasks::restore(&state, &opened.move_tasks);
        tracing::info!(
            data_dir = %dir.display(),
            queues = opened.queues,
            "data directory loaded"
        );
        Ok(state)
    }

    /// Marks the server ready: its configuration and data are loaded, so
    /// `/_sealq/health` answers 200.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether [`Self::set_ready`] was called.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
