"""Keeper rules: an ordered list of named criteria, each a sort key, and why the keeper won.

The vocabulary follows dupeGuru's prioritizer and fclones' ``--priority``: resolution,
format, size, date, path. Two criteria always come first, whatever the user's list:
protected files (reference folders) are kept before any other, and a file that decoded
is kept before one that did not.
"""

from __future__ import annotations

import fnmatch
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
        Rule("oldest", lambda c: c.file.mtime_ns, lambda k, o: "oldest modification time"),
        Rule("newest", lambda c: -c.file.mtime_ns, lambda k, o: "newest modification time"),
        Rule("shortest-path", lambda c: len(c.path), lambda k, o: "shortest path"),
        # Decided for a whole near group by original.choose (evidence of derivation); this
        # key is what a file says of itself, used before its group is known.
        Rule("original", static_key, lambda k, o: "original: what the file says of itself"),
    )
}
ORIGINAL = "original"
DEFAULT_RULES = "original,oldest,shortest-path"

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
