//! Micro-benchmarks of the core paths: hashing, object write and read, manifest encode and decode.
//!
//! Run with `cargo bench -p slugstore --bench core`. Inputs are text-like (compressible like source code),
//! the sizes a Magento tree is made of (median file 1.7 KiB).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use slugstore::slug::{Entry, EntryKind, Manifest};
use slugstore::store::OpenOptions;
use slugstore::{ObjectId, Store};

fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "public",
        "function",
        "return",
        "$this->",
        "array(",
        "namespace",
        "Magento\\",
        ";\n",
        "    ",
        "=>",
    ];
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("blake3");
    for size in [1_800usize, 64 << 10, 4 << 20] {
        let data = text(size, 1);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{size}B"), |b| {
            b.iter(|| ObjectId::hash(black_box(&data)))
        });
    }
    g.finish();
}

fn objects(c: &mut Criterion) {
    let files: Vec<Vec<u8>> = (0..2_000).map(|i| text(1_800, i)).collect();
    let total: u64 = files.iter().map(|f| f.len() as u64).sum();
    let mut g = c.benchmark_group("objects");
    g.throughput(Throughput::Bytes(total));
    g.sample_size(10);
    g.bench_function("write 2000 x 1.8 KiB", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::init(&dir.path().join("s"), &OpenOptions::default()).unwrap();
                (dir, store)
            },
            |(_dir, store)| {
                let w = store.writer();
                for f in &files {
                    w.add(f).unwrap();
                }
                let staged = w.finish().unwrap();
                let mut batch = store.index().batch();
                staged.stage(&mut batch).unwrap();
                batch.commit().unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(&dir.path().join("s"), &OpenOptions::default()).unwrap();
    let w = store.writer();
    let ids: Vec<ObjectId> = files.iter().map(|f| w.add(f).unwrap().0).collect();
    let staged = w.finish().unwrap();
    let mut batch = store.index().batch();
    staged.stage(&mut batch).unwrap();
    batch.commit().unwrap();
    g.bench_function("read+verify 2000 x 1.8 KiB", |b| {
        let mut buf = Vec::new();
        b.iter(|| {
            for id in &ids {
                store.read_object_into(id, &mut buf).unwrap();
            }
        })
    });
    g.finish();
}

fn manifest(c: &mut Criterion) {
    let mut entries = Vec::new();
    for d in 0..1_000u32 {
        let dir = format!("vendor/magento/module-{d:04}/Model");
        entries.push(Entry {
            path: format!("vendor/magento/module-{d:04}").into_bytes(),
            kind: EntryKind::Dir,
        });
        entries.push(Entry {
            path: dir.clone().into_bytes(),
            kind: EntryKind::Dir,
        });
        for f in 0..100u32 {
            entries.push(Entry {
                path: format!("{dir}/Class{f:03}.php").into_bytes(),
                kind: EntryKind::File {
                    size: 1_800,
                    id: ObjectId::hash(&f.to_le_bytes()),
                    executable: false,
                },
            });
        }
    }
    entries.push(Entry {
        path: b"vendor".to_vec(),
        kind: EntryKind::Dir,
    });
    entries.push(Entry {
        path: b"vendor/magento".to_vec(),
        kind: EntryKind::Dir,
    });
    let m = Manifest::new(entries).unwrap();
    let bytes = m.encode();
    let mut g = c.benchmark_group("manifest 100k entries");
    g.sample_size(20);
    g.bench_function("encode", |b| b.iter(|| black_box(&m).encode()));
    g.bench_function("decode", |b| {
        b.iter(|| Manifest::decode(black_box(&bytes)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, hashing, objects, manifest);
criterion_main!(benches);
