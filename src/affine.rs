//! 2×3 affine matrices: parsing, inversion, composition, and the exact conversion
//! between PyTorch's normalised `theta` and OpenCV's pixel-space matrix.
//!
//! # Conventions
//!
//! An [`Affine`] `[a, b, c, d, e, f]` is the row-major matrix
//! `[[a, b, c], [d, e, f]]` acting on column vectors `(x, y, 1)`.
//!
//! A **theta** is an `Affine` in PyTorch's `affine_grid` convention: it maps
//! *output* normalised coordinates (each axis in `[-1, 1]`) to *input* normalised
//! coordinates. With `align_corners = false` the extreme values -1 and 1 are the
//! outer edges of the edge pixels; with `align_corners = true` they are the
//! centres of the edge pixels.
//!
//! A **pixel matrix** is an `Affine` in OpenCV's `warpAffine` convention (without
//! `WARP_INVERSE_MAP`): it maps *source* pixel coordinates to *destination* pixel
//! coordinates, with pixel centres at integer coordinates.

use crate::error::Error;

/// A 2×3 affine matrix `[a, b, c, d, e, f]` = `[[a, b, c], [d, e, f]]`, row-major.
///
/// Its direction and units depend on use; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine(pub [f64; 6]);

/// Width and height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Size {
    /// A size of `width` × `height` pixels.
    pub const fn new(width: u32, height: u32) -> Self {
        Size { width, height }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl std::str::FromStr for Size {
    type Err = String;

    /// Parses `WxH` (also `W×H`), both positive integers.
    fn from_str(s: &str) -> Result<Self, String> {
        let (w, h) = s
            .split_once(['x', 'X', '×'])
            .ok_or_else(|| format!("expected WIDTHxHEIGHT, e.g. 640x480, got {s:?}"))?;
        let parse = |t: &str, what: &str| -> Result<u32, String> {
            let v: u32 = t
                .trim()
                .parse()
                .map_err(|_| format!("{what} {t:?} is not a whole number"))?;
            if v == 0 {
                return Err(format!("{what} must be at least 1"));
            }
            Ok(v)
        };
        Ok(Size::new(parse(w, "width")?, parse(h, "height")?))
    }
}

impl Affine {
    /// The identity map.
    pub const IDENTITY: Affine = Affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);

    /// Parses six numbers separated by commas and/or whitespace, e.g. `1,0,0,0,1,0`.
    ///
    /// `origin` names where the text came from, for the error message.
    /// Non-finite values (`nan`, `inf`) are refused.
    pub fn parse(text: &str, origin: &str) -> Result<Affine, Error> {
        let v = crate::transform::parse_numbers(text, origin, 6, "a,b,c,d,e,f")?;
        Ok(Affine(std::array::from_fn(|k| v[k])))
    }

    /// Checks that every entry is finite; `origin` names the matrix in the error.
    pub fn check_finite(&self, origin: &str) -> Result<(), Error> {
        if self.0.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::BadMatrix {
                origin: origin.to_string(),
                reason: format!("matrix {:?} has a non-finite entry", self.0),
            })
        }
    }

    /// Applies the map to the point `(x, y)`.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + b * y + c, d * x + e * y + f)
    }

    /// The determinant of the linear part, `a·e − b·d`.
    pub fn det(&self) -> f64 {
        let [a, b, _, d, e, _] = self.0;
        a * e - b * d
    }

    /// `self ∘ other`: the map that applies `other` first, then `self`.
    pub fn compose(&self, other: &Affine) -> Affine {
        let [a, b, c, d, e, f] = self.0;
        let [p, q, r, s, t, u] = other.0;
        Affine([
            a * p + b * s,
            a * q + b * t,
            a * r + b * u + c,
            d * p + e * s,
            d * q + e * t,
            d * r + e * u + f,
        ])
    }

    /// The inverse map, or an error naming `origin` if the matrix is singular
    /// (or so close to singular that its inverse is not finite).
    pub fn invert(&self, origin: &str) -> Result<Affine, Error> {
        self.check_finite(origin)?;
        let [a, b, c, d, e, f] = self.0;
        let det = self.det();
        // Relative test: scale-free, so that tiny but regular matrices pass.
        let scale = (a.abs() + b.abs()) * (d.abs() + e.abs());
        if det == 0.0 || det.abs() <= 1e-14 * scale {
            return Err(Error::BadMatrix {
                origin: origin.to_string(),
                reason: format!(
                    "matrix {:?} is singular (determinant {det:e}); it has no inverse",
                    self.0
                ),
            });
        }
        let inv = Affine([
            e / det,
            -b / det,
            (b * f - c * e) / det,
            -d / det,
            a / det,
            (c * d - a * f) / det,
        ]);
        if inv.0.iter().all(|v| v.is_finite()) {
            Ok(inv)
        } else {
            Err(Error::BadMatrix {
                origin: origin.to_string(),
                reason: format!("matrix {:?} is too close to singular to invert", self.0),
            })
        }
    }

    /// The pixel-space sampling map for a theta: output pixel `(j, i)` (column,
    /// row; centres at integers) → input pixel coordinates `(u, v)`, exactly as
    /// `affine_grid` followed by `grid_sample`'s unnormalisation computes them.
    pub fn sampling_map(&self, input: Size, output: Size, align_corners: bool) -> Affine {
        let to_norm = axes(output, align_corners, Axis::pixel_to_norm);
        let to_px = axes(input, align_corners, Axis::norm_to_pixel);
        to_px.compose(self).compose(&to_norm)
    }

    /// Output pixel → output normalised coordinates, `affine_grid`'s base grid
    /// (a one-pixel `align_corners` axis uses scale 1, so it stays invertible).
    pub fn pixel_to_norm(size: Size, align_corners: bool) -> Affine {
        axes(size, align_corners, Axis::pixel_to_norm)
    }

    /// Normalised → pixel coordinates as `grid_sample` unnormalises them.
    pub fn norm_to_pixel(size: Size, align_corners: bool) -> Affine {
        axes(size, align_corners, Axis::norm_to_pixel)
    }

    /// The inverse of [`Affine::pixel_to_norm`].
    pub fn norm_to_pixel_invertible(size: Size, align_corners: bool) -> Affine {
        axes(size, align_corners, Axis::norm_to_pixel_invertible)
    }

    /// Converts an OpenCV pixel matrix (source pixel → destination pixel) into
    /// the theta that gives the same warp, for the given input and output sizes.
    ///
    /// Fails if the pixel matrix is singular or not finite.
    pub fn theta_from_pixel_matrix(
        m: &Affine,
        input: Size,
        output: Size,
        align_corners: bool,
        origin: &str,
    ) -> Result<Affine, Error> {
        let inverse = m.invert(origin)?;
        let out_to_px = axes(output, align_corners, Axis::norm_to_pixel_invertible);
        let in_to_norm = axes(input, align_corners, Axis::pixel_to_norm);
        Ok(in_to_norm.compose(&inverse).compose(&out_to_px))
    }

    /// Converts a theta into the OpenCV pixel matrix (source pixel → destination
    /// pixel) giving the same warp; the inverse of [`Affine::theta_from_pixel_matrix`].
    ///
    /// Fails if the theta is singular or not finite.
    pub fn pixel_matrix_from_theta(
        theta: &Affine,
        input: Size,
        output: Size,
        align_corners: bool,
        origin: &str,
    ) -> Result<Affine, Error> {
        let out_to_norm = axes(output, align_corners, Axis::pixel_to_norm);
        let in_to_px = axes(input, align_corners, Axis::norm_to_pixel_invertible);
        in_to_px.compose(theta).compose(&out_to_norm).invert(origin)
    }
}

/// One axis' affine change of coordinates `x ↦ scale·x + offset`.
#[derive(Clone, Copy)]
struct Axis {
    scale: f64,
    offset: f64,
}

impl Axis {
    /// Pixel index → normalised coordinate, as `affine_grid`'s base grid.
    ///
    /// With `align_corners` and a one-pixel axis PyTorch uses the coordinate 0;
    /// any scale reproduces that at pixel 0, so 1 is used to stay invertible.
    fn pixel_to_norm(n: u32, align_corners: bool) -> Axis {
        let n = f64::from(n);
        if align_corners {
            if n <= 1.0 {
                Axis {
                    scale: 1.0,
                    offset: 0.0,
                }
            } else {
                Axis {
                    scale: 2.0 / (n - 1.0),
                    offset: -1.0,
                }
            }
        } else {
            Axis {
                scale: 2.0 / n,
                offset: 1.0 / n - 1.0,
            }
        }
    }

    /// Normalised coordinate → pixel coordinate, as `grid_sample`'s unnormalisation.
    /// With `align_corners` and a one-pixel axis every coordinate maps to 0.
    fn norm_to_pixel(n: u32, align_corners: bool) -> Axis {
        let n = f64::from(n);
        if align_corners {
            Axis {
                scale: (n - 1.0) / 2.0,
                offset: (n - 1.0) / 2.0,
            }
        } else {
            Axis {
                scale: n / 2.0,
                offset: (n - 1.0) / 2.0,
            }
        }
    }

    /// The inverse of [`Axis::pixel_to_norm`], used for matrix conversion, where
    /// the one-pixel `align_corners` axis must stay invertible.
    fn norm_to_pixel_invertible(n: u32, align_corners: bool) -> Axis {
        let p = Axis::pixel_to_norm(n, align_corners);
        Axis {
            scale: 1.0 / p.scale,
            offset: -p.offset / p.scale,
        }
    }
}

/// The diagonal affine map built from one axis change per dimension.
fn axes(size: Size, align_corners: bool, axis: fn(u32, bool) -> Axis) -> Affine {
    let x = axis(size.width, align_corners);
    let y = axis(size.height, align_corners);
    Affine([x.scale, 0.0, x.offset, 0.0, y.scale, y.offset])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &Affine, b: &Affine, tol: f64) -> bool {
        a.0.iter().zip(&b.0).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn parse_accepts_commas_and_spaces() {
        let m = Affine::parse("1, 0,-0.5  0 1 2e-1", "--theta").unwrap();
        assert_eq!(m.0, [1.0, 0.0, -0.5, 0.0, 1.0, 0.2]);
    }

    #[test]
    fn parse_rejects_wrong_count_nan_and_inf() {
        for bad in [
            "1,0,0,0,1",
            "1,0,0,0,1,0,0",
            "1,0,nan,0,1,0",
            "inf,0,0,0,1,0",
            "1,0,x,0,1,0",
        ] {
            let e = Affine::parse(bad, "--theta").unwrap_err().to_string();
            assert!(e.starts_with("--theta"), "{e}");
        }
    }

    #[test]
    fn invert_rejects_singular() {
        let e = Affine([1.0, 2.0, 0.0, 2.0, 4.0, 1.0])
            .invert("--matrix")
            .unwrap_err();
        assert!(e.to_string().contains("singular"), "{e}");
    }

    #[test]
    fn invert_composes_to_identity() {
        let m = Affine([0.9, -0.3, 5.0, 0.2, 1.1, -2.0]);
        let i = m.invert("m").unwrap();
        assert!(close(&m.compose(&i), &Affine::IDENTITY, 1e-12));
        assert!(close(&i.compose(&m), &Affine::IDENTITY, 1e-12));
    }

    #[test]
    fn identity_theta_samples_pixel_centres() {
        // Identity theta with equal sizes maps every pixel centre onto itself.
        for ac in [false, true] {
            let s = Size::new(7, 5);
            let map = Affine::IDENTITY.sampling_map(s, s, ac);
            assert!(close(&map, &Affine::IDENTITY, 1e-12), "{map:?}");
        }
    }

    #[test]
    fn unnormalisation_matches_pytorch_formula() {
        // align_corners=false: column j → x = (2j+1)/W_out − 1 → u = ((x+1)·W_in − 1)/2.
        let theta = Affine([0.8, 0.1, 0.05, -0.2, 1.3, -0.1]);
        let (wi, hi, wo, ho) = (13.0, 11.0, 9.0, 7.0);
        let map = theta.sampling_map(Size::new(13, 11), Size::new(9, 7), false);
        for (j, i) in [(0.0, 0.0), (8.0, 6.0), (3.0, 2.0)] {
            let xn = (2.0 * j + 1.0) / wo - 1.0;
            let yn = (2.0 * i + 1.0) / ho - 1.0;
            let (x, y) = theta.apply(xn, yn);
            let u = ((x + 1.0) * wi - 1.0) / 2.0;
            let v = ((y + 1.0) * hi - 1.0) / 2.0;
            let (mu, mv) = map.apply(j, i);
            assert!((u - mu).abs() < 1e-12 && (v - mv).abs() < 1e-12);
        }
    }

    #[test]
    fn size_parses() {
        assert_eq!("640x480".parse::<Size>().unwrap(), Size::new(640, 480));
        assert!("0x5".parse::<Size>().is_err());
        assert!("64".parse::<Size>().is_err());
    }
}
