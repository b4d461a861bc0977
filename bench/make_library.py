"""Build a realistic photo library of any size from the real photos in ../shared/corpus/sources.

    python bench/make_library.py --files 100000 --out ../corpora/lib100k [--seed 1] [--burst N]

Every picture is a crop of one of the ~820 single source photos (random place, half to all of the
photo's width or height, aspect ratio: square, 4:3, 3:2, 16:9, upright or wide, 2:1), saved as a small JPEG (long side
128-192 px, quality 80-95): real content, many low-detail corners, and ever more similar
pictures as N grows (which makes a large library harder than a real one of that size).
Planted among them, by share of N: 3% exact copies, 3% re-encoded (quality 55-80) or
downscaled (50-80%, keeping 64 px or more) copies, and bursts of 3-12 frames (the same crop moved by 1-3 px, light
changes) at 1,650 bursts per 100,000 files. ``--burst N`` adds one burst of N frames.

``truth.json`` gives each file's picture (``p<k>`` for a picture and its copies, ``b<k>``
for a burst's frames) and how it was made; two files are the same photograph exactly when
their picture keys are equal. The output is a pure function of the sources and the options.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from PIL import Image, ImageEnhance, ImageOps

SOURCES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus", "sources")
ASPECTS = (1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16, 2.0, 1 / 2)
CHUNK = 500
_sources: dict[str, Image.Image] = {}


def source_paths() -> list[str]:
    """Every source photo but the files of its real groups (the same photograph shipped
    several times: two of them would be one picture under two keys)."""
    with open(os.path.join(SOURCES, "real_groups.json")) as f:
        in_real_groups = {m["path"] for g in json.load(f)["groups"] for m in g["members"]}
    paths = []
    for folder, _, names in os.walk(SOURCES):
        for name in sorted(names):
            rel = os.path.relpath(os.path.join(folder, name), SOURCES)
            if (
                name.lower().rsplit(".", 1)[-1] in ("jpg", "jpeg", "png", "tif", "webp")
                and rel not in in_real_groups
            ):
                paths.append(rel)
    return sorted(paths)


def _source(path: str) -> Image.Image:
    if path not in _sources:
        with Image.open(os.path.join(SOURCES, path)) as im:
            _sources[path] = ImageOps.exif_transpose(im).convert("RGB")
    return _sources[path]


def _crop_box(rng: random.Random, size: tuple[int, int]) -> tuple[int, int, int, int]:
    w, h = size
    aspect = rng.choice(ASPECTS)
    scale = rng.uniform(0.5, 1.0)
    cw = min(w, int(min(w, h * aspect) * scale))
    ch = min(h, max(16, int(cw / aspect)))
    cw = max(16, min(cw, int(ch * aspect)))
    x, y = rng.randrange(w - cw + 1), rng.randrange(h - ch + 1)
    return x, y, x + cw, y + ch


def _fit(im: Image.Image, long_side: int) -> Image.Image:
    w, h = im.size
    scale = long_side / max(w, h)
    return im.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.LANCZOS)


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def picture(seed: int, k: int, sources: list[str]) -> tuple[Image.Image, bytes, dict]:
    rng = random.Random(f"{seed}:{k}")
    path = rng.choice(sources)
    src = _source(path)
    box = _crop_box(rng, src.size)
    im = _fit(src.crop(box), rng.randint(128, 192))
    quality = rng.randint(80, 95)
    return im, _jpeg(im, quality), {"source": path, "box": box, "quality": quality}


def burst_frames(seed: int, k: int, n: int, sources: list[str]) -> list[tuple[bytes, dict]]:
    rng = random.Random(f"{seed}:burst:{k}")
    path = rng.choice(sources)
    src = _source(path)
    x0, y0, x1, y1 = _crop_box(rng, src.size)
    long_side = rng.randint(128, 192)
    frames = []
    for f in range(n):
        dx, dy = rng.randint(-3, 3), rng.randint(-3, 3)
        box = (
            max(0, min(src.width - (x1 - x0), x0 + dx)),
            max(0, min(src.height - (y1 - y0), y0 + dy)),
        )
        box = (*box, box[0] + x1 - x0, box[1] + y1 - y0)
        im = _fit(src.crop(box), long_side)
        im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.97, 1.03))
        frames.append((_jpeg(im, rng.randint(85, 95)), {"source": path, "box": box, "frame": f}))
    return frames


def build_chunk(args: tuple[int, int, int, str, list[str], float]) -> dict[str, dict]:
    seed, start, stop, out, sources, planted_share = args
    truth = {}
    for k in range(start, stop):
        im, data, how = picture(seed, k, sources)
        rel = f"library/{k // 1000:03}/IMG_{k:06}.jpg"
        _write(out, rel, data)
        truth[rel] = {"picture": f"p{k}", "made": "original", **how}
        rng = random.Random(f"{seed}:plant:{k}")
        roll = rng.random()
        if roll < planted_share:  # an exact copy elsewhere
            copy = f"library/copies/{k // 1000:03}/IMG_{k:06} (1).jpg"
            _write(out, copy, data)
            truth[copy] = {"picture": f"p{k}", "made": "exact_copy"}
        elif roll < 2 * planted_share:  # re-encoded or downscaled
            if rng.random() < 0.5:
                quality = rng.randint(55, 80)
                made, copy_data = f"reencode q{quality}", _jpeg(im, quality)
            else:
                # Kept at 64 px or more on the short side: below that, a picture is an icon
                # and dupfind compares it by its bytes only.
                factor = max(rng.uniform(0.5, 0.8), 64 / min(im.size))
                small = im.resize((max(8, round(im.width * factor)), max(8, round(im.height * factor))))
                made, copy_data = f"downscale {factor:.2f}", _jpeg(small, 85)
            copy = f"library/edits/{k // 1000:03}/IMG_{k:06}_edit.jpg"
            _write(out, copy, copy_data)
            truth[copy] = {"picture": f"p{k}", "made": made}
    return truth


def build_burst(args: tuple[int, int, int, str, list[str]]) -> dict[str, dict]:
    seed, k, n, out, sources = args
    truth = {}
    for f, (data, how) in enumerate(burst_frames(seed, k, n, sources)):
        rel = f"library/bursts/{k:05}/BURST_{k:05}_{f:05}.jpg"
        _write(out, rel, data)
        truth[rel] = {"picture": f"b{k}", "made": "burst", **how}
    return truth


def _write(out: str, rel: str, data: bytes) -> None:
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--files", type=int, required=True, help="pictures (planted copies and bursts come on top)"
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--burst", type=int, default=0, help="add one burst of this many frames")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if os.path.exists(args.out) and os.listdir(args.out):
        sys.exit(f"{args.out} is not empty")
    started = time.monotonic()
    sources = source_paths()
    planted_share = 0.03
    bursts = round(args.files * 1650 / 100_000)
    rng = random.Random(f"{args.seed}:bursts")
    jobs = [
        (args.seed, s, min(s + CHUNK, args.files), args.out, sources, planted_share)
        for s in range(0, args.files, CHUNK)
    ]
    burst_jobs = [(args.seed, k, rng.randint(3, 12), args.out, sources) for k in range(bursts)]
    if args.burst:
        burst_jobs.append((args.seed, bursts, args.burst, args.out, sources))
    truth: dict[str, dict] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for part in pool.map(build_chunk, jobs):
            truth.update(part)
        for part in pool.map(build_burst, burst_jobs, chunksize=50):
            truth.update(part)
    with open(os.path.join(args.out, "truth.json"), "w") as f:
        json.dump({"seed": args.seed, "files": len(truth), "sources": len(sources), "truth": truth}, f)
    made: dict[str, int] = {}
    for entry in truth.values():
        kind = entry["made"].split()[0]
        made[kind] = made.get(kind, 0) + 1
    print(
        json.dumps(
            {
                "out": args.out,
                "files": len(truth),
                "made": made,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
