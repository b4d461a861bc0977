"""Where the freedesktop.org trash keeps a file, so that a run can be undone.

send2trash moves a file into ``$XDG_DATA_HOME/Trash`` (same device as home) or into the
volume's ``.Trash/$uid`` / ``.Trash-$uid``, and writes ``info/NAME.trashinfo`` with the
original path (https://specifications.freedesktop.org/trash-spec/). It does not say where
the file went; this module finds it again, by the original path and the SHA-256.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from .offlimits import home_trash

TMPFS_TYPES = frozenset({"tmpfs", "ramfs", "devtmpfs"})


@dataclass(frozen=True)
class Trashed:
    """A trashed file: its data in ``files/`` and its ``.trashinfo``."""

    data: str
    info: str


def mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def trash_folders(path: str) -> list[tuple[str, str]]:
    """Every trash folder a file at ``path`` may have been sent to, with its top folder."""
    top = mount_point(os.path.dirname(os.path.abspath(path)))
    uid = str(os.getuid())
    return [
        home_trash(),
        (os.path.join(top, ".Trash", uid), top),
        (os.path.join(top, f".Trash-{uid}"), top),
    ]


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _original(info_path: bytes, top: str) -> bytes | None:
    try:
        with open(info_path, "rb") as f:
            for line in f.read().splitlines():
                if line.startswith(b"Path="):
                    original = unquote_to_bytes(line[5:].decode("ascii", "replace"))
                    return original if original.startswith(b"/") else os.path.join(os.fsencode(top), original)
    except OSError:
        return None
    return None


def find_trashed(path: str, sha256: str) -> Trashed | None:
    """The newest trash entry for ``path`` whose data still has ``sha256``."""
    wanted = os.fsencode(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(wanted))[0]
    found: list[tuple[int, Trashed]] = []
    for folder, top in trash_folders(path):
        info_dir = os.path.join(os.fsencode(folder), b"info")
        try:
            names = os.listdir(info_dir)
        except OSError:
            continue
        for name in names:
            # send2trash names a clash "stem 1.ext", "stem 2.ext": the stem always leads.
            if not (name.startswith(stem) and name.endswith(b".trashinfo")):
                continue
            info = os.path.join(info_dir, name)
            if _original(info, top) != wanted:
                continue
            data = os.path.join(os.fsencode(folder), b"files", name[: -len(b".trashinfo")])
            if _sha256(os.fsdecode(data)) == sha256:
                found.append((os.stat(info).st_mtime_ns, Trashed(os.fsdecode(data), os.fsdecode(info))))
    return max(found, key=lambda f: f[0])[1] if found else None


def filesystem_type(path: str) -> str | None:
    """The type of the filesystem holding ``path`` (from /proc/self/mountinfo), if known."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return None
    path = os.path.realpath(path)
    best, kind = "", None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, right.split()[0]
    return kind
