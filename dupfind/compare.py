"""Comparing two files: their fingerprints, every distance, and a verdict."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FingerprintError
from .fingerprint import distance, fingerprint_path
from .models import Fingerprint, ImageFile

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
