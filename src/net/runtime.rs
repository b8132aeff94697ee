//! Where ONNX Runtime's shared library is looked for, in order:
//! `--ort-lib PATH`, `ORT_DYLIB_PATH`, beside the executable, the per-user cache
//! that `build.rs` fills (`${XDG_CACHE_HOME:-~/.cache}/stn/onnxruntime-<v>/`),
//! and the path `build.rs` recorded at build time.

use std::env;
use std::path::PathBuf;

/// The ONNX Runtime version stn is built and tested against.
pub const ORT_VERSION: &str = env!("STN_ORT_VERSION");

/// The library's file name.
pub fn lib_name() -> String {
    format!("libonnxruntime.so.{ORT_VERSION}")
}

/// The per-user cache directory `build.rs` fills; keep in step with it.
pub fn cache_dir() -> Option<PathBuf> {
    Some(crate::cache::dir()?.join(format!("onnxruntime-{ORT_VERSION}")))
}

/// Candidate library paths after an explicit `--ort-lib`, most specific first,
/// each with where it came from. Only existing files are listed.
pub fn candidates() -> Vec<(PathBuf, &'static str)> {
    let mut out: Vec<(PathBuf, &'static str)> = Vec::new();
    if let Some(p) = env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push((PathBuf::from(p), "ORT_DYLIB_PATH"));
    }
    if let Some(dir) = env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        for name in [lib_name(), "libonnxruntime.so".to_string()] {
            out.push((dir.join(name), "beside the executable"));
        }
    }
    if let Some(dir) = cache_dir() {
        out.push((dir.join(lib_name()), "the user cache"));
    }
    if let Some(p) = option_env!("STN_ORT_BUILD_PATH") {
        out.push((PathBuf::from(p), "the build-time location"));
    }
    out.retain(|(p, source)| *source == "ORT_DYLIB_PATH" || p.is_file());
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// How to get the library, for the error when none loads.
pub fn how_to_fix() -> String {
    let cache = cache_dir()
        .map(|d| d.join(lib_name()).display().to_string())
        .unwrap_or_else(|| "~/.cache/stn/...".into());
    format!(
        "no usable ONNX Runtime {ORT_VERSION} library found. Rebuild with pip available \
         (build.rs fetches it into {cache}), or download it yourself: \
         `pip download onnxruntime=={ORT_VERSION} --no-deps --only-binary=:all: \
         --python-version 3.11 --platform manylinux_2_28_x86_64`, unzip \
         onnxruntime/capi/{} from the wheel, and pass --ort-lib PATH or set ORT_DYLIB_PATH",
        lib_name()
    )
}
