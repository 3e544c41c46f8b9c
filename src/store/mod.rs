//! Where state lives. Today: memory only, a concurrent map of accounts, each
//! a concurrent map of queues by name, so no lock is shared by two queues and
//! a lookup by `&str` allocates nothing. Durable storage comes later behind
//! this same seam.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::sqs::model::queue::Queue;

/// The queue registry.
#[derive(Debug, Default)]
pub struct Store {
    accounts: DashMap<String, DashMap<String, Arc<Queue>>>,
    next_uid: AtomicU64,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh queue uid.
    pub fn next_uid(&self) -> u64 {
        self.next_uid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The queue `name` of `account`.
    pub fn get(&self, account: &str, name: &str) -> Option<Arc<Queue>> {
        self.accounts.get(account)?.get(name).map(|q| q.clone())
    }

    /// Returns the existing queue, or inserts the one `make` builds. The bool
    /// says whether it was created.
    pub fn get_or_create(
        &self,
        account: &str,
        name: &str,
        make: impl FnOnce() -> Queue,
    ) -> (Arc<Queue>, bool) {
        let queues = match self.accounts.get(account) {
            Some(q) => q,
            None => self.accounts.entry(account.to_owned()).or_default().downgrade(),
        };
        match queues.entry(name.to_owned()) {
            Entry::Occupied(e) => (e.get().clone(), false),
            Entry::Vacant(e) => (e.insert(Arc::new(make())).clone(), true),
        }
    }

    /// Removes a queue.
    pub fn remove(&self, account: &str, name: &str) -> Option<Arc<Queue>> {
        self.accounts.get(account)?.remove(name).map(|(_, q)| q)
    }

    /// Every queue of every account, in no particular order (for metrics).
    pub fn all(&self) -> Vec<Arc<Queue>> {
        self.accounts
            .iter()
            .flat_map(|a| a.value().iter().map(|e| e.value().clone()).collect::<Vec<_>>())
            .collect()
    }

    /// All queues of `account`, sorted by name.
    pub fn list(&self, account: &str) -> Vec<Arc<Queue>> {
        let Some(queues) = self.accounts.get(account) else {
            return Vec::new();
        };
        let mut v: Vec<_> = queues.iter().map(|e| e.value().clone()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}
