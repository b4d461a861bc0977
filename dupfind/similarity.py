"""When two fingerprints are near duplicates: the presets, the rule, and the best turn.

The numbers come from ``bench/accuracy.py`` on the dev corpus (README, "Accuracy"): there,
no two different photographs came within pHash 14 with pHash + dHash <= 24, while 98.6% of
small crops did. Different photographs come closer once seven turns of each are compared,
so a turned match must be tighter (``TURNED_MAX``).
"""

from __future__ import annotations

from .models import Fingerprint, Match, Similarity

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
    """The closest passing view when ``a`` and ``b`` are near duplicates under ``rule``,
    else None. Same bytes always match; a picture that is not ``comparable`` matches
    nothing else."""
    if a.sha256 == b.sha256:
        return Match(0, 0, 0)
    if not rule.near or comparable(a) or comparable(b):
        return None
    return _closest([m for m in _views(a, b, rule.turned > 0) if within(m, rule)])


def is_near(a: Fingerprint, b: Fingerprint, rule: Similarity) -> bool:
    """``matches(a, b, rule) is not None``, stopping at the first passing view."""
    if a.sha256 == b.sha256:
        return True
    return rule.near and comparable(a) is None and comparable(b) is None and hashes_near(a, b, rule)


def hashes_near(a: Fingerprint, b: Fingerprint, rule: Similarity) -> bool:
    """The hash part of ``is_near``, for two pictures already known to be ``comparable``:
    grouping checks that once per picture, then judges every candidate pair here, and most
    pass upright."""
    if a.phash is None or a.dhash is None or b.phash is None or b.dhash is None:
        return False
    p = (a.phash ^ b.phash).bit_count()
    if p <= rule.phash and p + (a.dhash ^ b.dhash).bit_count() <= rule.combined:
        return True
    if rule.turned <= 0:
        return False
    for (x_phash, x_dhash), y in (((b.phash, b.dhash), a), ((a.phash, a.dhash), b)):
        for turned_phash, turned_dhash in zip(y.phash_turned, y.dhash_turned, strict=True):
            p = (x_phash ^ turned_phash).bit_count()
            if p <= rule.turned and p + (x_dhash ^ turned_dhash).bit_count() <= rule.combined:
                return True
    return False


def within(m: Match, rule: Similarity) -> bool:
    """Upright views are held to ``rule.phash``, turned ones to ``rule.turned``; both to
    ``rule.combined``."""
    limit = rule.phash if m.turn == 0 else rule.turned
    return m.phash <= limit and m.phash + m.dhash <= rule.combined


def describe_rule(rule: Similarity) -> str:
    """ "pHash within 14 bits, pHash + dHash within 24; turned copies within 8"."""
    if not rule.near:
        return "exact copies only"
    turned = f"; turned copies within {rule.turned}" if rule.turned else "; upright only"
    return f"pHash within {rule.phash} bits, pHash + dHash within {rule.combined}{turned}"


def describe_match(m: Match) -> str:
    """ "pHash 6, dHash 4 bits, mirrored"."""
    how = "" if m.turn == 0 else f", {TURN_NAMES[m.turn]}"
    return f"pHash {m.phash}, dHash {m.dhash} bits{how}"
