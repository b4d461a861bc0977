"""The vantage-point tree and the other pair finders, against a one-line brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dupfind import vptree
from dupfind.vptree import (
    VPTree,
    block_radii,
    block_widths,
    pairs_across,
    pairs_across_bands,
    pairs_brute,
    pairs_multi_index,
    pairs_within,
    pairs_within_bands,
    vp_self_join,
)

HASH = st.integers(0, 2**64 - 1)


def brute(values: list[int], r: int) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i in range(len(values))
        for j in range(i + 1, len(values))
        if (values[i] ^ values[j]).bit_count() <= r
    ]


@st.composite
def clustered(draw, max_size: int = 300) -> list[int]:
    """Hashes with near neighbours: random centres plus copies with a few bits flipped,
    so that pairs exist at every radius (random 64-bit values are almost never close)."""
    centres = draw(st.lists(HASH, min_size=0, max_size=20))
    flips = draw(
        st.lists(st.tuples(st.integers(0, 19), st.lists(st.integers(0, 63), max_size=14)), max_size=max_size)
    )
    values = set(centres)
    for centre, bits in flips:
        if centres:
            value = centres[centre % len(centres)]
            for bit in bits:
                value ^= 1 << bit
            values.add(value)
    return sorted(values)


RADIUS = st.integers(0, 20)


@settings(max_examples=150, deadline=None)
@given(values=clustered(), r=RADIUS)
def test_every_pair_finder_equals_brute_force(values: list[int], r: int) -> None:
    expected = brute(values, r)
    for finder in (pairs_brute, vp_self_join, pairs_multi_index, pairs_within):
        assert [tuple(p) for p in finder(values, r).tolist()] == expected, finder.__name__
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vptree, "LEAF_SIZE", 3)  # deep trees: every partition path runs
        assert [tuple(p) for p in vp_self_join(values, r).tolist()] == expected


@settings(max_examples=100, deadline=None)
@given(values=clustered(max_size=100), query=HASH, r=RADIUS)
def test_range_query_equals_brute_force(values: list[int], query: int, r: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vptree, "LEAF_SIZE", 3)
        tree = VPTree(values)
    probes = [query, *values[:5]]
    for q in probes:
        assert tree.query(q, r) == sorted(
            ((v ^ q).bit_count(), v) for v in values if (v ^ q).bit_count() <= r
        )


def test_small_leaves_force_deep_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    # Leaves of 2 make every code path of the partition run on a small input.
    monkeypatch.setattr(vptree, "LEAF_SIZE", 2)
    values = sorted({(0xF0F0 << (i % 40)) ^ (i * 0x9E3779B97F4A7C15 % 2**64) >> (i % 7) for i in range(400)})
    for r in (0, 1, 8, 20, 40):
        assert [tuple(p) for p in vp_self_join(values, r).tolist()] == brute(values, r)
        tree = VPTree(values)
        assert tree.query(values[7], r) == sorted(
            ((v ^ values[7]).bit_count(), v) for v in values if (v ^ values[7]).bit_count() <= r
        )


@settings(max_examples=60, deadline=None)
@given(
    start=clustered(max_size=60),
    added=st.lists(HASH, max_size=40),
    removed=st.lists(st.integers(0, 10**6), max_size=30),
    r=RADIUS,
)
def test_insert_and_remove_keep_queries_exact(
    start: list[int], added: list[int], removed: list[int], r: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vptree, "LEAF_SIZE", 3)  # inserts then split leaves often
        tree = VPTree(start)
        present = set(start)
        _apply(tree, present, added, removed)
    for q in [*added[:3], *start[:3], 0]:
        assert tree.query(q, r) == sorted(
            ((v ^ q).bit_count(), v) for v in present if (v ^ q).bit_count() <= r
        )
    values = sorted(present)
    assert tree.pairs(r) == [(values[i], values[j]) for i, j in brute(values, r)]


def _apply(tree: VPTree, present: set[int], added: list[int], removed: list[int]) -> None:
    for value in added:
        tree.insert(value)
        present.add(value)
    for index in removed:
        if present:
            value = sorted(present)[index % len(present)]
            tree.remove(value)
            present.discard(value)
    assert len(tree) == len(present) and sorted(tree) == sorted(present)


def test_many_inserts_split_leaves_and_stay_exact() -> None:
    tree = VPTree()
    values = [(i * 0x9E3779B97F4A7C15) % 2**64 for i in range(1000)]
    for value in values:
        tree.insert(value)
    assert len(tree) == 1000
    for q in values[:20]:
        assert tree.query(q, 26) == sorted(
            ((v ^ q).bit_count(), v) for v in values if (v ^ q).bit_count() <= 26
        )


def test_empty_tree_and_duplicate_points() -> None:
    assert VPTree().query(0, 64) == []
    assert VPTree().pairs(64) == []
    tree = VPTree([5, 5, 5, 7])
    assert len(tree) == 2
    assert tree.query(5, 0) == [(0, 5)]
    assert tree.pairs(1) == [(5, 7)]
    with pytest.raises(KeyError):
        tree.remove(6)


def test_radius_zero_and_ties() -> None:
    values = [0b0000, 0b0001, 0b0010, 0b0100, 0b1000, 0b1111]
    assert pairs_within(values, 0).tolist() == []
    # Four values at distance exactly 1 from 0: all included (the radius is inclusive).
    assert VPTree(values).query(0, 1) == [(0, 0), (1, 1), (1, 2), (1, 4), (1, 8)]
    assert [tuple(p) for p in pairs_within(values, 2).tolist()] == brute(values, 2)


@given(r=st.integers(0, 64))
def test_block_radii_cover_the_radius(r: int) -> None:
    radii = block_radii(r)
    assert len(radii) == 4 and sum(s + 1 for s in radii) == r + 1
    assert sum(block_widths(3)) == sum(block_widths(4)) == 64
    assert max(radii) - min(radii) <= 1


def test_threaded_and_chunked_multi_index_find_the_same_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    rng = random.Random(3)
    values = [rng.getrandbits(64) for _ in range(30_000)]
    values += [v ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)) for v in values[:30_000]]
    values = sorted(set(values))  # 60k points: above the size where threads start
    serial = pairs_multi_index(values, 6, workers=1)
    assert len(serial) >= 29_000
    monkeypatch.setattr(vptree, "CANDIDATES_PER_STEP", 1000)  # many small steps per mask
    assert (pairs_multi_index(values, 6, workers=2) == serial).all()
    assert (pairs_multi_index(values, 6, workers=2, blocks=3) == serial).all()
    assert (vp_self_join(values, 6) == serial).all()


@settings(max_examples=150, deadline=None)
@given(queries=clustered(max_size=120), values=clustered(max_size=200), r=RADIUS)
def test_cross_join_equals_brute_force(queries: list[int], values: list[int], r: int) -> None:
    # Shared centres would be rare by chance: add some values near the queries.
    values = sorted(set(values) | {q ^ (1 << (q % 64)) ^ (1 << (q % 7)) for q in queries[::3]})
    expected = [
        (i, j)
        for i in range(len(queries))
        for j in range(len(values))
        if (queries[i] ^ values[j]).bit_count() <= r
    ]
    assert [tuple(p) for p in pairs_across(queries, values, r).tolist()] == expected
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vptree, "ACROSS_BRUTE_CELLS", 0)  # the multi-index path, small as it is
        assert [tuple(p) for p in pairs_across(queries, values, r, workers=1).tolist()] == expected
        patch.setattr(vptree, "CANDIDATES_PER_STEP", 7)
        assert [tuple(p) for p in pairs_across(queries, values, r, workers=1).tolist()] == expected


def test_threaded_cross_join_finds_the_same_pairs() -> None:
    import random

    rng = random.Random(5)
    queries = sorted({rng.getrandbits(64) for _ in range(30_000)})
    values = sorted({q ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)) for q in queries[:20_000]})
    values = sorted(set(values) | {rng.getrandbits(64) for _ in range(20_000)})
    serial = pairs_across(queries, values, 6, workers=1)
    assert len(serial) >= 19_000
    assert (pairs_across(queries, values, 6, workers=2) == serial).all()


BANDS = st.lists(st.integers(-3, 3), min_size=1, max_size=400)


@settings(max_examples=150, deadline=None)
@given(values=clustered(), r=RADIUS, bands=BANDS, small=st.booleans())
def test_banded_self_join_equals_brute_force_over_neighbouring_bands(
    values: list[int], r: int, bands: list[int], small: bool
) -> None:
    # The same value may sit in several bands (two pictures of one hash, different shapes).
    entries = values + values[::5]
    band = [bands[i % len(bands)] + (i >= len(values)) for i in range(len(entries))]
    expected = [
        (i, j)
        for i in range(len(entries))
        for j in range(i + 1, len(entries))
        if abs(band[i] - band[j]) <= 1 and (entries[i] ^ entries[j]).bit_count() <= r
    ]
    with pytest.MonkeyPatch.context() as patch:
        if small:  # many small steps: chunked probes and candidates
            patch.setattr(vptree, "PROBE_CELLS", 50)
            patch.setattr(vptree, "VERIFY_CELLS", 7)
        found = pairs_within_bands(np.array(entries, dtype=np.uint64), np.array(band), r)
    assert [tuple(p) for p in found.tolist()] == expected


@settings(max_examples=100, deadline=None)
@given(queries=clustered(max_size=120), values=clustered(max_size=200), r=RADIUS, bands=BANDS)
def test_banded_cross_join_equals_brute_force_over_neighbouring_bands(
    queries: list[int], values: list[int], r: int, bands: list[int]
) -> None:
    values = sorted(set(values) | {q ^ (1 << (q % 64)) ^ (1 << (q % 7)) for q in queries[::3]})
    q_band = [bands[i % len(bands)] for i in range(len(queries))]
    v_band = [bands[(7 * i + 1) % len(bands)] for i in range(len(values))]
    expected = [
        (i, j)
        for i in range(len(queries))
        for j in range(len(values))
        if abs(q_band[i] - v_band[j]) <= 1 and (queries[i] ^ values[j]).bit_count() <= r
    ]
    found = pairs_across_bands(
        np.array(queries, dtype=np.uint64), np.array(q_band), np.array(values, dtype=np.uint64), np.array(v_band), r
    )
    assert [tuple(p) for p in found.tolist()] == expected
