//! The affine family (and attention, its special case): `affine_grid`'s grid.
//!
//! `affine_grid` followed by `grid_sample`'s unnormalisation is an affine map
//! from output pixel `(j, i)` to input pixel coordinates `(u, v)`
//! ([`Affine::sampling_map`]). Along output row `i` it is `u = u0 + j·du`,
//! `v = v0 + j·dv` ([`Row`]): no grid buffer is needed.

use super::{lanes, Bounds, Grid, Row};
use crate::affine::{Affine, Size};

/// The grid of a theta.
#[derive(Clone, Copy, Debug)]
pub struct AffineGrid {
    /// Output pixel → input pixel.
    pub map: Affine,
}

impl AffineGrid {
    /// The grid of `theta` between images of these sizes.
    pub fn new(theta: &Affine, input: Size, output: Size, align_corners: bool) -> Self {
        AffineGrid {
            map: theta.sampling_map(input, output, align_corners),
        }
    }
}

impl Grid for AffineGrid {
    #[inline]
    fn fill(&self, i: usize, j0: usize, u: &mut [f64], v: &mut [f64]) {
        let row = Row::new(&self.map, i);
        // The operations of Row::at, vectorised.
        lanes::run(j0, u, v, |x| (row.u0 + x * row.du, row.v0 + x * row.dv));
    }

    fn span(&self, i: usize, n: usize, bounds: &Bounds) -> Option<(usize, usize)> {
        Some(Row::new(&self.map, i).span(n, bounds))
    }

    fn as_affine(&self) -> Option<&Affine> {
        Some(&self.map)
    }
}
