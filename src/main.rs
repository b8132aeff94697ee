//! The `stn` binary: parse, validate, run, exit. All work is in the library.

use std::process::ExitCode;

use clap::Parser;
use stn::cli::Cli;
use stn::{Config, Exit};

fn main() -> ExitCode {
    stn::malloc::tune();
    let cli = Cli::parse();
    stn::interrupt::install();
    let exit = match Config::try_from(cli).and_then(|config| stn::run(&config)) {
        Ok(exit) => exit,
        Err(err) => {
            eprintln!("stn: error: {err}");
            Exit::Fatal
        }
    };
    ExitCode::from(exit.code())
}
