//! The key of a step: what it ran and everything it declared it depends on, in one canonical
//! encoding hashed with BLAKE3.
//!
//! The encoding is the contract between machines sharing a remote cache, so it is written out byte
//! by byte here (and in docs/format.md) rather than left to a serializer whose output may change
//! between versions: every string is length-prefixed (no separator can be forged inside a path or
//! an argument), inputs are sorted and de-duplicated (the order of the flags does not matter), and
//! nothing that differs between two checkouts of the same build enters it (the build directory's
//! absolute path, times, inode numbers, the rest of the environment).

use serde::{Deserialize, Serialize};

use crate::id::ObjectId;

/// The version of the key encoding, first in it: a change of encoding changes every key.
pub const KEY_FORMAT: u32 = 1;

/// One resolved input of a step, as it was when the key was computed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Input {
    /// `--file PATH`: its content hash, or `None` when there is no regular file there.
    File {
        /// The path, relative to the working directory.
        path: String,
        /// BLAKE3 of its bytes.
        hash: Option<ObjectId>,
    },
    /// `--glob PATTERN`: the regular files it matched, sorted by path, with their hashes.
    Glob {
        /// The pattern, relative to the working directory.
        pattern: String,
        /// Matched paths and content hashes.
        files: Vec<(String, ObjectId)>,
    },
    /// `--tree DIR`: the id of the directory's manifest (a slug id), `None` when absent.
    Tree {
        /// The directory, relative to the working directory.
        path: String,
        /// The tree's id.
        tree: Option<ObjectId>,
    },
    /// An environment variable: a hash of its value (the value itself is never recorded), `None`
    /// when unset.
    Env {
        /// The variable's name.
        name: String,
        /// BLAKE3 of the value.
        hash: Option<ObjectId>,
    },
    /// `--tool COMMAND`: a hash of what the command printed on its standard output, and its exit
    /// status.
    Tool {
        /// The command, run by `sh -c`.
        command: String,
        /// BLAKE3 of its standard output.
        hash: ObjectId,
        /// Its exit code (-1 when killed by a signal).
        status: i32,
    },
}

impl Input {
    /// What the input is, for people: `file composer.lock`, `variable CONFIG__X`.
    pub fn label(&self) -> String {
        match self {
            Input::File { path, .. } => format!("file {path}"),
            Input::Glob { pattern, .. } => format!("glob {pattern}"),
            Input::Tree { path, .. } => format!("tree {path}"),
            Input::Env { name, .. } => format!("variable {name}"),
            Input::Tool { command, .. } => format!("tool `{command}`"),
        }
    }

    fn tag(&self) -> u8 {
        match self {
            Input::File { .. } => 1,
            Input::Glob { .. } => 2,
            Input::Tree { .. } => 3,
            Input::Env { .. } => 4,
            Input::Tool { .. } => 5,
        }
    }
}

/// Everything a key is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParts {
    /// The step's name.
    pub name: String,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// The working directory relative to the build root (`""` at the root), `/`-separated.
    pub cwd: String,
    /// The machine: `<arch>-<os>`.
    pub arch: String,
    /// The inputs, sorted and de-duplicated (see [`KeyParts::new`]).
    pub inputs: Vec<Input>,
}

impl KeyParts {
    /// Puts `inputs` in canonical order.
    pub fn new(name: String, argv: Vec<String>, cwd: String, mut inputs: Vec<Input>) -> KeyParts {
        inputs.sort();
        inputs.dedup();
        KeyParts {
            name,
            argv,
            cwd,
            arch: this_arch(),
            inputs,
        }
    }

    /// The canonical encoding (docs/format.md, "Build cache keys").
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc(Vec::with_capacity(256));
        e.0.extend_from_slice(b"SLUGCACHEKEY");
        e.u32(KEY_FORMAT);
        e.str(&self.name);
        e.u32(self.argv.len() as u32);
        for a in &self.argv {
            e.str(a);
        }
        e.str(&self.cwd);
        e.str(&self.arch);
        e.u32(self.inputs.len() as u32);
        for i in &self.inputs {
            e.0.push(i.tag());
            match i {
                Input::File { path, hash } => {
                    e.str(path);
                    e.opt(hash);
                }
                Input::Glob { pattern, files } => {
                    e.str(pattern);
                    e.u32(files.len() as u32);
                    for (p, h) in files {
                        e.str(p);
                        e.0.extend_from_slice(h.as_bytes());
                    }
                }
                Input::Tree { path, tree } => {
                    e.str(path);
                    e.opt(tree);
                }
                Input::Env { name, hash } => {
                    e.str(name);
                    e.opt(hash);
                }
                Input::Tool {
                    command,
                    hash,
                    status,
                } => {
                    e.str(command);
                    e.0.extend_from_slice(hash.as_bytes());
                    e.0.extend_from_slice(&status.to_le_bytes());
                }
            }
        }
        e.0
    }

    /// The key: BLAKE3 of the encoding.
    pub fn key(&self) -> ObjectId {
        ObjectId::hash(&self.encode())
    }
}

/// The machine a key is for: a build for another architecture or OS is another build.
pub fn this_arch() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

struct Enc(Vec<u8>);

impl Enc {
    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u64).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt(&mut self, id: &Option<ObjectId>) {
        match id {
            Some(id) => {
                self.0.push(1);
                self.0.extend_from_slice(id.as_bytes());
            }
            None => self.0.push(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: Option<&[u8]>) -> Input {
        Input::File {
            path: path.into(),
            hash: content.map(ObjectId::hash),
        }
    }

    fn parts(inputs: Vec<Input>) -> KeyParts {
        KeyParts::new("composer".into(), vec!["sh".into()], "".into(), inputs)
    }

    /// The order in which inputs are declared, and repeats, do not change the key.
    #[test]
    fn inputs_are_canonical() {
        let a = file("composer.lock", Some(b"1"));
        let b = Input::Env {
            name: "X".into(),
            hash: None,
        };
        let one = parts(vec![a.clone(), b.clone()]);
        let two = parts(vec![b.clone(), a.clone(), b]);
        assert_eq!(one.encode(), two.encode());
        assert_eq!(one.key(), two.key());
    }

    /// Every part of the key changes it, and an absent file differs from an empty one.
    #[test]
    fn every_part_changes_the_key() {
        let base = parts(vec![file("composer.lock", Some(b""))]);
        let mut variants = vec![
            parts(vec![file("composer.lock", None)]),
            parts(vec![file("composer.lock", Some(b"x"))]),
            parts(vec![file("composer.json", Some(b""))]),
            parts(vec![]),
        ];
        let mut named = base.clone();
        named.name = "other".into();
        let mut argv = base.clone();
        argv.argv.push("-c".into());
        let mut cwd = base.clone();
        cwd.cwd = "sub".into();
        let mut arch = base.clone();
        arch.arch = "riscv64-linux".into();
        variants.extend([named, argv, cwd, arch]);
        for v in &variants {
            assert_ne!(v.key(), base.key(), "{v:?}");
        }
    }

    /// Length prefixes keep fields apart: moving bytes between two arguments changes the key.
    #[test]
    fn fields_cannot_run_into_each_other() {
        let mut a = parts(vec![]);
        a.argv = vec!["ab".into(), "c".into()];
        let mut b = a.clone();
        b.argv = vec!["a".into(), "bc".into()];
        assert_ne!(a.key(), b.key());
    }

    /// The encoding is pinned: the bytes of a small key, field by field (docs/format.md).
    #[test]
    fn encoding_is_pinned() {
        let mut k = parts(vec![Input::Env {
            name: "A".into(),
            hash: None,
        }]);
        k.arch = "x".into();
        let mut want = b"SLUGCACHEKEY".to_vec();
        want.extend(1u32.to_le_bytes());
        want.extend(8u64.to_le_bytes());
        want.extend(b"composer");
        want.extend(1u32.to_le_bytes());
        want.extend(2u64.to_le_bytes());
        want.extend(b"sh");
        want.extend(0u64.to_le_bytes());
        want.extend(1u64.to_le_bytes());
        want.extend(b"x");
        want.extend(1u32.to_le_bytes());
        want.push(4);
        want.extend(1u64.to_le_bytes());
        want.extend(b"A");
        want.push(0);
        assert_eq!(k.encode(), want);
    }
}
