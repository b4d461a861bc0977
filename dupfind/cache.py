"""The SQLite fingerprint cache: what was learnt about each file, valid while it is unchanged.

Owns sqlite3. The cache is advisory: a row is reused only while the file's path, identity,
size, mtime and ctime and the fingerprint parameters all match, and a broken cache is moved
aside and rebuilt, never trusted.
"""

from __future__ import annotations

import array
import contextlib
import functools
import json
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import platformdirs  # every scan asks where dupfind's own cache folder is (never a library)

from .bulk import collector_paused
from .errors import CacheError, CacheVersionError
from .models import Fingerprint, ImageFile, NotDuplicates, Provenance, pack_detail

SCHEMA_VERSION = 6
PAGE_SIZE = 16384  # bytes (_connect)
# PRAGMA application_id marks a database as ours ("dupf"), so a foreign one is recognised.
APPLICATION_ID = 0x64757066
SQLITE_HEADER = b"SQLite format 3\x00"
BATCH_ROWS = 500
BATCH_SECONDS = 2.0
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS params (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS files (
    path BLOB PRIMARY KEY,          -- os.fsencode(path): non-UTF-8 names round-trip
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    params_id INTEGER NOT NULL REFERENCES params(id),
    sha256 BLOB NOT NULL,
    ahash INTEGER, dhash INTEGER, phash INTEGER,   -- signed: see to_sql_int
    width INTEGER, height INTEGER, format TEXT, frames INTEGER, taken TEXT,
    problem TEXT, detail TEXT,
    scanned_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roots (path BLOB PRIMARY KEY, scanned_ns INTEGER NOT NULL);
"""
# Version 2: each picture's hashes seen mirrored and turned (issue 4), 7 pHashes then 7
# dHashes as 8-byte big-endian words, and its stable pHash bit count.
_TURNED = """
ALTER TABLE files ADD COLUMN turned BLOB;
ALTER TABLE files ADD COLUMN stable_bits INTEGER;
"""
# The columns of each table once migrated: a table that differs was not written by us.
_COLUMNS = {
    "params": ("id", "text"),
    "files": (
        "path", "dev", "ino", "size", "mtime_ns", "ctime_ns", "params_id", "sha256", "ahash", "dhash",
        "phash", "width", "height", "format", "frames", "taken", "problem", "detail", "scanned_ns",
        "turned", "stable_bits", "thumb", "provenance",
    ),
    "roots": ("path", "scanned_ns"),
    "not_duplicates": ("id", "shas", "made_ns"),
    "phash_words": ("id", "words"),
}  # fmt: skip
# Version 3: the 16x16 grey thumbnail that verifies hash matches (issue 10).
_THUMB = """
ALTER TABLE files ADD COLUMN thumb BLOB;
"""
# Version 4: what the file tells of its history, for the keeper (issue 11), as JSON.
_PROVENANCE = """
ALTER TABLE files ADD COLUMN provenance TEXT;
"""
# Migrations from version N to N+1, each run inside the one upgrade transaction. Rows from
# before are recomputed anyway: their parameter string names an older algorithm.
# Version 5: pictures the user said are not duplicates of each other (issue 13), by content:
# their SHA-256s, sorted and joined by commas, so the decision survives renames and rescans.
_NOT_DUPLICATES = """
CREATE TABLE IF NOT EXISTS not_duplicates (
    id INTEGER PRIMARY KEY, shas TEXT NOT NULL UNIQUE, made_ns INTEGER NOT NULL
);
"""
# Version 6: what `compare PHOTO` needs to answer in well under a second at a million rows
# (issue 12): an index of the pHashes, and every distinct pHash as one blob of 8-byte words,
# read in milliseconds. Triggers empty the blob whenever a row comes, changes or goes, so it
# is never stale, whoever writes; the next lookup rebuilds it from the index.
_PHASH_WORDS = (
    "CREATE INDEX IF NOT EXISTS files_phash ON files(phash)",
    "CREATE TABLE IF NOT EXISTS phash_words (id INTEGER PRIMARY KEY CHECK (id = 1), words BLOB NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS files_added AFTER INSERT ON files BEGIN DELETE FROM phash_words; END",
    "CREATE TRIGGER IF NOT EXISTS files_changed AFTER UPDATE OF phash ON files"
    " BEGIN DELETE FROM phash_words; END",
    "CREATE TRIGGER IF NOT EXISTS files_removed AFTER DELETE ON files BEGIN DELETE FROM phash_words; END",
)
_MIGRATIONS: dict[int, str | tuple[str, ...]] = {
    0: _SCHEMA,
    1: _TURNED,
    2: _THUMB,
    3: _PROVENANCE,
    4: _NOT_DUPLICATES,
    5: _PHASH_WORDS,
}


def to_sql_int(value: int) -> int:
    """Map 0..2**64-1 onto SQLite's signed 64-bit INTEGER (the only place this is done)."""
    return value - (1 << 64) if value >= (1 << 63) else value


def from_sql_int(value: int) -> int:
    """Inverse of to_sql_int."""
    return value + (1 << 64) if value < 0 else value


def _to_sql_optional(value: int | None) -> int | None:
    return None if value is None else to_sql_int(value)


def _from_sql_optional(value: int | None) -> int | None:
    return None if value is None else from_sql_int(value)


def default_cache_path() -> str:
    """``$DUPFIND_CACHE``, else ``cache.sqlite3`` in the user cache directory."""
    env = os.environ.get("DUPFIND_CACHE")
    if env:
        return os.path.abspath(env)
    return os.path.join(default_cache_folder(), "cache.sqlite3")


def default_cache_folder() -> str:
    """dupfind's folder in the user cache directory (never scanned as a library)."""
    return platformdirs.user_cache_dir("dupfind", appauthor=False)


@dataclass(frozen=True, slots=True)
class CachedRow:
    """A cache row: the identity it was computed for and its fingerprint."""

    file: ImageFile
    params_id: int
    fingerprint: Fingerprint

    def matches(self, file: ImageFile, params_id: int) -> bool:
        a, b = self.file, file
        return params_id == self.params_id and (a.dev, a.ino, a.size_bytes, a.mtime_ns, a.ctime_ns) == (
            b.dev,
            b.ino,
            b.size_bytes,
            b.mtime_ns,
            b.ctime_ns,
        )


@contextlib.contextmanager
def _opening_lock(path: str) -> Iterator[None]:
    """Serialise opening, checking and migrating the cache between processes.

    Without it, a second scan starting at the same moment can find the first one's brand-new
    (still empty) file and move it aside, or fail to switch the journal mode ("database is
    locked": SQLite does not wait for that lock).
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: opening is not serialised
        yield
        return
    try:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise CacheError(f"cannot create the cache lock {path}.lock: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# SQLite result codes that say something about the machine, not the file: a full disk, a
# read-only or locked database, an I/O error. Rebuilding would not help and would throw away
# a good cache. Every other DatabaseError means the file is damaged.
_ENVIRONMENT_CODES = frozenset({3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15})  # PERM..CANTOPEN, PROTOCOL
_ENVIRONMENT_WORDS = (
    "locked",
    "readonly",
    "read-only",
    "disk i/o",
    "full",
    "unable to open",
    "out of memory",
)


class _Damaged(Exception):
    """The cache's own tables or rows are not what dupfind wrote."""


# What reading or opening a cache can raise: SQLite's errors, and ours for what SQLite reads
# without complaint but is not what dupfind wrote (_is_damage sorts them).
_CACHE_ERRORS = (sqlite3.Error, _Damaged, UnicodeDecodeError)


def _is_damage(exc: BaseException) -> bool:
    if isinstance(exc, (_Damaged, UnicodeDecodeError)):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) not in _ENVIRONMENT_CODES
    return not any(word in str(exc).lower() for word in _ENVIRONMENT_WORDS)


def _heals(method: Callable[..., _T]) -> Callable[..., _T]:
    """A damaged cache heals: the file is moved aside, a new one started, and the call made
    again on it (which then finds nothing cached, or stores into the new file)."""

    @functools.wraps(method)
    def healing(self: Cache, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except _CACHE_ERRORS as exc:
            if not _is_damage(exc):
                raise CacheError(f"cache {self.path}: {exc}") from None
            why = str(exc)
        self._rebuild(why)
        try:
            return method(self, *args, **kwargs)
        except _CACHE_ERRORS as exc:
            raise CacheError(f"cache {self.path}: {exc}") from None

    return healing


def _prefix_range(root: str) -> tuple[bytes, bytes]:
    # Every path under a directory sorts between "root/" and "root0" ('0' follows '/').
    prefix = os.fsencode(root if root.endswith(os.sep) else root + os.sep)
    return prefix, prefix[:-1] + bytes([prefix[-1] + 1])


class Cache:
    """An open cache. Use as a context manager, or call close()."""

    def __init__(self, path: str, params: str, thorough: bool = True) -> None:
        self.path = os.path.abspath(path)
        self._thorough = thorough
        self.warnings: list[str] = []
        self._params = params
        self._pending: list[tuple[ImageFile, Fingerprint]] = []
        self.rebuilds = 0  # how many times a damaged file was moved aside while open
        self._last_flush = time.monotonic()
        self._conn = self._open_or_rebuild()
        self.params_id = self._params_id(params)

    # -- opening ------------------------------------------------------------------------
    def _open_or_rebuild(self) -> sqlite3.Connection:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the cache folder for {self.path}: {exc.strerror or exc}"
            ) from None
        self._claim()
        with _opening_lock(self.path):
            problem = self._file_problem()
            if problem:
                self._move_aside(problem)
            try:
                return self._connect()
            except _CACHE_ERRORS as exc:
                if not _is_damage(exc):
                    raise CacheError(f"cannot open the cache {self.path}: {exc}") from None
                self._move_aside(str(exc))
            try:
                return self._connect()
            except _CACHE_ERRORS as exc:
                raise CacheError(f"cannot open the cache {self.path}: {exc}") from None

    def _claim(self) -> None:
        """Refuse a path that is not ours to use: never block on a FIFO, never rename or
        overwrite a user's file. Ours: no file yet, an empty one, a database marked with our
        application id, or any file where dupfind kept a cache before (its lock is there)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CacheError(f"cannot use the cache {self.path}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):
            raise CacheError(f"the cache {self.path} is not a regular file; name a file with --cache")
        if st.st_size == 0 or os.path.lexists(self.path + ".lock"):
            return
        header = _read_header(self.path)
        if header.startswith(SQLITE_HEADER) and int.from_bytes(header[68:72], "big") == APPLICATION_ID:
            return
        raise CacheError(
            f"{self.path} is not a dupfind cache; it is left untouched (name a new file with --cache)"
        )

    def _file_problem(self) -> str | None:
        try:
            header = _read_header(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheError(f"cannot read the cache {self.path}: {exc.strerror or exc}") from None
        if header and not header.startswith(SQLITE_HEADER):
            return "the file is not an SQLite database"
        return None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise CacheError(f"cannot open the cache {self.path}: {exc}") from None
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            # A row is about 1.4 KB: on SQLite's default 4 KB pages each one spilled into an
            # overflow page, and lib100k's cache took 554 MB; on 16 KB pages, 170 MB, opened
            # (integrity check) in half the time. Takes effect only in a new file (before
            # WAL: a WAL database keeps its page size).
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._check_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # also proves the cache is writable
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
            if app_id != APPLICATION_ID and (has_tables or version):
                raise _Foreign("the file is another program's database")
            if version > SCHEMA_VERSION:
                raise CacheVersionError(
                    f"the cache {self.path} was written by a newer dupfind (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}); upgrade dupfind or use --cache"
                )
            for step in range(version, SCHEMA_VERSION):
                migration = _MIGRATIONS[step]
                statements = migration if isinstance(migration, tuple) else migration.split(";")
                for statement in statements:
                    if statement.strip():
                        conn.execute(statement)
            # A flipped bit can leave every page readable and still hide rows from the key
            # order that queries use; only the full check sees it (about 3 s per million
            # rows). A lookup that only shows what it finds (compare PHOTO) skips it: a hidden
            # row is a missed hint there, and the next scan runs the check.
            problems = conn.execute("PRAGMA integrity_check(1)").fetchall() if self._thorough else [("ok",)]
            if problems != [("ok",)]:
                raise _Damaged(f"integrity check: {problems[0][0]}")
            for table, columns in _COLUMNS.items():
                found = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))
                if found != columns:
                    raise _Damaged(f"its table {table} is not dupfind's")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _rebuild(self, why: str) -> None:
        self.rebuilds += 1
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        with _opening_lock(self.path):
            self._move_aside(why)
            try:
                self._conn = self._connect()
            except _CACHE_ERRORS as exc:
                raise CacheError(f"cannot start a new cache {self.path}: {exc}") from None
        self.params_id = self._read_params_id(self._params)

    def _move_aside(self, why: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = f"{self.path}.broken-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, aside + suffix)
        self.warnings.append(
            f"cache {self.path} was unusable ({why}); moved it to {aside} and started a new one"
        )

    @_heals
    def _params_id(self, params: str) -> int:
        return self._read_params_id(params)

    def _read_params_id(self, params: str) -> int:
        self._conn.execute("INSERT OR IGNORE INTO params(text) VALUES (?)", (params,))
        row = self._conn.execute("SELECT id FROM params WHERE text = ?", (params,)).fetchone()
        if row is None or type(row[0]) is not int:
            raise _Damaged("its params table does not hold what was written")
        return row[0]

    # -- reading ------------------------------------------------------------------------
    @_heals
    @collector_paused()
    def load(self, roots: Iterable[str], full: bool = True) -> dict[str, CachedRow]:
        """All rows at or under the given roots, by path. ``full=False``: each row's
        fingerprint holds only its SHA-256 and problem (``Fingerprint.thin``), what a scan's
        summary needs (a warm `dupfind scan` of 118,284 files: 5 s and 233 MB instead of
        8-9 s and 434 MB)."""
        rows: dict[str, CachedRow] = {}
        columns, sound, convert = ("*", _ROW_IS_SOUND, _row_to_cached) if full else _THIN
        query = f"SELECT {columns}, {sound} FROM files WHERE path = ? OR (path >= ? AND path < ?)"
        for root in roots:
            low, high = _prefix_range(root)
            for row in self._conn.execute(query, (os.fsencode(root), low, high)):
                cached = convert(row)
                rows[cached.file.path] = cached
        return rows

    @_heals
    def phashes(self) -> array.array:
        """Every distinct pHash of the cache, unsigned ("Q" words): the stored blob, or, after
        rows changed, read from the index and stored again."""
        row = self._conn.execute("SELECT words FROM phash_words WHERE id = 1").fetchone()
        if row is not None and type(row[0]) is bytes and len(row[0]) % 8 == 0:
            return _words(row[0])
        blob = _little_endian(array.array("q", (r[0] for r in self._conn.execute(_DISTINCT_PHASHES))))
        # Storing it is a saving, not a need: a cache another process is writing, or a
        # read-only one, still answers.
        with contextlib.suppress(sqlite3.OperationalError), self._transaction():
            self._conn.execute("INSERT OR REPLACE INTO phash_words(id, words) VALUES (1, ?)", (blob,))
        return _words(blob)

    @_heals
    def rows_with_phash(self, values: Iterable[int]) -> list[CachedRow]:
        """The rows whose pHash is one of ``values``, through the index."""
        wanted = [to_sql_int(v) for v in values]
        rows = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = f"SELECT *, {_ROW_IS_SOUND} FROM files WHERE phash IN ({', '.join('?' * len(chunk))})"
            rows.extend(_row_to_cached(row) for row in self._conn.execute(query, chunk))
        return rows

    @_heals
    def roots(self) -> list[str]:
        """Roots of earlier scans, oldest scan first."""
        query = "SELECT path FROM roots ORDER BY scanned_ns"
        paths = [r[0] for r in self._conn.execute(query)]
        if not all(type(p) is bytes for p in paths):
            raise _Damaged("its roots table holds something that is not a path")
        return [os.fsdecode(p) for p in paths]

    # -- writing ------------------------------------------------------------------------
    def store(self, file: ImageFile, fp: Fingerprint) -> None:
        """Queue one row; rows are written in batches (one transaction each)."""
        self._pending.append((file, fp))
        if len(self._pending) >= BATCH_ROWS or time.monotonic() - self._last_flush > BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows now."""
        self._last_flush = time.monotonic()
        if self._pending:
            self._write_pending()
            self._pending = []

    @_heals
    def _write_pending(self) -> None:
        # Rows are made here, not when queued: after a rebuild the params id is another.
        rows = [_cached_to_row(file, fp, self.params_id) for file, fp in self._pending]
        with self._transaction():
            self._conn.executemany(
                f"INSERT OR REPLACE INTO files VALUES ({','.join('?' * len(_COLUMNS['files']))})", rows
            )

    @_heals
    def forget(self, paths: Iterable[str]) -> int:
        """Delete the rows of these paths (files that vanished); returns how many."""
        keys = [(os.fsencode(p),) for p in paths]
        if keys:
            with self._transaction():
                self._conn.executemany("DELETE FROM files WHERE path = ?", keys)
        return len(keys)

    @_heals
    def record_roots(self, roots: Iterable[str]) -> None:
        """Remember the roots of a finished scan (``dedupe`` without ROOT uses them)."""
        now = time.time_ns()
        with self._transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO roots VALUES (?, ?)", [(os.fsencode(r), now) for r in roots]
            )

    @_heals
    def not_duplicates(self) -> list[NotDuplicates]:
        """The user's "not duplicates" decisions, oldest first."""
        rows = self._conn.execute("SELECT id, shas, made_ns FROM not_duplicates ORDER BY id").fetchall()
        if not all(type(i) is int and type(s) is str and type(m) is int for i, s, m in rows):
            raise _Damaged("its not_duplicates table holds something else")
        return [NotDuplicates(i, frozenset(s.split(",")), m) for i, s, m in rows]

    @_heals
    def mark_not_duplicates(self, shas: Iterable[str]) -> int:
        """Remember that these pictures (by SHA-256) are not duplicates of each other;
        returns the decision's number."""
        text = ",".join(sorted(set(shas)))
        with self._transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO not_duplicates (shas, made_ns) VALUES (?, ?)", (text, time.time_ns())
            )
        return int(self._conn.execute("SELECT id FROM not_duplicates WHERE shas = ?", (text,)).fetchone()[0])

    @_heals
    def paths_of(self, shas: Iterable[str]) -> dict[str, list[str]]:
        """The cached paths of each of these SHA-256s (for showing a decision)."""
        out: dict[str, list[str]] = {}
        query = "SELECT path FROM files WHERE sha256 = ? ORDER BY path"
        for sha in shas:
            out[sha] = [os.fsdecode(row[0]) for row in self._conn.execute(query, (bytes.fromhex(sha),))]
        return out

    @_heals
    def forget_not_duplicates(self, ids: Iterable[int] | None) -> int:
        """Forget these decisions (all when ``ids`` is None); returns how many went."""
        with self._transaction():
            if ids is None:
                return self._conn.execute("DELETE FROM not_duplicates").rowcount
            return sum(
                self._conn.execute("DELETE FROM not_duplicates WHERE id = ?", (i,)).rowcount for i in ids
            )

    def files(self) -> list[str]:
        """The files this cache consists of (never to be scanned as photos)."""
        return [self.path + suffix for suffix in ("", "-wal", "-shm", "-journal", ".lock")]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Foreign(sqlite3.DatabaseError):
    pass


class _Transaction:
    # BEGIN IMMEDIATE takes the write lock up front, so two scans sharing a cache wait for
    # each other (busy_timeout) instead of failing with "database is locked" mid-batch.
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _cached_to_row(file: ImageFile, fp: Fingerprint, params_id: int) -> tuple[object, ...]:
    return (
        os.fsencode(file.path),
        to_sql_int(file.dev),
        to_sql_int(file.ino),
        file.size_bytes,
        file.mtime_ns,
        file.ctime_ns,
        params_id,
        bytes.fromhex(fp.sha256),
        _to_sql_optional(fp.ahash),
        _to_sql_optional(fp.dhash),
        _to_sql_optional(fp.phash),
        fp.width,
        fp.height,
        fp.format,
        fp.frames,
        fp.taken,
        fp.problem,
        fp.detail,
        time.time_ns(),
        fp.turned or None,
        fp.stable_bits,
        fp.thumb,
        None if fp.provenance is None else json.dumps(fp.provenance.as_dict(packed=True)),
    )


def _little_endian(words: array.array) -> bytes:
    if sys.byteorder == "big":
        words.byteswap()
    return words.tobytes()


def _words(blob: bytes) -> array.array:
    """8-byte little-endian words as unsigned ints (to_sql_int undone for all at once)."""
    words = array.array("Q", blob)
    if sys.byteorder == "big":
        words.byteswap()
    return words


_DISTINCT_PHASHES = "SELECT DISTINCT phash FROM files INDEXED BY files_phash WHERE typeof(phash) = 'integer'"


def _typed(column: str, *types: str) -> str:
    return f"typeof({column}) IN ({', '.join(repr(t) for t in types)})"


# True when a files row holds what dupfind writes: checked by SQLite in the query that reads
# the rows (far cheaper than a Python test per value), as its last column.
_ROW_IS_SOUND = " AND ".join(
    [
        *(
            _typed(c, "integer")
            for c in ("dev", "ino", "size", "mtime_ns", "ctime_ns", "params_id", "scanned_ns")
        ),
        *(
            _typed(c, "integer", "null")
            for c in ("ahash", "dhash", "phash", "width", "height", "frames", "stable_bits")
        ),
        *(_typed(c, "text", "null") for c in ("format", "taken", "problem", "detail", "provenance")),
        _typed("path", "blob"),
        f"{_typed('sha256', 'blob')} AND length(sha256) = 32",
        f"(turned IS NULL OR ({_typed('turned', 'blob')} AND length(turned) = {2 * 7 * 8}))",
        f"(thumb IS NULL OR ({_typed('thumb', 'blob')} AND length(thumb) = 256))",
    ]
)


def _thin_row_to_cached(row: tuple) -> CachedRow:
    """A files row's identity, SHA-256 and problem, read with its soundness last."""
    if row[-1] != 1:
        raise _Damaged("a row of its files table holds values of the wrong type")
    path, dev, ino, size, mtime_ns, ctime_ns, params_id, sha, problem, detail = row[:10]
    file = ImageFile(os.fsdecode(path), from_sql_int(dev), from_sql_int(ino), size, mtime_ns, ctime_ns)
    return CachedRow(file, params_id, Fingerprint(sha.hex(), problem=problem, detail=detail, thin=True))


_THIN_COLUMNS = (
    "path",
    "dev",
    "ino",
    "size",
    "mtime_ns",
    "ctime_ns",
    "params_id",
    "sha256",
    "problem",
    "detail",
)
_THIN = (
    ", ".join(_THIN_COLUMNS),
    " AND ".join(
        [
            *(_typed(c, "integer") for c in ("dev", "ino", "size", "mtime_ns", "ctime_ns", "params_id")),
            *(_typed(c, "text", "null") for c in ("problem", "detail")),
            _typed("path", "blob"),
            f"{_typed('sha256', 'blob')} AND length(sha256) = 32",
        ]
    ),
    _thin_row_to_cached,
)


def _row_to_cached(row: tuple) -> CachedRow:
    """A files row read with ``_ROW_IS_SOUND`` as its last column."""
    if row[-1] != 1:
        raise _Damaged("a row of its files table holds values of the wrong type")
    (path, dev, ino, size, mtime_ns, ctime_ns, params_id, sha, ahash, dhash, phash) = row[:11]
    (width, height, fmt, frames, taken, problem, detail, _scanned, turned, stable_bits, thumb, facts) = row[
        11:23
    ]
    file = ImageFile(os.fsdecode(path), from_sql_int(dev), from_sql_int(ino), size, mtime_ns, ctime_ns)
    fp = Fingerprint(
        sha.hex(),
        ahash=_from_sql_optional(ahash),
        dhash=_from_sql_optional(dhash),
        phash=_from_sql_optional(phash),
        width=width,
        height=height,
        format=fmt,
        frames=frames,
        taken=taken,
        problem=problem,
        detail=detail,
        turned=turned or b"",
        stable_bits=stable_bits,
        thumb=thumb,
        provenance=_provenance(facts),
    )
    return CachedRow(file, params_id, fp)


def _provenance(text: str | None) -> Provenance | None:
    if text is None:
        return None
    try:
        fields = json.loads(text)
        cells = fields.get("detail")
        if isinstance(cells, str):
            fields["detail"] = bytes.fromhex(cells)
        elif cells is not None:  # written as numbers (algorithm 13's first rows)
            fields["detail"] = pack_detail(cells)
        if fields.get("lattice") is not None:
            fields["lattice"] = bytes.fromhex(fields["lattice"])
        return Provenance(**fields)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise _Damaged(f"a row of its files table holds a damaged provenance ({exc})") from None


def _read_header(path: str) -> bytes:
    # O_NONBLOCK: a FIFO swapped in after the stat must not hang us.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        return os.read(fd, 100)
    finally:
        os.close(fd)


def open_cache(path: str | None, params: str, thorough: bool = True) -> Cache:
    """Open (creating, migrating or rebuilding as needed) the cache at ``path``, or at
    default_cache_path() when None. Raises CacheError when it cannot be used. ``thorough``:
    run SQLite's full integrity check (False only for lookups whose hits are verified)."""
    return Cache(path or default_cache_path(), params, thorough)
