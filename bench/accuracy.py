"""Grouping accuracy against a corpus's ground truth, for a range of thresholds.

    python bench/accuracy.py ../corpora/dev [--thresholds 0,4,8,10,12,14,16,18] [--no-rotations]

Scans CORPUS (its cache is bench/.cache-NAME.sqlite3, so a second run only stats files),
groups it as `dupfind dedupe --threshold T` does at each threshold (default keeper rules, nothing
protected), and scores the groups with ../shared/corpus/score.py against
CORPUS/ground_truth.json: pairwise precision, recall and F1 over all members and over the
members not marked hard, and, per transform, the share of members grouped with their
original (anchor recall). Tune on the dev corpus only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _common import scanned

from dupfind import DEFAULT_RULES, PlanOptions, parse_rules, plan_all
from dupfind.similarity import PRESETS, similarity

SCORE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus", "score.py")


def groups_at(files, threshold: int, rotations: bool, corpus: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    options = PlanOptions("trash", similarity(threshold, rotations))
    planned = plan_all(files, parse_rules(DEFAULT_RULES), options, lambda p: False)
    return [
        sorted(os.path.relpath(name, corpus) for a in plan.actions for name in a.candidate.names)
        for _, plan in planned
    ]


def non_hard_anchor_recall(truth: dict, groups: list[list[str]]) -> dict[str, float]:
    """score.py's anchor recall over the members not marked hard, for the transforms that
    have hard members (the targets are stated over non-hard members)."""
    group_of = {path: i for i, g in enumerate(groups) for path in g}
    found: dict[str, list[bool]] = {}
    with_hard = {m["transform"] for g in truth["groups"] for m in g["members"] if m["hard"]}
    for g in truth["groups"]:
        anchor = next((m for m in g["members"] if m["transform"] == "original"), g["members"][0])
        for m in g["members"]:
            if m is anchor or m["hard"] or m["transform"] not in with_hard:
                continue
            together = m["path"] in group_of and group_of.get(anchor["path"]) == group_of[m["path"]]
            found.setdefault(m["transform"], []).append(together)
    return {t: sum(v) / len(v) for t, v in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--thresholds", default="0,4,8,10,12,14,16,18")
    parser.add_argument("--no-rotations", action="store_true")
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    name = os.path.basename(corpus.rstrip(os.sep))
    report = scanned(os.path.join(corpus, "library"), name)
    print(f"corpus: {corpus} ({report.paths} files, {len(report.skipped)} skipped by the scan)")
    with open(os.path.join(corpus, "ground_truth.json")) as handle:
        truth = json.load(handle)
    results = []
    for threshold in (int(t) for t in args.thresholds.split(",")):
        groups = groups_at(report.files, threshold, not args.no_rotations, corpus)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"name": f"threshold {threshold}", "groups": groups}, f)
        out = subprocess.run(
            [sys.executable, SCORE, os.path.join(corpus, "ground_truth.json"), f.name, "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        os.unlink(f.name)
        scored = json.loads(out)
        for transform, value in non_hard_anchor_recall(truth, groups).items():
            scored["per_transform"][f"{transform} (non-hard)"] = {"anchor_recall": value}
        results.append((threshold, scored))
    transforms = sorted({t for _, r in results for t in r["per_transform"]})
    print(
        f"\n{'T':>3} {'prec':>6} {'recall':>6} {'F1':>6} {'prec*':>6} {'recall*':>7} {'F1*':>6}   (* = non-hard members)"
    )
    presets = {t: name for name, t in PRESETS.items()}
    for threshold, r in results:
        print(
            f"{threshold:>3} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
            f"{r['precision_excl_hard']:6.3f} {r['recall_excl_hard']:7.3f} {r['f1_excl_hard']:6.3f}"
            + (f"   --similarity {presets[threshold]}" if threshold in presets else "")
        )
    print("\nrecall per transform (share of members grouped with their original):")
    print(f"{'transform':<24}" + "".join(f"{'T=' + str(t):>7}" for t, _ in results))
    for transform in transforms:
        cells = []
        for _, r in results:
            value = r["per_transform"].get(transform, {}).get("anchor_recall")
            cells.append(f"{value:7.3f}" if value is not None else f"{'-':>7}")
        print(f"{transform:<24}" + "".join(cells))


if __name__ == "__main__":
    main()
