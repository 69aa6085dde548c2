//! Shared by the tests that run `slug` as a child process: deterministic trees and comparisons.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `slug` binary of this build, pointed at `store`, quiet.
pub fn slug(store: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_slug"));
    c.arg("--store").arg(store).arg("--quiet");
    c.env_remove("SLUGSTORE_DIR");
    c
}

/// Runs `cmd` and returns its output, panicking if it could not start or outlives the tests' deadline
/// ([`slugstore_tests::deadline`]).
pub fn run(cmd: &mut Command) -> Output {
    use slugstore_tests::deadline::Deadline;
    cmd.output_deadline()
}

/// `slug --store STORE --quiet --lock-timeout 30 ARGS...`, run to its end: no such command waits
/// forever for another's lock.
pub fn slug_bounded(store: &Path, args: &[&str]) -> Output {
    run(slug(store).args(["--lock-timeout", "30"]).args(args))
}

/// Output bytes as text, for messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fails unless `out` exited with `code` (a process killed by a signal, an abort, has none); returns
/// its stdout.
pub fn expect_exit(out: &Output, code: i32, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Deterministic bytes for `(seed, len)`: text-like for even seeds, random-looking for odd ones.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|i| {
            if seed & 1 == 0 {
                b"<?php return ['k' => 'v'];\n"[i % 27]
            } else {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            }
        })
        .collect()
}

/// Writes version `v` of a build tree: `files` small files that change at different rates between
/// versions, plus one larger file of `big` bytes that changes every third version.
pub fn gen_tree(root: &Path, v: u64, files: u64, big: usize) {
    for i in 0..files {
        let epoch = v / (1 + i % 4);
        let path = root.join(format!("m{}/f{i}.php", i % 5));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            bytes(i * 1_000_003 + epoch, 500 + (i as usize * 37) % 9000),
        )
        .unwrap();
    }
    if big > 0 {
        fs::write(root.join("big.bin"), bytes(2 * (v / 3) + 1, big)).unwrap();
    }
}

/// Path → bytes of every regular file under a tree.
pub fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// The slug id a successful `slug snapshot` printed.
pub fn printed_id(out: &Output) -> Option<String> {
    let s = String::from_utf8_lossy(&out.stdout);
    let line = s.lines().next()?.trim().to_string();
    (out.status.success() && line.len() == 64).then_some(line)
}

/// Waits `delay`, then SIGKILLs the child if it still runs. Returns whether it was killed, and its
/// output (its pipes are read while it runs, so a talkative child never blocks on a full pipe).
pub fn run_until(mut child: Child, delay: Duration) -> (bool, Output) {
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let end = Instant::now() + delay;
    let (killed, status) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (false, status);
        }
        if Instant::now() >= end {
            child.kill().unwrap();
            break (true, child.wait().unwrap());
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    let read = |h: Option<JoinHandle<Vec<u8>>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
    let (stdout, stderr) = (read(stdout), read(stderr));
    (
        killed,
        Output {
            status,
            stdout,
            stderr,
        },
    )
}

/// Reads `from` to its end on a thread of its own.
fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = from.read_to_end(&mut out);
        out
    })
}

/// Runs `cmd` for at most `limit`: its output, or a panic naming the command if it had to be killed
/// ([`slugstore_tests::deadline`]).
pub fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    use slugstore_tests::deadline::Deadline;
    cmd.output_within(limit)
}
