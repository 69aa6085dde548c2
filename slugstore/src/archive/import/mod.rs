//! Import: make a slug from a tar archive, treating every byte of it as hostile.
//!
//! The archive is read once, as a stream (a file or stdin), and nothing is ever extracted: each member
//! becomes at most an object in the store and a line of the manifest. Small files are hashed and stored
//! from memory; larger ones go through a temporary file in the store's `tmp/` so memory stays bounded.
//! The slug is committed only after the whole archive was read and checked, so a refused archive
//! commits nothing (it may leave unreferenced packs, exactly like an interrupted snapshot).
//!
//! Refused, with an error naming the member:
//! - absolute paths, `..` components, empty or `.` components inside a path, NUL bytes;
//! - symlinks whose target is absolute or leads above the root, following the archive's own links
//!   (relative links that stay inside the tree are fine), unless `allow_external_links`;
//! - hard links, unless they name a regular file that appeared earlier in the archive (slugs have no
//!   hard links: such a member becomes a second file with the same content, stored once);
//! - character and block devices, FIFOs, sparse files and unknown member types;
//! - a path that appears twice, and members inside a symlink or a file;
//! - data shorter than the header says (a truncated archive), a pax `size` that disagrees with the
//!   header, a base-256 size that is negative or over 64 bits (see `header`), an archive that ends
//!   without its two end-of-archive zero blocks (a lone zero block, which GNU tar takes as the end
//!   with a warning, is refused whether input ends after it or more members follow), corrupt
//!   compression;
//! - more members, longer paths or more bytes than [`ImportLimits`] allow.
//!
//! Errors quote member names and link targets with their control characters escaped (see
//! [`Error::format`]): a hostile name cannot send escape sequences to the terminal.
//!
//! Parents that the archive implies but does not list (`a/b/c` without `a/`) become directories. Modes
//! are reduced to what a slug records: executable or not. Owners, times and pax attributes other than
//! `path`, `linkpath` and `size` are ignored; so are global pax headers.
//!
//! This file holds the entry points and what surrounds the read (decompression, the final link check,
//! the commit); `reader` reads the members one by one and refuses what is listed above.

mod reader;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::archive::limits::ImportLimits;
use crate::archive::tree::Tree;
use crate::archive::Compression;
use crate::error::{Error, IoResultExt, Result};
use crate::id::SlugId;
use crate::progress::{Progress, ProgressBars};
use crate::slug::check_ref_name;
use crate::slug::{display_bytes, Manifest, TreeStats};
use crate::store::Store;
use crate::store::{commit_manifest, SlugMeta};
use reader::Reader;

/// How to import.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ImportOptions {
    /// Point this ref at the new slug.
    #[cfg_attr(feature = "clap", arg(long = "ref", value_name = "NAME"))]
    pub ref_name: Option<String>,
    /// A message recorded with the slug.
    #[cfg_attr(feature = "clap", arg(short, long))]
    pub message: Option<String>,
    /// Accept symlinks to absolute paths or above the tree's root (only for archives you trust, such as
    /// exports of your own slugs whose links point into shared mounts).
    #[cfg_attr(feature = "clap", arg(long))]
    pub allow_external_links: bool,
    /// Bounds on the archive's size.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub limits: ImportLimits,
}

/// What an import made.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The slug id.
    pub slug: SlugId,
    /// False when the store already had this exact slug.
    pub new_slug: bool,
    /// The ref moved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    /// Where the archive came from.
    pub source: String,
    /// The compression found.
    pub format: Compression,
    /// Entry counts of the slug.
    #[serde(flatten)]
    pub tree: TreeStats,
    /// Members read from the archive (pax and long-name headers included).
    pub members: u64,
    /// Objects added to the store (the manifest included).
    pub new_objects: u64,
    /// Their uncompressed bytes.
    pub new_bytes: u64,
    /// Bytes they take in the store.
    pub stored_bytes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Imports the archive at `path`, or stdin when `path` is `-`.
pub fn import_path(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    bars: &dyn ProgressBars,
) -> Result<ImportReport> {
    if path == Path::new("-") {
        return import(store, &mut io::stdin().lock(), "stdin", None, opts, bars);
    }
    let file = File::open(path).at(path)?;
    let len = file.metadata().at(path)?.len();
    let name = path.display().to_string();
    import(store, &mut &file, &name, Some(len), opts, bars)
}

/// Imports an archive read from `input`; `source` names it in errors, `len` (if known) sizes the
/// progress bar.
pub fn import(
    store: &Store,
    input: &mut dyn Read,
    source: &str,
    len: Option<u64>,
    opts: &ImportOptions,
    bars: &dyn ProgressBars,
) -> Result<ImportReport> {
    let started = Instant::now();
    if let Some(r) = &opts.ref_name {
        check_ref_name(r)?;
    }
    let bar = bars.bytes("importing");
    if let Some(len) = len {
        bar.set_length(len);
    }
    let mut raw = Counting {
        inner: input,
        n: 0,
        bar: Some(&*bar),
    };
    let mut head = [0u8; 4];
    let head_len = read_up_to(&mut raw, &mut head).at(source)?;
    let format = Compression::detect(&head[..head_len], source)?;
    let chained = io::Cursor::new(&head[..head_len]).chain(raw);
    let decoded: Box<dyn Read + '_> = match format {
        Compression::None => Box::new(chained),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(chained)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(chained).at(source)?),
    };
    let writer = store.writer();
    let mut reader = Reader {
        source,
        limits: &opts.limits,
        writer: &writer,
        tmp_dir: store.tmp_dir(),
        tree: Tree::default(),
        buf: Vec::new(),
        total_bytes: 0,
    };
    let members = reader.read_archive(decoded)?;
    let Reader { tree, .. } = reader;
    if !opts.allow_external_links {
        tree.check_links()
            .map_err(|(path, why)| entry_error(source, &path, why))?;
    }
    bar.finish();
    let manifest = Manifest::new(tree.into_entries())?;
    let meta = SlugMeta {
        ref_name: opts.ref_name.clone(),
        message: opts.message.clone(),
        source: Some(source.to_string()),
        action: "import",
        ..SlugMeta::default()
    };
    let committed = commit_manifest(store, writer, &manifest, &meta, |_, _| Ok(()))?;
    let stats = committed.staged.stats;
    Ok(ImportReport {
        slug: committed.slug,
        new_slug: committed.new_slug,
        ref_name: opts.ref_name.clone(),
        source: source.to_string(),
        format,
        tree: manifest.stats(),
        members,
        new_objects: stats.new_objects,
        new_bytes: stats.new_bytes,
        stored_bytes: stats.stored_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The error for a refused member.
fn entry_error(source: &str, path: &[u8], detail: impl Into<String>) -> Error {
    Error::format(format!("{source}: entry `{}`", display_bytes(path)), detail)
}

/// Counts bytes read, and reports them to a progress bar.
struct Counting<'b, R> {
    inner: R,
    n: u64,
    bar: Option<&'b dyn Progress>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        if let Some(bar) = self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
