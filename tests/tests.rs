//! stn's integration tests: one binary, one module per concern.

mod util;

mod cli;
mod codec;
mod completions;
#[cfg(feature = "onnx")]
mod doc_page;
mod fuzz;
mod golden;
mod kernels;
#[cfg(feature = "onnx")]
mod models;
mod props;
#[cfg(feature = "onnx")]
mod rectify;
#[cfg(feature = "onnx")]
mod reliability;
mod shard;
mod transforms;
