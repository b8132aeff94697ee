//! Which instruction set the sampler's hot loops use, chosen once at run time.
//!
//! [`Isa::detect`] picks the best kernel family the CPU supports (or the one
//! named by the `STN_KERNEL` environment variable, if supported) and caches the
//! answer. [`Isa::is_supported`] is the gate every caller of a SIMD kernel goes
//! through; a requested ISA is never trusted without it.

use std::sync::OnceLock;

/// A family of sampling kernels, by instruction set.
///
/// Every family computes the same warp: [`Isa::Scalar`] is the specification
/// (`scalar.rs`), the others are optimisations of the hottest cases (`u8`, 1
/// to 4 channels: bilinear within one grey level of it, nearest and bicubic
/// exactly it; `u16` bilinear, 1 to 4 channels, exactly it); all other cases
/// fall back to the scalar code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, the reference sampler. Always supported.
    Scalar,
    /// x86-64 AVX2 (with SSE4.1 rounding and gathers).
    Avx2,
    /// x86-64 AVX-512 F, BW, VL and VBMI (Ice Lake, Zen 4 and later).
    Avx512,
}

impl Isa {
    /// Every ISA, worst to best.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// The name used by `STN_KERNEL` and in messages: `scalar`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU (and this build's target) can run the ISA's kernels.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("sse4.1"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vbmi")
                    && Isa::Avx2.is_supported()
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => false,
        }
    }

    /// The supported ISAs, worst to best ([`Isa::Scalar`] first).
    pub fn supported() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.is_supported())
    }

    /// The best supported ISA, or the one named by the environment variable
    /// `STN_KERNEL` (`scalar`, `avx2`, `avx512`) if it is supported. An unknown
    /// or unsupported name is ignored. Computed once per process.
    pub fn detect() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            let wanted = std::env::var("STN_KERNEL")
                .ok()
                .and_then(|name| name.trim().parse::<Isa>().ok());
            match wanted {
                Some(isa) if isa.is_supported() => isa,
                _ => Isa::best(),
            }
        })
    }

    /// The best ISA this CPU supports, ignoring `STN_KERNEL`.
    pub fn best() -> Isa {
        Isa::supported().last().unwrap_or(Isa::Scalar)
    }
}

/// Whether gathers (`vpgatherdq`) fetch scattered 8-byte blocks faster than
/// plain loads on this CPU, for the AVX-512 colour kernel: true on Intel
/// unless Linux reports the Gather Data Sampling microcode mitigation (which
/// makes gathers several times slower), false on AMD and everything else
/// (published measurements, e.g. dav1d's and astc-encoder's, find gathers slow
/// on every AMD core). `STN_AVX512_TAPS=gather` or `load` overrides.
/// Measured here (Intel Xeon, GDS "Not affected"): gathers 14 % faster on
/// 1080p RGB. Computed once per process.
pub fn fast_gathers() -> bool {
    static FAST: OnceLock<bool> = OnceLock::new();
    *FAST.get_or_init(|| match std::env::var("STN_AVX512_TAPS").as_deref() {
        Ok("gather") => true,
        Ok("load") => false,
        _ => intel_without_gds_microcode(),
    })
}

#[cfg(target_arch = "x86_64")]
fn intel_without_gds_microcode() -> bool {
    // SAFETY: CPUID leaf 0 exists on every x86-64 CPU.
    #[allow(unused_unsafe)]
    let id = unsafe { core::arch::x86_64::__cpuid(0) };
    let vendor: Vec<u8> = [id.ebx, id.edx, id.ecx]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect();
    if vendor != b"GenuineIntel" {
        return false;
    }
    match std::fs::read_to_string("/sys/devices/system/cpu/vulnerabilities/gather_data_sampling") {
        Ok(status) => !status.starts_with("Mitigation") && !status.starts_with("Unknown"),
        Err(_) => true,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn intel_without_gds_microcode() -> bool {
    false
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Isa {
    type Err = String;

    /// Parses `scalar`, `avx2` or `avx512` (case-insensitive).
    fn from_str(s: &str) -> Result<Isa, String> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown kernel {s:?}: expected scalar, avx2 or avx512"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(isa.name().parse::<Isa>(), Ok(isa));
        }
        assert!("neon".parse::<Isa>().is_err());
    }

    #[test]
    fn scalar_is_always_supported_and_detect_is_supported() {
        assert!(Isa::Scalar.is_supported());
        assert!(Isa::detect().is_supported());
        assert!(Isa::best() >= Isa::detect() || std::env::var("STN_KERNEL").is_ok());
    }
}
