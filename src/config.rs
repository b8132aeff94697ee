//! Validated, resolved settings: what [`crate::run`] executes.
//!
//! `Config::try_from(Cli)` is the one place where flags are judged together.
//! No clap type crosses this file.

use std::path::PathBuf;

use image::ImageFormat;

use crate::affine::{Affine, Size};
use crate::cli::{
    Cli, Command, FormatArg, InputArgs, InterpArg, ModelArgs, ModelCommand, OutputArgs, PaddingArg,
    PngCompressionArg, PredictArgs, RectifyArgs, SamplingArgs, ShardArg, WarpArgs,
};
use crate::codec::{self, CompressionType, Encoding};
use crate::error::Error;
use crate::net::{ModelSource, Overrides};
use crate::shard::Shard;
use crate::transform::{Homography, Tps};
use crate::warp::{Interp, Padding, WarpOptions};

/// Everything stn needs to run one command.
#[derive(Debug)]
pub struct Config {
    /// Worker threads; `None` lets rayon use one per core.
    pub threads: Option<usize>,
    /// The largest image, in pixels, stn decodes or produces.
    pub max_pixels: u64,
    /// The command.
    pub task: Task,
}

/// A resolved command.
#[derive(Debug)]
pub enum Task {
    /// Warp one image with a user-supplied matrix.
    Warp(WarpTask),
    /// Warp every image listed in a thetas file.
    Apply(ApplyTask),
    /// Predict thetas and warp.
    Rectify(RectifyTask),
    /// Predict thetas only, as JSON lines on standard output.
    Predict(PredictTask),
    /// Describe a model.
    ModelInfo(NetConfig),
    /// List the built-in models.
    ModelList,
    /// Print a shell completion script.
    Completions(clap_complete::Shell),
}

/// The model, the runtime and the batch size.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// The model.
    pub source: ModelSource,
    /// `--ort-lib`.
    pub ort_lib: Option<PathBuf>,
    /// Preprocessing overrides.
    pub overrides: Overrides,
    /// Images per inference batch.
    pub batch: usize,
}

/// What to do with an output that already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse to start.
    Refuse,
    /// Replace it.
    Overwrite,
    /// Keep it and skip the input.
    Skip,
}

/// Where and how a batch writes.
#[derive(Clone, Debug)]
pub struct OutputConfig {
    /// The output directory.
    pub dir: PathBuf,
    /// `--format`; `None` keeps each input's format.
    pub format: Option<ImageFormat>,
    /// Existing-output policy.
    pub existing: Existing,
    /// Encoder settings (PNG effort, JPEG quality).
    pub encoding: Encoding,
}

/// `stn rectify`.
#[derive(Debug)]
pub struct RectifyTask {
    /// Input arguments as given.
    pub inputs: Vec<String>,
    /// No progress bar or summary.
    pub quiet: bool,
    /// The model.
    pub net: NetConfig,
    /// Outputs.
    pub out: OutputConfig,
    /// Sampling; `size: None` means the model's output size, else the image's.
    pub sampling: Sampling,
    /// `--thetas FILE`.
    pub thetas: Option<PathBuf>,
    /// `--overlay DIR`.
    pub overlay: Option<PathBuf>,
    /// `--shard I/N`: only this shard's files.
    pub shard: Option<Shard>,
}

/// `stn predict`.
#[derive(Debug)]
pub struct PredictTask {
    /// Input arguments as given.
    pub inputs: Vec<String>,
    /// No progress bar or summary.
    pub quiet: bool,
    /// The model.
    pub net: NetConfig,
    /// Output size to record; `None` means the model's.
    pub size: Option<Size>,
    /// `--shard I/N`: only this shard's files.
    pub shard: Option<Shard>,
}

/// `stn warp --thetas FILE -o DIR`.
#[derive(Debug)]
pub struct ApplyTask {
    /// The JSON-lines file (`-` is standard input).
    pub thetas: PathBuf,
    /// Outputs.
    pub out: OutputConfig,
    /// Sampling; `size` overrides each line's size.
    pub sampling: Sampling,
    /// `--shard I/N`: only this shard's lines.
    pub shard: Option<Shard>,
}

/// Where a warp's transform comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixSource {
    /// A PyTorch theta, used as is.
    Theta(Affine),
    /// An invertible OpenCV pixel matrix, converted once the input size is known.
    Pixel(Affine),
    /// A normalised homography, used as is.
    Homography(Homography),
    /// An invertible OpenCV `warpPerspective` matrix, converted once the
    /// input size is known.
    Perspective(Homography),
    /// Document-scanner corners (input pixels of the output's corner pixel
    /// centres), converted once the input size is known.
    Corners([f64; 8]),
    /// A thin-plate spline.
    Tps(Tps),
}

/// Output size and sampling options.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sampling {
    /// Output size; `None` means the input's.
    pub size: Option<Size>,
    /// Kernel, padding, align_corners.
    pub options: WarpOptions,
    /// Whether `--padding` was given (else a model's `stn.padding` applies).
    pub padding_set: bool,
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
    /// Encoder settings (PNG effort, JPEG quality).
    pub encoding: Encoding,
}

impl TryFrom<Cli> for Config {
    type Error = Error;

    fn try_from(cli: Cli) -> Result<Config, Error> {
        let task = match cli.command {
            Command::Warp(args) if args.thetas.is_some() => Task::Apply(apply_task(args)?),
            Command::Warp(args) => Task::Warp(warp_task(args)?),
            Command::Rectify(args) => Task::Rectify(rectify_task(args)?),
            Command::Predict(args) => Task::Predict(predict_task(args)?),
            Command::Model(ModelCommand::List) => Task::ModelList,
            Command::Model(ModelCommand::Info {
                path,
                model,
                runtime,
            }) => Task::ModelInfo(NetConfig {
                source: model_source(path.or(model))?,
                ort_lib: runtime.ort_lib,
                overrides: Overrides::default(),
                batch: 1,
            }),
            Command::Completions { shell } => Task::Completions(shell),
        };
        Ok(Config {
            threads: cli.jobs.map(|n| n.get()),
            max_pixels: cli.max_pixels,
            task,
        })
    }
}

fn warp_task(args: WarpArgs) -> Result<WarpTask, Error> {
    if args.skip_existing {
        return Err(Error::Usage(
            "--skip-existing applies to a batch (stn warp --thetas FILE -o DIR)".into(),
        ));
    }
    if args.shard.is_some() {
        return Err(Error::Usage(
            "--shard applies to a batch (stn warp --thetas FILE -o DIR)".into(),
        ));
    }
    let matrix = if let Some(t) = &args.theta {
        MatrixSource::Theta(Affine::parse(t, "--theta")?)
    } else if let Some(m) = &args.matrix {
        let m = Affine::parse(m, "--matrix")?;
        m.invert("--matrix")?; // refuse a singular matrix before reading anything
        MatrixSource::Pixel(m)
    } else if let Some(h) = &args.homography {
        let h = Homography::parse(h, "--homography")?;
        h.check_usable("--homography")?;
        MatrixSource::Homography(h)
    } else if let Some(m) = &args.perspective {
        let m = Homography::parse(m, "--perspective")?;
        m.invert("--perspective")?;
        MatrixSource::Perspective(m)
    } else if let Some(c) = &args.corners {
        let v = crate::transform::parse_numbers(c, "--corners", 8, "x1,y1,x2,y2,x3,y3,x4,y4")?;
        MatrixSource::Corners(std::array::from_fn(|k| v[k]))
    } else if let Some(path) = &args.tps {
        MatrixSource::Tps(read_tps_file(path)?)
    } else {
        return Err(Error::Usage(
            "give one of --theta, --matrix, --homography, --perspective, --corners, --tps (or --thetas FILE)".into(),
        ));
    };
    let format = codec::output_format(&args.output, args.format.map(image_format))?;
    let input = args
        .input
        .ok_or_else(|| Error::Usage("stn warp needs an INPUT (or --thetas FILE)".into()))?;
    Ok(WarpTask {
        input,
        output: args.output,
        format,
        matrix,
        sampling: sampling(&args.sampling),
        overwrite: args.overwrite,
        encoding: encoding(args.png_compression, args.quality),
    })
}

/// Reads `--tps FILE`: `{"target": [[x, y], …], "source": [[x, y], …]}`
/// (optionally `"eps"` and `"grid"`, as in theta files).
fn read_tps_file(path: &std::path::Path) -> Result<Tps, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    crate::thetas::parse_tps(&text).map_err(|reason| Error::BadMatrix {
        origin: format!("--tps {}", path.display()),
        reason,
    })
}

fn apply_task(args: WarpArgs) -> Result<ApplyTask, Error> {
    let out = OutputArgs {
        output: args.output,
        format: args.format,
        overwrite: args.overwrite,
        skip_existing: args.skip_existing,
        png_compression: args.png_compression,
        quality: args.quality,
    };
    Ok(ApplyTask {
        thetas: args.thetas.expect("checked by the caller"),
        out: output_config(&out)?,
        sampling: sampling(&args.sampling),
        shard: shard(args.shard)?,
    })
}

fn rectify_task(args: RectifyArgs) -> Result<RectifyTask, Error> {
    let (inputs, quiet, shard) = input_list(args.inputs)?;
    Ok(RectifyTask {
        inputs,
        quiet,
        shard,
        net: net_config(args.model)?,
        out: output_config(&args.output)?,
        sampling: sampling(&args.sampling),
        thetas: args.thetas,
        overlay: args.overlay,
    })
}

fn predict_task(args: PredictArgs) -> Result<PredictTask, Error> {
    let (inputs, quiet, shard) = input_list(args.inputs)?;
    Ok(PredictTask {
        inputs,
        quiet,
        shard,
        net: net_config(args.model)?,
        size: args.size,
    })
}

fn input_list(args: InputArgs) -> Result<(Vec<String>, bool, Option<Shard>), Error> {
    Ok((args.inputs, args.quiet, shard(args.shard)?))
}

/// `--shard I/N` needs I < N (hence N ≥ 1).
fn shard(arg: Option<ShardArg>) -> Result<Option<Shard>, Error> {
    let Some(ShardArg { index, count }) = arg else {
        return Ok(None);
    };
    let bad = |why: String| Err(Error::Usage(format!("--shard {index}/{count}: {why}")));
    match (index, count) {
        (_, 0) => bad("N must be at least 1 (I/N is shard I of N, I from 0 to N-1)".into()),
        (i, n) if i >= n => bad(format!(
            "I must be below N: the shards of {n} are 0/{n} to {}/{n} (I counts from 0, as $JOB_COMPLETION_INDEX and sbatch --array=0-{} do)",
            n - 1,
            n - 1
        )),
        (i, n) => Ok(Shard::new(i, n)),
    }
}

fn net_config(args: ModelArgs) -> Result<NetConfig, Error> {
    let floats = |flag: &str, v: Option<String>| -> Result<Option<Vec<f32>>, Error> {
        v.map(|t| {
            crate::net::parse_floats(&t).map_err(|e| Error::Usage(format!("{flag} {t:?}: {e}")))
        })
        .transpose()
    };
    Ok(NetConfig {
        source: model_source(args.model)?,
        ort_lib: args.runtime.ort_lib,
        overrides: Overrides {
            input_size: args.input_size,
            mean: floats("--mean", args.mean)?,
            std: floats("--std", args.std)?,
        },
        batch: args.batch.get(),
    })
}

/// `--model VALUE` (or `stn model info VALUE`): a built-in name, else an
/// existing file; absent, the default built-in model.
fn model_source(value: Option<PathBuf>) -> Result<ModelSource, Error> {
    value.map_or(Ok(ModelSource::default()), |v| ModelSource::resolve(&v))
}

fn output_config(args: &OutputArgs) -> Result<OutputConfig, Error> {
    if codec::is_stdio(&args.output) {
        return Err(Error::Usage(
            "a batch writes into a directory; -o - is only for stn warp with one INPUT".into(),
        ));
    }
    Ok(OutputConfig {
        dir: args.output.clone(),
        format: args.format.map(image_format),
        existing: if args.overwrite {
            Existing::Overwrite
        } else if args.skip_existing {
            Existing::Skip
        } else {
            Existing::Refuse
        },
        encoding: encoding(args.png_compression, args.quality),
    })
}

fn encoding(png: PngCompressionArg, quality: u8) -> Encoding {
    Encoding {
        png: match png {
            PngCompressionArg::Fast => CompressionType::Fast,
            PngCompressionArg::Default => CompressionType::Default,
            PngCompressionArg::Best => CompressionType::Best,
        },
        jpeg_quality: quality,
    }
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
            padding: match args.padding.unwrap_or_default() {
                PaddingArg::Zeros => Padding::Zeros,
                PaddingArg::Border => Padding::Border,
                PaddingArg::Reflection => Padding::Reflection,
            },
            align_corners: args.align_corners,
        },
        padding_set: args.padding.is_some(),
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
            .task
        else {
            panic!("a warp task")
        };
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
        .task
        else {
            panic!("a warp task")
        };
        assert_eq!(w.format, ImageFormat::Jpeg);
    }

    #[test]
    fn thetas_file_selects_apply() {
        let c = config(&["stn", "warp", "--thetas", "t.jsonl", "-o", "out"]).unwrap();
        assert!(matches!(c.task, Task::Apply(_)));
        assert!(Cli::try_parse_from([
            "stn",
            "warp",
            "--thetas",
            "t",
            "--theta=1,0,0,0,1,0",
            "-o",
            "o"
        ])
        .is_err());
    }

    #[test]
    fn batch_output_must_be_a_directory() {
        let e = config(&["stn", "rectify", "in", "-o", "-"]).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }

    #[test]
    fn shard_is_validated() {
        let Task::Rectify(r) = config(&["stn", "rectify", "--shard", "2/3", "in", "-o", "o"])
            .unwrap()
            .task
        else {
            panic!("rectify")
        };
        assert_eq!(r.shard, Shard::new(2, 3));
        for (args, needle) in [
            (
                &["stn", "rectify", "--shard", "3/3", "in", "-o", "o"][..],
                "--shard 3/3: I must be below N: the shards of 3 are 0/3 to 2/3",
            ),
            (
                &["stn", "predict", "--shard", "0/0", "in"],
                "--shard 0/0: N must be at least 1",
            ),
            (
                &["stn", "warp", "--thetas", "t", "--shard", "5/2", "-o", "o"],
                "--shard 5/2: I must be below N",
            ),
        ] {
            let e = config(args).unwrap_err();
            assert!(matches!(e, Error::Usage(_)), "{e:?}");
            assert!(e.to_string().starts_with(needle), "{e}");
        }
        let Task::Apply(a) = config(&["stn", "warp", "--thetas", "t", "--shard=0/1", "-o", "o"])
            .unwrap()
            .task
        else {
            panic!("apply")
        };
        assert_eq!(a.shard, Shard::new(0, 1));
        let e = config(&[
            "stn",
            "warp",
            "--theta=1,0,0,0,1,0",
            "--shard=0/2",
            "a",
            "-o",
            "b.png",
        ]);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("--shard applies to a batch"));
    }

    /// The model a command line resolves to: a built-in name, or a file.
    fn model_of(args: &[&str]) -> Result<String, Error> {
        let net = match config(args)?.task {
            Task::Rectify(r) => r.net,
            Task::Predict(p) => p.net,
            Task::ModelInfo(n) => n,
            other => panic!("{other:?}"),
        };
        Ok(match net.source {
            ModelSource::Builtin(b) => b.name.to_string(),
            ModelSource::File(p) => p.display().to_string(),
        })
    }

    #[test]
    fn models_are_chosen_by_name_or_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("net.onnx");
        std::fs::write(&file, b"").unwrap();
        let file = file.to_str().unwrap();
        for (args, model) in [
            (&["stn", "rectify", "in", "-o", "o"][..], "mnist"),
            (
                &["stn", "rectify", "--model", "doc-page", "in", "-o", "o"],
                "doc-page",
            ),
            (&["stn", "predict", "--model=mnist", "in"], "mnist"),
            (&["stn", "predict", "--model", file, "in"], file),
            (&["stn", "model", "info"], "mnist"),
            (&["stn", "model", "info", "doc-page"], "doc-page"),
            (&["stn", "model", "info", "--model", "doc-page"], "doc-page"),
            (&["stn", "model", "info", file], file),
        ] {
            assert_eq!(model_of(args).unwrap(), model, "{args:?}");
        }
        for args in [
            &["stn", "rectify", "--model", "nosuch", "in", "-o", "o"][..],
            &["stn", "predict", "--model", "nosuch", "in"],
            &["stn", "model", "info", "nosuch"],
            &["stn", "model", "info", "--model=nosuch"],
        ] {
            let e = model_of(args).unwrap_err();
            assert!(matches!(e, Error::Model { .. }), "{e:?}");
            assert!(e.to_string().starts_with("model nosuch: "), "{e}");
        }
        // One model at a time.
        assert!(
            Cli::try_parse_from(["stn", "model", "info", "mnist", "--model", "doc-page"]).is_err()
        );
        assert!(matches!(
            config(&["stn", "model", "list"]).unwrap().task,
            Task::ModelList
        ));
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
