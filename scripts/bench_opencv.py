#!/usr/bin/env python3
"""OpenCV anchor for `cargo bench --bench warp`: the same workloads, timed here.

Usage: python3 scripts/bench_opencv.py [--layouts]   (needs numpy and opencv-python-headless)

--layouts: the workloads of benches/warp.rs `bench_layouts` instead (issue 11
item 5: RGB nearest and bicubic, 16-bit RGB, grey+alpha and RGBA bilinear at
4K and 1080p, 1 and 2 threads; cv2.INTER_NEAREST / INTER_CUBIC / INTER_LINEAR).

Workloads (as benches/warp.rs): 3840x2160 and 1920x1080 RGB u8, theta = rotation
15 deg, scale 0.9, translation (0.05, -0.03) in normalised coordinates, bilinear,
zero padding, at 1 and 2 threads. The theta is converted to OpenCV's inverse map
(destination pixel -> source pixel) exactly: M = P_in . theta . N_out
(align_corners=False). Prints the median and the interquartile range of 30 runs.
"""
import math
import time

import cv2
import numpy as np


def inverse_map(theta, w_in, h_in, w_out, h_out):
    n_out = np.array([[2 / w_out, 0, 1 / w_out - 1], [0, 2 / h_out, 1 / h_out - 1], [0, 0, 1]])
    p_in = np.array([[w_in / 2, 0, (w_in - 1) / 2], [0, h_in / 2, (h_in - 1) / 2], [0, 0, 1]])
    t = np.vstack([np.asarray(theta, float).reshape(2, 3), [0, 0, 1]])
    return (p_in @ t @ n_out)[:2]


def rts(deg, s, tx, ty):
    c, si = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return [s * c, -s * si, tx, s * si, s * c, ty]


def bench(w, h, threads, runs=30):
    rng = np.random.default_rng(1)
    grad = np.linspace(0, 127, w, dtype=np.float32)[None, :, None]
    img = (grad + rng.integers(0, 64, (h, w, 3))).astype(np.uint8)
    m = inverse_map(rts(15, 0.9, 0.05, -0.03), w, h, w, h)
    cv2.setNumThreads(threads)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for _ in range(3):
        cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        times.append((time.perf_counter() - t0) * 1e3)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return med, q1, q3


LAYOUTS = [
    # (name as in benches/warp.rs bench_layouts, interpolation, channels, dtype)
    ("rgb8_nearest", cv2.INTER_NEAREST, 3, np.uint8),
    ("rgb8_bicubic", cv2.INTER_CUBIC, 3, np.uint8),
    ("rgb16_bilinear", cv2.INTER_LINEAR, 3, np.uint16),
    ("ga8_bilinear", cv2.INTER_LINEAR, 2, np.uint8),
    ("rgba8_bilinear", cv2.INTER_LINEAR, 4, np.uint8),
]


def bench_layout(w, h, threads, interp, channels, dtype, runs=15):
    """cv2.warpAffine of a w x h image of `channels` channels and `dtype` with
    the benchmark theta, zero border: (median, q1, q3, min, max) in ms."""
    rng = np.random.default_rng(1)
    grad = np.linspace(0, 127, w, dtype=np.float32)[None, :, None]
    img = (grad + rng.integers(0, 64, (h, w, channels))).astype(np.uint8)
    if dtype == np.uint16:
        img = img.astype(np.uint16) * 257 + 3
    m = inverse_map(rts(15, 0.9, 0.05, -0.03), w, h, w, h)
    cv2.setNumThreads(threads)
    flags = interp | cv2.WARP_INVERSE_MAP
    for _ in range(3):
        cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        times.append((time.perf_counter() - t0) * 1e3)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return med, q1, q3, min(times), max(times)


def layouts():
    """Issue 11 item 5: the workloads of benches/warp.rs bench_layouts."""
    print(f"OpenCV {cv2.__version__}")
    for w, h, size in [(3840, 2160, "4k"), (1920, 1080, "1080p")]:
        for name, interp, channels, dtype in LAYOUTS:
            for threads in [1, 2]:
                med, q1, q3, lo, hi = bench_layout(w, h, threads, interp, channels, dtype)
                print(f"layouts_{size}/{name}/{threads}: median {med:.2f} ms "
                      f"(IQR {q1:.2f}-{q3:.2f}, min-max {lo:.2f}-{hi:.2f})")


def main():
    import sys
    if "--layouts" in sys.argv[1:]:
        return layouts()
    print(f"OpenCV {cv2.__version__}")
    for w, h in [(3840, 2160), (1920, 1080)]:
        for threads in [1, 2]:
            med, q1, q3 = bench(w, h, threads)
            print(f"cv2.warpAffine {w}x{h} RGB u8 bilinear zeros, {threads} thread(s): "
                  f"median {med:.1f} ms (IQR {q1:.1f}-{q3:.1f})")


if __name__ == "__main__":
    main()
