"""The trash and the quarantine are not a library (SAFETY.md rule 13, cases 40 and 41): no
walk enters them, and the action-time re-check refuses a keeper inside one."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from dupfind import walk
from dupfind.act import Actor, DryRun, Trash
from dupfind.fingerprint import fingerprint_path
from dupfind.keeper import parse_rules
from dupfind.models import Candidate, Group, ImageFile, LeftOut
from dupfind.offlimits import QUARANTINE, TRASH
from dupfind.plan import PlanOptions, plan_group

from .conftest import sha256_of, write_photo
from .test_dedupe import dupfind


@pytest.fixture
def user(tmp_path: Path) -> dict[str, str]:
    """A user whose trash is the default one, ~/.local/share/Trash, under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(
        HOME=str(tmp_path / "home"),
        DUPFIND_CACHE=str(tmp_path / "state" / "cache.sqlite3"),
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
    )
    return env


def outside_trash(home: Path, sha: str) -> list[Path]:
    trash = home / ".local" / "share" / "Trash"
    return [p for p in home.rglob("*.jpg") if trash not in p.parents and sha256_of(p) == sha]


def test_a_second_run_over_home_never_trashes_the_last_copy_outside_the_trash(tmp_path: Path, user) -> None:
    # SAFETY.md case 40, the repro of the issue: the trash of the first run must not turn
    # into "the copy to keep" of the second.
    home = tmp_path / "home"
    first = write_photo(home / "Pictures" / "2024" / "holiday.jpg", 1, (640, 480), quality=92)
    (home / "Downloads").mkdir()
    shutil.copy2(first, home / "Downloads" / "holiday (1).jpg")
    sha = sha256_of(first)

    once = dupfind(user, "dedupe", str(home), "--yes")
    assert once.returncode == 0, once.stderr
    assert len(outside_trash(home, sha)) == 1
    assert list((home / ".local" / "share" / "Trash" / "files").iterdir())

    again = dupfind(user, "dedupe", str(home), "--hidden", "--yes", "--json")
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["groups"] == []
    assert len(outside_trash(home, sha)) == 1
    assert "left out, never a library" in again.stderr and "a trash folder" in again.stderr
    assert again.stderr.count("left out") == 1


def test_naming_the_trash_as_a_root_finds_nothing_in_it(tmp_path: Path, user) -> None:
    home = tmp_path / "home"
    trash = home / ".local" / "share" / "Trash" / "files"
    write_photo(trash / "a.jpg", 1)
    shutil.copy2(trash / "a.jpg", trash / "b.jpg")
    result = dupfind(user, "scan", str(trash), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["files"] == 0
    assert doc["left_out"] == [{"path": str(trash), "why": TRASH}]


def test_an_earlier_quarantine_inside_a_later_root_is_left_out(tmp_path: Path, user) -> None:
    # SAFETY.md case 41: the copies an earlier run moved into Q are not "duplicates" of the
    # library copy the next run sees, however Q is reached.
    lib, quarantine = tmp_path / "lib", tmp_path / "lib" / "Q"
    write_photo(lib / "a.jpg", 1, quality=92)
    (lib / "backup").mkdir()
    shutil.copy2(lib / "a.jpg", lib / "backup" / "a.jpg")
    sha = sha256_of(lib / "a.jpg")
    first = dupfind(user, "dedupe", str(lib), "--yes", "--move-to", str(quarantine))
    assert first.returncode == 0, first.stderr
    assert len(list(quarantine.rglob("*.jpg"))) == 1

    for extra in ([], ["--hidden", "--follow-symlinks"]):
        again = dupfind(user, "dedupe", str(lib), "--yes", "--json", *extra)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["groups"] == []
        assert QUARANTINE in again.stderr
        library_copies = [p for p in lib.rglob("*.jpg") if quarantine not in p.parents]
        assert [sha256_of(p) for p in library_copies] == [sha]


def test_a_symlink_into_the_trash_is_not_followed_into_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    trash = tmp_path / "xdg" / "Trash" / "files"
    write_photo(trash / "a.jpg", 1)
    write_photo(tmp_path / "lib" / "b.jpg", 2)
    (tmp_path / "lib" / "trash").symlink_to(trash)
    (tmp_path / "lib" / "a.jpg").symlink_to(trash / "a.jpg")
    items = list(walk([str(tmp_path / "lib")], _follow()))
    files = [i.path for i in items if isinstance(i, ImageFile)]
    assert files == [str(tmp_path / "lib" / "b.jpg")]
    assert {i.why for i in items if isinstance(i, LeftOut)} == {TRASH}


def _follow():
    from dupfind import WalkOptions

    return WalkOptions(follow_symlinks=True, hidden=True)


def test_a_volume_trash_at_the_top_of_a_mount_is_left_out() -> None:
    # The per-volume trash of the freedesktop spec, on a real mount point (/dev/shm).
    top = Path("/dev/shm")
    if not (top.is_dir() and os.path.ismount(top) and os.access(top, os.W_OK)):
        pytest.skip("no writable mount point to make a volume trash on")
    trash = top / f".Trash-{os.getuid()}"
    made = not trash.exists()
    mark = uuid.uuid4().hex
    try:
        victim = write_photo(trash / "files" / f"{mark}.jpg", 1)
        items = list(walk([str(top)], _hidden()))
        assert not [i for i in items if isinstance(i, ImageFile) and mark in i.path]
        assert LeftOut(str(trash), TRASH) in items
        assert list(walk([str(trash / "files")], _hidden())) == [LeftOut(str(trash / "files"), TRASH)]
        assert victim.exists()
    finally:
        (trash / "files" / f"{mark}.jpg").unlink(missing_ok=True)
        if made:
            shutil.rmtree(trash, ignore_errors=True)


def test_a_trash_named_folder_that_is_not_at_a_mount_top_is_a_library(tmp_path: Path) -> None:
    # Only the trash spec's places are trashes; a user's own folder called ".Trash-1000"
    # deep in a library is scanned like any other hidden folder.
    write_photo(tmp_path / "lib" / ".Trash-1000" / "a.jpg", 1)
    items = list(walk([str(tmp_path / "lib")], _hidden()))
    assert [i.path for i in items if isinstance(i, ImageFile)] == [
        str(tmp_path / "lib" / ".Trash-1000" / "a.jpg")
    ]


def _hidden():
    from dupfind import WalkOptions

    return WalkOptions(hidden=True)


@pytest.mark.parametrize("executor", [DryRun, Trash])
def test_a_keeper_in_the_trash_is_refused_at_action_time(tmp_path: Path, monkeypatch, executor) -> None:
    # The last line of defence: even a plan that names a trashed keeper (built here by hand,
    # as no walk would) moves nothing.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    trashed = write_photo(tmp_path / "xdg" / "Trash" / "files" / "a.jpg", 1)
    (tmp_path / "lib").mkdir()
    last = Path(shutil.copy2(trashed, tmp_path / "lib" / "a.jpg"))
    members = []
    for path in (trashed, last):
        file, fp = fingerprint_path(str(path))
        members.append(Candidate(file, fp, (str(path),)))
    plan = plan_group(
        Group("exact", tuple(members)), parse_rules("shortest-path"), PlanOptions(), keeper_index=0
    )
    assert plan.keeper.path == str(trashed) and plan.victims[0].candidate.path == str(last)
    outcome = Actor(executor()).apply(plan)
    assert outcome.refused and "trash" in outcome.refused
    assert last.exists() and trashed.exists()
