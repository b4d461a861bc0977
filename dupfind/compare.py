"""Comparing two files (their fingerprints, every distance, a verdict), or one file with
the library (its nearest images, through the VP-tree)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .cache import Cache, CachedRow
from .errors import FingerprintError
from .fingerprint import distance, fingerprint_path
from .models import Fingerprint, ImageFile
from .vptree import VPTree

DEFAULT_THRESHOLD = 5
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
    threshold: int

    @property
    def same_file(self) -> bool:
        """Both paths name one file (a hard link or the same path twice)."""
        return self.files[0].identity == self.files[1].identity


def compare_files(path_a: str, path_b: str, threshold: int = DEFAULT_THRESHOLD) -> Comparison:
    """Fingerprint both files and judge them: ``identical`` (same bytes), ``near-duplicate``
    (pHash distance <= threshold) or ``different``. Raises FingerprintError when a file
    cannot be read or decoded."""
    a_file, a_fp = _fingerprint(path_a)
    b_file, b_fp = _fingerprint(path_b)
    distances = {name: distance(getattr(a_fp, name), getattr(b_fp, name)) for name in HASH_NAMES}
    if a_fp.sha256 == b_fp.sha256:
        verdict = IDENTICAL
    elif distances["phash"] <= threshold:
        verdict = NEAR_DUPLICATE
    else:
        verdict = DIFFERENT
    return Comparison((a_file, b_file), (a_fp, b_fp), distances, verdict, threshold)


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
    path: str, cache: Cache, threshold: int = DEFAULT_THRESHOLD
) -> tuple[ImageFile, Fingerprint, list[Match]]:
    """The cached files of earlier scans within ``threshold`` pHash bits of ``path``, nearest
    first. The cache is only a hint: a hit is shown only while its file still has the
    identity its row was computed for. Raises FingerprintError when ``path`` cannot be used."""
    file, fp = _fingerprint(path)
    rows = [row for row in cache.load(cache.roots()).values() if row.fingerprint.phash is not None]
    by_hash: dict[int, list[CachedRow]] = {}
    for row in rows:
        by_hash.setdefault(row.fingerprint.phash, []).append(row)  # type: ignore[arg-type]
    tree = VPTree(by_hash)
    matches = []
    for d, value in tree.query(fp.phash, threshold):  # type: ignore[arg-type]
        for row in by_hash[value]:
            if row.file.identity != file.identity and _still_there(row):
                matches.append(Match(row.file.path, d, row.fingerprint.sha256 == fp.sha256))
    matches.sort(key=lambda m: (m.distance, m.path))
    return file, fp, matches


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
