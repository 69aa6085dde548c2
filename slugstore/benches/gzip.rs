//! The gzip encoders on asset-like text of typical static-asset sizes (median 1.7 KiB, p90 ~10 KiB, a few
//! hundred KiB at most): libdeflate, which compress-static uses, against flate2 on zlib-rs.
//!
//! `cargo bench -p slugstore --bench gzip`

use std::io::Write;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slugstore::compress::{gzip, Level};

/// JavaScript-looking text of `len` bytes: repeated identifiers and keywords with varying numbers, which
/// compresses about as well as minified assets do.
fn asset(len: usize) -> Vec<u8> {
    const TOKENS: [&str; 12] = [
        "function(",
        "return ",
        "var ",
        "this.",
        "define([",
        "'jquery'",
        "){",
        "}",
        ";\n",
        "=>",
        "data-",
        ".css",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(TOKENS[(state % 12) as usize].as_bytes());
        if state & 3 == 0 {
            out.extend_from_slice(format!("v{}", state % 997).as_bytes());
        }
    }
    out.truncate(len);
    out
}

fn encoders(c: &mut Criterion) {
    let level = Level::BUILD_DEFAULT;
    let mut group = c.benchmark_group("gzip-6");
    for len in [1_700, 10_000, 300_000] {
        let data = asset(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("libdeflate", len), &data, |b, data| {
            b.iter(|| gzip::encode(data, level))
        });
        group.bench_with_input(BenchmarkId::new("flate2-zlib-rs", len), &data, |b, data| {
            b.iter(|| {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::new(),
                    flate2::Compression::new(level.get()),
                );
                e.write_all(data).unwrap();
                e.finish().unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encoders);
criterion_main!(benches);
