"""The action journal beside the cache: every move is written down (and fsync'ed) before
and after it happens, so an interrupted run can be reconciled and any run undone.

One JSON object per line, appended; a line cut short by a crash is ignored. Paths are
stored as Python str (non-UTF-8 bytes survive as surrogate escapes, which JSON keeps).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


def journal_path(cache_path: str) -> str:
    """The journal that belongs to a cache: ``--cache`` selects both."""
    return cache_path + ".actions.jsonl"


@dataclass(frozen=True)
class Entry:
    """One planned action of a run, with what became of it."""

    run: str
    seq: int
    intent: dict[str, Any]
    state: str  # "pending" (no answer: interrupted), "done", "failed", "restored"
    detail: dict[str, Any]


class Journal:
    """Append-only records of dedupe runs."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def _append(self, record: dict[str, Any]) -> None:
        # Unbuffered appends: a record that could not be written (a full disk) is not kept in
        # a buffer to be written later, out of order, when the journal is closed.
        line = (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")
        if self._fd is None:
            self._fd = self._open_for_append()
        _write_all(self._fd, line)
        os.fsync(self._fd)  # the record must be on disk before the move

    def _open_for_append(self) -> int:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "the journal is not a regular file")
            if st.st_size > 0 and os.pread(fd, 1, st.st_size - 1) != b"\n":
                # A crash (or a full disk) cut the last record short: end it, or the next
                # record would be glued to it and lost too.
                _write_all(fd, b"\n")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def start_run(self, arguments: list[str]) -> str:
        run = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
        self._append(
            {"event": "run", "run": run, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": arguments}
        )
        return run

    def intent(self, run: str, seq: int, **fields: Any) -> None:
        self._append({"event": "intent", "run": run, "seq": seq, **fields})

    def outcome(self, run: str, seq: int, state: str, **fields: Any) -> None:
        self._append({"event": state, "run": run, "seq": seq, **fields})

    def end_run(self, run: str) -> None:
        self._append({"event": "end", "run": run})

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- reading ---------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                return []  # never read a FIFO or a device as the journal
            with open(self.path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash: its action never started
            if isinstance(record, dict) and "event" in record:
                out.append(record)
        return out

    def runs(self) -> list[dict[str, Any]]:
        """Runs oldest first: id, start time and how many actions were done (undone later
        or not)."""
        records = self.records()
        runs: dict[str, dict[str, Any]] = {}
        for record in records:
            if record["event"] == "run":
                runs.setdefault(
                    record["run"], {"id": record["run"], "started": record["started"], "actions": 0}
                )
        for entry in _entries(records):
            if entry.state in ("done", "restored") and entry.run in runs:
                runs[entry.run]["actions"] += 1
        return list(runs.values())

    def quarantines(self) -> list[str]:
        """Every ``--move-to`` folder a run has moved files into: never part of a library.
        Intents name their folder; older ones are read back from where the file went."""
        folders: set[str] = set()
        for entry in self.entries():
            if entry.intent.get("action") != "move":
                continue
            if entry.intent.get("quarantine"):
                folders.add(entry.intent["quarantine"])
                continue
            destination, path = entry.detail.get("destination"), entry.intent.get("path", "")
            tail = os.sep + os.path.dirname(path).lstrip(os.sep)  # Quarantine keeps the folders
            if destination and os.path.dirname(destination).endswith(tail):
                folders.add(os.path.dirname(destination)[: -len(tail)] or os.sep)
        return sorted(folders)

    def entries(self, run: str | None = None) -> list[Entry]:
        """Every intent (of one run, or all), with its latest state."""
        return _entries(self.records(), run)


def _entries(records: list[dict[str, Any]], run: str | None = None) -> list[Entry]:
    intents: dict[tuple[str, int], dict[str, Any]] = {}
    states: dict[tuple[str, int], tuple[str, dict[str, Any]]] = {}
    for record in records:
        if run is not None and record.get("run") != run:
            continue
        key = (record.get("run", ""), record.get("seq", -1))
        if record["event"] == "intent":
            intents[key] = record
        elif record["event"] in ("done", "failed", "restored"):
            states[key] = (record["event"], record)
    return [
        Entry(key[0], key[1], intent, *states.get(key, ("pending", {}))) for key, intent in intents.items()
    ]


def _write_all(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


@contextlib.contextmanager
def exclusive(path: str, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """One dedupe at a time: hold an exclusive lock on ``path`` for the whole action phase,
    so two runs can never remove opposite members of one pair. A second run waits."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
