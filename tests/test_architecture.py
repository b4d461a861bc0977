"""The layering of STYLE.md: each module imports only from lower layers, and each
third-party library is owned by one module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dupfind"

LAYERS = {
    "_version": 0,
    "models": 0,
    "errors": 0,
    "offlimits": 0,
    "bulk": 0,
    "resample": 0,
    "provenance": 1,
    "walk": 1,
    "cache": 1,
    "vptree": 1,
    "similarity": 1,
    "extras": 1,
    "journal": 1,
    "trashdir": 1,
    "fingerprint": 2,
    "original": 2,
    "scan": 3,
    "group": 3,
    "keeper": 3,
    "compare": 3,
    "plan": 4,
    "act": 5,
    "report": 5,
    "pages": 5,
    "server": 6,
    "__init__": 6,
    "prompt": 7,
    "cli_base": 7,
    "cli_web": 8,
    "cli": 9,
    "__main__": 10,
}
OWNERS = {
    "PIL": {"fingerprint"},
    "simplejpeg": {"fingerprint"},
    "imagehash": {"fingerprint"},
    "numpy": {"vptree", "similarity", "provenance", "group", "original", "fingerprint", "resample", "plan"},
    "pillow_heif": {"extras"},
    "rawpy": {"extras"},
    "sqlite3": {"cache"},
    "platformdirs": {"cache"},
    "threadpoolctl": {"scan"},
    "send2trash": {"act"},
    "click": {"cli", "cli_base", "cli_web", "prompt"},
    "tqdm": {"cli", "cli_base", "cli_web", "prompt"},
}


def imports(module: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(module.read_text())
    internal, external = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level and node.module is None:  # from . import errors
                internal.update(alias.name for alias in node.names)
            elif node.level:
                internal.add(node.module.split(".")[0])
            else:
                external.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Import):
            external.update(alias.name.split(".")[0] for alias in node.names)
    return internal, external


def test_every_module_has_a_layer() -> None:
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(LAYERS)


def test_modules_import_only_lower_layers() -> None:
    for module in PACKAGE.glob("*.py"):
        internal, _ = imports(module)
        for name in internal:
            assert LAYERS[name] < LAYERS[module.stem], f"{module.stem} imports {name}"


def test_each_library_is_owned_by_one_module() -> None:
    for module in PACKAGE.glob("*.py"):
        _, external = imports(module)
        for library, owners in OWNERS.items():
            if library in external:
                assert module.stem in owners, f"{module.stem} imports {library}"


def test_start_up_imports_only_what_every_command_needs() -> None:
    # Every command and every scan worker pays for what `dupfind` imports at start: scipy
    # (through imagehash, 0.4 s), tqdm (only drawn on a terminal) and http.server (only the
    # review serves pages) are imported where they are used.
    code = (
        "import sys, dupfind.cli, dupfind.scan; "
        "print(sorted(m for m in ('scipy', 'imagehash', 'tqdm', 'http.server') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
