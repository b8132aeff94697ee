//! The transform families end to end through real ONNX models: the five
//! reference localisation nets of `models/tps/make_models.py` (clovaai's
//! TPS, ASTER's TPS, projective, attention, two-part affine), whose PyTorch
//! rectified outputs `stn rectify --model` must reproduce within one grey
//! level, and whose onnxruntime predictions `stn predict` must report.

use std::collections::BTreeMap;
use std::fs;

use serde::Deserialize;
use serde_json::Value;

use crate::golden::samples;
use crate::util::{self, Env};

#[derive(Deserialize)]
struct Fixture {
    models: BTreeMap<String, Model>,
}

#[derive(Deserialize)]
struct Model {
    onnx: String,
    metadata: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    input: String,
    expected: Vec<String>,
    prediction: Vec<f64>,
}

fn fixture() -> Fixture {
    let text = fs::read_to_string(util::repo().join("tests/fixtures/models/cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn dir() -> std::path::PathBuf {
    util::repo().join("tests/fixtures/models")
}

fn file_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap()
}

/// Copies the model's fixture inputs into `env/in_NAME`; returns that folder
/// and the model's file.
fn inputs(env: &Env, name: &str, model: &Model) -> (String, String) {
    let input = format!("in_{name}");
    fs::create_dir_all(env.path(&input)).unwrap();
    let base = dir().join(name);
    for case in &model.cases {
        fs::copy(
            base.join(&case.input),
            env.path(&input).join(file_name(&case.input)),
        )
        .unwrap();
    }
    let onnx = dir().join(&model.onnx).to_str().unwrap().to_string();
    (input, onnx)
}

/// Rectifies each model's inputs and compares with PyTorch's outputs.
#[test]
fn rectify_reproduces_pytorch_for_every_family() {
    let f = fixture();
    assert_eq!(f.models.len(), 5);
    let env = Env::new();
    let mut failures = Vec::new();
    for (name, model) in &f.models {
        let (input, onnx) = inputs(&env, name, model);
        let (out, base) = (format!("out_{name}"), dir().join(name));
        let overlay = format!("overlay_{name}");
        env.assert_ok(&[
            "rectify",
            &input,
            "-o",
            &out,
            "--model",
            &onnx,
            "--overlay",
            &overlay,
        ]);
        // One overlay per input, with the sampled region(s) drawn in red
        // (ASTER's samples the whole crop and a little beyond: its outline
        // lies outside the image, so nothing shows).
        for case in model.cases.iter().filter(|_| name != "aster") {
            let o = util::load(&env.path(&overlay).join(file_name(&case.input))).to_rgb8();
            let red = o.pixels().filter(|p| p.0 == [255, 32, 32]).count();
            assert!(red > 20, "{name} {}: {red} red pixels", case.input);
        }
        for case in &model.cases {
            for expected in &case.expected {
                let want = samples(&util::load(&base.join(expected)));
                let got = samples(&util::load(&env.path(&out).join(file_name(expected))));
                assert_eq!(got.len(), want.len(), "{name} {expected}: size");
                let max = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| a.abs_diff(*b))
                    .max()
                    .unwrap_or(0);
                if max > 1 {
                    failures.push(format!("{name} {expected}: max diff {max}"));
                }
            }
        }
        // Nothing else is written: one output per part.
        let n: usize = model.cases.iter().map(|c| c.expected.len()).sum();
        assert_eq!(fs::read_dir(env.path(&out)).unwrap().count(), n, "{name}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `stn predict` reports the model's own predictions, in each family's line
/// form, and `stn warp --thetas` with the model's sampling flags reproduces
/// the rectified outputs byte for byte.
#[test]
fn predict_lines_carry_each_family_and_apply_back() {
    let f = fixture();
    let env = Env::new();
    for (name, model) in &f.models {
        let (input, onnx) = inputs(&env, name, model);
        let onnx = onnx.as_str();
        let out = env.assert_ok(&["predict", &input, "--model", onnx]);
        let lines: Vec<Value> = util::json_lines(&String::from_utf8(out.stdout).unwrap());
        let parts: usize = model
            .metadata
            .get("stn.parts")
            .map_or(1, |p| p.parse().unwrap());
        assert_eq!(lines.len(), model.cases.len() * parts, "{name}");
        let family = model.metadata["stn.transform"].as_str();
        let unit = model.metadata.get("stn.tps.range").map(String::as_str) == Some("0,1");
        for case in &model.cases {
            let stem = file_name(&case.input).trim_end_matches(".png");
            let mine: Vec<&Value> = lines
                .iter()
                .filter(|l| {
                    l["path"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("/{stem}.png"))
                })
                .collect();
            assert_eq!(mine.len(), parts, "{name} {stem}");
            let mut got: Vec<f64> = Vec::new();
            for l in &mine {
                match family {
                    "affine" => got.extend(util::numbers(&l["theta"])),
                    "attention" => {
                        let t = util::numbers(&l["theta"]);
                        assert_eq!((t[1], t[3], t[0]), (0.0, 0.0, t[4]), "{name}: {t:?}");
                        got.extend([t[0], t[2], t[5]]);
                    }
                    "projective" => {
                        let h = util::numbers(&l["homography"]);
                        assert_eq!(h[8], 1.0);
                        got.extend(&h[..8]);
                    }
                    "tps" => {
                        let s = util::numbers(&l["tps"]["source"]);
                        got.extend(s.iter().map(|p| if unit { (p + 1.0) / 2.0 } else { *p }));
                    }
                    other => panic!("{other}"),
                }
            }
            assert_eq!(got.len(), case.prediction.len(), "{name} {stem}");
            for (g, w) in got.iter().zip(&case.prediction) {
                assert!(
                    (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
                    "{name} {stem}: {got:?} vs {:?}",
                    case.prediction
                );
            }
        }
        // Rectify with thetas, then apply the thetas with the model's sampling flags.
        let (rect, thetas, applied) = (
            format!("rect_{name}"),
            format!("{name}.jsonl"),
            format!("applied_{name}"),
        );
        env.assert_ok(&[
            "rectify", &input, "-o", &rect, "--model", onnx, "--thetas", &thetas,
        ]);
        let mut args = vec!["warp", "--thetas", &thetas, "-o", &applied];
        let padding = model
            .metadata
            .get("stn.padding")
            .cloned()
            .unwrap_or("zeros".into());
        args.extend(["--padding", &padding]);
        if model.metadata.get("stn.align_corners").map(String::as_str) == Some("true") {
            args.push("--align-corners");
        }
        env.assert_ok(&args);
        let mut names: Vec<_> = fs::read_dir(env.path(&rect))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names.len(), model.cases.len() * parts);
        for n in names {
            let a = fs::read(env.path(&rect).join(&n)).unwrap();
            let b = fs::read(env.path(&applied).join(&n)).unwrap();
            assert!(
                a == b,
                "{name}: {n:?} differs between rectify and warp --thetas"
            );
        }
    }
}

/// `stn model info` names the family, K or M, and the conventions.
#[test]
fn model_info_shows_the_family() {
    let env = Env::new();
    for (name, want) in [
        ("clovaai", ["family tps", "K = 20", "eps 1e-6"]),
        ("aster", ["family tps", "points in [0, 1]", "grid corners"]),
        ("parts2", ["family affine", "2 parts", "padding zeros"]),
    ] {
        let onnx = dir().join(name).join(format!("{name}.onnx"));
        let out = env.assert_ok(&["model", "info", onnx.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).unwrap();
        for w in want {
            assert!(text.contains(w), "{name}: {text} lacks {w:?}");
        }
    }
}

/// A multi-part model's shards own whole inputs: both parts of an image land
/// in the same shard, and the shards together write what one run writes.
#[test]
fn shards_of_a_multi_part_model_keep_parts_together() {
    let f = fixture();
    let model = &f.models["parts2"];
    let env = Env::new();
    fs::create_dir_all(env.path("in")).unwrap();
    let base = dir().join("parts2");
    // More inputs than the fixture has: copies under other names.
    for k in 0..12 {
        let case = &model.cases[k % model.cases.len()];
        fs::copy(
            base.join(&case.input),
            env.path("in").join(format!("img{k}.png")),
        )
        .unwrap();
    }
    let onnx = dir().join(&model.onnx);
    let onnx = onnx.to_str().unwrap();
    env.assert_ok(&["rectify", "in", "-o", "whole", "--model", onnx]);
    for s in ["0/2", "1/2"] {
        env.assert_ok(&[
            "rectify", "in", "-o", "sharded", "--model", onnx, "--shard", s,
        ]);
        let mut names: Vec<String> = fs::read_dir(env.path("sharded"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in &names {
            let other = if n.contains(".0.") {
                n.replace(".0.", ".1.")
            } else {
                n.replace(".1.", ".0.")
            };
            assert!(
                names.contains(&other),
                "{n} without {other} after shard {s}"
            );
        }
    }
    let list = |d: &str| {
        let mut v: Vec<_> = fs::read_dir(env.path(d))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(list("whole"), list("sharded"));
    assert_eq!(list("whole").len(), 24);
    for n in list("whole") {
        assert_eq!(
            fs::read(env.path("whole").join(&n)).unwrap(),
            fs::read(env.path("sharded").join(&n)).unwrap()
        );
    }
}
