//! Two build trees with one of each kind of difference a diff must report, and that report written
//! out by hand, for the library's and the CLI's diff tests.
//!
//! From [`old_tree`] to [`new_tree`]: a file added, a file removed, a directory with a subtree removed,
//! a content change at the same size, a size change, an executable bit set, a file turned into a
//! symlink, a symlink retargeted, a directory turned into a file, and a name that is not UTF-8. A
//! change inside a mount (`var/`) must not show, as mounts are not part of a slug.

use slugstore::diff::{Status, What};

use crate::tree::{content, Tree};

/// Size of `app/code/Grow.php` before and after.
pub const GROW: (usize, usize) = (100, 2000);

/// The paths both trees hold unchanged (with the directories they need).
fn common() -> Tree {
    Tree::new()
        .file("index.php", "<?php echo 'hi';")
        .file("lib/keep.php", "<?php // kept")
        .file("names/keep.txt", "kept")
        .dir("pub/empty")
}

/// The tree before.
pub fn old_tree() -> Tree {
    common()
        .file("app/code/Edit.php", "aaaa")
        .file("app/code/Grow.php", content(GROW.0, 1))
        .file("bin/magento", "#!/bin/sh\n")
        .file("current", "was a file")
        .symlink("link", "app")
        .file("lib/old/a.php", "<?php // a")
        .file("lib/old/sub/b.php", "<?php // b")
        .file("removed.txt", "removed")
        .file("static/x.css", "body{}")
        .file("var/log/x.log", "old log")
}

/// The tree after.
pub fn new_tree() -> Tree {
    common()
        .file("added.txt", "added!")
        .file("app/code/Edit.php", "bbbb")
        .file("app/code/Grow.php", content(GROW.1, 2))
        .exec("bin/magento", "#!/bin/sh\n")
        .symlink("current", "app")
        .symlink("link", "bin")
        .file(b"names/\xff-latin".as_slice(), "latin-1")
        .file("static", "now a file")
        .file("var/log/x.log", "new log, longer")
}

/// The diff from [`old_tree`] to [`new_tree`], path by path, in path order.
pub const EXPECTED: &[(&[u8], Status, &[What])] = &[
    (b"added.txt", Status::Added, &[]),
    (b"app/code/Edit.php", Status::Changed, &[What::Content]),
    (b"app/code/Grow.php", Status::Changed, &[What::Content]),
    (b"bin/magento", Status::Changed, &[What::Mode]),
    (b"current", Status::Changed, &[What::Type]),
    (b"lib/old", Status::Removed, &[]),
    (b"lib/old/a.php", Status::Removed, &[]),
    (b"lib/old/sub", Status::Removed, &[]),
    (b"lib/old/sub/b.php", Status::Removed, &[]),
    (b"link", Status::Changed, &[What::Target]),
    (b"names/\xff-latin", Status::Added, &[]),
    (b"removed.txt", Status::Removed, &[]),
    (b"static", Status::Changed, &[What::Type]),
    (b"static/x.css", Status::Removed, &[]),
];

/// What `slug diff` prints for [`EXPECTED`], line by line.
pub const EXPECTED_TEXT: &[&str] = &[
    "A  added.txt",
    "M  app/code/Edit.php  (content 4 B -> 4 B)",
    "M  app/code/Grow.php  (content 100 B -> 2.0 KiB)",
    "M  bin/magento  (mode 644 -> 755)",
    "T  current  (file -> symlink)",
    "D  lib/old/",
    "D  lib/old/a.php",
    "D  lib/old/sub/",
    "D  lib/old/sub/b.php",
    "M  link  (target app -> bin)",
    "A  names/\\xff-latin",
    "D  removed.txt",
    "T  static  (dir -> file)",
    "D  static/x.css",
];
