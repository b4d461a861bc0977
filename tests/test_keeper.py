"""Keep the original (issue 11): among a real camera photo and every kind of copy made from
it, the default keeper is the photo itself, whatever copies sit beside it; groups without an
original still get a stable, explained keeper."""

from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from dupfind import DEFAULT_RULES, PlanOptions, parse_rules, plan_all
from dupfind.fingerprint import fingerprint_bytes
from dupfind.models import ImageFile, ScannedFile
from dupfind.provenance import resaved_from

from .conftest import SHARED

CAMERA_PHOTOS = ["github/exif-samples/gps/DSCN0010.jpg", "github/exif-samples/exif-org/canon-ixus.jpg"]


def _jpeg(im: Image.Image, quality: int, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, **params)
    return buf.getvalue()


def _saved(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def derived_copies(original: bytes) -> dict[str, bytes]:
    """What people and programs make of a photo: re-saves, conversions, edits, turns."""
    with Image.open(io.BytesIO(original)) as opened:
        im = ImageOps.exif_transpose(opened).convert("RGB")
    w, h = im.size
    marked = im.copy()
    ImageDraw.Draw(marked).text((w - 70, h - 16), "(c) 2024", fill=(255, 255, 255))
    rng = np.random.default_rng(5)
    noisy = Image.fromarray(
        np.clip(np.asarray(im, np.int16) + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    )
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned right: the pixels are stored turned left
    return {
        "resaved-85.jpg": _jpeg(im, 85),
        "resaved-70.jpg": _jpeg(im, 70),
        "export.png": _saved(im, "PNG"),
        "export.webp": _saved(im, "WEBP", quality=80),
        "grey.jpg": _jpeg(im.convert("L"), 90),
        "watermarked.jpg": _jpeg(marked, 92),
        "noisy.jpg": _jpeg(noisy, 92),
        "blurred.jpg": _jpeg(im.filter(ImageFilter.GaussianBlur(1.5)), 92),
        "mirrored.jpg": _jpeg(ImageOps.mirror(im), 92),
        "turned.jpg": _jpeg(im.transpose(Image.Transpose.ROTATE_90), 92),
        "exif-rotated.jpg": _jpeg(im.transpose(Image.Transpose.ROTATE_90), 92, exif=exif.tobytes()),
        "downscaled.jpg": _jpeg(im.resize((w // 2, h // 2), Image.Resampling.LANCZOS), 90),
        "cropped.jpg": _jpeg(im.crop((w // 40, h // 40, w - w // 40, h - h // 40)), 92),
        "brighter.jpg": _jpeg(ImageEnhance.Brightness(im).enhance(1.15), 92),
    }


def _needs(path: str) -> bytes:
    source = SHARED / "corpus" / "sources" / path
    if not source.is_file():
        pytest.skip(f"../shared/corpus/sources/{path} is not here")
    return source.read_bytes()


def _scanned(named: dict[str, bytes]) -> list[ScannedFile]:
    out = []
    for i, (name, data) in enumerate(sorted(named.items())):
        digest = hashlib.sha256(data).hexdigest()
        file = ImageFile(f"/lib/{name}", 1, 1000 + i, len(data), 10**18, 10**18)
        out.append(ScannedFile(file, fingerprint_bytes(data, digest, name), False))
    return out


def _keeper_of(named: dict[str, bytes], member: str) -> tuple[str, str]:
    """The keeper of the group holding ``member``, and why."""
    for group, plan in plan_all(_scanned(named), parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False):
        if f"/lib/{member}" in [m.path for m in group.members]:
            return plan.keeper.path.removeprefix("/lib/"), plan.why
    raise AssertionError(f"{member} is in no group")


@pytest.mark.parametrize("camera_photo", CAMERA_PHOTOS)
def test_the_camera_original_is_kept_among_all_its_copies(camera_photo: str) -> None:
    original = _needs(camera_photo)
    named = {"DSC_0001.jpg": original, **derived_copies(original)}
    keeper, why = _keeper_of(named, "DSC_0001.jpg")
    assert keeper == "DSC_0001.jpg", why
    assert why.startswith("original:")


def test_each_copy_to_go_says_what_marks_it_as_a_copy() -> None:
    original = _needs(CAMERA_PHOTOS[0])
    named = {"DSC_0001.jpg": original, **derived_copies(original)}
    reasons = {}
    for _, plan in plan_all(_scanned(named), parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False):
        if plan.keeper.path == "/lib/DSC_0001.jpg":
            reasons = {a.candidate.path.removeprefix("/lib/"): a.reason for a in plan.actions}
    assert reasons["DSC_0001.jpg"].startswith("original:")
    assert reasons["grey.jpg"].endswith("; a copy: grey")
    assert reasons["downscaled.jpg"].endswith("; a copy: smaller")
    assert reasons["export.png"].endswith("; a copy: converted from JPEG")
    assert reasons["mirrored.jpg"].endswith("; a copy: turned or mirrored")
    assert reasons["turned.jpg"].endswith("; a copy: turned or mirrored")
    # A re-save that changed nothing measurable is not called anything it is not.
    assert "a copy:" not in reasons["resaved-85.jpg"]


def test_dedupe_keeps_the_original_end_to_end(tmp_path: Path, run) -> None:
    original = _needs(CAMERA_PHOTOS[0])
    lib = tmp_path / "lib"
    (lib / "Camera").mkdir(parents=True)
    (lib / "Camera" / "DSCN0010.JPG").write_bytes(original)
    for name, data in derived_copies(original).items():
        folder = lib / ("Exports" if name.startswith(("export", "resaved")) else "Edited")
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
    result = run("dedupe", "--dry-run", "--json", str(lib))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    keepers = [m for g in doc["groups"] for m in g["members"] if m["action"] == "keep"]
    holding = [g for g in doc["groups"] if any(m["path"].endswith("DSCN0010.JPG") for m in g["members"])]
    assert holding and [m["path"] for m in holding[0]["members"] if m["action"] == "keep"] == [
        str(lib / "Camera" / "DSCN0010.JPG")
    ]
    assert keepers


@pytest.fixture(scope="module")
def family() -> dict[str, bytes]:
    original = _needs(CAMERA_PHOTOS[0])
    return {"DSC_0001.jpg": original, **derived_copies(original)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_adding_derived_copies_never_moves_the_keeper_off_the_original(family, data) -> None:
    copies = sorted(k for k in family if k != "DSC_0001.jpg")
    chosen = data.draw(st.lists(st.sampled_from(copies), min_size=1, max_size=len(copies), unique=True))
    named = {"DSC_0001.jpg": family["DSC_0001.jpg"], **{k: family[k] for k in chosen}}
    keeper, why = _keeper_of(named, "DSC_0001.jpg")
    assert keeper == "DSC_0001.jpg", (chosen, why)


def test_a_group_without_its_original_gets_a_stable_explained_keeper(family) -> None:
    exports = {k: family[k] for k in ("export.png", "export.webp", "resaved-85.jpg")}
    first = _keeper_of(exports, "export.png")
    for seed in range(3):
        shuffled = dict(random.Random(seed).sample(sorted(exports.items()), len(exports)))
        assert _keeper_of(shuffled, "export.png") == first
    keeper, why = first
    assert keeper == "resaved-85.jpg"  # the PNG and the WebP were made from a JPEG
    assert why.startswith("original:") and "converted from JPEG" in why


def test_an_explicit_keep_rule_still_overrides_the_default(family) -> None:
    named = {"DSC_0001.jpg": family["DSC_0001.jpg"], "export.png": family["export.png"]}
    planned = plan_all(_scanned(named), parse_rules("lossless"), PlanOptions(), lambda p: False)
    assert [plan.keeper.path for _, plan in planned] == ["/lib/export.png"]


# -- SAFETY case 42: a bit-damaged copy, larger than the intact original ---------------------
def _damaged(original: bytes, seed: int) -> bytes:
    """Bits flipped and a few random bytes inserted in the JPEG's scan data: larger, and
    often still decodable."""
    rng = random.Random(seed)
    data = bytearray(original)
    start = original.find(b"\xff\xda") + 20
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(start, len(data) - 10)] ^= 1 << rng.randrange(8)
    at = rng.randrange(start, len(data) - 10)
    data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(8, 64)))
    return bytes(data)


def test_a_damaged_copy_the_decoder_reports_is_never_kept() -> None:
    from .conftest import photo

    original = _jpeg(photo(42, (640, 480)), 90)
    reported = kept_right = 0
    for seed in range(60):
        copy = _damaged(original, seed)
        named = {"IMG_0042.jpg": original, "Backup/IMG_0042.jpg": copy}
        scanned = {s.file.path: s.fingerprint for s in _scanned(named)}
        fp = scanned["/lib/Backup/IMG_0042.jpg"]
        if not fp.decoded or fp.provenance is None or not fp.provenance.damaged:
            continue
        reported += 1
        groups = plan_all(_scanned(named), parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False)
        if not groups:
            continue  # too damaged to be a near duplicate at all: nothing to choose
        keeper, why = groups[0][1].keeper.path, groups[0][1].why
        assert keeper == "/lib/IMG_0042.jpg", (seed, why)
        assert "damaged" in why
        kept_right += 1
    # Most damaged copies are reported by the decoder, and some still group with the original.
    assert reported >= 30 and kept_right >= 5, (reported, kept_right)
    # The intact photo is never reported.
    assert not _scanned({"a.jpg": original})[0].fingerprint.provenance.damaged  # type: ignore[union-attr]


def test_a_copy_that_lost_the_date_is_not_kept_over_the_dated_original() -> None:
    # The stripped copy is re-saved at a higher quality (larger): without the date it wins.
    from .conftest import photo

    picture = photo(7, (640, 480))
    exif = Image.Exif()
    exif[0x0132] = "2019:07:14 10:21:33"  # DateTime, as cameras and phones write it
    named = {
        "DCIM/IMG_0007.jpg": _jpeg(picture, 90, exif=exif.tobytes()),
        "Downloads/IMG_0007-1.jpg": _jpeg(picture, 94),
    }
    keeper, why = _keeper_of(named, "DCIM/IMG_0007.jpg")
    assert keeper == "DCIM/IMG_0007.jpg", why
    assert "camera metadata" in why


def _keeper_among(paths: dict[str, tuple[bytes, int]]) -> tuple[str, str]:
    """The keeper of the one group of these files (path -> bytes, mtime in ns), and why."""
    scanned = []
    for i, (path, (data, mtime_ns)) in enumerate(sorted(paths.items())):
        file = ImageFile(f"/lib/{path}", 1, 1000 + i, len(data), mtime_ns, mtime_ns)
        scanned.append(
            ScannedFile(file, fingerprint_bytes(data, hashlib.sha256(data).hexdigest(), path), False)
        )
    [(_, plan)] = plan_all(scanned, parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False)
    return plan.keeper.path.removeprefix("/lib/"), plan.why


def test_of_byte_copies_the_one_put_away_is_kept_not_the_backup_or_the_desktop() -> None:
    original = _needs(CAMERA_PHOTOS[0])
    copies = derived_copies(original)
    t = 1_700_000_000 * 10**9
    # The library's copy was written last and has the longest path, and its folders sort
    # after the others': only where it sits says it is the one that was put away. The photo
    # was taken in 2008 (EXIF DateTimeOriginal); the date in its name does not count over it.
    named = {
        "Backups/USB-Stick 2018/Bilder/IMG_20111224_182517.jpg": (original, t),
        "Desktop/zu sortieren/IMG_20111224_182517.jpg": (original, t + 10**6),
        "Pictures/2011/IMG_20111224_182517.jpg": (original, t + 10**6),
        "Pictures/2008/Road trip USA/IMG_20111224_182517.jpg": (original, t + 2 * 10**6),
        "Edited/IMG_20111224_182517.png": (copies["export.png"], t),
        "Facebook/1533_n.jpg": (copies["resaved-70.jpg"], t),
    }
    keeper, why = _keeper_among(named)
    assert keeper == "Pictures/2008/Road trip USA/IMG_20111224_182517.jpg", why
    assert why.startswith("original:")
    assert why.endswith("this file over 3 byte copies: in a folder named for the year it was taken (2008)")

    # No folder names the year: the copy outside the backup and the desktop stays.
    undated = {
        "Desktop/IMG_2587.JPG": (original, t),
        "Pictures/Camera Roll/IMG_2587.JPG": (original, t),
        "Backups/Camera Roll/IMG_2587.JPG": (original, t),
        "Facebook/1533_n.jpg": (copies["resaved-70.jpg"], t),
    }
    keeper, why = _keeper_among(undated)
    assert keeper == "Pictures/Camera Roll/IMG_2587.JPG", why
    assert why.endswith("the other is in a folder of files in passing (Desktop)")


def test_of_byte_copies_the_older_by_a_second_is_kept_and_a_millisecond_is_no_evidence() -> None:
    data = _jpeg(Image.new("RGB", (64, 48), (200, 40, 40)), 90)
    t = 1_700_000_000 * 10**9
    # Written 2 ms apart by one copy command: not older in any sense a user knows.
    keeper, why = _keeper_among({"b/x.jpg": (data, t + 2 * 10**6), "aa/x.jpg": (data, t)})
    assert keeper == "b/x.jpg", why
    assert why == "shortest path"
    keeper, why = _keeper_among({"b/x.jpg": (data, t + 3 * 10**9), "aa/x.jpg": (data, t)})
    assert keeper == "aa/x.jpg", why
    assert why == "oldest modification time"


def _captioned(im: Image.Image, text: str, corner: str) -> Image.Image:
    """A caption as blogs and shops stamp it: small, half-transparent white on a shadow."""
    w, h = im.size
    font = ImageFont.load_default(size=12)
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    tw, th = draw.textbbox((0, 0), text, font=font)[2:]
    x = 10 if corner == "bl" else w - tw - 10
    y = 10 if corner == "tr" else h - th - 10
    draw.text((x + 1, y + 1), text, font=font, fill=(0, 0, 0, 90))
    draw.text((x, y), text, font=font, fill=(255, 255, 255, 180))
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


@pytest.mark.parametrize("corner", ["br", "bl", "tr"])
@pytest.mark.parametrize(
    "photo",
    [
        "github/exif-samples/exif-org/nikon-e950.jpg",
        "github/exif-samples/exif-org/olympus-c960.jpg",
        "github/exif-samples/exif-org/sanyo-vpcsx550.jpg",
    ],
)
def test_a_small_caption_in_a_corner_marks_the_copy_even_saved_at_a_higher_quality(
    photo: str, corner: str
) -> None:
    """A 320 px photo and its copies, one with a 12 px caption in a corner saved at a higher
    JPEG quality than the original: only the few cells of the caption tell it (the 4x4 grid
    at 128 px kept the captioned copy in 6 of these 9)."""
    with Image.open(io.BytesIO(_needs(photo))) as opened:
        im = ImageOps.exif_transpose(opened).convert("RGB")
    im.thumbnail((320, 320), Image.Resampling.LANCZOS)
    named = {
        "PXL_20240715.jpg": _jpeg(im, 88),
        "listing_1.jpg": _jpeg(_captioned(im, "@wanderlust.pics", corner), 95),
        "resaved.jpg": _jpeg(im, 75),
        "export.png": _saved(im, "PNG"),
        "grey.jpg": _jpeg(im.convert("L"), 88),
    }
    keeper, why = _keeper_of(named, "PXL_20240715.jpg")
    assert keeper == "PXL_20240715.jpg", why


def _plain_photo(photo: str, side: int = 320) -> Image.Image:
    """A photo of ../shared as a web page or an old phone holds it: small, no camera EXIF."""
    with Image.open(io.BytesIO(_needs(photo))) as opened:
        im = ImageOps.exif_transpose(opened).convert("RGB")
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return im


@pytest.mark.parametrize("photo", ["github/exif-samples/exif-org/nikon-e950.jpg", CAMERA_PHOTOS[0]])
def test_when_as_many_copies_are_turned_as_are_upright_the_tag_turned_side_is_the_turned_one(
    photo: str,
) -> None:
    """Original and a brighter copy upright, a turned copy and one turned by its EXIF tag,
    and a mirror: two ways round tie, and the copy turned by a tag tells which way the copies
    went. The sharpness grid of each is seen the same way round before the group's middle is
    taken (a turned grid made the original look watermarked)."""
    im = _plain_photo(photo)
    exif = Image.Exif()
    exif[0x0112] = 6
    named = {
        "IMG_0001.jpg": _jpeg(im, 92),
        "IMG_0001_edit.jpg": _jpeg(ImageEnhance.Contrast(im).enhance(1.3), 90),
        "IMG_0001_rotated.jpg": _jpeg(im.transpose(Image.Transpose.ROTATE_270), 85),
        # the original's pixels, shown turned right by the tag, as the turned copy is
        "IMG_0001_tag.jpg": _jpeg(im, 92, exif=exif.tobytes()),
        "IMG_0001_mirror.jpg": _jpeg(ImageOps.mirror(im), 86),
    }
    keeper, why = _keeper_of(named, "IMG_0001.jpg")
    assert keeper == "IMG_0001.jpg", why
    reasons = {}
    for _, plan in plan_all(_scanned(named), parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False):
        reasons.update({a.candidate.path.removeprefix("/lib/"): a.reason for a in plan.actions})
    assert "turned or mirrored" not in reasons["IMG_0001_edit.jpg"]
    for turned in ("IMG_0001_rotated.jpg", "IMG_0001_tag.jpg", "IMG_0001_mirror.jpg"):
        assert "turned or mirrored" in reasons[turned], reasons[turned]


@pytest.mark.parametrize("photo", ["github/exif-samples/exif-org/olympus-c960.jpg", CAMERA_PHOTOS[1]])
def test_edited_copies_saved_at_a_higher_quality_do_not_make_the_original_a_lower_quality_resave(
    photo: str,
) -> None:
    """An original saved at quality 72 and edits of it each saved at 92-95: the edits say
    nothing of the quality their source had, so the original is not "re-saved at a lower
    quality"; a plain re-save at 60 still is."""
    im = _plain_photo(photo)
    rng = np.random.default_rng(3)
    w, h = im.size
    noisy = Image.fromarray(
        np.clip(np.asarray(im, np.int16) + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)
    )
    named = {
        "IMG_2000.jpg": _jpeg(im, 72),
        "IMG_2000_grain.jpg": _jpeg(noisy, 94),
        "IMG_2000_contrast.jpg": _jpeg(ImageEnhance.Contrast(im).enhance(1.4), 95),
        "IMG_2000_blur.jpg": _jpeg(im.filter(ImageFilter.GaussianBlur(1.5)), 93),
        "IMG_2000.png": _saved(im, "PNG"),
        "IMG_2000_small.jpg": _jpeg(im.resize((w // 2, h // 2), Image.Resampling.LANCZOS), 95),
        "IMG_2000_whatsapp.jpg": _jpeg(im, 60),
    }
    keeper, why = _keeper_of(named, "IMG_2000.jpg")
    assert keeper == "IMG_2000.jpg", why
    reasons = {}
    for _, plan in plan_all(_scanned(named), parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False):
        reasons.update({a.candidate.path.removeprefix("/lib/"): a.reason for a in plan.actions})
    assert "re-saved at a lower JPEG quality" in reasons["IMG_2000_whatsapp.jpg"]


EDIT_WORDS = ("brightness or contrast changed", "blurred", "noisier", "a watermark or caption")


@pytest.mark.parametrize("camera_photo", CAMERA_PHOTOS)
def test_visible_edits_are_named_on_the_copies_and_never_on_plain_resaves(camera_photo: str) -> None:
    original = _needs(camera_photo)
    named = {"DSC_0001.jpg": original, **derived_copies(original)}
    reasons = {}
    for _, plan in plan_all(_scanned(named), parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False):
        reasons.update({a.candidate.path.removeprefix("/lib/"): a.reason for a in plan.actions[1:]})
    plain_copies = (
        "resaved-85.jpg",
        "resaved-70.jpg",
        "export.png",
        "export.webp",
        "mirrored.jpg",
        "turned.jpg",
    )
    for plain in plain_copies:
        assert not any(w in reasons[plain] for w in EDIT_WORDS), reasons[plain]
    assert reasons["brighter.jpg"].endswith("; a copy: brightness or contrast changed")
    assert reasons["blurred.jpg"].endswith("; a copy: blurred")
    if camera_photo.endswith("canon-ixus.jpg"):
        # On DSCN0010's busy scene the grain and the 10 px caption stay under the marks (its
        # keeper is still the original): no words there rather than wrong ones.
        assert reasons["noisy.jpg"].endswith("; a copy: noisier")
        assert reasons["watermarked.jpg"].endswith("; a copy: a watermark or caption")


def _lattice_of(data: bytes) -> bytes | None:
    fp = fingerprint_bytes(data, hashlib.sha256(data).hexdigest(), "x.jpg")
    assert fp.provenance is not None
    return fp.provenance.lattice


@pytest.mark.parametrize("photo", ["github/exif-samples/exif-org/olympus-c960.jpg", CAMERA_PHOTOS[0]])
def test_a_jpeg_resaved_at_a_higher_quality_shows_the_steps_of_the_jpeg_it_came_from(photo: str) -> None:
    """A picture saved at quality 65, decoded and saved again at 90 (plain, captioned or
    grey): its coefficients sit on the first file's steps. Never the other way round, and
    never on an unrelated photo's steps or on a fresh save of the pixels the source came from."""
    im = _plain_photo(photo)
    source = _jpeg(im, 65)
    decoded = Image.open(io.BytesIO(source)).convert("RGB")
    copies = {
        "resaved": _jpeg(decoded, 90),
        "captioned": _jpeg(_captioned(decoded, "(c) J. Smith", "br"), 92),
        "grey": _jpeg(decoded.convert("L"), 92),
    }
    lattice = _lattice_of(source)
    for name, data in copies.items():
        assert resaved_from(_lattice_of(data), lattice), name
        assert not resaved_from(lattice, _lattice_of(data)), name
    fresh = _lattice_of(_jpeg(im, 90))  # the same scene never decoded from the quality-65 file
    assert not resaved_from(fresh, lattice)
    other = _plain_photo("github/exif-samples/exif-org/nikon-e950.jpg").resize(im.size)
    assert not resaved_from(_lattice_of(_jpeg(other, 90)), _lattice_of(_jpeg(other.rotate(180), 65)))


@pytest.mark.parametrize("photo", ["github/exif-samples/exif-org/olympus-c960.jpg", CAMERA_PHOTOS[1]])
def test_an_original_saved_at_a_low_quality_is_kept_over_its_same_size_resaves_at_a_higher_one(
    photo: str,
) -> None:
    """The dev corpus's hardest keepers: an original saved at quality 62 with no camera
    metadata, and copies of the same size re-saved from it at 88-93 (a thumbnailer's, a
    caption, a grey one) beside edits. Nothing visible tells the re-saves from the original
    (they even look cleaner); the steps of the original's JPEG in them do."""
    im = _plain_photo(photo)
    original = _jpeg(im, 62)
    decoded = Image.open(io.BytesIO(original)).convert("RGB")
    w, h = decoded.size
    named = {
        "IMG_3000.jpg": original,
        "IMG_3000_thumb.jpg": _jpeg(decoded, 90),
        "IMG_3000_c.jpg": _jpeg(_captioned(decoded, "Photo: J. Smith", "bl"), 92),
        "IMG_3000_bw.jpg": _jpeg(decoded.convert("L"), 88),
        "IMG_3000_blur.jpg": _jpeg(decoded.filter(ImageFilter.GaussianBlur(1.2)), 93),
        "IMG_3000_edit.jpg": _jpeg(ImageEnhance.Brightness(decoded).enhance(0.85), 93),
        "IMG_3000_small.jpg": _jpeg(decoded.resize((w // 2, h // 2), Image.Resampling.LANCZOS), 93),
    }
    keeper, why = _keeper_of(named, "IMG_3000.jpg")
    assert keeper == "IMG_3000.jpg", why
    reasons = {}
    for _, plan in plan_all(_scanned(named), parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False):
        reasons.update({a.candidate.path.removeprefix("/lib/"): a.reason for a in plan.actions})
    for resave in ("IMG_3000_thumb.jpg", "IMG_3000_c.jpg", "IMG_3000_bw.jpg"):
        assert "re-saved from a JPEG in this group" in reasons[resave], reasons[resave]
    assert "re-saved" not in reasons["IMG_3000_small.jpg"]  # another size: another grid
