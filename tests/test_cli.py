"""The command line: compare, output shapes, errors as one line, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import imagehash
import pytest
from PIL import Image

from .conftest import photo, save, write_photo


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    a = save(photo(1, (640, 480)), tmp_path / "a.jpg", quality=95)
    b = save(photo(1, (320, 240)), tmp_path / "b.png")
    return a, b


def test_compare_near_duplicate_json(run, pair) -> None:
    a, b = pair
    result = run("compare", "--json", str(a), str(b))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "near-duplicate"
    assert [f["path"] for f in doc["files"]] == [str(a), str(b)]
    assert set(doc["distances"]) == {"ahash", "dhash", "phash"}
    assert doc["distances"]["phash"] <= 5
    first = doc["files"][0]
    assert (first["width"], first["height"], first["format"]) == (640, 480, "JPEG")
    with Image.open(b) as im:
        assert doc["files"][1]["phash"] == str(imagehash.phash(im))


def test_compare_text_shows_every_hash_and_the_verdict(run, pair) -> None:
    a, b = pair
    text = run("compare", str(a), str(b)).stdout
    for label in ("format", "size", "dimensions", "sha256", "ahash", "dhash", "phash", "640 x 480", "PNG"):
        assert label in text
    assert "verdict: near-duplicate" in text


def test_compare_identical_and_different(run, tmp_path: Path) -> None:
    a = write_photo(tmp_path / "a.jpg", 1)
    shutil.copy(a, tmp_path / "copy.jpg")
    c = write_photo(tmp_path / "c.jpg", 99)
    assert (
        json.loads(run("compare", "--json", str(a), str(tmp_path / "copy.jpg")).stdout)["verdict"]
        == "identical"
    )
    assert json.loads(run("compare", "--json", "--similarity", "loose", str(a), str(c)).stdout)[
        "verdict"
    ] == ("different")
    # 5% cut off each side: pHash 10, dHash 6 from the original.
    with Image.open(a) as im:
        w, h = im.size
        cropped = save(im.crop((w // 20, h // 20, w - w // 20, h - h // 20)), tmp_path / "crop.png")

    def verdict(*opts):
        return json.loads(run("compare", "--json", *opts, str(a), str(cropped)).stdout)["verdict"]

    assert verdict("--similarity", "strict") == "different"
    assert verdict() == verdict("--threshold", "10") == "near-duplicate"
    assert verdict("--threshold", "8") == "different"


@pytest.mark.parametrize("content", [None, b"", b"not an image", b"\xff\xd8\xff\xe0" + b"\0" * 20])
def test_compare_unusable_file_is_one_line_and_exit_2(run, tmp_path: Path, content: bytes | None) -> None:
    good = write_photo(tmp_path / "good.jpg", 1)
    bad = tmp_path / "bad.jpg"
    if content is not None:
        bad.write_bytes(content)
    result = run("compare", str(good), str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("dupfind: error: ") and result.stderr.count("\n") == 1
    assert str(bad) in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["scan"],
        ["scan", "--jobs", "0", "."],
        ["scan", "--nope", "."],
        ["compare", "a.jpg"],
        ["compare", "--threshold", "33", "a", "b"],
        ["compare", "--similarity", "huge", "a", "b"],
        ["compare", "--similarity", "loose", "--threshold", "4", "a", "b"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_are_one_line_and_non_zero(run, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("dupfind: error: ") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_missing_root_is_one_line_exit_1(run, tmp_path: Path) -> None:
    result = run("scan", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert result.stderr == f"dupfind: error: {tmp_path / 'nope'}: no such file or directory\n"


def test_human_summary_lists_counts_and_skips(run, tmp_path: Path) -> None:
    a = write_photo(tmp_path / "a.jpg", 1)
    shutil.copy(a, tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_text("text")
    result = run("scan", "--jobs", "1", str(tmp_path))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Scanned 1 root in ")
    assert lines[1:7] == [
        "  files seen:        3",
        "  fingerprinted:     3",
        "  reused from cache: 0",
        "  skipped:           1",
        "    not an image: 1",
        f"  exact duplicates:  1 groups, 1 extra copies, {a.stat().st_size / 1000:.1f} KB",
    ]
    assert f"  not an image: {tmp_path / 'c.jpg'}" in lines
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_every_command_has_help_with_an_example(run) -> None:
    for command in ("scan", "compare"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Example:" in result.stdout


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dupfind", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("dupfind, version ")


def test_library_and_cli_agree(tmp_path: Path, run) -> None:
    from dupfind import compare_files

    a = write_photo(tmp_path / "a.jpg", 1)
    b = write_photo(tmp_path / "b.jpg", 2)
    comparison = compare_files(str(a), str(b))
    doc = json.loads(run("compare", "--json", str(a), str(b)).stdout)
    assert doc["distances"] == comparison.distances and doc["verdict"] == comparison.verdict


def test_progress_bars_draw_on_stderr_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from dupfind.cli_base import _ProgressBars
    from dupfind.models import Progress

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    bars = _ProgressBars(enabled=True)
    bars(Progress("walk", 1000, None))
    bars(Progress("fingerprint", 0, 10))
    bars(Progress("fingerprint", 10, 10))
    bars.close()
    assert "listing" in stderr.getvalue() and "fingerprinting" in stderr.getvalue()
    quiet = _ProgressBars(enabled=False)
    quiet(Progress("walk", 5, None))
    assert quiet.bar is None


def test_compare_one_file_lists_the_nearest_files_of_earlier_scans(run, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    original = save(photo(1, (640, 480)), lib / "a.jpg", quality=95)
    save(photo(1, (320, 240)), lib / "small" / "a.png")
    shutil.copy(original, lib / "copy.jpg")
    write_photo(lib / "other.jpg", 2)
    gone = save(photo(1, (300, 225)), lib / "gone.jpg")
    assert run("scan", "-q", str(lib)).exit_code == 0
    gone.unlink()  # still in the cache, no longer on disk: never shown
    result = run("compare", "--json", str(original))
    assert result.exit_code == 0, result.output
    matches = json.loads(result.stdout)["matches"]
    assert [(m["path"], m["identical"]) for m in matches] == [
        (str(lib / "copy.jpg"), True),
        (str(lib / "small" / "a.png"), False),
    ]  # nearest first, then by path
    assert matches[0]["distance"] == 0
    text = run("compare", str(original)).stdout
    assert "copy.jpg  (identical bytes)" in text and "other.jpg" not in text
