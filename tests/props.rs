//! Property tests of the warp engine and the matrix algebra.

use proptest::prelude::*;
use stn::warp::Isa;
use stn::{Affine, Padding, Size, WarpOptions};

use crate::util::{self, warp};

/// Any finite number, including huge and tiny magnitudes.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        -3.0..3.0f64,
        -1e6..1e6f64,
        Just(0.0),
        Just(1e300),
        Just(-1e300),
        Just(1e-300),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The identity theta returns the input exactly, for every kernel and padding.
    #[test]
    fn identity_is_exact(w in 1usize..24, h in 1usize..24, c in 1usize..=4, seed: u64, opts in util::options(1)) {
        let src: Vec<u8> = (0..w * h * c)
            .map(|i| (seed.wrapping_mul(i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        let out = warp(&src, (w, h, c), (w, h), &Affine::IDENTITY, &opts, Isa::detect());
        prop_assert_eq!(out, src);
    }

    /// No panic for any finite theta and any sizes, zero sizes included.
    #[test]
    fn never_panics(
        w in 0usize..9, h in 0usize..9, ow in 0usize..9, oh in 0usize..9, c in 1usize..=4,
        m in proptest::array::uniform6(wild()), opts in util::options(1),
    ) {
        let src = vec![200u8; w * h * c];
        let out = warp(&src, (w, h, c), (ow, oh), &Affine(m), &opts, Isa::detect());
        prop_assert_eq!(out.len(), ow * oh * c);
    }

    /// theta → pixel matrix → theta is the identity, for every size and alignment.
    #[test]
    fn matrix_conversion_round_trips(
        m in proptest::array::uniform6(-2.0..2.0f64),
        w in 1u32..500, h in 1u32..500, ow in 1u32..500, oh in 1u32..500, ac: bool,
    ) {
        let theta = Affine(m);
        prop_assume!(theta.det().abs() > 1e-3);
        let (input, output) = (Size::new(w, h), Size::new(ow, oh));
        let px = Affine::pixel_matrix_from_theta(&theta, input, output, ac, "t").unwrap();
        let back = Affine::theta_from_pixel_matrix(&px, input, output, ac, "m").unwrap();
        for (a, b) in back.0.iter().zip(&theta.0) {
            prop_assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{:?} vs {:?}", back, theta);
        }
    }

    /// Inversion and composition: m ∘ m⁻¹ is the identity.
    #[test]
    fn invert_compose(m in proptest::array::uniform6(-100.0..100.0f64)) {
        let a = Affine(m);
        prop_assume!(a.det().abs() > 1e-2);
        let i = a.invert("m").unwrap();
        let id = a.compose(&i);
        for (x, y) in id.0.iter().zip(&Affine::IDENTITY.0) {
            prop_assert!((x - y).abs() < 1e-8);
        }
    }
}

/// An output lying entirely outside the input is all zeros with zero padding,
/// and the edge colour with border padding.
#[test]
fn output_entirely_outside() {
    let src = vec![7u8, 9, 11, 13];
    let far = Affine([1.0, 0.0, 50.0, 0.0, 1.0, 0.0]);
    let zeros = warp(
        &src,
        (2, 2, 1),
        (3, 3),
        &far,
        &WarpOptions::default(),
        Isa::detect(),
    );
    assert_eq!(zeros, vec![0; 9]);
    let border = WarpOptions {
        padding: Padding::Border,
        ..Default::default()
    };
    let edge = warp(&src, (2, 2, 1), (3, 3), &far, &border, Isa::detect());
    // Column u is far right → clipped to column 1; rows v = -1/6, 1/2, 7/6 →
    // clipped 0, halfway, clipped 1 (worked by hand from grid_sample's formulas).
    assert_eq!(edge, vec![9, 9, 9, 11, 11, 11, 13, 13, 13]);
}

/// A large image warped with 1 thread and with many gives the same bytes.
#[test]
fn threads_do_not_change_the_result() {
    let (w, h) = (301, 257);
    let src: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
    let theta = Affine([0.9, -0.25, 0.05, 0.25, 0.9, -0.03]);
    let opts = WarpOptions::default();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let a = one.install(|| warp(&src, (w, h, 3), (400, 300), &theta, &opts, Isa::detect()));
    let b = four.install(|| warp(&src, (w, h, 3), (400, 300), &theta, &opts, Isa::detect()));
    assert!(a == b);
}

/// Pseudo-random 8-bit samples.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    (0..n)
        .map(|i| {
            (seed
                .wrapping_mul(i as u64 + 1)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                >> 56) as u8
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A homography whose third row is exactly (0, 0, 1) gives the affine
    /// theta's bytes, for every kernel, padding and kernel family.
    #[test]
    fn projective_with_affine_third_row_is_the_affine_warp(
        w in 1usize..30, h in 1usize..30, ow in 1usize..30, oh in 1usize..30, c in 1usize..=4,
        m in proptest::array::uniform6(-1.5..1.5f64), seed: u64, opts in util::options(3),
    ) {
        let src = noise(w * h * c, seed);
        let theta = Affine(m);
        let h3 = stn::Homography([m[0], m[1], m[2], m[3], m[4], m[5], 0.0, 0.0, 1.0]);
        for isa in Isa::supported() {
            let a = warp(&src, (w, h, c), (ow, oh), &theta, &opts, isa);
            let p = util::warp_t(&src, (w, h, c), (ow, oh), &h3.into(), &opts, isa);
            prop_assert_eq!(a, p);
        }
    }

    /// A thin-plate spline whose source points equal its target points is the
    /// identity: the input comes back exactly.
    #[test]
    fn tps_with_source_equal_target_is_the_identity(
        w in 1usize..24, h in 1usize..24, c in 1usize..=4, seed: u64, opts in util::options(3),
        pts in proptest::collection::vec((-1.0..1.0f64, -1.0..1.0f64), 3..12),
    ) {
        let target: Vec<[f64; 2]> = pts.iter().map(|&(x, y)| [x, y]).collect();
        let t = stn::Tps::new(target.clone(), target, 0.0, None, "t");
        prop_assume!(t.is_ok());
        let t: stn::Transform = t.unwrap().into();
        let src = noise(w * h * c, seed);
        for isa in Isa::supported() {
            let out = util::warp_t(&src, (w, h, c), (w, h), &t, &opts, isa);
            prop_assert_eq!(&out, &src);
        }
    }

    /// A thin-plate spline through three points is the affine map through
    /// them: within one grey level of the theta's warp (last-bit differences
    /// of the solve may move a rounding), and the SIMD kernels agree with the
    /// scalar spec on non-affine grids within one grey level.
    #[test]
    fn tps_through_three_points_is_affine(
        w in 2usize..30, h in 2usize..30, ow in 1usize..30, oh in 1usize..30, c in 1usize..=4,
        m in proptest::array::uniform6(-1.5..1.5f64), seed: u64, opts in util::options(3),
    ) {
        let theta = Affine(m);
        prop_assume!(theta.det().abs() > 0.05);
        let target = vec![[-0.8, -0.7], [0.9, -0.4], [0.1, 0.85]];
        let source = target.iter().map(|p| { let (x, y) = theta.apply(p[0], p[1]); [x, y] }).collect();
        let tps = stn::Tps::new(target, source, 0.0, None, "t").unwrap();
        let src = noise(w * h * c, seed);
        let a = warp(&src, (w, h, c), (ow, oh), &theta, &opts, Isa::Scalar);
        let t = util::warp_t(&src, (w, h, c), (ow, oh), &tps.into(), &opts, Isa::Scalar);
        let worst = a.iter().zip(&t).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        prop_assert!(worst <= 1, "max diff {}", worst);
        let differing = a.iter().zip(&t).filter(|(x, y)| x != y).count();
        prop_assert!(differing * 50 <= a.len().max(50), "{} of {} differ", differing, a.len());
    }

    /// Every kernel family on a strongly projective grid (points behind the
    /// camera included) stays within one grey level of the scalar spec.
    #[test]
    fn simd_kernels_agree_with_the_spec_on_projective_grids(
        w in 2usize..40, h in 2usize..40, ow in 1usize..200, oh in 1usize..6, c in 1usize..=4,
        m in proptest::array::uniform9(-1.2..1.2f64), seed: u64, opts in util::options(6),
    ) {
        let mut m = m;
        m[8] = 1.0;
        let hom = stn::Homography(m);
        prop_assume!(hom.check_usable("t").is_ok());
        let src = noise(w * h * c, seed);
        let spec = util::warp_t(&src, (w, h, c), (ow, oh), &hom.into(), &opts, Isa::Scalar);
        for isa in Isa::supported() {
            let got = util::warp_t(&src, (w, h, c), (ow, oh), &hom.into(), &opts, isa);
            let worst = got.iter().zip(&spec).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
            prop_assert!(worst <= 1, "{} max diff {}", isa, worst);
        }
    }
}
