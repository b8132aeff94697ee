//! The subcommands' bodies, built from the core modules.

use std::fs;
use std::io::Write;

use image::ImageFormat;

use crate::affine::{Affine, Size};
use crate::codec;
use crate::config::{MatrixSource, WarpTask};
use crate::error::{Error, Exit};
use crate::net::{Builtin, BUILTINS};
use crate::overlap;
use crate::transform::{Homography, Transform};
use crate::warp;

/// `stn warp`: decode, resolve the theta, warp, encode, write.
pub fn warp(task: &WarpTask, max_pixels: u64) -> Result<Exit, Error> {
    refuse_overwriting_input(task)?;
    let img = codec::read_one_image_or_rows(&task.input, max_pixels)?;
    let input = match &img {
        codec::OneImage::Decoded(img) => Size::new(img.pixels.width(), img.pixels.height()),
        codec::OneImage::Rows(rows) => rows.size(),
    };
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
    let (warped, strips) = match img {
        codec::OneImage::Decoded(img) => {
            if let Some(written) = warp_band_by_band(&img, &theta, output, task) {
                return finish(written, task);
            }
            (
                codec::Image {
                    pixels: warp::warp_image(&img.pixels, &theta, output, &opts)?,
                    icc: img.icc,
                },
                None,
            )
        }
        // Read, warped and written at once (a big JPEG or raw PPM, more than
        // one thread): to a Netpbm file of the input's layout, each unit of
        // rows as soon as it is warped.
        codec::OneImage::Rows(rows) if netpbm_takes(&rows, task) => {
            let color = rows.color();
            let file = codec::NetpbmRowFile::create(&task.output, output, color)?;
            return finish(
                overlap::warp_rows_to_file(rows, &theta, output, &opts, file),
                task,
            );
        }
        // Read, warped and (to a JPEG file) encoded at once.
        codec::OneImage::Rows(rows) => {
            let to_jpeg = task.format == ImageFormat::Jpeg && !codec::is_stdio(&task.output);
            let quality = to_jpeg.then_some(task.encoding.jpeg_quality);
            overlap::warp_rows(rows, &theta, output, &opts, quality)?
        }
    };
    let icc = warped.icc.as_deref();
    let (format, enc) = (task.format, task.encoding);
    let written = codec::write_image_with(
        &warped.pixels,
        icc,
        format,
        enc,
        &task.output,
        strips.as_ref(),
    );
    finish(written, task)
}

/// `stn warp`'s output written band by band as it is warped, with no output
/// image, where the file allows: a Netpbm file of the input's 8-bit layout,
/// or, on one thread, a JPEG file through libjpeg-turbo's row encoder.
/// `None` elsewhere (the caller warps the whole image).
fn warp_band_by_band(
    img: &codec::Image,
    transform: &Transform,
    output: Size,
    task: &WarpTask,
) -> Option<Result<Option<String>, Error>> {
    let color = img.pixels.color();
    let netpbm = codec::netpbm_takes_rows(&task.output, task.format, color);
    let jpeg = rayon::current_num_threads() == 1
        && task.format == ImageFormat::Jpeg
        && !codec::is_stdio(&task.output);
    if !(netpbm || jpeg) {
        return None;
    }
    let source = warp::ImageRef {
        data: img.pixels.as_bytes(),
        width: img.pixels.width() as usize,
        height: img.pixels.height() as usize,
        channels: usize::from(color.channel_count()),
    };
    let bands = warp::Bands::new(source, transform, output, &task.sampling.options);
    let fill = |y0: u32, rows: &mut [std::mem::MaybeUninit<u8>]| bands.rows_into(y0 as usize, rows);
    let icc = img.icc.as_deref();
    if netpbm {
        Some(codec::write_netpbm_rows(
            output,
            color,
            icc,
            &task.output,
            &fill,
        ))
    } else {
        let quality = task.encoding.jpeg_quality;
        codec::write_jpeg_rows(output, color, quality, icc, &task.output, &fill)
    }
}

/// Whether `stn warp`'s output is a Netpbm file that takes the rows of
/// `rows` as they are ([`codec::netpbm_takes_rows`]).
fn netpbm_takes(rows: &codec::Rows, task: &WarpTask) -> bool {
    codec::netpbm_takes_rows(&task.output, task.format, rows.color())
}

/// The exit of `stn warp` once its output is written (or not): its note
/// printed, an interruption an exit status.
fn finish(written: Result<Option<String>, Error>, task: &WarpTask) -> Result<Exit, Error> {
    match written {
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

/// `stn model list`: one line per built-in model, from the table alone (no
/// ONNX Runtime): the name, `(default)` for the default, and its
/// [`Builtin::describe`], in columns.
pub fn model_list(out: &mut dyn Write) -> Result<Exit, Error> {
    let width = BUILTINS.iter().map(|b| b.name.len()).max().unwrap_or(0);
    let default = Builtin::default_model().name;
    let mut text = String::new();
    for b in BUILTINS {
        let mark = if b.name == default { "(default)" } else { "" };
        text.push_str(&format!("{:width$}  {mark:9}  {}\n", b.name, b.describe()));
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write {
            path: "-".into(),
            source,
        })?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_list_has_a_line_per_builtin_in_columns() {
        let mut out = Vec::new();
        assert_eq!(model_list(&mut out).unwrap(), Exit::Success);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), BUILTINS.len());
        for (line, b) in lines.iter().zip(BUILTINS) {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words[0], b.name, "{line}");
            assert!(line.ends_with(&b.describe()), "{line}");
        }
        assert_eq!(
            lines[0],
            format!("mnist     (default)  {}", BUILTINS[0].describe())
        );
        assert!(
            lines[1].starts_with("doc-page             256x256 grey -> 1240x1754, projective: ")
        );
        assert_eq!(text.matches("(default)").count(), 1);
    }
}
