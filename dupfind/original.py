"""Which copy in a near group is the original: by evidence, never by name or folder.

Every copy in a group was made from the original, directly or through another copy, and a
copy loses information but never gains it. So the original is the member that:

0. decoded **cleanly**: a copy whose JPEG data the decoder found corrupt (a bit-damaged
   copy, often larger than the intact one) never beats one that decoded without warnings;
1. is seen **upright** by most of the others (a mirrored, turned or EXIF-rotated copy is the
   one that disagrees with the majority; on a tie, the side holding a copy turned by its
   EXIF tag is the turned one);
2. has **colour** where another member has none (no colour comes back from grey);
3. has the **most pixels** (no detail comes back from a downscale, no area from a crop);
4. is **not a conversion**: a PNG, TIFF or WebP whose pixels carry JPEG's 8x8 block edges was
   made from a JPEG and holds nothing more than it; nor a **re-save** of another member: a
   JPEG whose coefficients sit on the quantization steps of another member of its size was
   decoded from that one's JPEG and saved again (provenance.lattice), even at a higher
   quality;
5. carries the **camera's evidence**: make and model, the camera's own MakerNote, GPS, and
   JPEG tables that are not libjpeg's (software re-saves write libjpeg's tables); and has
   the EXIF orientation most of the group has (a copy turned by setting the tag is the odd
   one; a camera original whose copies were turned upright keeps its camera evidence);
6. is **closest to all the others**: each copy is one edit away from the original and two
   from every other copy (blur, noise, a watermark, brightness, contrast), so the original
   is the group's medoid (image phylogeny's root, Dias, Rocha and Goldenstein, "Image
   Phylogeny by Minimal Spanning Trees", IEEE TIFS 2012, in its simplest form). The
   distance: how far a member's brightness, contrast, sharpness and noise (only more of it)
   are from the group's medians, plus how far its thumbnail is from the others', seen the same way round;
7. then the higher JPEG quality, the larger file. (A JPEG re-saved clearly below the best
   quality of the members that changed nothing visible counts as derived before 6: a
   re-encode changes nothing visible.)

The parts of the distance in 6 also name each copy's visible edits (brightness or contrast,
blur, noise, a watermark), where they pass a clear step (EDIT_MARKS).

The first criterion that tells the keeper from the runner-up is the reason given.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .models import Candidate, Fingerprint, Group, Similarity, detail_values
from .provenance import CONVERTED_BLOCKINESS, DETAIL_GRID, resaved_pairs
from .similarity import Pictures, thumb_levels, turned_grids

# Above this many members (a long burst) the pairwise comparison would cost the square of
# the group; the static order is kept.
MAX_MEMBERS = 64
# Distances closer than this are a tie (Derivation.middle).
DISTANCE_STEP = 0.1
# A JPEG saved more than this many quality points (libjpeg's scale) below the best JPEG of
# its group was re-saved: by a messenger, an export, a thumbnailer.
LOWER_QUALITY = 8
# Members this much further from the group's middle than the closest one changed something
# visible (one unit of _off_middle: a clear edit).
MIDDLE_REACH = 1.0
# The parts of a member's distance from the middle that name a visible edit (_edits):
# brightness or contrast (in units of 8 and 4 grey levels), sharpness lost and noise gained
# (in tenths of the group's median), the most raised cell of the detail grid (in 40% of its
# median). Measured on the dev corpus (python bench/keeper.py ../corpora/dev --edits): plain
# re-saves, conversions and turns stayed under each.
# The last two: a caption's cell is raised by 3 units or more, and it raises at most 6
# cells (a tenth of the grid); more than that is noise.
EDIT_MARKS = (1.0, 3.0, 3.0, 3.0, 6)


@dataclass(frozen=True, slots=True)
class Derivation:
    """What marks one member as derived, or as the original."""

    damaged: bool  # decoded only with the decoder's warnings of corrupt data
    turned: bool  # seen turned or mirrored by most of the others
    grey: bool  # no colour while another member has it
    pixels: int
    converted: bool  # a lossless file carrying JPEG's block edges
    resaved: bool  # a JPEG whose coefficients sit on another member's steps (provenance.lattice)
    camera: int  # camera make/model, MakerNote, GPS, camera JPEG tables: 0-4
    retagged: bool  # an EXIF orientation most of the group does not have (a rotation by tag)
    lower_quality: bool  # a JPEG saved clearly below the best quality of the unedited members
    distance: float  # how far from the group's middle (its medoid)
    # the distance beyond the group's closest member, in steps of DISTANCE_STEP: copies that
    # changed nothing visible (a re-encode, a conversion) tie with the original here, and
    # quality decides
    middle: int
    # the visible edits its distance shows (_edits): colours, blur, noise, a watermark
    edits: tuple[bool, bool, bool, bool]
    quality: int  # JPEG quality (libjpeg scale); 100 for lossless files
    size_bytes: int

    def key(self) -> tuple[Any, ...]:
        return (
            self.damaged,
            self.turned,
            self.grey,
            -self.pixels,
            self.converted,
            self.resaved,
            -self.camera,
            self.retagged,
            self.lower_quality,
            self.middle,
            -self.quality,
            -self.size_bytes,
        )


def static_key(c: Candidate) -> tuple[Any, ...]:
    """The order before a group is known (which member seeds a group): what one file says
    of itself. ``choose`` then decides within the group."""
    fp = c.fingerprint
    p = fp.provenance
    return (
        p is not None and p.damaged,
        p is not None and p.channels == 1,
        -_pixels(fp),
        _converted(fp),
        -_camera(fp),
        -_quality(fp),
        -c.file.size_bytes,
    )


def _camera(fp: Fingerprint) -> int:
    p = fp.provenance
    if p is None:
        return 0
    return (
        int(p.camera is not None)
        + int(p.maker_note)
        + int(p.gps)
        + int(p.standard_tables is False)
        + int(p.dated)
    )


def _converted(fp: Fingerprint) -> bool:
    p = fp.provenance
    return p is not None and p.blockiness is not None and p.blockiness >= CONVERTED_BLOCKINESS


def _orientation(fp: Fingerprint) -> int:
    return fp.provenance.orientation if fp.provenance is not None else 1


def _pixels(fp: Fingerprint) -> int:
    return (fp.width or 0) * (fp.height or 0)


def _jpeg_quality(fp: Fingerprint) -> int | None:
    return fp.provenance.jpeg_quality if fp.provenance is not None else None


def _quality(fp: Fingerprint) -> int:
    p = fp.provenance
    if p is None or p.jpeg_quality is None:
        return 100 if fp.format in ("PNG", "TIFF", "BMP") and not _converted(fp) else 0
    return p.jpeg_quality


def derivations(members: Sequence[Candidate], rule: Similarity) -> list[Derivation]:
    """What marks each member as derived or as the original, against the others of its
    group."""
    return derivations_of([members], rule)[0]


def derivations_of(groups: Sequence[Sequence[Candidate]], rule: Similarity) -> list[list[Derivation]]:
    """``derivations`` of each group, the pairs of all groups compared at once."""
    fps = [m.fingerprint for members in groups for m in members]
    starts = np.cumsum([0] + [len(members) for members in groups]).tolist()
    spans = list(itertools.pairwise(starts))
    # Every pair of a group once: the closest way round by the hashes tells a turned copy
    # and lines up the thumbnails (the second look was taken when the group was formed).
    # Byte copies have no distance and no turn.
    pairs = [np.triu_indices(e - s, 1) for s, e in spans]
    left = np.concatenate([i + s for (i, _), (s, _) in zip(pairs, spans, strict=True)] or [[]]).astype(
        np.int64
    )
    right = np.concatenate([j + s for (_, j), (s, _) in zip(pairs, spans, strict=True)] or [[]]).astype(
        np.int64
    )
    sha = np.array([fp.sha256 for fp in fps])
    hashed = np.array([fp.phash is not None and fp.dhash is not None for fp in fps], dtype=bool)
    keep = (sha[left] != sha[right]) & hashed[left] & hashed[right] if len(left) else np.zeros(0, bool)
    left, right = left[keep], right[keep]
    pictures = Pictures(fps)
    turn = pictures.closest_turns(left, right, turns=rule.turned > 0)
    difference = pictures.thumb_differences(left, right, turn)
    total = len(fps)
    apart = np.bincount(left, difference, total) + np.bincount(right, difference, total)
    # Each member's way round against its group's first member: the member is the first
    # turned by it (0 for the first, its byte copies and members with no hashes).
    from_first = np.zeros(total, dtype=np.int64)
    starts_at = np.zeros(total, dtype=bool)
    starts_at[starts[:-1]] = True
    first_pairs = starts_at[left] if len(left) else np.zeros(0, bool)
    from_first[right[first_pairs]] = turn[first_pairs]
    resaved = _resaved(fps, spans)
    return [
        _derived(members, rule, from_first[s:e], apart[s:e].tolist(), resaved[s:e])
        for members, (s, e) in zip(groups, spans, strict=True)
    ]


def _derived(
    members: Sequence[Candidate],
    rule: Similarity,
    from_first: np.ndarray,
    apart: list[float],
    resaved: list[bool],
) -> list[Derivation]:
    fps = [m.fingerprint for m in members]
    n = len(fps)
    # two have no middle (distance below); the others' grids are seen the first's way round
    parts = _off_middle(fps, from_first) if n > 2 else np.zeros((n, 7))
    off_middle = np.abs(parts[:, :5]).sum(axis=1).tolist()
    # Grey is derived where most of the group has colour (a grey original's copies may gain
    # colour, say a watermark's coloured text).
    colour = sum(fp.provenance is not None and fp.provenance.channels == 3 for fp in fps) * 2 > n
    qualities = [_jpeg_quality(fp) for fp in fps]
    orientations = [_orientation(fp) for fp in fps]
    usual_orientation = max(set(orientations), key=orientations.count)
    retagged = [
        o != usual_orientation and orientations.count(usual_orientation) * 2 > n for o in orientations
    ]
    ways = from_first.tolist()
    upright = _upright_way(ways, retagged)
    turned = [w != upright for w in ways]
    grey = [colour and fp.provenance is not None and fp.provenance.channels == 1 for fp in fps]
    # A WebP beside a JPEG as large was made from it: WebP is the web's re-encode of a photo.
    jpeg_pixels = max((_pixels(fp) for fp in fps if fp.format in ("JPEG", "MPO")), default=0)
    # Two members have no middle: each is one edit from the other either way round.
    distance = [round(off_middle[i] + apart[i] / (n - 1), 4) if n > 2 else 0.0 for i in range(n)]
    # The quality bar is set by the members that changed nothing visible (at the middle, the
    # right way round, in colour where the group is): a re-save of those is the messenger's
    # copy. An edited copy (noise, contrast, a watermark) re-saved at a higher quality says
    # nothing about the quality its source had; nor does a copy shown to be decoded from
    # another member's JPEG and saved again (resaved), at whatever quality.
    nearest = min(distance)
    plain = [
        qualities[i]
        for i in range(n)
        if qualities[i] is not None
        and distance[i] <= nearest + MIDDLE_REACH
        and not (turned[i] or grey[i] or resaved[i])
    ]
    best_quality = max(plain, default=None)
    return [
        Derivation(
            damaged=fps[i].provenance is not None and fps[i].provenance.damaged,
            turned=turned[i],
            grey=grey[i],
            pixels=_pixels(fps[i]),
            converted=_converted(fps[i]) or (fps[i].format == "WEBP" and jpeg_pixels >= _pixels(fps[i])),
            resaved=resaved[i],
            camera=_camera(fps[i]),
            retagged=retagged[i],
            lower_quality=qualities[i] is not None
            and best_quality is not None
            and qualities[i] < best_quality - LOWER_QUALITY,
            distance=distance[i],
            # Counted from the closest member, so that every member within a step of it ties
            # with it (steps counted from 0 split 0.65 and 0.70 apart). 0.3 / 0.1 is 2.999...
            middle=math.floor((distance[i] - nearest) / DISTANCE_STEP + 1e-9),
            edits=_edits(parts[i]),
            quality=_quality(fps[i]),
            size_bytes=members[i].file.size_bytes,
        )
        for i in range(n)
    ]


def _resaved(fps: Sequence[Fingerprint], spans: Sequence[tuple[int, int]]) -> list[bool]:
    """Which members are JPEGs decoded from another member of their group's JPEG and saved
    again: their coefficients sit on its steps (provenance.lattice), the pairs of all
    groups judged at once. Only pictures of one size and EXIF orientation share the 8x8
    grid; byte copies are one file. ``spans``: each group's (start, end) in ``fps``."""
    lattices = [fp.provenance.lattice if fp.provenance is not None else None for fp in fps]
    pairs = []
    for start, end in spans:
        grid: dict[tuple[object, ...], list[int]] = {}
        for k in range(start, end):
            if lattices[k] is not None:
                grid.setdefault((fps[k].width, fps[k].height, _orientation(fps[k])), []).append(k)
        for same in grid.values():
            pairs += [(j, i) for j, i in itertools.permutations(same, 2) if fps[i].sha256 != fps[j].sha256]
    found = [False] * len(fps)
    if pairs:
        chosen = sorted({k for pair in pairs for k in pair})
        at = {k: n for n, k in enumerate(chosen)}
        copies = np.array([at[j] for j, _ in pairs])
        sources = np.array([at[i] for _, i in pairs])
        resaved = resaved_pairs([lattices[k] for k in chosen], copies, sources)  # type: ignore[misc]
        for (j, _), yes in zip(pairs, resaved.tolist(), strict=True):
            found[j] = found[j] or yes
    return found


def _upright_way(ways: list[int], retagged: list[bool]) -> int:
    """The way round (against the group's first member) that counts as upright: the one most
    members share; on a tie, the one without a copy turned by its EXIF tag (such a copy
    shows which way the copies were turned)."""
    return min(
        set(ways),
        key=lambda w: (
            -ways.count(w),
            sum(r for x, r in zip(ways, retagged, strict=True) if x == w),
            w,
        ),
    )


def _looks(fp: Fingerprint) -> list[float]:
    """Brightness and contrast (the thumbnail's mean and spread), sharpness, noise, and the
    sharpness of each cell of the grid."""
    p = fp.provenance
    mean, spread = thumb_levels(fp)
    detail = detail_values(p.detail) if p is not None and p.detail else [0.0] * _CELLS
    return [mean, spread, (p.sharpness or 0.0) if p else 0.0, (p.noise or 0.0) if p else 0.0, *detail]


# What a change of one unit of each look weighs: grey levels of brightness and contrast;
# sharpness, noise and each cell's sharpness relative to the group's median.
_LOOK_SCALE = (8.0, 4.0, 0.1, 0.1)
_CELL_SCALE = 0.4  # the most raised cell: 40% above the group's median is one unit
_CELLS = DETAIL_GRID * DETAIL_GRID


def _off_middle(fps: Sequence[Fingerprint], from_first: np.ndarray) -> np.ndarray:
    """How far each member's looks are from the group's medians, one row of parts each
    (brightness, contrast, sharpness, noise, most raised cell above the upper quartile; then,
    for the edit words and not the distance, the most raised cell above the median and a
    count of raised cells): a copy changed one of them
    (brighter, more contrast, blurred, noisier, a watermark in a corner); the original sits at
    the middle of all. ``from_first``: each member's turn against the first; its grid is
    turned back so that a cell is the same part of the photo in every member."""
    looks = np.array([_looks(fp) for fp in fps], dtype=np.float64)
    grids = looks[:, 4:].reshape(-1, DETAIL_GRID, DETAIL_GRID)
    looks[:, 4:] = turned_grids(grids, from_first, undo=True).reshape(len(fps), -1)
    middle = _quantile(looks, 0.5, axis=0)
    # brightness and contrast in grey levels; sharpness and noise relative to the median;
    # a cell: only more detail than the median counts (text, a logo, noise)
    levels = np.abs(looks[:, :2] - middle[:2]) / np.array(_LOOK_SCALE[:2])
    relative = (looks[:, 2:4] - middle[2:4]) / (np.array(_LOOK_SCALE[2:]) * np.maximum(middle[2:4], 1.0))
    # Noise is what copies add (a re-encode's rounding, grain, a messenger's compression); a
    # copy has less only when blurred or shrunk, which sharpness and pixels tell. So only
    # more noise than the middle counts: the original, never re-encoded, is often the least noisy.
    noise = np.maximum(relative[:, 1], 0.0)
    # The one cell most raised above the group's middle: a watermark, a logo or a caption
    # raises a few cells of a fine grid a lot (DETAIL_SIDE, DETAIL_GRID); a sum over all
    # cells drowned them in every copy's small differences everywhere.
    # Each member's grid is first brought to the group's overall level of detail (the median
    # of its cells against the median of the middle's): a watermark changes where the detail
    # is, a blur or a sharper original how much there is everywhere, which sharpness counts.
    # Only brought down: a blurred copy's flat cells, scaled up, would look raised.
    grid = looks[:, 4:]
    level = _quantile(grid, 0.5, axis=1)[:, None]
    grid = grid * np.minimum(_quantile(middle[4:], 0.5, axis=0) / np.maximum(level, 1e-6), 1.0)
    # For the distance, a cell counts as raised only above the group's upper quartile there:
    # copies re-saved at a lower quality, blurred or shrunk lose fine detail, so against the
    # median the original itself, which kept it all, looked raised (an unseen corpus kept a
    # same-size thumbnail over its original so). A watermark rises above every member.
    upper = _quantile(grid, 0.75, axis=0)
    above_upper = np.maximum(grid - upper, 0.0) / (_CELL_SCALE * np.maximum(upper, 1.0))
    # The edit words keep the median: text raises a few cells above it, noise many.
    middle_grid = _quantile(grid, 0.5, axis=0)
    cells = np.maximum(grid - middle_grid, 0.0) / (_CELL_SCALE * np.maximum(middle_grid, 1.0))
    # (the last two columns are no distance: the most raised cell and how many cells are
    # raised by one unit against the median, which tell a few cells of text from noise)
    return np.column_stack(
        [
            levels,
            relative[:, 0],
            noise,
            above_upper.max(axis=1),
            cells.max(axis=1),
            (cells >= 1.0).sum(axis=1),
        ]
    )


def _quantile(values: np.ndarray, q: float, axis: int) -> np.ndarray:
    """np.percentile(values, 100 q, axis) by its linear rule (np.median for q = 0.5), from
    one sort: np.median and np.percentile cost 40 us a call in checks and dispatch, five
    calls a group, more than the rest of the group's looks."""
    ordered = np.sort(values, axis=axis)
    count = ordered.shape[axis]
    at = q * (count - 1)
    low = int(at)
    high = min(low + 1, count - 1)
    a, b = np.take(ordered, low, axis=axis), np.take(ordered, high, axis=axis)
    t = at - low
    if q == 0.5:
        return a if t == 0 else (a + b) / 2  # as np.median: the middle one, or the mean of two
    # numpy's _lerp: from the nearer end
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)


def _edits(parts: np.ndarray) -> tuple[bool, bool, bool, bool]:
    """Which visible edits one member's parts of the distance show: (brightness or contrast
    changed, blurred, noisier, a watermark or caption). Each mark needs a clear step past
    what a plain re-save or conversion moves (EDIT_MARKS): such copies stay unmarked. Noise
    raises the detail of many cells (flat ones most); a caption or logo a few, a lot."""
    brightness, contrast, sharpness, noise, _, cell, raised = parts.tolist()
    colours, blurred, noisier, most_raised, few = EDIT_MARKS
    return (
        max(brightness, contrast) >= colours,
        sharpness <= -blurred,
        noise >= noisier or raised > few,
        cell >= most_raised and 0 < raised <= few,
    )


def choose(
    group: Group,
    rule: Similarity,
    first: Callable[[Candidate], Any],
    found: Sequence[Derivation] | None = None,
) -> Candidate:
    """The group's original: the member the evidence puts first, after what must come first
    (``first``: protected, decoded, the user's earlier rules). ``found``: the group's
    derivations, when known."""
    members = list(group.members)
    if not judged(group):
        return members[0]
    found = found or derivations(members, rule)
    best = min(range(len(members)), key=lambda i: (first(members[i]), found[i].key(), members[i].path))
    return members[best]


def judged(group: Group) -> bool:
    """Is the group's original chosen by the evidence? (Exact groups are one picture; above
    MAX_MEMBERS the static order stands.)"""
    return group.kind == "near" and len(group.members) <= MAX_MEMBERS


def explained(group: Group, rule: Similarity, found: Sequence[Derivation] | None = None) -> Group:
    """The group with the words for why its first member is the original."""
    members = list(group.members)
    if not judged(group):
        return group
    found = found or derivations(members, rule)
    # Byte copies of the keeper tie on everything: the words are about the best other picture.
    others = [
        i for i in range(1, len(members)) if members[i].fingerprint.sha256 != members[0].fingerprint.sha256
    ]
    runner_up = min(others or range(1, len(members)), key=lambda i: (found[i].key(), members[i].path))
    largest = max(d.pixels for d in found)
    derived = tuple(_member_words(d, largest) for d in found)
    return Group(group.kind, group.members, explain(found[0], found[runner_up], found), derived)


# What told the keeper from the runner-up, in the order choose weighs it: the Derivation
# field, and the words for a keeper that wins on it.
_WINS_ON = (
    ("damaged", "decoded cleanly; the other's data is damaged"),
    ("turned", "seen upright by the others"),
    ("grey", "in colour"),
    ("pixels", "most pixels"),
    ("converted", "the other is a conversion of a JPEG"),
    ("resaved", "the other was decoded from a JPEG of this group and saved again"),
    ("camera", "camera metadata and tables"),
    ("retagged", "its EXIF orientation is the group's; the other was turned by a tag"),
    ("lower_quality", "the other is a JPEG re-saved at a lower quality"),
    ("middle", "closest to all the others (the copies are each one edit away)"),
    ("quality", "higher JPEG quality"),
    ("size_bytes", "larger file"),
)


def explain(keeper: Derivation, runner_up: Derivation, everyone: Sequence[Derivation]) -> str:
    """Plain words for what told the original from the best copy."""
    derived = _derived_words(everyone)
    tail = f"; the others are derived: {derived}" if derived else ""
    for field, words in _WINS_ON:
        if getattr(keeper, field) != getattr(runner_up, field):
            return f"original: {words}{tail}"
    return f"original: all evidence ties{tail}"


# What can mark a member as a copy, in the order of _marks: the why line counts each over the
# group, each copy to go names its own.
_MARK_WORDS = (
    "damaged",
    "turned or mirrored",
    "grey",
    "smaller",
    "converted from JPEG",
    "re-saved from a JPEG in this group",
    "turned by its EXIF tag",
    "re-saved at a lower JPEG quality",
    "brightness or contrast changed",
    "blurred",
    "noisier",
    "a watermark or caption",
)


def _marks(d: Derivation, largest: int) -> tuple[bool, ...]:
    smaller = d.pixels < largest
    colours, blurred, noisier, watermark = d.edits
    # A smaller copy lost its sharpness to the downscale: "smaller" says it.
    return (
        d.damaged,
        d.turned,
        d.grey,
        smaller,
        d.converted,
        d.resaved,
        d.retagged,
        d.lower_quality,
        colours,
        blurred and not smaller,
        noisier and not smaller,  # a downscale or crop moves detail between cells
        # noise, a blur, a downscale or a turn moves detail between cells everywhere; a
        # watermark raises a few where nothing else changed
        watermark and not (blurred or noisier or smaller or d.turned),
    )


def _member_words(d: Derivation, largest: int) -> str:
    """What marks one member as a copy ("" for none)."""
    return ", ".join(words for words, marked in zip(_MARK_WORDS, _marks(d, largest), strict=True) if marked)


def _derived_words(everyone: Sequence[Derivation]) -> str:
    largest = max(e.pixels for e in everyone)
    counts = [sum(column) for column in zip(*(_marks(e, largest) for e in everyone), strict=True)]
    return ", ".join(f"{name} {n}" for name, n in zip(_MARK_WORDS, counts, strict=True) if n)
