//! Patches: an object sent as its difference from another object the remote already holds.
//!
//! A slug's manifest lists every file of the build with its 32-byte hash: 5 MB for a 100k-file tree,
//! 4 MB of it incompressible. The next build's manifest differs in a percent of its entries, so after
//! a 1% churn the manifest would be half the bytes a push sends. Push therefore sends it as a zstd frame
//! compressed with the previous manifest as its reference prefix (zstd's "patch-from", with long-distance
//! matching to find the shifted runs): about 70 KB instead of 4 MB.
//!
//! A patch record (codec [`Codec::Patch`]) stores the base's id, then the frame. Patches exist only in
//! remote packs and only one deep: push picks a base that the remote holds whole, and whoever fetches a
//! patch decodes it against the base (from the local store, or fetched whole from the remote) and
//! stores the object like any other, so a local store never holds a patch.

use zstd::zstd_safe::{CCtx, CParameter, DCtx, DParameter};

use crate::error::{Error, Result};
use crate::id::ObjectId;
#[cfg(doc)]
use crate::store::pack::Codec;

/// zstd level of patches: long-distance matching finds the unchanged runs; a higher level finds
/// little more in 32-byte hashes.
const LEVEL: i32 = 1;

/// The largest window zstd decoders accept by default (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`): the base
/// and the object together must fit in it.
const MAX_WINDOW_LOG: u32 = 27;

/// The window log that covers `base_len + len` bytes, or `None` past [`MAX_WINDOW_LOG`].
fn window_log(base_len: usize, len: usize) -> Option<u32> {
    let span = (base_len + len).max(1 << 10);
    let log = usize::BITS - (span - 1).leading_zeros();
    (log <= MAX_WINDOW_LOG).then_some(log)
}

/// Whether an object of `len` bytes can be patched against a base of `base_len` bytes.
pub fn fits(base_len: u64, len: u64) -> bool {
    match (usize::try_from(base_len), usize::try_from(len)) {
        (Ok(b), Ok(l)) => window_log(b, l).is_some(),
        _ => false,
    }
}

/// The stored bytes of a patch record: `base_id` and `data` compressed against `base`.
pub fn encode(base_id: &ObjectId, base: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let log = window_log(base.len(), data.len()).ok_or(Error::PatchTooLarge)?;
    let zstd = |e: usize| Error::Patch(zstd::zstd_safe::get_error_name(e).to_owned());
    let mut c = CCtx::create();
    c.set_parameter(CParameter::CompressionLevel(LEVEL))
        .map_err(zstd)?;
    c.set_parameter(CParameter::WindowLog(log)).map_err(zstd)?;
    c.set_parameter(CParameter::EnableLongDistanceMatching(true))
        .map_err(zstd)?;
    c.set_parameter(CParameter::ChecksumFlag(false))
        .map_err(zstd)?;
    c.ref_prefix(base).map_err(zstd)?;
    let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
    c.compress2(&mut frame, data).map_err(zstd)?;
    let mut out = Vec::with_capacity(32 + frame.len());
    out.extend_from_slice(base_id.as_bytes());
    out.extend_from_slice(&frame);
    Ok(out)
}

/// The base a patch record's stored bytes name, or `None` when they are too short to be a patch.
pub fn base_of(stored: &[u8]) -> Option<ObjectId> {
    ObjectId::from_slice(stored.get(..32)?)
}

/// Decodes the stored bytes of patch record `id` against `base` (the bytes of [`base_of`]) into
/// `out`, at most `raw_len` bytes. The caller checks the result's hash.
pub fn decode(
    id: &ObjectId,
    stored: &[u8],
    base: &[u8],
    raw_len: u64,
    out: &mut Vec<u8>,
) -> Result<()> {
    let corrupt = |detail: String| Error::Corrupt { id: *id, detail };
    let cap = usize::try_from(raw_len).map_err(|_| corrupt("too large for a patch".into()))?;
    let log = window_log(base.len(), cap).ok_or_else(|| corrupt("too large for a patch".into()))?;
    let frame = stored
        .get(32..)
        .ok_or_else(|| corrupt("patch shorter than its base id".into()))?;
    let zstd = |e: usize| {
        corrupt(format!(
            "zstd patch: {}",
            zstd::zstd_safe::get_error_name(e)
        ))
    };
    let mut d = DCtx::create();
    d.set_parameter(DParameter::WindowLogMax(log))
        .map_err(zstd)?;
    d.ref_prefix(base).map_err(zstd)?;
    out.clear();
    out.reserve_exact(cap);
    d.decompress(out, frame).map_err(zstd)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize, salt: &str) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                format!(
                    "entry {i:06} {}\n",
                    blake3::hash(format!("{salt}{i}").as_bytes())
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn a_patch_round_trips_and_is_small_against_a_close_base() {
        let base = lines(20_000, "");
        let mut next = base.clone();
        // Change 1% of the lines' hashes and drop a few, as a churned manifest does.
        let step = 100 * 79;
        for at in (0..next.len() - 80).step_by(step) {
            next[at + 20] ^= 1;
        }
        next.drain(5_000..5_079);
        let base_id = ObjectId::hash(&base);
        let id = ObjectId::hash(&next);
        let stored = encode(&base_id, &base, &next).unwrap();
        assert_eq!(base_of(&stored), Some(base_id));
        assert!(stored.len() < next.len() / 20, "{} bytes", stored.len());
        let mut out = Vec::new();
        decode(&id, &stored, &base, next.len() as u64, &mut out).unwrap();
        assert_eq!(out, next);
    }

    #[test]
    fn the_wrong_base_or_a_damaged_frame_does_not_decode_to_the_object() {
        let base = lines(2_000, "");
        let next = lines(2_000, "x");
        let id = ObjectId::hash(&next);
        let stored = encode(&ObjectId::hash(&base), &base, &next).unwrap();
        let mut out = Vec::new();
        let other = lines(2_000, "y");
        let decoded = decode(&id, &stored, &other, next.len() as u64, &mut out);
        assert!(decoded.is_err() || out != next);
        let mut damaged = stored.clone();
        damaged.truncate(stored.len() - 9);
        assert!(decode(&id, &damaged, &base, next.len() as u64, &mut out).is_err());
        assert!(decode(&id, &stored[..20], &base, next.len() as u64, &mut out).is_err());
    }

    #[test]
    fn window_covers_base_and_object() {
        assert_eq!(window_log(5 << 20, 5 << 20), Some(24));
        assert_eq!(window_log(0, 0), Some(10));
        assert!(fits(60 << 20, 60 << 20));
        assert!(!fits(100 << 20, 100 << 20));
    }
}
