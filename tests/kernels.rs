//! Every SIMD kernel against the scalar spec and against PyTorch.
//!
//! The SIMD bilinear kernels (`u8`, 1 to 4 channels) use 11-bit fixed-point
//! weights, the AVX2 bicubic kernel 14-bit integer rows, and must stay within
//! 1 grey level of the scalar sampler (the spec) and of PyTorch's float64
//! golden outputs; the SIMD nearest kernels, the AVX-512 bicubic kernel, and
//! every case that falls back to the spec, must be bit-identical. Each test loops over
//! `Isa::supported()`, so on a machine without AVX-512 (or with
//! `STN_KERNEL=scalar` for the default path) it tests what can run.

use proptest::prelude::*;
use stn::warp::{warp_into_with, Isa};
use stn::{Affine, ImageMut, ImageRef, Interp, Padding, WarpOptions};

use crate::golden;
use crate::util::{self, warp};

/// `(max |a - b|, number of differing samples)`.
fn diff(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0, 0), |(m, n), (x, y)| {
        (m.max(x.abs_diff(*y)), n + usize::from(x != y))
    })
}

/// Rotation by `deg`, scale `s`, translation `(tx, ty)`, normalised (output → input).
fn rts(deg: f64, s: f64, tx: f64, ty: f64) -> Affine {
    let (sin, cos) = deg.to_radians().sin_cos();
    Affine([s * cos, -s * sin, tx, s * sin, s * cos, ty])
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}

/// A theta: mostly rotation/scale/translation of any angle, sometimes any matrix.
fn theta() -> impl Strategy<Value = Affine> {
    prop_oneof![
        3 => (0.0..360.0f64, 0.2..3.0f64, -1.5..1.5f64, -1.5..1.5f64)
            .prop_map(|(d, s, x, y)| rts(d, s, x, y)),
        1 => proptest::array::uniform6(-2.5..2.5f64).prop_map(Affine),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Every supported kernel is within 1 grey level of the scalar spec
    /// (bit-identical where it is exact or falls back to the spec), for random sizes,
    /// channel counts, thetas, paddings and alignments.
    #[test]
    fn every_kernel_is_within_one_level_of_scalar(
        w in 1usize..80, h in 1usize..60, ow in 1usize..90, oh in 1usize..50,
        c in 1usize..=4, seed: u64, theta in theta(), opts in util::options(6),
    ) {
        let src = noise(w * h * c, seed);
        let spec = warp(&src, (w, h, c), (ow, oh), &theta, &opts, Isa::Scalar);
        for isa in Isa::supported() {
            let got = warp(&src, (w, h, c), (ow, oh), &theta, &opts, isa);
            let (max, _) = diff(&got, &spec);
            // Fixed-point: bilinear everywhere, bicubic on AVX2.
            let fixed = opts.interp == Interp::Bilinear
                || (opts.interp == Interp::Bicubic && isa == Isa::Avx2);
            prop_assert!(max <= u8::from(fixed), "{isa}: max diff {max}, {theta:?} {opts:?}");
        }
    }
}

/// Nearest at exact rounding ties (a 2× reduction without align_corners puts
/// every point at k + ½; a half-pixel shift too; a 2× enlargement with
/// align_corners every other point), rotated by quarter turns, for every
/// padding, alignment and layout, on outputs wide enough for the span
/// search: every kernel gives the spec's bytes.
#[test]
fn nearest_equals_the_spec_at_ties() {
    let quarter = |k: usize, s: f64, tx: f64, ty: f64| {
        let (sin, cos) = [(0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)][k % 4];
        Affine([s * cos, -s * sin, tx, s * sin, s * cos, ty])
    };
    let cases = [
        // (input w, h), (output w, h), theta, align_corners
        ((512, 256), (256, 128), quarter(0, 1.0, 0.0, 0.0), false),
        (
            (300, 300),
            (300, 300),
            quarter(1, 1.0, 1.0 / 300.0, 0.0),
            false,
        ),
        (
            (256, 256),
            (256, 256),
            quarter(2, 1.0, 1.0 / 256.0, -1.0 / 256.0),
            false,
        ),
        ((150, 140), (299, 279), quarter(0, 1.0, 0.0, 0.0), true),
        ((160, 160), (319, 319), quarter(3, 1.0, 0.0, 0.0), true),
        ((200, 150), (250, 200), quarter(1, 1.25, 0.1, -0.2), true),
    ];
    for c in 1..=4 {
        for (k, &((w, h), (ow, oh), theta, align_corners)) in cases.iter().enumerate() {
            let src = noise(w * h * c, (k * 4 + c) as u64);
            for padding in [Padding::Zeros, Padding::Border, Padding::Reflection] {
                let opts = WarpOptions {
                    interp: Interp::Nearest,
                    padding,
                    align_corners,
                };
                let spec = warp(&src, (w, h, c), (ow, oh), &theta, &opts, Isa::Scalar);
                for isa in Isa::supported() {
                    let got = warp(&src, (w, h, c), (ow, oh), &theta, &opts, isa);
                    let (max, n) = diff(&got, &spec);
                    assert!(max == 0, "{isa} C={c} case {k} {opts:?}: {n} differ");
                }
            }
        }
    }
}

/// 16-bit images have no SIMD kernels: every ISA gives the spec's bits.
#[test]
fn sixteen_bit_falls_back_to_the_spec() {
    let (w, h) = (97, 61);
    let src: Vec<u16> = noise(w * h * 6, 7)
        .chunks(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let theta = rts(33.0, 0.8, 0.1, -0.2);
    let run = |isa| {
        let mut dst = vec![0u16; 80 * 70 * 3];
        warp_into_with(
            ImageRef {
                data: &src,
                width: w,
                height: h,
                channels: 3,
            },
            ImageMut {
                data: &mut dst,
                width: 80,
                height: 70,
                channels: 3,
            },
            &theta.into(),
            &WarpOptions::default(),
            isa,
        );
        dst
    };
    let spec = run(Isa::Scalar);
    for isa in Isa::supported() {
        assert!(run(isa) == spec, "{isa}");
    }
}

/// Large images, every 15° of rotation, each channel count and padding, at 1
/// and 2 threads: within 1 level of the spec, and few samples differ at all.
#[test]
fn large_rotations_stay_within_one_level() {
    let (w, h) = (331, 217);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for c in 1..=4 {
        let src = noise(w * h * c, c as u64);
        for padding in [Padding::Zeros, Padding::Border, Padding::Reflection] {
            let opts = WarpOptions {
                padding,
                ..Default::default()
            };
            for step in 0..24 {
                let theta = rts(f64::from(step) * 15.0, 1.1, 0.07, -0.05);
                let spec = warp(&src, (w, h, c), (300, 260), &theta, &opts, Isa::Scalar);
                for isa in Isa::supported() {
                    for pool in [&one, &two] {
                        let got =
                            pool.install(|| warp(&src, (w, h, c), (300, 260), &theta, &opts, isa));
                        let (max, n) = diff(&got, &spec);
                        assert!(max <= 1, "{isa} C={c} {padding:?} {step}: max {max}");
                        // The fixed-point error is ≤ 0.125 level: a sample differs only
                        // when the exact value lies that close to a rounding boundary.
                        assert!(n * 4 < got.len(), "{isa} C={c}: {n} differ");
                    }
                }
            }
        }
    }
}

/// The full golden set passes with every kernel forced; prints each kernel's
/// largest difference from PyTorch on the cases its SIMD path serves.
#[test]
fn golden_cases_pass_with_every_kernel() {
    let f = golden::fixture();
    let mut failures = Vec::new();
    for isa in Isa::supported() {
        let mut worst = 0;
        for case in &f.cases {
            let got = golden::run_case(case, isa);
            if let Err(e) = golden::judge(case, &got) {
                failures.push(format!("{isa}: {e}"));
            }
            if case.interp == "bilinear" {
                let max = got
                    .iter()
                    .zip(&case.expected)
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap_or(0);
                worst = worst.max(max);
            }
        }
        eprintln!("{isa}: max bilinear difference from PyTorch {worst}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The 28×28 gray batch shape (tiny images, each its own theta, rows shorter
/// than a SIMD step's multiple): within 1 level of the spec for every kernel.
#[test]
fn tiny_gray_images_with_own_thetas() {
    let src = noise(28 * 28 * 64, 5);
    for isa in Isa::supported() {
        let mut worst = 0;
        for (i, img) in src.chunks(784).enumerate() {
            let theta = rts(
                (i * 37 % 360) as f64,
                0.7 + (i % 7) as f64 * 0.1,
                0.05,
                -0.1,
            );
            let opts = WarpOptions::default();
            let spec = warp(img, (28, 28, 1), (28, 28), &theta, &opts, Isa::Scalar);
            let got = warp(img, (28, 28, 1), (28, 28), &theta, &opts, isa);
            worst = worst.max(diff(&got, &spec).0);
        }
        assert!(worst <= 1, "{isa}: {worst}");
    }
}
