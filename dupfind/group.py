"""Grouping: files with the same bytes (exact groups), then pictures within a Hamming
distance of each other (near groups), over distinct files and unique hash values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .models import Candidate, ExactGroup, Group, ImageFile, ScannedFile, Similarity
from .similarity import comparable, near_pair
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


def near_neighbours(files: Sequence[Candidate], rule: Similarity) -> dict[str, set[str]]:
    """For each SHA-256, the others ``rule`` calls near duplicates of it: the costly part of
    grouping, computed once when a plan groups twice (plan.plan_all)."""
    return _near_units(_units(files), rule) if rule.near else {}


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
    neighbours: dict[str, set[str]] | None = None,
) -> list[Group]:
    """Exact and near groups, each file in at most one group, best copy first.

    Files with one SHA-256 form a unit. Units are taken best first by ``rank``; each one
    not yet taken gathers the untaken units that ``rule`` calls near duplicates of its
    own picture. So every near member matches the group's first file (no chaining
    A~B~C), and the first file is the one the rules keep. ``neighbours``: near_neighbours
    of these files, when already known.
    """
    keys = {id(c): rank(c) for c in files}  # each file ranked once: rules can be costly
    rank = lambda c: keys[id(c)]  # noqa: E731
    units = _units(files)
    for members in units.values():
        members.sort(key=rank)
    order = sorted(units, key=lambda sha: rank(units[sha][0]))
    if neighbours is None:
        neighbours = _near_units(units, rule) if rule.near else {}
    taken: set[str] = set()
    groups = []
    for sha in order:
        if sha in taken:
            continue
        taken.add(sha)
        joined = [other for other in neighbours.get(sha, ()) if other not in taken]
        taken.update(joined)
        members = units[sha] + sorted((c for other in joined for c in units[other]), key=rank)
        if len(members) > 1:
            groups.append(Group("near" if joined else "exact", tuple(members)))
    return groups


def _near_units(units: dict[str, list[Candidate]], rule: Similarity) -> dict[str, set[str]]:
    """For each unit, the other units ``rule`` calls near duplicates of it.

    Candidates come from the pHash index: upright pHashes within ``rule.phash`` of each
    other, and upright pHashes within ``rule.turned`` of another picture's turned pHashes;
    each candidate pair is then judged by ``near_pair`` (dHash backing and the thumbnails'
    verification included)."""
    by_hash: dict[int, list[str]] = defaultdict(list)
    turned: dict[int, list[str]] = defaultdict(list)
    for sha, members in units.items():
        fp = members[0].fingerprint
        if near_eligible(members[0]):
            by_hash[fp.phash].append(sha)  # type: ignore[index]
            if rule.turned > 0:
                for value in fp.phash_turned:
                    turned[value].append(sha)
    values = sorted(by_hash)
    candidates: set[tuple[str, str]] = set()
    for same in by_hash.values():  # one pHash, different bytes
        candidates.update((a, b) for a in same for b in same if a < b)
    for i, j in pairs_within(values, rule.phash).tolist():
        candidates.update(_pairs(by_hash[values[i]], by_hash[values[j]]))
    if turned:
        turned_values = sorted(turned)
        for i, j in pairs_across(values, turned_values, rule.turned).tolist():
            candidates.update(_pairs(by_hash[values[i]], turned[turned_values[j]]))
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in candidates:
        if near_pair(units[a][0].fingerprint, units[b][0].fingerprint, rule):  # all near_eligible
            neighbours[a].add(b)
            neighbours[b].add(a)
    return neighbours


def _pairs(left: list[str], right: list[str]) -> set[tuple[str, str]]:
    return {(min(a, b), max(a, b)) for a in left for b in right if a != b}
