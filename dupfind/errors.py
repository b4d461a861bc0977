"""Exceptions and the reason codes used for files that could not be used."""

from __future__ import annotations

# Reason codes for skipped files. They are stable strings: scripts read them from --json.
EMPTY = "empty file"
NOT_AN_IMAGE = "not an image"
CORRUPT = "corrupt"
TRUNCATED = "truncated"
TOO_LARGE = "image too large"
TOO_SLOW = "too slow to decode"
NO_DECODER = "no decoder"
UNREADABLE = "unreadable"
VANISHED = "vanished"
CHANGED = "changed during scan"
NOT_REGULAR = "not a regular file"

# The scan could not see these files as they are: the exit status says so (3).
INCOMPLETE = frozenset({UNREADABLE, VANISHED, CHANGED})


class DupfindError(Exception):
    """Base class: a problem the user can act on, shown as one line."""


class RootError(DupfindError):
    """A root given on the command line cannot be scanned."""


class CacheError(DupfindError):
    """The cache cannot be opened or written."""


class CacheVersionError(CacheError):
    """The cache was written by a newer dupfind."""


class ScanError(DupfindError):
    """The scan itself could not go on (not one file's problem)."""


class FingerprintError(DupfindError):
    """One file could not be fingerprinted (used where a single file was asked for)."""

    def __init__(self, path: str, reason: str, detail: str = "") -> None:
        self.path = path
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}" + (f" ({detail})" if detail else ""))


class ActionError(DupfindError):
    """The action phase cannot start (no working trash, another problem before any move)."""
