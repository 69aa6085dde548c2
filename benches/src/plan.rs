//! Plans a tree of a given shape: every directory, file (size, content kind, seed, mode) and symlink,
//! before anything is written.
//!
//! Planning is sequential and driven by one seeded generator, so the plan (and the tree written from
//! it, in any order, by any number of threads) depends on the seed alone. A plan holds metadata only:
//! contents are streamed from each file's seed when the file is written.
//!
//! Sizes are drawn from the measured log2 histogram; extensions are then matched to sizes by sorting
//! (a file's rank in size follows its extension's mean size, with noise), so both the histogram and the
//! bytes per extension come out close to the measured ones. Directories are laid out level by level in
//! proportion to the files at each depth, with heavy-tailed files-per-directory.

use std::collections::{HashMap, HashSet};

use crate::content::ContentKind;
use crate::names::{file_stem, DIR_WORDS, FILE_WORDS, OTHER_EXTS, TOP_DIRS};
use crate::rng::{derive, Rng, Weighted};
use crate::shape::{BenchShape, Profile, Size};

/// The directory holding deployed static assets, generated with its own shape.
pub const STATIC_DIR: &str = "pub/static";

/// The mount directories of the application (writable at run time, not part of a slug's code).
pub const MOUNTS: &[&str] = &["var", "app/etc", "pub/media", "pub/static"];

/// One regular file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Path relative to the tree root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// What its content looks like.
    pub kind: ContentKind,
    /// Seed of its content.
    pub seed: u64,
    /// Whether it gets the executable bits.
    pub executable: bool,
}

/// One symbolic link to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec {
    /// Path of the link relative to the tree root.
    pub path: String,
    /// Its (relative) target.
    pub target: String,
}

/// Everything a generated tree consists of.
#[derive(Debug, Clone, Default)]
pub struct TreePlan {
    /// Directories, parents before children.
    pub dirs: Vec<String>,
    /// Regular files.
    pub files: Vec<FileSpec>,
    /// Symbolic links.
    pub links: Vec<LinkSpec>,
}

/// Plans the tree of `size` for `seed`.
pub fn plan(size: Size, seed: u64) -> TreePlan {
    let shape = BenchShape::builtin();
    let code = Profile::of(&shape.slug_tree_excluding_mounts).scaled(size.factor());
    let statics = Profile::of(&shape.pub_static).scaled(size.factor());
    let mut rng = Rng::new(seed);
    let mut b = Builder {
        plan: TreePlan::default(),
        taken: HashSet::new(),
        rng: &mut rng,
    };
    for m in MOUNTS {
        b.taken.insert((*m).to_string());
    }
    let code_files = b.part(&code, "", TOP_DIRS);
    for d in ["pub", "app", "var", "pub/media", "pub/static", "app/etc"] {
        b.ensure_dir(d);
    }
    let static_files = b.part(&statics, STATIC_DIR, &["frontend", "adminhtml"]);
    b.share_static_with_code(&code_files, &static_files);
    b.links(&static_files, statics.symlinks);
    b.mount_files();
    b.plan
}

struct Builder<'a> {
    plan: TreePlan,
    taken: HashSet<String>,
    rng: &'a mut Rng,
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

fn extension(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rfind('.')
        .filter(|&i| i > 0)
        .map_or("", |i| &name[i..])
}

impl Builder<'_> {
    /// A name under `parent` not used yet: `base`, else `base2`, `base3`, ...
    fn unique(&mut self, parent: &str, base: &str, ext: &str) -> String {
        let mut path = join(parent, &format!("{base}{ext}"));
        let mut n = 2;
        while self.taken.contains(&path) {
            path = join(parent, &format!("{base}{n}{ext}"));
            n += 1;
        }
        self.taken.insert(path.clone());
        path
    }

    fn ensure_dir(&mut self, path: &str) {
        if !self.plan.dirs.iter().any(|d| d == path) {
            self.taken.insert(path.to_string());
            self.plan.dirs.push(path.to_string());
        }
    }

    /// Plans one part rooted at `root` (`""` for the tree root); returns the indices of its files.
    fn part(&mut self, p: &Profile, root: &str, top: &[&str]) -> Vec<usize> {
        let rng = &mut *self.rng;
        // Sizes from the histogram, log-uniform within each bucket, sorted.
        let mut sizes = Vec::with_capacity(p.files as usize);
        for &(bucket, n) in &p.histogram {
            for _ in 0..n {
                let size = if bucket.lo == 0 {
                    0
                } else {
                    ((bucket.lo as f64) * 2f64.powf(rng.unit())).floor() as u64
                };
                sizes.push(size.clamp(bucket.lo, bucket.hi));
            }
        }
        sizes.sort_unstable();
        // Extension slots keyed by their mean size plus noise; rank-matched to sizes.
        let mut slots: Vec<(f64, usize)> = Vec::with_capacity(sizes.len());
        for (i, (_, e)) in p.extensions.iter().enumerate() {
            let mean = (e.bytes as f64 / e.files.max(1) as f64).max(1.0);
            for _ in 0..e.files {
                slots.push((mean.ln() + 0.9 * rng.normal(), i));
            }
        }
        slots.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut files: Vec<(u64, String)> = sizes
            .into_iter()
            .zip(slots)
            .map(|(size, (_, i))| {
                let ext = &p.extensions[i].0;
                let ext = if ext == "*" {
                    (*rng.pick(OTHER_EXTS)).to_string()
                } else {
                    ext.clone()
                };
                (size, ext)
            })
            .collect();
        rng.shuffle(&mut files);
        let mut depths: Vec<u32> = p
            .depths
            .iter()
            .flat_map(|&(d, n)| std::iter::repeat_n(d.max(1), n as usize))
            .collect();
        depths.resize(files.len(), 1);

        // Directories per level, in proportion to the files one level deeper.
        let max_depth = depths.iter().copied().max().unwrap_or(1) as usize;
        let mut at_level = vec![0u64; max_depth + 1];
        for &d in &depths {
            at_level[d as usize - 1] += 1;
        }
        let weights: Vec<u64> = at_level.iter().skip(1).copied().collect();
        let mut per_level = vec![0u64];
        per_level.extend(crate::shape::apportion(&weights, p.dirs));
        let mut levels: Vec<Vec<String>> = vec![vec![root.to_string()]];
        for level in 1..max_depth {
            let want = per_level[level].max(1) as usize;
            let parents = &levels[level - 1];
            let pw = Weighted::new((0..parents.len()).map(|_| pareto(self.rng, 1.3)));
            let parents = parents.clone();
            let mut here = Vec::with_capacity(want);
            for k in 0..want {
                let parent = if level == 1 {
                    root.to_string()
                } else {
                    parents[pw.sample(self.rng)].clone()
                };
                let base = if level == 1 && k < top.len() {
                    top[k]
                } else {
                    *self.rng.pick(DIR_WORDS)
                };
                let path = self.unique(&parent, base, "");
                self.plan.dirs.push(path.clone());
                here.push(path);
            }
            levels.push(here);
        }

        // Files into directories of their level, heavy-tailed.
        let samplers: Vec<Weighted> = levels
            .iter()
            .map(|dirs| Weighted::new((0..dirs.len()).map(|_| pareto(self.rng, 1.1))))
            .collect();
        let mut out = Vec::with_capacity(files.len());
        for ((size, ext), depth) in files.into_iter().zip(depths) {
            let level = depth as usize - 1;
            let parent = levels[level][samplers[level].sample(self.rng)].clone();
            let a = *self.rng.pick(FILE_WORDS);
            let b = *self.rng.pick(FILE_WORDS);
            let path = self.unique(&parent, &file_stem(&ext, a, b), &ext);
            let seed = self.rng.next_u64();
            out.push(self.plan.files.len());
            self.plan.files.push(FileSpec {
                path,
                size,
                kind: ContentKind::for_extension(&ext),
                seed,
                executable: false,
            });
        }

        // Executable bits: scripts without extension first, then PHP and shell files.
        let mut candidates: Vec<usize> = out
            .iter()
            .copied()
            .filter(|&i| {
                matches!(
                    extension(&self.plan.files[i].path),
                    "" | ".sh" | ".php" | ".py"
                )
            })
            .collect();
        self.rng.shuffle(&mut candidates);
        candidates.sort_by_key(|&i| !extension(&self.plan.files[i].path).is_empty());
        for &i in candidates.iter().take(p.executables as usize) {
            self.plan.files[i].executable = true;
        }
        out
    }

    /// Deployed static assets are largely copies of the code's web assets: make a share of them
    /// identical to a code file of the same extension (same size and seed), as deduplication would see.
    fn share_static_with_code(&mut self, code: &[usize], statics: &[usize]) {
        let mut by_ext: HashMap<String, Vec<usize>> = HashMap::new();
        for &i in code {
            by_ext
                .entry(extension(&self.plan.files[i].path).to_string())
                .or_default()
                .push(i);
        }
        for &i in statics {
            let ext = extension(&self.plan.files[i].path).to_string();
            if let Some(sources) = by_ext.get(&ext) {
                if self.rng.chance(0.4) {
                    let src = self.plan.files[*self.rng.pick(sources)].clone();
                    let f = &mut self.plan.files[i];
                    f.size = src.size;
                    f.seed = src.seed;
                }
            }
        }
    }

    /// Symlinks in the static part, each next to the asset it points at.
    fn links(&mut self, statics: &[usize], count: u64) {
        for _ in 0..count.min(statics.len() as u64) {
            let target = self.plan.files[*self.rng.pick(statics)].path.clone();
            let (dir, name) = target.rsplit_once('/').unwrap_or(("", &target));
            let ext = extension(name);
            let stem = &name[..name.len() - ext.len()];
            let path = self.unique(dir, &format!("{stem}.link"), ext);
            self.plan.links.push(LinkSpec {
                path,
                target: name.to_string(),
            });
        }
    }

    /// A few files in the mounts other than `pub/static`, so that excluding mounts is exercised.
    fn mount_files(&mut self) {
        let files: &[(&str, u64)] = &[
            ("var/log/system.log", 48_000),
            ("var/log/exception.log", 9_000),
            ("var/cache/mage--0/mage---config_global", 22_000),
            ("app/etc/env.php", 3_100),
            ("app/etc/config.php", 14_000),
            ("pub/media/catalog/product/p/r/product-1.jpg", 180_000),
            ("pub/media/catalog/product/p/r/product-2.jpg", 96_000),
            ("pub/media/wysiwyg/banner.png", 64_000),
        ];
        for &(path, size) in files {
            let mut parent = String::new();
            for comp in path
                .split('/')
                .collect::<Vec<_>>()
                .split_last()
                .map_or(&[][..], |x| x.1)
            {
                parent = join(&parent, comp);
                self.ensure_dir(&parent.clone());
            }
            self.taken.insert(path.to_string());
            let seed = derive(self.rng.next_u64(), 0);
            self.plan.files.push(FileSpec {
                path: path.to_string(),
                size,
                kind: ContentKind::for_extension(extension(path)),
                seed,
                executable: false,
            });
        }
    }
}

/// A Pareto(alpha) weight, capped: a few directories get many files, most get one or two.
fn pareto(rng: &mut Rng, alpha: f64) -> f64 {
    (1.0 - rng.unit()).powf(-1.0 / alpha).min(2_000.0)
}
