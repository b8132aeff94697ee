//! Fixed-point bilinear sampling of `u8` images: the arithmetic the SIMD
//! kernels ([`super::avx2`], [`super::avx512`]) implement, written out once per
//! pixel in portable Rust so that it can be read, bounded and tested. The
//! AVX2 bicubic kernel's model, integer rows and `f32` columns, is here too
//! ([`cubic_sum`]).
//!
//! # The scheme
//!
//! For each sampling point `(u, v)` in `f64`, from the grid generator exactly
//! as the scalar spec gets it. Then, per axis (shown for `u`, image width `W ≥ 2`):
//!
//! - the point is quantised to 1/2048 pixel: `q = rint(u·2048)` (the product is
//!   exact in `f64`, so this is the correctly rounded quantisation, ties to even);
//! - a `q` outside the zero-padding reach `[-2048, 2048·W)` (or from NaN) is
//!   replaced by `-2048`, which yields all-zero weights below, i.e. the padding
//!   value 0;
//! - `x0 = q >> 11` (the floor, so `x0 ∈ [-1, W-1]`), `wx = q & 2047`: the
//!   fraction in 11 bits;
//! - the 2×2 block read is at column `xb = clamp(x0, 0, W-2)`, always inside the
//!   image, with block weights (left, right) = `(2048-wx, wx)` inside,
//!   `(wx, 0)` when `x0 = -1` (the left tap is padding) and `(0, 2048-wx)` when
//!   `x0 = W-1` (the right tap is padding).
//!
//! The SIMD kernels do this in 32-bit lanes (`vcvtpd2dq` turns NaN and
//! out-of-range values into `i32::MIN`, which is outside the reach), hence
//! [`Plane`]'s limit of fewer than 2²⁰ pixels per side: `2048·W` fits `i32`.
//!
//! With `top = nw·wl + ne·wr` and `bottom = sw·wl + se·wr` (each ≤ 255·2¹¹),
//! the result is `(top·wt + bottom·wb + 2²¹) >> 22`, with
//! `255·2¹¹·2¹¹ + 2²¹ < 2³¹`: it fits `i32` lanes.
//!
//! This covers zero padding everywhere. For border and reflection padding the
//! kernels only run where every tap is inside (`x0 ∈ [0, W-2]`), where the edge
//! cases never arise.
//!
//! # Error bound
//!
//! Quantising a weight moves it by at most 2⁻¹², so the horizontal pass is off
//! by at most `255·2⁻¹² ≈ 0.0623` grey levels, and the vertical pass adds
//! `|ty − ty'|·|bottom − top| ≤ 0.0623` more: before rounding the value is within
//! `0.125` of the exact (float64) bilinear value. The scalar spec (`f32`) is
//! within 0.01 of it. Both then round to nearest, so a kernel's output differs
//! from PyTorch's and from the spec's by at most 1 grey level. (Seven-bit
//! weights would allow errors of `255·2⁻⁷ ≈ 2` levels: not enough.)

/// Fraction bits of a weight.
pub const BITS: u32 = 11;
/// A weight of one, `2^BITS`.
pub const ONE: i32 = 1 << BITS;

/// Pixels per side of a [`Plane`], exclusive.
pub const MAX_SIDE: usize = 1 << 20;

/// A `u8` image the fixed-point kernels may read: checked once, so that every
/// 2×2 block at `(xb, yb) ∈ [0, W-2] × [0, H-2]`, and the 4- and 8-byte loads
/// the kernels use around it, lies inside `data`.
pub type Plane<'a> = PlaneOf<'a, u8>;

/// An image of `T` samples some SIMD kernels may read, checked once by its
/// constructor ([`Plane::new`], [`Plane16::new`]): `height` rows of `width`
/// pixels of `channels` interleaved samples.
#[derive(Clone, Copy, Debug)]
pub struct PlaneOf<'a, T> {
    data: &'a [T],
    width: usize,
    height: usize,
    channels: usize,
}

impl<'a> Plane<'a> {
    /// The image, if the kernels can handle it: `channels` is 1 to 4,
    /// `2 ≤ width, height < 2²⁰` (quantised coordinates fit `i32`),
    /// `data.len() == width·height·channels`, and every byte offset fits an
    /// `i32` (the kernels' gather indices).
    pub fn new(data: &'a [u8], width: usize, height: usize, channels: usize) -> Option<Self> {
        let ok = (1..=4).contains(&channels)
            && (2..MAX_SIDE).contains(&width)
            && (2..MAX_SIDE).contains(&height)
            && width
                .checked_mul(height)
                .and_then(|n| n.checked_mul(channels))
                == Some(data.len())
            && data.len() + 2 * width * channels < i32::MAX as usize;
        ok.then_some(Plane {
            data,
            width,
            height,
            channels,
        })
    }
}

/// What the SIMD drivers need of a source image to prefetch it, whatever its
/// sample type: [`Plane`] (`u8`) or [`Plane16`] (`u16`).
pub trait Lines {
    /// The sample type.
    type Sample: Copy + Default;
    /// The address of the first sample.
    fn base(&self) -> *const u8;
    /// Bytes per row.
    fn line_bytes(&self) -> usize;
}

impl<T: Copy + Default> Lines for PlaneOf<'_, T> {
    type Sample = T;
    #[inline(always)]
    fn base(&self) -> *const u8 {
        self.data.as_ptr().cast()
    }
    #[inline(always)]
    fn line_bytes(&self) -> usize {
        std::mem::size_of::<T>() * self.stride()
    }
}

/// A `u16` image the exact SIMD bilinear kernels may read (they are not
/// fixed-point: they do the scalar spec's `f32` operations, see
/// `Bilinear::fast`). Checked once, so that every 2×2 block at
/// `(xb, yb) ∈ [0, W-2] × [0, H-2]` lies inside `data` and every sample
/// index fits an `i32` (the kernels' gather indices, scaled by 2).
pub type Plane16<'a> = PlaneOf<'a, u16>;

impl<'a> Plane16<'a> {
    /// The image, if the kernels can handle it: `channels` is 1 to 4,
    /// `width, height ≥ 2`, `data.len() == width·height·channels < 2³¹`.
    pub fn new(data: &'a [u16], width: usize, height: usize, channels: usize) -> Option<Self> {
        let ok = (1..=4).contains(&channels)
            && width >= 2
            && height >= 2
            && width
                .checked_mul(height)
                .and_then(|n| n.checked_mul(channels))
                == Some(data.len())
            && data.len() < i32::MAX as usize;
        ok.then_some(Plane16 {
            data,
            width,
            height,
            channels,
        })
    }
}

impl<'a, T> PlaneOf<'a, T> {
    /// The samples.
    #[inline(always)]
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// Width in pixels, at least 2.
    #[inline(always)]
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels, at least 2.
    #[inline(always)]
    pub fn height(&self) -> usize {
        self.height
    }

    /// Samples per pixel: 1 to 4.
    #[inline(always)]
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Samples per row.
    #[inline(always)]
    pub fn stride(&self) -> usize {
        self.width * self.channels
    }
}

/// One axis of the scheme: `(block start, weight of the block's first tap,
/// weight of its second tap)` for coordinate `p` in an axis of `size ≥ 2` pixels.
#[cfg_attr(not(test), allow(dead_code))] // the SIMD kernels' model
#[inline(always)]
pub fn axis(p: f64, size: usize) -> (usize, i32, i32) {
    let one = f64::from(ONE);
    let q = (p * one).round_ties_even();
    let q = if -one <= q && q < size as f64 * one {
        q as i64
    } else {
        -i64::from(ONE)
    };
    let i0 = q >> BITS;
    let w = (q & i64::from(ONE - 1)) as i32;
    let last = size as i64 - 2;
    let (lo, hi) = if i0 < 0 {
        (w, 0)
    } else if i0 > last {
        (0, ONE - w)
    } else {
        (ONE - w, w)
    };
    (i0.clamp(0, last) as usize, lo, hi)
}

/// Samples one pixel at `(u, v)` with zero padding (any `u`, `v`), or with any
/// padding where all four taps are inside.
#[cfg_attr(not(test), allow(dead_code))]
#[inline(always)]
pub fn pixel<const C: usize>(src: &Plane<'_>, u: f64, v: f64, out: &mut [u8]) {
    let (xb, wl, wr) = axis(u, src.width);
    let (yb, wt, wb) = axis(v, src.height);
    let stride = src.stride();
    let p = yb * stride + xb * C;
    let (top, bottom) = (
        &src.data[p..p + 2 * C],
        &src.data[p + stride..p + stride + 2 * C],
    );
    for c in 0..C {
        let t = i32::from(top[c]) * wl + i32::from(top[C + c]) * wr;
        let b = i32::from(bottom[c]) * wl + i32::from(bottom[C + c]) * wr;
        out[c] = ((t * wt + b * wb + (1 << (2 * BITS - 1))) >> (2 * BITS)) as u8;
    }
}

/// [`pixel`] for the points `(u[k], v[k])` into the pixels of `out`.
#[cfg_attr(not(test), allow(dead_code))]
pub fn points<const C: usize>(src: &Plane<'_>, u: &[f64], v: &[f64], out: &mut [u8]) {
    for ((u, v), px) in u.iter().zip(v).zip(out.chunks_exact_mut(C)) {
        pixel::<C>(src, *u, *v, px);
    }
}

/// Fraction bits of the bicubic kernel's horizontal weights: `i16` lanes
/// hold a weight of one (`2^14`) and the most negative one (about −0.1).
pub const CUBIC_BITS: u32 = 14;

/// An integral `f64` (or NaN) as `vcvt(t)pd2dq` / `vcvtps2dq` turn it into
/// an `i32`: itself, or `i32::MIN` where it is not an `i32` (NaN included).
#[inline(always)]
fn int_or_min(f: f64) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&f) {
        f as i32
    } else {
        i32::MIN
    }
}

/// `floor(p)` as the SIMD kernels get it (`vcvttpd2dq` of the `f64` floor),
/// and the fraction `(p − floor(p)) as f32`, as the scalar spec computes it.
#[inline(always)]
fn floor_fraction(p: f64) -> (i32, f32) {
    let f = p.floor();
    (int_or_min(f), (p - f) as f32)
}

/// The unrounded bicubic sums (A = −0.75, zero padding per tap) of the `C`
/// channels at `(u, v)`, as the SIMD kernels compute them:
///
/// - the spec's `f32` weights `wx`, `wy` of the fractions;
/// - each row's horizontal sum in integers, `h = Σₖ p_k·qₖ` with
///   `qₖ = rint(wxₖ·2¹⁴)` truncated to `i16` (`vpmaddwd` pairs; the weights
///   of a real fraction lie in [−0.1, 1], so nothing is lost, and a tap of a
///   point beyond `i32` reads 0 whatever its weight), exact in `i32`;
/// - the vertical sum in `f32`: `h₀·w₀ + h₁·w₁ + h₂·w₂ + h₃·w₃`, left to
///   right, with `wᵣ = wyᵣ·2⁻¹⁴` (no fused multiply-add: the AVX2 kernels
///   give the same bytes without FMA).
///
/// # Error bound
///
/// Rounding a weight moves it by at most 2⁻¹⁵, so a row's sum is off by at
/// most `4·255·2⁻¹⁵ ≈ 0.031` grey levels, and the vertical weights (whose
/// absolute values sum to at most 1.375, at the fraction ½) carry at most
/// `0.043` of it into the result; the `f32` conversions, products and sums
/// add less than 10⁻⁴. The scalar spec is as close to the exact (`f64`)
/// value, so after rounding to the nearest level a kernel's output differs
/// from the spec's and PyTorch's by at most one grey level (the bilinear
/// argument above). Fourteen bits, not the bilinear eleven: a bicubic row
/// sums four taps with weights that do not stay in [0, 1].
#[cfg_attr(not(test), allow(dead_code))]
#[inline(always)]
pub fn cubic_sum<const C: usize>(src: &Plane<'_>, u: f64, v: f64) -> [f32; C] {
    use super::scalar::cubic_weights;
    let (x0, tx) = floor_fraction(u);
    let (y0, ty) = floor_fraction(v);
    // `vcvtps2dq` of the scaled weight, its low 16 bits.
    let q = cubic_weights(tx)
        .map(|w| int_or_min(f64::from((w * (1 << CUBIC_BITS) as f32).round_ties_even())) as i16);
    let wy = cubic_weights(ty).map(|w| w * (1.0 / (1 << CUBIC_BITS) as f32));
    let (w, h) = (src.width as u32, src.height as u32);
    let mut acc = [0.0f32; C];
    for (r, wr) in wy.iter().enumerate() {
        let y = y0.wrapping_add(r as i32 - 1);
        for (c, a) in acc.iter_mut().enumerate() {
            let mut sum = 0i32;
            for (k, qk) in q.iter().enumerate() {
                let x = x0.wrapping_add(k as i32 - 1);
                if (x as u32) < w && (y as u32) < h {
                    let p = src.data[y as usize * src.stride() + x as usize * C + c];
                    sum = sum.wrapping_add(i32::from(p) * i32::from(*qk));
                }
            }
            let line = sum as f32 * wr;
            *a = if r == 0 { line } else { *a + line };
        }
    }
    acc
}

/// Bicubic sampling of one pixel at `(u, v)` with zero padding per tap (any
/// `u`, `v`): [`cubic_sum`] clamped to [0, 255] (NaN gives 0) and rounded
/// half to even, as the spec stores a sum.
#[cfg_attr(not(test), allow(dead_code))]
#[inline(always)]
#[allow(clippy::manual_clamp)] // `max` turns NaN into 0, as the kernels do
pub fn cubic_pixel<const C: usize>(src: &Plane<'_>, u: f64, v: f64, out: &mut [u8]) {
    for (o, s) in out.iter_mut().zip(cubic_sum::<C>(src, u, v)) {
        *o = s.max(0.0).min(255.0).round_ties_even() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warp::grid::Row;
    use crate::warp::scalar::{Bicubic, Bilinear, Kernel, Src};
    use crate::warp::WarpOptions;

    /// A test's output buffer as the kernels take it.
    fn mu(v: &mut [u8]) -> &mut [std::mem::MaybeUninit<u8>] {
        crate::warp::uninit_view(v)
    }

    #[test]
    fn axis_edges_put_the_weight_on_the_inside_tap() {
        // Inside.
        assert_eq!(axis(2.25, 5), (2, 1536, 512));
        // Left padding: the tap at -1 is zero; the block's first pixel is column 0.
        assert_eq!(axis(-0.25, 5), (0, 1536, 0));
        // Right padding: the tap at W is zero; the block's second pixel is W-1.
        assert_eq!(axis(4.25, 5), (3, 0, 1536));
        // Outside the reach, NaN, infinities: all weights zero.
        for p in [-1.5, 5.0, f64::NAN, f64::INFINITY, -1e300] {
            let (_, lo, hi) = axis(p, 5);
            assert_eq!((lo, hi), (0, 0), "{p}");
        }
        // A fraction that rounds up to a whole pixel: the next block, weight 0.
        assert_eq!(axis(1.99999, 5), (2, 2048, 0));
        // ... at the edges, the same pixels as the fraction 2048 would give.
        assert_eq!(axis(3.99999, 5), (3, 0, 2048));
        // Within 1/4096 of the reach's end: outside, all weights zero.
        assert_eq!(axis(4.99999, 5), (0, 0, 0));
        assert_eq!(axis(-1.00001, 5), (0, 0, 0));
        assert_eq!(axis(-0.00001, 5), (0, 2048, 0));
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn real(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Every SIMD kernel equals this model bit for bit, on rows that cross the
    /// image in every direction (padding edges included) and far outside it.
    /// The points of columns `j0 .. j0 + n` of `row`; every seventh case
    /// jitters them (non-affine grids) and puts some NaN in.
    fn row_points(
        rng: &mut Rng,
        row: &Row,
        j0: usize,
        n: usize,
        case: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        (0..n)
            .map(|k| {
                let (u, v) = row.at(j0 + k);
                match case % 7 {
                    3 => (u + rng.real(-2.0, 2.0), v + rng.real(-2.0, 2.0)),
                    5 if k % 5 == 1 => (f64::NAN, f64::NAN),
                    _ => (u, v),
                }
            })
            .unzip()
    }

    /// [`points`] for the plane's channel count.
    fn model_points(src: &Plane<'_>, u: &[f64], v: &[f64], out: &mut [u8]) {
        match src.channels() {
            1 => points::<1>(src, u, v, out),
            2 => points::<2>(src, u, v, out),
            3 => points::<3>(src, u, v, out),
            _ => points::<4>(src, u, v, out),
        }
    }

    #[test]
    fn simd_kernels_equal_the_model_exactly() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..3000 {
            let c = 1 + case % 4;
            let (w, h) = (2 + rng.below(40), 2 + rng.below(30));
            let data: Vec<u8> = (0..w * h * c).map(|_| rng.next() as u8).collect();
            let src = Plane::new(&data, w, h, c).unwrap();
            let scale = [1.0, 3.0, 100.0, 1e6][rng.below(4)];
            let row = Row {
                u0: rng.real(-3.0, w as f64 + 3.0),
                v0: rng.real(-3.0, h as f64 + 3.0),
                du: rng.real(-1.5, 1.5) * if case % 7 == 0 { scale } else { 1.0 },
                dv: rng.real(-1.5, 1.5),
            };
            let (j0, n) = (rng.below(50), rng.below(70));
            let (u, v) = row_points(&mut rng, &row, j0, n, case);
            let (u, v) = (&u[..], &v[..]);
            let mut want = vec![0u8; n * c];
            model_points(&src, u, v, &mut want);
            for isa in crate::warp::Isa::supported() {
                let mut got = vec![0u8; n * c];
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `isa` is supported; C matches the plane's channel count.
                unsafe {
                    use crate::warp::{avx2, avx512, Isa};
                    match (isa, c) {
                        (Isa::Avx2, 1) => avx2::bilinear::<1>(&src, u, v, mu(&mut got)),
                        (Isa::Avx2, 2) => avx2::bilinear::<2>(&src, u, v, mu(&mut got)),
                        (Isa::Avx2, 3) => avx2::bilinear::<3>(&src, u, v, mu(&mut got)),
                        (Isa::Avx2, 4) => avx2::bilinear::<4>(&src, u, v, mu(&mut got)),
                        (Isa::Avx512, 1) => avx512::bilinear::<1, true>(&src, u, v, mu(&mut got)),
                        (Isa::Avx512, 2) => avx512::bilinear::<2, true>(&src, u, v, mu(&mut got)),
                        (Isa::Avx512, 3) => avx512::bilinear::<3, true>(&src, u, v, mu(&mut got)),
                        (Isa::Avx512, 4) => avx512::bilinear::<4, true>(&src, u, v, mu(&mut got)),
                        _ => got.copy_from_slice(&want),
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                got.copy_from_slice(&want);
                assert_eq!(got, want, "{isa} C={c} {w}x{h} {row:?} j0={j0} n={n}");
                // The affine row kernels (points made in registers) on the
                // un-jittered cases.
                #[cfg(target_arch = "x86_64")]
                if !matches!(case % 7, 3 | 5) {
                    use crate::warp::{avx2, avx512, Isa};
                    let mut got = vec![0u8; n * c];
                    // SAFETY: `isa` is supported; C matches the plane's channel count.
                    unsafe {
                        match (isa, c) {
                            (Isa::Avx2, 1) => avx2::bilinear_row::<1>(&src, &row, j0, mu(&mut got)),
                            (Isa::Avx2, 2) => avx2::bilinear_row::<2>(&src, &row, j0, mu(&mut got)),
                            (Isa::Avx2, 3) => avx2::bilinear_row::<3>(&src, &row, j0, mu(&mut got)),
                            (Isa::Avx2, 4) => avx2::bilinear_row::<4>(&src, &row, j0, mu(&mut got)),
                            (Isa::Avx512, 1) => {
                                avx512::bilinear_row::<1, true>(&src, &row, j0, mu(&mut got))
                            }
                            (Isa::Avx512, 2) => {
                                avx512::bilinear_row::<2, false>(&src, &row, j0, mu(&mut got))
                            }
                            (Isa::Avx512, 3) => {
                                avx512::bilinear_row::<3, false>(&src, &row, j0, mu(&mut got))
                            }
                            (Isa::Avx512, 4) => {
                                avx512::bilinear_row::<4, true>(&src, &row, j0, mu(&mut got))
                            }
                            _ => got.copy_from_slice(&want),
                        }
                    }
                    assert_eq!(got, want, "{isa} row C={c} {w}x{h} {row:?} j0={j0} n={n}");
                }
                // The AVX-512 kernel's other way of fetching taps.
                #[cfg(target_arch = "x86_64")]
                if isa == crate::warp::Isa::Avx512 {
                    use crate::warp::avx512;
                    let mut got = vec![0u8; n * c];
                    // SAFETY: as above.
                    unsafe {
                        match c {
                            3 => avx512::bilinear::<3, false>(&src, u, v, mu(&mut got)),
                            1 => avx512::bilinear::<1, false>(&src, u, v, mu(&mut got)),
                            2 => avx512::bilinear::<2, false>(&src, u, v, mu(&mut got)),
                            _ => avx512::bilinear::<4, false>(&src, u, v, mu(&mut got)),
                        }
                    }
                    assert_eq!(
                        got, want,
                        "avx512 loads C={c} {w}x{h} {row:?} j0={j0} n={n}"
                    );
                }
            }
        }
    }

    /// The projective row kernels (points made in registers) equal the model
    /// on the points of `ProjRow::at`, behind-the-camera points included.
    #[test]
    fn simd_projective_rows_equal_the_model_exactly() {
        use crate::transform::Homography;
        use crate::warp::grid::ProjRow;
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for case in 0..1500 {
            let c = 1 + case % 4;
            let (w, h) = (2 + rng.below(40), 2 + rng.below(30));
            let data: Vec<u8> = (0..w * h * c).map(|_| rng.next() as u8).collect();
            let src = Plane::new(&data, w, h, c).unwrap();
            let g = Homography(std::array::from_fn(|k| match k {
                6 | 7 => rng.real(-0.05, 0.05),
                8 => rng.real(0.2, 1.5),
                2 => rng.real(-5.0, w as f64 + 5.0),
                5 => rng.real(-5.0, h as f64 + 5.0),
                _ => rng.real(-1.5, 1.5),
            }));
            let row = ProjRow::new(&g, rng.below(40));
            let (j0, n) = (rng.below(50), rng.below(70));
            let (u, v): (Vec<f64>, Vec<f64>) = (j0..j0 + n).map(|j| row.at(j as f64)).unzip();
            let mut want = vec![0u8; n * c];
            model_points(&src, &u, &v, &mut want);
            for isa in crate::warp::Isa::supported() {
                let mut got = vec![0u8; n * c];
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `isa` is supported; C matches the plane's channel count.
                unsafe {
                    use crate::warp::{avx2, avx512, Isa};
                    match (isa, c) {
                        (Isa::Avx2, 1) => avx2::bilinear_proj::<1>(&src, &row, j0, mu(&mut got)),
                        (Isa::Avx2, 2) => avx2::bilinear_proj::<2>(&src, &row, j0, mu(&mut got)),
                        (Isa::Avx2, 3) => avx2::bilinear_proj::<3>(&src, &row, j0, mu(&mut got)),
                        (Isa::Avx2, 4) => avx2::bilinear_proj::<4>(&src, &row, j0, mu(&mut got)),
                        (Isa::Avx512, 1) => {
                            avx512::bilinear_proj::<1, true>(&src, &row, j0, mu(&mut got))
                        }
                        (Isa::Avx512, 2) => {
                            avx512::bilinear_proj::<2, false>(&src, &row, j0, mu(&mut got))
                        }
                        (Isa::Avx512, 3) => {
                            avx512::bilinear_proj::<3, false>(&src, &row, j0, mu(&mut got))
                        }
                        (Isa::Avx512, 4) => {
                            avx512::bilinear_proj::<4, true>(&src, &row, j0, mu(&mut got))
                        }
                        _ => got.copy_from_slice(&want),
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                got.copy_from_slice(&want);
                assert_eq!(got, want, "{isa} proj C={c} {w}x{h} {row:?} j0={j0} n={n}");
            }
        }
    }

    /// The AVX2 interior row kernel (`avx2::bilinear_row_inner`) equals the
    /// model bit for bit on the columns whose taps are all inside
    /// (`Bilinear::interior`), the far edge where a point rounds to
    /// `(size − 1)·2¹¹` included.
    #[test]
    fn avx2_inner_rows_equal_the_model_on_the_interior() {
        if !crate::warp::Isa::Avx2.is_supported() {
            return;
        }
        let mut rng = Rng(0xA5A5_5A5A_0F0F_F0F0);
        let mut edge_cases = 0;
        for case in 0..4000 {
            let c = 1 + case % 4;
            let (w, h) = (2 + rng.below(40), 2 + rng.below(30));
            let data: Vec<u8> = (0..w * h * c).map(|_| rng.next() as u8).collect();
            let src = Plane::new(&data, w, h, c).unwrap();
            // 1/8192 below the last column (or row) rounds to (size − 1)·2¹¹.
            let near = |size: usize| size as f64 - 1.0 - 1.0 / 8192.0;
            let row = match case % 5 {
                0 => Row {
                    u0: near(w),
                    v0: rng.real(0.0, h as f64 - 1.0),
                    du: 0.0,
                    dv: rng.real(-0.05, 0.05),
                },
                1 => Row {
                    u0: rng.real(0.0, w as f64 - 1.0),
                    v0: near(h),
                    du: rng.real(-0.05, 0.05),
                    dv: 0.0,
                },
                _ => Row {
                    u0: rng.real(-3.0, w as f64 + 3.0),
                    v0: rng.real(-3.0, h as f64 + 3.0),
                    du: rng.real(-1.5, 1.5),
                    dv: rng.real(-1.5, 1.5),
                },
            };
            let interior = Bilinear::interior(w, h);
            let (a, b) = row.span(120, &interior);
            let (u, v): (Vec<f64>, Vec<f64>) = (a..b).map(|j| row.at(j)).unzip();
            edge_cases += u
                .iter()
                .chain(&v)
                .zip(std::iter::repeat([w, h]).flatten())
                .filter(|&(p, size)| (p * 2048.0).round_ties_even() == (size as f64 - 1.0) * 2048.0)
                .count();
            let mut want = vec![0u8; (b - a) * c];
            let mut got = vec![0u8; (b - a) * c];
            model_points(&src, &u, &v, &mut want);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 is supported (checked); C matches the plane's channel count.
            unsafe {
                use crate::warp::avx2::bilinear_row_inner;
                match c {
                    1 => bilinear_row_inner::<1>(&src, &row, a, mu(&mut got)),
                    2 => bilinear_row_inner::<2>(&src, &row, a, mu(&mut got)),
                    3 => bilinear_row_inner::<3>(&src, &row, a, mu(&mut got)),
                    _ => bilinear_row_inner::<4>(&src, &row, a, mu(&mut got)),
                }
            }
            assert_eq!(got, want, "C={c} {w}x{h} {row:?} columns {a}..{b}");
        }
        assert!(edge_cases > 1000, "{edge_cases} points at the far edge");
    }

    /// Whole zero-padded warps through the detected kernels equal the model
    /// pixel for pixel: the planner's split of each row at the interior's
    /// span (the AVX2 bilinear kernel's shorter step there) changes nothing.
    #[test]
    fn simd_bilinear_warps_equal_the_model_exactly() {
        use crate::affine::Affine;
        use crate::warp::{warp_into_with, ImageMut, ImageRef, Isa};
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        for case in 0..60 {
            let c = 1 + case % 4;
            // Rows wider than SIMD_SPAN_MIN: the row planner, not the flat image kernel.
            let (w, h) = (130 + rng.below(200), 2 + rng.below(120));
            let (ow, oh) = (130 + rng.below(200), 1 + rng.below(90));
            let data: Vec<u8> = (0..w * h * c).map(|_| rng.next() as u8).collect();
            let src = Plane::new(&data, w, h, c).unwrap();
            let (sin, cos) = rng.real(-3.2, 3.2).sin_cos();
            let s = rng.real(0.4, 1.6);
            let theta = Affine([
                s * cos,
                -s * sin,
                rng.real(-0.6, 0.6),
                s * sin,
                s * cos,
                rng.real(-0.6, 0.6),
            ]);
            let opts = WarpOptions::default();
            let size = |w: usize, h: usize| crate::affine::Size {
                width: w as u32,
                height: h as u32,
            };
            let map = theta.sampling_map(size(w, h), size(ow, oh), opts.align_corners);
            let mut want = vec![0u8; ow * oh * c];
            for (i, out) in want.chunks_mut(ow * c).enumerate() {
                let row = Row::new(&map, i);
                let (u, v): (Vec<f64>, Vec<f64>) = (0..ow).map(|j| row.at(j)).unzip();
                model_points(&src, &u, &v, out);
            }
            for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
                let mut got = vec![0u8; ow * oh * c];
                warp_into_with(
                    ImageRef {
                        data: &data,
                        width: w,
                        height: h,
                        channels: c,
                    },
                    ImageMut {
                        data: &mut got,
                        width: ow,
                        height: oh,
                        channels: c,
                    },
                    &theta.into(),
                    &opts,
                    isa,
                );
                assert_eq!(got, want, "{isa} C={c} {w}x{h} → {ow}x{oh} {theta:?}");
            }
        }
    }

    /// The flat whole-image kernels equal the model row by row, bit for bit.
    #[test]
    fn simd_image_kernels_equal_the_model_exactly() {
        use crate::affine::Affine;
        let mut rng = Rng(7);
        // Gray sources at the edges of the small-image kernel's size
        // (avx512::TINY, 1024 bytes) come first.
        let edges = [
            (28, 28),
            (32, 32),
            (31, 33),
            (512, 2),
            (2, 512),
            (33, 31),
            (1025, 2),
        ];
        for case in 0..600 + 4 * edges.len() {
            let c = if case < 4 * edges.len() {
                1
            } else {
                1 + case % 4
            };
            let (w, h) = match edges.get(case / 4) {
                Some(&size) => size,
                None => (2 + rng.below(40), 2 + rng.below(30)),
            };
            let data: Vec<u8> = (0..w * h * c).map(|_| rng.next() as u8).collect();
            let src = Plane::new(&data, w, h, c).unwrap();
            let (ow, oh) = (1 + rng.below(40), 1 + rng.below(20));
            let map = Affine(std::array::from_fn(|k| {
                rng.real(-1.5, 1.5) * if k % 3 == 2 { 20.0 } else { 1.0 }
            }));
            let mut want = vec![0u8; ow * oh * c];
            for (i, out) in want.chunks_mut(ow * c).enumerate() {
                let row = Row::new(&map, i);
                let (u, v): (Vec<f64>, Vec<f64>) = (0..ow).map(|j| row.at(j)).unzip();
                model_points(&src, &u, &v, out);
            }
            for isa in crate::warp::Isa::supported() {
                let mut got = vec![0u8; ow * oh * c];
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `isa` is supported; C matches the plane's channel count.
                unsafe {
                    use crate::warp::{avx2, avx512, Isa};
                    let m = &map.0;
                    match (isa, c) {
                        (Isa::Avx2, 1) => avx2::bilinear_image::<1>(&src, m, ow, mu(&mut got)),
                        (Isa::Avx2, 2) => avx2::bilinear_image::<2>(&src, m, ow, mu(&mut got)),
                        (Isa::Avx2, 3) => avx2::bilinear_image::<3>(&src, m, ow, mu(&mut got)),
                        (Isa::Avx2, 4) => avx2::bilinear_image::<4>(&src, m, ow, mu(&mut got)),
                        (Isa::Avx512, 1) => {
                            avx512::bilinear_image::<1, true>(&src, m, ow, mu(&mut got))
                        }
                        (Isa::Avx512, 2) => {
                            avx512::bilinear_image::<2, false>(&src, m, ow, mu(&mut got))
                        }
                        (Isa::Avx512, 3) => {
                            avx512::bilinear_image::<3, true>(&src, m, ow, mu(&mut got))
                        }
                        (Isa::Avx512, 4) => {
                            avx512::bilinear_image::<4, true>(&src, m, ow, mu(&mut got))
                        }
                        _ => got.copy_from_slice(&want),
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                got.copy_from_slice(&want);
                assert_eq!(got, want, "{isa} C={c} {w}x{h} -> {ow}x{oh} {map:?}");
                #[cfg(target_arch = "x86_64")]
                if isa == crate::warp::Isa::Avx512 {
                    use crate::warp::avx512;
                    let mut got = vec![0u8; ow * oh * c];
                    // SAFETY: as above.
                    unsafe {
                        match c {
                            3 => avx512::bilinear_image::<3, false>(&src, &map.0, ow, mu(&mut got)),
                            1 => avx512::bilinear_image::<1, false>(&src, &map.0, ow, mu(&mut got)),
                            2 => avx512::bilinear_image::<2, false>(&src, &map.0, ow, mu(&mut got)),
                            _ => avx512::bilinear_image::<4, false>(&src, &map.0, ow, mu(&mut got)),
                        }
                    }
                    assert_eq!(got, want, "avx512 loads C={c} {w}x{h} -> {ow}x{oh}");
                }
            }
        }
    }

    /// A model's and the spec's pixels at `(u, v)` of the 3-channel image
    /// `data` (`w × h`), zero padding.
    fn model_and_spec(
        data: &[u8],
        (w, h): (usize, usize),
        (u, v): (f64, f64),
        model: fn(&Plane<'_>, f64, f64, &mut [u8]),
        spec: fn(&Src<'_, u8>, f64, f64, &WarpOptions, &mut [u8]),
    ) -> ([u8; 3], [u8; 3]) {
        let plane = Plane::new(data, w, h, 3).unwrap();
        let src = Src {
            data,
            width: w,
            height: h,
        };
        let (mut a, mut b) = ([0u8; 3], [0u8; 3]);
        model(&plane, u, v, &mut a);
        spec(&src, u, v, &WarpOptions::default(), &mut b);
        (a, b)
    }

    /// The model stays within one grey level of the spec's slow path (zero
    /// padding), which holds everywhere.
    #[test]
    fn model_is_within_one_level_of_the_spec() {
        let mut rng = Rng(42);
        let mut worst = 0;
        for _ in 0..200_000 {
            let (w, h) = (2 + rng.below(6), 2 + rng.below(6));
            let data: Vec<u8> = (0..w * h * 3).map(|_| rng.next() as u8).collect();
            let (u, v) = (
                rng.real(-1.5, w as f64 + 0.5),
                rng.real(-1.5, h as f64 + 0.5),
            );
            let (a, b) = model_and_spec(&data, (w, h), (u, v), pixel::<3>, Bilinear::slow::<u8, 3>);
            for (x, y) in a.iter().zip(&b) {
                worst = worst.max(x.abs_diff(*y));
            }
        }
        assert!(worst <= 1, "max difference {worst}");
    }

    /// The bicubic model's unrounded sums stay within 0.05 of the exact
    /// (`f64`) bicubic value, the error bound of `cubic_sum` (0.043 + 10⁻⁴),
    /// and its bytes within one grey level of the spec's and of the exact
    /// value rounded, everywhere (zero padding, points across the edges).
    #[test]
    fn cubic_model_is_within_its_bound_of_the_exact_value() {
        let exact = |data: &[u8], w: usize, h: usize, u: f64, v: f64, c: usize| {
            const A: f64 = -0.75;
            let near = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
            let far = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
            let weights = |t: f64| [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)];
            let (x0, y0) = (u.floor(), v.floor());
            let (wx, wy) = (weights(u - x0), weights(v - y0));
            let mut sum = 0.0;
            for (r, wr) in wy.iter().enumerate() {
                for (k, wk) in wx.iter().enumerate() {
                    let (x, y) = (x0 as i64 + k as i64 - 1, y0 as i64 + r as i64 - 1);
                    if (0..w as i64).contains(&x) && (0..h as i64).contains(&y) {
                        let p = data[(y as usize * w + x as usize) * 3 + c];
                        sum += wr * wk * f64::from(p);
                    }
                }
            }
            sum
        };
        let mut rng = Rng(4242);
        let (mut worst_sum, mut worst_spec, mut worst_exact) = (0.0f64, 0, 0);
        for case in 0..100_000 {
            let (w, h) = (2 + rng.below(7), 2 + rng.below(7));
            // Extremes (0/255 checkerboards) as well as random pixels.
            let data: Vec<u8> = (0..w * h * 3)
                .map(|i| match case % 3 {
                    0 => [0, 255][(i / 3 + i / (3 * w)) % 2],
                    _ => rng.next() as u8,
                })
                .collect();
            let (u, v) = (
                rng.real(-2.5, w as f64 + 1.5),
                rng.real(-2.5, h as f64 + 1.5),
            );
            let (a, b) = model_and_spec(
                &data,
                (w, h),
                (u, v),
                cubic_pixel::<3>,
                Bicubic::slow::<u8, 3>,
            );
            let sums = cubic_sum::<3>(&Plane::new(&data, w, h, 3).unwrap(), u, v);
            for c in 0..3 {
                let e = exact(&data, w, h, u, v, c);
                let m = f64::from(sums[c]);
                worst_sum = worst_sum.max((m - e).abs());
                worst_spec = worst_spec.max(a[c].abs_diff(b[c]));
                let rounded = e.clamp(0.0, 255.0).round() as u8;
                worst_exact = worst_exact.max(a[c].abs_diff(rounded));
            }
        }
        assert!(worst_sum <= 0.05, "sum off by {worst_sum}");
        assert!(worst_spec <= 1, "max difference from the spec {worst_spec}");
        assert!(worst_exact <= 1, "max difference from f64 {worst_exact}");
    }

    /// Far outside, NaN and beyond `i32`: zero, as the spec.
    #[test]
    fn cubic_model_reads_zero_outside() {
        let data = vec![200u8; 5 * 4];
        let plane = Plane::new(&data, 5, 4, 1).unwrap();
        for (u, v) in [
            (f64::NAN, 1.0),
            (1.0, f64::INFINITY),
            (-2.0, 1.0),
            (6.0, 1.0),
            (1e300, -1e300),
            (3e9, 1.5),
        ] {
            let mut px = [7u8];
            cubic_pixel::<1>(&plane, u, v, &mut px);
            assert_eq!(px, [0], "({u}, {v})");
        }
        // A flat image stays flat inside.
        let mut px = [0u8];
        cubic_pixel::<1>(&plane, 2.3, 1.7, &mut px);
        assert_eq!(px, [200]);
    }

    #[test]
    fn planes_too_wide_for_quantised_coordinates_are_refused() {
        let data = vec![0u8; MAX_SIDE * 2];
        assert!(Plane::new(&data, MAX_SIDE, 2, 1).is_none());
        assert!(Plane::new(&data, 2, MAX_SIDE, 1).is_none());
        assert!(Plane::new(&data[..(MAX_SIDE - 1) * 2], MAX_SIDE - 1, 2, 1).is_some());
    }

    #[test]
    fn fits_i32() {
        let worst = 255i64 * i64::from(ONE) * i64::from(ONE) + (1 << (2 * BITS - 1));
        assert!(worst < i64::from(i32::MAX));
    }
}
