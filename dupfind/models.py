"""Records passed between stages: small frozen dataclasses, hashes as plain ints."""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

# Provenance.detail holds 64 cells a picture: as a tuple of floats that is 2 KB of objects a
# file (2 GB at a million files); packed as unsigned 16-bit steps of 1/32, 128 bytes
# (pack_detail).
DETAIL_STEPS = 32


def pack_detail(values: Iterable[float]) -> bytes:
    """Cell values (0 to 2047) packed for Provenance.detail, to the nearest 1/32; a value out
    of that range raises OverflowError. (An array of them, from the scan, is packed in one
    step: fromlist and round per cell cost more than the rest of the detail grid.)"""
    if hasattr(values, "__array__"):
        steps = (values * DETAIL_STEPS).round()  # numpy rounds halves to even, as round()
        if len(steps) and not (steps.min() >= 0 and steps.max() <= 0xFFFF):
            raise OverflowError("a detail cell out of range")
        return steps.astype("=u2").tobytes()  # native order, as array("H")
    return array("H", [round(v * DETAIL_STEPS) for v in values]).tobytes()


def pack_turned(phashes: Sequence[int], dhashes: Sequence[int]) -> bytes:
    """Fingerprint.turned: the turned pHashes then as many dHashes, 8-byte big-endian words."""
    if len(phashes) != len(dhashes):
        raise ValueError("as many turned pHashes as dHashes")
    return struct.pack(f">{2 * len(phashes)}Q", *phashes, *dhashes)


def _words(packed: bytes) -> tuple[int, ...]:
    return struct.unpack(f">{len(packed) // 8}Q", packed)


def detail_values(packed: bytes) -> list[float]:
    """Provenance.detail's cells as numbers."""
    cells = array("H")
    cells.frombytes(packed)
    return [v / DETAIL_STEPS for v in cells]


@dataclass(frozen=True, slots=True)
class ImageFile:
    """One file found by the walker, with the identity it had when it was seen."""

    path: str
    dev: int
    ino: int
    size_bytes: int
    mtime_ns: int
    ctime_ns: int
    nlink: int = 1
    # Two paths with the same identity are one file (hard links): (dev, ino), made once
    # (every stage asks for it, six times a file in a scan).
    identity: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "identity", (self.dev, self.ino))


@dataclass(frozen=True, slots=True)
class Provenance:
    """What a file tells of its history (provenance.describe): read with the file, kept in
    the cache, used to find the original among copies."""

    channels: int  # 1: a grey file (a grey copy lost the colour)
    jpeg_quality: int | None  # the libjpeg quality its luminance table is closest to
    standard_tables: bool | None  # exactly libjpeg's table: re-saved by software, not a camera
    camera: str | None  # EXIF Make and Model
    maker_note: bool  # the camera's own EXIF block: editors and messengers drop it
    software: str | None  # EXIF Software
    gps: bool
    orientation: int  # EXIF Orientation (1: as stored)
    blockiness: float | None  # a lossless file's JPEG 8x8 grid (provenance.blockiness)
    sharpness: float | None = None  # provenance.appearance, at APPEARANCE_SIDE
    noise: float | None = None
    # sharpness per cell of an 8x8 grid, upright (provenance.detail), packed (pack_detail)
    detail: bytes | None = None
    # The decoder warned of corrupt data (a bad Huffman code, a premature end of a segment)
    # and filled in what it could not read: a damaged copy (fingerprint._decode_jpeg).
    damaged: bool = False
    dated: bool = False  # an EXIF date (taken, digitized or saved): messengers and thumbnailers strip it
    # a JPEG's low-frequency steps and coefficient histograms (provenance.lattice), packed
    lattice: bytes | None = None

    def as_dict(self, packed: bool = False) -> dict[str, object]:
        """Its fields by name, for JSON (the cache, --json). Not dataclasses.asdict: its deep
        copy of every value cost 0.5 ms a row, more than the rest of a cache row's write.
        ``packed``: the detail cells as the hex of their packed bytes (the cache: one string
        to parse a row instead of 64 numbers), else as numbers (--json)."""
        found = {name: getattr(self, name) for name in _PROVENANCE_FIELDS}
        if self.detail is not None:
            found["detail"] = self.detail.hex() if packed else detail_values(self.detail)
        if self.lattice is not None:
            found["lattice"] = self.lattice.hex()
        return found


_PROVENANCE_FIELDS = tuple(f.name for f in fields(Provenance))


@dataclass(frozen=True, slots=True)
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
    # The picture's pHash and dHash seen mirrored, flipped and turned (fingerprint.TURNS
    # order), so a turned copy is found by comparing hashes, without decoding again: the
    # seven pHashes then the seven dHashes as 8-byte big-endian words (pack_turned), as the
    # cache stores them. As fourteen ints they were 700 bytes of objects a file (0.7 GB at a
    # million files); packed, 145. phash_turned and dhash_turned give them as ints.
    turned: bytes = b""
    # How many pHash bits stand clear of the median: few for blank, gradient and two-tone
    # pictures, whose remaining bits noise decides.
    stable_bits: int | None = None
    # The upright picture as 16x16 grey levels (256 bytes, row by row): the second,
    # independent look that confirms a hash match (similarity.evidence).
    thumb: bytes | None = None
    provenance: Provenance | None = None
    # Only the SHA-256 and the problem were read from the cache (a scan's summary needs no
    # more: ScanOptions.records): such a fingerprint is never grouped or planned.
    thin: bool = False

    @property
    def decoded(self) -> bool:
        return self.problem is None

    @property
    def phash_turned(self) -> tuple[int, ...]:
        return _words(self.turned)[: len(self.turned) // 16]

    @property
    def dhash_turned(self) -> tuple[int, ...]:
        return _words(self.turned)[len(self.turned) // 16 :]


@dataclass(frozen=True, slots=True)
class Failure:
    """A file that could not be fingerprinted at all, or only partly.

    ``sha256`` is kept where the bytes were read (a corrupt JPEG is still an exact
    duplicate of its copy).
    """

    path: str
    reason: str
    detail: str = ""
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A folder the walk did not enter because it is never a library (a trash, a quarantine,
    dupfind's cache folder): ``why`` says which."""

    path: str
    why: str


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A file seen in this scan together with its fingerprint (fresh or from the cache)."""

    file: ImageFile
    fingerprint: Fingerprint
    from_cache: bool


@dataclass(frozen=True, slots=True)
class Progress:
    """Progress as data: the core reports, the CLI draws."""

    stage: str  # "walk" or "fingerprint"
    done: int
    total: int | None


@dataclass(frozen=True, slots=True)
class ExactGroup:
    """Distinct files (by identity) with the same bytes."""

    sha256: str
    files: tuple[ImageFile, ...]

    @property
    def wasted_bytes(self) -> int:
        # Every copy beyond the first holds bytes a keeper already holds.
        return self.files[0].size_bytes * (len(self.files) - 1)


@dataclass(frozen=True, slots=True)
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
    left_out: tuple[LeftOut, ...] = field(default=())

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


@dataclass(frozen=True, slots=True)
class Candidate:
    """One distinct file (by identity) in a group, under every name it was seen by.

    ``names`` holds all its paths in this scan (hard links), ``file.path`` first; removing
    the file means removing every name, or no space is freed and the copy stays.
    """

    file: ImageFile
    fingerprint: Fingerprint
    names: tuple[str, ...]
    protected: bool = False

    @property
    def path(self) -> str:
        return self.file.path


@dataclass(frozen=True, slots=True)
class Group:
    """Copies of one picture: ``exact`` when all share one SHA-256, else ``near``.

    Members come best first by the keeper rules; every member of a near group is within
    the similarity rule of the first (no chaining), and a file is in at most one group.
    """

    kind: str
    members: tuple[Candidate, ...]
    why: str = ""  # why the first is kept, when decided for the whole group (original.explained)
    # What marks each member as a copy ("grey, smaller"; "" for none), in members' order,
    # when the original was judged by the evidence (original.explained); else empty.
    derived: tuple[str, ...] = ()

    def only(self, members: Sequence[Candidate]) -> Group:
        """The same group with only these of its members (in their order), words kept."""
        words = dict(zip(map(id, self.members), self.derived, strict=True)) if self.derived else {}
        return Group(
            self.kind, tuple(members), self.why, tuple(words[id(m)] for m in members) if words else ()
        )

    def derived_of(self, member: Candidate) -> str:
        for m, words in zip(self.members, self.derived, strict=False):
            if m is member:
                return words
        return ""


@dataclass(frozen=True, slots=True)
class Similarity:
    """When two pictures count as near duplicates: pHash within ``phash`` bits and, seen the
    same way round, pHash plus dHash within ``combined`` (a pHash match near the edge must
    be backed by a close dHash). A mirrored or turned copy must be within ``turned`` pHash
    bits; 0 compares pictures upright only."""

    phash: int
    combined: int
    turned: int

    @property
    def near(self) -> bool:
        return self.phash > 0


@dataclass(frozen=True, slots=True)
class Match:
    """How two pictures line up best: the second is the first turned by ``turn`` (0 upright,
    else 1 + an index into fingerprint.TURNS), with the pHash and dHash distances then, and
    how alike their thumbnails are seen that way (``likeness``, -1..1; None: not looked at)."""

    turn: int
    phash: int
    dhash: int
    likeness: float | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """The second look at a hash match (similarity.evidence): the thumbnails' likeness seen
    the ``turn`` way round against what is ``needed``, the change of shape, and why the look
    refutes the match (None: it confirms it)."""

    turn: int
    likeness: float | None
    needed: float
    aspect_change: float | None
    refuted: str | None


@dataclass(frozen=True, slots=True)
class NotDuplicates:
    """The user's word that these pictures (by SHA-256) are not duplicates of each other:
    no group holds two of them, or two copies of one, with one kept for the other (one
    picture alone: its byte copies are wanted, an exact group the user keeps)."""

    id: int
    shas: frozenset[str]
    made_ns: int


MOVES = ("trash", "move", "hardlink")  # the actions that take a file out of the library


@dataclass(frozen=True, slots=True)
class Action:
    """What happens to one member: keep, trash, move, hardlink, protected or skip."""

    candidate: Candidate
    action: str
    distance: int | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    """A group with its keeper and one action per member (the keeper's is ``keep``)."""

    kind: str
    keeper: Candidate
    why: str
    actions: tuple[Action, ...]
    rule: Similarity

    @property
    def threshold(self) -> int:
        return self.rule.phash

    @property
    def victims(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.action in MOVES)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one path. ``done`` only when the source name is really gone (or,
    for a hard link, now points at the keeper)."""

    path: str
    action: str
    done: bool
    reason: str = ""
    destination: str | None = None
    freed_bytes: int = 0


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    """A planned group after the action phase: refused as a whole, or one outcome per path."""

    planned: PlannedGroup
    outcomes: tuple[Outcome, ...]
    refused: str | None = None
