"""Grouping: files with the same bytes (exact groups)."""

from __future__ import annotations

from collections.abc import Iterable

from .models import ExactGroup, ImageFile, ScannedFile


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
