//! Runs a grid generator's per-point loop compiled for the widest vector
//! unit the CPU has (AVX-512, AVX2, else the baseline), so that the compiler
//! vectorises it with wide registers.
//!
//! The loops use only IEEE additions, multiplications, divisions and
//! comparisons (never a fused multiply-add: Rust does not contract `a·b + c`),
//! so every version computes the same bits as the baseline one: the grid is
//! the same whatever the CPU, and the samplers still see identical points.

/// Column offsets `0, 1, …, 63` as `f64`: `j0 + RAMP[k]` is `(j0 + k) as f64`
/// exactly, without a per-point integer conversion.
pub const RAMP: [f64; 64] = {
    let mut r = [0.0; 64];
    let mut k = 0;
    while k < 64 {
        r[k] = k as f64;
        k += 1;
    }
    r
};

/// Sets `(u[k], v[k]) = point(x)` for every `k`, where `x` is the column
/// `j0 + k` as `f64`: the loop `point` is inlined into is compiled for
/// AVX-512 or AVX2 where the CPU has them.
#[inline(always)]
pub fn run(j0: usize, u: &mut [f64], v: &mut [f64], point: impl Fn(f64) -> (f64, f64)) {
    #[cfg(target_arch = "x86_64")]
    {
        match level() {
            // SAFETY: the CPU has the features each function enables
            // (checked just above).
            2 => unsafe { run_avx512(j0, u, v, point) },
            // SAFETY: as above.
            1 => unsafe { run_avx2(j0, u, v, point) },
            _ => run_plain(j0, u, v, point),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    run_plain(j0, u, v, point)
}

/// The vector unit to compile for: 2 for AVX-512 (F and DQ), 1 for AVX2, 0
/// for the baseline; detected once.
pub fn level() -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static LEVEL: OnceLock<u8> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
                2
            } else if is_x86_feature_detected!("avx2") {
                1
            } else {
                0
            }
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

#[inline(always)]
fn run_plain(j0: usize, u: &mut [f64], v: &mut [f64], point: impl Fn(f64) -> (f64, f64)) {
    let n = u.len().min(v.len());
    let mut k = 0;
    while k < n {
        let m = (n - k).min(RAMP.len());
        let x0 = (j0 + k) as f64;
        let (us, vs, ramp) = (&mut u[k..k + m], &mut v[k..k + m], &RAMP[..m]);
        for r in 0..m {
            let (a, b) = point(x0 + ramp[r]);
            us[r] = a;
            vs[r] = b;
        }
        k += m;
    }
}

/// [`run_plain`] compiled with AVX-512.
///
/// # Safety
/// The CPU supports AVX-512 F and DQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn run_avx512(j0: usize, u: &mut [f64], v: &mut [f64], point: impl Fn(f64) -> (f64, f64)) {
    run_plain(j0, u, v, point)
}

/// [`run_plain`] compiled with AVX2.
///
/// # Safety
/// The CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(j0: usize, u: &mut [f64], v: &mut [f64], point: impl Fn(f64) -> (f64, f64)) {
    run_plain(j0, u, v, point)
}
