//! Deploys from git: `slug deploy --git`, and a real `git push` to a bare repository whose
//! `post-receive` hook is the project's `scripts/post-receive`.

use slugstore_tests::deadline::Deadline;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slugstore_tests::project::{copy_tree, current, stderr, Shop};

fn shop() -> Shop {
    Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")))
}

/// Runs git in `dir` with a fixed identity and no user or system configuration.
fn git(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Deployer",
            "-c",
            "user.email=deploy@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env_remove("GIT_DIR")
        .output_deadline();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        stderr(&out)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository `repo.git` with the post-receive hook installed and pointed at the shop's store,
/// and a clone `work/` holding one commit of the project.
struct Repos {
    bare: PathBuf,
    work: PathBuf,
}

fn repos(shop: &Shop) -> Repos {
    let bare = shop.root.join("repo.git");
    let work = shop.root.join("work");
    git(
        &shop.root,
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    let hook = bare.join("hooks/post-receive");
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/post-receive"),
        &hook,
    )
    .unwrap();
    git(
        &bare,
        &["config", "slugstore.store", shop.store().to_str().unwrap()],
    );
    git(
        &bare,
        &["config", "slugstore.slug", shop.bin().to_str().unwrap()],
    );
    git(&shop.root, &["init", "-q", work.to_str().unwrap()]);
    copy_tree(&shop.src(), &work);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    Repos { bare, work }
}

/// `git push` from the clone; returns what the pusher sees (git prints hook output on stderr).
fn push(r: &Repos, refspec: &str) -> String {
    stderr(&git(&r.work, &["push", "origin", refspec]))
}

#[test]
fn git_push_deploys_the_branch_and_streams_the_phases_back() {
    let shop = shop();
    let staging = shop.target("staging");
    shop.add_env("staging", &[]);
    let r = repos(&shop);

    let seen = push(&r, "HEAD:refs/heads/staging");
    for line in [
        "remote: slugstore: deploying staging",
        "[validate] started",
        "[build] exporting commit",
        "[post_deploy] success",
        "deploy succeeded",
    ] {
        assert!(
            seen.contains(line),
            "`{line}` not in what the pusher saw:\n{seen}"
        );
    }
    assert_eq!(shop.build_runs(), 1);

    // The live release is the commit's tree, built: sources byte for byte, build output present.
    let live = staging.join("releases").join(current(&staging).unwrap());
    for f in ["pub/index.php", "bin/magento", ".magento.app.yaml"] {
        assert_eq!(
            fs::read(live.join(f)).unwrap(),
            fs::read(r.work.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(live.join("pub/static").is_symlink(), "mount not wired");
    assert!(live
        .join("pub/static/frontend/Shop/default/bundle.js")
        .is_file());

    // The record names the commit and the tree; the build key is the tree's.
    let commit = text(&git(&r.work, &["rev-parse", "HEAD"]));
    let tree = text(&git(&r.work, &["rev-parse", "HEAD^{tree}"]));
    let status = shop.slug_json(&["status", "--env", "staging"]);
    let record = &status["last_deploy"];
    assert_eq!(record["git"]["commit"], commit.as_str());
    assert_eq!(record["git"]["tree"], tree.as_str());
    assert_eq!(record["env"], "staging");

    // A new commit with the same tree reuses the build: "Reusing existing build for this tree ID".
    git(
        &r.work,
        &["commit", "-q", "--allow-empty", "-m", "same tree"],
    );
    let seen = push(&r, "HEAD:refs/heads/staging");
    assert!(
        seen.contains("reusing existing build") && seen.contains(&tree),
        "{seen}"
    );
    assert_eq!(shop.build_runs(), 1, "the same tree was built twice");

    // A change is built and goes live.
    fs::write(r.work.join("pub/index.php"), "<?php echo 'v2';\n").unwrap();
    git(&r.work, &["commit", "-q", "-am", "v2"]);
    push(&r, "HEAD:refs/heads/staging");
    assert_eq!(shop.build_runs(), 2);
    let live = staging.join("releases").join(current(&staging).unwrap());
    assert_eq!(
        fs::read_to_string(live.join("pub/index.php")).unwrap(),
        "<?php echo 'v2';\n"
    );

    // A branch no environment takes is pushed but not deployed; a deleted branch deploys nothing.
    let before = current(&staging);
    let seen = push(&r, "HEAD:refs/heads/feature");
    assert!(
        seen.contains("no environment takes branch feature"),
        "{seen}"
    );
    let seen = push(&r, ":refs/heads/feature");
    assert!(seen.contains("branch feature deleted"), "{seen}");
    assert_eq!(current(&staging), before);
    assert_eq!(shop.build_runs(), 2);
    let history = shop.slug_json(&["env", "log", "staging"]);
    assert_eq!(history.as_array().unwrap().len(), 3);
}

#[test]
fn deploy_from_git_without_a_working_copy_and_bad_revisions() {
    let shop = shop();
    let r = repos(&shop);
    git(&r.work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    let t = shop.root.join("t");
    let bare = r.bare.to_str().unwrap();

    let out = shop.slug(&["deploy", "--git", bare, "--rev", "nope", "--target", "t"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("git revision `nope` does not exist in") && err.contains("repo.git"),
        "{err}"
    );
    assert!(!t.join("deploys").exists(), "a bad revision made a record");

    let src = shop.src();
    let out = shop.slug(&["deploy", "--git", src.to_str().unwrap(), "--target", "t"]);
    assert!(
        stderr(&out).contains("is not a git repository"),
        "{}",
        stderr(&out)
    );

    let out = shop.slug(&["deploy", "--git", bare, "--branch", "main"]);
    assert!(
        stderr(&out).contains("no environment deploys branch `main`"),
        "{}",
        stderr(&out)
    );

    // The bare repository's default HEAD is main: --rev defaults to HEAD.
    let rec = shop.slug_json(&["deploy", "--git", bare, "--target", "t"]);
    assert_eq!(rec["state"], "success");
    assert_eq!(rec["git"]["rev"], "HEAD");

    // A defect in the committed configuration is reported with the commit's file name.
    fs::write(r.work.join(".magento.app.yaml"), "name: [unclosed\n").unwrap();
    git(&r.work, &["commit", "-q", "-am", "broken"]);
    git(&r.work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    let out = shop.slug(&["deploy", "--git", bare, "--rev", "main", "--target", "t"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("repo.git@main:.magento.app.yaml"), "{err}");
}

#[test]
fn a_commit_the_archive_import_refuses_fails_the_build_by_name() {
    let shop = shop();
    let r = repos(&shop);
    std::os::unix::fs::symlink("/etc/passwd", r.work.join("pub/leak")).unwrap();
    git(&r.work, &["add", "-A"]);
    git(&r.work, &["commit", "-q", "-m", "a link out of the tree"]);
    let bare = r.bare.to_str().unwrap();
    git(&r.work, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    let out = shop.slug(&["deploy", "--git", bare, "--target", "t"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("failed in phase build") && err.contains("pub/leak"),
        "{err}"
    );
    assert_eq!(current(&shop.root.join("t")), None);
    assert_eq!(shop.build_runs(), 0);
}

#[test]
fn a_configuration_file_committed_as_a_symlink_is_refused_by_name() {
    let shop = shop();
    let r = repos(&shop);
    fs::remove_file(r.work.join(".magento.app.yaml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", r.work.join(".magento.app.yaml")).unwrap();
    git(&r.work, &["add", "-A"]);
    git(&r.work, &["commit", "-q", "-m", "config as a link"]);
    let work = r.work.to_str().unwrap();
    let out = shop.slug(&["deploy", "--git", work, "--target", "t"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(".magento.app.yaml: is a symlink in commit"),
        "{err}"
    );
}
