//! What `--shard` adds to a run that reads a path list from standard input:
//! read the newline-separated list, mirror each path to its relative output
//! path as `stn rectify -` does ([`stn::inputs::mirror_rel`]), hash it and
//! keep the shard's own. No file is touched.
//!
//! ```sh
//! seq -f 'scans/%07g.png' 1000000 | cargo run --release --example shard_filter -- 0/8
//! ```
//!
//! Prints `lines kept seconds` on one line; `scripts/bench_shard.py` times it
//! for BENCHMARKS.md.

use std::io::{self, BufRead};
use std::path::PathBuf;
use std::time::Instant;

use stn::shard::Shard;

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "0/1".into());
    let (i, n) = arg.split_once('/').expect("I/N");
    let shard = Shard::new(i.parse().expect("I"), n.parse().expect("N")).expect("I < N");
    let start = Instant::now();
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    let (mut lines, mut kept) = (0u64, Vec::new());
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line).expect("stdin") == 0 {
            break;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let path = PathBuf::from(String::from_utf8_lossy(&line).into_owned());
        let rel = stn::inputs::mirror_rel(&path);
        if shard.owns(&rel) {
            kept.push(path);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{lines} {} {secs:.6}", kept.len());
}
