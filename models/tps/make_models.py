"""Build the reference models of issue 10 (TPS, projective, attention, multi-part
STNs) and their PyTorch fixtures.

Run by hand (never by CI), from anywhere, with a Python that has torch, numpy,
onnx, onnxruntime, opencv-python(-headless) and Pillow (+ the DejaVu fonts):

    python3 models/tps/make_models.py

For every model NAME it writes, under tests/fixtures/models/NAME/:
    NAME.onnx          the localisation net only (opset 17, one float32 input
                       [N,C,H,W] with dynamic N, stn.* metadata_props)
    in/*.png           the inputs (full resolution, 8-bit)
    expected/*.png     PyTorch's rectified outputs (u8, rint half-to-even +
                       clip); multi-part models: expected/STEM.0.png ... STEM.{M-1}.png
and tests/fixtures/models/cases.json: per model its files, metadata and the
exact onnxruntime predictions per input (so the prediction can be tested
apart from the warp).  Weights are random (seeded), calibrated so that the
predicted points / matrices vary visibly per input; see models/tps/README.md.

Everything is deterministic: fixed seeds, one torch thread, inputs rendered
with Pillow + DejaVu fonts.
"""

import json
import math
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import cv2
    from PIL import Image, ImageDraw, ImageFont
except ImportError as e:  # pragma: no cover
    sys.exit(f"make_models.py needs opencv-python(-headless) and Pillow: {e}")

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(REPO, "tests", "fixtures", "models")
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONTS = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf",
         "DejaVuSerif-Bold.ttf", "DejaVuSansCondensed.ttf"]
SEED = 20261201
OPSET = 17

# ==========================================================================
# Input images
# ==========================================================================


def font(name, size):
    return ImageFont.truetype(os.path.join(FONT_DIR, name), size)


def text_mask(word, w, h, fontname, rng, angle_deg=0.0, curve=0.0, fill=0.72, ss=4):
    """Anti-aliased text coverage in [0,1], h x w: the word centred, scaled to
    about `fill` of the height (and within the width), rotated by angle_deg and
    bent by a vertical sine of amplitude `curve` (fraction of h)."""
    W, H = w * ss, h * ss
    size = int(H * fill)
    f = font(fontname, size)
    while True:
        l, t, r, b = f.getbbox(word)
        if r - l <= 0.9 * W or size < 8:
            break
        size = int(size * 0.92)
        f = font(fontname, size)
    img = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(img)
    l, t, r, b = f.getbbox(word)
    d.text(((W - (r - l)) / 2 - l, (H - (b - t)) / 2 - t), word, fill=255, font=f)
    if angle_deg:
        img = img.rotate(angle_deg, resample=Image.BICUBIC, center=(W / 2, H / 2))
    m = np.asarray(img, dtype=np.float32) / 255.0
    if curve:
        xs = np.arange(W, dtype=np.float32)
        ph = rng.uniform(0, 2 * math.pi)
        shift = curve * H * np.sin(math.pi * xs / W * rng.uniform(0.8, 1.4) + ph)
        mapx = np.tile(xs[None], (H, 1))
        mapy = np.arange(H, dtype=np.float32)[:, None] - shift[None, :]
        m = cv2.remap(m, mapx, mapy.astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64)


def compose_grey(mask, rng, bg=(200, 240), fg=(10, 60), noise=6.0):
    h, w = mask.shape
    ys, xs = np.mgrid[0:h, 0:w] / np.array([max(h - 1, 1), max(w - 1, 1)])[:, None, None]
    b0, b1 = rng.uniform(*bg, 2)
    back = b0 + (b1 - b0) * (0.6 * xs + 0.4 * ys)
    fgv = rng.uniform(*fg)
    img = back * (1 - mask) + fgv * mask + noise * rng.standard_normal((h, w))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def compose_rgb(mask, rng, noise=5.0):
    h, w = mask.shape
    ys, xs = np.mgrid[0:h, 0:w] / np.array([max(h - 1, 1), max(w - 1, 1)])[:, None, None]
    c0, c1 = rng.uniform(60, 255, 3), rng.uniform(60, 255, 3)
    back = c0[None, None] + (c1 - c0)[None, None] * (0.7 * xs + 0.3 * ys)[..., None]
    fgc = rng.uniform(0, 255, 3)
    while np.abs(fgc - back.mean((0, 1))).sum() < 200:
        fgc = rng.uniform(0, 255, 3)
    img = back * (1 - mask[..., None]) + fgc[None, None] * mask[..., None]
    img = img + noise * rng.standard_normal(img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


WORDS = ["STREET", "Coffee", "hotel", "EXIT", "Parking", "garden", "MARKET", "station", "Bakery",
         "library", "OPEN", "museum", "Theatre", "bridge", "PHARMACY", "north", "Cinema", "harbour",
         "Pizza", "TAXI", "studio", "Avenue", "bank", "SALE", "office", "Kiosk", "river", "police",
         "Books", "school", "Garage", "tower"]


def clovaai_image(rng, w=100, h=32, word=None):
    word = word or WORDS[rng.integers(len(WORDS))]
    m = text_mask(word, w, h, FONTS[rng.integers(len(FONTS))], rng,
                  angle_deg=rng.uniform(-6, 6), curve=rng.uniform(0.0, 0.08), fill=rng.uniform(0.55, 0.8))
    return compose_grey(m, rng) if rng.random() < 0.7 else 255 - compose_grey(m, rng)


def aster_image(rng, w=128, h=64, word=None):
    word = word or WORDS[rng.integers(len(WORDS))]
    m = text_mask(word, w, h, FONTS[rng.integers(len(FONTS))], rng,
                  angle_deg=rng.uniform(-10, 10), curve=rng.uniform(0.05, 0.15), fill=rng.uniform(0.45, 0.65))
    return compose_rgb(m, rng)


def document_image(rng, size=96):
    """A white page with text lines, seen in perspective, on a dark cluttered background."""
    S = size * 2
    page = np.full((S, S), 235.0)
    pil = Image.fromarray(page.astype(np.uint8), "L")
    d = ImageDraw.Draw(pil)
    f = font(FONTS[rng.integers(len(FONTS))], int(S * 0.09))
    y = S * 0.08
    while y < S * 0.85:
        words = " ".join(WORDS[k] for k in rng.integers(len(WORDS), size=3))
        d.text((S * 0.07, y), words, fill=int(rng.uniform(10, 60)), font=f)
        y += S * rng.uniform(0.12, 0.16)
    d.rectangle([2, 2, S - 3, S - 3], outline=40, width=3)
    page = np.asarray(pil, dtype=np.float32)
    jit = rng.uniform(0.02, 0.22, (4, 2)) * S
    quad = np.array([[jit[0, 0], jit[0, 1]], [S - jit[1, 0], jit[1, 1]],
                     [S - jit[2, 0], S - jit[2, 1]], [jit[3, 0], S - jit[3, 1]]], dtype=np.float32)
    src = np.array([[0, 0], [S - 1, 0], [S - 1, S - 1], [0, S - 1]], dtype=np.float32)
    M = cv2.getPerspectiveTransform(src, quad)
    warped = cv2.warpPerspective(page, M, (S, S), flags=cv2.INTER_LINEAR, borderValue=-1)
    ys, xs = np.mgrid[0:S, 0:S] / S
    back = 40 + 30 * np.sin(7 * xs + rng.uniform(0, 6)) * np.cos(5 * ys) + 8 * rng.standard_normal((S, S))
    img = np.where(warped < 0, back, warped)
    img = cv2.resize(img.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    img = img + 3 * rng.standard_normal(img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def glyph_image(rng, chars, size=32):
    """White glyph(s) on black (MNIST-like), each at a random position/scale/rotation."""
    acc = np.zeros((size, size))
    n = len(chars)
    for i, ch in enumerate(chars):
        cw = size // n
        m = text_mask(ch, cw, size, FONTS[rng.integers(len(FONTS))], rng,
                      angle_deg=rng.uniform(-25, 25), fill=rng.uniform(0.45, 0.75))
        dx = int(rng.integers(-3, 4)) + i * cw
        dy = int(rng.integers(-5, 6))
        M = np.float32([[1, 0, dx], [0, 1, dy]])
        acc = np.maximum(acc, cv2.warpAffine(m.astype(np.float32), M, (size, size)))
    img = 255 * acc + 6 * np.abs(rng.standard_normal(acc.shape))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ==========================================================================
# Preprocessing (what stn does before the net) and warps (what PyTorch does after)
# ==========================================================================


def preprocess(u8, in_w, in_h, channels, mean, std):
    """u8 H x W (x C) -> float32 [1, C, in_h, in_w]: exact k x k block mean of the
    u8 values when shrinking by an integer factor, / 255, then (x - mean) / std."""
    a = u8.astype(np.float64)
    if a.ndim == 2:
        a = a[..., None]
    assert a.shape[2] == channels, "inputs already have the model's channel count"
    h, w, c = a.shape
    if (w, h) != (in_w, in_h):
        kx, ky = w // in_w, h // in_h
        assert kx * in_w == w and ky * in_h == h and kx == ky, "integer shrink factors only"
        a = a.reshape(in_h, ky, in_w, kx, c).mean(axis=(1, 3))
    x = (a / 255.0 - np.asarray(mean, dtype=np.float64)) / np.asarray(std, dtype=np.float64)
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def grid_sample_u8(u8, grid, padding, ac, mask=None):
    """grid_sample (bilinear) of the full-resolution u8 image (as float64) on a
    float64 grid [Ho, Wo, 2]; rint half-to-even + clip to u8; pixels where mask
    is False are 0."""
    a = u8.astype(np.float64)
    if a.ndim == 2:
        a = a[..., None]
    x = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)[None]))
    g = torch.from_numpy(np.ascontiguousarray(np.asarray(grid, dtype=np.float64)[None]))
    out = F.grid_sample(x, g, mode="bilinear", padding_mode=padding, align_corners=ac)[0].numpy()
    out = out.transpose(1, 2, 0)
    if mask is not None:
        out[~mask] = 0.0
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out[..., 0] if out.shape[2] == 1 else out


def affine_base_grid(wo, ho, ac):
    th = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=torch.float64)
    return F.affine_grid(th, [1, 1, ho, wo], align_corners=ac)[0].numpy()


def affine_grid64(theta, wo, ho, ac):
    th = torch.tensor(np.asarray(theta, dtype=np.float64).reshape(1, 2, 3))
    return F.affine_grid(th, [1, 1, ho, wo], align_corners=ac)[0].numpy()


# --- clovaai (RARE) TPS grid, float64 (clovaai itself uses float32 buffers) ---


def rare_points(k):
    xs = np.linspace(-1.0, 1.0, k // 2)
    return np.concatenate([np.stack([xs, -np.ones(k // 2)], 1), np.stack([xs, np.ones(k // 2)], 1)])


def clovaai_grid(c_prime, wo, ho, eps=1e-6):
    """clovaai GridGenerator.build_P_prime: T = inv(delta_C) [C'; 0], P' = P_hat T,
    with P on pixel centres and rbf = r^2 log(r + eps) at the grid points (U = r^2 ln r,
    U(0) = 0, inside delta_C)."""
    C = rare_points(len(c_prime))
    k = len(C)
    r = np.sqrt(((C[:, None] - C[None]) ** 2).sum(-1))
    np.fill_diagonal(r, 1.0)
    hat_C = r ** 2 * np.log(r)
    delta_C = np.zeros((k + 3, k + 3))
    delta_C[:k, 0] = 1.0
    delta_C[:k, 1:3] = C
    delta_C[:k, 3:] = hat_C
    delta_C[k:k + 2, 3:] = C.T
    delta_C[k + 2, 3:] = 1.0
    inv_delta_C = np.linalg.inv(delta_C)
    px = (np.arange(-wo, wo, 2) + 1.0) / wo
    py = (np.arange(-ho, ho, 2) + 1.0) / ho
    P = np.stack(np.meshgrid(px, py), axis=2).reshape(-1, 2)
    rn = np.sqrt(((P[:, None] - C[None]) ** 2).sum(-1))
    P_hat = np.concatenate([np.ones((len(P), 1)), P, rn ** 2 * np.log(rn + eps)], axis=1)
    T = inv_delta_C @ np.concatenate([np.asarray(c_prime, dtype=np.float64), np.zeros((3, 2))])
    return (P_hat @ T).reshape(ho, wo, 2)


# --- ASTER TPS grid, float64 ---


def aster_points(k, margin=0.05):
    xs = np.linspace(margin, 1.0 - margin, k // 2)
    return np.concatenate([np.stack([xs, np.full(k // 2, margin)], 1),
                           np.stack([xs, np.full(k // 2, 1.0 - margin)], 1)])


def aster_repr(p, c):
    d2 = ((p[:, None] - c[None]) ** 2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = 0.5 * d2 * np.log(d2)
    u[np.isnan(u)] = 0.0
    return u


def aster_grid(src, wo, ho, clamp=True):
    """ASTER TPSSpatialTransformer: [0,1] points, output grid X/(W-1), Y/(H-1),
    clamp to [0,1] (if clamp), then 2g - 1 (normalised, for align_corners=True)."""
    C = aster_points(len(src))
    k = len(C)
    K = np.zeros((k + 3, k + 3))
    K[:k, :k] = aster_repr(C, C)
    K[:k, k] = 1.0
    K[k, :k] = 1.0
    K[:k, k + 1:] = C
    K[k + 1:, :k] = C.T
    inv = np.linalg.inv(K)
    Y, X = np.mgrid[0:ho, 0:wo].astype(np.float64)
    P = np.stack([X.reshape(-1) / (wo - 1), Y.reshape(-1) / (ho - 1)], 1)
    rep = np.concatenate([aster_repr(P, C), np.ones((len(P), 1)), P], 1)
    mapping = inv @ np.concatenate([np.asarray(src, dtype=np.float64), np.zeros((3, 2))])
    g = (rep @ mapping).reshape(ho, wo, 2)
    if clamp:
        g = np.clip(g, 0.0, 1.0)
    return 2.0 * g - 1.0


def projective_grid(h8, wo, ho, ac=False):
    H = np.append(np.asarray(h8, dtype=np.float64), 1.0).reshape(3, 3)
    p = affine_base_grid(wo, ho, ac)
    x, y = p[..., 0], p[..., 1]
    X = H[0, 0] * x + H[0, 1] * y + H[0, 2]
    Yv = H[1, 0] * x + H[1, 1] * y + H[1, 2]
    Z = H[2, 0] * x + H[2, 1] * y + H[2, 2]
    vis = Z > 0
    Zs = np.where(vis, Z, 1.0)
    return np.stack([np.where(vis, X / Zs, 0.0), np.where(vis, Yv / Zs, 0.0)], -1), vis, Z


# ==========================================================================
# Networks
# ==========================================================================


class ClovaaiLocalization(nn.Module):
    """clovaai deep-text-recognition-benchmark LocalizationNetwork structure:
    4 x (conv3x3 no-bias, BN, ReLU) with 2x2 max-pools after the first three,
    AdaptiveAvgPool2d(1), fc1 + ReLU, fc2 -> [N, F, 2].  Channel widths halved
    (64-128-256-512 -> 32-64-128-256, fc1 256 -> 256) to keep the file < 2 MB."""

    def __init__(self, f=20, cin=1, widths=(32, 64, 128, 256), fc1=256):
        super().__init__()
        self.f = f
        layers = []
        c = cin
        for i, wd in enumerate(widths):
            layers += [nn.Conv2d(c, wd, 3, 1, 1, bias=False), nn.BatchNorm2d(wd), nn.ReLU(True)]
            layers.append(nn.MaxPool2d(2, 2) if i < len(widths) - 1 else nn.AdaptiveAvgPool2d(1))
            c = wd
        self.conv = nn.Sequential(*layers)
        self.localization_fc1 = nn.Sequential(nn.Linear(c, fc1), nn.ReLU(True))
        self.localization_fc2 = nn.Linear(fc1, f * 2)

    def features(self, x):
        return self.localization_fc1(self.conv(x).view(x.size(0), -1))

    def head(self):
        return self.localization_fc2

    def forward(self, x):
        return self.localization_fc2(self.features(x)).view(x.size(0), self.f, 2)


def conv3x3_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU(True))


class AsterSTNHead(nn.Module):
    """ASTER STNHead structure: 6 conv3x3 blocks (conv, BN, ReLU) with 2x2
    max-pools between them (32x64 -> 1x2), flatten, fc1 (Linear, BN1d, ReLU),
    fc2 on 0.1 * features, no activation -> [N, K, 2] in [0,1] coordinates.
    Widths reduced (32-64-128-256-256-256, fc1 512 -> 16-32-64-96-96-96, fc1 192)."""

    def __init__(self, k=20, cin=3, widths=(16, 32, 64, 96, 96, 96), fc1=192):
        super().__init__()
        self.k = k
        layers = []
        c = cin
        for i, wd in enumerate(widths):
            layers.append(conv3x3_block(c, wd))
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2, 2))
            c = wd
        self.stn_convnet = nn.Sequential(*layers)
        self.stn_fc1 = nn.Sequential(nn.Linear(2 * c, fc1), nn.BatchNorm1d(fc1), nn.ReLU(True))
        self.stn_fc2 = nn.Linear(fc1, k * 2)

    def features(self, x):
        x = self.stn_convnet(x)
        return 0.1 * self.stn_fc1(x.reshape(x.size(0), -1))

    def head(self):
        return self.stn_fc2

    def forward(self, x):
        return self.stn_fc2(self.features(x)).view(-1, self.k, 2)


class TinyNet(nn.Module):
    """A small localisation CNN: conv5x5-BN-ReLU-pool, conv5x5-BN-ReLU-pool,
    conv3x3-ReLU, global average + flatten, FC-ReLU, FC -> out_shape."""

    def __init__(self, out_shape, cin=1, widths=(8, 16, 32), fc=32):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.body = nn.Sequential(
            nn.Conv2d(cin, widths[0], 5, 1, 2), nn.BatchNorm2d(widths[0]), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(widths[0], widths[1], 5, 1, 2), nn.BatchNorm2d(widths[1]), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(widths[1], widths[2], 3, 1, 1), nn.ReLU(True), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(widths[2] * 4, fc), nn.ReLU(True))
        self.fc = nn.Linear(fc, int(np.prod(self.out_shape)))

    def features(self, x):
        return self.body(x)

    def head(self):
        return self.fc

    def forward(self, x):
        return self.fc(self.features(x)).view(x.size(0), *self.out_shape)


def calibrate(net, calib, layout, sigma, gen):
    """BatchNorm running statistics from `calib` (cumulative average over the
    batch, train mode), then the final layer: weights ~ N(0,1) rescaled per
    output so that the prediction's std over `calib` is `sigma`, bias such that
    its mean over `calib` is `layout`."""
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    with torch.no_grad():
        net(calib)
    net.eval()
    head = net.head()
    with torch.no_grad():
        f = net.features(calib)
        w0 = torch.randn(head.weight.shape, generator=gen)
        d = f @ w0.T
        s = d.std(0).clamp_min(1e-12)
        sig = torch.as_tensor(np.broadcast_to(np.asarray(sigma, dtype=np.float32), s.shape).copy())
        w = w0 * (sig / s)[:, None]
        head.weight.copy_(w)
        lay = torch.as_tensor(np.asarray(layout, dtype=np.float32).reshape(-1))
        head.bias.copy_(lay - (f @ w.T).mean(0))
        out = net(calib)
    assert torch.isfinite(out).all()
    return net


# ==========================================================================
# Export and checks
# ==========================================================================


def export(net, name, in_shape, out_name, metadata):
    d = os.path.join(FIX, name)
    path = os.path.join(d, f"{name}.onnx")
    dummy = torch.zeros(2, *in_shape)
    torch.onnx.export(net, dummy, path, opset_version=OPSET, dynamo=False,
                      input_names=["input"], output_names=[out_name],
                      dynamic_axes={"input": {0: "N"}, out_name: {0: "N"}})
    model = onnx.load(path)
    onnx.helper.set_model_props(model, metadata)
    model.producer_name = "stn models/tps/make_models.py"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    size = os.path.getsize(path)
    assert size < 2_100_000, f"{name}.onnx is {size} bytes"
    return path


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def save_png(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "L" if arr.ndim == 2 else "RGB"
    Image.fromarray(arr, mode).save(path)
    back = np.asarray(Image.open(path))
    assert back.dtype == np.uint8 and np.array_equal(back, arr), path


def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def build(name, net, images, meta, in_w, in_h, cin, mean, std, out_name, warp, calib_images, layout,
          sigma, gen, parts=None):
    """Calibrate, export, check, write the fixtures; returns the cases.json entry."""
    d = os.path.join(FIX, name)
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    os.makedirs(os.path.join(d, "expected"), exist_ok=True)
    calib = torch.from_numpy(np.concatenate([preprocess(im, in_w, in_h, cin, mean, std)
                                             for im in calib_images]))
    calibrate(net, calib, layout, sigma, gen)
    path = export(net, name, (cin, in_h, in_w), out_name, meta)
    sess = session(path)
    assert sess.get_modelmeta().custom_metadata_map == meta

    # torch vs onnxruntime on the calibration set, several batch sizes
    with torch.no_grad():
        ref = net(calib).numpy()
    worst = 0.0
    for n in (1, 3, len(calib)):
        got = sess.run([out_name], {"input": calib[:n].numpy()})[0]
        assert got.shape == ref[:n].shape, (got.shape, ref.shape)
        worst = max(worst, float(np.abs(got - ref[:n]).max()))
    assert worst <= 1e-5, f"{name}: onnxruntime vs torch {worst}"

    cases, xs = [], []
    warp_diff = 0
    for stem, im in images:
        rel_in = f"in/{stem}.png"
        save_png(os.path.join(d, rel_in), im)
        back = np.asarray(Image.open(os.path.join(d, rel_in)))
        x = preprocess(back, in_w, in_h, cin, mean, std)
        xs.append(x)
        with torch.no_grad():
            pt = net(torch.from_numpy(x)).numpy()[0]
        po = sess.run([out_name], {"input": x})[0][0]
        assert np.abs(pt - po).max() <= 1e-5
        assert np.all(np.isfinite(po))
        outs = warp(back, pt.astype(np.float64))
        outs_ort = warp(back, po.astype(np.float64))
        outs = outs if isinstance(outs, list) else [outs]
        outs_ort = outs_ort if isinstance(outs_ort, list) else [outs_ort]
        rels = []
        for m, (o, oo) in enumerate(zip(outs, outs_ort)):
            warp_diff = max(warp_diff, int(np.abs(o.astype(int) - oo.astype(int)).max()))
            rel = f"expected/{stem}.png" if parts is None else f"expected/{stem}.{m}.png"
            save_png(os.path.join(d, rel), o)
            rels.append(rel)
        cases.append({"input": rel_in, "width": int(back.shape[1]), "height": int(back.shape[0]),
                      "expected": rels, "prediction": f32list(po),
                      "prediction_torch": f32list(pt)})
    assert warp_diff <= 1, f"{name}: torch- vs onnxruntime-predicted warps differ by {warp_diff}"
    batched = sess.run([out_name], {"input": np.concatenate(xs)})[0]
    bdiff = float(np.abs(batched.reshape(len(cases), -1)
                         - np.array([c["prediction"] for c in cases], dtype=np.float32)).max())
    assert bdiff <= 1e-5
    out_shape = [d_ if isinstance(d_, int) else "N" for d_ in sess.get_outputs()[0].shape]
    print(f"{name}: {os.path.getsize(path)} bytes, output {out_name} {out_shape}, "
          f"ort vs torch max |diff| {worst:.2g}, batch vs single {bdiff:.2g}, "
          f"u8 warp torch- vs ort-predicted max diff {warp_diff}")
    return {
        "onnx": f"{name}/{name}.onnx",
        "input": {"name": "input", "shape": ["N", cin, in_h, in_w]},
        "output": {"name": out_name, "shape": out_shape},
        "metadata": meta,
        "cases": cases,
        "batch": {"inputs": [c["input"] for c in cases], "prediction": [f32list(b) for b in batched],
                  "max_abs_diff_vs_single": bdiff},
    }


# ==========================================================================
# Main
# ==========================================================================


def main():
    rng = np.random.default_rng(SEED)
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    os.makedirs(FIX, exist_ok=True)
    models = {}

    # ---------------------------------------------------------------- clovaai
    meta = {
        "stn.transform": "tps",
        "stn.tps.target": "rare:20",
        "stn.tps.eps": "1e-6",
        "stn.grid": "centres",
        "stn.align_corners": "true",
        "stn.padding": "border",
        "stn.input_size": "100x32",
        "stn.output_size": "100x32",
        "stn.channels": "1",
        "stn.mean": "0.5",
        "stn.std": "0.5",
        "stn.description": "clovaai TPS_SpatialTransformerNetwork localisation net (random weights): "
                           "20 RARE fiducial points for 100x32 grey text crops",
    }
    net = ClovaaiLocalization()
    calib_imgs = [clovaai_image(rng) for _ in range(48)]
    images = [("word0", clovaai_image(rng, word="Coffee")),
              ("word1", clovaai_image(rng, word="STATION")),
              ("word2", clovaai_image(rng, word="harbour")),
              ("big200x64", clovaai_image(rng, w=200, h=64, word="Market"))]
    calib_imgs += [im for _, im in images[:3]]
    calib_imgs.append(images[3][1].reshape(32, 2, 100, 2).mean((1, 3)).round().astype(np.uint8))
    models["clovaai"] = build(
        "clovaai", net, images, meta, 100, 32, 1, 0.5, 0.5, "fiducials",
        lambda im, p: grid_sample_u8(im, clovaai_grid(p.reshape(20, 2), 100, 32), "border", True),
        calib_imgs, rare_points(20), 0.08, gen)

    # ---------------------------------------------------------------- aster
    meta = {
        "stn.transform": "tps",
        "stn.tps.target": "aster:20",
        "stn.tps.range": "0,1",
        "stn.grid": "corners",
        "stn.align_corners": "true",
        "stn.padding": "border",
        "stn.input_size": "64x32",
        "stn.output_size": "100x32",
        "stn.channels": "3",
        "stn.mean": "0",
        "stn.std": "1",
        "stn.description": "ASTER-style TPS STN head (random weights): 20 control points in [0,1] "
                           "(margins 0.05) for 128x64 RGB text crops, rectified to 100x32",
    }
    net = AsterSTNHead()
    calib_imgs = [aster_image(rng) for _ in range(48)]
    images = [(f"crop{i}", aster_image(rng, word=w)) for i, w in enumerate(["Bakery", "TAXI", "garden", "Theatre"])]
    calib_imgs += [im for _, im in images]

    def aster_warp(im, p):
        src = p.reshape(20, 2)
        out = grid_sample_u8(im, aster_grid(src, 100, 32, clamp=True), "zeros", True)
        # ASTER's clamp(grid, 0, 1) + zero padding with align_corners=True is
        # border padding without the clamp: check, on the unrounded values
        a = torch.from_numpy(np.ascontiguousarray(im.astype(np.float64).transpose(2, 0, 1)[None]))
        g1 = torch.from_numpy(aster_grid(src, 100, 32, clamp=True)[None])
        g2 = torch.from_numpy(aster_grid(src, 100, 32, clamp=False)[None])
        v1 = F.grid_sample(a, g1, padding_mode="zeros", align_corners=True)
        v2 = F.grid_sample(a, g2, padding_mode="border", align_corners=True)
        assert float((v1 - v2).abs().max()) < 1e-9
        return out

    # ASTER's init_stn: fc2 bias at the [0,1] layout with margin 0.01
    models["aster"] = build("aster", net, images, meta, 64, 32, 3, 0.0, 1.0, "control_points", aster_warp,
                            calib_imgs, aster_points(20, margin=0.01), 0.03, gen)

    # ---------------------------------------------------------------- projective
    meta = {
        "stn.transform": "projective",
        "stn.input_size": "48x48",
        "stn.output_size": "48x48",
        "stn.channels": "1",
        "stn.mean": "0",
        "stn.std": "1",
        "stn.align_corners": "false",
        "stn.padding": "zeros",
        "stn.description": "Projective STN localisation net (random weights): 8 homography entries "
                           "h11..h32 (h33 = 1), normalised output -> input, for 96x96 grey documents",
    }
    net = TinyNet((8,))
    calib_imgs = [document_image(rng) for _ in range(48)]
    images = [(f"doc{i}", document_image(rng)) for i in range(4)]
    calib_imgs += [im for _, im in images]

    def proj_warp(im, p):
        grid, vis, Z = projective_grid(p, 48, 48)
        assert np.abs(Z).min() > 0.05
        return grid_sample_u8(im, grid, "zeros", False, mask=vis)

    models["projective"] = build("projective", net, images, meta, 48, 48, 1, 0.0, 1.0, "homography",
                                 proj_warp, calib_imgs, [1, 0, 0, 0, 1, 0, 0, 0],
                                 [0.06, 0.06, 0.08, 0.06, 0.06, 0.08, 0.25, 0.25], gen)

    # ---------------------------------------------------------------- attention
    meta = {
        "stn.transform": "attention",
        "stn.input_size": "32x32",
        "stn.output_size": "24x24",
        "stn.channels": "1",
        "stn.mean": "0",
        "stn.std": "1",
        "stn.align_corners": "false",
        "stn.description": "Attention STN localisation net (random weights): [s, tx, ty] = theta "
                           "[s, 0, tx, 0, s, ty] for 32x32 grey glyphs, 24x24 crops",
    }
    net = TinyNet((3,))
    calib_imgs = [glyph_image(rng, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.integers(32)]) for _ in range(48)]
    images = [(f"glyph{i}", glyph_image(rng, ch)) for i, ch in enumerate("R7kQ")]
    calib_imgs += [im for _, im in images]

    def att_warp(im, p):
        s, tx, ty = p
        return grid_sample_u8(im, affine_grid64([s, 0, tx, 0, s, ty], 24, 24, False), "zeros", False)

    models["attention"] = build("attention", net, images, meta, 32, 32, 1, 0.0, 1.0, "attention", att_warp,
                                calib_imgs, [0.65, 0.0, 0.0], [0.08, 0.15, 0.15], gen)

    # ---------------------------------------------------------------- parts2
    meta = {
        "stn.transform": "affine",
        "stn.parts": "2",
        "stn.input_size": "32x32",
        "stn.output_size": "16x16",
        "stn.channels": "1",
        "stn.mean": "0",
        "stn.std": "1",
        "stn.align_corners": "false",
        "stn.description": "Two-part affine STN localisation net (random weights): two thetas per "
                           "32x32 grey image (left and right glyph), 16x16 crops",
    }
    net = TinyNet((2, 2, 3))
    alph = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    calib_imgs = [glyph_image(rng, alph[rng.integers(32)] + alph[rng.integers(32)]) for _ in range(48)]
    images = [(f"pair{i}", glyph_image(rng, pr)) for i, pr in enumerate(["A4", "x9", "GK", "3b"])]
    calib_imgs += [im for _, im in images]

    def parts_warp(im, p):
        th = p.reshape(2, 6)
        return [grid_sample_u8(im, affine_grid64(t, 16, 16, False), "zeros", False) for t in th]

    models["parts2"] = build("parts2", net, images, meta, 32, 32, 1, 0.0, 1.0, "thetas", parts_warp,
                             calib_imgs, [[0.5, 0, -0.5, 0, 0.6, 0], [0.5, 0, 0.5, 0, 0.6, 0]],
                             [0.05, 0.05, 0.1, 0.05, 0.05, 0.1] * 2, gen, parts=2)

    doc = {
        "generator": f"models/tps/make_models.py (seed {SEED}), torch {torch.__version__}, "
                     f"onnx {onnx.__version__}, onnxruntime {ort.__version__} (1 intra-op thread, CPU), "
                     f"numpy {np.__version__}, opencv {cv2.__version__}",
        "paths": "relative to tests/fixtures/models/; cases' input/expected relative to the model's folder",
        "preprocessing": "png bytes; exact k x k block mean when the image is k times the input size "
                         "(integer k), / 255, (x - mean) / std, NCHW float32",
        "prediction": "onnxruntime output for that one image, flattened row-major (float32 values); "
                      "prediction_torch: PyTorch's, from which the expected images were warped",
        "models": models,
    }
    with open(os.path.join(FIX, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(os.path.join(FIX, 'cases.json'), REPO)}")


if __name__ == "__main__":
    main()
