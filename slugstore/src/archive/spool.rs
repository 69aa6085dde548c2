//! Importing a stream while another process may hold the store.
//!
//! `slug export X -o - | slug import -` on one store must not deadlock: both commands need the
//! store, and the export cannot finish, nor let go of the store, until its output is read. So
//! [`import_when_free`] takes the store only once the archive's first bytes have arrived (the
//! export writes only once it holds the store), and if the store is then locked it reads the rest
//! of the stream into an anonymous temporary file beside the store while it waits, and imports
//! from there.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::archive::{import, ImportOptions, ImportReport};
use crate::error::{Error, Result};
use crate::progress::ProgressBars;
use crate::store::Store;

/// How [`import_when_free`] gets the store, and where it spools the stream while it cannot.
pub struct Spool<'a> {
    /// Where the stream is spooled while the store is held (the store's directory: the same disk).
    pub dir: &'a Path,
    /// Opens the store without waiting: fails at once with [`Error::Locked`] when another process
    /// holds it.
    pub try_open: &'a dyn Fn() -> Result<Store>,
    /// Opens the store, waiting for it.
    pub open: &'a dyn Fn() -> Result<Store>,
    /// Told once, with `dir`, when the store is held and the stream is spooled.
    pub on_spool: &'a dyn Fn(&Path),
}

/// Imports the archive `input` (named `source` in the report), taking the store as `spool` says
/// once its first bytes have arrived.
pub fn import_when_free(
    input: &mut dyn Read,
    source: &str,
    spool: &Spool<'_>,
    opts: &ImportOptions,
    bars: &dyn ProgressBars,
) -> Result<ImportReport> {
    let mut head = vec![0u8; 64 << 10];
    let n = loop {
        match input.read(&mut head) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.map_err(|e| Error::io(source, e))?,
        }
    };
    head.truncate(n);
    match (spool.try_open)() {
        Ok(store) => {
            let mut input = std::io::Cursor::new(head).chain(input);
            return import(&store, &mut input, source, None, opts, bars);
        }
        Err(Error::Locked { .. }) => {}
        Err(e) => return Err(e),
    }
    let dir = spool.dir;
    (spool.on_spool)(dir);
    let io_err = |e| Error::io(dir, e);
    let mut file = tempfile::tempfile_in(dir).map_err(io_err)?;
    file.write_all(&head).map_err(io_err)?;
    let rest = std::io::copy(input, &mut file).map_err(|e| Error::io(source, e))?;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let store = (spool.open)()?;
    let len = head.len() as u64 + rest;
    import(&store, &mut file, source, Some(len), opts, bars)
}
