//! AVX-512 (F, BW, VL, VBMI) bilinear kernels for `u8` images with 1, 3 or 4
//! channels: the fixed-point scheme of [`super::fixed`], 16 output pixels per
//! step.
//!
//! Per step: the 16 sampling points in `f64` (`u0 + j·du`, exactly
//! [`Row::at`]), their block offsets and 11-bit weights in `i32` lanes, one
//! gather per source row (4 bytes per pixel for gray, 8 for colour), then
//! `vpermb` lays the taps out as `(left, right)` 16-bit pairs, one output
//! sample per 32-bit lane, for `vpmaddwd`; `vpmovdb` packs the results.
//!
//! Needs Rust 1.89 (AVX-512 intrinsics and target features); so does the rest
//! of the SIMD code (safe `#[target_feature]` functions, 1.86). The
//! `clippy::msrv` attribute on this module's declaration tells clippy;
//! `rust-version` in Cargo.toml must say 1.89 as well.

use core::arch::x86_64::*;

use super::fixed::{Plane, BITS, ONE};
use super::grid::Row;

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

/// One axis for 8 points: `(floor, 11-bit fraction)`, with points outside the
/// reach `[-1, size)` (or NaN) moved to `-1`, as [`super::fixed::axis`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn axis8(p: __m512d, size: usize) -> (__m256i, __m256i) {
    let minus_one = _mm512_set1_pd(-1.0);
    let inside = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(p, minus_one)
        & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(p, _mm512_set1_pd(size as f64));
    let p = _mm512_mask_blend_pd(inside, minus_one, p);
    let p0 = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(p);
    let frac = _mm512_mul_pd(_mm512_sub_pd(p, p0), _mm512_set1_pd(f64::from(ONE)));
    let w = _mm512_cvt_roundpd_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(frac);
    (_mm512_cvttpd_epi32(p0), w)
}

/// One axis for 16 points: `(block start, first tap's weight, second tap's
/// weight)`, from the floors and fractions of [`axis8`].
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

/// The taps of output columns `j .. j + 16` of `row`, for `C` channels.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
fn taps(src: &Plane<'_>, row: &Row, j: usize, c: usize) -> Taps {
    let ramp = _mm512_setr_pd(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    // Integers below 2^53: exact, so these are the `j as f64` of Row::at.
    let x0 = _mm512_add_pd(_mm512_set1_pd(j as f64), ramp);
    let x1 = _mm512_add_pd(x0, _mm512_set1_pd(8.0));
    let (u0, du) = (_mm512_set1_pd(row.u0), _mm512_set1_pd(row.du));
    let (v0, dv) = (_mm512_set1_pd(row.v0), _mm512_set1_pd(row.dv));
    // u0 + x·du, rounded twice as in Row::at (no fused multiply-add).
    let (ia, wa) = axis8(_mm512_add_pd(u0, _mm512_mul_pd(x0, du)), src.width());
    let (ib, wb) = axis8(_mm512_add_pd(u0, _mm512_mul_pd(x1, du)), src.width());
    let (ic, wc) = axis8(_mm512_add_pd(v0, _mm512_mul_pd(x0, dv)), src.height());
    let (id, wd) = axis8(_mm512_add_pd(v0, _mm512_mul_pd(x1, dv)), src.height());
    let (xb, wl, wr) = edges(join(ia, ib), join(wa, wb), src.width());
    let (yb, wt, wb) = edges(join(ic, id), join(wc, wd), src.height());
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

/// `vpermi2b` indices for `C` channels: output vector `m`, 32-bit lane `k` is
/// sample `s = 16m + k` (pixel `s / C`, channel `s % C`); its bytes 0 and 2 take
/// the pixel's left and right tap from the two gathered vectors (pixel `p`'s
/// 8 bytes at `8p`, its taps at `shift + c` and `shift + C + c`). Bytes 1 and 3
/// are zeroed by the mask.
const fn colour_pairs(channels: usize, shift: usize) -> [[u8; 64]; 4] {
    let mut t = [[0u8; 64]; 4];
    let mut m = 0;
    while m < channels {
        let mut k = 0;
        while k < 16 {
            let s = 16 * m + k;
            let (p, c) = (s / channels, s % channels);
            t[m][4 * k] = (8 * p + shift + c) as u8;
            t[m][4 * k + 2] = (8 * p + shift + channels + c) as u8;
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

static RGB_TOP: [[u8; 64]; 4] = colour_pairs(3, 0);
static RGB_BOTTOM: [[u8; 64]; 4] = colour_pairs(3, bottom_shift(3));
static RGB_PIXELS: [[u8; 64]; 4] = colour_pixels(3);
static RGBA_TOP: [[u8; 64]; 4] = colour_pairs(4, 0);
static RGBA_BOTTOM: [[u8; 64]; 4] = colour_pairs(4, bottom_shift(4));
static RGBA_PIXELS: [[u8; 64]; 4] = colour_pixels(4);

/// Even bytes: the low halves of the 16-bit pairs.
const EVEN: __mmask64 = 0x5555_5555_5555_5555;

/// Writes 16 gray output pixels, columns `j .. j + 16`, to `dst`.
///
/// # Safety
/// - the CPU supports AVX-512 F, BW, VL and VBMI;
/// - `dst` is valid for writes of 16 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn step_gray(src: &Plane<'_>, row: &Row, j: usize, dst: *mut u8) {
    let t = taps(src, row, j, 1);
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

/// Writes 16 colour output pixels of `C` = 3 or 4 channels, columns `j .. j + 16`.
///
/// # Safety
/// - the CPU supports AVX-512 F, BW, VL and VBMI;
/// - `C` is `src`'s channel count, 3 or 4;
/// - `dst` is valid for writes of `16·C` bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
unsafe fn step_colour<const C: usize>(src: &Plane<'_>, row: &Row, j: usize, dst: *mut u8) {
    let (tops, bottoms, pixels) = if C == 3 {
        (&RGB_TOP, &RGB_BOTTOM, &RGB_PIXELS)
    } else {
        (&RGBA_TOP, &RGBA_BOTTOM, &RGBA_PIXELS)
    };
    let t = taps(src, row, j, C);
    let base = src.data().as_ptr();
    let lo = _mm512_castsi512_si256(t.off);
    let hi = _mm512_extracti64x4_epi64::<1>(t.off);
    let shift = _mm256_set1_epi32((src.stride() - bottom_shift(C)) as i32);
    // SAFETY: blocks are inside the image (Plane's invariants, clamped starts):
    // the 8 bytes at `off` end by (H-2)·W·C + (W-2)·C + 8 ≤ W·H·C, and those at
    // `off + W·C - (8 - 2C)` start at ≥ W·C - 2 ≥ 0 and end by exactly
    // (H-1)·W·C + (W-2)·C + 2C = W·H·C at the last block.
    let (t0, t1, b0, b1) = unsafe {
        (
            _mm512_i32gather_epi64::<1>(lo, base.cast()),
            _mm512_i32gather_epi64::<1>(hi, base.cast()),
            _mm512_i32gather_epi64::<1>(_mm256_add_epi32(lo, shift), base.cast()),
            _mm512_i32gather_epi64::<1>(_mm256_add_epi32(hi, shift), base.cast()),
        )
    };
    for m in 0..C {
        let spread = table(&pixels[m]);
        let wx = _mm512_permutexvar_epi32(spread, t.wx);
        let wt = _mm512_permutexvar_epi32(spread, t.wt);
        let wb = _mm512_permutexvar_epi32(spread, t.wb);
        let top = _mm512_maskz_permutex2var_epi8(EVEN, t0, table(&tops[m]), t1);
        let bottom = _mm512_maskz_permutex2var_epi8(EVEN, b0, table(&bottoms[m]), b1);
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

/// Samples output columns `j0 .. j0 + out.len() / C` of `row` with the
/// fixed-point bilinear scheme, `C` = `src`'s channel count (1, 3 or 4).
///
/// With zero padding any columns may be given; with other paddings only
/// columns whose four taps are all inside the image.
///
/// # Safety
/// - the CPU supports AVX-512 F, BW, VL and VBMI
///   (`Isa::Avx512.is_supported()`);
/// - `C` equals the channel count `src` was checked with (1, 3 or 4).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi")]
pub unsafe fn bilinear<const C: usize>(src: &Plane<'_>, row: &Row, j0: usize, out: &mut [u8]) {
    let n = out.len() / C;
    let mut j = 0;
    while j + STEP <= n {
        let dst = out[j * C..(j + STEP) * C].as_mut_ptr();
        // SAFETY: the caller vouches for the CPU and C; dst has 16·C bytes.
        unsafe {
            if C == 1 {
                step_gray(src, row, j0 + j, dst);
            } else {
                step_colour::<C>(src, row, j0 + j, dst);
            }
        }
        j += STEP;
    }
    if j < n {
        // The last partial step: compute 16 pixels (the extra columns read
        // clamped, in-bounds blocks), keep the ones asked for.
        let mut buf = [0u8; STEP * 4];
        // SAFETY: as above; buf has 16·4 ≥ 16·C bytes.
        unsafe {
            if C == 1 {
                step_gray(src, row, j0 + j, buf.as_mut_ptr());
            } else {
                step_colour::<C>(src, row, j0 + j, buf.as_mut_ptr());
            }
        }
        out[j * C..].copy_from_slice(&buf[..(n - j) * C]);
    }
}
