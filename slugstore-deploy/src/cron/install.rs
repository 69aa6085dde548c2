//! `slug cron install`: what starts `slug cron run` every minute.
//!
//! `slug cron run` decides itself what is due, so the system scheduler only has to start it once a
//! minute: one crontab line, or a systemd service (oneshot) with a timer on every minute. The units
//! name the binary, the store and the environment (or target) by absolute path, so they work from any
//! working directory. With systemd a run still going at the next minute delays that minute's start
//! (systemd never starts a second instance of a service); crontab starts one every minute regardless,
//! and the per-job locks keep each job to one run at a time either way.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{IoResultExt, Result};
use slugstore::fsutil;

/// Where `slug cron run` finds the crons: an environment by name, or a target directory.
#[derive(Debug, Clone)]
pub enum Scope {
    /// `--env NAME`.
    Env(String),
    /// `--target DIR` (absolute).
    Target(PathBuf),
}

impl Scope {
    /// Environment `name` of the store at `store`, which must define it.
    pub fn env(store: &Path, name: &str) -> Result<Scope> {
        crate::environment::destination(store, name)?;
        Ok(Scope::Env(name.to_owned()))
    }

    /// The target directory `dir`, which must exist (made absolute).
    pub fn target(dir: &Path) -> Result<Scope> {
        Ok(Scope::Target(dir.canonicalize().at(dir)?))
    }
}

/// The scheduler's files for one environment or target.
#[derive(Debug, Clone, Serialize)]
pub struct Units {
    /// The unit names' stem: `slug-cron-ENV` (or `slug-cron-DIRNAME` for a target).
    pub name: String,
    /// The command line, shell-quoted.
    pub command: String,
    /// The crontab line (for `crontab -e`).
    pub crontab: String,
    /// `NAME.service`.
    pub service: String,
    /// `NAME.timer`.
    pub timer: String,
}

/// [`units`] for the store at `store`, which must exist (made absolute).
pub fn units_in(bin: &Path, store: &Path, scope: &Scope) -> Result<Units> {
    let store = store.canonicalize().at(store)?;
    Ok(units(bin, &store, scope))
}

/// The units that run `slug` (the binary at `bin`) on the store at `store` for `scope` every minute.
pub fn units(bin: &Path, store: &Path, scope: &Scope) -> Units {
    let mut args = vec![
        bin.display().to_string(),
        "--store".to_owned(),
        store.display().to_string(),
        "--quiet".to_owned(),
        "cron".to_owned(),
        "run".to_owned(),
    ];
    let (label, what) = match scope {
        Scope::Env(name) => {
            args.extend(["--env".to_owned(), name.clone()]);
            (name.clone(), format!("environment {name}"))
        }
        Scope::Target(dir) => {
            args.extend(["--target".to_owned(), dir.display().to_string()]);
            let base = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "target".to_owned());
            (base, format!("target {}", dir.display()))
        }
    };
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("slug-cron-{label}");
    let shell: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    let command = shell.join(" ");
    let exec: Vec<String> = args.iter().map(|a| systemd_quote(a)).collect();
    Units {
        crontab: format!("* * * * * {command}\n"),
        service: format!(
            "[Unit]\nDescription=slugstore crons of {what}\n\n[Service]\nType=oneshot\nExecStart={}\n",
            exec.join(" ")
        ),
        timer: format!(
            "[Unit]\nDescription=Every minute: slugstore crons of {what}\n\n[Timer]\n\
             OnCalendar=*-*-* *:*:00\nAccuracySec=1s\nUnit={name}.service\n\n[Install]\nWantedBy=timers.target\n"
        ),
        command,
        name,
    }
}

/// Writes `NAME.service` and `NAME.timer` into `dir` (each atomically); returns their paths.
pub fn write_systemd(units: &Units, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (ext, text) in [("service", &units.service), ("timer", &units.timer)] {
        let path = dir.join(format!("{}.{ext}", units.name));
        fsutil::write_atomic(&path, text.as_bytes())?;
        out.push(path);
    }
    Ok(out)
}

/// `arg` as `sh` reads it back: bare when it is plain, else in single quotes.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// `arg` as systemd's `ExecStart=` reads it back: in double quotes with `\`, `"` and `%` escaped.
fn systemd_quote(arg: &str) -> String {
    let escaped = arg
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_name_everything_by_absolute_path_and_quote_it() {
        let u = units(
            Path::new("/usr/local/bin/slug"),
            Path::new("/srv/it's store"),
            &Scope::Env("production".into()),
        );
        assert_eq!(u.name, "slug-cron-production");
        assert_eq!(
            u.crontab,
            "* * * * * /usr/local/bin/slug --store '/srv/it'\\''s store' --quiet cron run --env production\n"
        );
        assert!(u.service.contains(
            "ExecStart=\"/usr/local/bin/slug\" \"--store\" \"/srv/it's store\" \"--quiet\" \"cron\" \"run\" \"--env\" \"production\"\n"
        ), "{}", u.service);
        assert!(u.timer.contains("OnCalendar=*-*-* *:*:00\n"), "{}", u.timer);
        assert!(u.timer.contains("Unit=slug-cron-production.service\n"));
        let t = units(
            Path::new("/bin/slug"),
            Path::new("/s"),
            &Scope::Target("/srv/app 1".into()),
        );
        assert_eq!(t.name, "slug-cron-app_1");
        assert!(
            t.command.ends_with("--target '/srv/app 1'"),
            "{}",
            t.command
        );
    }
}
