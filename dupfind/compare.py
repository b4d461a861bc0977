"""Comparing two files (their fingerprints, every distance, a verdict), or one file with
the library (its nearest images, through the VP-tree)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .cache import Cache, CachedRow
from .errors import FingerprintError
from .fingerprint import distance, fingerprint_path
from .models import Evidence, Fingerprint, ImageFile, Similarity
from .models import Match as View
from .similarity import DEFAULT_RULE, best_match, comparable, evidence, matches, within
from .vptree import near_values

HASH_NAMES = ("ahash", "dhash", "phash")
IDENTICAL = "identical"
NEAR_DUPLICATE = "near-duplicate"
DIFFERENT = "different"


@dataclass(frozen=True)
class Comparison:
    """Two files, their fingerprints, the Hamming distance per hash and the verdict."""

    files: tuple[ImageFile, ImageFile]
    fingerprints: tuple[Fingerprint, Fingerprint]
    distances: dict[str, int]
    verdict: str
    rule: Similarity
    best: View | None  # the matching way round, else the closest by the hashes, turns included
    exact_only: str | None  # why near-duplicate is out of the question, if it is
    evidence: Evidence | None = None  # the second look at ``best``, when its hashes pass

    @property
    def threshold(self) -> int:
        return self.rule.phash

    @property
    def same_file(self) -> bool:
        """Both paths name one file (a hard link or the same path twice)."""
        return self.files[0].identity == self.files[1].identity


def compare_files(path_a: str, path_b: str, rule: Similarity = DEFAULT_RULE) -> Comparison:
    """Fingerprint both files and judge them: ``identical`` (same bytes), ``near-duplicate``
    (``similarity.matches`` under ``rule``) or ``different``. Raises FingerprintError when a
    file cannot be read or decoded."""
    a_file, a_fp = _fingerprint(path_a)
    b_file, b_fp = _fingerprint(path_b)
    distances = {name: distance(getattr(a_fp, name), getattr(b_fp, name)) for name in HASH_NAMES}
    exact_only = comparable(a_fp) or comparable(b_fp)
    match = matches(a_fp, b_fp, rule) if a_fp.sha256 != b_fp.sha256 else None
    best = match or best_match(a_fp, b_fp, turns=rule.turned > 0)
    if a_fp.sha256 == b_fp.sha256:
        verdict = IDENTICAL
    elif match is not None:
        verdict = NEAR_DUPLICATE
    else:
        verdict = DIFFERENT
    second = None
    if verdict != IDENTICAL and not exact_only and best is not None and within(best, rule):
        second = evidence(a_fp, b_fp, best)
    return Comparison((a_file, b_file), (a_fp, b_fp), distances, verdict, rule, best, exact_only, second)


def _fingerprint(path: str) -> tuple[ImageFile, Fingerprint]:
    file, fp = fingerprint_path(path)
    if fp.problem is not None:
        raise FingerprintError(path, fp.problem, fp.detail or "")
    return file, fp


@dataclass(frozen=True)
class Match:
    """A library file near the one asked about (from the cache, re-checked on disk)."""

    path: str
    distance: int
    identical: bool


def nearest_in_library(
    path: str, cache: Cache, rule: Similarity = DEFAULT_RULE
) -> tuple[ImageFile, Fingerprint, list[Match]]:
    """The cached files of earlier scans that ``rule`` calls near duplicates of ``path`` (or
    identical), nearest first. The cache is only a hint: a hit is shown only while its file
    still has the identity its row was computed for. Raises FingerprintError when ``path``
    cannot be used."""
    file, fp = _fingerprint(path)
    if fp.phash is None:
        return file, fp, []
    # Only the matching rows are read: the pHashes come from the cache's index (a million in
    # about half a second), not from loading every row and building a tree for one question.
    queries = [(fp.phash, rule.phash)] + [(h, rule.turned) for h in fp.phash_turned if rule.turned > 0]
    near = near_values(cache.phashes(), queries)
    found = []
    for row in cache.rows_with_phash(near):
        view = matches(fp, row.fingerprint, rule)
        if view and row.file.identity != file.identity and _still_there(row):
            found.append(Match(row.file.path, view.phash, row.fingerprint.sha256 == fp.sha256))
    found.sort(key=lambda m: (m.distance, m.path))
    return file, fp, found


def _still_there(row: CachedRow) -> bool:
    try:
        st = os.lstat(row.file.path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == (
        row.file.dev,
        row.file.ino,
        row.file.size_bytes,
        row.file.mtime_ns,
    )
