//! `stn rectify`, `stn predict`, `stn warp --thetas` and `stn model info` with
//! the real ONNX Runtime library and the shipped model.
//!
//! These need `libonnxruntime.so.1.31.1`: `build.rs` fetches it with pip, and
//! `.ci/run` makes sure it is there, so they never skip in CI.

use std::fs;
use std::path::Path;

use serde::Deserialize;

use crate::util::{self, Env};

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<VectorCase>,
    batch: BatchCase,
}

#[derive(Deserialize)]
struct VectorCase {
    file: String,
    theta: [f64; 6],
}

#[derive(Deserialize)]
struct BatchCase {
    files: Vec<String>,
    theta: Vec<[f64; 6]>,
}

#[derive(Deserialize)]
struct Line {
    path: String,
    theta: [f64; 6],
    output: Option<String>,
    size: Option<[u32; 2]>,
}

fn vectors() -> Vectors {
    let text = fs::read_to_string(util::repo().join("tests/fixtures/model/vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn samples() -> std::path::PathBuf {
    util::repo().join("models/samples")
}

fn parse_lines(text: &str) -> Vec<Line> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Copies the sample digits into `env/in/`.
fn copy_samples(env: &Env) {
    fs::create_dir_all(env.path("in")).unwrap();
    for e in fs::read_dir(samples()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), env.path("in").join(e.file_name())).unwrap();
    }
}

#[test]
fn predict_matches_onnxruntime_vectors() {
    let env = Env::new();
    let dir = samples();
    let out = env.assert_ok(&["predict", "--batch", "7", dir.to_str().unwrap()]);
    let lines = parse_lines(&String::from_utf8(out.stdout).unwrap());
    let v = vectors();
    assert_eq!(lines.len(), v.cases.len());
    for case in &v.cases {
        let name = Path::new(&case.file).file_name().unwrap();
        let line = lines
            .iter()
            .find(|l| Path::new(&l.path).file_name() == Some(name))
            .unwrap_or_else(|| panic!("no line for {}", case.file));
        for (a, b) in line.theta.iter().zip(&case.theta) {
            assert!(
                (a - b).abs() <= 1e-5,
                "{}: {:?} vs {:?}",
                case.file,
                line.theta,
                case.theta
            );
        }
        assert_eq!(line.size, Some([28, 28]), "size from stn.output_size");
    }
    // The fixture's single batch of all files gave the same thetas.
    assert_eq!(v.batch.files.len(), v.batch.theta.len());
}

#[test]
fn rectify_equals_warp_with_the_predicted_theta() {
    let env = Env::new();
    copy_samples(&env);
    env.assert_ok(&[
        "rectify", "in", "-o", "out", "--thetas", "t.jsonl", "--quiet",
    ]);
    let lines = parse_lines(&fs::read_to_string(env.path("t.jsonl")).unwrap());
    assert_eq!(lines.len(), 20);
    for l in &lines {
        let rel = l.output.as_deref().unwrap();
        let theta = l
            .theta
            .iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(",");
        let warped = format!("w_{}", rel.replace('/', "_"));
        env.assert_ok(&[
            "warp",
            &format!("--theta={theta}"),
            "--size",
            "28x28",
            &l.path,
            "-o",
            &warped,
        ]);
        let a = util::load(&env.path("out").join(rel));
        let b = util::load(&env.path(&warped));
        assert_eq!(a.dimensions_tuple(), (28, 28));
        assert_eq!(a, b, "{rel}");
    }
}

trait Dim {
    fn dimensions_tuple(&self) -> (u32, u32);
}
impl Dim for image::DynamicImage {
    fn dimensions_tuple(&self) -> (u32, u32) {
        (self.width(), self.height())
    }
}

#[test]
fn predict_edit_apply_round_trip() {
    let env = Env::new();
    copy_samples(&env);
    env.assert_ok(&["rectify", "in", "-o", "direct", "-q"]);
    let out = env.assert_ok(&["predict", "in", "-q"]);
    fs::write(env.path("t.jsonl"), &out.stdout).unwrap();
    env.assert_ok(&["warp", "--thetas", "t.jsonl", "-o", "applied"]);
    for e in fs::read_dir(env.path("direct")).unwrap() {
        let name = e.unwrap().file_name();
        let a = fs::read(env.path("direct").join(&name)).unwrap();
        let b = fs::read(env.path("applied").join(&name)).unwrap();
        assert_eq!(a, b, "{name:?}");
    }
}

#[test]
fn corrupt_file_fails_alone_with_exit_1() {
    let env = Env::new();
    copy_samples(&env);
    fs::write(
        env.path("in/broken.png"),
        b"\x89PNG\r\n\x1a\nthis is not a png",
    )
    .unwrap();
    let out = env.run(&["rectify", "in", "-o", "out", "-q"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("broken.png"), "{err}");
    assert_eq!(fs::read_dir(env.path("out")).unwrap().count(), 20);
}

#[test]
fn existing_outputs_refused_skipped_or_overwritten() {
    let env = Env::new();
    copy_samples(&env);
    env.assert_ok(&["rectify", "in", "-o", "out", "-q"]);
    env.assert_fails_with(
        &["rectify", "in", "-o", "out", "-q"],
        2,
        "output exists (and 19 more)",
    );
    fs::remove_file(env.path("out/d3_060.png")).unwrap();
    let out = env.run(&["rectify", "in", "-o", "out", "--skip-existing"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 written, 19 skipped, 0 failed"), "{err}");
    assert!(env.path("out/d3_060.png").is_file());
    env.assert_ok(&["rectify", "in", "-o", "out", "--overwrite", "-q"]);
}

#[test]
fn clashing_outputs_stop_before_any_work() {
    let env = Env::new();
    copy_samples(&env);
    fs::create_dir_all(env.path("other")).unwrap();
    fs::copy(env.path("in/d0_058.png"), env.path("other/d0_058.png")).unwrap();
    env.assert_fails_with(
        &["rectify", "in/d0_058.png", "other/d0_058.png", "-o", "out"],
        2,
        "both be written",
    );
    assert!(!env.path("out").exists());
}

#[test]
fn model_errors_exit_2() {
    let env = Env::new();
    copy_samples(&env);
    fs::write(env.path("bad.onnx"), b"not a model").unwrap();
    env.assert_fails_with(
        &["rectify", "in", "-o", "out", "--model", "bad.onnx"],
        2,
        "bad.onnx",
    );
    env.assert_fails_with(
        &[
            "rectify",
            "in",
            "-o",
            "out",
            "--ort-lib",
            "/nonexistent/libort.so",
        ],
        2,
        "ONNX Runtime",
    );
    assert!(!env.path("out").exists());
}

#[test]
fn model_info_prints_the_contract() {
    let env = Env::new();
    let out = env.assert_ok(&["model", "info"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("input: input f32 [?,1,42,42]"), "{text}");
    assert!(text.contains("output: theta f32 [?,2,3]"), "{text}");
    assert!(text.contains("metadata: stn.output_size = 28x28"), "{text}");
}

#[test]
fn overlay_draws_the_region() {
    let env = Env::new();
    copy_samples(&env);
    env.assert_ok(&["rectify", "in", "-o", "out", "--overlay", "ov", "-q"]);
    let img = util::load(&env.path("ov/d0_058.png")).to_rgb8();
    assert_eq!(img.dimensions(), (42, 42), "overlay keeps the input's size");
    assert!(
        img.pixels().any(|p| p.0[0] > 200 && p.0[1] < 100),
        "a red outline"
    );
}
