"""What a file tells of its history, read while it is open for hashing: camera metadata, its
JPEG tables, whether it holds colour, and whether a lossless file's pixels went through
JPEG. The keeper uses it to find the original among copies (keeper.py), without decoding a
photo again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .models import Provenance, pack_detail

# libjpeg's (IJG) luminance quantization table at quality 50, in the order Pillow gives it.
# Every editor, messenger and library that re-saves a JPEG through libjpeg writes this
# table scaled to its quality; cameras write their own.
_IJG_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
# A lossless file converted from a JPEG keeps the JPEG's 8x8 grid (blockiness). PNGs made
# from the dev corpus's JPEGs (quality about 92) scored 0.03 to 0.8, median 0.21; PNG and TIFF
# photos that never went through JPEG about 0 (median 0.01).
CONVERTED_BLOCKINESS = 0.02


def ijg_table(quality: int) -> tuple[int, ...]:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(min(255, max(1, (v * scale + 50) // 100)) for v in _IJG_LUMA)


_IJG_TABLES = {ijg_table(q): q for q in range(1, 101)}
_IJG_ARRAY = np.array([ijg_table(q) for q in range(1, 101)], dtype=np.int32)  # row q - 1


def jpeg_quality(table: Sequence[int] | None) -> tuple[int | None, bool | None]:
    """(the IJG quality whose luminance table is closest, whether it is exactly libjpeg's)."""
    if not table or len(table) != 64:
        return None, None
    table = tuple(table)
    if table in _IJG_TABLES:
        return _IJG_TABLES[table], True
    # A camera's own table: every camera JPEG of a scan comes here, so one array operation.
    closest = int(np.abs(_IJG_ARRAY - np.asarray(table, dtype=np.int32)).sum(axis=1).argmin())
    return closest + 1, False


def _dct_matrix(n: int = 8) -> np.ndarray:
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    m = np.sqrt(2 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    m[0] /= np.sqrt(2)
    return m.astype(np.float32)


_DCT8 = _dct_matrix()
_HIGH = np.add.outer(np.arange(8), np.arange(8)) >= 6  # the high frequencies JPEG drops first


# The high frequencies of a block's 2-D DCT straight from its 64 pixels (row by row): the rows
# of the Kronecker product DCT8 x DCT8 that _HIGH keeps. One matrix product for all blocks
# costs a fifth of 8x8 products block by block.
_HIGH_OF_BLOCK = np.kron(_DCT8, _DCT8)[_HIGH.reshape(-1)].T.copy()


def _high_frequencies(g: np.ndarray) -> float:
    h, w = g.shape[0] // 8 * 8, g.shape[1] // 8 * 8
    blocks = g[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 64)
    return float(np.abs(blocks @ _HIGH_OF_BLOCK).mean())


def blockiness(gray: np.ndarray) -> float:
    """How much more high-frequency energy 8x8 blocks hold when cut off JPEG's grid (shifted
    by 4 pixels) than on it: a decoded JPEG's blocks lost their high frequencies to
    quantization, so on the grid they are smooth and across its edges they are not. About 0
    for pixels that never went through JPEG. ``gray``: full-size luminance, rows by columns."""
    if min(gray.shape) < 32:
        return 0.0
    g = gray.astype(np.float32)
    return max(0.0, _high_frequencies(g[4:, 4:]) / max(_high_frequencies(g), 1e-3) - 1.0)


# -- the JPEG lattice: was this JPEG decoded from another JPEG of its group and saved again?
# A JPEG stores each 8x8 block's DCT coefficients as multiples of its quantization steps.
# Decode it and save it again at a finer step, and the new coefficients still sit near the
# old steps' multiples: a quality-90 re-save of a quality-70 picture uses only some of its
# own values (the double-quantization trace; Lukas and Fridrich, "Estimation of Primary
# Quantization Matrix in Double Compressed JPEG Images", 2003). So a copy re-saved at a
# higher quality than its source, where nothing else tells it from the original, still
# shows whose steps its pixels came from. Kept for the low frequencies, where most
# coefficients are not zero: each one's step and the histogram of its values.
LATTICE_POSITIONS = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0))
LATTICE_BINS = 24  # coefficient values 1..24 (in the file's own steps), sign dropped
_LOW = 1 + max(max(u, v) for u, v in LATTICE_POSITIONS)
_DCT8_LOW = _DCT8[:_LOW].copy()
_LATTICE_ENTRY = 3 + LATTICE_BINS  # step (1 byte), count (2 bytes), the histogram (1 byte a bin)
# A coefficient decoded and saved again moves by about half a grey level's worth (rounding
# to pixels, colour conversion, the encoder's integer DCT): it reaches a step of the
# source's within half the new step and this much.
LATTICE_SLACK = 0.5
# Only steps the source had coarser than this many times the copy's leave gaps to see.
LATTICE_MIN_RATIO = 1.5
LATTICE_MIN_COUNT = 100  # coefficients to judge on (a flat picture has few)
# Measured on the dev corpora's same-size pairs (python bench/keeper.py CORPUS --lattice): a
# watermarked, grey or mirrored re-save sat 0.2 or more above chance on its original's steps
# (dev: 48 of 62 watermarks, 48 of 56 grey copies), while an original never came closer than
# 0.113 to any of its copies' steps (1,271 pairs; seeds 7 and 11: 0.113 and 0.106).
LATTICE_MARGIN = 0.2


def lattice(luma: np.ndarray, table: Sequence[int] | None) -> bytes | None:
    """A JPEG's low-frequency steps and the histograms of its coefficients there, from its
    full-size decoded luminance and its luminance table (None without both)."""
    if table is None or len(table) != 64 or min(luma.shape) < 16:
        return None
    h, w = luma.shape[0] // 8 * 8, luma.shape[1] // 8 * 8
    # The low rows of each block's DCT, then their low columns: the blocks are never cut out
    # one by one (half the cost). The level shift of 128 moves only the DC coefficient.
    rows = _DCT8_LOW @ luma[:h, :w].astype(np.float32).reshape(h // 8, 8, w)
    low = rows.reshape(h // 8, _LOW, w // 8, 8) @ _DCT8_LOW.T  # block row, u, block column, v
    coefficients = np.stack([low[:, u, :, v].reshape(-1) for u, v in LATTICE_POSITIONS], axis=1)
    steps = np.array([min(int(table[u * 8 + v]), 255) for u, v in LATTICE_POSITIONS], dtype=np.float32)
    values = np.minimum(np.abs(np.rint(coefficients / steps)), LATTICE_BINS + 1).astype(np.int64)
    # one histogram of (position, value) for all positions; value 0 and values past the
    # last bin are left out
    positions = len(LATTICE_POSITIONS)
    counts = np.bincount(
        (values + np.arange(positions) * (LATTICE_BINS + 2)).reshape(-1),
        minlength=positions * (LATTICE_BINS + 2),
    )
    hists = counts.reshape(positions, LATTICE_BINS + 2)[:, 1 : LATTICE_BINS + 1]
    totals = hists.sum(axis=1)
    scaled = np.rint(hists * (255.0 / np.maximum(hists.max(axis=1, keepdims=True), 1))).astype(np.uint8)
    out = bytearray()
    for step, total, row in zip(steps.tolist(), totals.tolist(), scaled, strict=True):
        out += bytes([int(step)]) + min(total, 65535).to_bytes(2, "little") + row.tobytes()
    return bytes(out)


class _Lattices:
    """Many ``lattice`` records as arrays: each one's steps, coefficient counts, and the
    shares of its coefficients (as seen, and as a smooth histogram would put them) per bin."""

    def __init__(self, lattices: Sequence[bytes]) -> None:
        entries = np.frombuffer(b"".join(lattices), np.uint8).reshape(len(lattices), -1, _LATTICE_ENTRY)
        self.steps = entries[:, :, 0].astype(np.float64)
        self.totals = entries[:, :, 1].astype(np.float64) + 256.0 * entries[:, :, 2]
        hist = entries[:, :, 3:].astype(np.float64)
        self.counted = hist.sum(axis=2) > 0
        # the histogram smoothed over five bins, zeros beyond its ends (np.convolve's "same")
        padded = np.pad(hist, ((0, 0), (0, 0), (2, 2)))
        smooth = sum(padded[:, :, i : i + LATTICE_BINS] for i in range(5)) / 5
        self.seen = hist / np.maximum(hist.sum(axis=2, keepdims=True), 1e-9)
        self.chance = smooth / np.maximum(smooth.sum(axis=2, keepdims=True), 1e-9)

    def fits(self, copies: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """For each pair (copy, source): how far above chance the copy's coefficients sit on
        the source's steps, that is the share of them within reach of a multiple of the
        source's step less the share a smooth histogram would put there (NaN where no step
        of the source is coarse enough to tell, or too few coefficients)."""
        step, source_step = self.steps[copies][:, :, None], self.steps[sources][:, :, None]
        values = np.arange(1, LATTICE_BINS + 1) * step
        reach = np.abs(values - np.rint(values / source_step) * source_step) < step / 2 + LATTICE_SLACK
        told = (source_step[:, :, 0] >= LATTICE_MIN_RATIO * step[:, :, 0]) & self.counted[copies]
        weight = np.where(told, self.totals[copies], 0.0)
        seen = ((self.seen[copies] * reach).sum(axis=2) * weight).sum(axis=1)
        chance = ((self.chance[copies] * reach).sum(axis=2) * weight).sum(axis=1)
        count = weight.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count >= LATTICE_MIN_COUNT, (seen - chance) / count, np.nan)


def resaved_pairs(lattices: Sequence[bytes], copies: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """For each pair (``lattices[copies[k]]``, ``lattices[sources[k]]``) of ``lattice``
    records of pictures of one size: was the copy decoded from a JPEG with the source's
    steps and saved again? All pairs at once: a plan asks it of every same-size pair of
    every group."""
    out = np.zeros(len(copies), dtype=bool)
    if not len(copies):
        return out
    arrays = _Lattices(lattices)
    for start in range(0, len(copies), LATTICE_PAIRS_PER_STEP):  # a few MB of arrays a step
        step = slice(start, start + LATTICE_PAIRS_PER_STEP)
        out[step] = np.nan_to_num(arrays.fits(copies[step], sources[step]), nan=-1.0) >= LATTICE_MARGIN
    return out


LATTICE_PAIRS_PER_STEP = 4096


def lattice_fit(copy: bytes, source: bytes) -> float | None:
    """How far above chance ``copy``'s coefficients sit on ``source``'s steps (_Lattices.fits;
    None where it cannot tell)."""
    if len(copy) != len(source) or len(copy) % _LATTICE_ENTRY:
        return None
    fit = float(_Lattices([copy, source]).fits(np.array([0]), np.array([1]))[0])
    return None if math.isnan(fit) else fit


def resaved_from(copy: bytes | None, source: bytes | None) -> bool:
    """Was ``copy`` decoded from a JPEG with ``source``'s steps and saved again?
    (resaved_pairs of one pair.)"""
    if copy is None or source is None or len(copy) != len(source) or len(copy) % _LATTICE_ENTRY:
        return False
    return bool(resaved_pairs([copy, source], np.array([0]), np.array([1]))[0])


DETAIL_GRID = 8  # Provenance.detail: the sharpness of each cell of an 8x8 grid
# The detail grid is measured on a square of this side: a watermark's text 13 px high on a
# 320 px picture is 5 px at 128 and barely moves its cell's sharpness there.
DETAIL_SIDE = 256


def _laplacian(g: np.ndarray) -> np.ndarray:
    """The absolute 4-neighbour Laplacian of 8-bit grey pixels, in int16 (no overflow: at
    most 4 * 255 + 4 * 255)."""
    g = g.astype(np.int16)
    lap = 4 * g[1:-1, 1:-1]
    lap -= g[:-2, 1:-1]
    lap -= g[2:, 1:-1]
    lap -= g[1:-1, :-2]
    lap -= g[1:-1, 2:]
    return np.abs(lap, out=lap)


def appearance(data: bytes, side: int) -> tuple[float, float]:
    """(sharpness, noise) of a ``side`` x ``side`` grey picture: the mean absolute Laplacian
    and Immerkaer's estimate of the noise's standard deviation ("Fast Noise Variance
    Estimation", 1996). A blurred copy has less sharpness, a noisy one more noise, than the
    picture it was made from."""
    g = np.frombuffer(data, dtype=np.uint8).reshape(side, side).astype(np.float32)
    lap = _laplacian(np.frombuffer(data, dtype=np.uint8).reshape(side, side))
    # Immerkaer's mask is the outer product of [1, -2, 1] with itself: two second differences
    columns = g[:, :-2] - 2 * g[:, 1:-1] + g[:, 2:]
    conv = columns[:-2] - 2 * columns[1:-1] + columns[2:]
    noise = float(np.sqrt(np.pi / 2) * np.abs(conv).sum() / (6 * (side - 2) ** 2))
    return round(float(lap.mean()), 3), round(noise, 3)


def detail(data: bytes, side: int) -> np.ndarray:
    """The sharpness of each cell of a DETAIL_GRID square grid over a ``side`` x ``side`` grey
    picture (upright, row by row): a watermarked copy has more in the cells of its text."""
    lap = _laplacian(np.frombuffer(data, dtype=np.uint8).reshape(side, side))
    cell = (side - 2) // DETAIL_GRID
    # The grid is centred, so that a mirrored or turned copy's cells cover the same parts of
    # the photo as the original's once turned back (original.py).
    at = (side - 2 - cell * DETAIL_GRID) // 2
    span = slice(at, at + cell * DETAIL_GRID)
    grid = lap[span, span].reshape(DETAIL_GRID, cell, DETAIL_GRID, cell)
    sums = grid.sum(axis=(1, 3), dtype=np.int64).reshape(-1)
    # To the hundredth, as round(v, 2) (a sum over an odd number of pixels never lands on a
    # half hundredth, so numpy's rounding gives the same), for all 64 cells at once.
    return np.round(sums / (cell * cell), 2)


def _pixels(data: bytes, width: int, height: int) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width)


def describe(
    *,
    grey: bool,
    luma_table: Sequence[int] | None,
    make: str | None,
    model: str | None,
    maker_note: bool,
    software: str | None,
    gps: bool,
    orientation: int,
    gray: tuple[bytes, int, int] | None,
    square: tuple[bytes, int],
    fine: tuple[bytes, int],
    damaged: bool = False,
    dated: bool = False,
    luma: np.ndarray | None = None,
) -> Provenance:
    """``gray``: a lossless file's full-size 8-bit luminance as (bytes, width, height);
    ``luma``: a JPEG's full-size decoded luminance, as stored (not turned upright);
    ``square``: the reduced picture resized to a square, for ``appearance``; ``fine``: a
    larger square of it, for ``detail``."""
    quality, standard = jpeg_quality(luma_table)
    sharpness, noise = appearance(*square)
    camera = " ".join(p.strip("\x00 ") for p in (make, model) if p and p.strip("\x00 ")) or None
    return Provenance(
        channels=1 if grey else 3,
        jpeg_quality=quality,
        standard_tables=standard,
        camera=camera,
        maker_note=maker_note,
        software=(software or "").strip("\x00 ") or None,
        gps=gps,
        orientation=orientation,
        blockiness=None if gray is None else round(blockiness(_pixels(*gray)), 4),
        sharpness=sharpness,
        noise=noise,
        detail=pack_detail(detail(*fine)),
        damaged=damaged,
        dated=dated,
        lattice=None if luma is None else lattice(luma, luma_table),
    )
