//! The shipped doc-page model on held-out synthetic page photos
//! (`models/samples/doc-page/`, made by `models/doc-page/make_samples.py`
//! with seeds and text that training never saw). The truth is the generator's
//! page corners (`truth.jsonl`), not anything stn computed.

use std::fs;

use serde::Deserialize;
use serde_json::Value;

use crate::util::{self, Env};

#[derive(Deserialize)]
struct Truth {
    file: String,
    size: [f64; 2],
    /// Page corners TL, TR, BR, BL in photo pixels, edge coordinates.
    quad: [[f64; 2]; 4],
}

fn truths() -> Vec<Truth> {
    util::json_lines(
        &fs::read_to_string(util::repo().join("models/samples/doc-page/truth.jsonl")).unwrap(),
    )
}

/// Where a normalised homography (output → input) sends the output's four
/// outer corners, in input pixels (edge coordinates).
fn corners(h: &[f64], size: [f64; 2]) -> [[f64; 2]; 4] {
    let mut out = [[0.0; 2]; 4];
    for (k, (x, y)) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
        .into_iter()
        .enumerate()
    {
        let z = h[6] * x + h[7] * y + h[8];
        let u = (h[0] * x + h[1] * y + h[2]) / z;
        let v = (h[3] * x + h[4] * y + h[5]) / z;
        out[k] = [(u + 1.0) * size[0] / 2.0, (v + 1.0) * size[1] / 2.0];
    }
    out
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// `stn predict --model doc-page` puts each page corner within 1 % of the
/// page diagonal of the truth (the "about 1 %" for OCR-grade
/// flattening), and the mean over the samples within 0.5 %.
#[test]
fn predict_finds_the_page_corners() {
    let truths = truths();
    assert_eq!(truths.len(), 4);
    let env = Env::new();
    let dir = util::repo().join("models/samples/doc-page");
    let out = env.assert_ok(&["predict", "--model", "doc-page", dir.to_str().unwrap()]);
    let lines: Vec<Value> = util::json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(lines.len(), truths.len());
    let mut all = Vec::new();
    for t in &truths {
        let line = lines
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with(&t.file))
            .unwrap_or_else(|| panic!("no line for {}", t.file));
        let h = util::numbers(&line["homography"]);
        assert_eq!(h.len(), 9);
        assert_eq!(line["size"], serde_json::json!([1240, 1754]));
        let got = corners(&h, t.size);
        let diag = (dist(t.quad[0], t.quad[2]) + dist(t.quad[1], t.quad[3])) / 2.0;
        for (k, (g, want)) in got.iter().zip(&t.quad).enumerate() {
            let e = 100.0 * dist(*g, *want) / diag;
            assert!(
                e < 1.0,
                "{} corner {k}: {g:?} vs truth {want:?} ({e:.2} % of the page diagonal)",
                t.file
            );
            all.push(e);
        }
    }
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    assert!(mean < 0.5, "mean corner error {mean:.3} % of the diagonal");
}

/// `stn rectify --model doc-page` writes each photo as a 1240×1754 page, in
/// the input's format, and the page fills it: the output's border rows and
/// columns are paper (bright), not desk.
#[test]
fn rectify_writes_flat_a4_pages() {
    let env = Env::new();
    let dir = util::repo().join("models/samples/doc-page");
    env.assert_ok(&[
        "rectify",
        "--model",
        "doc-page",
        dir.to_str().unwrap(),
        "-o",
        "flat",
    ]);
    for t in truths() {
        let img = image::open(env.path("flat").join(&t.file))
            .unwrap()
            .to_luma8();
        assert_eq!(img.dimensions(), (1240, 1754), "{}", t.file);
        // Mean brightness of a band 1 % inside each edge against the page's
        // own centre band: paper everywhere (lighting varies, desks are darker
        // or textured, so allow 35 %).
        let (w, h) = img.dimensions();
        let band = |x0: u32, y0: u32, x1: u32, y1: u32| {
            let mut s = 0u64;
            let mut n = 0u64;
            for y in y0..y1 {
                for x in x0..x1 {
                    s += u64::from(img.get_pixel(x, y).0[0]);
                    n += 1;
                }
            }
            s as f64 / n as f64
        };
        let centre = band(w / 3, h / 3, 2 * w / 3, 2 * h / 3);
        let (m, k) = (w / 100, 4);
        for (name, v) in [
            ("top", band(m, m, w - m, m + k)),
            ("bottom", band(m, h - m - k, w - m, h - m)),
            ("left", band(m, m, m + k, h - m)),
            ("right", band(w - m - k, m, w - m, h - m)),
        ] {
            assert!(
                v > 0.65 * centre,
                "{}: {name} band {v:.0} vs centre {centre:.0}",
                t.file
            );
        }
    }
}
