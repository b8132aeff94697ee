"""Held-out page photos at full resolution, for evaluate.py and the speed benchmark.

    python make_testset.py --out runs/test --n 60 --seed 2026             # 1-12 MP, mixed
    python make_testset.py --out runs/test-harsh --n 60 --seed 2026 --harsh  # same pages, harsher photos
    python make_testset.py --out runs/bench12 --n 100 --seed 5150 --mp 12  # 12 MP only

Pages carry prose from /usr/share/common-licenses (training used random dictionary words), are
rendered at 300 dpi and photographed by pages.photograph with seeds training never used; the photo
is saved as a JPEG (quality 75-95). Written per photo `NNN`:

    photos/NNN.jpg   the photo
    clean/NNN.png    the clean page at 150 dpi (its own paper size: A4 1240x1754 or letter 1275x1650)
    truth/NNN.txt    the text on the page, line by line
    meta.jsonl       {"name", "size": [W,H], "quad": page corners TL,TR,BR,BL in photo pixels (edge
                     coordinates: (0,0) is the image's top-left corner), "paper": [w,h], "mp"}
"""

import argparse
import json
import math
import os

import cv2
import numpy as np

import pages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--mp", type=float, nargs="*", default=[1, 2, 3, 5, 8, 12])
    ap.add_argument("--harsh", action="store_true",
                    help="training-strength light, shadows, blur and noise (default: ordinary photos)")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    for d in ("photos", "clean", "truth"):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    rng = np.random.default_rng(a.seed)
    with open(os.path.join(a.out, "meta.jsonl"), "w") as meta:
        for i in range(a.n):
            name = f"{i:03d}"
            page2x, truth, paper = pages.render_page(rng, test=True, scale=2.0)
            clean = cv2.resize(page2x, paper, interpolation=cv2.INTER_AREA)
            mp = float(a.mp[int(rng.integers(len(a.mp)))])
            ratio = [4 / 3, 3 / 2, 16 / 9][int(rng.integers(3))]
            long_side = int(round(math.sqrt(mp * 1e6 * ratio)))
            w, h = long_side, int(round(long_side / ratio))
            W, H = (w, h) if rng.random() < 0.5 else (h, w)
            quad = pages.page_quad(rng, W, H, paper[0] / paper[1])
            # pre-shrink the 300 dpi page to about its size in the photo (x1.5), so the bilinear
            # warp does not alias; the quad is in photo pixels whatever the page's resolution
            diag_photo = math.hypot(*(quad[2] - quad[0]))
            s = min(1.0, 1.5 * diag_photo / math.hypot(*page2x.shape[:2]))
            src = page2x if s >= 1.0 else cv2.resize(
                page2x, (int(round(page2x.shape[1] * s)), int(round(page2x.shape[0] * s))),
                interpolation=cv2.INTER_AREA)
            photo, _ = pages.photograph(rng, src, quad, W, H, jpeg=False, harsh=a.harsh)
            q = int(rng.uniform(75, 96))
            cv2.imwrite(os.path.join(a.out, "photos", name + ".jpg"), photo[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, q])
            cv2.imwrite(os.path.join(a.out, "clean", name + ".png"), clean[..., ::-1])
            with open(os.path.join(a.out, "truth", name + ".txt"), "w") as f:
                f.write(truth + "\n")
            meta.write(json.dumps({"name": name, "size": [W, H], "quad": quad.round(4).tolist(),
                                   "paper": list(paper), "mp": mp, "jpeg_quality": q}) + "\n")
            print(name, W, H, flush=True)


if __name__ == "__main__":
    main()
