"""Planning: what happens to each member of a group, decided before anything is touched.

The dry run prints exactly these plans; the real run executes them after re-checking
every file (``act``). Something is always kept: a plan has one keeper, and a choice that
would keep nothing cannot be expressed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .bulk import collector_paused
from .group import candidates, group_duplicates, near_neighbours
from .keeper import Rule, before_original, explain, rank_key
from .models import MOVES, Action, Candidate, Group, Match, PlannedGroup, ScannedFile, Similarity
from .original import Derivation, choose, derivations_of, explained, judged
from .similarity import DEFAULT_RULE, Pictures, describe_match, matches


@dataclass(frozen=True)
class PlanOptions:
    """``action`` is trash, move or hardlink; ``rule`` says what a near duplicate is."""

    action: str = "trash"
    rule: Similarity = DEFAULT_RULE


class PlanError(ValueError):
    """A keeper choice the plan refuses (say, a file that did not decode)."""


def plan_group(
    group: Group,
    rules: Sequence[Rule],
    options: PlanOptions,
    keeper_index: int = 0,
    matched: Sequence[Match | None] | None = None,
) -> PlannedGroup:
    """One action per member, with ``group.members[keeper_index]`` kept. ``matched``: how
    each other member matches the keeper (similarity.matches), when already known."""
    keeper = group.members[keeper_index]
    if group.kind == "near" and not keeper.fingerprint.decoded:
        raise PlanError("a file that did not decode cannot be the keeper of a near group")
    others = [m for i, m in enumerate(group.members) if i != keeper_index]
    if keeper_index != 0:
        why = "chosen at the prompt"
    elif group.why:
        why = group.why + _among_byte_copies(keeper, others, rules)
    else:
        why = explain(keeper, others, rules)
    if matched is None:
        matched = [matches(keeper.fingerprint, m.fingerprint, options.rule) for m in others]
    actions = [Action(keeper, "keep", 0, why)]
    for member, match in zip(others, matched, strict=True):
        actions.append(_member_action(group, keeper, member, options, match))
    return PlannedGroup(group.kind, keeper, why, tuple(actions), options.rule)


def _keeper_matches(groups: Sequence[Group], rule: Similarity) -> list[list[Match | None]]:
    """How each member after the first matches its group's first member, for all groups
    at once (similarity.Pictures.matches): as many calls to matches() cost a plan of 100,000
    photos 3 s."""
    fps = [m.fingerprint for g in groups for m in g.members]
    sizes = np.array([len(g.members) for g in groups], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    firsts = np.zeros(len(fps), dtype=bool)
    firsts[starts] = True
    found = Pictures(fps).matches(np.repeat(starts, sizes - 1), np.flatnonzero(~firsts), rule)
    ends = np.cumsum(sizes - 1).tolist()
    return [found[end - (size - 1) : end] for end, size in zip(ends, sizes.tolist(), strict=True)]


def _among_byte_copies(keeper: Candidate, others: Sequence[Candidate], rules: Sequence[Rule]) -> str:
    """The evidence chose the picture; when the keeper's bytes are in the group more than
    once, the words for which of those files stays."""
    same = [m for m in others if m.fingerprint.sha256 == keeper.fingerprint.sha256]
    if not same:
        return ""
    copies = "a byte copy" if len(same) == 1 else f"{len(same)} byte copies"
    return f"; this file over {copies}: {explain(keeper, same, rules)}"


def _member_action(
    group: Group, keeper: Candidate, member: Candidate, options: PlanOptions, match: Match | None
) -> Action:
    exact = member.fingerprint.sha256 == keeper.fingerprint.sha256
    d = match.phash if match else None
    if member.protected:
        return Action(member, "protected", d, "in a protected folder")
    if group.kind == "near" and not exact:
        if match is None:
            return Action(member, "skip", None, "not a near duplicate of this keeper")
        if options.action == "hardlink":
            return Action(member, "skip", d, "--hardlink only replaces exact copies")
    if exact:
        return Action(member, options.action, d, "exact copy")
    reason = f"near duplicate ({describe_match(match)})"  # type: ignore[arg-type]
    derived = group.derived_of(member)
    return Action(member, options.action, d, f"{reason}; a copy: {derived}" if derived else reason)


def unconfirmed(group: PlannedGroup, reason: str) -> PlannedGroup:
    """The same group with every would-be victim turned into ``skip`` with ``reason``."""
    actions = tuple(
        Action(a.candidate, "skip", a.distance, reason) if a.action in MOVES else a for a in group.actions
    )
    return PlannedGroup(group.kind, group.keeper, group.why, actions, group.rule)


def under_any(folders: Iterable[str]) -> Callable[[str], bool]:
    """A test for "this path is inside one of these folders" (after resolving links)."""
    roots = [os.path.realpath(f).rstrip(os.sep) + os.sep for f in folders]
    return lambda path: any((os.path.realpath(path) + os.sep).startswith(root) for root in roots)


@collector_paused()
def plan_all(
    files: Iterable[ScannedFile],
    rules: Sequence[Rule],
    options: PlanOptions,
    protected: Callable[[str], bool],
    apart: Sequence[frozenset[str]] = (),
) -> list[tuple[Group, PlannedGroup]]:
    """Every group of these scanned files with the plan the rules propose for it. ``apart``:
    the user's "not duplicates" decisions (cache.not_duplicates), each a set of SHA-256s."""
    members = candidates(files, protected)
    rank = rank_key(rules)
    first = before_original(rules)
    if first is None:
        groups = group_duplicates(members, options.rule, rank)
    else:
        # The original is known only once its group is: group, choose each group's original
        # by the evidence of the whole group, then group again with the originals first, so
        # each gathers every copy that matches it (no member is kept only by another copy).
        near = near_neighbours(members, options.rule)
        # Each file ranked once for both passes: the rules read a file's evidence.
        ranks = {id(c): rank(c) for c in members}
        firsts = {id(c): first(c) for c in members}
        ranked = lambda c: ranks[id(c)]  # noqa: E731
        before = lambda c: firsts[id(c)]  # noqa: E731
        provisional = group_duplicates(members, options.rule, ranked, near)
        # By bytes: the evidence cannot tell byte copies apart, so among them the rules after
        # ``original`` decide (filed under its year, oldest, shortest path), not the path's
        # spelling.
        known: _Known = {}
        originals = {
            choose(g, options.rule, before, found).fingerprint.sha256
            for g, found in _with_derivations(provisional, options.rule, known)
        }
        seeded = lambda c: (firsts[id(c)], c.fingerprint.sha256 not in originals, ranks[id(c)])  # noqa: E731
        regrouped = group_duplicates(members, options.rule, seeded, near)
        groups = [
            explained(g, options.rule, found)
            for g, found in _with_derivations(regrouped, options.rule, known)
        ]
    shown = [g for g in (set_apart(g, apart) for g in groups) if g is not None]
    matched = _keeper_matches(shown, options.rule)
    return [(g, plan_group(g, rules, options, 0, m)) for g, m in zip(shown, matched, strict=True)]


def set_apart(group: Group, apart: Sequence[frozenset[str]]) -> Group | None:
    """The group without the members the user said are not duplicates of its keeper (None
    when none is left): the pictures of one decision, byte copies included, never meet in a
    group again. A new picture brings the group back, with the new picture only."""
    keeper = group.members[0].fingerprint.sha256
    mine = [d for d in apart if keeper in d]
    if not mine:
        return group
    left = [m for m in group.members[1:] if not any(m.fingerprint.sha256 in d for d in mine)]
    if not left:
        return None
    kind = "near" if any(m.fingerprint.sha256 != keeper for m in left) else "exact"
    return replace(group.only((group.members[0], *left)), kind=kind)


_Known = dict[frozenset[tuple[int, int]], dict[tuple[int, int], Derivation]]


def _with_derivations(
    groups: list[Group], rule: Similarity, known: _Known | None = None
) -> list[tuple[Group, list[Derivation] | None]]:
    """Each group with the derivations of its members when its original is judged by them,
    all such groups compared at once. ``known``: derivations of groups already judged, by
    their members (a member's derivation depends on who else is in its group, not on the
    order): regrouping around the originals leaves most groups as they were."""
    known = {} if known is None else known
    chosen = [g for g in groups if judged(g)]
    new = [g for g in chosen if _members(g) not in known]
    for g, found in zip(new, derivations_of([g.members for g in new], rule), strict=True):
        known[_members(g)] = {m.file.identity: d for m, d in zip(g.members, found, strict=True)}
    return [
        (g, [known[_members(g)][m.file.identity] for m in g.members] if judged(g) else None) for g in groups
    ]


def _members(group: Group) -> frozenset[tuple[int, int]]:
    return frozenset(m.file.identity for m in group.members)


def confirm(plan: PlannedGroup, *, yes: bool, yes_near: bool, dry_run: bool) -> PlannedGroup:
    """The plan without a review: ``yes`` covers exact groups, ``yes_near`` near ones (the two
    risk classes of SAFETY.md rule 4). A dry run with neither shows every proposal, as if each
    group had been accepted."""
    if dry_run and not (yes or yes_near):
        return plan
    if plan.kind == "exact" and not yes:
        return unconfirmed(
            plan,
            "exact group: needs --yes or the review"
            if yes_near
            else "not confirmed (no terminal and no --yes)",
        )
    if plan.kind == "near" and not yes_near:
        return unconfirmed(
            plan,
            "near group: needs --yes-near or the review"
            if yes
            else "not confirmed (no terminal and no --yes)",
        )
    return plan
