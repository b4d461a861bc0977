"""The walker: what is listed, what is skipped, and each file once."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from dupfind import Failure, ImageFile, WalkOptions, walk
from dupfind.errors import RootError

from .conftest import write_photo


def listed(roots, **options) -> list[str]:
    items = list(walk([str(r) for r in roots], WalkOptions(**options)))
    return sorted(i.path for i in items if isinstance(i, ImageFile))


def test_images_by_extension_are_listed_recursively(tmp_path: Path) -> None:
    write_photo(tmp_path / "a.jpg", 1)
    write_photo(tmp_path / "deep" / "er" / "b.PNG", 2)
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "raw.CR2").write_bytes(b"raw bytes")
    names = [Path(p).name for p in listed([tmp_path])]
    assert names == ["a.jpg", "b.PNG", "raw.CR2"]


def test_hidden_files_and_folders_need_the_flag(tmp_path: Path) -> None:
    write_photo(tmp_path / ".hidden.jpg", 1)
    write_photo(tmp_path / ".thumbs" / "t.jpg", 2)
    write_photo(tmp_path / "shown.jpg", 3)
    assert [Path(p).name for p in listed([tmp_path])] == ["shown.jpg"]
    assert len(listed([tmp_path], hidden=True)) == 3


def test_exclude_matches_names_and_paths(tmp_path: Path) -> None:
    write_photo(tmp_path / "keep" / "a.jpg", 1)
    write_photo(tmp_path / "@eaDir" / "b.jpg", 2)
    write_photo(tmp_path / "keep" / "c_thumb.jpg", 3)
    found = listed([tmp_path], exclude=("@eaDir", "*_thumb.jpg"))
    assert [Path(p).name for p in found] == ["a.jpg"]
    assert listed([tmp_path], exclude=(f"{tmp_path}/keep*",)) == [str(tmp_path / "@eaDir" / "b.jpg")]


def test_overlapping_roots_list_each_file_once(tmp_path: Path) -> None:
    write_photo(tmp_path / "lib" / "a.jpg", 1)
    write_photo(tmp_path / "lib" / "sub" / "b.jpg", 2)
    lib = tmp_path / "lib"
    once = listed([lib])
    assert listed([lib, lib]) == once
    assert listed([lib, lib / "sub"]) == once
    assert listed([lib / "sub", lib]) == sorted(once)
    assert listed([lib, tmp_path / "lib" / ".." / "lib"]) == once


def test_symlinks_are_not_followed_by_default(tmp_path: Path) -> None:
    write_photo(tmp_path / "raw" / "a.jpg", 1)
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "a.jpg").symlink_to("../raw/a.jpg")
    (tmp_path / "linked").symlink_to("raw")
    assert listed([tmp_path]) == [str(tmp_path / "raw" / "a.jpg")]


def test_followed_links_are_recorded_by_their_real_path_once(tmp_path: Path) -> None:
    write_photo(tmp_path / "raw" / "a.jpg", 1)
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "a.jpg").symlink_to("../raw/a.jpg")
    (tmp_path / "linked").symlink_to("raw")
    items = [i for i in walk([str(tmp_path)], WalkOptions(follow_symlinks=True)) if isinstance(i, ImageFile)]
    # Reached three ways, recorded under one real path, never as a link.
    assert {i.path for i in items} == {str(tmp_path / "raw" / "a.jpg")}
    assert len({i.identity for i in items}) == 1


def test_symlink_loops_terminate_and_list_each_folder_once(tmp_path: Path) -> None:
    write_photo(tmp_path / "a" / "x.jpg", 1)
    (tmp_path / "a" / "loop").symlink_to("..")
    (tmp_path / "a" / "self").symlink_to(".")
    (tmp_path / "dangling.jpg").symlink_to("nowhere.jpg")
    assert listed([tmp_path], follow_symlinks=True) == [str(tmp_path / "a" / "x.jpg")]
    assert listed([tmp_path]) == [str(tmp_path / "a" / "x.jpg")]


def test_hard_links_are_listed_per_name_with_one_identity(tmp_path: Path) -> None:
    a = write_photo(tmp_path / "a.jpg", 1)
    os.link(a, tmp_path / "b.jpg")
    items = [i for i in walk([str(tmp_path)]) if isinstance(i, ImageFile)]
    assert len(items) == 2
    assert items[0].identity == items[1].identity


def test_special_files_are_reported_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it for reading would block forever
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock.jpg"))
        items = list(walk([str(tmp_path)]))
    assert sorted((Path(i.path).name, i.reason) for i in items if isinstance(i, Failure)) == [
        ("pipe.jpg", "not a regular file"),
        ("sock.jpg", "not a regular file"),
    ]
    assert not [i for i in items if isinstance(i, ImageFile)]


def test_device_nodes_are_skipped(tmp_path: Path) -> None:
    try:
        os.mknod(tmp_path / "null.jpg", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs privileges")
    items = list(walk([str(tmp_path)]))
    assert [(type(i), i.reason) for i in items] == [(Failure, "not a regular file")]


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RootError, match="no such file"):
        list(walk([str(tmp_path / "absent")]))


def test_skip_identities_hides_the_cache_file(tmp_path: Path) -> None:
    cache = write_photo(tmp_path / "cache.jpg", 1)
    write_photo(tmp_path / "photo.jpg", 2)
    st = cache.stat()
    found = listed([tmp_path], skip_identities=frozenset({(st.st_dev, st.st_ino)}))
    assert found == [str(tmp_path / "photo.jpg")]
