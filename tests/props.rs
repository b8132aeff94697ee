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
