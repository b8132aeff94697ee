//! The per-user cache `build.rs` fills with the shared libraries stn loads at
//! run time (ONNX Runtime, libjpeg-turbo), where the binary finds them even
//! after `cargo install` has deleted its build folder.

use std::env;
use std::path::PathBuf;

/// `${XDG_CACHE_HOME:-$HOME/.cache}/stn`; keep in step with `build.rs`.
pub fn dir() -> Option<PathBuf> {
    let base = match env::var_os("XDG_CACHE_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => PathBuf::from(env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("stn"))
}
