"""What dupfind's commands share: exit codes, option groups, output, the scan with its
progress bars, the plan as dedupe makes it, and the action phase's lock. Owns, with the
other command modules, click and tqdm."""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import click

from .act import reconcile
from .cache import open_cache
from .errors import DupfindError
from .fingerprint import PARAMS
from .journal import Journal, exclusive
from .keeper import DEFAULT_RULES, Rule, parse_rules
from .models import Group, PlannedGroup, Progress, ScanReport, Similarity
from .plan import PlanOptions, plan_all, under_any
from .report import (
    install_hints,
    left_out_note,
)
from .scan import ScanOptions, scan
from .similarity import DEFAULT_PRESET, PRESETS, similarity
from .walk import WalkOptions, normalize_roots

EXIT_OK = 0
EXIT_ERROR = 1  # bad arguments, unusable cache
EXIT_UNREADABLE = 2  # compare: a file could not be read or decoded
EXIT_WARNINGS = 3  # scan finished, but some files or folders could not be read
EXIT_NOT_DONE = 4  # dedupe/undo: some planned actions failed or groups were refused
EXIT_INTERRUPTED = 130


class _ProgressBars:
    """Draws the core's Progress records as tqdm bars on stderr (only on a terminal)."""

    LABELS: ClassVar[dict[str, str]] = {"walk": "listing", "fingerprint": "fingerprinting"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None  # a tqdm bar while a stage runs
        self.stage = ""

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        if progress.stage != self.stage or self.bar is None:
            self.close()
            self.stage = progress.stage
            from tqdm import tqdm  # only on a terminal: 35 ms of every start otherwise

            self.bar = tqdm(
                total=progress.total,
                desc=self.LABELS.get(progress.stage, progress.stage),
                unit=" files",
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )
        if progress.total is not None and self.bar.total != progress.total:
            self.bar.total = progress.total
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _emit_json(document: dict[str, Any]) -> None:
    # One line: json's C encoder does not indent, and the Python one it falls back to took
    # a fifth of `dedupe --dry-run --json` on 4,295 files (a script parses it; jq shows it).
    click.echo(json.dumps(document))


def _emit_text(text: str) -> None:
    # Paths are already escaped; this guards against a stdout that cannot encode them,
    # also where _escape_unencodable could not reach (a library caller's stream).
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "backslashreplace").decode(encoding))


cache_option = click.option(
    "--cache",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Cache database (default: $DUPFIND_CACHE, else the user cache folder).",
)


def _option_group(into: str, build: Callable[..., Any], options: list[Any]) -> Callable[[Any], Any]:
    """Click options handed to the command as one value: ``into=build(**their values)``;
    ``build``'s parameters name the options' values."""
    keys = tuple(inspect.signature(build).parameters)

    def decorate(command: Any) -> Any:
        @functools.wraps(command)
        def wrapper(*args: Any, **kw: Any) -> Any:
            values = {key: kw.pop(key) for key in keys}
            return command(*args, **{into: build(**values)}, **kw)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


def _walk(exclude: tuple[str, ...], hidden: bool, follow_symlinks: bool) -> WalkOptions:
    return WalkOptions(exclude=exclude, hidden=hidden, follow_symlinks=follow_symlinks)


def _rule(similarity_name: str | None, threshold: int | None, no_rotations: bool) -> Similarity:
    if similarity_name is not None and threshold is not None:
        raise click.UsageError("--similarity and --threshold cannot be used together")
    bits = threshold if threshold is not None else PRESETS[similarity_name or DEFAULT_PRESET]
    return similarity(bits, rotations=not no_rotations)


# The walk's options, shared by scan and dedupe (which scans first), as ``walk``.
walk_options = _option_group(
    "walk",
    _walk,
    [
        click.option(
            "--exclude",
            metavar="GLOB",
            multiple=True,
            help="Skip files and folders matching GLOB (name or full path). Repeatable.",
        ),
        click.option(
            "--hidden", is_flag=True, help="Also scan hidden files and folders (names starting with '.')."
        ),
        click.option(
            "--follow-symlinks",
            is_flag=True,
            help="Follow symbolic links (each file and folder is still visited once).",
        ),
    ],
)
# --similarity, --threshold and --no-rotations, shared by compare and dedupe, as ``rule``.
similarity_options = _option_group(
    "rule",
    _rule,
    [
        click.option(
            "--similarity",
            "similarity_name",
            type=click.Choice(list(PRESETS)),
            help=f"How alike near duplicates must be (default {DEFAULT_PRESET}; README: Similarity).",
        ),
        click.option(
            "--threshold",
            type=click.IntRange(0, 32),
            help="Largest pHash distance (bits of 64) for near duplicates, instead of a preset; "
            "0: exact copies only.",
        ),
        click.option("--no-rotations", is_flag=True, help="Do not match mirrored, flipped or turned copies."),
    ],
)


def _scan(
    roots: tuple[str, ...], cache: str | None, options: ScanOptions, quiet: bool
) -> tuple[ScanReport, str, list[frozenset[str]]]:
    """Scan with progress bars and one-line errors; no ROOT means the roots of earlier scans.
    Returns the report, the cache's path and the user's "not duplicates" decisions."""
    bars = _ProgressBars(enabled=not quiet and sys.stderr.isatty())
    try:
        with open_cache(cache, PARAMS) as db:
            chosen = normalize_roots(roots) if roots else tuple(db.roots())
            if not chosen:
                raise click.UsageError(
                    "no ROOT given and no earlier scan recorded: run 'dupfind scan DIR' first"
                )
            report = scan(chosen, db, options, progress=bars)
            apart = [d.shas for d in db.not_duplicates()]
    except DupfindError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bars.close()
    for warning in report.warnings:
        click.echo(f"dupfind: warning: {warning}", err=True)
    note = left_out_note(report)
    if note:
        click.echo(f"dupfind: note: {note}", err=True)
    return report, db.path, apart


keep_option = click.option(
    "--keep",
    "keep",
    default=DEFAULT_RULES,
    show_default=True,
    metavar="RULE,...",
    help="Keeper rules, in order: original (the copy the others were made from, by evidence: "
    "README, Keeper rules), filed (in a folder named for the year taken), sorted (not in a "
    "backup, download, desktop or to-sort folder), resolution, lossless, largest, smallest, exif, "
    "oldest, newest, shortest-path, path:GLOB.",
)
move_to_option = click.option(
    "--move-to",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Move copies into DIR instead of the trash.",
)
protect_option = click.option(
    "--protect",
    multiple=True,
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Never remove files in DIR (repeatable).",
)


def _keeper_rules(keep: str) -> tuple[Rule, ...]:
    try:
        return parse_rules(keep)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--keep") from None


def _planned(
    roots: tuple[str, ...],
    cache: str | None,
    walk: WalkOptions,
    jobs: int | None,
    quiet: bool,
    rules: tuple[Rule, ...],
    options: PlanOptions,
    protect: tuple[str, ...],
    move_to: str | None,
) -> tuple[list[Group], list[PlannedGroup], str]:
    """Scan, group and plan as dedupe does: (groups, their plans, the cache's path)."""
    # The quarantine is protected too: a later dedupe must not "deduplicate" it.
    is_protected = under_any((*protect, *([move_to] if move_to else [])))
    report, cache_path, apart = _scan(roots, cache, ScanOptions(walk, jobs), quiet)
    for hint in install_hints(report):
        click.echo(f"dupfind: note: some files are compared by their bytes only; {hint}", err=True)
    grouped = plan_all(report.files, rules, options, is_protected, apart)
    return [g for g, _ in grouped], [p for _, p in grouped], cache_path


def _remember_apart(cache_path: str, shas: Iterable[str]) -> int:
    """Keep the user's word that these pictures (by SHA-256) are not duplicates of each
    other; returns the decision's number."""
    try:
        with open_cache(cache_path, PARAMS) as db:
            return db.mark_not_duplicates(shas)
    except DupfindError as exc:
        raise click.ClickException(str(exc)) from None


def _pictures_of(plan: PlannedGroup) -> set[str]:
    return {a.candidate.fingerprint.sha256 for a in plan.actions}


@contextlib.contextmanager
def _action_phase(journal: Journal | None, cache_path: str) -> Iterator[Journal | None]:
    """The lock for the whole action phase, and the reconciliation of interrupted runs.
    A dry run (no journal) takes neither."""
    if journal is None:
        yield None
        return
    waiting = lambda: click.echo("dupfind: waiting for another dedupe to finish", err=True)  # noqa: E731
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(exclusive(cache_path + ".dedupe.lock", waiting))
            notes = reconcile(journal)
        except OSError as exc:
            raise click.ClickException(
                f"cannot take the lock or update the journal beside {cache_path} "
                f"({exc.strerror or exc}); nothing was moved"
            ) from None
        for note in notes:
            click.echo(f"dupfind: note: {note}", err=True)
        yield journal
