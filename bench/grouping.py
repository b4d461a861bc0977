"""How long grouping and planning take after a warm scan, and the memory they peak at.

    python bench/grouping.py ../corpora/lib100k [--preset normal]

CORPUS is a library built by bench/make_library.py (``--burst N`` adds one long burst). The
scan is warm (bench/.cache-NAME.sqlite3, filled by the first run); then, in this process:
  group   group_duplicates over the scanned files (candidate search, judging, leaders);
  plan    plan_all as `dupfind dedupe --dry-run` runs it (grouping again around the
          originals, the keeper's evidence, the plan of each group).
Peak memory is the resident size of this process at its highest, the scan's records included.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _common import mb, measure, scanned

from dupfind import DEFAULT_RULES, PlanOptions, parse_rules, plan_all
from dupfind.group import candidates, group_duplicates
from dupfind.keeper import rank_key
from dupfind.similarity import PRESETS, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--preset", default="normal", choices=list(PRESETS))
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    name = os.path.basename(corpus.rstrip(os.sep))
    started = time.perf_counter()
    report = scanned(os.path.join(corpus, "library"), name)
    print(f"corpus: {corpus}: {len(report.files)} files, warm scan {time.perf_counter() - started:.1f} s")
    rule = preset(args.preset)
    rules = parse_rules(DEFAULT_RULES)
    with measure() as grouping:
        groups = group_duplicates(candidates(report.files, lambda p: False), rule, rank_key(rules))
    with measure() as planning:
        planned = plan_all(report.files, rules, PlanOptions("trash", rule), lambda p: False)
    largest = max((len(g.members) for g in groups), default=0)
    print(
        f"preset {args.preset}: group {grouping.seconds:.1f} s ({mb(grouping.peak_bytes)} peak), "
        f"plan {planning.seconds:.1f} s ({mb(planning.peak_bytes)} peak); "
        f"{len(planned)} groups, the largest of {largest} files"
    )


if __name__ == "__main__":
    main()
