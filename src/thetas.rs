//! Theta files: one JSON object per line, written by `stn predict` and
//! `stn rectify --thetas`, edited by people, and read back by
//! `stn warp --thetas`.
//!
//! A line looks like
//! `{"path":"scans/a.png","theta":[1.0,0.0,0.0,0.0,1.0,0.0],"output":"scans/a.png","size":[28,28]}`.
//! A line carries exactly one transform (see [`crate::transform`]):
//! - `"theta"`: a PyTorch theta, row-major `[a, b, c, d, e, f]` or PyTorch's
//!   nested 2×3 form `[[a, b, c], [d, e, f]]`;
//! - `"homography"`: nine numbers, or 3×3, output normalised → input normalised;
//! - `"tps"`: `{"target": [[x, y], …], "source": [[x, y], …]}` in normalised
//!   coordinates, optionally with `"eps"` (a number, the `eps` in
//!   `r² ln(r + eps)`) and `"grid"` (`"centres"` or `"corners"`, the output
//!   base grid; default: follows `--align-corners`).
//!
//! `output` (relative to the output directory) and
//! `size` (`[width, height]`) are optional. Unknown keys are ignored, so a line
//! can carry notes. Numbers are written in the shortest form that reads back
//! as the same `f64`.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::affine::{Affine, Size};
use crate::error::Error;
use crate::transform::{Homography, Tps, Transform};

/// One line of a theta file.
#[derive(Clone, Debug, PartialEq)]
pub struct ThetaLine {
    /// The input image.
    pub path: PathBuf,
    /// The transform: output normalised → input normalised coordinates.
    pub transform: Transform,
    /// The output path relative to the output directory; never absolute and
    /// never containing `..` when read by [`parse`].
    pub output: Option<PathBuf>,
    /// The output size.
    pub size: Option<Size>,
}

/// The line as written.
#[derive(Serialize)]
struct OutLine<'a> {
    path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    theta: Option<[f64; 6]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    homography: Option<[f64; 9]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tps: Option<OutTps<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<[u32; 2]>,
}

/// A thin-plate spline as written.
#[derive(Serialize)]
struct OutTps<'a> {
    target: &'a [[f64; 2]],
    source: &'a [[f64; 2]],
    #[serde(skip_serializing_if = "is_zero")]
    eps: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    grid: Option<&'static str>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// The line as read: each known field is checked by hand for a precise
/// message; unknown fields are ignored.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with \"path\" and \"theta\"")]
struct RawLine {
    path: Option<Value>,
    theta: Option<Value>,
    homography: Option<Value>,
    tps: Option<Value>,
    output: Option<Value>,
    size: Option<Value>,
}

/// Formats one line as a compact JSON object, without a trailing newline.
///
/// Paths that are not valid UTF-8 are written lossily. A non-finite theta
/// entry cannot be written as a JSON number; it is written as `null`, which
/// [`parse`] refuses.
pub fn to_line(t: &ThetaLine) -> String {
    let (theta, homography, tps) = match &t.transform {
        Transform::Affine(a) => (Some(a.0), None, None),
        Transform::Projective(h) => (None, Some(h.0), None),
        Transform::Tps(tps) => (
            None,
            None,
            Some(OutTps {
                target: tps.target(),
                source: tps.source(),
                eps: tps.eps(),
                grid: tps.grid().map(|c| if c { "corners" } else { "centres" }),
            }),
        ),
    };
    let line = OutLine {
        path: t.path.to_string_lossy(),
        theta,
        homography,
        tps,
        output: t.output.as_deref().map(Path::to_string_lossy),
        size: t.size.map(|s| [s.width, s.height]),
    };
    serde_json::to_string(&line).expect("a theta line serialises to JSON")
}

/// Parses the text of a theta file; `origin` names the file in messages.
///
/// Returns one result per non-blank line, in order. A bad line gives an
/// [`Error::ThetasLine`] with its 1-based line number and the other lines
/// still parse.
pub fn parse(text: &str, origin: &Path) -> Vec<Result<ThetaLine, Error>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            parse_line(line).map_err(|reason| Error::ThetasLine {
                path: origin.to_path_buf(),
                line: i + 1,
                reason,
            })
        })
        .collect()
}

fn parse_line(line: &str) -> Result<ThetaLine, String> {
    let raw: RawLine = serde_json::from_str(line).map_err(json_reason)?;
    let path = match raw.path {
        None | Some(Value::Null) => return Err("missing \"path\"".to_string()),
        Some(Value::String(s)) if s.is_empty() => return Err("\"path\" is empty".to_string()),
        Some(Value::String(s)) => PathBuf::from(s),
        Some(other) => return Err(format!("\"path\" must be a string, got {}", brief(&other))),
    };
    let given = |v: &Option<Value>| !matches!(v, None | Some(Value::Null));
    let count = [&raw.theta, &raw.homography, &raw.tps]
        .into_iter()
        .filter(|v| given(v))
        .count();
    if count > 1 {
        return Err(
            "give exactly one of \"theta\", \"homography\" and \"tps\", not several".to_string(),
        );
    }
    let transform = match (raw.theta, raw.homography, raw.tps) {
        (Some(v), _, _) if !v.is_null() => Transform::Affine(read_theta(&v)?),
        (_, Some(v), _) if !v.is_null() => Transform::Projective(read_homography(&v)?),
        (_, _, Some(v)) if !v.is_null() => Transform::Tps(read_tps(&v)?),
        _ => {
            return Err(
                "missing \"theta\" (six numbers [a, b, c, d, e, f]), \"homography\" (nine numbers) or \"tps\" ({\"target\": …, \"source\": …})"
                    .to_string(),
            )
        }
    };
    let output = match raw.output {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(read_output(s)?),
        Some(other) => {
            return Err(format!(
                "\"output\" must be a string, got {}",
                brief(&other)
            ))
        }
    };
    let size = match raw.size {
        None | Some(Value::Null) => None,
        Some(v) => Some(read_size(&v)?),
    };
    Ok(ThetaLine {
        path,
        transform,
        output,
        size,
    })
}

/// A serde_json error, without its "at line 1" (the line is ours to number).
fn json_reason(e: serde_json::Error) -> String {
    let mut msg = e.to_string();
    if let Some(at) = msg.rfind(" at line ") {
        msg.truncate(at);
    }
    match e.classify() {
        serde_json::error::Category::Data => msg,
        _ if msg == "number out of range" => format!(
            "number out of range at column {} (theta entries must be finite)",
            e.column()
        ),
        _ => format!("invalid JSON at column {}: {msg}", e.column()),
    }
}

/// `[a, b, c, d, e, f]` or `[[a, b, c], [d, e, f]]`, all finite numbers.
fn read_theta(v: &Value) -> Result<Affine, String> {
    let shape_error = || {
        format!(
            "\"theta\" must be six numbers [a, b, c, d, e, f], got {}",
            brief(v)
        )
    };
    let count_error = |n| format!("\"theta\" must have 6 numbers, got {n}");
    read_matrix::<6>(v, "theta", 2, shape_error, count_error).map(Affine)
}

/// Nine numbers or a 3×3 array, all finite, usable as a transform.
fn read_homography(v: &Value) -> Result<Homography, String> {
    let shape_error = || {
        format!(
            "\"homography\" must be nine numbers [h11, …, h33] or 3×3, got {}",
            brief(v)
        )
    };
    let h = Homography(read_matrix::<9>(v, "homography", 3, shape_error, |_| {
        shape_error()
    })?);
    h.check_usable("\"homography\"")
        .map_err(|e| e.to_string())?;
    Ok(h)
}

/// `N` finite numbers under `key`, flat or as `rows` rows of `N / rows`;
/// `shape_error` describes a value of another shape, `count_error` a flat
/// list of numbers of another length.
fn read_matrix<const N: usize>(
    v: &Value,
    key: &str,
    rows: usize,
    shape_error: impl Fn() -> String,
    count_error: impl Fn(usize) -> String,
) -> Result<[f64; N], String> {
    let Value::Array(items) = v else {
        return Err(shape_error());
    };
    let nested = items.len() == rows
        && items
            .iter()
            .all(|r| r.as_array().is_some_and(|r| r.len() == N / rows));
    let entries: Vec<&Value> = if nested {
        items
            .iter()
            .flat_map(|r| r.as_array().into_iter().flatten())
            .collect()
    } else if items.len() == N {
        items.iter().collect()
    } else if items.iter().all(Value::is_number) {
        return Err(count_error(items.len()));
    } else {
        return Err(shape_error());
    };
    let mut m = [0.0; N];
    for (i, (slot, entry)) in m.iter_mut().zip(entries).enumerate() {
        let x = entry.as_f64().ok_or_else(|| {
            format!(
                "\"{key}\" entry {} is not a number: {}",
                i + 1,
                brief(entry)
            )
        })?;
        if !x.is_finite() {
            return Err(format!("\"{key}\" entry {} is not finite", i + 1));
        }
        *slot = x;
    }
    Ok(m)
}

/// A thin-plate spline given as JSON text (`stn warp --tps FILE`), in the
/// form of a line's `"tps"`; the error is the reason, as for a line.
pub fn parse_tps(text: &str) -> Result<Tps, String> {
    let v: Value = serde_json::from_str(text).map_err(json_reason)?;
    read_tps(&v)
}

/// `{"target": [[x, y], …], "source": [[x, y], …], "eps"?, "grid"?}`.
fn read_tps(v: &Value) -> Result<Tps, String> {
    let Value::Object(obj) = v else {
        return Err(format!(
            "\"tps\" must be an object {{\"target\": [[x, y], …], \"source\": [[x, y], …]}}, got {}",
            brief(v)
        ));
    };
    let points = |key: &str| -> Result<Vec<[f64; 2]>, String> {
        let v = obj
            .get(key)
            .ok_or_else(|| format!("\"tps\" has no \"{key}\" points"))?;
        read_points(v).map_err(|reason| format!("\"tps\" \"{key}\": {reason}"))
    };
    let (target, source) = (points("target")?, points("source")?);
    let eps = match obj.get("eps") {
        None | Some(Value::Null) => 0.0,
        Some(e) => e
            .as_f64()
            .filter(|e| e.is_finite() && *e >= 0.0)
            .ok_or_else(|| format!("\"tps\" \"eps\" must be a number ≥ 0, got {}", brief(e)))?,
    };
    let grid = match obj.get("grid") {
        None | Some(Value::Null) => None,
        Some(Value::String(g)) => Some(read_grid(g)?),
        Some(g) => {
            return Err(format!(
                "\"tps\" \"grid\" must be \"centres\" or \"corners\", got {}",
                brief(g)
            ))
        }
    };
    Tps::new(target, source, eps, grid, "\"tps\"").map_err(|e| e.to_string())
}

/// `"centres"` (false) or `"corners"` (true): the base grid's `align_corners`.
pub fn read_grid(g: &str) -> Result<bool, String> {
    match g {
        "centres" | "centers" => Ok(false),
        "corners" => Ok(true),
        _ => Err(format!(
            "grid must be \"centres\" or \"corners\", got {g:?}"
        )),
    }
}

/// `[[x, y], …]` (or a flat `[x1, y1, x2, y2, …]`), all finite.
fn read_points(v: &Value) -> Result<Vec<[f64; 2]>, String> {
    let Value::Array(items) = v else {
        return Err(format!("must be a list of [x, y] pairs, got {}", brief(v)));
    };
    let num = |e: &Value| {
        e.as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{} is not a finite number", brief(e)))
    };
    if items.iter().all(Value::is_number) {
        if items.len() % 2 != 0 {
            return Err(format!("has an odd count of numbers ({})", items.len()));
        }
        return items
            .chunks(2)
            .map(|p| Ok([num(&p[0])?, num(&p[1])?]))
            .collect();
    }
    items
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([x, y]) => Ok([num(x)?, num(y)?]),
            _ => Err(format!("{} is not an [x, y] pair", brief(p))),
        })
        .collect()
}

/// `[width, height]`, whole numbers from 1 to 2³² − 1.
fn read_size(v: &Value) -> Result<Size, String> {
    let dim = |d: &Value| {
        d.as_u64()
            .filter(|&n| n >= 1)
            .and_then(|n| u32::try_from(n).ok())
    };
    let pair = match v.as_array().map(Vec::as_slice) {
        Some([w, h]) => dim(w).zip(dim(h)),
        _ => None,
    };
    pair.map(|(w, h)| Size::new(w, h)).ok_or_else(|| {
        format!(
            "\"size\" must be [width, height], two whole numbers of at least 1, got {}",
            brief(v)
        )
    })
}

/// A relative path that stays inside the output directory.
fn read_output(s: String) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("\"output\" is empty".to_string());
    }
    let p = PathBuf::from(s);
    let escapes = p
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes || p.file_name().is_none() {
        return Err(format!(
            "\"output\" {:?} must be a relative file path inside the output directory (no leading / and no ..)",
            p.to_string_lossy()
        ));
    }
    Ok(p)
}

/// A JSON value for a message, cut short if long.
fn brief(v: &Value) -> String {
    const MAX: usize = 60;
    let s = v.to_string();
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(path: &str, theta: [f64; 6]) -> ThetaLine {
        ThetaLine {
            path: PathBuf::from(path),
            transform: Transform::Affine(Affine(theta)),
            output: None,
            size: None,
        }
    }

    /// The (line, reason) of each error, and the paths of the good lines.
    fn outcome(text: &str) -> (Vec<(usize, String)>, Vec<PathBuf>) {
        let mut bad = Vec::new();
        let mut good = Vec::new();
        for r in parse(text, Path::new("t.jsonl")) {
            match r {
                Ok(t) => good.push(t.path),
                Err(Error::ThetasLine { path, line, reason }) => {
                    assert_eq!(path, Path::new("t.jsonl"));
                    bad.push((line, reason));
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        (bad, good)
    }

    #[test]
    fn writes_compact_json_with_optional_fields() {
        let mut t = line("a/b.png", [1.0, 0.0, -0.25, 0.0, 1.0, 0.1]);
        assert_eq!(
            to_line(&t),
            r#"{"path":"a/b.png","theta":[1.0,0.0,-0.25,0.0,1.0,0.1]}"#
        );
        t.output = Some(PathBuf::from("a/b.webp"));
        t.size = Some(Size::new(28, 14));
        assert_eq!(
            to_line(&t),
            r#"{"path":"a/b.png","theta":[1.0,0.0,-0.25,0.0,1.0,0.1],"output":"a/b.webp","size":[28,14]}"#
        );
        assert_eq!(
            parse(&to_line(&t), Path::new("x")).pop().unwrap().unwrap(),
            t
        );
    }

    #[test]
    fn reads_blank_lines_crlf_bom_unknown_keys_and_nested_theta() {
        let text = "\u{feff}{\"path\":\"a.png\",\"theta\":[1,0,0,0,1,0]}\r\n\
                    \n   \n\
                    {\"note\":\"tilted\",\"theta\":[[0.9,-0.1,0],[0.1,0.9,0]],\"path\":\"b.png\",\"size\":[3,4],\"output\":null}\n";
        let got: Vec<ThetaLine> = parse(text, Path::new("t"))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], line("a.png", [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]));
        assert_eq!(
            got[1].transform,
            Transform::Affine(Affine([0.9, -0.1, 0.0, 0.1, 0.9, 0.0]))
        );
        assert_eq!(got[1].size, Some(Size::new(3, 4)));
        assert_eq!(got[1].output, None);
    }

    #[test]
    fn each_malformed_line_is_reported_with_its_number() {
        let ok = r#"{"path":"ok.png","theta":[1,0,0,0,1,0]}"#;
        let cases: &[(&str, &str)] = &[
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0]"#,
                "invalid JSON at column",
            ),
            ("not json", "invalid JSON at column 2: expected ident"),
            (r#"[1,2,3]"#, "expected a JSON object"),
            (r#"{"theta":[1,0,0,0,1,0]}"#, "missing \"path\""),
            (r#"{"path":"","theta":[1,0,0,0,1,0]}"#, "\"path\" is empty"),
            (
                r#"{"path":7,"theta":[1,0,0,0,1,0]}"#,
                "\"path\" must be a string",
            ),
            (r#"{"path":"a.png"}"#, "missing \"theta\""),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1]}"#,
                "must have 6 numbers, got 5",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0,0]}"#,
                "must have 6 numbers, got 7",
            ),
            (
                r#"{"path":"a.png","theta":"1,0,0,0,1,0"}"#,
                "must be six numbers",
            ),
            (
                r#"{"path":"a.png","theta":[[1,0],[0,1]]}"#,
                "must be six numbers",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,"x",0,1,0]}"#,
                "entry 3 is not a number: \"x\"",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,null,0,1,0]}"#,
                "entry 3 is not a number: null",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,1e999,0,1,0]}"#,
                "number out of range at column 34",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,-1e400,0,1,0]}"#,
                "number out of range",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"size":[0,5]}"#,
                "\"size\" must be [width, height]",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"size":[5]}"#,
                "\"size\" must be",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"size":[5,5,5]}"#,
                "\"size\" must be",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"size":[2.5,5]}"#,
                "\"size\" must be",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"size":[-1,5]}"#,
                "\"size\" must be",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"size":[4294967296,5]}"#,
                "\"size\" must be",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"size":"5x5"}"#,
                "\"size\" must be",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"output":""}"#,
                "\"output\" is empty",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"output":"/etc/x.png"}"#,
                "inside the output directory",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"output":"a/../../x.png"}"#,
                "inside the output directory",
            ),
            (
                r#"{"path":"a.png","theta":[1,0,0,0,1,0],"output":3}"#,
                "\"output\" must be a string",
            ),
        ];
        // Each bad case between two good lines: its number is 2 + 2·i.
        let mut text = String::new();
        for (bad, _) in cases {
            text.push_str(ok);
            text.push('\n');
            text.push_str(bad);
            text.push('\n');
        }
        text.push_str(ok);
        let (bad, good) = outcome(&text);
        assert_eq!(good.len(), cases.len() + 1);
        assert_eq!(bad.len(), cases.len());
        for (i, ((line, reason), (input, expected))) in bad.iter().zip(cases).enumerate() {
            assert_eq!(*line, 2 + 2 * i, "{input}");
            assert!(
                reason.contains(expected),
                "{input}: {reason:?} lacks {expected:?}"
            );
            assert!(!reason.contains("at line"), "{reason}");
        }
    }

    #[test]
    fn error_display_names_file_and_line() {
        let r = parse("\n\n{\"path\":\"a\"}", Path::new("dir/t.jsonl"));
        let e = r.into_iter().next().unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/t.jsonl:3: missing \"theta\" (six numbers [a, b, c, d, e, f]), \"homography\" (nine numbers) or \"tps\" ({\"target\": …, \"source\": …})"
        );
    }

    #[test]
    fn seventeen_digit_and_extreme_values_round_trip() {
        // Needs serde_json's `float_roundtrip` feature; without it these
        // come back one unit in the last place off.
        let theta = [
            1.0715660391465826e-75,
            -1.81996730402717e-179,
            -1.603964615428183e143,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        let t = line("x.png", theta);
        let back = parse(&to_line(&t), Path::new("x")).pop().unwrap().unwrap();
        let Transform::Affine(a) = back.transform else {
            panic!("not affine")
        };
        assert_eq!(a.0.map(f64::to_bits), theta.map(f64::to_bits));
    }

    #[test]
    fn non_finite_theta_is_written_as_null_and_refused() {
        let t = line("x.png", [f64::NAN, 0.0, 0.0, 0.0, 1.0, f64::INFINITY]);
        let text = to_line(&t);
        assert!(text.contains("[null,"), "{text}");
        assert!(parse(&text, Path::new("x"))[0].is_err());
    }

    #[test]
    fn homography_and_tps_lines_round_trip() {
        let h = Homography([1.1, 0.1, 0.05, -0.05, 0.9, 0.02, 0.1, -0.2, 1.0]);
        let target = crate::transform::named_layout("rare:6").unwrap();
        let source: Vec<[f64; 2]> = target
            .iter()
            .map(|p| [p[0] * 0.9, p[1] * 0.7 + 0.01])
            .collect();
        let tps = Tps::new(target, source, 1e-6, Some(false), "t").unwrap();
        for transform in [Transform::Projective(h), Transform::Tps(tps)] {
            let t = ThetaLine {
                path: PathBuf::from("a.png"),
                transform,
                output: None,
                size: None,
            };
            let text = to_line(&t);
            let back = parse(&text, Path::new("x")).pop().unwrap().unwrap();
            assert_eq!(back, t, "{text}");
        }
        // Nested forms and the flat point list read too.
        let text = r#"{"path":"a.png","homography":[[1,0,0],[0,1,0],[0,0,1]]}
{"path":"b.png","tps":{"target":[-1,-1,1,-1,0,1],"source":[[-1,-1],[1,-1],[0,1]],"grid":"corners"}}"#;
        assert!(parse(text, Path::new("x")).iter().all(Result::is_ok));
    }

    #[test]
    fn bad_transforms_are_reported() {
        let cases = [
            (
                r#"{"path":"a","theta":[1,0,0,0,1,0],"homography":[1,0,0,0,1,0,0,0,1]}"#,
                "exactly one",
            ),
            (
                r#"{"path":"a","homography":[1,0,0,0,1,0,0,0]}"#,
                "nine numbers",
            ),
            (
                r#"{"path":"a","homography":[1,2,0,2,4,0,0,0,1]}"#,
                "singular",
            ),
            (
                r#"{"path":"a","homography":[1,0,0,0,1,0,0,0,-1]}"#,
                "behind the camera",
            ),
            (
                r#"{"path":"a","tps":{"target":[[0,0],[1,0]],"source":[[0,0],[1,0]]}}"#,
                "at least 3",
            ),
            (
                r#"{"path":"a","tps":{"target":[[0,0],[1,0],[0,1]],"source":[[0,0],[1,0]]}}"#,
                "3 target points but 2",
            ),
            (
                r#"{"path":"a","tps":{"target":[[0,0],[1,1],[2,2]],"source":[[0,0],[1,0],[0,1]]}}"#,
                "one line",
            ),
            (
                r#"{"path":"a","tps":{"target":[[0,0],[1,0],[0,0]],"source":[[0,0],[1,0],[0,1]]}}"#,
                "both",
            ),
            (
                r#"{"path":"a","tps":{"source":[[0,0],[1,0],[0,1]]}}"#,
                "no \"target\"",
            ),
            (
                r#"{"path":"a","tps":{"target":[[0,0],[1,0],[0,1]],"source":[[0,0],[1,0],[0,"x"]]}}"#,
                "finite",
            ),
            (
                r#"{"path":"a","tps":{"target":[[0,0],[1,0],[0,1]],"source":[[0,0],[1,0],[0,1]],"grid":"x"}}"#,
                "centres",
            ),
        ];
        for (text, want) in cases {
            let r = parse(text, Path::new("x")).pop().unwrap();
            let e = r.expect_err(text).to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    fn finite() -> impl Strategy<Value = f64> {
        any::<f64>().prop_filter("finite", |x| x.is_finite())
    }

    proptest! {
        #[test]
        fn lines_round_trip_exactly(
            path in ".+",
            theta in proptest::array::uniform6(finite()),
            output in proptest::option::of("[a-z0-9 _.-]{0,6}[a-z0-9](/[a-z0-9_-]{1,6}){0,3}"),
            size in proptest::option::of((1u32.., 1u32..)),
        ) {
            let t = ThetaLine {
                path: PathBuf::from(&path),
                transform: Transform::Affine(Affine(theta)),
                output: output.map(PathBuf::from),
                size: size.map(|(w, h)| Size::new(w, h)),
            };
            let text = to_line(&t);
            prop_assert!(!text.contains('\n'));
            let mut back = parse(&text, Path::new("x"));
            prop_assert_eq!(back.len(), 1);
            let back = back.pop().unwrap().unwrap();
            prop_assert_eq!(&back, &t);
        }
    }
}
