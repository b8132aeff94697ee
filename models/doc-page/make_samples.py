"""The doc-page samples in models/samples/doc-page/ and the README's before/after picture.

    python make_samples.py --stn ../../target/release/stn

Makes six held-out photos with make_testset.py (seed 777, 1-2 MP), keeps the four smallest JPEGs as
models/samples/doc-page/page-N.jpg with their true page corners in truth.jsonl (photo pixels, edge
coordinates, TL TR BR BL: what tests/doc_page.rs checks `stn predict --model doc-page` against),
then rectifies them with `stn rectify --model doc-page` and puts the first photo beside its result in
models/doc-page/before-after.jpg.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "samples", "doc-page")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stn", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    subprocess.run([sys.executable, os.path.join(HERE, "make_testset.py"), "--out", tmp, "--n", "6",
                    "--seed", "777", "--mp", "1", "2"], check=True, stdout=subprocess.DEVNULL)
    metas = [json.loads(l) for l in open(os.path.join(tmp, "meta.jsonl"))]
    size = lambda m: os.path.getsize(os.path.join(tmp, "photos", m["name"] + ".jpg"))
    keep = sorted(sorted(metas, key=size)[:4], key=lambda m: m["name"])
    shutil.rmtree(SAMPLES, ignore_errors=True)
    os.makedirs(SAMPLES)
    with open(os.path.join(SAMPLES, "truth.jsonl"), "w") as f:
        for i, m in enumerate(keep, 1):
            name = f"page-{i}.jpg"
            shutil.copy(os.path.join(tmp, "photos", m["name"] + ".jpg"), os.path.join(SAMPLES, name))
            f.write(json.dumps({"file": name, "size": m["size"], "quad": m["quad"],
                                "paper": m["paper"]}) + "\n")
    out = os.path.join(tmp, "out")
    subprocess.run([a.stn, "rectify", "--model", "doc-page", SAMPLES, "-o", out], check=True)
    before = cv2.imread(os.path.join(SAMPLES, "page-1.jpg"))
    after = cv2.imread(os.path.join(out, "page-1.jpg"))
    h = 600
    b = cv2.resize(before, (round(before.shape[1] * h / before.shape[0]), h), interpolation=cv2.INTER_AREA)
    c = cv2.resize(after, (round(after.shape[1] * h / after.shape[0]), h), interpolation=cv2.INTER_AREA)
    gap = np.full((h, 16, 3), 255, np.uint8)
    cv2.imwrite(os.path.join(HERE, "before-after.jpg"), np.hstack([b, gap, c]),
                [cv2.IMWRITE_JPEG_QUALITY, 85])
    shutil.rmtree(tmp)
    print("wrote", SAMPLES, "and before-after.jpg")


if __name__ == "__main__":
    main()
