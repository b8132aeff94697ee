"""Evaluate the doc-page model with a real OCR engine on a held-out test set (make_testset.py).

    python evaluate.py --set runs/test --stn ../../target/release/stn [--model doc-page]

For every photo it makes (c) the oracle flattening: `stn warp --perspective M --size 1240x1754
--padding border` with M the exact inverse of the known page->photo map (the same sampler and output
size as the model's), and (d) `stn rectify --model MODEL`; and it asks `stn predict --model MODEL`
for the homographies. Then Tesseract (`tesseract IMG - --psm 6 -l eng`, OMP_THREAD_LIMIT=1, one
process per core, 2 % of each side trimmed) reads (a) the clean pages, (b) the raw photos, (c), (d).

Character accuracy = 1 - Levenshtein(ocr, truth) / len(truth), word accuracy the same over words,
both summed over the set (micro average), after mapping curly quotes, dashes and ligatures to ASCII
and collapsing whitespace. Corner error: each output corner mapped through the predicted transform
into the photo and back through the true one onto the page, distance in output pixels (1240x1754,
diagonal 2148); per photo the mean of the four; median and 95th percentile over photos.

Writes runs/.../results.json and prints a table.
"""

import argparse
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

import pages

OUT = (1240, 1754)
TRIM = 0.02


def norm_text(t):
    for a, b in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2014", "-"),
                 ("\u2013", "-"), ("\ufb01", "fi"), ("\ufb02", "fl"), ("\ufb00", "ff"), ("\u00a0", " ")):
        t = t.replace(a, b)
    return " ".join(t.split())


def ocr(path, tmpdir):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    dx, dy = int(round(w * TRIM)), int(round(h * TRIM))
    crop = os.path.join(tmpdir, os.path.basename(os.path.dirname(path)) + "-" +
                        os.path.splitext(os.path.basename(path))[0] + ".png")
    im.crop((dx, dy, w - dx, h - dy)).save(crop)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    r = subprocess.run(["tesseract", crop, "-", "--psm", "6", "-l", "eng"], capture_output=True,
                       text=True, env=env)
    os.unlink(crop)
    return r.stdout


def scores(texts, truths):
    cd = cl = wd = wl = 0
    per = []
    for t, g in zip(texts, truths):
        t, g = norm_text(t), norm_text(g)
        c = Levenshtein.distance(t, g)
        w = Levenshtein.distance(t.split(), g.split())
        cd, cl, wd, wl = cd + c, cl + len(g), wd + w, wl + len(g.split())
        per.append(1 - c / max(1, len(g)))
    return 100 * (1 - cd / cl), 100 * (1 - wd / wl), per


def inv_photo_to_out(quad):
    """Edge-coordinate homography: output pixel -> photo pixel (true)."""
    return pages.quad_homography([[0, 0], [OUT[0], 0], [OUT[0], OUT[1]], [0, OUT[1]]], quad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", required=True)
    ap.add_argument("--stn", required=True)
    ap.add_argument("--model", default="doc-page")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-ocr", action="store_true")
    a = ap.parse_args()
    root = os.path.abspath(a.set)
    metas = [json.loads(l) for l in open(os.path.join(root, "meta.jsonl"))]
    names = [m["name"] for m in metas]
    photos = [os.path.join(root, "photos", n + ".jpg") for n in names]
    for d in ("oracle", "stn", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)

    # (c) oracle: exact inverse, same sampler and size as the model's output
    def oracle(i):
        m = metas[i]
        h = inv_photo_to_out(np.array(m["quad"]))           # out -> photo, edge coordinates
        mcv = pages.to_cv(np.linalg.inv(h))                   # photo -> out, pixel centres
        mcv = mcv / mcv[2, 2]
        flat = ",".join(f"{v:.17g}" for v in mcv.ravel())
        subprocess.run([a.stn, "warp", f"--perspective={flat}", "--size", f"{OUT[0]}x{OUT[1]}",
                        "--padding", "border", "--overwrite", photos[i], "-o",
                        os.path.join(root, "oracle", names[i] + ".png")], check=True)
    with ThreadPoolExecutor(a.jobs) as ex:
        list(ex.map(oracle, range(len(names))))

    # (d) stn rectify + predict with the model
    subprocess.run([a.stn, "rectify", "--model", a.model, "--format", "png", "--overwrite",
                    os.path.join(root, "photos"), "-o", os.path.join(root, "stn")], check=True)
    pred = subprocess.run([a.stn, "predict", "--model", a.model, os.path.join(root, "photos")],
                          check=True, capture_output=True, text=True).stdout
    lines = {os.path.splitext(os.path.basename(j["path"]))[0]: j
             for j in map(json.loads, pred.splitlines())}

    # corner error in output pixels
    errs = []
    for m in metas:
        j = lines[m["name"]]
        hn = np.array(j["homography"], float).reshape(3, 3)  # output norm -> photo norm
        W, H = m["size"]
        corners_out = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)
        p = np.c_[corners_out, np.ones(4)] @ hn.T
        p = p[:, :2] / p[:, 2:3]
        photo_px = np.c_[(p[:, 0] + 1) * W / 2, (p[:, 1] + 1) * H / 2, np.ones(4)]
        back = photo_px @ np.linalg.inv(inv_photo_to_out(np.array(m["quad"]))).T
        back = back[:, :2] / back[:, 2:3]
        truth = np.array([[0, 0], [OUT[0], 0], [OUT[0], OUT[1]], [0, OUT[1]]], float)
        errs.append(float(np.linalg.norm(back - truth, axis=1).mean()))
    errs = np.array(errs)
    diag = math.hypot(*OUT)
    res = {"n": len(names), "corner_error_px": {
        "median": float(np.median(errs)), "p95": float(np.percentile(errs, 95)),
        "max": float(errs.max()), "median_pct_diag": float(100 * np.median(errs) / diag),
        "p95_pct_diag": float(100 * np.percentile(errs, 95) / diag)}}
    print(json.dumps(res["corner_error_px"]), flush=True)
    if a.skip_ocr:
        json.dump(res, open(os.path.join(root, "results.json"), "w"), indent=1)
        return

    truths = [open(os.path.join(root, "truth", n + ".txt")).read() for n in names]
    tmp = os.path.join(root, "tmp")
    sets = {"clean": [os.path.join(root, "clean", n + ".png") for n in names],
            "raw": photos,
            "oracle": [os.path.join(root, "oracle", n + ".png") for n in names],
            "stn": [os.path.join(root, "stn", n + ".png") for n in names]}
    for k, paths in sets.items():
        # clean, raw and oracle do not depend on the model: their OCR is kept in ocr-cache/
        cache = os.path.join(root, "ocr-cache", k) if k != "stn" else None

        def read(p):
            if cache:
                c = os.path.join(cache, os.path.basename(p) + ".txt")
                if os.path.exists(c):
                    return open(c).read()
            t = ocr(p, tmp)
            if cache:
                os.makedirs(cache, exist_ok=True)
                open(c, "w").write(t)
            return t
        with ThreadPoolExecutor(a.jobs) as ex:
            texts = list(ex.map(read, paths))
        c, w, per = scores(texts, truths)
        res[k] = {"char": c, "word": w, "per_page_char": [round(x, 4) for x in per]}
        print(f"{k:7s} char {c:6.2f} %  word {w:6.2f} %", flush=True)
    res["per_page_corner_px"] = [round(float(e), 2) for e in errs]
    json.dump(res, open(os.path.join(root, "results.json"), "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
