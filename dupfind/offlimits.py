"""The places that are never a library: every trash, the quarantines dupfind has used, and
dupfind's own cache folder (SAFETY.md rule 13).

A copy in the trash is not a copy. If the trash were scanned, a photo trashed by an earlier
run would look like a duplicate of the last copy outside it, and the next run could keep
the trashed one and trash the last real copy. So these places are left out of every walk
whatever ``--hidden``, ``--follow-symlinks`` or the roots say, and the action-time
re-check refuses a keeper that lies inside one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

TRASH = "a trash folder"
QUARANTINE = "a quarantine dupfind has moved copies into"
CACHE = "dupfind's own cache folder"

# A volume's trash sits at the top of its mount point: ".Trash-$UID", or ".Trash/$UID"
# (freedesktop.org trash spec). Any user's, not only ours: none of them is a library.
_VOLUME_TRASH = re.compile(r"\.Trash(-\d+)?\Z")
_HOME_TRASH_TAIL = os.sep.join(("", ".local", "share", "Trash"))


def home_trash() -> tuple[str, str]:
    """(home trash folder, the folder relative paths in it are based on)."""
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data_home, "Trash"), data_home


def _is_trash_dir(path: str) -> bool:
    """A freedesktop trash by its place alone: ``.Trash``/``.Trash-N`` at the top of a mounted
    volume, or any home's ``.local/share/Trash``."""
    if path.endswith(_HOME_TRASH_TAIL):
        return True
    return bool(_VOLUME_TRASH.match(os.path.basename(path))) and os.path.ismount(os.path.dirname(path))


@dataclass(frozen=True)
class OffLimits:
    """Folders never walked, each with what it is. ``places`` hold real paths."""

    places: tuple[tuple[str, str], ...] = ()
    _identities: dict[tuple[int, int], str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def around(
        cls,
        *,
        quarantines: Iterable[str] = (),
        cache_folders: Iterable[str] = (),
        also: OffLimits | None = None,
    ) -> OffLimits:
        """The home trash (``$XDG_DATA_HOME``'s and the usual one), these quarantines and these
        cache folders, and ``also``'s places. Volume trashes are recognised by their place
        wherever they are."""
        places: list[tuple[str, str]] = [
            (home_trash()[0], TRASH),
            (os.path.expanduser(os.path.join("~", ".local", "share", "Trash")), TRASH),
        ]
        places += [(q, QUARANTINE) for q in quarantines]
        places += [(c, CACHE) for c in cache_folders]
        places += also.places if also is not None else ()
        unique: dict[str, str] = {}
        identities: dict[tuple[int, int], str] = {}
        for path, kind in places:
            real = os.path.realpath(os.path.abspath(os.path.expanduser(path)))
            unique.setdefault(real, kind)
            try:
                st = os.stat(real)
            except OSError:
                continue  # not there (yet): the path test still holds it
            identities.setdefault((st.st_dev, st.st_ino), kind)
        return cls(tuple(unique.items()), identities)

    def why(self, path: str) -> str | None:
        """What off-limits place ``path`` (after resolving links) lies in, or None."""
        real = os.path.realpath(os.path.abspath(path))
        for place, kind in self.places:
            if real == place or real.startswith(place.rstrip(os.sep) + os.sep):
                return kind
        folder = real
        while True:
            if _is_trash_dir(folder):
                return TRASH
            parent = os.path.dirname(folder)
            if parent == folder:
                return None
            folder = parent

    def why_folder(self, path: str, st: os.stat_result) -> str | None:
        """The walker's test for a folder it is about to list: by identity (however it was
        reached) or by being a trash. Its parents were tested already."""
        kind = self._identities.get((st.st_dev, st.st_ino))
        if kind is not None:
            return kind
        return TRASH if _is_trash_dir(path) else None
