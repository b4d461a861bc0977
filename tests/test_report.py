"""dupfind report: the plan of dedupe --dry-run, as a self-contained HTML page and a CSV, and
the page seen in a real browser (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

from .conftest import public_domain_library, save_screenshot, tree_snapshot
from .test_dedupe import library


def _dupfind(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dupfind", *args], env=env, capture_output=True, text=True, timeout=300
    )


def _plan(doc: dict) -> list[tuple]:
    return [
        (g["kind"], g["keeper"], g["why"], [(m["path"], m["action"], m["reason"]) for m in g["members"]])
        for g in doc["groups"]
    ]


def test_report_plans_exactly_what_the_dry_run_plans(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = tree_snapshot(lib)
    html, table = tmp_path / "out" / "report.html", tmp_path / "out" / "report.csv"
    html.parent.mkdir()
    made = _dupfind(home, "report", "-q", str(lib), "--html", str(html), "--csv", str(table), "--json")
    assert made.returncode == 0, made.stderr
    dry = _dupfind(home, "dedupe", "-q", "--dry-run", "--json", str(lib))
    report_doc, dry_doc = json.loads(made.stdout), json.loads(dry.stdout)
    assert _plan(report_doc) == _plan(dry_doc) and len(dry_doc["groups"]) == 2
    assert tree_snapshot(lib) == before

    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["group", "kind", "action", "path", "keeper", "distance", "size_bytes", "reason"]
    members = [(n, g, m) for n, g in enumerate(dry_doc["groups"], 1) for m in g["members"]]
    assert [(r["group"], r["path"], r["keeper"], r["action"]) for r in rows] == [
        (str(n), m["path"], g["keeper"], m["action"]) for n, g, m in members
    ]
    assert {r["reason"] for r in rows if r["action"] == "trash"} >= {"exact copy"}

    page = html.read_text(encoding="utf-8")
    # One file: nothing fetched from anywhere, every picture inside it.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page, re.I)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    blocks = re.findall(r'<script id="pictures-\d+" type="application/json">(.*?)</script>', page, re.S)
    pictures = {k: v for block in blocks for k, v in json.loads(block).items()}
    assert len(pictures) == len(members) == 4  # the exact pair and the near pair


def test_a_path_with_markup_stays_text(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    files = library(lib)
    odd = files["a_copy"].rename(lib / "backup" / "<img src=x onerror=alert(1)>&amp;.jpg")
    html = tmp_path / "report.html"
    assert _dupfind(home, "report", "-q", str(lib), "--html", str(html)).returncode == 0
    page = html.read_text(encoding="utf-8")
    assert odd.name not in page  # only in the JSON, where "<" is escaped
    assert "\\u003cimg src=x onerror=alert(1)>&amp;.jpg" in page


def test_report_without_an_output_is_a_one_line_error(tmp_path: Path, home) -> None:
    done = _dupfind(home, "report", str(tmp_path))
    assert done.returncode == 2 and "say what to write" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# -- in a real browser ------------------------------------------------------------------------
def test_the_report_opens_offline_with_every_picture(tmp_path: Path, home, browser) -> None:
    lib = public_domain_library(tmp_path / "lib")
    html = tmp_path / "report.html"
    made = _dupfind(home, "report", "-q", str(lib), "--html", str(html), "--json")
    assert made.returncode == 0, made.stderr
    groups = json.loads(made.stdout)["groups"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    assert page.locator("section.group").count() == len(groups) > 0
    widths = page.evaluate("[...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == sum(len(g["members"]) for g in groups) and min(widths) > 0
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []
    page.click("button[data-filter=near]")
    assert page.locator("section.group").count() == sum(g["kind"] == "near" for g in groups)
    page.click("button[data-filter=all]")
    save_screenshot(page, "report.png", tmp_path)
