"""Fingerprints: imagehash's definitions, reduced decoding, orientation, odd modes, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import imagehash
import numpy as np
import PIL
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile

from dupfind import errors, extras, resample
from dupfind.fingerprint import (
    all_hashes,
    average_hash,
    dhashes_turned,
    distance,
    fingerprint_bytes,
    fingerprint_path,
    hash_hex,
    phashes_and_stability,
    reference_hashes,
    to_gray,
)
from dupfind.walk import DECODABLE_EXTENSIONS, extension

from .conftest import needs_fixture, photo, save, sha256_of, write_photo


def fp_of(path: Path):
    return fingerprint_path(str(path))[1]


def test_hash_text_is_imagehash_text(tmp_path: Path) -> None:
    path = write_photo(tmp_path / "a.png", 7)
    fp = fp_of(path)
    with Image.open(path) as im:
        assert hash_hex(fp.phash) == str(imagehash.phash(im))
        assert hash_hex(fp.dhash) == str(imagehash.dhash(im))
        assert hash_hex(fp.ahash) == str(imagehash.average_hash(im))


def test_numpy_hashes_are_imagehash_bit_for_bit_on_real_photos() -> None:
    # The scan computes aHash and pHash in numpy (imagehash imports scipy, a cost at every
    # worker's start); on the same grey picture the bits must be imagehash's own.
    root = needs_fixture()
    paths = sorted(p for p in root.rglob("*") if extension(p.name) in DECODABLE_EXTENSIONS)
    for path in paths:
        with Image.open(path) as im:
            gray = to_gray(im)
        assert average_hash(gray) == int(str(imagehash.average_hash(gray)), 16), path
        assert phashes_and_stability(gray)[0][0] == int(str(imagehash.phash(gray)), 16), path


# Pinned values: a change here means hashing changed, so bump fingerprint.ALGORITHM_VERSION.
GOLDEN = {
    1: ("cdf6f233071f1808", "1986c6663f35317a", "8ce3d8b83acbc534"),  # 9: hashes from a 96 px reduce
    2: ("1893d3c2cc22339f", "7227a69619c6e633", "fc6c8d47db2420da"),
}


@pytest.mark.parametrize("seed", sorted(GOLDEN))
def test_golden_fingerprints(tmp_path: Path, seed: int) -> None:
    fp = fp_of(write_photo(tmp_path / "g.png", seed))
    assert (hash_hex(fp.ahash), hash_hex(fp.dhash), hash_hex(fp.phash)) == GOLDEN[seed]


def test_fingerprint_records_size_format_frames_and_date(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 12:30:00"
    path = save(photo(3, (400, 300)), tmp_path / "a.jpg", exif=exif)
    fp = fp_of(path)
    assert (fp.width, fp.height, fp.format, fp.frames, fp.taken) == (
        400,
        300,
        "JPEG",
        1,
        "2021:07:04 12:30:00",
    )
    assert fp.sha256 == sha256_of(path)


def test_exif_orientation_matches_pixel_rotation(tmp_path: Path) -> None:
    # SAFETY case 23: the same photo stored sideways with Orientation 6, and rotated in pixels.
    upright = photo(4, (400, 300))
    exif = Image.Exif()
    exif[0x0112] = 6
    tagged = save(
        upright.transpose(Image.Transpose.ROTATE_90), tmp_path / "tagged.jpg", exif=exif, quality=95
    )
    rotated = save(upright, tmp_path / "rotated.jpg", quality=95)
    a, b = fp_of(tagged), fp_of(rotated)
    assert (a.width, a.height) == (400, 300)
    assert distance(a.phash, b.phash) <= 2
    assert distance(a.dhash, b.dhash) <= 4


def test_large_jpeg_decodes_reduced_and_stays_close_to_a_full_decode(tmp_path: Path) -> None:
    path = save(photo(5, (3200, 2400)), tmp_path / "big.jpg", quality=90)
    fp, ref = fp_of(path), reference_hashes(str(path))
    assert (fp.width, fp.height) == (3200, 2400)
    assert all(distance(getattr(fp, k), v) <= 2 for k, v in ref.items())


def test_hashes_stay_close_to_imagehash_on_the_fixture() -> None:
    # The accuracy requirement: mean <= 1 bit and p99 <= 4 bits per hash against
    # imagehash on the full, orientation-corrected decode.
    root = needs_fixture()
    paths = sorted(p for p in root.rglob("*") if extension(p.name) in DECODABLE_EXTENSIONS)
    assert len(paths) >= 40
    gaps: dict[str, list[int]] = {"ahash": [], "dhash": [], "phash": []}
    for path in paths:
        fp, ref = fp_of(path), reference_hashes(str(path))
        for name, value in ref.items():
            gaps[name].append(distance(getattr(fp, name), value))
    for name, values in gaps.items():
        values.sort()
        assert sum(values) / len(values) <= 1.0, name
        assert values[int(0.99 * (len(values) - 1))] <= 4, name


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: photo(6).convert("CMYK"), id="cmyk-jpeg"),
        pytest.param(
            lambda: Image.fromarray(np.asarray(photo(6).convert("L")).astype(np.uint16) * 257), id="16-bit"
        ),
        pytest.param(lambda: photo(6).convert("P", palette=Image.Palette.ADAPTIVE), id="palette"),
        pytest.param(lambda: photo(6).convert("LA"), id="LA"),
        pytest.param(lambda: photo(6).convert("1"), id="1-bit"),
        pytest.param(lambda: photo(6).convert("RGBA"), id="RGBA"),
    ],
)
def test_unusual_modes_hash_deterministically(tmp_path: Path, make) -> None:
    # SAFETY case 24.
    im = make()
    fmt = "jpg" if im.mode == "CMYK" else "png"
    path = save(im, tmp_path / f"odd.{fmt}")
    first, second = fp_of(path), fp_of(path)
    assert first.decoded, first
    assert first == second


def test_sixteen_bit_png_matches_its_eight_bit_export(tmp_path: Path) -> None:
    gray = photo(8).convert("L")
    deep_pixels = np.asarray(gray).astype(np.uint16) * 257
    deep = save(Image.fromarray(deep_pixels), tmp_path / "deep.png")
    with Image.open(deep) as im:
        assert im.mode.startswith("I")
    flat = save(gray, tmp_path / "flat.png")
    assert distance(fp_of(deep).phash, fp_of(flat).phash) <= 2


def test_palette_transparency_and_icc_profile_hash(tmp_path: Path) -> None:
    pal = photo(9).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    a = save(pal, tmp_path / "pal.png")
    b = save(photo(9), tmp_path / "icc.jpg", icc_profile=srgb)
    assert fp_of(a).decoded and fp_of(b).decoded


def test_pixels_hidden_under_alpha_zero_do_not_change_the_hash(tmp_path: Path) -> None:
    base = photo(10, (200, 200)).convert("RGBA")
    alpha = Image.new("L", base.size, 255)
    alpha.paste(0, (0, 0, 100, 200))
    one, two = base.copy(), photo(11, (200, 200)).convert("RGBA")
    two.paste(base.crop((100, 0, 200, 200)), (100, 0))
    one.putalpha(alpha)
    two.putalpha(alpha)
    a, b = fp_of(save(one, tmp_path / "a.png")), fp_of(save(two, tmp_path / "b.png"))
    assert (a.ahash, a.dhash, a.phash) == (b.ahash, b.dhash, b.phash)


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "z.jpg").write_bytes(b"")
    fp = fp_of(tmp_path / "z.jpg")
    assert fp.problem == errors.EMPTY and fp.phash is None


def test_truncated_jpeg_is_reported_and_global_flag_untouched(tmp_path: Path) -> None:
    # SAFETY case 19.
    data = (write_photo(tmp_path / "full.jpg", 12, (640, 480))).read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    fp = fp_of(path)
    assert fp.problem == errors.TRUNCATED
    assert fp.phash is None and fp.sha256 == sha256_of(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    "content",
    [b"just some text\n", b"<!doctype html><html><body>404</body></html>", b"%!PS-Adobe-3.0 EPSF-3.0\n"],
    ids=["text", "html", "eps"],
)
def test_other_content_named_jpg_is_not_an_image(tmp_path: Path, content: bytes) -> None:
    # SAFETY case 20 (EPS is refused outright: decoding it would run Ghostscript).
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    assert fp_of(path).problem == errors.NOT_AN_IMAGE


def test_zip_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("a.txt", "hello")
    (tmp_path / "z.jpg").write_bytes(buffer.getvalue())
    assert fp_of(tmp_path / "z.jpg").problem == errors.NOT_AN_IMAGE


def test_undecodable_raw_keeps_its_sha256(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.CR2"
    path.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    fp = fp_of(path)
    assert fp.sha256 == sha256_of(path)
    # With dupfind[raw], LibRaw reads it and finds no RAW data in it; without, no decoder.
    assert fp.problem == (errors.NOT_AN_IMAGE if extras.raw_available() else errors.NO_DECODER)
    assert fp.phash is None


def test_decompression_bomb_is_too_large_and_keeps_sha256(tmp_path: Path) -> None:
    # SAFETY case 18: a 20000 x 20000 1-bit PNG of a few KB.
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path, optimize=True)
    assert path.stat().st_size < 200_000
    fp = fp_of(path)
    assert fp.problem == errors.TOO_LARGE
    assert fp.sha256 == sha256_of(path)


def test_image_just_over_the_warning_limit_is_too_large(tmp_path: Path) -> None:
    # Over MAX_IMAGE_PIXELS Pillow only warns; dupfind treats the warning as an error.
    side = int(Image.MAX_IMAGE_PIXELS**0.5) + 10
    path = tmp_path / "warn.png"
    Image.new("1", (side, side)).save(path)
    assert fp_of(path).problem == errors.TOO_LARGE


MEMORY_PROBE = """
import json, resource, sys
from dupfind.fingerprint import fingerprint_path
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fp = fingerprint_path(sys.argv[1])[1]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"problem": fp.problem, "w": fp.width, "h": fp.height, "grew_kb": after - before}))
"""


def test_sixty_megapixel_jpeg_hashes_with_bounded_memory(tmp_path: Path) -> None:
    # SAFETY case 25: a full decode would need 180 MB for the pixels alone.
    path = tmp_path / "huge.jpg"
    Image.linear_gradient("L").resize((9000, 6700)).convert("RGB").save(path, quality=80)
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    assert (result["problem"], result["w"], result["h"]) == (None, 9000, 6700)
    assert result["grew_kb"] < 60_000


def test_fingerprint_bytes_never_raises_on_garbage() -> None:
    for blob in (
        b"\xff\xd8\xff",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"GIF89a" + b"\xff" * 30,
        b"II*\x00\x08",
    ):
        fp = fingerprint_bytes(blob, "0" * 64, "x.jpg")
        assert fp.problem in (errors.CORRUPT, errors.TRUNCATED, errors.NOT_AN_IMAGE)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(2, 700),
    columns=st.integers(2, 700),
    seed=st.integers(0, 2**32 - 1),
    smooth=st.booleans(),
    target=st.sampled_from(
        [
            (32, 32, "lanczos"),
            (8, 8, "lanczos"),
            (9, 8, "lanczos"),
            (8, 9, "lanczos"),
            (16, 16, "box"),
            (256, 256, "box"),
        ]
    ),
)
def test_the_hashes_numpy_resize_is_pillows_to_the_bit(rows, columns, seed, smooth, target) -> None:
    """resample.resize, which the hashes use instead of Pillow's resize (a tenth of the
    cost), gives Pillow's pixels exactly, for any size, shrunk or stretched, noise or
    smooth content (where the rounding between the passes shows)."""
    rng = np.random.default_rng(seed)
    if smooth:
        pixels = (np.cumsum(rng.normal(0, 20, (rows, columns)), axis=1) % 256).astype(np.uint8)
    else:
        pixels = rng.integers(0, 256, (rows, columns), dtype=np.uint8)
    width, height, kind = target
    method = Image.Resampling.LANCZOS if kind == "lanczos" else Image.Resampling.BOX
    expected = np.asarray(Image.fromarray(pixels).resize((width, height), method))
    pillow_13 = int(PIL.__version__.split(".")[0]) >= 13
    assert np.array_equal(resample.resize(pixels, width, height, kind, vertical_first=pillow_13), expected)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(1, 260),
    columns=st.integers(1, 260),
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(
        st.sampled_from([(32, 32), (9, 8), (8, 9), (8, 8), (16, 16), (40, 12)]), min_size=1, max_size=5
    ),
)
def test_resizes_done_together_are_pillows_one_by_one(rows, columns, seed, sizes) -> None:
    """resample.resize_many (the scan's four hash resizes in one product per pass) gives, for
    each size, Pillow's Lanczos resize to the bit: for any picture, shrunk or stretched, a
    side kept as it is, sizes repeated, the passes in either order."""
    pixels = (np.cumsum(np.random.default_rng(seed).normal(0, 20, (rows, columns)), axis=1) % 256).astype(
        np.uint8
    )
    pillow_13 = int(PIL.__version__.split(".")[0]) >= 13
    made = resample.resize_many(pixels, sizes, "lanczos", vertical_first=pillow_13)
    assert len(made) == len(sizes)
    for (width, height), got in zip(sizes, made, strict=True):
        expected = np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.LANCZOS))
        assert np.array_equal(got, expected), (rows, columns, width, height)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 400),
    height=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_scans_hashes_in_one_go_are_the_hashes_one_by_one(width, height, seed) -> None:
    """all_hashes (what a scan computes, its resizes batched) gives the pHashes, stable
    bits, dHashes and aHash that the three functions give separately."""
    pixels = np.random.default_rng(seed).normal(128, 50, (height, width)).clip(0, 255).astype(np.uint8)
    gray = Image.fromarray(pixels)
    phashes, stable, dhashes, ahash = all_hashes(gray)
    assert (phashes, stable) == phashes_and_stability(gray)
    assert dhashes == dhashes_turned(gray)
    assert ahash == average_hash(gray)
