"""Different photographs are never merged (issue 10): pairs of different real photos whose
hashes collide at the default preset are refuted by the second look, while turned, mirrored,
cropped and edited real copies still group."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageOps

from dupfind.fingerprint import fingerprint_bytes
from dupfind.similarity import DEFAULT_RULE, _views, matches, within

from .conftest import FIXTURE, REPO, SHARED

SOURCES = SHARED / "corpus" / "sources"

# Crops (source photo, box, long side, JPEG quality) of different source photos whose pHash
# and dHash pass the default preset, upright or turned: found by bench/precision.py's search
# of a 20,000-picture library built by bench/make_library.py --files 20000 (seed 1).
GOLDEN_PAIRS = [
    (
        ("github/SelfExSR/Sun-Hays80/img_025_SRF_8_HR.png", (16, 0, 130, 57), 186, 93),
        ("github/imagenet-sample-images/n04579145_whiskey_jug.JPEG", (74, 122, 204, 318), 156, 95),
    ),
    (
        ("github/imagenet-sample-images/n03976467_Polaroid_camera.JPEG", (166, 25, 318, 177), 184, 88),
        ("github/imagenet-sample-images/n02037110_oystercatcher.JPEG", (181, 33, 305, 199), 128, 84),
    ),
    (
        ("github/imagenet-sample-images/n03832673_notebook.JPEG", (54, 96, 312, 225), 186, 86),
        ("github/SelfExSR/Urban100/img_004_SRF_2_HR.png", (188, 54, 244, 155), 161, 88),
    ),
    (
        ("github/imagenet-sample-images/n03916031_perfume.JPEG", (208, 8, 320, 208), 142, 86),
        ("pypi/scikit-image/retina.jpg", (211, 132, 294, 298), 148, 94),
    ),
    (
        ("pypi/scikit-learn/china.jpg", (141, 0, 271, 130), 182, 81),
        ("github/imagenet-sample-images/n04154565_screwdriver.JPEG", (50, 120, 252, 234), 188, 82),
    ),
    (
        ("github/SelfExSR/Urban100/img_016_SRF_2_HR.png", (14, 84, 207, 193), 180, 82),
        ("github/SelfExSR/Sun-Hays80/img_025_SRF_8_HR.png", (16, 0, 130, 57), 186, 93),
    ),
    (
        ("github/exif-samples/exif-org/olympus-c960.jpg", (158, 9, 254, 137), 158, 83),
        ("github/imagenet-sample-images/n04311004_steel_arch_bridge.JPEG", (46, 11, 212, 94), 162, 95),
    ),
    (
        ("github/imagenet-sample-images/n02894605_breakwater.JPEG", (33, 19, 141, 235), 134, 92),
        ("github/imagenet-sample-images/n02112350_keeshond.JPEG", (12, 15, 99, 189), 192, 86),
    ),
    (
        ("github/imagenet-sample-images/n09472597_volcano.JPEG", (18, 45, 288, 225), 171, 90),
        ("github/imagenet-sample-images/n03980874_poncho.JPEG", (196, 7, 304, 199), 190, 94),
    ),
    (
        ("github/imagenet-sample-images/n01644373_tree_frog.JPEG", (223, 55, 311, 188), 191, 95),
        ("github/imagenet-sample-images/n03980874_poncho.JPEG", (159, 21, 303, 237), 189, 91),
    ),
    (
        ("github/imagenet-sample-images/n02091134_whippet.JPEG", (39, 81, 121, 205), 158, 91),
        ("github/imagenet-sample-images/n03916031_perfume.JPEG", (213, 33, 303, 213), 189, 90),
    ),
    (
        ("github/imagenet-sample-images/n03047690_clog.JPEG", (114, 35, 228, 149), 173, 88),
        ("github/imagenet-sample-images/n04229816_ski_mask.JPEG", (39, 156, 162, 320), 169, 81),
    ),
    (
        ("github/imagenet-sample-images/n07747607_orange.JPEG", (5, 25, 122, 91), 181, 92),
        ("github/imagenet-sample-images/n04579145_whiskey_jug.JPEG", (13, 191, 194, 293), 146, 91),
    ),
    (
        ("github/imagenet-sample-images/n03527444_holster.JPEG", (13, 215, 211, 314), 183, 85),
        ("github/imagenet-sample-images/n02074367_dugong.JPEG", (29, 7, 317, 199), 182, 92),
    ),
    (
        ("github/imagenet-sample-images/n03633091_ladle.JPEG", (101, 10, 300, 143), 161, 90),
        ("github/SelfExSR/Urban100/img_057_SRF_2_HR.png", (0, 21, 51, 123), 139, 85),
    ),
    (
        ("github/imagenet-sample-images/n02441942_weasel.JPEG", (25, 7, 101, 159), 129, 94),
        ("github/imagenet-sample-images/n01616318_vulture.JPEG", (53, 176, 232, 277), 182, 93),
    ),
    (
        ("github/imagenet-sample-images/n02119789_kit_fox.JPEG", (5, 103, 237, 219), 141, 85),
        ("github/imagenet-sample-images/n04040759_radiator.JPEG", (3, 6, 213, 111), 179, 90),
    ),
    (
        ("github/imagenet-sample-images/n03832673_notebook.JPEG", (142, 21, 277, 202), 184, 83),
        ("github/imagenet-sample-images/n03916031_perfume.JPEG", (213, 33, 303, 213), 189, 90),
    ),
    (
        ("github/imagenet-sample-images/n03527444_holster.JPEG", (13, 215, 211, 314), 183, 85),
        ("github/imagenet-sample-images/n02074367_dugong.JPEG", (38, 3, 315, 211), 161, 89),
    ),
    (
        ("github/imagenet-sample-images/n04579145_whiskey_jug.JPEG", (21, 107, 140, 320), 190, 83),
        ("github/imagenet-sample-images/n04201297_shoji.JPEG", (19, 24, 250, 154), 145, 92),
    ),
]


def _library_maker():
    spec = importlib.util.spec_from_file_location("make_library", REPO / "bench" / "make_library.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _crop_fingerprint(maker, source: str, box: tuple[int, ...], long_side: int, quality: int):
    data = maker._jpeg(maker._fit(maker._source(source).crop(box), long_side), quality)
    return fingerprint_bytes(data, hashlib.sha256(data).hexdigest(), "crop.jpg"), data


def _needs_sources() -> None:
    if not SOURCES.is_dir():
        pytest.skip("../shared/corpus/sources is not here")


def test_different_photos_whose_hashes_collide_are_never_near_duplicates() -> None:
    _needs_sources()
    maker = _library_maker()
    colliding = 0
    for left, right in GOLDEN_PAIRS:
        a, _ = _crop_fingerprint(maker, *left)
        b, _ = _crop_fingerprint(maker, *right)
        if any(within(view, DEFAULT_RULE) for view in _views(a, b, True)):
            colliding += 1
        assert matches(a, b, DEFAULT_RULE) is None, (left, right)
        assert matches(b, a, DEFAULT_RULE) is None, (left, right)
    # The pairs must still fool the hashes, or this test would prove nothing.
    assert colliding >= len(GOLDEN_PAIRS) * 3 // 4


def test_compare_says_different_and_shows_the_evidence(tmp_path: Path, run) -> None:
    _needs_sources()
    maker = _library_maker()
    left, right = GOLDEN_PAIRS[1]
    for name, spec in (("a.jpg", left), ("b.jpg", right)):
        (tmp_path / name).write_bytes(_crop_fingerprint(maker, *spec)[1])
    result = run("compare", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"))
    assert result.exit_code == 0, result.output
    assert "second look: thumbnails" in result.stdout
    assert "verdict: different: the hashes pass, but the second look refutes them" in result.stdout
    doc = json.loads(run("compare", "--json", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")).stdout)
    assert doc["verdict"] == "different"
    assert doc["evidence"]["confirms"] is False and doc["evidence"]["refuted"]


def _copies(im: Image.Image) -> dict[str, bytes]:
    """Real ways a photo is copied, each as JPEG bytes."""

    def jpeg(picture: Image.Image, **params: object) -> bytes:
        buf = io.BytesIO()
        picture.save(buf, "JPEG", quality=88, **params)
        return buf.getvalue()

    w, h = im.size
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90° right to view": the pixels are stored turned left
    return {
        "mirrored": jpeg(ImageOps.mirror(im)),
        "turned": jpeg(im.transpose(Image.Transpose.ROTATE_90)),
        "exif-rotated": jpeg(im.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()),
        "cropped": jpeg(im.crop((w * 3 // 100, h * 3 // 100, w - w * 3 // 100, h - h * 3 // 100))),
        "brighter": jpeg(ImageEnhance.Brightness(im).enhance(1.15)),
        "smaller": jpeg(im.resize((w // 2, h // 2), Image.Resampling.LANCZOS)),
    }


def test_turned_mirrored_cropped_and_edited_real_copies_still_match() -> None:
    if not FIXTURE.is_dir():
        pytest.skip("../shared/corpus/fixture is not here")
    photos = sorted(p for p in (FIXTURE / "library").rglob("*.jpg") if p.stat().st_size > 20_000)[:6]
    assert photos
    for path in photos:
        with Image.open(path) as opened:
            im = ImageOps.exif_transpose(opened).convert("RGB")
        original = fingerprint_bytes(path.read_bytes(), "o" * 64, str(path))
        assert original.decoded
        for how, data in _copies(im).items():
            copy = fingerprint_bytes(data, hashlib.sha256(data).hexdigest(), f"{how}.jpg")
            assert matches(original, copy, DEFAULT_RULE) is not None, (path.name, how)
