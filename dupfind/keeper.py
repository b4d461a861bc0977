"""Keeper rules: an ordered list of named criteria, each a sort key, and why the keeper won.

The vocabulary follows dupeGuru's prioritizer and fclones' ``--priority``: resolution,
format, size, date, path. Two criteria always come first, whatever the user's list:
protected files (reference folders) are kept before any other, and a file that decoded
is kept before one that did not.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .models import Candidate
from .original import static_key

LOSSLESS_FORMATS = frozenset({"PNG", "TIFF", "BMP"})


@dataclass(frozen=True)
class Rule:
    """One criterion: ``key`` sorts better copies first; ``says`` explains a win."""

    name: str
    key: Callable[[Candidate], Any]
    says: Callable[[Candidate, Candidate], str]


def _pixels(c: Candidate) -> int:
    fp = c.fingerprint
    return (fp.width or 0) * (fp.height or 0)


def _size(c: Candidate) -> str:
    fp = c.fingerprint
    return f"{fp.width}x{fp.height}" if fp.width else "unknown size"


# Modification times compare to the second: file systems keep them at different resolutions
# (FAT to 2 s, ext4 to the nanosecond), and two copies written within one second are not
# older or newer than each other in any sense a user could know.
def _mtime_s(c: Candidate) -> int:
    return c.file.mtime_ns // 1_000_000_000


# A date in a camera's or phone's file name (IMG_20111224_182517, PXL_20240715_..., 2011-10-23
# ...): the day the photo was taken when the file carries no EXIF date.
_DATE_IN_NAME = re.compile(
    r"(?<!\d)((?:19[7-9]|20[0-4])\d)[-_.]?(?:0[1-9]|1[0-2])[-_.]?(?:0[1-9]|[12]\d|3[01])(?!\d)"
)


def year_taken(c: Candidate) -> str | None:
    """The year the photo was taken: its EXIF DateTimeOriginal, else a date in its name."""
    taken = c.fingerprint.taken
    if taken and taken[:4].isdigit():
        return taken[:4]
    found = _DATE_IN_NAME.search(c.path.rpartition(os.sep)[2])
    return found.group(1) if found else None


_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")


# Per folder, not per file: a library has a few files per folder or thousands, and the rules
# rank every file of a scan.
@functools.lru_cache(maxsize=1 << 16)
def _years_named(folder: str) -> frozenset[str]:
    return frozenset(_YEAR.findall(folder))


def _filed(c: Candidate) -> bool:
    """Does a folder on the path name the year the photo was taken (Pictures/2011/...)? Among
    copies of the same bytes, that one has been put away; the others sit in a backup, a
    download or a folder still to be sorted. (Only the folders a copy does not share with
    the others tell: a year above the library's root names every copy alike.)"""
    years = _years_named(c.path.rpartition(os.sep)[0])
    return bool(years) and year_taken(c) in years


# Folders that hold files in passing, in the languages of our users' libraries: a backup, a
# download, the desktop, a folder still to sort.
_IN_PASSING = re.compile(
    r"\b(backups?|sicherung(en)?|sauvegardes?|downloads?|desktop|schreibtisch|bureau|inbox|te?mp|"
    r"unsorted|unsortiert|to[ _-]?sort|zu sortieren|[aà] trier|copy|kopie|copie)\b",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1 << 16)
def _passing_in(folder: str) -> str | None:
    for name in folder.split(os.sep):
        if _IN_PASSING.search(name):
            return name
    return None


def passing_folder(c: Candidate) -> str | None:
    """The folder on the path that holds files in passing (Backups, Downloads, ...), or None."""
    return _passing_in(c.path.rpartition(os.sep)[0])


def _glob_rule(pattern: str) -> Rule:
    def matches(c: Candidate) -> bool:
        return fnmatch.fnmatch(c.path, pattern) or fnmatch.fnmatch(c.path, pattern.rstrip("/") + "/*")

    return Rule(f"path:{pattern}", lambda c: not matches(c), lambda k, o: f"path matches {pattern}")


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "resolution", lambda c: -_pixels(c), lambda k, o: f"highest resolution ({_size(k)} vs {_size(o)})"
        ),
        Rule(
            "lossless",
            lambda c: (c.fingerprint.format or "") not in LOSSLESS_FORMATS,
            lambda k, o: f"lossless format ({k.fingerprint.format} vs {o.fingerprint.format})",
        ),
        Rule("largest", lambda c: -c.file.size_bytes, lambda k, o: "larger file"),
        Rule("smallest", lambda c: c.file.size_bytes, lambda k, o: "smaller file"),
        Rule(
            "exif",
            lambda c: c.fingerprint.taken is None,
            lambda k, o: f"has EXIF DateTimeOriginal ({k.fingerprint.taken})",
        ),
        Rule("oldest", _mtime_s, lambda k, o: "oldest modification time"),
        Rule("newest", lambda c: -_mtime_s(c), lambda k, o: "newest modification time"),
        Rule(
            "filed",
            lambda c: not _filed(c),
            lambda k, o: f"in a folder named for the year it was taken ({year_taken(k)})",
        ),
        Rule(
            "sorted",
            lambda c: passing_folder(c) is not None,
            lambda k, o: f"the other is in a folder of files in passing ({passing_folder(o)})",
        ),
        Rule("shortest-path", lambda c: len(c.path), lambda k, o: "shortest path"),
        # Decided for a whole near group by original.choose (evidence of derivation); this
        # key is what a file says of itself, used before its group is known.
        Rule("original", static_key, lambda k, o: "original: what the file says of itself"),
    )
}
ORIGINAL = "original"
DEFAULT_RULES = "original,filed,sorted,oldest,shortest-path"

_PROTECTED = Rule("protected", lambda c: not c.protected, lambda k, o: "in a protected folder")
_DECODED = Rule("decoded", lambda c: not c.fingerprint.decoded, lambda k, o: "the others did not decode")
_PATH = Rule("path", lambda c: c.path, lambda k, o: "all rules tie; first by path")


def parse_rules(text: str) -> tuple[Rule, ...]:
    """``"resolution,path:*/Originals/*,oldest"`` -> rules; ValueError names a bad one."""
    rules = []
    for part in (p.strip() for p in text.split(",")):
        if part.startswith("path:") and len(part) > 5:
            rules.append(_glob_rule(part[5:]))
        elif part in RULES:
            rules.append(RULES[part])
        else:
            known = ", ".join([*RULES, "path:GLOB"])
            raise ValueError(f"unknown keeper rule {part!r} (rules: {known})")
    return tuple(rules)


def _all(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    return (_PROTECTED, _DECODED, *rules, _PATH)


def before_original(rules: Sequence[Rule]) -> Callable[[Candidate], tuple[Any, ...]] | None:
    """The key of what comes before ``original`` (protected, decoded, the user's earlier
    rules), or None when the rules do not ask for the original."""
    names = [r.name for r in rules]
    if ORIGINAL not in names:
        return None
    chain = _all(rules)[: 2 + names.index(ORIGINAL)]
    return lambda c: tuple(rule.key(c) for rule in chain)


def rank_key(rules: Sequence[Rule]) -> Callable[[Candidate], tuple[Any, ...]]:
    """A sort key putting the copy the rules keep first."""
    chain = _all(rules)
    return lambda c: tuple(rule.key(c) for rule in chain)


def explain(keeper: Candidate, others: Sequence[Candidate], rules: Sequence[Rule]) -> str:
    """Why ``keeper`` beats the best of ``others`` (empty when there are none)."""
    if not others:
        return ""
    chain = _all(rules)
    runner_up = min(others, key=rank_key(rules))
    for rule in chain:
        if rule.key(keeper) != rule.key(runner_up):
            return rule.says(keeper, runner_up)
    return _PATH.says(keeper, runner_up)
