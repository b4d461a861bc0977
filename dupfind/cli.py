"""The command line: parses flags, calls one library function, renders its result.

Owns click and tqdm. Library errors become one-line messages here and nowhere else.
"""

from __future__ import annotations

import json
import sys
from typing import Any, ClassVar

import click
from tqdm import tqdm

from ._version import __version__
from .cache import open_cache
from .compare import DEFAULT_THRESHOLD, compare_files
from .errors import INCOMPLETE, DupfindError, FingerprintError
from .fingerprint import PARAMS
from .group import group_exact
from .models import Progress
from .report import compare_json, compare_text, scan_json, scan_text
from .scan import ScanOptions, scan
from .walk import WalkOptions

EXIT_OK = 0
EXIT_ERROR = 1  # bad arguments, unusable cache
EXIT_UNREADABLE = 2  # compare: a file could not be read or decoded
EXIT_WARNINGS = 3  # scan finished, but some files or folders could not be read
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
    # Paths are already escaped; this only guards against a stdout that cannot encode.
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "replace").decode(encoding))


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


@cli.command("scan")
@click.argument("roots", nargs=-1, required=True, type=click.Path())
@cache_option
@click.option(
    "--exclude",
    metavar="GLOB",
    multiple=True,
    help="Skip files and folders matching GLOB (name or full path). Repeatable.",
)
@click.option("--hidden", is_flag=True, help="Also scan hidden files and folders (names starting with '.').")
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Follow symbolic links (each file and folder is still visited once).",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def scan_command(
    roots: tuple[str, ...],
    cache: str | None,
    exclude: tuple[str, ...],
    hidden: bool,
    follow_symlinks: bool,
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
    options = ScanOptions(WalkOptions(exclude=exclude, hidden=hidden, follow_symlinks=follow_symlinks), jobs)
    bars = _ProgressBars(enabled=not quiet and sys.stderr.isatty())
    try:
        with open_cache(cache, PARAMS) as db:
            report = scan(roots, db, options, progress=bars)
    except DupfindError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bars.close()
    for warning in report.warnings:
        click.echo(f"dupfind: warning: {warning}", err=True)
    groups = group_exact(report.files)
    if as_json:
        _emit_json(scan_json(report, groups, sys.argv[1:]))
    else:
        _emit_text(scan_text(report, groups))
    unreadable = any(f.reason in INCOMPLETE for f in report.failures)
    return EXIT_WARNINGS if unreadable else EXIT_OK


@cli.command("compare")
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option(
    "--threshold",
    type=click.IntRange(0, 64),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Largest pHash distance (bits of 64) still called a near-duplicate.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def compare_command(a: str, b: str, threshold: int, as_json: bool) -> None:
    """Show two files' fingerprints, every distance, and a verdict.

    The verdict is 'identical' (same bytes), 'near-duplicate' (pHash within --threshold)
    or 'different'. Exit status 2 when a file cannot be read or decoded.

    \b
    Example:  dupfind compare IMG_0001.JPG "IMG_0001 (1).jpg"
    """
    try:
        comparison = compare_files(a, b, threshold)
    except FingerprintError as exc:
        raise _Unreadable(f"{exc.path}: {exc}") from None
    if as_json:
        _emit_json(compare_json(comparison, sys.argv[1:]))
    else:
        _emit_text(compare_text(comparison))
