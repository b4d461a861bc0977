"""The README stays true: its commands are the ones CI runs, and its snippet runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dupfind.cli import cli

from .conftest import REPO, write_photo

README = (REPO / "README.md").read_text()
TEST_COMMAND = "pip install -e '.[test,heif,raw]' && python -m pytest"


def test_readme_gives_the_install_and_test_commands_ci_runs() -> None:
    assert "pip install . && dupfind scan ~/Pictures" in README
    assert TEST_COMMAND in README
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text()


def test_every_command_is_documented() -> None:
    for name in cli.commands:
        assert f"dupfind {name}" in README, name


def test_library_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    [snippet] = re.findall(r"```python\n(.*?)```", README, re.S)
    a = write_photo(tmp_path / "Pictures" / "a.jpg", 1)
    shutil.copy(a, tmp_path / "Pictures" / "b.jpg")
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "2 fingerprinted, 0 from the cache" in out
    assert "Pictures/a.jpg" in out and "Pictures/b.jpg" in out
