"""The hashes of the seven turns, and the stable-bit count, on a corpus.

    python bench/turned_hashes.py ../corpora/dev [--limit 1000]

1. Deriving the turned pHashes from one DCT (what dupfind does) against hashing each turned
   picture with imagehash: bits that differ per turn (mean and max), and milliseconds per
   picture for both ways (dHashes come from a 9x8 and an 8x9 reduction either way).
2. Stable pHash bits (dupfind's low-information test) of the corpus's photos against
   synthetic blank, gradient, two-tone and noisy-page pictures.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import statistics
import sys
import time

import imagehash
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dupfind.fingerprint import (
    MIN_DECODE_SIDE,
    TURNS,
    _reduce,
    dhashes_turned,
    hash_to_int,
    phashes_and_stability,
    to_gray,
)
from dupfind.similarity import MIN_STABLE_BITS, TURN_NAMES


def reduced_gray(path: str) -> Image.Image:
    with open(path, "rb") as handle, Image.open(io.BytesIO(handle.read())) as im:
        if im.format == "JPEG":
            im.draft("L", (MIN_DECODE_SIDE, MIN_DECODE_SIDE))
        im.load()
        return to_gray(_reduce(im))


def synthetic() -> dict[str, Image.Image]:
    w, h = 400, 300
    rng = np.random.default_rng(1)
    out = {"solid": Image.new("L", (w, h), 120)}
    out["gradient"] = Image.fromarray(np.tile(np.linspace(0, 255, w), (h, 1)).astype(np.uint8))
    diagonal = np.add.outer(np.arange(h), np.arange(w)) / (h + w) * 255
    out["diagonal gradient"] = Image.fromarray(diagonal.astype(np.uint8))
    split = Image.new("L", (w, h), 30)
    ImageDraw.Draw(split).rectangle([w // 2, 0, w, h], fill=200)
    out["two-tone split"] = split
    page = 235 + rng.normal(0, 3, (h, w)) + np.linspace(-4, 4, w)[None, :]
    out["blank scanned page"] = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    paths = sorted(glob.glob(os.path.join(args.corpus, "library", "**", "*.*"), recursive=True))
    paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
    grays = [reduced_gray(p) for p in paths]
    derived_s = reference_s = 0.0
    diffs: list[list[int]] = [[] for _ in TURNS]
    stable = []
    for gray in grays:
        start = time.perf_counter()
        phashes, bits = phashes_and_stability(gray)
        dhashes_turned(gray)
        derived_s += time.perf_counter() - start
        start = time.perf_counter()
        reference = [hash_to_int(imagehash.phash(gray.transpose(t))) for t in TURNS]
        [imagehash.dhash(gray.transpose(t)) for t in TURNS]
        reference_s += time.perf_counter() - start
        for k, (p, r) in enumerate(zip(phashes[1:], reference, strict=True)):
            diffs[k].append((p ^ r).bit_count())
        stable.append(bits)
    print(f"corpus: {args.corpus}, {len(grays)} pictures (reduced decodes, as scanned)")
    print("\npHash of each turn, derived from one DCT vs imagehash on the turned picture (bits):")
    for k, d in enumerate(diffs):
        same = sum(x == 0 for x in d) / len(d)
        print(f"  {TURN_NAMES[k + 1]:<18} mean {statistics.mean(d):.3f}  max {max(d)}  identical {same:.1%}")
    print(
        f"\ncost per picture, 8 pHashes + 8 dHashes: derived {derived_s / len(grays) * 1000:.2f} ms, "
        f"imagehash on 7 turned pictures (plus the upright one, not timed) {reference_s / len(grays) * 1000:.2f} ms"
    )
    print(f"\nstable pHash bits (near groups need >= {MIN_STABLE_BITS}):")
    print(
        f"  corpus photos: min {min(stable)}, 1st percentile {np.percentile(stable, 1):.0f}, "
        f"median {statistics.median(stable):.0f}"
    )
    for name, picture in synthetic().items():
        print(f"  {name:<20} {phashes_and_stability(picture)[1]}")


if __name__ == "__main__":
    main()
