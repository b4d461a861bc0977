"""When two fingerprints are near duplicates: the presets, the rule, and the best turn.

Two steps, as a careful person would look. The 64-bit hashes are a fast first filter: pHash
within the preset's threshold, backed by dHash. But at a library of 100,000 pictures,
different photographs meet within any threshold by chance, and every turned view compared
multiplies the chances. So a hash match is only a candidate until a second, independent look
confirms it (``verify``): the two 16x16 grey thumbnails, seen the way the hashes matched,
must correlate (allowing for a small crop), and the pictures must have the same shape.

The hash numbers come from ``bench/accuracy.py`` on the dev corpus, the verification's from
``bench/precision.py`` on generated libraries (README, "Accuracy").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence

import numpy as np

from .models import Evidence, Fingerprint, Match, Similarity

# Mirrored, flipped and turned copies match within this many pHash bits at most. Every
# turned, mirrored and EXIF-rotated copy in the dev corpus was within 4.
TURNED_MAX = 8
# A pHash match at the threshold T must also have pHash + dHash <= T * 7/4.
COMBINED_PER_PHASH = 7 / 4
PRESETS = {
    "strict": 8,  # re-encodes, resizes, format changes, light edits
    "normal": 14,  # also small crops, brightness and contrast changes
    "loose": 18,  # also larger crops; more chance of a wrong pair
}
DEFAULT_PRESET = "normal"
# Pictures with too little in them to compare: blank pages, solid colours, gradients and
# two-tone splits leave most pHash bits to noise. Every dev-corpus photo had 23 or more
# stable bits, such synthetic pictures 9 or fewer (bench/turned_hashes.py). Their exact
# copies still group.
MIN_STABLE_BITS = 16
# Icons and other tiny pictures: below this side, the 32x32 pHash input is an upscale.
MIN_NEAR_SIDE = 64
# Near groups never hold these: a camera RAW is the negative and its JPEG a development of
# it, never a copy to remove; only byte-identical RAW copies group.
EXACT_ONLY_FORMATS = ("RAW",)

_INVERSE = {6: 7, 7: 6}  # turned 90° left and right undo each other
# What each turn is, for people (fingerprint.TURNS order after "upright").
TURN_NAMES = (
    "upright",
    "mirrored",
    "upside down",
    "turned 180°",
    "transposed",
    "transversed",
    "turned 90° left",
    "turned 90° right",
)


def similarity(threshold: int, rotations: bool = True) -> Similarity:
    """The rule for a pHash threshold: dHash backing scales with it, turns are capped."""
    return Similarity(
        phash=threshold,
        combined=int(threshold * COMBINED_PER_PHASH),
        turned=min(threshold, TURNED_MAX) if rotations else 0,
    )


def preset(name: str, rotations: bool = True) -> Similarity:
    return similarity(PRESETS[name], rotations)


DEFAULT_RULE = preset(DEFAULT_PRESET)


# Verification (bench/precision.py on generated libraries, bench/accuracy.py on the dev
# corpus). Every copy in the dev corpus (re-encodes, resizes, edits, noise, blur, watermarks,
# turns, small crops) had thumbnails 0.90 or more alike once a crop of up to one thumbnail
# pixel a side was allowed for; different photographs of the same shape that passed the hash
# filter of the default preset, at most 0.89 upright, but mirrored or turned up to 0.96 (a
# mirrored scene of the same composition). So turned views need 0.97 (they are seven more
# chances of a random match; every turned copy in the dev corpus had 0.99 or more), and
# pictures with little structure 0.95. (Asking more of matches whose
# hashes are farther apart cost more small crops than it saved: bench/precision.py.)
MIN_LIKENESS = 0.90
TURNED_EXTRA = 0.07
MIN_LIKENESS_LOW_DETAIL = 0.95
LOW_DETAIL_SPREAD = 12.0  # standard deviation of a thumbnail's grey levels
# Allowing for a crop raised a dev-corpus copy's likeness by 0.21 at most: thumbnails further
# apart than this are not searched for a crop.
MAX_CROP_GAIN = 0.30
# A copy keeps the picture's shape; a small crop changes it by a few percent (5% at most in
# the dev corpus). Two pictures 10% or more apart in width over height are not copies.
MAX_ASPECT_CHANGE = 1.10
THUMB_CELLS = 256  # fingerprint.THUMB_SIDE squared
# Shapes within MAX_ASPECT_CHANGE of each other are in the same band of log(width / height)
# or in neighbouring ones (a hair wider than the change, for rounding).
_SHAPE_BAND = math.log(MAX_ASPECT_CHANGE) * (1 + 1e-9)


def comparable(fp: Fingerprint) -> str | None:
    """None when this picture may be judged a near duplicate; else why it is exact-only."""
    if not fp.decoded or fp.phash is None or fp.dhash is None:
        return "not decoded"
    if (fp.frames or 1) > 1:
        return "animated"
    if fp.format in EXACT_ONLY_FORMATS:
        return "camera RAW"
    if min(fp.width or 0, fp.height or 0) < MIN_NEAR_SIDE:
        return f"smaller than {MIN_NEAR_SIDE} px"
    if (fp.stable_bits or 0) < MIN_STABLE_BITS:
        return "too little detail (blank, gradient or two-tone)"
    return None


def _views(a: Fingerprint, b: Fingerprint, turns: bool) -> list[Match]:
    """``a`` against ``b`` upright and, when ``turns``, each picture's seven turns against
    the other upright (both ways, so the answer never depends on the order)."""
    if a.phash is None or a.dhash is None or b.phash is None or b.dhash is None:
        return []
    found = [Match(0, (a.phash ^ b.phash).bit_count(), (a.dhash ^ b.dhash).bit_count())]
    if turns:
        # a's turn t matching b means b is a turned by t; b's turn t matching a means b is a
        # turned by the inverse of t (only the two quarter turns are not their own inverse).
        for (x_phash, x_dhash), y, inverse in (((b.phash, b.dhash), a, False), ((a.phash, a.dhash), b, True)):
            pairs = zip(y.phash_turned, y.dhash_turned, strict=True)
            found += [
                Match(
                    _INVERSE.get(t, t) if inverse else t, (x_phash ^ p).bit_count(), (x_dhash ^ d).bit_count()
                )
                for t, (p, d) in enumerate(pairs, start=1)
            ]
    return found


def _closest(found: list[Match]) -> Match | None:
    return min(found, key=lambda m: (m.phash + m.dhash, m.turn)) if found else None


def best_match(a: Fingerprint, b: Fingerprint, turns: bool = True) -> Match | None:
    """The way of seeing ``b`` closest to ``a`` (by pHash + dHash); None without hashes."""
    return _closest(_views(a, b, turns))


def matches(a: Fingerprint, b: Fingerprint, rule: Similarity) -> Match | None:
    """The closest view in which ``a`` and ``b`` are near duplicates under ``rule`` (its
    hashes pass and the second look confirms them), else None. Same bytes always match; a
    picture that is not ``comparable`` matches nothing else."""
    if a.sha256 == b.sha256:
        return Match(0, 0, 0)
    if not rule.near or comparable(a) or comparable(b):
        return None
    passing = sorted((m for m in _views(a, b, rule.turned > 0) if within(m, rule)), key=_closeness)
    for m in passing:
        look = evidence(a, b, m)
        if look.refuted is None:
            return Match(m.turn, m.phash, m.dhash, look.likeness)
    return None


def within(m: Match, rule: Similarity) -> bool:
    """The hash filter: upright views are held to ``rule.phash``, turned ones to
    ``rule.turned``; both to ``rule.combined``."""
    limit = rule.phash if m.turn == 0 else rule.turned
    return m.phash <= limit and m.phash + m.dhash <= rule.combined


def _closeness(m: Match) -> tuple[int, int]:
    return (m.phash + m.dhash, m.turn)


def evidence(a: Fingerprint, b: Fingerprint, m: Match) -> Evidence:
    """The second look at ``b`` as ``a`` seen the ``m.turn`` way round, after the hashes
    passed at ``m``'s distances: the pictures must have the same shape, and their thumbnails
    must be ``needed_likeness`` alike. The likeness is first taken as the thumbnails are;
    only when that falls short by less than a small crop can explain is the best crop
    searched for (``thumb_likeness``)."""
    turn = m.turn
    needed = needed_likeness(a, b, m)
    aspect = aspect_change(a, b, turn)
    plain = thumb_correlation(a, b, turn)
    if aspect is None or aspect > MAX_ASPECT_CHANGE:
        why = "the shapes differ" if aspect is not None else "sizes unknown"
        return Evidence(turn, plain, needed, aspect, why)
    if plain is None:
        return Evidence(turn, None, needed, aspect, "no thumbnail to compare")
    if plain >= needed:
        return Evidence(turn, plain, needed, aspect, None)
    if plain < needed - MAX_CROP_GAIN:
        return Evidence(turn, plain, needed, aspect, f"thumbnails {plain:.2f} alike, {needed:.2f} needed")
    likeness = thumb_likeness(a, b, turn)
    refuted = None if likeness >= needed else f"thumbnails {likeness:.2f} alike, {needed:.2f} needed"
    return Evidence(turn, likeness, needed, aspect, refuted)


def needed_likeness(a: Fingerprint, b: Fingerprint, m: Match) -> float:
    """The thumbnail likeness a hash match needs: more for a turned view, and more for
    pictures with little structure (sky, walls, dark frames), whose thumbnails correlate on
    noise."""
    needed = MIN_LIKENESS + (TURNED_EXTRA if m.turn else 0.0)
    spreads = [thumb_spread(fp) for fp in (a, b)]
    if min(s if s is not None else 0.0 for s in spreads) < LOW_DETAIL_SPREAD:
        needed = max(needed, MIN_LIKENESS_LOW_DETAIL)
    return needed


# Each turn (Match.turn) on a batch of thumbnails held as pictures x rows x columns, as
# Pillow's transpose (fingerprint.TURNS) does it to a picture; _THUMB_TURNS on one.
_BATCH_TURNS = (
    lambda t: t,
    lambda t: t[:, :, ::-1],  # mirrored
    lambda t: t[:, ::-1, :],  # upside down
    lambda t: t[:, ::-1, ::-1],  # turned 180°
    lambda t: t.transpose(0, 2, 1),  # transposed
    lambda t: t[:, ::-1, ::-1].transpose(0, 2, 1),  # transversed
    lambda t: np.rot90(t, 1, axes=(1, 2)),  # turned 90° left
    lambda t: np.rot90(t, -1, axes=(1, 2)),  # turned 90° right
)
_THUMB_TURNS = tuple((lambda t, turn=turn: turn(t[None])[0]) for turn in _BATCH_TURNS)
_SWAPS_AXES = frozenset({4, 5, 6, 7})


def turned_grids(grids: np.ndarray, turns: np.ndarray, undo: bool = False) -> np.ndarray:
    """Square grids (pictures x rows x columns: thumbnails, the detail grid), each turned by
    its ``turns`` entry (``undo``: by its inverse), as Pillow would turn the pictures."""
    out = grids.copy()
    for t in np.unique(turns).tolist():
        rows = np.flatnonzero(turns == t)
        out[rows] = _BATCH_TURNS[_INVERSE.get(t, t) if undo else t](grids[rows])
    return out


# A small crop moves a thumbnail's content by up to a pixel at each side. The likeness is
# the best correlation over these crops of either thumbnail (0, 1/2 or 1 pixel off each
# side), each resampled back to full size: linear maps, built once.
_CROP_MARGINS = (0.0, 0.5, 1.0)


def _resampling(side: int, low: float, high: float) -> np.ndarray:
    """The matrix that stretches [low, side - high] of a line of ``side`` samples to all of it."""
    w = np.zeros((side, side), dtype=np.float32)
    for i in range(side):
        x = min(max(low + (i + 0.5) * (side - low - high) / side - 0.5, 0.0), side - 1.0)
        k = math.floor(x)
        w[i, k] += 1.0 - (x - k)
        if x > k:
            w[i, k + 1] += x - k
    return w


@functools.cache
def _crop_maps(side: int) -> np.ndarray:
    return np.stack([_resampling(side, lo, hi) for lo in _CROP_MARGINS for hi in _CROP_MARGINS])


@functools.lru_cache(maxsize=1 << 16)
def _thumb_stats(thumb: bytes) -> tuple[np.ndarray | None, float, float]:
    """A thumbnail as a unit vector around its mean (rows x columns; None when flat), the
    spread and the mean of its grey levels: computed once per picture however many pairs it
    is in."""
    side = math.isqrt(len(thumb))
    t = np.frombuffer(thumb, dtype=np.uint8).astype(np.float32)
    centred = t - t.mean()
    norm = float(np.sqrt(centred @ centred))
    spread = norm / math.sqrt(t.size)
    return (centred.reshape(side, side) / norm if norm > 0 else None), spread, float(t.mean())


def thumb_levels(fp: Fingerprint) -> tuple[float, float]:
    """(mean, spread) of the thumbnail's grey levels: the picture's brightness and contrast."""
    if fp.thumb is None:
        return 0.0, 0.0
    _, spread, mean = _thumb_stats(fp.thumb)
    return mean, spread


def thumb_spread(fp: Fingerprint) -> float | None:
    """How much is in the picture: the standard deviation of its thumbnail's grey levels."""
    return None if fp.thumb is None else _thumb_stats(fp.thumb)[1]


def thumb_correlation(a: Fingerprint, b: Fingerprint, turn: int) -> float | None:
    """Pearson's correlation of the thumbnails' grey levels, ``a``'s turned by ``turn``
    (None when one is missing or flat)."""
    if a.thumb is None or b.thumb is None or len(a.thumb) != len(b.thumb):
        return None
    ua, ub = _thumb_stats(a.thumb)[0], _thumb_stats(b.thumb)[0]
    if ua is None or ub is None:
        return None
    return float(np.vdot(_THUMB_TURNS[turn](ua), ub))


def thumb_likeness(a: Fingerprint, b: Fingerprint, turn: int) -> float | None:
    """How alike the thumbnails are once ``a``'s is turned by ``turn`` (b is a turned):
    the best Pearson correlation of their grey levels when either may be a small crop of
    the other, so brightness and contrast edits and small crops keep it near 1. None when
    a thumbnail is missing or flat (nothing to correlate)."""
    if a.thumb is None or b.thumb is None or len(a.thumb) != len(b.thumb):
        return None
    ua, ub = _thumb_stats(a.thumb)[0], _thumb_stats(b.thumb)[0]
    if ua is None or ub is None:
        return None
    # Correlation ignores offset and scale, so the cached unit thumbnails crop as well as the
    # grey levels would.
    x, y = _THUMB_TURNS[turn](ua).reshape(1, -1), ub.reshape(1, -1)
    return float(max(_best_crop(x, y)[0], _best_crop(y, x)[0]))


def aspect_change(a: Fingerprint, b: Fingerprint, turn: int) -> float | None:
    """How many times wider (or taller) ``b`` is than ``a``, seen the same way round (1:
    the same shape); None without sizes."""
    if not (a.width and a.height and b.width and b.height):
        return None
    ra = a.width / a.height
    rb = b.height / b.width if turn in _SWAPS_AXES else b.width / b.height
    return max(ra, rb) / min(ra, rb)


def describe_rule(rule: Similarity) -> str:
    """ "pHash within 14 bits, pHash + dHash within 24; turned copies within 8"."""
    if not rule.near:
        return "exact copies only"
    turned = f"; turned copies within {rule.turned}" if rule.turned else "; upright only"
    return f"pHash within {rule.phash} bits, pHash + dHash within {rule.combined}{turned}"


def describe_match(m: Match) -> str:
    """ "pHash 6, dHash 4 bits, thumbnails 0.97 alike, mirrored"."""
    how = "" if m.turn == 0 else f", {TURN_NAMES[m.turn]}"
    alike = "" if m.likeness is None else f", thumbnails {m.likeness:.2f} alike"
    return f"pHash {m.phash}, dHash {m.dhash} bits{alike}{how}"


PAIRS_PER_STEP = 1 << 14  # pairs judged per step: about 50 MB of thumbnails in float32


class Pictures:
    """Many pictures' hashes and shapes as arrays, so pairs of them are judged many at once
    (``near_pairs``): grouping's hot loop. Thumbnails stay in the fingerprints and are
    gathered only for the pairs whose hashes pass."""

    def __init__(self, fps: Sequence[Fingerprint]) -> None:
        self.fps = fps
        self._thumb_rows: tuple[np.ndarray, np.ndarray] | None = None
        n = len(fps)
        self.phash = np.fromiter((fp.phash or 0 for fp in fps), dtype=np.uint64, count=n)
        self.dhash = np.fromiter((fp.dhash or 0 for fp in fps), dtype=np.uint64, count=n)
        turns = len(_THUMB_TURNS) - 1
        self.has_turned = np.fromiter((len(fp.turned) == 16 * turns for fp in fps), dtype=bool, count=n)
        self.phash_turned = np.zeros((n, turns), dtype=np.uint64)
        self.dhash_turned = np.zeros((n, turns), dtype=np.uint64)
        if self.has_turned.any():
            # the packed words of all pictures in one buffer, read at once
            chosen = b"".join(fp.turned for fp, has in zip(fps, self.has_turned.tolist(), strict=True) if has)
            words = np.frombuffer(chosen, dtype=">u8").reshape(-1, 2 * turns).astype(np.uint64)
            self.phash_turned[self.has_turned] = words[:, :turns]
            self.dhash_turned[self.has_turned] = words[:, turns:]
        self.width = np.fromiter((fp.width or 0 for fp in fps), dtype=np.float64, count=n)
        self.height = np.fromiter((fp.height or 0 for fp in fps), dtype=np.float64, count=n)

    def shape_bands(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(upright, turned) shape band of each picture of ``ids``, for each of its views
        (turned: one column per turn of ``phash_turned``, its width and height swapped where
        the turn swaps them). Two pictures ``_confirmed`` can call copies are at most
        MAX_ASPECT_CHANGE apart in shape, so their bands differ by one at most: the search
        for candidates looks nowhere else."""
        with np.errstate(divide="ignore"):
            log_aspect = np.log(self.width[ids] / np.maximum(self.height[ids], 1.0))
        upright = np.floor(log_aspect / _SHAPE_BAND).astype(np.int64)
        swapped = np.floor(-log_aspect / _SHAPE_BAND).astype(np.int64)
        swaps = np.array([t in _SWAPS_AXES for t in range(1, len(_THUMB_TURNS))])
        return upright, np.where(swaps[None, :], swapped[:, None], upright[:, None])

    def near_pairs(self, left: np.ndarray, right: np.ndarray, rule: Similarity) -> np.ndarray:
        """Whether ``matches`` finds each pair (``left[k]``, ``right[k]``) of pictures, all
        ``comparable`` and of different bytes, near duplicates: the hash views and the plain second look in arrays, the crop search
        only where the plain look falls just short."""
        near = np.zeros(len(left), dtype=bool)
        for start in range(0, len(left), PAIRS_PER_STEP):
            a, b = left[start : start + PAIRS_PER_STEP], right[start : start + PAIRS_PER_STEP]
            out = near[start : start + PAIRS_PER_STEP]
            for turn, p, d in self._views(a, b, rule):
                limit = rule.phash if turn == 0 else rule.turned
                rows = np.flatnonzero(~out & (p <= limit) & (p + d <= rule.combined))
                if len(rows):
                    out[rows[self._confirmed(a[rows], b[rows], turn)]] = True
        return near

    def _views(
        self, a: np.ndarray, b: np.ndarray, rule: Similarity
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(turn, pHash distances, dHash distances) of each way of seeing ``b`` as ``a``."""
        count = np.bitwise_count
        yield 0, count(self.phash[a] ^ self.phash[b]), count(self.dhash[a] ^ self.dhash[b])
        if rule.turned <= 0:
            return
        # Without turned hashes a view is out of reach: more bits than any two hashes differ.
        far_a, far_b = np.where(self.has_turned[a], 0, 256), np.where(self.has_turned[b], 0, 256)
        for t in range(1, len(_THUMB_TURNS)):
            # b upright against a turned by t: b is a turned by t
            yield (
                t,
                count(self.phash[b] ^ self.phash_turned[a, t - 1]) + far_a,
                count(self.dhash[b] ^ self.dhash_turned[a, t - 1]),
            )
            # a upright against b turned by t: b is a turned back
            yield (
                _INVERSE.get(t, t),
                count(self.phash[a] ^ self.phash_turned[b, t - 1]) + far_b,
                count(self.dhash[a] ^ self.dhash_turned[b, t - 1]),
            )

    def matches(self, a: np.ndarray, b: np.ndarray, rule: Similarity) -> list[Match | None]:
        """``matches(fps[a[k]], fps[b[k]], rule)`` for each pair, in arrays: the closest
        passing view whose second look confirms it, with that look's likeness (a plan
        describes each copy by it: one call for all its groups instead of one per copy)."""
        fps = self.fps
        found: list[Match | None] = [None] * len(a)
        judged = []
        for k, (i, j) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
            if fps[i].sha256 == fps[j].sha256:
                found[k] = Match(0, 0, 0)
            elif rule.near and comparable(fps[i]) is None and comparable(fps[j]) is None:
                judged.append(k)
        if not judged:
            return found
        rows = np.array(judged)
        a, b = a[rows], b[rows]
        views = list(self._views(a, b, rule))
        turns = np.array([t for t, _, _ in views])[:, None]
        phash = np.stack([p for _, p, _ in views]).astype(np.int64)
        dhash = np.stack([d for _, _, d in views]).astype(np.int64)
        passing = (phash <= np.where(turns == 0, rule.phash, rule.turned)) & (phash + dhash <= rule.combined)
        # matches() tries the passing views by (pHash + dHash, turn), in the order its
        # _views lists them on a tie: upright, b against each turn of a, a against each of
        # b's (Pictures._views alternates the last two)
        turned = len(_THUMB_TURNS) - 1
        listed = np.array([0] + [t + side * turned for t in range(1, turned + 1) for side in (0, 1)])
        key = ((phash + dhash) * 8 + turns) * 16 + listed[: len(views), None]
        order = np.argsort(np.where(passing, key, np.iinfo(np.int64).max), axis=0)
        open_rows = np.ones(len(rows), dtype=bool)
        pair = np.arange(len(rows))
        for rank in range(len(views)):
            view = order[rank]
            tried = open_rows & passing[view, pair]
            if not tried.any():
                break
            for turn in np.unique(turns[view[tried], 0]).tolist():
                mine = np.flatnonzero(tried & (turns[view, 0] == turn))
                # in steps: the thumbnails of a step's pairs are 1 KB a pair in each copy
                likeness = [
                    like
                    for start in range(0, len(mine), PAIRS_PER_STEP)
                    for like in self._likeness(
                        a[mine[start : start + PAIRS_PER_STEP]], b[mine[start : start + PAIRS_PER_STEP]], turn
                    )
                ]
                for m, like in zip(mine.tolist(), likeness, strict=True):
                    if like is not None:
                        v = view[m]
                        found[judged[m]] = Match(turn, int(phash[v, m]), int(dhash[v, m]), like)
                        open_rows[m] = False
        return found

    def _likeness(self, a: np.ndarray, b: np.ndarray, turn: int) -> list[float | None]:
        """``evidence(a, b, Match(turn, ...))`` for each pair: its likeness where it
        confirms the match, else None (with thumb_likeness's value where a crop decides:
        the better of the two ways round)."""
        turned, ub, plain, needed, looked = self._plain_look(a, b, turn)
        likeness = np.where(looked & (plain >= needed), plain, np.nan)
        short = np.flatnonzero(looked & (plain < needed) & (plain >= needed - MAX_CROP_GAIN))
        for start in range(0, len(short), CROPS_PER_STEP):
            rows = short[start : start + CROPS_PER_STEP]
            x, y = turned[rows], ub[rows]
            best = np.maximum(_best_crop(x, y), _best_crop(y, x))
            likeness[rows] = np.where(best >= needed[rows], best, np.nan)
        return [None if math.isnan(v) else v for v in likeness.tolist()]

    def closest_turns(self, a: np.ndarray, b: np.ndarray, turns: bool) -> np.ndarray:
        """``best_match(a, b, turns).turn`` of each pair: the way round with the fewest
        pHash plus dHash bits apart (the lower turn on a tie)."""
        rule = Similarity(64, 128, 64 if turns else 0)
        best_bits = np.full(len(a), 1 << 16, dtype=np.int64)
        best_turn = np.zeros(len(a), dtype=np.int64)
        for turn, p, d in self._views(a, b, rule):
            bits = p.astype(np.int64) + d
            better = (bits < best_bits) | ((bits == best_bits) & (turn < best_turn))
            best_bits[better], best_turn[better] = bits[better], turn
        return best_turn

    def thumb_differences(self, a: np.ndarray, b: np.ndarray, turn: np.ndarray) -> np.ndarray:
        """How far apart the thumbnails of each pair are, ``a``'s turned by ``turn``, once
        each is brought to zero mean and unit spread: the mean absolute difference (0: the
        same picture; 2.0 where a thumbnail is missing or flat). In steps of PAIRS_PER_STEP
        pairs: a plan of a million photos asks it of millions of pairs, 1 KB each a copy."""
        out = np.full(len(a), 2.0)
        side = math.isqrt(THUMB_CELLS)
        for start in range(0, len(a), PAIRS_PER_STEP):
            step = slice(start, start + PAIRS_PER_STEP)
            ua, _, usable_a = self._thumbs(a[step])
            ub, _, usable_b = self._thumbs(b[step])
            turned = turned_grids(ua.reshape(-1, side, side), turn[step]).reshape(len(ua), THUMB_CELLS)
            apart = np.abs(turned - ub).mean(axis=1) * side
            out[step] = np.where(usable_a & usable_b, apart, 2.0)
        return out

    def _thumb_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Every picture's thumbnail grey levels as one uint8 row each (zeros where it has
        none), and which have one: gathered once, when the first pair is judged, instead of
        from the fingerprints for every batch of pairs (256 bytes a picture)."""
        if self._thumb_rows is None:
            has = np.fromiter(
                (fp.thumb is not None and len(fp.thumb) == THUMB_CELLS for fp in self.fps),
                bool,
                len(self.fps),
            )
            rows = np.zeros((len(self.fps), THUMB_CELLS), dtype=np.uint8)
            if has.any():
                chosen = (fp.thumb for fp, ok in zip(self.fps, has.tolist(), strict=True) if ok)
                rows[has] = np.frombuffer(b"".join(chosen), dtype=np.uint8).reshape(-1, THUMB_CELLS)  # type: ignore[arg-type]
            self._thumb_rows = (rows, has)
        return self._thumb_rows

    def _thumbs(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit thumbnails as rows, their spreads, usable): as _thumb_stats, in arrays."""
        grey_levels, has_thumb = self._thumb_matrix()
        usable = has_thumb[ids]
        grey = grey_levels[ids].astype(np.float32)
        centred = grey - grey.mean(axis=1, keepdims=True)
        norm = np.sqrt((centred * centred).sum(axis=1))
        usable &= norm > 0
        return centred / np.maximum(norm, 1e-12)[:, None], norm / math.sqrt(THUMB_CELLS), usable

    def _plain_look(
        self, a: np.ndarray, b: np.ndarray, turn: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The second look at each pair before any crop (``evidence``): a's unit thumbnail
        turned by ``turn`` and b's, as rows; their correlation; the likeness needed; and
        whether the pair can be looked at (both thumbnails usable, the same shape)."""
        ua, spread_a, usable_a = self._thumbs(a)
        ub, spread_b, usable_b = self._thumbs(b)
        side = math.isqrt(THUMB_CELLS)
        turned = _BATCH_TURNS[turn](ua.reshape(-1, side, side)).reshape(len(a), -1)
        plain = np.einsum("ij,ij->i", turned, ub)
        wa, ha, wb, hb = self.width[a], self.height[a], self.width[b], self.height[b]
        with np.errstate(divide="ignore", invalid="ignore"):
            ra = wa / ha
            rb = hb / wb if turn in _SWAPS_AXES else wb / hb
            aspect = np.maximum(ra, rb) / np.minimum(ra, rb)
        shaped = (wa > 0) & (ha > 0) & (wb > 0) & (hb > 0) & (aspect <= MAX_ASPECT_CHANGE)
        least = MIN_LIKENESS + (TURNED_EXTRA if turn else 0.0)
        needed = np.full(len(a), least)
        plain_detail = np.minimum(np.where(usable_a, spread_a, 0.0), np.where(usable_b, spread_b, 0.0))
        needed[plain_detail < LOW_DETAIL_SPREAD] = max(least, MIN_LIKENESS_LOW_DETAIL)
        return turned, ub, plain, needed, shaped & usable_a & usable_b

    def _confirmed(self, a: np.ndarray, b: np.ndarray, turn: int) -> np.ndarray:
        """``evidence(a, b, Match(turn, ...)).refuted is None`` for each pair."""
        turned, ub, plain, needed, looked = self._plain_look(a, b, turn)
        confirmed = looked & (plain >= needed)
        # Just short: a small crop of either may explain it (thumb_likeness, in arrays).
        short = np.flatnonzero(looked & ~confirmed & (plain >= needed - MAX_CROP_GAIN))
        for start in range(0, len(short), CROPS_PER_STEP):
            rows = short[start : start + CROPS_PER_STEP]
            x, y = turned[rows], ub[rows]
            found = _best_crop(x, y) >= needed[rows]
            # the other way round only where this way fell short
            other = np.flatnonzero(~found)
            found[other] = _best_crop(y[other], x[other]) >= needed[rows][other]
            confirmed[rows] = found
        return confirmed


CROPS_PER_STEP = 512  # pairs whose 81 crops are made at once: about 40 MB


def _best_crop(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each pair of unit thumbnails (rows), the best correlation with ``y`` of a crop
    of ``x`` (each in _CROP_MARGINS, resampled to full size): the crops' sums give their
    means and spreads, so they are never normalised one by one."""
    if not len(x):
        return np.zeros(0)
    side = math.isqrt(x.shape[1])
    maps = _crop_maps(side)
    rows = maps[None] @ x.reshape(-1, 1, side, side)  # (pairs, 9, side, side): the rows cropped
    crops = (rows[:, :, None] @ maps.transpose(0, 2, 1)[None, None]).reshape(len(x), -1, side * side)
    dot = (crops @ y[:, :, None])[..., 0]  # y has zero mean: the crops' means drop out
    total = crops.sum(axis=2)
    spread = np.sqrt(np.maximum(np.einsum("pcj,pcj->pc", crops, crops) - total * total / (side * side), 0.0))
    return (dot / np.maximum(spread, 1e-6)).max(axis=1)
