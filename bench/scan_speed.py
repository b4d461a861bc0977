"""Scan speed: dupfind against the hardware limit and a naive imagehash loop.

Usage:
    python bench/scan_speed.py [--corpus DIR | --build N] [--jobs N] [--naive N] [--small N]

--corpus takes a folder of camera-sized JPEGs (e.g. one built by
``../shared/corpus/make_corpus.py --scale 300 --out ../corpora/scale300``); --build N
builds one there. In one run, on the same files and the same number of processes, it
prints images/s for:

  (a)  the limit: read each file, SHA-256 it, decode it at 1/8 scale with Pillow, nothing else
  (a') the same limit decoding luma only (draft "L"), which is what dupfind decodes
  (b)  dupfind's scan with a cold cache (library call: one process pool, one cache)
  (b') the same from the command line, `dupfind scan CORPUS --cache NEW -q`, as a user runs
       it: a new process, start-up (imports, the worker pool) included
  (c)  naive: imagehash average_hash, dhash and phash on three separately opened full images
       (plus a SHA-256 of the file), on the first --naive files
  (d)  dupfind's warm re-scan of the same tree
  (e)  dupfind's warm re-scan of --small (default 100,000) tiny files, built once under
       ../corpora/small-N
with peak resident memory of the whole process tree for each. The OS page cache is warmed
first so that every figure measures CPU, not the disk.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time

import imagehash
import PIL
from _common import mb, measure
from PIL import Image

from dupfind import ScanOptions, open_cache, scan
from dupfind.fingerprint import PARAMS

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "corpus")


def jpeg_paths(root: str) -> list[str]:
    return sorted(
        os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.lower().endswith((".jpg", ".jpeg"))
    )


def limit_one(path: str, mode: str | None = None) -> int:
    with open(path, "rb") as handle:
        data = handle.read()
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as im:
        im.draft(mode or im.mode, (im.width // 8, im.height // 8))
        im.load()
        return im.width


def limit_luma(path: str) -> int:
    return limit_one(path, "L")


def naive_one(path: str) -> str:
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    hashes = [f(Image.open(path)) for f in (imagehash.average_hash, imagehash.dhash, imagehash.phash)]
    return digest + "".join(map(str, hashes))


def pool_run(func, paths: list[str], jobs: int) -> None:  # type: ignore[no-untyped-def]
    # The same start method and chunking as dupfind's scan, so only the work differs.
    context = multiprocessing.get_context("forkserver")
    with context.Pool(jobs) as pool:
        for _ in pool.imap_unordered(func, paths, chunksize=4):
            pass


def row(label: str, n: int, seconds: float, peak: int, unit: str = "images") -> float:
    rate = n / seconds
    print(f"{label:<44} {n:>7} {unit:<6} {seconds:8.2f} s {rate:10.1f} {unit}/s   peak {mb(peak)}")
    return rate


def build_small_tree(root: str, n: int) -> None:
    # Distinct 8x8 PNGs, 1000 to a folder, made once and reused.
    if os.path.isdir(root) and sum(len(fs) for _, _, fs in os.walk(root)) >= n:
        return
    print(f"building {n} small files under {root} ...", flush=True)
    for i in range(n):
        folder = os.path.join(root, f"{i // 1000:04d}")
        if i % 1000 == 0:
            os.makedirs(folder, exist_ok=True)
        buffer = io.BytesIO()
        Image.frombytes("L", (8, 8), i.to_bytes(8, "big") * 8).save(buffer, "PNG")
        with open(os.path.join(folder, f"{i:06d}.png"), "wb") as handle:
            handle.write(buffer.getvalue())


def scan_once(root: str, cache_path: str, jobs: int) -> tuple[int, int]:
    with open_cache(cache_path, PARAMS) as cache:
        report = scan([root], cache, ScanOptions(jobs=jobs))
    return report.fingerprinted, report.cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="folder of camera-sized JPEGs")
    parser.add_argument(
        "--build", type=int, default=300, help="build a scale corpus of N files if --corpus is absent"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--naive", type=int, default=60, help="files for the naive baseline (it is slow)")
    parser.add_argument("--small", type=int, default=100_000)
    args = parser.parse_args()

    corpus = args.corpus or os.path.join(HERE, "..", "..", "corpora", f"scale{args.build}")
    if not os.path.isdir(corpus):
        subprocess.run(
            [
                sys.executable,
                os.path.join(SHARED, "make_corpus.py"),
                "--scale",
                str(args.build),
                "--out",
                corpus,
            ],
            check=True,
        )
    paths = jpeg_paths(corpus)
    total_mb = sum(os.path.getsize(p) for p in paths) / 1e6
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Pillow {PIL.__version__}; jobs {args.jobs}"
    )
    print(f"corpus: {corpus}: {len(paths)} JPEGs, {total_mb:.0f} MB; {time.strftime('%Y-%m-%d')}")
    for p in paths:  # warm the page cache: every figure below is CPU-bound
        with open(p, "rb") as handle:
            handle.read()

    with measure() as a:
        pool_run(limit_one, paths, args.jobs)
    limit = row("(a)  limit: read + SHA-256 + 1/8 decode", len(paths), a.seconds, a.peak_bytes)
    with measure() as a2:
        pool_run(limit_luma, paths, args.jobs)
    row("(a') limit, luma-only 1/8 decode", len(paths), a2.seconds, a2.peak_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        cache_path = os.path.join(tmp, "cache.sqlite3")
        with measure() as b:
            fingerprinted, _ = scan_once(corpus, cache_path, args.jobs)
        cold = row("(b)  dupfind scan, cold cache", fingerprinted, b.seconds, b.peak_bytes)
        cli_cache = os.path.join(tmp, "cli.sqlite3")
        command = [sys.executable, "-m", "dupfind", "scan", corpus, "--cache", cli_cache, "-q"]
        command += ["--jobs", str(args.jobs)]
        with measure() as b2:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        cold_cli = row("(b') dupfind scan from the CLI, cold cache", len(paths), b2.seconds, b2.peak_bytes)
        naive_paths = paths[: args.naive]
        with measure() as c:
            pool_run(naive_one, naive_paths, args.jobs)
        naive = row("(c)  naive imagehash x3 on full images", len(naive_paths), c.seconds, c.peak_bytes)
        with measure() as d:
            _, cached = scan_once(corpus, cache_path, args.jobs)
        row("(d)  dupfind re-scan, warm cache", cached, d.seconds, d.peak_bytes, "files")

        warm_small = 0.0
        if args.small:  # --small 0: no small-files rows
            small_root = os.path.join(HERE, "..", "..", "corpora", f"small-{args.small}")
            build_small_tree(small_root, args.small)
            small_cache = os.path.join(tmp, "small.sqlite3")
            with measure() as e0:
                fingerprinted, _ = scan_once(small_root, small_cache, args.jobs)
            row("     (cold scan of the small files)", fingerprinted, e0.seconds, e0.peak_bytes, "files")
            with measure() as e:
                _, cached = scan_once(small_root, small_cache, args.jobs)
            warm_small = row(
                "(e)  dupfind re-scan, warm, small files", cached, e.seconds, e.peak_bytes, "files"
            )

    print()
    print(f"(b)/(a)  = {cold / limit:.2f}   target >= 0.85")
    print(f"(b')/(a) = {cold_cli / limit:.2f}   target >= 0.85 (start-up included)")
    if naive:
        print(f"(b)/(c)  = {cold / naive:.1f}   target >= 5")
    if warm_small:
        print(f"(e)      = {warm_small:,.0f} files/s   target >= 20,000")


if __name__ == "__main__":
    main()
