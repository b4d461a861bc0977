"""Grouping time and memory against library size, as an SVG (no plotting library needed).

    python bench/grouping.py ../corpora/lib100k > lib100k.txt   # and lib300k, lib1m
    python bench/plot_grouping.py lib100k.txt lib300k.txt lib1m.txt --out docs/grouping.svg

Reads what bench/grouping.py printed (its "corpus: ... N files" and "preset ...: group X s
(Y MB peak), plan X s (Y MB peak)" lines) and draws two panels, seconds and peak memory,
against the number of files on log-log axes, with the issue's targets as dashed lines.
"""

from __future__ import annotations

import argparse
import math
import re

_FILES = re.compile(r"^corpus: .*: (\d+) files")
_TIMES = re.compile(r"group ([\d.]+) s \((\d+) MB peak\), plan ([\d.]+) s \((\d+) MB peak\)")

# Targets of issue 12: grouping at most 2 s at 100k and 20 s at 1M, at most 1 GB at 1M.
TARGET_SECONDS = ((100_000, 2.0), (1_000_000, 20.0))
TARGET_MB = ((1_000_000, 1000.0),)


def read(path: str) -> dict[str, float]:
    found: dict[str, float] = {}
    with open(path) as handle:
        for line in handle:
            if m := _FILES.search(line):
                found["files"] = float(m.group(1))
            if m := _TIMES.search(line):
                for key, value in zip(("group_s", "group_mb", "plan_s", "plan_mb"), m.groups(), strict=True):
                    found[key] = float(value)
    if len(found) != 5:
        raise SystemExit(f"{path}: not the output of bench/grouping.py")
    return found


def _panel(x0: int, title: str, unit: str, rows: list[dict[str, float]], series, targets) -> list[str]:  # type: ignore[no-untyped-def]
    """One log-log panel at x0: a line per series, targets as dashed marks."""
    w, h, pad = 360, 260, 50
    xs = [r["files"] for r in rows]
    ys = [r[key] for r in rows for key, _, _ in series] + [v for _, v in targets]
    span = xs + [x for x, _ in targets]
    xlo, xhi = math.log10(min(span) / 1.5), math.log10(max(span) * 1.5)
    ylo, yhi = math.log10(min(ys) / 2), math.log10(max(ys) * 2)

    def px(x: float) -> float:
        return x0 + pad + (math.log10(x) - xlo) / (xhi - xlo) * (w - pad - 10)

    def py(y: float) -> float:
        return 20 + (yhi - math.log10(y)) / (yhi - ylo) * (h - pad - 20)

    out = [
        f'<text x="{x0 + w / 2}" y="14" text-anchor="middle" font-weight="bold">{title}</text>',
        f'<line x1="{x0 + pad}" y1="{h - pad}" x2="{x0 + w - 10}" y2="{h - pad}" stroke="#444"/>',
        f'<line x1="{x0 + pad}" y1="20" x2="{x0 + pad}" y2="{h - pad}" stroke="#444"/>',
        f'<text x="{x0 + w / 2}" y="{h - 12}" text-anchor="middle">files (log)</text>',
        f'<text x="{x0 + 12}" y="{h / 2}" text-anchor="middle" transform="rotate(-90 {x0 + 12} {h / 2})">{unit} (log)</text>',
    ]
    for x in xs:
        label = f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"
        out.append(f'<text x="{px(x):.1f}" y="{h - pad + 15}" text-anchor="middle">{label}</text>')
    for exponent in range(math.floor(ylo), math.ceil(yhi) + 1):
        for mantissa in (1, 3):
            y = mantissa * 10.0**exponent
            if ylo <= math.log10(y) <= yhi:
                out.append(f'<text x="{x0 + pad - 4}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
                out.append(
                    f'<line x1="{x0 + pad}" y1="{py(y):.1f}" x2="{x0 + w - 10}" y2="{py(y):.1f}" stroke="#ddd"/>'
                )
    for key, colour, name in series:
        points = " ".join(f"{px(r['files']):.1f},{py(r[key]):.1f}" for r in rows)
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{px(r["files"]):.1f}" cy="{py(r[key]):.1f}" r="3" fill="{colour}"/>' for r in rows]
        last = rows[-1]
        out.append(
            f'<text x="{px(last["files"]) - 6:.1f}" y="{py(last[key]) - 8:.1f}" text-anchor="end" '
            f'fill="{colour}">{name}</text>'
        )
    for x, y in targets:
        out.append(
            f'<line x1="{px(x) - 14:.1f}" y1="{py(y):.1f}" x2="{px(x) + 14:.1f}" y2="{py(y):.1f}" '
            'stroke="#c00" stroke-dasharray="4 3" stroke-width="2"/>'
        )
        out.append(f'<text x="{px(x):.1f}" y="{py(y) - 6:.1f}" text-anchor="middle" fill="#c00">target</text>')
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outputs", nargs="+", help="files holding what bench/grouping.py printed")
    parser.add_argument("--out", default="docs/grouping.svg")
    parser.add_argument("--caption", default="")
    args = parser.parse_args()
    rows = sorted((read(p) for p in args.outputs), key=lambda r: r["files"])
    body = _panel(0, "seconds", "s", rows, [("group_s", "#1f77b4", "group"), ("plan_s", "#ff7f0e", "plan")], TARGET_SECONDS)
    body += _panel(380, "peak memory", "MB", rows, [("plan_mb", "#2ca02c", "process peak")], TARGET_MB)
    caption = f'<text x="370" y="292" text-anchor="middle" font-size="11">{args.caption}</text>' if args.caption else ""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="740" height="300" font-family="sans-serif" '
        'font-size="12"><rect width="740" height="300" fill="white"/>' + "".join(body) + caption + "</svg>\n"
    )
    with open(args.out, "w") as handle:
        handle.write(svg)
    for r in rows:
        print(
            f"{r['files']:>9.0f} files: group {r['group_s']:.1f} s, plan {r['plan_s']:.1f} s, "
            f"peak {r['plan_mb']:.0f} MB"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
