"""Train the doc-page corner net on synthetic page photos made on the fly (pages.py), on the CPU.

    python train.py --minutes 75            # writes runs/doc-page.pt (+ runs/log.jsonl)

One torch thread trains; one worker process synthesises samples: a pool of clean training pages
(random dictionary words, every font pair of pages.FONTS) is rendered once at 1/4 of 150 dpi, each
sample warps one of them into a photo whose long side is 512 px with a random camera, background and
photo effects (pages.photograph), and shrinks it to the net's 256x256 grey thumbnail by area
averaging, as stn does. The learning rate follows a cosine over the time budget, so a run ends with a
finished schedule whatever the machine's speed.

Loss per corner: cross-entropy of the heat map against a Gaussian (sigma = 1 cell) at the true corner,
plus the L1 distance of the soft-argmax corner to the truth in thumbnail pixels.
"""

import argparse
import json
import math
import os
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset

import net
import pages

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "runs")
POOL_SEED, VAL_SEED = 7, 99


def pool(n, seed):
    path = os.path.join(RUNS, f"pool-{n}-{seed}.npz")
    if os.path.exists(path):
        z = np.load(path, allow_pickle=True)
        return list(z["pages"])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        p, _, _ = pages.render_page(rng)
        out.append(cv2.resize(p, (p.shape[1] // 4, p.shape[0] // 4), interpolation=cv2.INTER_AREA))
    np.savez(path, pages=np.array(out, dtype=object))
    return out


def sample(rng, pool_pages, long_side=512):
    page = pool_pages[int(rng.integers(len(pool_pages)))]
    W, H = pages.photo_size(rng, long_side)
    quad = pages.page_quad(rng, W, H, page.shape[1] / page.shape[0])
    photo, _ = pages.photograph(rng, page, quad, W, H)
    x = (pages.luma_thumb(photo, net.SIZE) - net.MEAN) / net.STD
    c = pages.normalised_corners(quad, W, H)
    diag = math.hypot(*(quad[2] - quad[0])) / 2 + math.hypot(*(quad[3] - quad[1])) / 2
    return x.astype(np.float32), c.astype(np.float32), np.float32([W, H, diag])


class Stream(IterableDataset):
    def __init__(self, pool_pages, seed):
        self.pool, self.seed = pool_pages, seed

    def __iter__(self):
        cv2.setNumThreads(1)
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0, int(time.time())])
        while True:
            x, c, m = sample(rng, self.pool)
            yield torch.from_numpy(x)[None], torch.from_numpy(c), torch.from_numpy(m)


def loss_fn(corners, logp, target):
    n, k, hw = logp.shape
    side = int(math.isqrt(hw))
    cells = (torch.arange(side, dtype=torch.float32) * 2 + 1) / side - 1
    sig = 2.0 / side  # one cell, in normalised units
    gx = torch.exp(-((cells[None, None, :] - target[..., 0:1]) ** 2) / (2 * sig * sig))
    gy = torch.exp(-((cells[None, None, :] - target[..., 1:2]) ** 2) / (2 * sig * sig))
    g = (gy[..., :, None] * gx[..., None, :]).reshape(n, k, hw)
    g = g / g.sum(2, keepdim=True).clamp_min(1e-12)
    ce = -(g * logp).sum(2).mean()
    l1 = ((corners - target).abs() * (net.SIZE / 2)).mean()
    return ce + l1, ce, l1


def corner_error(corners, target, meta):
    """Per-image mean corner distance in % of the page diagonal (photo pixels)."""
    wh = meta[:, None, :2] / 2
    d = ((corners - target) * wh).norm(dim=2).mean(1)
    return 100 * d / meta[:, 2]


def validate(model, vx, vc, vm):
    """Corner errors (% of the page diagonal) of the validation samples, in eval mode."""
    model.eval()
    with torch.no_grad():
        return torch.cat([corner_error(model(vx[i:i + 64])[0], vc[i:i + 64], vm[i:i + 64])
                          for i in range(0, len(vx), 64)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=75)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--pool", type=int, default=400)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(RUNS, exist_ok=True)
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    t0 = time.time()
    pp = pool(a.pool, POOL_SEED)
    print(f"pool of {len(pp)} pages in {time.time() - t0:.0f} s", flush=True)
    vrng = np.random.default_rng(VAL_SEED)
    val = [sample(vrng, pp) for _ in range(256)]
    vx = torch.from_numpy(np.stack([v[0] for v in val]))[:, None]
    vc = torch.from_numpy(np.stack([v[1] for v in val]))
    vm = torch.from_numpy(np.stack([v[2] for v in val]))

    model = net.CornerNet()
    if a.resume:
        model.load_state_dict(torch.load(a.resume, map_location="cpu", weights_only=False)["model"])
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    dl = DataLoader(Stream(pp, a.seed), batch_size=a.batch, num_workers=1, prefetch_factor=8,
                    persistent_workers=True)
    log = open(os.path.join(RUNS, "log.jsonl"), "a")
    budget = a.minutes * 60
    start = time.time()
    last_eval = start
    step, seen, run = 0, 0, []
    for x, c, m in dl:
        frac = (time.time() - start) / budget
        if frac >= 1:
            break
        lr = a.lr * min(1.0, frac / 0.03) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        corners, logp = model(x)
        loss, ce, l1 = loss_fn(corners, logp, c)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        seen += len(x)
        run.append((loss.item(), ce.item(), l1.item()))
        if time.time() - last_eval > 300 or step == 50:
            last_eval = time.time()
            errs = validate(model, vx, vc, vm)
            r = np.mean(run, 0)
            run = []
            rec = {"min": round((time.time() - start) / 60, 1), "step": step, "seen": seen,
                   "lr": lr, "loss": float(r[0]), "ce": float(r[1]), "l1_px": float(r[2]),
                   "val_median_pct": errs.median().item(),
                   "val_p95_pct": errs.quantile(0.95).item(),
                   "val_mean_pct": errs.mean().item()}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            torch.save({"model": model.state_dict(), "record": rec}, os.path.join(RUNS, "doc-page.pt"))
    errs = validate(model, vx, vc, vm)
    rec = {"final": True, "min": round((time.time() - start) / 60, 1), "step": step, "seen": seen,
           "val_median_pct": errs.median().item(), "val_p95_pct": errs.quantile(0.95).item(),
           "val_mean_pct": errs.mean().item()}
    print(json.dumps(rec), flush=True)
    log.write(json.dumps(rec) + "\n")
    torch.save({"model": model.state_dict(), "record": rec}, os.path.join(RUNS, "doc-page.pt"))


if __name__ == "__main__":
    main()
