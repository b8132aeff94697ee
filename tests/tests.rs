//! stn's integration tests: one binary, one module per concern.

mod util;

mod cli;
mod golden;
mod kernels;
mod props;
