"""Helpers shared by the benchmark scripts: timing and peak memory of a process tree."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _tree_rss_bytes(root: int) -> int:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        stack.extend(_children(pid))
    return total


class Measurement:
    seconds: float = 0.0
    peak_bytes: int = 0


@contextmanager
def measure(interval_s: float = 0.05) -> Iterator[Measurement]:
    """Wall time and the peak resident memory of this process and all its descendants
    (sampled every interval_s; Linux /proc only, 0 elsewhere)."""
    result = Measurement()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result.peak_bytes = max(result.peak_bytes, _tree_rss_bytes(os.getpid()))
            stop.wait(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        stop.set()
        sampler.join()


def mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def scanned(folder: str, name: str, jobs: int | None = None):  # type: ignore[no-untyped-def]
    """The scan of ``folder`` with its own cache beside the benchmarks
    (bench/.cache-NAME.sqlite3), so a second run only stats files."""
    from dupfind import ScanOptions, open_cache, scan
    from dupfind.fingerprint import PARAMS

    cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), f".cache-{name}.sqlite3")
    with open_cache(cache, PARAMS) as db:
        return scan([folder], db, ScanOptions(jobs=jobs))
