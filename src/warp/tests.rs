//! The SIMD nearest-neighbour and bicubic kernels against the scalar spec,
//! byte for byte.
//!
//! `scalar::Nearest` (`nearbyint`, ties to even, zero padding per point) and
//! `scalar::Bicubic` (A = −0.75, zero padding per tap, `f32` weights and
//! sums) are the specification (for the AVX2 bicubic kernel its fixed-point
//! model, `fixed::cubic_pixel`, whose bound its own tests check); every SIMD entry point (point buffers,
//! affine rows, projective rows, whole small images) must give exactly their
//! bytes, on rows that cross the image in every direction, at exact rounding
//! ties and integer coordinates, and far outside it (NaN, infinities, beyond
//! `i32`).
//!
//! The `u16` bilinear kernels must give exactly `scalar::Bilinear::fast`'s
//! samples at every point inside its interior (they only get such points),
//! and whole `u16` bilinear warps on every ISA exactly `Isa::Scalar`'s.

use super::fixed::{cubic_pixel, Plane, Plane16};
use super::grid::{ProjRow, Row};
use super::scalar::{Bicubic, Bilinear, Kernel, Nearest, Src};
use super::{warp_into_with, ImageMut, ImageRef, Interp, Isa, Padding, WarpOptions};
use crate::affine::Affine;
use crate::transform::{Homography, Transform};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn real(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A coordinate near `[-3, size + 3]`: half the time exactly on a
    /// rounding tie (`k + ½`) or an integer.
    fn coord(&mut self, size: usize) -> f64 {
        match self.below(4) {
            0 => self.below(size + 6) as f64 - 3.0 + 0.5,
            1 => self.below(size + 6) as f64 - 3.0,
            _ => self.real(-3.0, size as f64 + 3.0),
        }
    }
    /// A per-column step: often a multiple of ½ (keeping ties), sometimes large.
    fn step(&mut self) -> f64 {
        match self.below(5) {
            0 => [0.0, 0.5, -0.5, 1.0, -1.0, 2.0, 1.5][self.below(7)],
            1 => self.real(-1.5, 1.5) * 1e3,
            _ => self.real(-1.5, 1.5),
        }
    }
}

/// The kernels under test.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Nearest,
    Bicubic,
}

const KINDS: [Kind; 2] = [Kind::Nearest, Kind::Bicubic];

/// The bytes `isa`'s kernel must give for the points `(u[k], v[k])`, zero
/// padding: the spec's, but for the AVX2 bicubic kernel the fixed-point
/// model's (`fixed::cubic_pixel`, within one level of the spec).
fn spec(kind: Kind, isa: Isa, src: &Plane<'_>, u: &[f64], v: &[f64]) -> Vec<u8> {
    let c = src.channels();
    let s = Src {
        data: src.data(),
        width: src.width(),
        height: src.height(),
    };
    let opts = WarpOptions::default();
    let mut out = vec![0u8; u.len() * c];
    for ((u, v), px) in u.iter().zip(v).zip(out.chunks_exact_mut(c)) {
        match (kind, c) {
            (Kind::Nearest, 1) => Nearest::slow::<u8, 1>(&s, *u, *v, &opts, px),
            (Kind::Nearest, 2) => Nearest::slow::<u8, 2>(&s, *u, *v, &opts, px),
            (Kind::Nearest, 3) => Nearest::slow::<u8, 3>(&s, *u, *v, &opts, px),
            (Kind::Nearest, _) => Nearest::slow::<u8, 4>(&s, *u, *v, &opts, px),
            (Kind::Bicubic, 1) if isa == Isa::Avx2 => cubic_pixel::<1>(src, *u, *v, px),
            (Kind::Bicubic, 2) if isa == Isa::Avx2 => cubic_pixel::<2>(src, *u, *v, px),
            (Kind::Bicubic, 3) if isa == Isa::Avx2 => cubic_pixel::<3>(src, *u, *v, px),
            (Kind::Bicubic, _) if isa == Isa::Avx2 => cubic_pixel::<4>(src, *u, *v, px),
            (Kind::Bicubic, 1) => Bicubic::slow::<u8, 1>(&s, *u, *v, &opts, px),
            (Kind::Bicubic, 2) => Bicubic::slow::<u8, 2>(&s, *u, *v, &opts, px),
            (Kind::Bicubic, 3) => Bicubic::slow::<u8, 3>(&s, *u, *v, &opts, px),
            (Kind::Bicubic, _) => Bicubic::slow::<u8, 4>(&s, *u, *v, &opts, px),
        }
    }
    out
}

/// The four entry points of a kernel.
enum Call<'a> {
    Points(&'a [f64], &'a [f64]),
    Row(&'a Row, usize),
    Proj(&'a ProjRow, usize),
    Image(&'a [f64; 6], usize),
}

/// Runs `isa`'s `kind` kernel (`None` if it has none, e.g. the scalar ISA).
#[allow(unused_variables)]
fn simd(kind: Kind, isa: Isa, src: &Plane<'_>, call: Call<'_>, out: &mut [u8]) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        let out = super::uninit_view(out);
        use super::{avx2, avx512};
        // AVX-512 nearest: gathers or loads, as `fast_gathers` says (CI
        // runs the suite with STN_AVX512_TAPS=gather and =load).
        let gather = super::isa::fast_gathers();
        macro_rules! go {
            ($m:ident, $c:literal $(, $g:literal)?) => {
                // SAFETY: `isa` is supported (asserted); C is the plane's
                // channel count.
                unsafe {
                    match (kind, call) {
                        (Kind::Nearest, Call::Points(u, v)) => $m::nearest::<$c $(, $g)?>(src, u, v, out),
                        (Kind::Nearest, Call::Row(r, j0)) => $m::nearest_row::<$c $(, $g)?>(src, r, j0, out),
                        (Kind::Nearest, Call::Proj(r, j0)) => {
                            $m::nearest_proj::<$c $(, $g)?>(src, r, j0, out)
                        }
                        (Kind::Nearest, Call::Image(m, w)) => {
                            $m::nearest_image::<$c $(, $g)?>(src, m, w, out)
                        }
                        (Kind::Bicubic, Call::Points(u, v)) => $m::bicubic::<$c>(src, u, v, out),
                        (Kind::Bicubic, Call::Row(r, j0)) => $m::bicubic_row::<$c>(src, r, j0, out),
                        (Kind::Bicubic, Call::Proj(r, j0)) => {
                            $m::bicubic_proj::<$c>(src, r, j0, out)
                        }
                        (Kind::Bicubic, Call::Image(m, w)) => {
                            $m::bicubic_image::<$c>(src, m, w, out)
                        }
                    }
                }
            };
        }
        assert!(isa.is_supported());
        match (isa, src.channels()) {
            (Isa::Avx2, 1) => go!(avx2, 1),
            (Isa::Avx2, 2) => go!(avx2, 2),
            (Isa::Avx2, 3) => go!(avx2, 3),
            (Isa::Avx2, 4) => go!(avx2, 4),
            (Isa::Avx512, 1) if gather => go!(avx512, 1, true),
            (Isa::Avx512, 1) => go!(avx512, 1, false),
            (Isa::Avx512, 2) if gather => go!(avx512, 2, true),
            (Isa::Avx512, 2) => go!(avx512, 2, false),
            (Isa::Avx512, 3) if gather => go!(avx512, 3, true),
            (Isa::Avx512, 3) => go!(avx512, 3, false),
            (Isa::Avx512, 4) if gather => go!(avx512, 4, true),
            (Isa::Avx512, 4) => go!(avx512, 4, false),
            _ => return None,
        }
        Some(())
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

fn plane_data(rng: &mut Rng, c: usize) -> (Vec<u8>, usize, usize) {
    let (w, h) = (2 + rng.below(40), 2 + rng.below(30));
    ((0..w * h * c).map(|_| rng.next() as u8).collect(), w, h)
}

#[test]
fn simd_kernels_equal_the_spec_on_rows_and_points() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..8000 {
        let kind = KINDS[case / 4 % 2];
        let c = 1 + case % 4;
        let (data, w, h) = plane_data(&mut rng, c);
        let src = Plane::new(&data, w, h, c).unwrap();
        let row = if case % 3 == 0 {
            // Whole steps of points with every tap inside (the bicubic
            // kernels' load path), near the image's last bytes too.
            Row {
                u0: rng.real(1.0, w as f64 - 2.0),
                v0: rng.real(1.0, h as f64 - 2.0),
                du: rng.real(-0.02, 0.02),
                dv: rng.real(-0.02, 0.02),
            }
        } else {
            Row {
                u0: rng.coord(w),
                v0: rng.coord(h),
                du: rng.step(),
                dv: rng.step(),
            }
        };
        let (j0, n) = (rng.below(50), rng.below(70));
        let (mut u, mut v): (Vec<f64>, Vec<f64>) = (j0..j0 + n).map(|j| row.at(j)).unzip();
        let jittered = case % 5 == 3;
        if jittered {
            let odd = [f64::NAN, f64::INFINITY, -1e10, 3e9, 2147483647.5, -0.5];
            for k in 0..n {
                match rng.below(6) {
                    0 => u[k] = odd[rng.below(odd.len())],
                    1 => v[k] = odd[rng.below(odd.len())],
                    2 => u[k] = rng.coord(w),
                    _ => {}
                }
            }
        }
        for isa in Isa::supported() {
            let mut got = vec![0u8; n * c];
            if simd(kind, isa, &src, Call::Points(&u, &v), &mut got).is_none() {
                continue;
            }
            let want = spec(kind, isa, &src, &u, &v);
            assert_eq!(
                got, want,
                "{isa} {kind:?} points C={c} {w}x{h} {row:?} j0={j0}"
            );
            if !jittered {
                let mut got = vec![0u8; n * c];
                simd(kind, isa, &src, Call::Row(&row, j0), &mut got);
                assert_eq!(
                    got, want,
                    "{isa} {kind:?} row C={c} {w}x{h} {row:?} j0={j0}"
                );
            }
        }
    }
}

#[test]
fn simd_kernels_equal_the_spec_on_projective_rows() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for case in 0..4000 {
        let kind = KINDS[case / 4 % 2];
        let c = 1 + case % 4;
        let (data, w, h) = plane_data(&mut rng, c);
        let src = Plane::new(&data, w, h, c).unwrap();
        let g = Homography(std::array::from_fn(|k| match k {
            6 | 7 => rng.real(-0.05, 0.05),
            8 => rng.real(0.2, 1.5),
            2 => rng.real(-5.0, w as f64 + 5.0),
            5 => rng.real(-5.0, h as f64 + 5.0),
            _ => rng.real(-1.5, 1.5),
        }));
        let row = ProjRow::new(&g, rng.below(40));
        let (j0, n) = (rng.below(50), rng.below(70));
        let (u, v): (Vec<f64>, Vec<f64>) = (j0..j0 + n).map(|j| row.at(j as f64)).unzip();
        for isa in Isa::supported() {
            let mut got = vec![0u8; n * c];
            if simd(kind, isa, &src, Call::Proj(&row, j0), &mut got).is_some() {
                let want = spec(kind, isa, &src, &u, &v);
                assert_eq!(got, want, "{isa} {kind:?} proj C={c} {w}x{h} j0={j0}");
            }
        }
    }
}

#[test]
fn simd_kernel_images_equal_the_spec() {
    let mut rng = Rng(7);
    for case in 0..2000 {
        let kind = KINDS[case / 4 % 2];
        let c = 1 + case % 4;
        let (data, w, h) = plane_data(&mut rng, c);
        let src = Plane::new(&data, w, h, c).unwrap();
        let (ow, oh) = (1 + rng.below(40), 1 + rng.below(20));
        // Half the maps are scales by ½-multiples plus ½-offsets: ties (nearest)
        // and integer coordinates (bicubic) everywhere.
        let map = if case % 2 == 0 {
            let s = [0.5, 1.0, 1.5, 2.0, -0.5][rng.below(5)];
            Affine([s, 0.0, rng.coord(w), 0.0, s, rng.coord(h)])
        } else {
            Affine(std::array::from_fn(|k| {
                rng.real(-1.5, 1.5) * if k % 3 == 2 { 20.0 } else { 1.0 }
            }))
        };
        for isa in Isa::supported() {
            let mut want = Vec::new();
            for i in 0..oh {
                let row = Row::new(&map, i);
                let (u, v): (Vec<f64>, Vec<f64>) = (0..ow).map(|j| row.at(j)).unzip();
                want.extend(spec(kind, isa, &src, &u, &v));
            }
            let mut got = vec![0u8; ow * oh * c];
            if simd(kind, isa, &src, Call::Image(&map.0, ow), &mut got).is_some() {
                assert_eq!(
                    got, want,
                    "{isa} {kind:?} image C={c} {w}x{h} -> {ow}x{oh} {map:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The `u16` bilinear kernels: exactly the spec, sample for sample.

/// The two entry points of the `u16` bilinear kernels.
enum Call16<'a> {
    Points(&'a [f64], &'a [f64]),
    Row(&'a Row, usize),
}

/// Runs `isa`'s `u16` bilinear kernel (`None` if it has none).
#[allow(unused_variables)]
fn simd16(isa: Isa, src: &Plane16<'_>, call: Call16<'_>, out: &mut [u16]) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::{avx2, avx512};
        macro_rules! go {
            ($m:ident, $c:literal) => {
                // SAFETY: `isa` is supported (asserted); C is the plane's
                // channel count.
                unsafe {
                    match call {
                        Call16::Points(u, v) => {
                            $m::bilinear16::<$c>(src, u, v, super::uninit_view(out))
                        }
                        Call16::Row(r, j0) => {
                            $m::bilinear16_row::<$c>(src, r, j0, super::uninit_view(out))
                        }
                    }
                }
            };
        }
        assert!(isa.is_supported());
        match (isa, src.channels()) {
            (Isa::Avx2, 1) => go!(avx2, 1),
            (Isa::Avx2, 2) => go!(avx2, 2),
            (Isa::Avx2, 3) => go!(avx2, 3),
            (Isa::Avx2, 4) => go!(avx2, 4),
            (Isa::Avx512, 1) => go!(avx512, 1),
            (Isa::Avx512, 2) => go!(avx512, 2),
            (Isa::Avx512, 3) => go!(avx512, 3),
            (Isa::Avx512, 4) => go!(avx512, 4),
            _ => return None,
        }
        Some(())
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// The spec's `Bilinear::fast` at the points `(u[k], v[k])` (all inside
/// `Bilinear::interior`).
fn spec16(src: &Plane16<'_>, u: &[f64], v: &[f64]) -> Vec<u16> {
    let c = src.channels();
    let s = Src {
        data: src.data(),
        width: src.width(),
        height: src.height(),
    };
    let mut out = vec![0u16; u.len() * c];
    for ((u, v), px) in u.iter().zip(v).zip(out.chunks_exact_mut(c)) {
        match c {
            1 => Bilinear::fast::<u16, 1>(&s, *u, *v, px),
            2 => Bilinear::fast::<u16, 2>(&s, *u, *v, px),
            3 => Bilinear::fast::<u16, 3>(&s, *u, *v, px),
            _ => Bilinear::fast::<u16, 4>(&s, *u, *v, px),
        }
    }
    out
}

/// Random samples: full-range noise, or a few extreme values (0, 65535 and
/// neighbours), which stress the clamp and the rounding.
fn samples16(rng: &mut Rng, len: usize) -> Vec<u16> {
    let extreme = rng.below(3) == 0;
    (0..len)
        .map(|_| {
            if extreme {
                [0, 1, 65534, 65535, 32767, 32768][rng.below(6)]
            } else {
                rng.next() as u16
            }
        })
        .collect()
}

#[test]
fn u16_bilinear_kernels_equal_the_spec_on_rows_and_points() {
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let mut checked = 0;
    for case in 0..6000 {
        let c = 1 + case % 4;
        let (w, h) = (2 + rng.below(40), 2 + rng.below(30));
        let data = samples16(&mut rng, w * h * c);
        let src = Plane16::new(&data, w, h, c).unwrap();
        let interior = Bilinear::interior(w, h);
        let row = if case % 3 == 0 {
            // Long runs inside, slow steps (zooms).
            Row {
                u0: rng.real(0.0, w as f64 - 1.0),
                v0: rng.real(0.0, h as f64 - 1.0),
                du: rng.real(-0.05, 0.05),
                dv: rng.real(-0.05, 0.05),
            }
        } else {
            // Ties, integers, flips, rotations, minifications.
            Row {
                u0: rng.coord(w),
                v0: rng.coord(h),
                du: rng.step(),
                dv: rng.step(),
            }
        };
        let (j0, n) = (rng.below(50), rng.below(70));
        // The row's columns inside the interior: one interval (the row is
        // linear in j).
        let inside: Vec<usize> = (j0..j0 + n)
            .filter(|&j| {
                let (u, v) = row.at(j);
                interior.contains(u, v)
            })
            .collect();
        let (a, b) = match (inside.first(), inside.last()) {
            (Some(&a), Some(&b)) => (a, b + 1),
            _ => (j0, j0),
        };
        let (mut u, mut v): (Vec<f64>, Vec<f64>) = (a..b).map(|j| row.at(j)).unzip();
        let want = spec16(&src, &u, &v);
        for isa in Isa::supported() {
            let mut got = vec![0u16; u.len() * c];
            if simd16(isa, &src, Call16::Row(&row, a), &mut got).is_none() {
                continue;
            }
            checked += 1;
            assert_eq!(got, want, "{isa} u16 row C={c} {w}x{h} {row:?} j0={a}");
        }
        // Points anywhere in the interior, up to just below its far edges.
        for k in 0..u.len() {
            match rng.below(5) {
                0 => u[k] = (w as f64 - 1.0) * (1.0 - f64::EPSILON),
                1 => v[k] = rng.below(h - 1) as f64,
                2 => u[k] = rng.real(0.0, w as f64 - 1.0),
                _ => {}
            }
        }
        let want = spec16(&src, &u, &v);
        for isa in Isa::supported() {
            let mut got = vec![0u16; u.len() * c];
            if simd16(isa, &src, Call16::Points(&u, &v), &mut got).is_some() {
                assert_eq!(got, want, "{isa} u16 points C={c} {w}x{h}");
            }
        }
    }
    // Every case, on each SIMD ISA the CPU has (2 on AVX-512 machines).
    #[cfg(target_arch = "x86_64")]
    {
        let simd = Isa::supported().filter(|&i| i != Isa::Scalar).count();
        assert!(checked > 1000 * simd, "{checked}");
    }
}

/// The kernels' contract outside the interior: any point (NaN, infinities,
/// beyond `i32`, negative) reads inside the image and writes every sample.
#[test]
fn u16_bilinear_kernels_read_inside_for_any_point() {
    let mut rng = Rng(99);
    for case in 0..400 {
        let c = 1 + case % 4;
        let (w, h) = (2 + rng.below(9), 2 + rng.below(9));
        let data = samples16(&mut rng, w * h * c);
        let src = Plane16::new(&data, w, h, c).unwrap();
        let odd = [
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            -1e10,
            3e9,
            -0.5,
            1e300,
        ];
        let n = rng.below(40);
        let u: Vec<f64> = (0..n).map(|_| odd[rng.below(odd.len())]).collect();
        let v: Vec<f64> = (0..n).map(|_| rng.coord(h)).collect();
        for isa in Isa::supported() {
            let mut got = vec![0u16; n * c];
            simd16(isa, &src, Call16::Points(&u, &v), &mut got);
            simd16(isa, &src, Call16::Points(&v, &u), &mut got);
        }
    }
}

/// Rotation by `deg`, scale `s`, translation `(tx, ty)`, normalised.
fn rts(deg: f64, s: f64, tx: f64, ty: f64) -> Affine {
    let (sin, cos) = deg.to_radians().sin_cos();
    Affine([s * cos, -s * sin, tx, s * sin, s * cos, ty])
}

/// Warps `src` (`w`×`h`, `c` channels) to `ow`×`oh` on `isa`.
fn warp16(
    src: &[u16],
    (w, h, c): (usize, usize, usize),
    (ow, oh): (usize, usize),
    t: &Transform,
    opts: &WarpOptions,
    isa: Isa,
) -> Vec<u16> {
    let mut out = vec![0u16; ow * oh * c];
    warp_into_with(
        ImageRef {
            data: src,
            width: w,
            height: h,
            channels: c,
        },
        ImageMut {
            data: &mut out,
            width: ow,
            height: oh,
            channels: c,
        },
        t,
        opts,
        isa,
    );
    out
}

/// Whole `u16` bilinear warps on every ISA equal the spec's (`Isa::Scalar`),
/// sample for sample: random thetas (rotations of any angle, flips, zooms
/// in and out, arbitrary matrices) and homographies, every padding and
/// alignment, sizes from 1 pixel wide or high up to wider than the tiles,
/// odd widths.
#[test]
fn u16_bilinear_warps_equal_the_spec() {
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    for case in 0..600 {
        let c = 1 + case % 4;
        let pick = |rng: &mut Rng, big: bool| match rng.below(6) {
            0 => 1,
            1 => 2,
            _ if big => 1 + rng.below(300),
            _ => 1 + rng.below(60),
        };
        let big = case % 8 == 0;
        let (w, h) = (pick(&mut rng, big), pick(&mut rng, false));
        let (ow, oh) = (pick(&mut rng, big), pick(&mut rng, false));
        let src = samples16(&mut rng, w * h * c);
        let t: Transform = match case % 5 {
            0 => Homography(std::array::from_fn(|k| match k {
                0 | 4 => rng.real(0.5, 1.5) * if rng.below(4) == 0 { -1.0 } else { 1.0 },
                6 | 7 => rng.real(-0.3, 0.3),
                8 => 1.0,
                _ => rng.real(-0.4, 0.4),
            }))
            .into(),
            1 => {
                // Flips and zooms, axis-aligned.
                let sx = [1.0, -1.0, 0.5, 2.0, -0.25, 3.0][rng.below(6)];
                let sy = [1.0, -1.0, 0.5, 2.0, -0.25, 3.0][rng.below(6)];
                Affine([sx, 0.0, rng.real(-0.2, 0.2), 0.0, sy, rng.real(-0.2, 0.2)]).into()
            }
            2 => Affine(std::array::from_fn(|_| rng.real(-2.5, 2.5))).into(),
            _ => rts(
                rng.real(0.0, 360.0),
                rng.real(0.2, 3.0),
                rng.real(-1.0, 1.0),
                rng.real(-1.0, 1.0),
            )
            .into(),
        };
        let opts = WarpOptions {
            interp: Interp::Bilinear,
            padding: [Padding::Zeros, Padding::Border, Padding::Reflection][rng.below(3)],
            align_corners: rng.below(2) == 0,
        };
        let want = warp16(&src, (w, h, c), (ow, oh), &t, &opts, Isa::Scalar);
        for isa in Isa::supported() {
            let got = warp16(&src, (w, h, c), (ow, oh), &t, &opts, isa);
            assert!(
                got == want,
                "{isa} C={c} {w}x{h} -> {ow}x{oh} {opts:?} {t:?}"
            );
        }
    }
}

/// A batch warps image k through transform k, exactly as one warp each,
/// for sizes that split the batch into one and into many parallel tasks.
#[test]
fn batch_equals_one_warp_per_image() {
    let mut rng = Rng(0xB47C);
    for (w, h, ow, oh, c, n) in [
        (28, 28, 28, 28, 1, 300),
        (13, 7, 9, 11, 3, 5),
        (200, 180, 190, 170, 4, 3),
        (5, 5, 0, 4, 1, 4),
    ] {
        let src: Vec<u8> = (0..w * h * c * n).map(|_| rng.below(256) as u8).collect();
        let transforms: Vec<Transform> = (0..n)
            .map(|_| {
                let t: [f64; 6] = std::array::from_fn(|_| rng.real(-1.2, 1.2));
                Transform::Affine(Affine(t))
            })
            .collect();
        let opts = WarpOptions::default();
        let mut runs = Vec::new();
        for threads in [1, 2] {
            let mut got = vec![7u8; ow * oh * c * n];
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                super::warp_batch(
                    ImageRef {
                        data: &src,
                        width: w,
                        height: h,
                        channels: c,
                    },
                    ImageMut {
                        data: &mut got,
                        width: ow,
                        height: oh,
                        channels: c,
                    },
                    &transforms,
                    &opts,
                )
            });
            runs.push((threads, got));
        }
        let mut want = vec![0u8; ow * oh * c * n];
        for k in 0..n {
            let (s, d) = (w * h * c, ow * oh * c);
            warp_into_with(
                ImageRef {
                    data: &src[k * s..(k + 1) * s],
                    width: w,
                    height: h,
                    channels: c,
                },
                ImageMut {
                    data: &mut want[k * d..(k + 1) * d],
                    width: ow,
                    height: oh,
                    channels: c,
                },
                &transforms[k],
                &opts,
                Isa::detect(),
            );
        }
        for (threads, got) in runs {
            assert_eq!(
                got, want,
                "{w}x{h} -> {ow}x{oh}, C={c}, n={n}, {threads} thread(s)"
            );
        }
    }
}

/// [`super::Bands`]: output rows warped band by band, in pieces of any
/// height, are exactly the whole warp's (every interpolation, padding and
/// alignment, affine and projective, 1 to 4 channels, outputs narrow enough
/// for the whole-image SIMD pass); and each piece reads no source row at or
/// past [`super::Bands::source_rows`]: with those rows replaced by other
/// values, it is still the same.
#[test]
fn bands_equal_the_whole_warp_and_read_only_their_source_rows() {
    let mut rng = Rng(0x5EED_BA4D);
    for case in 0..120 {
        let c = 1 + case % 4;
        let (w, h) = (2 + rng.below(300), 2 + rng.below(260));
        let (ow, oh) = (1 + rng.below(300), 1 + rng.below(200));
        let src: Vec<u8> = (0..w * h * c).map(|_| rng.below(256) as u8).collect();
        let theta = if rng.below(2) == 0 {
            rts(
                rng.real(-40.0, 40.0),
                rng.real(0.5, 1.5),
                rng.real(-0.3, 0.3),
                rng.real(-0.3, 0.3),
            )
        } else {
            Affine(std::array::from_fn(|_| rng.real(-1.2, 1.2)))
        };
        let t = if case % 5 == 4 {
            Transform::Projective(Homography([
                theta.0[0],
                theta.0[1],
                theta.0[2],
                theta.0[3],
                theta.0[4],
                theta.0[5],
                rng.real(-0.2, 0.2),
                rng.real(-0.2, 0.2),
                1.0,
            ]))
        } else {
            Transform::Affine(theta)
        };
        let opts = WarpOptions {
            interp: [Interp::Bilinear, Interp::Nearest, Interp::Bicubic][rng.below(3)],
            padding: [Padding::Zeros, Padding::Border, Padding::Reflection][rng.below(3)],
            align_corners: rng.below(2) == 0,
        };
        let mut want = vec![0u8; ow * oh * c];
        warp_into_with(
            image(&src, (w, h, c)),
            ImageMut {
                data: &mut want,
                width: ow,
                height: oh,
                channels: c,
            },
            &t,
            &opts,
            Isa::detect(),
        );
        let out = crate::affine::Size::new(ow as u32, oh as u32);
        fn image(data: &[u8], (w, h, c): (usize, usize, usize)) -> ImageRef<'_, u8> {
            ImageRef {
                data,
                width: w,
                height: h,
                channels: c,
            }
        }
        let bands = super::Bands::new(image(&src, (w, h, c)), &t, out, &opts);
        let row = ow * c;
        // Output rows `first .. first + n` through `bands`.
        let piece = |bands: &super::Bands<'_, u8>, first: usize, n: usize| {
            let mut got = vec![std::mem::MaybeUninit::new(0u8); n * row];
            bands.rows_into(first, &mut got);
            // SAFETY: `rows_into` wrote every sample.
            got.iter()
                .map(|x| unsafe { x.assume_init() })
                .collect::<Vec<u8>>()
        };
        let mut first = 0;
        while first < oh {
            let n = (1 + rng.below(70)).min(oh - first);
            let want = &want[first * row..(first + n) * row];
            let what =
                format!("case {case}: {w}x{h}x{c} -> {ow}x{oh}, {t:?}, {opts:?}, rows {first}+{n}");
            assert!(piece(&bands, first, n) == want, "{what}");
            let need = bands.source_rows(first, n);
            assert!(need <= h, "{what}");
            if need < h {
                let mut poisoned = src.clone();
                for x in &mut poisoned[need * w * c..] {
                    *x = !*x;
                }
                let other = super::Bands::new(image(&poisoned, (w, h, c)), &t, out, &opts);
                let got = piece(&other, first, n);
                assert!(got == want, "{what}: reads past source row {need}");
            }
            first += n;
        }
    }
}
