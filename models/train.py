"""Train the two classifiers and the localisation net (run by hand, never by CI).

    python train.py                 # all three stages, in order
    python train.py --stage loc     # one stage: clf-a | clf-b | loc

Uses only the train part of the split (first 80 % of each class file, less its last 10 % which is
the validation part, used only to print progress). Checkpoints and the log go to out/ (git-ignored).
One torch thread; seeded; bit-reproducible on the same machine and library versions.
"""

import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

import common as c

SEEDS = {"clf-a": 1, "clf-b": 2, "loc": 3}
VAL_DISTORT_SEED = 999  # fixed distortions of the validation digits, for the progress print only


def log(msg):
    print(msg, flush=True)
    with open(c.ckpt("train.log"), "a") as f:
        f.write(msg + "\n")


def train_classifier(kind, epochs, batch=64, lr=1e-3):
    torch.manual_seed(SEEDS[kind])
    model = c.ClassifierA() if kind == "clf-a" else c.ClassifierB()
    xtr, ytr, _ = c.load_split("train")
    xva, yva, _ = c.load_split("val")
    xtr, xva = c.normalise(c.to_tensor01(xtr)), c.normalise(c.to_tensor01(xva))
    ytr, yva = torch.from_numpy(ytr), torch.from_numpy(yva)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(xtr) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    log(f"[{kind}] {type(model).__name__} params={c.n_params(model)} train={len(xtr)} val={len(xva)}")
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        tot = 0.0
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        acc = (c.predict(model, xva) == yva).float().mean().item()
        log(f"[{kind}] epoch {ep + 1}/{epochs} loss={tot / len(xtr):.4f} val_clean_acc={acc * 100:.2f}% "
            f"t={time.time() - t0:.0f}s")
    torch.save(model.state_dict(), c.ckpt(f"{kind}.pt"))
    return time.time() - t0


def load_classifier(kind):
    model = c.ClassifierA() if kind == "clf-a" else c.ClassifierB()
    model.load_state_dict(torch.load(c.ckpt(f"{kind}.pt")))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def theta_weight(ep, epochs):
    """Oracle-theta regression weight: strong early, tapering to a small anchor."""
    frac = ep / max(1, epochs - 1)
    return 10.0 if frac < 0.3 else max(0.5, 10.0 * (1.0 - (frac - 0.3) / 0.4))


def train_loc(epochs, batch=64, lr=1e-3, w_img=10.0, w_ce=1.0):
    torch.manual_seed(SEEDS["loc"])
    clf = load_classifier("clf-a")
    loc = c.LocNet()
    xtr, ytr, _ = c.load_split("train")
    xva, yva, _ = c.load_split("val")
    xtr, xva = c.to_tensor01(xtr), c.to_tensor01(xva)
    ytr, yva = torch.from_numpy(ytr), torch.from_numpy(yva)
    gva = torch.Generator().manual_seed(VAL_DISTORT_SEED)
    dva, _, ova = c.distort(xva, gva)
    gtr = torch.Generator().manual_seed(SEEDS["loc"] + 1000)  # fresh distortions every epoch
    opt = torch.optim.Adam(loc.parameters(), lr=lr)
    steps = epochs * math.ceil(len(xtr) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    log(f"[loc] LocNet params={c.n_params(loc)} train={len(xtr)} epochs={epochs} batch={batch} lr={lr} "
        f"w_img={w_img} w_ce={w_ce}")
    with torch.no_grad():
        acc_or = (c.predict(clf, c.normalise(c.rectify(dva, ova))) == yva).float().mean().item()
    log(f"[loc] val oracle-rectified acc (clf-a) = {acc_or * 100:.2f}%")
    t0 = time.time()
    for ep in range(epochs):
        loc.train()
        w_th = theta_weight(ep, epochs)
        perm = torch.randperm(len(xtr))
        sums = torch.zeros(4)
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            clean = xtr[idx]
            dist, _, oracle = c.distort(clean, gtr)
            theta = loc(c.normalise(dist))
            out = c.rectify(dist, theta)
            l_ce = F.cross_entropy(clf(c.normalise(out)), ytr[idx])
            l_img = F.mse_loss(out, clean)
            l_th = F.mse_loss(theta, oracle)
            loss = w_ce * l_ce + w_img * l_img + w_th * l_th
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            sums += torch.tensor([loss.item(), l_ce.item(), l_img.item(), l_th.item()]) * len(idx)
        loc.eval()
        with torch.no_grad():
            th = loc(c.normalise(dva))
            acc = (c.predict(clf, c.normalise(c.rectify(dva, th))) == yva).float().mean().item()
            th_err = (th - ova).abs().mean().item()
        m = sums / len(xtr)
        log(f"[loc] epoch {ep + 1}/{epochs} w_th={w_th:.2f} loss={m[0]:.4f} ce={m[1]:.4f} img={m[2]:.4f} "
            f"theta_mse={m[3]:.5f} | val rectified acc={acc * 100:.2f}% theta_mae={th_err:.4f} "
            f"t={time.time() - t0:.0f}s")
        torch.save(loc.state_dict(), c.ckpt("loc.pt"))  # the last epoch is the model: no selection
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", choices=["all", "clf-a", "clf-b", "loc"], default="all")
    ap.add_argument("--clf-epochs", type=int, default=12)
    ap.add_argument("--loc-epochs", type=int, default=40)
    args = ap.parse_args()
    c.setup_torch(1)
    os.makedirs(c.OUT_DIR, exist_ok=True)
    t0 = time.time()
    if args.stage in ("all", "clf-a"):
        train_classifier("clf-a", args.clf_epochs)
    if args.stage in ("all", "clf-b"):
        train_classifier("clf-b", args.clf_epochs)
    if args.stage in ("all", "loc"):
        train_loc(args.loc_epochs)
    log(f"[{args.stage}] wall {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
