//! The localisation net API when stn is built without the `onnx` feature:
//! every call explains that this build cannot run models.

use super::{Contract, Declared, ModelSource, Overrides};
use crate::error::Error;

/// A localisation net; in this build, never constructed.
#[derive(Debug)]
pub struct LocNet {
    _never: std::convert::Infallible,
}

fn disabled() -> Error {
    Error::Runtime {
        reason: "this stn was built without the `onnx` feature; rebuild with default features"
            .into(),
    }
}

impl LocNet {
    /// Always fails: this build has no ONNX Runtime support.
    pub fn load(
        _source: &ModelSource,
        _ort_lib: Option<&std::path::Path>,
        _overrides: &Overrides,
    ) -> Result<LocNet, Error> {
        Err(disabled())
    }

    /// Unreachable.
    pub fn contract(&self) -> &Contract {
        match self._never {}
    }

    /// Unreachable.
    pub fn declared(&self) -> &Declared {
        match self._never {}
    }

    /// Unreachable.
    pub fn predict(&mut self, _batch: &[f32], _n: usize) -> Result<Vec<f32>, Error> {
        match self._never {}
    }
}
