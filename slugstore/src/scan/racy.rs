//! Which files and directories a scan may record for the next scan to trust without reading them.
//!
//! The stat cache trusts a file whose size, times and inode are those recorded, and a directory
//! listing whose directory's inode, times and mode are. The hole is a change in the same timestamp
//! tick as the stat that recorded it: the times would not move. So an entry modified shortly before
//! the scan started is not recorded (it is read again next time).
//!
//! How short is "shortly" depends on the filesystem. ext4, XFS, Btrfs and tmpfs stamp times with
//! nanoseconds from a kernel clock that ticks every few milliseconds, so [`FINE_MARGIN`] covers a tick
//! with room to spare; this needs the entry's ctime (set by the kernel, never by a user call) to carry
//! a sub-second part, which an ext4 without room for nanoseconds in its inodes does not. Everywhere
//! else (FAT's 2-second times, a network filesystem stamped by another machine's clock)
//! [`COARSE_MARGIN`] applies. A scan right after a build thus trusts nearly all of the build's output
//! on the next run, not only what was written more than two seconds before it.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// The margin on filesystems with fine-grained times.
pub const FINE_MARGIN: Duration = Duration::from_millis(50);
/// The margin elsewhere.
pub const COARSE_MARGIN: Duration = Duration::from_secs(2);

/// The racy bounds of one scan (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Racy {
    fine_ns: i128,
    coarse_ns: i128,
}

impl Racy {
    /// The bounds of a scan of `root` that started at `start`.
    pub fn at(start: SystemTime, root: &Path) -> Racy {
        let coarse_ns = ns_before(start, COARSE_MARGIN);
        let fine_ns = match fine_grained(root) {
            true => ns_before(start, FINE_MARGIN),
            false => coarse_ns,
        };
        Racy { fine_ns, coarse_ns }
    }

    /// One bound for everything: entries modified at or after `ns` (since the epoch) are not
    /// recorded.
    #[cfg(test)]
    pub(crate) fn before(ns: i128) -> Racy {
        Racy {
            fine_ns: ns,
            coarse_ns: ns,
        }
    }

    /// True when an entry with these times may be recorded.
    pub fn settled(&self, mtime_ns: i128, ctime_ns: i128) -> bool {
        let bound = match ctime_ns.rem_euclid(1_000_000_000) {
            0 => self.coarse_ns,
            _ => self.fine_ns,
        };
        mtime_ns < bound
    }
}

/// Nanoseconds since the epoch of `margin` before `t`.
pub fn ns_before(t: SystemTime, margin: Duration) -> i128 {
    t.checked_sub(margin)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// True when `root` is on a local filesystem that stamps times in nanoseconds.
fn fine_grained(root: &Path) -> bool {
    let Ok(fs) = rustix::fs::statfs(root) else {
        return false;
    };
    let fine = [
        libc::EXT4_SUPER_MAGIC,
        libc::XFS_SUPER_MAGIC,
        libc::BTRFS_SUPER_MAGIC,
        libc::TMPFS_MAGIC,
    ];
    fine.contains(&fs.f_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_second_ctimes_get_the_fine_margin_whole_seconds_the_coarse_one() {
        let r = Racy {
            fine_ns: 10_000_000_000,
            coarse_ns: 8_000_000_000,
        };
        // Modified at 9.5 s: settled when the filesystem keeps nanoseconds, not otherwise.
        assert!(r.settled(9_500_000_000, 9_500_000_001));
        assert!(!r.settled(9_000_000_000, 9_000_000_000));
        assert!(r.settled(7_000_000_000, 9_000_000_000));
        assert!(!r.settled(10_000_000_000, 10_000_000_001));
        assert!(!Racy::before(5).settled(5, 7));
        assert!(Racy::before(5).settled(4, 7));
    }

    #[test]
    fn a_temporary_directory_here_gets_a_margin_for_its_filesystem() {
        let tmp = tempfile::tempdir().unwrap();
        let start = SystemTime::now();
        let r = Racy::at(start, tmp.path());
        assert_eq!(r.coarse_ns, ns_before(start, COARSE_MARGIN));
        let fine = ns_before(start, FINE_MARGIN);
        assert_eq!(r.fine_ns == fine, fine_grained(tmp.path()));
        assert!(r.fine_ns >= r.coarse_ns);
    }
}
