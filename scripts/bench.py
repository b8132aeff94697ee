#!/usr/bin/env python3
"""stn's benchmark suite: stn against OpenCV, Pillow (and PyTorch) in one sitting.

Usage:
    python3 scripts/bench.py [--quick] [--torch] [--only SECTION,...] [--skip-build]

One command does everything, from the repository root or anywhere:

1. creates a virtual environment in .bench/venv and installs the anchors
   (opencv-python-headless, Pillow, numpy; torch too with --torch, about 3 GB),
   then re-runs itself inside it;
2. builds `cargo build --release`, the `codec_roundtrip` example and the
   `warp` criterion bench;
3. generates deterministic inputs in .bench/data (noisy photo-like PNGs
   written with Pillow; kept between runs);
4. runs the sections below, each measurement several times, interleaved so
   that the noise of a shared machine falls on every contender alike;
5. prints markdown tables and writes them to .bench/results.md (raw samples
   in .bench/results.json, tool logs in .bench/logs/).

Sections (--only takes a comma-separated subset):

  sampler  the warp kernel alone: 3840x2160 and 1920x1080 RGB u8, rotation
           15 deg, scale 0.9, translation (0.05, -0.03) normalised, bilinear,
           zero padding. stn through `cargo bench --bench warp` (criterion),
           cv2.warpAffine at 1 and 2 threads, Pillow Image.transform, torch
           affine_grid + grid_sample (--torch); and 4096 28x28 grey images,
           each with its own theta: stn vs cv2 in a Python loop.
  e2e4k    `stn warp --theta=... big.png -o out.png` as a whole process vs
           cv2.imread + warpAffine + cv2.imwrite timed inside this process.
  folder   `stn rectify` over 500 640x480 PNGs vs a Python pipeline (Pillow
           decode, cv2.warpAffine, Pillow encode, 2 worker processes), the
           same without the warp, and the codec-only floor: stn's own decoder
           and PNG encoder without inference or warp (examples/codec_roundtrip.rs).
  memory   peak RSS of `stn rectify` over 1,000 and 10,000 320x240 PNGs.
  photo    one 3840x2160 photo as JPEG (q90), PPM and PNG (bilinear; JPEG and
           PPM also bicubic, against INTER_CUBIC): `stn -j T warp`
           as a whole process vs cv2.imread + warpAffine + cv2.imwrite (JPEG
           q90) in this process, at 1 and 2 threads, and stn's codec floor
           (codec_roundtrip on a folder of that one file); for JPEG the sizes
           and each output's PSNR against its own unencoded warp (stn's: its
           PPM output; OpenCV's: the warpAffine array); for PPM, the header
           and the largest difference from OpenCV's output.
  jpegfolder  `stn rectify` over 500 640x480 JPEG photos (q90, written by
           Pillow), JPEG q90 out, vs the Python pipeline (Pillow decode,
           cv2.warpAffine, Pillow encode at quality 90, 2 worker processes)
           and vs stn's JPEG codec floor (codec_roundtrip).
  bigjpegfolder  the same three over 24 photos of 4000x3000 (12 MP, q90,
           rotated and scaled copies of the 4K photo written by OpenCV), the
           size of a phone's: where the codec, not the warp, sets the pace.

  families the transform families (issue 10): projective and thin-plate-spline
           warps at 4K vs cv2.warpPerspective and stn's affine warp, and
           10,000 TPS text crops through `stn warp --thetas` vs PyTorch's TPS
           GridGenerator + grid_sample (with --torch); the code and its
           documentation are in scripts/bench_families.py, which also runs
           alone.

--quick runs fewer repetitions over fewer images: a smoke test, not numbers
to quote. --skip-build uses the binaries already in target/release.
"""

import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import venv
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
VENV = BENCH / "venv"
DATA = BENCH / "data"
OUT = BENCH / "out"
LOGS = BENCH / "logs"
STN = ROOT / "target" / "release" / "stn"
ROUNDTRIP = ROOT / "target" / "release" / "examples" / "codec_roundtrip"
CRITERION = ROOT / "target" / "criterion"

ANCHORS = ["opencv-python-headless", "Pillow", "numpy"]
# Bump when the generated inputs change, so old data is regenerated.
DATA_VERSION = "1"

# The benchmark warp: rotation 15 deg, scale 0.9, translation (0.05, -0.03).
BENCH_RTS = (15.0, 0.9, 0.05, -0.03)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions and images (smoke run)")
    p.add_argument("--torch", action="store_true", help="also install and time PyTorch (about 3 GB)")
    p.add_argument("--only", default="sampler,e2e4k,folder,memory,photo,jpegfolder,"
                   "bigjpegfolder,families",
                   help="comma-separated sections to run (default: all)")
    p.add_argument("--skip-build", action="store_true", help="use the binaries already built")
    args = p.parse_args()
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - {"sampler", "e2e4k", "folder", "memory", "photo", "jpegfolder",
                                "bigjpegfolder", "families"}
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


# ---------------------------------------------------------------- environment

def in_venv():
    return Path(sys.prefix).resolve() == VENV.resolve()


def bootstrap(args):
    """Creates .bench/venv with the anchors and re-executes this script in it."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV.relative_to(ROOT)}", flush=True)
        venv.create(VENV, with_pip=True)
    packages = ANCHORS + (["torch"] if args.torch else [])
    modules = ["cv2", "PIL", "numpy"] + (["torch"] if args.torch else [])
    probe = subprocess.run([str(python), "-c", "import " + ", ".join(modules)],
                           capture_output=True)
    if probe.returncode != 0:
        print(f"installing {' '.join(packages)} into {VENV.relative_to(ROOT)}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def build():
    """Builds stn, the codec-only example and the criterion bench (release)."""
    for cmd in (["cargo", "build", "--release"],
                ["cargo", "build", "--release", "--example", "codec_roundtrip"],
                ["cargo", "bench", "--bench", "warp", "--no-run"]):
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)


def machine_info(args):
    """What the table's header says about the machine and the software."""
    import cv2
    import numpy
    import PIL

    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    info = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": fields.get("Model name", platform.processor()).strip(),
        "cpus": fields.get("CPU(s)", str(os.cpu_count())).strip(),
        "hypervisor": fields.get("Hypervisor vendor", "").strip(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_start": os.getloadavg(),
        "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "pillow": PIL.__version__,
        "numpy": numpy.__version__,
        "mode": "quick" if args.quick else "full",
    }
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src", "benches"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    info["stn"] = rev + (" + uncommitted changes in src/ or benches/" if dirty else "")
    info["kernel"] = (f"STN_KERNEL={os.environ['STN_KERNEL']}" if os.environ.get("STN_KERNEL")
                      else f"{best_kernel()} (the best this CPU supports; STN_KERNEL unset)")
    if args.torch:
        import torch
        info["torch"] = torch.__version__
    return info


class MachineShare:
    """How much of the machine's CPU went to other processes during a section:
    busy time from /proc/stat (steal included) minus this process tree's own
    CPU time (children are counted once reaped), over wall time x CPUs."""

    def __enter__(self):
        self.start = self._snapshot()
        return self

    def __exit__(self, *exc):
        end = self._snapshot()
        busy, ours, wall = (e - s for e, s in zip(end, self.start))
        self.others = max(0.0, (busy - ours) / (wall * (os.cpu_count() or 1)))
        return False

    @staticmethod
    def _snapshot():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        ours = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            r = resource.getrusage(who)
            ours += r.ru_utime + r.ru_stime
        return busy, ours, time.perf_counter()


def best_kernel():
    """The SIMD family stn's run-time detection picks here, from the CPU flags."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx2", "sse4_1"} <= flags:
        if {"avx512f", "avx512bw", "avx512vl", "avx512vbmi"} <= flags:
            return "avx512"
        return "avx2"
    return "scalar"


# ---------------------------------------------------------------- statistics

def stats(values):
    """Median, quartiles, extremes and count of a list of numbers."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3),
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size),
            "samples": [float(x) for x in v]}


def fmt_time(seconds):
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_range(lo, hi, fmt=fmt_time):
    return f"{fmt(lo)} – {fmt(hi)}"


def fmt_rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


# ---------------------------------------------------------------- geometry

def rts(deg, s, tx, ty):
    """Theta (output -> input, normalised) of a rotation by deg, scale s, translation (tx, ty)."""
    c, si = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return [s * c, -s * si, tx, s * si, s * c, ty]


def theta_3x3(theta):
    import numpy as np

    return np.vstack([np.asarray(theta, dtype=float).reshape(2, 3), [0.0, 0.0, 1.0]])


def cv2_inverse_map(theta, w_in, h_in, w_out, h_out):
    """OpenCV's destination-pixel -> source-pixel matrix (for WARP_INVERSE_MAP) of a
    theta with align_corners=False: P_in . theta . N_out, pixel centres at integers."""
    import numpy as np

    n_out = np.array([[2 / w_out, 0, 1 / w_out - 1], [0, 2 / h_out, 1 / h_out - 1], [0, 0, 1]])
    p_in = np.array([[w_in / 2, 0, (w_in - 1) / 2], [0, h_in / 2, (h_in - 1) / 2], [0, 0, 1]])
    return (p_in @ theta_3x3(theta) @ n_out)[:2]


def pillow_coefficients(theta, w_in, h_in, w_out, h_out):
    """Pillow's AFFINE data (output -> input) for a theta with align_corners=False.
    Pillow samples pixel centres at i + 0.5, so the edges are at 0 and W."""
    import numpy as np

    n_out = np.array([[2 / w_out, 0, -1], [0, 2 / h_out, -1], [0, 0, 1]])
    p_in = np.array([[w_in / 2, 0, w_in / 2], [0, h_in / 2, h_in / 2], [0, 0, 1]])
    return tuple((p_in @ theta_3x3(theta) @ n_out)[:2].ravel())


# ---------------------------------------------------------------- inputs

def photo_like(seed, width, height):
    """A deterministic RGB u8 image: a smooth gradient, a few soft blobs and
    Gaussian noise (sigma 6 grey levels), so that PNG cannot compress it trivially."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    angle = rng.uniform(0, 2 * math.pi)
    ramp = math.cos(angle) * x + math.sin(angle) * y
    img = np.empty((height, width, 3), dtype=np.float32)
    for c in range(3):
        img[..., c] = rng.uniform(50, 200) + rng.uniform(-60, 60) * ramp
    for _ in range(int(rng.integers(4, 9))):
        cx, cy = rng.uniform(0, 1, 2)
        sx, sy = rng.uniform(0.04, 0.3, 2)
        blob = np.exp(-0.5 * ((y - cy) / sy) ** 2) * np.exp(-0.5 * ((x - cx) / sx) ** 2)
        img += blob[..., None] * rng.uniform(-90, 90, 3).astype(np.float32)
    img += rng.normal(0.0, 6.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_photo(job):
    """Writes photo_like(seed, w, h) to path as PNG with Pillow's defaults."""
    from PIL import Image

    path, seed, width, height = job
    tmp = path.with_suffix(".tmp")
    Image.fromarray(photo_like(seed, width, height)).save(tmp, format="PNG")
    os.replace(tmp, path)


def link_set(directory, sources, count):
    """Makes `directory` hold exactly `count` distinct names, hard links (or
    copies) of `sources` in turn."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {f"img_{i:05d}.png": sources[i % len(sources)] for i in range(count)}
    for name in os.listdir(directory):
        if name not in wanted:
            os.remove(directory / name)
    for name, src in wanted.items():
        dst = directory / name
        if not dst.exists():
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)


def prepare_data(cfg):
    """Generates what is missing of the inputs in .bench/data."""
    stamp = DATA / "VERSION"
    if DATA.exists() and (not stamp.exists() or stamp.read_text().strip() != DATA_VERSION):
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True, exist_ok=True)
    stamp.write_text(DATA_VERSION + "\n")

    photos = DATA / "e2e"
    photos.mkdir(exist_ok=True)
    jobs = [(photos / f"img_{i:04d}.png", 1000 + i, 640, 480) for i in range(cfg["e2e_images"])]
    jobs = [j for j in jobs if not j[0].exists()]
    if not (DATA / "big_4k.png").exists():
        jobs.insert(0, (DATA / "big_4k.png", 7, 3840, 2160))
    pool_dir = DATA / "mem_pool"
    pool_dir.mkdir(exist_ok=True)
    pool = [pool_dir / f"pool_{i:02d}.png" for i in range(16)]
    jobs += [(p, 50_000 + i, 320, 240) for i, p in enumerate(pool) if not p.exists()]
    if jobs:
        print(f"generating {len(jobs)} images in {DATA.relative_to(ROOT)}", flush=True)
        with multiprocessing.get_context("spawn").Pool(2) as workers:
            workers.map(write_photo, jobs, chunksize=4)
    sources = sorted(photos.glob("img_*.png"))[: cfg["e2e_images"]]
    if cfg["e2e_dir"] != "e2e":
        link_set(DATA / cfg["e2e_dir"], sources, len(sources))
    for n in cfg["memory_sets"]:
        link_set(DATA / f"mem_{n}", pool, n)


# ---------------------------------------------------------------- running

def settle():
    """Flushes every file's pending writes (`os.sync`, not timed) before a
    timed end-to-end run, so that no run pays for the last one's: OpenCV's
    and Pillow's outputs are left dirty in the page cache (no fsync), and
    the disk writing them back made the next run's fsync wait (a 4K PPM
    warp, 2 threads: 78.8 ms right after an OpenCV run, 54.4 ms after a
    sync; OpenCV's own time the same either way, 82.6 vs 83.6 ms)."""
    os.sync()


def run_timed(cmd, log_name=None, stdout=subprocess.DEVNULL):
    """Runs a command to completion; returns (wall seconds, CPU seconds, output).
    CPU time is user + system of the child, from the kernel's accounting."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if log_name:
        with open(LOGS / log_name, "a") as log:
            log.write(f"$ {' '.join(map(str, cmd))}\n{proc.stderr}")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def time_calls(fn, runs, warmup):
    """Seconds per call of fn(), `runs` times after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------- sampler

def criterion_results(since):
    """full_id -> per-iteration seconds (median from estimates.json; spread from
    sample.json) for every criterion benchmark written after `since`."""
    results = {}
    for bench_json in CRITERION.glob("**/new/benchmark.json"):
        new = bench_json.parent
        estimates = new / "estimates.json"
        if not estimates.exists() or estimates.stat().st_mtime < since:
            continue
        full_id = json.loads(bench_json.read_text())["full_id"]
        median = json.loads(estimates.read_text())["median"]["point_estimate"] * 1e-9
        sample = json.loads((new / "sample.json").read_text())
        per_iter = [t / i * 1e-9 for t, i in zip(sample["times"], sample["iters"])]
        s = stats(per_iter)
        s["median"] = median
        results[full_id] = s
    return results


def run_criterion(cfg):
    start = time.time() - 1
    cmd = ["cargo", "bench", "--bench", "warp", "--", *cfg["criterion_args"],
           "warp_4k_rgb8/bilinear|warp_1080p|warp_28x28|warp_kernels"]
    print("$ " + " ".join(cmd), flush=True)
    with open(LOGS / "criterion.log", "w") as log:
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=log, stderr=subprocess.STDOUT)
    return criterion_results(start)


def bench_sampler(cfg, with_torch):
    """Section a: the warp kernels on in-memory images."""
    import cv2
    import numpy as np
    from PIL import Image

    rows = []
    crit = run_criterion(cfg)
    theta = rts(*BENCH_RTS)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for label, (w, h), group in (("3840×2160 RGB u8", (3840, 2160), "warp_4k_rgb8"),
                                 ("1920×1080 RGB u8", (1920, 1080), "warp_1080p_rgb8")):
        print(f"sampler {label}", flush=True)
        img = photo_like(3, w, h)
        m = cv2_inverse_map(theta, w, h, w, h)
        dst = np.empty_like(img)

        def cv2_warp():
            cv2.warpAffine(img, m, (w, h), dst=dst, flags=flags,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)

        for threads in (1, 2):
            key = f"{group}/bilinear/{threads}"
            if key in crit:
                rows.append({"workload": label, "tool": "stn (criterion)", "threads": threads,
                             **crit[key]})
            if threads == 1 and w == 1920:
                rows += kernel_rows(crit, "warp_kernels_1080p_rgb8", label)
            cv2.setNumThreads(threads)
            rows.append({"workload": label, "tool": "cv2.warpAffine", "threads": threads,
                         **stats(time_calls(cv2_warp, cfg["cv2_runs"], 3))})
        pil = Image.fromarray(img)
        coeffs = pillow_coefficients(theta, w, h, w, h)
        pil_warp = lambda: pil.transform((w, h), Image.Transform.AFFINE, coeffs,  # noqa: E731
                                         resample=Image.Resampling.BILINEAR)
        rows.append({"workload": label, "tool": "Pillow transform", "threads": 1,
                     **stats(time_calls(pil_warp, cfg["pillow_runs"], 1))})
        if with_torch:
            rows += torch_sampler_rows(label, img, theta, cfg)

    print("sampler 4096 × 28×28", flush=True)
    n = 4096
    rng = np.random.default_rng(5)
    digits = [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(n)]
    outs = [np.empty((28, 28), np.uint8) for _ in range(n)]
    thetas = [rts((i % 90) - 45.0, 0.8 + (i % 5) * 0.1, 0.01, -0.02) for i in range(n)]
    mats = [cv2_inverse_map(t, 28, 28, 28, 28) for t in thetas]

    def cv2_loop():
        for src, dst, m in zip(digits, outs, mats):
            cv2.warpAffine(src, m, (28, 28), dst=dst, flags=flags,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    label = "4096 × 28×28 grey u8, own theta each"
    key = "warp_28x28_gray8_batch/bilinear/1"
    if key in crit:
        rows.append({"workload": label, "tool": "stn (criterion)", "threads": 1, "images": n,
                     **crit[key]})
    for threads in (1, 2):
        key = f"warp_28x28_gray8_batch/warp_batch/{threads}"
        if key in crit:
            rows.append({"workload": label, "tool": "stn::warp_batch (criterion)",
                         "threads": threads, "images": n, **crit[key]})
    rows += [dict(r, images=n) for r in kernel_rows(crit, "warp_kernels_28x28_gray8_batch", label)]
    for threads in (1, 2):
        cv2.setNumThreads(threads)
        rows.append({"workload": label, "tool": "cv2.warpAffine, Python loop", "threads": threads,
                     "images": n, **stats(time_calls(cv2_loop, cfg["batch_runs"], 1))})
    if with_torch:
        rows += torch_batch_rows(label, digits, thetas, cfg)
    cv2.setNumThreads(os.cpu_count() or 1)
    return rows


def kernel_rows(crit, group, label):
    """The `warp_kernels` criterion groups: each kernel family stn supports on this
    CPU, forced, one thread (these exist only in benches that have them)."""
    rows = []
    for isa in ("scalar", "avx2", "avx512"):
        key = f"{group}/{isa}/1"
        if key in crit:
            rows.append({"workload": label, "tool": f"stn, {isa} kernel forced (criterion)",
                         "threads": 1, **crit[key]})
    return rows


def torch_sampler_rows(label, img, theta, cfg):
    """torch affine_grid + grid_sample on one image: float32 only, and from/to u8 HWC."""
    import torch
    import torch.nn.functional as F

    h, w, _ = img.shape
    t = torch.tensor([theta], dtype=torch.float32).view(1, 2, 3)
    u8 = torch.from_numpy(img)
    x = u8.permute(2, 0, 1).unsqueeze(0).float().contiguous()

    def f32():
        grid = F.affine_grid(t, [1, 3, h, w], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def with_u8():
        xf = u8.permute(2, 0, 1).unsqueeze(0).float()
        grid = F.affine_grid(t, [1, 3, h, w], align_corners=False)
        out = F.grid_sample(xf, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return out.round_().clamp_(0, 255).to(torch.uint8)[0].permute(1, 2, 0).contiguous()

    rows = []
    with torch.no_grad():
        for threads in (1, 2):
            torch.set_num_threads(threads)
            rows.append({"workload": label, "tool": "torch grid_sample f32", "threads": threads,
                         **stats(time_calls(f32, cfg["torch_runs"], 1))})
            rows.append({"workload": label, "tool": "torch grid_sample, u8 in/out",
                         "threads": threads, **stats(time_calls(with_u8, cfg["torch_runs"], 1))})
    return rows


def torch_batch_rows(label, digits, thetas, cfg):
    import numpy as np
    import torch
    import torch.nn.functional as F

    n = len(digits)
    x = torch.from_numpy(np.stack(digits)).float().unsqueeze(1)
    t = torch.tensor(thetas, dtype=torch.float32).view(n, 2, 3)

    def batched():
        grid = F.affine_grid(t, [n, 1, 28, 28], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    rows = []
    with torch.no_grad():
        for threads in (1, 2):
            torch.set_num_threads(threads)
            rows.append({"workload": label, "tool": "torch batched f32", "threads": threads,
                         "images": n, **stats(time_calls(batched, cfg["batch_runs"], 1))})
    return rows


# ---------------------------------------------------------------- end to end, 4K

def bench_e2e4k(cfg):
    """Section b: one 4K PNG in, warped, one PNG out."""
    import cv2

    big = DATA / "big_4k.png"
    OUT.mkdir(parents=True, exist_ok=True)
    theta = rts(*BENCH_RTS)
    theta_arg = "--theta=" + ",".join(repr(v) for v in theta)
    stn_cmd = [str(STN), "warp", theta_arg, str(big), "-o", str(OUT / "warp_4k_stn.png")]
    m = cv2_inverse_map(theta, 3840, 2160, 3840, 2160)
    cv2.setNumThreads(2)

    def python_opencv():
        img = cv2.imread(str(big), cv2.IMREAD_COLOR)
        out = cv2.warpAffine(img, m, (3840, 2160), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if not cv2.imwrite(str(OUT / "warp_4k_cv2.png"), out):
            raise RuntimeError("cv2.imwrite failed")

    python_start = [sys.executable, "-c", "import cv2, numpy"]
    print("e2e 4K", flush=True)
    run_timed(stn_cmd, "e2e4k.log")
    python_opencv()
    run_timed(python_start)
    stn_wall, stn_cpu, py_wall, start_wall = [], [], [], []
    for _ in range(cfg["e2e4k_runs"]):
        wall, cpu, _ = run_timed(stn_cmd, "e2e4k.log")
        stn_wall.append(wall)
        stn_cpu.append(cpu)
        py_wall += time_calls(python_opencv, 1, 0)
        start_wall.append(run_timed(python_start)[0])
    return [
        {"tool": "stn warp (whole process)", "threads": 2, **stats(stn_wall),
         "cpu": stats(stn_cpu)["median"]},
        {"tool": "Python: cv2.imread + warpAffine + cv2.imwrite (in-process)", "threads": 2,
         **stats(py_wall)},
        {"tool": "Python start-up + import cv2, numpy (not in the row above)", "threads": 1,
         **stats(start_wall)},
    ]


# ---------------------------------------------------------------- end to end, folder

def _init_worker():
    import cv2

    cv2.setNumThreads(1)


@lru_cache(maxsize=None)
def _folder_matrix(w, h):
    return cv2_inverse_map(rts(*BENCH_RTS), w, h, w, h)


def folder_task(job):
    """One image of the Python pipeline; returns this worker's CPU seconds for it.
    kind: 'warp' (Pillow decode, cv2 warp, Pillow encode) or 'codec' (no warp)."""
    import cv2
    import numpy as np
    from PIL import Image

    kind, src, dst, level = job
    t0 = time.process_time()
    with Image.open(src) as im:
        im.load()
        if kind == "warp":
            pixels = np.asarray(im)
            h, w = pixels.shape[:2]
            warped = cv2.warpAffine(pixels, _folder_matrix(w, h), (w, h),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            out = Image.fromarray(warped)
        else:
            out = im
        if dst.endswith(".jpg"):
            out.save(dst, format="JPEG", quality=90)
        elif level is None:
            out.save(dst, format="PNG")
        else:
            out.save(dst, format="PNG", compress_level=level)
    return time.process_time() - t0


def bench_folder(cfg):
    """Section c: a folder of PNGs through stn and through the Python pipelines."""
    src_dir = DATA / cfg["e2e_dir"]
    files = sorted(src_dir.glob("*.png"))
    n = len(files)

    def outdir(name):
        d = OUT / name
        shutil.rmtree(d, ignore_errors=True)  # no leftovers from runs over other folders
        d.mkdir(parents=True)
        return d

    def command(cmd, log):
        def run():
            wall, cpu, _ = run_timed(cmd, log)
            return wall, cpu
        return run

    pool = multiprocessing.get_context("spawn").Pool(2, initializer=_init_worker)

    def python(kind, name, level=None):
        d = outdir(name)
        jobs = [(kind, str(f), str(d / f.name), level) for f in files]

        def run():
            t0 = time.perf_counter()
            cpu = sum(pool.map(folder_task, jobs, chunksize=4))
            return time.perf_counter() - t0, cpu
        return run

    contenders = {
        "stn": ("stn rectify", command(
            [str(STN), "rectify", str(src_dir), "-o", str(outdir("rectify")), "--size", "640x480",
             "--overwrite", "-q"], "folder.log")),
        "scalar": ("diagnostic: stn rectify with STN_KERNEL=scalar", command(
            ["env", "STN_KERNEL=scalar", str(STN), "rectify", str(src_dir), "-o",
             str(outdir("rectify_scalar")), "--size", "640x480", "--overwrite", "-q"], "folder.log")),
        "floor": ("codec-only floor: image decode + PNG Fast encode + fsync'd rename (Rust, rayon)",
                  command([str(ROUNDTRIP), str(src_dir), str(outdir("roundtrip"))], "folder.log")),
        "floor_nosync": ("diagnostic: codec-only floor without fsync",
                         command([str(ROUNDTRIP), str(src_dir), str(outdir("roundtrip_nosync")),
                                  "--no-sync"], "folder.log")),
        "decode": ("diagnostic: decode only (Rust, rayon)",
                   command([str(ROUNDTRIP), str(src_dir), str(outdir("decode_only")),
                            "--decode-only"], "folder.log")),
        "predict": ("diagnostic: stn predict (decode + inference only, thetas to /dev/null)",
                    command([str(STN), "predict", str(src_dir), "-q"], "folder.log")),
        "python": ("Python: Pillow decode + cv2.warpAffine + Pillow encode, Pool(2)",
                   python("warp", "py_pipeline")),
        "python_codec": ("Python: Pillow decode + encode only, Pool(2)",
                         python("codec", "py_codec")),
        "python_l1": ("reference: the Python pipeline with Pillow compress_level=1",
                      python("warp", "py_pipeline_l1", level=1)),
    }
    try:
        print(f"folder: {n} images, warm-up round", flush=True)
        for _, run in contenders.values():
            run()
        walls = {k: [] for k in contenders}
        cpus = {k: [] for k in contenders}
        keys = list(contenders)
        for r in range(cfg["folder_rounds"]):
            print(f"folder: round {r + 1}/{cfg['folder_rounds']}", flush=True)
            order = keys[r % len(keys):] + keys[: r % len(keys)]
            for k in order:
                wall, cpu = contenders[k][1]()
                walls[k].append(wall)
                cpus[k].append(cpu)
    finally:
        pool.terminate()
        pool.join()

    rows = []
    for k, (label, _) in contenders.items():
        s = stats(walls[k])
        rows.append({"key": k, "tool": label, "images": n, **s,
                     "cpu": stats(cpus[k])["median"],
                     "round_ratio_stn": stats([b / a for a, b in zip(walls["stn"], walls[k])])})
    return rows


# ---------------------------------------------------------------- photo, jpegfolder

def prepare_photo_data():
    """The 4K photo as JPEG q90 (cv2.imwrite), PPM and PNG, each alone in a
    folder for the codec floor; 500 640x480 JPEG q90 photos (Pillow)."""
    import cv2
    from PIL import Image

    big = cv2.imread(str(DATA / "big_4k.png"), cv2.IMREAD_COLOR)
    for ext in ("jpg", "ppm", "png"):
        d = DATA / f"photo_{ext}"
        d.mkdir(exist_ok=True)
        f = d / f"photo.{ext}"
        if not f.exists():
            params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == "jpg" else []
            cv2.imwrite(str(f), big, params)
    jpgs = DATA / "e2e_jpg"
    jpgs.mkdir(exist_ok=True)
    for src in sorted((DATA / "e2e").glob("img_*.png")):
        dst = jpgs / (src.stem + ".jpg")
        if not dst.exists():
            with Image.open(src) as im:
                im.save(dst, format="JPEG", quality=90)
    return jpgs


BIG_PHOTOS = (4000, 3000, 24)


def prepare_big_photos():
    """24 photos of 4000x3000, JPEG q90 (cv2.imwrite): the 4K photo rotated by
    -10 to +9 degrees and scaled by 1.0 to 1.1 about its centre (reflected
    borders), then resized with INTER_AREA."""
    import cv2

    w, h, n = BIG_PHOTOS
    d = DATA / f"big_jpg_{w}x{h}"
    d.mkdir(exist_ok=True)
    big = None
    for i in range(n):
        f = d / f"photo_{i:03d}.jpg"
        if f.exists():
            continue
        if big is None:
            big = cv2.imread(str(DATA / "big_4k.png"), cv2.IMREAD_COLOR)
        m = cv2.getRotationMatrix2D((big.shape[1] / 2, big.shape[0] / 2), i * 7 % 20 - 10,
                                    1.0 + i % 3 * 0.05)
        im = cv2.warpAffine(big, m, (big.shape[1], big.shape[0]), borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(str(f), cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    return d


def psnr(a, b):
    import numpy as np

    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0 ** 2 / mse)


def bench_photo(cfg):
    """Section photo: one 4K photo, JPEG/PPM/PNG, stn vs OpenCV at 1 and 2 threads."""
    import cv2
    import numpy as np

    prepare_photo_data()
    OUT.mkdir(parents=True, exist_ok=True)
    theta = rts(*BENCH_RTS)
    theta_arg = "--theta=" + ",".join(repr(v) for v in theta)
    m = cv2_inverse_map(theta, 3840, 2160, 3840, 2160)
    rows = []
    quality = {}
    # OpenCV at its best, whatever ran before in this process: a freed
    # 30 MB mapping raises glibc's mmap threshold (to at most 32 MB), so the
    # 25 MB images of the runs below come from the heap, already faulted in,
    # instead of fresh mappings. In a fresh process OpenCV's JPEG run took
    # 103.8 / 90.4 ms at 1 / 2 threads, after this 87.5 / 75.0 ms (Zen 3,
    # BENCHMARKS.md session 14), so without it section e's OpenCV times
    # depended on the sections run before it.
    primer = np.ones(30 << 20, np.uint8)
    del primer
    # Bilinear in every format; bicubic (against INTER_CUBIC) in JPEG and PPM.
    for ext, interp in (("jpg", "bilinear"), ("ppm", "bilinear"), ("png", "bilinear"),
                        ("jpg", "bicubic"), ("ppm", "bicubic")):
        src = DATA / f"photo_{ext}" / f"photo.{ext}"
        params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == "jpg" else []
        suffix = "" if interp == "bilinear" else f"_{interp}"
        cv_interp = cv2.INTER_LINEAR if interp == "bilinear" else cv2.INTER_CUBIC
        for threads in (1, 2):
            stn_out = OUT / f"photo_stn_{threads}{suffix}.{ext}"
            stn_cmd = [str(STN), "-j", str(threads), "warp", theta_arg, "--interp", interp,
                       str(src), "-o", str(stn_out)]
            floor_dir = OUT / f"photo_floor_{ext}"
            floor_dir.mkdir(exist_ok=True)
            floor_cmd = [str(ROUNDTRIP), str(src.parent), str(floor_dir), "--jobs", str(threads)]

            def opencv():
                cv2.setNumThreads(threads)
                img = cv2.imread(str(src), cv2.IMREAD_COLOR)
                out = cv2.warpAffine(img, m, (3840, 2160),
                                     flags=cv_interp | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                if not cv2.imwrite(str(OUT / f"photo_cv2{suffix}.{ext}"), out, params):
                    raise RuntimeError("cv2.imwrite failed")
                return out

            print(f"photo: {ext}, {interp}, {threads} thread(s)", flush=True)
            run_timed(stn_cmd, "photo.log")
            run_timed(floor_cmd, "photo.log")
            opencv()
            walls = {"stn": [], "cv2": [], "floor": []}
            cpus = {"stn": [], "floor": []}
            for _ in range(cfg["e2e4k_runs"]):
                for k, cmd in (("stn", stn_cmd), ("floor", floor_cmd)):
                    settle()
                    wall, cpu, _ = run_timed(cmd, "photo.log")
                    walls[k].append(wall)
                    cpus[k].append(cpu)
                settle()
                walls["cv2"] += time_calls(opencv, 1, 0)
            rows.append({"format": ext, "interp": interp, "threads": threads,
                         "stn": {**stats(walls["stn"]), "cpu": stats(cpus["stn"])["median"]},
                         "cv2": stats(walls["cv2"]),
                         "floor": {**stats(walls["floor"]), "cpu": stats(cpus["floor"])["median"]},
                         "paired": stats([c / s for c, s in zip(walls["cv2"], walls["stn"])])})
        if interp != "bilinear":
            continue
        if ext == "jpg":
            cv2.setNumThreads(2)
            cv_warp = opencv()
            run_timed([str(STN), "warp", theta_arg, str(src), "-o", str(OUT / "photo_stn_ref.ppm")])
            stn_ref = cv2.imread(str(OUT / "photo_stn_ref.ppm"), cv2.IMREAD_COLOR)
            stn_jpg = OUT / "photo_stn_2.jpg"
            cv_jpg = OUT / "photo_cv2.jpg"
            quality["jpg"] = {
                "stn_bytes": stn_jpg.stat().st_size, "cv2_bytes": cv_jpg.stat().st_size,
                "stn_psnr": psnr(cv2.imread(str(stn_jpg)), stn_ref),
                "cv2_psnr": psnr(cv2.imread(str(cv_jpg)), cv_warp),
                "warps_psnr": psnr(stn_ref, cv_warp),
                # The encoders alone: OpenCV encoding stn's own unencoded warp.
                "cv2_on_stn_bytes": len(cv2.imencode(".jpg", stn_ref,
                                                     [cv2.IMWRITE_JPEG_QUALITY, 90])[1])}
        if ext == "ppm":
            head = (OUT / "photo_stn_2.ppm").read_bytes()[:16]
            stn_img = cv2.imread(str(OUT / "photo_stn_2.ppm"), cv2.IMREAD_COLOR)
            cv_img = cv2.imread(str(OUT / "photo_cv2.ppm"), cv2.IMREAD_COLOR)
            diff = np.abs(stn_img.astype(np.int16) - cv_img.astype(np.int16))
            quality["ppm"] = {"magic": head[:2].decode(), "max_diff": int(diff.max()),
                              "share_diff": float((diff.max(axis=2) > 0).mean())}
    return {"rows": rows, "quality": quality}


def bench_jpegfolder(cfg):
    """Section jpegfolder: 500 640x480 JPEG q90 photos through stn rectify,
    the Python pipeline and stn's JPEG codec floor."""
    src_dir = prepare_photo_data()
    files = sorted(src_dir.glob("*.jpg"))[: cfg["e2e_images"]]
    if cfg["e2e_images"] < len(list(src_dir.glob("*.jpg"))):
        sub = DATA / "e2e_jpg_quick"
        sub.mkdir(exist_ok=True)
        for f in files:
            if not (sub / f.name).exists():
                os.link(f, sub / f.name)
        src_dir = sub
    return jpeg_folder_rows(cfg, "jpegfolder", src_dir, files, (640, 480))


def bench_bigjpegfolder(cfg):
    """Section bigjpegfolder: the jpegfolder contenders over 24 12-MP photos."""
    prepare_photo_data()
    src_dir = prepare_big_photos()
    files = sorted(src_dir.glob("*.jpg"))
    rounds = 3 if cfg["folder_rounds"] < 7 else 5
    return jpeg_folder_rows(dict(cfg, folder_rounds=rounds), "bigjpegfolder", src_dir, files,
                            BIG_PHOTOS[:2])


def jpeg_folder_rows(cfg, name, src_dir, files, size):
    """stn rectify (JPEG q90 out), stn's codec floor and the Python pipeline
    over the JPEG photos `files` in `src_dir` (all of it), alternating."""
    n = len(files)

    def outdir(name):
        d = OUT / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        return d

    def command(cmd):
        def run():
            wall, cpu, _ = run_timed(cmd, f"{name}.log")
            return wall, cpu
        return run

    pool = multiprocessing.get_context("spawn").Pool(2, initializer=_init_worker)

    def python():
        d = outdir(f"{name}_py")
        jobs = [("warp", str(f), str(d / f.name), None) for f in files]

        def run():
            t0 = time.perf_counter()
            cpu = sum(pool.map(folder_task, jobs, chunksize=4))
            return time.perf_counter() - t0, cpu
        return run

    contenders = {
        "stn": ("stn rectify (JPEG q90 out)", command(
            [str(STN), "rectify", str(src_dir), "-o", str(outdir(f"{name}_rectify")), "--size",
             f"{size[0]}x{size[1]}", "--overwrite", "-q"])),
        "floor": ("codec-only floor: stn's decode + JPEG q90 encode + fsync'd rename (Rust, rayon)",
                  command([str(ROUNDTRIP), str(src_dir), str(outdir(f"{name}_roundtrip"))])),
        "python": ("Python: Pillow decode + cv2.warpAffine + Pillow encode q90, Pool(2)", python()),
    }
    try:
        print(f"{name}: {n} images, warm-up round", flush=True)
        for _, run in contenders.values():
            run()
        walls = {k: [] for k in contenders}
        cpus = {k: [] for k in contenders}
        keys = list(contenders)
        for r in range(cfg["folder_rounds"]):
            print(f"{name}: round {r + 1}/{cfg['folder_rounds']}", flush=True)
            for k in keys[r % len(keys):] + keys[: r % len(keys)]:
                settle()
                wall, cpu = contenders[k][1]()
                walls[k].append(wall)
                cpus[k].append(cpu)
    finally:
        pool.terminate()
        pool.join()
    rows = []
    for k, (label, _) in contenders.items():
        rows.append({"key": k, "tool": label, "images": n, "size": list(size), **stats(walls[k]),
                     "cpu": stats(cpus[k])["median"],
                     "round_ratio_stn": stats([b / a for a, b in zip(walls["stn"], walls[k])])})
    return rows


# ---------------------------------------------------------------- memory

def peak_rss(cmd):
    """Runs cmd under /usr/bin/time -v; returns (peak RSS in MiB, wall seconds)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    elapsed = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    hours, minutes, seconds = elapsed.groups()
    wall = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    return kb / 1024, wall


def bench_memory(cfg):
    """Section d: peak RSS of stn rectify over growing folders."""
    rows = []
    base, _ = peak_rss([str(STN), "model", "info"])
    rows.append({"images": 0, "tool": "stn model info (ONNX Runtime loaded, no images)",
                 "rss": stats([base]), "wall": stats([0.0])})
    for n in cfg["memory_sets"]:
        print(f"memory: {n} images", flush=True)
        out = OUT / f"mem_{n}"
        rss, walls = [], []
        for _ in range(cfg["memory_runs"]):
            shutil.rmtree(out, ignore_errors=True)
            mib, wall = peak_rss([str(STN), "rectify", str(DATA / f"mem_{n}"), "-o", str(out),
                                  "--size", "320x240", "--overwrite", "-q"])
            rss.append(mib)
            walls.append(wall)
        shutil.rmtree(out, ignore_errors=True)
        rows.append({"images": n, "tool": "stn rectify --size 320x240",
                     "rss": stats(rss), "wall": stats(walls)})
    return rows


# ---------------------------------------------------------------- report

def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report_sampler(rows):
    out = ["## a. Sampler (in memory; time per image, or per batch of 4096)", ""]
    body = []
    for r in rows:
        ref = next((c for c in rows if c["workload"] == r["workload"]
                    and c["tool"].startswith("cv2") and c["threads"] == r["threads"]), None)
        ratio = f"{r['median'] / ref['median']:.2f}" if ref else "–"
        rate = (f"{r['images'] / r['median']:,.0f} img/s" if "images" in r
                else f"{3840 * 2160 / r['median'] / 1e6:.0f} Mpx/s" if r["workload"].startswith("3840")
                else f"{1920 * 1080 / r['median'] / 1e6:.0f} Mpx/s")
        body.append([r["workload"], r["tool"], r["threads"], fmt_time(r["median"]),
                     fmt_range(r["q1"], r["q3"]), fmt_range(r["min"], r["max"]), r["n"], rate, ratio])
    out.append(table(["workload", "implementation", "threads", "median", "IQR", "min – max", "n",
                      "throughput", "time ÷ cv2 (same threads)"], body))
    return out


def report_e2e4k(rows):
    ref = rows[1]["median"]
    out = ["## b. End to end, one 3840×2160 PNG → warp → PNG", ""]
    body = []
    for r in rows:
        cpu = fmt_time(r["cpu"]) if "cpu" in r else "–"
        ratio = f"{r['median'] / ref:.2f}" if r is not rows[2] else "–"
        body.append([r["tool"], r["threads"], fmt_time(r["median"]), fmt_range(r["q1"], r["q3"]),
                     fmt_range(r["min"], r["max"]), r["n"], cpu, ratio])
    out.append(table(["implementation", "threads", "median wall", "IQR", "min – max", "n",
                      "CPU (user+sys)", "time ÷ Python"], body))
    return out


def report_folder(rows):
    n = rows[0]["images"]
    by = {r["key"]: r for r in rows}
    out = [f"## c. End to end, folder of {n} PNG 640×480 RGB → warp → PNG", ""]
    body = []
    for r in rows:
        rr = r["round_ratio_stn"]
        ratio = "–"
        if r["key"] != "stn":
            ratio = f"{r['median'] / by['stn']['median']:.2f} ({rr['min']:.2f} – {rr['max']:.2f})"
        body.append([r["tool"], fmt_rate(n / r["median"]),
                     f"{fmt_rate(n / r['max'])} – {fmt_rate(n / r['min'])}", fmt_time(r["median"]),
                     r["n"], f"{r['cpu'] / r['median'] * 100:.0f} %", ratio])
    out.append(table(["implementation", "images/s (median)", "images/s (min – max)", "wall (median)",
                      "n", "CPU use", "stn speed ÷ this (per-round range)"], body))
    return out


def report_memory(rows):
    out = ["## d. Memory: peak RSS of stn rectify", ""]
    body = []
    for r in rows:
        s = r["rss"]
        rate = fmt_rate(r["images"] / r["wall"]["median"]) if r["images"] else "–"
        body.append([f"{r['images']:,}", r["tool"], f"{s['median']:.1f} MiB",
                     f"{s['min']:.1f} – {s['max']:.1f} MiB", s["n"], rate])
    out.append(table(["images", "command", "peak RSS (median)", "min – max", "n", "images/s"], body))
    return out


def report_photo(res):
    out = ["## e. End to end, one 3840×2160 photo: JPEG (q90), PPM, PNG; bilinear and bicubic", "",
           "stn: the whole `stn -j T warp` process; OpenCV: cv2.imread + warpAffine + cv2.imwrite "
           "in this process (start-up not included; its allocator primed first, so that "
           "OpenCV's image buffers come from the heap: OpenCV at its best); floor: "
           "codec_roundtrip (stn's decode + "
           "encode + fsync'd rename, no warp) on that one file, whole process. Each timed run "
           "after an untimed os.sync().", ""]
    body = []
    for r in res["rows"]:
        body.append([r["format"], r.get("interp", "bilinear"), r["threads"],
                     fmt_time(r["stn"]["median"]),
                     fmt_range(r["stn"]["min"], r["stn"]["max"]), fmt_time(r["stn"]["cpu"]),
                     fmt_time(r["cv2"]["median"]), fmt_range(r["cv2"]["min"], r["cv2"]["max"]),
                     f"{r['cv2']['median'] / r['stn']['median']:.2f}×",
                     fmt_time(r["floor"]["median"]),
                     f"{r['stn']['median'] / r['floor']['median']:.2f}×"])
    out.append(table(["format", "kernel", "threads", "stn (median)", "stn min – max", "stn CPU",
                      "OpenCV (median)",
                      "OpenCV min – max", "OpenCV ÷ stn", "floor (median)", "stn ÷ floor"], body))
    q = res["quality"]
    if "jpg" in q:
        j = q["jpg"]
        out += ["", f"JPEG q90 output: stn {j['stn_bytes']:,} bytes, PSNR {j['stn_psnr']:.2f} dB against "
                f"stn's unencoded warp; OpenCV {j['cv2_bytes']:,} bytes, PSNR {j['cv2_psnr']:.2f} dB "
                f"against its own (the two unencoded warps differ by PSNR {j['warps_psnr']:.1f} dB). "
                f"OpenCV encoding stn's unencoded warp at q90: {j['cv2_on_stn_bytes']:,} bytes."]
    if "ppm" in q:
        p = q["ppm"]
        out += ["", f"PPM output: magic `{p['magic']}`; largest difference from OpenCV's output "
                f"{p['max_diff']} grey level(s), on {p['share_diff'] * 100:.2f} % of the pixels."]
    return out


def report_jpegfolder(rows, letter="f", note=None):
    n = rows[0]["images"]
    w, h = rows[0].get("size", (640, 480))
    by = {r["key"]: r for r in rows}
    out = [f"## {letter}. End to end, folder of {n} JPEG (q90) {w}×{h} photos → warp → JPEG q90", ""]
    if note:
        out += [note, ""]
    body = []
    for r in rows:
        rr = r["round_ratio_stn"]
        ratio = "–"
        if r["key"] != "stn":
            ratio = f"{r['median'] / by['stn']['median']:.2f} ({rr['min']:.2f} – {rr['max']:.2f})"
        body.append([r["tool"], fmt_rate(n / r["median"]),
                     f"{fmt_rate(n / r['max'])} – {fmt_rate(n / r['min'])}", fmt_time(r["median"]),
                     r["n"], f"{r['cpu'] / r['median'] * 100:.0f} %", ratio])
    out.append(table(["implementation", "images/s (median)", "images/s (min – max)", "wall (median)",
                      "n", "CPU use", "stn speed ÷ this (per-round range)"], body))
    return out


def report_bigjpegfolder(rows):
    return report_jpegfolder(
        rows, "f2", "Not a target of issue 11: phone-sized photos, where decoding and encoding "
        "(the same libjpeg-turbo in both pipelines) are most of the work, bound what any warp "
        "can gain.")


def sampler_targets(rows):
    """Sampler rows of the targets table: stn at least 2× cv2.warpAffine's
    throughput at 1 and 2 threads on the RGB workloads; at least 1,000,000
    images/s on the 28×28 batch at 1 thread."""
    out = []
    by = {(r["workload"], r["tool"], r["threads"]): r for r in rows}
    for workload in ("3840×2160 RGB u8", "1920×1080 RGB u8"):
        for threads in (1, 2):
            stn = by.get((workload, "stn (criterion)", threads))
            cv2 = by.get((workload, "cv2.warpAffine", threads))
            if not (stn and cv2):
                continue
            ratio = cv2["median"] / stn["median"]
            out.append([f"sampler ≥ 2× cv2.warpAffine, {workload}, {threads} thread(s)",
                        f"{ratio:.2f}× ({fmt_time(stn['median'])} vs {fmt_time(cv2['median'])})",
                        "PASS" if ratio >= 2 else "FAIL"])
    batch = by.get(("4096 × 28×28 grey u8, own theta each", "stn (criterion)", 1))
    if batch:
        rate = 4096 / batch["median"]
        out.append(["sampler ≥ 1,000,000 images/s, 28×28 grey batch, 1 thread",
                    f"{rate:,.0f} images/s", "PASS" if rate >= 1e6 else "FAIL"])
    return out


def targets(results):
    """(target, measured, verdict) rows for the targets of issue 5."""
    rows = []
    if "sampler" in results:
        rows += sampler_targets(results["sampler"])
    if "folder" in results:
        by = {r["key"]: r for r in results["folder"]}
        stn, py, floor = by["stn"], by["python"], by["floor"]
        speedup = py["median"] / stn["median"]
        paired = stats([p / s for p, s in zip(py["samples"], stn["samples"])])
        rows.append(["stn rectify ≥ 5× the Python pipeline (images/s)",
                     f"{speedup:.2f}× (paired rounds: median {paired['median']:.2f}×, "
                     f"{paired['min']:.2f} – {paired['max']:.2f})",
                     "PASS" if speedup >= 5 else "FAIL"])
        over = stn["median"] / floor["median"]
        paired = stats([s / f for s, f in zip(stn["samples"], floor["samples"])])
        rows.append(["stn rectify ≤ 1.15× the codec-only floor (time)",
                     f"{over:.2f}×, {(over - 1) * 100:+.0f} % above the floor (paired rounds: median "
                     f"{paired['median']:.2f}×, {paired['min']:.2f} – {paired['max']:.2f})",
                     "PASS" if over <= 1.15 else "FAIL"])
        if "floor_nosync" in by:
            bare = stn["median"] / by["floor_nosync"]["median"]
            rows.append(["(stricter, not the issue's) stn rectify ≤ 1.15× the floor without fsync",
                         f"{bare:.2f}×, {(bare - 1) * 100:+.0f} %",
                         "PASS" if bare <= 1.15 else "FAIL"])
    if "photo" in results:
        for r in results["photo"]["rows"]:
            ratio = r["cv2"]["median"] / r["stn"]["median"]
            kernel = r.get("interp", "bilinear")
            rows.append([f"stn warp ≥ 1.5× OpenCV end to end, 4K {r['format'].upper()} {kernel}, "
                         f"{r['threads']} thread(s)",
                         f"{ratio:.2f}× ({fmt_time(r['stn']['median'])} vs "
                         f"{fmt_time(r['cv2']['median'])})", "PASS" if ratio >= 1.5 else "FAIL"])
            over = r["stn"]["median"] / r["floor"]["median"]
            rows.append([f"stn warp ≤ 1.3× its codec floor, 4K {r['format'].upper()} {kernel}, "
                         f"{r['threads']} thread(s)", f"{over:.2f}×", "PASS" if over <= 1.3 else "FAIL"])
        j = results["photo"]["quality"].get("jpg")
        if j:
            ok = j["stn_bytes"] <= j["cv2_bytes"] and j["stn_psnr"] >= j["cv2_psnr"] - 1
            rows.append(["JPEG q90: stn's file no larger than OpenCV's, PSNR within 1 dB",
                         f"{j['stn_bytes']:,} vs {j['cv2_bytes']:,} bytes "
                         f"({(j['stn_bytes'] / j['cv2_bytes'] - 1) * 100:+.3f} %); "
                         f"{j['stn_psnr']:.2f} vs {j['cv2_psnr']:.2f} dB",
                         "PASS" if ok else "FAIL"])
    if "jpegfolder" in results:
        by = {r["key"]: r for r in results["jpegfolder"]}
        speedup = by["python"]["median"] / by["stn"]["median"]
        rows.append(["stn rectify ≥ 2× the Python pipeline, 500 JPEG photos",
                     f"{speedup:.2f}×", "PASS" if speedup >= 2 else "FAIL"])
        over = by["stn"]["median"] / by["floor"]["median"]
        rows.append(["stn rectify ≤ 1.2× its JPEG codec floor", f"{over:.2f}×",
                     "PASS" if over <= 1.2 else "FAIL"])
    if "memory" in results:
        mem = [r for r in results["memory"] if r["images"]]
        peak = max(r["rss"]["max"] for r in mem)
        rows.append(["peak RSS ≤ 150 MB (MiB here; 150 MB = 143 MiB)", f"{peak:.1f} MiB (worst run)",
                     "PASS" if peak * 2**20 <= 150e6 else "FAIL"])
        small, large = mem[0], mem[-1]
        growth = large["rss"]["median"] / small["rss"]["median"] - 1
        sizes = f"{small['images']:,} → {large['images']:,} images"
        rows.append([f"no growth with folder size ({sizes}; ≤ 10 %)",
                     f"{growth * 100:+.1f} %", "PASS" if growth <= 0.10 else "FAIL"])
    return rows


def render(info, results, elapsed):
    lines = ["# stn benchmarks", "",
             f"- date: {info['date']} ({info['mode']} run, {elapsed / 60:.0f} min)",
             f"- machine: {info['cpu']}, {info['cpus']} CPUs"
             + (f" ({info['hypervisor']} guest)" if info["hypervisor"] else "")
             + f", {info['memory_gib']} GiB; load average at start "
             + "/".join(f"{x:.2f}" for x in info["load_start"])
             + ", at end " + "/".join(f"{x:.2f}" for x in info["load_end"]),
             f"- stn {info['stn']}, sampler kernel {info['kernel']}; {info['rustc']}",
             f"- Python {info['python']}, OpenCV {info['opencv']}, Pillow {info['pillow']}, "
             f"numpy {info['numpy']}" + (f", torch {info['torch']}" if "torch" in info else ""),
             "- medians; IQR = 25th–75th percentile; ratios from the same run; "
             "\"others\" = CPU time of other processes on the machine during a section", ""]
    for name, fn in (("sampler", report_sampler), ("e2e4k", report_e2e4k),
                     ("folder", report_folder), ("memory", report_memory),
                     ("photo", report_photo), ("jpegfolder", report_jpegfolder),
                     ("bigjpegfolder", report_bigjpegfolder),
                     ("families", report_families)):
        if name in results:
            section = fn(results[name])
            section.insert(1, f"\nOther processes used {info['others'][name] * 100:.0f} % of the "
                              "machine's CPU time during this section.")
            lines += section + [""]
    t = targets(results)
    if t:
        lines += ["## Targets", "", table(["target", "measured", "verdict"], t), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- families

def bench_families(cfg, with_torch):
    """Section families: scripts/bench_families.py's measurements (issue 10)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_families as fam

    c = {"criterion_args": cfg["criterion_args"], "cv2_runs": 5 if cfg["criterion_args"] else 20,
         "crops": 1000 if cfg["criterion_args"] else fam.CROPS,
         "rounds": 2 if cfg["criterion_args"] else 5}
    return {"sampler": fam.sampler(c), "crops": fam.crops(c, with_torch)}


def report_families(res):
    """bench_families.py's tables and targets, under this report's header."""
    import bench_families as fam

    info = {"date": "this run", "cpu": "as above", "cpus": os.cpu_count(), "load": os.getloadavg()}
    text = fam.report(info, res["sampler"], res["crops"])
    body = text[text.index("## 3840"):].replace("\n## ", "\n### ").replace("## 3840", "### 3840", 1)
    return ["## g. Transform families (issue 10)", "", body]


# ---------------------------------------------------------------- main

def settings(quick):
    if quick:
        return {"criterion_args": ["--warm-up-time", "1", "--measurement-time", "2"],
                "cv2_runs": 8, "pillow_runs": 3, "torch_runs": 3, "batch_runs": 5,
                "e2e4k_runs": 3, "e2e_images": 100, "e2e_dir": "e2e_quick", "folder_rounds": 2,
                "memory_sets": [500, 2000], "memory_runs": 1}
    return {"criterion_args": [],
            "cv2_runs": 30, "pillow_runs": 10, "torch_runs": 7, "batch_runs": 15,
            "e2e4k_runs": 7, "e2e_images": 500, "e2e_dir": "e2e", "folder_rounds": 7,
            "memory_sets": [1000, 10000], "memory_runs": 3}


def main():
    args = parse_args()
    if not in_venv():
        bootstrap(args)  # does not return
    t0 = time.time()
    for d in (DATA, OUT, LOGS):
        d.mkdir(parents=True, exist_ok=True)
    if not args.skip_build:
        build()
    cfg = settings(args.quick)
    info = machine_info(args)
    prepare_data(cfg)
    results = {}
    info["others"] = {}
    sections = {"sampler": lambda: bench_sampler(cfg, args.torch), "e2e4k": lambda: bench_e2e4k(cfg),
                "folder": lambda: bench_folder(cfg), "memory": lambda: bench_memory(cfg),
                "photo": lambda: bench_photo(cfg), "jpegfolder": lambda: bench_jpegfolder(cfg),
                "bigjpegfolder": lambda: bench_bigjpegfolder(cfg),
                "families": lambda: bench_families(cfg, args.torch)}
    for name, run in sections.items():
        if name in args.only:
            with MachineShare() as share:
                results[name] = run()
            info["others"][name] = share.others
    info["load_end"] = os.getloadavg()
    text = render(info, results, time.time() - t0)
    (BENCH / "results.md").write_text(text + "\n")
    (BENCH / "results.json").write_text(json.dumps({"info": info, "results": results}, indent=1))
    print()
    print(text)


if __name__ == "__main__":
    main()
