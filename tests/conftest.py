"""Shared test helpers: real images made with Pillow, a CLI runner, tree snapshots."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from dupfind.cli import cli

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURE = SHARED / "corpus" / "fixture"


def _rings() -> bytes:
    r = np.hypot(*np.meshgrid(np.arange(16) - 7.5, np.arange(16) - 7.5))
    return (128 + 100 * np.cos(r * 1.3)).astype(np.uint8).tobytes()


# A 16x16 thumbnail that looks the same every way round (rings about its centre): made-up
# fingerprints carry it so that the second look (similarity.verify) confirms every view and a
# test holds the hash part of the rule alone.
SYMMETRIC_THUMB = _rings()


def photo(seed: int, size: tuple[int, int] = (320, 240), mode: str = "RGB") -> Image.Image:
    """A smooth, photo-like picture, different for every seed: random colour blobs
    (an 8x6 random grid scaled up with bicubic) plus a little texture."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    im = Image.fromarray(grid, "RGB").resize(size, Image.Resampling.BICUBIC)
    texture = rng.integers(-6, 7, size=(size[1], size[0], 3))
    pixels = np.clip(np.asarray(im, dtype=np.int16) + texture, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB").convert(mode)


def save(im: Image.Image, path: Path, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **params)
    return path


def write_photo(path: Path, seed: int, size: tuple[int, int] = (320, 240), **params: object) -> Path:
    return save(photo(seed, size), path, **params)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "cache.sqlite3"


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose trash (XDG_DATA_HOME) and cache are under tmp_path."""
    env = dict(os.environ)
    env.update(
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        DUPFIND_CACHE=str(tmp_path / "state" / "cache.sqlite3"),
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture
def run(cache_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke the CLI in-process with a cache under tmp_path; returns click's Result."""
    monkeypatch.setenv("DUPFIND_CACHE", str(cache_path))

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def scan_json(run):
    """Run ``dupfind scan --json --jobs 1 ARGS`` and return the parsed document."""

    def invoke(*args: str, code: int = 0) -> dict:
        result = run("scan", "--json", "--jobs", "1", *args)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    return invoke


def group_paths(doc: dict) -> list[list[str]]:
    return sorted(sorted(g["paths"]) for g in doc["exact_groups"])


def needs_fixture() -> Path:
    if not FIXTURE.is_dir():
        pytest.skip("../shared/corpus/fixture is not here")
    return FIXTURE


def tree_snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root: type, inode, size, mtime and SHA-256 (for regular files)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = sha256_of(p) if p.is_file() and not p.is_symlink() else None
            snap[str(p.relative_to(root))] = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, digest)
    return snap


PUBLIC_DOMAIN = SHARED / "corpus" / "sources" / "github" / "immich-test-assets" / "albums" / "nature"


def public_domain_library(root: Path) -> Path:
    """A small library made from public-domain photos of ../shared (immich-app/test-assets,
    so its screenshots may go into the README): each photo, a byte copy in a backup, a
    mirrored and a smaller re-saved copy, and a PNG export."""
    from PIL import ImageOps

    sources = sorted(PUBLIC_DOMAIN.glob("*.jpg"))[:4] if PUBLIC_DOMAIN.is_dir() else []
    if len(sources) < 2:
        pytest.skip("the public-domain photos of ../shared are not here")
    for source in sources:
        stem = source.stem
        original = root / "Pictures" / source.name
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(source.read_bytes())
        (root / "Backup" / "2024").mkdir(parents=True, exist_ok=True)
        (root / "Backup" / "2024" / source.name).write_bytes(source.read_bytes())
        with Image.open(source) as im:
            upright = ImageOps.exif_transpose(im).convert("RGB")
        save(ImageOps.mirror(upright), root / "Edited" / f"{stem}_mirror.jpg", quality=90)
        small = upright.resize((upright.width * 2 // 3, upright.height * 2 // 3))
        save(small, root / "Messenger" / f"IMG-{stem}-WA0001.jpg", quality=70)
        save(upright, root / "Desktop" / f"{stem}.png")
    return root


# -- a real browser: Debian's chromium, driven by Playwright (never downloaded) -------------
def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium here (Debian: apt-get install chromium)")
    return found


@pytest.fixture
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def save_screenshot(page, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Into tmp_path, and into $DUPFIND_SCREENSHOTS when set (README's docs/ pictures)."""
    page.screenshot(path=str(tmp_path / name))
    folder = os.environ.get("DUPFIND_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name))
