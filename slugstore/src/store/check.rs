//! Whole-pack checks: a pack's name is the BLAKE3 of its bytes, so re-hashing it finds damage anywhere
//! in the file — including bytes no object read looks at (the pack header, or the few bytes of a zstd
//! frame header that do not change what the frame decodes to).

use std::fs::File;

use crate::error::{Error, IoResultExt, Result};
use crate::id::ObjectId;
use crate::store::pack::pack_path;
use crate::store::Store;

impl Store {
    /// Re-hashes pack `id` and fails, naming the file, if its bytes no longer hash to its name.
    /// Returns the pack's size.
    pub fn check_pack(&self, id: &ObjectId) -> Result<u64> {
        let path = pack_path(&self.packs_dir(), id);
        let file = File::open(&path).at(&path)?;
        // Streamed, not mapped: mapped pages would count toward the resident set of a full verify.
        let mut hasher = blake3::Hasher::new();
        let len = std::io::copy(
            &mut std::io::BufReader::with_capacity(1 << 20, file),
            &mut hasher,
        )
        .at(&path)?;
        let got = ObjectId::from(hasher.finalize());
        if got != *id {
            return Err(Error::format(
                path.display().to_string(),
                format!("damaged pack: its bytes hash to {}", got.short(16)),
            ));
        }
        Ok(len)
    }
}
