//! Running a hook script: `sh -c SCRIPT`, its output streamed line by line into the deploy log.
//!
//! The platform runs hooks through the shell, so a hook fails when its last command fails, or at the
//! first failing command when the script starts with `set -e`: passing the script to `sh -c` unchanged
//! gives exactly those semantics. Output is read from both pipes as it comes and each line is recorded
//! at once, so a long build shows progress live and a killed deploy still has its log up to the last line.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

pub use crate::deploy::platform::Mode;
use crate::error::{Error, Result};
use crate::status::{Phase, Recorder};

/// A hook to run.
pub struct Hook<'a> {
    /// Its name in messages (`hooks.build`).
    pub name: &'a str,
    /// The script.
    pub script: &'a str,
    /// Working directory.
    pub cwd: &'a Path,
    /// Variables added to the inherited environment.
    pub env: &'a [(String, String)],
}

/// Runs `hook`, recording its output under `phase`. Fails when the script exits non-zero or is killed.
pub fn run(hook: &Hook<'_>, phase: Phase, rec: &Recorder<'_>) -> Result<()> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(hook.script)
        .current_dir(hook.cwd)
        .envs(hook.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            program: hook.name.to_owned(),
            cwd: Some(hook.cwd.to_path_buf()),
            source,
        })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let (out, err) = std::thread::scope(|s| {
        let out = s.spawn(|| forward(stdout, phase, rec));
        let err = forward(stderr, phase, rec);
        (out.join().expect("output reader does not panic"), err)
    });
    let status = child.wait().map_err(|source| Error::Wait {
        program: hook.name.to_owned(),
        source,
    })?;
    out?;
    err?;
    if status.success() {
        return Ok(());
    }
    Err(Error::HookFailed {
        hook: hook.name.to_owned(),
        code: status.code(),
    })
}

/// Records each line read from `pipe` (bytes that are not UTF-8 are replaced).
fn forward(pipe: impl Read, phase: Phase, rec: &Recorder<'_>) -> Result<()> {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                rec.line(phase, text.trim_end_matches(['\n', '\r']))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::HookOutput(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{list, log_path};

    fn run_script(script: &str) -> (Result<()>, String) {
        let dir = tempfile::tempdir().unwrap();
        let observer = |_: crate::status::Event<'_>| {};
        let rec = Recorder::create(dir.path(), "test", &observer).unwrap();
        let env = [("HOOK_VAR".to_owned(), "from-config".to_owned())];
        let hook = Hook {
            name: "hooks.test",
            script,
            cwd: dir.path(),
            env: &env,
        };
        let result = run(&hook, Phase::Build, &rec);
        let id = &list(dir.path()).unwrap()[0];
        (result, fs_read(&log_path(dir.path(), id)))
    }

    fn fs_read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn a_hook_fails_on_its_last_command_or_any_command_under_set_e() {
        let (r, _) = run_script("false\ntrue");
        assert!(r.is_ok(), "only the last command decides: {r:?}");
        let (r, _) = run_script("true\nfalse");
        assert!(r.unwrap_err().to_string().contains("exited with status 1"));
        let (r, log) = run_script("set -e\nfalse\necho not-reached");
        assert!(r.is_err());
        assert!(!log.contains("not-reached"), "{log}");
    }

    #[test]
    fn both_streams_are_logged_line_by_line_with_the_phase() {
        let (r, log) = run_script("echo \"out $HOOK_VAR\"; echo err >&2; printf 'no newline'");
        r.unwrap();
        assert!(log.contains("[build] out from-config\n"), "{log}");
        assert!(log.contains("[build] err\n"), "{log}");
        assert!(log.contains("[build] no newline\n"), "{log}");
    }
}
