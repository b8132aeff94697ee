"""The doc-page localisation net: a small encoder-decoder that predicts one heat map per page
corner at 1/4 of the input resolution, soft-argmax turns each map into a corner position, and the
four corners become the homography stn applies.

Input  `image`      float32 [N,1,S,S]  grey thumbnail of the whole photo (aspect not kept),
                                       (luma01 - MEAN) / STD, S = SIZE.
Output `homography` float32 [N,3,3]    output normalised coords -> input normalised coords
                                       (stn's projective contract, align_corners=False).

Corner order: top-left, top-right, bottom-right, bottom-left of the page, as (x, y) in the photo's
normalised coordinates ([-1,1], pixel edges at +-1, i.e. align_corners=False). The rule that makes the
homography: H maps the output's corners (-1,-1), (1,-1), (1,1), (-1,1) (the outer edges of the output
image) to those four points; it is the closed-form square-to-quad map (Heckbert 1989), composed with
(X,Y) -> ((X+1)/2, (Y+1)/2).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZE = 256           # thumbnail side
STRIDE = 4           # heat map cell = STRIDE x STRIDE input pixels
MEAN, STD = 0.5, 0.25


def block(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CornerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.s1 = nn.Sequential(block(1, 16, 2), block(16, 16))            # 128
        self.s2 = nn.Sequential(block(16, 32, 2), block(32, 32))           # 64
        self.s3 = nn.Sequential(block(32, 64, 2), block(64, 64))           # 32
        self.s4 = nn.Sequential(block(64, 96, 2), block(96, 96))           # 16
        self.s5 = nn.Sequential(block(96, 128, 2), block(128, 128), block(128, 128))  # 8
        self.l5 = nn.Conv2d(128, 64, 1)
        self.l4 = nn.Conv2d(96, 64, 1)
        self.u4 = block(64, 64)
        self.l3 = nn.Conv2d(64, 64, 1)
        self.u3 = block(64, 48)
        self.l2 = nn.Conv2d(32, 48, 1)
        self.u2 = nn.Sequential(block(48, 32), block(32, 32))
        self.head = nn.Conv2d(32, 4, 1)

    def heatmaps(self, x):
        x2 = self.s2(self.s1(x))
        x3 = self.s3(x2)
        x4 = self.s4(x3)
        x5 = self.s5(x4)
        y = F.interpolate(self.l5(x5), scale_factor=2.0, mode="nearest") + self.l4(x4)
        y = self.u4(y)
        y = F.interpolate(y, scale_factor=2.0, mode="nearest") + self.l3(x3)
        y = self.u3(y)
        y = F.interpolate(y, scale_factor=2.0, mode="nearest") + self.l2(x2)
        return self.head(self.u2(y))          # [N,4,S/4,S/4] logits

    def forward(self, x):
        """Corners [N,4,2] (x, y normalised) and log-probabilities [N,4,h*w]."""
        logits = self.heatmaps(x)
        n, k, h, w = logits.shape
        logp = F.log_softmax(logits.reshape(n, k, h * w), dim=2)
        p = logp.exp().reshape(n, k, h, w)
        xs = (torch.arange(w, dtype=x.dtype) * 2 + 1) / w - 1
        ys = (torch.arange(h, dtype=x.dtype) * 2 + 1) / h - 1
        cx = (p.sum(2) * xs).sum(2)
        cy = (p.sum(3) * ys).sum(2)
        return torch.stack([cx, cy], 2), logp


def corners_to_homography(c):
    """[N,4,2] corners (TL, TR, BR, BL) -> [N,3,3] H with H(-1,-1)=TL, H(1,-1)=TR, H(1,1)=BR,
    H(-1,1)=BL (closed form; elementwise ops only, so it exports to any opset)."""
    x0, y0 = c[:, 0, 0], c[:, 0, 1]
    x1, y1 = c[:, 1, 0], c[:, 1, 1]
    x2, y2 = c[:, 2, 0], c[:, 2, 1]
    x3, y3 = c[:, 3, 0], c[:, 3, 1]
    sx, sy = x0 - x1 + x2 - x3, y0 - y1 + y2 - y3
    dx1, dx2, dy1, dy2 = x1 - x2, x3 - x2, y1 - y2, y3 - y2
    den = dx1 * dy2 - dx2 * dy1
    g = (sx * dy2 - dx2 * sy) / den
    h = (dx1 * sy - sx * dy1) / den
    a, b = x1 - x0 + g * x1, x3 - x0 + h * x3
    d, e = y1 - y0 + g * y1, y3 - y0 + h * y3
    one = torch.ones_like(g)
    # unit square (u,v) -> quad, then u = (X+1)/2, v = (Y+1)/2
    r0 = torch.stack([a / 2, b / 2, (a + b) / 2 + x0], 1)
    r1 = torch.stack([d / 2, e / 2, (d + e) / 2 + y0], 1)
    r2 = torch.stack([g / 2, h / 2, (g + h) / 2 + one], 1)
    return torch.stack([r0, r1, r2], 1)


class Exported(nn.Module):
    """What goes into the ONNX file: thumbnail -> homography."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        corners, _ = self.net(x)
        return corners_to_homography(corners)
