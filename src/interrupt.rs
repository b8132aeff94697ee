//! SIGINT (Ctrl-C): the first one asks batches to stop after the work in
//! flight, so every output is either complete or never started and no
//! temporary file is left behind; a second one exits at once (a hidden
//! `.stn-*.tmp` may then remain, as after SIGKILL; later runs ignore it).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler; harmless if called again or if installation fails
/// (the default action, termination, then applies).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// Whether an interruption was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
