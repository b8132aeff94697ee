//! The only file that uses `ort`: loading ONNX Runtime and a model, and running
//! batches. One session is built once and fed whole batches from the calling
//! thread (`Session::run` takes `&mut self`); it is never shared across rayon
//! workers.

use std::path::Path;

use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::{runtime, Contract, Declared, ModelSource, Overrides};
use crate::error::Error;

/// A loaded localisation net with its resolved contract.
pub struct LocNet {
    session: Session,
    input_name: String,
    contract: Contract,
    declared: Declared,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for LocNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocNet")
            .field("path", &self.path)
            .field("contract", &self.contract)
            .finish()
    }
}

/// Loads ONNX Runtime once per process: `explicit` if given (no fallback),
/// else the first candidate that loads.
fn environment(explicit: Option<&Path>) -> Result<ort::environment::Environment, Error> {
    static ENV: std::sync::OnceLock<ort::environment::Environment> = std::sync::OnceLock::new();
    if let Some(env) = ENV.get() {
        return Ok(env.clone());
    }
    let mut tried = Vec::new();
    let candidates: Vec<(std::path::PathBuf, &str)> = match explicit {
        Some(p) => vec![(p.to_path_buf(), "--ort-lib")],
        None => runtime::candidates(),
    };
    for (path, source) in &candidates {
        match ort::init_from(path) {
            Ok(builder) => {
                let env = builder
                    .with_name("stn")
                    .build()
                    .map_err(|e| Error::Runtime {
                        reason: format!(
                            "{} ({source}) loaded but failed to start: {e}",
                            path.display()
                        ),
                    })?;
                return Ok(ENV.get_or_init(|| env).clone());
            }
            Err(e) => tried.push(format!("{} ({source}): {e}", path.display())),
        }
    }
    let reason = if tried.is_empty() {
        runtime::how_to_fix()
    } else if explicit.is_some() {
        format!("cannot load {}", tried.join("; "))
    } else {
        format!("{}; tried {}", runtime::how_to_fix(), tried.join("; "))
    };
    Err(Error::Runtime { reason })
}

fn describe(ty: &ValueType) -> (String, Vec<i64>) {
    match ty {
        ValueType::Tensor { ty, shape, .. } => {
            let name = match ty {
                TensorElementType::Float32 => "f32".to_string(),
                other => format!("{other:?}").to_lowercase(),
            };
            (name, shape.to_vec())
        }
        other => (format!("{other:?}"), Vec::new()),
    }
}

impl LocNet {
    /// Loads ONNX Runtime (see [`runtime`]) and the model, and resolves its contract.
    pub fn load(
        source: &ModelSource,
        ort_lib: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<LocNet, Error> {
        let path = source.display_path();
        let bytes;
        let model: &[u8] = match source {
            ModelSource::Builtin(b) => b.bytes,
            ModelSource::File(p) => {
                bytes = std::fs::read(p).map_err(|e| Error::Model {
                    path: p.clone(),
                    reason: format!("cannot read: {e}"),
                })?;
                &bytes
            }
        };
        let env = environment(ort_lib)?;
        let model_err = |what: &str, e: &dyn std::fmt::Display| Error::Model {
            path: path.clone(),
            reason: format!("{what}: {e}"),
        };
        let session = Session::builder(&env)
            .map_err(|e| model_err("cannot create a session", &e))?
            .with_intra_threads(1)
            .map_err(|e| model_err("cannot configure a session", &e))?
            .commit_from_memory(model)
            .map_err(|e| model_err("not a loadable ONNX model", &e))?;
        let outlets = |list: &[ort::value::Outlet]| {
            list.iter()
                .map(|o| {
                    let (ty, shape) = describe(o.dtype());
                    (o.name().to_string(), ty, shape)
                })
                .collect::<Vec<_>>()
        };
        let meta = session
            .metadata()
            .map_err(|e| model_err("cannot read metadata", &e))?;
        let mut metadata: Vec<(String, String)> = meta
            .custom_keys()
            .map_err(|e| model_err("cannot read metadata", &e))?
            .into_iter()
            .filter_map(|k| meta.custom(&k).map(|v| (k, v)))
            .collect();
        metadata.sort();
        drop(meta);
        let declared = Declared {
            inputs: outlets(session.inputs()),
            outputs: outlets(session.outputs()),
            metadata,
        };
        let contract = declared.contract(&path, overrides)?;
        Ok(LocNet {
            input_name: declared.inputs[0].0.clone(),
            session,
            contract,
            declared,
            path,
        })
    }

    /// The resolved preprocessing contract.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// What the model file declares.
    pub fn declared(&self) -> &Declared {
        &self.declared
    }

    /// Runs one batch of `n` preprocessed images (`[n, C, H, W]` row-major) and
    /// returns the raw output, [`Contract::values`] numbers per image in order
    /// (turned into transforms by [`Contract::transforms`]).
    pub fn predict(&mut self, batch: &[f32], n: usize) -> Result<Vec<f32>, Error> {
        let c = &self.contract;
        let shape = [
            n as i64,
            c.channels as i64,
            i64::from(c.input_size.height),
            i64::from(c.input_size.width),
        ];
        let fail = |e: &dyn std::fmt::Display| Error::Inference {
            reason: format!("{}: {e}", self.path.display()),
        };
        let tensor = TensorRef::from_array_view((shape, batch)).map_err(|e| fail(&e))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(|e| fail(&e))?;
        let (out_shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(&e))?;
        let dims: Vec<i64> = out_shape.to_vec();
        let per = c.values();
        if dims.first() != Some(&(n as i64)) || data.len() != n * per {
            return Err(Error::Model {
                path: self.path.clone(),
                reason: format!(
                    "the output has shape {dims:?}; expected {n} images of {per} values ({} {}, {} part(s))",
                    c.family.values(),
                    c.family.name(),
                    c.parts
                ),
            });
        }
        Ok(data.to_vec())
    }
}
