"""Synthetic photos of printed pages, for training and evaluating the doc-page model.

A page is rendered with Pillow (fonts from Debian packages, see README.md): paper tint, margins of
7-11 %, an optional logo, heading and table, body text of 22-32 px at 150 dpi. A photo of it is made
with a pinhole camera: the page rectangle tilted by up to 30 degrees about a random axis in its
plane, rolled by up to +-25 degrees, seen from a random distance, then scaled so it fills 35-80 % of
the frame and placed with the whole page in view; warped over a random background (solid, gradient,
wood, fabric, noise, speckle, clutter of other papers) with a drop shadow, then uneven light, cast
shadows, colour cast, blur, sensor noise and JPEG.

Coordinates: "edge" pixel coordinates everywhere (the top-left corner of the image is (0,0), the
centre of pixel i is i+0.5). Corners are TL, TR, BR, BL of the page (its text upright). `to_cv`
converts an edge-coordinate homography to OpenCV's (pixel centres at integers).

Text: training pages use sentences of random words from /usr/share/dict/words (Debian `wamerican`);
evaluation pages use prose from /usr/share/common-licenses (never seen in training).
"""

import glob
import io
import math
import os
import re

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

A4 = (1240, 1754)      # 150 dpi
LETTER = (1275, 1650)

_FONT_PAIRS = [
    ("truetype/dejavu/DejaVuSans.ttf", "truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("truetype/dejavu/DejaVuSerif.ttf", "truetype/dejavu/DejaVuSerif-Bold.ttf"),
    ("truetype/dejavu/DejaVuSansMono.ttf", "truetype/dejavu/DejaVuSansMono-Bold.ttf"),
    ("truetype/liberation/LiberationSans-Regular.ttf", "truetype/liberation/LiberationSans-Bold.ttf"),
    ("truetype/liberation/LiberationSerif-Regular.ttf", "truetype/liberation/LiberationSerif-Bold.ttf"),
    ("truetype/liberation/LiberationMono-Regular.ttf", "truetype/liberation/LiberationMono-Bold.ttf"),
    ("truetype/liberation/LiberationSansNarrow-Regular.ttf",
     "truetype/liberation/LiberationSansNarrow-Bold.ttf"),
    ("truetype/freefont/FreeSans.ttf", "truetype/freefont/FreeSansBold.ttf"),
    ("truetype/freefont/FreeSerif.ttf", "truetype/freefont/FreeSerifBold.ttf"),
    ("truetype/noto/NotoSans-Regular.ttf", "truetype/noto/NotoSans-Bold.ttf"),
    ("truetype/noto/NotoSerif-Regular.ttf", "truetype/noto/NotoSerif-Bold.ttf"),
    ("truetype/crosextra/Carlito-Regular.ttf", "truetype/crosextra/Carlito-Bold.ttf"),
    ("truetype/crosextra/Caladea-Regular.ttf", "truetype/crosextra/Caladea-Bold.ttf"),
    ("opentype/urw-base35/NimbusRoman-Regular.otf", "opentype/urw-base35/NimbusRoman-Bold.otf"),
    ("opentype/urw-base35/NimbusSans-Regular.otf", "opentype/urw-base35/NimbusSans-Bold.otf"),
    ("opentype/urw-base35/C059-Roman.otf", "opentype/urw-base35/C059-Bold.otf"),
    ("opentype/urw-base35/P052-Roman.otf", "opentype/urw-base35/P052-Bold.otf"),
    ("opentype/urw-base35/URWGothic-Book.otf", "opentype/urw-base35/URWGothic-Demi.otf"),
]
FONTS = [(os.path.join("/usr/share/fonts", r), os.path.join("/usr/share/fonts", b))
         for r, b in _FONT_PAIRS
         if os.path.exists(os.path.join("/usr/share/fonts", r))
         and os.path.exists(os.path.join("/usr/share/fonts", b))]
if not FONTS:
    raise SystemExit("no fonts found: apt-get install fonts-dejavu fonts-liberation fonts-freefont-ttf")

_font_cache = {}


def font(path, size):
    key = (path, size)
    if key not in _font_cache:
        _font_cache[key] = ImageFont.truetype(path, size)
    return _font_cache[key]


# ---------------------------------------------------------------------------------------- text

_WORDS = None
_PROSE = None


def _words():
    global _WORDS
    if _WORDS is None:
        with open("/usr/share/dict/words", encoding="utf-8", errors="ignore") as f:
            ws = [w.strip() for w in f]
        _WORDS = [w for w in ws if re.fullmatch(r"[A-Za-z]{2,12}", w)]
    return _WORDS


def _prose():
    global _PROSE
    if _PROSE is None:
        sentences = []
        for p in sorted(glob.glob("/usr/share/common-licenses/*")):
            if os.path.isdir(p) or os.path.islink(p):
                continue
            with open(p, encoding="utf-8", errors="ignore") as f:
                t = f.read()
            t = t.encode("ascii", "ignore").decode()
            t = re.sub(r"[_=*#<>|\[\]{}\\~^`]", " ", t)
            t = re.sub(r"\s+", " ", t)
            for s in re.split(r"(?<=[.;:])\s+", t):
                s = s.strip()
                if 25 <= len(s) <= 400 and re.search(r"[a-z]{3}", s) and not re.search(r"https?:|www\.", s):
                    sentences.append(s)
        _PROSE = sentences
    return _PROSE


def train_sentence(rng):
    ws = _words()
    n = int(rng.integers(4, 16))
    out = []
    for i in range(n):
        w = ws[int(rng.integers(len(ws)))]
        if i == 0:
            w = w.capitalize()
        elif rng.random() < 0.05:
            w = str(int(rng.integers(1, 2000)))
        if i < n - 1 and rng.random() < 0.08:
            w += ","
        out.append(w)
    return " ".join(out) + ("." if rng.random() < 0.9 else "?")


def test_sentence(rng):
    ps = _prose()
    return ps[int(rng.integers(len(ps)))]


def heading_text(rng, sentence):
    ws = sentence(rng).rstrip(".?;:").split()
    return " ".join(ws[: int(rng.integers(2, 6))]).title()


# ---------------------------------------------------------------------------------------- pages

def wrap(draw, text, fnt, width):
    lines, cur = [], ""
    for w in text.split():
        t = w if not cur else cur + " " + w
        if draw.textlength(t, font=fnt) <= width or not cur:
            cur = t
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    return lines


def render_page(rng, test=False, scale=1.0):
    """A clean page: (RGB uint8 array, truth text, (paper w, h) at 150 dpi).

    `scale` renders at scale x 150 dpi (e.g. 2.0 for 300 dpi); the truth is the same."""
    sentence = test_sentence if test else train_sentence
    paper = A4 if rng.random() < 0.7 else LETTER
    W, H = int(round(paper[0] * scale)), int(round(paper[1] * scale))
    base = 255 - rng.uniform(0, 22)
    tint = np.clip(base + rng.normal(0, 4, 3) + np.array([2, 1, -4]) * rng.uniform(0, 2), 200, 255)
    img = Image.new("RGB", (W, H), tuple(int(v) for v in tint))
    d = ImageDraw.Draw(img)
    regular, bold = FONTS[int(rng.integers(len(FONTS)))]
    ink = int(rng.uniform(0, 55))
    ink_rgb = (ink, ink, int(ink + rng.uniform(0, 40))) if rng.random() < 0.2 else (ink, ink, ink)
    ml, mr = rng.uniform(0.07, 0.11, 2) * W
    mt, mb = rng.uniform(0.06, 0.10, 2) * H
    x0, x1 = ml, W - mr
    y = mt
    truth = []
    s = scale
    body = int(rng.uniform(22, 32) * s)
    lead = rng.uniform(1.25, 1.6)

    if rng.random() < 0.4:  # logo: coloured mark + a bold word
        col = tuple(int(v) for v in rng.integers(0, 200, 3))
        sz = int(rng.uniform(50, 90) * s)
        if rng.random() < 0.5:
            d.ellipse([x0, y, x0 + sz, y + sz], fill=col)
        else:
            d.rectangle([x0, y, x0 + sz, y + sz], fill=col)
        word = heading_text(rng, train_sentence).split()[0].upper()
        f = font(bold, int(sz * 0.55))
        d.text((x0 + sz * 1.3, y + sz * 0.2), word, font=f, fill=col)
        truth.append(word)
        y += sz * 1.5
    if rng.random() < 0.6:  # heading
        f = font(bold, int(rng.uniform(36, 56) * s))
        for line in wrap(d, heading_text(rng, sentence), f, x1 - x0):
            d.text((x0, y), line, font=f, fill=ink_rgb)
            truth.append(line)
            y += f.size * 1.35
        y += body * 0.8
    fb = font(regular, body)
    table_at = rng.uniform(0.3, 0.7) if rng.random() < 0.3 else None
    while True:
        if table_at is not None and y > mt + table_at * (H - mt - mb):
            rows, cols = int(rng.integers(3, 7)), int(rng.integers(2, 5))
            rh = body * 1.9
            if y + rows * rh > H - mb:
                break
            cw = (x1 - x0) / cols
            lw = max(1, int(2 * s))
            for r in range(rows + 1):
                d.line([(x0, y + r * rh), (x1, y + r * rh)], fill=ink_rgb, width=lw)
            for c in range(cols + 1):
                d.line([(x0 + c * cw, y), (x0 + c * cw, y + rows * rh)], fill=ink_rgb, width=lw)
            ft = font(bold if rng.random() < 0.3 else regular, int(body * 0.9))
            for r in range(rows):
                cells = []
                for c in range(cols):
                    if r > 0 and c > 0 and rng.random() < 0.6:
                        t = f"{rng.uniform(0, 9999):.2f}"
                    else:
                        t = sentence(rng).split()[int(rng.integers(0, 3))].strip(",.?;:")
                    while d.textlength(t, font=ft) > cw - 2 * body * 0.4 and len(t) > 2:
                        t = t[:-1]
                    d.text((x0 + c * cw + body * 0.4, y + r * rh + (rh - ft.size) * 0.4), t,
                           font=ft, fill=ink_rgb)
                    cells.append(t)
                truth.append(" ".join(cells))
            y += rows * rh + body
            table_at = None
            continue
        para = " ".join(sentence(rng) for _ in range(int(rng.integers(2, 6))))
        lines = wrap(d, para, fb, x1 - x0)
        stop = False
        for line in lines:
            if y + body * lead > H - mb:
                stop = True
                break
            d.text((x0, y), line, font=fb, fill=ink_rgb)
            truth.append(line)
            y += body * lead
        if stop:
            break
        y += body * rng.uniform(0.3, 1.0)
    return np.asarray(img), "\n".join(truth), paper


# ---------------------------------------------------------------------------------------- geometry

def to_cv(h):
    """Edge-coordinate homography -> OpenCV's pixel-centre convention."""
    t = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    ti = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1.0]])
    return ti @ h @ t


def quad_homography(src, dst):
    """The homography (f64) taking 4 points src to dst (edge coordinates)."""
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.append(v)
    h = np.linalg.solve(np.array(a), np.array(b))
    return np.append(h, 1.0).reshape(3, 3)


def _rot(axis, ang):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(ang) * k + (1 - math.cos(ang)) * k @ k


def page_quad(rng, W, H, aspect, max_tilt=30.0, max_roll=25.0, fill=(0.35, 0.80), margin=(0.0, 0.04)):
    """Corners TL, TR, BR, BL (edge coords, photo pixels) of a page of width/height `aspect`."""
    for _ in range(100):
        tilt = math.radians(max_tilt) * math.sqrt(rng.uniform(0, 1))
        phi = rng.uniform(0, 2 * math.pi)
        roll = math.radians(rng.uniform(-max_roll, max_roll))
        dist = rng.uniform(1.1, 3.0)
        p = np.array([[-aspect / 2, -0.5, 0], [aspect / 2, -0.5, 0], [aspect / 2, 0.5, 0],
                      [-aspect / 2, 0.5, 0]])
        r = _rot([0, 0, 1], roll) @ _rot([math.cos(phi), math.sin(phi), 0], tilt)
        q = p @ r.T + np.array([0, 0, dist])
        xy = q[:, :2] / q[:, 2:3]
        area = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
        target = rng.uniform(*fill) * W * H
        m = rng.uniform(*margin) * min(W, H)
        span = xy.max(0) - xy.min(0)
        # the fill is capped by what fits: a portrait page in a landscape frame fills at most ~half
        k = min(math.sqrt(target / area), 0.999 * (W - 2 * m) / span[0], 0.999 * (H - 2 * m) / span[1])
        if k * k * area < 0.6 * fill[0] * W * H:
            continue
        xy *= k
        lo, hi = xy.min(0), xy.max(0)
        off = np.array([rng.uniform(m - lo[0], W - m - hi[0]), rng.uniform(m - lo[1], H - m - hi[1])])
        return xy + off
    raise RuntimeError("no page placement found")


# ---------------------------------------------------------------------------------------- photo

def _smooth_noise(rng, W, H, cells):
    g = rng.normal(0, 1, (cells + 2, cells + 2)).astype(np.float32)
    return cv2.resize(g, (W, H), interpolation=cv2.INTER_CUBIC)


def background(rng, W, H):
    kind = rng.choice(["solid", "gradient", "wood", "fabric", "noise", "speckle", "clutter"],
                      p=[0.12, 0.12, 0.18, 0.14, 0.18, 0.12, 0.14])
    c1 = rng.uniform(0, 255, 3)
    if rng.random() < 0.25:      # light desks make the page edge hard to see
        c1 = rng.uniform(170, 250) + rng.normal(0, 8, 3)
    c2 = np.clip(c1 + rng.normal(0, 60, 3), 0, 255)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    if kind == "solid":
        bg = np.ones((H, W, 1), np.float32) * c1
    elif kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        t = (xx * math.cos(a) + yy * math.sin(a))
        t = (t - t.min()) / (np.ptp(t) + 1e-6)
        bg = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif kind == "wood":
        a = rng.uniform(0, math.pi)
        u = (xx * math.cos(a) + yy * math.sin(a)) / max(W, H)
        warp = _smooth_noise(rng, W, H, 4) * rng.uniform(0.5, 3)
        t = 0.5 + 0.5 * np.sin((u * rng.uniform(20, 120) + warp) * 2 * math.pi / 4)
        c1 = np.array([rng.uniform(90, 200), rng.uniform(50, 140), rng.uniform(20, 90)])
        c2 = c1 * rng.uniform(0.5, 0.85)
        bg = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif kind == "fabric":
        per = rng.uniform(4, 40) * max(W, H) / 1000
        a = rng.uniform(0, math.pi)
        u = (xx * math.cos(a) + yy * math.sin(a)) / per
        v = (-xx * math.sin(a) + yy * math.cos(a)) / per
        t = ((np.floor(u) + np.floor(v)) % 2) * 0.5 + 0.25 * (np.sin(u * 6) * np.sin(v * 6))
        bg = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif kind == "noise":
        t = sum(_smooth_noise(rng, W, H, c) * w for c, w in ((3, 1.0), (12, 0.5), (48, 0.25)))
        t = (t - t.min()) / (np.ptp(t) + 1e-6)
        bg = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif kind == "speckle":
        n = rng.normal(0, 1, (H // 2 + 1, W // 2 + 1)).astype(np.float32)
        n = cv2.resize(n, (W, H), interpolation=cv2.INTER_NEAREST)
        bg = c1 + n[..., None] * rng.uniform(10, 50)
    else:  # clutter: other sheets, books, objects, partly off the frame
        bg = np.empty((H, W, 3), np.float32)
        bg[:] = c1
        for _ in range(int(rng.integers(1, 5))):
            col = rng.uniform(0, 255, 3) if rng.random() < 0.6 else rng.uniform(200, 255) + rng.normal(0, 5, 3)
            cx, cy = rng.uniform(0, W), rng.uniform(0, H)
            w, h = rng.uniform(0.1, 0.6) * W, rng.uniform(0.1, 0.6) * H
            ang = rng.uniform(0, 180)
            box = cv2.boxPoints(((cx, cy), (w, h), ang)).astype(np.int32)
            cv2.fillConvexPoly(bg, box, col.tolist(), lineType=cv2.LINE_AA)
    bg = np.broadcast_to(bg, (H, W, 3)).astype(np.float32)
    return bg


def photograph(rng, page, quad, W, H, jpeg=True, harsh=True):
    """Warps `page` (RGB uint8, its edges are the page edges) onto quad (TL,TR,BR,BL, edge coords)
    in a W x H photo with a background and photo effects. Returns RGB uint8 (decoded JPEG if jpeg).

    harsh=True (training): light, shadows, blur and noise strong enough that Tesseract often fails
    even on the exact flattening; harsh=False (the OCR test set): ordinary photos, the same draws
    from `rng` in narrower ranges (so the same seed gives the same pages and geometry)."""
    ph, pw = page.shape[:2]
    hmat = quad_homography([[0, 0], [pw, 0], [pw, ph], [0, ph]], quad)
    hc = to_cv(hmat)
    scale = max(W, H) / 1000.0
    bg = background(rng, W, H)
    warped = cv2.warpPerspective(page, hc, (W, H), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
    mask = np.zeros((H, W), np.float32)
    cv2.fillConvexPoly(mask, np.round(quad * 16).astype(np.int32), 1.0, lineType=cv2.LINE_AA, shift=4)
    # drop shadow on the background
    if rng.random() < 0.8:
        k = int(rng.uniform(3, 25) * scale) * 2 + 1
        sh = cv2.GaussianBlur(mask, (k, k), 0)
        dx, dy = rng.normal(0, 6 * scale, 2)
        sh = cv2.warpAffine(sh, np.float32([[1, 0, dx], [0, 1, dy]]), (W, H))
        bg *= (1 - rng.uniform(0.1, 0.5) * sh)[..., None]
    # a slightly soft page edge, sometimes a visible thickness/edge line
    if rng.random() < 0.5:
        mask = cv2.GaussianBlur(mask, (3, 3), 0)
    # warped content inside: the page's own pixels (warped with bilinear, edge pixels half-covered)
    img = warped * mask[..., None] + bg * (1 - mask[..., None])
    # uneven light
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    lin = ((xx - W / 2) * math.cos(a) + (yy - H / 2) * math.sin(a)) / max(W, H)
    light = 1 + rng.uniform(0, 0.6 if harsh else 0.3) * lin
    cx, cy = rng.uniform(0, W), rng.uniform(0, H)
    rad = ((xx - cx) ** 2 + (yy - cy) ** 2) / (max(W, H) ** 2)
    light *= 1 - rng.uniform(0, 0.5 if harsh else 0.25) * rad
    light *= rng.uniform(0.7, 1.15) if harsh else rng.uniform(0.85, 1.1)
    img *= light[..., None]
    # cast shadow (a hand, a phone)
    if rng.random() < 0.3:
        sm = np.zeros((H, W), np.float32)
        pts = np.stack([rng.uniform(-0.2, 1.2, 5) * W, rng.uniform(-0.2, 1.2, 5) * H], 1)
        hull = cv2.convexHull(pts.astype(np.float32)).astype(np.int32)
        cv2.fillConvexPoly(sm, hull, 1.0)
        k = int(rng.uniform(10, 60) * scale) * 2 + 1
        sm = cv2.GaussianBlur(sm, (k, k), 0)
        img *= (1 - (rng.uniform(0.2, 0.55) if harsh else rng.uniform(0.1, 0.3)) * sm)[..., None]
    # colour cast
    img *= np.clip(1 + rng.normal(0, 0.06, 3), 0.8, 1.2)
    # optics
    sigma = rng.uniform(0, 1.3 if harsh else 0.8) * scale ** 0.5
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < (0.1 if harsh else 0.03):
        L = int(rng.uniform(3, 9) * scale) | 1
        kern = np.zeros((L, L), np.float32)
        kern[L // 2, :] = 1.0 / L
        rot = cv2.getRotationMatrix2D((L / 2 - 0.5, L / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kern = cv2.warpAffine(kern, rot, (L, L))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    # sensor noise
    img += rng.normal(0, rng.uniform(0, 6 if harsh else 4), img.shape).astype(np.float32)
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if jpeg:
        q = int(rng.uniform(40, 96))
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out), hmat


def photo_size(rng, long_side):
    ratio = [4 / 3, 3 / 2, 16 / 9, 1.0][int(rng.choice(4, p=[0.5, 0.2, 0.2, 0.1]))]
    w, h = long_side, int(round(long_side / ratio))
    return (w, h) if rng.random() < 0.5 else (h, w)


def luma_thumb(rgb, size):
    """stn's preprocessing: Rec. 709 luma of the stored values, area average to size x size."""
    y = rgb.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return cv2.resize(y, (size, size), interpolation=cv2.INTER_AREA) / 255.0


def normalised_corners(quad, W, H):
    """Edge-coordinate corners -> normalised [-1,1] (align_corners=False)."""
    return np.stack([quad[:, 0] * 2 / W - 1, quad[:, 1] * 2 / H - 1], 1)


def to_png_bytes(rgb):
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="PNG")
    return b.getvalue()
