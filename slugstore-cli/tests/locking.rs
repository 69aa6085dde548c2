//! Several `slug` processes on one store: they wait for each other with a clear message, a killed one
//! never leaves the store locked, and concurrent snapshots both land.

mod proc_support;

use std::time::{Duration, Instant};

use proc_support::*;
use slugstore::store::OpenOptions;
use slugstore::Store;

#[test]
fn a_waiting_command_says_so_and_gives_up_after_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    assert!(run(slug(&store).arg("init")).status.success());
    let held = Store::open(&store, &OpenOptions::default()).unwrap();
    let started = Instant::now();
    let mut loud = std::process::Command::new(env!("CARGO_BIN_EXE_slug"));
    loud.arg("--store").arg(&store).env_remove("SLUGSTORE_DIR");
    let out = run(loud.args(["--lock-timeout", "0.5", "ls"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("waiting for another slug process"), "{err}");
    assert!(err.contains("locked by another slug process"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    // --quiet (which `slug()` passes) silences the waiting note, not the error.
    let out = run(slug(&store).args(["--lock-timeout", "0.2", "ls"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("waiting for another slug process"), "{err}");
    assert!(err.contains("locked by another slug process"), "{err}");
    drop(held);
    assert!(run(slug(&store).args(["--lock-timeout", "5", "ls"]))
        .status
        .success());
}

#[test]
fn a_snapshot_killed_mid_way_does_not_block_the_next_command() {
    let dir = tempfile::tempdir().unwrap();
    let (store, tree) = (dir.path().join("store"), dir.path().join("tree"));
    gen_tree(&tree, 1, 300, 24 << 20);
    assert!(run(slug(&store).arg("init")).status.success());
    let mut child = slug(&store).arg("snapshot").arg(&tree).spawn().unwrap();
    // Kill once the snapshot has started writing (a pack appears under tmp/).
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(store.join("tmp"))
        .unwrap()
        .next()
        .is_none()
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "snapshot ended too soon"
        );
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let out = run(slug(&store).args(["--lock-timeout", "5", "verify"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(store.join("tmp")).unwrap().count(),
        0,
        "the dead writer's temporary pack was removed"
    );
    let out = run(slug(&store)
        .args(["--lock-timeout", "5", "snapshot"])
        .arg(&tree));
    let id = printed_id(&out).expect("snapshot after the kill succeeds");
    let dest = dir.path().join("out");
    assert!(run(slug(&store).args(["restore", &id]).arg(&dest))
        .status
        .success());
    assert_eq!(read_tree(&dest), read_tree(&tree));
}

#[test]
fn two_concurrent_snapshots_of_different_trees_both_land_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    gen_tree(&a, 1, 200, 2 << 20);
    gen_tree(&b, 7, 150, 1 << 20);
    assert!(run(slug(&store).arg("init")).status.success());
    let spawn = |t: &std::path::Path, r: &str| {
        slug(&store)
            .args(["snapshot", "--ref", r])
            .arg(t)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (ca, cb) = (spawn(&a, "a"), spawn(&b, "b"));
    let (oa, ob) = (
        ca.wait_with_output().unwrap(),
        cb.wait_with_output().unwrap(),
    );
    let ida = printed_id(&oa).expect("first snapshot landed");
    let idb = printed_id(&ob).expect("second snapshot landed");
    assert_ne!(ida, idb);
    assert!(run(slug(&store).arg("verify")).status.success());
    for (id, tree) in [(ida, &a), (idb, &b)] {
        let dest = dir.path().join(format!("out-{id}"));
        assert!(run(slug(&store).args(["restore", &id]).arg(&dest))
            .status
            .success());
        assert_eq!(read_tree(&dest), read_tree(tree));
    }
}

/// `slug export X -o - | slug import -` on one store: whichever process starts first, the import
/// does not hold the store while it waits for the archive, and reads it ahead while the export holds
/// the store, so the pipe completes (it used to wait forever) and the import gives the same slug.
#[test]
fn export_piped_into_import_on_the_same_store_completes() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let (store, tree) = (dir.path().join("store"), dir.path().join("tree"));
    gen_tree(&tree, 1, 400, 4 << 20);
    assert!(run(slug(&store).arg("init")).status.success());
    let id = printed_id(&run(slug(&store).arg("snapshot").arg(&tree))).expect("snapshot");
    for round in 0..3 {
        // Alternate which side starts first.
        let (export, import) = {
            let start_export = || {
                slug(&store)
                    .args(["export", &id, "-o", "-"])
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            };
            let start_import = |input: Stdio| {
                slug(&store)
                    .args(["import", "-", "--ref", &format!("piped{round}")])
                    .stdin(input)
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            };
            if round % 2 == 0 {
                let mut e = start_export();
                let i = start_import(Stdio::from(e.stdout.take().unwrap()));
                (e, i)
            } else {
                let (reader, writer) = std::io::pipe().unwrap();
                let i = start_import(Stdio::from(reader));
                std::thread::sleep(Duration::from_millis(100));
                let e = slug(&store)
                    .args(["export", &id, "-o", "-"])
                    .stdout(Stdio::from(writer))
                    .spawn()
                    .unwrap();
                (e, i)
            }
        };
        let (mut export, mut import) = (export, import);
        let deadline = Instant::now() + Duration::from_secs(30);
        while export.try_wait().unwrap().is_none() || import.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = (export.kill(), import.kill());
                panic!("export | import is stuck (round {round})");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(export.wait().unwrap().success(), "export failed");
        let out = import.wait_with_output().unwrap();
        assert_eq!(
            printed_id(&out).as_deref(),
            Some(id.as_str()),
            "round {round}"
        );
    }
}

/// A store opened for reading only (as `slug push` opens it) holds the same lock as a writer: a
/// command waits for it, and it waits for a writer; its index refuses writes.
#[test]
fn a_read_only_open_holds_and_waits_for_the_same_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    assert!(run(slug(&store).arg("init")).status.success());
    let read_only = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    let reader = Store::open(&store, &read_only).unwrap();
    let out = run(slug(&store).args(["--lock-timeout", "0.3", "refs"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("locked by another slug process"), "{err}");
    let mut batch = reader.index().batch();
    batch
        .set_ref(
            "main",
            slugstore::SlugId(slugstore::ObjectId::hash(b"x")),
            None,
        )
        .unwrap();
    assert!(batch.commit().is_err(), "a read-only index took a write");
    drop(reader);

    let writer = Store::open(&store, &OpenOptions::default()).unwrap();
    let waited = Store::open(
        &store,
        &OpenOptions {
            lock_timeout: Some(Duration::from_millis(300)),
            ..read_only
        },
    );
    assert!(
        matches!(waited, Err(slugstore::Error::Locked { .. })),
        "{:?}",
        waited.err()
    );
    drop(writer);
    assert!(Store::open(&store, &read_only).is_ok());
}
