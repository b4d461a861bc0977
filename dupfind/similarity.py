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


def is_near(a: Fingerprint, b: Fingerprint, rule: Similarity) -> bool:
    """``matches(a, b, rule) is not None``."""
    if a.sha256 == b.sha256:
        return True
    return rule.near and comparable(a) is None and comparable(b) is None and near_pair(a, b, rule)


def near_pair(a: Fingerprint, b: Fingerprint, rule: Similarity) -> bool:
    """``is_near`` for two pictures already known to be ``comparable`` (grouping checks that
    once per picture, then judges every candidate pair here): a passing hash view, upright
    first, confirmed by the second look."""
    if a.phash is None or a.dhash is None or b.phash is None or b.dhash is None:
        return False
    p, d = (a.phash ^ b.phash).bit_count(), (a.dhash ^ b.dhash).bit_count()
    if p <= rule.phash and p + d <= rule.combined and evidence(a, b, Match(0, p, d)).refuted is None:
        return True
    if rule.turned <= 0:
        return False
    for (x_phash, x_dhash), y, inverse in (((b.phash, b.dhash), a, False), ((a.phash, a.dhash), b, True)):
        for t, (turned_phash, turned_dhash) in enumerate(zip(y.phash_turned, y.dhash_turned, strict=True), 1):
            p, d = (x_phash ^ turned_phash).bit_count(), (x_dhash ^ turned_dhash).bit_count()
            if p > rule.turned or p + d > rule.combined:
                continue
            if evidence(a, b, Match(_INVERSE.get(t, t) if inverse else t, p, d)).refuted is None:
                return True
    return False


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


# Each turn (Match.turn) on a thumbnail held as rows x columns, as Pillow's transpose
# (fingerprint.TURNS) does it to a picture.
_THUMB_TURNS = (
    lambda t: t,
    lambda t: t[:, ::-1],  # mirrored
    lambda t: t[::-1, :],  # upside down
    lambda t: t[::-1, ::-1],  # turned 180°
    lambda t: t.T,  # transposed
    lambda t: t[::-1, ::-1].T,  # transversed
    lambda t: np.rot90(t, 1),  # turned 90° left
    lambda t: np.rot90(t, -1),  # turned 90° right
)
_SWAPS_AXES = frozenset({4, 5, 6, 7})
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


def _unit(rows: np.ndarray) -> np.ndarray:
    centred = rows - rows.mean(axis=-1, keepdims=True)
    return centred / np.maximum(np.linalg.norm(centred, axis=-1, keepdims=True), 1e-6)


def _cropped(t: np.ndarray) -> np.ndarray:
    """Every crop of ``t`` in _CROP_MARGINS, resampled to full size, as unit rows."""
    maps = _crop_maps(t.shape[0])
    rows = maps @ t  # (9, side, side): the rows cropped
    both = rows[:, None] @ maps.transpose(0, 2, 1)[None]  # (9, 9, side, side)
    return _unit(both.reshape(-1, t.size))


def thumb_correlation(a: Fingerprint, b: Fingerprint, turn: int) -> float | None:
    """Pearson's correlation of the thumbnails' grey levels, ``a``'s turned by ``turn``
    (None when one is missing or flat)."""
    if a.thumb is None or b.thumb is None or len(a.thumb) != len(b.thumb):
        return None
    ua, ub = _thumb_stats(a.thumb)[0], _thumb_stats(b.thumb)[0]
    if ua is None or ub is None:
        return None
    return float(np.vdot(_THUMB_TURNS[turn](ua), ub))


def thumb_difference(a: Fingerprint, b: Fingerprint, turn: int) -> float:
    """How far apart the thumbnails are, ``a``'s turned by ``turn``, once each is brought to
    zero mean and unit spread: the mean absolute difference (0: the same picture)."""
    if a.thumb is None or b.thumb is None or len(a.thumb) != len(b.thumb):
        return 2.0
    ua, ub = _thumb_stats(a.thumb)[0], _thumb_stats(b.thumb)[0]
    if ua is None or ub is None:
        return 2.0
    # Unit vectors are the standard scores divided by sqrt(n).
    return float(np.abs(_THUMB_TURNS[turn](ua) - ub).mean()) * math.sqrt(ua.size)


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
    ua = np.ascontiguousarray(_THUMB_TURNS[turn](ua))
    return float(max((_cropped(ua) @ ub.reshape(-1)).max(), (_cropped(ub) @ ua.reshape(-1)).max()))


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


class Pictures:
    """Many pictures' hashes and shapes as arrays, so one picture is judged against many at
    once (``near_many``): grouping's hot loop. Thumbnails stay in the fingerprints and are
    gathered only for the pairs whose hashes pass."""

    def __init__(self, fps: Sequence[Fingerprint]) -> None:
        self.fps = fps
        n = len(fps)
        self.phash = np.fromiter((fp.phash or 0 for fp in fps), dtype=np.uint64, count=n)
        self.dhash = np.fromiter((fp.dhash or 0 for fp in fps), dtype=np.uint64, count=n)
        turns = len(_THUMB_TURNS) - 1
        self.has_turned = np.fromiter((len(fp.phash_turned) == turns for fp in fps), dtype=bool, count=n)
        self.phash_turned = np.zeros((n, turns), dtype=np.uint64)
        self.dhash_turned = np.zeros((n, turns), dtype=np.uint64)
        for k in np.flatnonzero(self.has_turned).tolist():
            self.phash_turned[k] = fps[k].phash_turned
            self.dhash_turned[k] = fps[k].dhash_turned
        self.width = np.fromiter((fp.width or 0 for fp in fps), dtype=np.float64, count=n)
        self.height = np.fromiter((fp.height or 0 for fp in fps), dtype=np.float64, count=n)

    def near_many(self, i: int, others: np.ndarray, rule: Similarity) -> np.ndarray:
        """Which of ``others`` (indices, all ``comparable``) are near duplicates of picture
        ``i``: ``near_pair`` for each, the hash views and the plain second look in arrays,
        the crop search only where the plain look falls just short."""
        near = np.zeros(len(others), dtype=bool)
        a = self.fps[i]
        if not len(others) or a.thumb is None or _thumb_stats(a.thumb)[0] is None:
            return near
        for turn, p, d in self._views(i, others, rule):
            rows = np.flatnonzero(
                ~near & (p <= (rule.phash if turn == 0 else rule.turned)) & (p + d <= rule.combined)
            )
            if len(rows):
                near[rows[self._confirmed(a, others[rows], turn, p[rows], d[rows])]] = True
        return near

    def _views(
        self, i: int, others: np.ndarray, rule: Similarity
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(turn, pHash distances, dHash distances) of each way of seeing ``others`` as ``i``."""
        count = np.bitwise_count
        ph, dh = self.phash[others], self.dhash[others]
        yield 0, count(ph ^ self.phash[i]), count(dh ^ self.dhash[i])
        if rule.turned <= 0:
            return
        mine = self.has_turned[i]
        theirs = self.has_turned[others]
        for t in range(1, len(_THUMB_TURNS)):
            if mine:  # the other upright against this picture turned by t: the other is it turned
                yield t, count(ph ^ self.phash_turned[i, t - 1]), count(dh ^ self.dhash_turned[i, t - 1])
            # this picture upright against the other turned by t: the other is it turned back
            far = np.where(theirs, 0, 64)
            yield (
                _INVERSE.get(t, t),
                count(self.phash[i] ^ self.phash_turned[others, t - 1]) + far,
                count(self.dhash[i] ^ self.dhash_turned[others, t - 1]),
            )

    def _confirmed(
        self, a: Fingerprint, others: np.ndarray, turn: int, p: np.ndarray, d: np.ndarray
    ) -> np.ndarray:
        """``evidence(a, other, Match(turn, p, d)).refuted is None`` for each of ``others``."""
        ua, spread_a, _ = _thumb_stats(a.thumb)  # type: ignore[arg-type]
        fps = [self.fps[k] for k in others.tolist()]
        side = len(a.thumb)  # type: ignore[arg-type]
        usable = np.fromiter(
            (fp.thumb is not None and len(fp.thumb) == side for fp in fps), dtype=bool, count=len(fps)
        )
        grey = np.zeros((len(fps), side), dtype=np.float32)
        if usable.any():
            grey[usable] = np.frombuffer(
                b"".join(fp.thumb for fp, ok in zip(fps, usable, strict=True) if ok),  # type: ignore[misc]
                dtype=np.uint8,
            ).reshape(-1, side)
        centred = grey - grey.mean(axis=1, keepdims=True)
        norm = np.sqrt((centred * centred).sum(axis=1))
        usable &= norm > 0
        spread_b = np.where(usable, norm / math.sqrt(side), 0.0)
        plain = centred @ np.ascontiguousarray(_THUMB_TURNS[turn](ua)).reshape(-1) / np.maximum(norm, 1e-12)
        ra = a.width / a.height if a.width and a.height else math.nan
        w, h = self.width[others], self.height[others]
        with np.errstate(divide="ignore", invalid="ignore"):
            rb = h / w if turn in _SWAPS_AXES else w / h
            aspect = np.maximum(ra, rb) / np.minimum(ra, rb)
        shaped = (w > 0) & (h > 0) & np.isfinite(aspect) & (aspect <= MAX_ASPECT_CHANGE)
        needed = np.full(len(fps), MIN_LIKENESS + (TURNED_EXTRA if turn else 0.0))
        needed[np.minimum(spread_a, spread_b) < LOW_DETAIL_SPREAD] = np.maximum(
            needed[0], MIN_LIKENESS_LOW_DETAIL
        )
        confirmed = shaped & usable & (plain >= needed)
        # Just short: a small crop may explain it; the exact look decides.
        for k in np.flatnonzero(shaped & usable & ~confirmed & (plain >= needed - MAX_CROP_GAIN)).tolist():
            look = evidence(a, fps[k], Match(turn, int(p[k]), int(d[k])))
            confirmed[k] = look.refuted is None
        return confirmed
