"""pHash distances on a built corpus: each variant to its group's original, and between
different photographs. Prints the figures of README's "What a distance means" table.

Usage: python bench/distances.py CORPUS [--cache PATH]
(CORPUS from ``../shared/corpus/make_corpus.py --split dev --out CORPUS``)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections import defaultdict

from dupfind import ScanOptions, distance, open_cache, scan
from dupfind.fingerprint import PARAMS


def phashes(corpus: str, cache_path: str) -> dict[str, int]:
    with open_cache(cache_path, PARAMS) as cache:
        report = scan([corpus], cache, ScanOptions())
    return {
        os.path.relpath(s.file.path, corpus): s.fingerprint.phash
        for s in report.files
        if s.fingerprint.phash is not None
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--cache", help="cache to use (default: a temporary one)")
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    with open(os.path.join(corpus, "ground_truth.json")) as handle:
        truth = json.load(handle)
    with tempfile.TemporaryDirectory() as tmp:
        hashes = phashes(corpus, args.cache or os.path.join(tmp, "cache.sqlite3"))

    by_transform: dict[str, list[int]] = defaultdict(list)
    originals: list[int] = []
    for group in truth["groups"]:
        members = {m["transform"]: m for m in group["members"]}
        if "original" not in members or members["original"]["path"] not in hashes:
            continue
        anchor = hashes[members["original"]["path"]]
        originals.append(anchor)
        for m in group["members"]:
            if m["transform"] != "original" and m["path"] in hashes:
                by_transform[m["transform"]].append(distance(anchor, hashes[m["path"]]))
    print(f"{'variant':<18} {'n':>5} {'median':>7} {'p90':>4} {'max':>4} {'<=5':>5}")
    for name, values in sorted(by_transform.items()):
        values.sort()
        within = sum(v <= 5 for v in values) / len(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(
            f"{name:<18} {len(values):>5} {statistics.median(values):>7} {p90:>4} {values[-1]:>4} {within:>5.2f}"
        )

    photos = originals + [hashes[d["path"]] for d in truth["distractors"] if d["path"] in hashes]
    pairs = sorted(distance(a, b) for i, a in enumerate(photos) for b in photos[i + 1 :])
    n = len(pairs)
    print(
        f"different photographs: {n} pairs; min {pairs[0]}, 0.1% {pairs[int(0.001 * n)]}, "
        f"1% {pairs[int(0.01 * n)]}, median {pairs[n // 2]}; "
        + ", ".join(f"<= {t}: {sum(p <= t for p in pairs)}" for t in (5, 8, 10))
    )


if __name__ == "__main__":
    main()
