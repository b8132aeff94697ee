//! The subcommands' bodies, built from the core modules.

use std::fs;

use crate::affine::{Affine, Size};
use crate::codec;
use crate::config::{MatrixSource, WarpTask};
use crate::error::{Error, Exit};
use crate::transform::{Homography, Transform};
use crate::warp;

/// `stn warp`: decode, resolve the theta, warp, encode, write.
pub fn warp(task: &WarpTask, max_pixels: u64) -> Result<Exit, Error> {
    refuse_overwriting_input(task)?;
    let img = codec::read_image(&task.input, max_pixels)?;
    let input = Size::new(img.pixels.width(), img.pixels.height());
    let output = task.sampling.size.unwrap_or(input);
    codec::check_pixels(output, max_pixels, &task.output)?;
    let opts = task.sampling.options;
    let ac = opts.align_corners;
    let theta: Transform = match &task.matrix {
        MatrixSource::Theta(t) => (*t).into(),
        MatrixSource::Pixel(m) => {
            Affine::theta_from_pixel_matrix(m, input, output, ac, "--matrix")?.into()
        }
        MatrixSource::Homography(h) => (*h).into(),
        MatrixSource::Perspective(m) => {
            let h = Homography::from_pixel_matrix(m, input, output, ac, "--perspective")?;
            h.check_usable("--perspective")?;
            h.into()
        }
        MatrixSource::Corners(c) => {
            Homography::from_corners(c, input, output, ac, "--corners")?.into()
        }
        MatrixSource::Tps(t) => t.clone().into(),
    };
    let warped = warp::warp_image(&img.pixels, &theta, output, &opts)?;
    drop(img.pixels);
    let icc = img.icc.as_deref();
    match codec::write_image(&warped, icc, task.format, task.encoding, &task.output) {
        Ok(note) => {
            if let Some(note) = note {
                eprintln!("stn: note: {}: {note}", task.output.display());
            }
            Ok(Exit::Success)
        }
        Err(Error::Interrupted) => Ok(Exit::Interrupted),
        Err(e) => Err(e),
    }
}

/// Refuses, unless `--overwrite`, an output that is the input file itself.
fn refuse_overwriting_input(task: &WarpTask) -> Result<(), Error> {
    if task.overwrite || codec::is_stdio(&task.input) || codec::is_stdio(&task.output) {
        return Ok(());
    }
    if let (Ok(a), Ok(b)) = (
        fs::canonicalize(&task.input),
        fs::canonicalize(&task.output),
    ) {
        if a == b {
            return Err(Error::WouldOverwriteInput {
                path: task.output.clone(),
            });
        }
    }
    Ok(())
}
