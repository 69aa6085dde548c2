//! The shape of a real build tree, embedded as data, and its scaled-down variants.
//!
//! `data/bench-shape.json` was measured on a real Magento 2 build tree: file count, log2 size histogram,
//! extensions by count and bytes, depth histogram, for the whole tree (minus mounts) and for `pub/static`
//! alone. The generator reproduces it; scaling keeps the proportions (largest-remainder apportionment,
//! so a small tree still has its few big files and empty files).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The measured shape, as shipped with the crate.
pub const SHAPE_JSON: &str = include_str!("../data/bench-shape.json");

/// Figures of one part of a tree, as in `bench-shape.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct PartShape {
    /// Regular files.
    pub regular_files: u64,
    /// Directories.
    pub directories: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Files with an executable bit.
    pub executable_files: u64,
    /// Sum of regular file sizes.
    pub total_bytes: u64,
    /// Files of size zero.
    pub empty_files: u64,
    /// File count per log2 size bucket, keyed `"0"`, `"1-1"`, `"2-3"`, ...
    pub size_histogram_log2_bytes: BTreeMap<String, u64>,
    /// Files and bytes of the most common extensions (`"(none)"` for no extension).
    pub top_extensions: BTreeMap<String, ExtStat>,
    /// File count per path depth (number of path components below the part's root).
    pub file_depth_histogram: BTreeMap<String, u64>,
}

/// Files and bytes of one extension.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ExtStat {
    /// Number of files.
    pub files: u64,
    /// Sum of their sizes.
    pub bytes: u64,
}

/// The whole measured shape.
#[derive(Debug, Clone, Deserialize)]
pub struct BenchShape {
    /// The tree minus the four mounts (`var`, `app/etc`, `pub/media`, `pub/static`).
    pub slug_tree_excluding_mounts: PartShape,
    /// `pub/static` alone.
    pub pub_static: PartShape,
}

impl BenchShape {
    /// The shape embedded in the crate.
    pub fn builtin() -> Self {
        serde_json::from_str(SHAPE_JSON).expect("embedded bench-shape.json is valid")
    }
}

/// How big a tree to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// About 5,000 files: for tests and quick runs.
    Small,
    /// About a quarter of the real tree.
    Medium,
    /// The real shape: about 91,500 files, 38,000 directories, 600 MiB.
    Full,
}

impl Size {
    /// Fraction of the real tree's counts.
    pub fn factor(self) -> f64 {
        match self {
            Size::Small => 5_000.0 / 91_514.0,
            Size::Medium => 0.25,
            Size::Full => 1.0,
        }
    }
}

/// One log2 size bucket: sizes in `lo..=hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Smallest size in the bucket.
    pub lo: u64,
    /// Largest size in the bucket.
    pub hi: u64,
}

impl Bucket {
    /// The bucket a size falls in.
    pub fn of(size: u64) -> Bucket {
        if size == 0 {
            return Bucket { lo: 0, hi: 0 };
        }
        let lo = 1u64 << (63 - size.leading_zeros());
        Bucket { lo, hi: lo * 2 - 1 }
    }

    fn parse(key: &str) -> Bucket {
        match key.split_once('-') {
            Some((a, b)) => Bucket {
                lo: a.parse().expect("bucket bound"),
                hi: b.parse().expect("bucket bound"),
            },
            None => {
                let v = key.parse().expect("bucket bound");
                Bucket { lo: v, hi: v }
            }
        }
    }
}

/// A part's shape in the form the generator uses: sorted vectors, with remainders made explicit.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Executable files.
    pub executables: u64,
    /// Total bytes of regular files.
    pub bytes: u64,
    /// Size buckets and their file counts, smallest first.
    pub histogram: Vec<(Bucket, u64)>,
    /// Extensions (with the leading dot, `""` for none, `"*"` for all others) with files and bytes.
    pub extensions: Vec<(String, ExtStat)>,
    /// File depth (components below the part's root) and file count.
    pub depths: Vec<(u32, u64)>,
}

impl Profile {
    /// The profile of a part as measured.
    pub fn of(part: &PartShape) -> Profile {
        let mut histogram: Vec<(Bucket, u64)> = part
            .size_histogram_log2_bytes
            .iter()
            .map(|(k, &v)| (Bucket::parse(k), v))
            .collect();
        histogram.sort_by_key(|(b, _)| b.lo);
        let mut extensions: Vec<(String, ExtStat)> = part
            .top_extensions
            .iter()
            .map(|(k, &v)| {
                (
                    if k == "(none)" {
                        String::new()
                    } else {
                        k.clone()
                    },
                    v,
                )
            })
            .collect();
        let listed_files: u64 = extensions.iter().map(|(_, e)| e.files).sum();
        let listed_bytes: u64 = extensions.iter().map(|(_, e)| e.bytes).sum();
        if part.regular_files > listed_files {
            let rest = ExtStat {
                files: part.regular_files - listed_files,
                bytes: part.total_bytes.saturating_sub(listed_bytes),
            };
            extensions.push(("*".to_string(), rest));
        }
        let mut depths: Vec<(u32, u64)> = part
            .file_depth_histogram
            .iter()
            .map(|(k, &v)| (k.parse().expect("depth"), v))
            .collect();
        depths.sort_unstable();
        Profile {
            files: part.regular_files,
            dirs: part.directories,
            symlinks: part.symlinks,
            executables: part.executable_files,
            bytes: part.total_bytes,
            histogram,
            extensions,
            depths,
        }
    }

    /// The profile scaled by `factor`, proportions kept by largest-remainder apportionment.
    pub fn scaled(&self, factor: f64) -> Profile {
        let scale = |n: u64| (n as f64 * factor).round() as u64;
        let files = scale(self.files).max(1);
        let counts: Vec<u64> = self.histogram.iter().map(|x| x.1).collect();
        let histogram = self
            .histogram
            .iter()
            .map(|x| x.0)
            .zip(apportion(&counts, files))
            .collect();
        let ext_counts: Vec<u64> = self.extensions.iter().map(|x| x.1.files).collect();
        let extensions = self
            .extensions
            .iter()
            .zip(apportion(&ext_counts, files))
            .map(|((name, e), n)| {
                (
                    name.clone(),
                    ExtStat {
                        files: n,
                        bytes: scale(e.bytes),
                    },
                )
            })
            .collect();
        let depth_counts: Vec<u64> = self.depths.iter().map(|x| x.1).collect();
        let depths = self
            .depths
            .iter()
            .map(|x| x.0)
            .zip(apportion(&depth_counts, files))
            .collect();
        Profile {
            files,
            dirs: scale(self.dirs).max(1),
            symlinks: scale(self.symlinks),
            executables: scale(self.executables),
            bytes: scale(self.bytes),
            histogram,
            extensions,
            depths,
        }
    }
}

/// Splits `total` into parts proportional to `weights`, summing exactly to `total` (largest remainder;
/// ties go to the earlier index, so the result is deterministic).
pub fn apportion(weights: &[u64], total: u64) -> Vec<u64> {
    let sum: u64 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights
        .iter()
        .map(|&w| w as f64 * total as f64 / sum as f64)
        .collect();
    let mut out: Vec<u64> = exact.iter().map(|&x| x.floor() as u64).collect();
    let mut left = total - out.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = exact[a] - exact[a].floor();
        let fb = exact[b] - exact[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_and_keeps_proportions() {
        assert_eq!(apportion(&[1, 1, 2], 8), vec![2, 2, 4]);
        assert_eq!(apportion(&[5, 5, 5], 10).iter().sum::<u64>(), 10);
        assert_eq!(apportion(&[0, 0], 3), vec![0, 0]);
    }

    #[test]
    fn builtin_shape_parses_with_remainders_explicit() {
        let shape = BenchShape::builtin();
        let code = Profile::of(&shape.slug_tree_excluding_mounts);
        assert_eq!(code.histogram.iter().map(|x| x.1).sum::<u64>(), 91_514);
        assert_eq!(
            code.extensions.iter().map(|x| x.1.files).sum::<u64>(),
            91_514
        );
        assert_eq!(code.depths.iter().map(|x| x.1).sum::<u64>(), 91_514);
        let small = code.scaled(Size::Small.factor());
        assert_eq!(
            small.histogram.iter().map(|x| x.1).sum::<u64>(),
            small.files
        );
        let big: u64 = small
            .histogram
            .iter()
            .filter(|(b, _)| b.lo >= 1 << 20)
            .map(|x| x.1)
            .sum();
        assert!(big >= 1, "files of a MiB and more survive scaling");
    }

    #[test]
    fn bucket_of_size() {
        assert_eq!(Bucket::of(0), Bucket { lo: 0, hi: 0 });
        assert_eq!(Bucket::of(1), Bucket { lo: 1, hi: 1 });
        assert_eq!(Bucket::of(1500), Bucket { lo: 1024, hi: 2047 });
    }
}
