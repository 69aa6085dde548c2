//! Global options and what every command needs from them: the store, output mode, progress bars.

use std::io::IsTerminal;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use slugstore::store::{Compression, OpenOptions, DEFAULT_DIR};
use slugstore::Store;

use crate::hint;
use crate::progress::Bars;

/// Options accepted by every command.
#[derive(clap::Args)]
pub struct Global {
    /// The store directory.
    #[arg(long, global = true, env = "SLUGSTORE_DIR", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars, no messages on stderr (errors still print).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Wait at most this many seconds for another slug process to release the store (default: as long
    /// as it runs; a process that dies releases the store at once).
    #[arg(long, global = true, value_name = "SECONDS", value_parser = slugstore::units::parse_seconds)]
    pub lock_timeout: Option<Duration>,
    /// How new file contents are stored: a zstd level from -7 to 19 (default 3), or `off`. Lower
    /// levels write faster and store more; on the benchmark tree (555 MB of new content) level 3
    /// stores 255 MB, 1 259 MB, -1 274 MB, off 553 MB. Objects already stored keep their encoding.
    #[arg(
        long,
        global = true,
        env = "SLUG_COMPRESSION",
        value_name = "LEVEL|off"
    )]
    pub compression: Option<Compression>,
}

/// What commands run with.
pub struct Context {
    pub global: Global,
    pub bars: Bars,
}

impl Context {
    pub fn new(global: Global) -> Context {
        let show = !global.quiet && !global.json && std::io::stderr().is_terminal();
        Context {
            bars: Bars::new(show),
            global,
        }
    }

    /// The store path and whether the user chose it.
    pub fn store_path(&self) -> (PathBuf, bool) {
        match &self.global.store {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from(DEFAULT_DIR), false),
        }
    }

    fn open_options(&self) -> OpenOptions<'_> {
        OpenOptions {
            lock_timeout: self.global.lock_timeout,
            compression: self.global.compression.unwrap_or_default(),
            // Said once when the store is locked; --quiet silences it as it does every note.
            on_wait: if self.global.quiet {
                &|_| {}
            } else {
                &|p| {
                    eprintln!(
                        "slug: waiting for another slug process to release the store lock ({})",
                        p.display()
                    )
                }
            },
            ..OpenOptions::default()
        }
    }

    /// Opens the store.
    pub fn open(&self) -> slugstore::Result<Store> {
        Store::open(&self.store_path().0, &self.open_options())
    }

    /// Opens the store for a command that writes nothing to its index (faster to open).
    pub fn open_read_only(&self) -> slugstore::Result<Store> {
        let opts = OpenOptions {
            read_only: true,
            ..self.open_options()
        };
        Store::open(&self.store_path().0, &opts)
    }

    /// Opens the store, creating it first when it is the default one and absent.
    pub fn open_or_init(&self) -> slugstore::Result<Store> {
        self.open_or_init_with(&self.open_options())
    }

    /// As [`Context::open_or_init`], but fails at once with [`slugstore::Error::Locked`] (saying nothing) when
    /// another process holds the store.
    pub fn try_open_or_init(&self) -> slugstore::Result<Store> {
        self.open_or_init_with(&OpenOptions {
            lock_timeout: Some(Duration::ZERO),
            on_wait: &|_| {},
            ..self.open_options()
        })
    }

    fn open_or_init_with(&self, opts: &OpenOptions<'_>) -> slugstore::Result<Store> {
        let (path, chosen) = self.store_path();
        if chosen {
            return Store::open(&path, opts);
        }
        let (store, created) = Store::open_or_init(&path, opts)?;
        if created {
            self.note(&format!("initialized a new store in {}", path.display()));
        }
        Ok(store)
    }

    /// Creates a store.
    pub fn init(&self) -> slugstore::Result<Store> {
        Store::init(&self.store_path().0, &self.open_options())
    }

    /// A message for humans on stderr (not with --quiet or --json).
    pub fn note(&self, msg: &str) {
        if !self.global.quiet && !self.global.json {
            eprintln!("{msg}");
        }
    }

    /// Prints an error with its causes.
    pub fn report_error(&self, e: &slugstore_deploy::Error) {
        let mut msg = format!("slug: error: {}", hint::message(e));
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            let s_text = hint::cause(s);
            if !msg.contains(&s_text) {
                msg.push_str(&format!(": {s_text}"));
            }
            src = s.source();
        }
        // A reader that went away (a closed pipe) must not turn an error into a panic.
        if self.global.json {
            let json = serde_json::json!({ "error": msg.trim_start_matches("slug: error: ") });
            let _ = writeln!(std::io::stdout(), "{json}");
        }
        let _ = writeln!(std::io::stderr(), "{msg}");
    }

    /// Prints `value` as JSON.
    pub fn print_json<T: serde::Serialize>(&self, value: &T) {
        out!(
            "{}",
            serde_json::to_string_pretty(value).expect("reports serialize")
        );
    }
}
