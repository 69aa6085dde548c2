//! What the scan does with entries that are not plain files and directories, and with files it cannot
//! read: symlinks are recorded and never followed, special files are skipped with a warning naming them,
//! and an unreadable file fails the snapshot, naming the file, with nothing committed.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use slugstore::slug::EntryKind;
use slugstore::{ObjectId, SnapshotOptions};
use slugstore_tests::compare::{assert_same_listing, assert_same_tree, read_tree, without};
use slugstore_tests::tree::{content, set_mode, Tree};
use slugstore_tests::{is_root, store};

#[test]
fn a_symlink_out_of_the_tree_is_stored_as_a_link_and_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    let secret = content(4096, 13);
    Tree::new()
        .file("secret.key", secret.clone())
        .file("dir/inner.txt", "outside the tree")
        .build(&outside);
    let src = tmp.path().join("src");
    let file_target = outside.join("secret.key");
    let dir_target = outside.join("dir");
    Tree::new()
        .file("index.php", "<?php")
        .symlink("abs-file", file_target.as_os_str().as_bytes())
        .symlink("abs-dir", dir_target.as_os_str().as_bytes())
        .symlink("sub/rel-up", "../../outside/secret.key")
        .build(&src);
    let store = store::init(&tmp.path().join("store"));
    let report = store::snapshot(&store, &src);
    assert_eq!((report.tree.files, report.tree.symlinks), (1, 3));

    let manifest = store::manifest(&store, &report.slug);
    for (path, target) in [
        ("abs-file", file_target.as_os_str().as_bytes()),
        ("abs-dir", dir_target.as_os_str().as_bytes()),
        ("sub/rel-up", b"../../outside/secret.key".as_slice()),
    ] {
        let e = manifest.get(path.as_bytes()).expect(path);
        assert_eq!(
            e.kind,
            EntryKind::Symlink {
                target: target.to_vec()
            },
            "{path}"
        );
    }
    assert!(
        manifest.get(b"abs-dir/inner.txt").is_none(),
        "followed a directory link"
    );
    assert!(!store.index().has_object(&ObjectId::hash(&secret)).unwrap());
    assert!(!store
        .index()
        .has_object(&ObjectId::hash(b"outside the tree"))
        .unwrap());
    // One file content and the manifest: nothing from outside.
    assert_eq!(store::object_count(&store), 2);

    let out = tmp.path().join("out");
    store::restore(&store, &report.slug, &out).unwrap();
    assert_same_tree(&src, &out);
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

#[test]
fn fifos_and_sockets_are_skipped_with_a_warning_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    Tree::new()
        .file("index.php", "<?php")
        .dir("run")
        .build(&src);
    let fifo = src.join("run/pipe");
    let sock = src.join("run/php-fpm.sock");
    mkfifo(&fifo);
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();

    let store = store::init(&tmp.path().join("store"));
    let report = store::snapshot(&store, &src);
    for p in [&fifo, &sock] {
        let name = p.strip_prefix(&src).unwrap().display().to_string();
        assert!(
            report.warnings.iter().any(|w| w.contains(&name)),
            "no warning names {name}: {:?}",
            report.warnings
        );
        assert!(store::manifest(&store, &report.slug)
            .get(name.as_bytes())
            .is_none());
    }
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);

    let out = tmp.path().join("out");
    store::restore(&store, &report.slug, &out).unwrap();
    let expected = without(without(read_tree(&src), b"run/pipe"), b"run/php-fpm.sock");
    assert_same_listing(&expected, &read_tree(&out));
}

/// Root reads files whatever their mode, so the failure cannot be provoked this way as root; the CLI
/// tests cover that case by running `slug` as an unprivileged user.
fn skip_as_root(test: &str) -> bool {
    if is_root() {
        eprintln!("{test}: skipped, running as root (mode 000 does not stop root from reading)");
    }
    is_root()
}

#[test]
fn an_unreadable_file_fails_the_snapshot_naming_it_and_commits_nothing() {
    if skip_as_root("an_unreadable_file_fails_the_snapshot_naming_it_and_commits_nothing") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    Tree::new().file("index.php", "<?php").build(&src);
    let store = store::init(&tmp.path().join("store"));
    let opts = SnapshotOptions {
        ref_name: Some("prod".into()),
        ..SnapshotOptions::default()
    };
    // The snapshot names paths under the canonical root.
    let src = src.canonicalize().unwrap();
    let first = store::snapshot_with(&store, &src, &opts).unwrap().slug;
    let objects = store::object_count(&store);

    for (path, make_unreadable) in [("app/secret.php", "file"), ("app/private", "dir")] {
        let full = src.join(path);
        if make_unreadable == "dir" {
            Tree::new()
                .file(format!("{path}/x.php"), content(100, 2))
                .build(&src);
        } else {
            Tree::new().file(path, content(100, 4)).build(&src);
        }
        set_mode(&full, 0o000);
        let err = store::snapshot_with(&store, &src, &opts)
            .unwrap_err()
            .to_string();
        set_mode(
            &full,
            if make_unreadable == "dir" {
                0o755
            } else {
                0o644
            },
        );
        assert!(
            err.contains(&full.display().to_string()),
            "error does not name {path}: {err}"
        );
        assert_eq!(store.slugs().unwrap().len(), 1, "a slug was committed");
        assert_eq!(
            store.index().get_ref("prod").unwrap(),
            Some(first),
            "the ref moved"
        );
        assert_eq!(store::object_count(&store), objects, "objects were indexed");
        std::fs::remove_dir_all(src.join("app")).unwrap();
    }
}
