"""Orientation, the similarity rule and low-information pictures (SAFETY.md cases 22, 23)."""

from __future__ import annotations

import json
from pathlib import Path

import imagehash
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from dupfind.fingerprint import TURNS, dhashes_turned, fingerprint_path, hash_to_int, phashes_and_stability
from dupfind.models import Fingerprint, Match, pack_turned
from dupfind.similarity import PRESETS, TURN_NAMES, comparable, matches, similarity

from .conftest import SYMMETRIC_THUMB, photo, save, write_photo

HASH = st.integers(0, 2**64 - 1)
_SWAPS = {
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_270,
}


def dry_run_groups(run, *args: str) -> list[tuple[str, list[str]]]:
    result = run("dedupe", "--dry-run", "--json", "-q", *args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    return sorted((g["kind"], sorted(Path(m["path"]).name for m in g["members"])) for g in doc["groups"])


# -- the hashes of the seven turns ----------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.integers(40, 400), height=st.integers(40, 400))
def test_turned_hashes_match_hashing_the_turned_picture(seed: int, width: int, height: int) -> None:
    gray = photo(seed, (width, height), "L")
    phashes, _ = phashes_and_stability(gray)
    dhashes = dhashes_turned(gray)
    assert phashes[0] == hash_to_int(imagehash.phash(gray))
    assert dhashes[0] == hash_to_int(imagehash.dhash(gray))
    for turn, p, d in zip(TURNS, phashes[1:], dhashes[1:], strict=True):
        turned = gray.transpose(turn)
        p_ref, d_ref = hash_to_int(imagehash.phash(turned)), hash_to_int(imagehash.dhash(turned))
        if turn in _SWAPS:
            # The resize runs the other way round: Pillow's rounding moves a few bits at most.
            assert (p ^ p_ref).bit_count() <= 6 and (d ^ d_ref).bit_count() <= 8, TURN_NAMES[
                TURNS.index(turn) + 1
            ]
        else:
            assert (p, d) == (p_ref, d_ref), TURN_NAMES[TURNS.index(turn) + 1]


def test_turn_names_follow_the_turns() -> None:
    assert len(TURN_NAMES) == len(TURNS) + 1
    assert TURN_NAMES[1] == "mirrored" and TURNS[0] == Image.Transpose.FLIP_LEFT_RIGHT
    assert TURN_NAMES[6] == "turned 90° left" and TURNS[5] == Image.Transpose.ROTATE_90


@pytest.mark.parametrize(
    "turn",
    [
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_180,
        Image.Transpose.ROTATE_270,
        Image.Transpose.FLIP_LEFT_RIGHT,
    ],
)
def test_turned_and_mirrored_copies_group_unless_no_rotations(run, tmp_path: Path, turn) -> None:
    lib = tmp_path / "lib"
    original = photo(11, (400, 300))
    save(original, lib / "a.jpg", quality=92)
    save(original.transpose(turn), lib / "b.jpg", quality=80)
    write_photo(lib / "other.jpg", 12, (400, 300))
    assert dry_run_groups(run, str(lib)) == [("near", ["a.jpg", "b.jpg"])]
    assert dry_run_groups(run, "--no-rotations", str(lib)) == []


def test_safety_23_exif_orientation_6_and_pixel_rotation_are_near_duplicates(run, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    upright = photo(21, (400, 300))
    # Camera style: pixels stored sideways, Orientation 6 turns them upright for display.
    exif = Image.Exif()
    exif[0x0112] = 6
    save(upright.transpose(Image.Transpose.ROTATE_90), lib / "camera.jpg", quality=92, exif=exif.tobytes())
    save(upright, lib / "rotated-in-pixels.jpg", quality=85)
    # The corpus's exif_orientation transform: the same pixels as the upright file, with
    # Orientation 8, so a viewer shows it turned; found through the turned hashes.
    exif[0x0112] = 8
    save(upright, lib / "tagged.jpg", quality=92, exif=exif.tobytes())
    assert dry_run_groups(run, str(lib)) == [("near", ["camera.jpg", "rotated-in-pixels.jpg", "tagged.jpg"])]
    assert dry_run_groups(run, "--no-rotations", str(lib)) == [
        ("near", ["camera.jpg", "rotated-in-pixels.jpg"])
    ]


def test_compare_says_how_a_copy_was_turned(run, tmp_path: Path) -> None:
    a = write_photo(tmp_path / "a.png", 5, (300, 200))
    with Image.open(a) as im:
        b = save(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), tmp_path / "b.png")
    doc = json.loads(run("compare", "--json", str(a), str(b)).stdout)
    assert doc["verdict"] == "near-duplicate" and doc["closest"]["turn"] == "mirrored"
    assert "mirrored" in run("compare", str(a), str(b)).stdout
    assert (
        json.loads(run("compare", "--json", "--no-rotations", str(a), str(b)).stdout)["verdict"]
        == "different"
    )


# -- the rule -----------------------------------------------------------------------------
def test_presets_scale_the_rule() -> None:
    assert list(PRESETS) == ["strict", "normal", "loose"]
    rules = [similarity(t) for t in PRESETS.values()]
    assert rules == sorted(rules, key=lambda r: r.phash)
    assert all(r.turned <= r.phash and r.combined >= r.phash for r in rules)
    assert similarity(14, rotations=False).turned == 0 and not similarity(0).near


def flips(n: int):
    """A 64-bit mask with up to ``n`` bits set."""
    return st.lists(st.integers(0, 63), max_size=n).map(lambda bits: sum({1 << b for b in bits}))


def _square(sha: str, dhash: int, phash: int, phash_turned: tuple, dhash_turned: tuple) -> Fingerprint:
    """A 100 px square PNG with these hashes, detailed enough to compare, whose thumbnail
    confirms every view (so the test holds the hash part of the rule alone)."""
    return Fingerprint(
        sha,
        0,
        dhash,
        phash,
        100,
        100,
        "PNG",
        1,
        None,
        None,
        None,
        pack_turned(phash_turned, dhash_turned),
        40,
        SYMMETRIC_THUMB,
    )


@settings(max_examples=300, deadline=None)
@given(
    a=HASH,
    da=HASH,
    near=flips(20),
    dnear=flips(20),
    turned_at=st.integers(0, 7),
    seed=st.integers(0, 2**32),
    threshold=st.integers(0, 20),
)
def test_the_rule_is_symmetric_and_bounded(
    a: int, da: int, near: int, dnear: int, turned_at: int, seed: int, threshold: int
) -> None:
    rng = np.random.default_rng(seed)

    def randoms() -> list[int]:
        return [int(x) for x in rng.integers(0, 2**63, 7)]

    b_turned, db_turned = randoms(), randoms()
    b, db = a ^ near, da ^ dnear  # near upright ...
    if turned_at:  # ... or near once turned, and far upright
        b_turned[turned_at - 1], db_turned[turned_at - 1] = b, db
        b, db = b ^ (2**64 - 1), db ^ (2**64 - 1)
    fa = _square(("a" * 64), da, a, tuple(randoms()), tuple(randoms()))
    fb = _square(("b" * 64), db, b, tuple(b_turned), tuple(db_turned))
    rule = similarity(threshold)
    m = matches(fa, fb, rule)
    assert (m is None) == (matches(fb, fa, rule) is None)
    if m is not None:
        assert isinstance(m, Match) and m.phash + m.dhash <= rule.combined
        assert m.phash <= (rule.phash if m.turn == 0 else rule.turned)
    p, d = near.bit_count(), dnear.bit_count()
    if not turned_at:
        assert (m is not None) == (rule.near and p <= threshold and p + d <= rule.combined) or (
            m is not None and m.turn
        )
    elif rule.near and p <= rule.turned and p + d <= rule.combined:
        assert m is not None and m.turn != 0
    assert matches(fa, fb, similarity(threshold, rotations=False)) is None or (a ^ b).bit_count() <= threshold


# -- SAFETY case 22: pictures with too little in them ---------------------------------------
def low_information_pictures() -> dict[str, Image.Image]:
    w, h = 400, 300
    pictures: dict[str, Image.Image] = {}
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30), (240, 240, 240), (10, 10, 10)]):
        pictures[f"solid{i}.png"] = Image.new("RGB", (w, h), colour)
    for i, (left, right) in enumerate(
        [((0, 0, 0), (255, 255, 255)), ((200, 0, 0), (0, 0, 200)), ((90,) * 3, (110,) * 3)]
    ):
        split = Image.new("RGB", (w, h), left)
        ImageDraw.Draw(split).rectangle([w // 2, 0, w, h], fill=right)
        pictures[f"split-v{i}.png"] = split
        split = Image.new("RGB", (w, h), left)
        ImageDraw.Draw(split).rectangle([0, h // 3, w, h], fill=right)
        pictures[f"split-h{i}.png"] = split
    ramp = np.linspace(0, 255, w)
    pictures["gradient-h.png"] = Image.fromarray(np.tile(ramp, (h, 1)).astype(np.uint8))
    pictures["gradient-h2.png"] = Image.fromarray(np.tile(ramp * 0.5 + 60, (h, 1)).astype(np.uint8))
    diagonal = np.add.outer(np.arange(h), np.arange(w)) / (h + w)
    pictures["gradient-d.png"] = Image.fromarray((diagonal * 255).astype(np.uint8))
    rng = np.random.default_rng(3)
    for i in range(3):  # blank scanned pages: paper white, sensor noise, a little shading
        page = 235 + rng.normal(0, 2 + i, (h, w)) + np.linspace(-4, 4, w)[None, :]
        pictures[f"blank-scan{i}.jpg"] = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    for i, fill in enumerate([40, 90, 160]):  # icons: a disc on white, 16 to 48 px
        icon = Image.new("L", (16 * (i + 1),) * 2, 255)
        ImageDraw.Draw(icon).ellipse([2, 2, 16 * (i + 1) - 3, 16 * (i + 1) - 3], fill=fill)
        pictures[f"icon{i}.png"] = icon
    return pictures


def test_safety_22_low_information_pictures_never_form_near_groups(run, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for name, picture in low_information_pictures().items():
        save(picture, lib / name)
    (lib / "solid0-copy.png").write_bytes((lib / "solid0.png").read_bytes())
    for preset in PRESETS:
        assert dry_run_groups(run, "--similarity", preset, str(lib)) == [
            ("exact", ["solid0-copy.png", "solid0.png"])
        ]
    assert dry_run_groups(run, "--threshold", "32", str(lib)) == [
        ("exact", ["solid0-copy.png", "solid0.png"])
    ]


def test_low_information_pictures_are_exact_only_and_photos_are_not(tmp_path: Path) -> None:
    for name, picture in low_information_pictures().items():
        _, fp = fingerprint_path(str(save(picture, tmp_path / name)))
        assert comparable(fp) is not None, name
    for seed in range(20):
        _, fp = fingerprint_path(str(write_photo(tmp_path / f"p{seed}.jpg", seed)))
        assert comparable(fp) is None, seed


def test_compare_says_why_a_blank_picture_is_exact_only(run, tmp_path: Path) -> None:
    a = save(Image.new("RGB", (300, 200), (250, 250, 250)), tmp_path / "a.png")
    b = save(Image.new("RGB", (300, 200), (10, 10, 10)), tmp_path / "b.png")
    doc = json.loads(run("compare", "--json", str(a), str(b)).stdout)
    assert doc["verdict"] == "different" and "too little detail" in doc["exact_only"]


def test_compare_one_photo_finds_its_turned_copy_in_the_library(run, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    picture = photo(71, (400, 300))
    save(picture, lib / "a.jpg", quality=90)
    write_photo(lib / "other.jpg", 72, (400, 300))
    assert run("scan", "-q", str(lib)).exit_code == 0
    outside = save(picture.transpose(Image.Transpose.ROTATE_270), tmp_path / "turned.jpg", quality=80)
    found = json.loads(run("compare", "--json", str(outside)).stdout)["matches"]
    assert [Path(m["path"]).name for m in found] == ["a.jpg"]
    assert json.loads(run("compare", "--json", "--no-rotations", str(outside)).stdout)["matches"] == []
