"""End-to-end check of the shipped model through the real `stn` binary (run by hand).

Distorts every test-split digit once with a seed of your choice, writes them as 8-bit
PNGs, runs `stn rectify --size 28x28` on the folder, reads the outputs back and
reports the accuracy of both frozen classifiers (checkpoints from train.py in out/).

    cargo build --release
    python models/check_cli.py --seed 777 --stn target/release/stn
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import torch
from PIL import Image

import common as c
import evaluate as ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--stn", default=os.path.join(c.HERE, "..", "target", "release", "stn"))
    args = ap.parse_args()
    c.setup_torch()
    x, y, _ = c.load_split("test")
    g = torch.Generator().manual_seed(args.seed)
    dist, _, _ = c.distort(c.to_tensor01(x), g)
    u8 = torch.round(dist[:, 0] * 255).to(torch.uint8).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "in"), os.path.join(tmp, "out")
        os.makedirs(src)
        for i, img in enumerate(u8):
            Image.fromarray(img, "L").save(os.path.join(src, f"{i:05d}.png"))
        subprocess.run([args.stn, "rectify", src, "-o", out, "--size", "28x28", "-q"], check=True)
        rect = np.stack([np.asarray(Image.open(os.path.join(out, f"{i:05d}.png"))) for i in range(len(u8))])
    r = c.to_tensor01(rect)
    for kind in ["clf-a", "clf-b"]:
        acc = (c.predict(ev.load_clf(kind), r) == torch.from_numpy(y)).float().mean().item() * 100
        print(f"{kind}: {acc:.2f} % of {len(y)} test digits (seed {args.seed}) read correctly after stn rectify")


if __name__ == "__main__":
    main()
