//! A counted pool of slots: how many connections, event streams or refusals are under way.
//!
//! A slot is taken without waiting (there is no queue to wait in: a client the server cannot take now
//! is told so) and given back when its [`Slot`] is dropped, whichever way the thread holding it ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// At most `max` slots taken at once.
#[derive(Debug)]
pub struct Slots {
    taken: AtomicUsize,
    max: usize,
}

/// One slot taken; dropping it gives it back.
#[derive(Debug)]
pub struct Slot(Arc<Slots>);

impl Slots {
    /// A pool of `max` slots.
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            taken: AtomicUsize::new(0),
            max,
        })
    }

    /// A slot, or `None` when all are taken.
    pub fn take(self: &Arc<Slots>) -> Option<Slot> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(self)))
    }

    /// How many slots there are.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_up_to_the_max_and_given_back_when_dropped() {
        let pool = Slots::new(2);
        let (a, b) = (pool.take().unwrap(), pool.take().unwrap());
        assert!(pool.take().is_none());
        drop(a);
        let c = pool.take().expect("the slot given back");
        assert!(pool.take().is_none());
        drop((b, c));
        assert!(Slots::new(0).take().is_none());
    }
}
