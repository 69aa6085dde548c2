//! The push pipeline: packs built on the CPU threads, uploaded on threads of their own, with a small
//! queue between them, and a failure that stops both sides promptly.
//!
//! The queue is bounded (a built pack is a file of up to 64 MiB waiting in the temporary directory),
//! so a build can block on a full queue. A bounded send must always have a way out: the uploaders
//! are the only holders of the queue's receiving end, and each lets go of it when it stops, whether
//! the queue is done, an upload failed, another thread recorded a failure, or it panicked. Once the
//! last one has let go, a build blocked on the full queue gets its pack back at once and stops. (When
//! an upload failed while others held the receiver alive, and packs were still being built, the
//! builds used to wait for ever on a queue no uploader read any more: a slowly refusing remote
//! turned a failed push into a hung one.)
//!
//! The first error recorded, of a build or of an upload, is the one the push reports; after it no
//! pack is built or uploaded. What is already in flight finishes: uploads in progress end on the
//! backend's own timeouts, builds in progress end with their pack.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::remote::TRANSFERS;

/// The first failure of a pipeline, shared by its threads.
#[derive(Default)]
struct FirstError {
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl FirstError {
    /// Records `e` unless an error was recorded before; from now on, every thread stops.
    fn record(&self, e: Error) {
        let mut first = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(e);
        }
        self.failed.store(true, Ordering::SeqCst);
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// An error to end a thread that stops because of a failure recorded elsewhere (never the one
    /// reported).
    fn check(&self) -> Result<()> {
        if self.failed() {
            Err(stopped())
        } else {
            Ok(())
        }
    }

    fn take(self) -> Option<Error> {
        self.error.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

fn stopped() -> Error {
    Error::PushStopped
}

/// Builds one pack per group on rayon's pool and uploads each as soon as it is built, on
/// [`TRANSFERS`] threads of their own: a thread blocked in a PUT never holds work a core could do,
/// and a small push (a few packs) overlaps its builds with its uploads. At most [`TRANSFERS`] built
/// packs wait for an upload. Returns what each upload returned, in no particular order, or the first
/// error.
pub(crate) fn build_and_upload<G, P, D, B, U>(groups: &[G], build: B, upload: U) -> Result<Vec<D>>
where
    G: Sync,
    P: Send,
    D: Send,
    B: Fn(&G) -> Result<P> + Sync,
    U: Fn(&P) -> Result<D> + Sync,
{
    let (queue, packs) = mpsc::sync_channel::<P>(TRANSFERS);
    // Shared by the uploaders alone: the receiver is dropped with the last of them (see the module
    // docs). A thread holds the lock only while waiting for a pack.
    let packs = Arc::new(Mutex::new(packs));
    let first = FirstError::default();
    let (first_ref, upload) = (&first, &upload);
    let (built, pushed) = thread::scope(|scope| {
        let uploaders: Vec<_> = (0..TRANSFERS.min(groups.len()))
            .map(|_| {
                let packs = Arc::clone(&packs);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    while !first_ref.failed() {
                        let next = packs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok(pack) = next else { break };
                        if first_ref.failed() {
                            break;
                        }
                        match upload(&pack) {
                            Ok(d) => done.push(d),
                            Err(e) => first_ref.record(e),
                        }
                    }
                    done
                })
            })
            .collect();
        drop(packs);
        let built = groups.par_iter().try_for_each_with(queue, |queue, group| {
            first_ref.check()?;
            let pack = build(group).map_err(|e| {
                first_ref.record(e);
                stopped()
            })?;
            first_ref.check()?;
            // Fails only once every uploader has stopped, which they do only after a failure.
            queue.send(pack).map_err(|_| stopped())
        });
        let mut pushed = Vec::with_capacity(groups.len());
        for u in uploaders {
            match u.join() {
                Ok(done) => pushed.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        (built, pushed)
    });
    // Every error of the builds but a stop is recorded; a stop follows a recorded error.
    match first.take() {
        Some(e) => Err(e),
        None => built.map(|()| pushed),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// Runs `f` on a thread of its own and waits for it at most a minute: a hung pipeline fails the
    /// test instead of hanging it. `Err` when the thread panicked.
    fn within_a_minute<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::result::Result<T, ()> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(v) => Ok(v),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the pipeline did not end"),
        }
    }

    fn groups() -> Vec<u32> {
        (0..64).collect()
    }

    #[test]
    fn every_pack_is_built_and_uploaded_once() {
        let mut done = within_a_minute(|| {
            build_and_upload(&groups(), |g| Ok(*g * 2), |p| Ok(*p / 2)).unwrap()
        })
        .unwrap();
        done.sort();
        assert_eq!(done, groups());
    }

    /// Many more packs than the uploaders and the queue hold, every upload refused after a delay:
    /// the pipeline ends with a refusal, after at most one upload per uploader.
    #[test]
    fn slowly_refused_uploads_end_it_with_the_first_refusal() {
        let tried = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&tried);
        let err = within_a_minute(move || {
            build_and_upload(
                &groups(),
                |g| Ok(*g),
                |p| -> Result<()> {
                    counted.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(100));
                    Err(Error::external(format!("pack {p} refused")))
                },
            )
            .unwrap_err()
        })
        .unwrap();
        assert!(err.to_string().contains("refused"), "{err}");
        let tried = tried.load(Ordering::SeqCst);
        assert!((1..=TRANSFERS).contains(&tried), "{tried} uploads tried");
    }

    /// A build fails while uploads are slow: its error is the one reported, and the packs after it
    /// are neither built nor all uploaded.
    #[test]
    fn a_failed_build_ends_it_with_its_error() {
        let built = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&built);
        let err = within_a_minute(move || {
            build_and_upload(
                &groups(),
                |g| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    match *g {
                        5 => Err(Error::external("pack 5 is damaged")),
                        g => Ok(g),
                    }
                },
                |_| {
                    thread::sleep(Duration::from_millis(20));
                    Ok(())
                },
            )
            .unwrap_err()
        })
        .unwrap();
        assert_eq!(err.to_string(), "pack 5 is damaged");
        assert!(built.load(Ordering::SeqCst) < groups().len());
    }

    /// An upload that panics lets go of the queue on its way out: the builds blocked on it end, and
    /// the panic reaches the caller.
    #[test]
    fn a_panicking_upload_does_not_hang_the_builds() {
        let ended = within_a_minute(|| {
            build_and_upload(
                &groups(),
                |g| Ok(*g),
                |_| -> Result<()> { panic!("upload bug") },
            )
        });
        assert!(ended.is_err(), "the panic was not passed on");
    }
}
