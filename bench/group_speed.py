"""Near-pair search speed: VP-tree self-join, numpy brute force and multi-index hashing.

    python bench/group_speed.py [--dev-corpus ../corpora/dev] [--sizes 10000,100000,1000000]

Prints seconds and peak memory for each method on N hashes at r = 4, 8, 12 (and 10, the
target radius), for two distributions:
  random  uniform 64-bit values;
  real    pHashes of the dev corpus (scanned once into bench/.cache-dev.sqlite3), each
          with 12 random bits flipped, plus 5% near copies (1-4 bits from another point):
          the spread of real photos, with the near duplicates a library holds.
Every method runs in its own process (so peak memory is its own) and all must return the
same pairs. Brute force and the VP-tree are skipped above 100k hashes, where one run takes
minutes (their 100k times scale with N squared).
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

METHODS = ("vptree", "brute", "multi-index", "rule")
SLOW_ABOVE = 100_000


def real_seeds(corpus: str) -> np.ndarray:
    from dupfind import ScanOptions, open_cache, scan
    from dupfind.fingerprint import PARAMS

    cache = os.path.join(os.path.dirname(__file__), ".cache-dev.sqlite3")
    with open_cache(cache, PARAMS) as db:
        report = scan([corpus], db, ScanOptions())
    return np.array(
        sorted({s.fingerprint.phash for s in report.files if s.fingerprint.phash is not None}),
        dtype=np.uint64,
    )


def make_hashes(kind: str, n: int, seeds_file: str | None) -> list[int]:
    rng = np.random.default_rng(n)
    if kind == "random":
        values = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    else:
        seeds = np.load(seeds_file)  # type: ignore[arg-type]
        base = seeds[rng.integers(len(seeds), size=n)]
        flips = np.zeros(n, dtype=np.uint64)
        for _ in range(12):
            flips |= np.uint64(1) << rng.integers(0, 64, size=n).astype(np.uint64)
        values = base ^ flips
        near = rng.choice(n, size=n // 20, replace=False)
        source = rng.integers(n, size=len(near))
        for _ in range(4):
            bit = np.uint64(1) << rng.integers(0, 64, size=len(near)).astype(np.uint64)
            values[near] = values[source] ^ (bit * (rng.random(len(near)) < 0.8).astype(np.uint64))
    return sorted({int(v) for v in values})


def run_one(method: str, kind: str, n: int, r: int, seeds_file: str | None, out: str) -> None:
    from dupfind import vptree

    values = make_hashes(kind, n, seeds_file)
    finder = {
        "vptree": vptree.vp_self_join,
        "brute": vptree.pairs_brute,
        "multi-index": vptree.pairs_multi_index,
        "rule": vptree.pairs_within,
    }[method]
    with measure() as m:
        pairs = finder(values, r)
    np.save(out, pairs)
    print(json.dumps({"seconds": m.seconds, "peak": m.peak_bytes, "pairs": len(pairs), "n": len(values)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dev-corpus", default=os.path.join(os.path.dirname(__file__), "..", "..", "corpora", "dev")
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--radii", default="4,8,10,12")
    parser.add_argument(
        "--one", nargs=6, metavar=("METHOD", "KIND", "N", "R", "SEEDS", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        method, kind, n, r, seeds, out = args.one
        run_one(method, kind, int(n), int(r), seeds, out)
        return
    seeds_file = os.path.join(os.path.dirname(__file__), ".dev-phashes.npy")
    seeds = real_seeds(args.dev_corpus)
    np.save(seeds_file, seeds)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}")
    print(f"real seeds: {len(seeds)} unique pHashes of {args.dev_corpus}\n")
    print(f"{'dist':6} {'N':>9} {'r':>3} {'method':12} {'seconds':>9} {'peak':>8} {'pairs':>10}  same")
    for kind in ("random", "real"):
        for n in (int(s) for s in args.sizes.split(",")):
            for r in (int(x) for x in args.radii.split(",")):
                reference = None
                for method in METHODS:
                    if n > SLOW_ABOVE and method in ("vptree", "brute"):
                        continue
                    out = f"/tmp/dupfind-bench-{os.getpid()}-{method}.npy"
                    line = subprocess.run(
                        [sys.executable, __file__, "--one", method, kind, str(n), str(r), seeds_file, out],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    result = json.loads(line)
                    pairs = np.load(out)
                    os.unlink(out)
                    same = (
                        "ref" if reference is None else ("yes" if np.array_equal(pairs, reference) else "NO")
                    )
                    reference = pairs if reference is None else reference
                    print(
                        f"{kind:6} {result['n']:>9} {r:>3} {method:12} {result['seconds']:>9.2f} "
                        f"{mb(result['peak']):>8} {result['pairs']:>10}  {same}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
