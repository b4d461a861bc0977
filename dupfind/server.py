"""The review in the browser: a small HTTP server on 127.0.0.1 that shows the plan and takes
the user's choices. It never removes a file itself: Apply hands the choices to the caller's
``apply`` (the CLI's, the same path as dedupe: plan, re-check, trash or quarantine, journal).

Why the standard library's server: one user on this machine, a handful of requests a
second, no sessions or templates; ThreadingHTTPServer does that, and a web framework would
bring more code to keep safe than it saves.

Security: it binds 127.0.0.1 only; every request must carry the run's random token (the
first part of its path); a request whose Host is not 127.0.0.1:PORT or localhost:PORT is
refused (DNS rebinding); state changes are POST only, with a JSON body, from no other
Origin; pictures are served by member id from the current plan, never by a path taken from
the request.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .pages import review_html

MAX_BODY = 1 << 20  # a choice or an apply request is a few hundred bytes
PICTURE_SIDES = (256, 1024, 2048)
CHOICES = ("keep", "skip", "not-duplicates")


@dataclass
class Review:
    """What the server serves and changes: the plan as the page shows it (``groups``, each
    with a content ``key`` and members with ids), the choices made (saved to
    ``state_path`` as they are made), and how to make pictures and apply choices."""

    groups: list[dict[str, Any]]
    member_paths: dict[str, str]  # member id -> path: the only files the server reads
    state_path: str
    picture: Callable[[str, int], bytes | None]
    apply: Callable[[dict[str, dict[str, Any]], bool], dict[str, Any]]
    choices: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> None:
        """The choices of an earlier review of the same groups (by content), if any."""
        try:
            with open(self.state_path, encoding="utf-8") as handle:
                saved = json.load(handle)
        except (OSError, ValueError):
            return
        members = {g["key"]: [m["path"] for m in g["members"]] for g in self.groups}
        if isinstance(saved, dict) and isinstance(saved.get("choices"), dict):
            self.choices = {
                k: {**v, "apart": [p for p in v.get("apart", []) if p in members[k]]}
                for k, v in saved["choices"].items()
                if k in members and _valid(v) and _same_keeper(v, members[k])
            }

    def choose(self, key: str, choice: dict[str, Any]) -> None:
        with self.lock:
            if choice.get("choice") is None:
                self.choices.pop(key, None)
            else:
                self.choices[key] = choice
            self._save()

    def done(self, keys: set[str]) -> None:
        """Forget the choices of groups that were applied."""
        with self.lock:
            for key in keys:
                self.choices.pop(key, None)
            self._save()

    def _save(self) -> None:
        # Written beside and renamed: a crash mid-write keeps the previous choices.
        partial = self.state_path + ".partial"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump({"choices": self.choices}, handle)
        os.replace(partial, self.state_path)


def _same_keeper(choice: dict[str, Any], paths: list[str]) -> bool:
    """A kept file is saved by number and path: when the numbers moved (a file renamed),
    the choice no longer holds."""
    if choice["choice"] != "keep":
        return True
    return 0 <= choice["keeper"] < len(paths) and paths[choice["keeper"]] == choice.get("path")


def _valid(choice: object) -> bool:
    """A choice for a group; ``apart``: the paths of members that are not duplicates of the
    kept file (left alone, and remembered at apply)."""
    return (
        isinstance(choice, dict)
        and choice.get("choice") in CHOICES
        and (choice["choice"] != "keep" or isinstance(choice.get("keeper"), int))
        and isinstance(choice.get("apart", []), list)
    )


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, review: Review, port: int, idle_seconds: float) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.review = review
        self.token = secrets.token_urlsafe(24)
        self.idle_seconds = idle_seconds
        self.last_request = time.monotonic()
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.origins = {f"http://{h}" for h in self.hosts}

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def serve_until_idle(self) -> None:
        """Serve until shut down (Ctrl-C, the page's Quit) or idle for ``idle_seconds``."""
        watchdog = threading.Thread(target=self._stop_when_idle, daemon=True)
        watchdog.start()
        self.serve_forever(poll_interval=0.2)

    def _stop_when_idle(self) -> None:
        while True:
            time.sleep(min(1.0, self.idle_seconds / 4))
            if time.monotonic() - self.last_request > self.idle_seconds:
                self.shutdown()
                return


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # stdout carries the URL and the results; requests are not news

    # -- the checks every request passes -----------------------------------------------------
    def _route(self) -> list[str] | None:
        """The path's parts after the token, or None once refused."""
        self.server.last_request = time.monotonic()
        if self.headers.get("Host") not in self.server.hosts:
            self._refuse(HTTPStatus.FORBIDDEN, "unknown host")
            return None
        parts = urlsplit(self.path).path.split("/")
        if len(parts) < 2 or not secrets.compare_digest(parts[1].encode(), self.server.token.encode()):
            self._refuse(HTTPStatus.FORBIDDEN, "no token")
            return None
        return parts[2:]

    def do_GET(self) -> None:
        parts = self._route()
        if parts is None:
            return
        review = self.server.review
        if parts == [""]:
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", review_html().encode())
        elif parts == ["plan"]:
            with review.lock:
                self._json({"groups": review.groups, "choices": review.choices})
        elif len(parts) == 2 and parts[0] == "picture":
            self._picture(parts[1])
        elif parts and parts[0] in ("choice", "apply", "quit"):
            self._refuse(HTTPStatus.METHOD_NOT_ALLOWED, "POST only")
        else:
            self._refuse(HTTPStatus.NOT_FOUND, "no such page")

    def do_POST(self) -> None:
        parts = self._route()
        if parts is None:
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            self._refuse(HTTPStatus.FORBIDDEN, "another origin")
            return
        if self.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
            self._refuse(HTTPStatus.FORBIDDEN, "another site")
            return
        body = self._body()
        if body is None:
            return
        review = self.server.review
        if parts == ["choice"]:
            key, choice = body.get("group"), {k: v for k, v in body.items() if k != "group"}
            if key not in {g["key"] for g in review.groups} or not (
                _valid(choice) or choice.get("choice") is None
            ):
                self._refuse(HTTPStatus.BAD_REQUEST, "not a choice for a group of this plan")
                return
            members = next(g["members"] for g in review.groups if g["key"] == key)
            apart = choice.get("apart", [])
            numbers = [choice["keeper"]] if choice.get("choice") == "keep" else []
            if not all(isinstance(i, int) and 0 <= i < len(members) for i in [*numbers, *apart]):
                self._refuse(HTTPStatus.BAD_REQUEST, "no such file in the group")
                return
            if numbers:
                choice["path"] = members[choice["keeper"]]["path"]
            # Members apart are kept by path: their numbers may move in a later plan.
            choice["apart"] = sorted({members[i]["path"] for i in apart} - {choice.get("path")})
            review.choose(key, choice)
            self._json({"saved": True})
        elif parts == ["apply"]:
            with review.lock:
                chosen = dict(review.choices)
            result = review.apply(chosen, bool(body.get("dry_run", True)))
            if not body.get("dry_run", True):
                review.done(set(result.get("applied", [])))
            self._json(result)
        elif parts == ["quit"]:
            self._json({"stopping": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        else:
            self._refuse(HTTPStatus.NOT_FOUND, "no such action")

    # -- answers -------------------------------------------------------------------------------
    def _picture(self, member: str) -> None:
        path = self.server.review.member_paths.get(member)  # an id of this plan, never a path
        query = parse_qs(urlsplit(self.path).query)
        try:
            side = int(query.get("side", ["256"])[0])
        except ValueError:
            side = 0
        if path is None or side not in PICTURE_SIDES:
            self._refuse(HTTPStatus.NOT_FOUND, "no such picture")
            return
        data = self.server.review.picture(path, side)
        if data is None:
            self._refuse(HTTPStatus.NOT_FOUND, "the picture cannot be shown")
            return
        self._send(HTTPStatus.OK, "image/jpeg", data, cache=True)

    def _body(self) -> dict[str, Any] | None:
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "JSON only")
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._refuse(HTTPStatus.BAD_REQUEST, "bad length")
            return None
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._refuse(HTTPStatus.BAD_REQUEST, "not a JSON object")
            return None
        return body

    def _json(self, value: Any) -> None:
        self._send(HTTPStatus.OK, "application/json", json.dumps(value).encode())

    def _refuse(self, status: HTTPStatus, why: str) -> None:
        self._send(status, "text/plain; charset=utf-8", f"{status.value} {status.phrase}: {why}\n".encode())

    def _send(self, status: HTTPStatus, kind: str, data: bytes, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "private, max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        )
        self.end_headers()
        self.wfile.write(data)
