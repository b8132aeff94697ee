//! Validated, resolved settings: what [`crate::run`] executes.
//!
//! `Config::try_from(Cli)` is the one place where flags are judged together.
//! No clap type crosses this file.

use std::path::PathBuf;

use image::ImageFormat;

use crate::affine::{Affine, Size};
use crate::cli::{Cli, Command, FormatArg, InterpArg, PaddingArg, SamplingArgs, WarpArgs};
use crate::codec;
use crate::error::Error;
use crate::warp::{Interp, Padding, WarpOptions};

/// Everything stn needs to run one command.
#[derive(Debug)]
pub struct Config {
    /// Worker threads; `None` lets rayon use one per core.
    pub threads: Option<usize>,
    /// The command.
    pub task: Task,
}

/// A resolved command.
#[derive(Debug)]
pub enum Task {
    /// Warp one image with a user-supplied matrix.
    Warp(WarpTask),
}

/// Where a warp's matrix comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MatrixSource {
    /// A PyTorch theta, used as is.
    Theta(Affine),
    /// An invertible OpenCV pixel matrix, converted once the input size is known.
    Pixel(Affine),
}

/// Output size and sampling options.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sampling {
    /// Output size; `None` means the input's.
    pub size: Option<Size>,
    /// Kernel, padding, align_corners.
    pub options: WarpOptions,
}

/// `stn warp`: one input, one output.
#[derive(Debug)]
pub struct WarpTask {
    /// Input path; `-` is standard input.
    pub input: PathBuf,
    /// Output path; `-` is standard output.
    pub output: PathBuf,
    /// The output's format.
    pub format: ImageFormat,
    /// The matrix.
    pub matrix: MatrixSource,
    /// Output size and sampling options.
    pub sampling: Sampling,
    /// Whether the output may replace the input.
    pub overwrite: bool,
}

impl TryFrom<Cli> for Config {
    type Error = Error;

    fn try_from(cli: Cli) -> Result<Config, Error> {
        let task = match cli.command {
            Command::Warp(args) => Task::Warp(warp_task(args)?),
        };
        Ok(Config {
            threads: cli.jobs.map(|n| n.get()),
            task,
        })
    }
}

fn warp_task(args: WarpArgs) -> Result<WarpTask, Error> {
    let matrix = match (&args.theta, &args.matrix) {
        (Some(t), None) => MatrixSource::Theta(Affine::parse(t, "--theta")?),
        (None, Some(m)) => {
            let m = Affine::parse(m, "--matrix")?;
            m.invert("--matrix")?; // refuse a singular matrix before reading anything
            MatrixSource::Pixel(m)
        }
        _ => {
            return Err(Error::Usage(
                "give exactly one of --theta and --matrix".into(),
            ))
        }
    };
    let format = codec::output_format(&args.output, args.format.map(image_format))?;
    Ok(WarpTask {
        input: args.input,
        output: args.output,
        format,
        matrix,
        sampling: sampling(&args.sampling),
        overwrite: args.overwrite,
    })
}

fn sampling(args: &SamplingArgs) -> Sampling {
    Sampling {
        size: args.size,
        options: WarpOptions {
            interp: match args.interp {
                InterpArg::Bilinear => Interp::Bilinear,
                InterpArg::Nearest => Interp::Nearest,
                InterpArg::Bicubic => Interp::Bicubic,
            },
            padding: match args.padding {
                PaddingArg::Zeros => Padding::Zeros,
                PaddingArg::Border => Padding::Border,
                PaddingArg::Reflection => Padding::Reflection,
            },
            align_corners: args.align_corners,
        },
    }
}

fn image_format(f: FormatArg) -> ImageFormat {
    match f {
        FormatArg::Png => ImageFormat::Png,
        FormatArg::Jpeg => ImageFormat::Jpeg,
        FormatArg::Bmp => ImageFormat::Bmp,
        FormatArg::Tiff => ImageFormat::Tiff,
        FormatArg::Pnm => ImageFormat::Pnm,
        FormatArg::Webp => ImageFormat::WebP,
        FormatArg::Gif => ImageFormat::Gif,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, Error> {
        Config::try_from(Cli::try_parse_from(args).expect("parses"))
    }

    #[test]
    fn singular_matrix_is_refused() {
        let e = config(&[
            "stn",
            "warp",
            "--matrix=1,2,0,2,4,0",
            "a.png",
            "-o",
            "b.png",
        ]);
        assert!(e.unwrap_err().to_string().contains("singular"));
    }

    #[test]
    fn singular_theta_is_a_valid_warp() {
        // A theta of rank 0 samples one point everywhere; PyTorch allows it.
        assert!(config(&["stn", "warp", "--theta=0,0,0,0,0,0", "a.png", "-o", "b.png"]).is_ok());
    }

    #[test]
    fn unknown_extension_is_refused() {
        let e = config(&["stn", "warp", "--theta=1,0,0,0,1,0", "a.png", "-o", "b.xyz"]);
        assert!(e.unwrap_err().to_string().contains("b.xyz"));
    }

    #[test]
    fn stdout_defaults_to_png_and_format_overrides() {
        let Task::Warp(w) = config(&["stn", "warp", "--theta=1,0,0,0,1,0", "-", "-o", "-"])
            .unwrap()
            .task;
        assert_eq!(w.format, ImageFormat::Png);
        let Task::Warp(w) = config(&[
            "stn",
            "warp",
            "--theta=1,0,0,0,1,0",
            "--format=jpg",
            "-",
            "-o",
            "x.png",
        ])
        .unwrap()
        .task;
        assert_eq!(w.format, ImageFormat::Jpeg);
    }

    #[test]
    fn threads_are_passed_on() {
        let c = config(&[
            "stn",
            "-j",
            "3",
            "warp",
            "--theta=1,0,0,0,1,0",
            "a",
            "-o",
            "b.png",
        ]);
        assert_eq!(c.unwrap().threads, Some(3));
    }
}
