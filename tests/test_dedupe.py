"""dedupe and undo end to end: SAFETY.md cases 4-17 and 36-39, with the real send2trash
against a real trash folder under tmp_path (XDG_DATA_HOME), in subprocesses so that each
run reads its own environment, as a user's would."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dupfind import ScanOptions, open_cache, scan
from dupfind.act import Actor, Quarantine
from dupfind.fingerprint import PARAMS
from dupfind.group import candidates, group_duplicates
from dupfind.keeper import parse_rules, rank_key
from dupfind.models import Candidate, Fingerprint, Group, ImageFile
from dupfind.plan import PlanOptions, plan_all, plan_group
from dupfind.similarity import matches, similarity

from .conftest import SYMMETRIC_THUMB, photo, save, sha256_of, tree_snapshot, write_photo


def dupfind(env: dict[str, str], *args: str, stdin: str | None = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dupfind", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def library(root: Path) -> dict[str, Path]:
    """An exact pair, a near pair (same picture smaller) and an unrelated photo."""
    files = {
        "a": write_photo(root / "a.jpg", 1, (640, 480), quality=95),
        "b": write_photo(root / "b.jpg", 2, (640, 480), quality=95),
        "c": write_photo(root / "other" / "c.jpg", 3, (640, 480), quality=95),
    }
    (root / "backup").mkdir()
    files["a_copy"] = Path(shutil.copy2(files["a"], root / "backup" / "a.jpg"))
    files["b_small"] = save(photo(2, (320, 240)), root / "phone" / "b_small.jpg", quality=85)
    return files


def contents(root: Path) -> dict[str, str]:
    return {str(p): sha256_of(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def trash_files(tmp_path: Path) -> dict[str, str]:
    return (
        contents(tmp_path / "xdg" / "Trash" / "files")
        if (tmp_path / "xdg" / "Trash" / "files").exists()
        else {}
    )


def assert_no_loss(before: dict[str, str], lib: Path, tmp_path: Path) -> None:
    """The no-loss oracle: every file that left the library is, with the same bytes, in
    the trash; and no picture lost all its copies (exact copies keep their SHA-256 in the
    library; a near duplicate's keeper is still there, checked by the callers)."""
    now = contents(lib)
    in_trash = set(trash_files(tmp_path).values())
    for path, sha in before.items():
        assert path in now or sha in in_trash, f"{path} is neither in the library nor in the trash"
    assert set(before.values()) <= set(now.values()) | in_trash


def plan_members(doc: dict) -> list[tuple[str, str, str]]:
    return sorted((g["kind"], m["path"], m["action"]) for g in doc["groups"] for m in g["members"])


# -- dry run, plan and real run --------------------------------------------------------------
def test_dry_run_touches_nothing_and_prints_the_plan_a_real_run_executes(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    dupfind(home, "scan", str(lib))
    before_tree, before_trash = tree_snapshot(lib), trash_files(tmp_path)
    dry = dupfind(home, "dedupe", "--dry-run", "--yes", "--yes-near", "--json", str(lib))
    assert dry.returncode == 0, dry.stderr
    assert tree_snapshot(lib) == before_tree and trash_files(tmp_path) == before_trash
    assert not (tmp_path / "state" / "cache.sqlite3.actions.jsonl").exists()
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] and {g["kind"] for g in plan["groups"]} == {"exact", "near"}
    before = contents(lib)
    real = dupfind(home, "dedupe", "--yes", "--yes-near", "--json", str(lib))
    assert real.returncode == 0, real.stderr
    done = json.loads(real.stdout)
    assert plan_members(done) == plan_members(plan)
    trashed = [m["path"] for g in done["groups"] for m in g["members"] if m["action"] == "trash"]
    assert sorted(trashed) == sorted([str(lib / "backup" / "a.jpg"), str(lib / "phone" / "b_small.jpg")])
    assert all(m["done"] for g in done["groups"] for m in g["members"] if m["action"] == "trash")
    assert not any(Path(p).exists() for p in trashed)
    assert done["summary"]["files_removed"] == 2
    assert_no_loss(before, lib, tmp_path)


def test_yes_covers_exact_groups_only(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    result = dupfind(home, "dedupe", "--yes", "--json", str(lib))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    near = [g for g in doc["groups"] if g["kind"] == "near"]
    assert near and all(m["action"] in ("keep", "skip") for g in near for m in g["members"])
    assert (lib / "phone" / "b_small.jpg").exists() and not (lib / "backup" / "a.jpg").exists()


def test_without_a_terminal_or_yes_nothing_is_removed(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = tree_snapshot(lib)
    result = dupfind(home, "dedupe", str(lib))
    assert result.returncode == 1
    assert "nothing removed without --yes" in result.stderr
    assert tree_snapshot(lib) == before


def test_undo_restores_a_run_and_never_overwrites(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    files = library(lib)
    before = contents(lib)
    assert dupfind(home, "dedupe", "--yes", "--yes-near", str(lib)).returncode == 0
    runs = json.loads(dupfind(home, "undo", "--json").stdout)["runs"]
    assert len(runs) == 1 and runs[0]["actions"] == 2
    # Case 16: one original path is occupied again: that file stays in the trash.
    write_photo(files["b_small"], 9)
    occupied = sha256_of(files["b_small"])
    result = dupfind(home, "undo", runs[0]["id"])
    assert result.returncode == 4
    assert "occupied" in result.stdout
    assert sha256_of(files["b_small"]) == occupied
    assert sha256_of(lib / "backup" / "a.jpg") == before[str(lib / "backup" / "a.jpg")]
    assert list(trash_files(tmp_path).values()) == [before[str(files["b_small"])]]


def test_move_to_quarantine_keeps_the_path_and_undo_brings_it_back(tmp_path: Path, home) -> None:
    lib, quarantine = tmp_path / "lib", tmp_path / "quarantine"
    library(lib)
    before = contents(lib)
    result = dupfind(home, "dedupe", "--yes", "--move-to", str(quarantine), str(lib))
    assert result.returncode == 0, result.stderr
    moved = quarantine / str(lib / "backup" / "a.jpg").lstrip("/")
    assert sha256_of(moved) == before[str(lib / "backup" / "a.jpg")]
    run = json.loads(dupfind(home, "undo", "--json").stdout)["runs"][0]["id"]
    assert dupfind(home, "undo", run).returncode == 0
    assert contents(lib) == before and not moved.exists()


def test_hardlink_replaces_an_exact_copy_with_a_link_to_the_keeper(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    files = library(lib)
    before = contents(lib)
    result = dupfind(home, "dedupe", "--yes", "--yes-near", "--hardlink", "--json", str(lib))
    assert result.returncode == 0, result.stderr
    assert os.path.samefile(files["a"], lib / "backup" / "a.jpg")
    assert contents(lib) == before  # every path still holds the same bytes
    doc = json.loads(result.stdout)
    near = [m for g in doc["groups"] if g["kind"] == "near" for m in g["members"] if m["action"] != "keep"]
    assert near and all(m["action"] == "skip" for m in near)


# -- identity ----------------------------------------------------------------------------------
def test_hard_links_are_one_file_and_space_counts_once(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    a = write_photo(lib / "a.jpg", 1)
    os.link(a, lib / "b.jpg")
    alone = dupfind(home, "dedupe", "--dry-run", "--json", str(lib))
    assert json.loads(alone.stdout)["groups"] == []  # two names of one file: nothing offered
    (lib / "z").mkdir()
    shutil.copy2(a, lib / "z" / "c.jpg")
    result = dupfind(home, "dedupe", "--yes", "--keep", "path:*/z/*", "--json", str(lib))
    doc = json.loads(result.stdout)
    (group,) = doc["groups"]
    assert group["keeper"] == str(lib / "z" / "c.jpg")
    assert sorted(m["path"] for m in group["members"] if m["done"]) == [
        str(lib / "a.jpg"),
        str(lib / "b.jpg"),
    ]
    assert doc["summary"]["bytes_freed"] == (lib / "z" / "c.jpg").stat().st_size


def test_zero_byte_files_are_never_grouped(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    for name in ("a.jpg", "b.jpg", "c.png"):
        (lib / name).parent.mkdir(exist_ok=True)
        (lib / name).write_bytes(b"")
    doc = json.loads(dupfind(home, "dedupe", "--dry-run", "--json", str(lib)).stdout)
    assert doc["groups"] == []


def test_protected_copies_are_never_offered(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    shutil.copy2(lib / "other" / "c.jpg", lib / "backup" / "c.jpg")
    result = dupfind(
        home,
        "dedupe",
        "--yes",
        "--yes-near",
        "--protect",
        str(lib / "backup"),
        "--protect",
        str(lib / "other"),
        "--json",
        str(lib),
    )
    doc = json.loads(result.stdout)
    actions = {m["path"]: m["action"] for g in doc["groups"] for m in g["members"]}
    assert actions[str(lib / "backup" / "a.jpg")] == "keep"  # protected copies are kept first
    assert actions[str(lib / "a.jpg")] == "trash"
    # Both copies of c are protected: neither is offered.
    assert {actions[str(lib / "backup" / "c.jpg")], actions[str(lib / "other" / "c.jpg")]} <= {
        "keep",
        "protected",
    }
    assert (lib / "backup" / "c.jpg").exists() and (lib / "other" / "c.jpg").exists()


# -- action time (the library API with a quarantine, so the checks run in-process) ------------
def _plan(lib: Path, threshold: int = 5):
    with open_cache(str(lib.parent / "api-cache.sqlite3"), PARAMS) as db:
        report = scan([str(lib)], db, ScanOptions(jobs=1))
    rules = parse_rules("resolution,oldest")
    rule = similarity(threshold)
    groups = group_duplicates(candidates(report.files, lambda p: False), rule, rank_key(rules))
    return {g.kind: plan_group(g, rules, PlanOptions("move", rule)) for g in groups}


def test_victim_changed_after_the_scan_is_refused_and_other_groups_proceed(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    library(lib)
    plans = _plan(lib)
    victim = Path(plans["exact"].victims[0].candidate.path)
    st = victim.stat()
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0xFF  # same size, timestamps copied back: only ctime and the bytes tell
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    actor = Actor(Quarantine(str(tmp_path / "q")))
    exact = actor.apply(plans["exact"])
    assert not any(o.done for o in exact.outcomes) and victim.exists()
    assert "changed" in exact.outcomes[0].reason
    near = actor.apply(plans["near"])
    assert all(o.done for o in near.outcomes)


def test_keeper_gone_refuses_the_whole_group(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    library(lib)
    plans = _plan(lib)
    keeper = Path(plans["exact"].keeper.path)
    keeper.rename(tmp_path / "elsewhere.jpg")
    result = Actor(Quarantine(str(tmp_path / "q"))).apply(plans["exact"])
    assert result.refused == "keeper no longer there" and result.outcomes == ()
    assert all(Path(a.candidate.path).exists() for a in plans["exact"].victims)


@pytest.mark.parametrize("replacement", ["directory", "symlink", "fifo", "hardlink-to-keeper"])
def test_victim_replaced_by_another_kind_of_file_is_refused(tmp_path: Path, replacement: str) -> None:
    lib = tmp_path / "lib"
    library(lib)
    plans = _plan(lib)
    victim = Path(plans["exact"].victims[0].candidate.path)
    victim.rename(tmp_path / "saved.jpg")
    if replacement == "directory":
        victim.mkdir()
    elif replacement == "symlink":
        victim.symlink_to(tmp_path / "saved.jpg")
    elif replacement == "fifo":
        os.mkfifo(victim)
    else:
        os.link(plans["exact"].keeper.path, victim)
    result = Actor(Quarantine(str(tmp_path / "q"))).apply(plans["exact"])
    assert not any(o.done for o in result.outcomes)
    assert os.path.lexists(victim) and not (tmp_path / "q").exists()
    if replacement == "hardlink-to-keeper":
        # Linking changes the keeper's ctime too: the whole group is refused, nothing moves.
        assert result.refused == "keeper changed since the scan"


def _candidate(name: str, phash: int, pixels: int = 100) -> Candidate:
    file = ImageFile(name, 1, abs(hash(name)) % 10**9, 1000, 0, 0)
    fp = Fingerprint(
        name.encode().hex().ljust(64, "0")[:64],
        ahash=0xFF00FF00FF00FF00,
        dhash=0xF0F0F0F0F0F0F0F0,
        phash=phash,
        width=pixels,
        height=pixels,
        format="JPEG",
        stable_bits=40,
        thumb=SYMMETRIC_THUMB,
    )
    return Candidate(file, fp, (name,))


def test_near_chains_are_never_grouped_through_the_middle() -> None:
    # d(A,B) = 6, d(B,C) = 6, d(A,C) = 12, threshold 8, A the best copy: C is not A's victim.
    a = _candidate("/A", 0, 300)
    b = _candidate("/B", 0b000000111111, 200)
    c = _candidate("/C", 0b111111111111, 100)
    phash = {x.path: x.fingerprint.phash or 0 for x in (a, b, c)}
    distances = [(phash[x] ^ phash[y]).bit_count() for x, y in (("/A", "/B"), ("/B", "/C"), ("/A", "/C"))]
    assert distances == [6, 6, 12]
    groups = group_duplicates([a, b, c], similarity(8), rank_key(parse_rules("resolution")))
    assert [(g.kind, [m.path for m in g.members]) for g in groups] == [("near", ["/A", "/B"])]


def test_every_group_member_is_within_the_threshold_of_its_keeper() -> None:
    import random

    rng = random.Random(7)
    files = []
    for i in range(300):
        base = rng.getrandbits(64) if i % 3 == 0 else files[-1].fingerprint.phash or 0
        files.append(
            _candidate(
                f"/f{i:03}",
                base ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)),
                rng.randrange(50, 500),
            )
        )
    for threshold in (0, 2, 4, 8):
        groups = group_duplicates(files, similarity(threshold), rank_key(parse_rules("resolution")))
        seen: set[str] = set()
        for g in groups:
            keeper = g.members[0]
            assert len(g.members) > 1
            for m in g.members:
                assert m.path not in seen
                seen.add(m.path)
                assert ((m.fingerprint.phash or 0) ^ (keeper.fingerprint.phash or 0)).bit_count() <= threshold
                assert matches(keeper.fingerprint, m.fingerprint, similarity(threshold))
            assert keeper == min(g.members, key=rank_key(parse_rules("resolution")))


def test_a_group_is_never_planned_without_its_keeper() -> None:
    a, b = _candidate("/A", 0, 300), _candidate("/B", 1, 200)
    group = Group("near", (a, b))
    for index in (0, 1):
        plan = plan_group(group, parse_rules("resolution"), PlanOptions("trash", similarity(5)), index)
        assert [x.action for x in plan.actions].count("keep") == 1
        assert plan.keeper not in [v.candidate for v in plan.victims]


# -- concurrency and crashes -----------------------------------------------------------------
def test_two_runs_with_opposite_rules_never_remove_both_copies(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    a = write_photo(lib / "a.jpg", 1)
    shutil.copy2(a, lib / "b.jpg")
    os.utime(lib / "b.jpg", ns=(10**18, 10**18))
    assert dupfind(home, "scan", str(lib)).returncode == 0
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dupfind", "dedupe", "--yes", "--keep", rule, str(lib)],
            env=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for rule in ("oldest", "newest")
    ]
    for p in procs:
        p.communicate(timeout=120)
    left = [p for p in (lib / "a.jpg", lib / "b.jpg") if p.exists()]
    assert len(left) == 1
    assert len(trash_files(tmp_path)) == 1


def test_an_interrupted_run_is_reconciled_and_can_be_undone(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = contents(lib)
    assert dupfind(home, "dedupe", "--yes", "--yes-near", str(lib)).returncode == 0
    journal = tmp_path / "state" / "cache.sqlite3.actions.jsonl"
    lines = journal.read_text().splitlines()
    # As if killed right after the first move: its "done" record and the rest never written.
    first_done = next(i for i, line in enumerate(lines) if '"event": "done"' in line)
    journal.write_text("\n".join(lines[:first_done]) + '\n{"event": "do')
    result = dupfind(home, "undo")
    assert result.returncode == 0
    log = [json.loads(line) for line in journal.read_text().splitlines()[first_done + 1 :]]
    assert any(r["event"] == "done" and r.get("reason") == "reconciled" for r in log)
    run = json.loads(dupfind(home, "undo", "--json").stdout)["runs"][0]["id"]
    assert dupfind(home, "undo", run).returncode == 0
    restored = contents(lib)
    moved_first = json.loads(lines[first_done - 1])["path"]
    assert restored[moved_first] == before[moved_first]
    assert_no_loss(before, lib, tmp_path)


# -- the trash failing ---------------------------------------------------------------------------
def test_no_usable_trash_refuses_before_any_move(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    (tmp_path / "xdg").write_text("not a folder")
    before = tree_snapshot(lib)
    result = dupfind(home, "dedupe", "--yes", str(lib))
    assert result.returncode == 1
    assert "trash does not work" in result.stderr and "Traceback" not in result.stderr
    assert tree_snapshot(lib) == before


@pytest.mark.parametrize("error", ["oserror-no-errno", "permission"])
def test_a_failing_trash_leaves_the_file_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    import send2trash
    from send2trash.exceptions import TrashPermissionError

    def broken(path: str) -> None:
        raise OSError() if error == "oserror-no-errno" else TrashPermissionError(path)

    monkeypatch.setattr(send2trash, "send2trash", broken)
    from dupfind.act import Trash

    lib = tmp_path / "lib"
    library(lib)
    plans = _plan(lib)
    result = Actor(Trash()).apply(plans["exact"])
    (outcome,) = result.outcomes
    assert not outcome.done and outcome.reason.startswith("trash failed")
    assert Path(outcome.path).exists()


# -- the review -----------------------------------------------------------------------------------
def review(env: dict[str, str], args: list[str], keys: list[str], wait: float = 30) -> tuple[int, str]:
    """Run dedupe on a pseudo-terminal, typing each answer when a prompt appears."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-m", "dupfind", "dedupe", *args], env)
    output, pending = b"", list(keys)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if pending and output.rstrip().endswith(b"?:"):
                os.write(fd, pending.pop(0).encode())
                output += b"\n"
    else:
        os.kill(pid, 9)  # a review that never ends is a failure, not a hung test run
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_review_shows_each_file_and_skip_is_the_default(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = tree_snapshot(lib)
    code, out = review(home, ["-q", str(lib)], ["\n", "\n"])
    assert code == 0, out
    assert (
        "exact copies (same bytes)" in out
        and "near duplicates (pHash within 14 bits, pHash + dHash within 24" in out
    )
    assert "640x480 JPEG" in out and "KEEP" in out and "because:" in out
    assert tree_snapshot(lib) == before


def test_review_choosing_another_keeper_keeps_that_one(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    code, out = review(home, ["-q", "--threshold", "0", str(lib)], ["2\n"])
    assert code == 0, out
    # a.jpg wins by the rules (older); answering 2 keeps the backup copy instead.
    assert (lib / "backup" / "a.jpg").exists() and not (lib / "a.jpg").exists()
    assert "trash: " + str(lib / "a.jpg") in out


@pytest.mark.parametrize("key", ["\x04", "\x03"])  # EOF (Ctrl-D) and Ctrl-C at the first prompt
def test_review_stopped_at_a_prompt_touches_nothing(tmp_path: Path, home, key: str) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = tree_snapshot(lib)
    code, out = review(home, ["-q", str(lib)], [key])
    assert code != 0
    assert tree_snapshot(lib) == before
    assert "Traceback" not in out


def test_closed_stdin_removes_nothing(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = tree_snapshot(lib)
    result = subprocess.run(
        [sys.executable, "-m", "dupfind", "dedupe", str(lib)],
        env=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and tree_snapshot(lib) == before


# -- properties, crashes and awkward names -------------------------------------------------------

ENTRY = st.tuples(
    st.sampled_from(["copy", "hardlink", "symlink", "renamed", "empty", "near", "new"]),
    st.integers(0, 3),  # which earlier picture it refers to
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    entries=st.lists(ENTRY, min_size=1, max_size=10),
    rules=st.permutations(["resolution", "largest", "oldest", "newest", "shortest-path", "path:*/d1/*"]),
    threshold=st.integers(0, 8),
)
def test_no_loss_oracle_holds_on_random_trees(tmp_path_factory, entries, rules, threshold) -> None:
    root = tmp_path_factory.mktemp("tree")
    lib = root / "lib"
    pictures = [write_photo(lib / "d0" / "p0.jpg", 100, (256, 192))]
    for n, (kind, ref) in enumerate(entries, 1):
        source = pictures[ref % len(pictures)]
        target = lib / f"d{n % 3}" / f"f{n}.{'png' if kind == 'near' else 'jpg'}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind in ("copy", "renamed"):
            shutil.copy2(source, target if kind == "copy" else target.with_name(f"renamed-{n}.jpg"))
        elif kind == "hardlink":
            os.link(source, target)
        elif kind == "symlink":
            target.symlink_to(source)
        elif kind == "empty":
            target.write_bytes(b"")
        elif kind == "near":
            with Image.open(source) as im:
                im.resize((128, 96)).save(target)
        else:
            pictures.append(write_photo(target, 100 + n, (256, 192)))
    before = contents(lib)
    with open_cache(str(root / "cache.sqlite3"), PARAMS) as db:
        report = scan([str(lib)], db, ScanOptions(jobs=1))
    quarantine = root / "q"
    actor = Actor(Quarantine(str(quarantine)))
    keepers = []
    for _, plan in plan_all(
        report.files,
        parse_rules(",".join(rules)),
        PlanOptions("move", similarity(threshold)),
        lambda p: False,
    ):
        result = actor.apply(plan)
        assert result.refused is None
        keepers.append(plan.keeper.path)
    now = contents(lib)
    kept = (
        set(now.values()) | set(contents(quarantine).values()) if quarantine.exists() else set(now.values())
    )
    assert set(before.values()) <= kept  # every byte sequence is somewhere
    for path in keepers:
        assert path in now  # every group kept its keeper
    for path in before:
        assert path in now or not Path(path).exists()


def test_sigkill_in_the_action_phase_is_reconciled_and_undone(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    for i in range(100):  # 300 copies to trash: the kill lands long before the end
        original = write_photo(lib / f"o{i:03}.jpg", 200 + i, (64, 48))
        for j in range(3):
            shutil.copy2(original, lib / f"copy{j}-{i:03}.jpg")
    before = contents(lib)
    assert dupfind(home, "scan", str(lib)).returncode == 0
    journal = tmp_path / "state" / "cache.sqlite3.actions.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dupfind", "dedupe", "--yes", "-q", str(lib)],
        env=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not journal.exists() or journal.read_text().count('"event": "done"') < 10
    ):
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    done = journal.read_text().count('"event": "done"')
    assert 10 <= done < 300, "the kill must land in the middle of the action phase"
    assert_no_loss(before, lib, tmp_path)
    assert dupfind(home, "undo").returncode == 0  # reconciles, then lists
    entries = [json.loads(line) for line in journal.read_text().splitlines() if line.strip().endswith("}")]
    intents = {(e["run"], e["seq"]) for e in entries if e["event"] == "intent"}
    settled = {(e["run"], e["seq"]) for e in entries if e["event"] in ("done", "failed")}
    assert intents == settled
    run = json.loads(dupfind(home, "undo", "--json").stdout)["runs"][0]["id"]
    assert dupfind(home, "undo", run).returncode == 0
    assert contents(lib) == before
    assert trash_files(tmp_path) == {}


def test_awkward_names_are_trashed_shown_escaped_and_restored(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    original = write_photo(lib / "a.jpg", 1)
    names = [b"caf\xe9.jpg", b"new\nline.jpg", b"-leading.jpg"]
    for name in names:
        shutil.copy2(original, os.path.join(os.fsencode(lib), name))
    before = contents(lib)
    result = dupfind(home, "dedupe", "--yes", "--keep", "path:*/a.jpg", str(lib))
    assert result.returncode == 0, result.stderr
    assert "caf\\xe9.jpg" in result.stdout and "new\\nline.jpg" in result.stdout
    assert sorted(os.listdir(os.fsencode(lib))) == [b"a.jpg"]
    run = json.loads(dupfind(home, "undo", "--json").stdout)["runs"][0]["id"]
    assert dupfind(home, "undo", run).returncode == 0
    assert contents(lib) == before


def test_blank_pictures_and_undecodable_files_never_form_near_groups(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255)), ("grey", (128, 128, 128))):
        Image.new("RGB", (200, 150), colour).save(lib / f"{name}.png")
    whole = write_photo(lib / "photo.jpg", 5, (640, 480), quality=95)
    (lib / "cut.jpg").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    doc = json.loads(dupfind(home, "dedupe", "--dry-run", "--json", "--threshold", "12", str(lib)).stdout)
    assert doc["groups"] == []


def test_a_symlink_is_never_a_candidate_even_when_followed(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    write_photo(lib / "raw" / "a.jpg", 1)
    (lib / "best").mkdir()
    (lib / "best" / "a.jpg").symlink_to("../raw/a.jpg")
    for extra in ([], ["--follow-symlinks"]):
        doc = json.loads(dupfind(home, "dedupe", "--dry-run", "--json", *extra, str(lib)).stdout)
        assert doc["groups"] == []


def test_review_accept_all_exact_and_a_wrong_key_asks_again(tmp_path: Path, home) -> None:
    lib = tmp_path / "lib"
    for i in range(3):
        original = write_photo(lib / f"p{i}.jpg", 300 + i)
        shutil.copy2(original, lib / f"p{i}-copy.jpg")
        os.utime(lib / f"p{i}-copy.jpg", ns=(2 * 10**18, 2 * 10**18))  # 2033: the rules keep p{i}.jpg
    code, out = review(home, ["-q", str(lib)], ["x\n", "A\n"])
    assert code == 0, out
    assert "Not an answer: 'x'" in out
    # Two prompts, both for the first group: "A" accepted it and the two exact groups after it.
    assert out.count("?:") == 2
    assert sorted(p.name for p in lib.iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg"]


def test_a_trash_on_tmpfs_is_refused(tmp_path: Path, home) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm here")
    from dupfind.trashdir import filesystem_type

    if filesystem_type(str(shm)) != "tmpfs":
        pytest.skip("/dev/shm is not tmpfs here")
    lib = tmp_path / "lib"
    library(lib)
    before = tree_snapshot(lib)
    xdg = shm / f"dupfind-test-{os.getpid()}-{tmp_path.name}"
    try:
        result = dupfind({**home, "XDG_DATA_HOME": str(xdg)}, "dedupe", "--yes", str(lib))
        probes = list(shm.glob(f".Trash-{os.getuid()}/*/.dupfind-trash-probe-*"))
    finally:
        shutil.rmtree(xdg, ignore_errors=True)
        trash = shm / f".Trash-{os.getuid()}"  # made by send2trash for the probe: drop it if empty
        for folder in (trash / "files", trash / "info", trash):
            with contextlib.suppress(OSError):
                folder.rmdir()
    assert result.returncode == 1
    assert "tmpfs" in result.stderr and "lost at reboot" in result.stderr
    assert tree_snapshot(lib) == before
    assert probes == []  # the probe never stays in a trash


def test_a_copy_with_names_outside_the_roots_frees_nothing(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    library(lib)
    os.link(lib / "backup" / "a.jpg", tmp_path / "outside-name.jpg")  # a third name, not scanned
    plans = _plan(lib)
    result = Actor(Quarantine(str(tmp_path / "q"))).apply(plans["exact"])
    (outcome,) = result.outcomes
    assert outcome.done and outcome.freed_bytes == 0
    assert (tmp_path / "outside-name.jpg").exists()


def test_the_dry_run_checks_identity_only_and_the_real_run_rereads_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dry run shows the real plan without re-reading and re-decoding what would move
    # (at 100k pictures that was most of its time); the run that moves re-reads all of it.
    from dupfind import act

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib = tmp_path / "lib"
    library(lib)
    with open_cache(str(tmp_path / "c.sqlite3"), PARAMS) as cache:
        report = scan([str(lib)], cache, ScanOptions(jobs=1))
    plans = [p for _, p in plan_all(report.files, parse_rules("resolution"), PlanOptions(), lambda p: False)]
    assert {p.kind for p in plans} == {"exact", "near"}
    read: list[str] = []
    real_read = act.read_bytes
    monkeypatch.setattr(act, "read_bytes", lambda path, *rest: read.append(path) or real_read(path, *rest))

    dry = [act.Actor(act.DryRun()).apply(p) for p in plans]
    assert read == [] and all(not o.done and o.reason == "dry run" for r in dry for o in r.outcomes)

    touched = plans[0].victims[0].candidate.path  # an identity change still shows in the dry run
    os.utime(touched, ns=(0, 0))
    assert "changed since the scan" in act.Actor(act.DryRun()).apply(plans[0]).outcomes[0].reason

    real = [act.Actor(act.Trash()).apply(p) for p in plans[1:]]
    assert sorted(read) == sorted(
        {p.keeper.path for p in plans[1:]} | {v.candidate.path for p in plans[1:] for v in p.victims}
    )
    assert all(o.done for r in real for o in r.outcomes)
