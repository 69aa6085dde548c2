//! Progress reporting, decoupled from any terminal library.
//!
//! Long operations take a `&dyn ProgressBars` and ask it for bars; the CLI hands in one backed by
//! `indicatif`, embedders hand in [`NoProgress`] or their own.

/// One progress indicator.
pub trait Progress: Send + Sync {
    /// Sets the total (units or bytes).
    fn set_length(&self, len: u64);
    /// Advances by `n`.
    fn inc(&self, n: u64);
    /// Marks it done.
    fn finish(&self);
}

/// A factory of progress indicators.
pub trait ProgressBars: Sync {
    /// A bar counting items (files, objects).
    fn counter(&self, prefix: &str) -> Box<dyn Progress>;
    /// A bar counting bytes.
    fn bytes(&self, prefix: &str) -> Box<dyn Progress>;
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_length(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

impl ProgressBars for NoProgress {
    fn counter(&self, _: &str) -> Box<dyn Progress> {
        Box::new(NoProgress)
    }
    fn bytes(&self, _: &str) -> Box<dyn Progress> {
        Box::new(NoProgress)
    }
}
