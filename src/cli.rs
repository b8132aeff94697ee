//! The command line, as clap sees it: syntax and help only.
//!
//! Values are parsed to types at the edge (`Size`, enums, `NonZeroUsize`);
//! everything that needs more than one flag to judge is checked in
//! [`crate::config`].

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::affine::Size;

/// Rectify images with Spatial Transformer Networks, and apply affine warps
/// with PyTorch's exact `affine_grid` + `grid_sample` semantics.
#[derive(Debug, Parser)]
#[command(name = "stn", version, about, max_term_width = 100)]
pub struct Cli {
    /// Worker threads [default: one per core].
    #[arg(short = 'j', long = "jobs", global = true, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply an affine matrix to an image.
    ///
    /// The matrix is either a PyTorch theta (--theta: output normalised
    /// coordinates → input normalised coordinates, as affine_grid) or an OpenCV
    /// pixel matrix (--matrix: source pixel → destination pixel, as warpAffine).
    #[command(after_help = "Examples:\n  \
        stn warp --theta=0.9,-0.2,0.05,0.2,0.9,-0.03 in.png -o out.png\n  \
        stn warp --matrix=1,0,10,0,1,-5 --size 640x480 --interp bicubic in.jpg -o out.jpg\n  \
        cat in.png | stn warp --theta='-1,0,0,0,1,0' - -o - > mirrored.png")]
    Warp(WarpArgs),
}

/// `grid_sample`'s interpolation modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum InterpArg {
    /// 2×2 neighbours, linear weights.
    #[default]
    Bilinear,
    /// The nearest pixel (ties to even).
    Nearest,
    /// 4×4 neighbours, cubic convolution with A = -0.75.
    Bicubic,
}

/// `grid_sample`'s padding modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PaddingArg {
    /// Zeros outside the image (alpha too).
    #[default]
    Zeros,
    /// Repeat the edge pixels.
    Border,
    /// Mirror the image at its edges.
    Reflection,
}

/// Output formats for `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// PNG.
    Png,
    /// JPEG.
    #[value(alias = "jpg")]
    Jpeg,
    /// Windows bitmap.
    Bmp,
    /// TIFF.
    #[value(alias = "tif")]
    Tiff,
    /// Netpbm (PGM, PPM or PAM, by channel layout).
    Pnm,
    /// WebP (lossless).
    Webp,
    /// GIF.
    Gif,
}

/// The sampling options shared by every command that warps.
#[derive(Debug, Args)]
pub struct SamplingArgs {
    /// Output size [default: the input's size].
    #[arg(long, value_name = "WxH")]
    pub size: Option<Size>,

    /// Interpolation kernel.
    #[arg(long, value_enum, default_value_t, value_name = "KERNEL")]
    pub interp: InterpArg,

    /// What lies outside the input.
    #[arg(long, value_enum, default_value_t, value_name = "MODE")]
    pub padding: PaddingArg,

    /// Normalised ±1 are the centres of the corner pixels, not their outer edges.
    #[arg(long)]
    pub align_corners: bool,
}

/// Arguments of `stn warp`.
#[derive(Debug, Args)]
pub struct WarpArgs {
    /// PyTorch theta, six numbers a,b,c,d,e,f (row-major 2×3; output → input,
    /// normalised coordinates).
    #[arg(
        long,
        value_name = "a,b,c,d,e,f",
        allow_hyphen_values = true,
        conflicts_with = "matrix",
        required_unless_present = "matrix"
    )]
    pub theta: Option<String>,

    /// OpenCV pixel matrix, six numbers (row-major 2×3; source pixel →
    /// destination pixel, pixel centres at integers, as cv2.warpAffine).
    #[arg(
        long,
        value_name = "m00,m01,m02,m10,m11,m12",
        allow_hyphen_values = true
    )]
    pub matrix: Option<String>,

    /// Sampling options.
    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// Output format [default: from the output's extension; PNG on stdout].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// Allow the output to replace the input file.
    #[arg(long)]
    pub overwrite: bool,

    /// Input image; `-` reads standard input.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,

    /// Output image; `-` writes standard output.
    #[arg(short = 'o', long = "output", value_name = "OUTPUT")]
    pub output: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn negative_theta_values_parse() {
        let cli = Cli::try_parse_from(["stn", "warp", "--theta", "-1,0,0,0,1,0", "a", "-o", "b"])
            .unwrap();
        let Command::Warp(w) = cli.command;
        assert_eq!(w.theta.as_deref(), Some("-1,0,0,0,1,0"));
    }

    #[test]
    fn theta_and_matrix_exclude_each_other() {
        let r = Cli::try_parse_from([
            "stn",
            "warp",
            "--theta=1,0,0,0,1,0",
            "--matrix=1,0,0,0,1,0",
            "a",
            "-o",
            "b",
        ]);
        assert!(r.is_err());
        let r = Cli::try_parse_from(["stn", "warp", "a", "-o", "b"]);
        assert!(r.is_err(), "one of --theta/--matrix is required");
    }
}
