//! Bounded fuzzing of the parsers that read untrusted bytes: manifest decoding (manifests arrive from
//! remotes and archives) and the YAML configuration (written by people, read before every deploy).
//! Tar import has its own property in `archive.rs`. The cargo-fuzz targets in `fuzz/` check the same
//! properties without bounds; these runs keep them in CI.
//!
//! Inputs are damaged versions of real inputs (flipped bytes, cut tails, spliced-in fragments), which
//! reach far deeper into a parser than uniformly random bytes, plus some random bytes.

use proptest::prelude::*;
use proptest::sample::Index;
use slugstore::slug::{Entry, EntryKind, Manifest};
use slugstore::ObjectId;
use slugstore_deploy::config::{parse_project, Sources, APP_FILE, ROUTES_FILE, SERVICES_FILE};

const APP: &str =
    include_str!("../../slugstore-deploy/tests/fixtures/config/magento-app/.magento.app.yaml");
const SERVICES: &str =
    include_str!("../../slugstore-deploy/tests/fixtures/config/magento-app/.magento/services.yaml");
const ROUTES: &str =
    include_str!("../../slugstore-deploy/tests/fixtures/config/magento-app/.magento/routes.yaml");

/// A manifest with every entry kind, nesting and a non-UTF-8 name.
fn seed_manifest() -> Vec<u8> {
    let file = |path: &[u8], n: u8, executable| Entry {
        path: path.to_vec(),
        kind: EntryKind::File {
            size: 100 * n as u64,
            id: ObjectId::hash(&[n]),
            executable,
        },
    };
    let dir = |path: &[u8]| Entry {
        path: path.to_vec(),
        kind: EntryKind::Dir,
    };
    Manifest::new(vec![
        dir(b"app"),
        dir(b"app/code"),
        file(b"app/code/A.php", 1, false),
        file(b"app/code/caf\xe9.php", 2, false),
        dir(b"bin"),
        file(b"bin/magento", 3, true),
        Entry {
            path: b"current".to_vec(),
            kind: EntryKind::Symlink {
                target: b"app/../bin".to_vec(),
            },
        },
        dir(b"pub"),
        dir(b"pub/empty"),
        file(b"index.php", 4, false),
    ])
    .expect("a valid manifest")
    .encode()
}

/// Damage to apply to a byte string.
#[derive(Debug, Clone)]
enum Edit {
    /// XOR one byte.
    Flip(Index, u8),
    /// Cut everything from here on.
    Truncate(Index),
    /// Remove a short range.
    Delete(Index, usize),
    /// Insert a fragment.
    Insert(Index, Vec<u8>),
    /// Repeat a range right after itself.
    Duplicate(Index, usize),
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |i: &Index| i.index(bytes.len() + 1);
        match e {
            Edit::Flip(i, x) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] ^= x;
            }
            Edit::Flip(..) => {}
            Edit::Truncate(i) => bytes.truncate(at(i)),
            Edit::Delete(i, n) => {
                let start = at(i);
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Edit::Insert(i, frag) => {
                let start = at(i);
                bytes.splice(start..start, frag.iter().copied());
            }
            Edit::Duplicate(i, n) => {
                let start = at(i);
                let end = (start + n).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

/// Edits, inserting `fragments` or random bytes.
fn edits(fragments: &'static [&'static str]) -> impl Strategy<Value = Vec<Edit>> {
    let fragment = prop_oneof![
        proptest::sample::select(fragments).prop_map(|f| f.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..12),
    ];
    let edit = prop_oneof![
        4 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| Edit::Flip(i, x)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        2 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        3 => (any::<Index>(), fragment).prop_map(|(i, f)| Edit::Insert(i, f)),
        2 => (any::<Index>(), 1usize..200).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ];
    proptest::collection::vec(edit, 1..6)
}

/// Fragments that steer a YAML parser into its corners: anchors, aliases and merges, flow
/// collections, tags, block scalars, tabs, odd indentation, quotes left open, document markers.
const YAML_BITS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a\n",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "\t",
    "\n  ",
    "\n",
    "!!binary ",
    "|\n",
    ">-\n",
    "'",
    "\"",
    "\\",
    "#",
    "---\n",
    "...\n",
    "? ",
    "~",
    "null",
    "0o777",
    "1e999",
    ",",
    "%YAML 1.2\n",
    "\u{feff}",
    "\u{0}",
];

/// Bytes a manifest decoder cares about: lengths, kinds, separators.
const MANIFEST_BITS: &[&str] = &[
    "\u{0}", "\u{1}", "\u{2}", "\u{3}", "\u{7f}", "\u{ff}", "/", "..", ".",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Damaged manifests never panic the decoder; whatever it accepts is a manifest whose canonical
    /// encoding decodes to the same value, and passes the invariants `Manifest::new` checks.
    #[test]
    fn damaged_manifests_decode_cleanly_or_not_at_all(
        e in edits(MANIFEST_BITS),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        for bytes in [apply(seed_manifest(), &e), noise.clone()] {
            if let Ok(m) = Manifest::decode(&bytes) {
                prop_assert_eq!(&m.encode(), &bytes, "only the canonical encoding decodes");
                let again = Manifest::decode(&m.encode()).expect("a canonical encoding decodes");
                prop_assert_eq!(&again, &m);
                prop_assert!(Manifest::new(m.entries().to_vec()).is_ok());
            }
        }
    }

    /// Damaged configurations never panic the parser; every diagnostic names one of the three files,
    /// a line inside it (or none), and says something.
    #[test]
    fn damaged_configs_are_parsed_or_explained(
        which in 0usize..3,
        e in edits(YAML_BITS),
    ) {
        let mut texts = [APP.to_string(), SERVICES.to_string(), ROUTES.to_string()];
        let damaged = apply(texts[which].as_bytes().to_vec(), &e);
        texts[which] = String::from_utf8_lossy(&damaged).into_owned();
        let sources = Sources {
            app: Some(&texts[0]),
            services: Some(&texts[1]),
            routes: Some(&texts[2]),
            magento_env: None,
        };
        if let Err(diagnostics) = parse_project(sources) {
            prop_assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                let i = [APP_FILE, SERVICES_FILE, ROUTES_FILE]
                    .iter()
                    .position(|f| *f == d.file);
                prop_assert!(i.is_some(), "unknown file in {:?}", d);
                prop_assert!(!d.message.trim().is_empty(), "{:?}", d);
                if let Some(pos) = &d.pos {
                    let lines = texts[i.unwrap()].split('\n').count() as u32;
                    prop_assert!(pos.line >= 1 && pos.line <= lines + 1, "{:?} of {} lines", d, lines);
                    prop_assert!(pos.column >= 1, "{:?}", d);
                }
            }
        }
    }
}

/// The seeds themselves are valid, so the damage above starts from inputs the parsers accept.
#[test]
fn seeds_are_valid() {
    assert!(Manifest::decode(&seed_manifest()).is_ok());
    let sources = Sources {
        app: Some(APP),
        services: Some(SERVICES),
        routes: Some(ROUTES),
        magento_env: None,
    };
    assert!(parse_project(sources).is_ok());
}
