//! The live picture of the environments, re-read while someone watches and shared by every stream.
//!
//! One thread polls the files (see [`slugstore_deploy::overview::overview()`]) every `poll` interval, but
//! only while at least one event stream is open: a server left running between deploys costs nothing.
//! Each poll serializes the overview; when the text differs from the last one, the version goes up and
//! every stream waiting on the condition variable wakes and sends it. Comparing the serialized text
//! keeps change detection exact without the overview types having to implement equality.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use slugstore_deploy::overview::{overview, OverviewOptions};

/// The shared, versioned status document.
pub struct Feed {
    poll: Duration,
    shared: Arc<Hub>,
}

/// What the poller and the watchers share.
struct Hub {
    store: PathBuf,
    deploys: usize,
    read_only: bool,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    version: u64,
    doc: Arc<str>,
    watchers: usize,
}

impl Hub {
    /// The status document read afresh: every environment, or why the registry could not be read.
    fn read(&self) -> String {
        let opts = OverviewOptions {
            deploys: self.deploys,
            ..OverviewOptions::default()
        };
        let read_only = self.read_only;
        let doc = match overview(&self.store, &opts) {
            Ok(o) => serde_json::json!({ "read_only": read_only, "environments": o.environments }),
            Err(e) => serde_json::json!({ "read_only": read_only, "error": e.to_string() }),
        };
        doc.to_string()
    }

    /// Makes `doc` the current document when it differs from it, waking the watchers.
    fn publish(&self, state: &mut State, doc: String) {
        if *state.doc != *doc {
            state.doc = Arc::from(doc);
            state.version += 1;
            self.changed.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Feed {
    /// A feed of the store at `store`; nothing is read until [`Feed::start`] and a watcher.
    pub fn new(store: PathBuf, poll: Duration, deploys: usize, read_only: bool) -> Feed {
        Feed {
            poll,
            shared: Arc::new(Hub {
                store,
                deploys,
                read_only,
                state: Mutex::new(State {
                    version: 0,
                    doc: Arc::from(""),
                    watchers: 0,
                }),
                changed: Condvar::new(),
            }),
        }
    }

    /// The status document as it is now (read afresh, for a plain request).
    pub fn current(&self) -> String {
        self.shared.read()
    }

    /// Starts the polling thread.
    pub fn start(&self) {
        let (shared, poll) = (Arc::clone(&self.shared), self.poll);
        std::thread::spawn(move || loop {
            drop(
                shared
                    .changed
                    .wait_while(shared.lock(), |s| s.watchers == 0)
                    .unwrap_or_else(|e| e.into_inner()),
            );
            let doc = shared.read();
            shared.publish(&mut shared.lock(), doc);
            std::thread::sleep(poll);
        });
    }

    /// Registers a watcher; the poller runs while any is registered. Dropping it unregisters.
    pub fn watch(&self) -> Watcher {
        // A first watcher after a quiet spell must not be sent a stale picture: start from the files.
        let doc = self.shared.read();
        let mut s = self.shared.lock();
        s.watchers += 1;
        self.shared.publish(&mut s, doc);
        // Wakes the poller too, when it waited for a watcher.
        self.shared.changed.notify_all();
        Watcher {
            shared: Arc::clone(&self.shared),
            seen: 0,
        }
    }
}

/// One stream's view of the feed.
pub struct Watcher {
    shared: Arc<Hub>,
    seen: u64,
}

impl Watcher {
    /// The document when it is newer than the last one returned, waiting at most `timeout` for a
    /// change; `None` when nothing changed in that time.
    pub fn next(&mut self, timeout: Duration) -> Option<Arc<str>> {
        let (s, _) = self
            .shared
            .changed
            .wait_timeout_while(self.shared.lock(), timeout, |s| s.version == self.seen)
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
        self.shared.lock().watchers -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replaces `environments.json` whole, as the registry is always written: a plain `fs::write`
    /// truncates first, and a poll between the truncation and the write sees a damaged registry.
    fn write_registry(dir: &std::path::Path, text: &str) {
        let tmp = dir.join(".environments.json.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join("environments.json")).unwrap();
    }

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
        write_registry(dir.path(), registry);
        let next = w.next(Duration::from_secs(5)).expect("the change");
        let doc: serde_json::Value = serde_json::from_str(&next).unwrap();
        assert_eq!(doc["environments"][0]["name"], "qa");
        assert_eq!(doc["environments"][0]["deploy_count"], 0);

        write_registry(dir.path(), "{");
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
        assert_eq!(feed.shared.lock().watchers, 0);
        let mut w = feed.watch();
        assert!(w
            .next(Duration::from_secs(5))
            .unwrap()
            .contains(r#""read_only":true"#));
    }
}
