//! The transform families of the STN paper, as maps from *output* normalised
//! coordinates to *input* normalised coordinates (PyTorch's direction, see
//! [`crate::affine`]):
//!
//! - **affine**: a 2×3 theta ([`Affine`]);
//! - **attention**: `[s, tx, ty]`, the theta `[s, 0, tx, 0, s, ty]`
//!   ([`Transform::attention`]);
//! - **projective**: a 3×3 [`Homography`] `H`,
//!   `x_in = (h11 x + h12 y + h13) / (h31 x + h32 y + h33)`, `y_in` likewise;
//!   where the denominator is ≤ 0 the point is behind the camera and the
//!   output pixel is 0 in every channel, whatever the padding;
//! - **thin-plate spline**: [`Tps`], K ≥ 3 target points `c_k` (output) and
//!   source points `s_k` (input), `f(p) = a0 + a1 x + a2 y + Σ w_k U(|p − c_k|)`
//!   with `U(r) = r² ln r`, interpolating `f(c_k) = s_k`.
//!
//! The grid generators that evaluate these maps per output pixel live in
//! [`crate::warp::grid`], one file per family.

use crate::affine::{Affine, Size};
use crate::error::Error;

/// A transform of any family, output normalised → input normalised.
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    /// A 2×3 theta (also the attention family, once expanded).
    Affine(Affine),
    /// A 3×3 homography.
    Projective(Homography),
    /// A thin-plate spline.
    Tps(Tps),
}

impl From<Affine> for Transform {
    fn from(a: Affine) -> Self {
        Transform::Affine(a)
    }
}

impl From<Homography> for Transform {
    fn from(h: Homography) -> Self {
        Transform::Projective(h)
    }
}

impl From<Tps> for Transform {
    fn from(t: Tps) -> Self {
        Transform::Tps(t)
    }
}

impl Transform {
    /// The attention transform `[s, tx, ty]`: theta `[s, 0, tx, 0, s, ty]`.
    pub fn attention(s: f64, tx: f64, ty: f64) -> Transform {
        Transform::Affine(Affine([s, 0.0, tx, 0.0, s, ty]))
    }

    /// The family's name, as in the model metadata (`stn.transform`).
    pub fn family(&self) -> &'static str {
        match self {
            Transform::Affine(_) => "affine",
            Transform::Projective(_) => "projective",
            Transform::Tps(_) => "tps",
        }
    }

    /// Maps one output normalised point to its input normalised point (the
    /// base-grid convention of a TPS does not matter here: the point is
    /// given in normalised coordinates). `None` for a projective point behind
    /// the camera.
    pub fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        match self {
            Transform::Affine(a) => Some(a.apply(x, y)),
            Transform::Projective(h) => h.apply(x, y),
            Transform::Tps(t) => Some(t.apply(x, y)),
        }
    }
}

/// Parses `n` numbers separated by commas and/or whitespace; non-finite
/// values are refused. `what` describes the expected form for the message.
pub(crate) fn parse_numbers(
    text: &str,
    origin: &str,
    n: usize,
    what: &str,
) -> Result<Vec<f64>, Error> {
    let err = |reason: String| Error::MatrixText {
        origin: origin.to_string(),
        text: text.to_string(),
        reason,
    };
    let parts: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != n {
        return Err(err(format!(
            "expected {n} numbers {what}, got {}",
            parts.len()
        )));
    }
    parts
        .iter()
        .map(|part| {
            let v: f64 = part
                .parse()
                .map_err(|_| err(format!("{part:?} is not a number")))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(err(format!("{part:?} is not a finite number")))
            }
        })
        .collect()
}

/// A 3×3 matrix `[h11, h12, h13, h21, h22, h23, h31, h32, h33]`, row-major,
/// acting on homogeneous column vectors `(x, y, 1)`.
///
/// As a transform it maps output normalised coordinates to input normalised
/// coordinates, like a theta; as a *pixel* homography (OpenCV's
/// `warpPerspective` `M`) it maps source pixels to destination pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// The identity.
    pub const IDENTITY: Homography = Homography([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);

    /// Parses nine numbers separated by commas and/or whitespace.
    pub fn parse(text: &str, origin: &str) -> Result<Homography, Error> {
        let v = parse_numbers(text, origin, 9, "h11,h12,h13,h21,h22,h23,h31,h32,h33")?;
        Ok(Homography(std::array::from_fn(|k| v[k])))
    }

    /// The affine map `[[a, b, c], [d, e, f], [0, 0, 1]]`.
    pub fn from_affine(a: &Affine) -> Homography {
        let [a, b, c, d, e, f] = a.0;
        Homography([a, b, c, d, e, f, 0.0, 0.0, 1.0])
    }

    /// The affine theta if the third row is exactly `0, 0, 1`.
    pub fn as_affine(&self) -> Option<Affine> {
        let h = self.0;
        (h[6] == 0.0 && h[7] == 0.0 && h[8] == 1.0)
            .then(|| Affine([h[0], h[1], h[2], h[3], h[4], h[5]]))
    }

    /// The point `(x, y)` mapped, or `None` where the denominator is ≤ 0 (or NaN).
    pub fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let h = self.0;
        let z = h[6] * x + h[7] * y + h[8];
        (z > 0.0).then(|| {
            (
                (h[0] * x + h[1] * y + h[2]) / z,
                (h[3] * x + h[4] * y + h[5]) / z,
            )
        })
    }

    /// `self · other`.
    pub fn compose(&self, other: &Homography) -> Homography {
        let (a, b) = (self.0, other.0);
        Homography(std::array::from_fn(|k| {
            let (r, c) = (k / 3, k % 3);
            a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c]
        }))
    }

    /// The determinant.
    pub fn det(&self) -> f64 {
        let h = self.0;
        h[0] * (h[4] * h[8] - h[5] * h[7]) - h[1] * (h[3] * h[8] - h[5] * h[6])
            + h[2] * (h[3] * h[7] - h[4] * h[6])
    }

    /// The inverse, failing if singular or not finite.
    pub fn invert(&self, origin: &str) -> Result<Homography, Error> {
        let h = self.0;
        let det = self.det();
        let scale = h.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !det.is_finite() || det.abs() <= 1e-12 * scale.powi(3) {
            return Err(Error::BadMatrix {
                origin: origin.to_string(),
                reason: format!("homography {h:?} is singular"),
            });
        }
        let adj = [
            h[4] * h[8] - h[5] * h[7],
            h[2] * h[7] - h[1] * h[8],
            h[1] * h[5] - h[2] * h[4],
            h[5] * h[6] - h[3] * h[8],
            h[0] * h[8] - h[2] * h[6],
            h[2] * h[3] - h[0] * h[5],
            h[3] * h[7] - h[4] * h[6],
            h[1] * h[6] - h[0] * h[7],
            h[0] * h[4] - h[1] * h[3],
        ];
        let inv = Homography(adj.map(|v| v / det));
        inv.check_finite(origin)?;
        Ok(inv)
    }

    /// Checks that every entry is finite.
    pub fn check_finite(&self, origin: &str) -> Result<(), Error> {
        if self.0.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::BadMatrix {
                origin: origin.to_string(),
                reason: format!("homography {:?} has a non-finite entry", self.0),
            })
        }
    }

    /// Checks that the homography can be used as a transform: finite, not
    /// singular, and in front of the camera (denominator > 0) at one corner
    /// at least of the output square `[-1, 1]²`.
    pub fn check_usable(&self, origin: &str) -> Result<(), Error> {
        self.check_finite(origin)?;
        self.invert(origin)?;
        let h = self.0;
        let visible = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
            .iter()
            .any(|&(x, y)| h[6] * x + h[7] * y + h[8] > 0.0);
        if visible {
            Ok(())
        } else {
            Err(Error::BadMatrix {
                origin: origin.to_string(),
                reason: format!(
                    "homography {h:?} has a denominator h31·x + h32·y + h33 ≤ 0 at all four output corners (the whole output is behind the camera)"
                ),
            })
        }
    }

    /// Converts OpenCV's `warpPerspective` matrix `M` (source pixel →
    /// destination pixel, pixel centres at integers, without
    /// `WARP_INVERSE_MAP`) into the normalised homography giving the same warp:
    /// `H = N_in · M⁻¹ · P_out`.
    pub fn from_pixel_matrix(
        m: &Homography,
        input: Size,
        output: Size,
        align_corners: bool,
        origin: &str,
    ) -> Result<Homography, Error> {
        m.check_finite(origin)?;
        let inverse = m.invert(origin)?;
        Ok(Self::from_pixel_map(&inverse, input, output, align_corners))
    }

    /// The normalised homography of a pixel map `G` (output pixel → input
    /// pixel): `H = N_in · G · P_out`.
    pub fn from_pixel_map(g: &Homography, input: Size, output: Size, align_corners: bool) -> Self {
        let p_out =
            Homography::from_affine(&Affine::norm_to_pixel_invertible(output, align_corners));
        let n_in = Homography::from_affine(&Affine::pixel_to_norm(input, align_corners));
        n_in.compose(g).compose(&p_out)
    }

    /// The pixel map `G` (output pixel → input pixel) of this normalised
    /// homography: `G = N_in⁻¹ · H · P_out⁻¹`.
    pub fn pixel_map(&self, input: Size, output: Size, align_corners: bool) -> Homography {
        let to_norm = Homography::from_affine(&Affine::pixel_to_norm(output, align_corners));
        let to_px =
            Homography::from_affine(&Affine::norm_to_pixel_invertible(input, align_corners));
        to_px.compose(self).compose(&to_norm)
    }

    /// The normalised homography of the document-scanner recipe: the output's
    /// top-left, top-right, bottom-right and bottom-left pixel centres sample
    /// the input pixel positions `corners` (`x1, y1, …, x4, y4`, pixel centres
    /// at integers), i.e. `getPerspectiveTransform(corners, [[0,0], [W-1,0],
    /// [W-1,H-1], [0,H-1]])` followed by `warpPerspective`, computed exactly.
    pub fn from_corners(
        corners: &[f64; 8],
        input: Size,
        output: Size,
        align_corners: bool,
        origin: &str,
    ) -> Result<Homography, Error> {
        let (w, h) = (
            f64::from(output.width) - 1.0,
            f64::from(output.height) - 1.0,
        );
        let dst = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
        let src: [(f64, f64); 4] = std::array::from_fn(|k| (corners[2 * k], corners[2 * k + 1]));
        let bad = |reason: String| Error::BadMatrix {
            origin: origin.to_string(),
            reason,
        };
        if corners.iter().any(|v| !v.is_finite()) {
            return Err(bad(format!("corners {corners:?} have a non-finite value")));
        }
        if output.width < 2 || output.height < 2 {
            return Err(bad(format!(
                "the output size {output} needs at least 2 pixels on each side for --corners"
            )));
        }
        let g = quad_to_quad(&dst, &src)
            .ok_or_else(|| bad(format!("corners {corners:?}: three of them lie on a line")))?;
        let hom = Homography::from_pixel_map(&g, input, output, align_corners);
        hom.check_usable(origin)?;
        Ok(hom)
    }
}

/// The homography mapping the four points `from` onto `to`, by solving the
/// 8×8 system with `h33 = 1` in f64 (Gaussian elimination with partial
/// pivoting); `None` if degenerate.
pub fn quad_to_quad(from: &[(f64, f64); 4], to: &[(f64, f64); 4]) -> Option<Homography> {
    let mut a = vec![vec![0.0f64; 9]; 8];
    for k in 0..4 {
        let ((x, y), (u, v)) = (from[k], to[k]);
        a[2 * k] = vec![x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * k + 1] = vec![0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    let sol = solve(a, 8, 1)?;
    let h = [
        sol[0][0], sol[1][0], sol[2][0], sol[3][0], sol[4][0], sol[5][0], sol[6][0], sol[7][0], 1.0,
    ];
    let hom = Homography(h);
    (hom.0.iter().all(|v| v.is_finite()) && hom.det().abs() > 1e-300).then_some(hom)
}

/// Solves `A·X = B` for an `n×n` system given as `n` rows of `n + m`
/// values (`A` then `B`'s `m` columns), by Gaussian elimination with partial
/// pivoting; `None` if a pivot is below `1e-12` of the largest entry of `A`.
pub(crate) fn solve(mut a: Vec<Vec<f64>>, n: usize, m: usize) -> Option<Vec<Vec<f64>>> {
    let scale = a
        .iter()
        .flat_map(|r| r[..n].iter())
        .fold(0.0f64, |s, v| s.max(v.abs()));
    if !(scale.is_finite() && scale > 0.0) {
        return None;
    }
    for col in 0..n {
        let p = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[p][col].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(col, p);
        let pivot = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot[col];
                if f != 0.0 {
                    for (x, p) in row[col..n + m].iter_mut().zip(&pivot[col..n + m]) {
                        *x -= f * p;
                    }
                }
            }
        }
    }
    Some(
        (0..n)
            .map(|r| (0..m).map(|c| a[r][n + c] / a[r][r]).collect())
            .collect(),
    )
}

/// A thin-plate spline from output to input normalised coordinates.
///
/// `f(p) = a0 + a1 x + a2 y + Σ w_k U(|p − c_k|)` per coordinate, with
/// `U(r) = r² ln r` (`U(0) = 0`) and the side conditions `Σ w_k = 0`,
/// `Σ w_k c_k = 0`, interpolating `f(c_k) = s_k`; the (K+3)×(K+3) system is
/// solved once, in f64, by [`Tps::new`].
///
/// Two conventions of exported models are part of the transform, since they
/// change where pixels are sampled:
/// - `eps`: at the grid points the radial term is `r² ln(r + eps)`
///   (clovaai's `TPS_SpatialTransformerNetwork` uses `1e-6`; the system
///   itself always uses the exact `U`);
/// - `grid`: the output base grid, `Some(false)` on pixel centres
///   (`(2j+1)/W − 1`, `affine_grid` with `align_corners=False`), `Some(true)`
///   on the corner pixels (`2j/(W−1) − 1`); `None` follows the sampling's
///   `align_corners`, as for the other families.
#[derive(Clone, Debug, PartialEq)]
pub struct Tps {
    target: Vec<[f64; 2]>,
    source: Vec<[f64; 2]>,
    eps: f64,
    grid: Option<bool>,
    /// `w_k` for x and y, K each.
    w: [Vec<f64>; 2],
    /// `(a0, a1, a2)` for x and y.
    a: [[f64; 3]; 2],
}

impl Tps {
    /// Solves the spline through `target[k] ↦ source[k]`.
    ///
    /// Fails (naming `origin`) for fewer than 3 points, counts that differ,
    /// non-finite values, duplicate target points, all-collinear target
    /// points, or a system too ill-conditioned to solve.
    pub fn new(
        target: Vec<[f64; 2]>,
        source: Vec<[f64; 2]>,
        eps: f64,
        grid: Option<bool>,
        origin: &str,
    ) -> Result<Tps, Error> {
        let bad = |reason: String| Error::BadMatrix {
            origin: origin.to_string(),
            reason,
        };
        let k = target.len();
        if source.len() != k {
            return Err(bad(format!(
                "thin-plate spline has {k} target points but {} source points",
                source.len()
            )));
        }
        if k < 3 {
            return Err(bad(format!(
                "thin-plate spline needs at least 3 points, got {k}"
            )));
        }
        if target
            .iter()
            .chain(&source)
            .flatten()
            .any(|v| !v.is_finite())
            || !eps.is_finite()
            || eps < 0.0
        {
            return Err(bad(
                "thin-plate spline has a non-finite point (or a negative eps)".into(),
            ));
        }
        for i in 0..k {
            for j in 0..i {
                if target[i] == target[j] {
                    return Err(bad(format!(
                        "thin-plate spline target points {j} and {i} are both {:?}",
                        target[i]
                    )));
                }
            }
        }
        let extent = target
            .iter()
            .flatten()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1e-300);
        let collinear = (1..k).all(|j| {
            (1..k).all(|l| {
                let (p, q, r) = (target[0], target[j], target[l]);
                let cross = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
                cross.abs() <= 1e-12 * extent * extent
            })
        });
        if collinear {
            return Err(bad(
                "thin-plate spline target points all lie on one line".into()
            ));
        }
        let n = k + 3;
        let mut rows = vec![vec![0.0f64; n + 2]; n];
        for i in 0..k {
            for j in 0..k {
                let (dx, dy) = (target[i][0] - target[j][0], target[i][1] - target[j][1]);
                rows[i][j] = u_exact(dx * dx + dy * dy);
            }
            rows[i][k] = 1.0;
            rows[i][k + 1] = target[i][0];
            rows[i][k + 2] = target[i][1];
            rows[k][i] = 1.0;
            rows[k + 1][i] = target[i][0];
            rows[k + 2][i] = target[i][1];
            rows[i][n] = source[i][0];
            rows[i][n + 1] = source[i][1];
        }
        let sol =
            solve(rows, n, 2).ok_or_else(|| bad("thin-plate spline system is singular".into()))?;
        let w = [
            (0..k).map(|i| sol[i][0]).collect(),
            (0..k).map(|i| sol[i][1]).collect(),
        ];
        let a = [
            [sol[k][0], sol[k + 1][0], sol[k + 2][0]],
            [sol[k][1], sol[k + 1][1], sol[k + 2][1]],
        ];
        let tps = Tps {
            target,
            source,
            eps,
            grid,
            w,
            a,
        };
        if tps
            .w
            .iter()
            .flatten()
            .chain(tps.a.iter().flatten())
            .any(|v| !v.is_finite())
        {
            return Err(bad("thin-plate spline system is singular".into()));
        }
        Ok(tps)
    }

    /// The target (output) points.
    pub fn target(&self) -> &[[f64; 2]] {
        &self.target
    }

    /// The source (input) points.
    pub fn source(&self) -> &[[f64; 2]] {
        &self.source
    }

    /// The `eps` inside the logarithm at grid points (0: the exact `U`).
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The base-grid convention (see the type's documentation).
    pub fn grid(&self) -> Option<bool> {
        self.grid
    }

    /// The radial weights `w_k` of x and y.
    pub fn weights(&self) -> &[Vec<f64>; 2] {
        &self.w
    }

    /// The affine parts `(a0, a1, a2)` of x and y.
    pub fn affine_part(&self) -> &[[f64; 3]; 2] {
        &self.a
    }

    /// The radial term at squared distance `r2`, with this spline's `eps`.
    #[inline(always)]
    pub fn radial(&self, r2: f64) -> f64 {
        radial(r2, self.eps)
    }

    /// `f(x, y)`, computed as the grid generator does.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [ax, ay] = self.a;
        let (mut fx, mut fy) = (ax[0] + ax[1] * x + ax[2] * y, ay[0] + ay[1] * x + ay[2] * y);
        for (k, c) in self.target.iter().enumerate() {
            let (dx, dy) = (x - c[0], y - c[1]);
            let u = self.radial(dx * dx + dy * dy);
            fx += self.w[0][k] * u;
            fy += self.w[1][k] * u;
        }
        (fx, fy)
    }
}

/// `U = r² ln r` from `r2 = r²`, with `U(0) = 0`.
#[inline(always)]
fn u_exact(r2: f64) -> f64 {
    if r2 > 0.0 {
        0.5 * r2 * r2.ln()
    } else {
        0.0
    }
}

/// The radial term at grid points: `r² ln r`, or `r² ln(r + eps)` if `eps > 0`.
#[inline(always)]
pub fn radial(r2: f64, eps: f64) -> f64 {
    if eps == 0.0 {
        u_exact(r2)
    } else {
        r2 * (r2.sqrt() + eps).ln()
    }
}

/// Named TPS target layouts, in output normalised coordinates.
///
/// - `rare:K` (K even, ≥ 4): two rows of K/2 points, `x = linspace(-1, 1)`,
///   the top row (`y = -1`) first, then the bottom row (`y = +1`): RARE's and
///   clovaai's `TPS_SpatialTransformerNetwork` layout;
/// - `aster:K` (K even, ≥ 4): ASTER's, margins 0.05 in its `[0, 1]` frame,
///   i.e. `x = linspace(-0.9, 0.9)`, `y = -0.9` then `+0.9`.
pub fn named_layout(name: &str) -> Option<Vec<[f64; 2]>> {
    let (kind, k) = name.split_once(':')?;
    let k: usize = k.trim().parse().ok()?;
    if k < 4 || !k.is_multiple_of(2) {
        return None;
    }
    let half = k / 2;
    let (lo, hi) = match kind.trim() {
        "rare" => (-1.0, 1.0),
        "aster" => (-0.9, 0.9),
        _ => return None,
    };
    let xs: Vec<f64> = (0..half)
        .map(|i| lo + (hi - lo) * i as f64 / (half - 1) as f64)
        .collect();
    Some(
        xs.iter()
            .map(|&x| [x, lo])
            .chain(xs.iter().map(|&x| [x, hi]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tps_interpolates_its_points() {
        let target = named_layout("rare:20").unwrap();
        let source: Vec<[f64; 2]> = target
            .iter()
            .enumerate()
            .map(|(k, p)| {
                [
                    p[0] * 0.9 + 0.01 * k as f64,
                    p[1] * 0.8 - 0.02 * (k % 3) as f64,
                ]
            })
            .collect();
        let t = Tps::new(target.clone(), source.clone(), 0.0, None, "test").unwrap();
        for (c, s) in target.iter().zip(&source) {
            let (x, y) = t.apply(c[0], c[1]);
            assert!((x - s[0]).abs() < 1e-12 && (y - s[1]).abs() < 1e-12);
        }
        // Side conditions.
        for w in t.weights() {
            assert!(w.iter().sum::<f64>().abs() < 1e-12);
        }
    }

    #[test]
    fn tps_through_three_points_is_affine() {
        let target = vec![[-0.5, -0.5], [0.7, -0.2], [0.1, 0.8]];
        let theta = Affine([0.9, 0.1, 0.05, -0.2, 1.1, -0.1]);
        let source = target
            .iter()
            .map(|p| {
                let (x, y) = theta.apply(p[0], p[1]);
                [x, y]
            })
            .collect();
        let t = Tps::new(target, source, 0.0, None, "t").unwrap();
        for w in t.weights().iter().flatten() {
            assert!(w.abs() < 1e-12);
        }
        let (x, y) = t.apply(0.3, -0.9);
        let (ex, ey) = theta.apply(0.3, -0.9);
        assert!((x - ex).abs() < 1e-12 && (y - ey).abs() < 1e-12);
    }

    #[test]
    fn tps_rejects_bad_points() {
        let p = |v: &[[f64; 2]]| v.to_vec();
        let ok = p(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]);
        assert!(Tps::new(p(&ok[..2]), p(&ok[..2]), 0.0, None, "t").is_err());
        assert!(Tps::new(ok.clone(), p(&ok[..2]), 0.0, None, "t").is_err());
        let dup = p(&[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]);
        let e = Tps::new(dup.clone(), dup, 0.0, None, "t").unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        let line = p(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [-1.0, -1.0]]);
        let e = Tps::new(line.clone(), line, 0.0, None, "t").unwrap_err();
        assert!(e.to_string().contains("line"), "{e}");
        let nan = p(&[[0.0, 0.0], [1.0, f64::NAN], [0.0, 1.0]]);
        assert!(Tps::new(nan.clone(), ok, 0.0, None, "t").is_err());
    }

    #[test]
    fn layouts() {
        let r = named_layout("rare:4").unwrap();
        assert_eq!(r, vec![[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]);
        assert_eq!(named_layout("rare:20").unwrap().len(), 20);
        assert!(named_layout("rare:5").is_none());
        assert!(named_layout("bogus:4").is_none());
        let a = named_layout("aster:4").unwrap();
        assert_eq!(a[0], [-0.9, -0.9]);
    }

    #[test]
    fn homography_inverse_and_pixel_maps_round_trip() {
        let h = Homography([1.1, 0.1, 0.05, -0.05, 0.9, 0.02, 0.1, -0.2, 1.0]);
        let i = h.invert("t").unwrap();
        let e = h.compose(&i);
        for (k, v) in e.0.iter().enumerate() {
            let want = if k % 4 == 0 { 1.0 } else { 0.0 };
            assert!((v - want).abs() < 1e-12);
        }
        let (inp, out) = (Size::new(40, 30), Size::new(20, 25));
        for ac in [false, true] {
            let g = h.pixel_map(inp, out, ac);
            let back = Homography::from_pixel_map(&g, inp, out, ac);
            for (a, b) in back.0.iter().zip(&h.0) {
                assert!((a - b).abs() < 1e-12, "{back:?}");
            }
        }
    }

    #[test]
    fn corners_land_where_asked() {
        let c = [10.0, 5.0, 90.0, 12.0, 85.0, 70.0, 3.0, 60.0];
        let (inp, out) = (Size::new(100, 80), Size::new(50, 40));
        for ac in [false, true] {
            let h = Homography::from_corners(&c, inp, out, ac, "t").unwrap();
            let g = h.pixel_map(inp, out, ac);
            let pts = [(0.0, 0.0), (49.0, 0.0), (49.0, 39.0), (0.0, 39.0)];
            for (k, &(x, y)) in pts.iter().enumerate() {
                let z = g.0[6] * x + g.0[7] * y + g.0[8];
                let u = (g.0[0] * x + g.0[1] * y + g.0[2]) / z;
                let v = (g.0[3] * x + g.0[4] * y + g.0[5]) / z;
                assert!((u - c[2 * k]).abs() < 1e-9 && (v - c[2 * k + 1]).abs() < 1e-9);
            }
        }
        let line = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
        assert!(Homography::from_corners(&line, inp, out, false, "t").is_err());
    }

    #[test]
    fn behind_the_camera_everywhere_is_refused() {
        let h = Homography([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        assert!(h.check_usable("t").is_err());
        let s = Homography([1.0, 2.0, 0.0, 2.0, 4.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(s.check_usable("t").is_err());
        assert!(Homography::IDENTITY.check_usable("t").is_ok());
    }
}
