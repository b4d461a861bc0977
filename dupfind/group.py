"""Grouping: files with the same bytes (exact groups), then pictures within a Hamming
distance of each other (near groups), over distinct files and unique hash values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .bulk import collector_paused
from .models import Candidate, ExactGroup, Group, ImageFile, ScannedFile, Similarity
from .similarity import Pictures, comparable
from .vptree import distinct, distinct_inverse, pairs_across_bands, pairs_within_bands, unique_pairs


@collector_paused()
def group_exact(files: Iterable[ScannedFile]) -> tuple[ExactGroup, ...]:
    """Groups of two or more distinct files (by identity) with the same SHA-256.

    Hard links are one file and never their own duplicate; zero-byte files are never
    grouped (an empty file is not a copy of a photo). Groups come largest waste first.
    """
    by_sha: dict[str, dict[tuple[int, int], ImageFile]] = {}
    for scanned in files:
        file = scanned.file
        if file.size_bytes == 0:
            continue
        identities = by_sha.setdefault(scanned.fingerprint.sha256, {})
        known = identities.get(file.identity)
        if known is None or file.path < known.path:
            identities[file.identity] = file
    groups = [
        ExactGroup(sha, tuple(sorted(members.values(), key=lambda f: f.path)))
        for sha, members in by_sha.items()
        if len(members) > 1
    ]
    groups.sort(key=lambda g: (-g.wasted_bytes, g.files[0].path))
    return tuple(groups)


@collector_paused()
def candidates(files: Iterable[ScannedFile], protected: Callable[[str], bool]) -> list[Candidate]:
    """Distinct files by identity, each with all its names; zero-byte files left out.

    A file is protected when any of its names is (a hard link into a reference folder
    must not be removed through its other name)."""
    names: dict[tuple[int, int], list[ScannedFile]] = defaultdict(list)
    for scanned in files:
        if scanned.fingerprint.thin:
            raise ValueError("a scan with records=False gives summaries, not files to group")
        if scanned.file.size_bytes > 0:
            names[scanned.file.identity].append(scanned)
    out = []
    for seen in names.values():
        seen.sort(key=lambda s: s.file.path)
        paths = tuple(s.file.path for s in seen)
        out.append(Candidate(seen[0].file, seen[0].fingerprint, paths, any(protected(p) for p in paths)))
    return out


def near_eligible(c: Candidate) -> bool:
    """May this file be in a near group? (``similarity.comparable``)"""
    return comparable(c.fingerprint) is None


def near_neighbours(files: Sequence[Candidate], rule: Similarity) -> Neighbourhood:
    """Which pictures may be near duplicates of which: the costly part of grouping, built
    once when a plan groups more than once (plan.plan_all)."""
    return Neighbourhood(_units(files), rule)


def _units(files: Sequence[Candidate]) -> dict[str, list[Candidate]]:
    """Files by SHA-256: the copies of one set of bytes are one unit."""
    units: dict[str, list[Candidate]] = defaultdict(list)
    for c in files:
        units[c.fingerprint.sha256].append(c)
    return units


@collector_paused()
def group_duplicates(
    files: Sequence[Candidate],
    rule: Similarity,
    rank: Callable[[Candidate], Any],
    neighbours: Neighbourhood | None = None,
) -> list[Group]:
    """Exact and near groups, each file in at most one group, best copy first.

    Files with one SHA-256 form a unit. Units are taken best first by ``rank``; each one
    not yet taken gathers the untaken units that ``rule`` calls near duplicates of its
    own picture. So every near member matches the group's first file (no chaining
    A~B~C), and the first file is the one the rules keep. ``neighbours``: near_neighbours
    of these files, when already known.

    Only a leader's candidates are judged, and only those not yet taken: a burst of
    thousands of frames costs a judgement per frame and leader, never one per pair.
    """
    # Each file ranked once (rules can be costly), as its place in one sort: the many sorts
    # below then compare ints, not tuples of rule keys (keeper.rank_key's keys end with the
    # path: no two files tie, and the order is the keys' own).
    place = {id(c): k for k, c in enumerate(sorted(files, key=rank))}
    rank = lambda c: place[id(c)]  # noqa: E731
    units = _units(files)
    for members in units.values():
        if len(members) > 1:  # most pictures are one file: no sort call for them
            members.sort(key=rank)
    if neighbours is None:
        neighbours = Neighbourhood(units, rule)
    order = sorted(range(len(neighbours.shas)), key=lambda k: rank(units[neighbours.shas[k]][0]))
    taken = np.zeros(len(neighbours.shas), dtype=bool)
    groups = []
    for k in order:
        if taken[k]:
            continue
        taken[k] = True
        joined = neighbours.near(k, taken)
        if not len(joined) and len(units[neighbours.shas[k]]) < 2:
            continue  # alone: most pictures of a library
        taken[joined] = True
        members = units[neighbours.shas[k]] + sorted(
            (c for other in joined.tolist() for c in units[neighbours.shas[other]]), key=rank
        )
        if len(members) > 1:
            groups.append(Group("near" if len(joined) else "exact", tuple(members)))
    return groups


# A picture with more candidates than this (a frame of a long burst) has them gathered and
# judged when it leads a group, against the frames still untaken; all others are judged
# once, together, when the neighbourhood is built. So memory grows with the pictures,
# never with the square of a burst.
MAX_JUDGED_AHEAD = 256


class Neighbourhood:
    """Which pictures are near duplicates of which, found through the pHash index: distinct
    pHash values within ``rule.phash`` of each other, and upright values within
    ``rule.turned`` of turned ones (vptree), kept per value. Pairs with a picture of few
    candidates are judged at once, in arrays (similarity.Pictures.near_pairs); a picture
    of many (a burst) is judged when it leads, against what is left (``near``)."""

    def __init__(self, units: dict[str, list[Candidate]], rule: Similarity) -> None:
        self.shas = list(units)
        self.rule = rule
        self.pictures = Pictures([units[sha][0].fingerprint for sha in self.shas])
        n = len(self.shas)
        eligible = np.fromiter((rule.near and near_eligible(units[sha][0]) for sha in self.shas), bool, n)
        ids = np.flatnonzero(eligible)
        values, value_of = distinct_inverse(self.pictures.phash[ids])
        self.value = np.full(n, -1, dtype=np.int64)
        self.value[ids] = value_of
        self._value_units = _csr(value_of, ids, len(values))
        band, turned_band = self.pictures.shape_bands(ids)
        # Searched by value and shape band: a pair of values is a candidate when two of
        # their pictures are of shapes close enough to be copies.
        entry_value, entry_band = _distinct(value_of, band)
        found = _value_pairs(entry_value, pairs_within_bands(values[entry_value], entry_band, rule.phash))
        both = np.concatenate([found, found[:, ::-1]])
        self._close_values = _csr(both[:, 0], both[:, 1], len(values))
        self._turned: tuple[_Csr, _Csr, _Csr] | None = None
        self.turned_of = np.full((n, self.pictures.phash_turned.shape[1]), -1, dtype=np.int64)
        if rule.turned > 0 and len(values):
            has = self.pictures.has_turned[ids]
            turned_ids = ids[has]
            flat = self.pictures.phash_turned[turned_ids].reshape(-1)
            turned_values, turned_of = distinct_inverse(flat)
            owner = np.repeat(turned_ids, self.pictures.phash_turned.shape[1])
            turned_entry, turned_entry_band = _distinct(turned_of, turned_band[has].reshape(-1))
            across = pairs_across_bands(
                values[entry_value], entry_band, turned_values[turned_entry], turned_entry_band, rule.turned
            )
            across = unique_pairs([np.stack([entry_value[across[:, 0]], turned_entry[across[:, 1]]], axis=1)])
            self.turned_of[turned_ids] = turned_of.reshape(self.turned_of[turned_ids].shape)
            self._turned = (
                _csr(turned_of, owner, len(turned_values)),  # turned value -> pictures turned so
                _csr(across[:, 0], across[:, 1], len(values)),  # value -> turned values near it
                _csr(across[:, 1], across[:, 0], len(turned_values)),  # turned value -> values near it
            )
        counts = self._candidate_counts()
        self.crowded = counts > MAX_JUDGED_AHEAD
        few = np.flatnonzero((counts > 0) & ~self.crowded)
        owners, others = self._candidates(few)
        # Each pair once, whichever side found it (a pair of two crowded pictures is not here).
        pairs = distinct(np.minimum(owners, others) * n + np.maximum(owners, others))
        left, right = pairs // max(n, 1), pairs % max(n, 1)
        near = self.pictures.near_pairs(left, right, rule)
        left, right = left[near], right[near]
        self._near = _csr(np.concatenate([left, right]), np.concatenate([right, left]), n)

    def _candidate_counts(self) -> np.ndarray:
        """How many candidates each picture has, counting a picture once per way it was found."""
        value = self.value
        per_value = np.diff(self._value_units[0]).astype(np.int64)
        rows, cols = _pairs_of(self._close_values)
        reach = per_value + np.bincount(rows, weights=per_value[cols], minlength=len(per_value)).astype(
            np.int64
        )
        back = np.zeros(len(value), dtype=np.int64)
        if self._turned is not None:
            by_turned, near_turned, turned_near = self._turned
            per_turned = np.diff(by_turned[0])
            rows, cols = _pairs_of(near_turned)
            reach += np.bincount(rows, weights=per_turned[cols], minlength=len(per_value)).astype(np.int64)
            rows, cols = _pairs_of(turned_near)
            via = np.bincount(rows, weights=per_value[cols], minlength=len(per_turned)).astype(np.int64)
            mine = self.turned_of
            back = np.where(mine >= 0, via[np.maximum(mine, 0)] if len(via) else 0, 0).sum(axis=1)
        counts = np.where(value >= 0, reach[np.maximum(value, 0)] if len(reach) else 0, 0) + back
        return np.maximum(counts - (value >= 0), 0)  # not itself

    def _candidates(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(owner, candidate) for each picture of ``ids``: the pictures whose hashes may put
        them within the rule: its own pHash value, the values near it, and the turned views
        near it either way round. A candidate may come more than once."""
        ids = ids[self.value[ids] >= 0]
        values = self.value[ids]
        owner_values = [(ids, values), _expand(self._close_values, ids, values)]
        owner_units = []
        if self._turned is not None:
            by_turned, near_turned, turned_near = self._turned
            owner_units.append(_expand(by_turned, *_expand(near_turned, ids, values)))
            mine = self.turned_of[ids]
            has = mine >= 0
            owners = np.repeat(ids, has.sum(axis=1))
            owner_values.append(_expand(turned_near, owners, mine[has]))
        owners = np.concatenate([o for o, _ in owner_values])
        rows = np.concatenate([r for _, r in owner_values])
        owner_units.append(_expand(self._value_units, owners, rows))
        owners = np.concatenate([o for o, _ in owner_units])
        others = np.concatenate([c for _, c in owner_units])
        mask = owners != others
        return owners[mask], others[mask]

    def near(self, k: int, taken: np.ndarray) -> np.ndarray:
        """The pictures near picture ``k`` that are not ``taken`` (a mask) yet."""
        if not self.crowded[k]:
            found = _row(self._near, k)
            return found[~taken[found]]
        _, found = self._candidates(np.array([k]))
        found = distinct(found[~taken[found]])
        return found[self.pictures.near_pairs(np.full(len(found), k), found, self.rule)]


_Csr = tuple[np.ndarray, np.ndarray]


def _distinct(value_of: np.ndarray, band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (value, band) entries among these: (their values, their bands)."""
    if not len(value_of):
        return value_of.astype(np.int64), band.astype(np.int64)
    low = int(band.min())
    width = int(band.max()) - low + 1
    keys = distinct(value_of.astype(np.int64) * width + (band - low))
    return keys // width, keys % width + low


def _value_pairs(entry_value: np.ndarray, entry_pairs: np.ndarray) -> np.ndarray:
    """Pairs of entries as distinct pairs (i, j), i < j, of their values."""
    left, right = entry_value[entry_pairs[:, 0]], entry_value[entry_pairs[:, 1]]
    keep = left != right
    left, right = left[keep], right[keep]
    return unique_pairs([np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1)])


def _csr(rows: np.ndarray, cols: np.ndarray, size: int) -> _Csr:
    """(starts, columns): row r's columns are columns[starts[r]:starts[r + 1]]."""
    order = np.argsort(rows, kind="stable")
    return np.searchsorted(rows[order], np.arange(size + 1)), cols[order]


def _pairs_of(csr: _Csr) -> tuple[np.ndarray, np.ndarray]:
    starts, cols = csr
    return np.repeat(np.arange(len(starts) - 1), np.diff(starts)), cols


def _row(csr: _Csr, r: int) -> np.ndarray:
    starts, cols = csr
    return cols[starts[r] : starts[r + 1]]


def _expand(csr: _Csr, owners: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, column) for every column of each row, in one gather."""
    starts, cols = csr
    low = starts[rows]
    sizes = starts[rows + 1] - low
    picked = cols[np.repeat(low - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))]
    return np.repeat(owners, sizes), picked
