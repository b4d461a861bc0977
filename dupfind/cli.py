"""The command line: parses flags, calls one library function, renders its result.

Owns click and tqdm. Library errors become one-line messages here and nowhere else.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click

from ._version import __version__
from .act import Actor, executor_for, preflight, undo
from .cache import open_cache
from .cli_base import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_DONE,
    EXIT_OK,
    EXIT_UNREADABLE,
    EXIT_WARNINGS,
    _action_phase,
    _emit_json,
    _emit_text,
    _keeper_rules,
    _pictures_of,
    _planned,
    _remember_apart,
    _scan,
    cache_option,
    keep_option,
    move_to_option,
    protect_option,
    similarity_options,
    walk_options,
)
from .cli_web import not_duplicates_command, report_command, review_command
from .compare import compare_files, nearest_in_library
from .errors import INCOMPLETE, ActionError, DupfindError, FingerprintError
from .fingerprint import PARAMS
from .group import group_exact
from .journal import Journal, journal_path
from .keeper import Rule
from .models import Group, GroupOutcome, PlannedGroup, Similarity
from .offlimits import OffLimits
from .plan import PlanError, PlanOptions, confirm, plan_group, unconfirmed
from .prompt import review
from .report import (
    compare_json,
    compare_text,
    dedupe_json,
    dedupe_summary,
    dedupe_summary_text,
    group_text,
    header,
    nearest_json,
    nearest_text,
    result_text,
    scan_json,
    scan_text,
    undo_text,
)
from .scan import ScanOptions, off_limits
from .walk import WalkOptions


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


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dupfind")
def cli() -> None:
    """Find duplicate photos, keep the best copy, never lose one.

    \b
    Start with:  dupfind scan ~/Pictures
    Then:        dupfind compare a.jpg b.jpg
    """


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
    # The summary needs each file's SHA-256 and problem only, not the whole cache rows.
    report, _, _ = _scan(roots, cache, ScanOptions(walk, jobs, records=False), quiet)
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
            # A lookup: each hit is checked against its file before it is shown.
            with open_cache(cache, PARAMS, thorough=False) as db:
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


@cli.command("dedupe")
@click.argument("roots", nargs=-1, type=click.Path())
@cache_option
@similarity_options
@keep_option
@protect_option
@click.option("--dry-run", is_flag=True, help="Print the plan; touch nothing.")
@click.option("--yes", is_flag=True, help="No questions: apply the rules to exact groups.")
@click.option("--yes-near", is_flag=True, help="No questions for near groups either (with --yes).")
@move_to_option
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
                    functools.partial(_remember_group, cache_path),
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


def _remember_group(cache_path: str, plan: PlannedGroup) -> None:
    number = _remember_apart(cache_path, _pictures_of(plan))
    click.echo(f"  remembered as not duplicates (decision {number}; 'dupfind not-duplicates' lists them)")


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


for _command in (report_command, review_command, not_duplicates_command):
    cli.add_command(_command)
