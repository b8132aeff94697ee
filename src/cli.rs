//! The command line, as clap sees it: syntax and help only.
//!
//! Values are parsed to types at the edge (`Size`, enums, `NonZeroUsize`);
//! everything that needs more than one flag to judge is checked in
//! [`crate::config`].

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::affine::Size;
use crate::net::Builtin;

/// Rectify images with Spatial Transformer Networks, and apply affine warps
/// with PyTorch's exact `affine_grid` + `grid_sample` semantics.
#[derive(Debug, Parser)]
#[command(name = "stn", version, about, max_term_width = 100)]
pub struct Cli {
    /// Worker threads [default: one per core].
    #[arg(short = 'j', long = "jobs", global = true, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,

    /// Refuse images (decoded or requested) of more pixels than this: a
    /// guard against decompression bombs.
    #[arg(long, global = true, value_name = "N", default_value_t = 100_000_000)]
    pub max_pixels: u64,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply an affine, projective or thin-plate-spline transform to an image.
    ///
    /// The matrix is either a PyTorch theta (--theta: output normalised
    /// coordinates → input normalised coordinates, as affine_grid) or an OpenCV
    /// pixel matrix (--matrix: source pixel → destination pixel, as warpAffine).
    #[command(after_help = "Examples:\n  \
        stn warp --theta=0.9,-0.2,0.05,0.2,0.9,-0.03 in.png -o out.png\n  \
        stn warp --matrix=1,0,10,0,1,-5 --size 640x480 --interp bicubic in.jpg -o out.jpg\n  \
        cat in.png | stn warp --theta='-1,0,0,0,1,0' - -o - > mirrored.png")]
    Warp(WarpArgs),

    /// Rectify images: predict a theta per image with a localisation net, then warp.
    ///
    /// Inputs are files, directories (recursive), glob patterns, or `-` for a
    /// list of paths on standard input. Outputs mirror the inputs' relative
    /// paths under the output directory. Existing outputs are refused unless
    /// --overwrite or --skip-existing. The model is a built-in one (`stn model
    /// list`; MNIST digits by default) or an ONNX file: --model.
    #[command(after_help = "Examples:\n  \
        stn rectify models/samples/mnist -o rectified\n  \
        stn rectify --model doc-page photos/ -o pages\n  \
        stn rectify 'scans/**/*.png' -o out --size 512x512 --thetas thetas.jsonl\n  \
        find . -name '*.jpg' | stn rectify - -o out --skip-existing")]
    Rectify(RectifyArgs),

    /// Predict thetas without warping: one JSON line per image on standard output.
    ///
    /// Each line is `{"path": …, "theta": [a,b,c,d,e,f], "output": …, "size": [w,h]}`;
    /// edit it and apply it with `stn warp --thetas FILE -o DIR`.
    Predict(PredictArgs),

    /// List the built-in localisation models, or inspect one or an ONNX file.
    #[command(subcommand)]
    Model(ModelCommand),

    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `stn model …`
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// List the built-in models: name, input and output sizes, transform family, purpose.
    ///
    /// One line per model, the default marked `(default)`. Reads nothing from
    /// disk and needs no ONNX Runtime.
    List,

    /// Print a model's inputs, outputs, metadata and the contract stn reads from it.
    #[command(after_help = "Examples:\n  \
        stn model info\n  \
        stn model info doc-page\n  \
        stn model info --model ./my-net.onnx")]
    Info {
        /// The model, as --model.
        #[arg(
            value_name = "NAME|PATH",
            conflicts_with = "model",
            help = model_positional_help()
        )]
        path: Option<PathBuf>,

        /// The model.
        #[arg(
            long,
            value_name = "NAME|PATH",
            help = model_help(),
            long_help = model_long_help()
        )]
        model: Option<PathBuf>,

        /// ONNX Runtime options.
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
}

/// `--model`'s short help, naming the built-in models from their table.
fn model_help() -> String {
    format!(
        "The localisation net: a built-in model ({}) or an ONNX file [default: {}]",
        Builtin::names(),
        Builtin::default_model().name
    )
}

/// `--model`'s long help: [`model_help`] and the rule between names and paths.
fn model_long_help() -> String {
    format!(
        "{}\n\nA value equal to a built-in model's name is that model, even when a file \
         of that name exists; any other value is a path (so a file called {} is given as \
         ./{}). `stn model list` describes the built-in models.",
        model_help(),
        Builtin::default_model().name,
        Builtin::default_model().name,
    )
}

/// The positional model of `stn model info`.
fn model_positional_help() -> String {
    format!(
        "A built-in model ({}) or an ONNX file, as --model [default: {}]",
        Builtin::names(),
        Builtin::default_model().name
    )
}

/// Where the model and ONNX Runtime come from.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// The ONNX Runtime shared library (libonnxruntime.so.*) [default: search
    /// ORT_DYLIB_PATH, beside the executable, the user cache, the build location].
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
}

/// The model and how to feed it.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The localisation net: a built-in model's name or an ONNX file.
    #[arg(
        long,
        value_name = "NAME|PATH",
        help = model_help(),
        long_help = model_long_help()
    )]
    pub model: Option<PathBuf>,

    /// Images per inference batch.
    #[arg(long, value_name = "N", default_value = "64")]
    pub batch: NonZeroUsize,

    /// Model input size [default: from the model].
    #[arg(long, value_name = "WxH")]
    pub input_size: Option<Size>,

    /// Per-channel mean subtracted after scaling pixels to [0, 1] [default: from the model, else 0].
    #[arg(long, value_name = "M[,M,M]")]
    pub mean: Option<String>,

    /// Per-channel divisor applied after the mean [default: from the model, else 1].
    #[arg(long, value_name = "S[,S,S]")]
    pub std: Option<String>,

    /// ONNX Runtime options.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Inputs of a batch command.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Files, directories (searched recursively), glob patterns, or `-` for
    /// newline-separated paths on standard input.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,

    /// Take only shard I of N (I = 0 … N−1): the files whose relative path
    /// hashes to I mod N. The N runs 0/N … (N−1)/N together do one run's work.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, allow_hyphen_values = true)]
    pub shard: Option<ShardArg>,
}

/// `--shard I/N` as written: two whole numbers; [`crate::config`] checks I < N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardArg {
    /// I.
    pub index: u64,
    /// N.
    pub count: u64,
}

/// Parses `I/N`, two decimal whole numbers (no sign).
fn parse_shard(text: &str) -> Result<ShardArg, String> {
    let usage = "expected I/N, two whole numbers with I from 0 to N-1, such as 0/4";
    let Some((i, n)) = text.split_once('/') else {
        return Err(usage.to_string());
    };
    let number = |s: &str, what: &str| -> Result<u64, String> {
        if s.is_empty() {
            return Err(format!(
                "{usage}; {what} is missing (an unset variable such as $JOB_COMPLETION_INDEX?)"
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{usage}; {what} {s:?} is not a whole number"));
        }
        s.parse()
            .map_err(|_| format!("{usage}; {what} {s} is too large"))
    };
    Ok(ShardArg {
        index: number(i, "I")?,
        count: number(n, "N")?,
    })
}

/// How outputs are written.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output directory; outputs mirror the inputs' relative paths.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,

    /// Output format [default: the input's].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// Replace existing outputs.
    #[arg(long, conflicts_with = "skip_existing")]
    pub overwrite: bool,

    /// Leave existing outputs alone and count them as skipped.
    #[arg(long)]
    pub skip_existing: bool,

    /// PNG compression: fast (default, larger files) to best (smallest, slowest).
    #[arg(long, value_enum, default_value_t, value_name = "LEVEL")]
    pub png_compression: PngCompressionArg,

    /// JPEG quality, 1-100, on libjpeg's scale (as OpenCV and Pillow).
    #[arg(long, value_name = "N", default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
}

/// PNG encoder effort.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PngCompressionArg {
    /// Fastest encoding.
    #[default]
    Fast,
    /// zlib's default level.
    Default,
    /// Smallest files.
    Best,
}

/// Arguments of `stn rectify`.
#[derive(Debug, Args)]
pub struct RectifyArgs {
    /// Inputs.
    #[command(flatten)]
    pub inputs: InputArgs,

    /// Outputs.
    #[command(flatten)]
    pub output: OutputArgs,

    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,

    /// Sampling options [output size default: from the model].
    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// Also write the thetas as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub thetas: Option<PathBuf>,

    /// Also write each input with the sampled region outlined into DIR: the
    /// quadrilateral of an affine or projective transform, the image of the
    /// output's border (a curve) for a thin-plate spline, one per part.
    #[arg(long, value_name = "DIR")]
    pub overlay: Option<PathBuf>,
}

/// Arguments of `stn predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Inputs.
    #[command(flatten)]
    pub inputs: InputArgs,

    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,

    /// Output size recorded in each line [default: from the model].
    #[arg(long, value_name = "WxH")]
    pub size: Option<Size>,
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
    /// Netpbm: PGM (P5) for grey, PPM (P6) for colour; files named .pnm.
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

    /// What lies outside the input [default: zeros, or the model's stn.padding].
    #[arg(long, value_enum, value_name = "MODE")]
    pub padding: Option<PaddingArg>,

    /// Normalised ±1 are the centres of the corner pixels, not their outer edges.
    #[arg(long)]
    pub align_corners: bool,
}

/// Arguments of `stn warp`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("transform").required(true).multiple(false)))]
pub struct WarpArgs {
    /// PyTorch theta, six numbers a,b,c,d,e,f (row-major 2×3; output → input,
    /// normalised coordinates).
    #[arg(
        long,
        value_name = "a,b,c,d,e,f",
        allow_hyphen_values = true,
        group = "transform"
    )]
    pub theta: Option<String>,

    /// Homography, nine numbers h11,…,h33 (row-major 3×3; output → input,
    /// normalised coordinates, like --theta). Where h31·x + h32·y + h33 ≤ 0
    /// the output is 0.
    #[arg(
        long,
        value_name = "h11,h12,h13,h21,h22,h23,h31,h32,h33",
        allow_hyphen_values = true,
        group = "transform"
    )]
    pub homography: Option<String>,

    /// OpenCV perspective matrix, nine numbers (row-major 3×3; source pixel →
    /// destination pixel, pixel centres at integers, as cv2.warpPerspective).
    #[arg(
        long,
        value_name = "m11,m12,m13,m21,m22,m23,m31,m32,m33",
        allow_hyphen_values = true,
        group = "transform"
    )]
    pub perspective: Option<String>,

    /// Document-scanner corners x1,y1,…,x4,y4: the input pixel positions
    /// (centres at integers) that the output's top-left, top-right,
    /// bottom-right and bottom-left pixel centres come from (as
    /// cv2.getPerspectiveTransform + warpPerspective). Needs --size.
    #[arg(
        long,
        value_name = "x1,y1,x2,y2,x3,y3,x4,y4",
        allow_hyphen_values = true,
        group = "transform",
        requires = "size"
    )]
    pub corners: Option<String>,

    /// Thin-plate spline: a JSON file `{"target": [[x, y], …], "source": [[x, y], …]}`
    /// of output points and the input points they sample (normalised).
    #[arg(long, value_name = "FILE", group = "transform")]
    pub tps: Option<PathBuf>,

    /// OpenCV pixel matrix, six numbers (row-major 2×3; source pixel →
    /// destination pixel, pixel centres at integers, as cv2.warpAffine).
    #[arg(
        long,
        value_name = "m00,m01,m02,m10,m11,m12",
        allow_hyphen_values = true,
        group = "transform"
    )]
    pub matrix: Option<String>,

    /// Apply a JSON-lines thetas file (from `stn predict` or `rectify --thetas`):
    /// each line's image is warped into the output directory. Lines carry a
    /// "theta", a "homography" or a "tps".
    #[arg(long, value_name = "FILE", group = "transform")]
    pub thetas: Option<PathBuf>,

    /// Sampling options.
    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// Output format [default: from the output's extension; PNG on stdout].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// Allow the output to replace the input file (with --thetas: replace
    /// existing outputs).
    #[arg(long, conflicts_with = "skip_existing")]
    pub overwrite: bool,

    /// With --thetas: leave existing outputs alone and count them as skipped.
    #[arg(long)]
    pub skip_existing: bool,

    /// With --thetas: take only shard I of N (I = 0 … N−1), the lines whose
    /// output path hashes to I mod N.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, allow_hyphen_values = true)]
    pub shard: Option<ShardArg>,

    /// PNG compression: fast (default, larger files) to best (smallest, slowest).
    #[arg(long, value_enum, default_value_t, value_name = "LEVEL")]
    pub png_compression: PngCompressionArg,

    /// JPEG quality, 1-100, on libjpeg's scale (as OpenCV and Pillow).
    #[arg(long, value_name = "N", default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,

    /// Input image; `-` reads standard input.
    #[arg(
        value_name = "INPUT",
        required_unless_present = "thetas",
        conflicts_with = "thetas"
    )]
    pub input: Option<PathBuf>,

    /// Output image; `-` writes standard output. With --thetas, a directory.
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
        let Command::Warp(w) = cli.command else {
            panic!("warp")
        };
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

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("0/4"), Ok(ShardArg { index: 0, count: 4 }));
        assert_eq!(
            parse_shard("07/10"),
            Ok(ShardArg {
                index: 7,
                count: 10
            })
        );
        // Range checks (3/3, 0/0) are the config's.
        assert_eq!(parse_shard("3/3"), Ok(ShardArg { index: 3, count: 3 }));
        for (bad, needle) in [
            ("a/b", "\"a\" is not a whole number"),
            ("-1/2", "\"-1\" is not a whole number"),
            ("+1/2", "not a whole number"),
            ("1/-2", "N \"-2\""),
            (" 1/2", "not a whole number"),
            ("1", "expected I/N"),
            ("/4", "I is missing (an unset variable"),
            ("1/", "N is missing"),
            ("1/2/3", "\"2/3\" is not a whole number"),
            ("1/99999999999999999999", "too large"),
        ] {
            let e = parse_shard(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn shard_flag_is_on_batch_commands_only() {
        for args in [
            &["stn", "rectify", "--shard", "1/3", "in", "-o", "out"][..],
            &["stn", "predict", "--shard=1/3", "in"],
            &[
                "stn", "warp", "--thetas", "t", "--shard", "1/3", "-o", "out",
            ],
        ] {
            assert!(Cli::try_parse_from(args).is_ok(), "{args:?}");
        }
        let e = Cli::try_parse_from(["stn", "predict", "--shard", "-1/2", "in"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("not a whole number"), "{e}");
    }
}
