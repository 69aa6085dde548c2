//! Tar headers built field by field from random values: whatever the names, types, modes, sizes
//! (octal, base-256 or garbage), checksums, data and endings, import never panics, never commits a
//! refused archive, never prints a control character, never leaves a temporary file, and a slug it
//! commits holds only paths that stay inside a restore's destination, restores without writing outside
//! it, and round-trips through export.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use slugstore::archive::{export, import, ExportOptions, ImportOptions};
use slugstore::slug::EntryKind;
use slugstore::store::OpenOptions;
use slugstore::{NoProgress, Store};

const BLOCK: usize = 512;

/// One member as raw header fields.
#[derive(Debug, Clone)]
struct Member {
    name: Vec<u8>,
    prefix: Vec<u8>,
    link: Vec<u8>,
    kind: u8,
    mode: Vec<u8>,
    size: [u8; 12],
    gnu_magic: bool,
    checksum_ok: bool,
    data: Vec<u8>,
}

impl Member {
    fn write(&self, out: &mut Vec<u8>) {
        let mut h = [0u8; BLOCK];
        h[..self.name.len()].copy_from_slice(&self.name);
        h[100..100 + self.mode.len()].copy_from_slice(&self.mode);
        h[108..124].copy_from_slice(b"0000000\x000000000\x00");
        h[124..136].copy_from_slice(&self.size);
        h[136..148].copy_from_slice(b"00000000000\x00");
        h[156] = self.kind;
        h[157..157 + self.link.len()].copy_from_slice(&self.link);
        h[257..265].copy_from_slice(if self.gnu_magic {
            b"ustar  \0"
        } else {
            b"ustar\x0000"
        });
        h[345..345 + self.prefix.len()].copy_from_slice(&self.prefix);
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum::<u32>() + u32::from(!self.checksum_ok);
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&self.data);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
}

/// Path-like bytes made of components that matter (`..`, `.`, empty, escapes, non-UTF-8), or any bytes.
fn path_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let component = prop_oneof![
        12 => prop::sample::select(vec!["a", "b", "c", "d.txt", "e.php", "f"])
            .prop_map(|c| c.as_bytes().to_vec()),
        2 => Just(b"\x1b[2J".to_vec()),
        2 => Just("\u{e9}\u{202e}".as_bytes().to_vec()),
        2 => Just(b"\xff".to_vec()),
        1 => Just(b"..".to_vec()),
        1 => Just(b".".to_vec()),
        1 => Just(Vec::new()),
    ];
    let joined = (
        prop::bool::weighted(0.1),
        prop::collection::vec(component, 1..5),
    )
        .prop_map(|(absolute, parts)| {
            let mut p = if absolute { b"/".to_vec() } else { Vec::new() };
            p.extend(parts.join(&b'/'));
            p
        });
    prop_oneof![
        8 => joined,
        1 => prop::collection::vec(any::<u8>(), 0..max),
    ]
    .prop_map(move |mut p| {
        p.truncate(max);
        p
    })
}

/// A size field: right, wrong, base-256 of any width and sign, or garbage.
fn size_field(len: usize) -> impl Strategy<Value = [u8; 12]> {
    let octal = |n: u64| {
        let mut f = [0u8; 12];
        f[..11].copy_from_slice(format!("{:011o}", n & 0o777_7777_7777).as_bytes());
        f
    };
    prop_oneof![
        12 => Just(octal(len as u64)),
        1 => (0u64..4096).prop_map(octal),
        2 => (prop::sample::select(vec![0x80u8, 0xff, 0x81]), any::<[u8; 11]>(), 0usize..11)
            .prop_map(move |(first, bytes, zeros)| {
                let mut f = [0u8; 12];
                f[0] = first;
                f[1..].copy_from_slice(&bytes);
                // Mostly small values, so the data that follows can match.
                f[1..1 + zeros].fill(0);
                if first == 0x80 && zeros == 10 {
                    f[11] = len as u8;
                    f[10] = (len >> 8) as u8;
                }
                f
            }),
        1 => any::<[u8; 12]>(),
    ]
}

fn member() -> impl Strategy<Value = Member> {
    let kind = prop_oneof![
        10 => prop::sample::select(b"00055255\0".to_vec()),
        3 => prop::sample::select(b"x1L K g3467S".to_vec()),
        1 => any::<u8>(),
    ];
    let mode = prop_oneof![
        Just(b"0000644\0".to_vec()),
        Just(b"0000755\0".to_vec()),
        prop::collection::vec(any::<u8>(), 8),
    ];
    (
        path_bytes(100),
        prop_oneof![4 => Just(Vec::new()), 1 => path_bytes(155)],
        path_bytes(100),
        kind,
        mode,
        prop::collection::vec(any::<u8>(), 0..1200),
        prop::bool::ANY,
        prop::bool::weighted(0.95),
    )
        .prop_flat_map(
            |(name, prefix, link, kind, mode, data, gnu_magic, checksum_ok)| {
                size_field(data.len()).prop_map(move |size| Member {
                    name: name.clone(),
                    prefix: prefix.clone(),
                    link: link.clone(),
                    kind,
                    mode: mode.clone(),
                    size,
                    gnu_magic,
                    checksum_ok,
                    data: data.clone(),
                })
            },
        )
}

/// The archive: members, then 0, 1 or 2 zero blocks, then maybe more bytes.
fn archive() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(member(), 1..5),
        prop_oneof![1 => Just(0usize), 1 => Just(1), 6 => Just(2)],
        prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(any::<u8>(), 1..1100)],
    )
        .prop_map(|(members, zero_blocks, tail)| {
            let mut out = Vec::new();
            for m in &members {
                m.write(&mut out);
            }
            out.resize(out.len() + zero_blocks * BLOCK, 0);
            out.extend(tail);
            out
        })
}

/// One store for all cases, next to a directory that must stay empty.
fn store() -> &'static (tempfile::TempDir, Store) {
    static STORE: OnceLock<(tempfile::TempDir, Store)> = OnceLock::new();
    STORE.get_or_init(|| {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("outside")).unwrap();
        let store = Store::init(&t.path().join("store"), &OpenOptions::default()).unwrap();
        (t, store)
    })
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    v.sort();
    v
}

/// A manifest path a restore may write: relative, no empty, `.` or `..` component.
fn stays_inside(path: &[u8]) -> bool {
    !path.is_empty()
        && !path.starts_with(b"/")
        && path
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn random_headers_are_refused_cleanly_or_round_trip(bytes in archive()) {
        let (dir, store) = store();
        let slugs_before = store.slugs().unwrap().len();
        let opts = ImportOptions::default();
        match import(store, &mut &bytes[..], "random.tar", None, &opts, &NoProgress) {
            Err(e) => {
                let text = e.to_string();
                prop_assert!(!text.chars().any(char::is_control), "control character in {:?}", text);
                prop_assert_eq!(store.slugs().unwrap().len(), slugs_before, "{}", text);
            }
            Ok(r) => {
                let m = store.manifest(&r.slug).unwrap();
                for e in m.entries() {
                    prop_assert!(stays_inside(&e.path), "path {:?}", e.display_path());
                    match &e.kind {
                        EntryKind::File { id, size, .. } => {
                            prop_assert_eq!(store.read_object(id).unwrap().len() as u64, *size);
                        }
                        EntryKind::Symlink { target } => {
                            prop_assert!(!target.starts_with(b"/"), "{:?}", e.display_path());
                        }
                        EntryKind::Dir => {}
                    }
                }
                let mut exported = Vec::new();
                export(store, &r.slug, &mut exported, "-", &ExportOptions::default(), &NoProgress)
                    .unwrap();
                let again = import(store, &mut &exported[..], "export", None, &opts, &NoProgress)
                    .unwrap();
                prop_assert_eq!(again.slug, r.slug);
                // Restored, it writes below its destination only (what is outside is checked below).
                let dest = dir.path().join("dest");
                slugstore::restore(store, &r.slug, &dest, &Default::default(), &NoProgress)
                    .unwrap();
                fs::remove_dir_all(&dest).unwrap();
            }
        }
        prop_assert!(names(&dir.path().join("outside")).is_empty());
        prop_assert_eq!(names(dir.path()), vec!["outside", "store"]);
        let tmp = names(&dir.path().join("store/tmp"));
        prop_assert!(tmp.iter().all(|n| !n.to_string_lossy().contains("import")), "{:?}", tmp);
    }
}
