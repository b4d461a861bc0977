"""The commands that show the plan as pictures: report (HTML and CSV), review (in the
browser), and not-duplicates (the user's decisions)."""

from __future__ import annotations

import base64
import os
import sys
import webbrowser
from dataclasses import replace
from typing import Any

import click

from .act import Actor, executor_for, preflight
from .cache import open_cache
from .cli_base import (
    EXIT_OK,
    _action_phase,
    _emit_json,
    _emit_text,
    _keeper_rules,
    _pictures_of,
    _planned,
    _remember_apart,
    cache_option,
    keep_option,
    move_to_option,
    protect_option,
    similarity_options,
    walk_options,
)
from .errors import ActionError, DupfindError
from .fingerprint import PARAMS, preview
from .journal import Journal, journal_path
from .models import GroupOutcome, PlannedGroup, Similarity
from .offlimits import OffLimits
from .pages import PICTURE_SIDE, report_html
from .plan import PlanError, PlanOptions, confirm, plan_group, unconfirmed
from .report import (
    dedupe_csv,
    dedupe_json,
    dedupe_summary_text,
    header,
    human_bytes,
    not_duplicates_json,
    not_duplicates_text,
    review_groups,
    review_result_text,
)
from .scan import off_limits, previews
from .walk import WalkOptions


@click.command("report")
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
    from tqdm import tqdm  # not at start: 35 ms of every dupfind command

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


@click.command("review")
@click.argument("roots", nargs=-1, type=click.Path())
@cache_option
@similarity_options
@keep_option
@protect_option
@move_to_option
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
    shown, member_paths = review_groups(plans)
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
            rest = group.only([m for m in group.members if m not in left_out])
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
                _remember_apart(cache_path, _pictures_of(plan))
            for _, kept, member in pairs:
                _remember_apart(cache_path, (kept.fingerprint.sha256, member.fingerprint.sha256))
        return {
            **dedupe_json(results, sys.argv[1:], dry_run),
            "applied": [key for (key, _), r in zip(selected, results, strict=True) if r.refused is None],
            "remembered": [] if dry_run else [key for key, _ in apart],
            "text": review_result_text(
                results, [p for _, p in apart], [(k.path, m.path) for _, k, m in pairs], dry_run
            ),
        }

    from .server import Review, ReviewServer  # http.server: only for this command

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


@click.command("not-duplicates")
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
