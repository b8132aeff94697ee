//! The reference sampler: PyTorch's `grid_sample` formulas, pixel by pixel.
//!
//! This file is the specification. Coordinates are `f64`; interpolation weights
//! and sums are `f32` (for 8- and 16-bit samples this stays within 0.01 of a
//! grey level of PyTorch's float64 result before rounding).
//!
//! The sampling points come from a grid generator ([`super::grid`]). Each
//! point is sampled by
//! - the `fast` path, no bounds tests, if its taps all lie inside the input
//!   ([`Kernel::interior`]);
//! - the `slow` path, PyTorch's per-tap rules (`compute_coordinates`,
//!   `within_bounds_2d`), if its taps may touch the padding;
//! - zeros, with zero padding, if its taps all lie outside ([`Kernel::reach`]).
//!
//! A NaN point (e.g. behind a homography's camera) is 0 in every channel,
//! whatever the padding: `compute_coordinates` keeps it NaN and
//! `safe_downgrade_to_int_range` sends it outside every image.

use super::grid::Bounds;
use super::{Padding, Sample, WarpOptions};

/// The source image seen by a kernel.
#[derive(Clone, Copy)]
pub struct Src<'a, T> {
    /// Samples, row-major, interleaved channels.
    pub data: &'a [T],
    /// Width in pixels (at least 1).
    pub width: usize,
    /// Height in pixels (at least 1).
    pub height: usize,
}

impl<T: Sample> Src<'_, T> {
    /// Sample `c` of pixel `(x, y)`, or 0 outside the image (`within_bounds_2d`).
    #[inline(always)]
    fn get_or_zero<const C: usize>(&self, x: f64, y: f64, c: usize) -> f32 {
        if 0.0 <= x && x < self.width as f64 && 0.0 <= y && y < self.height as f64 {
            self.data[(y as usize * self.width + x as usize) * C + c].to_f32()
        } else {
            0.0
        }
    }
}

/// An interpolation kernel: where its taps are safe, and how it samples.
pub trait Kernel {
    /// The box of `(u, v)` whose taps all lie inside a `w`×`h` image.
    fn interior(w: usize, h: usize) -> Bounds;
    /// The box of `(u, v)` outside which every tap lies outside the image.
    fn reach(w: usize, h: usize) -> Bounds;
    /// Samples at `(u, v)` inside [`Kernel::interior`].
    fn fast<T: Sample, const C: usize>(src: &Src<'_, T>, u: f64, v: f64, out: &mut [T]);
    /// Samples anywhere, applying the padding rules.
    fn slow<T: Sample, const C: usize>(
        src: &Src<'_, T>,
        u: f64,
        v: f64,
        opts: &WarpOptions,
        out: &mut [T],
    );
}

/// PyTorch's `clip_coordinates`: clamp into `[0, size − 1]`.
#[inline]
fn clip(x: f64, size: usize) -> f64 {
    // NaN stays NaN, as with std::min/std::max in PyTorch, and is caught below.
    if x.is_nan() {
        x
    } else {
        x.max(0.0).min(size as f64 - 1.0)
    }
}

/// PyTorch's `reflect_coordinates(x, twice_low, twice_high)`: fold `x` into
/// `[twice_low/2, twice_high/2]` by repeated mirroring.
#[inline]
fn reflect(x: f64, twice_low: i64, twice_high: i64) -> f64 {
    if twice_low == twice_high {
        return 0.0;
    }
    let min = twice_low as f64 / 2.0;
    let span = (twice_high - twice_low) as f64 / 2.0;
    let x = (x - min).abs();
    let extra = x % span;
    let flips = (x / span).floor();
    if flips % 2.0 == 0.0 {
        extra + min
    } else {
        span - extra + min
    }
}

/// PyTorch's `compute_coordinates` followed by `safe_downgrade_to_int_range`:
/// the padded coordinate, or -100 (outside every image) if not representable.
#[inline]
fn pad_coord(x: f64, size: usize, opts: &WarpOptions) -> f64 {
    let x = match opts.padding {
        Padding::Zeros => x,
        Padding::Border => clip(x, size),
        Padding::Reflection => {
            let n = size as i64;
            let r = if opts.align_corners {
                reflect(x, 0, 2 * (n - 1))
            } else {
                reflect(x, -1, 2 * n - 1)
            };
            clip(r, size)
        }
    };
    if x.is_finite() && x > f64::from(i32::MIN) && x < f64::from(i32::MAX - 1) {
        x
    } else {
        -100.0
    }
}

/// Bilinear interpolation (`mode="bilinear"`).
pub struct Bilinear;

impl Kernel for Bilinear {
    fn interior(w: usize, h: usize) -> Bounds {
        Bounds {
            u_lo: 0.0,
            u_hi: w as f64 - 1.0,
            v_lo: 0.0,
            v_hi: h as f64 - 1.0,
        }
    }

    fn reach(w: usize, h: usize) -> Bounds {
        Bounds {
            u_lo: -1.0,
            u_hi: w as f64,
            v_lo: -1.0,
            v_hi: h as f64,
        }
    }

    #[inline(always)]
    fn fast<T: Sample, const C: usize>(src: &Src<'_, T>, u: f64, v: f64, out: &mut [T]) {
        // Inside the interior u, v ≥ 0, so truncation is floor.
        let (x0, y0) = (u as usize, v as usize);
        let tx = (u - x0 as f64) as f32;
        let ty = (v - y0 as f64) as f32;
        let stride = src.width * C;
        let p = y0 * stride + x0 * C;
        let top = &src.data[p..p + 2 * C];
        let bottom = &src.data[p + stride..p + stride + 2 * C];
        for c in 0..C {
            let (nw, ne) = (top[c].to_f32(), top[C + c].to_f32());
            let (sw, se) = (bottom[c].to_f32(), bottom[C + c].to_f32());
            let t = nw + tx * (ne - nw);
            let b = sw + tx * (se - sw);
            out[c] = T::from_f32(t + ty * (b - t));
        }
    }

    fn slow<T: Sample, const C: usize>(
        src: &Src<'_, T>,
        u: f64,
        v: f64,
        opts: &WarpOptions,
        out: &mut [T],
    ) {
        let x = pad_coord(u, src.width, opts);
        let y = pad_coord(v, src.height, opts);
        let (x0, y0) = (x.floor(), y.floor());
        let tx = (x - x0) as f32;
        let ty = (y - y0) as f32;
        for (c, o) in out.iter_mut().enumerate() {
            let nw = src.get_or_zero::<C>(x0, y0, c);
            let ne = src.get_or_zero::<C>(x0 + 1.0, y0, c);
            let sw = src.get_or_zero::<C>(x0, y0 + 1.0, c);
            let se = src.get_or_zero::<C>(x0 + 1.0, y0 + 1.0, c);
            let t = nw + tx * (ne - nw);
            let b = sw + tx * (se - sw);
            *o = T::from_f32(t + ty * (b - t));
        }
    }
}

/// Nearest neighbour (`mode="nearest"`), ties to even as `nearbyint`.
pub struct Nearest;

impl Kernel for Nearest {
    fn interior(w: usize, h: usize) -> Bounds {
        // round_ties_even(u) ∈ [0, w−1] for u ∈ [−0.5, w − 0.5); the tie at
        // w − 0.5 is left to the slow path.
        Bounds {
            u_lo: -0.5,
            u_hi: w as f64 - 0.5,
            v_lo: -0.5,
            v_hi: h as f64 - 0.5,
        }
    }

    fn reach(w: usize, h: usize) -> Bounds {
        // Rounding moves a point by at most half a pixel.
        Bounds {
            u_lo: -0.5,
            u_hi: w as f64 + 0.5,
            v_lo: -0.5,
            v_hi: h as f64 + 0.5,
        }
    }

    #[inline(always)]
    fn fast<T: Sample, const C: usize>(src: &Src<'_, T>, u: f64, v: f64, out: &mut [T]) {
        // Inside the interior u, v ≥ −0.5: adding 2⁵² rounds to an integer,
        // ties to even, without a libm call.
        const MAGIC: f64 = 4_503_599_627_370_496.0; // 2^52
        let x = ((u + MAGIC) - MAGIC) as usize;
        let y = ((v + MAGIC) - MAGIC) as usize;
        let p = (y * src.width + x) * C;
        out.copy_from_slice(&src.data[p..p + C]);
    }

    fn slow<T: Sample, const C: usize>(
        src: &Src<'_, T>,
        u: f64,
        v: f64,
        opts: &WarpOptions,
        out: &mut [T],
    ) {
        let x = pad_coord(u, src.width, opts).round_ties_even();
        let y = pad_coord(v, src.height, opts).round_ties_even();
        for (c, o) in out.iter_mut().enumerate() {
            *o = T::from_f32(src.get_or_zero::<C>(x, y, c));
        }
    }
}

/// Bicubic convolution (`mode="bicubic"`), A = −0.75, as PyTorch.
pub struct Bicubic;

const A: f32 = -0.75;

/// The four cubic convolution weights for fractional offset `t` ∈ [0, 1).
#[inline(always)]
pub(super) fn cubic_weights(t: f32) -> [f32; 4] {
    // PyTorch's cubic_convolution1 for |x| ≤ 1 and cubic_convolution2 for 1 < |x| < 2.
    let near = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let far = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

impl Kernel for Bicubic {
    fn interior(w: usize, h: usize) -> Bounds {
        Bounds {
            u_lo: 1.0,
            u_hi: w as f64 - 2.0,
            v_lo: 1.0,
            v_hi: h as f64 - 2.0,
        }
    }

    fn reach(w: usize, h: usize) -> Bounds {
        Bounds {
            u_lo: -2.0,
            u_hi: w as f64 + 1.0,
            v_lo: -2.0,
            v_hi: h as f64 + 1.0,
        }
    }

    #[inline(always)]
    fn fast<T: Sample, const C: usize>(src: &Src<'_, T>, u: f64, v: f64, out: &mut [T]) {
        // Inside the interior u, v ≥ 1, so truncation is floor.
        let (x0, y0) = (u as usize, v as usize);
        let wx = cubic_weights((u - x0 as f64) as f32);
        let wy = cubic_weights((v - y0 as f64) as f32);
        let stride = src.width * C;
        let base = (y0 - 1) * stride + (x0 - 1) * C;
        for (c, o) in out.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (r, wr) in wy.iter().enumerate() {
                let p = &src.data[base + r * stride..base + r * stride + 4 * C];
                let line = wx[0] * p[c].to_f32()
                    + wx[1] * p[C + c].to_f32()
                    + wx[2] * p[2 * C + c].to_f32()
                    + wx[3] * p[3 * C + c].to_f32();
                acc += wr * line;
            }
            *o = T::from_f32(acc);
        }
    }

    fn slow<T: Sample, const C: usize>(
        src: &Src<'_, T>,
        u: f64,
        v: f64,
        opts: &WarpOptions,
        out: &mut [T],
    ) {
        // Bicubic pads each tap, not the sampling point (PyTorch's get_value_bounded).
        if !(u.is_finite() && v.is_finite()) {
            out.fill(T::default());
            return;
        }
        let (x0, y0) = (u.floor(), v.floor());
        let wx = cubic_weights((u - x0) as f32);
        let wy = cubic_weights((v - y0) as f32);
        let xs: [f64; 4] =
            std::array::from_fn(|k| pad_coord(x0 - 1.0 + k as f64, src.width, opts).trunc());
        let ys: [f64; 4] =
            std::array::from_fn(|k| pad_coord(y0 - 1.0 + k as f64, src.height, opts).trunc());
        for (c, o) in out.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (y, wr) in ys.iter().zip(wy) {
                let mut line = 0.0f32;
                for (x, wc) in xs.iter().zip(wx) {
                    line += wc * src.get_or_zero::<C>(*x, *y, c);
                }
                acc += wr * line;
            }
            *o = T::from_f32(acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_folds_like_pytorch() {
        // align_corners=false, size 4: the image spans [-0.5, 3.5].
        let r = |x| reflect(x, -1, 7);
        assert_eq!(r(-0.5), -0.5);
        assert_eq!(r(-1.0), 0.0);
        assert_eq!(r(4.0), 3.0);
        assert_eq!(r(8.0), 0.0); // folded twice
                                 // align_corners=true, size 4: the image spans [0, 3].
        let r = |x| reflect(x, 0, 6);
        assert_eq!(r(-1.0), 1.0);
        assert_eq!(r(4.0), 2.0);
        assert_eq!(r(7.0), 1.0);
        // One pixel with align_corners=true reflects everything onto 0.
        assert_eq!(reflect(5.5, 0, 0), 0.0);
    }

    #[test]
    fn cubic_weights_sum_to_one_and_interpolate() {
        for t in [0.0, 0.1, 0.5, 0.9] {
            let w = cubic_weights(t);
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(cubic_weights(0.0), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn unrepresentable_coordinates_read_as_outside() {
        let o = WarpOptions::default();
        assert_eq!(pad_coord(f64::NAN, 5, &o), -100.0);
        assert_eq!(pad_coord(1e20, 5, &o), -100.0);
        let b = WarpOptions {
            padding: Padding::Border,
            ..o
        };
        assert_eq!(pad_coord(1e20, 5, &b), 4.0);
    }
}
