#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod affine;
pub mod cache;
pub mod cli;
pub mod codec;
pub mod commands;
pub mod completions;
pub mod config;
pub mod error;
pub mod inputs;
pub mod interrupt;
pub mod malloc;
pub mod net;
pub mod overlap;
pub mod overlay;
pub mod pipeline;
pub mod report;
pub mod shard;
pub mod thetas;
pub mod transform;
pub mod warp;

pub use affine::{Affine, Size};
pub use config::Config;
pub use error::{Error, Exit};
pub use transform::{Homography, Tps, Transform};
pub use warp::{
    warp_batch, warp_image, warp_into, ImageMut, ImageRef, Interp, Padding, WarpOptions,
};

/// Runs a validated configuration and returns the exit status it earned.
///
/// Errors that stop the whole command come back as `Err`; `main` prints them
/// and exits with [`Exit::Fatal`].
pub fn run(config: &Config) -> Result<Exit, Error> {
    if let Some(n) = config.threads {
        // Fails only if a pool already exists (e.g. a second run in one process);
        // the existing pool is then used.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    match &config.task {
        config::Task::Warp(task) => commands::warp(task, config.max_pixels),
        config::Task::Apply(task) => pipeline::apply(task, config.max_pixels),
        config::Task::Rectify(task) => pipeline::rectify(task, config.max_pixels),
        config::Task::Predict(task) => pipeline::predict(task, config.max_pixels),
        config::Task::ModelInfo(net) => pipeline::model_info(net),
        config::Task::ModelList => commands::model_list(&mut std::io::stdout()),
        config::Task::Completions(shell) => {
            completions::generate(*shell, &mut std::io::stdout()).map_err(|source| {
                Error::Write {
                    path: "-".into(),
                    source,
                }
            })?;
            Ok(Exit::Success)
        }
    }
}
