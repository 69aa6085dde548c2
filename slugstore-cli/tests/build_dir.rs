//! The persistent build directory of `slug deploy`, on the example project (examples/shop), whose
//! build hook runs its three Magento steps through `slug cache run` (in the deploy's own store,
//! while the deploy runs): an edit rewrites only the edited file, the steps hit, nothing of an
//! earlier build leaks into the next one, and a build directory whose last sync is not known to have
//! completed is restored in full.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use slugstore_tests::project::{edit, stderr, Shop};

fn shop() -> Shop {
    Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")))
}

fn target(shop: &Shop) -> PathBuf {
    shop.root.join("target")
}

/// Deploys `src` to `target`; returns the deploy's log (what the hooks printed included).
fn deploy(shop: &Shop) -> String {
    let out = shop.slug(&["deploy", "src", "--target", "target"]);
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    stderr(&out)
}

/// The inode and change time of every regular file under `dir`, by path relative to it: a file
/// written again has a new change time (its inode number may be the one just freed).
fn inodes(dir: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                todo.push(e.path());
            } else if m.is_file() {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                all.insert(rel, (m.ino(), m.ctime(), m.ctime_nsec()));
            }
        }
    }
    all
}

/// What the hook writes on every build without a cache step (the mounts' build-time content): new
/// files each build.
fn rewritten_by_every_build(rel: &str) -> bool {
    rel.starts_with("init/app/etc/") || rel.starts_with("init/pub/media/")
}

/// Whether the file at `rel` is the same file before and after: same inode and change time, except
/// for the gzip copies of the assets, which the deploy moves aside and back around each build (a
/// rename changes the change time) but does not write again.
fn same_file(rel: &str, before: &(u64, i64, i64), after: &(u64, i64, i64)) -> bool {
    match rel.ends_with(".gz") {
        true => before.0 == after.0,
        false => before == after,
    }
}

#[test]
fn an_edit_rewrites_only_the_edited_file_and_the_steps_hit() {
    let shop = shop();
    let first = deploy(&shop);
    for step in ["composer", "di", "static"] {
        assert!(
            first.contains(&format!("cache recorded {step} ")),
            "{step} not recorded:\n{first}"
        );
    }
    let build = target(&shop).join("build");
    let before = inodes(&build);
    assert!(before.contains_key("vendor/shop/theme/src/Module.php"));
    assert!(before.contains_key("generated/code/Interceptors.php"));
    assert!(before.contains_key("init/pub/static/frontend/Shop/default/bundle.js"));
    assert!(before.contains_key("init/pub/static/frontend/Shop/default/bundle.js.gz"));

    fs::write(shop.src().join("pub/index.php"), "<?php echo 'v2';\n").unwrap();
    let second = deploy(&shop);
    for step in ["composer", "di", "static"] {
        assert!(
            second.contains(&format!("cache hit {step} ")),
            "{step} did not hit:\n{second}"
        );
    }
    assert!(second.contains("1 files written"), "{second}");
    assert_eq!(
        fs::read_to_string(target(&shop).join("current/pub/index.php")).unwrap(),
        "<?php echo 'v2';\n"
    );
    let after = inodes(&build);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let changed: Vec<&String> = after
        .iter()
        .filter(|(rel, ino)| !same_file(rel, &before[*rel], ino) && !rewritten_by_every_build(rel))
        .map(|(rel, _)| rel)
        .collect();
    assert_eq!(changed, ["pub/index.php"], "rewritten besides the edit");
}

#[test]
fn nothing_of_an_earlier_build_leaks_into_the_next() {
    let shop = shop();
    deploy(&shop);
    let cache_dir = target(&shop).join("cache/composer");
    assert!(cache_dir.is_dir(), "PLATFORM_CACHE_DIR was not used");

    // A file removed from the source, a stray file in the build directory, a step the hook no longer
    // runs (its outputs were parked, never claimed), and a changed composer.lock: composer reruns
    // with its download cache from the last build, di is not run, static misses on the new vendor/.
    fs::remove_file(shop.src().join("web/js/checkout.js")).unwrap();
    fs::write(target(&shop).join("build/stray.txt"), "left by hand").unwrap();
    shop.edit_app(|s| {
        s.replace(
            "    slug cache run di --tree app/code --tree vendor --file app/etc/config.php \\\n      \
             --output generated -- bin/magento setup:di:compile\n",
            "",
        )
    });
    edit(&shop.src().join("composer.lock"), |s| {
        s.replace(
            "\"packages\": [",
            "\"packages\": [\n        { \"name\": \"shop/search\", \"version\": \"0.9.0\" },",
        )
    });
    let log = deploy(&shop);
    assert!(log.contains("cache recorded composer "), "{log}");
    assert!(log.contains("shop/theme (1.0.0): from cache"), "{log}");
    assert!(log.contains("Downloading shop/search (0.9.0)"), "{log}");
    assert!(log.contains("cache recorded static "), "{log}");
    let live = target(&shop).join("current");
    assert!(live.join("vendor/shop/search/src/Module.php").is_file());
    assert!(!live.join("generated").exists(), "di's old output leaked");
    assert!(!live.join("web/js/checkout.js").exists());
    assert!(!live.join("stray.txt").exists());
    assert!(!live
        .join("init/pub/static/frontend/Shop/default/checkout.js")
        .exists());
    assert!(!target(&shop).join("build/generated").exists());
}

#[test]
fn a_build_directory_of_an_unfinished_sync_is_restored_in_full() {
    let shop = shop();
    deploy(&shop);
    // A deploy killed while syncing leaves no record of a complete sync, and whatever it wrote.
    fs::remove_file(target(&shop).join("build.synced")).unwrap();
    fs::write(target(&shop).join("build/pub/half-written.php"), "<?php").unwrap();
    fs::write(shop.src().join("pub/index.php"), "<?php echo 'v2';\n").unwrap();
    let log = deploy(&shop);
    assert!(log.contains("build directory restored"), "{log}");
    assert!(!target(&shop).join("current/pub/half-written.php").exists());
    // The steps' outputs were restored from the cache, not rerun.
    for step in ["composer", "di", "static"] {
        assert!(log.contains(&format!("cache hit {step} ")), "{log}");
    }
}
