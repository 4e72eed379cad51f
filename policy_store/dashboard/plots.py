"""The two plots the report has no use for, built on its SVG scale and escaping (:mod:`policy_store.reports.svg`).

:func:`strips` draws the values of pruned and surviving trials, one parameter per
panel; :func:`series` draws a metric over the outcomes a drift monitor reads, with
its drift events as vertical marks.

>>> svg = strips([Strip("lr<x>", [0.1, 0.2], [0.5], ["a", "b"], ["c"])])
>>> svg.startswith("<svg") and "lr&lt;x&gt;" in svg and svg.count("<circle") == 3
True
>>> svg = series([Line("median@1", [0, 1, 2], [0.1, 0.3, 0.2], "#4c78a8")], [(1, "drift")], y_label="regret")
>>> "<title>drift</title>" in svg and svg.count("<polyline") == 1
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from policy_store.reports.svg import KEPT, PRUNED, Scale, distinct, esc

_PANEL, _LEFT, _RIGHT = 64, 190, 24


@dataclass(frozen=True)
class Strip:
    """One parameter: its values in pruned and in surviving trials, with a hover text per value."""

    label: str
    pruned: Sequence[float]
    survived: Sequence[float]
    pruned_titles: Sequence[str]
    survived_titles: Sequence[str]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def strips(rows: Sequence[Strip], *, width: int = 720) -> str:
    """One panel per parameter: pruned trials' values on the upper lane (red), survivors' below (blue)."""
    height = 30 + _PANEL * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="halted configurations" class="plot">',
           f'<text x="{width - _RIGHT}" y="14" text-anchor="end" font-size="11"><tspan fill="{PRUNED}">● pruned'
           f'</tspan><tspan fill="{KEPT}" dx="12">● survived</tspan></text>']
    labels = distinct([row.label for row in rows], 28)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        top = 24 + i * _PANEL
        x = Scale.fit([*row.pruned, *row.survived], (_LEFT, width - _RIGHT))
        out.append(f'<text x="{_LEFT - 8}" y="{top + 22}" text-anchor="end" dominant-baseline="middle" '
                   f'font-size="11">{esc(label)}</text>'
                   f'<line x1="{_LEFT}" x2="{width - _RIGHT}" y1="{top + 36}" y2="{top + 36}" stroke="#999"/>')
        for t in x.ticks(6):
            out.append(f'<text x="{x(t):.1f}" y="{top + 49}" text-anchor="middle" font-size="10">'
                       f'{esc(_fmt(t))}</text>')
        for lane, values, titles, colour in ((top + 12, row.pruned, row.pruned_titles, PRUNED),
                                             (top + 28, row.survived, row.survived_titles, KEPT)):
            for v, title in zip(values, titles, strict=True):
                if math.isfinite(v):
                    out.append(f'<circle cx="{x(v):.1f}" cy="{lane}" r="4" fill="{colour}" fill-opacity="0.6">'
                               f"<title>{esc(title)}</title></circle>")
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class Line:
    """One rule version's metric over the outcomes, in the order a monitor reads them."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    colour: str


def series(lines: Sequence[Line], marks: Sequence[tuple[float, str]], *, y_label: str, width: int = 960,
           height: int = 300) -> str:
    """Lines of a metric against outcome number, and a dashed vertical line (with its hover text) per mark."""
    x = Scale.fit([v for ln in lines for v in ln.xs] + [m[0] for m in marks], (70, width - 20), pad=0.01)
    y = Scale.fit([v for ln in lines for v in ln.ys], (height - 40, 30))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{esc(y_label)} over outcomes" class="plot">',
           f'<rect x="70" y="30" width="{width - 90}" height="{height - 70}" fill="none" stroke="#999"/>']
    for t in y.ticks(4):
        out.append(f'<line x1="70" x2="{width - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>'
                   f'<text x="64" y="{y(t):.1f}" text-anchor="end" dominant-baseline="middle" font-size="10">'
                   f"{esc(_fmt(t))}</text>")
    out.append(f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle" font-size="12">outcomes in the order '
               f'they were recorded</text><text transform="translate(14 {height / 2}) rotate(-90)" '
               f'text-anchor="middle" font-size="12">{esc(y_label)}</text>')
    for at, title in marks:
        out.append(f'<line x1="{x(at):.1f}" x2="{x(at):.1f}" y1="30" y2="{height - 40}" stroke="{PRUNED}" '
                   f'stroke-width="2" stroke-dasharray="5 3"><title>{esc(title)}</title></line>')
    for i, (ln, label) in enumerate(zip(lines, distinct([ln.label for ln in lines], 22), strict=True)):
        points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(ln.xs, ln.ys, strict=True) if math.isfinite(b))
        out.append(f'<polyline points="{points}" fill="none" stroke="{ln.colour}" stroke-width="1.4">'
                   f"<title>{esc(ln.label)}</title></polyline>"
                   f'<text x="{80 + 150 * i}" y="20" font-size="11" fill="{ln.colour}">— {esc(label)}'
                   "</text>")
    out.append("</svg>")
    return "".join(out)
