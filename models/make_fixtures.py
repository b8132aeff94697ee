"""Write the Rust-side fixtures: models/samples/mnist/*.png and tests/fixtures/model/vectors.json.

    python make_fixtures.py

Two digits per class from the TEST split (last 20 % of each class file), RTS-distorted with a fixed seed,
saved as 8-bit grayscale 42x42 PNGs named d<class>_<index>.png (index = position within that class's test
part). For each PNG, theta is what onnxruntime returns for its decoded bytes / 255, then (x - mean) / std,
run one image at a time; the batch case runs all of them in one call.
"""

import json
import os

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image

import common as c

FIXTURE_SEED = 31337
PER_CLASS = 2
REPO = os.path.dirname(c.HERE)
ONNX_REL = "models/stn-mnist-rts.onnx"
SAMPLES_REL = "models/samples/mnist"
VECTORS = os.path.join(REPO, "tests", "fixtures", "model", "vectors.json")


def floats(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def main():
    c.setup_torch(1)
    os.makedirs(os.path.join(REPO, SAMPLES_REL), exist_ok=True)
    os.makedirs(os.path.dirname(VECTORS), exist_ok=True)
    x, y, idx = c.load_split("test")
    g = torch.Generator().manual_seed(FIXTURE_SEED)
    picks = []
    for d in range(10):
        rows = np.nonzero(y == d)[0]
        chosen = torch.randperm(len(rows), generator=g)[:PER_CLASS].sort().values.numpy()
        picks += [(int(rows[k]), d, int(k)) for k in chosen]
    clean = c.to_tensor01(x[[p[0] for p in picks]])
    dist, _, oracle = c.distort(clean, g)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(REPO, ONNX_REL), so, providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    mean, std = float(meta["stn.mean"]), float(meta["stn.std"])

    cases, inputs = [], []
    for (row, d, k), img, orc in zip(picks, dist, oracle):
        rel = f"{SAMPLES_REL}/d{d}_{k:03d}.png"
        u8 = np.rint(img[0].numpy() * 255.0).astype(np.uint8)
        Image.fromarray(u8, "L").save(os.path.join(REPO, rel))
        back = np.asarray(Image.open(os.path.join(REPO, rel)))
        assert back.dtype == np.uint8 and back.shape == (c.CANVAS, c.CANVAS) and (back == u8).all()
        inp = ((back.astype(np.float32) / np.float32(255.0)) - np.float32(mean)) / np.float32(std)
        inp = inp.reshape(1, 1, c.CANVAS, c.CANVAS)
        theta = sess.run(["theta"], {"input": inp})[0]
        inputs.append(inp)
        cases.append({"file": rel, "label": d, "theta": floats(theta), "oracle_theta": floats(orc)})

    batched = sess.run(["theta"], {"input": np.concatenate(inputs)})[0]
    single = np.array([cs["theta"] for cs in cases], dtype=np.float32)
    diff = float(np.abs(batched.reshape(len(cases), 6) - single).max())
    assert diff <= 1e-5, diff
    err = np.abs(single - np.array([cs["oracle_theta"] for cs in cases], dtype=np.float32))

    doc = {
        "model": ONNX_REL,
        "generator": f"models/make_fixtures.py (seed {FIXTURE_SEED}; onnxruntime {ort.__version__}, "
                     f"1 intra-op thread, CPU)",
        "input": {"name": "input", "shape": [1, 1, c.CANVAS, c.CANVAS], "pixels": "png_byte / 255",
                  "mean": mean, "std": std},
        "output": {"name": "theta", "layout": "row-major 2x3 [a, b, tx, c, d, ty]: output normalised (x, y) "
                   "-> input normalised, align_corners false"},
        "note": "oracle_theta is the exact inverse of the distortion that made the PNG; the model's theta "
                f"differs from it by {err.mean():.3f} on average (max {err.max():.3f}) per entry on these cases",
        "cases": cases,
        "batch": {
            "files": [cs["file"] for cs in cases],
            "theta": [floats(t) for t in batched],
            "max_abs_diff_vs_single": diff,
        },
    }
    with open(VECTORS, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} PNGs to {SAMPLES_REL}/ and {os.path.relpath(VECTORS, REPO)}; "
          f"batch vs single max |diff| = {diff:.3g}")


if __name__ == "__main__":
    main()
