//! The projective family: a homography `H` on normalised coordinates.
//!
//! Composed with the output's base grid and the input's unnormalisation it is
//! a pixel homography `G` (output pixel → input pixel, [`Homography::pixel_map`]):
//! along output row `i`, `u = (g11 j + (g12 i + g13)) · (1 / (g31 j + (g32 i + g33)))`,
//! `v` likewise (one division per point, vectorised). The denominator equals `H`'s at the point's normalised
//! coordinates (the base grid and unnormalisation are affine); where it is
//! ≤ 0 the point is behind the camera and the coordinates are NaN, which
//! every sampler turns into 0 in every channel, whatever the padding.

use super::{lanes, Grid};
use crate::affine::Size;
use crate::transform::Homography;

/// The grid of a homography.
#[derive(Clone, Copy, Debug)]
pub struct ProjectiveGrid {
    /// Output pixel → input pixel.
    pub map: Homography,
}

impl ProjectiveGrid {
    /// The grid of `h` between images of these sizes.
    pub fn new(h: &Homography, input: Size, output: Size, align_corners: bool) -> Self {
        ProjectiveGrid {
            map: h.pixel_map(input, output, align_corners),
        }
    }
}

/// One output row of a pixel homography: the point of column `x` is
/// [`ProjRow::at`]. The SIMD kernels make the same points in registers with
/// the same operations (`avx2.rs`, `avx512.rs`: `proj_points`).
#[derive(Clone, Copy, Debug)]
pub struct ProjRow {
    /// `g11`, and `g12·y + g13`: the numerator of `u` is `g0·x + nu`.
    pub g0: f64,
    /// See `g0`.
    pub nu: f64,
    /// `g21`, and `g22·y + g23`: the numerator of `v`.
    pub g3: f64,
    /// See `g3`.
    pub nv: f64,
    /// `g31`, and `g32·y + g33`: the denominator.
    pub g6: f64,
    /// See `g6`.
    pub nz: f64,
}

impl ProjRow {
    /// Row `i` of the pixel homography `g`.
    pub fn new(g: &Homography, i: usize) -> Self {
        let g = g.0;
        let y = i as f64;
        ProjRow {
            g0: g[0],
            nu: g[1] * y + g[2],
            g3: g[3],
            nv: g[4] * y + g[5],
            g6: g[6],
            nz: g[7] * y + g[8],
        }
    }

    /// The point of column `x`: one division, `u = (g0·x + nu) · (1/z)`,
    /// `v` likewise, NaN where `z = g6·x + nz` is not positive.
    #[inline(always)]
    pub fn at(&self, x: f64) -> (f64, f64) {
        let z = self.g6 * x + self.nz;
        let r = 1.0 / z;
        let (pu, pv) = ((self.g0 * x + self.nu) * r, (self.g3 * x + self.nv) * r);
        if z > 0.0 {
            (pu, pv)
        } else {
            (f64::NAN, f64::NAN)
        }
    }
}

impl Grid for ProjectiveGrid {
    #[inline]
    fn fill(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        let row = ProjRow::new(&self.map, i);
        lanes::run(j0, u, v, |x| row.at(x));
    }

    fn as_projective(&self) -> Option<&Homography> {
        Some(&self.map)
    }
}
