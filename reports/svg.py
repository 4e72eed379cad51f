"""Small, dependency-free SVG plots for the report: scatter with a Pareto front, bars, heat map, curves, timelines.

Every plot returns one ``<svg>`` string. Every piece of text that reaches the SVG
(labels, hover titles) goes through :func:`esc`, so names from the store render
as text. Hover details live in ``<title>`` elements, which browsers show as
tooltips and which need no JavaScript.

>>> svg = scatter([Point(0.01, 0.5, "a<b", "a<b: 50 %", True)], x_label="regret", y_label="saved")
>>> svg.startswith("<svg") and "a&lt;b" in svg and "a<b" not in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
           "#eeca3b")
PRUNED, KEPT, FRONT, GRID, INK = "#e45756", "#4c78a8", "#f58518", "#e5e5e5", "#333"


def esc(text: object) -> str:
    """Escape text for SVG/HTML content and attribute values.

    >>> esc('<script>"x"</script>')
    '&lt;script&gt;&quot;x&quot;&lt;/script&gt;'
    """
    return escape(str(text), quote=True)


def distinct(labels: Sequence[object], limit: int = 32) -> list[str]:
    """Axis labels of at most ``limit`` characters that stay as distinct as the names they stand for.

    A long name is cut in its middle, so its start and its end (a version suffix, say) both show; names that
    would still read the same get the rest of their end back, up to twice ``limit``.

    >>> distinct(["optuna-successive-halving@1", "optuna-successive-halving@2"], 20)
    ['optuna-su…-halving@1', 'optuna-su…-halving@2']
    >>> distinct(["a-very-long-task-name/one", "a-very-long-task-name/two"], 12)
    ['a-ver…me/one', 'a-ver…me/two']
    """
    texts = [str(t) for t in labels]
    for width in range(limit, 2 * limit + 1):
        out = [t if len(t) <= width else t[: (width - 1) // 2] + "…" + t[-(width - 1 - (width - 1) // 2):]
               for t in texts]
        if len(set(out)) == len(set(texts)):
            return out
    return texts


def _num(v: float) -> str:
    return f"{v:.1f}"


def _open(width: int, height: int, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{esc(label)}" class="plot">')


def _tick_label(v: float, step: float) -> str:
    if step >= 1 and float(v).is_integer():
        return str(int(v))
    digits = max(0, -math.floor(math.log10(step)) if step > 0 else 0)
    return f"{v:.{min(digits, 6)}f}"


@dataclass(frozen=True)
class Scale:
    """A linear map from ``domain`` to ``pixels`` with round tick values.

    >>> s = Scale((0.0, 1.0), (10.0, 110.0))
    >>> s(0.5), s.ticks(5)[:3]
    (60.0, [0.0, 0.2, 0.4])
    """

    domain: tuple[float, float]
    pixels: tuple[float, float]

    @classmethod
    def fit(cls, values: Sequence[float], pixels: tuple[float, float], *, pad: float = 0.05,
            include_zero: bool = False) -> Scale:
        """A scale covering ``values`` (finite ones) with ``pad`` of the span added each side."""
        finite = [float(v) for v in values if v is not None and math.isfinite(v)] or [0.0, 1.0]
        lo, hi = min(finite), max(finite)
        if include_zero:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        span = hi - lo or abs(hi) or 1.0
        return cls((lo - pad * span, hi + pad * span), pixels)

    def __call__(self, v: float) -> float:
        (d0, d1), (p0, p1) = self.domain, self.pixels
        return p0 + (float(v) - d0) / (d1 - d0) * (p1 - p0)

    def step(self, n: int = 5) -> float:
        raw = (self.domain[1] - self.domain[0]) / max(n, 1)
        mag = 10 ** math.floor(math.log10(raw))
        return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)

    def ticks(self, n: int = 5) -> list[float]:
        step = self.step(n)
        first = math.ceil(self.domain[0] / step) * step
        count = int(math.floor((self.domain[1] - first) / step + 1e-9)) + 1
        return [round(first + i * step, 12) for i in range(count)]


def _axes(x: Scale, y: Scale, x_label: str, y_label: str, *, x_fmt=None, y_fmt=None) -> list[str]:
    top, bottom = y.pixels[1], y.pixels[0]
    left, right = x.pixels
    out = []
    xs, ys = x.step(), y.step()
    for t in y.ticks():
        py = _num(y(t))
        label = y_fmt(t) if y_fmt else _tick_label(t, ys)
        out.append(f'<line x1="{left}" x2="{right}" y1="{py}" y2="{py}" stroke="{GRID}"/>'
                   f'<text x="{left - 6}" y="{py}" text-anchor="end" dominant-baseline="middle" '
                   f'font-size="11">{esc(label)}</text>')
    for t in x.ticks():
        px = _num(x(t))
        label = x_fmt(t) if x_fmt else _tick_label(t, xs)
        out.append(f'<line x1="{px}" x2="{px}" y1="{top}" y2="{bottom}" stroke="{GRID}"/>'
                   f'<text x="{px}" y="{bottom + 16}" text-anchor="middle" font-size="11">{esc(label)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" '
               f'stroke="#999"/>')
    out.append(f'<text x="{(left + right) / 2}" y="{bottom + 36}" text-anchor="middle" font-size="12">'
               f'{esc(x_label)}</text>')
    out.append(f'<text transform="translate(14 {(top + bottom) / 2}) rotate(-90)" text-anchor="middle" '
               f'font-size="12">{esc(y_label)}</text>')
    return out


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %"


@dataclass(frozen=True)
class Point:
    """One scatter point: position, a short label, the hover text, and whether it is on the Pareto front."""

    x: float
    y: float
    label: str
    title: str
    on_front: bool = False


def scatter(points: Sequence[Point], *, x_label: str, y_label: str, width: int = 720, height: int = 420,
            y_percent: bool = True, diagonal: bool = False) -> str:
    """Scatter plot; front points are labelled and joined by a line (lower x and higher y is better).

    With ``diagonal``, both axes share one scale and the line y = x is drawn (expected against observed).
    """
    if diagonal:
        both = [p.x for p in points] + [p.y for p in points]
        x, y = Scale.fit(both, (70, width - 20)), Scale.fit(both, (height - 50, 20))
    else:
        x = Scale.fit([p.x for p in points], (70, width - 20), include_zero=True)
        y = Scale.fit([p.y for p in points], (height - 50, 20))
    out = [_open(width, height, f"{y_label} against {x_label}"),
           *_axes(x, y, x_label, y_label, y_fmt=_pct if y_percent else None, x_fmt=_pct if diagonal else None)]
    if diagonal:
        lo, hi = max(x.domain[0], y.domain[0]), min(x.domain[1], y.domain[1])
        out.append(f'<line x1="{_num(x(lo))}" y1="{_num(y(lo))}" x2="{_num(x(hi))}" y2="{_num(y(hi))}" '
                   f'stroke="#999" stroke-dasharray="4 4"><title>expected = observed</title></line>')
    front = sorted((p for p in points if p.on_front and math.isfinite(p.x) and math.isfinite(p.y)),
                   key=lambda p: p.x)
    if len(front) > 1:
        path = " ".join(f"{_num(x(p.x))},{_num(y(p.y))}" for p in front)
        out.append(f'<polyline points="{path}" fill="none" stroke="{FRONT}" stroke-width="2" '
                   f'stroke-dasharray="5 3"/>')
    drawn = [p for p in points if math.isfinite(p.x) and math.isfinite(p.y)]
    labels = dict(zip(map(id, drawn), distinct([p.label for p in drawn]), strict=True))
    placed: list[tuple[float, float, float]] = []  # (left, right, baseline) of the labels so far
    for p in sorted(drawn, key=lambda p: (not p.on_front, y(p.y))):
        colour = FRONT if p.on_front else KEPT
        r = 6 if p.on_front else 4.5
        out.append(f'<circle cx="{_num(x(p.x))}" cy="{_num(y(p.y))}" r="{r}" fill="{colour}" fill-opacity="0.85" '
                   f'stroke="white"><title>{esc(p.title)}</title></circle>')
        # Every point is labelled (front points in ink, the others in grey); a label that would overlap one
        # already placed moves down a line, so none hides another.
        text = labels[id(p)]
        px, right = x(p.x), x(p.x) > width - 180  # near the right edge: label to the left of the point
        span = 6.2 * len(text)
        left_edge = px - 8 - span if right else px + 8
        baseline = y(p.y) - 8
        while any(a < left_edge + span and left_edge < b and abs(baseline - c) < 12 for a, b, c in placed):
            baseline += 12
        placed.append((left_edge, left_edge + span, baseline))
        out.append(f'<text class="point-label" x="{_num(px - 8 if right else px + 8)}" y="{_num(baseline)}" '
                   f'font-size="11" fill="{INK if p.on_front else "#777"}" text-anchor="{"end" if right else "start"}">'
                   f'{esc(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def bars(labels: Sequence[str], values: Sequence[float], titles: Sequence[str], *, x_label: str,
         width: int = 720, bar_height: int = 18) -> str:
    """Horizontal bars of shares (0..1), one per label, with the value written at the bar's end."""
    labels = distinct(labels)
    height = 50 + bar_height * len(labels)
    left = min(260, 20 + 7 * max((len(s) for s in labels), default=4))
    x = Scale((0.0, max([1.0, *(v for v in values if math.isfinite(v))])), (left, width - 60))
    out = [_open(width, height, x_label)]
    for i, (label, v, title) in enumerate(zip(labels, values, titles, strict=True)):
        top = 10 + i * bar_height
        w = x(v) - left if math.isfinite(v) else 0
        out.append(f'<text class="axis-label" x="{left - 6}" y="{top + bar_height / 2}" text-anchor="end" '
                   f'dominant-baseline="middle" font-size="11">{esc(label)}</text>'
                   f'<rect x="{left}" y="{top + 2}" width="{_num(w)}" height="{bar_height - 4}" fill="{PRUNED}">'
                   f'<title>{esc(title)}</title></rect>'
                   f'<text x="{_num(left + w + 4)}" y="{top + bar_height / 2}" dominant-baseline="middle" '
                   f'font-size="11">{esc(_pct(v) if math.isfinite(v) else "–")}</text>')
    axis_y = 10 + bar_height * len(labels)
    out.append(f'<line x1="{left}" x2="{x.pixels[1]}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>')
    for t in x.ticks(4):
        out.append(f'<text x="{_num(x(t))}" y="{axis_y + 14}" text-anchor="middle" font-size="10">{_pct(t)}</text>')
    out.append(f'<text x="{(left + x.pixels[1]) / 2}" y="{axis_y + 32}" text-anchor="middle" font-size="12">'
               f'{esc(x_label)}</text></svg>')
    return "".join(out)


def _diverging(v: float, limit: float) -> str:
    """Red (negative) through white to green (positive); grey for missing."""
    if not math.isfinite(v):
        return "#f0f0f0"
    t = max(-1.0, min(1.0, v / limit)) if limit > 0 else 0.0
    end = (26, 152, 80) if t >= 0 else (215, 48, 39)
    r, g, b = (round(255 + abs(t) * (c - 255)) for c in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(row_labels: Sequence[str], col_labels: Sequence[str], values: Sequence[Sequence[float]],
            titles: Sequence[Sequence[str]], *, value_label: str, cell: tuple[int, int] = (64, 16)) -> str:
    """A rows × columns grid coloured on a diverging scale centred on zero, with a legend."""
    cw, ch = cell
    row_labels, col_labels = distinct(row_labels), distinct(col_labels, 28)
    left = min(240, 20 + 7 * max((len(s) for s in row_labels), default=4))
    head = 20 + min(200, 5 * max((len(s) for s in col_labels), default=4))
    width = left + cw * len(col_labels) + 140
    height = head + ch * len(row_labels) + 50
    # The colour scale ends at the 95th percentile of |value|, so one outlier task does not wash out the rest.
    finite = sorted(abs(v) for row in values for v in row if math.isfinite(v))
    limit = finite[int(0.95 * (len(finite) - 1))] if finite else 1.0
    out = [_open(max(width, left + 420), height, value_label)]
    for j, label in enumerate(col_labels):
        cx = left + j * cw + cw / 2
        out.append(f'<text class="axis-label" transform="translate({_num(cx)} {head - 6}) rotate(-40)" '
                   f'font-size="11">{esc(label)}</text>')
    for i, label in enumerate(row_labels):
        top = head + i * ch
        out.append(f'<text class="axis-label" x="{left - 6}" y="{top + ch / 2}" text-anchor="end" '
                   f'dominant-baseline="middle" font-size="10">{esc(label)}</text>')
        for j, v in enumerate(values[i]):
            out.append(f'<rect x="{left + j * cw}" y="{top}" width="{cw - 1}" height="{ch - 1}" '
                       f'fill="{_diverging(v, limit)}"><title>{esc(titles[i][j])}</title></rect>')
    legend_y = head + ch * len(row_labels) + 14
    for k in range(11):
        v = -limit + k * limit / 5
        out.append(f'<rect x="{left + k * 18}" y="{legend_y}" width="18" height="10" fill="{_diverging(v, limit)}"/>')
    out.append(f'<text x="{left}" y="{legend_y + 24}" font-size="10">{esc(f"≤ {-limit:.3f}")}</text>'
               f'<text x="{left + 198}" y="{legend_y + 24}" font-size="10" text-anchor="end">{esc(f"≥ {limit:.3f}")}'
               f'</text><text x="{left + 210}" y="{legend_y + 9}" font-size="11">{esc(value_label)}</text></svg>')
    return "".join(out)


@dataclass(frozen=True)
class TrialCurve:
    """One trial of a replayed study: its curve, where it stopped, and the hover text of its decision.

    ``cut`` is the number of points the trial ran (``len(steps)`` when it ran to the end).
    """

    label: str
    steps: Sequence[float]
    values: Sequence[float]
    cut: int
    pruned: bool
    title: str


def curves(trials: Sequence[TrialCurve], *, x_label: str, y_label: str, width: int = 720,
           height: int = 360) -> str:
    """Learning curves; a pruned trial is solid up to its prune step (marked ×), dashed after it."""
    x = Scale.fit([s for t in trials for s in t.steps], (70, width - 20), pad=0.02)
    y = Scale.fit([v for t in trials for v in t.values], (height - 50, 30))
    out = [_open(width, height, f"{y_label} against {x_label}"), *_axes(x, y, x_label, y_label)]
    for t in sorted(trials, key=lambda t: not t.pruned):
        pts = [(x(s), y(v)) for s, v in zip(t.steps, t.values, strict=True) if math.isfinite(v)]
        ran, rest = pts[: t.cut], pts[max(t.cut - 1, 0):]
        colour = PRUNED if t.pruned else KEPT
        title = f"<title>{esc(t.title)}</title>"
        if t.pruned and len(rest) > 1:
            out.append(f'<polyline points="{" ".join(f"{_num(a)},{_num(b)}" for a, b in rest)}" fill="none" '
                       f'stroke="{colour}" stroke-opacity="0.35" stroke-dasharray="3 3">{title}</polyline>')
        if len(ran) > 1:
            out.append(f'<polyline points="{" ".join(f"{_num(a)},{_num(b)}" for a, b in ran)}" fill="none" '
                       f'stroke="{colour}" stroke-width="1.6" stroke-opacity="0.9">{title}</polyline>')
        if t.pruned and ran:
            a, b = ran[-1]
            out.append(f'<path d="M{_num(a - 4)},{_num(b - 4)}l8,8m0,-8l-8,8" stroke="{colour}" stroke-width="2.5">'
                       f'{title}</path>')
    out.append(f'<text x="{width - 20}" y="16" text-anchor="end" font-size="11"><tspan fill="{KEPT}">— ran to the end'
               f'</tspan><tspan fill="{PRUNED}" dx="12">× pruned (dashed: what it would have done)</tspan></text>'
               "</svg>")
    return "".join(out)


def trial_timeline(trials: Sequence[TrialCurve], *, x_label: str, width: int = 720, row: int = 0) -> str:
    """One bar per trial, in the order the rule saw them, from its first step to the step it stopped at."""
    row = row or max(6, min(14, 300 // max(len(trials), 1)))
    height = 60 + row * len(trials)
    names = distinct([t.label for t in trials])
    left = min(220, 20 + 6 * max((len(n) for n in names), default=4))
    x = Scale.fit([s for t in trials for s in t.steps], (left, width - 20), pad=0.02)
    out = [_open(width, height, "trial timeline")]
    for i, (t, name) in enumerate(zip(trials, names, strict=True)):
        top = 10 + i * row
        if not t.steps:
            continue
        stop = t.steps[max(t.cut - 1, 0)]
        x0, x1 = x(t.steps[0]), x(stop)
        colour = PRUNED if t.pruned else KEPT
        out.append(f'<text class="axis-label" x="{left - 6}" y="{top + row / 2}" text-anchor="end" '
                   f'dominant-baseline="middle" font-size="{min(10, row)}">{esc(name)}</text>'
                   f'<rect x="{_num(x0)}" y="{top + 1}" width="{_num(max(x1 - x0, 2))}" height="{row - 2}" '
                   f'fill="{colour}" fill-opacity="0.8"><title>{esc(t.title)}</title></rect>')
    axis_y = 10 + row * len(trials)
    step = x.step()
    out.append(f'<line x1="{left}" x2="{width - 20}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>')
    for tick in x.ticks():
        out.append(f'<text x="{_num(x(tick))}" y="{axis_y + 14}" text-anchor="middle" font-size="10">'
                   f'{esc(_tick_label(tick, step))}</text>')
    out.append(f'<text x="{(left + width - 20) / 2}" y="{axis_y + 34}" text-anchor="middle" font-size="12">'
               f'{esc(x_label)}</text></svg>')
    return "".join(out)


@dataclass(frozen=True)
class Mark:
    """One thing on a time line: a lane, when, optionally until when (a bar), a shape and the hover text."""

    lane: str
    at: datetime
    title: str
    colour: str = KEPT
    shape: str = "circle"  # "circle" | "triangle" | "bar"
    until: datetime | None = None
    label: str = ""


def _time_label(t: float, span: float) -> str:
    d = datetime.fromtimestamp(t)
    return d.strftime("%H:%M:%S" if span < 86400 else "%Y-%m-%d")


def event_timeline(marks: Sequence[Mark], *, links: Sequence[tuple[int, int]] = (), width: int = 960,
                   lane_height: int = 0) -> str:
    """Marks on lanes over wall-clock time; ``links`` joins mark ``i`` to mark ``j`` (e.g. parent → child version)."""
    lanes = list(dict.fromkeys(m.lane for m in marks))
    lane_height = lane_height or (34 if len(lanes) <= 10 else 24)
    height = 50 + lane_height * len(lanes)
    names = dict(zip(lanes, distinct(lanes), strict=True))
    left = min(230, 20 + 7 * max((len(n) for n in names.values()), default=4))
    times = [m.at.timestamp() for m in marks] + [m.until.timestamp() for m in marks if m.until]
    x = Scale.fit(times, (left, width - 30), pad=0.04)
    span = x.domain[1] - x.domain[0]
    lane_y = {lane: 10 + i * lane_height + lane_height / 2 for i, lane in enumerate(lanes)}
    out = [_open(width, height, "provenance timeline")]
    for lane, ly in lane_y.items():
        out.append(f'<line x1="{left}" x2="{width - 30}" y1="{ly}" y2="{ly}" stroke="{GRID}"/>'
                   f'<text class="axis-label" x="{left - 8}" y="{ly}" text-anchor="end" dominant-baseline="middle" '
                   f'font-size="11">{esc(names[lane])}</text>')
    for i, j in links:
        a, b = marks[i], marks[j]
        out.append(f'<line x1="{_num(x(a.at.timestamp()))}" y1="{_num(lane_y[a.lane])}" '
                   f'x2="{_num(x(b.at.timestamp()))}" y2="{_num(lane_y[b.lane])}" stroke="#888" '
                   f'stroke-width="1.5"/>')
    for m in marks:
        px, py = x(m.at.timestamp()), lane_y[m.lane]
        title = f"<title>{esc(m.title)}</title>"
        if m.shape == "bar":
            end = x((m.until or m.at).timestamp())
            out.append(f'<rect x="{_num(px)}" y="{_num(py - 7)}" width="{_num(max(end - px, 4))}" height="14" '
                       f'fill="{m.colour}" fill-opacity="0.8">{title}</rect>')
        elif m.shape == "triangle":
            out.append(f'<path d="M{_num(px)},{_num(py - 8)}l7,13h-14z" fill="{m.colour}">{title}</path>')
        else:
            out.append(f'<circle cx="{_num(px)}" cy="{_num(py)}" r="7" fill="{m.colour}" stroke="white">'
                       f'{title}</circle>')
        if m.label:
            out.append(f'<text x="{_num(px)}" y="{_num(py - 11)}" text-anchor="middle" font-size="10">'
                       f'{esc(m.label)}</text>')
    axis_y = 10 + lane_height * len(lanes)
    out.append(f'<line x1="{left}" x2="{width - 30}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>')
    for tick in x.ticks(6):
        out.append(f'<text x="{_num(x(tick))}" y="{axis_y + 14}" text-anchor="middle" font-size="10">'
                   f'{esc(_time_label(tick, span))}</text>')
    out.append(f'<text x="{(left + width - 30) / 2}" y="{axis_y + 32}" text-anchor="middle" font-size="12">'
               f'time (UTC)</text></svg>')
    return "".join(out)
