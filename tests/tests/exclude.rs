//! What a slug leaves out: the application's mounts, `--exclude` paths, and the store itself.
//!
//! Mounts are writable storage the deploy attaches, so their build-time content must not travel in the
//! slug; they are matched from the tree's root only (an `app/var` is not the `var` mount).

use std::path::Path;

use slugstore::SnapshotOptions;
use slugstore_tests::compare::{assert_same_listing, is_under, read_tree, without};
use slugstore_tests::store;
use slugstore_tests::tree::Tree;

/// A Magento-shaped tree with content in every default mount and in look-alike paths that are not mounts.
fn magento_tree() -> Tree {
    Tree::new()
        .file("var/cache/x", "cache")
        .file("var/log/system.log", "log")
        .file("app/etc/env.php", "<?php return [];")
        .file("app/code/Vendor/Module/registration.php", "<?php")
        .file("app/var/not-a-mount", "kept")
        .file("pub/index.php", "<?php")
        .file("pub/media/catalog/p.jpg", "jpeg")
        .file("pub/static/frontend/app.js", "js")
        .file("pub/static-not-a-mount.txt", "kept")
        .file("generated/code/Proxy.php", "<?php")
        .file("setup/src/Setup.php", "<?php")
        .file("setup/keep.php", "<?php")
        .dir("empty")
}

fn slug_paths(store: &slugstore::Store, tree: &Path, excludes: &[&str]) -> Vec<Vec<u8>> {
    let opts = SnapshotOptions {
        excludes: excludes.iter().map(|s| s.to_string()).collect(),
        ..SnapshotOptions::default()
    };
    let report = store::snapshot_with(store, tree, &opts).expect("snapshot");
    store::paths(store, &report.slug)
}

fn assert_absent(paths: &[Vec<u8>], prefix: &str) {
    let found: Vec<_> = paths
        .iter()
        .filter(|p| is_under(p, prefix.as_bytes()))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert!(
        found.is_empty(),
        "`{prefix}` should be left out, slug has {found:?}"
    );
}

fn assert_present(paths: &[Vec<u8>], path: &str) {
    assert!(
        paths.iter().any(|p| p == path.as_bytes()),
        "`{path}` should be in the slug"
    );
}

#[test]
fn default_mounts_and_excludes_are_absent_from_the_slug() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    magento_tree().build(&src);
    let store = store::init(&tmp.path().join("store"));
    // Every accepted spelling: plain, leading `/`, trailing `/`, `./`.
    let paths = slug_paths(&store, &src, &["/generated", "setup/src/", "./empty"]);

    for gone in [
        "var",
        "app/etc",
        "pub/media",
        "pub/static",
        "generated",
        "setup/src",
        "empty",
    ] {
        assert_absent(&paths, gone);
    }
    for kept in [
        "app",
        "app/code/Vendor/Module/registration.php",
        "app/var/not-a-mount",
        "pub",
        "pub/index.php",
        "pub/static-not-a-mount.txt",
        "setup",
        "setup/keep.php",
    ] {
        assert_present(&paths, kept);
    }
}

#[test]
fn restore_of_a_slug_with_mounts_left_out_matches_the_rest_of_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    magento_tree().build(&src);
    let store = store::init(&tmp.path().join("store"));
    let slug = store::snapshot(&store, &src).slug;
    store::restore(&store, &slug, &out).unwrap();
    let mut expected = read_tree(&src);
    for m in ["var", "app/etc", "pub/media", "pub/static"] {
        expected = without(expected, m.as_bytes());
    }
    assert_same_listing(&expected, &read_tree(&out));
}

#[test]
fn an_exclude_with_dot_dot_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    magento_tree().build(&src);
    let store = store::init(&tmp.path().join("store"));
    let opts = SnapshotOptions {
        excludes: vec!["../outside".into()],
        ..SnapshotOptions::default()
    };
    let err = store::snapshot_with(&store, &src, &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("../outside"), "{err}");
    assert!(store.slugs().unwrap().is_empty());
}

#[test]
fn a_store_inside_the_tree_is_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    Tree::new()
        .file("index.php", "<?php")
        .file("deep/er/file", "x")
        .build(&src);
    for store_rel in [".slugstore", "deep/er/store"] {
        let store = store::init(&src.join(store_rel));
        let first = store::snapshot(&store, &src);
        let paths = store::paths(&store, &first.slug);
        assert_absent(&paths, store_rel);
        assert_present(&paths, "index.php");
        assert_present(&paths, "deep/er/file");
        // The store grew inside the tree; the slug did not change.
        let second = store::snapshot(&store, &src);
        assert_eq!(second.slug, first.slug);
        assert_eq!(second.new_objects, 0);
        drop(store);
        std::fs::remove_dir_all(src.join(store_rel)).unwrap();
    }
}

/// The mounts come from `<tree>/.magento.app.yaml` when it exists, in both of its syntaxes, with or
/// without a leading `/`; the defaults then no longer apply.
#[test]
fn mounts_from_magento_app_yaml_are_absent_from_the_slug() {
    let yaml = r#"name: app
type: php:8.3
disk: 2048
mounts:
  "var": "shared:files/var"
  "/pub/media": { source: local, source_path: media }
  "custom/uploads":
    source: local
    source_path: uploads
  "/generated": "shared:files/generated"
"#;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    magento_tree()
        .file(".magento.app.yaml", yaml)
        .file("custom/uploads/u.png", "png")
        .file("custom/keep.txt", "kept")
        .build(&src);
    let store = store::init(&tmp.path().join("store"));
    let paths = slug_paths(&store, &src, &[]);

    for gone in ["var", "pub/media", "custom/uploads", "generated"] {
        assert_absent(&paths, gone);
    }
    // Not mounts in this config: the defaults no longer apply.
    for kept in [
        ".magento.app.yaml",
        "app/etc/env.php",
        "pub/static/frontend/app.js",
        "custom/keep.txt",
    ] {
        assert_present(&paths, kept);
    }
}
