//! Export: write a slug as a deterministic, streaming tar archive.
//!
//! Members follow the manifest's order (sorted by path bytes, so every directory precedes what it holds)
//! with fixed metadata: mtime 0, owner and group 0 with no names, mode 0644 or 0755 for files, 0755 for
//! directories, 0777 for symlinks. Nothing else varies, so exporting one slug twice — from any store, on
//! any machine — gives the same bytes, compressed or not (gzip is written without a name or time).
//!
//! File contents are streamed one object at a time from the store, verified against their hash on the
//! way; only the manifest is held in memory. A damaged object fails the export naming the object and the
//! path. When writing to a file the archive is built under a temporary name and renamed into place only
//! once complete, so a failed export never leaves a plausible-looking archive behind; on stdout the
//! reader must check the exit status.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::archive::pax::{self, Member, BLOCK};
use crate::archive::Compression;
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil::TempFile;
use crate::id::SlugId;
use crate::progress::ProgressBars;
use crate::slug::{Entry, EntryKind, TreeStats};
use crate::store::Store;

/// How to write an archive.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ExportOptions {
    /// Archive format; by default taken from the output's extension (zstd for stdout).
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub format: Option<Compression>,
    /// Compression level (zstd 1-19, gzip 0-9).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub level: i32,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            format: None,
            level: 3,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The slug exported.
    pub slug: SlugId,
    /// Where it went (`-` for stdout).
    pub output: String,
    /// The archive format.
    pub format: Compression,
    /// Entry counts.
    #[serde(flatten)]
    pub tree: TreeStats,
    /// Bytes of the tar stream before compression.
    pub tar_bytes: u64,
    /// Bytes written to the output.
    pub archive_bytes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Exports slug `id` to `path`, or to stdout when `path` is `-`.
pub fn export_to_path(
    store: &Store,
    id: &SlugId,
    path: &Path,
    opts: &ExportOptions,
    bars: &dyn ProgressBars,
) -> Result<ExportReport> {
    if path == Path::new("-") {
        let opts = ExportOptions {
            format: Some(opts.format.unwrap_or(Compression::Zstd)),
            ..opts.clone()
        };
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
        let report = export(store, id, &mut out, "-", &opts, bars)?;
        out.flush().at("stdout")?;
        return Ok(report);
    }
    let format = match opts.format.or_else(|| Compression::from_name(path)) {
        Some(f) => f,
        None => return Err(Error::UnknownArchiveFormat(path.to_path_buf())),
    };
    let opts = ExportOptions {
        format: Some(format),
        ..opts.clone()
    };
    let mut tmp = TempFile::beside(path)?;
    let tmp_path = tmp.path().to_path_buf();
    let mut out = BufWriter::with_capacity(1 << 16, tmp.file());
    let name = path.display().to_string();
    let report = export(store, id, &mut out, &name, &opts, bars)?;
    out.into_inner()
        .map_err(|e| Error::io(&tmp_path, e.into_error()))?;
    tmp.persist()?;
    Ok(report)
}

/// Writes slug `id` as an archive to `out`; `name` names the output in errors and the report.
pub fn export(
    store: &Store,
    id: &SlugId,
    out: &mut dyn Write,
    name: &str,
    opts: &ExportOptions,
    bars: &dyn ProgressBars,
) -> Result<ExportReport> {
    let started = Instant::now();
    let format = opts.format.unwrap_or(Compression::Zstd);
    let manifest = store.manifest(id)?;
    let tree = manifest.stats();
    let counted = Counting { inner: out, n: 0 };
    let sink = Encoder::new(counted, format, opts.level).at(name)?;
    let mut tar = TarWriter {
        out: BufWriter::with_capacity(1 << 20, sink),
        written: 0,
        error: None,
    };
    let bar = bars.bytes("exporting");
    bar.set_length(tree.bytes);
    for e in manifest.entries() {
        write_member(store, &mut tar, e).map_err(|err| tar.blame(err, name))?;
        if let EntryKind::File { size, .. } = e.kind {
            bar.inc(size);
        }
    }
    // End of archive: two zero blocks.
    tar.write_all(&[0u8; 2 * BLOCK as usize]).at(name)?;
    bar.finish();
    let tar_bytes = tar.written;
    let sink = tar
        .out
        .into_inner()
        .map_err(|e| Error::io(name, e.into_error()))?;
    let counted = sink.finish().at(name)?;
    Ok(ExportReport {
        slug: *id,
        output: name.to_string(),
        format,
        tree,
        tar_bytes,
        archive_bytes: counted.n,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes one manifest entry: header, then data and padding for files.
fn write_member<W: Write>(store: &Store, tar: &mut TarWriter<W>, e: &Entry) -> Result<()> {
    let io_err = |err: io::Error| Error::io(e.os_path(), err);
    match &e.kind {
        EntryKind::Dir => {
            let mut path = e.path.clone();
            path.push(b'/');
            tar.header(&Member {
                path: &path,
                kind: tar::EntryType::Directory,
                mode: e.mode(),
                size: 0,
                link: None,
            })
            .map_err(io_err)
        }
        EntryKind::Symlink { target } => tar
            .header(&Member {
                path: &e.path,
                kind: tar::EntryType::Symlink,
                mode: e.mode(),
                size: 0,
                link: Some(target),
            })
            .map_err(io_err),
        EntryKind::File { size, id, .. } => {
            tar.header(&Member {
                path: &e.path,
                kind: tar::EntryType::Regular,
                mode: e.mode(),
                size: *size,
                link: None,
            })
            .map_err(io_err)?;
            let named = |err: Error| match err {
                Error::Corrupt { id, detail } => Error::Corrupt {
                    id,
                    detail: format!("{detail} (needed for `{}`)", e.display_path()),
                },
                Error::MissingObject(id) => Error::Corrupt {
                    id,
                    detail: format!("missing (needed for `{}`)", e.display_path()),
                },
                err => err,
            };
            let n = store.stream_object(id, tar).map_err(named)?;
            if n != *size {
                return Err(Error::Corrupt {
                    id: *id,
                    detail: format!(
                        "{n} bytes, but the manifest says {size} for `{}`",
                        e.display_path()
                    ),
                });
            }
            tar.write_all(&[0u8; BLOCK as usize][..pax::padding(n) as usize])
                .map_err(io_err)
        }
    }
}

/// The tar stream: counts bytes and remembers the first write error, so an output failure in the middle
/// of an object is reported as such and not as a damaged object.
struct TarWriter<W: Write> {
    out: BufWriter<W>,
    written: u64,
    error: Option<io::ErrorKind>,
}

impl<W: Write> TarWriter<W> {
    fn header(&mut self, m: &Member<'_>) -> io::Result<()> {
        pax::write_header(self, m).map(|_| ())
    }

    /// Turns an error of `write_member` into an output error when the output is what failed.
    fn blame(&self, err: Error, output: &str) -> Error {
        match self.error {
            Some(kind) => Error::io(output, io::Error::from(kind)),
            None => err,
        }
    }
}

impl<W: Write> Write for TarWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.out.write(buf);
        match &r {
            Ok(n) => self.written += *n as u64,
            Err(e) => self.error = Some(e.kind()),
        }
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Counts the bytes that reach the output.
struct Counting<'a> {
    inner: &'a mut dyn Write,
    n: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The compressor between the tar stream and the output.
enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    fn new(out: W, format: Compression, level: i32) -> io::Result<Self> {
        Ok(match format {
            Compression::None => Encoder::None(out),
            Compression::Gzip => {
                let level = flate2::Compression::new(level.clamp(0, 9) as u32);
                // No file name, mtime 0: the gzip header is the same for every export.
                Encoder::Gzip(flate2::GzBuilder::new().mtime(0).write(out, level))
            }
            Compression::Zstd => {
                let mut enc = zstd::stream::Encoder::new(out, level)?;
                enc.include_checksum(true)?;
                Encoder::Zstd(enc)
            }
        })
    }

    /// Ends the compressed stream and hands the output back.
    fn finish(self) -> io::Result<W> {
        let mut out = match self {
            Encoder::None(out) => out,
            Encoder::Gzip(enc) => enc.finish()?,
            Encoder::Zstd(enc) => enc.finish()?,
        };
        out.flush()?;
        Ok(out)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Zstd(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}
