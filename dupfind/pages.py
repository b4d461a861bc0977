"""The HTML report: one self-contained page (pictures embedded, no network, no script or font
from elsewhere) that shows the plan of `dupfind dedupe --dry-run` group by group.

The page is static: the plan (dedupe's --json document) and the pictures travel inside it as
JSON, and a short script draws one page of groups at a time, so a report of 10,000 groups
opens as fast as one of 50 and only the pictures on screen are decoded. Every text from the
library (paths, reasons) is set as text, never as markup. No templating library: the page is
one fixed document with two data slots, which ``string.Template`` fills.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any

GROUPS_PER_PAGE = 50


def _json_for_script(value: Any) -> str:
    """JSON that cannot end its <script> element early (no "<" at all)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def report_html(plan: dict[str, Any], pictures: dict[str, str]) -> str:
    """The page for ``plan`` (``report.dedupe_json``'s document, each member with a
    ``picture`` id) and ``pictures`` (id -> base64 JPEG)."""
    return _PAGE.substitute(
        plan=_json_for_script(plan),
        pictures=_json_for_script(pictures),
        per_page=GROUPS_PER_PAGE,
    )


_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>dupfind report</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5em 2em; color: #222; background: #fafafa; }
  header { position: sticky; top: 0; background: #fafafa; padding: .8em 0; border-bottom: 1px solid #ddd; z-index: 1; }
  h1 { font-size: 1.3em; margin: 0 0 .3em; }
  .totals span { margin-right: 1.5em; }
  .controls button { margin-right: .3em; }
  .controls button.on { font-weight: bold; }
  .group { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 1em 0; padding: .6em .8em; }
  .group h2 { font-size: 1em; margin: 0 0 .5em; }
  .why { color: #555; font-weight: normal; }
  .members { display: flex; flex-wrap: wrap; gap: .8em; }
  figure { margin: 0; width: 180px; }
  figure img, figure .none { width: 170px; height: 170px; object-fit: contain; background: #eee;
                             border: 3px solid transparent; border-radius: 4px; display: block; }
  figure .none { display: flex; align-items: center; justify-content: center; color: #777; font-size: .85em; text-align: center; }
  figure.keep img, figure.keep .none { border-color: #2a8a2a; }
  figure.go img, figure.go .none { border-color: #c33; }
  figcaption { font-size: .8em; word-break: break-all; }
  .action { font-weight: bold; text-transform: uppercase; }
  .keep .action { color: #2a8a2a; }
  .go .action { color: #c33; }
  .pager { margin: 1em 0; }
</style>
</head>
<body>
<header>
  <h1>dupfind: what <code>dedupe</code> would do</h1>
  <div class="totals" id="totals"></div>
  <div class="controls">
    Show: <button data-filter="all" class="on">all</button><button data-filter="exact">exact copies</button><button data-filter="near">near duplicates</button>
    <span class="pager" id="pager-top"></span>
  </div>
</header>
<main id="groups"></main>
<div class="pager" id="pager-bottom"></div>
<script id="plan" type="application/json">$plan</script>
<script id="pictures" type="application/json">$pictures</script>
<script>
"use strict";
const PLAN = JSON.parse(document.getElementById("plan").textContent);
const PICTURES = JSON.parse(document.getElementById("pictures").textContent);
const PER_PAGE = $per_page;
const MOVES = new Set(["trash", "move", "hardlink"]);
let filter = "all", page = 0;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}
function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}
function shown() { return PLAN.groups.filter(g => filter === "all" || g.kind === filter); }

function totals() {
  const s = PLAN.summary;
  const freed = PLAN.groups.flatMap(g => g.members).filter(m => MOVES.has(m.action))
                           .reduce((sum, m) => sum + m.size_bytes, 0);
  const box = document.getElementById("totals");
  box.replaceChildren(
    el("span", {}, s.groups + " groups (" + s.exact_groups + " exact, " + s.near_groups + " near)"),
    el("span", {}, s.planned + " files would go"),
    el("span", {}, bytes(freed) + " freed"));
}

function member(m) {
  const go = MOVES.has(m.action);
  const fig = el("figure", {class: m.action === "keep" ? "keep" : go ? "go" : "other"});
  const data = m.picture && PICTURES[m.picture];
  fig.append(data ? el("img", {src: "data:image/jpeg;base64," + data, alt: m.path})
                  : el("div", {class: "none"}, "no picture: the file could not be shown"));
  const size = m.width ? m.width + "\\u00d7" + m.height + " " + (m.format || "") : (m.format || "not decoded");
  const facts = [bytes(m.size_bytes), size];
  if (m.taken) facts.push("taken " + m.taken);
  if (m.distance !== null && m.action !== "keep") facts.push("distance " + m.distance);
  fig.append(el("figcaption", {},
    el("div", {class: "action"}, m.action), el("div", {class: "path"}, m.path),
    el("div", {}, facts.join(", ")), el("div", {class: "reason"}, m.reason || "")));
  return fig;
}

function group(g, number) {
  const kind = g.kind === "exact" ? "exact copies (same bytes)" : "near duplicates";
  return el("section", {class: "group " + g.kind, "data-kind": g.kind},
    el("h2", {}, "Group " + number + ": " + kind + " ", el("span", {class: "why"}, "keep: " + (g.why || ""))),
    el("div", {class: "members"}, ...g.members.map(member)));
}

function pager(box) {
  const pages = Math.max(1, Math.ceil(shown().length / PER_PAGE));
  const prev = el("button", {}, "\\u2190 previous"), next = el("button", {}, "next \\u2192");
  prev.disabled = page === 0; next.disabled = page >= pages - 1;
  prev.onclick = () => { page--; render(); }; next.onclick = () => { page++; render(); };
  box.replaceChildren(prev, " page " + (page + 1) + " of " + pages + " ", next);
}

function render() {
  const list = shown();
  const first = page * PER_PAGE;
  document.getElementById("groups").replaceChildren(
    ...list.slice(first, first + PER_PAGE).map((g, i) => group(g, PLAN.groups.indexOf(g) + 1)));
  pager(document.getElementById("pager-top"));
  pager(document.getElementById("pager-bottom"));
  window.scrollTo(0, 0);
}

for (const b of document.querySelectorAll("[data-filter]")) {
  b.onclick = () => {
    filter = b.dataset.filter; page = 0;
    for (const o of document.querySelectorAll("[data-filter]")) o.classList.toggle("on", o === b);
    render();
  };
}
totals();
render();
</script>
</body>
</html>
"""
)
