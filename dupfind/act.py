"""Acting on plans: re-verify the keeper and each victim, then trash, quarantine or
hard-link, journaling every move; reconcile interrupted runs; undo. Owns send2trash.

Nothing here deletes a photo. A file leaves its path only by send2trash, by ``os.rename``
into the quarantine, or (``--hardlink``) by being replaced with a link to verified
identical bytes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import ActionError, FingerprintError
from .fingerprint import fingerprint_bytes, read_bytes
from .journal import Journal
from .models import Action, Candidate, GroupOutcome, ImageFile, Outcome, PlannedGroup
from .offlimits import OffLimits, home_trash
from .similarity import matches
from .trashdir import TMPFS_TYPES, filesystem_type, find_trashed


# -- checks right before acting (SAFETY.md rules 1 and 2) --------------------------------------
def _same_file(file: ImageFile, path: str) -> str | None:
    """Why ``path`` is no longer the recorded file (lstat only), or None if it is."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "no longer there"
    except OSError as exc:
        return f"cannot be checked ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "no longer a regular file"
    recorded = (file.dev, file.ino, file.size_bytes, file.mtime_ns, file.ctime_ns)
    if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) != recorded:
        return "changed since the scan"
    return None


def recheck(c: Candidate, byte_level: bool = True) -> tuple[str | None, bytes | None]:
    """Is ``c`` still the recorded file under every name, with the recorded SHA-256?
    Returns (why not, None), or (None, its bytes). The names share one inode, so the bytes
    are read once; a near victim's fresh hashes come from these same bytes. Without
    ``byte_level`` (the dry run) only the identity is checked: lstat against the scan."""
    for name in c.names:
        problem = _same_file(c.file, name)
        if problem:
            return problem, None
    if not byte_level:
        return None, None
    try:
        _, data, digest = read_bytes(c.path, c.file)
    except FingerprintError as exc:
        return f"cannot be re-read ({exc})", None
    return (None, data) if digest == c.fingerprint.sha256 else ("content changed since the scan", None)


def check_keeper(
    group: PlannedGroup, off_limits: OffLimits | None = None, byte_level: bool = True
) -> str | None:
    # The last line of defence of SAFETY.md rule 13: a keeper in the trash or a quarantine
    # is no keeper, whatever put it in the plan; its group would lose the last real copy.
    off_limits = off_limits or OffLimits.around()
    for name in group.keeper.names:
        where = off_limits.why(name)
        if where is not None:
            return f"keeper lies in {where}: a copy there is not a copy"
    problem, _ = recheck(group.keeper, byte_level)
    return f"keeper {problem}" if problem else None


def check_victim(group: PlannedGroup, action: Action, byte_level: bool = True) -> str | None:
    """Why ``action``'s file must not move now (None: it may). ``byte_level`` False, the dry
    run: the plan shown is the real one, checked by identity only; the bytes are read and
    the picture decoded again only by the run that moves it."""
    victim, keeper = action.candidate, group.keeper
    for name in victim.names:
        with contextlib.suppress(OSError):
            st = os.lstat(name)
            if (st.st_dev, st.st_ino) == keeper.file.identity:
                return "now a hard link to the keeper: nothing to do"
    problem, data = recheck(victim, byte_level)
    if problem or not byte_level:
        return problem
    exact = victim.fingerprint.sha256 == keeper.fingerprint.sha256
    if exact or action.action == "hardlink":
        return None if exact else "not an exact copy"
    fresh = fingerprint_bytes(data, victim.fingerprint.sha256, victim.path) if data is not None else None
    if fresh is None or fresh.phash is None or keeper.fingerprint.phash is None:
        return "no longer decodes"
    if matches(keeper.fingerprint, fresh, group.rule) is None:
        return "no longer a near duplicate of the keeper"
    return None


# -- executors ---------------------------------------------------------------------------------
class Executor:
    """Moves one path away from the library; returns where it went. ``moves`` False: the
    dry run, whose outcomes say what would have been done."""

    moves = True
    folder: str | None = None  # where files go when it is a folder of ours (the quarantine)

    def preflight(self, paths: Sequence[str]) -> None:
        """Raise ActionError when this executor cannot work for these paths."""

    def run(self, path: str, keeper: str, sha256: str) -> str | None:
        raise NotImplementedError


class DryRun(Executor):
    """The dry run: every check runs, nothing moves."""

    moves = False

    def run(self, path: str, keeper: str, sha256: str) -> str | None:
        return None


_PROBE = b"dupfind checks that the trash works; this file is removed at once\n"


def _not_tmpfs(folder: str, what: str) -> None:
    kind = filesystem_type(folder)
    if kind in TMPFS_TYPES:
        raise ActionError(f"{what} {folder} is on {kind}, which is lost at reboot; use --move-to DIR")


class Trash(Executor):
    """The system trash, through send2trash."""

    def preflight(self, paths: Sequence[str]) -> None:
        # A real round trip per filesystem: a probe file is trashed and found in the trash.
        # On home's filesystem the probe is made beside the trash, so no photo folder is
        # touched; on another one it must be made there (send2trash picks the trash by device).
        _, data_home = home_trash()
        try:
            home_device: int | None = os.stat(os.path.realpath(os.path.expanduser("~"))).st_dev
        except OSError:  # no home folder: every probe is made beside the files
            home_device = None
        seen: set[int] = set()
        for path in paths:
            folder = os.path.dirname(os.path.abspath(path))
            try:
                device = os.stat(folder).st_dev
            except OSError:
                continue
            if device not in seen:
                seen.add(device)
                self._probe(data_home if device == home_device else folder)

    def _probe(self, folder: str) -> None:
        probe = os.path.join(folder, f".dupfind-trash-probe-{os.getpid()}")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(probe, "xb") as f:
                f.write(_PROBE)
        except OSError as exc:
            raise ActionError(
                f"the trash does not work: cannot write a probe in {folder} ({exc.strerror}); nothing was moved"
            ) from None
        try:
            self.run(probe, "", "")
        except ActionError as exc:
            os.unlink(probe)  # our own probe file, not a photo
            raise ActionError(f"the trash does not work for {folder}: {exc}; nothing was moved") from None
        found = find_trashed(probe, hashlib.sha256(_PROBE).hexdigest())
        if found is None:
            raise ActionError(f"the trash for {folder} cannot be found after trashing; nothing was moved")
        os.unlink(found.data)  # the probe and its trashinfo: ours, not photos
        os.unlink(found.info)
        _not_tmpfs(os.path.dirname(os.path.dirname(found.data)), "the trash")

    def run(self, path: str, keeper: str, sha256: str) -> str | None:
        # Imported here: only the action phase needs it.
        from send2trash import send2trash
        from send2trash.exceptions import TrashPermissionError

        try:
            send2trash(path)
        except (OSError, TrashPermissionError) as exc:
            raise ActionError(f"trash failed: {exc or type(exc).__name__}") from None
        if os.path.lexists(path):
            raise ActionError("trash reported success but the file is still there")
        found = find_trashed(path, sha256) if sha256 else None
        return found.data if found else None


class Quarantine(Executor):
    """``--move-to DIR``: the file goes to DIR + its absolute path (never overwriting)."""

    def __init__(self, folder: str) -> None:
        self.folder: str = os.path.abspath(folder)

    def preflight(self, paths: Sequence[str]) -> None:
        try:
            os.makedirs(self.folder, exist_ok=True)
            probe = os.path.join(self.folder, f".dupfind-probe-{os.getpid()}")
            with open(probe, "x"):
                pass
            os.unlink(probe)  # our own empty probe
        except OSError as exc:
            raise ActionError(f"cannot use the quarantine {self.folder}: {exc.strerror}") from None
        _not_tmpfs(self.folder, "the quarantine")

    def destination(self, path: str) -> str:
        target = os.path.join(self.folder, os.path.abspath(path).lstrip(os.sep))
        stem, ext = os.path.splitext(target)
        n = 1
        while os.path.lexists(target):
            n += 1
            target = f"{stem} ({n}){ext}"
        return target

    def run(self, path: str, keeper: str, sha256: str) -> str | None:
        target = self.destination(path)
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.stat(os.path.dirname(target)).st_dev == os.lstat(path).st_dev:
                os.rename(path, target)
                return target
            # Another filesystem: copy, verify the copy, and only then trash the source.
            partial = target + ".dupfind-partial"
            shutil.copy2(path, partial)
            if read_bytes(partial)[2] != sha256:
                os.unlink(partial)  # our own incomplete copy
                raise ActionError("the copy in the quarantine does not match")
            os.rename(partial, target)
        except OSError as exc:
            raise ActionError(f"move failed: {exc.strerror or exc}") from None
        Trash().run(path, keeper, sha256)
        return target


class Hardlink(Executor):
    """``--hardlink``: the copy becomes a hard link to the keeper. The link is made under a
    temporary name and renamed over the copy; the copy is never deleted first."""

    def run(self, path: str, keeper: str, sha256: str) -> str | None:
        temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.dupfind-{os.getpid()}")
        try:
            os.link(keeper, temporary)
        except OSError as exc:
            raise ActionError(f"cannot link to the keeper: {exc.strerror}") from None
        try:
            if os.lstat(temporary).st_ino != os.lstat(keeper).st_ino:
                raise ActionError("the new link is not the keeper")
            os.rename(temporary, path)
        except (OSError, ActionError) as exc:
            os.unlink(temporary)  # a second name of the keeper, made just now
            raise ActionError(f"cannot replace the copy: {exc}") from None
        return keeper


def executor_for(action: str, move_to: str | None, dry_run: bool) -> Executor:
    if dry_run:
        return DryRun()
    if action == "move":
        return Quarantine(move_to or "")
    return Hardlink() if action == "hardlink" else Trash()


# -- the action phase --------------------------------------------------------------------------
@dataclass
class Actor:
    """Applies planned groups one at a time; with a journal unless it is a dry run.

    A move that cannot be journaled is not made: once the journal cannot be written (a full
    disk), ``stopped`` says why and every later group is refused untouched."""

    executor: Executor
    journal: Journal | None = None
    arguments: tuple[str, ...] = ()
    run_id: str = ""
    seq: int = 0
    off_limits: OffLimits = field(default_factory=OffLimits.around)
    stopped: str | None = None

    def finish(self) -> None:
        if self.journal and self.run_id and not self.stopped:
            self._record(self.journal.end_run, self.run_id)

    def apply(self, group: PlannedGroup) -> GroupOutcome:
        if not group.victims:
            return GroupOutcome(group, ())
        if self.stopped:
            return GroupOutcome(group, (), refused=f"not attempted: {self.stopped}")
        problem = check_keeper(group, self.off_limits, byte_level=self.executor.moves)
        if problem:
            return GroupOutcome(group, (), refused=problem)
        outcomes: list[Outcome] = []
        for action in group.victims:
            outcomes += self._apply_one(group, action)
        return GroupOutcome(group, tuple(outcomes))

    def _record(self, write: Callable[..., object], *args: object, **fields: object) -> bool:
        """Write one journal record; on failure stop the run (and say why) and return False."""
        try:
            write(*args, **fields)
        except OSError as exc:
            self._journal_failed(exc)
            return False
        return True

    def _journal_failed(self, exc: OSError) -> None:
        where = self.journal.path if self.journal else "journal"
        self.stopped = f"the journal {where} cannot be written ({exc.strerror or exc})"

    def _apply_one(self, group: PlannedGroup, action: Action) -> list[Outcome]:
        victim = action.candidate
        if self.stopped:
            return [
                Outcome(name, action.action, False, f"not attempted: {self.stopped}") for name in victim.names
            ]
        problem = check_victim(group, action, byte_level=self.executor.moves)
        if problem:
            return [Outcome(name, action.action, False, problem) for name in victim.names]
        all_names = _link_count(victim) == len(victim.names)
        outcomes: list[Outcome] = []
        for i, name in enumerate(victim.names):
            outcome = self._move(group, action, name)
            last = i == len(victim.names) - 1
            if outcome.done and last and all_names and all(o.done for o in outcomes):
                outcome = Outcome(
                    outcome.path,
                    outcome.action,
                    True,
                    outcome.reason,
                    outcome.destination,
                    victim.file.size_bytes,
                )
            outcomes.append(outcome)
        return outcomes

    def _move(self, group: PlannedGroup, action: Action, name: str) -> Outcome:
        keeper, victim = group.keeper, action.candidate
        self.seq += 1
        if self.journal:
            # No record, no move: a move the journal does not know of could not be undone.
            if not self.run_id:  # a run is recorded once it moves something
                run_id = self._start_run()
                if run_id is None:
                    return Outcome(name, action.action, False, f"not moved: {self.stopped}")
                self.run_id = run_id
            intent = {
                "action": action.action,
                "path": name,
                "sha256": victim.fingerprint.sha256,
                "dev": victim.file.dev,
                "ino": victim.file.ino,
                "keeper": keeper.path,
            }
            if self.executor.folder:
                intent["quarantine"] = self.executor.folder
            if not self._record(self.journal.intent, self.run_id, self.seq, **intent):
                return Outcome(name, action.action, False, f"not moved: {self.stopped}")
        try:
            destination = self.executor.run(name, keeper.path, victim.fingerprint.sha256)
        except ActionError as exc:
            if self.journal:
                self._record(self.journal.outcome, self.run_id, self.seq, "failed", reason=str(exc))
            return Outcome(name, action.action, False, str(exc))
        if self.journal:
            # Moved but not recorded as done: the next run reconciles the pending intent.
            self._record(self.journal.outcome, self.run_id, self.seq, "done", destination=destination)
        if not self.executor.moves:
            return Outcome(name, action.action, False, "dry run")
        return Outcome(name, action.action, True, action.reason, destination)

    def _start_run(self) -> str | None:
        assert self.journal is not None
        try:
            return self.journal.start_run(list(self.arguments))
        except OSError as exc:
            self._journal_failed(exc)
            return None


def _link_count(c: Candidate) -> int:
    try:
        return os.lstat(c.path).st_nlink
    except OSError:
        return 0


def preflight(executor: Executor, groups: Sequence[PlannedGroup]) -> None:
    """Check, before the first action, that the executor works for these groups' files."""
    executor.preflight([name for g in groups for a in g.victims for name in a.candidate.names])


# -- after a crash, and undo -------------------------------------------------------------------
def reconcile(journal: Journal) -> list[str]:
    """Settle actions whose run was interrupted between intent and outcome; returns notes."""
    notes = []
    for entry in journal.entries():
        if entry.state != "pending":
            continue
        path, sha = entry.intent["path"], entry.intent["sha256"]
        if entry.intent["action"] == "hardlink":
            state = "done" if _same_inode(path, entry.intent["keeper"]) else "failed"
            journal.outcome(
                entry.run, entry.seq, state, destination=entry.intent["keeper"], reason="reconciled"
            )
            continue
        found = find_trashed(path, sha)
        if found is not None and not os.path.lexists(path):
            journal.outcome(entry.run, entry.seq, "done", destination=found.data, reason="reconciled")
            notes.append(f"{path}: found in the trash after an interrupted run")
        elif os.path.lexists(path):
            journal.outcome(entry.run, entry.seq, "failed", reason="interrupted before the move (reconciled)")
        else:
            journal.outcome(
                entry.run, entry.seq, "failed", reason="not at its path nor in the trash (reconciled)"
            )
            notes.append(f"{path}: interrupted run; not found in the trash, look in the quarantine")
    return notes


def _same_inode(a: str, b: str) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def undo(journal: Journal, run: str) -> list[Outcome]:
    """Put back every file the run moved away, never over an occupied path."""
    outcomes: list[Outcome] = []
    for entry in journal.entries(run):
        if entry.state != "done" or entry.intent["action"] == "hardlink":
            continue
        outcome = _restore(entry.intent, entry.detail.get("destination"))
        if outcome.done:
            journal.outcome(entry.run, entry.seq, "restored")
        outcomes.append(outcome)
    return outcomes


def _restore(intent: dict, destination: str | None) -> Outcome:
    path, sha = intent["path"], intent["sha256"]
    if os.path.lexists(path):
        return Outcome(path, "restore", False, "the original path is occupied: left where it is", destination)
    info = None
    if destination is None or not os.path.lexists(destination):
        found = find_trashed(path, sha)
        if found is None:
            return Outcome(path, "restore", False, "not found in the trash or the quarantine")
        destination, info = found.data, found.info
    elif intent["action"] == "trash":
        found = find_trashed(path, sha)
        info = found.info if found and found.data == destination else None
    try:
        if read_bytes(destination)[2] != sha:
            return Outcome(path, "restore", False, "the trashed file's content changed", destination)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _put_back(destination, path, sha)
    except (OSError, FingerprintError) as exc:
        return Outcome(
            path, "restore", False, f"cannot restore: {getattr(exc, 'strerror', None) or exc}", destination
        )
    if info:
        os.unlink(info)  # the trash's note about the file, now back home
    return Outcome(path, "restore", True, "", destination)


def _put_back(source: str, path: str, sha256: str) -> None:
    # os.link fails when the path was taken meanwhile, so nothing is ever overwritten.
    try:
        os.link(source, path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # The quarantine was on another filesystem: copy, verify, then link into place.
        partial = f"{path}.dupfind-partial"
        shutil.copy2(source, partial)
        try:
            if read_bytes(partial)[2] != sha256:
                raise OSError(errno.EIO, "the restored copy does not match") from None
            os.link(partial, path)
        finally:
            os.unlink(partial)  # our own temporary name
        return  # the quarantined copy stays: a second copy is never a loss
    os.unlink(source)  # the second name of the file just restored
