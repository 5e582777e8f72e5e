"""``index.html``: one static, self-contained page (inline CSS, no script, no external asset).

It opens from disk: every image is a PNG beside it, referenced by a relative name. Every string
that comes from records (generator, detector and data set names, reasons, protocol values) is
escaped with ``html.escape`` (HTML Living Standard, WHATWG, section 13.1 on text and attribute
values), so a name like ``<script>`` shows as text and never runs.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from leaderboards.figures import FigureFile
from leaderboards.formatting import cell, header, is_missing, protocol_lines
from leaderboards.markdown import SECTIONS
from leaderboards.tables import Board, Leaderboard


@dataclass(frozen=True)
class SampleGrid:
    generator: str
    dataset: str
    preset: str
    name: str | None


@dataclass
class Assets:
    """The files a page shows, keyed by the index of their table in ``Leaderboard.boards`` where tied to one."""

    scatter: dict[int, FigureFile] = field(default_factory=dict)
    heatmaps: dict[int, FigureFile] = field(default_factory=dict)
    roc: list[FigureFile] = field(default_factory=list)
    robustness: list[FigureFile] = field(default_factory=list)
    samples: list[SampleGrid] = field(default_factory=list)


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


STYLE = """
:root { --fg: #1d232b; --muted: #5b6673; --line: #d8dee6; --head: #f3f5f8; --accent: #1f6feb; --best: #e6f4ea; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
header { padding: 24px 32px 12px; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 32px 0 8px; font-size: 19px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { margin: 20px 0 6px; font-size: 15px; }
nav { padding: 8px 32px; border-bottom: 1px solid var(--line); background: var(--head); }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; }
main { padding: 0 32px 32px; max-width: 1600px; }
.lede, .note, figcaption, .proto-lines { color: var(--muted); }
dl.env { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 12px 0 0; }
dl.env dt { font-weight: 600; } dl.env dd { margin: 0; font-family: ui-monospace, monospace; font-size: 12.5px; }
.scroll { overflow-x: auto; max-width: 100%; width: fit-content; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: var(--head); vertical-align: bottom; text-align: left; font-weight: 600; white-space: normal;
     min-width: 5.5em; max-width: 10.5em; }
th .proto { display: block; font-weight: 400; font-size: 10.5px; line-height: 1.3; color: var(--muted); margin-top: 2px; }
td.num, th.num { text-align: right; }
td.best { background: var(--best); font-weight: 600; }
td.diag { outline: 2px solid #9ab; outline-offset: -2px; }
tr.non-gan td:first-child::after { content: " †"; color: var(--muted); }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; background: #fff1d6; font-size: 12px; }
.proto-lines { font-size: 12px; margin: 4px 0 0; font-family: ui-monospace, monospace; word-break: break-all; }
.figures { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; margin-top: 12px; }
.figures figure { margin: 0; max-width: 100%; }
.figures img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 16px; }
.gallery figure { margin: 0; }
.gallery img { width: 100%; image-rendering: pixelated; border: 1px solid var(--line); border-radius: 4px; }
.missing { color: #a33; }
footer { padding: 16px 32px; color: var(--muted); border-top: 1px solid var(--line); font-size: 12px; }
"""


def _best_rows(board: Board) -> dict[str, int]:
    """Row position of the best value of each column that has a better direction (two rows at least)."""
    best = {}
    for column in board.columns:
        if board.kind == "cross" or not column.better or column.name == "seeds":
            continue
        values = board.data[column.name].astype(float)
        if values.nunique() >= 2:
            best[column.name] = int(values.argmin() if column.better == "lower" else values.argmax())
    return best


def table_html(board: Board) -> str:
    heads = []
    for column in board.columns:
        label, protocol = header(board, column)
        proto = f'<span class="proto">{esc(protocol)}</span>' if protocol else ""
        heads.append(f'<th class="{"num" if column.numeric else "text"}" scope="col">{esc(label)}{proto}</th>')
    best = _best_rows(board)
    body = []
    for position, row in enumerate(board.data.to_dict("records")):
        family = row.get("family")
        non_gan = board.kind == "generators" and not is_missing(family) and str(family).lower() != "gan"
        cells = []
        for column in board.columns:
            classes = ["num"] if column.numeric else []
            if best.get(column.name) == position:
                classes.append("best")
            if board.kind == "cross" and column.name == row.get("train_generator"):
                classes.append("diag")
            value = cell(row, column)
            if column.name == "family" and non_gan:
                value_html = f'<span class="badge">{esc(value)}</span>'
            else:
                value_html = esc(value)
            cells.append(f'<td class="{" ".join(classes)}">{value_html}</td>' if classes else f"<td>{value_html}</td>")
        body.append(f'<tr class="non-gan">{"".join(cells)}</tr>' if non_gan else f"<tr>{''.join(cells)}</tr>")
    protocols = "".join(f"<div>{esc(line)}</div>" for line in protocol_lines(board))
    return (f"<h3>{esc(board.title)}</h3>\n<div class=\"scroll\"><table>\n<thead><tr>{''.join(heads)}</tr></thead>\n"
            f"<tbody>\n" + "\n".join(body) + "\n</tbody></table></div>\n"
            f'<div class="proto-lines">{protocols}</div>\n')


def figure_html(figure: FigureFile) -> str:
    return (f'<figure><img src="{esc(figure.name)}" alt="{esc(figure.description)}">'
            f"<figcaption>{esc(figure.title)}</figcaption></figure>")


def figures_html(figures: list[FigureFile]) -> str:
    return f'<div class="figures">{"".join(figure_html(f) for f in figures)}</div>' if figures else ""


def environment_html(env: dict[str, Any]) -> str:
    items = [("ganbench", ", ".join(env["ganbench"])), ("torch", ", ".join(env["torch"])),
             ("device", ", ".join(env["device"]))]
    items += [(f"data set {name}", ", ".join(hashes)) for name, hashes in env["datasets"].items()]
    items += [("records", env["records"]), ("runs", env["runs"]),
              ("published", f"{env['published']} ({env['published_with']})")]
    return '<dl class="env">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def samples_html(samples: list[SampleGrid]) -> str:
    tiles = []
    for grid in samples:
        caption = f"{grid.generator} · {grid.dataset} / {grid.preset}"
        if grid.name:
            tiles.append(f'<figure><img src="{esc(grid.name)}" alt="{esc("samples of " + grid.generator)}">'
                         f"<figcaption>{esc(caption)}</figcaption></figure>")
        else:
            tiles.append(f'<figure><p class="missing">sample grid not found</p><figcaption>{esc(caption)}</figcaption></figure>')
    return f'<div class="gallery">{"".join(tiles)}</div>'


def problems_html(problems: list[dict[str, Any]]) -> str:
    rows = []
    for p in problems:
        subject = " ".join(str(p[k]) for k in ("generator", "train_generator", "detector") if p.get(k))
        rows.append(f"<tr><td>{esc(p['kind'])}</td><td>{esc(subject)}</td><td>{esc(p['status'])}</td>"
                    f"<td>{esc(p.get('reason') or '')}</td></tr>")
    return ('<div class="scroll"><table><thead><tr><th>unit</th><th>subject</th><th>status</th><th>reason</th></tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>")


def render_page(leaderboard: Leaderboard, env: dict[str, Any], assets: Assets) -> str:
    """The whole page as one string."""
    notes = {kind: note for kind, _, note in SECTIONS}
    sections: list[tuple[str, str, str]] = []
    boards = list(enumerate(leaderboard.boards))
    generators = [(i, b) for i, b in boards if b.kind == "generators"]
    if generators:
        content = "".join(table_html(b) for _, b in generators)
        content += figures_html([assets.scatter[i] for i, _ in generators if i in assets.scatter])
        if any(b.kind == "generators" and "family" in b.data and
               b.data.family.fillna("gan").str.lower().ne("gan").any() for _, b in generators):
            content += '<p class="note">† non-GAN reference generator.</p>'
        sections.append(("generators", "Generators", f'<p class="note">{esc(notes["generators"])}</p>{content}'))
    if assets.samples:
        sections.append(("samples", "Samples", '<p class="note">A grid of evaluation fakes per generator '
                         "(lowest seed).</p>" + samples_html(assets.samples)))
    detectors = [b for _, b in boards if b.kind == "detectors"]
    if detectors:
        content = "".join(table_html(b) for b in detectors)
        roc = figures_html(assets.roc) if assets.roc else '<p class="note">No ROC points in these records.</p>'
        sections.append(("detectors", "Detectors", f'<p class="note">{esc(notes["detectors"])}</p>{content}'
                         f"<h3>ROC curves</h3>{roc}"))
    cross = [(i, b) for i, b in boards if b.kind == "cross"]
    if cross:
        content = "".join(figures_html([assets.heatmaps[i]] if i in assets.heatmaps else []) + table_html(b)
                          for i, b in cross)
        sections.append(("cross", "Cross-generator", f'<p class="note">{esc(notes["cross"])}</p>{content}'))
    if detectors:
        robustness = figures_html(assets.robustness) or '<p class="note">No perturbed evaluations in these records.</p>'
        sections.append(("robustness", "Robustness", '<p class="note">Mean AUC over the evaluated generators at each '
                         "perturbation strength; dashed: the same detector/generator pairs on clean fakes.</p>"
                         + robustness))
    if leaderboard.problems:
        sections.append(("problems", "Units that did not finish", problems_html(leaderboard.problems)))
    if not sections:
        sections.append(("empty", "No results", '<p class="note">No finished units in these records.</p>'))
    nav = "".join(f'<a href="#{anchor}">{esc(title)}</a>' for anchor, title, _ in sections)
    body = "\n".join(f'<section id="{anchor}"><h2>{esc(title)}</h2>\n{content}</section>'
                     for anchor, title, content in sections)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ganbench leaderboard</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>ganbench leaderboard</h1>
<p class="lede">Generation quality beside detectability, computed from {esc(env['records'])} stored run records.</p>
{environment_html(env)}
</header>
<nav>{nav}</nav>
<main>
{body}
</main>
<footer>Generated by {esc(env['published_with'])} on {esc(env['published'])}. Static page: no server, no external assets.</footer>
</body>
</html>
"""
