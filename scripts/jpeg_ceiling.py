#!/usr/bin/env python3
"""The most any program can gain over OpenCV on one JPEG -> warp -> JPEG
photo while it decodes and encodes with libjpeg-turbo, as OpenCV does.

OpenCV's end-to-end run is decode (D) + warp (W) + encode (E) + file I/O.
A program with the same codecs pays D and E too (on one thread, all of
them; on two, the decode of a baseline JPEG is still serial), so on one
thread its best ratio is (D + W + E + I/O) / (D + E) even with a warp that
costs nothing. This measures D, E, W and the whole run in one process, on
the photo bench.py uses, at 1 and 2 threads, and prints those ceilings.

Run with bench.py's virtual environment (OpenCV, NumPy):
    .bench/venv/bin/python scripts/jpeg_ceiling.py [photo.jpg]
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / ".bench" / "data" / "photo_jpg" / "photo.jpg"
# bench.py's BENCH_RTS theta (15 degrees, scale 0.9, shift 0.05, -0.03) as
# an OpenCV inverse map for 3840x2160, align_corners=False.
RUNS = 15


def inverse_map(theta, w, h):
    n_out = np.array([[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0, 0, 1]])
    p_in = np.array([[w / 2.0, 0.0, w / 2.0 - 0.5], [0.0, h / 2.0, h / 2.0 - 0.5], [0, 0, 1]])
    t = np.vstack([np.asarray(theta, dtype=float).reshape(2, 3), [0.0, 0.0, 1.0]])
    return (p_in @ t @ n_out)[:2]


def median_ms(f):
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times), max(times)


def main():
    photo = Path(sys.argv[1]) if len(sys.argv) > 1 else PHOTO
    data = np.frombuffer(photo.read_bytes(), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    a, s = np.radians(15.0), 0.9
    theta = [s * np.cos(a), -s * np.sin(a), 0.05, s * np.sin(a), s * np.cos(a), -0.03]
    m = inverse_map(theta, w, h)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(img, m, (w, h), flags=flags)
    q90 = [cv2.IMWRITE_JPEG_QUALITY, 90]
    # As bench.py: OpenCV at its best, its buffers from a primed heap.
    primer = np.ones(30 << 20, np.uint8)
    del primer
    out = Path(tempfile.mkdtemp()) / "out.jpg"
    print(f"{photo} ({w}x{h}), medians of {RUNS} (min - max), ms")
    rows = {}
    for threads in (1, 2):
        cv2.setNumThreads(threads)
        d = median_ms(lambda: cv2.imdecode(data, cv2.IMREAD_COLOR))
        e = median_ms(lambda: cv2.imencode(".jpg", warped, q90))
        wp = median_ms(lambda: cv2.warpAffine(img, m, (w, h), flags=flags))

        def whole():
            src = cv2.imread(str(photo), cv2.IMREAD_COLOR)
            cv2.imwrite(str(out), cv2.warpAffine(src, m, (w, h), flags=flags), q90)

        t = median_ms(whole)
        rows[threads] = (d[0], e[0], wp[0], t[0])
        for name, v in (("decode D", d), ("encode E", e), ("warp W", wp), ("OpenCV whole", t)):
            print(f"  {threads} thread(s)  {name:13} {v[0]:6.1f}  ({v[1]:.1f} - {v[2]:.1f})")
    d, e, wp, t = rows[1]
    print(f"1 thread: ceiling with a free warp, same codecs: whole / (D + E) = "
          f"{t:.1f} / {d + e:.1f} = {t / (d + e):.2f}x")
    d2, e2, _, t2 = rows[2]
    print(f"2 threads: ceiling with a free warp and the encode split perfectly "
          f"over 2 threads after a serial decode: whole / (D + E/2) = "
          f"{t2:.1f} / {d2 + e2 / 2:.1f} = {t2 / (d2 + e2 / 2):.2f}x")


if __name__ == "__main__":
    main()
