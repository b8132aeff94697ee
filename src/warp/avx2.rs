//! AVX2 kernels for `u8` images with 1 to 4 channels, 8 output pixels per
//! step: bilinear with the fixed-point scheme of [`super::fixed`]; nearest
//! ([`step_nearest`]) exactly as the scalar spec, its taps fetched with
//! 32-bit gathers; bicubic ([`step_bicubic`]) with the fixed-point model
//! `fixed::cubic_sum`, its taps loaded 16 bytes per point and row. The three share the drivers
//! that make or load the points (as in `avx512.rs`). Bilinear for `u16`
//! images ([`bilinear16`], [`bilinear16_row`]) is exactly the scalar spec:
//! its `f32` operations on the taps (loaded and transposed; gray gathers).
//!
//! Bilinear gray keeps one output pixel per 32-bit lane and gathers its
//! taps. Colour loads each pixel's two 8-byte rows into a 128-bit lane
//! (`vpshufb` cannot move bytes between lanes), groups each channel's four
//! taps in a dword and transposes, so that its arithmetic works on one
//! channel of 8 pixels per register ([`step_colour`]), as bicubic does.
//!
//! A step is a long chain of dependent instructions (coordinates, weights,
//! offsets, loads, arithmetic, stores), longer than the out-of-order window
//! of a Zen 3 covers, so [`fill`] runs the first half of the next step
//! (for bilinear [`prepare`], for nearest [`prepare_nearest`]) before the
//! second half of the current one.
//! The steps take a tag `T`, one per entry point, so that each
//! instantiation has a single caller and is inlined into its loop; the
//! interior row kernel's tag ([`INNER_TAG`]) also selects its shorter
//! vertical step ([`finish_for`]).

use core::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::fixed::{Lines, Plane, Plane16, BITS, CUBIC_BITS, ONE};
use super::grid::{ProjRow, Row};
use super::write_slice;

/// Output pixels per step.
const STEP: usize = 8;

/// The per-pixel quantities of 8 consecutive output columns, in `i32` lanes.
#[derive(Clone, Copy)]
struct Taps {
    /// Byte offset of the top-left sample of each 2×2 block.
    off: __m256i,
    /// Horizontal weights, `left | right << 16`.
    wx: __m256i,
    /// Weight of the block's top row.
    wt: __m256i,
    /// Weight of its bottom row.
    wb: __m256i,
}

/// `round(p·2¹¹)` of 8 coordinates (two halves of 4) as `i32` lanes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn quantise(p: [__m256d; 2]) -> __m256i {
    let scale = _mm256_set1_pd(f64::from(ONE));
    // vcvtpd2dq rounds with MXCSR's mode: to nearest, ties to even (Rust never
    // changes it); NaN and values beyond i32 become i32::MIN: outside.
    _mm256_set_m128i(
        _mm256_cvtpd_epi32(_mm256_mul_pd(p[1], scale)),
        _mm256_cvtpd_epi32(_mm256_mul_pd(p[0], scale)),
    )
}

/// One axis for 8 points (two halves of 4): `(block start, first tap's
/// weight, second tap's weight)`, as [`super::fixed::axis`].
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn axis(p: [__m256d; 2], size: usize) -> (__m256i, __m256i, __m256i) {
    let q = quantise(p);
    let minus_one = _mm256_set1_epi32(-ONE);
    let inside = _mm256_andnot_si256(
        _mm256_cmpgt_epi32(minus_one, q),
        _mm256_cmpgt_epi32(_mm256_set1_epi32(size as i32 * ONE), q),
    );
    let q = _mm256_blendv_epi8(minus_one, q, inside);
    let i0 = _mm256_srai_epi32::<{ BITS as i32 }>(q);
    let w = _mm256_and_si256(q, _mm256_set1_epi32(ONE - 1));
    edges(i0, w, size)
}

/// [`axis`] for points whose taps are all inside (`Bilinear::interior`:
/// `0 ≤ p < size − 1`), without its edge cases: there `q = round(p·2¹¹)`
/// lies in `[0, (size − 1)·2¹¹]`, and the start `⌊q / 2¹¹⌋` clamped to
/// `size − 2` with the weights `(2¹¹ − w, w)` of `w = q − start·2¹¹` are
/// [`axis`]'s values, `q = (size − 1)·2¹¹` included (`w = 2¹¹`: all the
/// weight on the second tap, as [`edges`] puts it). Any other point gets a
/// start clamped into `[0, size − 2]` (reads stay inside) and meaningless
/// weights. 5 instructions after the conversion, against [`axis`]'s 15.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn axis_inner(p: [__m256d; 2], size: usize) -> (__m256i, __m256i, __m256i) {
    let q = quantise(p);
    let start = _mm256_min_epi32(
        _mm256_max_epi32(
            _mm256_srai_epi32::<{ BITS as i32 }>(q),
            _mm256_setzero_si256(),
        ),
        _mm256_set1_epi32(size as i32 - 2),
    );
    let w = _mm256_sub_epi32(q, _mm256_slli_epi32::<{ BITS as i32 }>(start));
    (start, _mm256_sub_epi32(_mm256_set1_epi32(ONE), w), w)
}

/// `(block start, first tap's weight, second tap's weight)` of 8 points
/// from their floors and fractions.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn edges(i0: __m256i, w: __m256i, size: usize) -> (__m256i, __m256i, __m256i) {
    let zero = _mm256_setzero_si256();
    let last = _mm256_set1_epi32(size as i32 - 2);
    let below = _mm256_cmpgt_epi32(zero, i0);
    let above = _mm256_cmpgt_epi32(i0, last);
    let inv = _mm256_sub_epi32(_mm256_set1_epi32(ONE), w);
    // Inside (2048-w, w); at -1 (w, 0); at size-1 (0, 2048-w).
    let first = _mm256_andnot_si256(above, _mm256_blendv_epi8(inv, w, below));
    let second = _mm256_andnot_si256(below, _mm256_blendv_epi8(w, inv, above));
    let start = _mm256_min_epi32(_mm256_max_epi32(i0, zero), last);
    (start, first, second)
}

/// 8 sampling points `(u, v)`, as two halves of 4.
#[derive(Clone, Copy)]
struct Points {
    u: [__m256d; 2],
    v: [__m256d; 2],
}

/// The points of output columns `j .. j + 8` of `row`.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn row_points(row: &Row, j: usize) -> Points {
    // Integers below 2^53: exact, so these are the `j as f64` of Row::at.
    let x0 = _mm256_add_pd(_mm256_set1_pd(j as f64), _mm256_setr_pd(0.0, 1.0, 2.0, 3.0));
    row_points_at(row, x0)
}

/// [`row_points`] of the columns `x0` (lanes `j .. j + 4`, as `f64`).
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn row_points_at(row: &Row, x0: __m256d) -> Points {
    let x1 = _mm256_add_pd(x0, _mm256_set1_pd(4.0));
    let (u0, du) = (_mm256_set1_pd(row.u0), _mm256_set1_pd(row.du));
    let (v0, dv) = (_mm256_set1_pd(row.v0), _mm256_set1_pd(row.dv));
    // u0 + x·du, rounded twice as in Row::at (no fused multiply-add).
    Points {
        u: [
            _mm256_add_pd(u0, _mm256_mul_pd(x0, du)),
            _mm256_add_pd(u0, _mm256_mul_pd(x1, du)),
        ],
        v: [
            _mm256_add_pd(v0, _mm256_mul_pd(x0, dv)),
            _mm256_add_pd(v0, _mm256_mul_pd(x1, dv)),
        ],
    }
}

/// The points of output columns `j .. j + 8` (`x0`: lanes `j .. j + 4` as `f64`) of the projective `row`, as
/// [`ProjRow::at`] computes them (same operations, no fused multiply-add).
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn proj_points(row: &ProjRow, x0: __m256d) -> Points {
    let x1 = _mm256_add_pd(x0, _mm256_set1_pd(4.0));
    #[allow(clippy::redundant_closure)] // target-feature fns are not FnMut
    let k = |v| _mm256_set1_pd(v);
    let half = |x: __m256d| {
        let z = _mm256_add_pd(_mm256_mul_pd(k(row.g6), x), k(row.nz));
        let r = _mm256_div_pd(k(1.0), z);
        let pu = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(k(row.g0), x), k(row.nu)), r);
        let pv = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(k(row.g3), x), k(row.nv)), r);
        let front = _mm256_cmp_pd::<_CMP_GT_OQ>(z, _mm256_setzero_pd());
        let nan = k(f64::NAN);
        (
            _mm256_blendv_pd(nan, pu, front),
            _mm256_blendv_pd(nan, pv, front),
        )
    };
    let ((u0, v0), (u1, v1)) = (half(x0), half(x1));
    Points {
        u: [u0, u1],
        v: [v0, v1],
    }
}

/// The 8 points at `u[j..]`, `v[j..]`.
///
/// # Safety
/// `u` and `v` have at least `j + 8` elements.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn load_points(u: &[f64], v: &[f64], j: usize) -> Points {
    debug_assert!(u.len() >= j + STEP && v.len() >= j + STEP);
    // SAFETY: the caller guarantees 8 readable values from `j` on.
    unsafe {
        let (u, v) = (u.as_ptr().add(j), v.as_ptr().add(j));
        Points {
            u: [_mm256_loadu_pd(u), _mm256_loadu_pd(u.add(4))],
            v: [_mm256_loadu_pd(v), _mm256_loadu_pd(v.add(4))],
        }
    }
}

/// The points of output pixels `(x, y)` (two halves of 4 lanes each) of the
/// sampling map `[a, b, c, d, e, f]`: `u = (b·y + c) + x·a`, `v = (e·y + f) + x·d`,
/// the same operations as `Row::new` then `Row::at`.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn map_points(m: &[f64; 6], x: [__m256d; 2], y: [__m256d; 2]) -> Points {
    #[allow(clippy::redundant_closure)] // target-feature fns are not FnMut
    let k = m.map(|v| _mm256_set1_pd(v));
    let at = |x: __m256d, y: __m256d, r: usize| {
        let start = _mm256_add_pd(_mm256_mul_pd(k[r + 1], y), k[r + 2]);
        _mm256_add_pd(start, _mm256_mul_pd(x, k[r]))
    };
    Points {
        u: [at(x[0], y[0], 0), at(x[1], y[1], 0)],
        v: [at(x[0], y[0], 3), at(x[1], y[1], 3)],
    }
}

/// The taps of 8 points, for `c` channels; `INNER`: the points' taps are
/// all inside ([`axis_inner`]).
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn taps<const INNER: bool>(src: &Plane<'_>, p: &Points, c: usize) -> Taps {
    let ((xb, wl, wr), (yb, wt, wb)) = if INNER {
        (axis_inner(p.u, src.width()), axis_inner(p.v, src.height()))
    } else {
        (axis(p.u, src.width()), axis(p.v, src.height()))
    };
    let off = _mm256_add_epi32(
        _mm256_mullo_epi32(yb, _mm256_set1_epi32(src.stride() as i32)),
        _mm256_mullo_epi32(xb, _mm256_set1_epi32(c as i32)),
    );
    Taps {
        off,
        wx: _mm256_or_si256(wl, _mm256_slli_epi32::<16>(wr)),
        wt,
        wb,
    }
}

/// The 8 lanes of `v`.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn lanes(v: __m256i) -> [i32; STEP] {
    let mut a = [0i32; STEP];
    // SAFETY: writes exactly the 32 bytes of `a`.
    unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
    a
}

/// The 4×4 transpose of dwords in each 128-bit lane: dword `k` of lane `l`
/// of register `x[p]` goes to dword `p` of lane `l` of register `k`. With
/// points `p` and `p + 4` in the lanes of `x[p]`, register `k` holds dword
/// `k` of points 0–7 in order.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn transpose4(x: [__m256i; 4]) -> [__m256i; 4] {
    let (t0, t1) = (
        _mm256_unpacklo_epi32(x[0], x[1]),
        _mm256_unpacklo_epi32(x[2], x[3]),
    );
    let (t2, t3) = (
        _mm256_unpackhi_epi32(x[0], x[1]),
        _mm256_unpackhi_epi32(x[2], x[3]),
    );
    [
        _mm256_unpacklo_epi64(t0, t1),
        _mm256_unpackhi_epi64(t0, t1),
        _mm256_unpacklo_epi64(t2, t3),
        _mm256_unpackhi_epi64(t2, t3),
    ]
}

/// A bilinear step's quantities that do not read the image: its taps and,
/// for colour, their block offsets as an array (for the loads; gray gathers
/// from `taps.off` and makes the array only to prefetch).
#[derive(Clone, Copy)]
struct Prepared {
    taps: Taps,
    offs: [i32; STEP],
}

/// The first half of a bilinear step (see [`fill`]): the [`Prepared`] of
/// the 8 points `p`, for `C` channels (`INNER`: see [`taps`]).
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn prepare_with<const C: usize, const INNER: bool>(src: &Plane<'_>, p: &Points) -> Prepared {
    let taps = taps::<INNER>(src, p, C);
    let offs = if C == 1 { [0; STEP] } else { lanes(taps.off) };
    Prepared { taps, offs }
}

/// [`prepare_with`] for any points.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn prepare<const C: usize>(src: &Plane<'_>, p: &Points) -> Prepared {
    prepare_with::<C, false>(src, p)
}

/// The first half of a bicubic step: the points themselves. (Computing its
/// weights a step ahead measured 4–11 % slower on a Zen 3: too many live
/// registers.)
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn as_is<const C: usize>(_: &Plane<'_>, p: &Points) -> Points {
    *p
}

/// `(top·wt + bottom·wb + ½) >> 22` per lane.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn finish(top: __m256i, bottom: __m256i, wt: __m256i, wb: __m256i) -> __m256i {
    let sum = _mm256_add_epi32(_mm256_mullo_epi32(top, wt), _mm256_mullo_epi32(bottom, wb));
    let sum = _mm256_add_epi32(sum, _mm256_set1_epi32(1 << (2 * BITS - 1)));
    _mm256_srli_epi32::<{ 2 * BITS as i32 }>(sum)
}

/// [`finish`] where the weights are those of [`axis_inner`] (`wt = 2¹¹ − wb`,
/// every tap inside): `top·2¹¹ + (bottom − top)·wb` is the same integer as
/// `top·wt + bottom·wb` with one multiply fewer (`top`, `bottom` < 2¹⁹ and
/// `wb` ≤ 2¹¹, so every term and the sum stay below 2³¹).
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn finish_inner(top: __m256i, bottom: __m256i, wb: __m256i) -> __m256i {
    let sum = _mm256_add_epi32(
        _mm256_slli_epi32::<{ BITS as i32 }>(top),
        _mm256_mullo_epi32(_mm256_sub_epi32(bottom, top), wb),
    );
    let sum = _mm256_add_epi32(sum, _mm256_set1_epi32(1 << (2 * BITS - 1)));
    _mm256_srli_epi32::<{ 2 * BITS as i32 }>(sum)
}

/// The tag of the steps of [`bilinear_row_inner`] (points in
/// `Bilinear::interior`, weights from [`axis_inner`]).
const INNER_TAG: u8 = 4;

/// The vertical step of a bilinear step tagged `T`: [`finish_inner`] for the
/// interior kernel's, [`finish`] for the others.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn finish_for<const T: u8>(top: __m256i, bottom: __m256i, t: &Taps) -> __m256i {
    if T == INNER_TAG {
        finish_inner(top, bottom, t.wb)
    } else {
        finish(top, bottom, t.wt, t.wb)
    }
}

/// Loads a 32-byte table.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn table(t: &[u8; 32]) -> __m256i {
    // SAFETY: reads exactly the 32 bytes of `t`; unaligned loads are allowed.
    unsafe { _mm256_loadu_si256(t.as_ptr().cast()) }
}

/// `vpshufb` controls for gray: per 32-bit lane, bytes `(k, k+1)` of the lane
/// as a 16-bit pair; `k` = 0 for the top row, 2 for the bottom row (loaded two
/// bytes early).
const fn gray_pairs(k: u8) -> [u8; 32] {
    let mut t = [0x80u8; 32];
    let mut lane = 0;
    while lane < 8 {
        let b = (lane % 4) as u8 * 4;
        t[lane * 4] = b + k;
        t[lane * 4 + 2] = b + k + 1;
        lane += 1;
    }
    t
}

static GRAY_TOP: [u8; 32] = gray_pairs(0);
static GRAY_BOTTOM: [u8; 32] = gray_pairs(2);

/// `vpshufb` control for colour (the same in both 128-bit lanes): a lane
/// holds one point's 8 bytes of the top row, then 8 of the bottom row
/// (loaded [`bottom_shift`] bytes early); dword `c < C` gets channel `c`'s
/// four taps as bytes `[top-left, bottom-left, top-right, bottom-right]`,
/// so that its even bytes are the top row's pair and its odd bytes the
/// bottom row's; dwords `c ≥ C` get zero.
const fn colour_taps(channels: usize) -> [u8; 32] {
    let mut t = [0x80u8; 32];
    let below = 8 + bottom_shift(channels);
    let mut b = 0;
    while b < 32 {
        let (c, k) = ((b % 16) / 4, b % 4);
        if c < channels {
            let right = if k >= 2 { channels } else { 0 };
            let row = if k % 2 == 1 { below } else { 0 };
            t[b] = (row + right + c) as u8;
        }
        b += 1;
    }
    t
}

/// The bottom row of a colour block is loaded `8 - 2C` bytes early, so that an
/// 8-byte load at the last pixel ends inside the image.
const fn bottom_shift(channels: usize) -> usize {
    8 - 2 * channels
}

static GA_TAPS: [u8; 32] = colour_taps(2);
static RGB_TAPS: [u8; 32] = colour_taps(3);
static RGBA_TAPS: [u8; 32] = colour_taps(4);

/// `vpshufb` control interleaving channels: per 128-bit lane, byte
/// `4c + i` (channel `c` of pixel `i`, as `vpackus*` leave them) to byte
/// `C·i + c`; the lane's other bytes get zero.
const fn interleave(channels: usize) -> [u8; 32] {
    let mut t = [0x80u8; 32];
    let mut b = 0;
    while b < 4 * channels {
        let (i, c) = (b / channels, b % channels);
        t[b] = (4 * c + i) as u8;
        t[16 + b] = (4 * c + i) as u8;
        b += 1;
    }
    t
}

static GA_OUT: [u8; 32] = interleave(2);
static RGB_OUT: [u8; 32] = interleave(3);
static RGBA_OUT: [u8; 32] = interleave(4);

/// How far ahead along a row [`prefetch`] looks, in output pixels (see avx512.rs).
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
/// read, guessed from two of this step's block offsets (in bytes) plus
/// `ahead` bytes: a
/// rotated row walks diagonally through the source, which the hardware
/// prefetchers do not follow.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn prefetch<S: Lines>(src: &S, offs: &[i32; STEP], ahead: isize) {
    if ahead == 0 {
        return;
    }
    let base = src.base();
    for p in [0, 7] {
        let at = base.wrapping_offset(offs[p] as isize + ahead);
        // A prefetch is a hint without memory effects: any address will do.
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
        _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(src.line_bytes()).cast());
    }
}

/// Writes 8 gray output pixels, prepared in `s`, to `dst`.
///
/// # Safety
/// - the CPU supports AVX2 and SSE4.1;
/// - `dst` is valid for writes of 8 bytes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn step_gray<const T: u8>(src: &Plane<'_>, s: &Prepared, dst: *mut u8, ahead: isize) {
    let t = &s.taps;
    if ahead != 0 {
        prefetch(src, &lanes(t.off), ahead);
    }
    let base = src.data().as_ptr();
    let below = _mm256_add_epi32(t.off, _mm256_set1_epi32(src.stride() as i32 - 2));
    // SAFETY: every offset is that of a block inside the image (Plane's
    // invariants, starts clamped to [0, W-2] × [0, H-2]): the 4 bytes at `off`
    // end by (H-1)·W + 2 ≤ W·H, those at `off + W - 2` start at ≥ 0 and end by
    // W·H (W ≥ 2).
    let (top, bottom) = unsafe {
        (
            _mm256_i32gather_epi32::<1>(base.cast(), t.off),
            _mm256_i32gather_epi32::<1>(base.cast(), below),
        )
    };
    let top = _mm256_madd_epi16(_mm256_shuffle_epi8(top, table(&GRAY_TOP)), t.wx);
    let bottom = _mm256_madd_epi16(_mm256_shuffle_epi8(bottom, table(&GRAY_BOTTOM)), t.wx);
    let r = finish_for::<T>(top, bottom, t);
    // Byte 0 of each 32-bit lane to the lane's first 4 bytes, then lanes 0 and 4 together.
    let bytes = _mm256_shuffle_epi8(
        r,
        _mm256_setr_epi8(
            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1,
        ),
    );
    let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    // SAFETY: the caller guarantees 8 writable bytes at `dst`.
    unsafe { _mm_storel_epi64(dst.cast(), _mm256_castsi256_si128(bytes)) };
}

/// Writes 8 colour output pixels of `C` = 2 to 4 channels, prepared in `s`, to `dst`.
///
/// Each point's 2×2 block is fetched with two plain 8-byte loads (its top
/// row's bytes, then its bottom row's) into one 128-bit lane, points `k`
/// and `k + 4` in one register (gathers measured 3.6 % slower on an Intel
/// Xeon, and are slow on AMD). One `vpshufb` per register puts each
/// channel's four taps in a dword ([`colour_taps`]) and a 4×4 transpose of
/// dwords gives each channel of the 8 points, in order, in one register;
/// from there every instruction works on 8 pixels: `vpmaddwd` of the even
/// bytes (the top row's pair) and of the odd bytes (the bottom row's) with
/// the horizontal weights, then [`finish`]. Integer arithmetic throughout:
/// the same bytes as `fixed::pixel`.
///
/// # Safety
/// - the CPU supports AVX2 and SSE4.1;
/// - `C` is `src`'s channel count, 2 to 4;
/// - `dst` is valid for writes of `8·C` bytes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn step_colour<const C: usize, const T: u8>(
    src: &Plane<'_>,
    s: &Prepared,
    dst: *mut u8,
    ahead: isize,
) {
    let (taps_ctl, out_ctl) = match C {
        2 => (table(&GA_TAPS), table(&GA_OUT)),
        3 => (table(&RGB_TAPS), table(&RGB_OUT)),
        _ => (table(&RGBA_TAPS), table(&RGBA_OUT)),
    };
    let (t, offs) = (&s.taps, &s.offs);
    let base = src.data().as_ptr();
    prefetch(src, offs, ahead);
    let below = src.stride() - bottom_shift(C);
    let block = |p: usize| {
        // Offsets are ≥ 0: as u32, they widen without a sign extension.
        let o = offs[p] as u32 as usize;
        // SAFETY: blocks are inside the image (Plane's invariants, clamped
        // starts): the 8 bytes at `o` end by (H-2)·W·C + (W-2)·C + 8 ≤ W·H·C,
        // and those at `o + W·C - (8 - 2C)` start at ≥ W·C - 2 ≥ 0 and end by
        // exactly (H-1)·W·C + (W-2)·C + 2C = W·H·C at the last block.
        unsafe {
            _mm_unpacklo_epi64(
                _mm_loadl_epi64(base.add(o).cast()),
                _mm_loadl_epi64(base.add(o + below).cast()),
            )
        }
    };
    let x: [__m256i; 4] = std::array::from_fn(|k| {
        let pair = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(block(k)), block(k + 4));
        _mm256_shuffle_epi8(pair, taps_ctl)
    });
    // Channel c's taps of the 8 points → its 8 output samples, one per dword.
    let sample = |four: __m256i| {
        let top = _mm256_and_si256(four, _mm256_set1_epi32(0x00ff_00ff));
        let bottom = _mm256_srli_epi16::<8>(four);
        finish_for::<T>(
            _mm256_madd_epi16(top, t.wx),
            _mm256_madd_epi16(bottom, t.wx),
            t,
        )
    };
    // The transpose: channel c of points 0–3 in the low lane, 4–7 in the high.
    let ch = transpose4(x);
    let c0 = sample(ch[0]);
    let c1 = sample(ch[1]);
    let (c2, c3) = if C >= 3 {
        let c2 = sample(ch[2]);
        let c3 = if C == 4 { sample(ch[3]) } else { c2 };
        (c2, c3)
    } else {
        (_mm256_setzero_si256(), _mm256_setzero_si256())
    };
    // Each lane: channels 0–3 of its 4 pixels, 4 bytes each (samples ≤ 255:
    // the weights sum to 2²²), then interleaved.
    let bytes = _mm256_packus_epi16(_mm256_packus_epi32(c0, c1), _mm256_packus_epi32(c2, c3));
    let pixels = _mm256_shuffle_epi8(bytes, out_ctl);
    // SAFETY (all stores): the caller guarantees 8·C writable bytes at `dst`.
    unsafe {
        match C {
            2 => {
                // 8 bytes per lane, then 16 contiguous.
                let ga = _mm256_permute4x64_epi64::<0b1000>(pixels);
                _mm_storeu_si128(dst.cast(), _mm256_castsi256_si128(ga));
            }
            3 => {
                // 12 bytes per lane, then 24 contiguous: 16 + 8.
                let rgb =
                    _mm256_permutevar8x32_epi32(pixels, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
                _mm_storeu_si128(dst.cast(), _mm256_castsi256_si128(rgb));
                _mm_storel_epi64(dst.add(16).cast(), _mm256_extracti128_si256::<1>(rgb));
            }
            _ => _mm256_storeu_si256(dst.cast(), pixels),
        }
    }
}

/// Writes 8 bilinear pixels, prepared in `s`, to `dst`. (`T`: the caller's
/// tag, see the module docs.)
///
/// # Safety
/// - the CPU supports AVX2 and SSE4.1;
/// - `C` is `src`'s channel count, 1 to 4;
/// - `dst` is valid for writes of `8·C` bytes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn step<const C: usize, const T: u8>(
    src: &Plane<'_>,
    s: &Prepared,
    dst: *mut u8,
    ahead: isize,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if C == 1 {
            step_gray::<T>(src, s, dst, ahead);
        } else {
            step_colour::<C, T>(src, s, dst, ahead);
        }
    }
}

/// The first half of a nearest step (see [`fill`]): which of the 8 points
/// `p` are inside, and the offsets of their pixels.
#[derive(Clone, Copy)]
struct Nearest {
    /// All ones in the lanes of points inside the image.
    inside: __m256i,
    /// Byte offset of each inside pixel (0 outside).
    off: __m256i,
}

/// Rounds the 8 points `p` to their nearest pixels, as the scalar spec's
/// `Nearest`: `nearbyint`, ties to even.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn prepare_nearest<const C: usize>(src: &Plane<'_>, p: &Points) -> Nearest {
    // vcvtpd2dq rounds with MXCSR's mode: to nearest, ties to even (Rust never
    // changes it), exactly the spec's `nearbyint`; NaN and values beyond i32
    // become i32::MIN: outside.
    let round =
        |p: [__m256d; 2]| _mm256_set_m128i(_mm256_cvtpd_epi32(p[1]), _mm256_cvtpd_epi32(p[0]));
    let (x, y) = (round(p.u), round(p.v));
    let zero = _mm256_setzero_si256();
    let within = |q, size: usize| {
        _mm256_andnot_si256(
            _mm256_cmpgt_epi32(zero, q),
            _mm256_cmpgt_epi32(_mm256_set1_epi32(size as i32), q),
        )
    };
    let inside = _mm256_and_si256(within(x, src.width()), within(y, src.height()));
    let off = _mm256_and_si256(
        inside,
        _mm256_add_epi32(
            _mm256_mullo_epi32(y, _mm256_set1_epi32(src.stride() as i32)),
            _mm256_mullo_epi32(x, _mm256_set1_epi32(C as i32)),
        ),
    );
    Nearest { inside, off }
}

/// Writes 8 nearest-neighbour output pixels, prepared in `n` (zero
/// padding), to `dst`.
///
/// Each pixel's `C` bytes are fetched with one 32-bit gather: at its offset,
/// or up to 3 bytes earlier for the last pixels of the image (so that the 4
/// bytes end inside it), then shifted down. Lanes outside the image are not
/// fetched and give 0.
///
/// # Safety
/// - the CPU supports AVX2 and SSE4.1;
/// - `C` is `src`'s channel count, 1 to 4;
/// - `dst` is valid for writes of `8·C` bytes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn step_nearest<const C: usize, const T: u8>(
    src: &Plane<'_>,
    n: &Nearest,
    dst: *mut u8,
    ahead: isize,
) {
    let Nearest { inside, off } = *n;
    if ahead != 0 {
        prefetch(src, &lanes(off), ahead);
    }
    let len = src.data().len();
    // Plane: W, H ≥ 2, so len ≥ 4; len < i32::MAX, and every offset is ≥ 0.
    let safe = _mm256_min_epi32(off, _mm256_set1_epi32(len as i32 - 4));
    let shift = _mm256_slli_epi32::<3>(_mm256_sub_epi32(off, safe));
    // SAFETY: only lanes inside the image are fetched; there `off` is
    // y·W·C + x·C ≤ len − C (x < W, y < H), and `safe` = min(off, len − 4) ≥ 0,
    // so the 4 bytes at `safe` lie inside the data, and the pixel's C bytes
    // are bytes `off − safe .. off − safe + C` of them.
    let px = unsafe {
        _mm256_mask_i32gather_epi32::<1>(
            _mm256_setzero_si256(),
            src.data().as_ptr().cast(),
            safe,
            inside,
        )
    };
    let px = _mm256_srlv_epi32(px, shift);
    // SAFETY: the caller guarantees 8·C writable bytes.
    unsafe { store_pixels::<C>(px, dst) }
}

/// Stores 8 pixels, each in the low `C` bytes of its 32-bit lane of `px`
/// (the other bytes are ignored), as `8·C` contiguous bytes.
///
/// # Safety
/// The CPU supports AVX2; `dst` is valid for writes of `8·C` bytes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn store_pixels<const C: usize>(px: __m256i, dst: *mut u8) {
    // SAFETY (all stores): the caller guarantees 8·C writable bytes.
    unsafe {
        match C {
            1 => {
                let b = _mm256_shuffle_epi8(
                    px,
                    _mm256_setr_epi8(
                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                    ),
                );
                let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
                _mm_storel_epi64(dst.cast(), _mm256_castsi256_si128(b));
            }
            2 => {
                let b = _mm256_shuffle_epi8(
                    px,
                    _mm256_setr_epi8(
                        0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9,
                        12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                    ),
                );
                let b = _mm256_permute4x64_epi64::<0b1000>(b);
                _mm_storeu_si128(dst.cast(), _mm256_castsi256_si128(b));
            }
            3 => {
                let b = _mm256_shuffle_epi8(
                    px,
                    _mm256_setr_epi8(
                        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6,
                        8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                    ),
                );
                let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
                _mm_storeu_si128(dst.cast(), _mm256_castsi256_si128(b));
                _mm_storel_epi64(dst.add(16).cast(), _mm256_extracti128_si256::<1>(b));
            }
            _ => _mm256_storeu_si256(dst.cast(), px),
        }
    }
}

/// The four cubic convolution weights (A = −0.75) of 8 fractional offsets
/// `t`, with exactly the operations of the scalar spec's `cubic_weights`
/// (no fused multiply-add), so the weights are the spec's bit for bit.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn cubic_weights(t: __m256) -> [__m256; 4] {
    #[allow(clippy::redundant_closure)] // target-feature fns are not FnMut
    let k = |v| _mm256_set1_ps(v);
    const A: f32 = -0.75;
    // ((A + 2)·x − (A + 3))·x·x + 1, for |x| ≤ 1.
    let near = |x| {
        let a = _mm256_sub_ps(_mm256_mul_ps(k(A + 2.0), x), k(A + 3.0));
        _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(a, x), x), k(1.0))
    };
    // ((A·x − 5A)·x + 8A)·x − 4A, for 1 < |x| < 2.
    let far = |x| {
        let a = _mm256_sub_ps(_mm256_mul_ps(k(A), x), k(5.0 * A));
        let a = _mm256_add_ps(_mm256_mul_ps(a, x), k(8.0 * A));
        _mm256_sub_ps(_mm256_mul_ps(a, x), k(4.0 * A))
    };
    let one = k(1.0);
    [
        far(_mm256_add_ps(t, one)),
        near(t),
        near(_mm256_sub_ps(one, t)),
        far(_mm256_sub_ps(k(2.0), t)),
    ]
}

/// Floors and fractions of 8 coordinates (two halves of 4), as the scalar
/// spec computes them: `floor(p)` in `i32` (NaN and values beyond i32 give
/// i32::MIN, far outside) and `(p − floor(p)) as f32`.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn floor_fraction(p: [__m256d; 2]) -> (__m256i, __m256) {
    let (f0, f1) = (_mm256_floor_pd(p[0]), _mm256_floor_pd(p[1]));
    let i = _mm256_set_m128i(_mm256_cvttpd_epi32(f1), _mm256_cvttpd_epi32(f0));
    let t = |p, f| _mm256_cvtpd_ps(_mm256_sub_pd(p, f));
    (i, _mm256_set_m128(t(p[1], f1), t(p[0], f0)))
}

/// Writes 8 bicubic output pixels (A = −0.75), sampled at `p` with zero
/// padding applied to each of the 16 taps, to `dst`: the fixed-point model
/// `fixed::cubic_pixel` exactly (each row's sum in integers with `i16`
/// weights, two `vpmaddwd`; the rows' sum in `f32`), within one grey level
/// of the spec.
///
/// Where all 8 points' taps are inside the image (the common case), each
/// point's 4 tap rows are fetched with one 16-byte load each, two points
/// per register; a `vpshufb` gathers each channel's four taps into a dword
/// and a 4×4 transpose of dwords puts the 8 points of a channel in one
/// register. Elsewhere each tap is fetched with one 32-bit gather per 8
/// pixels, as in [`step_nearest`], and taps outside the image read 0.
///
/// # Safety
/// - the CPU supports AVX2 and SSE4.1;
/// - `C` is `src`'s channel count, 1 to 4;
/// - `dst` is valid for writes of `8·C` bytes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn step_bicubic<const C: usize, const T: u8>(
    src: &Plane<'_>,
    p: &Points,
    dst: *mut u8,
    _ahead: isize,
) {
    let (x0, tx) = floor_fraction(p.u);
    let (y0, ty) = floor_fraction(p.v);
    let wx = cubic_weights(tx);
    // The model's i16 weights, paired for `vpmaddwd`: taps 0 and 2 in the
    // low and high word of one dword, taps 1 and 3 in another.
    let q = |w| _mm256_cvtps_epi32(_mm256_mul_ps(w, _mm256_set1_ps((1 << CUBIC_BITS) as f32)));
    let pair = |lo, hi| _mm256_blend_epi16::<0xAA>(q(lo), _mm256_slli_epi32::<16>(q(hi)));
    let (q02, q13) = (pair(wx[0], wx[2]), pair(wx[1], wx[3]));
    let scale = _mm256_set1_ps(1.0 / (1 << CUBIC_BITS) as f32);
    let wy = cubic_weights(ty).map(|w| _mm256_mul_ps(w, scale));
    let mut acc = [_mm256_setzero_ps(); 4];
    // Adds row `r` of a channel to its sum, from `four`, whose dword p holds
    // point p's taps 0 to 3 in bytes 0 to 3: the model's
    // `h₀·w₀ + h₁·w₁ + h₂·w₂ + h₃·w₃`, left to right.
    let add_row = |acc: &mut __m256, r: usize, four: __m256i| {
        // Taps 0 and 2 as the words of each dword; taps 1 and 3.
        let even = _mm256_and_si256(four, _mm256_set1_epi32(0x00ff_00ff));
        let odd = _mm256_srli_epi16::<8>(four);
        let line = _mm256_cvtepi32_ps(_mm256_add_epi32(
            _mm256_madd_epi16(even, q02),
            _mm256_madd_epi16(odd, q13),
        ));
        let term = _mm256_mul_ps(line, wy[r]);
        *acc = if r == 0 {
            term
        } else {
            _mm256_add_ps(*acc, term)
        };
    };
    let zero = _mm256_setzero_si256();
    let within = |q, size: i32| {
        _mm256_andnot_si256(
            _mm256_cmpgt_epi32(zero, q),
            _mm256_cmpgt_epi32(_mm256_set1_epi32(size), q),
        )
    };
    let (w, h) = (src.width() as i32, src.height() as i32);
    let base = src.data().as_ptr();
    let len = src.data().len() as i32;
    let stride = src.stride() as i32;
    // The common case: every tap of the 8 points inside the image, and a
    // 16-byte load at each point's first tap of each of its 4 rows ending
    // inside the data. (`w, h ≥ 4` keeps `w − 3` positive.)
    if w >= 4 && h >= 4 {
        let one = _mm256_set1_epi32(1);
        let (xs, ys) = (_mm256_sub_epi32(x0, one), _mm256_sub_epi32(y0, one));
        let first = _mm256_add_epi32(
            _mm256_mullo_epi32(ys, _mm256_set1_epi32(stride)),
            _mm256_mullo_epi32(xs, _mm256_set1_epi32(C as i32)),
        );
        // No overflow where xs, ys are inside: first < len, and
        // len + 2·stride < 2³¹ (Plane).
        let last_row = _mm256_add_epi32(first, _mm256_set1_epi32(3 * stride));
        let ok = _mm256_andnot_si256(
            _mm256_cmpgt_epi32(last_row, _mm256_set1_epi32(len - 16)),
            _mm256_and_si256(within(xs, w - 3), within(ys, h - 3)),
        );
        if _mm256_movemask_epi8(ok) == -1 {
            let offs = lanes(first);
            // Bytes 4c + k ← tap k of channel c (byte k·C + c of a load).
            let spread = {
                let idx: [i8; 16] = std::array::from_fn(|b| {
                    let (c, k) = (b / 4, b % 4);
                    if c < C {
                        (k * C + c) as i8
                    } else {
                        -128
                    }
                });
                // SAFETY: reads the 16 bytes of `idx`.
                _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(idx.as_ptr().cast()) })
            };
            for r in 0..4 {
                let load = |p: usize| {
                    // SAFETY: `first + r·stride + 16 ≤ last_row + 16 ≤ len`
                    // (checked above for every lane), and `first ≥ 0`.
                    unsafe {
                        _mm_loadu_si128(
                            base.add(offs[p] as u32 as usize + r * stride as usize)
                                .cast(),
                        )
                    }
                };
                // Points p and p + 4 in the two 128-bit lanes; for C = 1 the
                // four taps already are bytes 0 to 3.
                let s: [__m256i; 4] = std::array::from_fn(|p| {
                    let v =
                        _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(load(p)), load(p + 4));
                    if C == 1 {
                        v
                    } else {
                        _mm256_shuffle_epi8(v, spread)
                    }
                });
                // The transpose: register c holds channel c of points 0–3
                // (low lane) and 4–7 (high lane).
                let ch = transpose4(s);
                for (c, acc) in acc.iter_mut().enumerate().take(C) {
                    add_row(acc, r, ch[c]);
                }
            }
            // SAFETY: forwarded from the caller.
            return unsafe { bicubic_store::<C>(&acc, dst) };
        }
    }
    let last = _mm256_set1_epi32(len - 4);
    let byte = _mm256_set1_epi32(0xff);
    for r in 0..4 {
        // Wrapping adds: i32::MIN ± 1 stay outside (negative or ≥ 2³¹ as unsigned).
        let y = _mm256_add_epi32(y0, _mm256_set1_epi32(r as i32 - 1));
        let row_in = within(y, h);
        let row_off = _mm256_mullo_epi32(y, _mm256_set1_epi32(stride));
        let px: [__m256i; 4] = std::array::from_fn(|k| {
            let x = _mm256_add_epi32(x0, _mm256_set1_epi32(k as i32 - 1));
            let inside = _mm256_and_si256(row_in, within(x, w));
            let off = _mm256_and_si256(
                inside,
                _mm256_add_epi32(row_off, _mm256_mullo_epi32(x, _mm256_set1_epi32(C as i32))),
            );
            let safe = _mm256_min_epi32(off, last);
            // SAFETY: only taps inside the image are fetched; there `off` ≤
            // len − C and `safe` = min(off, len − 4) ≥ 0 (Plane: len ≥ 4), so
            // the 4 bytes at `safe` lie inside the data.
            let px = unsafe { _mm256_mask_i32gather_epi32::<1>(zero, base.cast(), safe, inside) };
            _mm256_srlv_epi32(px, _mm256_slli_epi32::<3>(_mm256_sub_epi32(off, safe)))
        });
        for (c, a) in acc.iter_mut().enumerate().take(C) {
            // Channel c of tap k into byte k.
            let tap = |k: usize| {
                let v = _mm256_and_si256(
                    _mm256_srl_epi32(px[k], _mm_cvtsi32_si128(8 * c as i32)),
                    byte,
                );
                _mm256_sll_epi32(v, _mm_cvtsi32_si128(8 * k as i32))
            };
            let four = _mm256_or_si256(
                _mm256_or_si256(tap(0), tap(1)),
                _mm256_or_si256(tap(2), tap(3)),
            );
            add_row(a, r, four);
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { bicubic_store::<C>(&acc, dst) }
}

/// Clamps the sums of `C` channels to [0, 255] (NaN, from a NaN point,
/// becomes 0: `max` returns its second operand then), rounds half to even
/// (MXCSR's mode) and stores the 8 pixels.
///
/// # Safety
/// The CPU supports AVX2 and SSE4.1; `dst` is valid for writes of `8·C`
/// bytes.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
unsafe fn bicubic_store<const C: usize>(acc: &[__m256; 4], dst: *mut u8) {
    let mut px = _mm256_setzero_si256();
    for (c, a) in acc.iter().enumerate().take(C) {
        let v = _mm256_min_ps(
            _mm256_max_ps(*a, _mm256_setzero_ps()),
            _mm256_set1_ps(255.0),
        );
        let v = _mm256_cvtps_epi32(v);
        px = _mm256_or_si256(px, _mm256_sll_epi32(v, _mm_cvtsi32_si128(8 * c as i32)));
    }
    // SAFETY: the caller guarantees 8·C writable bytes.
    unsafe { store_pixels::<C>(px, dst) }
}

/// Fills `out` (a multiple of 8·C bytes long, plus a partial last step) by
/// calling `step(prepare(points), dst, ahead)` on the points `next()`
/// yields, with a `dst` valid for writes of 8·C bytes (the steps' contract).
///
/// Software-pipelined: each step's `prepare` (for bilinear: coordinates,
/// weights and block offsets) runs one step ahead of its `step` (loads and
/// arithmetic), so that the two halves of the long chain of dependent
/// instructions from a point to its pixel overlap: a step alone is longer
/// than the out-of-order window covers. One call of each in the loop, so
/// that they are inlined.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn fill<const C: usize, S: Copy>(
    out: &mut [MaybeUninit<u8>],
    ahead: isize,
    mut next: impl FnMut() -> Points,
    prepare: impl Fn(&Points) -> S,
    step: impl Fn(&S, *mut u8, isize),
) {
    let whole = out.len() / (STEP * C);
    let steps = out.len().div_ceil(STEP * C);
    if steps == 0 {
        return;
    }
    // The last partial step computes 8 pixels into `buf` (the extra lanes
    // read clamped, in-bounds blocks) and keeps the ones asked for.
    let mut buf = [0u8; STEP * 4];
    let base = out.as_mut_ptr().cast::<u8>();
    let mut current = prepare(&next());
    for k in 0..steps {
        let following = if k + 1 < steps {
            prepare(&next())
        } else {
            current
        };
        let (dst, ahead) = if k < whole {
            // SAFETY: step k of the whole ones: 8·C bytes inside `out`.
            (unsafe { base.add(k * STEP * C) }, ahead)
        } else {
            (buf.as_mut_ptr(), 0)
        };
        step(&current, dst, ahead);
        current = following;
    }
    let done = whole * STEP * C;
    let n = out.len() - done;
    write_slice(&mut out[done..], &buf[..n]);
}

/// Runs `step` over output columns `j0 .. j0 + out.len() / C` of the affine
/// `row`, its points made in registers (exactly [`Row::at`]).
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn run_row<const C: usize, S: Copy>(
    src: &Plane<'_>,
    row: &Row,
    j0: usize,
    out: &mut [MaybeUninit<u8>],
    prepare: impl Fn(&Points) -> S,
    step: impl Fn(&S, *mut u8, isize),
) {
    let ahead = ahead(src, row.du, row.dv, C);
    // The columns as f64, advanced by adding 8: integers below 2^53 (a
    // column index), so exactly `j as f64` each step, without converting.
    let mut x = _mm256_add_pd(
        _mm256_set1_pd(j0 as f64),
        _mm256_setr_pd(0.0, 1.0, 2.0, 3.0),
    );
    let next = || {
        let p = row_points_at(row, x);
        x = _mm256_add_pd(x, _mm256_set1_pd(STEP as f64));
        p
    };
    fill::<C, _>(out, ahead, next, prepare, step);
}

/// Runs `step` over output columns `j0 .. j0 + out.len() / C` of the
/// projective `row`, its points made in registers (exactly [`ProjRow::at`]).
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn run_proj<const C: usize, S: Copy>(
    src: &Plane<'_>,
    row: &ProjRow,
    j0: usize,
    out: &mut [MaybeUninit<u8>],
    prepare: impl Fn(&Points) -> S,
    step: impl Fn(&S, *mut u8, isize),
) {
    // From the run's first and last points (0 if either is behind the camera).
    let n = out.len() / C;
    let (first, last) = (row.at(j0 as f64), row.at((j0 + n.max(1) - 1) as f64));
    let ahead = ahead_of_run(src, first, last, n, C);
    // The columns as f64, as in `run_row`.
    let mut x = _mm256_add_pd(
        _mm256_set1_pd(j0 as f64),
        _mm256_setr_pd(0.0, 1.0, 2.0, 3.0),
    );
    let next = || {
        let p = proj_points(row, x);
        x = _mm256_add_pd(x, _mm256_set1_pd(STEP as f64));
        p
    };
    fill::<C, _>(out, ahead, next, prepare, step);
}

/// Runs `step` over the points `(u[k], v[k])`, into the pixels of `out`.
///
/// # Panics
/// If `v.len()` or `out.len() / C` differ from `u.len()`.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn run_points<const C: usize, S: Copy>(
    src: &Plane<'_>,
    u: &[f64],
    v: &[f64],
    out: &mut [MaybeUninit<u8>],
    prepare: impl Fn(&Points) -> S,
    step: impl Fn(&S, *mut u8, isize),
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
    fill::<C, _>(out, ahead, next, prepare, step);
}

/// Runs `step` over a whole `width`-pixel-wide output image `out` through
/// the sampling map `map` (output pixel → input pixel), stepping through the
/// image's pixels in one run: no per-row overhead and no partial steps at
/// row ends, for small images.
#[inline]
#[target_feature(enable = "avx2,sse4.1")]
fn run_image<const C: usize, S: Copy>(
    map: &[f64; 6],
    width: usize,
    out: &mut [MaybeUninit<u8>],
    prepare: impl Fn(&Points) -> S,
    step: impl Fn(&S, *mut u8, isize),
) {
    let ramp = _mm256_setr_pd(0.0, 1.0, 2.0, 3.0);
    let n = _mm256_set1_pd(width as f64);
    let one = _mm256_set1_pd(1.0);
    // Lane k holds pixel (x, y) with y·width + x = k (+8 per step): small
    // integers, exact in f64.
    let mut x = [ramp, _mm256_add_pd(ramp, _mm256_set1_pd(4.0))];
    let mut y = [_mm256_setzero_pd(); 2];
    let wrap = |x: &mut [__m256d; 2], y: &mut [__m256d; 2]| {
        for h in 0..2 {
            loop {
                let m = _mm256_cmp_pd::<_CMP_GE_OQ>(x[h], n);
                if _mm256_movemask_pd(m) == 0 {
                    break;
                }
                x[h] = _mm256_sub_pd(x[h], _mm256_and_pd(m, n));
                y[h] = _mm256_add_pd(y[h], _mm256_and_pd(m, one));
            }
        }
    };
    wrap(&mut x, &mut y);
    let stride = _mm256_set1_pd(STEP as f64);
    let next = || {
        let p = map_points(map, x, y);
        x = [_mm256_add_pd(x[0], stride), _mm256_add_pd(x[1], stride)];
        wrap(&mut x, &mut y);
        p
    };
    fill::<C, _>(out, 0, next, prepare, step);
}

/// Defines the four entry points of one kernel (`$step::<C, …, tag>` per 8
/// pixels, on what `$prepare::<C, …>` made of their points one step
/// earlier): a point buffer, an affine row, a projective row, a small
/// image.
macro_rules! entry_points {
    (
        $what:literal, $prepare:ident, $step:ident, [$($cg:tt)*], [$($ca:tt)*],
        $points:ident, $row:ident, $proj:ident, $image:ident
    ) => {
        #[doc = concat!("Samples the points `(u[k], v[k])` (input pixel coordinates; NaN reads")]
        #[doc = concat!("as outside) into the pixels of `out` (`u.len()·C` bytes) with ", $what, ".")]
        ///
        /// With zero padding any points may be given; with other paddings only
        /// points whose taps are all inside the image.
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx2.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        ///
        /// # Panics
        /// If `v.len()` or `out.len() / C` differ from `u.len()`.
        #[target_feature(enable = "avx2,sse4.1")]
        pub unsafe fn $points<$($cg)*>(src: &Plane<'_>, u: &[f64], v: &[f64], out: &mut [MaybeUninit<u8>]) {
            // SAFETY: the caller vouches for the CPU and C; `fill` passes
            // pointers valid for 8·C bytes.
            run_points::<C, _>(src, u, v, out, |p| $prepare::<$($ca)*>(src, p), |p, dst, ahead| unsafe {
                $step::<$($ca)*, 0>(src, p, dst, ahead)
            });
        }

        #[doc = concat!("Samples output columns `j0 .. j0 + out.len() / C` of the affine `row` with ", $what, ",")]
        /// its points `u0 + j·du`, `v0 + j·dv` made in registers (exactly
        /// [`Row::at`]): the point-buffer kernel without a buffer.
        ///
        /// With zero padding any columns may be given; with other paddings only
        /// columns whose taps are all inside the image.
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx2.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        #[target_feature(enable = "avx2,sse4.1")]
        pub unsafe fn $row<$($cg)*>(src: &Plane<'_>, row: &Row, j0: usize, out: &mut [MaybeUninit<u8>]) {
            // SAFETY: as in the point-buffer kernel.
            run_row::<C, _>(src, row, j0, out, |p| $prepare::<$($ca)*>(src, p), |p, dst, ahead| unsafe {
                $step::<$($ca)*, 1>(src, p, dst, ahead)
            });
        }

        #[doc = concat!("Samples output columns `j0 .. j0 + out.len() / C` of the projective `row` with ", $what, "")]
        /// and zero padding, its points made in registers (exactly
        /// [`ProjRow::at`]).
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx2.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        #[target_feature(enable = "avx2,sse4.1")]
        pub unsafe fn $proj<$($cg)*>(src: &Plane<'_>, row: &ProjRow, j0: usize, out: &mut [MaybeUninit<u8>]) {
            // SAFETY: as in the point-buffer kernel.
            run_proj::<C, _>(src, row, j0, out, |p| $prepare::<$($ca)*>(src, p), |p, dst, ahead| unsafe {
                $step::<$($ca)*, 2>(src, p, dst, ahead)
            });
        }

        #[doc = concat!("Samples a whole `width`-pixel-wide output image `out` with ", $what, " and zero")]
        /// padding through the sampling map `map` (output pixel → input
        /// pixel), as the point-buffer kernel on each row, in one run.
        ///
        /// # Safety
        /// - the CPU supports the ISA (`Isa::Avx2.is_supported()`);
        /// - `C` equals the channel count `src` was checked with (1 to 4).
        #[target_feature(enable = "avx2,sse4.1")]
        pub unsafe fn $image<$($cg)*>(src: &Plane<'_>, map: &[f64; 6], width: usize, out: &mut [MaybeUninit<u8>]) {
            // SAFETY: as in the point-buffer kernel.
            run_image::<C, _>(map, width, out, |p| $prepare::<$($ca)*>(src, p), |p, dst, ahead| unsafe {
                $step::<$($ca)*, 3>(src, p, dst, ahead)
            });
        }
    };
}

entry_points!(
    "the fixed-point bilinear scheme",
    prepare,
    step,
    [const C: usize],
    [C],
    bilinear,
    bilinear_row,
    bilinear_proj,
    bilinear_image
);

/// [`bilinear_row`] for columns whose taps are all inside the image
/// (`Bilinear::interior`), a step shorter ([`axis_inner`]): the same bytes
/// there. Other columns get meaningless values, read from inside the image.
///
/// # Safety
/// - the CPU supports the ISA (`Isa::Avx2.is_supported()`);
/// - `C` equals the channel count `src` was checked with (1 to 4).
#[target_feature(enable = "avx2,sse4.1")]
pub unsafe fn bilinear_row_inner<const C: usize>(
    src: &Plane<'_>,
    row: &Row,
    j0: usize,
    out: &mut [MaybeUninit<u8>],
) {
    // SAFETY: as in `bilinear`: the starts are clamped as there.
    run_row::<C, _>(
        src,
        row,
        j0,
        out,
        |p| prepare_with::<C, true>(src, p),
        |p, dst, ahead| unsafe { step::<C, INNER_TAG>(src, p, dst, ahead) },
    );
}

entry_points!(
    "bicubic convolution (the fixed-point model, within one level of the spec)",
    as_is,
    step_bicubic,
    [const C: usize],
    [C],
    bicubic,
    bicubic_row,
    bicubic_proj,
    bicubic_image
);

entry_points!(
    "nearest-neighbour sampling (exactly the scalar spec)",
    prepare_nearest,
    step_nearest,
    [const C: usize],
    [C],
    nearest,
    nearest_row,
    nearest_proj,
    nearest_image
);

/// One axis of 8 points (two halves of 4) for the exact `u16` kernels:
/// `(block start, fraction)`, the start `⌊q⌋` (by truncation, as the spec:
/// its points are ≥ 0) clamped to `[0, size − 2]`, the fraction `q − ⌊q⌋`
/// (exact in `f64`) rounded to `f32` as `as f32` does.
///
/// # Safety
/// The CPU supports AVX2. (Inlined into the `u16` entry points, see
/// [`step_wide`].)
#[inline(always)]
unsafe fn wide_axis(q: [__m256d; 2], size: usize) -> (__m256i, __m256) {
    // SAFETY: the caller vouches for the CPU.
    unsafe {
        let (lo, hi) = (_mm256_cvttpd_epi32(q[0]), _mm256_cvttpd_epi32(q[1]));
        let (flo, fhi) = (
            _mm256_cvtpd_ps(_mm256_sub_pd(q[0], _mm256_cvtepi32_pd(lo))),
            _mm256_cvtpd_ps(_mm256_sub_pd(q[1], _mm256_cvtepi32_pd(hi))),
        );
        let i = _mm256_min_epi32(
            _mm256_max_epi32(_mm256_set_m128i(hi, lo), _mm256_setzero_si256()),
            _mm256_set1_epi32(size as i32 - 2),
        );
        (i, _mm256_set_m128(fhi, flo))
    }
}

/// Writes 8 `u16` output pixels of `C` channels, bilinear at `p` with
/// exactly the scalar spec's operations (`Bilinear::fast`), as the AVX-512
/// `step_wide`: `x0 = ⌊u⌋` (truncation: the points are inside the image),
/// `tx = (u − x0) as f32`, the same for `v`; per channel
/// `t = nw + tx·(ne − nw)`, `b = sw + tx·(se − sw)`, `t + ty·(b − t)` in
/// `f32` with separate multiplies and adds; then clamped to `[0, 65535]`
/// and rounded half to even (MXCSR's mode), as `u16::from_f32`. The `2C`
/// samples of each block row are read with one 16-byte load per point and
/// a transpose for 2 to 4 channels (1.28–1.53× faster than the `C` 32-bit
/// gathers before, on a Zen 3), with a 32-bit gather for one channel.
///
/// The points must lie in `Bilinear::interior` for the spec's values; any
/// other point (NaN included) reads a clamped block inside the image.
///
/// # Safety
/// - the CPU supports AVX2 and SSE4.1;
/// - `dst` is valid for writes of 8·C samples;
/// - `C` equals `src.channels()`.
///
/// Not a `target_feature` function, so that it can be `inline(always)`
/// into the `u16` entry points (which enable the features).
#[inline(always)]
unsafe fn step_wide<const C: usize>(src: &Plane16<'_>, p: &Points, dst: *mut u16, ahead: isize) {
    debug_assert_eq!(src.channels(), C);
    // SAFETY: the caller vouches for the CPU and `dst`; the reads are
    // argued below.
    unsafe {
        let zero = _mm256_setzero_si256();
        let (x, tx) = wide_axis(p.u, src.width());
        let (y, ty) = wide_axis(p.v, src.height());
        let stride = src.stride() as i32;
        // Sample index of each block's top-left sample: x ≤ W − 2 and
        // y ≤ H − 2 (clamped), so the block is inside the image.
        let top = _mm256_add_epi32(
            _mm256_mullo_epi32(y, _mm256_set1_epi32(stride)),
            _mm256_mullo_epi32(x, _mm256_set1_epi32(C as i32)),
        );
        if ahead != 0 {
            prefetch(src, &lanes(_mm256_slli_epi32::<1>(top)), ahead);
        }
        let base = src.data().as_ptr();
        let low = _mm256_set1_epi32(0xffff);
        // Sample `i` (0 .. 2C) of each block row from `row` (top or bottom):
        // the samples row + 2k, row + 2k + 1 ≤ row + 2C − 1 are the block's,
        // inside the image (Plane16 keeps every index below 2³¹).
        let mut taps = [[zero; 8]; 2];
        if C == 1 {
            for (r, row) in taps.iter_mut().enumerate() {
                let at = _mm256_add_epi32(top, _mm256_set1_epi32(r as i32 * stride));
                let g = _mm256_i32gather_epi32::<2>(base.cast(), at);
                row[0] = _mm256_and_si256(g, low);
                row[1] = _mm256_srli_epi32::<16>(g);
            }
        } else {
            // 2 to 4 channels: each block row (2C samples, 4C bytes) with
            // one 16-byte load per point, points k and k + 4 in one
            // register, then a 4×4 transpose of dwords: dword k of every
            // point in one register, in point order (what a gather at
            // sample offset 2k gives). The bottom row is loaded 16 − 4C
            // bytes early, so that the last block's load ends inside the
            // image; its dwords are then 4 − C .. 4.
            let starts = lanes(top);
            for (r, row) in taps.iter_mut().enumerate() {
                let shift = if r == 0 { 0 } else { 2 * (4 - C) };
                // Sample index of each load: the top row's block start
                // (≥ 0; its 8 samples end by the next row's 2C − 2, inside:
                // y ≤ H − 2), or the bottom row's minus 8 − 2C (≥ W·C − 8 +
                // 2C ≥ 0 for W ≥ 2, C ≥ 2; it ends at the block's end).
                let row_at = |p: usize| {
                    let i = starts[p] as isize + r as isize * stride as isize - shift as isize;
                    _mm_loadu_si128(base.offset(i).cast())
                };
                let pair = |k: usize| {
                    _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(row_at(k)), row_at(k + 4))
                };
                let dw = transpose4(std::array::from_fn(pair));
                let first = if r == 0 { 0 } else { 4 - C };
                for k in 0..C {
                    let g = dw[first + k];
                    row[2 * k] = _mm256_and_si256(g, low);
                    row[2 * k + 1] = _mm256_srli_epi32::<16>(g);
                }
            }
        }
        let max = _mm256_set1_ps(65535.0);
        let mut out = [[0u32; STEP]; 4];
        for (c, o) in out.iter_mut().enumerate().take(C) {
            let (nw, ne) = (
                _mm256_cvtepi32_ps(taps[0][c]),
                _mm256_cvtepi32_ps(taps[0][C + c]),
            );
            let (sw, se) = (
                _mm256_cvtepi32_ps(taps[1][c]),
                _mm256_cvtepi32_ps(taps[1][C + c]),
            );
            let t = _mm256_add_ps(nw, _mm256_mul_ps(tx, _mm256_sub_ps(ne, nw)));
            let b = _mm256_add_ps(sw, _mm256_mul_ps(tx, _mm256_sub_ps(se, sw)));
            let r = _mm256_add_ps(t, _mm256_mul_ps(ty, _mm256_sub_ps(b, t)));
            // NaN becomes 0 (`max` returns its second operand), as the
            // spec's clamp-then-cast does.
            let r = _mm256_min_ps(_mm256_max_ps(r, _mm256_setzero_ps()), max);
            _mm256_storeu_si256(o.as_mut_ptr().cast(), _mm256_cvtps_epi32(r));
        }
        // Interleave the channels (values in [0, 65535]).
        for p in 0..STEP {
            for (c, o) in out.iter().enumerate().take(C) {
                *dst.add(p * C + c) = o[p] as u16;
            }
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
/// - the CPU supports the ISA (`Isa::Avx2.is_supported()`);
/// - `C` equals `src.channels()`.
///
/// # Panics
/// If `v.len()` or `out.len() / C` differ from `u.len()`.
#[target_feature(enable = "avx2,sse4.1")]
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
    // The loop is written out (not `fill`) so that the step, called once,
    // is inlined.
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
            // 8·C samples from j·C: j + 8 ≤ n.
            out[j * C..].as_mut_ptr().cast::<u16>()
        } else {
            // 8·4 ≥ 8·C samples.
            buf.as_mut_ptr()
        };
        // SAFETY: the caller vouches for the CPU and C; `dst` is valid for
        // 8·C samples.
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
#[target_feature(enable = "avx2,sse4.1")]
pub unsafe fn bilinear16_row<const C: usize>(
    src: &Plane16<'_>,
    row: &Row,
    j0: usize,
    out: &mut [MaybeUninit<u16>],
) {
    let n = out.len() / C;
    let ahead = ahead(src, row.du, row.dv, C);
    let mut buf = [0u16; STEP * 4];
    let mut k = 0;
    while k < n {
        let whole = k + STEP <= n;
        let p = row_points(row, j0 + k);
        let dst = if whole {
            // 8·C samples from k·C: k + 8 ≤ n.
            out[k * C..].as_mut_ptr().cast::<u16>()
        } else {
            // 8·4 ≥ 8·C samples.
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
