"""The HTML report: one self-contained page (pictures embedded, no network, no script or font
from elsewhere) that shows the plan of `dupfind dedupe --dry-run` group by group.

The page is static: the plan (dedupe's --json document) and the pictures travel inside it as
JSON, the pictures in one block per GROUPS_PER_PAGE groups, and a short script draws one
page of groups at a time, reading only the blocks it shows: a report of 10,000 groups opens
about as fast as one of 50. Every text from the
library (paths, reasons) is set as text, never as markup. No templating library: the page is
one fixed document with two data slots, which ``string.Template`` fills.
"""

from __future__ import annotations

import json
from string import Template
from typing import Any

GROUPS_PER_PAGE = 50
PICTURE_SIDE = 180  # the report's pictures, long side in pixels (shown at 170)


def _json_for_script(value: Any) -> str:
    """JSON that cannot end its <script> element early (no "<" at all)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def report_html(plan: dict[str, Any], pictures: dict[str, str]) -> str:
    """The page for ``plan`` (``report.dedupe_json``'s document, each member with a
    ``picture`` id) and ``pictures`` (id -> base64 JPEG)."""
    groups = plan["groups"]
    blocks = []
    for block, first in enumerate(range(0, len(groups), GROUPS_PER_PAGE)):
        ids = {m.get("picture") for g in groups[first : first + GROUPS_PER_PAGE] for m in g["members"]}
        chosen = {i: pictures[i] for i in sorted(ids - {None}) if i in pictures}
        blocks.append(
            f'<script id="pictures-{block}" type="application/json">{_json_for_script(chosen)}</script>'
        )
    return _PAGE.substitute(plan=_json_for_script(plan), pictures="\n".join(blocks), per_page=GROUPS_PER_PAGE)


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
$pictures
<script>
"use strict";
const PLAN = JSON.parse(document.getElementById("plan").textContent);
const BLOCKS = new Map();  // pictures, read one block of PER_PAGE groups at a time
function picture(groupIndex, id) {
  const block = Math.floor(groupIndex / PER_PAGE);
  if (!BLOCKS.has(block)) BLOCKS.set(block, JSON.parse(document.getElementById("pictures-" + block).textContent));
  return BLOCKS.get(block)[id];
}
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

function member(m, groupIndex) {
  const go = MOVES.has(m.action);
  const fig = el("figure", {class: m.action === "keep" ? "keep" : go ? "go" : "other"});
  const data = m.picture && picture(groupIndex, m.picture);
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

function group(g, index) {
  const number = index + 1;
  const kind = g.kind === "exact" ? "exact copies (same bytes)" : "near duplicates";
  return el("section", {class: "group " + g.kind, "data-kind": g.kind},
    el("h2", {}, "Group " + number + ": " + kind + " ", el("span", {class: "why"}, "keep: " + (g.why || ""))),
    el("div", {class: "members"}, ...g.members.map(m => member(m, index))));
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
    ...list.slice(first, first + PER_PAGE).map(g => group(g, PLAN.groups.indexOf(g))));
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


def review_html() -> str:
    """The review page: the server's /TOKEN/; it asks for the plan and the pictures by
    relative URLs, so every request carries the token."""
    return _REVIEW


_REVIEW = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dupfind review</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f4f4f4; }
  header { background: #fff; border-bottom: 1px solid #ddd; padding: .5em 1em; display: flex; gap: 1em;
           align-items: center; flex-wrap: wrap; position: sticky; top: 0; z-index: 2; }
  header h1 { font-size: 1.1em; margin: 0; }
  main { padding: 1em; }
  .why { color: #555; }
  .members { display: flex; flex-wrap: wrap; gap: 1em; margin-top: .8em; }
  figure { margin: 0; width: 340px; background: #fff; border: 3px solid #ccc; border-radius: 6px; cursor: pointer; }
  figure.keep { border-color: #2a8a2a; }
  figure.go { border-color: #c33; }
  figure img { width: 100%; height: 300px; object-fit: contain; background: #eee; display: block; }
  figcaption { padding: .4em; font-size: .85em; word-break: break-all; }
  .action { font-weight: bold; text-transform: uppercase; }
  .keep .action { color: #2a8a2a; } .go .action { color: #c33; }
  .decision { font-weight: bold; }
  figure button.apart { margin-top: .3em; font-size: .85em; }
  .keys { color: #555; font-size: .85em; }
  #compare { display: none; position: fixed; inset: 0; background: #111; z-index: 5; }
  #compare .pane { position: absolute; top: 2.5em; bottom: 0; width: 50%; overflow: hidden; }
  #compare .pane img { position: absolute; left: 0; top: 0; transform-origin: 0 0; max-width: none; }
  #compare .bar { color: #eee; padding: .5em 1em; }
  #result { white-space: pre-wrap; background: #fff; border: 1px solid #ddd; padding: .8em; display: none; }
  button { font: inherit; }
</style>
</head>
<body>
<header>
  <h1>dupfind review</h1>
  <span id="where"></span>
  <button id="prev" title="previous group (left arrow, k)">&larr;</button>
  <button id="next" title="next group (right arrow, j)">&rarr;</button>
  <button id="accept" title="a">accept (a)</button>
  <button id="skip" title="s">skip (s)</button>
  <button id="apart" title="n">not duplicates (n)</button>
  <button id="compare-open" title="c">compare (c)</button>
  <button id="preview">preview apply (p)</button>
  <button id="apply" disabled>apply</button>
  <button id="quit">quit</button>
  <span class="keys">1-9: keep that file &middot; shift+1-9: not a duplicate &middot; b: blink in compare &middot; Esc: close</span>
</header>
<main>
  <div id="result"></div>
  <section id="group"></section>
</main>
<div id="compare">
  <div class="bar">compare: wheel zooms, drag pans (both together) &middot; b blinks &middot; Esc closes</div>
  <div class="pane" id="left" style="left:0"><img id="left-img" alt=""></div>
  <div class="pane" id="right" style="left:50%"><img id="right-img" alt=""></div>
</div>
<script>
"use strict";
let groups = [], choices = {}, at = 0, other = 1;
const MOVES = new Set(["trash", "move", "hardlink"]);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}
// Requests reach the server one after another, in the order they were made: a preview or an
// apply clicked while a decision is still being saved sees that decision.
let queue = Promise.resolve();
function post(path, body) {
  const run = queue.then(async () => {
    const answer = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(body)});
    if (!answer.ok) throw new Error(await answer.text());
    return answer.json();
  });
  queue = run.catch(() => {});
  return run;
}
function keeperOf(g) {
  const c = choices[g.key];
  return c && c.choice === "keep" ? c.keeper : 0;
}
function apartOf(g) {  // member numbers marked "not a duplicate" of the kept file
  const paths = new Set((choices[g.key] && choices[g.key].apart) || []);
  return g.members.map((m, i) => i).filter(i => paths.has(g.members[i].path));
}
function words(c) {
  if (!c) return "not decided (skipped at apply)";
  if (c.choice === "keep") return "accepted: keep file " + (c.keeper + 1);
  return c.choice === "skip" ? "skipped" : "not duplicates (remembered at apply)";
}
function show() {
  const g = groups[at];
  document.getElementById("where").textContent = groups.length
    ? "group " + (at + 1) + " of " + groups.length + " \\u00b7 " + Object.keys(choices).length + " decided"
    : "no groups to review";
  const box = document.getElementById("group");
  if (!g) { box.replaceChildren(); return; }
  const keeper = keeperOf(g);
  const figures = g.members.map((m, i) => {
    const kept = i === keeper, apart = apartOf(g).includes(i);
    const fig = el("figure", {class: kept ? "keep" : apart ? "other" : MOVES.has(m.action) || m.action === "keep" ? "go" : "other",
                              "data-member": String(i)},
      el("img", {src: "picture/" + m.id + "?side=1024", alt: m.path}),
      el("figcaption", {},
        el("div", {class: "action"}, (i + 1) + ": " + (kept ? "keep" : apart ? "not a duplicate: stays" : m.action === "keep" ? "trash" : m.action)),
        el("div", {}, m.path),
        el("div", {}, [m.size, m.width ? m.width + "\\u00d7" + m.height + " " + m.format : m.format,
                       m.taken ? "taken " + m.taken : ""].filter(Boolean).join(", ")),
        el("div", {}, kept && keeper === 0 ? g.why : (m.reason || ""))));
    fig.onclick = () => decide({choice: "keep", keeper: i});
    if (!kept) {
      const toggle = el("button", {class: "apart", title: "shift+" + (i + 1)}, apart ? "it is a duplicate" : "not a duplicate");
      toggle.onclick = e => { e.stopPropagation(); setApart(i); };
      fig.querySelector("figcaption").append(toggle);
    }
    return fig;
  });
  box.replaceChildren(
    el("h2", {}, "Group " + (at + 1) + ": " + (g.kind === "exact" ? "exact copies (same bytes)" : "near duplicates")),
    el("div", {class: "decision"}, words(choices[g.key])),
    el("div", {class: "members"}, ...figures));
}
async function decide(choice) {
  const g = groups[at];
  choice = Object.assign({apart: apartOf(g).filter(i => choice.choice !== "keep" || i !== choice.keeper)}, choice);
  const saved = Object.assign({}, choice, {apart: choice.apart.map(i => g.members[i].path)});
  if (choice.choice === "keep") saved.path = g.members[choice.keeper].path;
  // On to the next group at once: a key pressed while this decision is saved is for the
  // group then on screen, never again for this one.
  if (at < groups.length - 1) at++;
  document.getElementById("apply").disabled = true;
  const saving = post("choice", Object.assign({group: g.key}, choice));
  show();
  await saving;
  choices[g.key] = saved;
  show();
}
async function setApart(i) {  // one member is, or is not, a duplicate of the kept file
  const g = groups[at];
  const now = apartOf(g);
  const apart = now.includes(i) ? now.filter(j => j !== i) : now.concat([i]);
  const c = choices[g.key] || {choice: "skip"};
  const choice = {choice: c.choice, apart: apart};
  if (c.choice === "keep") choice.keeper = c.keeper;
  await post("choice", Object.assign({group: g.key}, choice));
  choices[g.key] = Object.assign({}, c, {choice: c.choice, apart: apart.map(j => g.members[j].path)});
  show();
}
function move(step) { at = Math.min(Math.max(at + step, 0), groups.length - 1); show(); }

async function preview() {
  const r = await post("apply", {dry_run: true});
  const box = document.getElementById("result");
  box.style.display = "block";
  box.textContent = "Preview: " + r.text;
  document.getElementById("apply").disabled = false;
}
async function apply() {
  document.getElementById("apply").disabled = true;
  const r = await post("apply", {dry_run: false});
  const box = document.getElementById("result");
  box.style.display = "block";
  box.textContent = "Done: " + r.text;
  const gone = new Set(r.applied.concat(r.remembered));
  groups = groups.filter(g => !gone.has(g.key));
  for (const key of gone) delete choices[key];
  at = Math.min(at, Math.max(groups.length - 1, 0));
  show();
}

// -- compare: two members side by side, one zoom and pan for both; b blinks ---------------
let zoom = 1, panX = 0, panY = 0, blink = false;
function place() {
  for (const id of ["left-img", "right-img"])
    document.getElementById(id).style.transform = "translate(" + panX + "px," + panY + "px) scale(" + zoom + ")";
  document.getElementById("right").style.display = blink ? "none" : "block";
  document.getElementById("left").style.width = blink ? "100%" : "50%";
}
function openCompare() {
  const g = groups[at];
  if (!g || g.members.length < 2) return;
  const keeper = keeperOf(g);
  if (other === keeper || other >= g.members.length) other = keeper === 0 ? 1 : 0;
  document.getElementById("left-img").src = "picture/" + g.members[keeper].id + "?side=2048";
  document.getElementById("right-img").src = "picture/" + g.members[other].id + "?side=2048";
  zoom = 1; panX = 0; panY = 0; blink = false;
  document.getElementById("compare").style.display = "block";
  place();
}
function toggleBlink() {
  const left = document.getElementById("left-img"), right = document.getElementById("right-img");
  [left.src, right.src] = [right.src, left.src];
  blink = true;
  place();
}
const cmp = document.getElementById("compare");
cmp.addEventListener("wheel", e => {
  e.preventDefault();
  const factor = e.deltaY < 0 ? 1.25 : 0.8;
  const pane = e.target.closest(".pane") || cmp;
  const rect = pane.getBoundingClientRect();
  const x = e.clientX - rect.left, y = e.clientY - rect.top;
  panX = x - (x - panX) * factor; panY = y - (y - panY) * factor; zoom *= factor;
  place();
}, {passive: false});
let drag = null;
cmp.addEventListener("mousedown", e => { drag = [e.clientX - panX, e.clientY - panY]; e.preventDefault(); });
window.addEventListener("mouseup", () => { drag = null; });
window.addEventListener("mousemove", e => { if (drag) { panX = e.clientX - drag[0]; panY = e.clientY - drag[1]; place(); } });

document.addEventListener("keydown", e => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const comparing = cmp.style.display === "block";
  if (e.key === "Escape") { cmp.style.display = "none"; return; }
  if (comparing) { if (e.key === "b") toggleBlink(); return; }
  const g = groups[at];
  if (e.key === "ArrowRight" || e.key === "j") move(1);
  else if (e.key === "ArrowLeft" || e.key === "k") move(-1);
  else if (e.key === "a" && g) decide({choice: "keep", keeper: keeperOf(g)});
  else if (e.key === "s" && g) decide({choice: "skip"});
  else if (e.key === "n" && g) decide({choice: "not-duplicates"});
  else if (e.key === "c") openCompare();
  else if (e.key === "p") preview();
  else if (e.shiftKey && /^Digit[1-9]$/.test(e.code) && g && Number(e.code.slice(5)) <= g.members.length) setApart(Number(e.code.slice(5)) - 1);
  else if (/^[1-9]$/.test(e.key) && g && Number(e.key) <= g.members.length) decide({choice: "keep", keeper: Number(e.key) - 1});
});
document.getElementById("prev").onclick = () => move(-1);
document.getElementById("next").onclick = () => move(1);
document.getElementById("accept").onclick = () => groups[at] && decide({choice: "keep", keeper: keeperOf(groups[at])});
document.getElementById("skip").onclick = () => groups[at] && decide({choice: "skip"});
document.getElementById("apart").onclick = () => groups[at] && decide({choice: "not-duplicates"});
document.getElementById("compare-open").onclick = openCompare;
document.getElementById("preview").onclick = preview;
document.getElementById("apply").onclick = apply;
document.getElementById("quit").onclick = async () => { await post("quit", {}); document.body.textContent = "dupfind review stopped."; };

fetch("plan").then(r => r.json()).then(plan => {
  groups = plan.groups; choices = plan.choices;
  const first = groups.findIndex(g => !(g.key in choices));  // resume where the user stopped
  at = first < 0 ? 0 : first;
  show();
});
</script>
</body>
</html>
"""
