"""Grouping judged in arrays (similarity.Pictures, group.Neighbourhood) answers exactly as the
pair-by-pair rule (similarity.matches) does, and a long burst costs a judgement per frame, never one per pair."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dupfind.group import group_duplicates
from dupfind.keeper import parse_rules, rank_key
from dupfind.models import Candidate, Fingerprint, ImageFile, pack_turned
from dupfind.similarity import Pictures, matches, similarity

from .conftest import SYMMETRIC_THUMB

BASE_THUMB = np.frombuffer(SYMMETRIC_THUMB, dtype=np.uint8).astype(np.int16)


def _flip(value: int, rng: random.Random, bits: int) -> int:
    for _ in range(bits):
        value ^= 1 << rng.randrange(64)
    return value


def _fingerprint(rng: random.Random, base: tuple[int, int, list[int]], k: int) -> Fingerprint:
    """A picture near ``base`` (a few bits off, sometimes turned), with a thumbnail more or
    less like the common one and a shape more or less like the others'."""
    phash, dhash, turned = base
    spread = rng.choice((0, 1, 3, 8, 16))
    if rng.random() < 0.3 and turned:  # a turned copy: its upright hash is a turned one of the base
        t = rng.randrange(7)
        phash, turned = turned[t], [phash, *turned[:t], *turned[t + 1 :]]
    noise = np.array([rng.randrange(-60, 61) if rng.random() < spread / 16 else 0 for _ in range(256)])
    thumb = np.clip(BASE_THUMB + noise, 0, 255).astype(np.uint8).tobytes() if rng.random() > 0.05 else None
    width = 300
    height = rng.choice((300, 290, 250, 200))
    return Fingerprint(
        sha256=f"{k:064x}",
        phash=_flip(phash, rng, rng.randrange(0, 7)),
        dhash=_flip(dhash, rng, rng.randrange(0, 7)),
        width=width,
        height=height,
        format="JPEG",
        stable_bits=40,
        turned=pack_turned(
            [_flip(v, rng, rng.randrange(0, 4)) for v in turned],
            [_flip(dhash, rng, rng.randrange(0, 8)) for _ in turned],
        ),
        thumb=thumb,
    )


def _library(seed: int, size: int, with_turns: bool, scenes: int = 0) -> list[Fingerprint]:
    rng = random.Random(seed)
    bases = [
        (
            rng.getrandbits(64),
            rng.getrandbits(64),
            [rng.getrandbits(64) for _ in range(7)] if with_turns else [],
        )
        for _ in range(scenes or max(1, size // 6))
    ]
    return [_fingerprint(rng, rng.choice(bases), k) for k in range(size)]


def _candidate(fp: Fingerprint, k: int) -> Candidate:
    path = f"/lib/{k:04}.jpg"
    return Candidate(ImageFile(path, 1, k + 1, 1000 + k, 0, 0), fp, (path,))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), threshold=st.sampled_from((4, 8, 14, 18)), turns=st.booleans())
def test_judging_pairs_in_arrays_answers_as_each_pair_does(seed: int, threshold: int, turns: bool) -> None:
    fps = _library(seed, 40, with_turns=True, scenes=2)
    rule = similarity(threshold, rotations=turns)
    left, right = np.triu_indices(len(fps), 1)
    expected = [
        matches(fps[i], fps[j], rule) is not None for i, j in zip(left.tolist(), right.tolist(), strict=True)
    ]
    assert Pictures(fps).near_pairs(left, right, rule).tolist() == expected
    assert Pictures(fps).near_pairs(right, left, rule).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), threshold=st.sampled_from((4, 8, 14, 18)), turns=st.booleans())
def test_describing_matches_in_arrays_gives_what_each_pair_gives(
    seed: int, threshold: int, turns: bool
) -> None:
    """Pictures.matches (the plan's description of every copy at once) is matches() pair by
    pair: the same view, the same distances, the same likeness to float32 rounding."""
    fps = _library(seed, 40, with_turns=True, scenes=2)
    fps[5] = fps[3]  # byte copies match as such
    rule = similarity(threshold, rotations=turns)
    left, right = np.triu_indices(len(fps), 1)
    found = Pictures(fps).matches(left, right, rule)
    for i, j, got in zip(left.tolist(), right.tolist(), found, strict=True):
        expected = matches(fps[i], fps[j], rule)
        assert (got is None) == (expected is None), (i, j)
        if expected is not None and got is not None:
            assert (got.turn, got.phash, got.dhash) == (expected.turn, expected.phash, expected.dhash)
            assert (got.likeness is None) == (expected.likeness is None)
            if expected.likeness is not None:
                assert abs(got.likeness - expected.likeness) < 1e-5


def _reference_groups(files: list[Candidate], threshold: int, turns: bool) -> list[list[str]]:
    """The rule by hand: leaders best first, each taking every untaken picture near it."""
    rule = similarity(threshold, rotations=turns)
    rank = rank_key(parse_rules("resolution"))
    taken: set[str] = set()
    groups = []
    for leader in sorted(files, key=rank):
        if leader.path in taken:
            continue
        taken.add(leader.path)
        joined = [
            c.path
            for c in sorted(files, key=rank)
            if c.path not in taken and matches(leader.fingerprint, c.fingerprint, rule) is not None
        ]
        taken.update(joined)
        if joined:
            groups.append([leader.path, *joined])
    return groups


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), threshold=st.sampled_from((4, 8, 14)), turns=st.booleans())
def test_groups_are_those_of_the_rule_judged_pair_by_pair(seed: int, threshold: int, turns: bool) -> None:
    files = [_candidate(fp, k) for k, fp in enumerate(_library(seed, 60, with_turns=turns))]
    groups = group_duplicates(
        files, similarity(threshold, rotations=turns), rank_key(parse_rules("resolution"))
    )
    got = [[m.path for m in g.members] for g in groups]
    assert sorted(got) == sorted(_reference_groups(files, threshold, turns))


def test_a_long_burst_is_one_group_judged_once_per_frame() -> None:
    # 3,000 frames of one scene, each a few bits from the first: as pairs, 4.5 million
    # judgements; as a leader taking its frames, 3,000 (within the time a test allows).
    rng = random.Random(3)
    first = (rng.getrandbits(64), rng.getrandbits(64))
    frames = [
        Fingerprint(
            sha256=f"{k:064x}",
            phash=_flip(first[0], rng, rng.randrange(0, 3)),
            dhash=_flip(first[1], rng, rng.randrange(0, 3)),
            width=400,
            height=300,
            format="JPEG",
            stable_bits=40,
            thumb=SYMMETRIC_THUMB,
        )
        for k in range(3000)
    ]
    files = [_candidate(fp, k) for k, fp in enumerate(frames)]
    groups = group_duplicates(files, similarity(8, rotations=False), rank_key(parse_rules("shortest-path")))
    assert [len(g.members) for g in groups] == [3000]
    assert groups[0].members[0].path == "/lib/0000.jpg"


def test_judging_in_steps_answers_as_judging_all_at_once(monkeypatch) -> None:
    """A plan of a million photos judges millions of pairs, so their thumbnails are taken a
    step of pairs at a time (PAIRS_PER_STEP): the answers are those of one step for all."""
    import dupfind.similarity as similarity_module

    fps = _library(11, 60, with_turns=True, scenes=3)
    rule = similarity(14)
    left, right = np.triu_indices(len(fps), 1)
    turns = Pictures(fps).closest_turns(left, right, turns=True)
    whole_apart = Pictures(fps).thumb_differences(left, right, turns)
    whole_matches = Pictures(fps).matches(left, right, rule)
    monkeypatch.setattr(similarity_module, "PAIRS_PER_STEP", 7)
    assert np.array_equal(Pictures(fps).thumb_differences(left, right, turns), whole_apart)
    assert Pictures(fps).matches(left, right, rule) == whole_matches
    assert sum(m is not None for m in whole_matches) > 0
