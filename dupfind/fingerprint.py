"""Fingerprints one file: reads its bytes once, SHA-256s them and hashes the decoded image.

Owns Pillow and imagehash. The hashes follow imagehash's definitions (aHash 8x8
mean, dHash 9x8 horizontal, pHash 32x32 DCT low 8x8 median; see
https://www.hackerfactor.com/blog/index.php?/archives/432-Looks-Like-It.html), computed here
in numpy from a reduced decode of the image, bit for bit as imagehash computes them (the
tests hold them to it). imagehash itself is imported only for that reference: it brings
scipy, whose import cost every scan worker 0.4 s and 60 MB at start.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import stat
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import PIL
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

try:  # optional at import: without it a damaged JPEG is not told from an intact one
    import simplejpeg
except ImportError:  # pragma: no cover - a platform without its wheels
    simplejpeg = None

from . import errors, extras, provenance, resample
from .errors import FingerprintError
from .models import Failure, Fingerprint, ImageFile, Provenance, pack_turned
from .walk import RAW_EXTENSIONS, extension, image_file

# Bump when anything that changes a hash changes; the cache then recomputes every row.
# 7: JPEGs decoded with warnings of corrupt data are marked damaged (Provenance.damaged).
# 9: HEIC/HEIF through its embedded thumbnail when that is large enough.
# 10: the hashes start from the picture box-reduced to about HASH_INPUT_SIDE (_hash_input).
# 12: Provenance.detail is an 8x8 grid over the picture at 256 px (was 4x4 at 128).
# 13: the detail grid is centred on the picture (a mirrored copy's cells cover the same parts).
# 14: a JPEG's lattice (provenance.lattice): a same-size re-save shows its source's steps.
ALGORITHM_VERSION = 14
# Smallest side a reduced decode keeps. JPEG draft picks the largest DCT scale (1/2, 1/4,
# 1/8) that stays at or above it; other formats are box-reduced to it. 256 px is 8x the
# 32 px pHash input, which keeps the hashes within a bit of a full decode (see the
# accuracy test) while a 12 MP JPEG decodes at 1/8 scale.
MIN_DECODE_SIDE = 256
# Bigger files are SHA-256'd in chunks and not decoded: no photo is that large, and
# reading it whole would cost a worker that much memory.
MAX_DECODE_BYTES = 512 * 1024 * 1024
# Every file has a budget, so one file never holds a worker for minutes (SAFETY.md rule 9).
# A progressive JPEG decodes once per scan and cameras and encoders write about 10; a file
# of thousands of (empty) scans costs minutes. Multi-page and animated files are counted up
# to MAX_FRAMES (Pillow's TIFF page count grows with the square of the pages); only the
# first frame is hashed. Whatever else is slow is stopped after DECODE_SECONDS.
MAX_JPEG_SCANS = 100
MAX_FRAMES = 1000
DECODE_SECONDS = 20.0
# Pillow refuses a PNG text or colour-profile chunk over 1 MB; real ICC profiles (LUT based)
# reach a few MB. 16 MB keeps a zip-bomb chunk bounded.
MAX_PNG_CHUNK = 16 * 1024 * 1024
# The formats we let Pillow try. Everything else (EPS, which runs Ghostscript; PSD; ICO;
# the many obscure formats) is "not an image" here, which keeps the attack surface small.
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "TIFF", "BMP", "AVIF", "HEIF")
PARAMS = f"dupfind-fp/{ALGORITHM_VERSION};side>={MIN_DECODE_SIDE};white-alpha;pillow/{PIL.__version__}"
RAW_FORMAT = "RAW"  # Fingerprint.format of a camera RAW file, whatever its maker's format
BACKGROUND = 255  # alpha is flattened onto white, as most viewers show it

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
extras.heif_available()  # registers HEIF with Pillow when pillow-heif is installed
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132
_MAKE, _MODEL, _SOFTWARE, _MAKER_NOTE = 0x010F, 0x0110, 0x0131, 0x927C
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_LOSSLESS_FORMATS = frozenset({"PNG", "TIFF", "BMP", "GIF", "WEBP"})


# The seven other ways a picture can lie: mirrored, flipped, turned. Fingerprint.phash_turned
# and .dhash_turned hold the hashes of the picture seen each of these ways, in this order.
TURNS = (
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.ROTATE_180,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_270,
)
HASH_SIDE = 8  # every hash is 8x8 = 64 bits
THUMB_SIDE = 16  # Fingerprint.thumb: 16x16 grey levels
APPEARANCE_SIDE = 128  # sharpness and noise are measured on the picture resized to this square
HASH_INPUT_SIDE = 96  # the hashes' resizes start from a picture reduced to this (_hash_input)
_DCT_SIDE = 32  # imagehash's pHash input: 32x32, of which the low 8x8 DCT block is kept
# A pHash bit is "stable" when its DCT coefficient stands this far from the median: about a
# grey level of amplitude over the 32x32 input (the unnormalised DCT-II scales a cosine of
# amplitude a to about 32 * 32 * a). Noise and JPEG rounding move coefficients less.
STABLE_MARGIN = 1024.0
# The low HASH_SIDE rows of the unnormalised DCT-II matrix over _DCT_SIDE points:
# scipy.fftpack.dct's y[k] = 2 * sum(x[n] * cos(pi * k * (2n + 1) / 2N)), which imagehash's
# pHash applies to the rows and then the columns and of which it keeps the low 8x8 block.
_DCT_LOW = 2.0 * np.cos(
    np.pi * np.outer(np.arange(HASH_SIDE), 2 * np.arange(_DCT_SIDE) + 1) / (2 * _DCT_SIDE)
)


def hash_to_int(value: object) -> int:
    """The 64 hash bits as an int, most significant first: ``f"{n:016x}" == str(value)``."""
    return int(str(value), 16)


def hash_hex(value: int) -> str:
    """16 hex digits, the same text as ``str(imagehash.phash(...))`` for the same bits."""
    return f"{value:016x}"


def distance(a: int, b: int) -> int:
    """Hamming distance between two 64-bit hashes."""
    return (a ^ b).bit_count()


class _Changed(Exception):
    pass


def read_bytes(path: str, expected: ImageFile | None = None) -> tuple[os.stat_result, bytes | None, str]:
    """Read a file once: its lstat-checked stat, its bytes (None when too big) and SHA-256.

    Raises FingerprintError for what is not a readable regular file, for a file that is not
    the one the walker saw, and for a file that changed while it was read.
    """
    try:
        # O_NONBLOCK: a FIFO swapped in after the walk must not hang us; O_NOFOLLOW: never
        # read through a link that replaced the file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FingerprintError(path, errors.VANISHED) from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the path is now a symlink
            raise FingerprintError(path, errors.NOT_REGULAR, "symbolic link") from None
        raise FingerprintError(path, errors.UNREADABLE, exc.strerror or str(exc)) from None
    with os.fdopen(fd, "rb", buffering=0) as handle:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise FingerprintError(path, errors.NOT_REGULAR)
        if expected is not None and _differs(expected, before):
            raise FingerprintError(path, errors.CHANGED, "not the file that was listed")
        try:
            data, digest = _read_and_hash(handle, before.st_size)
        except OSError as exc:
            raise FingerprintError(path, errors.UNREADABLE, exc.strerror or str(exc)) from None
        after = os.fstat(fd)
    read_size = before.st_size if data is None else len(data)
    if (after.st_size, after.st_mtime_ns) != (
        before.st_size,
        before.st_mtime_ns,
    ) or read_size != before.st_size:
        raise FingerprintError(path, errors.CHANGED, "modified while it was read")
    return before, data, digest


def _differs(expected: ImageFile, st: os.stat_result) -> bool:
    return (expected.dev, expected.ino, expected.size_bytes, expected.mtime_ns) != (
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )


def _read_and_hash(handle: io.RawIOBase, size: int) -> tuple[bytes | None, str]:
    if size <= MAX_DECODE_BYTES:
        data = handle.readall() or b""
        return data, hashlib.sha256(data).hexdigest()
    sha = hashlib.sha256()
    length = 0
    while chunk := handle.read(1 << 20):
        sha.update(chunk)
        length += len(chunk)
    if length != size:
        return b"", sha.hexdigest()  # the size check in read_bytes reports the change
    return None, sha.hexdigest()


def fingerprint_bytes(data: bytes, sha256: str, name: str = "") -> Fingerprint:
    """Fingerprint already-read bytes. Never raises for bad image data: the returned
    Fingerprint then has no perceptual hashes and says why in ``problem``."""
    if not data:
        return Fingerprint(sha256, problem=errors.EMPTY)
    try:
        with warnings.catch_warnings(), _time_budget(DECODE_SECONDS), _quiet_libtiff(data):
            # Untrusted input: a decompression bomb is an error, other decoder chatter
            # (odd EXIF, ICC) is not.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode_and_hash(data, sha256, name)
    except TooMuchWork as exc:
        return Fingerprint(sha256, problem=errors.TOO_SLOW, detail=str(exc))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return Fingerprint(sha256, problem=errors.TOO_LARGE, detail=str(exc))
    except (UnidentifiedImageError, extras.Unsupported):
        hint = _install_hint(extension(name))
        if hint is not None:
            return Fingerprint(
                sha256,
                problem=errors.NO_DECODER,
                detail=f"no decoder for .{extension(name)} files here ({hint}); exact copies are still found",
            )
        return Fingerprint(sha256, problem=errors.NOT_AN_IMAGE)
    except MemoryError:
        return Fingerprint(sha256, problem=errors.TOO_LARGE, detail="out of memory while decoding")
    except ImportError as exc:
        # A decoder that could not be loaded (a broken install) says nothing of the file:
        # "no decoder", which the next scan tries again once one loads (decoder_missing).
        return Fingerprint(
            sha256,
            problem=errors.NO_DECODER,
            detail=f"the decoder could not be loaded ({exc}); exact copies are still found",
        )
    except EOFError as exc:
        return Fingerprint(sha256, problem=errors.TRUNCATED, detail=str(exc) or "unexpected end of file")
    except Exception as exc:  # fuzzed images raise anything: SyntaxError, struct.error, ValueError...
        text = f"{type(exc).__name__}: {exc}"
        reason = errors.TRUNCATED if "truncated" in str(exc).lower() else errors.CORRUPT
        return Fingerprint(sha256, problem=reason, detail=text)


class TooMuchWork(Exception):
    """Decoding this file would take more than its budget."""


@contextlib.contextmanager
def _time_budget(seconds: float) -> Iterator[None]:
    """Stop decoding after ``seconds`` (SIGALRM, between the decoder's steps). Only where
    the alarm is ours to take: the main thread, with no handler of someone else's."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
    )
    if not usable:
        yield
        return

    def expired(_signum: int, _frame: object) -> None:
        raise TooMuchWork(f"still decoding after {seconds:.0f} s")

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


@contextlib.contextmanager
def _quiet_libtiff(data: bytes) -> Iterator[None]:
    """libtiff prints its warnings (unknown tags, odd directories) straight to file
    descriptor 2, hundreds of lines per scan; they say nothing about whether the picture is
    usable. Only while a TIFF is decoded, stderr points at /dev/null."""
    if not data.startswith(_TIFF_MAGIC):
        yield
        return
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


@contextlib.contextmanager
def _png_chunks_up_to(limit: int) -> Iterator[None]:
    saved = PngImagePlugin.MAX_TEXT_CHUNK
    PngImagePlugin.MAX_TEXT_CHUNK = max(saved, limit)
    try:
        yield
    finally:
        PngImagePlugin.MAX_TEXT_CHUNK = saved


def _check_scans(data: bytes) -> None:
    # Every scan starts with an SOS marker (FF DA); entropy-coded data never holds one
    # (FF there is always followed by 00 or a restart marker).
    scans = data.count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise TooMuchWork(f"a JPEG of {scans} scans (at most {MAX_JPEG_SCANS} are decoded)")


def _count_frames(im: Image.Image) -> int:
    """Frames or pages, counted up to MAX_FRAMES + 1 (which stands for "more")."""
    if not getattr(im, "is_animated", False):
        return 1
    count = 1
    try:
        while count <= MAX_FRAMES:
            im.seek(count)
            count += 1
    except EOFError:
        pass
    im.seek(0)
    return count


def _install_hint(ext: str) -> str | None:
    """What would let this file be decoded, when the file type is one we know."""
    if ext in RAW_EXTENSIONS and not extras.raw_available():
        return extras.INSTALL_HINT["raw"]
    if ext in extras.HEIF_EXTENSIONS and not extras.heif_available():
        return extras.INSTALL_HINT["heif"]
    if ext == "avif" and "AVIF" not in Image.OPEN:
        return "this Pillow was built without AVIF"
    return None


def decoder_missing(path: str) -> bool:
    """Is the decoder for this kind of file still missing here (its optional extra not
    installed)? A cached "no decoder" stands only while it is: after `pip install
    dupfind[heif]` the next scan reads the HEICs it skipped, unchanged as they are."""
    return _install_hint(extension(path)) is not None


def _open_formats() -> tuple[str, ...]:
    # Pillow registers most plugins lazily; a plugin added later (HEIF) is picked up here.
    Image.init()
    return tuple(f for f in ALLOWED_FORMATS if f in Image.OPEN)


@dataclass(frozen=True)
class _Picture:
    gray: Image.Image  # upright, reduced, 8-bit luminance
    width: int  # the full picture's, upright
    height: int
    format: str
    frames: int
    taken: str | None
    provenance: Provenance | None = None
    # Whether _reduce box-reduced the decoded picture: a second box reduce (_hash_input) on
    # top of it compounds the aliasing (a HEIC's thumbnail and its full decode drift apart).
    box_reduced: bool = False


def _decode_and_hash(data: bytes, sha256: str, name: str) -> Fingerprint:
    picture = _decode_raw(data) if extension(name) in RAW_EXTENSIONS else _decode(data)
    gray = picture.gray
    small = gray if picture.box_reduced else _hash_input(gray)
    phashes, stable_bits, dhashes, ahash = all_hashes(small)
    return Fingerprint(
        sha256=sha256,
        ahash=ahash,
        dhash=dhashes[0],
        phash=phashes[0],
        width=picture.width,
        height=picture.height,
        format=picture.format,
        frames=picture.frames,
        taken=picture.taken,
        turned=pack_turned(phashes[1:], dhashes[1:]),
        stable_bits=stable_bits,
        thumb=gray.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX).tobytes(),
        provenance=picture.provenance,
    )


def _decode(data: bytes, orientation: int | None = None) -> _Picture:
    """Decode through Pillow, reduced; ``orientation`` overrides the file's own EXIF tag."""
    with _png_chunks_up_to(MAX_PNG_CHUNK), Image.open(io.BytesIO(data), formats=_open_formats()) as im:
        fmt = im.format or "?"
        size = im.size  # before draft() reduces it
        if fmt in ("JPEG", "MPO"):
            _check_scans(data)
        frames = _count_frames(im)
        exif = im.getexif()
        if orientation is None or exif.get(_ORIENTATION, 1) != 1:
            orientation = exif.get(_ORIENTATION, 1)
        taken = _taken(exif)
        grey_file = im.mode in _GREY_MODES
        luma_table = getattr(im, "quantization", {}).get(0) if fmt in ("JPEG", "MPO") else None
        damaged = False
        decoded: Image.Image = im
        thumbnail = extras.heif_thumbnail(data, size, MIN_DECODE_SIDE) if fmt == "HEIF" else None
        if thumbnail is not None:
            mode, thumb_size, pixels, stride = thumbnail
            decoded = Image.frombuffer(mode, thumb_size, pixels, "raw", mode, stride, 1)
        luma = None
        if fmt in ("JPEG", "MPO"):
            # DCT-domain scaling: decodes at 1/2, 1/4 or 1/8 size, luma only when possible.
            im.draft("L", (MIN_DECODE_SIDE, MIN_DECODE_SIDE))
            if im.mode == "L":
                strict, damaged = _decode_jpeg(data, im)
                decoded = strict or im
                if decoded.size == size:  # not scaled: its blocks are the file's own
                    decoded.load()
                    luma = np.asarray(decoded)
        if decoded is im:
            im.load()
        # A lossless file's own pixels, full size, tell whether it went through JPEG.
        full = im.convert("L") if fmt in _LOSSLESS_FORMATS else None
        reduced = _reduce(decoded)
        picture = _upright(to_gray(reduced), size, orientation, fmt, frames, taken)
        picture = replace(picture, box_reduced=reduced is not decoded)
        fine = picture.gray.resize((provenance.DETAIL_SIDE, provenance.DETAIL_SIDE), Image.Resampling.BOX)
        square = fine.reduce(provenance.DETAIL_SIDE // APPEARANCE_SIDE)
        facts = provenance.describe(
            grey=grey_file,
            luma_table=luma_table,
            make=_text(exif.get(_MAKE)),
            model=_text(exif.get(_MODEL)),
            maker_note=_MAKER_NOTE in exif.get_ifd(_EXIF_IFD),
            software=_text(exif.get(_SOFTWARE)),
            gps=bool(exif.get_ifd(_GPS_IFD)),
            orientation=orientation if isinstance(orientation, int) else 1,
            gray=None if full is None else (full.tobytes(), full.width, full.height),
            square=(square.tobytes(), APPEARANCE_SIDE),
            fine=(fine.tobytes(), provenance.DETAIL_SIDE),
            damaged=damaged,
            luma=luma,
            dated=_DATETIME in exif
            or bool(set(exif.get_ifd(_EXIF_IFD)) & {_DATETIME_ORIGINAL, _DATETIME_DIGITIZED}),
        )
        return replace(picture, provenance=facts)


def _decode_jpeg(data: bytes, drafted: Image.Image) -> tuple[Image.Image | None, bool]:
    """The JPEG's luminance at the size Pillow's draft chose (None: Pillow decodes it), and
    whether the decoder warned of corrupt data.

    Why simplejpeg: Pillow's libjpeg-turbo decoder swallows libjpeg's warnings ("Corrupt
    JPEG data: bad Huffman code", "premature end of data segment") and fills in what it
    could not read, so a bit-damaged copy looks like a photo, larger than the intact one.
    simplejpeg wraps the same libjpeg-turbo with a strict mode that raises on them, and its
    DCT scaling picks the same size as Pillow's draft, so for an intact JPEG this is the
    scan's one decode, with the same pixels. A JPEG it refuses is decoded by Pillow as
    before (a truncated one is still refused as truncated) and, if it decodes, is damaged."""
    if simplejpeg is None:
        return None, False
    width, height = drafted.size
    try:
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="GRAY", min_width=width, min_height=height, strict=True
        )
    except ValueError:
        return None, True
    if pixels.shape[:2] != (height, width):
        return None, False
    return Image.frombytes("L", (width, height), pixels.tobytes()), False


def _upright(
    gray: Image.Image, size: tuple[int, int], orientation: int, fmt: str, frames: int, taken: str | None
) -> _Picture:
    width, height = size
    if orientation in _TRANSPOSE:
        gray = gray.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    return _Picture(gray, width, height, fmt, frames, taken)


def _decode_raw(data: bytes) -> _Picture:
    """A camera RAW through its embedded preview when that is at least MIN_DECODE_SIDE px
    (reading it costs a fraction of developing the raw data), else developed."""
    if not extras.raw_available():
        raise UnidentifiedImageError("no RAW decoder")
    jpeg, pixels, orientation = extras.raw_picture(data, MIN_DECODE_SIDE)
    if jpeg is not None:
        preview = _decode(jpeg, orientation)
        if min(preview.width, preview.height) >= MIN_DECODE_SIDE:
            return replace(preview, format=RAW_FORMAT)
        _, pixels, orientation = extras.raw_picture(data, MIN_DECODE_SIDE, jpeg_preview=False)
    im = Image.fromarray(pixels)
    reduced = _reduce(im)
    picture = _upright(to_gray(reduced), im.size, orientation, RAW_FORMAT, 1, None)
    return replace(picture, box_reduced=reduced is not im)


# How each turn moves the 2-D DCT-II: a transposed picture has the transposed DCT, and a
# mirrored axis flips the sign of that axis's odd frequencies. (transpose?, mirror columns?,
# mirror rows?), applied in that order.
_DCT_TURNS = {
    Image.Transpose.FLIP_LEFT_RIGHT: (False, True, False),
    Image.Transpose.FLIP_TOP_BOTTOM: (False, False, True),
    Image.Transpose.ROTATE_180: (False, True, True),
    Image.Transpose.TRANSPOSE: (True, False, False),
    Image.Transpose.TRANSVERSE: (True, True, True),
    Image.Transpose.ROTATE_90: (True, False, True),
    Image.Transpose.ROTATE_270: (True, True, False),
}


def _hash_input(gray: Image.Image) -> Image.Image:
    """The picture box-reduced by a whole factor to no less than HASH_INPUT_SIDE px: the four
    Lanczos resizes of the hashes (to 32x32, 9x8, 8x9, 8x8) cost 1.6 ms on a 320 x 240
    picture and 0.3 ms from 80 x 60, and bench/fingerprint_accuracy.py measures what it
    changes against imagehash on the full picture. Used only where the decode itself did not
    box-reduce (a JPEG's DCT-scaled decode, a small picture, a HEIC's thumbnail): on top of
    _reduce, a second box reduce moved the pHash of 40 HEICs' full decodes from their
    thumbnails' by 3.75 bits on average instead of 2.15."""
    factor = min(gray.size) // HASH_INPUT_SIDE
    return gray.reduce(factor) if factor >= 2 else gray


# The four resizes the hashes start from: pHash's 32x32, dHash's 9x8 and its turns' 8x9,
# aHash's 8x8.
_HASH_SIZES = (
    (_DCT_SIDE, _DCT_SIDE),
    (HASH_SIDE + 1, HASH_SIDE),
    (HASH_SIDE, HASH_SIDE + 1),
    (HASH_SIDE, HASH_SIDE),
)


def all_hashes(gray: Image.Image) -> tuple[list[int], int, list[int], int]:
    """phashes_and_stability, dhashes_turned and average_hash of one picture, its four
    resizes done together (resample.resize_many: the same pixels, fewer calls)."""
    dct, wide, tall, square = resample.resize_many(
        _grey_pixels(gray), _HASH_SIZES, "lanczos", vertical_first=_PILLOW_13
    )
    phashes, stable = _phashes(dct)
    return phashes, stable, _dhashes(wide, tall), _bits(square > square.mean())


def phashes_and_stability(gray: Image.Image) -> tuple[list[int], int]:
    """imagehash's pHash of the picture and of its seven turns, and its stable bit count.

    One 32x32 resize and one DCT serve all eight: the turns' DCTs are derived from it (see
    _DCT_TURNS) rather than computed from turned pixels. Mirrors come out bit-identical to
    hashing the mirrored picture; the four axis-swapping turns differ only by Pillow's
    rounding of the resize done the other way round (bench/turned_hashes.py measures it).
    """
    return _phashes(_resize(_grey_pixels(gray), _DCT_SIDE, _DCT_SIDE))


def _phashes(resized: np.ndarray) -> tuple[list[int], int]:
    pixels = resized.astype(np.float64)
    low = _DCT_LOW @ pixels @ _DCT_LOW.T
    median = float(_medians(low.reshape(1, -1))[0, 0])
    stable = int((np.abs(low - median) > STABLE_MARGIN).sum())
    views = np.where(_TURN_TRANSPOSES, low.T, low) * _TURN_SIGNS  # all eight at once
    flat = views.reshape(len(views), -1)
    return _rows_as_bits(flat > _medians(flat)), stable


# Pillow 13 changed the order of a resize's two passes for tall pictures: the hashes follow
# the Pillow installed, as imagehash's do (PARAMS names its version, so a cache rescans).
_PILLOW_13 = int(PIL.__version__.split(".")[0]) >= 13


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return resample.resize(pixels, width, height, "lanczos", vertical_first=_PILLOW_13)


def _grey_pixels(gray: Image.Image) -> np.ndarray:
    """An 8-bit grey picture's pixels, rows by columns, for resample.resize (which gives
    the hashes Pillow's Lanczos resizes, to the bit, at a tenth of the cost)."""
    return np.asarray(gray if gray.mode == "L" else gray.convert("L"))


def _medians(rows: np.ndarray) -> np.ndarray:
    """Each row's median as np.median gives it (an even count: the mean of the middle two,
    as imagehash's), without np.median, whose first call imports numpy.ma."""
    middle = rows.shape[1] // 2
    ordered = np.sort(rows, axis=1)
    return ordered[:, middle - 1 : middle + 1].mean(axis=1, keepdims=True)


def _turn_signs(turn: Image.Transpose | None) -> tuple[bool, np.ndarray]:
    transpose, mirror_columns, mirror_rows = _DCT_TURNS[turn] if turn is not None else (False, False, False)
    u, v = np.indices((HASH_SIDE, HASH_SIDE))
    odd = (v if mirror_columns else 0 * v) + (u if mirror_rows else 0 * u)
    return transpose, np.where(odd % 2, -1.0, 1.0)


# How each of the eight views (the picture, then TURNS) moves the low 8x8 DCT block: whether
# it is transposed, and the signs of its coefficients.
_TURN_TRANSPOSES = np.array([_turn_signs(t)[0] for t in (None, *TURNS)]).reshape(-1, 1, 1)
_TURN_SIGNS = np.stack([_turn_signs(t)[1] for t in (None, *TURNS)])


def _rows_as_bits(flags: np.ndarray) -> list[int]:
    """Each row of 64 flags packed most significant first, as imagehash prints them."""
    return np.packbits(flags, axis=1).view(">u8").reshape(-1).tolist()


def _bits(flags: np.ndarray) -> int:
    """Flags packed most significant first, row by row, as imagehash prints them."""
    return int.from_bytes(np.packbits(flags.reshape(-1)).tobytes(), "big")


def average_hash(gray: Image.Image) -> int:
    """imagehash's aHash: the picture reduced to 8x8, each pixel brighter than their mean."""
    pixels = _resize(_grey_pixels(gray), HASH_SIDE, HASH_SIDE)
    return _bits(pixels > pixels.mean())


def dhashes_turned(gray: Image.Image) -> list[int]:
    """imagehash's dHash (9x8, each pixel brighter than its left neighbour) of the picture
    and of its seven turns. A turn that swaps the axes (transposes, in _DCT_TURNS) needs the
    picture reduced to 8x9, then turned in numpy as Pillow's transpose would."""
    pixels = _grey_pixels(gray)
    return _dhashes(_resize(pixels, HASH_SIDE + 1, HASH_SIDE), _resize(pixels, HASH_SIDE, HASH_SIDE + 1))


def _dhashes(wide_px: np.ndarray, tall_px: np.ndarray) -> list[int]:
    # the eight views in one gather from both resizes' pixels (_DHASH_VIEWS)
    grids = np.concatenate([wide_px.reshape(-1), tall_px.reshape(-1)])[_DHASH_VIEWS]
    return _rows_as_bits((grids[:, :, 1:] > grids[:, :, :-1]).reshape(len(grids), -1))


# Pillow's transposes of a picture as rows by columns.
_NUMPY_TURNS: dict[Image.Transpose, Callable[[np.ndarray], np.ndarray]] = {
    Image.Transpose.FLIP_LEFT_RIGHT: lambda a: a[:, ::-1],
    Image.Transpose.FLIP_TOP_BOTTOM: lambda a: a[::-1, :],
    Image.Transpose.ROTATE_180: lambda a: a[::-1, ::-1],
    Image.Transpose.TRANSPOSE: lambda a: a.T,
    Image.Transpose.TRANSVERSE: lambda a: a[::-1, ::-1].T,
    Image.Transpose.ROTATE_90: lambda a: np.rot90(a, 1),
    Image.Transpose.ROTATE_270: lambda a: np.rot90(a, -1),
}


def _dhash_views() -> np.ndarray:
    """Where each pixel of dHash's eight views (the picture, then TURNS; 8 rows of 9) comes
    from in the 9x8 resize's pixels followed by the 8x9 resize's: the turns of _NUMPY_TURNS,
    worked out once on pixel numbers instead of done on every picture's pixels."""
    cells = HASH_SIDE * (HASH_SIDE + 1)
    wide = np.arange(cells).reshape(HASH_SIDE, HASH_SIDE + 1)
    tall = np.arange(cells, 2 * cells).reshape(HASH_SIDE + 1, HASH_SIDE)
    return np.stack([wide] + [_NUMPY_TURNS[t](tall if _DCT_TURNS[t][0] else wide) for t in TURNS])


_DHASH_VIEWS = _dhash_views()


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value if isinstance(value, str) else None


def _taken(exif: Image.Exif) -> str | None:
    value = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ")
    return value or None


def _reduce(im: Image.Image) -> Image.Image:
    # A box reduce to about MIN_DECODE_SIDE before the Lanczos resizes: three resizes of a
    # full-size 12 MP image would cost more than decoding it.
    factor = min(im.size) // MIN_DECODE_SIDE
    if factor < 2:
        return im
    if im.mode.startswith("I;16"):
        # 16-bit grey: reduce() does not take it, and converting to RGB would clip every
        # value above 255 to white. "I" holds the 16-bit values; to_gray scales them.
        return im.convert("I").reduce(factor)
    if im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK"):
        im = im.convert("RGBA" if _has_alpha(im) else "RGB")
    return im.reduce(factor)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def to_gray(im: Image.Image) -> Image.Image:
    """8-bit luminance with alpha flattened onto white, so hidden pixels under alpha 0
    never change a hash and a transparent PNG matches its JPEG export."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # Pillow clips 16-bit values to 0..255; scale them instead so a 16-bit PNG looks
        # like its 8-bit export.
        high = 65535 if im.mode != "F" else 1.0
        return im.convert("F").point(lambda v: v * (255.0 / high)).convert("L")
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (BACKGROUND,) * 3 + (255,))
        return Image.alpha_composite(background, rgba).convert("L")
    return im.convert("L")


def reference_hashes(path: str) -> dict[str, int]:
    """aHash, dHash and pHash by imagehash of the fully decoded, orientation-corrected image:
    the slow definition that the reduced decode above approximates (for tests and benchmarks)."""
    import imagehash  # the reference only: it imports scipy, which a scan does not need

    with Image.open(path) as im:
        gray = to_gray(ImageOps.exif_transpose(im))
    return {
        "ahash": hash_to_int(imagehash.average_hash(gray)),
        "dhash": hash_to_int(imagehash.dhash(gray)),
        "phash": hash_to_int(imagehash.phash(gray)),
    }


def fingerprint_file(file: ImageFile) -> Fingerprint | Failure:
    """Fingerprint one listed file; what goes wrong comes back as data, never raised."""
    try:
        _, data, digest = read_bytes(file.path, file)
    except FingerprintError as exc:
        return Failure(file.path, exc.reason, exc.detail)
    except Exception as exc:  # a scan never stops for one file
        return Failure(file.path, errors.UNREADABLE, f"{type(exc).__name__}: {exc}")
    if data is None:
        return Fingerprint(
            digest, problem=errors.TOO_LARGE, detail=f"file larger than {MAX_DECODE_BYTES} bytes"
        )
    try:
        return fingerprint_bytes(data, digest, file.path)
    except TooMuchWork as exc:  # the budget ran out just as decoding ended
        return Fingerprint(digest, problem=errors.TOO_SLOW, detail=str(exc))


def fingerprint_path(path: str) -> tuple[ImageFile, Fingerprint]:
    """Fingerprint a single file by path (for ``compare``). Raises FingerprintError when it
    cannot be read; a decoding problem is in the returned Fingerprint's ``problem``."""
    st, data, digest = read_bytes(path)
    file = image_file(path, st)
    if data is None:
        return file, Fingerprint(digest, problem=errors.TOO_LARGE, detail="file too large to decode")
    return file, fingerprint_bytes(data, digest, path)


PREVIEW_SIDE = 256  # the report's and the review's pictures: long side, in pixels


def preview(path: str, side: int = PREVIEW_SIDE) -> bytes | None:
    """A small upright JPEG of the picture at ``path``, for people to look at (the HTML
    report, the review), or None when none can be made: the page then says so. Decoded
    within the same bounds as a scan (scans, frames, time), JPEGs at a reduced size."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        orientation = None
        if extension(path) in RAW_EXTENSIONS:
            if not extras.raw_available():
                return None
            jpeg, pixels, orientation = extras.raw_picture(data, side)
            if jpeg is None:
                return _jpeg_of(Image.fromarray(pixels), side)
            data = jpeg
        with (
            _time_budget(DECODE_SECONDS),
            _png_chunks_up_to(MAX_PNG_CHUNK),
            Image.open(io.BytesIO(data), formats=_open_formats()) as im,
        ):
            if im.format in ("JPEG", "MPO"):
                _check_scans(data)
                im.draft("RGB", (side, side))
            if orientation is not None and orientation in _TRANSPOSE:
                return _jpeg_of(im.transpose(_TRANSPOSE[orientation]), side)
            return _jpeg_of(ImageOps.exif_transpose(im), side)
    # Whatever stops a picture from being shown (unreadable, damaged, too big, too slow, a
    # decoder's own error) only means no picture on the page; the plan still shows the file.
    except Exception:
        return None


def _jpeg_of(im: Image.Image, side: int) -> bytes:
    im.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    im.convert("RGB").save(out, "JPEG", quality=75)
    return out.getvalue()
