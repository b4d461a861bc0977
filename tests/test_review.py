"""dupfind review: the review in the browser, as safe as the terminal one. A real server on
127.0.0.1, a real browser (Debian's chromium through Playwright), a real trash under
tmp_path; and every point of the server's security checked with plain HTTP requests."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import public_domain_library, save_screenshot, tree_snapshot
from .test_dedupe import library, trash_files


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        parts = urlsplit(url)
        self.port = parts.port or 0
        self.token = parts.path.strip("/")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
            for name, value in sent.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            answer = conn.getresponse()
            return answer.status, answer.read(), dict(answer.getheaders())
        finally:
            conn.close()

    def post(self, what: str, value: object, **headers: str) -> tuple[int, bytes, dict[str, str]]:
        sent = {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{self.port}", **headers}
        return self.request("POST", f"/{self.token}/{what}", json.dumps(value).encode(), sent)


def start(env: dict[str, str], lib: Path, *extra: str) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "dupfind", "review", "-q", "--no-browser", *extra, str(lib)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (url, process.stderr.read() if process.stderr else "")
    return Server(process, url)


@pytest.fixture
def serve(home: dict[str, str]) -> Iterator:
    started: list[Server] = []

    def run(lib: Path, *extra: str) -> Server:
        server = start(home, lib, *extra)
        started.append(server)
        return server

    yield run
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
        server.process.communicate(timeout=30)


def _dupfind(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dupfind", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_a_review_in_the_browser_applies_through_the_trash_and_undo_puts_back(
    tmp_path: Path, home, serve, browser
) -> None:
    lib = public_domain_library(tmp_path / "lib")
    before = tree_snapshot(lib)
    server = serve(lib)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(server.url)
    page.wait_for_selector("figure img")
    plan = page.evaluate("fetch('plan').then(r => r.json())")
    groups = plan["groups"]
    assert len(groups) == 4 and all(len(g["members"]) == 5 for g in groups)
    # Every picture has arrived (a picture that never loads times this wait out, failing).
    page.wait_for_function("[...document.images].filter(i => i.closest('figure')).every(i => i.complete)")
    widths = page.evaluate("[...document.images].filter(i => i.closest('figure')).map(i => i.naturalWidth)")
    assert len(widths) == 5 and min(widths) > 0
    save_screenshot(page, "review.png", tmp_path)

    # Compare: the keeper and another file full size, one zoom for both, b blinks, Esc closes.
    page.keyboard.press("c")
    page.locator("#compare").wait_for(state="visible")
    page.locator("#left-img").evaluate("i => i.decode()")
    page.locator("#right-img").evaluate("i => i.decode()")
    widths = page.evaluate("['left-img', 'right-img'].map(i => document.getElementById(i).naturalWidth)")
    assert min(widths) > 0
    page.mouse.move(300, 300)
    page.mouse.wheel(0, -300)
    transforms = page.evaluate(
        "['left-img', 'right-img'].map(i => document.getElementById(i).style.transform)"
    )
    assert transforms[0] == transforms[1] and "scale(1.25)" in transforms[0]
    page.keyboard.press("b")
    page.keyboard.press("Escape")
    page.locator("#compare").wait_for(state="hidden")

    # Group 1: keep the third file instead of the proposed one. Group 2: not duplicates.
    # Group 3: its second file is not a duplicate of the first; accept the rest.
    page.keyboard.press("3")
    page.locator(".decision", has_text="not decided").wait_for()
    page.keyboard.press("n")
    page.locator("h2", has_text="Group 3").wait_for()
    page.click("figure[data-member='1'] button.apart")
    page.locator("figure[data-member='1'] .action", has_text="not a duplicate").wait_for()
    page.keyboard.press("a")
    kept = groups[0]["members"][2]["path"]
    gone = [m["path"] for i, m in enumerate(groups[0]["members"]) if i != 2]
    gone += [m["path"] for m in groups[2]["members"][2:]]
    apart = [m["path"] for m in groups[1]["members"]] + [m["path"] for m in groups[2]["members"][:2]]

    page.click("#preview")
    page.locator("#result", has_text="Preview").wait_for()
    preview = page.text_content("#result")
    assert f"keep {kept}" in preview and all(f"would trash: {p}" in preview for p in gone)
    assert f"would remember: {groups[2]['members'][1]['path']} is not a duplicate of" in preview
    assert tree_snapshot(lib) == before  # the preview touched nothing

    page.click("#apply")
    page.locator("#result", has_text="Done").wait_for()
    assert Path(kept).exists() and not any(Path(p).exists() for p in gone)
    assert all(Path(p).exists() for p in apart)
    assert len(trash_files(tmp_path)) == len(gone)

    # The applied groups and the one set apart are gone from the plan, the file that is not
    # a duplicate is not grouped with its keeper again; the undecided group remains.
    left = json.loads(_dupfind(home, "dedupe", "-q", "--dry-run", "--json", str(lib)).stdout)["groups"]
    assert [sorted(m["path"] for m in g["members"]) for g in left] == [
        sorted(m["path"] for m in groups[3]["members"])
    ]
    assert " of 1 \u00b7 0 decided" in page.evaluate("document.getElementById('where').textContent")

    runs = json.loads(_dupfind(home, "undo", "--json").stdout)["runs"]
    assert len(runs) == 1
    assert _dupfind(home, "undo", runs[0]["id"]).returncode == 0
    assert tree_snapshot(lib).keys() == before.keys()


def test_choices_are_saved_as_made_and_a_new_review_resumes(tmp_path: Path, home, serve) -> None:
    lib = tmp_path / "lib"
    library(lib)
    first = serve(lib)
    groups = json.loads(first.request("GET", f"/{first.token}/plan")[1])["groups"]
    chosen = {"group": groups[0]["key"], "choice": "keep", "keeper": 1, "apart": [0]}
    assert first.post("choice", chosen)[0] == 200
    first.process.kill()  # a crash: nothing else was saved
    first.process.communicate(timeout=30)
    second = serve(lib)
    assert second.token != first.token
    plan = json.loads(second.request("GET", f"/{second.token}/plan")[1])
    members = groups[0]["members"]
    assert plan["choices"] == {
        groups[0]["key"]: {
            "choice": "keep",
            "keeper": 1,
            "path": members[1]["path"],
            "apart": [members[0]["path"]],
        }
    }


# -- security --------------------------------------------------------------------------------
def test_only_requests_with_the_token_and_our_host_are_served(tmp_path: Path, serve) -> None:
    lib = tmp_path / "lib"
    library(lib)
    server = serve(lib)
    token = server.token
    assert server.request("GET", f"/{token}/")[0] == 200
    assert server.request("GET", "/")[0] == 403
    assert server.request("GET", "/plan")[0] == 403
    # A token one character off (never the token itself: it may end in "x").
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")
    assert server.request("GET", f"/{wrong}/plan")[0] == 403
    assert server.request("GET", f"/{token}/plan", headers={"Host": f"localhost:{server.port}"})[0] == 200
    for host in (f"evil.example:{server.port}", "127.0.0.1", f"127.0.0.1:{server.port + 1}", ""):
        assert server.request("GET", f"/{token}/plan", headers={"Host": host})[0] == 403, host


def test_state_changes_are_post_only_json_and_from_no_other_origin(tmp_path: Path, serve) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = tree_snapshot(lib)
    server = serve(lib)
    token = server.token
    key = json.loads(server.request("GET", f"/{token}/plan")[1])["groups"][0]["key"]
    choice = {"group": key, "choice": "keep", "keeper": 0}
    for what in ("choice", "apply", "quit"):
        assert server.request("GET", f"/{token}/{what}")[0] == 405
    assert server.post("choice", choice, Origin="http://evil.example")[0] == 403
    assert server.post("choice", choice, Origin=f"http://127.0.0.1:{server.port + 1}")[0] == 403
    assert server.post("apply", {"dry_run": False}, **{"Sec-Fetch-Site": "cross-site"})[0] == 403
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://127.0.0.1:{server.port}"}
    assert server.request("POST", f"/{token}/apply", b"dry_run=0", form)[0] == 415
    assert server.request("POST", "/apply", b"{}", {"Content-Type": "application/json"})[0] == 403
    assert server.post("choice", {"group": "not-a-group", "choice": "skip"})[0] == 400
    assert server.post("choice", {"group": key, "choice": "keep", "keeper": 99})[0] == 400
    assert server.post("choice", choice)[0] == 200
    assert tree_snapshot(lib) == before


def test_pictures_come_by_member_id_only(tmp_path: Path, serve) -> None:
    lib = tmp_path / "lib"
    library(lib)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes((lib / "a.jpg").read_bytes())
    server = serve(lib)
    token = server.token
    status, data, headers = server.request("GET", f"/{token}/picture/0-0")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and data[:2] == b"\xff\xd8"
    for path in (
        f"/{token}/picture/../../secret.jpg",
        f"/{token}/picture/%2e%2e%2f%2e%2e%2fsecret.jpg",
        f"/{token}/picture/{secret}",
        f"/{token}/picture//etc/passwd",
        f"/{token}/picture/{lib / 'a.jpg'}",
        f"/{token}/picture/0-0/../../secret.jpg",
        f"/{token}/picture/99-0",
        f"/{token}/picture/0-0?side=100000",
        f"/{token}/../{token}/picture/0-0x",
    ):
        assert server.request("GET", path)[0] in (403, 404), path


def test_it_listens_on_loopback_only_and_stops_when_idle_or_interrupted(tmp_path: Path, serve) -> None:
    lib = tmp_path / "lib"
    library(lib)
    idle = serve(lib, "--idle-minutes", "0.05")  # 3 seconds
    others = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {
        "127.0.0.1"
    }
    for address in others:
        with pytest.raises(OSError), socket.create_connection((address, idle.port), timeout=2):
            pass
    assert idle.process.wait(timeout=30) == 0
    assert "review server stopped" in (idle.process.stderr.read() if idle.process.stderr else "")

    interrupted = serve(lib)
    assert interrupted.request("GET", f"/{interrupted.token}/")[0] == 200
    time.sleep(0.2)
    interrupted.process.send_signal(signal.SIGINT)
    assert interrupted.process.wait(timeout=30) != 0  # interrupted, and gone
    assert os.waitstatus_to_exitcode(0) == 0
