#!/usr/bin/env python3
"""BENCHMARKS.md section "Issue 12": `stn rectify --model doc-page` on 100 12-megapixel JPEG page
photos, against the Python pipeline a user would write for the same job, in the same sitting.

Usage:
    python3 scripts/bench_docpage.py [--rounds 3] [--photos 100] [--skip-build]

Needs numpy, opencv-python-headless, onnxruntime (and, to make the photos once, Pillow and the fonts
of models/doc-page/README.md). The photos are made by models/doc-page/make_testset.py (seed 5150,
12 MP, 4:3 / 3:2 / 16:9, portrait or landscape, --harsh effects, JPEG quality 75-95) into
.bench/docpage12/.

A. stn:    stn -j 2 rectify --model doc-page PHOTOS -o OUT --overwrite        (JPEG q90 out)
B. Python: 2 processes (multiprocessing.Pool(2), imap over files, chunksize 1), each with its own
           onnxruntime session (1 intra-op thread) on the same models/doc-page.onnx:
           cv2.imread -> grey (cv2.cvtColor) -> cv2.resize 256x256 INTER_AREA -> (x/255-0.5)/0.25
           -> session.run -> pixel matrix -> cv2.warpPerspective(1240x1754, INTER_LINEAR,
           WARP_INVERSE_MAP, BORDER_REPLICATE) -> cv2.imwrite q90.
Rounds alternate A, B / B, A; each reports images/s; the script prints medians and min-max and the
ratio per round. OpenCV's codecs are libjpeg-turbo, the fastest a Python user gets.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench" / "docpage12"
STN = ROOT / "target" / "release" / "stn"
MODEL = ROOT / "models" / "doc-page.onnx"
OUT_W, OUT_H = 1240, 1754

_sess = None


def _init():
    global _sess
    import cv2
    import onnxruntime as ort
    cv2.setNumThreads(1)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    _sess = ort.InferenceSession(str(MODEL), so, providers=["CPUExecutionProvider"])


def _one(args):
    import cv2
    import numpy as np
    src, dst = args
    img = cv2.imread(src, cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    thumb = cv2.resize(grey, (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32)
    x = ((thumb / 255.0 - 0.5) / 0.25)[None, None]
    hn = _sess.run(None, {"image": x})[0][0].astype(np.float64)
    # normalised (align_corners=False) -> pixel centres: p = (X+1)*W/2 - 0.5
    n_in = np.array([[w / 2, 0, w / 2 - 0.5], [0, h / 2, h / 2 - 0.5], [0, 0, 1]])
    n_out_inv = np.array([[2 / OUT_W, 0, 1 / OUT_W - 1], [0, 2 / OUT_H, 1 / OUT_H - 1], [0, 0, 1]])
    m = n_in @ hn @ n_out_inv  # output pixel -> input pixel
    out = cv2.warpPerspective(img, m, (OUT_W, OUT_H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    cv2.imwrite(dst, out, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return dst


def python_pipeline(photos, out):
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), str(out / p.name)) for p in photos]
    t = time.perf_counter()
    with Pool(2, initializer=_init) as pool:
        for _ in pool.imap_unordered(_one, jobs, chunksize=1):
            pass
    return time.perf_counter() - t


def stn_pipeline(src, out):
    t = time.perf_counter()
    subprocess.run([str(STN), "-j", "2", "rectify", "--model", "doc-page", str(src), "-o", str(out),
                    "--overwrite"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args()
    if not a.skip_build:
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    photos_dir = BENCH / "photos"
    if len(list(photos_dir.glob("*.jpg"))) < a.photos:
        shutil.rmtree(BENCH, ignore_errors=True)
        subprocess.run([sys.executable, "make_testset.py", "--out", str(BENCH), "--n", str(a.photos),
                        "--seed", "5150", "--mp", "12", "--harsh"], cwd=ROOT / "models" / "doc-page", check=True,
                       stdout=subprocess.DEVNULL)
    photos = sorted(photos_dir.glob("*.jpg"))[: a.photos]
    src = BENCH / "in"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    for p in photos:
        os.link(p, src / p.name)
    mb = sum(p.stat().st_size for p in photos) / 1e6
    print(f"{len(photos)} photos, {mb:.0f} MB of JPEG; CPU: {platform.processor() or platform.machine()}")
    try:
        with open("/proc/cpuinfo") as f:
            print(next(l for l in f if l.startswith("model name")).strip())
    except (OSError, StopIteration):
        pass
    rates = {"stn": [], "python": []}
    ratios = []
    for r in range(a.rounds):
        order = ["stn", "python"] if r % 2 == 0 else ["python", "stn"]
        got = {}
        for k in order:
            out = BENCH / f"out-{k}"
            shutil.rmtree(out, ignore_errors=True)
            s = stn_pipeline(src, out) if k == "stn" else python_pipeline(photos, out)
            got[k] = len(photos) / s
            rates[k].append(got[k])
        ratios.append(got["stn"] / got["python"])
        print(f"round {r + 1}: stn {got['stn']:.2f} img/s, python {got['python']:.2f} img/s, "
              f"ratio {ratios[-1]:.2f}", flush=True)
    for k, v in rates.items():
        print(f"{k:7s} median {statistics.median(v):.2f} img/s (min {min(v):.2f}, max {max(v):.2f})")
    print(f"ratio stn/python median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, "
          f"max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
