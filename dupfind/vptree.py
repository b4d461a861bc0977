"""Hamming-space search over 64-bit hashes: a vantage-point tree, brute force and
multi-index hashing, and the rule that picks one. Owns numpy.

All three answer the same question, "which pairs of these distinct values lie within r
bits of each other", and return the same pairs (``bench/group_speed.py`` checks it).
Distances between unrelated 64-bit hashes concentrate around 32 +/- 4 bits, so a metric
tree prunes little at the radii photos need; the benchmark measures where each method
wins, and ``pairs_within`` follows it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from typing import Any

import numpy as np

LEAF_SIZE = 128  # below this, a vectorised XOR + popcount beats another partition level

Pairs = np.ndarray  # shape (k, 2), int64 indices into the values, i < j


def _array(values: Iterable[int]) -> np.ndarray:
    return np.fromiter(values, dtype=np.uint64)


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def _empty_pairs() -> Pairs:
    return np.empty((0, 2), dtype=np.int64)


def _ordered(i: np.ndarray, j: np.ndarray) -> Pairs:
    return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1).astype(np.int64)


def _median_split(d: np.ndarray) -> tuple[int, np.ndarray] | None:
    """Split distances to a vantage point at their median mu: ``d <= mu`` is inside. When
    every distance is <= the median, split just below it; None when no split exists."""
    mu = int(np.median(d))
    inner = d <= mu
    if inner.all():
        mu -= 1
        inner = d <= mu
    return (mu, inner) if inner.any() and not inner.all() else None


def distinct(x: np.ndarray) -> np.ndarray:
    """The distinct values of ``x``, sorted: np.unique by a sort. (numpy 2.4's np.unique
    hashes first, and took 0.8 s on 770,000 integers that a sort orders in 0.02 s.)"""
    s = np.sort(np.asarray(x).reshape(-1))
    return s[_firsts(s)]


def distinct_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values of ``x``, sorted; the index of each element's value among them)."""
    x = np.asarray(x).reshape(-1)
    order = np.argsort(x, kind="stable")
    s = x[order]
    first = _firsts(s)
    inverse = np.empty(len(x), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return s[first], inverse


def _firsts(s: np.ndarray) -> np.ndarray:
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    return first


def unique_pairs(pairs: Iterable[Pairs]) -> Pairs:
    """One sorted array of the distinct (i, j) rows of these arrays of pairs."""
    chunks = [p for p in pairs if len(p)]
    if not chunks:
        return _empty_pairs()
    both = np.concatenate(chunks).astype(np.int64)
    # One integer per pair: sorting integers is several times faster than unique(axis=0).
    span = int(both.max()) + 1
    keys = distinct(both[:, 0] * span + both[:, 1])
    return np.stack([keys // span, keys % span], axis=1)


# -- brute force --------------------------------------------------------------------------
BLOCK_CELLS = 1 << 16  # XOR cells per block: measured fastest (stays in L2; fewer page faults)


class _Scratch:
    """Reused output buffers: allocating a fresh XOR matrix per block cost twice the work."""

    def __init__(self, cells: int) -> None:
        self.xor = np.empty(cells, dtype=np.uint64)
        self.count = np.empty(cells, dtype=np.uint8)
        self.near = np.empty(cells, dtype=bool)

    def near_cells(self, rows: np.ndarray, cols: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
        shape = (len(rows), len(cols))
        cells = shape[0] * shape[1]
        xor = self.xor[:cells].reshape(shape)
        count = self.count[:cells].reshape(shape)
        near = self.near[:cells].reshape(shape)
        np.bitwise_xor(rows[:, None], cols[None, :], out=xor)
        np.bitwise_count(xor, out=count)
        np.less_equal(count, r, out=near)
        if not near.any():
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        ii, jj = np.nonzero(near)
        return ii, jj


def _cross_brute(a_ids: np.ndarray, b_ids: np.ndarray, points: np.ndarray, r: int) -> Pairs:
    """Pairs (a, b) within r between two disjoint index sets, by blocks of XORs."""
    out = []
    a_vals, b_vals = points[a_ids], points[b_ids]
    step = max(1, BLOCK_CELLS // max(1, len(b_ids)))
    scratch = _Scratch(step * len(b_ids))
    for start in range(0, len(a_ids), step):
        ii, jj = scratch.near_cells(a_vals[start : start + step], b_vals, r)
        if len(ii):
            out.append(_ordered(a_ids[start + ii], b_ids[jj]))
    return np.concatenate(out) if out else _empty_pairs()


def _self_brute(ids: np.ndarray, points: np.ndarray, r: int) -> Pairs:
    """Pairs within r inside one index set: each row against the rows after it."""
    out = []
    vals = points[ids]
    n = len(ids)
    step = max(1, BLOCK_CELLS // max(1, n))
    scratch = _Scratch(step * n)
    for start in range(0, n, step):
        # Columns start one after the first row, so a point never meets itself (which
        # would make every row a hit); jj >= ii keeps the upper triangle of the block.
        ii, jj = scratch.near_cells(vals[start : start + step], vals[start + 1 :], r)
        later = jj >= ii
        if later.any():
            out.append(_ordered(ids[start + ii[later]], ids[start + 1 + jj[later]]))
    return np.concatenate(out) if out else _empty_pairs()


def pairs_brute(values: Iterable[int], r: int) -> Pairs:
    """Every pair (i, j), i < j, of ``values`` within ``r`` bits: the plain loop."""
    points = _array(values)
    return unique_pairs([_self_brute(np.arange(len(points)), points, r)])


def near_values(values: Any, queries: Iterable[tuple[int, int]]) -> list[int]:
    """The ``values`` (a buffer of unsigned 64-bit words, such as Cache.phashes gives) within
    r bits of a query, for each (query, r): one vectorised pass over them per query, which at a
    million values costs a few ms, less than building any index for one question."""
    points = np.frombuffer(values, dtype=np.uint64)
    near = np.zeros(len(points), dtype=bool)
    for query, r in queries:
        near |= _popcount(points ^ np.uint64(query)) <= r
    return [int(v) for v in points[near]]


# -- multi-index hashing --------------------------------------------------------------------
# Candidates verified per step: 2 MB arrays, which malloc reuses. With 32 MB ones every step
# got fresh pages from the kernel: 1M hashes at r = 10 took 21 s instead of 12 s.
CANDIDATES_PER_STEP = 1 << 18


def _masks(bits: int, weight: int, top: int | None = None) -> list[int]:
    """Every mask of ``bits`` bits with at most ``weight`` set (only those whose highest
    set bit is ``top``, when given; ``top`` -1 is the zero mask)."""
    if top is not None:
        if top < 0:
            return [0]
        return [(1 << top) | rest for rest in _masks(top, weight - 1)] if weight > 0 else []
    masks = [0]
    for w in range(1, weight + 1):
        masks += [sum(1 << b for b in combo) for combo in combinations(range(bits), w)]
    return masks


def block_widths(blocks: int) -> list[int]:
    """64 bits split as evenly as possible, wider blocks first (22, 21, 21 for three)."""
    base, extra = divmod(64, blocks)
    return [base + (1 if i < extra else 0) for i in range(blocks)]


def block_radii(r: int, blocks: int = 4) -> list[int]:
    """Per-block radii s_i with sum(s_i + 1) > r: if d(a, b) <= r, some block i differs in
    at most s_i bits (the generalised pigeonhole of Qin et al., ICDE 2018). Spreading the
    remainder saves lookups over s_i = r // blocks everywhere."""
    base, extra = divmod(r + 1, blocks)
    return [base + (1 if i < extra else 0) - 1 for i in range(blocks)]


# Four 16-bit blocks. Three 21-22-bit blocks look at 5x fewer candidates, but their
# thousands of probes cost more: 1M real hashes took 33 s at r = 10 (four: 22 s) and 113 s
# at r = 12 (four: 60 s).
BLOCKS = 4


def pairs_multi_index(
    values: Iterable[int], r: int, workers: int | None = None, blocks: int = BLOCKS
) -> Pairs:
    """The same pairs by multi-index hashing (Norouzi et al., "Fast search in Hamming space
    with multi-index hashing", CVPR 2012): split the 64 bits into blocks; two hashes within
    r agree on some block to within its radius (``block_radii``). Buckets are probed with
    every mask of at most that weight; candidates are verified by popcount.

    Probes run in threads, one task per block and highest mask bit, so both cores stay
    busy: numpy releases the GIL in the element-wise work, which is where the time goes."""
    points = _array(values)
    if len(points) < 2:
        return _empty_pairs()
    tasks = []
    shift = 0
    for width, radius in zip(block_widths(blocks), block_radii(r, blocks), strict=True):
        if radius >= 0:
            table = _Block(points, shift, width)
            tasks += [(table, top, radius) for top in range(width - 1, -2, -1)]
        shift += width
    run = lambda task: task[0].pairs(_masks(task[0].width, task[2], task[1]), task[1], r)  # noqa: E731
    return _run_tasks(run, tasks, workers, len(points))


def _run_tasks(run: Callable[[Any], list[Pairs]], tasks: list[Any], workers: int | None, size: int) -> Pairs:
    """All tasks' pairs, on threads when there are enough points to pay for them."""
    per_task = _on_threads(run, tasks, 1 if size < 50_000 else workers)
    return unique_pairs(p for pairs in per_task for p in pairs)


class _Block:
    """One block's table: the points sorted by the block's value, and bucket bounds."""

    def __init__(self, points: np.ndarray, shift: int, width: int) -> None:
        self.width = width
        keys = self.keys_of(points, shift, width)
        # Keys of 16 bits or fewer sort by radix as uint16 (numpy's stable sort of small
        # integer types), several times faster than a comparison sort of int64.
        self.order = np.argsort(keys.astype(np.uint16) if width <= 16 else keys, kind="stable")
        self.keys, self.points = keys[self.order], points[self.order]
        self.counts = np.bincount(keys, minlength=1 << width)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])

    def pairs(self, masks: list[int], top: int, r: int) -> list[Pairs]:
        """Pairs from probing with ``masks``, all of highest set bit ``top``."""
        if not masks:
            return []
        # Each unordered pair of buckets (k, k ^ mask) once: probe from the lower key, the
        # one with the mask's highest bit clear.
        query = np.flatnonzero((self.keys >> top) & 1 == 0) if top >= 0 else np.arange(len(self.keys))
        found = []
        for mask in masks:
            for q, o in self._probe(self.points[query], self.keys[query], mask, r):
                q = query[q]
                if not mask:
                    q, o = q[q < o], o[q < o]
                if len(q):
                    found.append(_ordered(self.order[q], self.order[o]))
        return found

    def across(self, points: np.ndarray, keys: np.ndarray, masks: list[int], r: int) -> list[Pairs]:
        """Pairs (i, j) of ``points[i]`` (another set, with its block keys) within r of the
        table's ``j``-th value, from probing with ``masks``."""
        return [
            np.stack([q, self.order[o]], axis=1).astype(np.int64)
            for mask in masks
            for q, o in self._probe(points, keys, mask, r)
            if len(q)
        ]

    @staticmethod
    def keys_of(points: np.ndarray, shift: int, width: int) -> np.ndarray:
        return ((points >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)

    def _probe(
        self, points: np.ndarray, keys: np.ndarray, mask: int, r: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Candidates within r of ``points`` (with their block ``keys``) in the buckets
        ``key ^ mask``, verified in steps of CANDIDATES_PER_STEP: (position in ``points``,
        position in the sorted table) per step."""
        sizes = self.counts[keys ^ mask]
        ends = np.cumsum(sizes)
        if not len(ends) or ends[-1] == 0:
            return
        cuts = np.searchsorted(ends, np.arange(CANDIDATES_PER_STEP, int(ends[-1]), CANDIDATES_PER_STEP))
        every = np.arange(len(points))
        for part in np.split(every, cuts) if len(cuts) else [every]:
            q, o = self._verify(points[part], keys[part], mask, sizes[part], r)
            yield part[q], o

    def _verify(
        self, points: np.ndarray, keys: np.ndarray, mask: int, sizes: np.ndarray, r: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidates within r: (position in ``points``, position in the sorted table)."""
        ends = np.cumsum(sizes)
        total = int(ends[-1]) if len(ends) else 0
        if total == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        # Candidates in one flat run: query values repeated against the probed buckets'
        # slices. Repeating values streams; gathering per candidate was twice as slow.
        probe = keys ^ mask
        other = np.repeat((self.starts[probe] - ends + sizes).astype(np.int32), sizes)
        other += np.arange(total, dtype=np.int32)
        hits = np.flatnonzero(_popcount(np.repeat(points, sizes) ^ self.points[other]) <= r)
        return np.searchsorted(ends, hits, side="right"), other[hits]


# Below this many query x value cells, one brute-force pass beats building the tables.
ACROSS_BRUTE_CELLS = BLOCK_CELLS * 64


def pairs_across(queries: Iterable[int], values: Iterable[int], r: int, workers: int | None = None) -> Pairs:
    """Every (i, j) with ``queries[i]`` within r bits of ``values[j]``: two index spaces, so
    i and j are not ordered. Multi-index hashing over ``values`` (as pairs_multi_index),
    probed with the queries; small sets are joined directly."""
    q, v = _array(queries), _array(values)
    if not len(q) or not len(v):
        return _empty_pairs()
    if len(q) * len(v) <= ACROSS_BRUTE_CELLS:
        points = np.concatenate([q, v])
        found = _cross_brute(np.arange(len(q)), len(q) + np.arange(len(v)), points, r)
        return unique_pairs([found - np.array([0, len(q)])])
    tasks = []
    shift = 0
    for width, radius in zip(block_widths(BLOCKS), block_radii(r, BLOCKS), strict=True):
        if radius >= 0:
            table = _Block(v, shift, width)
            keys = _Block.keys_of(q, shift, width)
            tasks += [(table, keys, _masks(width, radius, top)) for top in range(width - 1, -2, -1)]
        shift += width
    run = lambda task: task[0].across(q, task[1], task[2], r)  # noqa: E731
    return _run_tasks(run, tasks, workers, len(q) + len(v))


# -- the vantage-point tree ----------------------------------------------------------------
class _Node:
    __slots__ = ("inner", "leaf", "mu", "outer", "vantage")

    def __init__(self) -> None:
        self.vantage = 0
        self.mu = 0
        self.inner: _Node | None = None
        self.outer: _Node | None = None
        self.leaf: list[int] | None = None


class VPTree:
    """A vantage-point tree (Yianilos, SODA 1993) over distinct 64-bit ints under Hamming
    distance. Duplicate values are stored once. Supports range queries, insert, remove and
    a self-join that finds all pairs within r without one query per point."""

    def __init__(self, values: Iterable[int] = (), seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self._present = set(values)
        self._root = self._build(np.array(sorted(self._present), dtype=np.uint64))

    def __len__(self) -> int:
        return len(self._present)

    def __contains__(self, value: int) -> bool:
        return value in self._present

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._present))

    def _build(self, points: np.ndarray) -> _Node:
        node = _Node()
        vantage = points[self._rng.integers(len(points))] if len(points) > LEAF_SIZE else None
        split = _median_split(_popcount(points ^ vantage)) if vantage is not None else None
        if split is None:
            node.leaf = [int(v) for v in points]
            return node
        node.mu, inner = split
        node.vantage = int(vantage)  # type: ignore[arg-type]
        node.inner = self._build(points[inner])
        node.outer = self._build(points[~inner])
        return node

    # -- single-point operations ----------------------------------------------------------
    def query(self, value: int, r: int) -> list[tuple[int, int]]:
        """Stored values within r bits of ``value``, as (distance, value), nearest first."""
        hits: list[tuple[int, int]] = []
        stack = [self._root]
        while stack:
            node = stack.pop()
            if node.leaf is not None:
                hits += [(d, v) for v in node.leaf if (d := (v ^ value).bit_count()) <= r]
                continue
            d = (node.vantage ^ value).bit_count()
            if d - r <= node.mu:
                stack.append(node.inner)  # type: ignore[arg-type]
            if d + r > node.mu:
                stack.append(node.outer)  # type: ignore[arg-type]
        return sorted(hits)

    def _leaf_for(self, value: int) -> _Node:
        node = self._root
        while node.leaf is None:
            node = node.inner if (node.vantage ^ value).bit_count() <= node.mu else node.outer  # type: ignore[assignment]
        return node

    def insert(self, value: int) -> None:
        if value in self._present:
            return
        self._present.add(value)
        node = self._leaf_for(value)
        node.leaf.append(value)  # type: ignore[union-attr]
        if len(node.leaf) > 2 * LEAF_SIZE:  # type: ignore[arg-type]
            rebuilt = self._build(np.array(node.leaf, dtype=np.uint64))
            for slot in _Node.__slots__:  # the leaf becomes the rebuilt subtree, in place
                setattr(node, slot, getattr(rebuilt, slot))

    def remove(self, value: int) -> None:
        """Remove ``value``; KeyError when it is not stored."""
        self._present.remove(value)
        self._leaf_for(value).leaf.remove(value)  # type: ignore[union-attr]

    # -- the self-join ----------------------------------------------------------------------
    def pairs(self, r: int) -> list[tuple[int, int]]:
        """Every pair of stored values (a, b), a < b, within r bits."""
        values = sorted(self._present)
        found = vp_self_join(values, r, seed=int(self._rng.integers(1 << 31)))
        return [(values[i], values[j]) for i, j in found.tolist()]


def vp_self_join(values: Iterable[int], r: int, seed: int = 0) -> Pairs:
    """All pairs within r by a vantage-point partition: split the set by distance to a
    vantage point around the median mu, recurse into the inside and the outside, and join
    across only the two bands |d - mu| <= r (by the triangle inequality no other cross pair
    can be within r). Leaves and bands are joined by vectorised XOR + popcount."""
    points = _array(values)
    rng = np.random.default_rng(seed)
    found: list[Pairs] = []
    stack: _Stack = [(np.arange(len(points)), None)]
    while stack:
        a, b = stack.pop()
        if b is None:
            _split_self(a, points, r, rng, stack, found)
        else:
            _split_cross(a, b, points, r, rng, stack, found)
    return unique_pairs(found)


def _partition(ids: np.ndarray, points: np.ndarray, vantage: np.uint64) -> np.ndarray:
    return _popcount(points[ids] ^ vantage).astype(np.int16)


_Stack = list[tuple[np.ndarray, "np.ndarray | None"]]


def _split_self(
    ids: np.ndarray, points: np.ndarray, r: int, rng: np.random.Generator, stack: _Stack, found: list[Pairs]
) -> None:
    if len(ids) <= LEAF_SIZE:
        found.append(_self_brute(ids, points, r))
        return
    d = _partition(ids, points, points[ids[rng.integers(len(ids))]])
    split = _median_split(d)
    if split is None:  # all points equidistant from the vantage: no pruning possible
        found.append(_self_brute(ids, points, r))
        return
    mu, inner = split
    stack.append((ids[inner], None))
    stack.append((ids[~inner], None))
    band_in = ids[inner & (d > mu - r)]
    band_out = ids[~inner & (d <= mu + r)]
    if len(band_in) and len(band_out):
        stack.append((band_in, band_out))


def _split_cross(
    a: np.ndarray,
    b: np.ndarray,
    points: np.ndarray,
    r: int,
    rng: np.random.Generator,
    stack: _Stack,
    found: list[Pairs],
) -> None:
    if len(a) * len(b) <= LEAF_SIZE * LEAF_SIZE or min(len(a), len(b)) <= 8:
        found.append(_cross_brute(a, b, points, r))
        return
    both = np.concatenate([a, b])
    vantage = points[both[rng.integers(len(both))]]
    da, db = _partition(a, points, vantage), _partition(b, points, vantage)
    mu = int(np.median(np.concatenate([da, db])))
    a_in, b_in = da <= mu, db <= mu
    if (a_in.all() and b_in.all()) or not (a_in.any() or b_in.any()):
        found.append(_cross_brute(a, b, points, r))
        return
    joins = [(a[a_in], b[b_in]), (a[~a_in], b[~b_in])]
    # Cross bands: inside points near the boundary against outside points near it.
    for (x, dx, x_in), (y, dy, y_in) in (((a, da, a_in), (b, db, b_in)), ((b, db, b_in), (a, da, a_in))):
        joins.append((x[x_in & (dx > mu - r)], y[~y_in & (dy <= mu + r)]))
    joins = [(x, y) for x, y in joins if len(x) and len(y)]
    # At wide radii the bands hold nearly everything, and splitting again only adds
    # overhead: join directly when the split saves less than a quarter of the work.
    if sum(len(x) * len(y) for x, y in joins) > 0.75 * len(a) * len(b):
        found.append(_cross_brute(a, b, points, r))
        return
    stack.extend(joins)


# -- the rule --------------------------------------------------------------------------------
def pairs_within(values: Iterable[int], r: int) -> Pairs:
    """All pairs (i, j), i < j, of distinct ``values`` within r bits, by the method
    ``bench/group_speed.py`` measured fastest: multi-index hashing up to r = 10 at any
    size and up to r = 16 above 20k hashes; the VP-tree self-join otherwise (README has
    the figures)."""
    points = list(values)
    if len(points) < 2:
        return _empty_pairs()
    if r <= 10 or (r <= 16 and len(points) > 20_000):
        return pairs_multi_index(points, r)
    return vp_self_join(points, r)


# -- banded joins: pairs only between entries whose bands differ by at most one ------------
PROBE_CELLS = 1 << 20  # (query, probed bucket) cells looked up at once
VERIFY_CELLS = 1 << 21  # candidates verified at once


def _plan_blocks(queries: int, values: int, r: int) -> list[tuple[int, int, int]]:
    """(shift, width, radius) of the blocks that look at the fewest buckets and candidates
    for these sizes: wide blocks for many values (few candidates per bucket), narrow ones
    for few (few buckets to probe). The radii follow block_radii."""
    best: tuple[float, list[tuple[int, int, int]]] | None = None
    for blocks in range(4, 11):  # blocks of 16 bits down to 6 (a table of 2^16 buckets at most)
        widths, radii = block_widths(blocks), block_radii(r, blocks)
        cost = 0.0
        for width, radius in zip(widths, radii, strict=True):
            if radius >= 0:
                probes = sum(math.comb(width, w) for w in range(radius + 1))
                cost += queries * probes * (1.0 + values / (1 << width)) + (1 << width) + values
        if best is None or cost < best[0]:
            shifts = [sum(widths[:i]) for i in range(blocks)]
            best = (cost, list(zip(shifts, widths, radii, strict=True)))
    assert best is not None
    return [block for block in best[1] if block[2] >= 0]


def _masks_array(width: int, radius: int) -> np.ndarray:
    return np.array(_masks(width, radius), dtype=np.int64)


def _mih(queries: np.ndarray, values: np.ndarray, r: int, same: bool) -> Pairs:
    """(i, j) with ``queries[i]`` within r bits of ``values[j]``; with ``same`` (queries
    are the values), only i < j. Multi-index hashing as pairs_multi_index, with each
    block's probes made for many queries and masks in one array operation instead of one
    pass per mask: at a few thousand values per band most probed buckets are empty, and
    the passes cost more than the candidates."""
    found = []
    for shift, width, radius in _plan_blocks(len(queries), len(values), r):
        table = _Block(values, shift, width)
        keys = _Block.keys_of(queries, shift, width)
        masks = _masks_array(width, radius)
        # A self-join probes each pair of buckets (k, k ^ mask) from one side only: the
        # bucket whose key has the mask's highest bit clear.
        top = np.where(masks > 0, 1 << np.floor(np.log2(np.maximum(masks, 1))).astype(np.int64), 0)
        step = max(1, PROBE_CELLS // len(masks))
        for start in range(0, len(queries), step):
            q_ids = np.arange(start, min(start + step, len(queries)))
            probe = keys[q_ids, None] ^ masks[None, :]
            sizes = table.counts[probe]
            if same:
                sizes[(keys[q_ids, None] & top[None, :]) != 0] = 0
            sizes, probe = sizes.reshape(-1), probe.reshape(-1)
            hit = np.flatnonzero(sizes)
            if not len(hit):
                continue
            owners, sizes, firsts = q_ids[hit // len(masks)], sizes[hit], table.starts[probe[hit]]
            ends = np.cumsum(sizes)
            cuts = np.searchsorted(ends, np.arange(VERIFY_CELLS, int(ends[-1]), VERIFY_CELLS))
            for part in np.split(np.arange(len(sizes)), cuts) if len(cuts) else [np.arange(len(sizes))]:
                if not len(part):
                    continue
                n = sizes[part]
                local_ends = np.cumsum(n)
                # Candidates in one flat run, as _Block._verify: each query's value repeated
                # against the slice of its probed bucket.
                slots = np.repeat(firsts[part] - local_ends + n, n)
                slots += np.arange(int(local_ends[-1]))
                close = np.flatnonzero(
                    _popcount(np.repeat(queries[owners[part]], n) ^ table.points[slots]) <= r
                )
                if not len(close):
                    continue
                who = owners[part][np.searchsorted(local_ends, close, side="right")]
                other = table.order[slots[close]]
                if same:
                    keep = who != other
                    who, other = np.minimum(who[keep], other[keep]), np.maximum(who[keep], other[keep])
                found.append(np.stack([who, other], axis=1))
    return unique_pairs(found)


def _bands(bands: np.ndarray) -> dict[int, np.ndarray]:
    """The entries of each band, by band."""
    if not len(bands):
        return {}
    order = np.argsort(bands, kind="stable")
    starts = np.flatnonzero(_firsts(bands[order]))
    return dict(zip(bands[order][starts].tolist(), np.split(order, starts[1:]), strict=True))


def pairs_within_bands(values: np.ndarray, bands: np.ndarray, r: int) -> Pairs:
    """All pairs (i, j), i < j, of entries within r bits whose bands differ by at most one:
    a search cut into bands (say, of the pictures' shapes) looks at a band's entries and its
    neighbour's only, never at all of them. The same values may sit in several bands."""
    values = np.asarray(values, dtype=np.uint64)
    by_band = _bands(np.asarray(bands))

    def band_pairs(band: int) -> list[Pairs]:
        mine, nxt = by_band[band], by_band.get(band + 1)
        found = [mine[_mih(values[mine], values[mine], r, same=True)]] if len(mine) > 1 else []
        if nxt is not None:
            across = _mih(values[mine], values[nxt], r, same=False)
            found.append(_ordered(mine[across[:, 0]], nxt[across[:, 1]]))
        return found

    return unique_pairs(p for found in _on_threads(band_pairs, list(by_band)) for p in found)


def _on_threads(run: Callable[[Any], Any], tasks: list[Any], workers: int | None = None) -> list[Any]:
    """run(task) for each task, on ``workers`` threads (as many as cores by default): numpy
    releases the GIL in the element-wise work, which is where a search spends its time."""
    workers = min(len(tasks), workers or os.cpu_count() or 1)
    if workers <= 1:
        return [run(task) for task in tasks]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, tasks))


def pairs_across_bands(
    queries: np.ndarray, query_bands: np.ndarray, values: np.ndarray, value_bands: np.ndarray, r: int
) -> Pairs:
    """Every (i, j) with ``queries[i]`` within r bits of ``values[j]`` and their bands at
    most one apart (as pairs_across, cut into bands)."""
    queries, values = np.asarray(queries, dtype=np.uint64), np.asarray(values, dtype=np.uint64)
    by_value_band = _bands(np.asarray(value_bands))

    def band_pairs(task: tuple[int, np.ndarray]) -> Pairs:
        band, mine = task
        near = [by_value_band[b] for b in (band - 1, band, band + 1) if b in by_value_band]
        if not near:
            return _empty_pairs()
        others = np.concatenate(near)
        across = _mih(queries[mine], values[others], r, same=False)
        return np.stack([mine[across[:, 0]], others[across[:, 1]]], axis=1).astype(np.int64)

    return unique_pairs(_on_threads(band_pairs, list(_bands(np.asarray(query_bands)).items())))
