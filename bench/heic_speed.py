"""HEIC at JPEG speed: scan rate of phone-sized HEICs against the same pictures as JPEGs, and
how far the hashes of a HEIC's embedded thumbnail are from those of its full decode.

    python bench/heic_speed.py [--out ../corpora/heic24] [--jobs 2]

Builds (once) 22 pictures of about 6 MP from the large real photos of ../shared/corpus/sources
(the 11 of at least 1400 px: the iPhone and Canon HDR samples, the Solvay photo and KDE
wallpapers; each upright and mirrored), written twice: HEIC through pillow-heif with a 320 px thumbnail, as phones write
them, and JPEG at quality 92 with the same pixels. Then, in one run:

  (a) a cold dupfind scan of the JPEGs and of the HEICs (library call, --jobs processes):
      files/s, and HEIC's rate as a share of JPEG's
  (b) every HEIC hashed through its thumbnail and through its full decode: the mean and the
      largest number of bits that differ, per hash
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import mb, measure
from PIL import Image, ImageOps

from dupfind import ScanOptions, extras, open_cache, scan
from dupfind import fingerprint as fingerprinting
from dupfind.fingerprint import PARAMS, fingerprint_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "..", "..", "shared", "corpus", "sources")
LONG_SIDE = 3000  # 3000 x 2000 = 6 MP at 3:2


def _sources() -> list[str]:
    found = []
    for path in sorted(glob.glob(os.path.join(SOURCES, "**", "*.jpg"), recursive=True)):
        with Image.open(path) as im:
            if min(im.size) >= 1400 and "_YES" not in path:  # the HDR pairs: one of each
                found.append(path)
    return found


def _build_one(job: tuple[str, bool, str]) -> None:
    import pillow_heif

    source, mirrored, stem = job
    with Image.open(source) as im:
        picture = ImageOps.exif_transpose(im).convert("RGB")
    scale = LONG_SIDE / max(picture.size)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
    if mirrored:
        picture = ImageOps.mirror(picture)
    picture.save(f"{stem}.jpg", "JPEG", quality=92)
    pillow_heif.from_pillow(picture).save(f"{stem}.heic", quality=80, thumbnails=[320])


def build(out: str) -> None:
    if os.path.isdir(out) and glob.glob(os.path.join(out, "heic", "*.heic")):
        return
    for kind in ("heic", "jpeg"):
        os.makedirs(os.path.join(out, kind), exist_ok=True)
    jobs = [
        (s, m, f"{i:02d}{'m' if m else ''}") for i, s in enumerate(_sources()[:12]) for m in (False, True)
    ]
    stems = [os.path.join(out, "tmp", stem) for _, _, stem in jobs]
    os.makedirs(os.path.join(out, "tmp"), exist_ok=True)
    with ProcessPoolExecutor() as pool:
        list(pool.map(_build_one, [(s, m, stem) for (s, m, _), stem in zip(jobs, stems, strict=True)]))
    for stem in stems:
        name = os.path.basename(stem)
        os.replace(f"{stem}.heic", os.path.join(out, "heic", f"IMG_{name}.heic"))
        os.replace(f"{stem}.jpg", os.path.join(out, "jpeg", f"IMG_{name}.jpg"))
    os.rmdir(os.path.join(out, "tmp"))


def scan_rate(root: str, jobs: int) -> tuple[int, float, int]:
    for path in glob.glob(os.path.join(root, "*")):  # warm the page cache: CPU, not the disk
        with open(path, "rb") as handle:
            handle.read()
    with (
        tempfile.TemporaryDirectory() as tmp,
        measure() as m,
        open_cache(os.path.join(tmp, "c.sqlite3"), PARAMS) as cache,
    ):
        report = scan([root], cache, ScanOptions(jobs=jobs))
    return len(report.files), m.seconds, m.peak_bytes


def deviation(root: str) -> dict[str, list[int]]:
    gaps: dict[str, list[int]] = {"ahash": [], "dhash": [], "phash": []}
    original = extras.heif_thumbnail
    for path in sorted(glob.glob(os.path.join(root, "*.heic"))):
        with open(path, "rb") as handle:
            data = handle.read()
        thumbed = fingerprint_bytes(data, "0" * 64, path)
        extras.heif_thumbnail = lambda *_: None  # the full decode, for the reference
        try:
            full = fingerprint_bytes(data, "0" * 64, path)
        finally:
            extras.heif_thumbnail = original
        for name in gaps:
            gaps[name].append(fingerprinting.distance(getattr(thumbed, name), getattr(full, name)))
    return gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "..", "corpora", "heic24"))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if not extras.heif_available():
        sys.exit("heic_speed: pip install '.[heif]' first")
    out = os.path.abspath(args.out)
    build(out)
    n = len(glob.glob(os.path.join(out, "heic", "*.heic")))
    print(f"corpus: {out}: {n} pictures of {LONG_SIDE} px long side, HEIC (320 px thumbnail) and JPEG q92")
    rates = {}
    for kind in ("jpeg", "heic"):
        n, seconds, peak = scan_rate(os.path.join(out, kind), args.jobs)
        rates[kind] = n / seconds
        print(
            f"  cold scan, {kind:4}: {n} files in {seconds:5.2f} s = {rates[kind]:6.1f} files/s, peak {mb(peak)}"
        )
    print(f"  HEIC's rate is {rates['heic'] / rates['jpeg']:.2f} of JPEG's")
    for name, values in deviation(os.path.join(out, "heic")).items():
        print(
            f"  {name}: thumbnail against full decode, mean {sum(values) / len(values):.2f} bits, max {max(values)}"
        )


if __name__ == "__main__":
    main()
