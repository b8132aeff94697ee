//! Localisation nets: the built-in models ([`BUILTINS`]) and how `--model`
//! picks one or a file ([`ModelSource::resolve`]), loading a model, reading its
//! preprocessing contract, and predicting one theta per image on whole batches.
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

use crate::affine::{Affine, Size};
use crate::error::Error;
use crate::transform::{named_layout, Homography, Tps, Transform};
use crate::warp::Padding;

#[cfg(not(feature = "onnx"))]
pub use disabled::LocNet;
#[cfg(feature = "onnx")]
pub use onnx::LocNet;

/// A model shipped inside the binary, chosen by name with `--model NAME`.
///
/// Its facts (sizes, channels, family) are stated here as well as in the file,
/// so that `stn model list` needs no ONNX Runtime; a test checks them against
/// what the file declares.
#[derive(Debug)]
pub struct Builtin {
    /// The name `--model` takes.
    pub name: &'static str,
    /// The file the bytes were embedded from, relative to the repository.
    pub file: &'static str,
    /// The ONNX model.
    pub bytes: &'static [u8],
    /// The model's input size (`stn.input_size`).
    pub input_size: Size,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// The rectified output size (`stn.output_size`).
    pub output_size: Size,
    /// The transform family (`stn.transform`).
    pub family: &'static str,
    /// What it does, one line.
    pub summary: &'static str,
}

/// The built-in models; the first is the default. Adding a model is adding
/// an entry here (and a row to the README's "Built-in models").
pub static BUILTINS: &[Builtin] = &[
    Builtin {
        name: "mnist",
        file: "models/stn-mnist-rts.onnx",
        bytes: include_bytes!("../../models/stn-mnist-rts.onnx"),
        input_size: Size::new(42, 42),
        channels: 1,
        output_size: Size::new(28, 28),
        family: "affine",
        summary: "RTS-distorted MNIST digits (white on black) -> upright, centred digits \
                  (models/README.md)",
    },
    Builtin {
        name: "doc-page",
        file: "models/doc-page.onnx",
        bytes: include_bytes!("../../models/doc-page.onnx"),
        input_size: Size::new(256, 256),
        channels: 1,
        output_size: Size::new(1240, 1754),
        family: "projective",
        summary: "photo of a printed page -> flat upright A4 page at 150 dpi \
                  (models/doc-page/README.md)",
    },
];

impl Builtin {
    /// The default model: the first of [`BUILTINS`].
    pub fn default_model() -> &'static Builtin {
        &BUILTINS[0]
    }

    /// The built-in model called exactly `name`.
    pub fn find(name: &str) -> Option<&'static Builtin> {
        BUILTINS.iter().find(|b| b.name == name)
    }

    /// The names, comma-separated, for messages and help.
    pub fn names() -> String {
        BUILTINS
            .iter()
            .map(|b| b.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `42x42 grey -> 28x28, affine: <summary>`, the description `stn model list` prints.
    pub fn describe(&self) -> String {
        let colour = if self.channels == 1 { "grey" } else { "RGB" };
        format!(
            "{} {colour} -> {}, {}: {}",
            self.input_size, self.output_size, self.family, self.summary
        )
    }
}

/// Where a model comes from.
#[derive(Clone, Debug)]
pub enum ModelSource {
    /// A model shipped inside the binary.
    Builtin(&'static Builtin),
    /// An ONNX file.
    File(PathBuf),
}

impl ModelSource {
    /// The model `--model VALUE` means: a built-in model if `value` is one's
    /// name, else the file at `value`, which must exist (so a file called like
    /// a built-in model is reached as `./NAME`).
    pub fn resolve(value: &Path) -> Result<ModelSource, Error> {
        if let Some(b) = value.to_str().and_then(Builtin::find) {
            return Ok(ModelSource::Builtin(b));
        }
        match std::fs::metadata(value) {
            Ok(_) => Ok(ModelSource::File(value.to_path_buf())),
            Err(e) => Err(Error::Model {
                path: value.to_path_buf(),
                reason: format!(
                    "not a built-in model ({}; see `stn model list`), and cannot read it as a file: {e}",
                    Builtin::names()
                ),
            }),
        }
    }

    /// The path shown in messages: the file, or
    /// `<built-in doc-page (models/doc-page.onnx)>`.
    pub fn display_path(&self) -> PathBuf {
        match self {
            ModelSource::Builtin(b) => PathBuf::from(format!("<built-in {} ({})>", b.name, b.file)),
            ModelSource::File(p) => p.clone(),
        }
    }
}

impl Default for ModelSource {
    /// The default built-in model.
    fn default() -> ModelSource {
        ModelSource::Builtin(Builtin::default_model())
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
    /// The transform family the output holds, and how to read it.
    pub family: Family,
    /// Transforms per image (`stn.parts`, the multi-part ST-CNN); 1 without.
    pub parts: usize,
    /// The padding the model was trained with (`stn.padding`), used unless
    /// `--padding` is given.
    pub padding: Option<Padding>,
}

/// The transform family of a model's output, with what is needed to read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Family {
    /// Six values per transform: a theta.
    Affine,
    /// Three values `[s, tx, ty]`: theta `[s, 0, tx, 0, s, ty]`.
    Attention,
    /// Nine values (a homography), or eight with `h33 = 1`.
    Projective {
        /// Whether the output has eight values (`h33 = 1` implied).
        eight: bool,
    },
    /// K source points `(x, y)`, in the model's range.
    Tps {
        /// The target points, output normalised coordinates.
        target: Vec<[f64; 2]>,
        /// Points are in `[0, 1]` (ASTER; normalised = 2p − 1) rather than `[-1, 1]`.
        unit_range: bool,
        /// The `eps` in `r² ln(r + eps)` at grid points.
        eps: f64,
        /// The base grid: `Some(false)` pixel centres, `Some(true)` corners,
        /// `None` as `align_corners`.
        grid: Option<bool>,
    },
}

impl Family {
    /// Output values per transform.
    pub fn values(&self) -> usize {
        match self {
            Family::Affine => 6,
            Family::Attention => 3,
            Family::Projective { eight: true } => 8,
            Family::Projective { eight: false } => 9,
            Family::Tps { target, .. } => 2 * target.len(),
        }
    }

    /// The name used by `stn.transform`.
    pub fn name(&self) -> &'static str {
        match self {
            Family::Affine => "affine",
            Family::Attention => "attention",
            Family::Projective { .. } => "projective",
            Family::Tps { .. } => "tps",
        }
    }

    /// The transform of one output's `values()` numbers; `origin` names it in errors.
    pub fn transform(&self, v: &[f32], origin: &str) -> Result<Transform, Error> {
        let v: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::BadMatrix {
                origin: origin.to_string(),
                reason: format!("the model's output {v:?} has a non-finite value"),
            });
        }
        Ok(match self {
            Family::Affine => Transform::Affine(Affine(std::array::from_fn(|k| v[k]))),
            Family::Attention => Transform::attention(v[0], v[1], v[2]),
            Family::Projective { eight } => {
                let h = Homography(std::array::from_fn(|k| {
                    if k == 8 && *eight {
                        1.0
                    } else {
                        v[k]
                    }
                }));
                h.check_usable(origin)?;
                Transform::Projective(h)
            }
            Family::Tps {
                target,
                unit_range,
                eps,
                grid,
            } => {
                let to_norm = |p: f64| if *unit_range { 2.0 * p - 1.0 } else { p };
                let source = v
                    .chunks_exact(2)
                    .map(|p| [to_norm(p[0]), to_norm(p[1])])
                    .collect();
                // The eps is in the model's units; in [0, 1] units r is half as long.
                let eps = if *unit_range { 2.0 * eps } else { *eps };
                Transform::Tps(Tps::new(target.clone(), source, eps, *grid, origin)?)
            }
        })
    }
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
        if oty != "f32" {
            return Err(bad(format!(
                "the output must be float32; it is {oty} {oshape:?}"
            )));
        }
        let (family, parts) = self.family(oshape, &bad)?;
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
        let padding = match self.meta("stn.padding") {
            None => None,
            Some("zeros") => Some(Padding::Zeros),
            Some("border") => Some(Padding::Border),
            Some("reflection") => Some(Padding::Reflection),
            Some(v) => {
                return Err(bad(format!(
                    "metadata stn.padding {v:?} is not zeros, border or reflection"
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
            family,
            parts,
            padding,
        })
    }

    /// The family and part count, from `stn.transform`, `stn.parts` and the
    /// output shape (see the README's "Model contract").
    fn family(
        &self,
        oshape: &[i64],
        bad: &dyn Fn(String) -> Error,
    ) -> Result<(Family, usize), Error> {
        let parts = match self.meta("stn.parts") {
            None => None,
            Some(v) => Some(v.parse::<usize>().ok().filter(|&m| m >= 1).ok_or_else(|| {
                bad(format!(
                    "metadata stn.parts {v:?} is not a whole number ≥ 1"
                ))
            })?),
        };
        // The shape of one transform: drop N, and the part axis if declared.
        let dims: &[i64] = match (oshape, parts) {
            ([], _) => return Err(bad("the output has no batch axis".into())),
            ([_, m, rest @ ..], Some(p)) => {
                if *m > 0 && *m as usize != p {
                    return Err(bad(format!(
                        "stn.parts = {p} but the output's part axis has {m} (shape {oshape:?})"
                    )));
                }
                rest
            }
            ([_, rest @ ..], _) => rest,
        };
        let parts = parts.unwrap_or(1);
        let dyn_or = |d: i64, v: i64| d == v || d < 0;
        let declared = self.meta("stn.transform");
        let shape_err = |what: &str| {
            bad(format!(
                "the output shape {oshape:?} does not fit {what} (expected [N,2,3]/[N,6] affine, [N,3] attention, [N,3,3]/[N,9]/[N,8] projective, [N,K,2] tps, with a part axis [N,M,…] if stn.parts is set)"
            ))
        };
        let family = match declared {
            Some("affine") => match dims {
                [a, b] if dyn_or(*a, 2) && dyn_or(*b, 3) => Family::Affine,
                [a] if dyn_or(*a, 6) => Family::Affine,
                _ => return Err(shape_err("stn.transform = affine")),
            },
            Some("attention") => match dims {
                [a] if dyn_or(*a, 3) => Family::Attention,
                _ => return Err(shape_err("stn.transform = attention")),
            },
            Some("projective") => match dims {
                [a, b] if dyn_or(*a, 3) && dyn_or(*b, 3) => Family::Projective { eight: false },
                [9] => Family::Projective { eight: false },
                [8] => Family::Projective { eight: true },
                _ => {
                    return Err(shape_err(
                        "stn.transform = projective (the 8- or 9-value form must be fixed)",
                    ))
                }
            },
            Some("tps") => match dims {
                [k, b] if dyn_or(*b, 2) => self.tps_family(*k, bad)?,
                [n] if *n > 0 && n % 2 == 0 => self.tps_family(n / 2, bad)?,
                _ => return Err(shape_err("stn.transform = tps")),
            },
            Some(other) => {
                return Err(bad(format!(
                    "metadata stn.transform {other:?} is not affine, attention, projective or tps"
                )))
            }
            None => match dims {
                [2, 3] | [6] => Family::Affine,
                [3] => Family::Attention,
                [3, 3] | [9] => Family::Projective { eight: false },
                [8] => Family::Projective { eight: true },
                [k, 2] if *k >= 3 => self.tps_family(*k, bad)?,
                // The affine forms with dynamic dimensions, as before.
                [a, b] if dyn_or(*a, 2) && dyn_or(*b, 3) => Family::Affine,
                [a] if dyn_or(*a, 6) => Family::Affine,
                _ => return Err(shape_err("any family")),
            },
        };
        Ok((family, parts))
    }

    /// The TPS family for K points (K ≤ 0: dynamic, taken from the layout).
    fn tps_family(&self, k: i64, bad: &dyn Fn(String) -> Error) -> Result<Family, Error> {
        let unit_range = match self.meta("stn.tps.range") {
            None | Some("-1,1") => false,
            Some("0,1") => true,
            Some(v) => {
                return Err(bad(format!(
                    "metadata stn.tps.range {v:?} is not \"-1,1\" or \"0,1\""
                )))
            }
        };
        let to_norm = |p: f64| if unit_range { 2.0 * p - 1.0 } else { p };
        let text = self.meta("stn.tps.target").ok_or_else(|| {
            bad("a thin-plate-spline model needs metadata stn.tps.target (e.g. \"rare:20\", or x1,y1,x2,y2,…)".into())
        })?;
        let target = match named_layout(text) {
            Some(t) => t,
            None if text.contains(':') => {
                return Err(bad(format!(
                    "metadata stn.tps.target {text:?} is not a known layout (rare:K, aster:K, K even ≥ 4)"
                )))
            }
            None => {
                let v = parse_floats(text)
                    .map_err(|e| bad(format!("metadata stn.tps.target: {e}")))?;
                if v.len() % 2 != 0 {
                    return Err(bad(format!(
                        "metadata stn.tps.target has an odd count of numbers ({})",
                        v.len()
                    )));
                }
                v.chunks(2)
                    .map(|p| [to_norm(f64::from(p[0])), to_norm(f64::from(p[1]))])
                    .collect()
            }
        };
        if k > 0 && target.len() != k as usize {
            return Err(bad(format!(
                "the output has {k} points but stn.tps.target has {}",
                target.len()
            )));
        }
        let eps = match self.meta("stn.tps.eps") {
            None => 0.0,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|e| e.is_finite() && *e >= 0.0)
                .ok_or_else(|| bad(format!("metadata stn.tps.eps {v:?} is not a number ≥ 0")))?,
        };
        let grid = match self.meta("stn.grid") {
            None => None,
            Some(g) => Some(
                crate::thetas::read_grid(g).map_err(|e| bad(format!("metadata stn.grid: {e}")))?,
            ),
        };
        // Check the layout once (duplicates, collinear points).
        Tps::new(target.clone(), target.clone(), eps, grid, "stn.tps.target")
            .map_err(|e| bad(e.to_string()))?;
        Ok(Family::Tps {
            target,
            unit_range,
            eps,
            grid,
        })
    }
}

impl Contract {
    /// Output values per image.
    pub fn values(&self) -> usize {
        self.parts * self.family.values()
    }

    /// The transforms of a batch's raw output (`n` images, [`Contract::values`]
    /// numbers each): per image, its `parts` transforms or why they cannot be used.
    pub fn transforms(&self, data: &[f32], n: usize) -> Vec<Result<Vec<Transform>, Error>> {
        let per = self.family.values();
        data.chunks_exact(self.values())
            .take(n)
            .map(|img| {
                img.chunks_exact(per)
                    .map(|v| self.family.transform(v, "the model's output"))
                    .collect()
            })
            .collect()
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
    fn builtin_names_are_distinct_and_not_paths() {
        let mut seen = std::collections::HashSet::new();
        for b in BUILTINS {
            assert!(seen.insert(b.name), "{} twice", b.name);
            assert!(
                !b.name.is_empty() && !b.name.contains(['/', '\\', '.']),
                "{:?} could be read as a path",
                b.name
            );
            assert!(b.channels == 1 || b.channels == 3, "{}", b.name);
        }
        assert_eq!(Builtin::default_model().name, "mnist");
        assert_eq!(Builtin::names(), "mnist, doc-page");
    }

    #[test]
    fn builtin_bytes_are_the_named_file() {
        for b in BUILTINS {
            let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(b.file);
            let on_disk = std::fs::read(&file).unwrap();
            assert!(on_disk == b.bytes, "{}: {} differs", b.name, b.file);
        }
    }

    #[test]
    fn a_name_is_a_builtin_anything_else_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mnist");
        std::fs::write(&file, b"not a model").unwrap();
        match ModelSource::resolve(Path::new("doc-page")).unwrap() {
            ModelSource::Builtin(b) => assert_eq!(b.name, "doc-page"),
            other => panic!("{other:?}"),
        }
        match ModelSource::resolve(&file).unwrap() {
            ModelSource::File(p) => assert_eq!(p, file),
            other => panic!("{other:?}"),
        }
        // Names are exact: no case folding, no extension.
        for missing in ["Doc-Page", "mnist.onnx", "./doc-page"] {
            let e = ModelSource::resolve(Path::new(missing)).unwrap_err();
            assert!(matches!(e, Error::Model { .. }), "{e:?}");
            assert!(
                e.to_string().starts_with(&format!(
                    "model {missing}: not a built-in model (mnist, doc-page; see `stn model \
                     list`), and cannot read it as a file: "
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn builtins_are_shown_with_their_file() {
        let s = ModelSource::resolve(Path::new("doc-page")).unwrap();
        assert_eq!(
            s.display_path(),
            Path::new("<built-in doc-page (models/doc-page.onnx)>")
        );
        assert_eq!(
            ModelSource::default().display_path(),
            Path::new("<built-in mnist (models/stn-mnist-rts.onnx)>")
        );
        assert!(Builtin::find("doc-page")
            .unwrap()
            .describe()
            .starts_with("256x256 grey -> 1240x1754, projective: "));
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
