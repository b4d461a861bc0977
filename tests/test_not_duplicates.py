"""'Not duplicates', remembered: kept in the cache by content, it survives renames and rescans,
hides the pictures from each other's groups until a new picture appears, and can be forgotten."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dupfind import open_cache
from dupfind.fingerprint import PARAMS

from .conftest import photo, save, tree_snapshot
from .test_dedupe import library, review


def _dupfind(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dupfind", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _groups(env: dict[str, str], lib: Path) -> list[list[str]]:
    done = _dupfind(env, "dedupe", "-q", "--dry-run", "--json", str(lib))
    assert done.returncode == 0, done.stderr
    return sorted(sorted(m["path"] for m in g["members"]) for g in json.loads(done.stdout)["groups"])


def test_n_at_the_prompt_is_remembered_by_content_until_a_new_picture_comes(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    files = library(lib)
    before = tree_snapshot(lib)
    assert len(_groups(home, lib)) == 2  # the exact pair and the near pair
    code, out = review(home, ["-q", str(lib)], ["n\n", "n\n"])
    assert code == 0, out
    assert "remembered as not duplicates" in out
    assert tree_snapshot(lib) == before  # nothing moved
    assert _groups(home, lib) == []

    listed = json.loads(_dupfind(home, "not-duplicates", "--json").stdout)["decisions"]
    assert len(listed) == 2
    assert {p for d in listed for pic in d["pictures"] for p in pic["paths"]} == {
        str(p) for p in files.values()
    } - {str(files["c"])}

    # A rename and a rescan change nothing: the decision is about the pictures' content.
    renamed = files["b_small"].rename(lib / "phone" / "renamed.jpg")
    assert _groups(home, lib) == []

    # A new copy of b brings b's group back, with the new picture only.
    newcomer = save(photo(2, (480, 360)), lib / "downloads" / "b_again.jpg", quality=90)
    assert _groups(home, lib) == [sorted([str(files["b"]), str(newcomer)])]

    # Forgotten, the decisions no longer hold.
    forgot = _dupfind(home, "not-duplicates", "--forget-all")
    assert forgot.returncode == 0 and "Forgot 2 decisions" in forgot.stdout
    groups = _groups(home, lib)
    assert sorted([str(files["b"]), str(newcomer), str(renamed)]) in groups
    assert sorted([str(files["a"]), str(files["a_copy"])]) in groups


def test_forgetting_an_unknown_decision_is_a_one_line_error(tmp_path: Path, home) -> None:
    done = _dupfind(home, "not-duplicates", "--forget", "7")
    assert done.returncode != 0
    assert "no decision 7" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    listing = _dupfind(home, "not-duplicates")
    assert listing.returncode == 0 and 'No "not duplicates" decisions.' in listing.stdout


def test_a_decision_is_stored_once_and_forgotten_by_number(cache_path: Path) -> None:
    cache_path.parent.mkdir(parents=True)
    a, b, c = ("a" * 64, "b" * 64, "c" * 64)
    with open_cache(str(cache_path), PARAMS) as db:
        first = db.mark_not_duplicates([a, b])
        assert db.mark_not_duplicates([b, a, a]) == first
        second = db.mark_not_duplicates([c])
        assert [(d.id, d.shas) for d in db.not_duplicates()] == [(first, {a, b}), (second, {c})]
    with open_cache(str(cache_path), PARAMS) as db:  # kept across runs
        assert db.forget_not_duplicates([first]) == 1
        assert [d.shas for d in db.not_duplicates()] == [frozenset({c})]
