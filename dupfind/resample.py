"""Pillow's resize of an 8-bit grey picture to a few pixels, done as two matrix products.

The hashes shrink every picture four times with Lanczos (to 32x32, 8x8, 9x8 and 8x9).
Pillow convolves each output pixel over its whole footprint, which for a 20-fold shrink is
about 120 input pixels a side: 0.45 ms a picture, a fifth of a small picture's scan. The
same convolution as products of the picture with two small weight matrices costs a tenth.

The weights, the fixed-point rounding and the order of the passes are Pillow's own
(``src/libImaging/Resample.c``: ``precompute_coeffs``, ``normalize_coeffs_8bpc``, the
horizontal pass first, each pass rounded and clipped to 8 bits), so the result is the same
to the bit (``tests/test_fingerprint.py`` checks it against Pillow on random pictures) and
the hashes are the ones imagehash computes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

_PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed point for 8-bit pictures
_HALF = float(1 << (_PRECISION_BITS - 1))
_ONE = float(1 << _PRECISION_BITS)


def _lanczos(x: np.ndarray) -> np.ndarray:
    """sinc(x) sinc(x / 3) on [-3, 3), as Pillow's lanczos_filter (sin(pi x) / (pi x))."""
    out = np.zeros_like(x)
    inside = (x >= -3.0) & (x < 3.0)
    for part in (x, x / 3):
        scaled = part * math.pi
        with np.errstate(invalid="ignore", divide="ignore"):
            sinc = np.where(part == 0.0, 1.0, np.sin(scaled) / scaled)
        out = sinc if part is x else out * sinc
    return np.where(inside, out, 0.0)


def _box(x: np.ndarray) -> np.ndarray:
    return ((x > -0.5) & (x <= 0.5)).astype(np.float64)


_FILTERS = {"lanczos": (_lanczos, 3.0), "box": (_box, 0.5)}


@functools.lru_cache(maxsize=4096)
def weights(in_size: int, out_size: int, kind: str) -> np.ndarray:
    """The (out_size x in_size) matrix of Pillow's fixed-point weights for one pass, as
    float64 (every product and sum of a pass stays an integer below 2^53, so exact).
    Built for a whole pass at once: a library has pictures of many sizes."""
    kernel, support = _FILTERS[kind]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support *= filterscale
    center = (np.arange(out_size) + 0.5) * scale
    # C's (int) truncates; below zero both give 0 once clamped
    xmin = np.maximum(np.floor(center - support + 0.5), 0).astype(np.int64)
    xmax = np.minimum(np.floor(center + support + 0.5).astype(np.int64), in_size)
    columns = np.arange(in_size)
    taps = (columns >= xmin[:, None]) & (columns < xmax[:, None])
    k = np.where(taps, kernel((columns - center[:, None] + 0.5) * (1.0 / filterscale)), 0.0)
    # summed left to right, as precompute_coeffs does (a pairwise sum may differ in the last bit)
    total = np.cumsum(k, axis=1)[:, -1:]
    k = np.divide(k, total, out=k.copy(), where=total != 0.0)
    # normalize_coeffs_8bpc: a half away from zero added, then truncated as C's (int) (a
    # zero outside the taps stays zero)
    return np.trunc(k * _ONE + np.where(k < 0, -0.5, 0.5))


def _pass(pixels: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """One pass along the last axis: Pillow's rounding (add a half, shift) and clip8."""
    return np.clip(np.floor((pixels @ matrix.T + _HALF) / _ONE), 0, 255)


def _vertical_first(rows: int, columns: int, width: int, height: int, pillow_13: bool) -> bool:
    # Pillow 13 runs the vertical pass first where the height shrinks by more than twice
    # what the width does; before, always the horizontal (the rounding between the passes
    # makes the order show).
    return pillow_13 and rows - height > 0 and rows - height > (columns - width) * 2


def _matrix(in_size: int, out_size: int, kind: str) -> np.ndarray:
    # Pillow skips a pass that keeps the size; the identity gives the same pixels (each one
    # times _ONE, plus _HALF, floored over _ONE, is itself).
    return np.eye(in_size) * _ONE if in_size == out_size else weights(in_size, out_size, kind)


def resize_many(
    pixels: np.ndarray, sizes: Sequence[tuple[int, int]], kind: str = "lanczos", vertical_first: bool = True
) -> list[np.ndarray]:
    """``resize`` of one picture to each (width, height) of ``sizes``, to the same pixels,
    with one product per pass for all of them: the first pass's weight matrices stacked,
    then every second-pass matrix over every first-pass result at once (some of those
    products are not needed; at a few dozen pixels a side they cost less than the calls)."""
    rows, columns = pixels.shape
    source = pixels.astype(np.float64)
    out: list[np.ndarray | None] = [None] * len(sizes)
    for down_first in (False, True):
        wanted = [
            i
            for i, (w, h) in enumerate(sizes)
            if _vertical_first(rows, columns, w, h, vertical_first) == down_first
        ]
        if not wanted:
            continue
        # first along the columns (horizontal first) or along the rows
        firsts = sorted({sizes[i][1] if down_first else sizes[i][0] for i in wanted})
        seconds = sorted({sizes[i][0] if down_first else sizes[i][1] for i in wanted})
        picture = source.T if down_first else source
        first_in, second_in = (rows, columns) if down_first else (columns, rows)
        stacked = np.concatenate([_matrix(first_in, n, kind) for n in firsts])
        passed = _pass(picture, stacked)  # second-axis x sum(firsts)
        both = _pass(passed.T, np.concatenate([_matrix(second_in, n, kind) for n in seconds]))
        at_first = dict(zip(firsts, np.cumsum([0, *firsts]).tolist(), strict=False))
        at_second = dict(zip(seconds, np.cumsum([0, *seconds]).tolist(), strict=False))
        for i in wanted:
            w, h = sizes[i]
            f, s = (h, w) if down_first else (w, h)
            block = both[at_first[f] : at_first[f] + f, at_second[s] : at_second[s] + s]  # first x second
            out[i] = (block if down_first else block.T).astype(np.uint8)
    return [o for o in out if o is not None]


def resize(
    pixels: np.ndarray, width: int, height: int, kind: str = "lanczos", vertical_first: bool = True
) -> np.ndarray:
    """``pixels`` (rows x columns, uint8) resized as Pillow's ``Image.resize((width,
    height), LANCZOS or BOX)``, as uint8 (``vertical_first``: as Pillow 13 and later)."""
    return resize_many(pixels, [(width, height)], kind, vertical_first)[0]
