#!/usr/bin/env python3
"""Section e of BENCHMARKS.md: `--shard` on one machine, and the cost of a
million-line path list. Standard library only; conventions of bench.py
(release binaries, data in .bench/, medians with IQR and min-max, rounds
interleaved so that a shared machine's noise falls on both contenders, the
other processes' share of the CPU measured during the run).

Usage:
    python3 scripts/bench_shard.py [--rounds 9] [--images 500] [--lines 1000000] [--skip-build]

1. throughput: the same folder of 640x480 RGB PNGs (16 distinct noisy
   images hard-linked under --images names) rectified
     A. by one process:            stn -j 2 rectify IN -o A --size 640x480
     B. by two shards at once:     stn -j 1 rectify IN -o B --size 640x480 --shard 0/2
                                   stn -j 1 rectify IN -o B --size 640x480 --shard 1/2
   in each round A then B or B then A (alternating), every run with
   --overwrite; the ratio wall(A) / wall(B) is taken per round.
2. list: a --lines-line path list on standard input.
     a. examples/shard_filter 0/8: read the list, mirror each path as
        `rectify -` does, hash it, keep shard 0's (no file touched);
     b. the whole binary on real files: `stn rectify - -o OUT --shard 0/100000`
        over a tree of --lines hard links to one 28x28 PNG, so that the
        shard's own work is a handful of images and the time is start-up,
        ONNX Runtime, reading the list, checking every file (stat,
        canonical path, collision checks) and hashing.
   Set against the time the single process of part 1 would take to rectify
   that many files at its measured rate.
"""

import argparse
import datetime
import os
import platform
import random
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

from bench import MachineShare  # other processes' share of the CPU during a block

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench" / "shard"
STN = ROOT / "target" / "release" / "stn"
FILTER = ROOT / "target" / "release" / "examples" / "shard_filter"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--list-runs", type=int, default=5)
    p.add_argument("--skip-build", action="store_true")
    return p.parse_args()


def png(path, width, height, rows):
    """Writes 8-bit RGB rows (bytes, width*3 each) as a PNG."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + r for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def noisy(seed, w, h):
    """A smooth colour field with ±16 of noise: decodes like a photo, roughly."""
    rnd = random.Random(seed)
    noise = rnd.randbytes(w * h * 3)
    fx, fy = rnd.uniform(0.5, 2.0), rnd.uniform(0.5, 2.0)
    rows = []
    for y in range(h):
        base = [int(128 + 100 * ((x * fx + y * fy) % w) / w) for x in range(w)]
        off = y * w * 3
        rows.append(bytes(
            max(0, min(255, base[i // 3] + (i % 3) * 20 - 20 + (noise[off + i] >> 3) - 16))
            for i in range(w * 3)))
    return rows


def link_tree(directory, sources, names):
    directory.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        dst = directory / name
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(sources[i % len(sources)], dst)


def prepare(args):
    pool = BENCH / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    sources = []
    for i in range(16):
        p = pool / f"src_{i:02d}.png"
        if not p.exists():
            png(p, 640, 480, noisy(100 + i, 640, 480))
        sources.append(p)
    folder = BENCH / f"folder_{args.images}"
    link_tree(folder, sources, [f"img_{i:05d}.png" for i in range(args.images)])
    # Copies of one digit, each under the file system's link limit (65,000 on ext4).
    digits = []
    for k in range(max(1, args.lines // 50_000 + 1)):
        digits.append(pool / f"digit_{k:03d}.png")
        if not digits[-1].exists():
            shutil.copyfile(ROOT / "models" / "samples" / "mnist" / "d0_058.png", digits[-1])
    names = [f"b{i // 1000:04d}/img_{i:07d}.png" for i in range(args.lines)]
    big = BENCH / f"links_{args.lines}"
    stamp = big / ".complete"
    t0 = time.perf_counter()
    if not stamp.exists():
        print(f"making {args.lines} hard links in {big.relative_to(ROOT)}", flush=True)
        link_tree(big, digits, names)
        stamp.write_text("ok\n")
    made = time.perf_counter() - t0
    listing = BENCH / f"list_{args.lines}.txt"
    listing.write_text("".join(f"{big.relative_to(BENCH)}/{n}\n" for n in names))
    return folder, listing, made


def stats(values):
    v = sorted(values)
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return {"median": statistics.median(v), "q1": q[0], "q3": q[2], "min": v[0], "max": v[-1],
            "n": len(v)}


def run_together(cmds, stdin_path=None):
    """Starts the commands at once in .bench/shard (the list's paths are relative
    to it); returns (wall until the last ends, CPU seconds, [(stdout, stderr)])."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = []
    for c in cmds:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        procs.append((subprocess.Popen(c, stdin=stdin, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, cwd=BENCH), stdin))
    outs = []
    for p, stdin in procs:
        out, err = p.communicate()
        if stdin_path:
            stdin.close()
        if p.returncode not in (0,):
            raise RuntimeError(f"{p.args} exited {p.returncode}: {err.decode()[-2000:]}")
        outs.append((out.decode(), err.decode()))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, outs


def throughput(args, folder):
    a_out, b_out = BENCH / "out_single", BENCH / "out_sharded"
    common = ["rectify", str(folder), "--size", "640x480", "--overwrite", "-q"]
    single = [[str(STN), "-j", "2", *common, "-o", str(a_out)]]
    sharded = [[str(STN), "-j", "1", *common, "-o", str(b_out), "--shard", f"{i}/2"]
               for i in range(2)]
    for d in (a_out, b_out):
        shutil.rmtree(d, ignore_errors=True)
    run_together(single)  # warm-up: page cache, ONNX Runtime, output tree
    run_together(sharded)
    walls = {"single": [], "sharded": []}
    cpus = {"single": [], "sharded": []}
    ratios = []
    for r in range(args.rounds):
        order = ["single", "sharded"] if r % 2 == 0 else ["sharded", "single"]
        got = {}
        for kind in order:
            wall, cpu, _ = run_together(single if kind == "single" else sharded)
            got[kind] = wall
            walls[kind].append(wall)
            cpus[kind].append(cpu)
        ratios.append(got["single"] / got["sharded"])
        print(f"round {r + 1}/{args.rounds}: single {got['single']:.3f} s, "
              f"2 shards {got['sharded']:.3f} s", flush=True)
    counts = []
    for i in range(2):
        _, _, outs = run_together([[str(STN), "-j", "1", "rectify", str(folder), "--size", "640x480",
                                    "-o", str(BENCH / "out_count"), "--overwrite", "--shard",
                                    f"{i}/2"]])
        counts.append(outs[0][1].strip().splitlines()[-1])
    same = all((a_out / n).read_bytes() == (b_out / n).read_bytes()
               for n in sorted(os.listdir(a_out)))
    return {"walls": {k: stats(v) for k, v in walls.items()},
            "cpu": {k: statistics.median(v) for k, v in cpus.items()},
            "ratio": stats(ratios), "summaries": counts, "identical": same}


def list_cost(args, listing):
    runs = []
    kept = None
    for _ in range(args.list_runs):
        wall, cpu, outs = run_together([[str(FILTER), "0/8"]], stdin_path=listing)
        lines, kept, inner = outs[0][0].split()
        runs.append((wall, float(inner), cpu))
    filt = {"wall": stats([r[0] for r in runs]), "inner": stats([r[1] for r in runs]),
            "cpu": statistics.median(r[2] for r in runs), "kept": int(kept)}
    whole = []
    summary = ""
    out = BENCH / "out_list"
    for _ in range(max(3, args.list_runs // 2)):
        cmd = [str(STN), "-j", "2", "rectify", "-", "-o", str(out), "--overwrite",
               "--shard", "0/100000"]
        wall, cpu, outs = run_together([cmd], stdin_path=listing)
        whole.append((wall, cpu))
        summary = outs[0][1].strip().splitlines()[-1]
    # Start-up alone: ONNX Runtime and the model, on a one-line list.
    one = BENCH / "one_line.txt"
    one.write_text(listing.read_text().split("\n", 1)[0] + "\n")
    startup = [run_together([[str(STN), "-j", "2", "rectify", "-", "-o", str(out),
                              "--overwrite", "-q"]], stdin_path=one)[:2] for _ in range(5)]
    return {"filter": filt, "whole": stats([w for w, _ in whole]),
            "whole_cpu": statistics.median(c for _, c in whole), "summary": summary,
            "startup": stats([w for w, _ in startup]),
            "startup_cpu": statistics.median(c for _, c in startup)}


def fmt(s):
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def main():
    args = parse_args()
    if not args.skip_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "stn", "--example", "shard_filter"],
                       cwd=ROOT, check=True)
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    load0 = os.getloadavg()
    folder, listing, made = prepare(args)
    t0 = time.time()
    with MachineShare() as s1:
        tp = throughput(args, folder)
    with MachineShare() as s2:
        lc = list_cost(args, listing)
    rate = args.images / tp["walls"]["single"]["median"]
    million = args.lines / rate
    cpu_per_image = tp["cpu"]["single"] / args.images
    w, r = tp["walls"], tp["ratio"]
    f, wh = lc["filter"], lc["whole"]
    lines = [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{time.time() - t0:.0f} s; stn {rev}",
        f"- machine: {fields.get('Model name', platform.processor()).strip()}, "
        f"{fields.get('CPU(s)', '?').strip()} CPUs ({fields.get('Hypervisor vendor', 'bare').strip()} "
        f"guest); load average at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
        f"at end {os.getloadavg()[0]:.2f}",
        f"- other processes used {100 * s1.others:.0f} % of the machine's CPU during part 1, "
        f"{100 * s2.others:.0f} % during part 2",
        "",
        f"1. {args.images} PNG 640×480 RGB, `rectify --size 640x480`, {args.rounds} rounds:",
        "",
        "| run | wall (median) | IQR | min – max | CPU (median) | images/s |",
        "|---|---|---|---|---|---|",
        f"| one process, `-j 2` | {fmt(w['single']['median'])} | {fmt(w['single']['q1'])} – "
        f"{fmt(w['single']['q3'])} | {fmt(w['single']['min'])} – {fmt(w['single']['max'])} | "
        f"{fmt(tp['cpu']['single'])} | {args.images / w['single']['median']:.0f} |",
        f"| two processes `-j 1 --shard 0/2`, `1/2` at once | {fmt(w['sharded']['median'])} | "
        f"{fmt(w['sharded']['q1'])} – {fmt(w['sharded']['q3'])} | {fmt(w['sharded']['min'])} – "
        f"{fmt(w['sharded']['max'])} | {fmt(tp['cpu']['sharded'])} | "
        f"{args.images / w['sharded']['median']:.0f} |",
        "",
        f"sharded throughput ÷ single: median {r['median']:.3f}, IQR {r['q1']:.3f} – {r['q3']:.3f}, "
        f"min – max {r['min']:.3f} – {r['max']:.3f} (per round, n = {r['n']}); "
        f"outputs identical: {tp['identical']}; shard summaries: "
        + "; ".join(f"`{s}`" for s in tp["summaries"]),
        "",
        f"2. a {args.lines:,}-line path list on standard input:",
        "",
        "| what | median | IQR | min – max | n |",
        "|---|---|---|---|---|",
        f"| a. read, mirror, hash, keep shard 0/8 (`examples/shard_filter`, inside the loop) | "
        f"{fmt(f['inner']['median'])} | {fmt(f['inner']['q1'])} – {fmt(f['inner']['q3'])} | "
        f"{fmt(f['inner']['min'])} – {fmt(f['inner']['max'])} | {f['inner']['n']} |",
        f"| a'. the same, whole process | {fmt(f['wall']['median'])} | {fmt(f['wall']['q1'])} – "
        f"{fmt(f['wall']['q3'])} | {fmt(f['wall']['min'])} – {fmt(f['wall']['max'])} | "
        f"{f['wall']['n']} |",
        f"| b. `stn rectify - --shard 0/100000` over {args.lines:,} real files, whole process | "
        f"{fmt(wh['median'])} | {fmt(wh['q1'])} – {fmt(wh['q3'])} | {fmt(wh['min'])} – "
        f"{fmt(wh['max'])} | {wh['n']} |",
        f"| b₀. `stn rectify -` of one file (start-up, ONNX Runtime, model) | "
        f"{fmt(lc['startup']['median'])} | {fmt(lc['startup']['q1'])} – {fmt(lc['startup']['q3'])} | "
        f"{fmt(lc['startup']['min'])} – {fmt(lc['startup']['max'])} | {lc['startup']['n']} |",
        "",
        f"shard 0/8 kept {f['kept']:,} lines; b's summary: `{lc['summary']}`; "
        f"rectifying {args.lines:,} such 640×480 files at part 1's single-process rate "
        f"({rate:.0f} images/s) takes {million:.0f} s: a. is {100 * f['inner']['median'] / million:.3f} %, "
        f"b − b₀ is {100 * (wh['median'] - lc['startup']['median']) / million:.2f} % of it. "
        f"In CPU time: b − b₀ took {fmt(lc['whole_cpu'] - lc['startup_cpu'])}, against "
        f"{1e3 * cpu_per_image:.2f} ms per image in part 1's single process "
        f"({args.lines * cpu_per_image:.0f} s for {args.lines:,}): "
        f"{100 * (lc['whole_cpu'] - lc['startup_cpu']) / (args.lines * cpu_per_image):.2f} %; "
        f"a'. took {fmt(f['cpu'])} of CPU. "
        f"(Making the {args.lines:,} links took {made:.0f} s, not timed above.)",
    ]
    text = "\n".join(lines)
    (BENCH / "results.md").write_text(text + "\n")
    print()
    print(text)


if __name__ == "__main__":
    sys.exit(main())
