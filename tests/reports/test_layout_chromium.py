"""The report laid out in headless Chromium at 1280 px: nothing overflows the page, no two axis labels read alike.

The page itself runs no script (its Content-Security-Policy forbids it); the test measures a copy of it with a
script added that writes what it measured into the DOM, which ``--dump-dom`` returns.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from policy_store.reports import build_report

from policy_store import PolicyStore
from policy_store.rules import add_rule_version

from .conftest import _outcomes_and_decisions
from .test_render_chromium import CHROMIUM, _chromium

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

WIDTH = 1280
# Measures every element against the viewport (and every table's box against its own), every plot's labels.
MEASURE = """<script>
addEventListener("load", () => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    const where = el.closest("[data-table]")?.dataset.table ?? el.closest("[data-figure]")?.dataset.figure ?? "";
    if (box.width && box.right > width + 0.5) wide.push(`${el.tagName} in ${where} to ${Math.round(box.right)}`);
  }
  for (const wrap of document.querySelectorAll(".table-wrap"))
    if (wrap.scrollWidth > wrap.clientWidth + 1) wide.push("table " + wrap.firstChild.dataset.table + " scrolls");
  const plots = [...document.querySelectorAll("figure svg")].map(svg => ({
    figure: svg.closest("figure").dataset.figure ?? svg.closest("figure").id,
    axis: [...svg.querySelectorAll("text.axis-label")].map(t => t.textContent),
    points: svg.querySelectorAll("circle").length,
    pointLabels: [...svg.querySelectorAll("text.point-label")].map(t => t.textContent),
  }));
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify({width, pageWidth: document.documentElement.scrollWidth, wide, plots});
  document.body.append(out);
});
</script>"""


@pytest.fixture(scope="module")
def crowded_store(report_store, tmp_path_factory):
    """The report store plus two long rule names alike but for their end, and a long recommendation spec."""
    path = tmp_path_factory.mktemp("crowded") / "store.duckdb"
    shutil.copy(report_store, path)
    with PolicyStore(path) as store:
        versions = [add_rule_version(store, "optuna-successive-halving-bracketed",
                                     {"strategy": "successive_halving", "params": {"reduction_factor": f}},
                                     created_by="t") for f in (3, 4)]
        versions.append(add_rule_version(store, "optuna-successive-halving-bracketed-aggressive",
                                         {"strategy": "successive_halving", "params": {"reduction_factor": 5}},
                                         created_by="t"))
        _outcomes_and_decisions(store, versions)
    return path


@pytest.fixture(scope="module")
def measured(crowded_store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("layout")
    with PolicyStore(crowded_store, read_only=True) as store:
        html = build_report(store, folder / "report")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html.read_text())
    probe = html.with_name("measured.html")
    probe.write_text(page.replace("</body>", MEASURE + "</body>"))
    profile = folder / "chromium"
    png = folder / "report.png"
    _chromium(profile, f"--screenshot={png}", f"--window-size={WIDTH},3000", html.as_uri())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = _chromium(profile, "--dump-dom", "--virtual-time-budget=10000", f"--window-size={WIDTH},3000",
                    probe.as_uri()).stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    return json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&quot;", '"'))


def test_nothing_overflows_the_page_at_1280_px(measured):
    assert measured["width"] <= WIDTH
    assert measured["pageWidth"] <= measured["width"], measured["wide"][:10]
    assert measured["wide"] == [], measured["wide"]


def test_no_two_axis_labels_of_a_plot_read_alike(measured):
    plots = [p for p in measured["plots"] if p["axis"]]
    assert len(plots) >= 3  # bars, heat map, timelines
    for plot in plots:
        assert len(set(plot["axis"])) == len(plot["axis"]), plot
    (heatmap,) = [p for p in plots if p["figure"] == "heatmap"]
    # The two versions of the long rule, cut to fit, still end in their own version number.
    assert sum("bracketed@" in a or "…" in a and a.endswith(("@1", "@2")) for a in heatmap["axis"]) >= 2


def test_every_point_of_the_scatter_is_labelled(measured):
    scatter = [p for p in measured["plots"] if p["pointLabels"]]
    assert scatter, "no plot labels its points"
    for plot in scatter:
        assert len(plot["pointLabels"]) == plot["points"]
    (pareto,) = [p for p in scatter if p["figure"] == "pareto"]
    assert pareto["points"] >= 6  # every rule version, the front's and the others'
    assert len(set(pareto["pointLabels"])) == len(pareto["pointLabels"])
