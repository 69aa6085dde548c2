//! Shared by the tests that run `slug` as a child process: deterministic trees and comparisons.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `slug` binary of this build, pointed at `store`, quiet.
pub fn slug(store: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_slug"));
    c.arg("--store").arg(store).arg("--quiet");
    c.env_remove("SLUGSTORE_DIR");
    c
}

/// Runs `cmd` and returns its output, panicking with stderr if it could not start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("slug runs")
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
