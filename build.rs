//! Provisions the two shared libraries stn loads at run time: ONNX Runtime for
//! `stn rectify` and `stn predict`, and libjpeg-turbo's TurboJPEG library for
//! fast JPEG decoding and encoding.
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
//!
//! libjpeg-turbo comes from Debian's package `libturbojpeg0` through apt, its
//! registry's ordinary client (`apt-get download` + `dpkg-deb -x`, no root
//! needed), into `${XDG_CACHE_HOME:-~/.cache}/stn/libjpeg-turbo/`. Without
//! apt stn uses its pure-Rust JPEG codecs (zune-jpeg, jpeg-encoder), which
//! are slower but give the same kind of files; a system `libturbojpeg.so.0`
//! is used too. Beside it goes `libjpeg.so.62` from `libjpeg62-turbo` (the
//! same source package's libjpeg API, for decoding row by row). Set
//! `STN_SKIP_TURBOJPEG_FETCH=1` to skip the fetch.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const ORT_VERSION: &str = "1.31.1";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=STN_SKIP_ORT_FETCH");
    println!("cargo:rerun-if-env-changed=XDG_CACHE_HOME");
    println!("cargo:rerun-if-env-changed=STN_SKIP_TURBOJPEG_FETCH");
    println!("cargo:rustc-env=STN_ORT_VERSION={ORT_VERSION}");
    turbojpeg();
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

/// `${XDG_CACHE_HOME:-$HOME/.cache}/stn`.
fn stn_cache() -> Option<PathBuf> {
    let base = match env::var_os("XDG_CACHE_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => PathBuf::from(env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("stn"))
}

/// `<stn cache>/onnxruntime-<version>`; keep in step with
/// `net::runtime::cache_dir`.
fn cache_dir() -> Option<PathBuf> {
    Some(stn_cache()?.join(format!("onnxruntime-{ORT_VERSION}")))
}

/// The TurboJPEG library's file name (its ABI, stable since libjpeg-turbo 1.2);
/// keep in step with `codec::turbojpeg`.
const TURBOJPEG_LIB: &str = "libturbojpeg.so.0";
/// libjpeg-turbo's libjpeg 6.2 library; keep in step with `codec::libjpeg`.
const LIBJPEG_LIB: &str = "libjpeg.so.62";

/// Fetches `libturbojpeg.so.0` from Debian's `libturbojpeg0` package into
/// `<stn cache>/libjpeg-turbo/` unless it is there already. Never fails the
/// build: stn falls back to its pure-Rust JPEG codecs without it.
fn turbojpeg() {
    if env::var_os("STN_SKIP_TURBOJPEG_FETCH").is_some()
        || env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux")
    {
        return;
    }
    let Some(dir) = stn_cache().map(|d| d.join("libjpeg-turbo")) else {
        return;
    };
    let lib = dir.join(TURBOJPEG_LIB);
    if !lib.is_file() {
        if let Err(e) = fetch_deb(&dir, "libturbojpeg0", TURBOJPEG_LIB, &lib) {
            println!(
                "cargo:warning=stn: libjpeg-turbo not fetched ({e}); JPEG files use the \
                 slower pure-Rust codecs unless a system {TURBOJPEG_LIB} is installed"
            );
            return;
        }
    }
    println!("cargo:rustc-env=STN_TURBOJPEG_BUILD_PATH={}", lib.display());
    // Its libjpeg API, from the same source package, beside it: the
    // row-by-row decoder (`codec::libjpeg`). Optional.
    let rows = dir.join(LIBJPEG_LIB);
    if !rows.is_file() {
        if let Err(e) = fetch_deb(&dir, "libjpeg62-turbo", LIBJPEG_LIB, &rows) {
            println!(
                "cargo:warning=stn: {LIBJPEG_LIB} not fetched ({e}); stn warp decodes big \
                 JPEG files whole before warping them"
            );
        }
    }
}

/// `apt-get download PACKAGE` into a temporary folder, then `dpkg-deb -x`
/// and the library `name` moved to `lib` (resolving the package's symlink).
fn fetch_deb(dir: &Path, package: &str, name: &str, lib: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = tempdir_in(dir)?;
    let result = (|| {
        let run = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                Err(format!(
                    "{cmd:?} exited with {}: {}",
                    out.status,
                    err.trim()
                ))
            }
        };
        let download = || {
            run(Command::new("apt-get")
                .args(["download", "-q", package])
                .current_dir(&tmp))
        };
        // Without package lists (a fresh container) apt knows no versions:
        // refresh them once, which works as root, and try again.
        if download().is_err() {
            let _ = run(Command::new("apt-get").args(["update", "-q"]));
            download()?;
        }
        let deb = fs::read_dir(&tmp)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or("apt-get download wrote no .deb")?;
        let root = tmp.join("root");
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
        let found = find_file(&root, name).ok_or(format!("no {name} in {}", deb.display()))?;
        let real = fs::canonicalize(&found).map_err(|e| e.to_string())?;
        let part = dir.join(format!(".{name}.part"));
        fs::copy(&real, &part).map_err(|e| format!("{}: {e}", part.display()))?;
        fs::rename(&part, lib).map_err(|e| format!("{}: {e}", lib.display()))
    })();
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            return Some(path);
        }
        if entry.file_type().ok()?.is_dir() {
            if let Some(p) = find_file(&path, name) {
                return Some(p);
            }
        }
    }
    None
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
