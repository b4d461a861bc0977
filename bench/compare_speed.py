"""`dupfind compare PHOTO` against a cache of a million rows: the wall time of one question,
start-up included, as a user runs it.

    python bench/compare_speed.py ../corpora/dev [--rows 1000000] [--queries 5]

The cache (bench/.cache-compare-ROWS.sqlite3, built once) holds the scan of CORPUS/library
and, to reach ROWS, copies of those rows under paths that do not exist, each pHash moved by
8 to 24 random bits: the rows a library of that size would hold, at the cache's real size per
row. A query is a photo of the corpus; its hits among the copies are not shown (their files
are not there), which costs the same check a moved file costs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import mb, measure

from dupfind import ScanOptions, open_cache, scan
from dupfind.fingerprint import PARAMS
from dupfind.models import ImageFile

HERE = os.path.dirname(os.path.abspath(__file__))


def build(cache_path: str, library: str, rows: int) -> None:
    if os.path.exists(cache_path):
        return
    partial = cache_path + ".partial"
    if os.path.exists(partial):
        os.remove(partial)
    rng = random.Random(12)
    with open_cache(partial, PARAMS) as cache:
        report = scan([library], cache, ScanOptions(jobs=2))
        real = [(s.file, s.fingerprint) for s in report.files if s.fingerprint.phash is not None]
        for n in range(rows - len(report.files)):
            file, fp = real[n % len(real)]
            moved = fp.phash
            for bit in rng.sample(range(64), rng.randint(8, 24)):
                moved ^= 1 << bit
            copy = ImageFile(f"/absent/{n // 1000:04d}/{n:07d}.jpg", 1, n + 1, file.size_bytes, 0, 0)
            cache.store(copy, dataclasses.replace(fp, phash=moved))
        cache.flush()
    os.replace(partial, cache_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=5)
    args = parser.parse_args()
    library = os.path.join(os.path.abspath(args.corpus), "library")
    cache_path = os.path.join(HERE, f".cache-compare-{args.rows}.sqlite3")
    started = time.perf_counter()
    build(cache_path, library, args.rows)
    print(
        f"cache: {cache_path} ({args.rows:,} rows, {os.path.getsize(cache_path) / 1e6:.0f} MB; ready in "
        f"{time.perf_counter() - started:.0f} s)"
    )
    photos = sorted(os.path.join(d, f) for d, _, fs in os.walk(library) for f in fs if f.endswith(".jpg"))
    chosen = random.Random(3).sample(photos, args.queries)
    times = []
    for photo in chosen:
        with measure() as m:
            done = subprocess.run(
                [sys.executable, "-m", "dupfind", "compare", photo, "--cache", cache_path, "--json"],
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode != 0:
            sys.exit(f"compare failed: {done.stderr.strip()}")
        hits = done.stdout.count('"path"')
        times.append(m.seconds)
        print(
            f"  {os.path.relpath(photo, library)}: {m.seconds:.2f} s, peak {mb(m.peak_bytes)}, {hits} paths shown"
        )
    print(
        f"compare PHOTO, {args.rows:,} rows: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"(start-up included)"
    )


if __name__ == "__main__":
    main()
