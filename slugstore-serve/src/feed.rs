//! The live picture of the environments, re-read while someone watches and shared by every stream.
//!
//! One thread polls the files (see [`slugstore::environment::overview()`]) every `poll` interval, but
//! only while at least one event stream is open: a server left running between deploys costs nothing.
//! Each poll serializes the overview; when the text differs from the last one, the version goes up and
//! every stream waiting on the condition variable wakes and sends it. Comparing the serialized text
//! keeps change detection exact without the overview types having to implement equality.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use slugstore::environment::{overview, OverviewOptions};

/// The status document: every environment, or why the registry could not be read.
pub fn snapshot(store: &std::path::Path, deploys: usize, read_only: bool) -> String {
    let opts = OverviewOptions {
        deploys,
        ..OverviewOptions::default()
    };
    let doc = match overview(store, &opts) {
        Ok(o) => serde_json::json!({ "read_only": read_only, "environments": o.environments }),
        Err(e) => serde_json::json!({ "read_only": read_only, "error": e.to_string() }),
    };
    doc.to_string()
}

/// The shared, versioned status document.
pub struct Feed {
    store: PathBuf,
    poll: Duration,
    deploys: usize,
    read_only: bool,
    state: Arc<(Mutex<State>, Condvar)>,
}

struct State {
    version: u64,
    doc: Arc<str>,
    watchers: usize,
}

impl Feed {
    /// A feed of the store at `store`; nothing is read until [`Feed::start`] and a watcher.
    pub fn new(store: PathBuf, poll: Duration, deploys: usize, read_only: bool) -> Feed {
        Feed {
            store,
            poll,
            deploys,
            read_only,
            state: Arc::new((
                Mutex::new(State {
                    version: 0,
                    doc: Arc::from(""),
                    watchers: 0,
                }),
                Condvar::new(),
            )),
        }
    }

    /// The status document as it is now (read afresh, for a plain request).
    pub fn current(&self) -> String {
        snapshot(&self.store, self.deploys, self.read_only)
    }

    /// Starts the polling thread.
    pub fn start(&self) {
        let (store, poll, deploys, read_only) =
            (self.store.clone(), self.poll, self.deploys, self.read_only);
        let state = Arc::clone(&self.state);
        std::thread::spawn(move || loop {
            {
                let (lock, cvar) = &*state;
                let mut s = lock_state(lock);
                while s.watchers == 0 {
                    s = cvar.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            }
            let doc = snapshot(&store, deploys, read_only);
            {
                let (lock, cvar) = &*state;
                let mut s = lock_state(lock);
                if *s.doc != *doc {
                    s.doc = Arc::from(doc);
                    s.version += 1;
                    cvar.notify_all();
                }
            }
            std::thread::sleep(poll);
        });
    }

    /// Registers a watcher; the poller runs while any is registered. Dropping it unregisters.
    pub fn watch(&self) -> Watcher {
        // A first watcher after a quiet spell must not be sent a stale picture: start from the files.
        let doc = self.current();
        let (lock, cvar) = &*self.state;
        let mut s = lock_state(lock);
        s.watchers += 1;
        if *s.doc != *doc {
            s.doc = Arc::from(doc);
            s.version += 1;
        }
        cvar.notify_all();
        Watcher {
            state: Arc::clone(&self.state),
            seen: 0,
        }
    }
}

/// One stream's view of the feed.
pub struct Watcher {
    state: Arc<(Mutex<State>, Condvar)>,
    seen: u64,
}

impl Watcher {
    /// The document when it is newer than the last one returned, waiting at most `timeout` for a
    /// change; `None` when nothing changed in that time.
    pub fn next(&mut self, timeout: Duration) -> Option<Arc<str>> {
        let (lock, cvar) = &*self.state;
        let s = lock_state(lock);
        let (s, _) = cvar
            .wait_timeout_while(s, timeout, |s| s.version == self.seen)
            .unwrap_or_else(|e| e.into_inner());
        if s.version == self.seen {
            return None;
        }
        self.seen = s.version;
        Some(Arc::clone(&s.doc))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        lock_state(&self.state.0).watchers -= 1;
    }
}

fn lock_state(lock: &Mutex<State>) -> MutexGuard<'_, State> {
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watcher_is_sent_the_document_once_then_each_change() {
        let dir = tempfile::tempdir().unwrap();
        let feed = Feed::new(
            dir.path().to_path_buf(),
            Duration::from_millis(10),
            5,
            false,
        );
        feed.start();
        let mut w = feed.watch();
        let first = w.next(Duration::from_secs(5)).expect("the first document");
        assert_eq!(&*first, r#"{"environments":[],"read_only":false}"#);
        // Unchanged files: nothing more is sent.
        assert!(w.next(Duration::from_millis(100)).is_none());

        let registry =
            r#"{"version":1,"environments":{"qa":{"name":"qa","target":"/nonexistent/qa"}}}"#;
        std::fs::write(dir.path().join("environments.json"), registry).unwrap();
        let next = w.next(Duration::from_secs(5)).expect("the change");
        let doc: serde_json::Value = serde_json::from_str(&next).unwrap();
        assert_eq!(doc["environments"][0]["name"], "qa");
        assert_eq!(doc["environments"][0]["deploy_count"], 0);

        std::fs::write(dir.path().join("environments.json"), "{").unwrap();
        let broken = w.next(Duration::from_secs(5)).expect("the damage");
        assert!(broken.contains("environments.json"), "{broken}");
        assert!(!broken.contains("\"qa\""), "{broken}");
    }

    #[test]
    fn dropping_a_watcher_unregisters_it() {
        let dir = tempfile::tempdir().unwrap();
        let feed = Feed::new(dir.path().to_path_buf(), Duration::from_millis(10), 5, true);
        feed.start();
        drop(feed.watch());
        assert_eq!(lock_state(&feed.state.0).watchers, 0);
        let mut w = feed.watch();
        assert!(w
            .next(Duration::from_secs(5))
            .unwrap()
            .contains(r#""read_only":true"#));
    }
}
