//! Open directories, used by entry name.
//!
//! A build tree is deep (Magento paths run ten components and more) and wide (tens of thousands of
//! directories), and the walks and checkouts make several system calls per entry. Given a full path,
//! the kernel resolves every component again on each call: that lookup was the largest single cost of
//! a re-snapshot that finds nothing changed. So the hot paths open each directory once, relative to its
//! parent's descriptor, list it with `getdents64` into a stack buffer (no `opendir`, which also calls
//! `fstat`), and stat, read links, create and link by name relative to it: one component per lookup.
//!
//! Nothing here follows a symlink: a directory is opened with `O_NOFOLLOW`, and entries are statted
//! with `AT_SYMLINK_NOFOLLOW`. Errors are plain `io::Error`s; callers know the path and name it.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RawDir, CWD};
use rustix::path::Arg;

/// What a directory entry is, from its `d_type` (or an `lstat` when the filesystem does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A socket, FIFO or device node.
    Special,
}

impl Kind {
    fn of(t: FileType) -> Option<Self> {
        match t {
            FileType::Directory => Some(Kind::Dir),
            FileType::RegularFile => Some(Kind::File),
            FileType::Symlink => Some(Kind::Symlink),
            FileType::Unknown => None,
            _ => Some(Kind::Special),
        }
    }
}

/// One entry of a directory listing (never `.` or `..`).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name, as the directory holds it.
    pub name: CString,
    /// What it is.
    pub kind: Kind,
}

impl Entry {
    /// The name's bytes.
    pub fn name_bytes(&self) -> &[u8] {
        self.name.as_bytes()
    }
}

/// The status of an entry (`lstat`), with the fields the crate compares.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Mode bits, file type included.
    pub mode: u32,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Status-change time, ns since the epoch.
    pub ctime_ns: i64,
}

impl Stat {
    fn from_raw(s: &rfs::Stat) -> Self {
        Stat {
            dev: s.st_dev,
            ino: s.st_ino,
            size: s.st_size as u64,
            mode: s.st_mode,
            mtime_ns: s.st_mtime * 1_000_000_000 + s.st_mtime_nsec as i64,
            ctime_ns: s.st_ctime * 1_000_000_000 + s.st_ctime_nsec as i64,
        }
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

/// An open directory.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

/// Flags of every directory open: read-only, close-on-exec, never through a symlink.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

impl Dir {
    /// Opens the directory at `path` (which may itself be reached through symlinks; its last
    /// component may not be one).
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Dir {
            fd: rfs::openat(CWD, path, dir_flags(), Mode::empty())?,
        })
    }

    /// Opens the subdirectory `name`.
    pub fn open_at<N: Arg>(&self, name: N) -> io::Result<Self> {
        Ok(Dir {
            fd: rfs::openat(&self.fd, name, dir_flags(), Mode::empty())?,
        })
    }

    /// Opens the directory at `rel` below this one without following a symlink in any component
    /// (`openat2` with `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH`): a path that passes through a symlink
    /// fails with `ELOOP`, one that leaves this directory with `EXDEV`.
    pub fn open_beneath<N: Arg>(&self, rel: N) -> io::Result<Self> {
        let resolve = rfs::ResolveFlags::NO_SYMLINKS | rfs::ResolveFlags::BENEATH;
        Ok(Dir {
            fd: rfs::openat2(&self.fd, rel, dir_flags(), Mode::empty(), resolve)?,
        })
    }

    /// Opens the file `name` for reading (not through a symlink).
    pub fn open_file<N: Arg>(&self, name: N) -> io::Result<std::fs::File> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(rfs::openat(&self.fd, name, flags, Mode::empty())?.into())
    }

    /// The descriptor, for calls this type does not wrap.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Calls `f` with each entry's name and kind, in directory order; stops at the first error. An
    /// error reading the directory itself goes through `listing` (to name the directory).
    pub fn for_each<E>(
        &self,
        mut f: impl FnMut(&CStr, Kind) -> Result<(), E>,
        listing: impl Fn(io::Error) -> E,
    ) -> Result<(), E> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 32 * 1024];
        let mut raw = RawDir::new(self.fd.as_fd(), &mut buf);
        while let Some(entry) = raw.next() {
            let entry = entry.map_err(|e| listing(e.into()))?;
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let kind = match Kind::of(entry.file_type()) {
                Some(kind) => kind,
                None => self.lstat(name).map_err(&listing)?.kind(),
            };
            f(name, kind)?;
        }
        Ok(())
    }

    /// The entries, in directory order.
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.for_each(
            |name, kind| {
                out.push(Entry {
                    name: name.to_owned(),
                    kind,
                });
                Ok(())
            },
            |e| e,
        )?;
        Ok(out)
    }

    /// The status of this directory itself (`fstat` of its descriptor: no path to resolve).
    pub fn stat(&self) -> io::Result<Stat> {
        Ok(Stat::from_raw(&rfs::fstat(&self.fd)?))
    }

    /// The status of entry `name`, not following a symlink.
    pub fn lstat<N: Arg>(&self, name: N) -> io::Result<Stat> {
        Ok(Stat::from_raw(&rfs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?))
    }

    /// The target of the symlink `name`, as stored.
    pub fn read_link<N: Arg>(&self, name: N) -> io::Result<Vec<u8>> {
        Ok(rfs::readlinkat(&self.fd, name, Vec::new())?.into_bytes())
    }

    /// Creates the directory `name` with `mode` (less the umask).
    pub fn mkdir<N: Arg>(&self, name: N, mode: u32) -> io::Result<()> {
        Ok(rfs::mkdirat(
            &self.fd,
            name,
            Mode::from_bits_truncate(mode),
        )?)
    }

    /// Makes `name` in this directory a hard link to `from`, a name in `source` or (with `None`) a
    /// path; a symlink is linked as itself, never followed.
    pub fn hard_link<N: Arg, F: Arg>(
        &self,
        name: N,
        source: Option<&Dir>,
        from: F,
    ) -> io::Result<()> {
        let source = source.map_or(CWD, |d| d.fd.as_fd());
        Ok(rfs::linkat(source, from, &self.fd, name, AtFlags::empty())?)
    }

    /// Removes the file or symlink `name` (never following it).
    pub fn unlink<N: Arg>(&self, name: N) -> io::Result<()> {
        Ok(rfs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// Removes the empty directory `name`.
    pub fn rmdir<N: Arg>(&self, name: N) -> io::Result<()> {
        Ok(rfs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?)
    }

    /// Creates the symlink `name` pointing at `target` (stored as given).
    pub fn symlink<N: Arg, T: Arg>(&self, target: T, name: N) -> io::Result<()> {
        Ok(rfs::symlinkat(target, &self.fd, name)?)
    }

    /// Creates the regular file `name`, which must not exist, for writing, with `mode` (less the umask).
    pub fn create_file<N: Arg>(&self, name: N, mode: u32) -> io::Result<std::fs::File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        let fd = rfs::openat(&self.fd, name, flags, Mode::from_bits_truncate(mode))?;
        Ok(std::fs::File::from(fd))
    }

    /// Sets this directory's permission bits.
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        Ok(rfs::fchmod(&self.fd, Mode::from_bits_truncate(mode))?)
    }

    /// Sets the permission bits of `name` (a path relative to this directory).
    pub fn chmod_at<N: Arg>(&self, name: N, mode: u32) -> io::Result<()> {
        Ok(rfs::chmodat(
            &self.fd,
            name,
            Mode::from_bits_truncate(mode),
            AtFlags::empty(),
        )?)
    }
}

impl Stat {
    /// The kind of entry this status describes.
    pub fn kind(&self) -> Kind {
        match self.mode & libc::S_IFMT {
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFREG => Kind::File,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Special,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn lists_stats_links_and_never_follows() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/f"), b"hello").unwrap();
        std::os::unix::fs::symlink("sub", root.join("link")).unwrap();
        let name = std::ffi::OsStr::from_bytes(b"\xffodd");
        std::fs::write(root.join(name), b"").unwrap();

        let dir = Dir::open(root).unwrap();
        let mut entries: Vec<(Vec<u8>, Kind)> = dir
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.name_bytes().to_vec(), e.kind))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            entries,
            vec![
                (b"link".to_vec(), Kind::Symlink),
                (b"sub".to_vec(), Kind::Dir),
                (b"\xffodd".to_vec(), Kind::File),
            ]
        );
        assert_eq!(dir.read_link(c"link").unwrap(), b"sub");
        assert_eq!(dir.lstat(c"link").unwrap().kind(), Kind::Symlink);
        assert!(dir.open_at(c"link").is_err(), "a symlink is never entered");

        let sub = dir.open_at(c"sub").unwrap();
        let st = sub.lstat(c"f").unwrap();
        assert!(st.is_file());
        assert_eq!(st.size, 5);
        dir.mkdir(c"new", 0o755).unwrap();
        let new = dir.open_at(&b"new"[..]).unwrap();
        new.hard_link(c"g", Some(&sub), c"f").unwrap();
        assert_eq!(std::fs::read(root.join("new/g")).unwrap(), b"hello");
        assert_eq!(sub.lstat(c"f").unwrap().ino, new.lstat(c"g").unwrap().ino);
        new.hard_link(&b"h"[..], None, root.join("sub/f").as_path())
            .unwrap();
        assert_eq!(std::fs::read(root.join("new/h")).unwrap(), b"hello");
        new.symlink(&b"../sub"[..], &b"s"[..]).unwrap();
        assert_eq!(new.read_link(c"s").unwrap(), b"../sub");
        use std::io::Write;
        new.create_file(c"w", 0o444)
            .unwrap()
            .write_all(b"x")
            .unwrap();
        assert!(
            new.create_file(c"w", 0o444).is_err(),
            "never replaces a file"
        );
        new.chmod(0o555).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("new"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o555);
    }
}
