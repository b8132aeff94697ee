//! The SIMD nearest-neighbour and bicubic kernels against the scalar spec,
//! byte for byte.
//!
//! `scalar::Nearest` (`nearbyint`, ties to even, zero padding per point) and
//! `scalar::Bicubic` (A = −0.75, zero padding per tap, `f32` weights and
//! sums) are the specification; every SIMD entry point (point buffers,
//! affine rows, projective rows, whole small images) must give exactly their
//! bytes, on rows that cross the image in every direction, at exact rounding
//! ties and integer coordinates, and far outside it (NaN, infinities, beyond
//! `i32`).

use super::fixed::Plane;
use super::grid::{ProjRow, Row};
use super::scalar::{Bicubic, Kernel, Nearest, Src};
use super::{Isa, WarpOptions};
use crate::affine::Affine;
use crate::transform::Homography;

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

/// The spec's bytes for the points `(u[k], v[k])`, zero padding.
fn spec(kind: Kind, src: &Plane<'_>, u: &[f64], v: &[f64]) -> Vec<u8> {
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
        use super::{avx2, avx512};
        macro_rules! go {
            ($m:ident, $c:literal) => {
                // SAFETY: `isa` is supported (asserted); C is the plane's
                // channel count.
                unsafe {
                    match (kind, call) {
                        (Kind::Nearest, Call::Points(u, v)) => $m::nearest::<$c>(src, u, v, out),
                        (Kind::Nearest, Call::Row(r, j0)) => $m::nearest_row::<$c>(src, r, j0, out),
                        (Kind::Nearest, Call::Proj(r, j0)) => {
                            $m::nearest_proj::<$c>(src, r, j0, out)
                        }
                        (Kind::Nearest, Call::Image(m, w)) => {
                            $m::nearest_image::<$c>(src, m, w, out)
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
        let want = spec(kind, &src, &u, &v);
        for isa in Isa::supported() {
            let mut got = vec![0u8; n * c];
            if simd(kind, isa, &src, Call::Points(&u, &v), &mut got).is_none() {
                continue;
            }
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
        let want = spec(kind, &src, &u, &v);
        for isa in Isa::supported() {
            let mut got = vec![0u8; n * c];
            if simd(kind, isa, &src, Call::Proj(&row, j0), &mut got).is_some() {
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
        let mut want = Vec::new();
        for i in 0..oh {
            let row = Row::new(&map, i);
            let (u, v): (Vec<f64>, Vec<f64>) = (0..ow).map(|j| row.at(j)).unzip();
            want.extend(spec(kind, &src, &u, &v));
        }
        for isa in Isa::supported() {
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
