//! Provisions ONNX Runtime for `stn rectify` and `stn predict`.
//!
//! stn links ONNX Runtime dynamically (`ort`'s `load-dynamic`), so building never
//! needs it. This script makes a fresh machine work anyway: it fetches
//! `libonnxruntime.so.1.31.1` from the PyPI wheel `onnxruntime==1.31.1` with pip
//! (the registry's ordinary client) into the per-user cache
//! `${XDG_CACHE_HOME:-~/.cache}/stn/onnxruntime-1.31.1/`, where the binary looks
//! at run time, even after `cargo install` has deleted its build folder.
//!
//! It never fails the build: without pip, or off Linux x86-64, it prints a
//! warning and stn explains at run time how to provide the library
//! (`--ort-lib`, `ORT_DYLIB_PATH`). Set `STN_SKIP_ORT_FETCH=1` to skip it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const ORT_VERSION: &str = "1.31.1";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=STN_SKIP_ORT_FETCH");
    println!("cargo:rerun-if-env-changed=XDG_CACHE_HOME");
    println!("cargo:rustc-env=STN_ORT_VERSION={ORT_VERSION}");
    if env::var_os("CARGO_FEATURE_ONNX").is_none() || env::var_os("STN_SKIP_ORT_FETCH").is_some() {
        return;
    }
    let target = env::var("TARGET").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" {
        println!("cargo:warning=stn: no ONNX Runtime fetched for {target}; give it with --ort-lib or ORT_DYLIB_PATH");
        return;
    }
    let Some(dir) = cache_dir() else {
        println!("cargo:warning=stn: no HOME or XDG_CACHE_HOME; ONNX Runtime not fetched");
        return;
    };
    let lib = dir.join(format!("libonnxruntime.so.{ORT_VERSION}"));
    if !lib.is_file() {
        if let Err(e) = fetch(&dir, &lib) {
            println!("cargo:warning=stn: could not fetch ONNX Runtime {ORT_VERSION} with pip: {e}");
            println!(
                "cargo:warning=stn: `stn rectify` needs it; see README (--ort-lib, ORT_DYLIB_PATH)"
            );
            return;
        }
    }
    println!("cargo:rustc-env=STN_ORT_BUILD_PATH={}", lib.display());
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}/stn/onnxruntime-<version>`; keep in step
/// with `net::runtime::cache_dir`.
fn cache_dir() -> Option<PathBuf> {
    let base = match env::var_os("XDG_CACHE_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => PathBuf::from(env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("stn").join(format!("onnxruntime-{ORT_VERSION}")))
}

fn fetch(dir: &Path, lib: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = tempdir_in(dir)?;
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .ok_or("no python3 with pip found")?;
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
        ])
        .args([
            "--python-version",
            "3.11",
            "--platform",
            "manylinux_2_28_x86_64",
        ])
        .arg(format!("onnxruntime=={ORT_VERSION}"))
        .arg("-d")
        .arg(&tmp)
        .status()
        .map_err(|e| format!("running pip: {e}"))?;
    if !status.success() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(format!("pip download exited with {status}"));
    }
    // The wheel is a zip; Python's zipfile reads it, so no zip crate is needed here.
    let member = format!("onnxruntime/capi/libonnxruntime.so.{ORT_VERSION}");
    let part = dir.join(format!(".libonnxruntime.so.{ORT_VERSION}.part"));
    let script = "import glob,sys,zipfile\n\
        w=glob.glob(sys.argv[1]+'/onnxruntime-*.whl')[0]\n\
        open(sys.argv[3],'wb').write(zipfile.ZipFile(w).read(sys.argv[2]))";
    let status = Command::new(python)
        .args(["-c", script])
        .arg(&tmp)
        .arg(&member)
        .arg(&part)
        .status()
        .map_err(|e| format!("extracting the wheel: {e}"))?;
    let _ = fs::remove_dir_all(&tmp);
    if !status.success() {
        let _ = fs::remove_file(&part);
        return Err(format!("extracting {member} failed"));
    }
    fs::rename(&part, lib).map_err(|e| format!("{}: {e}", lib.display()))
}

fn tempdir_in(dir: &Path) -> Result<PathBuf, String> {
    let t = dir.join(format!(".download-{}", std::process::id()));
    fs::create_dir_all(&t).map_err(|e| format!("{}: {e}", t.display()))?;
    Ok(t)
}
