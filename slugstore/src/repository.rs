//! The store as the one entry point: every operation as a method of [`Store`].
//!
//! Each operation lives in its own module with its options and report ([`mod@crate::snapshot`],
//! [`mod@crate::restore`], [`crate::checkout`], [`crate::remote`], ...), where its design is explained;
//! this module only gathers them on the type an embedder already holds, so that
//! `store.snapshot(...)`, `store.checkout(...)` and `store.push(...)` read as one API. The free
//! functions stay: they are what these methods call.
//!
//! Nothing here depends on anything but the operations, and no operation depends on this module, so
//! it sits on top of the crate's layers.

use std::path::Path;

use crate::archive::{ExportOptions, ExportReport, ImportOptions, ImportReport};
use crate::checkout::{CheckoutOptions, CheckoutReport, ReleaseLayout};
use crate::diff::DiffReport;
use crate::error::Result;
use crate::gc::{GcOptions, GcReport};
use crate::id::SlugId;
use crate::progress::ProgressBars;
use crate::prune::{PruneOptions, PruneReport};
use crate::remote::config::NamedRemote;
use crate::remote::{PullReport, PushReport};
use crate::restore::{RestoreOptions, RestoreReport};
use crate::snapshot::{SnapshotOptions, SnapshotReport};
use crate::store::Store;
use crate::verify::{VerifyOptions, VerifyReport};

impl Store {
    /// Records `tree` as a slug ([`crate::snapshot()`]).
    pub fn snapshot(
        &self,
        tree: &Path,
        opts: &SnapshotOptions,
        bars: &dyn ProgressBars,
    ) -> Result<SnapshotReport> {
        crate::snapshot::snapshot(self, tree, opts, bars)
    }

    /// Writes slug `id` into `dest`, bit-exact ([`crate::restore()`]).
    pub fn restore(
        &self,
        id: &SlugId,
        dest: &Path,
        opts: &RestoreOptions,
        bars: &dyn ProgressBars,
    ) -> Result<RestoreReport> {
        crate::restore::restore(self, id, dest, opts, bars)
    }

    /// Materializes slug `id` as a release of the deploy target at `target`
    /// ([`crate::checkout::checkout()`]); `layout` says where its mounts are.
    pub fn checkout(
        &self,
        target: &Path,
        id: &SlugId,
        opts: &CheckoutOptions,
        layout: &dyn ReleaseLayout,
        bars: &dyn ProgressBars,
    ) -> Result<CheckoutReport> {
        crate::checkout::checkout(self, target, id, opts, layout, bars)
    }

    /// What differs between two slugs ([`crate::diff()`]).
    pub fn diff(&self, from: &SlugId, to: &SlugId) -> Result<DiffReport> {
        crate::diff::diff(self, from, to)
    }

    /// Checks every object and slug against its hash ([`crate::verify()`]).
    pub fn verify(&self, opts: &VerifyOptions, bars: &dyn ProgressBars) -> Result<VerifyReport> {
        crate::verify::verify(self, opts, bars)
    }

    /// Forgets the slugs a keep policy lets go ([`crate::prune()`]).
    pub fn prune(&self, opts: &PruneOptions) -> Result<PruneReport> {
        crate::prune::prune(self, opts)
    }

    /// Deletes the objects no slug needs ([`crate::gc()`]).
    pub fn gc(&self, opts: &GcOptions) -> Result<GcReport> {
        crate::gc::gc(self, opts)
    }

    /// Writes slug `id` as a tar archive at `path` ([`crate::archive::export_to_path`]).
    pub fn export(
        &self,
        id: &SlugId,
        path: &Path,
        opts: &ExportOptions,
        bars: &dyn ProgressBars,
    ) -> Result<ExportReport> {
        crate::archive::export_to_path(self, id, path, opts, bars)
    }

    /// Records the tar archive at `path` as a slug ([`crate::archive::import_path`]).
    pub fn import(
        &self,
        path: &Path,
        opts: &ImportOptions,
        bars: &dyn ProgressBars,
    ) -> Result<ImportReport> {
        crate::archive::import_path(self, path, opts, bars)
    }

    /// Sends the slug named `slug` to the remote called `remote` (the default one when `None`)
    /// ([`crate::remote::push_named`]).
    pub fn push(
        &self,
        slug: &str,
        remote: Option<&str>,
        bars: &dyn ProgressBars,
    ) -> Result<(NamedRemote, PushReport)> {
        crate::remote::push_named(self, slug, remote, bars)
    }

    /// Fetches the slug named `slug` from the remote called `remote`, setting `local_ref`
    /// ([`crate::remote::pull_named`]).
    pub fn pull(
        &self,
        remote: &str,
        slug: &str,
        local_ref: Option<&str>,
        bars: &dyn ProgressBars,
    ) -> Result<(NamedRemote, PullReport)> {
        crate::remote::pull_named(self, remote, slug, local_ref, bars)
    }
}
