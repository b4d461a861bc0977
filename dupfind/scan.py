"""The scan: walk the roots, reuse what the cache knows, fingerprint the rest in parallel."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

from .bulk import collector_paused
from .cache import Cache, CachedRow, default_cache_folder
from .errors import NO_DECODER, ScanError
from .fingerprint import decoder_missing, fingerprint_file, preview
from .journal import Journal, journal_path
from .models import Failure, Fingerprint, ImageFile, LeftOut, Progress, ScannedFile, ScanReport
from .offlimits import OffLimits
from .walk import WalkOptions, normalize_roots, walk

ProgressCallback = Callable[[Progress], None]
# Below this many files a worker pool costs more to start than it saves.
MIN_FILES_FOR_POOL = 32
# Work handed to a worker at a time: about 6 MB (four camera JPEGs) or 64 files, whichever
# comes first. Large enough to amortise the IPC (one task per tiny file made a cold scan of
# 100,000 small files 50% slower), small enough to keep both cores busy to the end.
CHUNK_BYTES = 6_000_000
CHUNK_FILES = 64


@dataclass(frozen=True)
class ScanOptions:
    """How to scan: the walk's options and the number of worker processes (None: all cores)."""

    walk: WalkOptions = field(default_factory=WalkOptions)
    jobs: int | None = None
    # False: files the cache answers come back with thin fingerprints (SHA-256 and problem
    # only), enough for a summary and exact copies, in a fraction of the time and memory;
    # what groups or plans needs the whole records.
    records: bool = True


@collector_paused()
def scan(
    roots: Iterable[str],
    cache: Cache,
    options: ScanOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ScanReport:
    """Bring the cache up to date for ``roots`` and return what is there now.

    Files whose path, identity, size, mtime and ctime match their cache row are only
    stat'ed; the rest are fingerprinted in worker processes. Rows of files no longer under
    the roots are removed. Raises RootError for a missing root, CacheError for a cache
    that cannot be used.
    """
    started = time.monotonic()
    options = options or ScanOptions()
    report = progress or (lambda _p: None)
    roots = normalize_roots(roots)
    walk_options = replace(
        options.walk,
        skip_identities=options.walk.skip_identities | _identities(cache.files()),
        off_limits=off_limits(cache.path, options.walk.off_limits),
    )
    listed, failures, left_out = list_files(roots, walk_options, report)
    known = cache.load(roots, full=options.records)
    reused, todo = partition(listed, known, cache.params_id)
    rebuilds = cache.rebuilds
    fresh, more_failures = fingerprint_all(todo, cache, options.jobs, report)
    pruned = cache.forget(vanished(known, listed, failures))
    cache.record_roots(roots)
    if cache.rebuilds != rebuilds:
        # The cache was found damaged after its rows were read, and started anew: what the
        # old one knew is still right (each row was checked against its file) and goes in.
        for s in reused:
            if not s.fingerprint.thin:  # a thin one is fingerprinted again by the next scan
                cache.store(s.file, s.fingerprint)
    cache.flush()
    # The pHash words that `compare PHOTO` reads are rebuilt now, if rows changed, rather
    # than by the first question after the scan (about 1 s at a million rows).
    cache.phashes()
    files = tuple(sorted(reused + fresh, key=lambda s: s.file.path))
    return ScanReport(
        roots=roots,
        files=files,
        failures=tuple(failures + more_failures),
        fingerprinted=len({s.file.identity for s in fresh}),
        cached=len({s.file.identity for s in reused}),
        paths=len(files),
        pruned=pruned,
        seconds=time.monotonic() - started,
        warnings=tuple(cache.warnings),
        left_out=tuple(left_out),
    )


def off_limits(cache_path: str, extra: OffLimits | None = None) -> OffLimits:
    """Every folder that is never a library for a run using this cache: the trashes, the
    quarantines its journal knows (and ``extra``'s places), dupfind's cache folder."""
    return OffLimits.around(
        quarantines=Journal(journal_path(cache_path)).quarantines(),
        cache_folders=[default_cache_folder()],
        also=extra,
    )


def vanished(known: Iterable[str], listed: dict[str, ImageFile], failures: Sequence[Failure]) -> list[str]:
    """Cached paths not seen in this walk, except under folders that could not be listed
    (an unreadable or unmounted folder is not proof that its photos are gone)."""
    unlisted = tuple(f.path.rstrip(os.sep) + os.sep for f in failures)
    return [p for p in known if p not in listed and not (unlisted and p.startswith(unlisted))]


def _identities(paths: Iterable[str]) -> frozenset[tuple[int, int]]:
    found = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        found.add((st.st_dev, st.st_ino))
    return frozenset(found)


def list_files(
    roots: Sequence[str], options: WalkOptions, report: ProgressCallback
) -> tuple[dict[str, ImageFile], list[Failure], list[LeftOut]]:
    """Stage 1: every candidate file by path (each path once), what could not be listed,
    and the folders left out."""
    listed: dict[str, ImageFile] = {}
    failures: list[Failure] = []
    left_out: list[LeftOut] = []
    for item in walk(roots, options):
        if isinstance(item, Failure):
            failures.append(item)
        elif isinstance(item, LeftOut):
            left_out.append(item)
        else:
            listed.setdefault(item.path, item)
            if len(listed) % 1000 == 0:
                report(Progress("walk", len(listed), None))
    report(Progress("walk", len(listed), len(listed)))
    return listed, failures, left_out


def partition(
    listed: dict[str, ImageFile], known: dict[str, CachedRow], params_id: int
) -> tuple[list[ScannedFile], list[list[ImageFile]]]:
    """Stage 2: split files into those the cache answers and those to fingerprint.

    Hard links share one identity: they are fingerprinted once, and a valid row for any
    of their names answers for all of them.
    """
    by_identity: dict[tuple[int, int], list[ImageFile]] = {}
    for file in listed.values():
        by_identity.setdefault(file.identity, []).append(file)
    reused: list[ScannedFile] = []
    todo: list[list[ImageFile]] = []
    for names in by_identity.values():
        fp = _valid_row(names, known, params_id)
        if fp is None:
            todo.append(names)
        else:
            reused.extend(ScannedFile(f, fp, True) for f in names)
    return reused, todo


def _valid_row(names: list[ImageFile], known: dict[str, CachedRow], params_id: int) -> Fingerprint | None:
    for file in names:
        row = known.get(file.path)
        if row is not None and row.matches(file, params_id):
            if row.fingerprint.problem == NO_DECODER and not decoder_missing(file.path):
                return None  # skipped for want of a decoder that is here now: read it
            return row.fingerprint
    return None


def fingerprint_all(
    todo: list[list[ImageFile]], cache: Cache, jobs: int | None, report: ProgressCallback
) -> tuple[list[ScannedFile], list[Failure]]:
    """Stage 3: fingerprint one name of each file, store the result for all its names."""
    scanned: list[ScannedFile] = []
    failures: list[Failure] = []
    report(Progress("fingerprint", 0, len(todo)))
    try:
        for done, (index, result) in enumerate(_run(todo, jobs), start=1):
            names = todo[index]
            if isinstance(result, Failure):
                failures.append(result)
            else:
                for file in names:
                    scanned.append(ScannedFile(file, result, False))
                    cache.store(file, result)
            report(Progress("fingerprint", done, len(todo)))
    finally:
        # Interrupted or not, keep what was computed: the next scan resumes from it.
        cache.flush()
    return scanned, failures


def _work(chunk: list[tuple[int, ImageFile]]) -> list[tuple[int, Fingerprint | Failure]]:
    return [(index, fingerprint_file(file)) for index, file in chunk]


def _start_worker() -> None:
    # Ctrl-C is the parent's to handle: it stops the pool and keeps what was stored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker ends with its parent, however the parent ends (SIGKILL included): it would
    # otherwise go on hashing queued files for minutes. PR_SET_PDEATHSIG cannot do this, as
    # a forkserver worker's parent is the fork server; the scan's own process is watched
    # instead, through the pipe that closes when it dies.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True).start()
    _one_blas_thread()


def _one_blas_thread() -> Any:
    """numpy's BLAS (OpenBLAS) runs a matrix product on every core by default: in a worker
    beside as many workers as cores, its threads fight the other processes for them. The
    dev corpus scanned in 9.2 s with one BLAS thread and 13.9 s without (2 workers, 2 cores).

    Why threadpoolctl: numpy reads OPENBLAS_NUM_THREADS only when it is first imported, which
    happened before a worker starts (the fork server preloads the fingerprint module); it
    finds the loaded BLAS (OpenBLAS, MKL, BLIS) and sets its threads at run time."""
    from threadpoolctl import threadpool_limits  # only where files are hashed: not at start

    # In a worker the limit stays for its life; in the scan's own process, a context manager.
    return threadpool_limits(1, user_api="blas")


def _end_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)  # the parent is gone: nobody wants our results; skip the cleanup


def _run(todo: list[list[ImageFile]], jobs: int | None) -> Iterator[tuple[int, Fingerprint | Failure]]:
    items = [(i, names[0]) for i, names in enumerate(todo)]
    jobs = max(1, jobs or os.cpu_count() or 1)
    if jobs == 1 or len(items) < MIN_FILES_FOR_POOL:
        # One at a time, so progress and the cache's batched writes advance as we go.
        with _one_blas_thread():
            for index, file in items:
                yield index, fingerprint_file(file)
        return
    chunks = _chunks(items)
    try:
        yield from _run_pool(chunks, min(jobs, len(chunks)))
    except BrokenProcessPool:
        raise ScanError(
            "the worker processes stopped unexpectedly; a script using dupfind needs an "
            "'if __name__ == \"__main__\":' guard, or use one job"
        ) from None


def _chunks(items: list[tuple[int, ImageFile]]) -> list[list[tuple[int, ImageFile]]]:
    chunks: list[list[tuple[int, ImageFile]]] = [[]]
    size = 0
    for item in items:
        if len(chunks[-1]) >= CHUNK_FILES or size >= CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item[1].size_bytes
    return chunks


def _pool(jobs: int) -> ProcessPoolExecutor:
    # forkserver (or spawn): workers never inherit the parent's threads (a progress bar's
    # monitor) or its open SQLite connection.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(["dupfind.fingerprint"])
    return ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker)


def _run_pool(
    chunks: list[list[tuple[int, ImageFile]]], jobs: int
) -> Iterator[tuple[int, Fingerprint | Failure]]:
    # At most a few chunks per worker are queued, so a million files never become a
    # million pending futures.
    pool = _pool(jobs)
    try:
        pending: set[Future[list[tuple[int, Fingerprint | Failure]]]] = set()
        for chunk in chunks:
            pending.add(pool.submit(_work, chunk))
            if len(pending) >= jobs * 4:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield from future.result()
        for future in as_completed(pending):
            yield from future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


PREVIEWS_PER_TASK = 64


def previews(paths: list[str], jobs: int | None, side: int) -> Iterator[bytes | None]:
    """``fingerprint.preview`` of each path at ``side`` px, in order, on worker processes
    when there are enough to pay for them."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    if jobs == 1 or len(paths) < MIN_FILES_FOR_POOL:
        yield from (preview(p, side) for p in paths)
        return
    tasks = [(paths[i : i + PREVIEWS_PER_TASK], side) for i in range(0, len(paths), PREVIEWS_PER_TASK)]
    with _pool(min(jobs, len(tasks))) as pool:
        for made in pool.map(_previews_of, tasks):
            yield from made


def _previews_of(task: tuple[list[str], int]) -> list[bytes | None]:
    paths, side = task
    return [preview(p, side) for p in paths]
