"""Scanning end to end through the CLI: identity, incremental re-scans, faults."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import pytest

from dupfind import ImageFile, errors, fingerprint_file, walk

from .conftest import group_paths, photo, save, write_photo


def lib_with_copies(root: Path) -> Path:
    write_photo(root / "a.jpg", 1)
    write_photo(root / "sub" / "b.jpg", 2)
    shutil.copy(root / "a.jpg", root / "sub" / "a copy.jpg")
    return root


def test_scan_reports_files_and_exact_groups(tmp_path: Path, scan_json) -> None:
    lib = lib_with_copies(tmp_path / "lib")
    doc = scan_json(str(lib))
    assert (doc["files"], doc["fingerprinted"], doc["cached"], doc["skipped"]) == (3, 3, 0, [])
    assert group_paths(doc) == [[str(lib / "a.jpg"), str(lib / "sub" / "a copy.jpg")]]
    assert doc["exact_duplicate_bytes"] == (lib / "a.jpg").stat().st_size
    assert isinstance(doc["seconds"], float)


def test_rescan_only_touches_new_or_changed_files(tmp_path: Path, scan_json) -> None:
    lib = lib_with_copies(tmp_path / "lib")
    scan_json(str(lib))
    again = scan_json(str(lib))
    assert (again["fingerprinted"], again["cached"]) == (0, 3)
    write_photo(lib / "new.jpg", 3)
    write_photo(lib / "sub" / "b.jpg", 4)  # rewritten
    doc = scan_json(str(lib))
    assert (doc["fingerprinted"], doc["cached"]) == (2, 2)


@pytest.mark.parametrize("second", ["lib", "lib/sub", "lib/../lib", "lib/sub/../.."])
def test_overlapping_roots_scan_each_file_once(tmp_path: Path, scan_json, second: str) -> None:
    # SAFETY case 1.
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    write_photo(tmp_path / "lib" / "sub" / "b.jpg", 2)
    doc = scan_json(str(tmp_path / "lib"), str(tmp_path / second))
    assert (doc["files"], doc["paths"], doc["exact_groups"]) == (2, 2, [])


def test_symlinked_photo_is_never_a_candidate(tmp_path: Path, scan_json) -> None:
    # SAFETY case 2.
    write_photo(tmp_path / "lib" / "raw" / "a.jpg", 1)
    (tmp_path / "lib" / "best").mkdir()
    (tmp_path / "lib" / "best" / "a.jpg").symlink_to("../raw/a.jpg")
    for flags in ((), ("--follow-symlinks",)):
        doc = scan_json(*flags, str(tmp_path / "lib"))
        assert (doc["files"], doc["paths"], doc["exact_groups"]) == (1, 1, [])


def test_symlinked_folders_and_loops(tmp_path: Path, scan_json) -> None:
    # SAFETY case 3.
    write_photo(tmp_path / "lib" / "a" / "x.jpg", 1)
    (tmp_path / "lib" / "a" / "loop").symlink_to("..")
    (tmp_path / "lib" / "again").symlink_to("a")
    assert scan_json(str(tmp_path / "lib"))["files"] == 1
    assert scan_json("--follow-symlinks", str(tmp_path / "lib"))["files"] == 1


def test_hard_links_are_one_file_and_count_once(tmp_path: Path, scan_json) -> None:
    # SAFETY case 4.
    lib = tmp_path / "lib"
    a = write_photo(lib / "a.jpg", 1)
    os.link(a, lib / "b.jpg")
    doc = scan_json(str(lib))
    assert (doc["files"], doc["paths"], doc["exact_groups"]) == (1, 2, [])
    shutil.copy(a, lib / "c.jpg")
    doc = scan_json(str(lib))
    [group] = doc["exact_groups"]
    assert len(group["paths"]) == 2 and str(lib / "c.jpg") in group["paths"]
    assert doc["exact_duplicate_bytes"] == a.stat().st_size  # space counted per inode


def test_zero_byte_files_are_never_grouped(tmp_path: Path, scan_json) -> None:
    # SAFETY case 17.
    for name in ("a.jpg", "b.jpg", "c.png"):
        (tmp_path / name).write_bytes(b"")
    doc = scan_json(str(tmp_path))
    assert doc["exact_groups"] == []
    assert sorted(s["reason"] for s in doc["skipped"]) == [errors.EMPTY] * 3


def test_bad_files_are_skipped_with_reasons_and_still_exact_grouped(tmp_path: Path, scan_json) -> None:
    good = write_photo(tmp_path / "good.jpg", 1, (400, 300))
    data = good.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "cut copy.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.jpg").write_text("hello")
    doc = scan_json(str(tmp_path))
    reasons = {Path(s["path"]).name: s["reason"] for s in doc["skipped"]}
    assert reasons == {
        "cut.jpg": errors.TRUNCATED,
        "cut copy.jpg": errors.TRUNCATED,
        "text.jpg": errors.NOT_AN_IMAGE,
    }
    assert group_paths(doc) == [[str(tmp_path / "cut copy.jpg"), str(tmp_path / "cut.jpg")]]


def test_special_files_never_hang_the_scan(tmp_path: Path, scan_json) -> None:
    # SAFETY case 35.
    write_photo(tmp_path / "a.jpg", 1)
    os.mkfifo(tmp_path / "pipe.jpg")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock.png"))
        doc = scan_json(str(tmp_path))
    assert doc["files"] == 1
    assert sorted(s["reason"] for s in doc["skipped"]) == [errors.NOT_REGULAR] * 2


def listed_file(path: Path) -> ImageFile:
    [item] = [i for i in walk([str(path)]) if isinstance(i, ImageFile)]
    return item


def test_file_deleted_after_listing_is_vanished(tmp_path: Path) -> None:
    # SAFETY case 34.
    file = listed_file(write_photo(tmp_path / "a.jpg", 1))
    os.unlink(file.path)
    assert fingerprint_file(file).reason == errors.VANISHED


def test_file_that_grew_after_listing_is_changed(tmp_path: Path) -> None:
    file = listed_file(write_photo(tmp_path / "a.jpg", 1))
    with open(file.path, "ab") as handle:
        handle.write(b"more")
    assert fingerprint_file(file).reason == errors.CHANGED


def test_file_replaced_by_symlink_after_listing_is_not_read(tmp_path: Path) -> None:
    file = listed_file(write_photo(tmp_path / "a.jpg", 1))
    write_photo(tmp_path / "other.jpg", 2)
    os.unlink(file.path)
    os.symlink(tmp_path / "other.jpg", file.path)
    assert fingerprint_file(file).reason == errors.NOT_REGULAR


def test_file_replaced_by_fifo_after_listing_does_not_hang(tmp_path: Path) -> None:
    file = listed_file(write_photo(tmp_path / "a.jpg", 1))
    os.unlink(file.path)
    os.mkfifo(file.path)
    assert fingerprint_file(file).reason == errors.NOT_REGULAR


def test_same_size_rewrite_with_old_timestamps_is_not_trusted(tmp_path: Path, scan_json) -> None:
    # SAFETY case 29: `touch -r` restores mtime, but ctime moves.
    path = write_photo(tmp_path / "a.png", 1)
    scan_json(str(tmp_path))
    before = path.stat()
    other = tmp_path / "b.tmp"
    save(photo(2), other, format="PNG")
    data = other.read_bytes()[: before.st_size].ljust(before.st_size, b"\0")
    other.unlink()
    time.sleep(0.01)
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert scan_json(str(tmp_path))["fingerprinted"] == 1


def test_rows_of_vanished_files_are_removed(tmp_path: Path, scan_json, cache_path: Path) -> None:
    # SAFETY case 30.
    lib = lib_with_copies(tmp_path / "lib")
    scan_json(str(lib))
    (lib / "sub" / "a copy.jpg").rename(tmp_path / "moved.jpg")
    doc = scan_json(str(lib))
    assert doc["pruned"] == 1 and doc["exact_groups"] == []
    with closing(sqlite3.connect(cache_path)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == 2


def test_non_utf8_newline_and_dash_names_scan_and_show_escaped(tmp_path: Path, run, scan_json) -> None:
    # SAFETY case 26 (the scan part).
    lib = tmp_path / "lib"
    lib.mkdir()
    base = write_photo(lib / "a.jpg", 1)
    names = [b"caf\xe9.jpg", b"new\nline.jpg", b"-rf.jpg", "e\u0301.jpg".encode(), "\u00e9.jpg".encode()]
    for name in names:
        shutil.copy(base, os.path.join(os.fsencode(lib), name))
    doc = scan_json(str(lib))
    [group] = doc["exact_groups"]
    assert sorted(os.fsencode(p) for p in group["paths"]) == sorted(
        [os.fsencode(base)] + [os.path.join(os.fsencode(lib), n) for n in names]
    )
    assert scan_json(str(lib))["cached"] == 6
    (lib / "bad.jpg").write_bytes(b"x")
    os.rename(lib / "bad.jpg", os.path.join(os.fsencode(lib), b"bad\xff\nname.jpg"))
    text = run("scan", "--jobs", "1", str(lib)).stdout
    assert "bad\\xff\\nname.jpg" in text


def test_mutated_images_never_stop_the_scan(tmp_path: Path) -> None:
    # SAFETY case 21: a few thousand byte flips, truncations and insertions.
    rng = random.Random(21)
    seeds = {}
    for fmt, ext in (("JPEG", "jpg"), ("PNG", "png"), ("GIF", "gif"), ("TIFF", "tif"), ("WEBP", "webp")):
        seeds[ext] = (
            save(photo(rng.randrange(99), (48, 40)), tmp_path / f"seed.{ext}", format=fmt)
        ).read_bytes()
    lib = tmp_path / "lib"
    count = 0
    for ext, data in seeds.items():
        folder = lib / ext
        folder.mkdir(parents=True)
        for i in range(500):
            blob = bytearray(data)
            kind = i % 3
            if kind == 0:
                for _ in range(rng.randint(1, 8)):
                    blob[rng.randrange(len(blob))] = rng.randrange(256)
            elif kind == 1:
                del blob[rng.randrange(1, len(blob)) :]
            else:
                at = rng.randrange(len(blob))
                blob[at:at] = rng.randbytes(rng.randint(1, 64))
            (folder / f"{i}.{ext}").write_bytes(bytes(blob))
            count += 1
    cache = tmp_path / "c.sqlite3"
    out = subprocess.run(
        [sys.executable, "-m", "dupfind", "scan", "--json", "--jobs", "2", "--cache", str(cache), str(lib)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    doc = json.loads(out.stdout)
    assert doc["files"] == count
    assert doc["fingerprinted"] == count
    for skipped in doc["skipped"]:
        assert skipped["reason"] in {errors.CORRUPT, errors.TRUNCATED, errors.NOT_AN_IMAGE, errors.TOO_LARGE}


RUN_CLI = "import sys; from dupfind.cli import cli; cli(sys.argv[1:], prog_name='dupfind')"
# Root reads everything, so drop to nobody's effective ids once every module the scan uses is
# loaded (the interpreter and its packages may live where nobody cannot read): a warm-up scan
# of one small picture, as root, imports whatever the scan imports lazily (numpy.ma, say).
AS_NOBODY = "\n".join(
    [
        "import contextlib, io, os, shutil, sys, tempfile",
        "from PIL import Image",
        "from dupfind.cli import cli",
        "warm = tempfile.mkdtemp()",
        "Image.effect_mandelbrot((96, 64), (-2, -1, 1, 1), 60).convert('RGB').save(warm + '/w.jpg')",
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):",
        "    cli(['scan', '--jobs', '1', '--cache', warm + '/c.db', warm], standalone_mode=False)",
        "shutil.rmtree(warm)",
        "os.setegid(65534)",
        "os.seteuid(65534)",
        RUN_CLI.split("; ", 1)[1],
    ]
)


def test_unreadable_folder_and_file_are_reported(tmp_path: Path) -> None:
    # SAFETY case 33. Run as an unprivileged user when the tests run as root.
    base = Path(tempfile.mkdtemp(dir="/tmp" if os.geteuid() == 0 else tmp_path))
    try:
        lib = base / "lib"
        write_photo(lib / "ok.jpg", 1)
        write_photo(lib / "locked" / "x.jpg", 2)
        write_photo(lib / "secret.jpg", 3)
        for p in (base, lib, lib / "locked", lib / "ok.jpg", lib / "locked" / "x.jpg"):
            p.chmod(0o777 if p.is_dir() else 0o644)
        args = ["scan", "--json", "--jobs", "1", "--cache", str(base / "c.db"), str(lib)]
        cmd = [sys.executable, "-c", AS_NOBODY if os.geteuid() == 0 else RUN_CLI, *args]
        assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
        (lib / "locked").chmod(0)
        (lib / "secret.jpg").chmod(0)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 3, out.stderr
        doc = json.loads(out.stdout)
        assert doc["files"] == 1
        assert sorted((Path(s["path"]).name, s["reason"]) for s in doc["skipped"]) == [
            ("locked", errors.UNREADABLE),
            ("secret.jpg", errors.UNREADABLE),
        ]
        # A folder that could not be listed this time is not proof its files are gone.
        with closing(sqlite3.connect(base / "c.db")) as conn, conn:
            kept = {os.fsdecode(r[0]) for r in conn.execute("SELECT path FROM files")}
        assert str(lib / "locked" / "x.jpg") in kept
    finally:
        for p in (base / "lib" / "locked", base / "lib" / "secret.jpg"):
            p.chmod(0o700)
        shutil.rmtree(base)


SCAN = [sys.executable, "-m", "dupfind", "scan", "--json", "--jobs", "1"]


def _rows(cache: Path) -> int:
    try:
        with closing(sqlite3.connect(cache)) as conn, conn:
            return conn.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killed_scans_leave_a_sound_cache_and_resume(tmp_path: Path) -> None:
    # SAFETY case 27: SIGKILL at random points, then finish; the result equals a clean run's.
    lib = tmp_path / "lib"
    for i in range(150):
        write_photo(lib / f"d{i % 5}" / f"{i}.png", i, (200, 150))
    for i in range(0, 150, 10):
        shutil.copy(lib / f"d{i % 5}" / f"{i}.png", lib / f"copy{i}.png")
    # Enough slower files that each kill lands mid-scan: distinct bytes after the JPEG's end.
    slow = save(photo(7, (1200, 900)), tmp_path / "slow.jpg", quality=95).read_bytes()
    for i in range(700):
        (lib / "slow").mkdir(exist_ok=True)
        (lib / "slow" / f"{i}.jpg").write_bytes(slow + i.to_bytes(4, "big"))
    total = 150 + 15 + 700
    cache = tmp_path / "c.sqlite3"
    rng = random.Random(27)
    stored, after_first_kill = 0, None
    for _ in range(3):
        proc = subprocess.Popen(
            [*SCAN, "--cache", str(cache), str(lib)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while _rows(cache) <= stored and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # wait for this run to commit something, then kill it at random
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with closing(sqlite3.connect(cache)) as conn, conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert _rows(cache) >= stored
        stored = _rows(cache)
        after_first_kill = stored if after_first_kill is None else after_first_kill
        if stored == total:
            break
    assert after_first_kill is not None
    assert 0 < after_first_kill < total  # killed mid-scan, and the work done before was kept
    resumed = json.loads(
        subprocess.run([*SCAN, "--cache", str(cache), str(lib)], capture_output=True, check=True).stdout
    )
    assert resumed["cached"] == stored
    assert resumed["fingerprinted"] == resumed["files"] - stored
    clean = json.loads(
        subprocess.run(
            [*SCAN, "--cache", str(tmp_path / "clean"), str(lib)], capture_output=True, check=True
        ).stdout
    )
    assert group_paths(resumed) == group_paths(clean)
    assert len(clean["exact_groups"]) == 15
    assert resumed["files"] == total


def test_two_scans_can_share_one_cache_at_once(tmp_path: Path) -> None:
    # SAFETY case 32.
    for part in ("a", "b"):
        for i in range(60):
            write_photo(tmp_path / part / f"{i}.png", i + (0 if part == "a" else 1000), (120, 90))
    cache = tmp_path / "shared.sqlite3"
    procs = [
        subprocess.Popen(
            [*SCAN, "--cache", str(cache), str(tmp_path / part)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for part in ("a", "b")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert json.loads(out)["fingerprinted"] == 60
    with closing(sqlite3.connect(cache)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == 120


def test_the_cache_is_never_scanned_even_inside_a_root(tmp_path: Path, scan_json) -> None:
    write_photo(tmp_path / "a.jpg", 1)
    doc = scan_json("--cache", str(tmp_path / "cache.jpg"), str(tmp_path))
    assert doc["files"] == 1
    assert scan_json("--cache", str(tmp_path / "cache.jpg"), str(tmp_path))["cached"] == 1


def test_exclude_and_hidden_flags_reach_the_walker(tmp_path: Path, scan_json) -> None:
    write_photo(tmp_path / "a.jpg", 1)
    write_photo(tmp_path / ".trash" / "b.jpg", 2)
    write_photo(tmp_path / "@eaDir" / "c.jpg", 3)
    assert scan_json(str(tmp_path))["files"] == 2
    assert scan_json("--exclude", "@eaDir", str(tmp_path))["files"] == 1
    assert scan_json("--hidden", "--exclude", "@eaDir", str(tmp_path))["files"] == 2


def test_ctrl_c_stops_cleanly_and_keeps_finished_work(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    data = save(photo(1, (800, 600)), tmp_path / "base.jpg", quality=95).read_bytes()
    # Distinct files (bytes after the JPEG's end differ), enough that the scan is still busy
    # several seconds after its first rows are committed, however fast the machine.
    for i in range(3000):
        (lib / f"{i}.jpg").write_bytes(data + i.to_bytes(4, "big"))
    cache = tmp_path / "c.sqlite3"
    proc = subprocess.Popen(
        [*SCAN[:-2], "--jobs", "2", "--cache", str(cache), str(lib)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As at a terminal: a test run started in the background (``pytest &``) has SIGINT
        # ignored, and a program started with it ignored rightly keeps ignoring it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some rows are committed
        time.sleep(0.2)
        try:
            with closing(sqlite3.connect(cache)) as conn, conn:
                if conn.execute("SELECT count(*) FROM files").fetchone()[0] > 0:
                    break
        except sqlite3.Error:
            continue
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-500:]
    assert err.strip().splitlines()[-1] == "dupfind: error: interrupted"
    assert "Traceback" not in err and out == ""
    with closing(sqlite3.connect(cache)) as conn, conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert 0 < conn.execute("SELECT count(*) FROM files").fetchone()[0] < 3000


def test_a_summary_scan_reads_thin_rows_and_says_the_same_as_a_full_one(tmp_path: Path, scan_json) -> None:
    """`dupfind scan` needs each cached file's SHA-256 and problem only (ScanOptions.records
    False); the library call with whole records says the same, and thin records are never
    grouped."""
    from dupfind import DEFAULT_RULES, PlanOptions, ScanOptions, open_cache, parse_rules, plan_all, scan
    from dupfind.fingerprint import PARAMS

    lib = lib_with_copies(tmp_path / "lib")
    (lib / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    first = scan_json(str(lib))  # fingerprints everything
    again = scan_json(str(lib))  # every file from the cache, thin
    for key in ("files", "skipped", "exact_groups", "exact_duplicate_bytes"):
        assert again[key] == first[key], key
    assert (again["fingerprinted"], again["cached"]) == (0, 4)
    cache = str(tmp_path / "state" / "cache.sqlite3")
    with open_cache(cache, PARAMS) as db:
        thin = scan([str(lib)], db, ScanOptions(records=False))
        whole = scan([str(lib)], db, ScanOptions())
    assert all(s.fingerprint.thin for s in thin.files)
    assert not any(s.fingerprint.thin for s in whole.files)
    assert [(s.file, s.fingerprint.sha256, s.fingerprint.problem) for s in thin.files] == [
        (s.file, s.fingerprint.sha256, s.fingerprint.problem) for s in whole.files
    ]
    assert any(s.fingerprint.phash is not None for s in whole.files)
    with pytest.raises(ValueError, match="records=False"):
        plan_all(thin.files, parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False)
