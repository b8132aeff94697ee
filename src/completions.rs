//! Shell completion scripts, generated from the command-line definition
//! ([`crate::cli::Cli`]) so that they cannot drift from it.
//!
//! `stn completions SHELL` prints one; the repository's `completions/`
//! directory holds one per shell under [`file_name`], and a test fails when a
//! committed script differs from what [`generate`] writes
//! (`STN_REGENERATE=1 cargo test completions` rewrites them).

use std::io;

use clap::CommandFactory;
use clap_complete::{Generator, Shell};

use crate::cli::Cli;

/// The name completions are generated for.
const BIN_NAME: &str = "stn";

/// Writes the completion script for `shell` to `out`.
///
/// Fails only if `out` does (e.g. a closed pipe).
pub fn generate(shell: Shell, out: &mut dyn io::Write) -> io::Result<()> {
    let mut cmd = Cli::command();
    cmd.set_bin_name(BIN_NAME);
    cmd.build();
    shell.try_generate(&cmd, out)
}

/// The name of `shell`'s script in `completions/`: `stn.bash`, `_stn`,
/// `stn.fish`, `stn.elv` or `_stn.ps1`, as each shell expects to find it.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "stn.bash",
        Shell::Zsh => "_stn",
        Shell::Fish => "stn.fish",
        Shell::Elvish => "stn.elv",
        Shell::PowerShell => "_stn.ps1",
        // A shell added by a newer clap_complete.
        _ => "stn.completion",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_are_clap_completes_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for &shell in Shell::value_variants() {
            assert_eq!(file_name(shell), shell.file_name(BIN_NAME), "{shell}");
            assert!(seen.insert(file_name(shell)), "{shell}");
        }
    }

    #[test]
    fn scripts_mention_every_subcommand() {
        for &shell in Shell::value_variants() {
            let mut buf = Vec::new();
            generate(shell, &mut buf).unwrap();
            let text = String::from_utf8(buf).unwrap();
            for sub in ["warp", "rectify", "predict", "model", "completions"] {
                assert!(text.contains(sub), "{shell} lacks {sub}");
            }
        }
    }

    #[test]
    fn write_errors_are_returned() {
        struct Closed;
        impl io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let e = generate(Shell::Bash, &mut Closed).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
