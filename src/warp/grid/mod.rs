//! Where to sample: the grid generators, one file per transform family.
//!
//! A [`Grid`] gives, for any run of output pixels of one row, the input pixel
//! coordinates `(u, v)` that `affine_grid` (or its projective and
//! thin-plate-spline counterparts) followed by `grid_sample`'s
//! unnormalisation would compute. The samplers (the scalar spec and the SIMD
//! kernels) take those coordinates and only fetch taps and interpolate, so
//! every family gets every sampler:
//!
//! - [`affine`]: affine and attention thetas;
//! - [`projective`]: homographies (NaN where the point is behind the camera);
//! - [`tps`]: thin-plate splines.
//!
//! No H×W×2 grid is ever built: coordinates are produced per tile of a row.

pub mod affine;
mod lanes;
pub mod projective;
pub mod tps;

use crate::affine::{Affine, Size};
use crate::transform::Transform;

pub use affine::AffineGrid;
pub use projective::{ProjRow, ProjectiveGrid};
pub use tps::TpsGrid;

/// Output pixel → input pixel coordinates, for one family of transforms.
pub trait Grid: Sync {
    /// Fills `u[k]`, `v[k]` with the input pixel coordinates (pixel centres at
    /// integers) of output pixel `(j0 + k, i)`, for every `k < u.len()`
    /// (`v.len() == u.len()`). NaN means "no sample": the output pixel is 0
    /// in every channel, whatever the padding.
    fn fill(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]);

    /// The columns `[a, b)` of `0..n` of output row `i` whose points lie in
    /// `bounds`, exactly as [`Grid::fill`] computes them, if the family can
    /// tell without visiting every point (affine rows are monotone).
    fn span(&self, _i: usize, _n: usize, _bounds: &Bounds) -> Option<(usize, usize)> {
        None
    }

    /// The pixel homography (output pixel → input pixel), if the grid is
    /// projective: the SIMD kernels then make its points in registers
    /// ([`projective::ProjRow`]).
    fn as_projective(&self) -> Option<&crate::transform::Homography> {
        None
    }

    /// The pixel-space map, if the grid is affine (lets the sampler use its
    /// whole-image pass for small outputs).
    fn as_affine(&self) -> Option<&Affine> {
        None
    }
}

/// The grid of `t` between images of these sizes, as `grid_sample` with this
/// `align_corners` would sample it.
pub fn build<'a>(
    t: &'a Transform,
    input: Size,
    output: Size,
    align_corners: bool,
) -> Box<dyn Grid + 'a> {
    match t {
        Transform::Affine(theta) => Box::new(AffineGrid::new(theta, input, output, align_corners)),
        Transform::Projective(h) => match h.as_affine() {
            // A third row (0, 0, 1) is exactly the affine theta: same bytes.
            Some(theta) => Box::new(AffineGrid::new(&theta, input, output, align_corners)),
            None => Box::new(ProjectiveGrid::new(h, input, output, align_corners)),
        },
        Transform::Tps(tps) => Box::new(TpsGrid::new(tps, input, output, align_corners)),
    }
}

/// The sampling coordinates along one output row.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Input column coordinate of output column 0.
    pub u0: f64,
    /// Input row coordinate of output column 0.
    pub v0: f64,
    /// Change of `u` per output column.
    pub du: f64,
    /// Change of `v` per output column.
    pub dv: f64,
}

/// A half-open box `[u_lo, u_hi) × [v_lo, v_hi)` in input pixel coordinates.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Least `u` inside.
    pub u_lo: f64,
    /// Least `u` beyond.
    pub u_hi: f64,
    /// Least `v` inside.
    pub v_lo: f64,
    /// Least `v` beyond.
    pub v_hi: f64,
}

impl Bounds {
    /// Whether `(u, v)` lies in the box (false for NaN).
    #[inline(always)]
    pub fn contains(&self, u: f64, v: f64) -> bool {
        self.u_lo <= u && u < self.u_hi && self.v_lo <= v && v < self.v_hi
    }
}

impl Row {
    /// Row `i` of the sampling map `map` (output pixel → input pixel).
    pub fn new(map: &Affine, i: usize) -> Row {
        let [a, b, c, d, e, f] = map.0;
        let y = i as f64;
        Row {
            u0: b * y + c,
            v0: e * y + f,
            du: a,
            dv: d,
        }
    }

    /// The sampling point of output column `j`. Every user of a row computes
    /// coordinates with this one expression, so span tests and samplers agree
    /// to the last bit.
    #[inline(always)]
    pub fn at(&self, j: usize) -> (f64, f64) {
        let x = j as f64;
        (self.u0 + x * self.du, self.v0 + x * self.dv)
    }

    /// The columns `[a, b)` of `0..n` whose sampling point lies in `bounds`.
    ///
    /// `u` and `v` are monotone in `j`, so those columns form one interval. It
    /// is estimated by solving the linear inequalities, widened, and then trimmed
    /// with the exact test [`Bounds::contains`] on [`Row::at`], so the result is
    /// exact whenever the estimate is within two columns, and is always a subset.
    pub fn span(&self, n: usize, bounds: &Bounds) -> (usize, usize) {
        let (ua, ub) = solve(self.u0, self.du, bounds.u_lo, bounds.u_hi);
        let (va, vb) = solve(self.v0, self.dv, bounds.v_lo, bounds.v_hi);
        let lo = ua.max(va) - 2.0;
        let hi = ub.min(vb) + 2.0;
        if lo.is_nan() || hi.is_nan() || hi <= lo {
            return (0, 0);
        }
        let n_f = n as f64;
        let mut a = lo.clamp(0.0, n_f) as usize;
        let mut b = hi.clamp(0.0, n_f) as usize;
        while a < b && !self.inside(a, bounds) {
            a += 1;
        }
        while b > a && !self.inside(b - 1, bounds) {
            b -= 1;
        }
        (a, b)
    }

    #[inline(always)]
    fn inside(&self, j: usize, bounds: &Bounds) -> bool {
        let (u, v) = self.at(j);
        bounds.contains(u, v)
    }
}

/// The real interval of `x` with `lo <= p0 + x·dp < hi`, approximately.
fn solve(p0: f64, dp: f64, lo: f64, hi: f64) -> (f64, f64) {
    if dp == 0.0 {
        if lo <= p0 && p0 < hi {
            (f64::NEG_INFINITY, f64::INFINITY)
        } else {
            (f64::INFINITY, f64::NEG_INFINITY)
        }
    } else {
        let a = (lo - p0) / dp;
        let b = (hi - p0) / dp;
        if dp > 0.0 {
            (a, b)
        } else {
            (b, a)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(row: &Row, n: usize, b: &Bounds) -> Vec<usize> {
        (0..n)
            .filter(|&j| {
                let (u, v) = row.at(j);
                b.contains(u, v)
            })
            .collect()
    }

    #[test]
    fn span_equals_brute_force() {
        let bounds = Bounds {
            u_lo: 0.0,
            u_hi: 9.0,
            v_lo: 0.0,
            v_hi: 6.0,
        };
        let steps = [-1.7, -0.3, 0.0, 1e-9, 0.25, 1.0, 3.3];
        for &du in &steps {
            for &dv in &steps {
                for &u0 in &[-20.0, -0.5, 0.0, 4.0, 8.999, 30.0] {
                    for &v0 in &[-3.0, 0.0, 2.5, 5.9999, 6.0] {
                        let row = Row { u0, v0, du, dv };
                        let want = brute(&row, 40, &bounds);
                        let (a, b) = row.span(40, &bounds);
                        let got: Vec<usize> = (a..b).collect();
                        assert_eq!(got, want, "{row:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn span_of_nan_row_is_empty() {
        let row = Row {
            u0: f64::NAN,
            v0: 0.0,
            du: 1.0,
            dv: 0.0,
        };
        let b = Bounds {
            u_lo: 0.0,
            u_hi: 5.0,
            v_lo: 0.0,
            v_hi: 5.0,
        };
        let (a, z) = row.span(10, &b);
        assert_eq!(a, z, "empty");
    }
}
