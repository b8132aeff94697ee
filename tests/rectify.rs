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
    util::repo().join("models/samples/mnist")
}

fn parse_lines(text: &str) -> Vec<Line> {
    util::json_lines(text)
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

/// What `stn model list` states of each built-in model (from its table) is
/// what the embedded file declares.
#[test]
fn builtin_models_declare_what_the_list_says() {
    let env = Env::new();
    for b in stn::net::BUILTINS {
        let out = env.assert_ok(&["model", "info", b.name]);
        let text = String::from_utf8(out.stdout).unwrap();
        for needle in [
            format!("model: <built-in {} ({})>\n", b.name, b.file),
            format!(
                "contract: input {} x{} channel(s),",
                b.input_size, b.channels
            ),
            format!("output size {},", b.output_size),
            format!("transform: family {},", b.family),
        ] {
            assert!(text.contains(&needle), "{}: {needle:?} in {text}", b.name);
        }
    }
}

#[test]
fn model_info_doc_page_is_projective_to_a4() {
    let env = Env::new();
    for args in [
        &["model", "info", "doc-page"][..],
        &["model", "info", "--model", "doc-page"],
    ] {
        let text = String::from_utf8(env.assert_ok(args).stdout).unwrap();
        assert!(
            text.starts_with("model: <built-in doc-page (models/doc-page.onnx)>\n"),
            "{text}"
        );
        assert!(text.contains("output: homography f32 [?,3,3]"), "{text}");
        assert!(text.contains("output size 1240x1754,"), "{text}");
        assert!(
            text.contains(
                "transform: family projective, 9 values; 1 part per image; padding border"
            ),
            "{text}"
        );
    }
}

/// The doc-page model's weights may change (only its contract is fixed), so
/// this checks the outputs' size and format, not their pixels.
#[test]
fn rectify_with_doc_page_writes_a4_pages() {
    let env = Env::new();
    fs::create_dir_all(env.path("in")).unwrap();
    let photo = image::RgbImage::from_fn(90, 64, |x, y| {
        let page = (20..70).contains(&x) && (8..58).contains(&y);
        let v = if page { 230 } else { 40 };
        image::Rgb([v, v.saturating_sub((x % 7) as u8), v / 2 + (y as u8)])
    });
    photo.save(env.path("in/photo.png")).unwrap();
    photo.save(env.path("in/photo.jpg")).unwrap();
    env.assert_ok(&["rectify", "--model", "doc-page", "in", "-o", "out", "-q"]);
    for (name, format) in [
        ("photo.png", image::ImageFormat::Png),
        ("photo.jpg", image::ImageFormat::Jpeg),
    ] {
        let bytes = fs::read(env.path("out").join(name)).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), format, "{name}");
        let img = util::load(&env.path("out").join(name));
        assert_eq!((img.width(), img.height()), (1240, 1754), "{name}");
        assert_eq!(img.color(), image::ColorType::Rgb8, "{name}");
    }
    env.assert_ok(&[
        "rectify",
        "--model",
        "doc-page",
        "--size",
        "620x877",
        "in/photo.png",
        "-o",
        "small",
        "-q",
    ]);
    let img = util::load(&env.path("small/photo.png"));
    assert_eq!((img.width(), img.height()), (620, 877));
}

#[test]
fn model_mnist_is_the_default_byte_for_byte() {
    let env = Env::new();
    copy_samples(&env);
    env.assert_ok(&["rectify", "in", "-o", "default", "-q"]);
    env.assert_ok(&["rectify", "in", "-o", "named", "--model", "mnist", "-q"]);
    let mut n = 0;
    for e in fs::read_dir(env.path("default")).unwrap() {
        let name = e.unwrap().file_name();
        let a = fs::read(env.path("default").join(&name)).unwrap();
        let b = fs::read(env.path("named").join(&name)).unwrap();
        assert_eq!(a, b, "{name:?}");
        n += 1;
    }
    assert_eq!(n, 20);
}

/// A value equal to a built-in name is that model even if a file of that
/// name exists; `./NAME` is the file.
#[test]
fn builtin_name_wins_over_a_file_of_that_name() {
    let env = Env::new();
    fs::write(env.path("mnist"), b"not a model").unwrap();
    let text = String::from_utf8(env.assert_ok(&["model", "info", "mnist"]).stdout).unwrap();
    assert!(
        text.starts_with("model: <built-in mnist (models/stn-mnist-rts.onnx)>\n"),
        "{text}"
    );
    env.assert_fails_with(
        &["model", "info", "./mnist"],
        2,
        "model ./mnist: not a loadable ONNX model",
    );
}
