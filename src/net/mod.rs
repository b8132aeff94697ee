//! Localisation nets: loading a model, reading its preprocessing contract, and
//! predicting one theta per image on whole batches.
//!
//! Only `net/onnx.rs` touches `ort`; with the `onnx` feature off, `net/disabled.rs`
//! provides the same API and explains that the build lacks it. The contract a
//! model must meet is in the README ("Model contract").

#[cfg(not(feature = "onnx"))]
mod disabled;
#[cfg(feature = "onnx")]
mod onnx;
pub mod preprocess;
pub mod runtime;

use std::path::{Path, PathBuf};

use crate::affine::Size;
use crate::error::Error;

#[cfg(not(feature = "onnx"))]
pub use disabled::LocNet;
#[cfg(feature = "onnx")]
pub use onnx::LocNet;

/// The model shipped inside the binary: an affine localisation net for
/// RTS-distorted MNIST digits (see `models/README.md`).
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/stn-mnist-rts.onnx");

/// Where a model comes from.
#[derive(Clone, Debug)]
pub enum ModelSource {
    /// The embedded default model.
    Embedded,
    /// An ONNX file.
    File(PathBuf),
}

impl ModelSource {
    /// The path shown in messages.
    pub fn display_path(&self) -> PathBuf {
        match self {
            ModelSource::Embedded => PathBuf::from("<embedded stn-mnist-rts.onnx>"),
            ModelSource::File(p) => p.clone(),
        }
    }
}

/// Preprocessing values given on the command line, overriding the model's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--input-size`.
    pub input_size: Option<Size>,
    /// `--mean`, one value or one per channel.
    pub mean: Option<Vec<f32>>,
    /// `--std`, one value or one per channel.
    pub std: Option<Vec<f32>>,
}

/// How to feed a model and read its theta: resolved from the model's shapes,
/// its `metadata_props` (`stn.*` keys) and the command-line overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    /// The model's input width and height.
    pub input_size: Size,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Subtracted per channel after scaling pixels to [0, 1].
    pub mean: Vec<f32>,
    /// Divides per channel after the mean.
    pub std: Vec<f32>,
    /// The output size the thetas are meant for (`stn.output_size`); `None`
    /// means each image's own size.
    pub output_size: Option<Size>,
    /// The `align_corners` the thetas were learned with (`stn.align_corners`).
    pub align_corners: bool,
    /// `stn.description`.
    pub description: Option<String>,
}

/// What a model declares, as read from the file: the facts the contract is
/// resolved from, and what `stn model info` prints.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    /// `(name, element type, shape)` of each input; -1 marks a dynamic dimension.
    pub inputs: Vec<(String, String, Vec<i64>)>,
    /// The same for each output.
    pub outputs: Vec<(String, String, Vec<i64>)>,
    /// Every `metadata_props` entry, sorted by key.
    pub metadata: Vec<(String, String)>,
}

impl Declared {
    fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
    }

    /// Checks the shapes and resolves the contract.
    pub fn contract(&self, path: &Path, o: &Overrides) -> Result<Contract, Error> {
        let bad = |reason: String| Error::Model {
            path: path.to_path_buf(),
            reason,
        };
        let [(_, ity, ishape)] = self.inputs.as_slice() else {
            return Err(bad(format!(
                "a localisation net has exactly one input; this one has {}",
                self.inputs.len()
            )));
        };
        if ity != "f32" || ishape.len() != 4 {
            return Err(bad(format!(
                "the input must be float32 [N,C,H,W]; it is {ity} {ishape:?}"
            )));
        }
        let [(_, oty, oshape)] = self.outputs.as_slice() else {
            return Err(bad(format!(
                "a localisation net has exactly one output (theta); this one has {}",
                self.outputs.len()
            )));
        };
        let theta_shape = matches!(oshape.as_slice(), [_, 2 | -1, 3 | -1] | [_, 6 | -1]);
        if oty != "f32" || !theta_shape {
            return Err(bad(format!(
                "the output must be float32 theta [N,2,3] or [N,6]; it is {oty} {oshape:?}"
            )));
        }
        let meta_size = |key: &str| -> Result<Option<Size>, Error> {
            self.meta(key)
                .map(|v| {
                    v.parse::<Size>()
                        .map_err(|e| bad(format!("metadata {key}: {e}")))
                })
                .transpose()
        };
        let fixed =
            (ishape[3] > 0 && ishape[2] > 0).then(|| Size::new(ishape[3] as u32, ishape[2] as u32));
        let input_size = match (o.input_size, fixed, meta_size("stn.input_size")?) {
            (Some(s), Some(f), _) if s != f => {
                return Err(bad(format!(
                    "--input-size {s} differs from the model's fixed {f}"
                )))
            }
            (Some(s), _, _) => s,
            (None, Some(f), _) => f,
            (None, None, Some(m)) => m,
            (None, None, None) => {
                return Err(bad(
                    "the input's height and width are dynamic and stn.input_size is not set; \
                     give --input-size WxH"
                        .into(),
                ))
            }
        };
        let meta_channels = match self.meta("stn.channels") {
            Some(v) => Some(
                v.parse::<i64>()
                    .map_err(|_| bad(format!("metadata stn.channels {v:?} is not a number")))?,
            ),
            None => None,
        };
        let channels = match (ishape[1], meta_channels) {
            (c, _) if c > 0 => c,
            (_, Some(c)) => c,
            _ => 1,
        };
        if channels != 1 && channels != 3 {
            return Err(bad(format!(
                "the input must have 1 or 3 channels; it has {channels}"
            )));
        }
        let channels = channels as usize;
        let per_channel =
            |flag: &Option<Vec<f32>>, key: &str, default: f32| -> Result<Vec<f32>, Error> {
                let v = match (flag, self.meta(key)) {
                    (Some(v), _) => v.clone(),
                    (None, Some(text)) => {
                        parse_floats(text).map_err(|e| bad(format!("metadata {key}: {e}")))?
                    }
                    (None, None) => vec![default],
                };
                match v.len() {
                    1 => Ok(vec![v[0]; channels]),
                    n if n == channels => Ok(v),
                    n => Err(bad(format!("{key} has {n} values for {channels} channels"))),
                }
            };
        let mean = per_channel(&o.mean, "stn.mean", 0.0)?;
        let std = per_channel(&o.std, "stn.std", 1.0)?;
        if std.iter().any(|s| *s == 0.0 || !s.is_finite()) || mean.iter().any(|m| !m.is_finite()) {
            return Err(bad(format!(
                "mean {mean:?} / std {std:?} must be finite, std non-zero"
            )));
        }
        let align_corners = match self.meta("stn.align_corners") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) => {
                return Err(bad(format!(
                    "metadata stn.align_corners {v:?} is not true/false"
                )))
            }
        };
        Ok(Contract {
            input_size,
            channels,
            mean,
            std,
            output_size: meta_size("stn.output_size")?,
            align_corners,
            description: self.meta("stn.description").map(str::to_string),
        })
    }
}

/// Parses `a[,b,c]` into floats.
pub fn parse_floats(text: &str) -> Result<Vec<f32>, String> {
    text.split(',')
        .map(|t| {
            t.trim()
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{t:?} is not a finite number"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(ishape: Vec<i64>, oshape: Vec<i64>, meta: &[(&str, &str)]) -> Declared {
        Declared {
            inputs: vec![("input".into(), "f32".into(), ishape)],
            outputs: vec![("theta".into(), "f32".into(), oshape)],
            metadata: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn defaults_when_metadata_is_absent() {
        let c = declared(vec![-1, 3, 64, 48], vec![-1, 6], &[])
            .contract(Path::new("m"), &Overrides::default())
            .unwrap();
        assert_eq!(c.input_size, Size::new(48, 64));
        assert_eq!(
            (c.channels, c.mean.clone(), c.std.clone()),
            (3, vec![0.0; 3], vec![1.0; 3])
        );
        assert_eq!((c.output_size, c.align_corners), (None, false));
    }

    #[test]
    fn metadata_and_overrides() {
        let d = declared(
            vec![-1, 1, -1, -1],
            vec![-1, 2, 3],
            &[
                ("stn.input_size", "42x42"),
                ("stn.mean", "0.1"),
                ("stn.output_size", "28x28"),
                ("stn.align_corners", "true"),
            ],
        );
        let c = d.contract(Path::new("m"), &Overrides::default()).unwrap();
        assert_eq!(
            (c.input_size, c.mean.clone(), c.output_size, c.align_corners),
            (Size::new(42, 42), vec![0.1], Some(Size::new(28, 28)), true)
        );
        let o = Overrides {
            input_size: Some(Size::new(10, 12)),
            std: Some(vec![0.5]),
            ..Default::default()
        };
        let c = d.contract(Path::new("m"), &o).unwrap();
        assert_eq!((c.input_size, c.std), (Size::new(10, 12), vec![0.5]));
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let o = Overrides::default();
        for (i, out) in [
            (vec![1, 1, 4, 4], vec![1, 4]),
            (vec![1, 4, 4], vec![1, 6]),
            (vec![1, 2, 4, 4], vec![1, 6]),
            (vec![1, 1, -1, -1], vec![1, 6]),
        ] {
            assert!(declared(i, out, &[]).contract(Path::new("m"), &o).is_err());
        }
    }
}
