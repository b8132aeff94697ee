//! Helpers shared by the integration tests: a temp dir per test, running the
//! real `stn` binary, and PNG round trips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use image::DynamicImage;
use proptest::prelude::*;
use stn::warp::Isa;
use stn::{Affine, Interp, Padding, WarpOptions};

/// A test's own scratch directory, deleted when dropped.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `stn` with `args` in this directory, feeding `stdin`.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_stn"))
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stn");
        let mut pipe = child.stdin.take().unwrap();
        // A command may exit without reading stdin; a broken pipe is fine then.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        child.wait_with_output().expect("wait for stn")
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, b"")
    }

    /// Runs `stn` and asserts exit status 0 and silence on stderr.
    pub fn assert_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stn {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `stn` and asserts exit status 0 and nothing on stderr but notes;
    /// returns whether there was one.
    pub fn assert_ok_or_note(&self, args: &[&str]) -> bool {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "stn {args:?} failed: {err}");
        assert!(
            err.lines().all(|l| l.starts_with("stn: note: ")),
            "stn {args:?}: {err}"
        );
        !err.is_empty()
    }

    /// Runs `stn`, asserts exit code `code` and a one-line error containing `needle`.
    pub fn assert_fails_with(&self, args: &[&str], code: i32, needle: &str) {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "stn {args:?}: {err}");
        assert!(
            err.contains(needle),
            "stn {args:?}: {err:?} lacks {needle:?}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
        assert!(out.stdout.is_empty(), "nothing on stdout");
    }

    /// The names in the scratch directory, sorted.
    pub fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

pub fn save_png(img: &DynamicImage, path: &Path) {
    img.save_with_format(path, image::ImageFormat::Png)
        .expect("write png");
}

pub fn load(path: &Path) -> DynamicImage {
    image::open(path).expect("decode output")
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One value per line of JSON-lines text (`stn predict`'s output, theta
/// files, fixtures).
#[cfg(feature = "onnx")]
pub fn json_lines<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The numbers of a JSON value in reading order, however nested (`[a, …]` or
/// `[[a, …], …]`).
#[cfg(feature = "onnx")]
pub fn numbers(v: &serde_json::Value) -> Vec<f64> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Array(a) => stack.extend(a.iter().rev()),
            serde_json::Value::Number(n) => out.push(n.as_f64().unwrap()),
            _ => {}
        }
    }
    out
}

/// Warps an 8-bit image of `(width, height, channels)` to `(width, height)`
/// with kernel family `isa`, through the library.
pub fn warp(
    src: &[u8],
    dims: (usize, usize, usize),
    out: (usize, usize),
    theta: &Affine,
    opts: &WarpOptions,
    isa: Isa,
) -> Vec<u8> {
    warp_t(src, dims, out, &stn::Transform::from(*theta), opts, isa)
}

/// [`warp`] through any transform.
pub fn warp_t(
    src: &[u8],
    (w, h, c): (usize, usize, usize),
    (ow, oh): (usize, usize),
    t: &stn::Transform,
    opts: &WarpOptions,
    isa: Isa,
) -> Vec<u8> {
    let mut dst = vec![0u8; ow * oh * c];
    stn::warp::warp_into_with(
        stn::ImageRef {
            data: src,
            width: w,
            height: h,
            channels: c,
        },
        stn::ImageMut {
            data: &mut dst,
            width: ow,
            height: oh,
            channels: c,
        },
        t,
        opts,
        isa,
    );
    dst
}

/// Any sampling options; bilinear, the kernel with SIMD paths, weighs
/// `bilinear_weight` against 1 for nearest and for bicubic.
pub fn options(bilinear_weight: u32) -> impl Strategy<Value = WarpOptions> {
    (
        prop_oneof![
            bilinear_weight => Just(Interp::Bilinear),
            1 => Just(Interp::Nearest),
            1 => Just(Interp::Bicubic)
        ],
        prop_oneof![
            Just(Padding::Zeros),
            Just(Padding::Border),
            Just(Padding::Reflection)
        ],
        any::<bool>(),
    )
        .prop_map(|(interp, padding, align_corners)| WarpOptions {
            interp,
            padding,
            align_corners,
        })
}
