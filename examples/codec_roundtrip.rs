//! The codec-only floor for `stn rectify`: decode every image of a folder and
//! write it back as PNG, with what stn itself uses and nothing else (no
//! inference, no warp).
//!
//! ```sh
//! cargo run --release --example codec_roundtrip -- IN_DIR OUT_DIR [--jobs N] [--no-sync] [--decode-only]
//! ```
//!
//! - decoding: the `image` crate, format sniffed from the content;
//! - encoding: `PngEncoder::new_with_quality(_, CompressionType::Fast,
//!   FilterType::Adaptive)`, stn's default PNG settings;
//! - writing: a hidden temporary file in the output directory, flushed to disk
//!   (`sync_all`) and renamed over the target, as stn writes (`--no-sync` skips
//!   the flush, to see what it costs; `--decode-only` decodes and writes nothing);
//! - files in parallel on a rayon pool of `--jobs` threads (default: one per core);
//! - the allocator settings of the `stn` binary (`stn::malloc::tune`).
//!
//! `scripts/bench.py` times this whole process against `stn rectify` on the same
//! folder. Prints `{"images": N, "failed": N, "seconds": S}` on stdout, the time
//! measured inside the process (from listing the folder to the last rename).

use std::fs;
use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::ImageReader;
use rayon::prelude::*;

struct Args {
    input: PathBuf,
    output: PathBuf,
    jobs: Option<usize>,
    sync: bool,
    decode_only: bool,
}

const USAGE: &str = "usage: codec_roundtrip IN_DIR OUT_DIR [--jobs N] [--no-sync] [--decode-only]";

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut jobs = None;
    let mut sync = true;
    let mut decode_only = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-j" | "--jobs" => {
                let n = it.next().ok_or("--jobs needs a value")?;
                jobs = Some(n.parse().map_err(|_| format!("bad --jobs value {n:?}"))?);
            }
            "--no-sync" => sync = false,
            "--decode-only" => decode_only = true,
            "-h" | "--help" => return Err(USAGE.into()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    match <[PathBuf; 2]>::try_from(positional) {
        Ok([input, output]) => Ok(Args {
            input,
            output,
            jobs,
            sync,
            decode_only,
        }),
        Err(_) => Err(USAGE.into()),
    }
}

/// The regular files directly in `dir`, sorted by name.
fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Decodes `src`, encodes it as PNG with stn's defaults and writes it
/// atomically to `dst` (only decodes with `decode_only`).
fn roundtrip(src: &Path, dst: &Path, sync: bool, decode_only: bool) -> Result<(), String> {
    let bytes = fs::read(src).map_err(|e| format!("{}: {e}", src.display()))?;
    let img = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| format!("{}: {e}", src.display()))?
        .decode()
        .map_err(|e| format!("{}: {e}", src.display()))?;
    if decode_only {
        return Ok(());
    }
    let mut png = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive);
    img.write_with_encoder(encoder)
        .map_err(|e| format!("{}: {e}", dst.display()))?;
    write_atomically(dst, &png, sync).map_err(|e| format!("{}: {e}", dst.display()))
}

fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".roundtrip-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn run(args: &Args) -> Result<(usize, usize, f64), String> {
    let start = Instant::now();
    let files = list_files(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    fs::create_dir_all(&args.output).map_err(|e| format!("{}: {e}", args.output.display()))?;
    let failed = files
        .par_iter()
        .map(|src| {
            let mut name = src.file_stem().unwrap_or_default().to_os_string();
            name.push(".png");
            match roundtrip(src, &args.output.join(name), args.sync, args.decode_only) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("codec_roundtrip: {e}");
                    1
                }
            }
        })
        .sum::<usize>();
    Ok((files.len(), failed, start.elapsed().as_secs_f64()))
}

fn main() -> ExitCode {
    // The allocator settings the stn binary uses, so that the floor is as cheap
    // as stn's own codec and write path can be.
    stn::malloc::tune();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.jobs {
        pool = pool.num_threads(n);
    }
    let pool = match pool.build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("codec_roundtrip: {e}");
            return ExitCode::from(2);
        }
    };
    match pool.install(|| run(&args)) {
        Ok((images, failed, seconds)) => {
            println!("{{\"images\": {images}, \"failed\": {failed}, \"seconds\": {seconds:.6}}}");
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("codec_roundtrip: {e}");
            ExitCode::from(2)
        }
    }
}
