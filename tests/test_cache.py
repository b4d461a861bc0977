"""The cache: exact round trips, invalidation, and recovery from anything on disk."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dupfind import Fingerprint, ImageFile, open_cache
from dupfind.models import Provenance, detail_values, pack_detail, pack_turned
from dupfind.cache import APPLICATION_ID, PAGE_SIZE, SCHEMA_VERSION, from_sql_int, to_sql_int
from dupfind.errors import CacheVersionError

from .conftest import write_photo

U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(U64)
def test_signed_conversion_round_trips_every_64_bit_value(value: int) -> None:
    stored = to_sql_int(value)
    assert -(2**63) <= stored < 2**63
    assert from_sql_int(stored) == value


fingerprints = st.builds(
    Fingerprint,
    sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
    ahash=U64,
    dhash=U64,
    phash=U64,
    width=st.integers(1, 100_000),
    height=st.integers(1, 100_000),
    format=st.sampled_from(["JPEG", "PNG", None]),
    frames=st.integers(1, 500),
    taken=st.one_of(st.none(), st.text(max_size=20)),
    stable_bits=st.one_of(st.none(), st.integers(0, 64)),
    thumb=st.one_of(st.none(), st.binary(min_size=256, max_size=256)),
    provenance=st.one_of(
        st.none(),
        st.builds(
            Provenance,
            channels=st.sampled_from([1, 3]),
            jpeg_quality=st.one_of(st.none(), st.integers(1, 100)),
            standard_tables=st.one_of(st.none(), st.booleans()),
            camera=st.one_of(st.none(), st.text(max_size=30)),
            maker_note=st.booleans(),
            software=st.one_of(st.none(), st.text(max_size=30)),
            gps=st.booleans(),
            orientation=st.integers(1, 8),
            blockiness=st.one_of(st.none(), st.floats(0, 10)),
            sharpness=st.one_of(st.none(), st.floats(0, 1000)),
            noise=st.one_of(st.none(), st.floats(0, 1000)),
            detail=st.one_of(st.none(), st.binary(min_size=128, max_size=128)),
            damaged=st.booleans(),
            dated=st.booleans(),
            lattice=st.one_of(st.none(), st.binary(min_size=135, max_size=135)),
        ),
    ),
).flatmap(
    # A decoded picture has both sets of seven turned hashes; an undecoded file neither.
    lambda fp: st.one_of(st.just(((), ())), st.tuples(st.tuples(*[U64] * 7), st.tuples(*[U64] * 7))).map(
        lambda turned: replace(fp, turned=pack_turned(*turned))
    )
)
names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
    min_size=1,
    max_size=30,
) | st.binary(min_size=1, max_size=20).filter(lambda b: b"/" not in b and b"\x00" not in b).map(os.fsdecode)


@settings(max_examples=60, deadline=None)
@given(fp=fingerprints, name=names, ino=U64, dev=U64)
def test_rows_round_trip_through_sqlite(
    tmp_path_factory: pytest.TempPathFactory, fp: Fingerprint, name: str, ino: int, dev: int
) -> None:
    root = tmp_path_factory.mktemp("root")
    file = ImageFile(str(root / name), dev, ino, 123, 10**18, 10**18 + 1)
    with open_cache(str(root / "c.sqlite3"), "p") as cache:
        cache.store(file, fp)
    with open_cache(str(root / "c.sqlite3"), "p") as cache:
        row = cache.load([str(root)])[file.path]
    assert row.fingerprint == fp
    assert row.file == file


def test_detail_cells_written_as_numbers_by_earlier_rows_still_load(tmp_path: Path) -> None:
    """Rows of algorithm 13's first day hold the detail cells as 64 numbers; now they are
    the hex of the packed bytes. Both load to the same packed cells."""
    cells = [i * 1.5 for i in range(64)]
    fp = Fingerprint(
        "ab" * 32, 1, 2, 3, provenance=Provenance(3, 90, True, None, False, None, False, 1, None)
    )
    fp = replace(fp, provenance=replace(fp.provenance, detail=pack_detail(cells)))
    file = ImageFile(str(tmp_path / "a.jpg"), 1, 2, 123, 10**18, 10**18)
    path = str(tmp_path / "c.sqlite3")
    with open_cache(path, "p") as cache:
        cache.store(file, fp)
    with closing(sqlite3.connect(path)) as conn, conn:
        (text,) = conn.execute("SELECT provenance FROM files").fetchone()
        facts = json.loads(text)
        assert facts["detail"] == pack_detail(cells).hex()
        facts["detail"] = cells
        conn.execute("UPDATE files SET provenance = ?", (json.dumps(facts),))
    with open_cache(path, "p") as cache:
        row = cache.load([str(tmp_path)])[file.path]
    assert row.fingerprint == fp
    assert detail_values(row.fingerprint.provenance.detail) == cells


@settings(max_examples=40, deadline=None)
@given(
    first=st.lists(st.one_of(U64, st.none()), max_size=30),
    later=st.lists(U64, max_size=5),
    gone=st.integers(0, 30),
    rehashed=st.integers(0, 30),
)
def test_the_phash_words_always_hold_the_distinct_phashes_of_the_rows(
    tmp_path_factory: pytest.TempPathFactory, first: list, later: list, gone: int, rehashed: int
) -> None:
    # compare PHOTO reads them instead of every row: they must never be stale, whatever
    # came, changed or went since they were stored (the triggers of schema 6).
    root = tmp_path_factory.mktemp("words")
    base = Fingerprint("ab" * 32, phash=None)
    rows = {f"{root}/{i}.jpg": value for i, value in enumerate(first)}

    def stored(cache) -> None:
        for path, value in rows.items():
            cache.store(ImageFile(path, 1, hash(path) & 0xFFFF, 1, 1, 1), replace(base, phash=value))
        cache.flush()

    def expected() -> list[int]:
        return sorted({v for v in rows.values() if v is not None})

    with open_cache(str(root / "c.sqlite3"), "p") as cache:
        stored(cache)
        assert sorted(cache.phashes()) == expected()
        assert sorted(cache.phashes()) == expected()  # the stored words, this time
        if rows and rehashed:
            path = sorted(rows)[rehashed % len(rows)]
            rows[path] = (rows[path] or 0) ^ 1
        rows.update({f"{root}/later{i}.jpg": value for i, value in enumerate(later)})
        stored(cache)
        if rows and gone:
            path = sorted(rows)[gone % len(rows)]
            del rows[path]
            cache.forget([path])
    with open_cache(str(root / "c.sqlite3"), "p") as cache:
        assert sorted(cache.phashes()) == expected()
        found = cache.rows_with_phash(expected())
    assert sorted(r.file.path for r in found) == sorted(p for p, v in rows.items() if v is not None)


def test_rows_are_reused_only_under_the_same_parameters(tmp_path: Path) -> None:
    file = ImageFile(str(tmp_path / "a.jpg"), 1, 2, 3, 4, 5)
    with open_cache(str(tmp_path / "c"), "v1") as cache:
        cache.store(file, Fingerprint("00" * 32, 1, 2, 3))
        first = cache.params_id
    with open_cache(str(tmp_path / "c"), "v2") as cache:
        row = cache.load([str(tmp_path)])[file.path]
        assert not row.matches(file, cache.params_id)
        assert row.matches(file, first)


@pytest.mark.parametrize(
    "content",
    [os.urandom(4096), b"SQLite format 3\x00" + os.urandom(3000)],
    ids=["random-bytes", "garbage-after-header"],
)
def test_broken_cache_files_are_moved_aside_and_rebuilt(
    tmp_path: Path, scan_json, cache_path: Path, content: bytes
) -> None:
    # SAFETY case 28: a cache of ours, overwritten.
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    scan_json(str(tmp_path / "lib"))
    for suffix in ("-wal", "-shm"):
        Path(str(cache_path) + suffix).unlink(missing_ok=True)
    cache_path.write_bytes(content)
    doc = scan_json(str(tmp_path / "lib"))
    assert doc["fingerprinted"] == 1
    assert any("moved it to" in w for w in doc["warnings"])
    aside = [p for p in cache_path.parent.iterdir() if ".broken-" in p.name]
    assert aside and aside[0].read_bytes() == content
    assert scan_json(str(tmp_path / "lib"))["cached"] == 1


def test_an_empty_file_named_as_the_cache_becomes_the_cache(
    tmp_path: Path, scan_json, cache_path: Path
) -> None:
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(b"")
    assert scan_json(str(tmp_path / "lib"))["fingerprinted"] == 1
    assert scan_json(str(tmp_path / "lib"))["cached"] == 1
    assert not [p for p in cache_path.parent.iterdir() if ".broken-" in p.name]


def test_truncated_cache_is_moved_aside_and_rebuilt(tmp_path: Path, scan_json, cache_path: Path) -> None:
    for i in range(300):
        write_photo(tmp_path / "lib" / f"{i}.png", i, (16, 16))
    assert scan_json(str(tmp_path / "lib"))["fingerprinted"] == 300
    data = cache_path.read_bytes()
    for suffix in ("-wal", "-shm"):
        Path(str(cache_path) + suffix).unlink(missing_ok=True)
    cache_path.write_bytes(data[: len(data) // 3])
    doc = scan_json(str(tmp_path / "lib"))
    assert doc["fingerprinted"] == 300
    assert doc["warnings"]


def test_another_programs_database_where_our_cache_was_is_moved_aside(
    tmp_path: Path, scan_json, cache_path: Path
) -> None:
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    scan_json(str(tmp_path / "lib"))
    for suffix in ("", "-wal", "-shm"):
        Path(str(cache_path) + suffix).unlink(missing_ok=True)
    with closing(sqlite3.connect(cache_path)) as conn, conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    doc = scan_json(str(tmp_path / "lib"))
    assert doc["fingerprinted"] == 1 and "another program" in doc["warnings"][0]


def _foreign_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")


@pytest.mark.parametrize("kind", ["photo", "text", "foreign-database", "folder"])
def test_cache_naming_a_users_file_is_refused_and_left_untouched(tmp_path: Path, run, kind: str) -> None:
    # Never rename or overwrite a user's file: a --cache that is not ours is refused.
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    target = tmp_path / "mine"
    if kind == "photo":
        target = write_photo(tmp_path / "mine.jpg", 7)
    elif kind == "text":
        target.write_text("my notes")
    elif kind == "foreign-database":
        _foreign_database(target)
    else:
        target.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    content = target.read_bytes() if target.is_file() else None
    result = run("scan", "--cache", str(target), str(tmp_path / "lib"))
    assert result.exit_code == (2 if kind == "folder" else 1)  # a folder is a usage error
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("dupfind: error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if content is not None:
        assert target.read_bytes() == content


def test_cache_naming_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "lib").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "dupfind", "scan", "--cache", str(fifo), str(tmp_path / "lib")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not a regular file" in result.stderr
    assert fifo.exists() and not (tmp_path / "fifo.lock").exists()


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path, run, cache_path: Path) -> None:
    # SAFETY case 31.
    cache_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(cache_path)) as conn, conn:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    result = run("scan", str(tmp_path / "lib"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "newer dupfind" in result.stderr
    with pytest.raises(CacheVersionError):
        open_cache(str(cache_path), "p")


def test_changed_parameters_recompute_every_fingerprint(tmp_path: Path, scan_json, monkeypatch) -> None:
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    assert scan_json(str(tmp_path / "lib"))["fingerprinted"] == 1
    monkeypatch.setattr("dupfind.cli_base.PARAMS", "a newer hashing")
    assert scan_json(str(tmp_path / "lib"))["fingerprinted"] == 1
    assert scan_json(str(tmp_path / "lib"))["cached"] == 1


def test_unwritable_cache_location_is_a_one_line_error(tmp_path: Path, run) -> None:
    (tmp_path / "file").write_text("a file where a folder should be")
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    result = run("scan", "--cache", str(tmp_path / "file" / "cache.sqlite3"), str(tmp_path / "lib"))
    assert result.exit_code == 1
    assert result.stderr.startswith("dupfind: error: cannot create the cache folder")
    assert result.stderr.count("\n") == 1


OPEN_AND_LOAD = """
import os, sys
from dupfind.cache import open_cache
with open_cache(sys.argv[1], "p") as cache:
    cache.load([os.path.dirname(sys.argv[1])])
"""


def test_processes_opening_a_new_cache_together_all_succeed(tmp_path: Path) -> None:
    import subprocess
    import sys

    for round_ in range(6):
        path = tmp_path / f"r{round_}" / "cache.sqlite3"
        procs = [
            subprocess.Popen([sys.executable, "-c", OPEN_AND_LOAD, str(path)], stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
        assert not [p for p in path.parent.iterdir() if ".broken-" in p.name]


def test_scanned_roots_are_remembered_for_later_commands(tmp_path: Path, scan_json, cache_path: Path) -> None:
    write_photo(tmp_path / "a" / "x.jpg", 1)
    write_photo(tmp_path / "b" / "y.jpg", 2)
    scan_json(str(tmp_path / "a"))
    scan_json(str(tmp_path / "b"), str(tmp_path / "a"))
    with open_cache(str(cache_path), "p") as cache:
        assert sorted(cache.roots()) == [str(tmp_path / "a"), str(tmp_path / "b")]


def test_a_schema_1_cache_is_upgraded_to_the_current_schema_and_its_rows_recomputed(
    tmp_path: Path, scan_json, cache_path: Path
) -> None:
    import sqlite3

    from dupfind import cache as cache_module

    write_photo(tmp_path / "lib" / "a.jpg", 1)
    cache_path.parent.mkdir(parents=True)
    with sqlite3.connect(cache_path) as conn:  # what dupfind 0.1 with schema 1 left behind
        conn.executescript(cache_module._SCHEMA)
        conn.execute(f"PRAGMA application_id = {cache_module.APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO params(text) VALUES ('dupfind-fp/1;old')")
    conn.close()
    doc = scan_json(str(tmp_path / "lib"))
    assert doc["fingerprinted"] == 1
    with sqlite3.connect(cache_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == cache_module.SCHEMA_VERSION == 6
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "files_phash" in indexes  # schema 6: compare PHOTO reads the pHashes from it
        turned, stable, thumb = conn.execute("SELECT turned, stable_bits, thumb FROM files").fetchone()
    conn.close()
    assert len(turned) == 14 * 8 and stable >= 16 and len(thumb) == 16 * 16
    assert scan_json(str(tmp_path / "lib"))["cached"] == 1


# -- a damaged cache always heals --------------------------------------------------------------
PAGE = PAGE_SIZE  # the cache's pages (dupfind.cache)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, Path]:
    """A library of 120 tiny pictures and a cache of ours that knows all of them."""
    from click.testing import CliRunner

    from dupfind.cli import cli

    root = tmp_path_factory.mktemp("pristine")
    for i in range(120):
        write_photo(root / "lib" / f"{i:03}.png", i, (16, 16))
    cache = root / "state" / "cache.sqlite3"
    result = CliRunner().invoke(cli, ["scan", "-q", "--jobs", "1", "--cache", str(cache), str(root / "lib")])
    assert result.exit_code == 0, result.output
    assert not Path(str(cache) + "-wal").exists()
    return root / "lib", cache


def _damaged_copy(pristine_cache: Path, where: Path, damage) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    cache = where / "cache.sqlite3"
    data = bytearray(pristine_cache.read_bytes())
    damage(data)
    cache.write_bytes(bytes(data))
    (where / "cache.sqlite3.lock").touch()  # it was ours: dupfind kept a cache here
    return cache


def _every_later_run_succeeds(lib: Path, cache: Path) -> None:
    from click.testing import CliRunner

    from dupfind.cli import cli

    for _ in range(2):
        result = CliRunner().invoke(
            cli, ["scan", "--json", "--jobs", "1", "--cache", str(cache), str(lib)], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["files"] == 120 and doc["fingerprinted"] + doc["cached"] == 120
    assert doc["cached"] == 120  # healed: the second run found everything cached


def test_every_page_zeroed_or_overwritten_in_turn_heals(pristine, tmp_path: Path) -> None:
    lib, cache = pristine
    pages = cache.stat().st_size // PAGE
    assert pages >= 5
    rng = random.Random(9)
    for page in range(pages):
        for name, fill in (("zero", bytes(PAGE)), ("noise", rng.randbytes(PAGE))):

            def damage(data: bytearray, page=page, fill=fill) -> None:
                data[page * PAGE : (page + 1) * PAGE] = fill

            _every_later_run_succeeds(lib, _damaged_copy(cache, tmp_path / f"{page}-{name}", damage))


def test_single_bit_flips_anywhere_heal(pristine, tmp_path: Path) -> None:
    lib, cache = pristine
    size = cache.stat().st_size
    rng = random.Random(4)
    for trial in range(60):
        bit = rng.randrange(size * 8)

        def damage(data: bytearray, bit=bit) -> None:
            data[bit // 8] ^= 1 << (bit % 8)

        _every_later_run_succeeds(lib, _damaged_copy(cache, tmp_path / str(trial), damage))


def test_flipped_bits_in_the_schema_text_heal(pristine, tmp_path: Path) -> None:
    lib, cache = pristine
    schema = cache.read_bytes()[:PAGE]  # sqlite_master lives on page 1
    start = schema.index(b"CREATE TABLE")
    rng = random.Random(5)
    for trial in range(30):
        bit = (start + rng.randrange(len(schema) - start)) * 8 + rng.randrange(8)

        def damage(data: bytearray, bit=bit) -> None:
            data[bit // 8] ^= 1 << (bit % 8)

        _every_later_run_succeeds(lib, _damaged_copy(cache, tmp_path / str(trial), damage))


WRONG_VALUES = {
    "path": [123, "a text path"],
    "dev": ["x", 1.5],
    "ino": [b"\x00"],
    "size": ["big"],
    "mtime_ns": ["late"],
    "params_id": ["p"],
    "sha256": [b"short", "text", 7],
    "phash": ["f00", 2.5],
    "width": ["wide"],
    "format": [42],
    "frames": ["many"],
    "taken": [b"\xff"],
    "problem": [3],
    "turned": [b"\x01\x02", "x"],
    "stable_bits": ["all"],
}


def test_rows_with_values_of_the_wrong_type_heal(pristine, tmp_path: Path) -> None:
    lib, cache = pristine
    trial = 0
    for column, values in WRONG_VALUES.items():
        for value in values:
            trial += 1
            copy = _damaged_copy(cache, tmp_path / str(trial), lambda data: None)
            with closing(sqlite3.connect(copy)) as conn, conn:
                conn.execute("PRAGMA ignore_check_constraints = ON")
                conn.execute(
                    f"UPDATE files SET {column} = ? WHERE path = (SELECT min(path) FROM files)", (value,)
                )
            _every_later_run_succeeds(lib, copy)


def test_a_new_cache_keeps_its_rows_on_16_kb_pages(tmp_path: Path) -> None:
    """A cache row (hashes, thumbnail, the keeper's evidence) is about 1.4 KB: on SQLite's
    default 4 KB pages each row took an overflow page of its own; the cache is made with
    16 KB pages, and stays so when opened again."""
    path = tmp_path / "c.sqlite3"
    with open_cache(str(path), "p") as db:
        db.flush()
    with open_cache(str(path), "p") as db:
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 16384
