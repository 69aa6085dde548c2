//! Reading an archive's members into a tree and the store, one member at a time, refusing each
//! hostile one with an error that names it (the rules are listed in the parent module).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use super::{entry_error, read_up_to, Counting};
use crate::archive::header;
use crate::archive::limits::{ImportLimits, MAX_EXTENSION_BYTES};
use crate::archive::paths;
use crate::archive::pax::{self, padding, BLOCK};
use crate::archive::tree::Tree;
use crate::error::{Error, IoResultExt, Result};
use crate::fsutil;
use crate::id::ObjectId;
use crate::slug::{display_bytes, EntryKind};
use crate::store::{ObjectWriter, IN_MEMORY_LIMIT};

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
pub(super) struct Reader<'a, 's> {
    pub(super) source: &'a str,
    pub(super) limits: &'a ImportLimits,
    pub(super) writer: &'a ObjectWriter<'s>,
    pub(super) tmp_dir: PathBuf,
    pub(super) tree: Tree,
    pub(super) buf: Vec<u8>,
    pub(super) total_bytes: u64,
}

impl Reader<'_, '_> {
    /// Reads every member into the tree and the store; returns the member count.
    pub(super) fn read_archive(&mut self, decoded: Box<dyn Read + '_>) -> Result<u64> {
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
