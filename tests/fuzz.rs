//! Property tests at scale (issue 6): parsers and the sampler never panic on
//! arbitrary input. CI runs a few hundred cases each; for a long run:
//! `PROPTEST_CASES=100000 cargo test --release --test tests fuzz`.

use std::path::Path;

use proptest::prelude::*;
use stn::{Affine, ImageMut, ImageRef, Interp, Padding, WarpOptions};

/// Any f64 at all: NaN, infinities, subnormals, huge and tiny.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(-0.0),
        -4.0..4.0f64,
    ]
}

fn options() -> impl Strategy<Value = WarpOptions> {
    (0..3u8, 0..3u8, any::<bool>()).prop_map(|(i, p, align_corners)| WarpOptions {
        interp: [Interp::Bilinear, Interp::Nearest, Interp::Bicubic][i as usize],
        padding: [Padding::Zeros, Padding::Border, Padding::Reflection][p as usize],
        align_corners,
    })
}

/// Text that looks like JSON lines some of the time.
fn jsonish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\n".to_string()),
        Just("\"path\"".to_string()),
        Just("\"theta\"".to_string()),
        Just("\"size\"".to_string()),
        Just("\"output\"".to_string()),
        Just("null".to_string()),
        Just("1e999".to_string()),
        Just("-0".to_string()),
        "\"[a-z./]{0,8}\"",
        any::<f64>().prop_map(|v| format!("{v:?}")),
        any::<i64>().prop_map(|v| v.to_string()),
        ".{0,4}",
    ];
    proptest::collection::vec(atom, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn theta_text_never_panics(text in ".{0,64}") {
        let _ = Affine::parse(&text, "--theta");
    }

    #[test]
    fn theta_numbers_parse_or_explain(v in proptest::array::uniform6(any_f64())) {
        let text = v.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(",");
        match Affine::parse(&text, "--theta") {
            Ok(a) => prop_assert!(a.0.iter().all(|x| x.is_finite())),
            Err(e) => prop_assert!(e.to_string().contains("finite")),
        }
    }

    #[test]
    fn matrix_inversion_never_panics(v in proptest::array::uniform6(any_f64())) {
        if let Ok(i) = Affine(v).invert("m") {
            prop_assert!(i.0.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn theta_lines_never_panic(text in jsonish()) {
        for line in stn::thetas::parse(&text, Path::new("t.jsonl")).into_iter().flatten() {
            if let stn::Transform::Affine(a) = line.transform {
                prop_assert!(a.0.iter().all(|x| x.is_finite()));
            }
        }
    }

    /// The sampler with any theta (NaN and infinities included) and any small sizes.
    #[test]
    fn sampler_never_panics(
        w in 0usize..12, h in 0usize..12, ow in 0usize..12, oh in 0usize..12, c in 1usize..=4,
        m in proptest::array::uniform6(any_f64()), opts in options(),
    ) {
        let src: Vec<u16> = (0..w * h * c).map(|i| (i * 4099) as u16).collect();
        let mut dst = vec![0u16; ow * oh * c];
        stn::warp_into(
            ImageRef { data: &src, width: w, height: h, channels: c },
            ImageMut { data: &mut dst, width: ow, height: oh, channels: c },
            &Affine(m).into(),
            &opts,
        );
    }

    /// Arbitrary bytes, and PNG/JPEG files with bytes flipped or cut, never panic the decoder.
    #[test]
    fn decoder_never_panics(
        which in 0usize..3, cut in 0usize..2000, flips in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = match which {
            0 => std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/samples/mnist/d0_058.png")).unwrap(),
            1 => std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/truncated.jpg")).unwrap(),
            _ => noise,
        };
        for (at, v) in flips {
            if !bytes.is_empty() {
                let n = bytes.len();
                bytes[at % n] = v;
            }
        }
        bytes.truncate(cut.max(1));
        let _ = stn::codec::decode(&bytes, 1 << 20);
    }
}
