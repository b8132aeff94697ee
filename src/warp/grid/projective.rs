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

impl Grid for ProjectiveGrid {
    #[inline]
    fn fill(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        let g = self.map.0;
        let y = i as f64;
        let (nu, nv, nz) = (g[1] * y + g[2], g[4] * y + g[5], g[7] * y + g[8]);
        // One division per point: u = nu·(1/z), v = nv·(1/z).
        lanes::run(j0, u, v, |x| {
            let z = g[6] * x + nz;
            let r = 1.0 / z;
            let (pu, pv) = ((g[0] * x + nu) * r, (g[3] * x + nv) * r);
            if z > 0.0 {
                (pu, pv)
            } else {
                (f64::NAN, f64::NAN)
            }
        });
    }
}
