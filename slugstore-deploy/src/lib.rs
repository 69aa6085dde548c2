//! slugstore-deploy: deploys of a Magento Cloud project, phase by phase, on top of the [`slugstore`]
//! core.
//!
//! The core crate stores, restores and switches slugs of any tree; it knows nothing of Magento. This
//! crate is what makes a slug a deploy of a Magento Cloud project: it reads the project's YAML files
//! ([`config`]), runs the platform's phases against a target directory ([`deploy`]), keeps named
//! environments ([`environment`]) and their history ([`status`]), and runs the crons ([`cron`]). It tells
//! the core what the project declares: the mounts left out of a snapshot
//! ([`layout::snapshot_excludes`]) and materialized as links into the target's storage
//! ([`layout::MagentoLayout`]), and the build refs a prune may drop ([`builds`]).
//!
//! ```
//! use slugstore::store::OpenOptions;
//! use slugstore::{NoProgress, Store};
//! use slugstore_deploy::deploy::{deploy, DeployOptions, Source};
//! use slugstore_deploy::environment::Destination;
//!
//! # fn main() -> slugstore_deploy::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let app = dir.path().join("app");
//! std::fs::create_dir_all(app.join("pub")).unwrap();
//! std::fs::write(app.join("pub/index.php"), "<?php echo 'hello';").unwrap();
//! std::fs::write(
//!     app.join(".magento.app.yaml"),
//!     "name: shop\ntype: php:8.3\ndisk: 2048\n\
//!      mounts:\n  var: {source: local, source_path: var}\n\
//!      hooks:\n  build: echo built > pub/version.txt\n",
//! )
//! .unwrap();
//! std::fs::create_dir_all(app.join(".magento")).unwrap();
//! std::fs::write(app.join(".magento/services.yaml"), "").unwrap();
//! std::fs::write(app.join(".magento/routes.yaml"), "\"https://{default}/\":\n  type: upstream\n  upstream: shop:http\n").unwrap();
//!
//! let store = Store::init(&dir.path().join("store"), &OpenOptions::default())?;
//! let target = dir.path().join("www");
//! let record = deploy(
//!     &store,
//!     &Source::Dir(app),
//!     &Destination::dir(&target),
//!     &DeployOptions::default(),
//!     &|_| {},
//!     &NoProgress,
//! )?;
//! assert!(record.slug.is_some());
//! // The application sees its build output through `current/`, and `var` is a writable mount.
//! assert_eq!(std::fs::read_to_string(target.join("current/pub/version.txt")).unwrap(), "built\n");
//! std::fs::write(target.join("current/var/log.txt"), "ok").unwrap();
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod builds;
pub mod config;
pub mod cron;
pub mod deploy;
pub mod diagnostic;
pub mod environment;
pub mod error;
pub mod layout;
pub mod overview;
pub mod phase;
pub mod schedule;
pub mod status;

pub use error::{Error, Result};
