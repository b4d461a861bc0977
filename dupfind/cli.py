"""The command line: parses flags, calls one library function, renders its result.

Owns click and tqdm. Library errors become one-line messages here and nowhere else.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import inspect
import json
import os
import sys
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, ClassVar

import click
from tqdm import tqdm

from ._version import __version__
from .act import Actor, executor_for, preflight, reconcile, undo
from .cache import open_cache
from .compare import compare_files, nearest_in_library
from .errors import INCOMPLETE, ActionError, DupfindError, FingerprintError
from .fingerprint import PARAMS, preview
from .group import group_exact
from .journal import Journal, exclusive, journal_path
from .keeper import DEFAULT_RULES, Rule, parse_rules
from .models import Group, GroupOutcome, PlannedGroup, Progress, ScanReport, Similarity
from .offlimits import OffLimits
from .pages import PICTURE_SIDE, report_html
from .plan import PlanError, PlanOptions, confirm, plan_all, plan_group, unconfirmed, under_any
from .prompt import review
from .report import (
    compare_json,
    compare_text,
    dedupe_csv,
    dedupe_json,
    dedupe_summary,
    dedupe_summary_text,
    group_text,
    header,
    human_bytes,
    install_hints,
    left_out_note,
    nearest_json,
    nearest_text,
    not_duplicates_json,
    not_duplicates_text,
    result_text,
    review_groups,
    review_result_text,
    scan_json,
    scan_text,
    undo_text,
)
from .scan import ScanOptions, off_limits, previews, scan
from .server import Review, ReviewServer
from .similarity import DEFAULT_PRESET, PRESETS, similarity
from .walk import WalkOptions, normalize_roots

EXIT_OK = 0
EXIT_ERROR = 1  # bad arguments, unusable cache
EXIT_UNREADABLE = 2  # compare: a file could not be read or decoded
EXIT_WARNINGS = 3  # scan finished, but some files or folders could not be read
EXIT_NOT_DONE = 4  # dedupe/undo: some planned actions failed or groups were refused
EXIT_INTERRUPTED = 130


class _OneLineErrors(click.Group):
    """Every error is one line on stderr and a meaningful exit status, never a traceback."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        _escape_unencodable()
        try:
            code = super().main(args, prog_name or "dupfind", complete_var, False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            _fail(f"{exc.format_message()}{hint}", exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted", EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _escape_unencodable() -> None:
    """A name the terminal's encoding cannot show (an emoji on a Latin-1 locale) is printed
    escaped, as --json does, instead of stopping the run with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _fail(message: str, code: int) -> None:
    click.echo(f"dupfind: error: {message}", err=True)
    sys.exit(code)


class _Unreadable(click.ClickException):
    exit_code = EXIT_UNREADABLE


class _ProgressBars:
    """Draws the core's Progress records as tqdm bars on stderr (only on a terminal)."""

    LABELS: ClassVar[dict[str, str]] = {"walk": "listing", "fingerprint": "fingerprinting"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.stage = ""

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        if progress.stage != self.stage or self.bar is None:
            self.close()
            self.stage = progress.stage
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
    click.echo(json.dumps(document, indent=2))


def _emit_text(text: str) -> None:
    # Paths are already escaped; this guards against a stdout that cannot encode them,
    # also where _escape_unencodable could not reach (a library caller's stream).
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "backslashreplace").decode(encoding))


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dupfind")
def cli() -> None:
    """Find duplicate photos, keep the best copy, never lose one.

    \b
    Start with:  dupfind scan ~/Pictures
    Then:        dupfind compare a.jpg b.jpg
    """


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


@cli.command("scan")
@click.argument("roots", nargs=-1, required=True, type=click.Path())
@cache_option
@walk_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def scan_command(
    roots: tuple[str, ...],
    cache: str | None,
    walk: WalkOptions,
    jobs: int | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Fingerprint the photos under ROOT... into the cache.

    Only new or changed files are read; the rest come from the cache. Exit status: 0,
    or 3 when some files or folders could not be read (listed in the summary).

    \b
    Example:  dupfind scan ~/Pictures /mnt/nas/photos --exclude '*/.thumbnails/*'
    """
    report, _, _ = _scan(roots, cache, ScanOptions(walk, jobs), quiet)
    groups = group_exact(report.files)
    if as_json:
        _emit_json(scan_json(report, groups, sys.argv[1:]))
    else:
        _emit_text(scan_text(report, groups))
    unreadable = any(f.reason in INCOMPLETE for f in report.failures)
    return EXIT_WARNINGS if unreadable else EXIT_OK


@cli.command("compare")
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path(), required=False)
@cache_option
@similarity_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def compare_command(a: str, b: str | None, cache: str | None, rule: Similarity, as_json: bool) -> None:
    """Show two files' fingerprints, every distance, and a verdict; or, given one file,
    the files of earlier scans nearest to it.

    The verdict is 'identical' (same bytes), 'near-duplicate' (by the --similarity rule,
    mirrored and turned copies included) or 'different'. Exit status 2 when a file cannot
    be read or decoded.

    \b
    Example:  dupfind compare IMG_0001.JPG "IMG_0001 (1).jpg"
              dupfind compare --similarity loose ~/Downloads/photo.jpg
    """
    try:
        if b is None:
            with open_cache(cache, PARAMS) as db:
                _, _, matches = nearest_in_library(a, db, rule)
            if as_json:
                _emit_json(nearest_json(a, matches, rule.phash, sys.argv[1:]))
            else:
                _emit_text(nearest_text(a, matches, rule.phash))
            return
        comparison = compare_files(a, b, rule)
    except FingerprintError as exc:
        raise _Unreadable(f"{exc.path}: {exc}") from None
    except DupfindError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _emit_json(compare_json(comparison, sys.argv[1:]))
    else:
        _emit_text(compare_text(comparison))


keep_option = click.option(
    "--keep",
    "keep",
    default=DEFAULT_RULES,
    show_default=True,
    metavar="RULE,...",
    help="Keeper rules, in order: original (the copy the others were made from, by evidence: "
    "README, Keeper rules), resolution, lossless, largest, smallest, exif, oldest, newest, "
    "shortest-path, path:GLOB.",
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


@cli.command("dedupe")
@click.argument("roots", nargs=-1, type=click.Path())
@cache_option
@similarity_options
@keep_option
@protect_option
@click.option("--dry-run", is_flag=True, help="Print the plan; touch nothing.")
@click.option("--yes", is_flag=True, help="No questions: apply the rules to exact groups.")
@click.option("--yes-near", is_flag=True, help="No questions for near groups either (with --yes).")
@click.option(
    "--move-to",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Move copies into DIR instead of the trash.",
)
@click.option("--hardlink", is_flag=True, help="Replace exact copies by hard links to the keeper.")
@walk_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes for the scan.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the plan and what was done.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def dedupe_command(
    roots: tuple[str, ...],
    cache: str | None,
    rule: Similarity,
    keep: str,
    protect: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    yes_near: bool,
    move_to: str | None,
    hardlink: bool,
    walk: WalkOptions,
    jobs: int | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Review duplicate groups and send the extra copies to the trash.

    Brings the cache up to date for ROOT... (default: the roots of earlier scans), groups
    exact copies and near duplicates, and proposes a keeper for each group by the --keep
    rules. On a terminal it asks group by group; elsewhere nothing is removed without
    --yes (exact groups) and --yes-near (near groups). Every move is journaled: see
    'dupfind undo'. Exit status: 0; 1 on an error, or when nothing was removed
    because there was nobody to ask; 4 when some files could not be removed or a group
    was refused; 130 when the review was stopped.

    \b
    Example:  dupfind dedupe ~/Pictures --dry-run
              dupfind dedupe --protect ~/Pictures/Originals --yes
    """
    rules = _keeper_rules(keep)
    if move_to and hardlink:
        raise click.UsageError("--move-to and --hardlink cannot be used together")
    action = "move" if move_to else "hardlink" if hardlink else "trash"
    interactive = not dry_run and not (yes or yes_near) and sys.stdin.isatty() and not as_json
    if move_to:  # the quarantine is not walked, as no quarantine of an earlier run is
        walk = replace(walk, off_limits=OffLimits.around(quarantines=[move_to]))
    groups, plans, cache_path = _planned(
        roots, cache, walk, jobs, quiet, rules, PlanOptions(action, rule), protect, move_to
    )
    options = PlanOptions(action, rule)
    proposed = any(p.victims for p in plans)
    if not interactive:
        plans = [confirm(p, yes=yes, yes_near=yes_near, dry_run=dry_run) for p in plans]
    journal = None if dry_run else Journal(journal_path(cache_path))
    executor = executor_for(action, move_to, dry_run)
    results: list[GroupOutcome] = []
    stopped = False
    actor: Actor | None = None
    try:
        with _action_phase(journal, cache_path) as actor_journal:
            if journal is not None:
                # Interactive answers may choose other keepers: check every member's folder.
                preflight(executor, plans if interactive else [p for p in plans if p.victims])
            actor = Actor(
                executor,
                actor_journal,
                tuple(sys.argv[1:]),
                off_limits=off_limits(cache_path, walk.off_limits),
            )
            try:
                stopped = _run_groups(
                    groups,
                    plans,
                    rules,
                    options,
                    actor,
                    interactive,
                    as_json,
                    results,
                    functools.partial(_remember_apart, cache_path),
                )
            finally:
                actor.finish()
    except ActionError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if journal is not None:
            journal.close()
    if as_json:
        _emit_json(dedupe_json(results, sys.argv[1:], dry_run))
    else:
        _emit_text(dedupe_summary_text(results, dry_run))
    summary = dedupe_summary(results)
    if actor is not None and actor.stopped:
        click.echo(
            f"dupfind: error: {actor.stopped}: stopped before the next group; "
            f"{summary['files_removed']} files moved so far ('dupfind undo' lists the run)",
            err=True,
        )
        return EXIT_NOT_DONE
    if stopped:
        click.echo("dupfind: review stopped; the remaining groups were not touched", err=True)
        return EXIT_INTERRUPTED
    if not interactive and not dry_run and not (yes or yes_near) and proposed:
        click.echo(
            "dupfind: not a terminal: nothing removed without --yes (exact) or --yes-near (near)", err=True
        )
        return EXIT_ERROR
    return EXIT_NOT_DONE if summary["failed"] or summary["refused_groups"] else EXIT_OK


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


def _remember_apart(cache_path: str, plan: PlannedGroup, quiet: bool = False) -> None:
    """Keep the user's word that this group's pictures are not duplicates (by content)."""
    try:
        with open_cache(cache_path, PARAMS) as db:
            number = db.mark_not_duplicates(a.candidate.fingerprint.sha256 for a in plan.actions)
    except DupfindError as exc:
        raise click.ClickException(str(exc)) from None
    if not quiet:
        click.echo(f"  remembered as not duplicates (decision {number}; 'dupfind not-duplicates' lists them)")


def _remember_pair(cache_path: str, kept: str, member: str) -> None:
    """One member is not a duplicate of the kept file (by content)."""
    try:
        with open_cache(cache_path, PARAMS) as db:
            db.mark_not_duplicates([kept, member])
    except DupfindError as exc:
        raise click.ClickException(str(exc)) from None


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


def _run_groups(
    groups: list[Group],
    plans: list[PlannedGroup],
    rules: tuple[Rule, ...],
    options: PlanOptions,
    actor: Actor,
    interactive: bool,
    as_json: bool,
    results: list[GroupOutcome],
    remember_apart: Callable[[PlannedGroup], None],
) -> bool:
    """Review (if interactive) and apply each group in turn; True when the review stopped."""
    accept_exact = False
    total = len(plans)
    for number, (group, plan) in enumerate(zip(groups, plans, strict=True), 1):
        if interactive and plan.victims and not (accept_exact and plan.kind == "exact"):
            try:
                answer = review(plan, number, total)
            except click.Abort:
                click.echo("", err=True)
                return True
            if answer.choice == "quit":
                return True
            if answer.choice == "skip":
                plan = unconfirmed(plan, "skipped at the review")
            elif answer.choice == "not-duplicates":
                remember_apart(plan)
                plan = unconfirmed(plan, "not duplicates: remembered, not shown again")
            elif answer.choice == "all-exact":
                accept_exact = True
                if plan.kind != "exact":
                    plan = unconfirmed(plan, "skipped at the review")
            elif answer.keeper_index:
                try:
                    plan = plan_group(group, rules, options, answer.keeper_index)
                except PlanError as exc:
                    plan = unconfirmed(plan, str(exc))
        elif not as_json and plan.victims:
            _emit_text(group_text(plan, number, total))
        result = actor.apply(plan)
        results.append(result)
        if not as_json and (interactive or plan.victims):
            text = result_text(result)
            if text:
                _emit_text(text)
        if actor.stopped:
            return False
    return False


@cli.command("report")
@click.argument("roots", nargs=-1, type=click.Path())
@cache_option
@similarity_options
@keep_option
@protect_option
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write the plan as one self-contained HTML page with the pictures.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write one row per file: group, kind, action, path, keeper, distance, size_bytes, reason.",
)
@walk_options
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), help="Worker processes for the scan and the pictures."
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as dedupe --dry-run --json does.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def report_command(
    roots: tuple[str, ...],
    cache: str | None,
    rule: Similarity,
    keep: str,
    protect: tuple[str, ...],
    html_path: str | None,
    csv_path: str | None,
    walk: WalkOptions,
    jobs: int | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Write what dedupe would do as an HTML page and/or a CSV file; touch nothing.

    The plan is exactly dedupe --dry-run's (same groups, keepers, actions and reasons).
    The HTML page holds small pictures of every file, upright, and opens offline in any
    browser; the CSV has one row per file.

    \b
    Example:  dupfind report ~/Pictures --html report.html --csv report.csv
    """
    if not (html_path or csv_path or as_json):
        raise click.UsageError("say what to write: --html FILE, --csv FILE or --json")
    rules = _keeper_rules(keep)
    options = PlanOptions("trash", rule)
    _, plans, cache_path = _planned(roots, cache, walk, jobs, quiet, rules, options, protect, None)
    actor = Actor(
        executor_for("trash", None, True),
        None,
        tuple(sys.argv[1:]),
        off_limits=off_limits(cache_path, walk.off_limits),
    )
    results = [actor.apply(confirm(p, yes=False, yes_near=False, dry_run=True)) for p in plans]
    actor.finish()
    document = dedupe_json(results, sys.argv[1:], dry_run=True)
    written = []
    try:
        if csv_path:
            _write_text(csv_path, dedupe_csv(document))
            written.append(csv_path)
        if html_path:
            pictures = _pictures(document, jobs, quiet)
            _write_text(html_path, report_html(document, pictures))
            written.append(html_path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    if as_json:
        _emit_json(document)
    else:
        _emit_text(dedupe_summary_text(results, dry_run=True))
        for path in written:
            click.echo(f"Wrote {path} ({human_bytes(os.path.getsize(path))}).")
    return EXIT_OK


def _write_text(path: str, text: str) -> None:
    # Written beside, then renamed: an interrupted run never leaves half a report.
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.replace(partial, path)


def _pictures(document: dict[str, Any], jobs: int | None, quiet: bool) -> dict[str, str]:
    """A small picture of each member, base64; each member gets its ``picture`` id."""
    paths = sorted({m["path"] for g in document["groups"] for m in g["members"]})
    ids = {path: f"p{k}" for k, path in enumerate(paths)}
    for g in document["groups"]:
        for m in g["members"]:
            m["picture"] = ids[m["path"]]
    bar = tqdm(
        total=len(paths),
        desc="pictures",
        unit="file",
        disable=quiet or not sys.stderr.isatty(),
        file=sys.stderr,
    )
    out = {}
    with bar:
        for path, data in zip(paths, previews(paths, jobs, PICTURE_SIDE), strict=True):
            if data is not None:
                out[ids[path]] = base64.b64encode(data).decode("ascii")
            bar.update()
    return out


@cli.command("review")
@click.argument("roots", nargs=-1, type=click.Path())
@cache_option
@similarity_options
@keep_option
@protect_option
@click.option(
    "--move-to",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Move copies into DIR instead of the trash.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 (default: any free one)."
)
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@click.option(
    "--idle-minutes",
    type=click.FloatRange(min=0.05),
    default=30.0,
    show_default=True,
    help="Stop after this long without a request.",
)
@walk_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes for the scan.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def review_command(
    roots: tuple[str, ...],
    cache: str | None,
    rule: Similarity,
    keep: str,
    protect: tuple[str, ...],
    move_to: str | None,
    port: int,
    no_browser: bool,
    idle_minutes: float,
    walk: WalkOptions,
    jobs: int | None,
    quiet: bool,
) -> int:
    """Review the duplicate groups in your browser, then apply what you chose.

    Serves the plan on 127.0.0.1 only; the first line printed is the URL to open (it
    carries a random token for this run). Choose keepers with a click, skip groups, mark
    them not duplicates, compare two files closely; Apply previews, then sends the chosen
    copies to the trash (or --move-to DIR) through the same checks and journal as dedupe
    ('dupfind undo' puts them back). Choices are saved as you make them: run review again
    to go on where you stopped. Stops on Ctrl-C, Quit, or --idle-minutes without a request.

    \b
    Example:  dupfind review ~/Pictures
    """
    rules = _keeper_rules(keep)
    action = "move" if move_to else "trash"
    if move_to:
        walk = replace(walk, off_limits=OffLimits.around(quarantines=[move_to]))
    options = PlanOptions(action, rule)
    groups, plans, cache_path = _planned(roots, cache, walk, jobs, quiet, rules, options, protect, move_to)
    shown, member_paths = review_groups(groups, plans)
    by_key = {g["key"]: (group, plan) for g, group, plan in zip(shown, groups, plans, strict=True)}
    limits = off_limits(cache_path, walk.off_limits)

    def apply(chosen: dict[str, dict[str, Any]], dry_run: bool) -> dict[str, Any]:
        selected, apart, pairs = [], [], []
        for key, (group, plan) in by_key.items():
            choice = chosen.get(key)
            if choice is None:
                continue
            if choice["choice"] == "not-duplicates":
                apart.append((key, plan))
                continue
            kept = group.members[choice.get("keeper", 0)]
            left_out = [m for m in group.members if m.path in choice.get("apart", []) and m is not kept]
            pairs += [(key, kept, m) for m in left_out]
            if choice["choice"] == "skip":
                continue
            rest = Group(group.kind, tuple(m for m in group.members if m not in left_out), group.why)
            try:
                selected.append((key, plan_group(rest, rules, options, rest.members.index(kept))))
            except PlanError as exc:
                selected.append((key, unconfirmed(plan, str(exc))))
        try:
            results = _apply_plans([p for _, p in selected], action, move_to, dry_run, cache_path, limits)
        except (ActionError, click.ClickException) as exc:
            message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            return {"dry_run": dry_run, "applied": [], "remembered": [], "text": f"nothing done: {message}"}
        if not dry_run:
            for _, plan in apart:
                _remember_apart(cache_path, plan, quiet=True)
            for _, kept, member in pairs:
                _remember_pair(cache_path, kept.fingerprint.sha256, member.fingerprint.sha256)
        return {
            **dedupe_json(results, sys.argv[1:], dry_run),
            "applied": [key for (key, _), r in zip(selected, results, strict=True) if r.refused is None],
            "remembered": [] if dry_run else [key for key, _ in apart],
            "text": review_result_text(
                results, [p for _, p in apart], [(k.path, m.path) for _, k, m in pairs], dry_run
            ),
        }

    review = Review(shown, member_paths, cache_path + ".review.json", preview, apply)
    review.load()
    try:
        server = ReviewServer(review, port, idle_minutes * 60)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})") from None
    click.echo(server.url)
    sys.stdout.flush()
    click.echo(f"dupfind: {len(shown)} groups to review; Ctrl-C stops the server", err=True)
    if not no_browser:
        webbrowser.open(server.url)
    with server:
        server.serve_until_idle()
    click.echo("dupfind: review server stopped", err=True)
    return EXIT_OK


def _apply_plans(
    plans: list[PlannedGroup],
    action: str,
    move_to: str | None,
    dry_run: bool,
    cache_path: str,
    limits: OffLimits,
) -> list[GroupOutcome]:
    """Apply plans as dedupe does: a dry run checks identities only; a real run takes the
    lock, settles interrupted runs, checks the trash or quarantine works, journals each move."""
    executor = executor_for(action, move_to, dry_run)
    if dry_run:
        actor = Actor(executor, None, tuple(sys.argv[1:]), off_limits=limits)
        return [actor.apply(p) for p in plans]
    journal = Journal(journal_path(cache_path))
    try:
        with _action_phase(journal, cache_path) as actor_journal:
            preflight(executor, [p for p in plans if p.victims])
            actor = Actor(executor, actor_journal, tuple(sys.argv[1:]), off_limits=limits)
            try:
                return [actor.apply(p) for p in plans]
            finally:
                actor.finish()
    finally:
        journal.close()


@cli.command("not-duplicates")
@cache_option
@click.option("--forget", type=int, multiple=True, metavar="N", help="Forget decision N (repeatable).")
@click.option("--forget-all", is_flag=True, help="Forget every decision.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def not_duplicates_command(
    cache: str | None, forget: tuple[int, ...], forget_all: bool, as_json: bool
) -> int:
    """List the groups you marked "not duplicates", or forget such decisions.

    A decision is kept by content (the pictures' SHA-256s), so it survives renames and
    rescans: dedupe and report leave those pictures out of each other's groups until
    you forget it. Mark a group with n at dedupe's prompt.

    \b
    Example:  dupfind not-duplicates
              dupfind not-duplicates --forget 3
    """
    try:
        with open_cache(cache, PARAMS) as db:
            if forget or forget_all:
                known = {d.id for d in db.not_duplicates()}
                unknown = sorted(set(forget) - known)
                if unknown and not forget_all:
                    raise click.BadParameter(
                        f"no decision {unknown[0]} (see 'dupfind not-duplicates')", param_hint="--forget"
                    )
                gone = db.forget_not_duplicates(None if forget_all else forget)
                if as_json:
                    _emit_json({**header("not-duplicates", sys.argv[1:]), "forgotten": gone})
                else:
                    click.echo(f"Forgot {gone} decision{'s' if gone != 1 else ''}.")
                return EXIT_OK
            decisions = db.not_duplicates()
            paths = db.paths_of(sha for d in decisions for sha in d.shas)
    except DupfindError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _emit_json(
            {**header("not-duplicates", sys.argv[1:]), "decisions": not_duplicates_json(decisions, paths)}
        )
    else:
        _emit_text(not_duplicates_text(decisions, paths))
    return EXIT_OK


@cli.command("undo")
@click.argument("run", required=False)
@cache_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def undo_command(run: str | None, cache: str | None, as_json: bool) -> int:
    """List dedupe runs, or put back the files of RUN.

    Files come back from the trash or the quarantine to their original paths; a path
    that is occupied now is left alone and reported. Exit status 4 when some files could
    not be restored.

    \b
    Example:  dupfind undo
              dupfind undo 20261123-101500-4242
    """
    from .cache import default_cache_path

    cache_path = os.path.abspath(cache) if cache else default_cache_path()
    journal = Journal(journal_path(cache_path))
    if run is None:
        # Listing settles interrupted runs first where it can, and only reads where the
        # cache folder cannot be written.
        try:
            with _action_phase(journal, cache_path):
                pass
        except click.ClickException:
            click.echo("dupfind: note: the journal's folder cannot be written; listed as it is", err=True)
        finally:
            journal.close()
        runs = journal.runs()
        if as_json:
            _emit_json({**header("undo", sys.argv[1:]), "runs": runs})
        else:
            for r in runs:
                click.echo(f"{r['id']}  {r['started']}  {r['actions']} files")
            if not runs:
                click.echo("No dedupe runs recorded.")
        return EXIT_OK
    try:
        with _action_phase(journal, cache_path):
            if run not in {r["id"] for r in journal.runs()}:
                raise click.BadParameter(f"no run {run!r} (see 'dupfind undo')", param_hint="RUN")
            outcomes = undo(journal, run)
    except OSError as exc:
        raise click.ClickException(
            f"cannot undo: the journal's folder {os.path.dirname(cache_path)} cannot be written "
            f"({exc.strerror or exc}); nothing more was restored"
        ) from None
    finally:
        journal.close()
    if as_json:
        _emit_json(
            {
                **header("undo", sys.argv[1:]),
                "restored": [o.path for o in outcomes if o.done],
                "not_restored": [{"path": o.path, "reason": o.reason} for o in outcomes if not o.done],
            }
        )
    else:
        _emit_text(undo_text(outcomes))
    return EXIT_OK if all(o.done for o in outcomes) else EXIT_NOT_DONE
