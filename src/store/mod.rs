//! Where state lives. Today: memory only, a concurrent map of queues keyed by
//! (account, name), so no lock is shared by two queues. Durable storage comes
//! later behind this same seam.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::sqs::model::queue::Queue;

/// The queue registry.
#[derive(Debug, Default)]
pub struct Store {
    queues: DashMap<(String, String), Arc<Queue>>,
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
        // DashMap needs an owned key for tuple lookups; queue names are short.
        self.queues
            .get(&(account.to_owned(), name.to_owned()))
            .map(|q| q.clone())
    }

    /// Returns the existing queue, or inserts the one `make` builds. The bool
    /// says whether it was created.
    pub fn get_or_create(
        &self,
        account: &str,
        name: &str,
        make: impl FnOnce() -> Queue,
    ) -> (Arc<Queue>, bool) {
        match self.queues.entry((account.to_owned(), name.to_owned())) {
            Entry::Occupied(e) => (e.get().clone(), false),
            Entry::Vacant(e) => (e.insert(Arc::new(make())).clone(), true),
        }
    }

    /// Removes a queue.
    pub fn remove(&self, account: &str, name: &str) -> Option<Arc<Queue>> {
        self.queues
            .remove(&(account.to_owned(), name.to_owned()))
            .map(|(_, q)| q)
    }

    /// All queues of `account`, sorted by name.
    pub fn list(&self, account: &str) -> Vec<Arc<Queue>> {
        let mut v: Vec<_> = self
            .queues
            .iter()
            .filter(|e| e.key().0 == account)
            .map(|e| e.value().clone())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}
