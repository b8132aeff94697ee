"""Measure the shipped model on the test split and draw models/rectify-grid.png.

    python evaluate.py

Every test digit (last 20 % of each class file) is distorted REPEATS times with a fixed seed (TEST_SEED),
8-bit quantised, and fed to the shipped ONNX model through onnxruntime. Accuracies of the two frozen
classifiers (trained on clean train digits only) are written to models/results.json.
"""

import json
import math
import os

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image, ImageDraw

import common as c

TEST_SEED = 20150605
REPEATS = 5
ONNX_PATH = os.path.join(c.HERE, "stn-mnist-rts.onnx")
GRID_PATH = os.path.join(c.HERE, "rectify-grid.png")
RESULTS_PATH = os.path.join(c.HERE, "results.json")


def load_clf(kind):
    m = c.ClassifierA() if kind == "clf-a" else c.ClassifierB()
    m.load_state_dict(torch.load(c.ckpt(f"{kind}.pt")))
    return m.eval()


def ort_theta(sess, x, batch=500):
    return torch.cat([torch.from_numpy(sess.run(["theta"], {"input": c.normalise(x[i:i + batch]).numpy()})[0])
                      for i in range(0, len(x), batch)])


def rotation_deg(theta):
    """Rotation angle implied by a 2x2 linear part (for an error summary)."""
    return torch.rad2deg(torch.atan2(theta[:, 1, 0] - theta[:, 0, 1], theta[:, 0, 0] + theta[:, 1, 1]))


def draw_grid(dist, rect, oracle, labels, path, cols=12):
    cell, gap, left = 84, 4, 64
    rows = [("input", dist, 2), ("stn", rect, 3), ("oracle", oracle, 3)]
    w = left + cols * (cell + gap)
    h = len(rows) * (cell + gap) + 16
    img = Image.new("L", (w, h), 96)
    draw = ImageDraw.Draw(img)
    for r, (name, ims, k) in enumerate(rows):
        y = 16 + r * (cell + gap)
        draw.text((6, y + cell // 2 - 6), name, fill=255)
        for j in range(cols):
            a = np.rint(ims[j, 0].clamp(0, 1).numpy() * 255).astype(np.uint8)
            tile = Image.fromarray(a, "L").resize((a.shape[1] * k, a.shape[0] * k), Image.NEAREST)
            img.paste(tile, (left + j * (cell + gap), y))
    for j in range(cols):
        draw.text((left + j * (cell + gap) + cell // 2 - 3, 2), str(int(labels[j])), fill=255)
    img.save(path, optimize=True)


def main():
    c.setup_torch(1)
    x, y, _ = c.load_split("test")
    clean = c.to_tensor01(x)
    y = torch.from_numpy(y)
    g = torch.Generator().manual_seed(TEST_SEED)
    dist, thd, oracle = [], [], []
    for _ in range(REPEATS):
        d, td, tr = c.distort(clean, g)
        dist.append(d), thd.append(td), oracle.append(tr)
    dist, oracle = torch.cat(dist), torch.cat(oracle)
    yy = y.repeat(REPEATS)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(ONNX_PATH, so, providers=["CPUExecutionProvider"])
    theta = ort_theta(sess, dist)

    views = {
        "a_clean": (c.normalise(clean), y),
        "b_resized": (c.normalise(c.resize_to_28(dist)), yy),
        "c_stn": (c.normalise(c.rectify(dist, theta)), yy),
        "d_oracle": (c.normalise(c.rectify(dist, oracle)), yy),
    }
    res = {"test_digits": len(clean), "repeats": REPEATS, "distorted_samples": len(dist), "test_seed": TEST_SEED}
    for kind in ("clf-a", "clf-b"):
        clf = load_clf(kind)
        res[kind] = {"params": c.n_params(clf)}
        for name, (inp, lab) in views.items():
            with torch.no_grad():
                res[kind][name] = round(100.0 * (c.predict(clf, inp) == lab).float().mean().item(), 2)
    err = (theta - oracle).abs()
    res["theta_mae_vs_oracle"] = round(err.mean().item(), 4)
    res["rotation_err_deg_median"] = round((rotation_deg(theta) - rotation_deg(oracle)).abs().median().item(), 2)
    scale = lambda t: torch.sqrt(torch.det(t[:, :, :2].double()).abs()).float()  # noqa: E731
    res["scale_rel_err_median"] = round(((scale(theta) / scale(oracle)) - 1).abs().median().item(), 4)
    res["shift_err_px_median"] = round((err[:, :, 2] * c.CANVAS / 2).norm(dim=1).median().item(), 2)
    print(json.dumps(res, indent=2))
    with open(RESULTS_PATH, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

    # the picture: 12 test digits from the first repeat, chosen with a fixed generator
    pick = torch.randperm(len(clean), generator=torch.Generator().manual_seed(TEST_SEED + 1))[:12]
    with torch.no_grad():
        draw_grid(dist[pick], c.rectify(dist[pick], theta[pick]), c.rectify(dist[pick], oracle[pick]),
                  y[pick], GRID_PATH)
    print(f"wrote {GRID_PATH} and {RESULTS_PATH}")


if __name__ == "__main__":
    main()
