//! One set of behaviours every remote backend must have, run against each backend.
//!
//! Push and pull only ever see the [`Backend`] trait, so a backend that differs from the others in
//! a corner (what `get` of a missing key returns, whether a second create-only write replaces the
//! first, how `list` treats a prefix) would break them on one kind of remote only. Each test
//! target instantiates [`backend_conformance_tests!`](crate::backend_conformance_tests) with a
//! function that makes a fresh, empty [`TestRemote`]; the bodies below are shared.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Barrier};

use bytes::Bytes;
use slugstore::remote::backend::{Backend, LocalBackend, PutOutcome};

/// A fresh, empty remote for one test; cleans up after itself when dropped.
pub struct TestRemote {
    /// The backend under test.
    pub backend: Box<dyn Backend>,
    /// A scratch directory for local files (sources of uploads, targets of downloads).
    pub scratch: tempfile::TempDir,
    /// Whether to delete every object under the backend's root on drop (remotes that outlive
    /// the test, like a shared S3 bucket).
    pub delete_on_drop: bool,
}

impl TestRemote {
    /// Wraps a remote that outlives the test (objects are deleted on drop), with a new scratch
    /// directory.
    pub fn shared(backend: Box<dyn Backend>) -> Self {
        TestRemote {
            backend,
            scratch: tempfile::tempdir().expect("scratch dir"),
            delete_on_drop: true,
        }
    }

    /// A `file://` remote in the `remote` subdirectory of a new scratch directory; removed with it.
    pub fn local() -> Self {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let backend = LocalBackend::new(scratch.path().join("remote")).expect("local backend");
        TestRemote {
            backend: Box::new(backend),
            scratch,
            delete_on_drop: false,
        }
    }
}

impl Drop for TestRemote {
    fn drop(&mut self) {
        if self.delete_on_drop {
            if let Ok(objects) = self.backend.list("") {
                for (key, _) in objects {
                    let _ = self.backend.delete(&key);
                }
            }
        }
    }
}

/// Defines one `#[test]` per conformance body, each on a remote made by `$make(test_name)`.
#[macro_export]
macro_rules! backend_conformance_tests {
    ($make:expr) => {
        $crate::backend_conformance_tests!(@tests $make;
            second_create_keeps_first_content,
            concurrent_creates_have_one_winner,
            large_file_streams_bit_exact,
            small_file_create_only,
            list_matches_whole_segments,
            missing_objects_read_as_none,
            put_replaces_and_delete_removes,
            ranges_are_exact_and_checked,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let remote: $crate::backend_conformance::TestRemote = ($make)(stringify!($name));
                $crate::backend_conformance::$name(&remote);
            }
        )*
    };
}

/// `put_if_absent` twice: the second reports `AlreadyExists` and the first content stays.
pub fn second_create_keeps_first_content(remote: &TestRemote) {
    let b = &*remote.backend;
    assert_eq!(
        b.put_if_absent("objects/one", Bytes::from_static(b"first"))
            .unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        b.put_if_absent("objects/one", Bytes::from_static(b"second, longer"))
            .unwrap(),
        PutOutcome::AlreadyExists
    );
    assert_eq!(
        b.get("objects/one").unwrap().as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(b.size("objects/one").unwrap(), Some(5));
    assert!(b.exists("objects/one").unwrap());
}

/// Eight threads create the same key with different contents at once: exactly one wins, and the
/// stored object is the winner's, whole.
pub fn concurrent_creates_have_one_winner(remote: &TestRemote) {
    const THREADS: usize = 8;
    let b = &*remote.backend;
    let barrier = Arc::new(Barrier::new(THREADS));
    let body = |i: usize| Bytes::from(format!("written by thread {i} ").repeat(1000 + i));
    let outcomes: Vec<PutOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    barrier.wait();
                    b.put_if_absent("refs/race", body(i)).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = (0..THREADS)
        .filter(|&i| outcomes[i] == PutOutcome::Created)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    assert_eq!(b.get("refs/race").unwrap(), Some(body(winners[0])));
    assert_eq!(
        b.list("").unwrap().len(),
        1,
        "temporary objects left behind: {:?}",
        b.list("").unwrap()
    );
}

/// A 40 MiB file goes up streamed (in parts on S3) and comes back bit-exact, whole and by range.
pub fn large_file_streams_bit_exact(remote: &TestRemote) {
    const SIZE: u64 = 40 * 1024 * 1024;
    let b = &*remote.backend;
    let src = remote.scratch.path().join("big.pack");
    write_pseudo_random(&src, SIZE, 42);
    assert_eq!(
        b.put_file_if_absent("packs/big.pack", &src).unwrap(),
        PutOutcome::Created
    );
    assert_eq!(b.size("packs/big.pack").unwrap(), Some(SIZE));
    assert_eq!(
        b.put_file_if_absent("packs/big.pack", &src).unwrap(),
        PutOutcome::AlreadyExists
    );

    let dest = remote.scratch.path().join("download/big.pack");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    assert_eq!(b.get_to_file("packs/big.pack", &dest).unwrap(), Some(SIZE));
    assert!(
        fs::read(&src).unwrap() == fs::read(&dest).unwrap(),
        "downloaded bytes differ"
    );
    let leftovers: Vec<_> = fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("big.pack")]);

    let original = fs::read(&src).unwrap();
    let (start, end) = (SIZE / 2 - 100, SIZE / 2 + 9_000_000);
    let range = b.get_range("packs/big.pack", start..end).unwrap().unwrap();
    assert!(
        range[..] == original[start as usize..end as usize],
        "range bytes differ"
    );
}

/// A file below the multipart threshold is created only once, too.
pub fn small_file_create_only(remote: &TestRemote) {
    let b = &*remote.backend;
    let first = remote.scratch.path().join("first");
    let second = remote.scratch.path().join("second");
    fs::write(&first, b"manifest one").unwrap();
    fs::write(&second, b"manifest two").unwrap();
    assert_eq!(
        b.put_file_if_absent("manifests/m", &first).unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        b.put_file_if_absent("manifests/m", &second).unwrap(),
        PutOutcome::AlreadyExists
    );
    assert_eq!(
        b.get("manifests/m").unwrap().as_deref(),
        Some(&b"manifest one"[..])
    );
    let missing = remote.scratch.path().join("no-such-file");
    let err = b
        .put_file_if_absent("manifests/n", &missing)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no-such-file"),
        "error does not name the source file: {err}"
    );
    assert_eq!(b.get("manifests/n").unwrap(), None);
}

/// `list(prefix)` returns the objects under the prefix as a directory, sorted, with sizes.
pub fn list_matches_whole_segments(remote: &TestRemote) {
    let b = &*remote.backend;
    for (key, body) in [
        ("a/x", "1"),
        ("a/b/y", "22"),
        ("ab/z", "333"),
        ("refs/main", "4444"),
    ] {
        b.put(key, Bytes::from(body)).unwrap();
    }
    let owned = |v: &[(&str, u64)]| {
        v.iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(b.list("a").unwrap(), owned(&[("a/b/y", 2), ("a/x", 1)]));
    assert_eq!(b.list("a/").unwrap(), owned(&[("a/b/y", 2), ("a/x", 1)]));
    assert_eq!(b.list("a/b").unwrap(), owned(&[("a/b/y", 2)]));
    assert_eq!(
        b.list("").unwrap(),
        owned(&[("a/b/y", 2), ("a/x", 1), ("ab/z", 3), ("refs/main", 4)])
    );
    assert_eq!(b.list("nothing/here").unwrap(), vec![]);
    assert_eq!(
        b.list("refs/main").unwrap(),
        vec![],
        "an object is not a directory"
    );
}

/// Reads of a missing key give `None` and touch nothing; deleting it succeeds.
pub fn missing_objects_read_as_none(remote: &TestRemote) {
    let b = &*remote.backend;
    assert_eq!(b.get("objects/missing").unwrap(), None);
    assert_eq!(b.size("objects/missing").unwrap(), None);
    assert!(!b.exists("objects/missing").unwrap());
    assert_eq!(b.get_range("objects/missing", 0..1).unwrap(), None);
    let dest = remote.scratch.path().join("never");
    assert_eq!(b.get_to_file("objects/missing", &dest).unwrap(), None);
    assert!(!dest.exists());
    b.delete("objects/missing").unwrap();
    let err = b.get("../outside").unwrap_err().to_string();
    assert!(
        err.contains(&b.url().to_string()) && err.contains("../outside"),
        "{err}"
    );
}

/// `put` replaces (refs move); `delete` removes.
pub fn put_replaces_and_delete_removes(remote: &TestRemote) {
    let b = &*remote.backend;
    b.put("refs/heads/main", Bytes::from_static(b"slug-a"))
        .unwrap();
    b.put("refs/heads/main", Bytes::from_static(b"slug-b"))
        .unwrap();
    assert_eq!(
        b.get("refs/heads/main").unwrap().as_deref(),
        Some(&b"slug-b"[..])
    );
    b.put("objects/x", Bytes::new()).unwrap();
    assert_eq!(b.get("objects/x").unwrap().as_deref(), Some(&b""[..]));
    b.delete("refs/heads/main").unwrap();
    assert_eq!(b.get("refs/heads/main").unwrap(), None);
    assert_eq!(b.list("").unwrap(), vec![("objects/x".to_string(), 0)]);
}

/// Ranges return exactly the bytes asked for; a range past the end is an error naming the key.
pub fn ranges_are_exact_and_checked(remote: &TestRemote) {
    let b = &*remote.backend;
    b.put_if_absent("packs/p", Bytes::from_static(b"0123456789"))
        .unwrap();
    assert_eq!(
        b.get_range("packs/p", 2..5).unwrap().as_deref(),
        Some(&b"234"[..])
    );
    assert_eq!(
        b.get_range("packs/p", 0..10).unwrap().as_deref(),
        Some(&b"0123456789"[..])
    );
    assert_eq!(
        b.get_range("packs/p", 4..4).unwrap().as_deref(),
        Some(&b""[..])
    );
    let err = b.get_range("packs/p", 5..11).unwrap_err().to_string();
    assert!(err.contains("packs/p") && err.contains("5..11"), "{err}");
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = b.get_range("packs/p", 6..3);
    assert!(reversed.is_err(), "reversed range accepted: {reversed:?}");
    assert!(
        b.get_range("packs/p", 11..11).is_err(),
        "empty range past the end accepted"
    );
}

/// Writes `size` bytes of a deterministic xorshift stream (incompressible, so no layer can
/// shortcut it) to `path`.
pub fn write_pseudo_random(path: &Path, size: u64, seed: u64) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    let mut state = seed | 1;
    let mut remaining = size;
    while remaining > 0 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = remaining.min(8) as usize;
        out.write_all(&state.to_le_bytes()[..n]).unwrap();
        remaining -= n as u64;
    }
    out.flush().unwrap();
}
