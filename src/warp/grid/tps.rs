//! The thin-plate-spline family: [`Tps`] evaluated at every output pixel.
//!
//! Output pixel `(j, i)` → its normalised point `(x, y)` on the base grid (the
//! spline's own convention, else `align_corners`) → `f(x, y)` → `grid_sample`'s
//! unnormalisation into input pixels.
//!
//! # Exact evaluation
//!
//! `f(p) = a0 + a1 x + a2 y + Σ w_k U(|p − c_k|)` in f64, with `U = ½ r² ln r²`
//! (or `r² ln(r + eps)`), summed in a fixed order: the K terms in lanes of 8
//! (`k mod 8`), the lanes then added in order. The logarithm is [`ln`], an
//! arithmetic one the compiler can vectorise (relative error below 1e-15 on
//! the values that occur, against a correctly rounded `ln`); so every CPU
//! computes the same bits, and the samplers see the same points.
//!
//! # Interpolation with a proven bound
//!
//! K radial terms per pixel are ~20 logarithms per pixel. Along a row, `f` is
//! smooth away from the control points, so each tile of a row is split into
//! segments of up to [`SEGMENT`] pixels whose ends (knots) are evaluated
//! exactly, with their x-derivatives, and the pixels in between by the cubic
//! Hermite interpolant of the knots. Its error is at most
//! `L⁴/384 · max|∂⁴f/∂x⁴|` on a segment of normalised length `L`, and
//! `|∂⁴U/∂x⁴| = |2(3d⁴ − 6d²x² − x⁴)| / r⁶ ≤ 6/r²` for `U = ½ r² ln r²` (with
//! `r² = x² + d²`), so on a segment whose closest distance to `c_k` is
//! `ρ_k` the error is below `L⁴/384 · Σ_k 6 |w_k| / ρ_k²`. A segment is
//! interpolated only if that bound, in input pixels, is below [`TOLERANCE`]
//! (1/4096 pixel, a quarter of the samplers' own quantisation step); otherwise
//! it is halved, down to segments of 8 pixels, below which its pixels are
//! evaluated exactly. With `eps > 0` segments closer than `1000·eps` to a
//! control point are evaluated exactly and the bound is doubled (the `eps`
//! term's own derivatives are below `6/r²` by a factor `r/eps` there).
//! Error in the sampled value: at most 255 · 2⁻¹² ≈ 0.06 grey level per axis
//! on the steepest edge, inside the one-grey-level budget of the samplers.

use std::sync::{Arc, Mutex};

use super::{lanes, Grid};
use crate::affine::{Affine, Size};
use crate::transform::Tps;

/// Longest interpolated segment, in output pixels.
pub const SEGMENT: usize = 64;
/// Shortest segment worth interpolating: shorter ones are evaluated exactly.
const MIN_SEGMENT: usize = 8;
/// Largest interpolation error allowed, in input pixels.
pub const TOLERANCE: f64 = 1.0 / 4096.0;

/// Control points per lane group.
const LANES: usize = 8;

/// The grid of a thin-plate spline.
#[derive(Clone, Debug)]
pub struct TpsGrid {
    /// Output pixel → output normalised (diagonal).
    base: Affine,
    /// Input normalised → input pixel (diagonal).
    to_px: Affine,
    /// The affine parts of x and y.
    a: [[f64; 3]; 2],
    /// Control points and weights, padded with zero weights to a multiple
    /// of [`LANES`].
    cx: Vec<f64>,
    cy: Vec<f64>,
    wx: Vec<f64>,
    wy: Vec<f64>,
    /// `6 · max(|wx·sx|, |wy·sy|)` per point, `s` the unnormalisation scales:
    /// the bound's numerators in input pixels.
    bound: Vec<f64>,
    eps: f64,
    /// Points per row of the output.
    width: usize,
    /// The real point count (the vectors above are padded).
    k: usize,
    /// For small outputs, the radial terms of every output pixel (see
    /// [`RadialTable`]): every point is then evaluated exactly from it.
    table: Option<Arc<RadialTable>>,
}

/// The radial terms `U(|p − c_k|)` of every output pixel `p` of a small
/// output, laid out `[row][k][column]`: they depend on the target points,
/// `eps`, the output size and its base grid, not on the source points, so
/// images warped through splines with the same targets (a TPS model's fixed
/// layout) share one table, and each then costs K multiply-adds per
/// coordinate and pixel instead of K logarithms. Kept for the last few
/// layouts in a small process-wide cache.
#[derive(Debug)]
pub struct RadialTable {
    key: TableKey,
    values: Vec<f64>,
}

/// What a [`RadialTable`] depends on, bit for bit.
#[derive(Clone, Debug, PartialEq)]
struct TableKey {
    target: Vec<u64>,
    eps: u64,
    base: [u64; 6],
    width: usize,
    height: usize,
}

/// Outputs with at most this many pixel × point entries (8 bytes each) use a
/// [`RadialTable`] and exact evaluation everywhere; larger ones use knots
/// and Hermite segments.
pub const TABLE_MAX: usize = 1 << 20;

/// Tables kept in the process-wide cache.
const TABLES_KEPT: usize = 4;

impl TpsGrid {
    /// The grid of `tps` between images of these sizes.
    pub fn new(tps: &Tps, input: Size, output: Size, align_corners: bool) -> Self {
        let base = Affine::pixel_to_norm(output, tps.grid().unwrap_or(align_corners));
        let to_px = Affine::norm_to_pixel(input, align_corners);
        let k = tps.target().len();
        let padded = k.div_ceil(LANES) * LANES;
        let pad = |v: Vec<f64>| {
            let mut v = v;
            v.resize(padded, 0.0);
            v
        };
        let [wx, wy] = tps.weights().clone();
        let (sx, sy) = (to_px.0[0].abs(), to_px.0[4].abs());
        let factor = if tps.eps() > 0.0 { 2.0 } else { 1.0 };
        let bound = wx
            .iter()
            .zip(&wy)
            .map(|(x, y)| factor * 6.0 * (x.abs() * sx).max(y.abs() * sy))
            .collect();
        let mut grid = TpsGrid {
            base,
            to_px,
            a: *tps.affine_part(),
            cx: pad(tps.target().iter().map(|c| c[0]).collect()),
            cy: pad(tps.target().iter().map(|c| c[1]).collect()),
            wx: pad(wx),
            wy: pad(wy),
            bound: pad(bound),
            eps: tps.eps(),
            width: output.width as usize,
            k,
            table: None,
        };
        let (w, h) = (output.width as usize, output.height as usize);
        if w.saturating_mul(h).saturating_mul(k) <= TABLE_MAX {
            grid.table = Some(grid.radial_table(tps, w, h));
        }
        grid
    }

    /// The radial table of this grid's targets and output, from the cache or
    /// computed (by the exact evaluation's own operations).
    fn radial_table(&self, tps: &Tps, w: usize, h: usize) -> Arc<RadialTable> {
        static CACHE: Mutex<Vec<Arc<RadialTable>>> = Mutex::new(Vec::new());
        let key = TableKey {
            target: tps.target().iter().flatten().map(|v| v.to_bits()).collect(),
            eps: self.eps.to_bits(),
            base: self.base.0.map(f64::to_bits),
            width: w,
            height: h,
        };
        let cache = |f: &mut dyn FnMut(&mut Vec<Arc<RadialTable>>)| {
            let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut c);
        };
        let mut found = None;
        cache(&mut |c| {
            if let Some(i) = c.iter().position(|t| t.key == key) {
                let t = c.remove(i);
                c.insert(0, t.clone());
                found = Some(t);
            }
        });
        if let Some(t) = found {
            return t;
        }
        let k = self.k;
        let mut values = vec![0.0; w * h * k];
        let [sx, _, ox, _, _, _] = self.base.0;
        for (i, rows) in values.chunks_mut(k * w).enumerate() {
            let y = self.row_y(i);
            for (kk, out) in rows.chunks_mut(w).enumerate() {
                let dy2 = (y - self.cy[kk]) * (y - self.cy[kk]);
                for (j, out) in out.iter_mut().enumerate() {
                    // The x of `eval_points`: (block start + lane) is j exactly.
                    let dx = (sx * j as f64 + ox) - self.cx[kk];
                    *out = radial(dx * dx + dy2, dx, self.eps).0;
                }
            }
        }
        let table = Arc::new(RadialTable { key, values });
        cache(&mut |c| {
            c.insert(0, table.clone());
            c.truncate(TABLES_KEPT);
        });
        table
    }

    /// Fills the points of row `i`, columns `j0 .. j0 + u.len()`, exactly,
    /// from the radial table: the operations of [`TpsGrid::eval_points`].
    #[inline(always)]
    fn exact_from_table(
        &self,
        table: &RadialTable,
        i: usize,
        j0: usize,
        u: &mut [f64],
        v: &mut [f64],
    ) {
        let (w, k) = (self.width, self.k);
        let [sx, _, ox, _, sy, oy] = self.base.0;
        let [px, _, qx, _, py, qy] = self.to_px.0;
        let [ax, ay] = self.a;
        let y = sy * i as f64 + oy;
        let n = u.len();
        let row = &table.values[i * k * w..(i + 1) * k * w];
        let mut fx = [0.0f64; 64];
        let mut fy = [0.0f64; 64];
        let mut start = 0;
        while start < n {
            let m = (n - start).min(64);
            let (fx, fy) = (&mut fx[..m], &mut fy[..m]);
            for (l, (fx, fy)) in fx.iter_mut().zip(fy.iter_mut()).enumerate() {
                let x = sx * ((j0 + start) as f64 + lanes::RAMP[l]) + ox;
                *fx = ax[0] + ax[1] * x + ax[2] * y;
                *fy = ay[0] + ay[1] * x + ay[2] * y;
            }
            for kk in 0..k {
                let (wx, wy) = (self.wx[kk], self.wy[kk]);
                let terms = &row[kk * w + j0 + start..kk * w + j0 + start + m];
                for ((fx, fy), t) in fx.iter_mut().zip(fy.iter_mut()).zip(terms) {
                    *fx += wx * t;
                    *fy += wy * t;
                }
            }
            for l in 0..m {
                u[start + l] = px * fx[l] + qx;
                v[start + l] = py * fy[l] + qy;
            }
            start += m;
        }
    }

    /// The normalised `y` of output row `i`. (The terms' `(y − cy_k)²` are
    /// recomputed where used: two operations beside a logarithm, and no
    /// allocation per row tile.)
    #[inline(always)]
    fn row_y(&self, i: usize) -> f64 {
        self.base.0[4] * i as f64 + self.base.0[5]
    }

    /// `f` at `(x, y)` exactly, and with `deriv` its x-derivative:
    /// `(fx, fy, ∂fx/∂x, ∂fy/∂x)`, in normalised coordinates.
    #[inline(always)]
    fn eval(&self, x: f64, y: f64, deriv: bool) -> [f64; 4] {
        let mut acc = [[0.0f64; LANES]; 4];
        let eps = self.eps;
        for (((cx, cy), wx), wy) in self
            .cx
            .chunks_exact(LANES)
            .zip(self.cy.chunks_exact(LANES))
            .zip(self.wx.chunks_exact(LANES))
            .zip(self.wy.chunks_exact(LANES))
        {
            for l in 0..LANES {
                let (dx, dy) = (x - cx[l], y - cy[l]);
                let r2 = dx * dx + dy * dy;
                let (u, du) = radial(r2, dx, eps);
                acc[0][l] += wx[l] * u;
                acc[1][l] += wy[l] * u;
                if deriv {
                    acc[2][l] += wx[l] * du;
                    acc[3][l] += wy[l] * du;
                }
            }
        }
        let sum = |a: &[f64; LANES]| a.iter().fold(0.0, |s, v| s + v);
        let [ax, ay] = self.a;
        [
            ax[0] + ax[1] * x + ax[2] * y + sum(&acc[0]),
            ay[0] + ay[1] * x + ay[2] * y + sum(&acc[1]),
            ax[1] + sum(&acc[2]),
            ay[1] + sum(&acc[3]),
        ]
    }

    /// Whether the Hermite interpolant on the normalised x-interval
    /// `[x0, x1]` of the row `y` is within [`TOLERANCE`].
    #[inline(always)]
    fn interpolable(&self, x0: f64, x1: f64, y: f64) -> bool {
        let (lo, hi) = (x0.min(x1), x0.max(x1));
        let len = hi - lo;
        let near = 1000.0 * self.eps;
        let mut sum = 0.0;
        for ((cx, cy), b) in self.cx.iter().zip(&self.cy).zip(&self.bound) {
            let gap = (lo - cx).max(cx - hi).max(0.0);
            let rho2 = gap * gap + (y - cy) * (y - cy);
            if *b == 0.0 {
                continue;
            }
            if rho2 == 0.0 || rho2 < near * near {
                return false;
            }
            sum += b / rho2;
        }
        let l2 = len * len;
        l2 * l2 / 384.0 * sum <= TOLERANCE
    }

    /// `f` at the [`LANES`] points `xs` of the row `y`, exactly, one point
    /// per lane, the K terms summed in order after the affine part (the
    /// order of [`Tps::apply`]).
    #[inline(always)]
    fn eval_points(&self, xs: &[f64; LANES], y: f64) -> [[f64; LANES]; 2] {
        let [ax, ay] = self.a;
        let mut fx: [f64; LANES] = std::array::from_fn(|l| ax[0] + ax[1] * xs[l] + ax[2] * y);
        let mut fy: [f64; LANES] = std::array::from_fn(|l| ay[0] + ay[1] * xs[l] + ay[2] * y);
        let k = self.k;
        for (((cx, cy), wx), wy) in self.cx[..k]
            .iter()
            .zip(&self.cy[..k])
            .zip(&self.wx[..k])
            .zip(&self.wy[..k])
        {
            let dy2 = (y - cy) * (y - cy);
            for l in 0..LANES {
                let dx = xs[l] - cx;
                let (u, _) = radial(dx * dx + dy2, dx, self.eps);
                fx[l] += wx * u;
                fy[l] += wy * u;
            }
        }
        [fx, fy]
    }

    /// Fills the points of columns `j0 .. j0 + u.len()` exactly.
    #[inline(always)]
    fn exact(&self, j0: usize, y: f64, u: &mut [f64], v: &mut [f64]) {
        let [sx, _, ox, _, _, _] = self.base.0;
        let [px, _, qx, _, py, qy] = self.to_px.0;
        for (c, (u, v)) in u.chunks_mut(LANES).zip(v.chunks_mut(LANES)).enumerate() {
            let j = j0 + c * LANES;
            let xs: [f64; LANES] = std::array::from_fn(|l| sx * (j as f64 + lanes::RAMP[l]) + ox);
            let [fx, fy] = self.eval_points(&xs, y);
            for (l, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
                (*u, *v) = (px * fx[l] + qx, py * fy[l] + qy);
            }
        }
    }

    /// Fills columns `j0 .. j0 + u.len()` by Hermite segments where the bound
    /// allows, halving segments that fail it, exactly elsewhere; `left` and
    /// `right` are the knots at `j0` and `j0 + u.len()`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn segments(
        &self,
        j0: usize,
        y: f64,
        left: [f64; 4],
        right: [f64; 4],
        u: &mut [f64],
        v: &mut [f64],
    ) {
        let [sx, _, ox, _, _, _] = self.base.0;
        // Pending segments (start, length, left knot, right knot), depth first.
        let mut stack = [(0usize, 0usize, [0.0f64; 4], [0.0f64; 4]); 8];
        stack[0] = (0, u.len(), left, right);
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let (s, n, left, right) = stack[top];
            let (us, vs) = (&mut u[s..s + n], &mut v[s..s + n]);
            let (x0, x1) = (sx * (j0 + s) as f64 + ox, sx * (j0 + s + n) as f64 + ox);
            if n >= MIN_SEGMENT && self.interpolable(x0, x1, y) {
                self.hermite(x1 - x0, left, right, us, vs);
            } else if n < 2 * MIN_SEGMENT || top + 2 > stack.len() {
                self.exact(j0 + s, y, us, vs);
            } else {
                let h = n / 2;
                let mid = self.eval(sx * (j0 + s + h) as f64 + ox, y, true);
                stack[top] = (s + h, n - h, mid, right);
                stack[top + 1] = (s, h, left, mid);
                top += 2;
            }
        }
    }

    /// The cubic Hermite interpolant of the knots `left`, `right` on a segment
    /// of normalised length `len`, at `t = k / u.len()`.
    #[inline(always)]
    fn hermite(&self, len: f64, left: [f64; 4], right: [f64; 4], u: &mut [f64], v: &mut [f64]) {
        // p(t) = a + t(b + t(c + t d)), derivatives scaled to the length.
        let coef = |f0: f64, f1: f64, d0: f64, d1: f64| {
            let (d0, d1) = (d0 * len, d1 * len);
            [
                f0,
                d0,
                3.0 * (f1 - f0) - 2.0 * d0 - d1,
                2.0 * (f0 - f1) + d0 + d1,
            ]
        };
        let cu = coef(left[0], right[0], left[2], right[2]);
        let cv = coef(left[1], right[1], left[3], right[3]);
        let [px, _, qx, _, py, qy] = self.to_px.0;
        let step = 1.0 / u.len() as f64;
        for (k, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
            let t = lanes::RAMP[k] * step;
            let fu = cu[0] + t * (cu[1] + t * (cu[2] + t * cu[3]));
            let fv = cv[0] + t * (cv[1] + t * (cv[2] + t * cv[3]));
            (*u, *v) = (px * fu + qx, py * fv + qy);
        }
    }

    /// [`Grid::fill`]'s body, inlined into copies compiled for each ISA.
    #[inline(always)]
    fn fill_body(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        if let Some(table) = &self.table {
            return self.exact_from_table(table, i, j0, u, v);
        }
        let y = self.row_y(i);
        let [sx, _, ox, _, _, _] = self.base.0;
        let mut start = 0;
        let mut left = self.eval(sx * j0 as f64 + ox, y, true);
        while start < u.len() {
            let n = SEGMENT.min(u.len() - start);
            let right = self.eval(sx * (j0 + start + n) as f64 + ox, y, true);
            let (us, vs) = (&mut u[start..start + n], &mut v[start..start + n]);
            self.segments(j0 + start, y, left, right, us, vs);
            left = right;
            start += n;
        }
    }

    /// [`TpsGrid::fill_body`] compiled for AVX-512.
    ///
    /// # Safety
    /// The CPU supports AVX-512 F and DQ.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    unsafe fn fill_avx512(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        self.fill_body(i, j0, u, v)
    }

    /// [`TpsGrid::fill_body`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fill_avx2(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        self.fill_body(i, j0, u, v)
    }
}

impl Grid for TpsGrid {
    fn fill(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        match lanes::level() {
            // SAFETY: `level` checked the CPU's features.
            #[cfg(target_arch = "x86_64")]
            2 => unsafe { self.fill_avx512(i, j0, u, v) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            1 => unsafe { self.fill_avx2(i, j0, u, v) },
            _ => self.fill_body(i, j0, u, v),
        }
    }
}

/// The radial term at squared distance `r2` and its x-derivative (`dx` the
/// x-offset): `(½ r² ln r², dx (ln r² + 1))`, or with `eps > 0`
/// `(r² ln(r + eps), dx (2 ln(r + eps) + r / (r + eps)))`; `(0, 0)` at `r = 0`.
#[inline(always)]
fn radial(r2: f64, dx: f64, eps: f64) -> (f64, f64) {
    if eps == 0.0 {
        let l = ln(r2);
        let ok = r2 > 1e-300;
        let u = 0.5 * r2 * l;
        let du = dx * (l + 1.0);
        if ok {
            (u, du)
        } else {
            (0.0, 0.0)
        }
    } else {
        let r = r2.sqrt();
        let l = ln(r + eps);
        let ok = r2 > 0.0;
        let u = r2 * l;
        let du = dx * (2.0 * l + r / (r + eps));
        if ok {
            (u, du)
        } else {
            (0.0, 0.0)
        }
    }
}

/// `ln x` for positive, finite, normal `x` (anything else gives a finite
/// meaningless value, which the radial term discards), with IEEE operations only,
/// so that it vectorises and gives the same bits on every CPU: `x = 2^e · m`
/// with `m ∈ [√½, √2)`, `ln m = 2 atanh(z)`, `z = (m − 1)/(m + 1)`, `|z| < 0.172`,
/// by its series to `z¹⁵` (truncation below 2e-14·|z|, far below what the
/// grid needs).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    let bits = x.to_bits();
    // The biased exponent as f64, exactly, without an integer conversion.
    let biased = f64::from_bits(0x4330_0000_0000_0000 | (bits >> 52)) - 4_503_599_627_370_496.0;
    let m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    let big = m > SQRT2;
    let m = if big { 0.5 * m } else { m };
    let e = if big {
        biased - 1022.0
    } else {
        biased - 1023.0
    };
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let p = 2.0 / 15.0;
    let p = 2.0 / 13.0 + z2 * p;
    let p = 2.0 / 11.0 + z2 * p;
    let p = 2.0 / 9.0 + z2 * p;
    let p = 2.0 / 7.0 + z2 * p;
    let p = 2.0 / 5.0 + z2 * p;
    let p = 2.0 / 3.0 + z2 * p;
    let p = 2.0 + z2 * p;
    e * LN2_HI + (z * p + e * LN2_LO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::named_layout;

    #[test]
    fn ln_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = 1e-300;
        while x < 1e300 {
            for f in [
                1.0,
                1.1,
                1.25,
                0.99999 * std::f64::consts::SQRT_2,
                1.00001 * std::f64::consts::SQRT_2,
                1.7,
                1.999,
            ] {
                let v = x * f;
                let err = (ln(v) - v.ln()).abs() / v.ln().abs().max(1.0);
                worst = worst.max(err);
            }
            x *= 3.7;
        }
        for v in [1.0, 0.5, 2.0, std::f64::consts::E, 1e-10, 7.0] {
            let err = (ln(v) - v.ln()).abs();
            worst = worst.max(err);
        }
        assert!(worst < 1e-14, "worst {worst:e}");
    }

    /// The interpolated grid stays within the tolerance of the exact one, on
    /// rows through and between the control points.
    #[test]
    fn interpolation_is_within_the_tolerance() {
        let target = named_layout("rare:20").unwrap();
        let source: Vec<[f64; 2]> = target
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let s = (k as f64 * 1.7).sin();
                [
                    0.9 * p[0] + 0.08 * s,
                    0.7 * p[1] + 0.1 * (std::f64::consts::PI * p[0]).sin(),
                ]
            })
            .collect();
        for eps in [0.0, 1e-6] {
            let tps = Tps::new(target.clone(), source.clone(), eps, None, "t").unwrap();
            for ac in [false, true] {
                let (input, output) = (Size::new(1500, 400), Size::new(1000, 300));
                let g = TpsGrid::new(&tps, input, output, ac);
                let mut worst = 0.0f64;
                let mut interpolated = 0;
                let n = 1000;
                let (mut u, mut v) = (vec![0.0; n], vec![0.0; n]);
                let (mut eu, mut ev) = (vec![0.0; n], vec![0.0; n]);
                for i in [0, 1, 2, 77, 150, 298, 299] {
                    for j0 in (0..n).step_by(64) {
                        let m = 64.min(n - j0);
                        g.fill(i, j0, &mut u[j0..j0 + m], &mut v[j0..j0 + m]);
                    }
                    let y = g.row_y(i);
                    g.exact(0, y, &mut eu, &mut ev);
                    for k in 0..n {
                        worst = worst.max((u[k] - eu[k]).abs()).max((v[k] - ev[k]).abs());
                        interpolated += usize::from(u[k] != eu[k]);
                        // Against the plain formula with libm's ln.
                        let x = g.base.0[0] * k as f64 + g.base.0[2];
                        let (fx, fy) = tps.apply(x, y);
                        let (px, py) = (
                            g.to_px.0[0] * fx + g.to_px.0[2],
                            g.to_px.0[4] * fy + g.to_px.0[5],
                        );
                        assert!((px - eu[k]).abs() < 1e-9 && (py - ev[k]).abs() < 1e-9);
                    }
                }
                assert!(worst <= TOLERANCE, "eps {eps} ac {ac}: {worst:e}");
                // Most points were interpolated, not evaluated exactly.
                assert!(interpolated > n, "{interpolated} interpolated");
            }
        }
    }

    /// Small outputs are evaluated exactly from the shared radial table, bit
    /// for bit as the per-point evaluation, and the table is shared.
    #[test]
    fn radial_table_gives_the_exact_points() {
        let target = named_layout("rare:20").unwrap();
        for (seed, eps) in [(1.0, 0.0), (2.0, 1e-6)] {
            let source: Vec<[f64; 2]> = target
                .iter()
                .enumerate()
                .map(|(k, p)| [p[0] * 0.9 + 0.03 * (k as f64 * seed).sin(), p[1] * 0.8])
                .collect();
            let tps = Tps::new(target.clone(), source, eps, Some(false), "t").unwrap();
            let (input, output) = (Size::new(200, 64), Size::new(100, 32));
            let g = TpsGrid::new(&tps, input, output, true);
            assert!(g.table.is_some());
            let mut plain = g.clone();
            plain.table = None;
            for i in [0, 5, 31] {
                let y = plain.row_y(i);
                let (mut u, mut v) = (vec![0.0; 100], vec![0.0; 100]);
                let (mut eu, mut ev) = (vec![0.0; 100], vec![0.0; 100]);
                g.fill(i, 0, &mut u[..64], &mut v[..64]);
                g.fill(i, 64, &mut u[64..], &mut v[64..]);
                plain.exact(0, y, &mut eu, &mut ev);
                assert_eq!(u, eu);
                assert_eq!(v, ev);
            }
            let again = TpsGrid::new(&tps, input, output, true);
            assert!(Arc::ptr_eq(
                g.table.as_ref().unwrap(),
                again.table.as_ref().unwrap()
            ));
        }
    }
}
