"""When the machine fails dupfind, every error is one line and no photo is lost: a full disk
under the journal, a cache folder that cannot be written, a terminal that cannot show a name."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .conftest import REPO, write_photo
from .test_dedupe import assert_no_loss, contents, dupfind

RUN_AS_NOBODY = (
    "import os, sys; import dupfind.cli, dupfind.fingerprint, dupfind.act; "
    "os.setegid(65534); os.seteuid(65534); "
    "from dupfind.cli import cli; cli(sys.argv[1:], prog_name='dupfind')"
)


def exact_pairs(lib: Path, n: int) -> None:
    for i in range(n):
        original = write_photo(lib / f"{i:02}.jpg", 100 + i, quality=90)
        shutil.copy2(original, lib / f"{i:02} copy.jpg")


@contextlib.contextmanager
def small_filesystem(where: Path, kilobytes: int):
    """A real filesystem of a few KB (tmpfs), mounted for the test; skips where that is not
    allowed."""
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Fill ``folder``'s filesystem until ``leave_bytes`` remain."""
    st = os.statvfs(folder)
    filler = folder / "filler"
    filler.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave_bytes))
    return filler


def test_a_full_disk_under_the_journal_stops_the_run_in_one_line_and_undo_still_works(
    tmp_path: Path, home
) -> None:
    lib = tmp_path / "lib"
    exact_pairs(lib, 20)
    before = contents(lib)
    state = tmp_path / "state"
    state.mkdir()
    with small_filesystem(tmp_path / "small", 64) as small:
        # The journal lives on a disk with room for about one page of records.
        (state / "cache.sqlite3.actions.jsonl").symlink_to(small / "journal.jsonl")
        filler = fill(small, 4096)
        result = dupfind(home, "dedupe", "--yes", str(lib))
        assert result.returncode == 4, result.stderr
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("dupfind: error:")]
        assert (
            len(errors) == 1
            and "cannot be written" in errors[0]
            and "stopped before the next group" in errors[0]
        )
        moved = [p for p in before if not Path(p).exists()]
        assert 0 < len(moved) < 20, "the disk should fill in the middle of the run"
        assert_no_loss(before, lib, tmp_path)

        filler.unlink()  # room again: the interrupted run is settled and undone
        listing = dupfind(home, "undo", "--json")
        assert listing.returncode == 0, listing.stderr
        run = json.loads(listing.stdout)["runs"][0]
        assert run["actions"] == len(moved)
        assert dupfind(home, "undo", run["id"]).returncode == 0
    assert contents(lib) == before


def test_undo_lists_runs_where_the_cache_folder_cannot_be_written(tmp_path: Path, home) -> None:
    if os.geteuid() != 0:
        pytest.skip("made as root, then read as nobody")
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        lib, state = base / "lib", base / "state"
        exact_pairs(lib, 2)
        env = {**home, "DUPFIND_CACHE": str(state / "cache.sqlite3"), "XDG_DATA_HOME": str(base / "xdg")}
        assert dupfind(env, "dedupe", "--yes", str(lib)).returncode == 0
        for p in [base, *base.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        as_nobody = [sys.executable, "-c", RUN_AS_NOBODY, "undo"]
        listing = subprocess.run([*as_nobody, "--json"], env=env, capture_output=True, text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr
        runs = json.loads(listing.stdout)["runs"]
        assert len(runs) == 1 and runs[0]["actions"] == 2
        assert "Traceback" not in listing.stderr

        restore = subprocess.run(
            [*as_nobody, runs[0]["id"]], env=env, capture_output=True, text=True, timeout=60
        )
        assert restore.returncode == 1
        assert "Traceback" not in restore.stderr
        assert restore.stderr.count("\n") == 1 and restore.stderr.startswith("dupfind: error: cannot")
    finally:
        for p in [base, *base.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(base)


def test_names_the_terminal_cannot_encode_are_printed_escaped(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    original = write_photo(lib / "beach \U0001f3d6 day.jpg", 1, quality=90)
    shutil.copy2(original, lib / "beach \U0001f3d6 day (copy).jpg")
    env = {**home, "PYTHONIOENCODING": "latin-1", "LC_ALL": "C", "PYTHONPATH": str(REPO)}
    for args in (
        ["scan", str(lib)],
        ["dedupe", "--dry-run", str(lib)],
        ["dedupe", "--yes", str(lib)],
        ["undo"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "dupfind", *args], env=env, capture_output=True, timeout=120
        )
        assert out.returncode == 0, out.stderr.decode("latin-1")
        assert b"Traceback" not in out.stderr
        if args[0] == "dedupe":
            assert b"\\U0001f3d6" in out.stdout
    assert len(list(lib.iterdir())) == 1
