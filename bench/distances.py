"""pHash and dHash distances on a built corpus, in the best of the eight views (upright,
mirrored, flipped, turned): each variant to its group's original, and between different
photographs. Prints the figures of README's "Similarity" tables.

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

from dupfind import ScanOptions, open_cache, scan
from dupfind.fingerprint import PARAMS
from dupfind.models import Fingerprint
from dupfind.similarity import PRESETS, best_match, matches, similarity


def fingerprints(corpus: str, cache_path: str) -> dict[str, Fingerprint]:
    with open_cache(cache_path, PARAMS) as cache:
        report = scan([corpus], cache, ScanOptions())
    return {
        os.path.relpath(s.file.path, corpus): s.fingerprint
        for s in report.files
        if s.fingerprint.phash is not None
    }


def distance(a: Fingerprint, b: Fingerprint) -> int:
    """pHash bits in the best view (the one best_match picks)."""
    return best_match(a, b).phash  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--cache", help="cache to use (default: a temporary one)")
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    with open(os.path.join(corpus, "ground_truth.json")) as handle:
        truth = json.load(handle)
    with tempfile.TemporaryDirectory() as tmp:
        hashes = fingerprints(corpus, args.cache or os.path.join(tmp, "cache.sqlite3"))

    by_transform: dict[str, list[int]] = defaultdict(list)
    originals: list[Fingerprint] = []
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
    pairs = [(a, b) for i, a in enumerate(photos) for b in photos[i + 1 :]]
    found = sorted(distance(a, b) for a, b in pairs)
    n = len(found)
    print(
        f"different photographs: {n} pairs; best-view pHash min {found[0]}, 0.1% {found[int(0.001 * n)]}, "
        f"1% {found[int(0.01 * n)]}, median {found[n // 2]}; "
        + ", ".join(f"<= {t}: {sum(p <= t for p in found)}" for t in (8, 10, 12, 14))
    )
    for name, threshold in PRESETS.items():
        wrong = sum(matches(a, b, similarity(threshold)) is not None for a, b in pairs)
        print(f"  called near duplicates by --similarity {name}: {wrong}")


if __name__ == "__main__":
    main()
