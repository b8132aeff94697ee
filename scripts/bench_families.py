#!/usr/bin/env python3
"""The transform families (issue 10) side by side with their anchors, in one sitting.

Usage:
    python3 scripts/bench_families.py [--quick] [--skip-build] [--no-torch]

Uses the virtual environment of scripts/bench.py (.bench/venv, created if
missing, with torch added unless --no-torch) and its helpers. Three parts:

1. 3840x2160 RGB u8, bilinear, zero padding, 1 and 2 threads: stn's affine
   (rotation 15 deg, scale 0.9, translation (0.05, -0.03)), projective (the
   same with h31 = 0.12, h32 = -0.08) and thin-plate spline (K = 20, RARE
   layout, the affine map plus a bend) through `cargo bench --bench warp --
   families_4k` (criterion), against cv2.warpAffine and cv2.warpPerspective
   (INTER_LINEAR, zero border) on the same transforms, timed here.
2. 10,000 text crops, 200x64 RGB PNG, each with its own TPS (K = 20, RARE
   layout, random displacements), 100x32 out: `stn warp --thetas` as a whole
   process (PNG decode, TPS solve, grid, sampling, PNG encode, fsync'd
   writes), against PyTorch's CPU path as clovaai's GridGenerator computes it
   (inv_delta_C, P_hat, bmm) + F.grid_sample(border, align_corners=True) on
   tensors already in memory (no decoding or encoding), batch 1 and batch 64.
3. A targets table.

Writes .bench/families.md (and .json).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402  (the suite's helpers: venv, stats, timing, inputs)

CROPS = 10_000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions and crops")
    p.add_argument("--skip-build", action="store_true")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch anchor")
    return p.parse_args()


def bootstrap(args):
    python = bench.VENV / "bin" / "python"
    if not python.exists():
        import venv

        venv.create(bench.VENV, with_pip=True)
    packages = bench.ANCHORS + ([] if args.no_torch else ["torch"])
    modules = ["cv2", "PIL", "numpy"] + ([] if args.no_torch else ["torch"])
    probe = subprocess.run([str(python), "-c", "import " + ", ".join(modules)], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def homography(theta):
    a, b, c, d, e, f = theta
    return [[a, b, c], [d, e, f], [0.12, -0.08, 1.0]]


def pixel_map(h, w_in, h_in, w_out, h_out):
    """Output pixel -> input pixel of a normalised homography, align_corners=False."""
    import numpy as np

    n_out = np.array([[2 / w_out, 0, 1 / w_out - 1], [0, 2 / h_out, 1 / h_out - 1], [0, 0, 1]])
    p_in = np.array([[w_in / 2, 0, (w_in - 1) / 2], [0, h_in / 2, (h_in - 1) / 2], [0, 0, 1]])
    return p_in @ np.asarray(h, dtype=float) @ n_out


def rare(k):
    half = k // 2
    xs = [-1 + 2 * i / (half - 1) for i in range(half)]
    return [[x, -1.0] for x in xs] + [[x, 1.0] for x in xs]


def sampler(cfg):
    import cv2

    start = time.time() - 1
    cmd = ["cargo", "bench", "--bench", "warp", "--", *cfg["criterion_args"], "families_"]
    print("$ " + " ".join(cmd), flush=True)
    with open(bench.LOGS / "families_criterion.log", "w") as log:
        subprocess.run(cmd, cwd=bench.ROOT, check=True, stdout=log, stderr=subprocess.STDOUT)
    crit = bench.criterion_results(start)
    sampler.crops = crit.get("families_crops_200x64_tps20/bilinear/1")
    rows = []
    for key, s in sorted(crit.items()):
        if key.startswith("families_4k_rgb8/"):
            _, family, threads = key.split("/")
            rows.append({"tool": f"stn {family}", "threads": int(threads), **s})
    w, h = 3840, 2160
    img = bench.photo_like(3, w, h)
    theta = bench.rts(*bench.BENCH_RTS)
    m_aff = bench.cv2_inverse_map(theta, w, h, w, h)
    m_proj = pixel_map(homography(theta), w, h, w, h)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    import numpy as np

    dst = np.empty_like(img)
    for threads in (1, 2):
        cv2.setNumThreads(threads)
        aff = lambda: cv2.warpAffine(img, m_aff, (w, h), dst=dst, flags=flags,  # noqa: E731
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        proj = lambda: cv2.warpPerspective(img, m_proj, (w, h), dst=dst, flags=flags,  # noqa: E731
                                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        for name, fn in (("cv2.warpAffine", aff), ("cv2.warpPerspective", proj)):
            rows.append({"tool": name, "threads": threads,
                         **bench.stats(bench.time_calls(fn, cfg["cv2_runs"], 3))})
    return rows


def crops_data(n):
    """n 200x64 RGB crops and a thetas file with one TPS line each."""
    import numpy as np
    from PIL import Image

    d = bench.DATA / "crops"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    target = rare(20)
    lines = []
    base = bench.photo_like(21, 200 * 8, 64 * 8)
    for i in range(n):
        p = d / f"crop_{i:05d}.png"
        if not p.exists():
            y, x = (i * 37) % 7 * 64, (i * 11) % 7 * 200
            Image.fromarray(base[y:y + 64, x:x + 200]).save(p, format="PNG")
        source = (np.asarray(target) * [0.9, 0.8] + rng.normal(0, 0.05, (20, 2))).round(6).tolist()
        lines.append(json.dumps({"path": str(p), "tps": {"target": target, "source": source},
                                 "output": f"crop_{i:05d}.png", "size": [100, 32]}))
    t = bench.DATA / f"crops_{n}.jsonl"
    t.write_text("\n".join(lines) + "\n")
    return t


def crops(cfg, with_torch):
    n = cfg["crops"]
    thetas = crops_data(n)
    out = bench.OUT / "crops"
    cmd = [str(bench.STN), "warp", "--thetas", str(thetas), "-o", str(out), "--overwrite",
           "--padding", "border", "--align-corners", "-j", "2"]
    bench.run_timed(cmd, "crops.log")
    walls = [bench.run_timed(cmd, "crops.log")[0] for _ in range(cfg["rounds"])]
    rows = [{"tool": "stn warp --thetas (whole process, PNG in and out)", "threads": 2,
             "images": n, **bench.stats([w / n for w in walls])}]
    crit = getattr(sampler, "crops", None)
    if crit:
        per = {k: (v / 64 if isinstance(v, float) else v) for k, v in crit.items()}
        rows.append({"tool": "stn in memory: TPS solve + grid + sampling (criterion, 64 crops)",
                     "threads": 1, "images": 64, **per})
    if with_torch:
        rows += torch_crops(n, thetas, cfg)
    return rows


def torch_crops(n, thetas, cfg):
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(2)
    k, (w, h) = 20, (100, 32)
    c = np.asarray(rare(k))
    hat = np.linalg.norm(c[:, None] - c[None], axis=2)
    np.fill_diagonal(hat, 1)
    hat = hat ** 2 * np.log(hat)
    delta = np.concatenate([
        np.concatenate([np.ones((k, 1)), c, hat], 1),
        np.concatenate([np.zeros((2, 3)), c.T], 1),
        np.concatenate([np.zeros((1, 3)), np.ones((1, k))], 1)], 0)
    inv = torch.tensor(np.linalg.inv(delta)).float()
    gx, gy = (np.arange(-w, w, 2) + 1.0) / w, (np.arange(-h, h, 2) + 1.0) / h
    p = np.stack(np.meshgrid(gx, gy), 2).reshape(-1, 2)
    rbf = np.linalg.norm(p[:, None] - c[None], axis=2)
    p_hat = torch.tensor(np.concatenate([np.ones((len(p), 1)), p, rbf ** 2 * np.log(rbf + 1e-6)], 1)).float()
    sources = [json.loads(l)["tps"]["source"] for l in thetas.read_text().splitlines()]
    c_prime = torch.tensor(sources).float()
    imgs = torch.rand(n, 3, 64, 200)
    rows = []
    for batch in (1, 64):
        def run():
            with torch.no_grad():
                for s in range(0, n, batch):
                    cp = c_prime[s:s + batch]
                    b = cp.shape[0]
                    t = torch.bmm(inv.expand(b, -1, -1), torch.cat([cp, torch.zeros(b, 3, 2)], 1))
                    grid = torch.bmm(p_hat.expand(b, -1, -1), t).reshape(b, h, w, 2)
                    F.grid_sample(imgs[s:s + batch], grid, padding_mode="border", align_corners=True)
        run()
        times = [bench.time_calls(run, 1, 0)[0] / n for _ in range(cfg["rounds"])]
        rows.append({"tool": f"PyTorch GridGenerator + grid_sample, batch {batch} (compute only)",
                     "threads": 2, "images": n, **bench.stats(times)})
    return rows


def report(info, rows_s, rows_c):
    by = {(r["tool"], r["threads"]): r for r in rows_s}
    out = ["# stn transform families", "",
           f"- date: {info['date']}; machine: {info['cpu']}, {info['cpus']} CPUs; "
           f"load average at start {'/'.join(f'{x:.2f}' for x in info['load'])}",
           "- medians; IQR = 25th–75th percentile; all rows from one run", "",
           "## 3840×2160 RGB u8, bilinear, zero padding", ""]
    body = []
    for r in rows_s:
        body.append([r["tool"], r["threads"], bench.fmt_time(r["median"]),
                     bench.fmt_range(r["q1"], r["q3"]), r["n"]])
    out.append(bench.table(["implementation", "threads", "median", "IQR", "n"], body))
    out += ["", f"## {rows_c[0]['images']:,} text crops, 200×64 RGB → TPS K = 20 → 100×32", ""]
    body = [[r["tool"], r["threads"], bench.fmt_time(r["median"]),
             bench.fmt_range(r["q1"], r["q3"]), r["n"]] for r in rows_c]
    out.append(bench.table(["implementation", "threads", "per image (median)", "IQR", "n"], body))
    targets = []
    for t in (1, 2):
        stn, cv = by.get(("stn projective", t)), by.get(("cv2.warpPerspective", t))
        if stn and cv:
            r = cv["median"] / stn["median"]
            targets.append([f"projective ≥ 2× cv2.warpPerspective, {t} thread(s)",
                            f"{r:.2f}× ({bench.fmt_time(stn['median'])} vs {bench.fmt_time(cv['median'])})",
                            "PASS" if r >= 2 else "FAIL"])
    for t in (1, 2):
        tps, aff = by.get(("stn tps20", t)), by.get(("stn affine", t))
        if tps and aff:
            r = tps["median"] / aff["median"]
            targets.append([f"TPS K = 20 ≤ 3× affine, {t} thread(s)",
                            f"{r:.2f}× ({bench.fmt_time(tps['median'])} vs {bench.fmt_time(aff['median'])})",
                            "PASS" if r <= 3 else "FAIL"])
    stns = [r for r in rows_c if r["tool"].startswith("stn")]
    for stn in stns:
        for r in rows_c:
            if r["tool"].startswith("stn"):
                continue
            x = r["median"] / stn["median"]
            targets.append([f"crops: {stn['tool']} ≥ 20× faster per image than {r['tool']}",
                            f"{x:.1f}× ({bench.fmt_time(stn['median'])} vs "
                            f"{bench.fmt_time(r['median'])})",
                            "PASS" if x >= 20 else "FAIL"])
    out += ["", "## Targets", "", bench.table(["target", "measured", "verdict"], targets), ""]
    return "\n".join(out)


def main():
    args = parse_args()
    if not bench.in_venv():
        bootstrap(args)
    for d in (bench.DATA, bench.OUT, bench.LOGS):
        d.mkdir(parents=True, exist_ok=True)
    if not args.skip_build:
        for cmd in (["cargo", "build", "--release"], ["cargo", "bench", "--bench", "warp", "--no-run"]):
            subprocess.run(cmd, cwd=bench.ROOT, check=True)
    cfg = ({"criterion_args": ["--warm-up-time", "1", "--measurement-time", "2"], "cv2_runs": 5,
            "crops": 1000, "rounds": 2} if args.quick else
           {"criterion_args": [], "cv2_runs": 20, "crops": CROPS, "rounds": 5})
    import platform

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu,
            "cpus": os.cpu_count(), "load": os.getloadavg()}
    rows_s = sampler(cfg)
    rows_c = crops(cfg, not args.no_torch)
    text = report(info, rows_s, rows_c)
    (bench.BENCH / "families.md").write_text(text + "\n")
    (bench.BENCH / "families.json").write_text(json.dumps({"info": info, "sampler": rows_s,
                                                           "crops": rows_c}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
