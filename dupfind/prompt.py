"""The interactive review: one question per group. Owns the prompt (click).

Answers map to member numbers, never to re-typed paths (SAFETY.md rule 12). The default,
on Enter, is to skip. EOF, a closed stdin and Ctrl-C raise click.Abort: the caller stops
before the unanswered group.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from .models import PlannedGroup
from .report import group_text

KEYS = (
    "a=accept  N=keep file N instead  s=skip (Enter)  n=not duplicates (remembered)  "
    "A=accept all remaining exact groups  q=quit"
)


@dataclass(frozen=True)
class Answer:
    """``accept`` (with the member number kept), ``skip``, ``not-duplicates``, ``all-exact``
    or ``quit``."""

    choice: str
    keeper_index: int = 0


def review(group: PlannedGroup, number: int, total: int) -> Answer:
    click.echo(group_text(group, number, total))
    while True:
        raw = click.prompt(f"  {KEYS}\n  ?", default="s", show_default=False).strip()
        if raw in ("", "s", "skip"):
            return Answer("skip")
        if raw in ("a", "y", "accept"):
            return Answer("accept")
        if raw == "A":
            return Answer("all-exact")
        if raw == "n":
            return Answer("not-duplicates")
        if raw in ("q", "quit"):
            return Answer("quit")
        if raw.isdigit() and 1 <= int(raw) <= len(group.actions):
            return Answer("accept", int(raw) - 1)
        click.echo(f"  Not an answer: {raw!r}. Type a, s, n, A, q or a file number 1-{len(group.actions)}.")
