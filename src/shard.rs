//! `--shard I/N`: which files of a batch one of N independent runs takes.
//!
//! A job belongs to shard `hash(key) mod N`. The key is the job's output
//! path relative to the output directory as the input mirror gives it
//! ([`crate::inputs::Job::rel`]: the path below the input root, a listed
//! path's [`crate::inputs::mirror_rel`], or a thetas line's `output`), before
//! `--format` changes its extension: its components' bytes (UTF-8; on Unix
//! the raw bytes of the names) joined with `/` whatever the platform's
//! separator, with no leading `./`. The hash is 64-bit FNV-1a of those
//! bytes, finished with MurmurHash3's `fmix64` so that every bit of the key
//! reaches the low bits the `mod` reads. Nothing else enters: the assignment
//! is the same on every machine, for every `-j`, from release to release, and
//! adding or removing other files does not move a file to another shard.
//!
//! The README's "Many machines" section spells the function out for users.

use std::fmt;
use std::path::{Component, Path};

/// One of N shards: `index` in `0..count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` of `count`; `None` unless `index < count` (so `count ≥ 1`).
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// I, from 0.
    pub fn index(self) -> u64 {
        self.index
    }

    /// N.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether the job with output path `rel` (relative to the output
    /// directory, as mirrored from its input) belongs to this shard.
    pub fn owns(self, rel: &Path) -> bool {
        shard_of(rel, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard, of `count`, that the job with output path `rel` belongs to:
/// `hash(&key(rel)) % count`.
///
/// # Panics
/// If `count` is 0.
pub fn shard_of(rel: &Path, count: u64) -> u64 {
    hash(&key(rel)) % count
}

/// The bytes a relative path is hashed as: its normal components joined
/// with `/` (`a\b.png` on Windows and `./a//b.png` both give `a/b.png`).
pub fn key(rel: &Path) -> Vec<u8> {
    let mut key = Vec::with_capacity(rel.as_os_str().len());
    for part in rel.components() {
        if let Component::Normal(name) = part {
            if !key.is_empty() {
                key.push(b'/');
            }
            key.extend_from_slice(name.as_encoded_bytes());
        }
    }
    key
}

/// FNV-1a, 64-bit, then MurmurHash3's `fmix64` finaliser.
///
/// FNV-1a alone leaves the low bits depending only on the low bits of the
/// bytes (its low bit is the parity of the bytes' low bits, so `a.png`,
/// `c.png`, `e.png` … all fall in one of two shards); the finaliser mixes the
/// high bits down.
pub fn hash(bytes: &[u8]) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = FNV_OFFSET;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// FNV-1a 64 without the finaliser, to check against the published
    /// test vectors.
    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    }

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn hash_values_are_pinned() {
        // Computed independently (the README's Python snippet); a change here
        // moves files between shards and breaks resumed jobs.
        assert_eq!(hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(hash(b"a"), 0x82a2_a958_a9be_ce5b);
        assert_eq!(hash(b"foobar"), 0x2c22_1949_22d1_672b);
        assert_eq!(hash(b"a/b.png"), 0x7e75_fb47_2d42_b2f1);
        assert_eq!(hash(b"scans/2024/img_000123.jpg"), 0x8610_6ef3_2542_6391);
        assert_eq!(shard_of(Path::new("a/b.png"), 3), 0);
        assert_eq!(shard_of(Path::new("scans/2024/img_000123.jpg"), 3), 1);
    }

    #[test]
    fn key_joins_normal_components_with_slashes() {
        assert_eq!(key(Path::new("a/b.png")), b"a/b.png");
        assert_eq!(key(Path::new("./a//b/./c.png")), b"a/b/c.png");
        assert_eq!(key(Path::new("x.png")), b"x.png");
        let built: PathBuf = ["a", "b", "c.png"].iter().collect();
        assert_eq!(key(&built), b"a/b/c.png");
    }

    #[test]
    fn bounds() {
        assert_eq!(Shard::new(0, 1).map(|s| s.to_string()), Some("0/1".into()));
        assert_eq!(
            Shard::new(2, 3).map(|s| (s.index(), s.count())),
            Some((2, 3))
        );
        assert_eq!(Shard::new(3, 3), None);
        assert_eq!(Shard::new(0, 0), None);
    }

    #[test]
    fn every_file_has_exactly_one_shard() {
        let shards: Vec<Shard> = (0..5).map(|i| Shard::new(i, 5).unwrap()).collect();
        for n in 0..500 {
            let rel = PathBuf::from(format!("d{}/img_{n:04}.png", n % 7));
            assert_eq!(shards.iter().filter(|s| s.owns(&rel)).count(), 1);
        }
    }

    #[test]
    fn sequential_and_one_letter_names_spread_evenly() {
        for count in [2u64, 3, 4, 7, 16] {
            let mut sizes = vec![0usize; count as usize];
            for n in 0..2000 {
                sizes[shard_of(Path::new(&format!("img_{n:05}.png")), count) as usize] += 1;
            }
            // Within four standard deviations of a fair binomial draw.
            let fair = 2000.0 / count as f64;
            let sigma = (fair * (1.0 - 1.0 / count as f64)).sqrt();
            for &s in &sizes {
                assert!((s as f64 - fair).abs() < 4.0 * sigma, "{count}: {sizes:?}");
            }
        }
        // Plain FNV-1a puts all of these in one of two shards.
        let odd: Vec<u64> = "acegikmoqsuwy"
            .chars()
            .map(|c| shard_of(Path::new(&format!("{c}.png")), 2))
            .collect();
        assert!(odd.contains(&0) && odd.contains(&1), "{odd:?}");
    }
}
