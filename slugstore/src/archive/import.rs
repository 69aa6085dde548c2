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

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::archive::header;
use crate::archive::limits::{ImportLimits, MAX_EXTENSION_BYTES};
use crate::archive::pax::{self, padding, BLOCK};
use crate::archive::tree::Tree;
use crate::archive::{paths, Compression};
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::{ObjectId, SlugId};
use crate::progress::{Progress, ProgressBars};
use crate::slug::commit::{check_ref_name, commit_manifest, SlugMeta};
use crate::slug::{display_bytes, EntryKind, Manifest, TreeStats};
use crate::store::{ObjectWriter, Store, IN_MEMORY_LIMIT};

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

/// What extension members (pax `x`, GNU `L`/`K`) said about the next member.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    /// Whether any extension member is waiting for its member.
    any: bool,
}

/// State of one import while members are read.
struct Reader<'a, 's> {
    source: &'a str,
    limits: &'a ImportLimits,
    writer: &'a ObjectWriter<'s>,
    tmp_dir: PathBuf,
    tree: Tree,
    buf: Vec<u8>,
    total_bytes: u64,
}

impl Reader<'_, '_> {
    /// Reads every member into the tree and the store; returns the member count.
    fn read_archive(&mut self, decoded: Box<dyn Read + '_>) -> Result<u64> {
        let mut archive = tar::Archive::new(Counting {
            inner: decoded,
            n: 0,
            bar: None,
        });
        let mut members = 0u64;
        let mut end_of_last = 0u64;
        let mut last: Option<Vec<u8>> = None;
        let mut pending = Pending::default();
        let source = self.source;
        let broken = |last: &Option<Vec<u8>>, e: io::Error| match last {
            Some(p) => entry_error(source, p, format!("the archive is broken after it: {e}")),
            None => Error::format(source, format!("not a readable tar archive: {e}")),
        };
        // Raw mode: extension members come to us, so their size can be bounded before they are read.
        for item in archive.entries().at(source)?.raw(true) {
            let mut m = item.map_err(|e| broken(&last, e))?;
            members += 1;
            self.limits.check_entries(members)?;
            header::size_field(&m.header().as_old().size)
                .map_err(|why| entry_error(source, &m.path_bytes(), why))?;
            let size = m.size();
            end_of_last = m.raw_file_position() + size + padding(size);
            let kind = m.header().entry_type();
            if kind.is_pax_local_extensions()
                || kind.is_pax_global_extensions()
                || kind.is_gnu_longname()
                || kind.is_gnu_longlink()
            {
                self.extension(&mut m, &mut pending)
                    .map_err(|e| match &last {
                        Some(p) => entry_error(source, p, format!("in the header after it: {e}")),
                        None => Error::format(source, format!("first header: {e}")),
                    })?;
                continue;
            }
            let p = std::mem::take(&mut pending);
            let path = p.path.unwrap_or_else(|| m.path_bytes().into_owned());
            let link = p
                .link
                .or_else(|| m.link_name_bytes().map(|l| l.into_owned()));
            let refuse = |detail: String| entry_error(source, &path, detail);
            if p.size.is_some_and(|s| s != size) {
                return Err(refuse(format!(
                    "its pax size {} disagrees with its header size {size}",
                    p.size.unwrap_or(0)
                )));
            }
            self.member(&mut m, &path, link, size)
                .map_err(|e| match e {
                    Refusal::Detail(d) => refuse(d),
                    Refusal::Error(e) => e,
                })?;
            last = Some(path);
        }
        if pending.any {
            return Err(Error::format(
                source,
                "the archive ends with an extended header that describes no member",
            ));
        }
        let mut rest = archive.into_inner();
        // What is wrong after the last member, said of that member (or of the archive when it has none).
        let after_last = |detail: &str| match &last {
            Some(p) => entry_error(source, p, format!("after this member, {detail}")),
            None => Error::format(source, format!("empty or truncated archive: {detail}")),
        };
        // The tar crate stops at the first zero block or at end of input; only the former can be a
        // complete archive. Without this, an archive cut at a member boundary would import as a smaller
        // tree.
        if rest.n < end_of_last + BLOCK {
            return Err(after_last(
                "the archive ends without its end-of-archive blocks (truncated?)",
            ));
        }
        // The end is two zero blocks. GNU tar takes a lone one as the end too, with a warning, and
        // ignores what follows; a lone zero block followed by more members would lose them silently.
        let mut second = [0u8; BLOCK as usize];
        let got = read_up_to(&mut rest, &mut second)
            .map_err(|e| Error::format(source, format!("after the end of the tar stream: {e}")))?;
        if got < second.len() {
            return Err(after_last(
                "the archive ends with a single zero block instead of the two that end an archive (truncated?)",
            ));
        }
        if second.iter().any(|&b| b != 0) {
            return Err(after_last(
                "a single zero block is followed by more data: members after it would be lost",
            ));
        }
        // Read to the end, so the decompressor checks its trailer (gzip CRC, zstd checksum) and a pipe
        // is not left half-read.
        io::copy(&mut rest, &mut io::sink())
            .map_err(|e| Error::format(source, format!("after the end of the tar stream: {e}")))?;
        Ok(members)
    }

    /// Reads a pax or GNU long-name member into `pending`.
    fn extension(
        &mut self,
        m: &mut tar::Entry<'_, impl Read>,
        pending: &mut Pending,
    ) -> std::result::Result<(), String> {
        if m.size() > MAX_EXTENSION_BYTES {
            return Err(format!(
                "an extended header of {} bytes (the limit is {MAX_EXTENSION_BYTES})",
                m.size()
            ));
        }
        let mut data = Vec::with_capacity(m.size() as usize);
        m.read_to_end(&mut data).map_err(|e| e.to_string())?;
        if data.len() as u64 != m.size() {
            return Err("the archive is truncated inside an extended header".into());
        }
        let kind = m.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        pending.any = true;
        if kind.is_gnu_longname() || kind.is_gnu_longlink() {
            while data.last() == Some(&0) {
                data.pop();
            }
            let slot = if kind.is_gnu_longname() {
                &mut pending.path
            } else {
                &mut pending.link
            };
            if slot.replace(data).is_some() {
                return Err("two GNU long-name headers for one member".into());
            }
            return Ok(());
        }
        for rec in pax::records(&data) {
            let (key, value) = rec.map_err(|e| format!("malformed pax header: {e}"))?;
            match key {
                b"path" => pending.path = Some(value.to_vec()),
                b"linkpath" => pending.link = Some(value.to_vec()),
                b"size" => {
                    let s = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .ok_or("malformed pax size")?;
                    pending.size = Some(s);
                }
                k if k.starts_with(b"GNU.sparse.") => {
                    return Err("sparse files are not supported".into())
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Adds one regular member to the tree (and its data to the store).
    fn member(
        &mut self,
        m: &mut tar::Entry<'_, impl Read>,
        raw_path: &[u8],
        link: Option<Vec<u8>>,
        size: u64,
    ) -> std::result::Result<(), Refusal> {
        use tar::EntryType as T;
        self.limits.check_path("the path", raw_path)?;
        let path = paths::member_path(raw_path)?;
        let kind = m.header().entry_type();
        if path.is_none() {
            return match kind {
                T::Directory => Ok(()),
                _ => Err("the archive's root must be a directory".to_string().into()),
            };
        }
        let path = path.expect("checked");
        let entry = match kind {
            T::Directory => EntryKind::Dir,
            T::Regular | T::Continuous => {
                let mode = m
                    .header()
                    .mode()
                    .map_err(|e| format!("bad mode field: {e}"))?;
                self.total_bytes = self.total_bytes.saturating_add(size);
                self.limits.check_total(self.total_bytes)?;
                let id = self.store_data(m, size)?;
                EntryKind::File {
                    size,
                    id,
                    executable: mode & 0o111 != 0,
                }
            }
            T::Symlink => {
                let target = link.ok_or("symlink without a target")?;
                self.limits.check_path("the symlink target", &target)?;
                paths::link_target(&target)?;
                EntryKind::Symlink { target }
            }
            T::Link => {
                let target = link.ok_or("hard link without a target")?;
                let canonical = paths::member_path(&target)
                    .map_err(|e| format!("hard link target: {e}"))?
                    .unwrap_or_default();
                match self.tree.regular_file(&canonical) {
                    Some(k) => k.clone(),
                    None => {
                        return Err(format!(
                            "hard link to `{}`, which is not a regular file earlier in the archive",
                            display_bytes(&target)
                        )
                        .into())
                    }
                }
            }
            T::Char | T::Block | T::Fifo => {
                return Err("device and FIFO members are not allowed".to_string().into())
            }
            T::GNUSparse => return Err("sparse files are not supported".to_string().into()),
            other => {
                return Err(format!(
                    "unsupported member type `{}`",
                    (other.as_byte() as char).escape_default()
                )
                .into())
            }
        };
        self.tree.insert(&path, entry)?;
        Ok(())
    }

    /// Stores a member's data; returns its id. Small data goes through memory, large data through a
    /// temporary file that is read again (and re-hashed) as it is stored.
    fn store_data(
        &mut self,
        m: &mut impl Read,
        size: u64,
    ) -> std::result::Result<ObjectId, Refusal> {
        let truncated = |got: u64| {
            Refusal::Detail(format!(
                "the archive is truncated: the header says {size} bytes, the data ends after {got}"
            ))
        };
        let read_err = |e: io::Error| Refusal::Detail(format!("reading its data: {e}"));
        if size <= IN_MEMORY_LIMIT {
            self.buf.clear();
            m.read_to_end(&mut self.buf).map_err(read_err)?;
            if self.buf.len() as u64 != size {
                return Err(truncated(self.buf.len() as u64));
            }
            return Ok(self.writer.add(&self.buf)?.0);
        }
        let tmp = TempFile(self.tmp_dir.join(fsutil::temp_name("import")));
        let file = File::create(&tmp.0).at(&tmp.0)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut hasher = blake3::Hasher::new();
        let mut chunk = vec![0u8; 1 << 20];
        let mut got = 0u64;
        loop {
            let n = m.read(&mut chunk).map_err(read_err)?;
            if n == 0 {
                break;
            }
            hasher.update(&chunk[..n]);
            out.write_all(&chunk[..n]).at(&tmp.0)?;
            got += n as u64;
        }
        if got != size {
            return Err(truncated(got));
        }
        out.flush().at(&tmp.0)?;
        drop(out);
        let id = ObjectId::from(hasher.finalize());
        self.writer.add_file_streaming(id, &tmp.0, size)?;
        Ok(id)
    }
}

/// Why a member was refused: a detail to attach to its name, or an error that names what it needs to.
enum Refusal {
    Detail(String),
    Error(Error),
}

impl From<String> for Refusal {
    fn from(d: String) -> Self {
        Refusal::Detail(d)
    }
}

impl From<&str> for Refusal {
    fn from(d: &str) -> Self {
        Refusal::Detail(d.to_string())
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Error(e)
    }
}

/// A temporary file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
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
