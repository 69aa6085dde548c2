//! The tree an import builds, member by member, before it becomes a manifest.
//!
//! Archives are looser than manifests: parents may be implied (`a/b/c` with no `a/` member), members may
//! come in any order, and nothing stops two members from claiming one path. The tree accepts the first
//! two and refuses the rest:
//!
//! - a missing parent becomes a directory; a later `a/` member makes it explicit;
//! - a path that appears twice is refused (tar's "last one wins" would let a member replace what an
//!   earlier check looked at);
//! - a member under a symlink or a file is refused, in either order: restoring it would write through
//!   the link.
//!
//! Symlinks may point anywhere *inside* the tree, `../shared/x` included. [`Tree::check_links`] follows
//! each target the way the kernel would — through the archive's own symlinks, treating unknown names as
//! directories that may exist at run time — and refuses absolute targets and any that climb above the
//! root, so a restored slug never holds a link out of its directory.

use std::collections::BTreeMap;

use crate::archive::limits::MAX_LINK_HOPS;
use crate::slug::{display_bytes, Entry, EntryKind};

/// Bound on path components visited while following one link (through all its hops).
const MAX_STEPS: u32 = 1 << 16;

struct Node {
    kind: EntryKind,
    /// False for directories only implied by a deeper member.
    explicit: bool,
}

/// Members read so far, by canonical path.
#[derive(Default)]
pub struct Tree {
    nodes: BTreeMap<Vec<u8>, Node>,
}

impl Tree {
    /// Adds a member at `path` (canonical, see [`super::paths::member_path`]). The error says why the
    /// member is refused.
    pub fn insert(&mut self, path: &[u8], kind: EntryKind) -> Result<(), String> {
        for (i, _) in path.iter().enumerate().filter(|(_, &c)| c == b'/') {
            let parent = &path[..i];
            match self.nodes.get(parent).map(|n| &n.kind) {
                Some(EntryKind::Dir) => {}
                Some(other) => {
                    return Err(format!(
                        "is inside `{}`, which is {}",
                        display_bytes(parent),
                        describe(other)
                    ))
                }
                None => {
                    self.nodes.insert(
                        parent.to_vec(),
                        Node {
                            kind: EntryKind::Dir,
                            explicit: false,
                        },
                    );
                }
            }
        }
        match self.nodes.get_mut(path) {
            Some(n) if n.explicit => Err("appears twice in the archive".into()),
            Some(n) if kind == EntryKind::Dir => {
                n.explicit = true;
                Ok(())
            }
            Some(_) => Err(format!(
                "is {}, but the archive has members inside it",
                describe(&kind)
            )),
            None => {
                self.nodes.insert(
                    path.to_vec(),
                    Node {
                        kind,
                        explicit: true,
                    },
                );
                Ok(())
            }
        }
    }

    /// The content of the regular file member at `path`, if there is one (for hard links).
    pub fn regular_file(&self, path: &[u8]) -> Option<&EntryKind> {
        self.nodes
            .get(path)
            .map(|n| &n.kind)
            .filter(|k| matches!(k, EntryKind::File { .. }))
    }

    /// Refuses symlinks that lead out of the tree; the error names the link and says why.
    pub fn check_links(&self) -> Result<(), (Vec<u8>, String)> {
        for (path, node) in &self.nodes {
            if let EntryKind::Symlink { target } = &node.kind {
                let mut budget = Budget { hops: 0, steps: 0 };
                let start = parent(path).to_vec();
                self.follow(start, target, &mut budget).map_err(|why| {
                    (
                        path.clone(),
                        format!("symlink to `{}` {why}", display_bytes(target)),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Resolves `target` from directory `dir` (`""` is the root); returns where it leads.
    fn follow(&self, mut dir: Vec<u8>, target: &[u8], b: &mut Budget) -> Result<Vec<u8>, String> {
        if target.starts_with(b"/") {
            return Err("points to an absolute path".into());
        }
        for c in target.split(|&c| c == b'/') {
            b.steps += 1;
            if b.steps > MAX_STEPS {
                return Err("is too long a chain to check".into());
            }
            match c {
                b"" | b"." => {}
                b".." => {
                    if dir.is_empty() {
                        return Err("leads above the root of the tree".into());
                    }
                    dir.truncate(parent(&dir).len());
                }
                name => {
                    let len = dir.len();
                    if !dir.is_empty() {
                        dir.push(b'/');
                    }
                    dir.extend_from_slice(name);
                    if let Some(Node {
                        kind: EntryKind::Symlink { target },
                        ..
                    }) = self.nodes.get(&dir)
                    {
                        b.hops += 1;
                        if b.hops > MAX_LINK_HOPS {
                            return Err("goes through too many levels of symlinks".into());
                        }
                        dir.truncate(len);
                        dir = self.follow(dir, target, b)?;
                    }
                }
            }
        }
        Ok(dir)
    }

    /// The manifest entries, sorted by path.
    pub fn into_entries(self) -> Vec<Entry> {
        self.nodes
            .into_iter()
            .map(|(path, n)| Entry { path, kind: n.kind })
            .collect()
    }
}

struct Budget {
    hops: u32,
    steps: u32,
}

/// The parent of a canonical path (`""` for top-level names).
fn parent(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => &p[..i],
        None => &[],
    }
}

fn describe(k: &EntryKind) -> &'static str {
    match k {
        EntryKind::Dir => "a directory",
        EntryKind::File { .. } => "a regular file",
        EntryKind::Symlink { .. } => "a symlink",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(t: &str) -> EntryKind {
        EntryKind::Symlink {
            target: t.as_bytes().to_vec(),
        }
    }

    fn tree(links: &[(&str, &str)]) -> Tree {
        let mut t = Tree::default();
        for (p, target) in links {
            t.insert(p.as_bytes(), link(target)).unwrap();
        }
        t
    }

    #[test]
    fn in_tree_links_pass_and_escapes_fail() {
        assert!(
            tree(&[("a/l", "../b/c"), ("a/m", "./x/../y"), ("top", "a/l")])
                .check_links()
                .is_ok()
        );
        for (p, t) in [
            ("l", "/etc/passwd"),
            ("l", ".."),
            ("a/b/l", "../../../x"),
            ("l", "unknown/../../x"),
        ] {
            assert!(tree(&[(p, t)]).check_links().is_err(), "{p} -> {t}");
        }
        // `up` alone stays inside, but following it makes `esc` leave the tree.
        let t = tree(&[("sub/up", ".."), ("esc", "sub/up/..")]);
        let (path, _) = t.check_links().unwrap_err();
        assert_eq!(path, b"esc");
        // Loops are refused rather than followed forever.
        assert!(tree(&[("a", "b"), ("b", "a")]).check_links().is_err());
    }

    #[test]
    fn implied_parents_duplicates_and_links_in_the_way() {
        let mut t = Tree::default();
        t.insert(b"a/b/c", EntryKind::Dir).unwrap();
        t.insert(b"a", EntryKind::Dir).unwrap();
        assert!(t.insert(b"a", EntryKind::Dir).is_err());
        assert!(t.insert(b"a/b", link("x")).is_err());
        t.insert(b"l", link("a")).unwrap();
        assert!(t.insert(b"l/x", EntryKind::Dir).is_err());
        let paths: Vec<_> = t.into_entries().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, [&b"a"[..], b"a/b", b"a/b/c", b"l"]);
    }
}
