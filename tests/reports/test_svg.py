"""The SVG plots: well-formed XML whatever the names, degenerate inputs, the Pareto front."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from policy_store.reports import svg
from policy_store.reports.pareto import pareto_front

from .conftest import EVIL

NS = "{http://www.w3.org/2000/svg}"


def _texts(markup: str) -> list[str]:
    root = ET.fromstring(markup)  # raises on anything an unescaped name would break
    return [e.text or "" for e in root.iter() if e.tag in (f"{NS}text", f"{NS}title")]


def test_every_plot_is_well_formed_and_keeps_hostile_names_as_text():
    t0 = datetime(2026, 1, 1)
    plots = [
        svg.scatter([svg.Point(0.01, 0.4, EVIL, EVIL, True), svg.Point(0.02, 0.5, "b", "b", True)],
                    x_label=EVIL, y_label="saved"),
        svg.bars([EVIL], [0.3], [EVIL], x_label="rate"),
        svg.heatmap([EVIL], ["r@1", "r@2"], [[0.1, math.nan]], [[EVIL, EVIL]], value_label="utility"),
        svg.curves([svg.TrialCurve(EVIL, [0, 1, 2], [0.5, 0.6, 0.7], 2, True, EVIL)], x_label="step",
                   y_label=EVIL),
        svg.trial_timeline([svg.TrialCurve(EVIL, [0, 1, 2], [0.5, 0.6, 0.7], 3, False, EVIL)], x_label="step"),
        svg.event_timeline([svg.Mark(EVIL, t0, EVIL, label=EVIL),
                            svg.Mark("jobs", t0, EVIL, shape="bar", until=t0 + timedelta(minutes=5)),
                            svg.Mark("drift", t0 + timedelta(minutes=1), EVIL, shape="triangle")], links=[(0, 2)]),
    ]
    for markup in plots:
        assert "<script" not in markup
        assert any(EVIL in t or svg.distinct([EVIL])[0] in t for t in _texts(markup))


def test_degenerate_inputs_still_draw():
    assert ET.fromstring(svg.scatter([svg.Point(math.nan, math.nan, "x", "x")], x_label="a", y_label="b"))
    assert ET.fromstring(svg.scatter([svg.Point(0.0, 0.5, "x", "x")], x_label="a", y_label="b"))
    assert ET.fromstring(svg.heatmap([], [], [], [], value_label="u"))
    assert ET.fromstring(svg.trial_timeline([svg.TrialCurve("t", [], [], 0, False, "t")], x_label="s"))


def test_scale_ticks_are_round_and_inside_the_domain():
    s = svg.Scale.fit([0.0123, 0.0871], (0.0, 100.0))
    ticks = s.ticks()
    assert all(s.domain[0] <= t <= s.domain[1] for t in ticks)
    assert ticks == pytest.approx([0.02, 0.04, 0.06, 0.08])
    assert svg.Scale.fit([3.0, 3.0], (0.0, 1.0)).domain == pytest.approx((2.85, 3.15))


def test_pareto_front_handles_ties_and_missing_values():
    assert pareto_front([0.5, 0.5, 0.4, math.nan], [0.01, 0.01, 0.02, 0.0]) == [True, True, False, False]
    assert pareto_front([], []) == []
