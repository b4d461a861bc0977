"""pHash and dHash distances on a built corpus, in the best of the eight views (upright,
mirrored, flipped, turned): each variant to its group's original, and between different
photographs; and the false-match rate per million pairs of different photographs, upright
and turned, of the hashes alone and after the second look. Prints the figures of README's
"Similarity" and "Accuracy" tables.

Usage: python bench/distances.py CORPUS [--cache PATH]
       python bench/distances.py --library LIBRARY [--cache PATH]
(CORPUS from ``../shared/corpus/make_corpus.py --split dev --out CORPUS``; LIBRARY from
``bench/make_library.py``, whose different photographs are the crops of different source
photos, one per picture, copies left out)
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
from dupfind.similarity import PRESETS, _views, best_match, matches, preset, within
from dupfind.vptree import pairs_across, pairs_within


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


def false_matches(photos: list[Fingerprint], different, total_pairs: int) -> None:  # type: ignore[no-untyped-def]
    """Pairs of different photographs whose hashes pass each preset, upright or turned, and
    those the second look still confirms, per million pairs. Candidates come from the same
    pHash index grouping uses, at the loosest preset."""
    loosest = preset("loose")
    values = sorted({fp.phash for fp in photos})  # type: ignore[type-var]
    by_hash: dict[int, list[int]] = defaultdict(list)
    turned: dict[int, list[int]] = defaultdict(list)
    for i, fp in enumerate(photos):
        by_hash[fp.phash].append(i)  # type: ignore[index]
        for h in fp.phash_turned:
            turned[h].append(i)
    turned_values = sorted(turned)
    pairs: set[tuple[int, int]] = set()
    for same in by_hash.values():
        pairs.update((a, b) for a in same for b in same if a < b)
    for i, j in pairs_within(values, loosest.phash).tolist():
        pairs.update((min(a, b), max(a, b)) for a in by_hash[values[i]] for b in by_hash[values[j]])
    for i, j in pairs_across(values, turned_values, loosest.turned).tolist():
        pairs.update(
            (min(a, b), max(a, b)) for a in by_hash[values[i]] for b in turned[turned_values[j]] if a != b
        )
    pairs = {p for p in pairs if different(*p)}
    print(f"\nfalse matches among {total_pairs:,} pairs of different photographs (per million pairs):")
    print(f"{'preset':<8} {'hashes: upright':>16} {'turned':>8}   {'verified: upright':>18} {'turned':>8}")
    for name in PRESETS:
        rule = preset(name)
        counts = {"hash-0": 0, "hash-t": 0, "ok-0": 0, "ok-t": 0}
        for a, b in pairs:
            passing = sorted(
                (m for m in _views(photos[a], photos[b], True) if within(m, rule)),
                key=lambda m: (m.phash + m.dhash, m.turn),
            )
            if not passing:
                continue
            kind = "0" if passing[0].turn == 0 else "t"
            counts[f"hash-{kind}"] += 1
            m = matches(photos[a], photos[b], rule)
            if m is not None:
                counts[f"ok-{'0' if m.turn == 0 else 't'}"] += 1
        per = 1e6 / total_pairs
        print(
            f"{name:<8} {counts['hash-0'] * per:16.3f} {counts['hash-t'] * per:8.3f}"
            f"   {counts['ok-0'] * per:18.4f} {counts['ok-t'] * per:8.4f}"
            f"   ({counts['hash-0']} + {counts['hash-t']} by the hashes, {counts['ok-0']} + {counts['ok-t']} verified)"
        )


def library_main(library: str, cache: str | None) -> None:
    with open(os.path.join(library, "truth.json")) as handle:
        truth = json.load(handle)["truth"]
    with tempfile.TemporaryDirectory() as tmp:
        hashes = fingerprints(os.path.join(library, "library"), cache or os.path.join(tmp, "cache.sqlite3"))
    photos, sources = [], []
    for rel, entry in truth.items():
        fp = hashes.get(os.path.relpath(os.path.join(library, rel), os.path.join(library, "library")))
        if entry["made"] == "original" and fp is not None and fp.stable_bits and fp.stable_bits >= 16:
            photos.append(fp)
            sources.append(entry["source"])
    per_source: dict[str, int] = defaultdict(int)
    for source in sources:
        per_source[source] += 1
    total = len(photos) * (len(photos) - 1) // 2 - sum(n * (n - 1) // 2 for n in per_source.values())
    print(f"library: {library} ({len(photos)} pictures of {len(per_source)} source photos)")
    false_matches(photos, lambda a, b: sources[a] != sources[b], total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?")
    parser.add_argument("--library", help="a library built by bench/make_library.py")
    parser.add_argument("--cache", help="cache to use (default: a temporary one)")
    args = parser.parse_args()
    if args.library:
        library_main(os.path.abspath(args.library), args.cache)
        return
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
        within_5 = sum(v <= 5 for v in values) / len(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(
            f"{name:<18} {len(values):>5} {statistics.median(values):>7} {p90:>4} {values[-1]:>4} {within_5:>5.2f}"
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
    comparable_photos = [fp for fp in photos if fp.stable_bits and fp.stable_bits >= 16]
    false_matches(
        comparable_photos, lambda a, b: True, len(comparable_photos) * (len(comparable_photos) - 1) // 2
    )


if __name__ == "__main__":
    main()
