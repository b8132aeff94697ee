//! The thin-plate-spline family: [`Tps`] evaluated at every output pixel.
//!
//! Output pixel `(j, i)` → its normalised point on the base grid (the
//! spline's own convention, else `align_corners`) → `f(x, y)` in f64 →
//! `grid_sample`'s unnormalisation into input pixels.

use super::Grid;
use crate::affine::{Affine, Size};
use crate::transform::Tps;

/// The grid of a thin-plate spline.
#[derive(Clone, Debug)]
pub struct TpsGrid<'a> {
    tps: &'a Tps,
    /// Output pixel → output normalised (diagonal).
    base: Affine,
    /// Input normalised → input pixel (diagonal).
    to_px: Affine,
}

impl<'a> TpsGrid<'a> {
    /// The grid of `tps` between images of these sizes.
    pub fn new(tps: &'a Tps, input: Size, output: Size, align_corners: bool) -> Self {
        TpsGrid {
            tps,
            base: Affine::pixel_to_norm(output, tps.grid().unwrap_or(align_corners)),
            to_px: Affine::norm_to_pixel(input, align_corners),
        }
    }
}

impl Grid for TpsGrid<'_> {
    fn fill(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        let [sx, _, ox, _, sy, oy] = self.base.0;
        let [px, _, qx, _, py, qy] = self.to_px.0;
        let y = sy * i as f64 + oy;
        let [ax, ay] = *self.tps.affine_part();
        let [wx, wy] = self.tps.weights();
        let target = self.tps.target();
        let eps = self.tps.eps();
        let (rx, ry) = (ax[0] + ax[2] * y, ay[0] + ay[2] * y);
        for (k, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
            let x = sx * (j0 + k) as f64 + ox;
            let (mut fx, mut fy) = (rx + ax[1] * x, ry + ay[1] * x);
            for (c, (wx, wy)) in target.iter().zip(wx.iter().zip(wy)) {
                let (dx, dy) = (x - c[0], y - c[1]);
                let r = crate::transform::radial(dx * dx + dy * dy, eps);
                fx += wx * r;
                fy += wy * r;
            }
            (*u, *v) = (px * fx + qx, py * fy + qy);
        }
    }
}
