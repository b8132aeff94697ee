//! `stn warp` driven through the real binary: streams, formats and errors.

use image::{DynamicImage, GenericImageView, ImageBuffer, Rgb};

use crate::util::{self, Env};

fn gradient(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w.max(2)) as u8,
            (y * 255 / h.max(2)) as u8,
            ((x + y) * 5 % 256) as u8,
        ])
    }))
}

#[test]
fn stdin_to_stdout() {
    let env = Env::new();
    let src = gradient(20, 10);
    let mut png = Vec::new();
    src.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let out = env.run_with_stdin(&["warp", "--theta=-1,0,0,0,1,0", "-", "-o", "-"], &png);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::load_from_memory_with_format(&out.stdout, image::ImageFormat::Png).unwrap();
    // theta = horizontal flip: output column j reads input column W-1-j exactly.
    for (x, y, p) in img.pixels() {
        assert_eq!(p, src.get_pixel(19 - x, y));
    }
}

#[test]
fn stdout_format_flag() {
    let env = Env::new();
    util::save_png(&gradient(8, 8), &env.path("in.png"));
    let out = env.assert_ok(&[
        "warp",
        "--theta=1,0,0,0,1,0",
        "--format",
        "bmp",
        "in.png",
        "-o",
        "-",
    ]);
    assert_eq!(
        image::guess_format(&out.stdout).unwrap(),
        image::ImageFormat::Bmp
    );
}

#[test]
fn output_format_follows_extension() {
    let env = Env::new();
    util::save_png(&gradient(16, 12), &env.path("in.png"));
    for (ext, fmt) in [
        ("png", image::ImageFormat::Png),
        ("jpg", image::ImageFormat::Jpeg),
        ("bmp", image::ImageFormat::Bmp),
        ("tif", image::ImageFormat::Tiff),
        ("ppm", image::ImageFormat::Pnm),
        ("webp", image::ImageFormat::WebP),
    ] {
        let name = format!("out.{ext}");
        env.assert_ok(&[
            "warp",
            "--theta=0.5,0,0,0,0.5,0",
            "--size",
            "9x7",
            "in.png",
            "-o",
            &name,
        ]);
        let bytes = std::fs::read(env.path(&name)).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), fmt, "{ext}");
        assert_eq!(util::load(&env.path(&name)).dimensions(), (9, 7));
    }
}

#[test]
fn matrix_translation_moves_pixels() {
    // cv2 convention: destination = source shifted by (+3, +2) pixels.
    let env = Env::new();
    let src = gradient(12, 9);
    util::save_png(&src, &env.path("in.png"));
    env.assert_ok(&[
        "warp",
        "--matrix=1,0,3,0,1,2",
        "--interp",
        "nearest",
        "in.png",
        "-o",
        "out.png",
    ]);
    let out = util::load(&env.path("out.png"));
    for (x, y, p) in out.pixels() {
        if x >= 3 && y >= 2 {
            assert_eq!(p, src.get_pixel(x - 3, y - 2));
        } else {
            assert_eq!(p.0, [0, 0, 0, 255], "zero padding at ({x},{y})");
        }
    }
}

#[test]
fn jobs_flag_gives_identical_output() {
    let env = Env::new();
    util::save_png(&gradient(400, 300), &env.path("in.png"));
    let theta = "--theta=0.9,-0.24,0.05,0.24,0.9,-0.03";
    env.assert_ok(&["-j", "1", "warp", theta, "in.png", "-o", "one.png"]);
    env.assert_ok(&["warp", "-j", "2", theta, "in.png", "-o", "two.png"]);
    assert_eq!(
        std::fs::read(env.path("one.png")).unwrap(),
        std::fs::read(env.path("two.png")).unwrap()
    );
}

#[test]
fn errors_exit_2_with_one_line_and_write_nothing() {
    let env = Env::new();
    util::save_png(&gradient(8, 8), &env.path("in.png"));
    std::fs::write(env.path("text.png"), "not an image").unwrap();
    let id = "--theta=1,0,0,0,1,0";
    let cases: &[(&[&str], &str)] = &[
        (&["warp", id, "missing.png", "-o", "out.png"], "missing.png"),
        (&["warp", id, "text.png", "-o", "out.png"], "text.png"),
        (
            &["warp", "--theta=1,0,0,0,1", "in.png", "-o", "out.png"],
            "expected 6 numbers",
        ),
        (
            &["warp", "--theta=1,0,nan,0,1,0", "in.png", "-o", "out.png"],
            "not a finite number",
        ),
        (
            &["warp", "--theta=1,0,inf,0,1,0", "in.png", "-o", "out.png"],
            "not a finite number",
        ),
        (
            &["warp", "--matrix=1,2,0,2,4,0", "in.png", "-o", "out.png"],
            "singular",
        ),
        (&["warp", id, "in.png", "-o", "out.xyz"], "out.xyz"),
        (
            &["warp", id, "in.png", "-o", "in.png"],
            "refusing to overwrite",
        ),
        (
            &["warp", id, "in.png", "-o", "nodir/out.png"],
            "nodir/out.png",
        ),
    ];
    for (args, needle) in cases {
        env.assert_fails_with(args, 2, needle);
        assert_eq!(
            env.listing(),
            ["in.png", "text.png"],
            "{args:?} wrote something"
        );
    }
    let before = std::fs::read(env.path("in.png")).unwrap();
    env.assert_ok(&["warp", id, "--overwrite", "in.png", "-o", "in.png"]);
    assert_eq!(
        util::load(&env.path("in.png")),
        image::load_from_memory(&before).unwrap()
    );
}

#[test]
fn empty_stdin_is_an_error() {
    let env = Env::new();
    let out = env.run_with_stdin(&["warp", "--theta=1,0,0,0,1,0", "-", "-o", "out.png"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input"));
    assert!(env.listing().is_empty());
}

#[test]
fn png_compression_best_gives_smaller_files_with_the_same_pixels() {
    let env = Env::new();
    util::save_png(&gradient(160, 120), &env.path("in.png"));
    let theta = "--theta=0.9,-0.2,0.05,0.2,0.9,-0.03";
    env.assert_ok(&["warp", theta, "in.png", "-o", "fast.png"]);
    env.assert_ok(&[
        "warp",
        theta,
        "--png-compression",
        "best",
        "in.png",
        "-o",
        "best.png",
    ]);
    let (fast, best) = (
        std::fs::metadata(env.path("fast.png")).unwrap().len(),
        std::fs::metadata(env.path("best.png")).unwrap().len(),
    );
    assert!(best < fast, "best {best} bytes, fast {fast} bytes");
    assert_eq!(
        util::load(&env.path("fast.png")).as_bytes(),
        util::load(&env.path("best.png")).as_bytes()
    );
}

#[test]
fn thetas_with_skip_existing_keep_existing_outputs() {
    let env = Env::new();
    util::save_png(&gradient(12, 8), &env.path("a.png"));
    util::save_png(&gradient(10, 6), &env.path("b.png"));
    std::fs::write(
        env.path("t.jsonl"),
        "{\"path\": \"a.png\", \"theta\": [1,0,0,0,1,0]}\n\
         {\"path\": \"b.png\", \"theta\": [-1,0,0,0,1,0]}\n",
    )
    .unwrap();
    std::fs::create_dir(env.path("out")).unwrap();
    std::fs::write(env.path("out/a.png"), b"keep me").unwrap();
    // Refused by default, before anything is written.
    env.assert_fails_with(&["warp", "--thetas", "t.jsonl", "-o", "out"], 2, "a.png");
    assert!(!env.path("out/b.png").exists());
    let out = env.assert_ok(&[
        "warp",
        "--thetas",
        "t.jsonl",
        "-o",
        "out",
        "--skip-existing",
    ]);
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(env.path("out/a.png")).unwrap(), b"keep me");
    let b = util::load(&env.path("out/b.png"));
    let src = gradient(10, 6);
    for (x, y, p) in b.pixels() {
        assert_eq!(p, src.get_pixel(9 - x, y));
    }
    // Only meaningful for a batch.
    env.assert_fails_with(
        &[
            "warp",
            "--theta=1,0,0,0,1,0",
            "a.png",
            "-o",
            "c.png",
            "--skip-existing",
        ],
        2,
        "--skip-existing",
    );
    assert!(!env.path("c.png").exists());
}

/// `--corners` is exactly its homography, `--perspective` exactly the
/// normalised homography it converts to: the same bytes through the binary.
#[test]
fn corners_and_perspective_equal_their_homographies() {
    use stn::{Homography, Size};
    let env = Env::new();
    util::save_png(&gradient(64, 48), &env.path("in.png"));
    let (input, output) = (Size::new(64, 48), Size::new(40, 30));
    let corners = [6.0, 4.25, 58.0, 9.0, 55.25, 44.0, 3.0, 40.0];
    let m = [1.1, 0.05, -3.0, -0.04, 0.95, 2.0, 0.0008, -0.0011, 1.0];
    for ac in [false, true] {
        let h = Homography::from_corners(&corners, input, output, ac, "t").unwrap();
        let p = Homography::from_pixel_matrix(&Homography(m), input, output, ac, "t").unwrap();
        let j = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut runs = vec![
            (format!("--corners={}", j(&corners)), "a.png"),
            (format!("--homography={}", j(&h.0)), "b.png"),
            (format!("--perspective={}", j(&m)), "c.png"),
            (format!("--homography={}", j(&p.0)), "d.png"),
        ];
        for (flag, out) in &mut runs {
            let mut args = vec![
                "warp",
                flag.as_str(),
                "--size",
                "40x30",
                "in.png",
                "-o",
                *out,
            ];
            if ac {
                args.push("--align-corners");
            }
            env.assert_ok(&args);
        }
        let read = |n: &str| std::fs::read(env.path(n)).unwrap();
        assert_eq!(
            read("a.png"),
            read("b.png"),
            "--corners vs its homography, ac={ac}"
        );
        assert_eq!(
            read("c.png"),
            read("d.png"),
            "--perspective vs its homography, ac={ac}"
        );
    }
    // The corner pixels of a --corners output sample the given input points:
    // with an image that is constant along rows, the output's top-left pixel
    // is the input's row at y1 (4.25: rows 4 and 5 weighed 3:1).
    let rows = DynamicImage::ImageLuma8(ImageBuffer::from_fn(64, 48, |_, y| {
        image::Luma([(y * 5) as u8])
    }));
    util::save_png(&rows, &env.path("rows.png"));
    env.assert_ok(&[
        "warp",
        "--corners=6,4.25,58,9,55.25,44,3,40",
        "--size",
        "40x30",
        "rows.png",
        "-o",
        "r.png",
    ]);
    let r = util::load(&env.path("r.png")).to_luma8();
    assert_eq!(r.get_pixel(0, 0).0[0], 21); // 20 + 0.25 · 5 = 21.25
    assert_eq!(r.get_pixel(39, 0).0[0], 45); // row 9
    assert_eq!(r.get_pixel(0, 29).0[0], 200); // row 40
}

/// Bad matrices and points exit 2 with a message naming the problem, and
/// write nothing.
#[test]
fn bad_transforms_exit_2_and_write_nothing() {
    let env = Env::new();
    util::save_png(&gradient(16, 16), &env.path("in.png"));
    std::fs::write(
        env.path("few.json"),
        r#"{"target":[[0,0],[1,0]],"source":[[0,0],[1,0]]}"#,
    )
    .unwrap();
    std::fs::write(
        env.path("mismatch.json"),
        r#"{"target":[[0,0],[1,0],[0,1]],"source":[[0,0],[1,0]]}"#,
    )
    .unwrap();
    std::fs::write(
        env.path("line.json"),
        r#"{"target":[[0,0],[0.5,0.5],[1,1]],"source":[[0,0],[1,0],[0,1]]}"#,
    )
    .unwrap();
    std::fs::write(
        env.path("dup.json"),
        r#"{"target":[[0,0],[1,0],[0,1],[1,0]],"source":[[0,0],[1,0],[0,1],[1,1]]}"#,
    )
    .unwrap();
    std::fs::write(
        env.path("nan.json"),
        r#"{"target":[[0,0],[1,0],[0,1]],"source":[[0,0],[1,0],[0,NaN]]}"#,
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--homography=1,2,0,2,4,0,0,0,1"], "singular"),
        (&["--homography=1,0,0,0,1,0,0,0,-1"], "behind the camera"),
        (&["--homography=1,0,0,0,1,0,0,0"], "expected 9 numbers"),
        (&["--homography=1,0,0,0,1,0,0,0,nan"], "not a finite number"),
        (&["--perspective=1,2,3,2,4,6,1,2,3"], "singular"),
        (
            &["--perspective=1,0,0,0,1,0,0,0,inf"],
            "not a finite number",
        ),
        (&["--corners=0,0,1,1,2,2,3,3", "--size", "8x8"], "line"),
        (
            &["--corners=0,0,1,1,2,2", "--size", "8x8"],
            "expected 8 numbers",
        ),
        (&["--tps=few.json"], "at least 3"),
        (&["--tps=mismatch.json"], "3 target points but 2"),
        (&["--tps=line.json"], "one line"),
        (&["--tps=dup.json"], "both"),
        (&["--tps=nan.json"], "invalid JSON"),
        (&["--tps=missing.json"], "missing.json"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["warp"];
        args.extend_from_slice(flags);
        args.extend(["in.png", "-o", "out.png"]);
        env.assert_fails_with(&args, 2, needle);
        assert!(!env.path("out.png").exists(), "{flags:?} wrote an output");
    }
    // The matrix flags exclude each other (clap's usage error, exit 2).
    let out = env.run(&[
        "warp",
        "--theta=1,0,0,0,1,0",
        "--homography=1,0,0,0,1,0,0,0,1",
        "in.png",
        "-o",
        "out.png",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    assert!(!env.path("out.png").exists());
    // --corners needs --size.
    let out = env.run(&[
        "warp",
        "--corners=0,0,1,0,1,1,0,1",
        "in.png",
        "-o",
        "out.png",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size"));
    assert!(!env.path("out.png").exists());
}

/// `stn model list` reads only the built-in table: in the
/// `--no-default-features` run this binary has no ONNX Runtime at all.
#[test]
fn model_list_names_the_builtin_models_without_onnx_runtime() {
    let env = Env::new();
    let out = env.assert_ok(&["model", "list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("mnist     (default)  42x42 grey -> 28x28, affine: "),
        "{text}"
    );
    assert!(
        lines[1].starts_with("doc-page             256x256 grey -> 1240x1754, projective: "),
        "{text}"
    );
}

#[test]
fn unknown_model_names_are_refused_with_the_builtin_names() {
    let env = Env::new();
    for args in [
        &["rectify", "in.png", "-o", "out", "--model", "nosuch"][..],
        &["predict", "--model=nosuch", "in.png"],
        &["model", "info", "nosuch"],
        &["model", "info", "--model", "nosuch"],
    ] {
        env.assert_fails_with(
            args,
            2,
            "model nosuch: not a built-in model (mnist, doc-page; see `stn model list`), \
             and cannot read it as a file: ",
        );
    }
    assert!(!env.path("out").exists());
}

/// The README's `stn model list` example is the binary's output.
#[test]
fn readme_shows_the_model_list() {
    let readme = std::fs::read_to_string(util::repo().join("README.md")).unwrap();
    let start = readme
        .find("$ stn model list\n")
        .expect("README has a `$ stn model list` example")
        + "$ stn model list\n".len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let out = Env::new().assert_ok(&["model", "list"]);
    assert_eq!(shown, String::from_utf8(out.stdout).unwrap());
}
