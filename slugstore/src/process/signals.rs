//! Passing a termination signal on to the process groups this process started.
//!
//! A [`Supervised`](super::Supervised) program runs in a group of its own, so the terminal's Ctrl-C
//! (SIGINT to the foreground group) or a service manager's SIGTERM reaches only this process. The
//! handler sends SIGTERM to every group still running, so that a deploy stopped by hand stops its hook
//! too (SIGTERM, not the signal received: a shell script's background jobs, `cmd &`, ignore SIGINT).
//! While such a program runs, this process does not die at once: it records the signal
//! ([`interrupted`]), its supervisor reports the program as interrupted, and the caller fails the way
//! it fails for any stopped program (a deploy takes its maintenance flag down and records the
//! failure), then ends with the signal ([`exit_if_interrupted`]). A second signal, or one that comes
//! while no such program runs, ends the process at once, as without a handler. The registry is a fixed array of atomics because a signal
//! handler may not lock or allocate; a program with more groups at once than slots (none here runs more
//! than a few) leaves the extra ones out.

use std::sync::atomic::{AtomicI32, Ordering};

/// Process groups at once that a signal is passed on to.
const SLOTS: usize = 64;

/// Group ids of the running supervised programs; 0 is a free slot.
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

/// The termination signal received while supervised programs ran; 0 for none.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// Records group `pgid`; its slot, or `None` when every slot is taken.
pub(super) fn register(pgid: i32) -> Option<usize> {
    GROUPS.iter().position(|g| {
        g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// Forgets the group in `slot`.
pub(super) fn unregister(slot: usize) {
    GROUPS[slot].store(0, Ordering::SeqCst);
}

/// Sends `signal` to every process group of a running [`Supervised`](super::Supervised) program.
/// Async-signal-safe: atomic loads and `kill(2)` only.
pub fn signal_children(signal: i32) {
    for g in &GROUPS {
        let pgid = g.load(Ordering::SeqCst);
        if pgid > 0 {
            kill_group(pgid, signal);
        }
    }
}

/// Sends `signal` to process group `pgid`, one this process created. Async-signal-safe.
pub(super) fn kill_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) on a group this process created; one already gone gives ESRCH, ignored.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// The termination signal this process received while it supervised programs, if any: the caller
/// is winding down and should end with [`exit_if_interrupted`].
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Ends the process with the signal recorded by [`interrupted`], if any, as the signal would have
/// without a handler (so that a shell sees `slug` killed by SIGINT); returns otherwise.
pub fn exit_if_interrupted() {
    if let Some(signal) = interrupted() {
        die_of(signal);
    }
}

fn die_of(signal: libc::c_int) {
    // SAFETY: signal(2) and raise(3) are async-signal-safe; with the default action restored, the
    // process ends of the signal as it would have without a handler.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    let running = GROUPS.iter().any(|g| g.load(Ordering::SeqCst) > 0);
    let first = INTERRUPTED
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    signal_children(libc::SIGTERM);
    if !(running && first) {
        die_of(signal);
    }
}

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that send SIGTERM to the running supervised
/// programs' groups, and end this process as without a handler unless such programs were running (see
/// the module docs). A signal this process
/// ignores (a job started with `nohup`, or in the background of a script) stays ignored. For a
/// program's `main`; a library leaves its caller's signals alone.
pub fn forward_termination_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; `on_signal` only makes
        // async-signal-safe calls; the previous action is read before being replaced.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            libc::sigaction(signal, &new, std::ptr::null_mut());
        }
    }
}
