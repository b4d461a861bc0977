"""Grouping: files with the same bytes (exact groups), then pictures within a Hamming
distance of each other (near groups), over distinct files and unique hash values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .models import Candidate, ExactGroup, Group, ImageFile, ScannedFile, Similarity
from .similarity import Pictures, comparable, near_pair
from .vptree import pairs_across, pairs_within


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


def candidates(files: Iterable[ScannedFile], protected: Callable[[str], bool]) -> list[Candidate]:
    """Distinct files by identity, each with all its names; zero-byte files left out.

    A file is protected when any of its names is (a hard link into a reference folder
    must not be removed through its other name)."""
    names: dict[tuple[int, int], list[ScannedFile]] = defaultdict(list)
    for scanned in files:
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
    keys = {id(c): rank(c) for c in files}  # each file ranked once: rules can be costly
    rank = lambda c: keys[id(c)]  # noqa: E731
    units = _units(files)
    for members in units.values():
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
        found = neighbours.candidates(k)
        found = found[~taken[found]]
        joined = found[neighbours.judge(k, found, rule)] if len(found) else found
        taken[joined] = True
        members = units[neighbours.shas[k]] + sorted(
            (c for other in joined.tolist() for c in units[neighbours.shas[other]]), key=rank
        )
        if len(members) > 1:
            groups.append(Group("near" if len(joined) else "exact", tuple(members)))
    return groups


def _csr(rows: np.ndarray, cols: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, columns): row r's columns are columns[starts[r]:starts[r + 1]]."""
    order = np.argsort(rows, kind="stable")
    return np.searchsorted(rows[order], np.arange(size + 1)), cols[order]


# Up to this many candidates, a leader judges them one by one: the arrays' fixed cost per
# call is worth it only for more (lib20k: 6,000 leaders, most with 1 to 5 candidates).
JUDGED_ONE_BY_ONE = 16


class Neighbourhood:
    """The candidate pairs of near duplicates, in arrays: pictures' distinct pHash values
    within ``rule.phash`` of each other, and upright values within ``rule.turned`` of turned
    ones (the pHash index, vptree), kept per value, never expanded into pairs of files. A
    group's leader asks for its candidates (``candidates``) and judges them at once
    (similarity.Pictures.near_many)."""

    def __init__(self, units: dict[str, list[Candidate]], rule: Similarity) -> None:
        self.shas = list(units)
        self.pictures = Pictures([units[sha][0].fingerprint for sha in self.shas])
        n = len(self.shas)
        eligible = np.fromiter((rule.near and near_eligible(units[sha][0]) for sha in self.shas), bool, n)
        ids = np.flatnonzero(eligible)
        values, value_of = np.unique(self.pictures.phash[ids], return_inverse=True)
        self.value = np.full(n, -1, dtype=np.int64)
        self.value[ids] = value_of
        self._value_units = _csr(value_of, ids, len(values))
        found = pairs_within(values, rule.phash) if len(values) > 1 else np.empty((0, 2), dtype=np.int64)
        both = np.concatenate([found, found[:, ::-1]])
        self._close_values = _csr(both[:, 0], both[:, 1], len(values))
        self._turned = None
        if rule.turned > 0 and len(values):
            turned_ids = ids[self.pictures.has_turned[ids]]
            flat = self.pictures.phash_turned[turned_ids].reshape(-1)
            turned_values, turned_of = np.unique(flat, return_inverse=True)
            owner = np.repeat(turned_ids, self.pictures.phash_turned.shape[1])
            across = pairs_across(values, turned_values, rule.turned)
            self.turned_of = np.full((n, self.pictures.phash_turned.shape[1]), -1, dtype=np.int64)
            self.turned_of[turned_ids] = turned_of.reshape(self.turned_of[turned_ids].shape)
            self._turned = (
                _csr(turned_of, owner, len(turned_values)),  # turned value -> pictures turned so
                _csr(across[:, 0], across[:, 1], len(values)),  # value -> turned values near it
                _csr(across[:, 1], across[:, 0], len(turned_values)),  # turned value -> values near it
            )

        self._lonely = self._without_candidates()
        self._judged: dict[tuple[int, int], bool] = {}

    def _without_candidates(self) -> np.ndarray:
        """Pictures no other picture's hashes come near (most of a library): no search."""
        value = self.value
        busy = np.zeros(len(value), dtype=bool)
        crowded = (np.diff(self._value_units[0]) > 1) | (np.diff(self._close_values[0]) > 0)
        if self._turned is not None:
            _, near_turned, turned_near = self._turned
            crowded |= np.diff(near_turned[0]) > 0
            linked = np.diff(turned_near[0]) > 0
            if len(linked):
                mine = self.turned_of
                busy |= ((mine >= 0) & linked[np.maximum(mine, 0)]).any(axis=1)
        busy[value >= 0] |= crowded[value[value >= 0]]
        return ~busy

    def judge(self, k: int, others: np.ndarray, rule: Similarity) -> np.ndarray:
        """Which of ``others`` are near duplicates of picture ``k``: a few one by one (and
        remembered, as the plan groups more than once), many at once."""
        if len(others) > JUDGED_ONE_BY_ONE:
            return self.pictures.near_many(k, others, rule)
        fps = self.pictures.fps
        out = np.zeros(len(others), dtype=bool)
        for n, j in enumerate(others.tolist()):
            key = (k, j) if k < j else (j, k)
            known = self._judged.get(key)
            if known is None:
                known = self._judged[key] = near_pair(fps[k], fps[j], rule)
            out[n] = known
        return out

    def candidates(self, k: int) -> np.ndarray:
        """The pictures whose hashes may put them within the rule of picture ``k``: its own
        pHash value, the values near it, and the turned views near it either way round."""
        v = self.value[k]
        if v < 0 or self._lonely[k]:
            return np.empty(0, dtype=np.int64)
        values = [np.array([v]), _row(self._close_values, v)]
        parts = []
        if self._turned is not None:
            by_turned, near_turned, turned_near = self._turned
            parts += [_rows(by_turned, _row(near_turned, v))]
            mine = self.turned_of[k]
            values += [_rows(turned_near, mine[mine >= 0])]
        parts.append(_rows(self._value_units, np.concatenate(values)))
        found = np.unique(np.concatenate(parts))
        return found[found != k]


def _row(csr: tuple[np.ndarray, np.ndarray], r: int) -> np.ndarray:
    starts, cols = csr
    return cols[starts[r] : starts[r + 1]]


def _rows(csr: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The columns of all ``rows``, in one gather."""
    starts, cols = csr
    low = starts[rows]
    sizes = starts[rows + 1] - low
    return cols[np.repeat(low - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))]
