"""Rendering results: the human summaries and the --json documents. No I/O here."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import os
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .compare import HASH_NAMES, Comparison, Match
from .errors import NO_DECODER
from .extras import INSTALL_HINT
from .fingerprint import hash_hex
from .models import (
    Candidate,
    Evidence,
    ExactGroup,
    Failure,
    GroupOutcome,
    NotDuplicates,
    Outcome,
    PlannedGroup,
    Provenance,
    ScanReport,
)
from .similarity import MAX_ASPECT_CHANGE, TURN_NAMES, describe_match, describe_rule

SKIPPED_SHOWN_PER_REASON = 10


def display_path(path: str) -> str:
    """A path as it is safe to print: undecodable bytes as \\xNN, control characters
    (a newline in a name) escaped, so one file is always one line."""
    out = []
    for char in path:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: a byte that is not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") or (char == "\\" and os.sep != "\\"):
            out.append(repr(char)[1:-1] if char != "\\" else "\\\\")
        else:
            out.append(char)
    return "".join(out)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def header(command: str, arguments: Sequence[str]) -> dict[str, Any]:
    """The header every --json document starts with."""
    from ._version import __version__

    return {
        "dupfind": __version__,
        "command": command,
        "arguments": list(arguments),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _failure_json(f: Failure) -> dict[str, Any]:
    return {"path": f.path, "reason": f.reason, "detail": f.detail, "sha256": f.sha256}


def _group_json(g: ExactGroup) -> dict[str, Any]:
    return {
        "sha256": g.sha256,
        "size_bytes": g.files[0].size_bytes,
        "paths": [f.path for f in g.files],
        "wasted_bytes": g.wasted_bytes,
    }


def scan_json(report: ScanReport, groups: Sequence[ExactGroup], arguments: Sequence[str]) -> dict[str, Any]:
    """The scan's --json document."""
    return {
        **header("scan", arguments),
        "roots": list(report.roots),
        "files": report.distinct_files,
        "paths": report.paths,
        "fingerprinted": report.fingerprinted,
        "cached": report.cached,
        "pruned": report.pruned,
        "skipped": [_failure_json(f) for f in report.skipped],
        "exact_groups": [_group_json(g) for g in groups],
        "exact_duplicate_files": sum(len(g.files) - 1 for g in groups),
        "exact_duplicate_bytes": sum(g.wasted_bytes for g in groups),
        "warnings": list(report.warnings),
        "left_out": [{"path": x.path, "why": x.why} for x in report.left_out],
        "seconds": round(report.seconds, 3),
    }


def scan_text(report: ScanReport, groups: Sequence[ExactGroup]) -> str:
    """The scan's human summary."""
    files = report.distinct_files
    links = report.paths - files
    lines = [
        f"Scanned {len(report.roots)} root{'s' if len(report.roots) != 1 else ''} in {report.seconds:.1f} s",
        f"  files seen:        {files}"
        + (f" ({report.paths} paths: {links} extra hard-link names)" if links else ""),
        f"  fingerprinted:     {report.fingerprinted}",
        f"  reused from cache: {report.cached}",
    ]
    skipped = report.skipped
    by_reason = Counter(f.reason for f in skipped)
    lines.append(f"  skipped:           {len(skipped)}")
    lines += [f"    {reason}: {count}" for reason, count in sorted(by_reason.items())]
    copies = sum(len(g.files) - 1 for g in groups)
    wasted = sum(g.wasted_bytes for g in groups)
    lines.append(f"  exact duplicates:  {len(groups)} groups, {copies} extra copies, {human_bytes(wasted)}")
    if report.pruned:
        lines.append(f"  forgotten:         {report.pruned} cache rows of files that are gone")
    if skipped:
        lines += ["", "Skipped files:"]
        lines += _skipped_lines(skipped)
    hints = install_hints(report)
    if hints:
        lines += ["", "Found as exact copies only; for more:"] + [f"  {h}" for h in hints]
    return "\n".join(lines)


def left_out_note(report: ScanReport) -> str | None:
    """One line naming the folders the walk did not enter because they are never a library."""
    if not report.left_out:
        return None
    shown = ", ".join(f"{display_path(x.path)} ({x.why})" for x in report.left_out[:3])
    more = f" and {len(report.left_out) - 3} more" if len(report.left_out) > 3 else ""
    return f"left out, never a library: {shown}{more}"


def install_hints(report: ScanReport) -> list[str]:
    """``pip install`` lines for the optional decoders that files of this scan needed."""
    needed = [f.detail for f in report.skipped if f.reason == NO_DECODER]
    return sorted({hint for hint in INSTALL_HINT.values() for detail in needed if hint in detail})


def _skipped_lines(skipped: Sequence[Failure]) -> list[str]:
    lines: list[str] = []
    shown: Counter[str] = Counter()
    for f in sorted(skipped, key=lambda f: (f.reason, f.path)):
        shown[f.reason] += 1
        if shown[f.reason] <= SKIPPED_SHOWN_PER_REASON:
            detail = f" ({f.detail})" if f.detail else ""
            lines.append(f"  {f.reason}: {display_path(f.path)}{detail}")
    for reason, count in sorted(shown.items()):
        if count > SKIPPED_SHOWN_PER_REASON:
            lines.append(f"  {reason}: ... and {count - SKIPPED_SHOWN_PER_REASON} more (--json lists all)")
    return lines


def compare_json(c: Comparison, arguments: Sequence[str]) -> dict[str, Any]:
    """The compare --json document."""
    files = []
    for file, fp in zip(c.files, c.fingerprints, strict=False):
        files.append(
            {
                "path": file.path,
                "size_bytes": file.size_bytes,
                "sha256": fp.sha256,
                **{name: hash_hex(getattr(fp, name)) for name in HASH_NAMES},
                "width": fp.width,
                "height": fp.height,
                "format": fp.format,
            }
        )
    return {
        **header("compare", arguments),
        "files": files,
        "distances": dict(c.distances),
        "closest": None
        if c.best is None
        else {"turn": TURN_NAMES[c.best.turn], "phash": c.best.phash, "dhash": c.best.dhash},
        "rule": {"phash": c.rule.phash, "combined": c.rule.combined, "turned": c.rule.turned},
        "evidence": None
        if c.evidence is None
        else {
            "turn": TURN_NAMES[c.evidence.turn],
            "thumbnail_likeness": None if c.evidence.likeness is None else round(c.evidence.likeness, 4),
            "likeness_needed": c.evidence.needed,
            "aspect_change": None if c.evidence.aspect_change is None else round(c.evidence.aspect_change, 4),
            "aspect_change_allowed": MAX_ASPECT_CHANGE,
            "confirms": c.evidence.refuted is None,
            "refuted": c.evidence.refuted,
        },
        "exact_only": c.exact_only,
        "threshold": c.threshold,
        "same_file": c.same_file,
        "verdict": c.verdict,
    }


def compare_text(c: Comparison) -> str:
    """The compare human table."""
    rows: list[tuple[str, ...]] = [
        ("", "A", "B"),
        ("path", display_path(c.files[0].path), display_path(c.files[1].path)),
    ]
    rows.append(("format", *(str(fp.format) for fp in c.fingerprints)))
    rows.append(("size", *(f"{f.size_bytes:,} bytes" for f in c.files)))
    rows.append(("dimensions", *(f"{fp.width} x {fp.height}" for fp in c.fingerprints)))
    rows.append(("sha256", *(fp.sha256[:16] for fp in c.fingerprints)))
    for name in HASH_NAMES:
        rows.append((name, *(hash_hex(getattr(fp, name)) for fp in c.fingerprints)))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    dist = ", ".join(f"{name} {c.distances[name]}" for name in HASH_NAMES)
    lines.append("")
    lines.append(f"distances (bits of 64): {dist}")
    if c.best is not None and c.best.turn:
        lines.append(f"closest when turned: {describe_match(c.best)}")
    if c.evidence is not None:
        lines.append(f"second look: {describe_evidence(c.evidence)}")
    note = " (the same file under two names)" if c.same_file else ""
    rule = f"rule: {describe_rule(c.rule)}"
    if c.verdict == "identical":
        lines.append(f"verdict: identical: the same bytes{note}")
    elif c.verdict == "near-duplicate":
        lines.append(f"verdict: near-duplicate: {describe_match(c.best)} ({rule})")  # type: ignore[arg-type]
    elif c.exact_only:
        lines.append(f"verdict: different: only exact copies count for this picture ({c.exact_only})")
    elif c.evidence is not None and c.evidence.refuted:
        lines.append(
            f"verdict: different: the hashes pass, but the second look refutes them ({c.evidence.refuted})"
        )
    else:
        closest = f"{describe_match(c.best)}, " if c.best else ""
        lines.append(f"verdict: different: {closest}outside the {rule}")
    return "\n".join(lines)


def describe_evidence(e: Evidence) -> str:
    """ "thumbnails 0.97 alike (0.90 needed), shapes 1.00x apart (1.10x allowed), upright: confirms"."""
    alike = (
        "no thumbnails"
        if e.likeness is None
        else f"thumbnails {e.likeness:.2f} alike ({e.needed:.2f} needed)"
    )
    shape = (
        "sizes unknown"
        if e.aspect_change is None
        else f"shapes {e.aspect_change:.2f}x apart ({MAX_ASPECT_CHANGE:.2f}x allowed)"
    )
    return f"{alike}, {shape}, {TURN_NAMES[e.turn]}: {'refutes' if e.refuted else 'confirms'}"


# -- dedupe -------------------------------------------------------------------------------------
MARKS = {
    "keep": "KEEP",
    "trash": "trash",
    "move": "move",
    "hardlink": "link",
    "protected": "prot",
    "skip": "skip",
}


def _outcomes_by_path(result: GroupOutcome) -> dict[str, Outcome]:
    return {o.path: o for o in result.outcomes}


def _picture_facts(c: Candidate) -> dict[str, Any]:
    fp = c.fingerprint
    return {
        "width": fp.width,
        "height": fp.height,
        "format": fp.format,
        "taken": fp.taken,
        "size_bytes": c.file.size_bytes,
    }


def group_json(result: GroupOutcome) -> dict[str, Any]:
    g = result.planned
    done = _outcomes_by_path(result)
    members = []
    for a in g.actions:
        for name in a.candidate.names:
            o = done.get(name)
            members.append(
                {
                    "path": name,
                    "action": a.action,
                    "distance": a.distance,
                    # A dry run's outcome says only "dry run": the plan's reason says why.
                    "reason": (o.reason if o and not o.done and o.reason != "dry run" else a.reason) or "",
                    "done": bool(o and o.done),
                    "destination": o.destination if o else None,
                    **_picture_facts(a.candidate),
                    "provenance": _provenance_json(a.candidate.fingerprint.provenance),
                }
            )
    return {
        "kind": g.kind,
        "keeper": g.keeper.path,
        "why": g.why,
        "refused": result.refused,
        "members": members,
    }


def _provenance_json(p: Provenance | None) -> dict[str, Any] | None:
    """The signals the keeper weighed, as --json shows them per member."""
    return None if p is None else p.as_dict()


def dedupe_summary(results: Sequence[GroupOutcome]) -> dict[str, Any]:
    outcomes = [o for r in results for o in r.outcomes]
    return {
        "groups": len(results),
        "exact_groups": sum(r.planned.kind == "exact" for r in results),
        "near_groups": sum(r.planned.kind == "near" for r in results),
        "files_removed": sum(o.done for o in outcomes),
        "bytes_freed": sum(o.freed_bytes for o in outcomes),
        "failed": sum(not o.done and o.reason != "dry run" for o in outcomes),
        "refused_groups": sum(r.refused is not None for r in results),
        "planned": sum(len(r.planned.victims) for r in results),
    }


def dedupe_json(results: Sequence[GroupOutcome], arguments: Sequence[str], dry_run: bool) -> dict[str, Any]:
    return {
        **header("dedupe", arguments),
        "dry_run": dry_run,
        "groups": [group_json(r) for r in results],
        "summary": dedupe_summary(results),
    }


def _describe(a_candidate: Any) -> str:
    fp, file = a_candidate.fingerprint, a_candidate.file
    parts = [human_bytes(file.size_bytes)]
    parts.append(
        f"{fp.width}x{fp.height} {fp.format}" if fp.decoded and fp.width else f"not decoded ({fp.problem})"
    )
    if fp.taken:
        parts.append(f"taken {fp.taken}")
    if len(a_candidate.names) > 1:
        parts.append(f"{len(a_candidate.names)} hard links")
    if a_candidate.protected:
        parts.append("protected")
    return ", ".join(parts)


def group_text(g: PlannedGroup, number: int, total: int) -> str:
    """A group as the review shows it: kind, then one numbered line per file."""
    kind = "exact copies (same bytes)" if g.kind == "exact" else f"near duplicates ({describe_rule(g.rule)})"
    lines = [f"Group {number}/{total}: {kind}"]
    for i, a in enumerate(g.actions, 1):
        distance = "" if g.kind == "exact" or a.distance is None else f"distance {a.distance}, "
        lines.append(
            f"  [{i}] {MARKS[a.action]:5} {display_path(a.candidate.path)}  ({distance}{_describe(a.candidate)})"
        )
        for other in a.candidate.names[1:]:
            lines.append(f"            = {display_path(other)}  (hard link: same file)")
        if a.reason and a.action != "keep":
            lines.append(f"            {a.reason}")
    lines.append(f"  keep [{1}] because: {g.why}")
    return "\n".join(lines)


def result_text(result: GroupOutcome) -> str:
    if result.refused:
        return f"  group skipped: {result.refused}"
    lines = []
    for o in result.outcomes:
        if o.done:
            lines.append(f"  {o.action}: {display_path(o.path)}")
        elif o.reason != "dry run":
            lines.append(f"  not done: {display_path(o.path)}: {o.reason}")
    return "\n".join(lines)


def dedupe_summary_text(results: Sequence[GroupOutcome], dry_run: bool) -> str:
    s = dedupe_summary(results)
    lines = [f"Groups: {s['groups']} ({s['exact_groups']} exact, {s['near_groups']} near)."]
    if dry_run:
        lines.append(f"Dry run: files that would go: {s['planned']}; nothing was touched.")
    else:
        lines.append(f"Files removed: {s['files_removed']}; space freed: {human_bytes(s['bytes_freed'])}.")
    if s["failed"]:
        lines.append(f"{s['failed']} files could not be removed (see above).")
    refused = [r for r in results if r.refused]
    for r in refused:
        lines.append(f"Skipped group of {display_path(r.planned.keeper.path)}: {r.refused}")
    return "\n".join(lines)


def undo_text(outcomes: Sequence[Outcome]) -> str:
    lines = []
    for o in outcomes:
        lines.append(
            f"restored: {display_path(o.path)}"
            if o.done
            else f"not restored: {display_path(o.path)}: {o.reason}"
        )
    lines.append(f"{sum(o.done for o in outcomes)} of {len(outcomes)} files restored.")
    return "\n".join(lines)


def nearest_json(
    path: str, matches: Sequence[Match], threshold: int, arguments: Sequence[str]
) -> dict[str, Any]:
    return {
        **header("compare", arguments),
        "path": path,
        "threshold": threshold,
        "matches": [{"path": m.path, "distance": m.distance, "identical": m.identical} for m in matches],
    }


def nearest_text(path: str, matches: Sequence[Match], threshold: int) -> str:
    if not matches:
        return f"No file of earlier scans within {threshold} bits of {display_path(path)}."
    lines = [f"Files of earlier scans within {threshold} bits of {display_path(path)}, nearest first:"]
    for m in matches:
        lines.append(
            f"  {m.distance:2}  {display_path(m.path)}" + ("  (identical bytes)" if m.identical else "")
        )
    return "\n".join(lines)


def not_duplicates_json(
    decisions: Sequence[NotDuplicates], paths: dict[str, list[str]]
) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "made": _iso(d.made_ns),
            "pictures": [{"sha256": sha, "paths": paths.get(sha, [])} for sha in sorted(d.shas)],
        }
        for d in decisions
    ]


def not_duplicates_text(decisions: Sequence[NotDuplicates], paths: dict[str, list[str]]) -> str:
    if not decisions:
        return 'No "not duplicates" decisions.'
    lines = []
    for d in decisions:
        lines.append(f"[{d.id}] {_iso(d.made_ns)}: {len(d.shas)} pictures are not duplicates of each other")
        for sha in sorted(d.shas):
            known = paths.get(sha) or ["(no file with this content in the cache now)"]
            lines.append(
                f"      {display_path(known[0])}"
                + (f"  (+{len(known) - 1} copies)" if len(known) > 1 else "")
            )
    lines.append("Forget one with 'dupfind not-duplicates --forget N'.")
    return "\n".join(lines)


def _iso(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9).isoformat(timespec="seconds")


CSV_COLUMNS = ("group", "kind", "action", "path", "keeper", "distance", "size_bytes", "reason")


def dedupe_csv(plan: dict[str, Any]) -> str:
    """One row per member of ``plan`` (dedupe_json's document): the duplicate-to-reference
    mapping a script wants, ``keeper`` being the path each file is a copy of."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number, g in enumerate(plan["groups"], 1):
        for m in g["members"]:
            distance = "" if m["distance"] is None else m["distance"]
            writer.writerow(
                (
                    number,
                    g["kind"],
                    m["action"],
                    m["path"],
                    g["keeper"],
                    distance,
                    m["size_bytes"],
                    m["reason"],
                )
            )
    return out.getvalue()


def review_groups(plans: Sequence[PlannedGroup]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The plan as the review page shows it: each group with a key made of its pictures'
    content (so choices outlive renames and runs) and members with ids; and each id's path,
    the only files the review server may read."""
    shown, paths = [], {}
    for n, plan in enumerate(plans):
        content = ",".join(sorted({a.candidate.fingerprint.sha256 for a in plan.actions}))
        members = []
        for i, a in enumerate(plan.actions):
            member = f"{n}-{i}"
            paths[member] = a.candidate.path
            members.append(
                {
                    "id": member,
                    "path": a.candidate.path,
                    "action": a.action,
                    "reason": a.reason,
                    "size": human_bytes(a.candidate.file.size_bytes),
                    **_picture_facts(a.candidate),
                }
            )
        shown.append(
            {
                "key": hashlib.sha256(content.encode()).hexdigest()[:32],
                "kind": plan.kind,
                "why": plan.why,
                "members": members,
            }
        )
    return shown, paths


def review_result_text(
    results: Sequence[GroupOutcome],
    apart: Sequence[PlannedGroup],
    pairs: Sequence[tuple[str, str]],
    dry_run: bool,
) -> str:
    """What Apply did (or, for its preview, would do), group by group."""
    lines = []
    for r in results:
        lines.append(f"keep {r.planned.keeper.path}")
        if r.refused:
            lines.append(f"  group not touched: {r.refused}")
        for o in r.outcomes:
            if o.done:
                lines.append(f"  {o.action}: {o.path}" + (f" -> {o.destination}" if o.destination else ""))
            elif o.reason == "dry run":
                lines.append(f"  would {o.action}: {o.path}")
            else:
                lines.append(f"  not done: {o.path}: {o.reason}")
    for plan in apart:
        lines.append(
            f"{'would remember' if dry_run else 'remembered'} as not duplicates: {plan.keeper.path} and {len(plan.actions) - 1} more"
        )
    for kept, member in pairs:
        lines.append(
            f"{'would remember' if dry_run else 'remembered'}: {member} is not a duplicate of {kept}"
        )
    s = dedupe_summary(results)
    if dry_run:
        lines.append(f"{s['planned']} files would go; nothing was touched yet.")
    else:
        lines.append(
            f"{s['files_removed']} files moved, {human_bytes(s['bytes_freed'])} freed ('dupfind undo' puts them back)."
        )
    return "\n".join(lines) if lines else "nothing chosen yet"
