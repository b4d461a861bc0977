"""Is the keeper the original? On a corpus built by make_corpus.py, per preset.

    python bench/keeper.py ../corpora/dev [--presets strict,normal,loose] [--keep RULES]

Scans CORPUS (cache: bench/.cache-NAME.sqlite3), plans it as `dupfind dedupe --dry-run`
does, and for every planned group that holds a ground-truth group's original, checks the
keeper: the original itself or a byte copy of it counts as right. Prints the share of such
groups per preset, the transforms of the wrong keepers, and how many groups keep a degraded
copy (grayscale, watermark, noise, blur, downscale, thumbnail, crop) while the original is in
the group.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _common import scanned

from dupfind import DEFAULT_RULES, PlanOptions, parse_rules, plan_all
from dupfind.provenance import LATTICE_MARGIN, lattice_fit
from dupfind.similarity import PRESETS, preset

DEGRADED = {
    "grayscale",
    "watermark",
    "noise",
    "blur",
    "downscale_50",
    "thumbnail_320",
    "crop_small",
    "crop_heavy",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--keep", default=DEFAULT_RULES)
    parser.add_argument("--show", type=int, default=0)
    parser.add_argument(
        "--edits",
        action="store_true",
        help="per transform, the share of copies to go that the plan marks with each edit's words",
    )
    parser.add_argument(
        "--lattice",
        action="store_true",
        help="for same-size JPEG pairs of a ground-truth group, how far above chance each sits on the other's steps",
    )
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    name = os.path.basename(corpus.rstrip(os.sep))
    report = scanned(os.path.join(corpus, "library"), name)
    with open(os.path.join(corpus, "ground_truth.json")) as f:
        truth = json.load(f)
    transform, original_of = {}, {}
    for g in truth["groups"]:
        members = g["members"]
        anchor = next((m for m in members if m["transform"] == "original"), None)
        for m in members:
            path = os.path.join(corpus, m["path"])
            transform[path] = m["transform"]
            if anchor is not None:
                original_of[path] = os.path.join(corpus, anchor["path"])
    sha = {s.file.path: s.fingerprint.sha256 for s in report.files}
    print(f"corpus: {corpus} ({report.paths} files); keeper rules: {args.keep}")
    if args.lattice:
        _print_lattice(report, truth, corpus)
    print(
        f"\n{'preset':<8} {'groups':>7} {'keeper is the original':>23} {'degraded kept':>14}   wrong keepers by transform"
    )
    for preset_name in args.presets.split(","):
        planned = plan_all(
            report.files, parse_rules(args.keep), PlanOptions("trash", preset(preset_name)), lambda p: False
        )
        judged = right = degraded = 0
        wrong: collections.Counter[str] = collections.Counter()
        shown = 0
        for _, plan in planned:
            paths = [n for a in plan.actions for n in a.candidate.names]
            originals = {original_of[p] for p in paths if p in original_of}
            originals = {o for o in originals if o in paths}
            if len(originals) != 1:
                continue  # no original in the group (or two groups' originals: not ours to judge)
            original = originals.pop()
            judged += 1
            keeper = plan.keeper.path
            if sha.get(keeper) == sha.get(original):
                right += 1
                continue
            kind = transform.get(keeper, "distractor")
            wrong[kind] += 1
            degraded += kind in DEGRADED
            if shown < args.show:
                shown += 1
                print(f"    {kind}: {os.path.relpath(keeper, corpus)}  ({plan.why})")
        if args.edits:
            _print_edits(planned, transform)
        share = right / judged if judged else float("nan")
        print(
            f"{preset_name:<8} {judged:>7} {right:>8} ({share:6.1%})      {degraded:>10}   "
            + ", ".join(f"{k} {v}" for k, v in wrong.most_common())
        )


def _print_lattice(report, truth, corpus: str) -> None:
    """provenance.lattice_fit of each copy on its original's steps, per transform, and of each
    original on its copies' steps (which must stay under the margin), from the cache."""
    fps = {s.file.path: s.fingerprint for s in report.files}
    copies: dict[str, list[float]] = collections.defaultdict(list)
    originals: list[float] = []
    for g in truth["groups"]:
        members = [(m["transform"], fps.get(os.path.join(corpus, m["path"]))) for m in g["members"]]
        source = next((fp for t, fp in members if t == "original"), None)
        if source is None or source.provenance is None or source.provenance.lattice is None:
            continue
        for t, fp in members:
            if (
                t in ("original", "exact_copy")
                or fp is None
                or fp.provenance is None
                or not fp.provenance.lattice
            ):
                continue
            if (fp.width, fp.height, fp.provenance.orientation) != (
                source.width,
                source.height,
                source.provenance.orientation,
            ):
                continue
            fit = lattice_fit(fp.provenance.lattice, source.provenance.lattice)
            if fit is not None:
                copies[t].append(fit)
            back = lattice_fit(source.provenance.lattice, fp.provenance.lattice)
            if back is not None:
                originals.append(back)
    print(f"  same-size copies on their original's steps, above chance by {LATTICE_MARGIN} or more:")
    for t in sorted(copies):
        print(f"    {t:<18} {sum(f >= LATTICE_MARGIN for f in copies[t]):>4} of {len(copies[t]):>4}")
    print(
        f"  originals on a copy's steps: {len(originals)} pairs judged, highest {max(originals, default=0):.3f}"
    )


EDIT_WORDS = ("brightness or contrast changed", "blurred", "noisier", "a watermark or caption")


def _print_edits(planned, transform) -> None:
    """Each transform's copies to go: how many of them carry each edit's words."""
    marked: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for _, plan in planned:
        for action in plan.actions[1:]:
            kind = transform.get(action.candidate.path, "distractor")
            words = action.reason.partition("; a copy: ")[2]
            marked[kind]["copies"] += 1
            for w in EDIT_WORDS:
                marked[kind][w] += w in words
    print(f"  {'transform':<18} {'copies':>6} " + " ".join(f"{w[:12]:>12}" for w in EDIT_WORDS))
    for kind in sorted(marked):
        c = marked[kind]
        print(
            f"  {kind:<18} {c['copies']:>6} " + " ".join(f"{c[w] / c['copies']:>12.0%}" for w in EDIT_WORDS)
        )


if __name__ == "__main__":
    main()
