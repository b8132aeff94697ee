//! Golden tests of the projective and thin-plate-spline families against
//! PyTorch: `tests/fixtures/transforms/cases.json`, written by
//! `tests/fixtures/transforms/gen.py` (float64 base grid, `H·p` and divide or
//! the TPS solve, then `grid_sample`). Same tolerances as the affine golden
//! set: bilinear and bicubic within 1 grey level, nearest ties only.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use stn::warp::Isa;
use stn::{Homography, ImageMut, ImageRef, Size, Tps, Transform, WarpOptions};

use crate::golden::{join, samples, to_image, warp_case, Input};
use crate::util::{self, Env};

#[derive(Deserialize)]
struct Fixture {
    generator: String,
    inputs: HashMap<String, Input>,
    cases: Vec<Case>,
}

#[derive(Deserialize, Clone)]
struct TpsPoints {
    target: Vec<[f64; 2]>,
    source: Vec<[f64; 2]>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: String,
    family: String,
    homography: Option<[f64; 9]>,
    perspective: Option<[f64; 9]>,
    corners: Option<[f64; 8]>,
    tps: Option<TpsPoints>,
    out_width: usize,
    out_height: usize,
    interp: String,
    padding: String,
    align_corners: bool,
    expected: Vec<u32>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let path = util::repo().join("tests/fixtures/transforms/cases.json");
        let text = std::fs::read_to_string(&path).expect("read cases.json");
        serde_json::from_str(&text).expect("parse cases.json")
    })
}

impl Case {
    fn options(&self) -> WarpOptions {
        crate::golden::options(&self.interp, &self.padding, self.align_corners)
    }

    /// The transform as the command line would build it from the case's
    /// own parameters (pixel matrix, corners, points), not from the
    /// fixture's derived `homography`, except for `homography` cases.
    fn transform(&self, input: &Input) -> Transform {
        let (i, o) = (
            Size::new(input.width as u32, input.height as u32),
            Size::new(self.out_width as u32, self.out_height as u32),
        );
        let ac = self.align_corners;
        match self.family.as_str() {
            "homography" => Homography(self.homography.unwrap()).into(),
            "perspective" => {
                Homography::from_pixel_matrix(&Homography(self.perspective.unwrap()), i, o, ac, "t")
                    .unwrap()
                    .into()
            }
            "corners" => Homography::from_corners(&self.corners.unwrap(), i, o, ac, "t")
                .unwrap()
                .into(),
            "tps" => {
                let t = self.tps.clone().unwrap();
                Tps::new(t.target, t.source, 0.0, None, "t").unwrap().into()
            }
            f => panic!("family {f}"),
        }
    }

    /// `got` judged as the golden set.
    fn judge(&self, got: &[u32]) -> Result<(), String> {
        crate::golden::judge_samples(&self.name, &self.interp, got, &self.expected)
    }
}

fn run_library(case: &Case, isa: Isa) -> Vec<u32> {
    let input = &fixture().inputs[&case.input];
    let t = case.transform(input);
    match input.depth {
        8 => warp::<u8>(input, case, &t, isa),
        16 => warp::<u16>(input, case, &t, isa),
        d => panic!("depth {d}"),
    }
}

fn warp<T: stn::warp::Sample + Into<u32> + TryFrom<u32>>(
    input: &Input,
    case: &Case,
    t: &Transform,
    isa: Isa,
) -> Vec<u32>
where
    <T as TryFrom<u32>>::Error: std::fmt::Debug,
{
    let src: Vec<T> = input
        .data
        .iter()
        .map(|&v| T::try_from(v).unwrap())
        .collect();
    let mut dst = vec![T::default(); case.out_width * case.out_height * input.channels];
    stn::warp::warp_into_with(
        ImageRef {
            data: &src,
            width: input.width,
            height: input.height,
            channels: input.channels,
        },
        ImageMut {
            data: &mut dst,
            width: case.out_width,
            height: case.out_height,
            channels: input.channels,
        },
        t,
        &case.options(),
        isa,
    );
    dst.into_iter().map(Into::into).collect()
}

#[test]
fn fixture_covers_every_family_kernel_padding_and_alignment() {
    let f = fixture();
    assert!(f.generator.contains("torch"), "{}", f.generator);
    for family in ["homography", "tps"] {
        for interp in ["bilinear", "nearest", "bicubic"] {
            for padding in ["zeros", "border", "reflection"] {
                for ac in [false, true] {
                    let n = f
                        .cases
                        .iter()
                        .filter(|c| {
                            c.family == family
                                && c.interp == interp
                                && c.padding == padding
                                && c.align_corners == ac
                        })
                        .count();
                    assert!(n >= 5, "{family} {interp}/{padding}/{ac}: {n} cases");
                }
            }
        }
    }
    for family in ["perspective", "corners"] {
        assert!(f.cases.iter().filter(|c| c.family == family).count() >= 10);
    }
}

/// Every case through the library with every kernel family this CPU has.
#[test]
fn library_matches_pytorch_with_every_kernel() {
    let f = fixture();
    let mut failures = Vec::new();
    for isa in Isa::supported() {
        for case in &f.cases {
            if let Err(e) = case.judge(&run_library(case, isa)) {
                failures.push(format!("{isa}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The derived `homography` of perspective and corners cases is what stn
/// computes from the pixel matrix or the corners.
#[test]
fn conversions_match_the_fixture() {
    for case in fixture()
        .cases
        .iter()
        .filter(|c| matches!(c.family.as_str(), "perspective" | "corners"))
    {
        let input = &fixture().inputs[&case.input];
        let Transform::Projective(h) = case.transform(input) else {
            panic!("not projective")
        };
        let want = case.homography.unwrap();
        // Up to scale: compare after dividing by the largest entry.
        let norm = |v: &[f64; 9]| {
            let m = v
                .iter()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { *x } else { m });
            v.map(|x| x / m)
        };
        let (a, b) = (norm(&h.0), norm(&want));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-9, "{}: {a:?} vs {b:?}", case.name);
        }
    }
}

/// Every case through the real binary: `--homography`, `--perspective`,
/// `--corners` (with `--size`) and `--tps FILE`, and every TPS case once
/// more as a theta-file line (`stn warp --thetas`).
#[test]
fn binary_matches_pytorch() {
    let f = fixture();
    let env = Env::new();
    for (name, input) in &f.inputs {
        util::save_png(&to_image(input), &env.path(&format!("{name}.png")));
    }
    let mut failures = Vec::new();
    // TPS cases as theta-file lines, one file per sampling combination.
    let mut lines: HashMap<(String, String, bool), String> = HashMap::new();
    for (k, case) in f.cases.iter().enumerate() {
        let input = &f.inputs[&case.input];
        let src = format!("{}.png", case.input);
        let out = format!("out{k}.png");
        let flag = match case.family.as_str() {
            "homography" => format!("--homography={}", join(&case.homography.unwrap())),
            "perspective" => format!("--perspective={}", join(&case.perspective.unwrap())),
            "corners" => format!("--corners={}", join(&case.corners.unwrap())),
            "tps" => {
                let t = case.tps.as_ref().unwrap();
                let file = format!("tps{k}.json");
                let json = serde_json::json!({"target": t.target, "source": t.source});
                std::fs::write(env.path(&file), json.to_string()).unwrap();
                let group = lines
                    .entry((
                        case.interp.clone(),
                        case.padding.clone(),
                        case.align_corners,
                    ))
                    .or_default();
                group.push_str(
                    &serde_json::json!({
                        "path": src,
                        "tps": {"target": t.target, "source": t.source},
                        "output": format!("{}.png", case.name),
                        "size": [case.out_width, case.out_height],
                    })
                    .to_string(),
                );
                group.push('\n');
                format!("--tps={file}")
            }
            other => panic!("{other}"),
        };
        let img = warp_case(
            &env,
            &flag,
            input,
            (case.out_width, case.out_height),
            (&case.interp, &case.padding, case.align_corners),
            (&src, &out),
            &case.name,
        );
        if let Err(e) = case.judge(&samples(&img)) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (g, ((interp, padding, ac), text)) in lines.iter().enumerate() {
        let (file, dir) = (format!("lines{g}.jsonl"), format!("lines{g}"));
        std::fs::write(env.path(&file), text).unwrap();
        let mut args = vec![
            "warp",
            "--thetas",
            &file,
            "-o",
            &dir,
            "--interp",
            interp,
            "--padding",
            padding,
        ];
        if *ac {
            args.push("--align-corners");
        }
        env.assert_ok(&args);
    }
    for case in f.cases.iter().filter(|c| c.family == "tps") {
        let g = lines
            .keys()
            .position(|k| {
                *k == (
                    case.interp.clone(),
                    case.padding.clone(),
                    case.align_corners,
                )
            })
            .unwrap();
        let img = util::load(&env.path(&format!("lines{g}/{}.png", case.name)));
        if let Err(e) = case.judge(&samples(&img)) {
            failures.push(format!("thetas line: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
