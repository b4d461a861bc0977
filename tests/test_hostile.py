"""Hostile files and a hostile machine: every file has a budget, workers end with their
parent, odd but valid pictures hash right, and a seeded fuzz over real photos never stops a
scan (SAFETY.md rule 9, issue 9)."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dupfind import errors, fingerprint
from dupfind.fingerprint import MAX_FRAMES, MAX_JPEG_SCANS, distance, fingerprint_bytes

from .conftest import FIXTURE, REPO, photo, save, write_photo


def scan_cli(tmp_path: Path, lib: Path, *flags: str, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dupfind", "scan", *flags, "--cache", str(tmp_path / "c.db"), str(lib)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def fp_of(data: bytes, name: str = "x.jpg"):
    return fingerprint_bytes(data, "0" * 64, name)


def scan_bomb(scans: int) -> bytes:
    """A valid progressive JPEG followed by ``scans`` empty AC scans before its end: each is
    one more pass of the decoder over the whole picture."""
    buf = io.BytesIO()
    Image.new("RGB", (1600, 1200), (120, 130, 140)).save(buf, "JPEG", progressive=True, quality=90)
    data = buf.getvalue()
    end = data.rindex(b"\xff\xd9")
    empty_scan = b"\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x00"
    return data[:end] + empty_scan * scans + data[end:]


def page_bomb(pages: int) -> bytes:
    """A little-endian TIFF of ``pages`` 1x1 grey pages, written directly (Pillow takes
    seconds per thousand pages to write one)."""
    entries = 8
    ifd_size = 2 + entries * 12 + 4
    first = 8
    pixel_at = first + pages * ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", first))
    for page in range(pages):
        nxt = first + (page + 1) * ifd_size if page + 1 < pages else 0
        tags = [
            (256, 4, 1, 1),  # width
            (257, 4, 1, 1),  # height
            (258, 3, 1, 8),  # bits per sample
            (259, 3, 1, 1),  # no compression
            (262, 3, 1, 1),  # black is zero
            (273, 4, 1, pixel_at),  # strip offset
            (278, 4, 1, 1),  # rows per strip
            (279, 4, 1, 1),  # strip byte count
        ]
        out += struct.pack("<H", entries)
        for tag, kind, count, value in tags:
            out += struct.pack("<HHII", tag, kind, count, value)
        out += struct.pack("<I", nxt)
    return bytes(out + b"\x80")


# -- every file has a budget --------------------------------------------------------------
def test_a_jpeg_of_thousands_of_scans_is_skipped_with_a_reason() -> None:
    fp = fp_of(scan_bomb(5000))
    assert fp.problem == errors.TOO_SLOW
    assert "scans" in (fp.detail or "")


def test_an_ordinary_progressive_jpeg_is_well_within_the_scan_limit() -> None:
    bomb = scan_bomb(0)
    assert bomb.count(b"\xff\xda") < MAX_JPEG_SCANS / 5
    assert fp_of(bomb).decoded


def test_pages_and_frames_are_counted_up_to_a_bound_and_the_first_is_hashed() -> None:
    fp = fp_of(page_bomb(20_000), "pages.tif")
    assert fp.decoded, fp
    assert fp.frames == MAX_FRAMES + 1  # "more than MAX_FRAMES"; a two-page file says 2
    assert fp_of(page_bomb(2), "two.tif").frames == 2


def test_a_decode_over_its_time_budget_is_stopped_with_a_reason(monkeypatch) -> None:
    big = io.BytesIO()
    photo(3, (3000, 2000)).save(big, "PNG")
    monkeypatch.setattr(fingerprint, "DECODE_SECONDS", 0.001)
    fp = fp_of(big.getvalue(), "big.png")
    assert fp.problem == errors.TOO_SLOW and "still decoding" in (fp.detail or "")
    monkeypatch.undo()
    assert fp_of(big.getvalue(), "big.png").decoded


def test_a_scan_of_bombs_finishes_and_reports_each(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "scans.jpg").write_bytes(scan_bomb(20_000))
    (lib / "pages.tif").write_bytes(page_bomb(50_000))
    frames = [photo(i, (8, 8)).convert("P") for i in range(3)]
    frames[0].save(lib / "frames.gif", save_all=True, append_images=frames[1:] * 1500, duration=10)
    write_photo(lib / "fine.jpg", 1)
    out = scan_cli(tmp_path, lib, "--json", timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["files"] == 4 and doc["fingerprinted"] == 4
    assert [(Path(s["path"]).name, s["reason"]) for s in doc["skipped"]] == [("scans.jpg", errors.TOO_SLOW)]


# -- pictures that are odd but fine -------------------------------------------------------
def test_a_large_sixteen_bit_grey_png_is_not_hashed_as_white(tmp_path: Path) -> None:
    gray = photo(8, (800, 600)).convert("L")
    deep = save(Image.fromarray(np.asarray(gray).astype(np.uint16) * 257), tmp_path / "deep.png")
    with Image.open(deep) as im:
        assert im.mode.startswith("I")
    flat = save(gray, tmp_path / "flat.png")
    deep_fp, flat_fp = fp_of(deep.read_bytes(), "deep.png"), fp_of(flat.read_bytes(), "flat.png")
    white_fp = fp_of(save(Image.new("L", (800, 600), 255), tmp_path / "white.png").read_bytes(), "w.png")
    assert distance(deep_fp.phash, flat_fp.phash) <= 2
    assert distance(deep_fp.phash, white_fp.phash) > 10


def test_a_png_with_a_two_megabyte_colour_profile_decodes(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    limit = PngImagePlugin.MAX_TEXT_CHUNK
    profile = random.Random(2).randbytes(2 * 1024 * 1024)
    path = save(photo(4), tmp_path / "icc.png", icc_profile=profile)
    fp = fp_of(path.read_bytes(), "icc.png")
    assert fp.decoded, fp
    assert limit == PngImagePlugin.MAX_TEXT_CHUNK  # Pillow's own limit is left as it was
    assert distance(fp.phash, fp_of(save(photo(4), tmp_path / "plain.png").read_bytes(), "p.png").phash) == 0


def test_libtiff_chatter_does_not_reach_the_terminal(tmp_path: Path) -> None:
    # Damaged LZW data makes libtiff print "Using code not yet in table" on stderr itself.
    buf = io.BytesIO()
    photo(5, (400, 300)).save(buf, "TIFF", compression="tiff_lzw")
    data = buf.getvalue()
    rng = random.Random(5)
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(40):
        blob = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            blob[rng.randrange(200, len(blob))] = rng.randrange(256)
        (lib / f"{i}.tif").write_bytes(bytes(blob))
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from PIL import Image\nfor p in sys.argv[1:]:\n"
         "    try: Image.open(p).load()\n    except Exception: pass", *map(str, lib.iterdir())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.stderr.strip(), "these files no longer make libtiff talk; the test proves nothing"
    out = scan_cli(tmp_path, lib, "-q", "--jobs", "1", timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


# -- no orphans ----------------------------------------------------------------------------
def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the workers")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_when_the_scan_is_killed(tmp_path: Path, sig: signal.Signals) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    data = save(photo(1, (1600, 1200)), tmp_path / "base.jpg", quality=95).read_bytes()
    for i in range(800):
        (lib / f"{i}.jpg").write_bytes(data + i.to_bytes(4, "big"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dupfind",
            "scan",
            "-q",
            "--jobs",
            "2",
            "--cache",
            str(tmp_path / "c.db"),
            str(lib),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 3:  # the fork server and its workers
        time.sleep(0.1)
        workers = _descendants(proc.pid)
    assert len(workers) >= 3, "the scan never started its workers"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    left = [p for p in workers if _alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} processes outlived the scan by 5 s"


# -- a seeded fuzz over real photos --------------------------------------------------------
KNOWN_REASONS = {errors.CORRUPT, errors.TRUNCATED, errors.NOT_AN_IMAGE, errors.TOO_LARGE, errors.TOO_SLOW}


def _mutate(rng: random.Random, data: bytes) -> bytes:
    blob = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:  # byte flips, anywhere
        for _ in range(rng.randint(1, 16)):
            blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation
        del blob[rng.randrange(1, len(blob)) :]
    elif kind == 2:  # an inserted run of noise
        at = rng.randrange(len(blob))
        blob[at:at] = rng.randbytes(rng.randint(1, 256))
    elif kind == 3:  # a repeated stretch (segments, scans, chunks repeated)
        at = rng.randrange(len(blob))
        stretch = blob[at : at + rng.randint(2, 600)]
        blob[at:at] = stretch * rng.randint(2, 400)
    else:  # the header of one file on the body of another
        blob[: rng.randint(2, 64)] = rng.randbytes(1) * 2
    return bytes(blob)


def test_a_seeded_fuzz_over_real_photos_never_stops_a_scan(tmp_path: Path) -> None:
    if not FIXTURE.is_dir():
        pytest.skip("../shared/corpus/fixture is not here")
    sources = sorted(
        p for p in (FIXTURE / "library").rglob("*") if p.is_file() and p.stat().st_size < 400_000
    )
    rng = random.Random(9)
    picked = rng.sample(sources, min(25, len(sources)))
    lib = tmp_path / "lib"
    lib.mkdir()
    count = 0
    for source in picked:
        data = source.read_bytes()
        for i in range(12):
            (lib / f"{count:04}-{i}{source.suffix.lower()}").write_bytes(_mutate(rng, data))
            count += 1
    out = scan_cli(tmp_path, lib, "--json", "--jobs", "2", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    doc = json.loads(out.stdout)
    skipped = {s["path"]: s["reason"] for s in doc["skipped"]}
    assert doc["files"] == count == doc["fingerprinted"]
    assert set(skipped.values()) <= KNOWN_REASONS
