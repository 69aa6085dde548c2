//! Identical assets processed at the same moment are compressed once.
//!
//! A build's static tree holds many copies of the same file (one per theme and locale), and the run
//! sorts assets by size, so copies sit next to each other and reach two workers together, before either
//! has put its result in the cache. Each key being produced gets a slot here; a second worker asking
//! for the same key waits for the first and takes its result. A slot is dropped once its value is
//! produced: later copies find the value in the cache, so this map only ever holds the values in
//! progress, never a run's whole output.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Result;

type Slot<V> = Arc<Mutex<Option<V>>>;

/// Values being produced, by key.
pub(crate) struct InFlight<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K, V> Default for InFlight<K, V> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> InFlight<K, V> {
    /// The value for `key`: produced by `produce` here (second field `true`), or taken from a worker
    /// that produced it while this one waited (`false`). After an error the next waiter tries itself.
    pub(crate) fn get_or_produce(
        &self,
        key: &K,
        produce: impl FnOnce() -> Result<V>,
    ) -> Result<(V, bool)> {
        let slot = lock(&self.slots).entry(key.clone()).or_default().clone();
        let mut value = lock(&slot);
        if let Some(v) = &*value {
            return Ok((v.clone(), false));
        }
        let produced = produce();
        if let Ok(v) = &produced {
            *value = Some(v.clone());
        }
        drop(value);
        let mut slots = lock(&self.slots);
        if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
            slots.remove(key);
        }
        produced.map(|v| (v, true))
    }
}

/// Locks `m`, ignoring poisoning: a panicking worker ends the run anyway.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Barrier;

    #[test]
    fn concurrent_requests_for_one_key_produce_once() {
        let inflight = InFlight::<u32, u32>::default();
        let produced = AtomicU32::new(0);
        let barrier = Barrier::new(8);
        let mine: u32 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let (v, here) = inflight
                            .get_or_produce(&7, || {
                                produced.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(50));
                                Ok(49)
                            })
                            .unwrap();
                        assert_eq!(v, 49);
                        u32::from(here)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(produced.load(Ordering::SeqCst), 1);
        assert_eq!(mine, 1);
        assert!(
            lock(&inflight.slots).is_empty(),
            "finished slots are dropped"
        );
    }

    #[test]
    fn an_error_is_not_shared_and_the_next_caller_retries() {
        let inflight = InFlight::<u32, u32>::default();
        let failed = inflight.get_or_produce(&1, || Err(crate::Error::external("boom")));
        assert!(failed.is_err());
        assert_eq!(inflight.get_or_produce(&1, || Ok(2)).unwrap(), (2, true));
    }
}
