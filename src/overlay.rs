//! The sampled region drawn on the input: where in the input a theta reads
//! the output from, as a quadrilateral outline (`stn rectify --overlay`).
//!
//! [`region`] computes the quadrilateral with the same conventions as the
//! warp (see [`crate::affine`]); [`draw`] outlines it on a copy of the input.
//! The rasterisation is hand-written: each side colours the pixels whose
//! centres lie within half the line width of it, visiting only pixels near
//! the side's part inside the image, so corners far outside cost nothing.

use image::{DynamicImage, GenericImageView, Rgb, Rgba};

use crate::affine::{Affine, Size};
use crate::transform::Transform;

/// The outline colour.
const COLOUR: [u8; 3] = [255, 32, 32];

/// Slack when comparing squared distances with the squared half width, so a
/// side exactly on a pixel boundary colours the pixels either side alike.
const SLACK: f64 = 1e-9;

/// The quadrilateral of the input that an output of size `output` samples:
/// the images under `theta` of the output's four outer corners, in input pixel
/// coordinates (centres at integers: pixel (0, 0) covers [-0.5, 0.5]²), in the
/// order top-left, top-right, bottom-right, bottom-left.
///
/// With `align_corners == false` the output's outer corners are at normalised
/// ±1; with `true`, ±1 are the corner pixels' centres, so the outer edges are
/// at ±(1 + 1/(n − 1)) on an axis of n ≥ 2 pixels (±1 when n = 1). Input
/// normalised coordinates become pixels as `grid_sample` does:
/// x = ((xn + 1)·W − 1)/2, or x = (xn + 1)/2·(W − 1) with `align_corners`.
pub fn region(theta: &Affine, input: Size, output: Size, align_corners: bool) -> [(f64, f64); 4] {
    let (ex, ey) = (
        outer_edge(output.width, align_corners),
        outer_edge(output.height, align_corners),
    );
    [(-ex, -ey), (ex, -ey), (ex, ey), (-ex, ey)].map(|(x, y)| {
        let (u, v) = theta.apply(x, y);
        (
            to_pixel(u, input.width, align_corners),
            to_pixel(v, input.height, align_corners),
        )
    })
}

/// The normalised coordinate of the outer edge of an axis of `n` pixels.
fn outer_edge(n: u32, align_corners: bool) -> f64 {
    if align_corners && n >= 2 {
        1.0 + 1.0 / f64::from(n - 1)
    } else {
        1.0
    }
}

/// A normalised coordinate as a pixel coordinate, as `grid_sample` unnormalises.
fn to_pixel(xn: f64, n: u32, align_corners: bool) -> f64 {
    let n = f64::from(n);
    if align_corners {
        (xn + 1.0) / 2.0 * (n - 1.0)
    } else {
        ((xn + 1.0) * n - 1.0) / 2.0
    }
}

/// Points per side of the outline of a non-affine transform.
const OUTLINE_STEPS: usize = 48;

/// The image of the output's border under `transform`, in input pixel
/// coordinates, as a closed polyline: the quadrilateral of [`region`] for
/// affine transforms, the border sampled at 48 points per side
/// for the others (a homography's image of a side is straight, a thin-plate
/// spline's is curved). `None` marks a point behind a homography's camera,
/// where the line breaks.
pub fn outline(
    transform: &Transform,
    input: Size,
    output: Size,
    align_corners: bool,
) -> Vec<Option<(f64, f64)>> {
    if let Transform::Affine(theta) = transform {
        return region(theta, input, output, align_corners)
            .into_iter()
            .map(Some)
            .collect();
    }
    // The outer border in the base grid's normalised coordinates.
    let base_ac = match transform {
        Transform::Tps(t) => t.grid().unwrap_or(align_corners),
        _ => align_corners,
    };
    let (ex, ey) = (
        outer_edge(output.width, base_ac),
        outer_edge(output.height, base_ac),
    );
    let corners = [(-ex, -ey), (ex, -ey), (ex, ey), (-ex, ey)];
    let mut points = Vec::with_capacity(4 * OUTLINE_STEPS);
    for k in 0..4 {
        let (a, b) = (corners[k], corners[(k + 1) % 4]);
        for s in 0..OUTLINE_STEPS {
            let t = s as f64 / OUTLINE_STEPS as f64;
            let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            points.push(transform.apply(x, y).map(|(u, v)| {
                (
                    to_pixel(u, input.width, align_corners),
                    to_pixel(v, input.height, align_corners),
                )
            }));
        }
    }
    points
}

/// A copy of `img` with each closed polyline of `outlines` (pixel-centre
/// coordinates, as [`outline`] returns; a `None` point breaks the line)
/// outlined in opaque red, as [`draw`] does for one quadrilateral.
pub fn draw_outlines(img: &DynamicImage, outlines: &[Vec<Option<(f64, f64)>>]) -> DynamicImage {
    let (w, h) = img.dimensions();
    let half = f64::from((w.min(h) / 150).max(1)) / 2.0;
    let sides = |paint: &mut dyn FnMut(u32, u32)| {
        for line in outlines {
            let n = line.len();
            for i in 0..n {
                if let (Some(p), Some(q)) = (line[i], line[(i + 1) % n]) {
                    side(w, h, p, q, half, paint);
                }
            }
        }
    };
    if img.color().has_alpha() {
        let mut out = img.to_rgba8();
        let [r, g, b] = COLOUR;
        sides(&mut |x, y| out.put_pixel(x, y, Rgba([r, g, b, 255])));
        DynamicImage::ImageRgba8(out)
    } else {
        let mut out = img.to_rgb8();
        sides(&mut |x, y| out.put_pixel(x, y, Rgb(COLOUR)));
        DynamicImage::ImageRgb8(out)
    }
}

/// A copy of `img` with the closed quadrilateral `corners` (pixel-centre
/// coordinates, as [`region`] returns) outlined in opaque red.
///
/// The copy is RGBA8 if `img` has an alpha channel, else RGB8. Lines are
/// max(1, min(width, height)/150) pixels wide, centred on the quadrilateral's
/// sides; parts outside the image are not drawn. Any finite corners are fine,
/// however far outside the image, and cost no more than near ones (though
/// oblique sides with ends beyond about 2⁵⁰ pixels are placed only roughly);
/// a side with a non-finite corner is not drawn.
pub fn draw(img: &DynamicImage, corners: &[(f64, f64); 4]) -> DynamicImage {
    let (w, h) = img.dimensions();
    let half = f64::from((w.min(h) / 150).max(1)) / 2.0;
    let sides = |paint: &mut dyn FnMut(u32, u32)| {
        for i in 0..4 {
            side(w, h, corners[i], corners[(i + 1) % 4], half, paint);
        }
    };
    if img.color().has_alpha() {
        let mut out = img.to_rgba8();
        let [r, g, b] = COLOUR;
        sides(&mut |x, y| out.put_pixel(x, y, Rgba([r, g, b, 255])));
        DynamicImage::ImageRgba8(out)
    } else {
        let mut out = img.to_rgb8();
        sides(&mut |x, y| out.put_pixel(x, y, Rgb(COLOUR)));
        DynamicImage::ImageRgb8(out)
    }
}

/// Paints the pixels of a `w`×`h` image whose centres lie within `half` of
/// the segment `p`–`q`.
fn side(w: u32, h: u32, p: (f64, f64), q: (f64, f64), half: f64, paint: &mut dyn FnMut(u32, u32)) {
    if w == 0 || h == 0 {
        return;
    }
    // Points farther than `half` outside the pixel-centre rectangle cannot
    // colour a pixel, so the segment is cut to the rectangle grown by a bit
    // more; the cut segment is short, and distances to it are exact where
    // they matter.
    let grow = half + 1.0;
    let lo = (-grow, -grow);
    let hi = (f64::from(w - 1) + grow, f64::from(h - 1) + grow);
    let Some((a, b)) = clip(p, q, lo, hi) else {
        return;
    };
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let Some(rows) = span(a.1.min(b.1) - half, a.1.max(b.1) + half, h) else {
        return;
    };
    for j in rows.0..=rows.1 {
        let y = f64::from(j);
        // The part of the segment within `half` of this row, vertically.
        let (t0, t1) = if dy == 0.0 {
            (0.0, 1.0)
        } else {
            let ta = (y - half - a.1) / dy;
            let tb = (y + half - a.1) / dy;
            (ta.min(tb).max(0.0), ta.max(tb).min(1.0))
        };
        if t0 > t1 {
            continue;
        }
        let (xa, xb) = (a.0 + t0 * dx, a.0 + t1 * dx);
        let Some(cols) = span(xa.min(xb) - half, xa.max(xb) + half, w) else {
            continue;
        };
        for i in cols.0..=cols.1 {
            if distance_sq((f64::from(i), y), a, b) <= half * half + SLACK {
                paint(i, j);
            }
        }
    }
}

/// The pixel indices in `[lo, hi]` on an axis of `n` pixels, if any.
fn span(lo: f64, hi: f64, n: u32) -> Option<(u32, u32)> {
    let lo = lo.ceil().max(0.0);
    let hi = hi.floor().min(f64::from(n - 1));
    // False for NaN too.
    (lo <= hi).then_some((lo as u32, hi as u32))
}

/// The part of segment `p`–`q` inside the rectangle `lo`–`hi` (Liang–Barsky).
fn clip(
    p: (f64, f64),
    q: (f64, f64),
    lo: (f64, f64),
    hi: (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    // Everything is halved so that q − p stays finite for any finite ends;
    // the ratios are unchanged.
    let dx = q.0 / 2.0 - p.0 / 2.0;
    let dy = q.1 / 2.0 - p.1 / 2.0;
    let limits = [
        (-dx, p.0 / 2.0 - lo.0 / 2.0),
        (dx, hi.0 / 2.0 - p.0 / 2.0),
        (-dy, p.1 / 2.0 - lo.1 / 2.0),
        (dy, hi.1 / 2.0 - p.1 / 2.0),
    ];
    // The parameter where the segment enters and leaves, and which side of
    // the rectangle cut it there (an index into `limits`).
    let (mut enter, mut leave) = ((0.0_f64, None), (1.0_f64, None));
    for (k, (den, num)) in limits.into_iter().enumerate() {
        if den == 0.0 {
            if num < 0.0 {
                return None; // parallel to this side and outside it
            }
            continue;
        }
        let t = num / den;
        if den < 0.0 && t > enter.0 {
            enter = (t, Some(k));
        } else if den > 0.0 && t < leave.0 {
            leave = (t, Some(k));
        }
    }
    // (`enter` and `leave` are never NaN: a NaN `t` fails both tests above.)
    if enter.0 > leave.0 {
        return None;
    }
    // A cut end lies exactly on the side that cut it, so that sides parallel
    // to an axis stay exact however far their ends are.
    let point = |(t, side): (f64, Option<usize>)| {
        let mut pt = (lerp(p.0, q.0, t), lerp(p.1, q.1, t));
        match side {
            Some(0) => pt.0 = lo.0,
            Some(1) => pt.0 = hi.0,
            Some(2) => pt.1 = lo.1,
            Some(3) => pt.1 = hi.1,
            _ => {}
        }
        pt
    };
    let (a, b) = (point(enter), point(leave));
    [a.0, a.1, b.0, b.1]
        .iter()
        .all(|v| v.is_finite())
        .then_some((a, b))
}

/// `a + t·(b − a)`, in a form that cannot overflow for finite ends and t in
/// [0, 1], and that is exact when `a == b`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b {
        a
    } else {
        a * (1.0 - t) + b * t
    }
}

/// The squared distance from `c` to the segment `a`–`b`.
fn distance_sq(c: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len_sq = dx * dx + dy * dy;
    let t = if len_sq > 0.0 {
        (((c.0 - a.0) * dx + (c.1 - a.1) * dy) / len_sq).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (a.0 + t * dx - c.0, a.1 + t * dy - c.1);
    ex * ex + ey * ey
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, RgbImage, RgbaImage};
    use proptest::prelude::*;

    const RED: [u8; 3] = COLOUR;

    fn assert_corners(got: [(f64, f64); 4], want: [(f64, f64); 4]) {
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g.0 - w.0).abs() < 1e-12 && (g.1 - w.1).abs() < 1e-12,
                "{got:?} != {want:?}"
            );
        }
    }

    #[test]
    fn identity_covers_the_whole_input() {
        let s = Size::new(7, 5);
        let whole = [(-0.5, -0.5), (6.5, -0.5), (6.5, 4.5), (-0.5, 4.5)];
        assert_corners(region(&Affine::IDENTITY, s, s, false), whole);
        assert_corners(region(&Affine::IDENTITY, s, s, true), whole);
    }

    #[test]
    fn scale_and_shift_worked_by_hand() {
        // Half scale, shifted right by 0.25 and up by 0.5 (normalised).
        // TL: (−0.5 + 0.25, −0.5 − 0.5) = (−0.25, −1) →
        //     x = ((−0.25 + 1)·100 − 1)/2 = 37, y = ((−1 + 1)·80 − 1)/2 = −0.5.
        // BR: (0.75, 0) → x = (1.75·100 − 1)/2 = 87, y = (80 − 1)/2 = 39.5.
        let theta = Affine([0.5, 0.0, 0.25, 0.0, 0.5, -0.5]);
        let r = region(&theta, Size::new(100, 80), Size::new(50, 40), false);
        assert_corners(r, [(37.0, -0.5), (87.0, -0.5), (87.0, 39.5), (37.0, 39.5)]);

        // align_corners: a 5×3 output's outer edges are at ±1.25, ±1.5;
        // half scale gives TL (−0.625, −0.75) → ((0.375/2)·8, (0.25/2)·4).
        let theta = Affine([0.5, 0.0, 0.0, 0.0, 0.5, 0.0]);
        let r = region(&theta, Size::new(9, 5), Size::new(5, 3), true);
        assert_corners(r, [(1.5, 0.5), (6.5, 0.5), (6.5, 3.5), (1.5, 3.5)]);
    }

    #[test]
    fn one_pixel_axes_use_unit_corners() {
        let s = Size::new(1, 1);
        let r = region(&Affine::IDENTITY, Size::new(4, 4), s, true);
        assert_corners(r, [(0.0, 0.0), (3.0, 0.0), (3.0, 3.0), (0.0, 3.0)]);
    }

    proptest! {
        /// The region's corners are where the warp samples the output's
        /// outer corners (pixel coordinates ±0.5 beyond the corner centres).
        #[test]
        fn region_agrees_with_the_sampling_map(
            m in proptest::array::uniform6(-3.0..3.0f64),
            (iw, ih, ow, oh) in (2u32..300, 2u32..300, 2u32..300, 2u32..300),
            align in any::<bool>(),
        ) {
            let theta = Affine(m);
            let (input, output) = (Size::new(iw, ih), Size::new(ow, oh));
            let map = theta.sampling_map(input, output, align);
            let (w, h) = (f64::from(ow) - 0.5, f64::from(oh) - 0.5);
            let got = region(&theta, input, output, align);
            for (g, c) in got.iter().zip([(-0.5, -0.5), (w, -0.5), (w, h), (-0.5, h)]) {
                let want = map.apply(c.0, c.1);
                prop_assert!((g.0 - want.0).abs() < 1e-9 && (g.1 - want.1).abs() < 1e-9);
            }
        }

        #[test]
        fn drawing_never_panics(
            corners in proptest::array::uniform4((any::<f64>(), any::<f64>())),
            (w, h) in (1u32..40, 1u32..40),
        ) {
            let img = DynamicImage::ImageRgb8(RgbImage::new(w, h));
            let out = draw(&img, &corners);
            prop_assert_eq!((out.width(), out.height()), (w, h));
        }
    }

    #[test]
    fn outline_colours_edges_and_leaves_the_inside() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(30, 20));
        let corners = [(5.0, 5.0), (20.0, 5.0), (20.0, 15.0), (5.0, 15.0)];
        let out = draw(&img, &corners).to_rgb8();
        for (x, y) in [
            (5, 5),
            (12, 5),
            (20, 5),
            (20, 10),
            (20, 15),
            (9, 15),
            (5, 11),
        ] {
            assert_eq!(out.get_pixel(x, y).0, RED, "({x}, {y})");
        }
        for (x, y) in [
            (12, 10),
            (12, 4),
            (12, 6),
            (4, 10),
            (6, 10),
            (0, 0),
            (29, 19),
        ] {
            assert_eq!(out.get_pixel(x, y).0, [0, 0, 0], "({x}, {y})");
        }
    }

    #[test]
    fn whole_image_region_outlines_the_border_pixels() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(12, 9));
        let s = Size::new(12, 9);
        let out = draw(&img, &region(&Affine::IDENTITY, s, s, false)).to_rgb8();
        for (x, y, p) in out.enumerate_pixels() {
            let border = x == 0 || y == 0 || x == 11 || y == 8;
            assert_eq!(p.0 == RED, border, "({x}, {y})");
        }
    }

    #[test]
    fn diagonal_line_is_thin_and_connected() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(40, 40));
        let corners = [(0.0, 0.0), (39.0, 39.0), (39.0, 39.0), (0.0, 0.0)];
        let out = draw(&img, &corners).to_rgb8();
        for (x, y, p) in out.enumerate_pixels() {
            assert_eq!(p.0 == RED, x == y, "({x}, {y})");
        }
    }

    #[test]
    fn line_width_grows_with_the_image() {
        // 600 / 150 = 4 pixels wide: centres within 2 of the line at y = 100.
        let img = DynamicImage::ImageRgb8(RgbImage::new(600, 600));
        let corners = [
            (-10.0, 100.0),
            (610.0, 100.0),
            (610.0, 100.0),
            (-10.0, 100.0),
        ];
        let out = draw(&img, &corners).to_rgb8();
        let coloured: Vec<u32> = (90..110)
            .filter(|&y| out.get_pixel(300, y).0 == RED)
            .collect();
        assert_eq!(coloured, [98, 99, 100, 101, 102]);
    }

    #[test]
    fn layouts_follow_the_input() {
        let corners = [(0.0, 0.0), (3.0, 0.0), (3.0, 3.0), (0.0, 3.0)];
        let rgba = DynamicImage::ImageRgba8(RgbaImage::new(4, 4));
        let out = draw(&rgba, &corners);
        assert_eq!(out.color(), image::ColorType::Rgba8);
        assert_eq!(out.to_rgba8().get_pixel(0, 0).0, [255, 32, 32, 255]);
        assert_eq!(out.to_rgba8().get_pixel(1, 1).0, [0, 0, 0, 0]);
        let gray = DynamicImage::ImageLuma8(GrayImage::from_pixel(4, 4, image::Luma([7])));
        let out = draw(&gray, &corners);
        assert_eq!(out.color(), image::ColorType::Rgb8);
        assert_eq!(out.to_rgb8().get_pixel(1, 1).0, [7, 7, 7]);
        let wide = DynamicImage::new_rgba16(4, 4);
        assert_eq!(draw(&wide, &corners).color(), image::ColorType::Rgba8);
    }

    #[test]
    fn huge_corners_are_cheap_and_draw_what_shows() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(2000, 2000));
        let start = std::time::Instant::now();
        // A region far larger than the image: no side crosses it.
        let big = 1e308;
        let out = draw(&img, &[(-big, -big), (big, -big), (big, big), (-big, big)]);
        assert!(out.to_rgb8().pixels().all(|p| p.0 == [0, 0, 0]));
        // Extreme values, huge diagonals, a side crossing row 700 exactly.
        let m = f64::MAX;
        let cases = [
            [(-m, -m), (m, m), (m, -m), (-m, m)],
            [
                (-1e300, 700.0),
                (1e300, 700.0),
                (1e300, 1e300),
                (-1e300, 1e300),
            ],
            [(1e15, -3e15), (-2e15, 5e15), (7.0, 8.0), (-m, 0.0)],
        ];
        for corners in cases {
            draw(&img, &corners);
        }
        let out = draw(&img, &cases[1]).to_rgb8();
        // 2000 / 150 = 13 pixels wide: rows 694 to 706.
        assert!((0..2000).all(|x| out.get_pixel(x, 694).0 == RED && out.get_pixel(x, 706).0 == RED));
        assert_eq!(out.get_pixel(1000, 693).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(1000, 707).0, [0, 0, 0]);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn non_finite_corners_draw_nothing() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(8, 8));
        let corners = [
            (f64::NAN, 0.0),
            (f64::INFINITY, 1.0),
            (2.0, f64::NAN),
            (3.0, 3.0),
        ];
        let out = draw(&img, &corners).to_rgb8();
        assert!(out.pixels().all(|p| p.0 == [0, 0, 0]));
    }

    #[test]
    fn outlines_of_each_family_pass_through_the_mapped_corners() {
        use crate::transform::{named_layout, Homography, Tps};
        let (input, output) = (Size::new(100, 80), Size::new(50, 40));
        // A homography: the first point of each side is a mapped corner.
        let h = Homography([0.9, 0.1, 0.05, -0.05, 0.8, 0.0, 0.2, 0.1, 1.0]);
        let line = outline(&h.into(), input, output, false);
        assert_eq!(line.len(), 4 * OUTLINE_STEPS);
        let (u, v) = h.apply(-1.0, -1.0).unwrap();
        let want = ((u + 1.0) * 100.0 / 2.0 - 0.5, (v + 1.0) * 80.0 / 2.0 - 0.5);
        let got = line[0].unwrap();
        assert!((got.0 - want.0).abs() < 1e-9 && (got.1 - want.1).abs() < 1e-9);
        // Behind the camera: broken, not drawn through.
        let back = Homography([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.5]);
        let line = outline(&back.into(), input, output, false);
        assert!(line.iter().any(Option::is_none) && line.iter().any(Option::is_some));
        // A thin-plate spline through the output's corners: the outline's
        // corners are the source points.
        let target = named_layout("rare:4").unwrap();
        let source = vec![[-0.9, -0.8], [0.7, -0.9], [-0.8, 0.9], [0.95, 0.7]];
        let tps = Tps::new(target, source.clone(), 0.0, Some(true), "t").unwrap();
        let line = outline(&tps.into(), input, output, false);
        let px = |p: [f64; 2]| {
            (
                (p[0] + 1.0) * 100.0 / 2.0 - 0.5,
                (p[1] + 1.0) * 80.0 / 2.0 - 0.5,
            )
        };
        // With grid = corners the output border is at ±(1 + 1/(n−1)), so the
        // corner points of the outline are just outside the source points.
        let tl = line[0].unwrap();
        let s = px(source[0]);
        assert!(
            (tl.0 - s.0).abs() < 3.0 && (tl.1 - s.1).abs() < 3.0,
            "{tl:?} vs {s:?}"
        );
        let drawn = draw_outlines(&DynamicImage::new_rgb8(100, 80), &[line]);
        let red = drawn.to_rgb8().pixels().filter(|p| p.0 == COLOUR).count();
        assert!(red > 200, "{red} red pixels");
    }
}
