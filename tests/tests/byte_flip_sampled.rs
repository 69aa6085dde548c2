//! Flipping any single byte of a pack — its header, a record header, stored data, a manifest — is caught
//! by `verify`, and a restore of a slug that uses the damaged bytes either fails naming the damage or
//! writes exactly the original bytes (never wrong ones). Positions are sampled systematically across
//! every part of every pack, including a large object streamed into a pack of its own.

mod gc_support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gc_support::*;
use slugstore::slug::EntryKind;
use slugstore::store::pack::{self, Codec, PACK_HEADER};
use slugstore::store::Store;
use slugstore::{NoProgress, ObjectId, SlugId, VerifyOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    PackHeader,
    RecordHeader,
    RawData,
    ZstdData,
}

struct Position {
    pack: PathBuf,
    offset: u64,
    part: Part,
    /// Objects whose reads may see the flip.
    objects: Vec<ObjectId>,
}

fn flip(path: &Path, offset: u64) {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[b[0] ^ 0x5a]).unwrap();
    f.sync_all().unwrap();
}

/// Every candidate position: all pack-header bytes, and in each record a few header bytes (id, codec,
/// both lengths) and the first, middle and last data bytes.
fn candidates(store: &Store) -> Vec<Position> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(store.packs_dir()).unwrap() {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let mut all = Vec::new();
        for r in pack::records(&bytes) {
            let (h, off) = r.unwrap();
            all.push(h.id);
            for d in [0, 31, 32, 33, 40, 41, 48] {
                out.push(Position {
                    pack: path.clone(),
                    offset: off + d,
                    part: Part::RecordHeader,
                    objects: vec![h.id],
                });
            }
            let data = off + pack::RECORD_HEADER_LEN;
            let part = match h.codec {
                Codec::Raw => Part::RawData,
                Codec::Zstd => Part::ZstdData,
                Codec::Patch => unreachable!("local packs hold no patches"),
            };
            for d in [0, h.stored_len / 2, h.stored_len - 1] {
                out.push(Position {
                    pack: path.clone(),
                    offset: data + d,
                    part,
                    objects: vec![h.id],
                });
            }
        }
        for i in 0..PACK_HEADER.len() as u64 {
            out.push(Position {
                pack: path.clone(),
                offset: i,
                part: Part::PackHeader,
                objects: all.clone(),
            });
        }
    }
    out
}

#[test]
fn sampled_single_byte_flips_are_detected_by_verify_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let mut rng = Rng(2024);
    let mut trees = Vec::new();
    let store = Store::init(&root, &Default::default()).unwrap();
    for i in 0..2 {
        let t = dir.path().join(format!("t{i}"));
        make_tree(&t, 8, &mut rng);
        if i == 0 {
            // Larger than the in-memory limit: streamed through zstd into a pack of its own.
            write_old(&t.join("big.bin"), &vec![7u8; 9 << 20]);
        }
        let id = snap(&store, &t, None);
        trees.push((id, read_tree(&t)));
    }
    // Which slugs need which object.
    let mut users: BTreeMap<ObjectId, BTreeSet<SlugId>> = BTreeMap::new();
    for (id, _) in &trees {
        users.entry(id.object()).or_default().insert(*id);
        for e in store.manifest(id).unwrap().entries() {
            if let EntryKind::File { id: o, .. } = &e.kind {
                users.entry(*o).or_default().insert(*id);
            }
        }
    }
    let all = candidates(&store);
    drop(store);

    // 64 positions: every pack-header byte of one pack, the rest spread evenly over the records.
    let mut sample: Vec<&Position> = all
        .iter()
        .filter(|p| p.part == Part::PackHeader)
        .take(12)
        .collect();
    let rest: Vec<&Position> = all.iter().filter(|p| p.part != Part::PackHeader).collect();
    let step = rest.len() as f64 / 52.0;
    sample.extend((0..52).map(|i| rest[(i as f64 * step) as usize]));
    for part in [
        Part::PackHeader,
        Part::RecordHeader,
        Part::RawData,
        Part::ZstdData,
    ] {
        assert!(
            sample.iter().any(|p| p.part == part),
            "sample covers {part:?}"
        );
    }

    let (mut restore_failed, mut restore_exact) = (0, 0);
    for p in &sample {
        flip(&p.pack, p.offset);
        let store = Store::open(&root, &Default::default()).unwrap();
        let r = slugstore::verify(&store, &VerifyOptions::default(), &NoProgress).unwrap();
        assert!(
            !r.ok(),
            "verify missed a flip at {} offset {} ({:?})",
            p.pack.display(),
            p.offset,
            p.part
        );
        let slugs: BTreeSet<SlugId> = p
            .objects
            .iter()
            .flat_map(|o| users.get(o).into_iter().flatten().copied())
            .collect();
        assert!(!slugs.is_empty());
        for s in slugs {
            let expected = &trees.iter().find(|(id, _)| *id == s).unwrap().1;
            match restored(&store, &s) {
                Err(_) => restore_failed += 1,
                Ok(got) => {
                    // Only a zstd frame can absorb a flip (e.g. a larger window size) and still decode
                    // to the same bytes; anything else must fail.
                    assert_eq!(
                        p.part,
                        Part::ZstdData,
                        "restore missed a flip at {}",
                        p.offset
                    );
                    assert_eq!(&got, expected, "restore wrote wrong bytes");
                    restore_exact += 1;
                }
            }
        }
        drop(store);
        flip(&p.pack, p.offset);
    }
    eprintln!(
        "{} flips: restores failed {restore_failed} times, decoded exact bytes {restore_exact} times",
        sample.len()
    );
    assert!(restore_failed > 0);
    let store = Store::open(&root, &Default::default()).unwrap();
    let r = slugstore::verify(&store, &VerifyOptions::default(), &NoProgress).unwrap();
    assert!(r.ok(), "every flip was undone");
}
