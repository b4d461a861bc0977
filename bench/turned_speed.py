"""What matching turned copies costs the grouping: the upright search and the turned
cross-join, on real-like hashes.

    python bench/turned_speed.py [--sizes 100000,1000000] [--upright 14] [--turned 8]

Hashes: the dev corpus's pictures (bench/.cache-dev.sqlite3, as bench/accuracy.py leaves
it), each drawn at random with 12 random bits flipped in its upright pHash and in each of
its seven turned pHashes. Times (each in its own process, so peak memory is its own):
  upright  pairs_within(N upright pHashes, r = --upright): the search every run does;
  turned   pairs_across(N upright, 7N turned pHashes, r = --turned): what --no-rotations saves;
  group    group_duplicates with the default rule (both searches, then every candidate pair
           judged with its dHashes), N pictures of distinct bytes, and with --no-rotations.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench._common import mb, measure

CACHE = os.path.join(os.path.dirname(__file__), ".cache-dev.sqlite3")


def make(n: int) -> np.ndarray:
    """n x 16 hashes: the upright pHash, 7 turned pHashes, the upright dHash, 7 turned ones."""
    from dupfind import open_cache
    from dupfind.fingerprint import PARAMS

    with open_cache(CACHE, PARAMS) as db:
        rows = [r.fingerprint for r in db.load(db.roots()).values() if r.fingerprint.turned]
    seeds = np.array(
        [[fp.phash, *fp.phash_turned, fp.dhash, *fp.dhash_turned] for fp in rows], dtype=np.uint64
    )
    rng = np.random.default_rng(n)
    picked = seeds[rng.integers(len(seeds), size=n)]
    for _ in range(12):
        picked ^= np.uint64(1) << rng.integers(0, 64, size=picked.shape).astype(np.uint64)
    return picked


def candidates(hashes: np.ndarray) -> list:  # type: ignore[type-arg]
    from dupfind.models import Candidate, Fingerprint, ImageFile

    out = []
    for i, row in enumerate(hashes.tolist()):
        fp = Fingerprint(
            f"{i:064x}",
            0,
            row[8],
            row[0],
            1000,
            1000,
            "JPEG",
            1,
            None,
            None,
            None,
            tuple(row[1:8]),
            tuple(row[9:]),
            40,
        )
        out.append(Candidate(ImageFile(f"/p/{i}", 1, i, 1, 0, 0), fp, (f"/p/{i}",)))
    return out


def run_one(kind: str, n: int, r: int) -> None:
    from dupfind.group import group_duplicates
    from dupfind.similarity import similarity
    from dupfind.vptree import pairs_across, pairs_within

    hashes = make(n)
    if kind.startswith("group"):
        files = candidates(hashes)
        rule = similarity(r, rotations=kind == "group")
        with measure() as m:
            groups = group_duplicates(files, rule, lambda c: c.path)
        print(json.dumps({"seconds": m.seconds, "peak": m.peak_bytes, "pairs": len(groups)}))
        return
    values = sorted({int(v) for v in hashes[:, 0]})
    others = sorted({int(v) for v in hashes[:, 1:8].ravel()})
    with measure() as m:
        pairs = pairs_within(values, r) if kind == "upright" else pairs_across(values, others, r)
    print(json.dumps({"seconds": m.seconds, "peak": m.peak_bytes, "pairs": len(pairs)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--upright", type=int, default=14)
    parser.add_argument("--turned", type=int, default=8)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one[0], int(args.one[1]), int(args.one[2]))
        return
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}")
    print(f"{'N':>9} {'search':13} {'r':>3} {'seconds':>9} {'peak':>8} {'pairs/groups':>12}")
    for n in (int(s) for s in args.sizes.split(",")):
        searches = [("upright", args.upright), ("turned", args.turned)]
        searches += [("group", args.upright), ("group-upright", args.upright)]
        for kind, r in searches:
            line = subprocess.run(
                [sys.executable, __file__, "--one", kind, str(n), str(r)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            res = json.loads(line)
            print(
                f"{n:>9} {kind:13} {r:>3} {res['seconds']:>9.2f} {mb(res['peak']):>8} {res['pairs']:>12}",
                flush=True,
            )


if __name__ == "__main__":
    main()
