"""Records passed between stages: small frozen dataclasses, hashes as plain ints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageFile:
    """One file found by the walker, with the identity it had when it was seen."""

    path: str
    dev: int
    ino: int
    size_bytes: int
    mtime_ns: int
    ctime_ns: int
    nlink: int = 1

    @property
    def identity(self) -> tuple[int, int]:
        """Two paths with the same identity are one file (hard links)."""
        return (self.dev, self.ino)


@dataclass(frozen=True)
class Fingerprint:
    """What dupfind knows about a file's content.

    ``sha256`` is set whenever the bytes were read. The perceptual hashes are set only
    when the image decoded; otherwise ``problem`` says why (a reason code from
    ``dupfind.errors.REASONS``) and ``detail`` gives the decoder's words.
    """

    sha256: str
    ahash: int | None = None
    dhash: int | None = None
    phash: int | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    frames: int | None = None
    taken: str | None = None
    problem: str | None = None
    detail: str | None = None

    @property
    def decoded(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Failure:
    """A file that could not be fingerprinted at all, or only partly.

    ``sha256`` is kept where the bytes were read (a corrupt JPEG is still an exact
    duplicate of its copy).
    """

    path: str
    reason: str
    detail: str = ""
    sha256: str | None = None


@dataclass(frozen=True)
class ScannedFile:
    """A file seen in this scan together with its fingerprint (fresh or from the cache)."""

    file: ImageFile
    fingerprint: Fingerprint
    from_cache: bool


@dataclass(frozen=True)
class Progress:
    """Progress as data: the core reports, the CLI draws."""

    stage: str  # "walk" or "fingerprint"
    done: int
    total: int | None


@dataclass(frozen=True)
class ExactGroup:
    """Distinct files (by identity) with the same bytes."""

    sha256: str
    files: tuple[ImageFile, ...]

    @property
    def wasted_bytes(self) -> int:
        # Every copy beyond the first holds bytes a keeper already holds.
        return self.files[0].size_bytes * (len(self.files) - 1)


@dataclass(frozen=True)
class ScanReport:
    """The result of one scan."""

    roots: tuple[str, ...]
    files: tuple[ScannedFile, ...]
    failures: tuple[Failure, ...]
    fingerprinted: int
    cached: int
    paths: int
    pruned: int
    seconds: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def distinct_files(self) -> int:
        """Files counted once per identity (hard links are one file)."""
        return len({s.file.identity for s in self.files})

    @property
    def skipped(self) -> tuple[Failure, ...]:
        """Every file whose image could not be used, with its reason."""
        undecoded = tuple(
            Failure(s.file.path, s.fingerprint.problem, s.fingerprint.detail or "", s.fingerprint.sha256)
            for s in self.files
            if s.fingerprint.problem is not None
        )
        return self.failures + undecoded
