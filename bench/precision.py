"""Wrong-picture removals and planted-copy recall on a library built by bench/make_library.py.

    python bench/precision.py ../corpora/lib100k [--presets strict,normal,loose] [--jobs 2]

Scans LIBRARY (cache: bench/.cache-NAME.sqlite3, so a second run only stats files), plans
each preset as `dupfind dedupe --dry-run` does (default keeper rules), and sorts every file a
plan would remove by what it is to its keeper:

- the same photograph: a planted copy, a frame of the same burst, or a crop of the same
  source photo sharing 80% or more of its area (intersection over union), as the dev
  corpus's small crops do;
- another crop of the same photo: the same source, 50-80% shared (the dev corpus's heavy
  crops share about half and count as the same photo, "hard");
- a different photograph: another source photo, or less than half shared. These are the
  wrong-picture removals: a user who accepts the near groups and empties the trash loses
  those photos.

It also prints the share of planted exact copies, re-encoded and downscaled copies grouped
with their original.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _common import scanned

from dupfind import DEFAULT_RULES, PlanOptions, parse_rules, plan_all
from dupfind.similarity import PRESETS, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("library")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--show", type=int, default=0, help="print this many wrong pairs per preset")
    args = parser.parse_args()
    root = os.path.abspath(args.library)
    name = os.path.basename(root.rstrip(os.sep))
    with open(os.path.join(root, "truth.json")) as f:
        truth = json.load(f)["truth"]
    started = time.monotonic()
    report = scanned(os.path.join(root, "library"), name, args.jobs)
    print(f"library: {root} ({report.paths} files; scan {time.monotonic() - started:.0f} s)")
    key = {os.path.join(root, rel): entry["picture"] for rel, entry in truth.items()}
    made = {os.path.join(root, rel): entry["made"].split()[0] for rel, entry in truth.items()}
    originals = {e["picture"]: os.path.join(root, rel) for rel, e in truth.items() if e["made"] == "original"}
    placed = {e["picture"]: (e["source"], e["box"]) for e in truth.values() if e["made"] == "original"}
    for rel, e in truth.items():
        if "box" in e:  # burst frames: each its own box
            placed[os.path.join(root, rel)] = (e["source"], e["box"])

    def where(path: str) -> tuple[str, list[int]]:
        return placed.get(path) or placed[key[path]]

    print(
        f"\n{'preset':<8} {'removals':>8} {'different photo':>16} {'other crop':>11}"
        "   planted recall: exact  re-encoded  downscaled   plan s"
    )
    for name_ in args.presets.split(","):
        started = time.monotonic()
        rules = parse_rules(DEFAULT_RULES)
        planned = plan_all(report.files, rules, PlanOptions("trash", preset(name_)), lambda p: False)
        seconds = time.monotonic() - started
        removals, wrong, crops = 0, [], 0
        group_of: dict[str, int] = {}
        for i, (_, plan) in enumerate(planned):
            for action in plan.actions:
                for path in action.candidate.names:
                    group_of[path] = i
            for action in plan.victims:
                removals += 1
                victim, keeper = action.candidate.path, plan.keeper.path
                if key[victim] == key[keeper]:
                    continue
                (source_v, box_v), (source_k, box_k) = where(victim), where(keeper)
                shared = overlap(box_v, box_k) if source_v == source_k else 0.0
                if shared < 0.5:
                    wrong.append(
                        (keeper, victim, action.reason + ("; same source" if source_v == source_k else ""))
                    )
                elif shared < 0.8:
                    crops += 1
        recall = {}
        for kind in ("exact_copy", "reencode", "downscale"):
            members = [p for p, m in made.items() if m == kind]
            found = sum(p in group_of and group_of.get(originals[key[p]]) == group_of[p] for p in members)
            recall[kind] = found / len(members) if members else float("nan")
        print(
            f"{name_:<8} {removals:>8} {len(wrong):>6} ({len(wrong) / max(removals, 1):6.2%})"
            f" {crops:>4} ({crops / max(removals, 1):5.2%})"
            f"   {recall['exact_copy']:20.3f} {recall['reencode']:11.3f} {recall['downscale']:11.3f}   {seconds:6.1f}"
        )
        for keeper, victim, reason in wrong[: args.show]:
            print(f"    {os.path.relpath(keeper, root)}  <-  {os.path.relpath(victim, root)}  ({reason})")


def overlap(a: list[int], b: list[int]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    both = ix * iy
    return both / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - both)


if __name__ == "__main__":
    main()
