"""Planning: what happens to each member of a group, decided before anything is touched.

The dry run prints exactly these plans; the real run executes them after re-checking
every file (``act``). Something is always kept: a plan has one keeper, and a choice that
would keep nothing cannot be expressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .keeper import Rule, explain
from .models import Action, Candidate, Group, PlannedGroup

ACTIONS = ("trash", "move", "hardlink")


@dataclass(frozen=True)
class PlanOptions:
    """``action`` is trash, move or hardlink; ``threshold`` the largest pHash distance."""

    action: str = "trash"
    threshold: int = 5


class PlanError(ValueError):
    """A keeper choice the plan refuses (say, a file that did not decode)."""


def distance_to(keeper: Candidate, other: Candidate) -> int | None:
    """pHash bits between two files; 0 for the same bytes; None when either has no pHash."""
    if other.fingerprint.sha256 == keeper.fingerprint.sha256:
        return 0
    a, b = keeper.fingerprint.phash, other.fingerprint.phash
    return None if a is None or b is None else (a ^ b).bit_count()


def plan_group(
    group: Group,
    rules: Sequence[Rule],
    options: PlanOptions,
    keeper_index: int = 0,
) -> PlannedGroup:
    """One action per member, with ``group.members[keeper_index]`` kept."""
    keeper = group.members[keeper_index]
    if group.kind == "near" and not keeper.fingerprint.decoded:
        raise PlanError("a file that did not decode cannot be the keeper of a near group")
    others = [m for i, m in enumerate(group.members) if i != keeper_index]
    why = explain(keeper, others, rules) if keeper_index == 0 else "chosen at the prompt"
    actions = [Action(keeper, "keep", 0, why)]
    for member in others:
        actions.append(_member_action(group, keeper, member, options))
    return PlannedGroup(group.kind, keeper, why, tuple(actions), options.threshold)


def _member_action(group: Group, keeper: Candidate, member: Candidate, options: PlanOptions) -> Action:
    d = distance_to(keeper, member)
    exact = d == 0 and member.fingerprint.sha256 == keeper.fingerprint.sha256
    if member.protected:
        return Action(member, "protected", d, "in a protected folder")
    if group.kind == "near" and not exact:
        if d is None or d > options.threshold:
            return Action(
                member, "skip", d, f"over the threshold ({d} > {options.threshold}) from this keeper"
            )
        if options.action == "hardlink":
            return Action(member, "skip", d, "--hardlink only replaces exact copies")
    reason = "exact copy" if exact else f"near duplicate ({d} bits)"
    return Action(member, options.action, d, reason)


def unconfirmed(group: PlannedGroup, reason: str) -> PlannedGroup:
    """The same group with every would-be victim turned into ``skip`` with ``reason``."""
    actions = tuple(
        Action(a.candidate, "skip", a.distance, reason) if a.action in ACTIONS else a for a in group.actions
    )
    return PlannedGroup(group.kind, group.keeper, group.why, actions, group.threshold)
