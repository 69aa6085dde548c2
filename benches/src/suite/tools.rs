//! Finding the peer tools on `PATH`, and saying how to install the missing ones.

use std::path::{Path, PathBuf};

/// A program a backend needs, and how to install it.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// Program name looked up on `PATH`, or a path.
    pub program: String,
    /// The command that installs it, e.g. `apt-get install restic`.
    pub install: String,
}

impl Requirement {
    /// `program`, from Debian package `package`.
    pub fn apt(program: impl Into<String>, package: &str) -> Self {
        Requirement {
            program: program.into(),
            install: format!("apt-get install {package}"),
        }
    }
}

/// The full path of `program` on `PATH`, if it is there and executable.
pub fn find(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return is_executable(Path::new(program)).then(|| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `None` when every requirement is met, else the message for the first missing one, e.g.
/// `restic: not installed, skipped (apt-get install restic)`.
pub fn missing(reqs: &[Requirement]) -> Option<String> {
    reqs.iter()
        .find(|r| find(&r.program).is_none())
        .map(|r| format!("{}: not installed, skipped ({})", r.program, r.install))
}
