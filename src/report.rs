//! Progress and outcome of a batch: an indicatif bar on stderr (only when
//! stderr is a terminal and not `--quiet`), per-file errors printed with their
//! path while the batch goes on, a summary line, and the exit status earned.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Exit};
use crate::shard::Shard;

/// Counts and the bar of one batch.
pub struct Report {
    bar: ProgressBar,
    quiet: bool,
    /// `--shard`: the bar and the summary say which shard they count.
    shard: Option<Shard>,
    start: Instant,
    /// Outputs written.
    pub written: usize,
    /// Inputs skipped (existing outputs kept).
    pub skipped: usize,
    /// Inputs that failed.
    pub failed: usize,
}

impl Report {
    /// A report for `total` jobs.
    pub fn new(total: usize, quiet: bool) -> Report {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {prefix}[{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
                )
                .expect("valid template"),
            );
            bar
        };
        Report {
            bar,
            quiet,
            shard: None,
            start: Instant::now(),
            written: 0,
            skipped: 0,
            failed: 0,
        }
    }

    /// Sets the number of jobs once they are known.
    pub fn with_total(self, total: usize) -> Report {
        self.bar.set_length(total as u64);
        self
    }

    /// Counts the files of one shard: the bar and the summary line name it.
    pub fn for_shard(mut self, shard: Option<Shard>) -> Report {
        if let Some(s) = shard {
            self.bar.set_prefix(format!("shard {s} "));
        }
        self.shard = shard;
        self
    }

    /// Prints a line on stderr without tearing the bar.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Counts and prints a failed input; the batch goes on.
    pub fn fail(&mut self, err: &Error) {
        self.failed += 1;
        self.bar.inc(1);
        self.println(&format!("stn: error: {err}"));
    }

    /// Prints a problem that does not correspond to one job (e.g. an input
    /// argument that matched nothing) and counts it as a failure.
    pub fn fail_input(&mut self, err: &Error) {
        self.failed += 1;
        self.println(&format!("stn: error: {err}"));
    }

    /// Counts a written output.
    pub fn wrote(&mut self) {
        self.written += 1;
        self.bar.inc(1);
    }

    /// Counts a skipped input.
    pub fn skip(&mut self) {
        self.skipped += 1;
        self.bar.inc(1);
    }

    /// Clears the bar, prints the summary line (unless quiet) and returns the exit status.
    pub fn finish(self, noun: &str) -> Exit {
        self.bar.finish_and_clear();
        let secs = self.start.elapsed().as_secs_f64();
        if !self.quiet {
            let done = self.written as f64;
            let shard = self
                .shard
                .map(|s| format!("shard {s}: "))
                .unwrap_or_default();
            eprintln!(
                "stn: {shard}{} {noun}, {} skipped, {} failed in {secs:.2} s ({:.1} images/s)",
                self.written,
                self.skipped,
                self.failed,
                if secs > 0.0 { done / secs } else { 0.0 }
            );
        }
        if crate::interrupt::requested() {
            eprintln!(
                "stn: interrupted; finished outputs are complete, rerun with --skip-existing to finish"
            );
            Exit::Interrupted
        } else if self.failed > 0 {
            Exit::SomeFailed
        } else {
            Exit::Success
        }
    }
}
