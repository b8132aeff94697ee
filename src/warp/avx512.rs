//! AVX-512 (F, BW, VL, VBMI) kernels for `u8` images with 1 to 4 channels
//! (grey, grey+alpha, RGB, RGBA), 16 output pixels per step: bilinear with
//! the fixed-point scheme of [`super::fixed`]; nearest ([`Nearest8`]) and
//! bicubic ([`step_bicubic`]) exactly as the scalar spec. All three share the
//! drivers (`run_points`, `run_row`, `run_proj`, `run_image`) that make or
//! load the points, and each has the four entry points those drivers serve.
//!
//! Bilinear, per step: the 16 sampling points in `f64` — loaded from a point buffer
//! ([`bilinear`]), or made in registers for an affine row (`u0 + j·du`,
//! exactly [`Row::at`]: [`bilinear_row`]) or a projective row (exactly
//! [`ProjRow::at`]: [`bilinear_proj`]) — quantised to 1/2048 pixel in `i32`
//! lanes, from which the
//! block offsets and 11-bit weights follow with integer operations. Gray reads
//! its taps with one 32-bit gather per source row, or two 2-byte loads per
//! pixel ([`gray_from_stored`]). Colour fetches each pixel's
//! top-row and bottom-row 8 bytes into one 128-bit lane, either with four
//! 64-bit gathers ([`fetch_gather`]) or with 32 plain loads and the shuffles
//! that assemble them ([`fetch_stored`]), whichever the CPU does faster
//! ([`super::isa::fast_gathers`]: gathers 14 % faster on 1080p RGB on a
//! Sapphire-Rapids-class Xeon; 7 % slower than loads at 4K on a Zen 5 EPYC).
//! `vpermb` lays the taps out as `(left, right)` 16-bit pairs, one output
//! sample per 32-bit lane, for `vpmaddwd`; `vpmovdb` packs the results. Rows
//! prefetch the source lines 64 columns ahead. The drivers run the kernels
//! in two halves ([`Kernel`]), software-pipelined: a step's block offsets are
//! stored when its points are made and loaded back two steps later, when
//! its taps are fetched. Nearest runs in the same two halves, with a gather
//! or 16 plain loads at the stored offsets. Gray sources of at most 1 KiB (a
//! 28×28 digit) read a table of their blocks' taps ([`tiny_gray`]).
//!
//! Bilinear for `u16` images ([`bilinear16`], [`bilinear16_row`]) is exactly
//! the scalar spec's `Bilinear::fast`, in `f32`, one output sample per lane
//! ([`step_wide`]), for points inside the image only (the engine's slow path
//! does the border).
//!
//! Needs Rust 1.89 (AVX-512 intrinsics and target features); so does the rest
//! of the SIMD code (safe `#[target_feature]` functions, 1.86). The
//! `clippy::msrv` attribute on this module's declaration tells clippy;
//! `rust-version` in Cargo.toml must say 1.89 as well.

use core::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::fixed::{Lines, Plane, Plane16, BITS, ONE};
use super::grid::{ProjRow, Row};
use super::write_slice;

/// Output pixels per step.
const STEP: usize = 16;

/// The per-pixel quantities of 16 consecutive output columns, in `i32` lanes.
struct Taps {
    /// Byte offset of the top-left sample of each 2×2 block.
    off: __m512i,
    /// Horizontal weights, `left | right << 16`.
    wx: __m512i,
    /// Weight of the block's top row.
    wt: __m512i,
    /// Weight of its bottom row.
    wb: __m512i,
}

/// One axis for 16 points (two halves of 8): `(block start, first tap's
/// weight, second tap's weight)`, as [`super::fixed::axis`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn axis(p: [__m512d; 2], size: usize) -> (__m512i, __m512i, __m512i) {
    let scale = _mm512_set1_pd(f64::from(ONE));
    let round = |p| {
        _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_pd(p, scale),
        )
    };
    // NaN and values beyond i32 become i32::MIN: outside, like the model's.
    let q = join(round(p[0]), round(p[1]));
    // The common case, every block starting inside [0, size - 2]: no
    // clamping, weights (1 - w, w). Unsigned: negatives are outside.
    let last = _mm512_set1_epi32((size as i32 - 1) * ONE);
    if _mm512_cmplt_epu32_mask(q, last) == u16::MAX {
        let w = _mm512_and_si512(q, _mm512_set1_epi32(ONE - 1));
        return (
            _mm512_srai_epi32::<BITS>(q),
            _mm512_sub_epi32(_mm512_set1_epi32(ONE), w),
            w,
        );
    }
    let minus_one = _mm512_set1_epi32(-ONE);
    let inside = _mm512_mask_cmplt_epi32_mask(
        _mm512_cmpge_epi32_mask(q, minus_one),
        q,
        _mm512_set1_epi32(size as i32 * ONE),
    );
    let q = _mm512_mask_mov_epi32(minus_one, inside, q);
    let i0 = _mm512_srai_epi32::<BITS>(q);
    let w = _mm512_and_si512(q, _mm512_set1_epi32(ONE - 1));
    edges(i0, w, size)
}

/// `(block start, first tap's weight, second tap's weight)` of 16 points
/// from their floors and fractions.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn edges(i0: __m512i, w: __m512i, size: usize) -> (__m512i, __m512i, __m512i) {
    let zero = _mm512_setzero_si512();
    let last = _mm512_set1_epi32(size as i32 - 2);
    let below = _mm512_cmplt_epi32_mask(i0, zero);
    let above = _mm512_cmpgt_epi32_mask(i0, last);
    let inv = _mm512_sub_epi32(_mm512_set1_epi32(ONE), w);
    // Inside (2048-w, w); at -1 (w, 0); at size-1 (0, 2048-w).
    let first = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(inv, below, w), above, zero);
    let second = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(w, above, inv), below, zero);
    let start = _mm512_min_epi32(_mm512_max_epi32(i0, zero), last);
    (start, first, second)
}

/// Joins two 8-lane halves into 16 lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn join(lo: __m256i, hi: __m256i) -> __m512i {
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// 16 sampling points `(u, v)`, as two halves of 8.
#[derive(Clone, Copy)]
struct Points {
    u: [__m512d; 2],
    v: [__m512d; 2],
}

/// The points of output columns `j .. j + 16` of `row`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn row_points(row: &Row, j: usize) -> Points {
    let ramp = _mm512_setr_pd(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    // Integers below 2^53: exact, so these are the `j as f64` of Row::at.
    let x0 = _mm512_add_pd(_mm512_set1_pd(j as f64), ramp);
    let x1 = _mm512_add_pd(x0, _mm512_set1_pd(8.0));
    let (u0, du) = (_mm512_set1_pd(row.u0), _mm512_set1_pd(row.du));
    let (v0, dv) = (_mm512_set1_pd(row.v0), _mm512_set1_pd(row.dv));
    // u0 + x·du, rounded twice as in Row::at (no fused multiply-add).
    Points {
        u: [
            _mm512_add_pd(u0, _mm512_mul_pd(x0, du)),
            _mm512_add_pd(u0, _mm512_mul_pd(x1, du)),
        ],
        v: [
            _mm512_add_pd(v0, _mm512_mul_pd(x0, dv)),
            _mm512_add_pd(v0, _mm512_mul_pd(x1, dv)),
        ],
    }
}

/// The points of output columns `j .. j + 16` of the projective `row`, as
/// [`ProjRow::at`] computes them (same operations, no fused multiply-add).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn proj_points(row: &ProjRow, j: usize) -> Points {
    let ramp = _mm512_setr_pd(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    let x0 = _mm512_add_pd(_mm512_set1_pd(j as f64), ramp);
    let x1 = _mm512_add_pd(x0, _mm512_set1_pd(8.0));
    #[allow(clippy::redundant_closure)] // target-feature fns are not FnMut
    let k = |v| _mm512_set1_pd(v);
    let half = |x: __m512d| {
        let z = _mm512_add_pd(_mm512_mul_pd(k(row.g6), x), k(row.nz));
        let r = _mm512_div_pd(k(1.0), z);
        let pu = _mm512_mul_pd(_mm512_add_pd(_mm512_mul_pd(k(row.g0), x), k(row.nu)), r);
        let pv = _mm512_mul_pd(_mm512_add_pd(_mm512_mul_pd(k(row.g3), x), k(row.nv)), r);
        let front = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(z, _mm512_setzero_pd());
        let nan = k(f64::NAN);
        (
            _mm512_mask_mov_pd(nan, front, pu),
            _mm512_mask_mov_pd(nan, front, pv),
        )
    };
    let ((u0, v0), (u1, v1)) = (half(x0), half(x1));
    Points {
        u: [u0, u1],
        v: [v0, v1],
    }
}

/// The 16 points at `u[j..]`, `v[j..]`.
///
/// # Safety
/// `u` and `v` have at least `j + 16` elements.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn load_points(u: &[f64], v: &[f64], j: usize) -> Points {
    debug_assert!(u.len() >= j + STEP && v.len() >= j + STEP);
    // SAFETY: the caller guarantees 16 readable values from `j` on.
    unsafe {
        let (u, v) = (u.as_ptr().add(j), v.as_ptr().add(j));
        Points {
            u: [_mm512_loadu_pd(u), _mm512_loadu_pd(u.add(8))],
            v: [_mm512_loadu_pd(v), _mm512_loadu_pd(v.add(8))],
        }
    }
}

/// The points of output pixels `(x, y)` (two halves of 8 lanes each) of the
/// sampling map `[a, b, c, d, e, f]`: `u = (b·y + c) + x·a`, `v = (e·y + f) + x·d`,
/// the same operations as `Row::new` then `Row::at`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn map_points(m: &[f64; 6], x: [__m512d; 2], y: [__m512d; 2]) -> Points {
    #[allow(clippy::redundant_closure)] // target-feature fns are not FnMut
    let k = m.map(|v| _mm512_set1_pd(v));
    let at = |x: __m512d, y: __m512d, r: usize| {
        let start = _mm512_add_pd(_mm512_mul_pd(k[r + 1], y), k[r + 2]);
        _mm512_add_pd(start, _mm512_mul_pd(x, k[r]))
    };
    Points {
        u: [at(x[0], y[0], 0), at(x[1], y[1], 0)],
        v: [at(x[0], y[0], 3), at(x[1], y[1], 3)],
    }
}

/// The taps of 16 points, for `c` channels.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn taps(src: &Plane<'_>, p: &Points, c: usize) -> Taps {
    let (xb, wl, wr) = axis(p.u, src.width());
    let (yb, wt, wb) = axis(p.v, src.height());
    let off = _mm512_add_epi32(
        _mm512_mullo_epi32(yb, _mm512_set1_epi32(src.stride() as i32)),
        _mm512_mullo_epi32(xb, _mm512_set1_epi32(c as i32)),
    );
    Taps {
        off,
        wx: _mm512_or_si512(wl, _mm512_slli_epi32::<16>(wr)),
        wt,
        wb,
    }
}

/// `(top·wt + bottom·wb + ½) >> 22` per lane, packed to bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn finish(top: __m512i, bottom: __m512i, wt: __m512i, wb: __m512i) -> __m128i {
    let sum = _mm512_add_epi32(_mm512_mullo_epi32(top, wt), _mm512_mullo_epi32(bottom, wb));
    let sum = _mm512_add_epi32(sum, _mm512_set1_epi32(1 << (2 * BITS - 1)));
    _mm512_cvtepi32_epi8(_mm512_srli_epi32::<{ 2 * BITS }>(sum))
}

/// Loads a 64-byte table.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn table(t: &[u8; 64]) -> __m512i {
    // SAFETY: reads exactly the 64 bytes of `t`; unaligned loads are allowed.
    unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
}

/// `vpshufb` controls for gray: per 32-bit lane, bytes `(k, k+1)` of the lane
/// zero-extended to a 16-bit pair; `k` = 0 for the top row, 2 for the bottom row
/// (loaded two bytes early).
const fn gray_pairs(k: u8) -> [u8; 64] {
    let mut t = [0x80u8; 64];
    let mut lane = 0;
    while lane < 16 {
        let b = (lane % 4) as u8 * 4;
        t[lane * 4] = b + k;
        t[lane * 4 + 2] = b + k + 1;
        lane += 1;
    }
    t
}

static GRAY_TOP: [u8; 64] = gray_pairs(0);
static GRAY_BOTTOM: [u8; 64] = gray_pairs(2);

/// The register pair `(R_a, R_a+1)` holding the pixels of output vector `m`
/// in the gather layout of [`colour_from`] (4 pixels per register).
const fn pair_of(channels: usize, m: usize) -> usize {
    let a = 16 * m / channels / 4;
    if a > 2 {
        2
    } else {
        a
    }
}

/// `vpermi2b` indices for `C` channels in the gather layout of [`colour_from`]:
/// pixel `p`'s 16 bytes (top row's 8, then bottom row's 8) at `16(p - 4a)` of
/// the register pair `a = pair_of(C, m)`. Output vector `m`, 32-bit lane `k`
/// is sample `s = 16m + k`; bytes 0 and 2 are its left and right tap (row
/// offset `row`: 0 for top, `8 + bottom_shift` for bottom).
const fn colour_pairs(channels: usize, row: usize) -> [[u8; 64]; 4] {
    let mut t = [[0u8; 64]; 4];
    let mut m = 0;
    while m < channels {
        let a = pair_of(channels, m);
        let mut k = 0;
        while k < 16 {
            let s = 16 * m + k;
            let (p, c) = (s / channels, s % channels);
            let at = 16 * (p - 4 * a) + row + c;
            t[m][4 * k] = at as u8;
            t[m][4 * k + 2] = (at + channels) as u8;
            k += 1;
        }
        m += 1;
    }
    t
}

/// `vpermd` indices spreading per-pixel values to the sample lanes of [`colour_pairs`].
const fn colour_pixels(channels: usize) -> [[u8; 64]; 4] {
    let mut t = [[0u8; 64]; 4];
    let mut m = 0;
    while m < channels {
        let mut k = 0;
        while k < 16 {
            t[m][4 * k] = ((16 * m + k) / channels) as u8;
            k += 1;
        }
        m += 1;
    }
    t
}

/// The bottom row of a colour block is loaded `8 - 2C` bytes early, so that an
/// 8-byte load at the last pixel ends inside the image.
const fn bottom_shift(channels: usize) -> usize {
    8 - 2 * channels
}

static GA_TOP: [[u8; 64]; 4] = colour_pairs(2, 0);
static GA_BOTTOM: [[u8; 64]; 4] = colour_pairs(2, 8 + bottom_shift(2));
static GA_PIXELS: [[u8; 64]; 4] = colour_pixels(2);
static RGB_TOP: [[u8; 64]; 4] = colour_pairs(3, 0);
static RGB_BOTTOM: [[u8; 64]; 4] = colour_pairs(3, 8 + bottom_shift(3));
static RGB_PIXELS: [[u8; 64]; 4] = colour_pixels(3);
static RGBA_TOP: [[u8; 64]; 4] = colour_pairs(4, 0);
static RGBA_BOTTOM: [[u8; 64]; 4] = colour_pairs(4, 8 + bottom_shift(4));
static RGBA_PIXELS: [[u8; 64]; 4] = colour_pixels(4);

/// Even bytes: the low halves of the 16-bit pairs.
const EVEN: __mmask64 = 0x5555_5555_5555_5555;

/// How far ahead along a row [`prefetch`] looks, in output pixels: far
/// enough to cover DRAM latency, measured (4K RGB: 32 px gains 25 %, 64 or
/// 128 px 35 %; 0 when the source fits the cache).
const AHEAD: f64 = 64.0;

/// The byte offset in the source between the blocks of output columns `j`
/// and `j + AHEAD`, for points moving `(du, dv)` per column (0 if the step is
/// too large to be useful, or not finite); `c` samples per pixel.
fn ahead<S: Lines>(src: &S, du: f64, dv: f64, c: usize) -> isize {
    let (rows, cols) = ((AHEAD * dv).round(), (AHEAD * du).round());
    let pixel = c * size_of::<S::Sample>();
    if rows.abs() < 1e6 && cols.abs() < 1e6 {
        rows as isize * src.line_bytes() as isize + cols as isize * pixel as isize
    } else {
        0
    }
}

/// [`ahead`] for a run of `n` points, its step estimated from the first and
/// the last (0 for fewer than 2).
fn ahead_of_run<S: Lines>(
    src: &S,
    first: (f64, f64),
    last: (f64, f64),
    n: usize,
    c: usize,
) -> isize {
    if n < 2 {
        return 0;
    }
    let steps = (n - 1) as f64;
    ahead(
        src,
        (last.0 - first.0) / steps,
        (last.1 - first.1) / steps,
        c,
    )
}

/// Prefetches the source lines that the pixels [`AHEAD`] columns on will
/// read, guessed from four of this step's block offsets (in bytes) plus
/// `ahead` bytes.
/// A rotated row walks diagonally through the source, which the hardware
/// prefetchers do not follow; without this, images larger than the cache are
/// bound by DRAM latency.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn prefetch<S: Lines>(src: &S, offs: &[i32; STEP], ahead: isize) {
    if ahead == 0 {
        return;
    }
    let base = src.base();
    for p in [0, 5, 10, 15] {
        let at = base.wrapping_offset(offs[p] as isize + ahead);
        // A prefetch is a hint without memory effects: any address will do.
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
        _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(src.line_bytes()).cast());
    }
}

/// Writes 16 gray output pixels with the taps `t` to `dst`.
///
/// # Safety
/// - the CPU supports AVX-512 F, BW, VL and VBMI;
/// - `dst` is valid for writes of 16 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn gray_from(src: &Plane<'_>, t: &Taps, dst: *mut u8) {
    let base = src.data().as_ptr();
    let below = _mm512_add_epi32(t.off, _mm512_set1_epi32(src.stride() as i32 - 2));
    // SAFETY: every offset is that of a block inside the image (Plane's
    // invariants, starts clamped to [0, W-2] × [0, H-2]): the 4 bytes at `off`
    // end by (H-1)·W + 2 ≤ W·H, those at `off + W - 2` start at ≥ 0 and end by
    // W·H (W ≥ 2).
    let (top, bottom) = unsafe {
        (
            _mm512_i32gather_epi32::<1>(t.off, base.cast()),
            _mm512_i32gather_epi32::<1>(below, base.cast()),
        )
    };
    let top = _mm512_madd_epi16(_mm512_shuffle_epi8(top, table(&GRAY_TOP)), t.wx);
    let bottom = _mm512_madd_epi16(_mm512_shuffle_epi8(bottom, table(&GRAY_BOTTOM)), t.wx);
    let out = finish(top, bottom, t.wt, t.wb);
    // SAFETY: the caller guarantees 16 writable bytes at `dst`.
    unsafe { _mm_storeu_si128(dst.cast(), out) };
}

/// [`gray_from`] with plain loads instead of gathers (for CPUs whose
/// gathers are slow, see [`fetch_stored`]): per pixel, the top pair of
/// taps (2 bytes at its offset, read back from `offs`, where it was stored
/// steps earlier) and the bottom pair, joined in a general register into the
/// 4 bytes `gray_from`'s two gathers put in the pixel's lane, stored, and
/// the 16 lanes loaded as one register. The same taps and arithmetic, hence
/// the same bytes.
///
/// # Safety
/// As [`gray_from`]; `offs` are the step's block offsets (`t.off`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn gray_from_stored(src: &Plane<'_>, t: &Taps, offs: &[i32; STEP], dst: *mut u8) {
    let base = src.data().as_ptr();
    let stride = src.stride();
    let mut lanes = [0u32; STEP];
    for (p, lane) in lanes.iter_mut().enumerate() {
        // SAFETY: `p < 16`; each offset is that of a block inside the image
        // (as in `gray_from`): 2 bytes at `o` and at `o + W` lie inside it.
        unsafe {
            let o = std::ptr::read_volatile(offs.as_ptr().add(p)) as usize;
            let top = base.add(o).cast::<u16>().read_unaligned();
            let bottom = base.add(o + stride).cast::<u16>().read_unaligned();
            *lane = u32::from(top) | u32::from(bottom) << 16;
        }
    }
    // SAFETY: 64 bytes of `lanes`.
    let taps4 = unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) };
    let top = _mm512_madd_epi16(_mm512_shuffle_epi8(taps4, table(&GRAY_TOP)), t.wx);
    let bottom = _mm512_madd_epi16(_mm512_shuffle_epi8(taps4, table(&GRAY_BOTTOM)), t.wx);
    let out = finish(top, bottom, t.wt, t.wb);
    // SAFETY: the caller guarantees 16 writable bytes at `dst`.
    unsafe { _mm_storeu_si128(dst.cast(), out) };
}

/// Gray sources of at most this many bytes take the small-image path
/// ([`tiny_gray`]): a table of their blocks' taps, 4 bytes per source byte,
/// stays in L1.
const TINY: usize = 1024;

/// The flat image kernel for a gray source of at most [`TINY`] bytes
/// (a 28×28 digit is 784), through a table of every block's four taps
/// ([`tiny_pairs`], [`TinyPairs`], fetched with gathers if `GATHER`, as
/// the rest of the bilinear kernel); `false` (nothing done) for other
/// sources.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VBMI; `C` is `src`'s channel count.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn tiny_gray<const C: usize, const GATHER: bool>(
    src: &Plane<'_>,
    map: &[f64; 6],
    width: usize,
    out: &mut [MaybeUninit<u8>],
) -> bool {
    if C != 1 || src.data().len() > TINY {
        return false;
    }
    let mut table = [MaybeUninit::<u32>::uninit(); TINY];
    let pairs = tiny_pairs(src, &mut table);
    run_image::<1>(map, width, out, &TinyPairs::<GATHER> { src, pairs });
    true
}

/// The four taps of every block start of a gray source of at most
/// [`TINY`] bytes, one 32-bit word each (byte 0 top-left, 1 top-right, 2
/// bottom-left, 3 bottom-right: the lane [`gray_from`] makes from its two
/// gathers), so that a step fetches 16 words instead of 32 scattered pairs.
struct TinyPairs<'a, const GATHER: bool> {
    src: &'a Plane<'a>,
    pairs: &'a [u32],
}

/// Fills `pairs[o]` with the taps of the block starting at byte `o` of
/// `src` (`w × h`, both ≥ 2), for every `o < w·(h − 1) − 1` (every block
/// start a step can have, and a few that wrap a row, unused), and returns
/// them. (The rest of `pairs` stays uninitialised: zeroing 4 KiB per digit
/// cost ~4 % of a 28×28 warp.)
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn tiny_pairs<'t>(src: &Plane<'_>, pairs: &'t mut [MaybeUninit<u32>; TINY]) -> &'t [u32] {
    let data = src.data();
    let w = src.width();
    let m = data.len() - w - 1;
    let at = |o: usize, mask: u16| {
        // SAFETY: the caller's loads (below) read bytes o .. o + k of
        // `data` with k set in `mask`, all < len.
        unsafe { _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, data.as_ptr().add(o).cast())) }
    };
    for o in (0..m).step_by(16) {
        let k = (m - o).min(16);
        let mask = ((1u32 << k) - 1) as u16;
        // o + k − 1 + w + 1 ≤ m − 1 + w + 1 = len − 1: inside.
        let v = _mm512_or_si512(
            _mm512_or_si512(at(o, mask), _mm512_slli_epi32::<8>(at(o + 1, mask))),
            _mm512_or_si512(
                _mm512_slli_epi32::<16>(at(o + w, mask)),
                _mm512_slli_epi32::<24>(at(o + w + 1, mask)),
            ),
        );
        // SAFETY: words o .. o + k of `pairs` (m ≤ TINY).
        unsafe { _mm512_mask_storeu_epi32(pairs.as_mut_ptr().add(o).cast(), mask, v) };
    }
    // SAFETY: words 0 .. m were written above; `MaybeUninit<u32>` has
    // `u32`'s layout.
    unsafe { std::slice::from_raw_parts(pairs.as_ptr().cast(), m) }
}

impl<const GATHER: bool> Kernel<u8> for TinyPairs<'_, GATHER> {
    type Prepared = Taps;

    #[inline(always)]
    unsafe fn prepare(&self, p: &Points, slot: &mut [i32; STEP], _: isize) -> Taps {
        // SAFETY: the caller vouches for the CPU; the store writes the slot.
        unsafe {
            let t = taps(self.src, p, 1);
            _mm512_storeu_si512(slot.as_mut_ptr().cast(), t.off);
            t
        }
    }

    #[inline(always)]
    unsafe fn finish(&self, t: &Taps, slot: &[i32; STEP], dst: *mut u8) {
        // SAFETY: every offset is a block start, below the `pairs` written
        // by `tiny_pairs`; `dst` as the caller guarantees.
        unsafe {
            let taps4 = if GATHER {
                _mm512_i32gather_epi32::<4>(t.off, self.pairs.as_ptr().cast())
            } else {
                let mut lanes = [0u32; STEP];
                for (p, lane) in lanes.iter_mut().enumerate() {
                    let o = std::ptr::read_volatile(slot.as_ptr().add(p)) as usize;
                    *lane = *self.pairs.get_unchecked(o);
                }
                _mm512_loadu_si512(lanes.as_ptr().cast())
            };
            let top = _mm512_madd_epi16(_mm512_shuffle_epi8(taps4, table(&GRAY_TOP)), t.wx);
            let bottom = _mm512_madd_epi16(_mm512_shuffle_epi8(taps4, table(&GRAY_BOTTOM)), t.wx);
            _mm_storeu_si128(dst.cast(), finish(top, bottom, t.wt, t.wb));
        }
    }
}

/// For kernels without a small-image variant: never handles the image.
///
/// # Safety
/// None needed (`unsafe` only to share [`tiny_gray`]'s signature).
#[inline]
unsafe fn no_tiny<const C: usize>(
    _: &Plane<'_>,
    _: &[f64; 6],
    _: usize,
    _: &mut [MaybeUninit<u8>],
) -> bool {
    false
}

/// The 2×2 blocks of 16 colour pixels in the layout [`colour_from`] reads:
/// register `r` holds pixels `4r .. 4r + 4`, one per 128-bit lane, the top
/// row's 8 bytes then the bottom row's (loaded [`bottom_shift`] bytes early).
/// Fetched with four 64-bit gathers, each filling one register.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VBMI; `C` is `src`'s channel count, 2 to 4.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn fetch_gather<const C: usize>(src: &Plane<'_>, t: &Taps) -> [__m512i; 4] {
    let base = src.data().as_ptr();
    let below = (src.stride() - bottom_shift(C)) as i32;
    let rows = _mm512_setr_epi32(
        0, below, 0, below, 0, below, 0, below, 0, below, 0, below, 0, below, 0, below,
    );
    let at = |first: i32| {
        let f = first;
        let pick = _mm512_setr_epi32(
            f,
            f,
            f + 1,
            f + 1,
            f + 2,
            f + 2,
            f + 3,
            f + 3,
            f + 4,
            f + 4,
            f + 5,
            f + 5,
            f + 6,
            f + 6,
            f + 7,
            f + 7,
        );
        _mm512_add_epi32(_mm512_permutexvar_epi32(pick, t.off), rows)
    };
    let (lo, hi) = (at(0), at(8));
    // SAFETY: blocks are inside the image (Plane's invariants, clamped
    // starts): the 8 bytes at `o` end by (H-2)·W·C + (W-2)·C + 8 ≤ W·H·C,
    // and those at `o + W·C - (8 - 2C)` start at ≥ W·C - 2 ≥ 0 and end by
    // exactly (H-1)·W·C + (W-2)·C + 2C = W·H·C at the last block.
    unsafe {
        [
            _mm512_i32gather_epi64::<1>(_mm512_castsi512_si256(lo), base.cast()),
            _mm512_i32gather_epi64::<1>(_mm512_extracti64x4_epi64::<1>(lo), base.cast()),
            _mm512_i32gather_epi64::<1>(_mm512_castsi512_si256(hi), base.cast()),
            _mm512_i32gather_epi64::<1>(_mm512_extracti64x4_epi64::<1>(hi), base.cast()),
        ]
    }
}

/// Writes 16 colour output pixels of `C` = 2 to 4 channels from their
/// taps `t` and fetched blocks `regs` (the layout of [`fetch_gather`]):
/// `vpermb` lays the taps out as `(left, right)` 16-bit pairs, one output
/// sample per 32-bit lane, for `vpmaddwd`; `vpmovdb` packs the results.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VBMI; `C` is the source's channel
/// count, 2 to 4; `dst` is valid for writes of `16·C` bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn colour_from<const C: usize>(t: &Taps, regs: &[__m512i; 4], dst: *mut u8) {
    let (tops, bottoms, pixels) = match C {
        2 => (&GA_TOP, &GA_BOTTOM, &GA_PIXELS),
        3 => (&RGB_TOP, &RGB_BOTTOM, &RGB_PIXELS),
        _ => (&RGBA_TOP, &RGBA_BOTTOM, &RGBA_PIXELS),
    };
    for m in 0..C {
        let spread = table(&pixels[m]);
        let wx = _mm512_permutexvar_epi32(spread, t.wx);
        let wt = _mm512_permutexvar_epi32(spread, t.wt);
        let wb = _mm512_permutexvar_epi32(spread, t.wb);
        let (r0, r1) = (regs[pair_of(C, m)], regs[pair_of(C, m) + 1]);
        let top = _mm512_maskz_permutex2var_epi8(EVEN, r0, table(&tops[m]), r1);
        let bottom = _mm512_maskz_permutex2var_epi8(EVEN, r0, table(&bottoms[m]), r1);
        let out = finish(
            _mm512_madd_epi16(top, wx),
            _mm512_madd_epi16(bottom, wx),
            wt,
            wb,
        );
        // SAFETY: m < C, so bytes 16m .. 16m + 16 lie within the caller's 16·C.
        unsafe { _mm_storeu_si128(dst.add(16 * m).cast(), out) };
    }
}

/// The blocks of 16 colour pixels in [`fetch_gather`]'s layout, with 32
/// plain 8-byte loads (for CPUs whose gathers are slow: AMD's, Intel's with
/// the Gather Data Sampling microcode) at the block offsets `offs`, which
/// were stored to memory steps earlier ([`fill`]'s pipeline). Reading them
/// from memory instead of extracting them from a register one by one
/// (`vpextrd`) frees the shuffle unit, which the extraction and the
/// assembly of the registers kept busy: 512×512 RGB in cache 1.4× faster
/// on a Zen 5. Read a step after they were stored, a 64-byte store had to
/// forward to 4-byte loads, and 4K RGBA, bound by memory, got 40 % slower;
/// two steps after, 4K is as fast as before. Volatile, so that the compiler
/// does not extract them from the register again.
///
/// # Safety
/// As [`fetch_gather`]; `offs` are the step's block offsets.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn fetch_stored<const C: usize>(src: &Plane<'_>, offs: &[i32; STEP]) -> [__m512i; 4] {
    let base = src.data().as_ptr();
    let below = src.stride() - bottom_shift(C);
    let pixel = |p: usize| {
        // SAFETY: `p < 16`; as in `fetch_gather` for the loads.
        unsafe {
            let o = std::ptr::read_volatile(offs.as_ptr().add(p)) as usize;
            _mm_unpacklo_epi64(
                _mm_loadl_epi64(base.add(o).cast()),
                _mm_loadl_epi64(base.add(o + below).cast()),
            )
        }
    };
    let quad = |p: usize| {
        let lo = _mm256_set_m128i(pixel(p + 1), pixel(p));
        let hi = _mm256_set_m128i(pixel(p + 3), pixel(p + 2));
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
    };
    [quad(0), quad(4), quad(8), quad(12)]
}

/// `vpermb` indices packing 16 RGB pixels, one per 32-bit lane (bytes 0–2),
/// into 48 contiguous bytes.
const fn rgb_pack() -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut k = 0;
    while k < 48 {
        t[k] = (k / 3 * 4 + k % 3) as u8;
        k += 1;
    }
    t
}

static RGB_PACK: [u8; 64] = rgb_pack();

/// The nearest-neighbour kernel for `u8` images of `C` channels, sampling
/// with zero padding exactly as the scalar spec's `Nearest` (`nearbyint`,
/// ties to even). Each pixel's `C` bytes are fetched as 4 bytes: at its
/// offset, or up to 3 bytes earlier for the last pixels of the image (so that
/// the 4 bytes end inside it), then shifted down; lanes outside the image
/// give 0. `prepare` rounds the points and stores the offsets into the slot;
/// `finish` fetches them (`GATHER`: one gather; else 16 plain loads at the
/// offsets read back from the slot, for CPUs whose gathers are slow, as
/// [`fetch_stored`]) and stores the pixels.
struct Nearest8<'a, const C: usize, const GATHER: bool>(&'a Plane<'a>);

/// A prepared nearest step: which lanes are inside, their load offsets,
/// and the shifts that bring each pixel down to its lane's low bytes.
#[derive(Clone, Copy)]
struct NearestTaps {
    inside: __mmask16,
    safe: __m512i,
    shift: __m512i,
}

impl<const C: usize, const GATHER: bool> Kernel<u8> for Nearest8<'_, C, GATHER> {
    type Prepared = NearestTaps;

    #[inline(always)]
    unsafe fn prepare(&self, p: &Points, slot: &mut [i32; STEP], ahead: isize) -> NearestTaps {
        let src = self.0;
        // SAFETY (intrinsics): the caller vouches for the CPU.
        unsafe {
            // Round to nearest, ties to even, as `nearbyint`: exactly the
            // spec's rounding. NaN and values beyond i32 become i32::MIN: outside.
            let round = |p| {
                _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(p)
            };
            let x = join(round(p.u[0]), round(p.u[1]));
            let y = join(round(p.v[0]), round(p.v[1]));
            // Unsigned compares: negative coordinates are huge, so outside too.
            let inside = _mm512_cmplt_epu32_mask(x, _mm512_set1_epi32(src.width() as i32))
                & _mm512_cmplt_epu32_mask(y, _mm512_set1_epi32(src.height() as i32));
            let off = _mm512_maskz_add_epi32(
                inside,
                _mm512_mullo_epi32(y, _mm512_set1_epi32(src.stride() as i32)),
                _mm512_mullo_epi32(x, _mm512_set1_epi32(C as i32)),
            );
            let len = src.data().len();
            // Plane: W, H ≥ 2, so len ≥ 4; len < i32::MAX. Inside the image
            // `off` is y·W·C + x·C ≤ len − C, and `safe` = min(off, len − 4)
            // ≥ 0, so the 4 bytes at `safe` lie inside the data and the
            // pixel's C bytes are bytes `off − safe .. off − safe + C` of
            // them; outside, `off` = `safe` = 0 (fetched or not, zeroed).
            let safe = _mm512_min_epu32(off, _mm512_set1_epi32(len as i32 - 4));
            let shift = _mm512_slli_epi32::<3>(_mm512_sub_epi32(off, safe));
            _mm512_storeu_si512(slot.as_mut_ptr().cast(), safe);
            if ahead != 0 {
                prefetch(src, slot, ahead);
            }
            NearestTaps {
                inside,
                safe,
                shift,
            }
        }
    }

    #[inline(always)]
    unsafe fn finish(&self, t: &NearestTaps, slot: &[i32; STEP], dst: *mut u8) {
        let base = self.0.data().as_ptr();
        // SAFETY: every offset in `t.safe` (and the slot) starts 4 bytes
        // inside the data (see `prepare`); `dst` as the caller guarantees.
        unsafe {
            let px = if GATHER {
                _mm512_mask_i32gather_epi32::<1>(
                    _mm512_setzero_si512(),
                    t.inside,
                    t.safe,
                    base.cast(),
                )
            } else {
                let mut lanes = [0u32; STEP];
                for (p, lane) in lanes.iter_mut().enumerate() {
                    let o = std::ptr::read_volatile(slot.as_ptr().add(p)) as usize;
                    *lane = base.add(o).cast::<u32>().read_unaligned();
                }
                _mm512_maskz_mov_epi32(t.inside, _mm512_loadu_si512(lanes.as_ptr().cast()))
            };
            store_pixels::<C>(_mm512_srlv_epi32(px, t.shift), dst);
        }
    }
}

/// Stores 16 pixels, each in the low `C` bytes of its 32-bit lane of `px`
/// (the other bytes are ignored), as `16·C` contiguous bytes.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VBMI; `dst` is valid for writes
/// of `16·C` bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn store_pixels<const C: usize>(px: __m512i, dst: *mut u8) {
    // SAFETY (all stores): the caller guarantees 16·C writable bytes.
    unsafe {
        match C {
            1 => _mm_storeu_si128(dst.cast(), _mm512_cvtepi32_epi8(px)),
            2 => _mm256_storeu_si256(dst.cast(), _mm512_cvtepi32_epi16(px)),
            3 => {
                // Two plain stores (32 + 16 bytes): a masked 48-byte store
                // measured 2× slower on a Zen 5.
                let b = _mm512_permutexvar_epi8(table(&RGB_PACK), px);
                _mm256_storeu_si256(dst.cast(), _mm512_castsi512_si256(b));
                _mm_storeu_si128(dst.add(32).cast(), _mm512_extracti32x4_epi32::<2>(b));
            }
            _ => _mm512_storeu_si512(dst.cast(), px),
        }
    }
}

/// The four cubic convolution weights (A = −0.75) of 16 fractional offsets
/// `t`, with exactly the operations of the scalar spec's `cubic_weights`
/// (no fused multiply-add), so the weights are the spec's bit for bit.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn cubic_weights(t: __m512) -> [__m512; 4] {
    #[allow(clippy::redundant_closure)] // target-feature fns are not FnMut
    let k = |v| _mm512_set1_ps(v);
    const A: f32 = -0.75;
    // ((A + 2)·x − (A + 3))·x·x + 1, for |x| ≤ 1.
    let near = |x| {
        let a = _mm512_sub_ps(_mm512_mul_ps(k(A + 2.0), x), k(A + 3.0));
        _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(a, x), x), k(1.0))
    };
    // ((A·x − 5A)·x + 8A)·x − 4A, for 1 < |x| < 2.
    let far = |x| {
        let a = _mm512_sub_ps(_mm512_mul_ps(k(A), x), k(5.0 * A));
        let a = _mm512_add_ps(_mm512_mul_ps(a, x), k(8.0 * A));
        _mm512_sub_ps(_mm512_mul_ps(a, x), k(4.0 * A))
    };
    let one = k(1.0);
    [
        far(_mm512_add_ps(t, one)),
        near(t),
        near(_mm512_sub_ps(one, t)),
        far(_mm512_sub_ps(k(2.0), t)),
    ]
}

/// Floors and fractions of 16 coordinates (two halves of 8), as the scalar
/// spec computes them: `floor(p)` in `i32` (NaN and values beyond i32 give
/// i32::MIN, far outside) and `(p − floor(p)) as f32`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn floor_fraction(p: [__m512d; 2]) -> (__m512i, __m512) {
    let fl = |p| _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(p);
    let (f0, f1) = (fl(p[0]), fl(p[1]));
    let i = join(_mm512_cvttpd_epi32(f0), _mm512_cvttpd_epi32(f1));
    let t = |p, f| _mm512_cvtpd_ps(_mm512_sub_pd(p, f));
    let (lo, hi) = (t(p[0], f0), t(p[1], f1));
    let t = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
        _mm512_castps_pd(_mm512_castps256_ps512(lo)),
        _mm256_castps_pd(hi),
    ));
    (i, t)
}

/// Writes 16 bicubic output pixels (A = −0.75), sampled at `p` with zero
/// padding applied to each of the 16 taps, to `dst`: the scalar spec's
/// `Bicubic` operation for operation in `f32` (same weights, same order of
/// products and sums, same clamping and rounding), so its bytes exactly.
///
/// Where all 16 points' taps are inside the image (the common case), each
/// point's 4 tap rows are fetched with one 16-byte load each, and per row
/// and channel one `vpermi2b` per 8 pixels picks all four taps into the
/// bytes of each pixel's lane (shifts and masks then spread them); elsewhere
/// each tap is fetched with one masked 32-bit gather per 16 pixels, as in
/// [`Nearest8`], and taps outside the image read 0. (All gathers: 79 ms
/// at 4K RGB on a Zen 5, whose gathers are slow; loads with one `vpermi2b`
/// per tap: 42 ms; four taps per `vpermi2b`: 1.2× faster again, see
/// BENCHMARKS.md.)
///
/// # Safety
/// - the CPU supports AVX-512 F, BW, VL and VBMI;
/// - `C` is `src`'s channel count, 1 to 4;
/// - `dst` is valid for writes of `16·C` bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn step_bicubic<const C: usize>(src: &Plane<'_>, p: &Points, dst: *mut u8) {
    let (x0, tx) = floor_fraction(p.u);
    let (y0, ty) = floor_fraction(p.v);
    let (wx, wy) = (cubic_weights(tx), cubic_weights(ty));
    let (w, h) = (src.width() as i32, src.height() as i32);
    let base = src.data().as_ptr();
    let len = src.data().len() as i32;
    let stride = src.stride() as i32;
    let mut acc = [_mm512_setzero_ps(); 4];
    // The common case: every tap of the 16 points inside the image, and a
    // 16-byte load at each point's first tap of each of its 4 rows ending
    // inside the data. (`w, h ≥ 4` keeps `w − 3` from wrapping.)
    let ok = if w >= 4 && h >= 4 {
        let (xs, ys) = (
            _mm512_sub_epi32(x0, _mm512_set1_epi32(1)),
            _mm512_sub_epi32(y0, _mm512_set1_epi32(1)),
        );
        let first = _mm512_add_epi32(
            _mm512_mullo_epi32(ys, _mm512_set1_epi32(stride)),
            _mm512_mullo_epi32(xs, _mm512_set1_epi32(C as i32)),
        );
        let last_row = _mm512_add_epi32(first, _mm512_set1_epi32(3 * stride));
        let ok = _mm512_cmplt_epu32_mask(xs, _mm512_set1_epi32(w - 3))
            & _mm512_cmplt_epu32_mask(ys, _mm512_set1_epi32(h - 3))
            & _mm512_cmple_epu32_mask(last_row, _mm512_set1_epi32(len - 16));
        (ok == 0xffff).then_some(first)
    } else {
        None
    };
    if let Some(first) = ok {
        let mut offs = [0i32; STEP];
        // SAFETY: writes exactly the 64 bytes of `offs`.
        unsafe { _mm512_storeu_si512(offs.as_mut_ptr().cast(), first) };
        // Byte k of dword p: byte (p mod 8)·16 + k·C of a register pair
        // holding 8 pixels' 16-byte loads, i.e. tap k; + c picks channel c.
        // One `vpermi2b` per register pair then fetches all four taps of a
        // channel (four taps per `vpermi2b` instead of one: the shuffle
        // unit, not the arithmetic, bounded this kernel), and shifts and
        // masks spread them over the lanes.
        let pick = {
            let p = _mm512_set_epi32(
                112, 96, 80, 64, 48, 32, 16, 0, 112, 96, 80, 64, 48, 32, 16, 0,
            );
            let taps = (3 * C as i32) << 24 | (2 * C as i32) << 16 | (C as i32) << 8;
            _mm512_add_epi32(
                _mm512_mullo_epi32(p, _mm512_set1_epi32(0x0101_0101)),
                _mm512_set1_epi32(taps),
            )
        };
        let (lo, hi): (__mmask64, __mmask64) = (0xFFFF_FFFF, 0xFFFF_FFFF << 32);
        let byte = _mm512_set1_epi32(0xff);
        for (r, wr) in wy.iter().enumerate() {
            let load = |p: usize| {
                // SAFETY: `first + r·stride + 16 ≤ last_row + 16 ≤ len` (checked
                // above for every lane), and `first ≥ 0` (xs, ys ≥ 0).
                unsafe { _mm_loadu_si128(base.add(offs[p] as usize + r * stride as usize).cast()) }
            };
            // Four 16-byte loads into the four 128-bit lanes (each insert
            // takes its load as a memory operand).
            let quad = |p: usize| {
                let q = _mm512_castsi128_si512(load(p));
                let q = _mm512_inserti32x4::<1>(q, load(p + 1));
                let q = _mm512_inserti32x4::<2>(q, load(p + 2));
                _mm512_inserti32x4::<3>(q, load(p + 3))
            };
            let regs = [quad(0), quad(4), quad(8), quad(12)];
            // Per channel, the four taps of each pixel, tap k in byte k.
            let four: [__m512i; 4] = std::array::from_fn(|c| {
                if c >= C {
                    return _mm512_setzero_si512();
                }
                let idx = _mm512_add_epi32(pick, _mm512_set1_epi32(c as i32 * 0x0101_0101));
                _mm512_or_si512(
                    _mm512_maskz_permutex2var_epi8(lo, regs[0], idx, regs[1]),
                    _mm512_maskz_permutex2var_epi8(hi, regs[2], idx, regs[3]),
                )
            });
            let mut line = [_mm512_setzero_ps(); 4];
            for (k, wk) in wx.iter().enumerate() {
                for (c, l) in line.iter_mut().enumerate().take(C) {
                    let v = match k {
                        0 => _mm512_and_si512(four[c], byte),
                        1 => _mm512_and_si512(_mm512_srli_epi32::<8>(four[c]), byte),
                        2 => _mm512_and_si512(_mm512_srli_epi32::<16>(four[c]), byte),
                        _ => _mm512_srli_epi32::<24>(four[c]),
                    };
                    let term = _mm512_mul_ps(*wk, _mm512_cvtepi32_ps(v));
                    // The spec's `w0·p0 + w1·p1 + w2·p2 + w3·p3`, left to right.
                    *l = if k == 0 {
                        term
                    } else {
                        _mm512_add_ps(*l, term)
                    };
                }
            }
            for c in 0..C {
                acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(*wr, line[c]));
            }
        }
        // SAFETY: forwarded from the caller.
        return unsafe { bicubic_store::<C>(&acc, dst) };
    }
    let last = _mm512_set1_epi32(len - 4);
    let byte = _mm512_set1_epi32(0xff);
    for (r, wr) in wy.iter().enumerate() {
        // Wrapping adds: i32::MIN ± 1 stay outside (negative or ≥ 2³¹ unsigned).
        let y = _mm512_add_epi32(y0, _mm512_set1_epi32(r as i32 - 1));
        let row_in = _mm512_cmplt_epu32_mask(y, _mm512_set1_epi32(h));
        let row_off = _mm512_mullo_epi32(y, _mm512_set1_epi32(src.stride() as i32));
        let mut line = [_mm512_setzero_ps(); 4];
        for (k, wk) in wx.iter().enumerate() {
            let x = _mm512_add_epi32(x0, _mm512_set1_epi32(k as i32 - 1));
            let inside = row_in & _mm512_cmplt_epu32_mask(x, _mm512_set1_epi32(w));
            let off = _mm512_maskz_add_epi32(
                inside,
                row_off,
                _mm512_mullo_epi32(x, _mm512_set1_epi32(C as i32)),
            );
            let safe = _mm512_min_epu32(off, last);
            // SAFETY: only taps inside the image are fetched; there `off` ≤
            // len − C and `safe` = min(off, len − 4) ≥ 0 (Plane: len ≥ 4), so
            // the 4 bytes at `safe` lie inside the data.
            let px = unsafe {
                _mm512_mask_i32gather_epi32::<1>(_mm512_setzero_si512(), inside, safe, base.cast())
            };
            let px = _mm512_srlv_epi32(px, _mm512_slli_epi32::<3>(_mm512_sub_epi32(off, safe)));
            for (c, l) in line.iter_mut().enumerate().take(C) {
                let v =
                    _mm512_and_si512(_mm512_srl_epi32(px, _mm_cvtsi32_si128(8 * c as i32)), byte);
                let term = _mm512_mul_ps(*wk, _mm512_cvtepi32_ps(v));
                // The spec's `w0·p0 + w1·p1 + w2·p2 + w3·p3`, left to right.
                *l = if k == 0 {
                    term
                } else {
                    _mm512_add_ps(*l, term)
                };
            }
        }
        for c in 0..C {
            acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(*wr, line[c]));
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { bicubic_store::<C>(&acc, dst) }
}

/// Clamps the sums of `C` channels to [0, 255] (NaN, from a NaN point,
/// becomes 0: `max` returns its second operand then), rounds half to even
/// (MXCSR's mode) and stores the 16 pixels.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VBMI; `dst` is valid for writes
/// of `16·C` bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn bicubic_store<const C: usize>(acc: &[__m512; 4], dst: *mut u8) {
    let mut bytes = _mm512_setzero_si512();
    for (c, a) in acc.iter().enumerate().take(C) {
        let v = _mm512_min_ps(
            _mm512_max_ps(*a, _mm512_setzero_ps()),
            _mm512_set1_ps(255.0),
        );
        let v = _mm512_cvtps_epi32(v);
        bytes = _mm512_or_si512(bytes, _mm512_sll_epi32(v, _mm_cvtsi32_si128(8 * c as i32)));
    }
    // SAFETY: the caller guarantees 16·C writable bytes.
    unsafe { store_pixels::<C>(bytes, dst) }
}

/// A kernel as the drivers run it: in two halves, so that a step's memory
/// reads can be set up steps ahead. [`fill`] calls `prepare` on a step a few
/// steps before `finish`; `prepare` may store into its `slot`
/// what `finish` will read of it (the bilinear kernel stores its block
/// offsets there, so that `finish` loads them from the cache a step later
/// instead of extracting them from a register one by one, which, with the
/// assembly of the taps, kept the shuffle unit busy).
trait Kernel<T> {
    /// What `prepare` hands to `finish`.
    type Prepared;

    /// The first half of the step at `p`.
    ///
    /// # Safety
    /// The CPU supports AVX-512 F, BW, VL and VBMI.
    unsafe fn prepare(&self, p: &Points, slot: &mut [i32; STEP], ahead: isize) -> Self::Prepared;

    /// The second half: writes the step's 16 pixels to `dst`.
    ///
    /// # Safety
    /// The CPU supports AVX-512 F, BW, VL and VBMI; `x` and `slot` are what
    /// `prepare` made and filled for this step; `dst` is valid for writes of
    /// 16·C samples.
    unsafe fn finish(&self, x: &Self::Prepared, slot: &[i32; STEP], dst: *mut T);
}

/// A kernel that is one step function, all in `finish`.
struct Steps<F>(F);

impl<T, F: Fn(&Points, *mut T)> Kernel<T> for Steps<F> {
    type Prepared = Points;

    #[inline(always)]
    unsafe fn prepare(&self, p: &Points, _: &mut [i32; STEP], _: isize) -> Points {
        *p
    }

    #[inline(always)]
    unsafe fn finish(&self, x: &Points, _: &[i32; STEP], dst: *mut T) {
        (self.0)(x, dst)
    }
}

/// The fixed-point bilinear kernel for `u8` images of `C` channels.
/// `prepare` makes the taps, stores the block offsets into the slot and
/// prefetches; `finish` fetches the blocks (`GATHER`: gathers; else plain
/// loads at the offsets in the slot) and interpolates.
struct Bilinear8<'a, const C: usize, const GATHER: bool>(&'a Plane<'a>);

impl<const C: usize, const GATHER: bool> Kernel<u8> for Bilinear8<'_, C, GATHER> {
    type Prepared = Taps;

    #[inline(always)]
    unsafe fn prepare(&self, p: &Points, slot: &mut [i32; STEP], ahead: isize) -> Taps {
        // SAFETY: the caller vouches for the CPU; the store writes the
        // slot's 64 bytes.
        unsafe {
            let t = taps(self.0, p, C);
            _mm512_storeu_si512(slot.as_mut_ptr().cast(), t.off);
            prefetch(self.0, slot, ahead);
            t
        }
    }

    #[inline(always)]
    unsafe fn finish(&self, t: &Taps, slot: &[i32; STEP], dst: *mut u8) {
        // SAFETY: forwarded from the caller (`slot` holds `t`'s offsets).
        unsafe {
            if C == 1 && GATHER {
                gray_from(self.0, t, dst);
            } else if C == 1 {
                gray_from_stored(self.0, t, slot, dst);
            } else {
                let regs = if GATHER {
                    fetch_gather::<C>(self.0, t)
                } else {
                    fetch_stored::<C>(self.0, slot)
                };
                colour_from::<C>(t, &regs, dst);
            }
        }
    }
}

/// Fills `out` (a multiple of 16·C samples long, plus a partial last step)
/// with `kernel` at the points `next()` yields: each step is prepared, then
/// finished three steps later (the partial last step at once).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn fill<T: Copy + Default, const C: usize, K: Kernel<T>>(
    out: &mut [MaybeUninit<T>],
    ahead: isize,
    mut next: impl FnMut() -> Points,
    kernel: &K,
) {
    // Step k uses slot k mod DEPTH and finishes just before step
    // k + DEPTH is prepared (see `fetch_stored` for why not sooner).
    const DEPTH: usize = 3;
    let mut slots = [[0i32; STEP]; DEPTH];
    let mut pending: [Option<(K::Prepared, *mut T)>; DEPTH] = std::array::from_fn(|_| None);
    let mut chunks = out.chunks_exact_mut(STEP * C);
    let mut k = 0;
    for chunk in &mut chunks {
        let at = k % DEPTH;
        // SAFETY: this function's features are the kernels' CPU contract;
        // `chunk` has 16·C samples, and each step finishes with its own
        // prepared value and slot.
        unsafe {
            if let Some((px, dst)) = pending[at].take() {
                kernel.finish(&px, &slots[at], dst);
            }
            let x = kernel.prepare(&next(), &mut slots[at], ahead);
            pending[at] = Some((x, chunk.as_mut_ptr().cast::<T>()));
        }
        k += 1;
    }
    for i in 0..DEPTH {
        let at = (k + i) % DEPTH;
        if let Some((px, dst)) = pending[at].take() {
            // SAFETY: as above, the last whole steps, in order.
            unsafe { kernel.finish(&px, &slots[at], dst) };
        }
    }
    let slot = &mut slots[0];
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        // The last partial step: compute 16 pixels (the extra lanes read
        // clamped, in-bounds blocks), keep the ones asked for.
        let mut buf = [T::default(); STEP * 4];
        // SAFETY: as above; `buf` has 16·4 ≥ 16·C samples.
        unsafe {
            let x = kernel.prepare(&next(), slot, 0);
            kernel.finish(&x, slot, buf.as_mut_ptr());
        }
        let n = rest.len();
        write_slice(rest, &buf[..n]);
    }
}

/// Runs `step` over output columns `j0 .. j0 + out.len() / C` of the affine
/// `row`, its points made in registers (exactly [`Row::at`]).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn run_row<S: Lines, const C: usize>(
    src: &S,
    row: &Row,
    j0: usize,
    out: &mut [MaybeUninit<S::Sample>],
    kernel: &impl Kernel<S::Sample>,
) {
    let ahead = ahead(src, row.du, row.dv, C);
    let mut j = j0;
    let next = || {
        let p = row_points(row, j);
        j += STEP;
        p
    };
    fill::<_, C, _>(out, ahead, next, kernel);
}

/// Runs `step` over output columns `j0 .. j0 + out.len() / C` of the
/// projective `row`, its points made in registers (exactly [`ProjRow::at`]).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn run_proj<const C: usize>(
    src: &Plane<'_>,
    row: &ProjRow,
    j0: usize,
    out: &mut [MaybeUninit<u8>],
    kernel: &impl Kernel<u8>,
) {
    // From the run's first and last points (0 if either is behind the camera).
    let n = out.len() / C;
    let (first, last) = (row.at(j0 as f64), row.at((j0 + n.max(1) - 1) as f64));
    let ahead = ahead_of_run(src, first, last, n, C);
    let mut j = j0;
    let next = || {
        let p = proj_points(row, j);
        j += STEP;
        p
    };
    fill::<_, C, _>(out, ahead, next, kernel);
}

/// Runs `step` over the points `(u[k], v[k])`, into the pixels of `out`.
///
/// # Panics
/// If `v.len()` or `out.len() / C` differ from `u.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn run_points<S: Lines, const C: usize>(
    src: &S,
    u: &[f64],
    v: &[f64],
    out: &mut [MaybeUninit<S::Sample>],
    kernel: &impl Kernel<S::Sample>,
) {
    assert!(v.len() == u.len() && out.len() == u.len() * C);
    let n = u.len();
    let ahead = if n > 0 {
        ahead_of_run(src, (u[0], v[0]), (u[n - 1], v[n - 1]), n, C)
    } else {
        0
    };
    let whole = u.len() / STEP * STEP;
    let mut j = 0;
    let next = || {
        let p = if j < whole {
            // SAFETY: j + STEP ≤ whole ≤ len.
            unsafe { load_points(u, v, j) }
        } else {
            // The partial last step: NaN (outside) in the missing lanes.
            let (mut pu, mut pv) = ([f64::NAN; STEP], [f64::NAN; STEP]);
            let n = u.len() - j;
            pu[..n].copy_from_slice(&u[j..]);
            pv[..n].copy_from_slice(&v[j..]);
            // SAFETY: the arrays hold STEP values.
            unsafe { load_points(&pu, &pv, 0) }
        };
        j += STEP;
        p
    };
    fill::<_, C, _>(out, ahead, next, kernel);
}

/// Runs `step` over a whole `width`-pixel-wide output image `out` through
/// the sampling map `map` (output pixel → input pixel), stepping through the
/// image's pixels in one run: no per-row overhead and no partial steps at
/// row ends, for small images.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn run_image<const C: usize>(
    map: &[f64; 6],
    width: usize,
    out: &mut [MaybeUninit<u8>],
    kernel: &impl Kernel<u8>,
) {
    let ramp = _mm512_setr_pd(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    let n = _mm512_set1_pd(width as f64);
    let one = _mm512_set1_pd(1.0);
    // Lane k holds pixel (x, y) with y·width + x = k (+16 per step): small
    // integers, exact in f64.
    let mut x = [ramp, _mm512_add_pd(ramp, _mm512_set1_pd(8.0))];
    let mut y = [_mm512_setzero_pd(); 2];
    let wrap = |x: &mut [__m512d; 2], y: &mut [__m512d; 2]| {
        for h in 0..2 {
            loop {
                let m = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(x[h], n);
                x[h] = _mm512_mask_sub_pd(x[h], m, x[h], n);
                y[h] = _mm512_mask_add_pd(y[h], m, y[h], one);
                // A step of 16 wraps a lane at most once if rows are 16 or
                // wider: then no second compare, no data-dependent branch.
                if width >= STEP || m == 0 {
                    break;
                }
            }
        }
    };
    wrap(&mut x, &mut y);
    let stride = _mm512_set1_pd(STEP as f64);
    let next = || {
        let p = map_points(map, x, y);
        x = [_mm512_add_pd(x[0], stride), _mm512_add_pd(x[1], stride)];
        wrap(&mut x, &mut y);
        p
    };
    fill::<_, C, _>(out, 0, next, kernel);
}

/// Defines the four entry points of one kernel (`$step::<C, …>` per 16
/// pixels): a point buffer, an affine row, a projective row, a small image.
macro_rules! entry_points {
    (
        $what:literal, $kernel:ident, $step:ident, [$($cg:tt)*], [$($ca:tt)*],
        $points:ident, $row:ident, $proj:ident, $image:ident, $tiny:ident[$($ta:tt)*]
    ) => {
        #[doc = concat!("Samples the points `(u[k], v[k])` (input pixel coordinates; NaN reads")]
        #[doc = concat!("as outside) into the pixels of `out` (`u.len()·C` bytes) with ", $what, ".")]
        ///
        /// With zero padding any points may be given; with other paddings only
        /// points whose taps are all inside the image.
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx512.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        ///
        /// # Panics
        /// If `v.len()` or `out.len() / C` differ from `u.len()`.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
        pub unsafe fn $points<$($cg)*>(src: &Plane<'_>, u: &[f64], v: &[f64], out: &mut [MaybeUninit<u8>]) {
            // SAFETY: the caller vouches for the CPU and C; `fill` passes
            // pointers valid for 16·C bytes.
            run_points::<_, C>(src, u, v, out, &$kernel!(src, $step, $($ca)*));
        }

        #[doc = concat!("Samples output columns `j0 .. j0 + out.len() / C` of the affine `row` with ", $what, ",")]
        /// its points `u0 + j·du`, `v0 + j·dv` made in registers (exactly
        /// [`Row::at`]): the point-buffer kernel without a buffer.
        ///
        /// With zero padding any columns may be given; with other paddings only
        /// columns whose taps are all inside the image.
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx512.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
        pub unsafe fn $row<$($cg)*>(src: &Plane<'_>, row: &Row, j0: usize, out: &mut [MaybeUninit<u8>]) {
            // SAFETY: as in the point-buffer kernel.
            run_row::<_, C>(src, row, j0, out, &$kernel!(src, $step, $($ca)*));
        }

        #[doc = concat!("Samples output columns `j0 .. j0 + out.len() / C` of the projective `row` with ", $what, "")]
        /// and zero padding, its points made in registers (exactly
        /// [`ProjRow::at`]).
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx512.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
        pub unsafe fn $proj<$($cg)*>(src: &Plane<'_>, row: &ProjRow, j0: usize, out: &mut [MaybeUninit<u8>]) {
            // SAFETY: as in the point-buffer kernel.
            run_proj::<C>(src, row, j0, out, &$kernel!(src, $step, $($ca)*));
        }

        #[doc = concat!("Samples a whole `width`-pixel-wide output image `out` with ", $what, " and zero")]
        /// padding through the sampling map `map` (output pixel → input
        /// pixel), as the point-buffer kernel on each row, in one run.
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx512.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
        pub unsafe fn $image<$($cg)*>(src: &Plane<'_>, map: &[f64; 6], width: usize, out: &mut [MaybeUninit<u8>]) {
            // SAFETY: as in the point-buffer kernel.
            if unsafe { $tiny::<$($ta)*>(src, map, width, out) } {
                return;
            }
            // SAFETY: as in the point-buffer kernel.
            run_image::<C>(map, width, out, &$kernel!(src, $step, $($ca)*));
        }
    };
}

/// The [`Kernel`] of a step function `$step::<…>` on `$src`.
macro_rules! plain {
    ($src:ident, $step:ident, $($ca:tt)*) => {
        Steps(|p: &Points, dst: *mut u8| {
            // SAFETY: the entry points' callers vouch for the CPU and C;
            // `fill` passes pointers valid for 16·C bytes.
            unsafe { $step::<$($ca)*>($src, p, dst) }
        })
    };
}

/// The nearest [`Kernel`] on `$src` (the step name is unused).
macro_rules! nearest8 {
    ($src:ident, $step:ident, $($ca:tt)*) => {
        Nearest8::<$($ca)*>($src)
    };
}

/// The bilinear [`Kernel`] on `$src` (the step name is unused).
macro_rules! bilinear8 {
    ($src:ident, $step:ident, $($ca:tt)*) => {
        Bilinear8::<$($ca)*>($src)
    };
}

entry_points!(
    "the fixed-point bilinear scheme",
    bilinear8,
    gray_from,
    [const C: usize, const GATHER: bool],
    [C, GATHER],
    bilinear,
    bilinear_row,
    bilinear_proj,
    bilinear_image,
    tiny_gray[C, GATHER]
);

entry_points!(
    "bicubic convolution (exactly the scalar spec)",
    plain,
    step_bicubic,
    [const C: usize],
    [C],
    bicubic,
    bicubic_row,
    bicubic_proj,
    bicubic_image,
    no_tiny[C]
);

entry_points!(
    "nearest-neighbour sampling (exactly the scalar spec)",
    nearest8,
    store_pixels,
    [const C: usize, const GATHER: bool],
    [C, GATHER],
    nearest,
    nearest_row,
    nearest_proj,
    nearest_image,
    no_tiny[C]
);

/// One axis of 16 points (two halves of 8) for the exact `u16` kernels:
/// `(block start, fraction)`, the start `⌊q⌋` (by truncation, as the spec:
/// its points are ≥ 0) clamped to `[0, size − 2]`, the fraction `q − ⌊q⌋`
/// (exact in `f64`) rounded to `f32` as `as f32` does.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VBMI. (Not a `target_feature`
/// function, so that it can be `inline(always)`: it is only called from the
/// `u16` entry points, which enable the features, and whose step must be one
/// inlined body.)
#[inline(always)]
unsafe fn wide_axis(q: [__m512d; 2], size: usize) -> (__m512i, __m512) {
    // SAFETY: the caller vouches for the CPU.
    unsafe {
        let (lo, hi) = (_mm512_cvttpd_epi32(q[0]), _mm512_cvttpd_epi32(q[1]));
        let (flo, fhi) = (
            _mm512_cvtpd_ps(_mm512_sub_pd(q[0], _mm512_cvtepi32_pd(lo))),
            _mm512_cvtpd_ps(_mm512_sub_pd(q[1], _mm512_cvtepi32_pd(hi))),
        );
        let t = _mm512_castsi512_ps(join(_mm256_castps_si256(flo), _mm256_castps_si256(fhi)));
        let i = _mm512_min_epi32(
            _mm512_max_epi32(join(lo, hi), _mm512_setzero_si512()),
            _mm512_set1_epi32(size as i32 - 2),
        );
        (i, t)
    }
}

/// The register pair `(R_a, R_a+1)` holding the pixels of output vector `m`
/// of a `u16` step with `C` ≥ 2 channels (four pixels per register, see
/// [`step_wide`]): its 16 samples `16m .. 16m + 16` belong to pixels
/// `16m / C ..= (16m + 15) / C`, which lie in `4a .. 4a + 8`.
const fn wide_pair(channels: usize, m: usize) -> usize {
    let a = 16 * m / channels / 4;
    if a > 2 {
        2
    } else {
        a
    }
}

/// `vpermt2w` indices for output vector `m` of a `u16` step with `C` ≥ 2
/// channels: 32-bit lane `k` (its low word) is sample `s = 16m + k`, pixel
/// `p = s / C`, channel `c = s % C`, at word `8(p − 4a) + c` of the register
/// pair `a` ([`wide_pair`]); adding `C` picks the right-hand pixel's sample.
const fn wide_lanes(channels: usize) -> [[u16; 32]; 4] {
    let mut t = [[0u16; 32]; 4];
    let mut m = 0;
    while m < channels {
        let a = wide_pair(channels, m);
        let mut k = 0;
        while k < 16 {
            let s = 16 * m + k;
            let (p, c) = (s / channels, s % channels);
            t[m][2 * k] = (8 * (p - 4 * a) + c) as u16;
            k += 1;
        }
        m += 1;
    }
    t
}

/// `vpermd` indices spreading per-pixel values (lane `p`) to the sample
/// lanes of output vector `m` ([`wide_lanes`]).
const fn wide_lane_pixels(channels: usize) -> [[i32; 16]; 4] {
    let mut t = [[0i32; 16]; 4];
    let mut m = 0;
    while m < channels {
        let mut k = 0;
        while k < 16 {
            t[m][k] = ((16 * m + k) / channels) as i32;
            k += 1;
        }
        m += 1;
    }
    t
}

static WIDE_LANES: [[[u16; 32]; 4]; 3] = [wide_lanes(2), wide_lanes(3), wide_lanes(4)];
static WIDE_LANE_PIXELS: [[[i32; 16]; 4]; 3] = [
    wide_lane_pixels(2),
    wide_lane_pixels(3),
    wide_lane_pixels(4),
];

/// The spec's bilinear value of 16 samples from their taps (zero-extended
/// `u16` in 32-bit lanes) and fractions, rounded and clamped as
/// `u16::from_f32`, stored as 16 `u16` at `dst`: `t = nw + tx·(ne − nw)`,
/// `b = sw + tx·(se − sw)`, `t + ty·(b − t)`, separate multiplies and adds.
///
/// # Safety
/// The CPU supports AVX-512 F, BW, VL and VBMI; `dst` is valid for writes
/// of 16 samples. (Inlined into the `u16` entry points, see [`step_wide`].)
#[inline(always)]
unsafe fn wide_finish(taps: [__m512i; 4], tx: __m512, ty: __m512, dst: *mut u16) {
    // SAFETY: the caller vouches for the CPU and `dst`.
    unsafe {
        let (nw, ne) = (_mm512_cvtepi32_ps(taps[0]), _mm512_cvtepi32_ps(taps[1]));
        let (sw, se) = (_mm512_cvtepi32_ps(taps[2]), _mm512_cvtepi32_ps(taps[3]));
        let t = _mm512_add_ps(nw, _mm512_mul_ps(tx, _mm512_sub_ps(ne, nw)));
        let b = _mm512_add_ps(sw, _mm512_mul_ps(tx, _mm512_sub_ps(se, sw)));
        let r = _mm512_add_ps(t, _mm512_mul_ps(ty, _mm512_sub_ps(b, t)));
        // NaN becomes 0 (`max` returns its second operand), as the spec's
        // clamp-then-cast does; `vcvtps2dq` rounds half to even (MXCSR).
        let r = _mm512_min_ps(
            _mm512_max_ps(r, _mm512_setzero_ps()),
            _mm512_set1_ps(65535.0),
        );
        _mm256_storeu_si256(dst.cast(), _mm512_cvtepi32_epi16(_mm512_cvtps_epi32(r)));
    }
}

/// Writes 16 `u16` output pixels of `C` channels, bilinear at `p` with
/// exactly the scalar spec's operations (`Bilinear::fast`): `x0 = ⌊u⌋` (by
/// truncation: the points are inside the image), `tx = (u − x0) as f32`, the
/// same for `v`; per channel `t = nw + tx·(ne − nw)`, `b = sw + tx·(se − sw)`,
/// `t + ty·(b − t)` in `f32` with separate multiplies and adds; then clamped
/// to `[0, 65535]` and rounded half to even, as `u16::from_f32`
/// ([`wide_finish`]).
///
/// Each 32-bit lane computes one output sample, in output order (output
/// vector `m` holds samples `16m .. 16m + 16`), so the results need no
/// interleaving. Gray gathers each pixel's two taps per row with one 32-bit
/// gather. With `C` ≥ 2 each pixel's row of `2C` samples is one 16-byte
/// load (the bottom row's `8 − 2C` samples early, so that it ends at the
/// block's last sample), four pixels per register; one `vpermt2w` per row
/// and output vector picks each sample's left and right taps from a
/// register pair (the two words of its lane), and `vpermd` spreads the
/// fractions to the sample lanes.
///
/// The points must lie in `Bilinear::interior` (`[0, W−1) × [0, H−1)`) for
/// the spec's values; any other point (NaN included) reads a clamped block
/// inside the image, giving some value without touching memory outside it.
///
/// # Safety
/// - the CPU supports AVX-512 F, BW, VL and VBMI;
/// - `dst` is valid for writes of 16·C samples;
/// - `C` equals `src.channels()`.
///
/// Not a `target_feature` function, so that it can be `inline(always)`: a
/// call per step cost ~20 % (4K RGB, Zen 5). It is only called from the
/// `u16` entry points, which enable the features.
#[inline(always)]
unsafe fn step_wide<const C: usize>(src: &Plane16<'_>, p: &Points, dst: *mut u16, ahead: isize) {
    debug_assert_eq!(src.channels(), C);
    // SAFETY: the caller vouches for the CPU and `dst`; the reads are
    // argued below.
    unsafe {
        let (x, tx) = wide_axis(p.u, src.width());
        let (y, ty) = wide_axis(p.v, src.height());
        let stride = src.stride();
        // Sample index of each block's top-left sample: x ≤ W − 2 and
        // y ≤ H − 2 (clamped), so the block is inside the image.
        let top = _mm512_add_epi32(
            _mm512_mullo_epi32(y, _mm512_set1_epi32(stride as i32)),
            _mm512_mullo_epi32(x, _mm512_set1_epi32(C as i32)),
        );
        if ahead != 0 {
            let mut bytes = [0i32; STEP];
            _mm512_storeu_si512(bytes.as_mut_ptr().cast(), _mm512_slli_epi32::<1>(top));
            prefetch(src, &bytes, ahead);
        }
        let base = src.data().as_ptr();
        if C == 1 {
            let low = _mm512_set1_epi32(0xffff);
            // Samples top, top + 1 of the block's rows: inside the image
            // (Plane16 keeps every index below 2³¹).
            let gt = _mm512_i32gather_epi32::<2>(top, base.cast());
            let bottom = _mm512_add_epi32(top, _mm512_set1_epi32(stride as i32));
            let gb = _mm512_i32gather_epi32::<2>(bottom, base.cast());
            let taps = [
                _mm512_and_si512(gt, low),
                _mm512_srli_epi32::<16>(gt),
                _mm512_and_si512(gb, low),
                _mm512_srli_epi32::<16>(gb),
            ];
            wide_finish(taps, tx, ty, dst);
            return;
        }
        let mut offs = [0u32; STEP];
        _mm512_storeu_si512(offs.as_mut_ptr().cast(), top);
        let shift = 8 - 2 * C;
        let mut rows = [[_mm512_setzero_si512(); 4]; 2];
        for (r, regs) in rows.iter_mut().enumerate() {
            // Top row: 8 samples from the block's first, offs + 8 ≤
            // y·S + (W − 2)·C + 8 ≤ (y + 1)·S + (8 − 2C) ≤ len (S = W·C ≥
            // 2C ≥ 8 − 2C: row y + 1 exists). Bottom row: 8 samples ending
            // at the block's last, from offs + S − (8 − 2C) ≥ 0 to
            // offs + S + 2C ≤ (y + 2)·S ≤ len.
            let row = base.add(r * (stride - shift));
            for (q, reg) in regs.iter_mut().enumerate() {
                let at = |k: usize| row.add(offs[4 * q + k] as usize).cast::<__m128i>();
                let v = _mm512_castsi128_si512(_mm_loadu_si128(at(0)));
                let v = _mm512_inserti32x4::<1>(v, _mm_loadu_si128(at(1)));
                let v = _mm512_inserti32x4::<2>(v, _mm_loadu_si128(at(2)));
                *reg = _mm512_inserti32x4::<3>(v, _mm_loadu_si128(at(3)));
            }
        }
        let low = _mm512_set1_epi32(0xffff);
        for m in 0..C {
            let a = wide_pair(C, m);
            let pick = _mm512_loadu_si512(WIDE_LANES[C - 2][m].as_ptr().cast());
            let pixels = _mm512_loadu_si512(WIDE_LANE_PIXELS[C - 2][m].as_ptr().cast());
            let (txm, tym) = (
                _mm512_permutexvar_ps(pixels, tx),
                _mm512_permutexvar_ps(pixels, ty),
            );
            let [rt, rb] = &rows;
            // Word 0 of each lane picks the left tap, word 1 the right one
            // (C samples on): one `vpermt2w` per row instead of one per tap.
            let pair = _mm512_or_si512(
                pick,
                _mm512_slli_epi32::<16>(_mm512_add_epi16(pick, _mm512_set1_epi32(C as i32))),
            );
            let down = _mm512_add_epi16(pair, _mm512_set1_epi16(shift as i16));
            let top = _mm512_permutex2var_epi16(rt[a], pair, rt[a + 1]);
            let bottom = _mm512_permutex2var_epi16(rb[a], down, rb[a + 1]);
            let taps = [
                _mm512_and_si512(top, low),
                _mm512_srli_epi32::<16>(top),
                _mm512_and_si512(bottom, low),
                _mm512_srli_epi32::<16>(bottom),
            ];
            wide_finish(taps, txm, tym, dst.add(16 * m));
        }
    }
}

/// Samples the points `(u[k], v[k])` (input pixel coordinates) of a `u16`
/// image into the pixels of `out` (`u.len()·C` samples) with bilinear
/// interpolation, exactly as the scalar spec's `Bilinear::fast`.
///
/// Only points whose taps are all inside the image (`Bilinear::interior`)
/// get the spec's values; others get some value, read inside the image.
///
/// # Safety
/// - the CPU supports the ISA (`Isa::Avx512.is_supported()`);
/// - `C` equals `src.channels()`.
///
/// # Panics
/// If `v.len()` or `out.len() / C` differ from `u.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
pub unsafe fn bilinear16<const C: usize>(
    src: &Plane16<'_>,
    u: &[f64],
    v: &[f64],
    out: &mut [MaybeUninit<u16>],
) {
    assert!(v.len() == u.len() && out.len() == u.len() * C);
    let n = u.len();
    let ahead = if n > 0 {
        ahead_of_run(src, (u[0], v[0]), (u[n - 1], v[n - 1]), n, C)
    } else {
        0
    };
    // The loop is written out here (not `fill`) so that the step, called
    // once, is inlined: a call per step cost ~20 % (4K RGB, Zen 5).
    let mut buf = [0u16; STEP * 4];
    let mut j = 0;
    while j < n {
        let whole = j + STEP <= n;
        let p = if whole {
            // SAFETY: j + STEP ≤ n.
            unsafe { load_points(u, v, j) }
        } else {
            // The partial last step: (0, 0) in the missing lanes.
            let (mut pu, mut pv) = ([0.0; STEP], [0.0; STEP]);
            pu[..n - j].copy_from_slice(&u[j..]);
            pv[..n - j].copy_from_slice(&v[j..]);
            // SAFETY: the arrays hold STEP values.
            unsafe { load_points(&pu, &pv, 0) }
        };
        let dst = if whole {
            // 16·C samples from j·C: j + 16 ≤ n.
            out[j * C..].as_mut_ptr().cast::<u16>()
        } else {
            // 16·4 ≥ 16·C samples.
            buf.as_mut_ptr()
        };
        // SAFETY: the caller vouches for the CPU and C; `dst` is valid for
        // 16·C samples.
        unsafe { step_wide::<C>(src, &p, dst, if whole { ahead } else { 0 }) };
        if !whole {
            write_slice(&mut out[j * C..], &buf[..(n - j) * C]);
        }
        j += STEP;
    }
}

/// Samples output columns `j0 .. j0 + out.len() / C` of the affine `row`
/// of a `u16` image as [`bilinear16`], its points made in registers
/// (exactly [`Row::at`]). Only columns whose points lie in
/// `Bilinear::interior` get the spec's values.
///
/// # Safety
/// As [`bilinear16`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
pub unsafe fn bilinear16_row<const C: usize>(
    src: &Plane16<'_>,
    row: &Row,
    j0: usize,
    out: &mut [MaybeUninit<u16>],
) {
    let n = out.len() / C;
    let ahead = ahead(src, row.du, row.dv, C);
    // Written out as in `bilinear16`.
    let mut buf = [0u16; STEP * 4];
    let mut k = 0;
    while k < n {
        let whole = k + STEP <= n;
        let p = row_points(row, j0 + k);
        let dst = if whole {
            // 16·C samples from k·C: k + 16 ≤ n.
            out[k * C..].as_mut_ptr().cast::<u16>()
        } else {
            // 16·4 ≥ 16·C samples.
            buf.as_mut_ptr()
        };
        // SAFETY: as in `bilinear16`.
        unsafe { step_wide::<C>(src, &p, dst, if whole { ahead } else { 0 }) };
        if !whole {
            write_slice(&mut out[k * C..n * C], &buf[..(n - k) * C]);
        }
        k += STEP;
    }
}
