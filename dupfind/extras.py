"""The optional decoders: HEIC/HEIF through pillow-heif (``dupfind[heif]``) and camera RAW
through rawpy (``dupfind[raw]``). Owns both libraries; without them every function here
still works and says so, and those files are compared by their bytes only."""

from __future__ import annotations

import contextlib
import functools
import io
from typing import Any

HEIF_EXTENSIONS = frozenset({"heic", "heif", "hif"})
INSTALL_HINT = {
    "heif": "pip install 'dupfind[heif]' to compare HEIC/HEIF pictures",
    "raw": "pip install 'dupfind[raw]' to compare camera RAW files",
}
# LibRaw's flip (the RAW's orientation) as the EXIF Orientation value that shows it upright.
_FLIP_TO_ORIENTATION = {3: 3, 5: 8, 6: 6}


class Unsupported(ValueError):
    """The RAW decoder does not know this file."""


@functools.cache
def heif_available() -> bool:
    """Register pillow-heif's HEIF opener with Pillow, once; False when not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def heif_thumbnail(
    data: bytes, size: tuple[int, int], min_side: int
) -> tuple[str, tuple[int, int], bytes, int] | None:
    """The largest thumbnail a HEIC/HEIF file carries for its primary picture, as (mode,
    (width, height), pixel bytes, row stride), when it shows the whole picture (the aspect
    ratio of ``size`` to within 1%) and its long side is at least ``min_side``; else
    None (decode the picture).

    Why: phones store a HEIC as a grid of HEVC tiles, about 300 ms to decode at 6 MP, and
    beside it a thumbnail of about 320 px (a few ms), enough for 8x8 hashes of a 32 px input.
    libheif turns the thumbnail as it turns the picture (irot, imir), so both are upright."""
    import pillow_heif

    width, height = size
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        primary = heif[heif.primary_index]
        thumbs = [primary.get_thumbnail(i) for i in range(len(primary.info.get("thumbnails") or ()))]
        usable = [
            t
            for t in thumbs
            if t.mode in ("RGB", "RGBA")
            and max(t.size) >= min_side
            # the same aspect ratio to within 1% (encoders round a side down: 320 x 212 of 3:2)
            and abs(t.size[0] * height - t.size[1] * width) <= 0.01 * t.size[0] * height
        ]
        if not usable:
            return None
        best = max(usable, key=lambda t: t.size[0] * t.size[1])
        return best.mode, best.size, bytes(best.data), best.stride
    except Exception:  # a shortcut only: whatever fails here, the picture itself is decoded
        return None


@functools.cache
def raw_available() -> bool:
    try:
        import rawpy  # noqa: F401
    except ImportError:
        return False
    return True


def raw_picture(data: bytes, min_side: int, jpeg_preview: bool = True) -> tuple[bytes | None, Any, int]:
    """A RAW file's picture, cheapest first: ``(jpeg, None, orientation)`` for an embedded
    JPEG preview (when ``jpeg_preview``; the caller checks its size and asks again without
    it when too small), ``(None, pixels, orientation)`` for a bitmap preview of at least
    ``min_side`` px, else ``(None, pixels, 1)`` from developing the raw data (half size,
    camera white balance; LibRaw turns it upright). Pixels are an HxWx3 uint8 array;
    ``orientation`` is the EXIF Orientation that shows a preview upright."""
    import rawpy

    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            orientation = _FLIP_TO_ORIENTATION.get(raw.sizes.flip, 1)
            thumb: Any = None
            with contextlib.suppress(rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                thumb = raw.extract_thumb()
            kind = thumb.format if thumb is not None else None
            if kind == rawpy.ThumbFormat.JPEG and jpeg_preview:
                return thumb.data, None, orientation
            if kind == rawpy.ThumbFormat.BITMAP and min(thumb.data.shape[:2]) >= min_side:
                return None, thumb.data, orientation
            return None, raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8), 1
    except rawpy.LibRawFileUnsupportedError as exc:
        raise Unsupported(str(exc)) from None
    except rawpy.LibRawError as exc:
        raise ValueError(f"RAW decoder: {exc}") from None
