"""The walker: finds candidate image files under the roots, each directory once."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field

from . import errors
from .errors import RootError
from .models import Failure, ImageFile, LeftOut
from .offlimits import OffLimits

# Formats Pillow decodes (HEIC/HEIF and AVIF need their plugin or a recent Pillow).
DECODABLE_EXTENSIONS = frozenset("jpg jpeg jpe jfif png gif webp tif tiff bmp heic heif hif avif".split())
# Camera RAW: always hashed for exact duplicates, decoded only where a decoder exists.
RAW_EXTENSIONS = frozenset(
    "3fr ari arw cr2 cr3 crw dcr dng erf iiq k25 kdc mef mos mrw nef nrw orf pef raf raw rw2 rwl sr2 srf srw x3f".split()
)
DEFAULT_EXTENSIONS = DECODABLE_EXTENSIONS | RAW_EXTENSIONS


@dataclass(frozen=True)
class WalkOptions:
    """How to walk. ``skip_identities`` holds ``(st_dev, st_ino)`` of files never to list
    (the cache and its journal); ``off_limits`` the folders never to enter (None: every
    trash; scan() adds the quarantines and the cache folder)."""

    exclude: tuple[str, ...] = ()
    hidden: bool = False
    follow_symlinks: bool = False
    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    skip_identities: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    off_limits: OffLimits | None = None


def extension(name: str) -> str:
    """Lower-case extension without the dot ('' when there is none)."""
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot else ""


def normalize_roots(roots: Iterable[str]) -> tuple[str, ...]:
    """Absolute, `..`-free spellings of the roots; raises RootError for a missing one."""
    result: list[str] = []
    for root in roots:
        path = os.path.abspath(os.path.expanduser(os.fsdecode(root)))
        if not os.path.exists(path):
            raise RootError(f"{root}: no such file or directory")
        if path not in result:
            result.append(path)
    return tuple(result)


def image_file(path: str, st: os.stat_result) -> ImageFile:
    """The ImageFile for a path and its stat result."""
    return ImageFile(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_nlink)


class _Walker:
    def __init__(self, options: WalkOptions) -> None:
        self.options = options
        self.off_limits = options.off_limits or OffLimits.around()
        self.visited_dirs: set[tuple[int, int]] = set()
        patterns = [fnmatch.translate(p) for p in options.exclude]
        self.excluded = re.compile("|".join(patterns)).match if patterns else None

    def is_excluded(self, name: str, path: str) -> bool:
        if not self.options.hidden and name.startswith("."):
            return True
        return self.excluded is not None and bool(self.excluded(name) or self.excluded(path))

    def wanted(self, name: str) -> bool:
        return extension(name) in self.options.extensions

    def root(self, root: str) -> Iterator[ImageFile | Failure | LeftOut]:
        why = self.off_limits.why(root)
        if why is not None:
            yield LeftOut(root, why)
            return
        try:
            st = os.stat(root)  # a root the user named is followed even if it is a link
        except OSError as exc:
            yield Failure(root, errors.UNREADABLE, exc.strerror or str(exc))
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self.directory(root, st)
        elif stat.S_ISREG(st.st_mode):
            if (st.st_dev, st.st_ino) not in self.options.skip_identities:
                yield image_file(root, st)
        else:
            yield Failure(root, errors.NOT_REGULAR)

    def directory(self, top: str, top_stat: os.stat_result) -> Iterator[ImageFile | Failure | LeftOut]:
        # An explicit stack keeps deep trees off the Python call stack; the visited set
        # makes overlapping roots and followed link loops list each directory once.
        stack = [(top, top_stat)]
        while stack:
            path, st = stack.pop()
            key = (st.st_dev, st.st_ino)
            if key in self.visited_dirs:
                continue
            self.visited_dirs.add(key)
            why = self.off_limits.why_folder(path, st)
            if why is not None:
                yield LeftOut(path, why)
                continue
            try:
                with os.scandir(path) as entries:
                    subdirs = yield from self.entries(entries)
            except OSError as exc:
                yield Failure(path, errors.UNREADABLE, exc.strerror or str(exc))
                continue
            stack.extend(reversed(subdirs))

    def entries(
        self, entries: Iterator[os.DirEntry[str]]
    ) -> Generator[ImageFile | Failure | LeftOut, None, list[tuple[str, os.stat_result]]]:
        subdirs: list[tuple[str, os.stat_result]] = []
        for entry in entries:
            name, path = entry.name, entry.path
            if self.is_excluded(name, path):
                continue
            try:
                if entry.is_symlink():
                    if self.options.follow_symlinks:
                        found = self.followed(path, subdirs)
                        if found is not None:
                            yield found
                elif entry.is_dir(follow_symlinks=False):
                    subdirs.append((path, entry.stat(follow_symlinks=False)))
                elif self.wanted(name):
                    yield self.listed(path, entry.stat(follow_symlinks=False))
            except OSError as exc:
                yield Failure(path, errors.UNREADABLE, exc.strerror or str(exc))
        return subdirs

    def listed(self, path: str, st: os.stat_result) -> ImageFile | Failure:
        # FIFOs, sockets and devices are reported by their lstat, never opened.
        if not stat.S_ISREG(st.st_mode):
            return Failure(path, errors.NOT_REGULAR)
        return image_file(path, st)

    def followed(
        self, path: str, subdirs: list[tuple[str, os.stat_result]]
    ) -> ImageFile | Failure | LeftOut | None:
        # Whatever is reached through a link is recorded under its real path, so a later
        # action always works on the file itself and never on a link to it.
        try:
            st = os.stat(path)
        except OSError:
            return None  # a dangling link is not a photo
        real = os.path.realpath(path)
        is_dir = stat.S_ISDIR(st.st_mode)
        if not is_dir and (
            not self.wanted(os.path.basename(real)) or self.is_excluded(os.path.basename(real), real)
        ):
            return None
        # A link can lead anywhere, into the middle of a trash too: test the whole real path.
        why = self.off_limits.why(real)
        if why is not None:
            return LeftOut(real, why)
        if is_dir:
            subdirs.append((real, st))
            return None
        return self.listed(real, st)


def walk(roots: Iterable[str], options: WalkOptions | None = None) -> Iterator[ImageFile | Failure | LeftOut]:
    """Yield every candidate file under ``roots`` as an ImageFile, a Failure for what
    could not be listed, and a LeftOut for each trash, quarantine or cache folder not entered. A path is yielded once; hard links are yielded once per name
    (they share ``identity``). Symlinks are skipped unless ``follow_symlinks``."""
    walker = _Walker(options or WalkOptions())
    skip = walker.options.skip_identities
    for root in normalize_roots(roots):
        for item in walker.root(root):
            if isinstance(item, ImageFile) and item.identity in skip:
                continue
            yield item
