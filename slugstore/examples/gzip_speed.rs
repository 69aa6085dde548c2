//! Measures the gzip encoders on the static assets of a directory, one core, to choose the fastest.
//!
//! `cargo run --release -p slugstore --example gzip_speed -- DIR [LEVEL] [MIB]`
//!
//! Loads the files `slug compress-static` would select in DIR (up to MIB MiB, default 64), then
//! compresses each one separately, as a run does, with libdeflate and with flate2 on zlib-rs, and the
//! whole lot in one stream with the system `gzip` program (its best case: one process). Prints the
//! median of 5 rounds in MB/s of input and the compressed size. Both library outputs are checked to
//! decompress to the input.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use slugstore::compress::{gzip, select, Level};

fn main() {
    let mut args = std::env::args_os().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: gzip_speed DIR [LEVEL] [MIB]"));
    let level: Level = args.next().map_or(Level::BUILD_DEFAULT, |s| {
        s.to_str().unwrap().parse().unwrap()
    });
    let limit: u64 = args
        .next()
        .map_or(64, |s| s.to_str().unwrap().parse().unwrap())
        << 20;

    let mut files = Vec::new();
    let mut total = 0u64;
    for asset in select(&dir).expect("readable directory").into_iter().rev() {
        if total + asset.len > limit {
            break;
        }
        total += asset.len;
        files.push(std::fs::read(&asset.path).unwrap());
    }
    println!(
        "{} files, {:.1} MiB, level {level}",
        files.len(),
        total as f64 / 1048576.0
    );

    let libdeflate = || {
        files
            .iter()
            .map(|f| gzip::encode(f, level).len())
            .sum::<usize>()
    };
    let zlib_rs = || {
        files
            .iter()
            .map(|f| {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::new(),
                    flate2::Compression::new(level.get()),
                );
                e.write_all(f).unwrap();
                e.finish().unwrap().len()
            })
            .sum::<usize>()
    };
    let gzip_cli = || {
        let mut child = Command::new("gzip")
            .arg(format!("-{level}"))
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("gzip in PATH");
        let mut stdin = child.stdin.take().unwrap();
        let files = &files;
        let size = std::thread::scope(|s| {
            // Moved in, so gzip sees end of input when the feeder is done.
            s.spawn(move || files.iter().for_each(|f| stdin.write_all(f).unwrap()));
            let mut out = Vec::new();
            child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
            out.len()
        });
        child.wait().unwrap();
        size
    };

    for f in files.iter().step_by(37) {
        let gz = gzip::encode(f, level);
        let mut d = flate2::read::GzDecoder::new(&gz[..]);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert!(out == *f, "libdeflate output does not round-trip");
    }

    let encoders: [(&str, &dyn Fn() -> usize); 3] = [
        ("libdeflate", &libdeflate),
        ("flate2 + zlib-rs", &zlib_rs),
        ("gzip program", &gzip_cli),
    ];
    for (name, encode) in encoders {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let t = Instant::now();
            size = encode();
            times.push(t.elapsed());
        }
        times.sort();
        let median: Duration = times[2];
        println!(
            "{name:>18}: {:6.1} MB/s  (median of 5: {:.3} s)  ratio {:.3}",
            total as f64 / 1e6 / median.as_secs_f64(),
            median.as_secs_f64(),
            size as f64 / total as f64
        );
    }
}
