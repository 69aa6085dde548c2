//! How a deploy holds the store: for its whole length, or only while a phase needs it.
//!
//! An open [`Store`] holds the store's lock (and RocksDB's), so while a deploy holds it no other
//! process can open the store. `slug cache run` inside `hooks.build` must open the deploy's own
//! store, so a deploy given a way to reopen the store closes it for the length of the hook and
//! opens it again when the next phase asks for it ([`StoreAccess::release`]). A deploy given only a
//! borrowed store keeps it open throughout; its build hook then cannot use the store (a `slug cache
//! run` there waits for the lock, and gives up after its timeout).

use std::cell::{Ref, RefCell};
use std::ops::Deref;

use crate::error::Result;
use slugstore::store::Store;

/// Opens the store again after the deploy closed it for the build hook.
pub type Reopen<'a> = &'a dyn Fn() -> slugstore::Result<Store>;

/// The store of one deploy.
pub(crate) enum StoreAccess<'a> {
    /// Borrowed from the caller for the whole deploy.
    Held(&'a Store),
    /// Owned, closed during the build hook, reopened on demand.
    Owned {
        store: Box<RefCell<Option<Store>>>,
        reopen: Reopen<'a>,
    },
}

/// The open store, as [`StoreAccess::get`] lends it.
pub(crate) enum StoreRef<'s> {
    Held(&'s Store),
    Owned(Ref<'s, Store>),
}

impl Deref for StoreRef<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        match self {
            StoreRef::Held(s) => s,
            StoreRef::Owned(r) => r,
        }
    }
}

impl<'a> StoreAccess<'a> {
    /// The store, opened again first when it was released.
    pub(crate) fn get(&self) -> Result<StoreRef<'_>> {
        match self {
            StoreAccess::Held(s) => Ok(StoreRef::Held(s)),
            StoreAccess::Owned { store, reopen } => {
                if store.borrow().is_none() {
                    *store.borrow_mut() = Some(reopen()?);
                }
                Ok(StoreRef::Owned(Ref::map(store.borrow(), |s| {
                    s.as_ref().expect("opened above")
                })))
            }
        }
    }

    /// Runs `f` with the store closed when it can be reopened (held otherwise).
    pub(crate) fn release<T>(&self, f: impl FnOnce() -> T) -> T {
        if let StoreAccess::Owned { store, .. } = self {
            store.borrow_mut().take();
        }
        f()
    }
}
