"""A minimal DNG writer for tests: real files LibRaw (rawpy) opens, made from a Pillow
picture. Linear DNG (already demosaiced RGB, 16-bit), optionally with an 8-bit RGB preview
in IFD 0 and the raw data in a SubIFD, as cameras lay them out. No camera data is needed."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image

BYTE, ASCII, SHORT, LONG, SRATIONAL = 1, 2, 3, 4, 10
_PACK = {BYTE: "B", SHORT: "H", LONG: "I"}


def _ifd(entries: list[tuple[int, int, object]], at: int) -> bytes:
    """One IFD written at offset ``at``, values too long for an entry right after it."""
    entries = sorted(entries, key=lambda e: e[0])
    head_len = 2 + 12 * len(entries) + 4
    head, extra = struct.pack("<H", len(entries)), b""
    for tag, kind, values in entries:
        if kind == ASCII:
            raw = str(values).encode() + b"\0"
            count = len(raw)
        elif kind == SRATIONAL:
            raw = b"".join(struct.pack("<ii", n, d) for n, d in values)  # type: ignore[attr-defined]
            count = len(values)  # type: ignore[arg-type]
        else:
            raw = struct.pack("<" + _PACK[kind] * len(values), *values)  # type: ignore[arg-type]
            count = len(values)  # type: ignore[arg-type]
        if len(raw) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, at + head_len + len(extra))
            extra += raw + b"\0" * (len(raw) % 2)
    return head + struct.pack("<I", 0) + extra


def _image_entries(size: tuple[int, int], bits: int, photometric: int, offset: int, length: int) -> list:
    w, h = size
    return [
        (256, LONG, [w]),
        (257, LONG, [h]),
        (258, SHORT, [bits] * 3),
        (259, SHORT, [1]),  # uncompressed
        (262, SHORT, [photometric]),
        (273, LONG, [offset]),
        (277, SHORT, [3]),
        (278, LONG, [h]),
        (279, LONG, [length]),
        (284, SHORT, [1]),
    ]


_CAMERA = [
    (271, ASCII, "dupfind"),
    (272, ASCII, "test camera"),
    (274, SHORT, [1]),
    (50706, BYTE, [1, 4, 0, 0]),  # DNGVersion
    (50708, ASCII, "dupfind test camera"),  # UniqueCameraModel
    (50721, SRATIONAL, [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1), (0, 1), (0, 1), (1, 1)]),
    (50778, SHORT, [21]),  # CalibrationIlluminant1: D65
]
LINEAR_RAW = 34892


def write_dng(path: Path, picture: Image.Image, preview: Image.Image | None = None) -> Path:
    """``picture`` as linear raw data; ``preview`` (if given) as the embedded RGB preview."""
    pixels = (np.asarray(picture.convert("RGB"), dtype=np.uint16) * 257).astype("<u2").tobytes()
    raw_at = 8
    if preview is None:
        ifd_at = raw_at + len(pixels)
        entries = [
            (254, LONG, [0]),
            *_image_entries(picture.size, 16, LINEAR_RAW, raw_at, len(pixels)),
            *_CAMERA,
        ]
        data = b"II*\0" + struct.pack("<I", ifd_at) + pixels + _ifd(entries, ifd_at)
    else:
        shown = np.asarray(preview.convert("RGB"), dtype=np.uint8).tobytes()
        raw_at = 8 + len(shown)
        sub_at = raw_at + len(pixels)
        sub = _ifd(
            [(254, LONG, [0]), *_image_entries(picture.size, 16, LINEAR_RAW, raw_at, len(pixels))], sub_at
        )
        ifd_at = sub_at + len(sub)
        entries = [
            (254, LONG, [1]),  # a reduced-resolution (preview) image
            *_image_entries(preview.size, 8, 2, 8, len(shown)),
            (330, LONG, [sub_at]),  # SubIFDs: the raw data
            *_CAMERA,
        ]
        data = b"II*\0" + struct.pack("<I", ifd_at) + shown + pixels + sub + _ifd(entries, ifd_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
