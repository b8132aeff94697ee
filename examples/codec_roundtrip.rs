//! The codec-only floor for `stn rectify`: decode every image of a folder and
//! write it back in the same format, with what stn itself uses and nothing
//! else (no inference, no warp).
//!
//! ```sh
//! cargo run --release --example codec_roundtrip -- IN_DIR OUT_DIR [--jobs N] [--no-sync] [--decode-only]
//! ```
//!
//! - decoding: `stn::codec::read_image` (the `image` crate, format sniffed
//!   from the content, the file read in one allocation of its size);
//! - encoding: `stn::codec::encode_to` with stn's defaults (PNG: fast
//!   compression; JPEG: quality 90, stn's strip-parallel encoder), in the
//!   format of the input's extension, straight into the temporary file
//!   through a buffer, as stn writes;
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
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;
use stn::codec;

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

/// Decodes `src`, encodes it in the same format with stn's defaults and
/// writes it atomically to `dst` (only decodes with `decode_only`).
fn roundtrip(src: &Path, dst: &Path, sync: bool, decode_only: bool) -> Result<(), String> {
    let img = codec::read_image(src, 100_000_000).map_err(|e| e.to_string())?;
    if decode_only {
        return Ok(());
    }
    let format = codec::output_format(dst, None).map_err(|e| e.to_string())?;
    let write = || -> Result<(), String> {
        let dir = dst.parent().unwrap_or(Path::new("."));
        let err = |e: io::Error| format!("{}: {e}", dst.display());
        let mut tmp = tempfile::Builder::new()
            .prefix(".roundtrip-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(err)?;
        {
            let mut out = BufWriter::with_capacity(256 << 10, tmp.as_file_mut());
            let enc = codec::Encoding::default();
            codec::encode_to(&img.pixels, img.icc.as_deref(), format, enc, dst, &mut out)
                .map_err(|e| e.to_string())?;
            out.flush().map_err(err)?;
        }
        if sync {
            tmp.as_file().sync_all().map_err(err)?;
        }
        tmp.persist(dst).map_err(|e| err(e.error))?;
        Ok(())
    };
    write()
}

fn run(args: &Args) -> Result<(usize, usize, f64), String> {
    let start = Instant::now();
    let files = list_files(&args.input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    fs::create_dir_all(&args.output).map_err(|e| format!("{}: {e}", args.output.display()))?;
    let failed = files
        .par_iter()
        .map(|src| {
            let name = src.file_name().unwrap_or_default();
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
