"""How close dupfind's reduced-decode hashes are to imagehash on the full image.

Usage: python bench/fingerprint_accuracy.py [CORPUS]   (default ../shared/corpus/fixture)

For every decodable image under CORPUS it compares dupfind's aHash, dHash and pHash with
imagehash's hashes of the fully decoded, EXIF-orientation-corrected image (alpha flattened
the same way) and prints the mean, 99th percentile and maximum Hamming distance.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor

from dupfind.fingerprint import distance, fingerprint_path, reference_hashes
from dupfind.walk import DECODABLE_EXTENSIONS, extension

HASHES = ("ahash", "dhash", "phash")


def distances(path: str) -> tuple[int, int, int] | None:
    _, fp = fingerprint_path(path)
    if not fp.decoded:
        return None
    ref = reference_hashes(path)
    return tuple(distance(getattr(fp, h), ref[h]) for h in HASHES)  # type: ignore[return-value]


def image_paths(root: str) -> list[str]:
    return sorted(
        os.path.join(d, f)
        for d, _, files in os.walk(root)
        for f in files
        if extension(f) in DECODABLE_EXTENSIONS
    )


def summarize(rows: list[tuple[int, int, int]]) -> dict[str, dict[str, float]]:
    result = {}
    for i, name in enumerate(HASHES):
        values = sorted(r[i] for r in rows)
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        result[name] = {"mean": sum(values) / len(values), "p99": p99, "max": values[-1]}
    return result


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "corpus", "fixture")
    paths = image_paths(root)
    with ProcessPoolExecutor() as pool:
        rows = [r for r in pool.map(distances, paths, chunksize=16) if r is not None]
    print(f"corpus: {root} ({len(rows)} decodable images of {len(paths)})")
    for name, s in summarize(rows).items():
        print(f"{name}: mean {s['mean']:.3f} bits, p99 {s['p99']}, max {s['max']}")


if __name__ == "__main__":
    main()
