"""The report's sections, plots and numbers: HTML, Markdown and CSV agree; names are escaped; scope filters."""

from __future__ import annotations

import csv
import re
from datetime import datetime

import pandas as pd
import pytest
from policy_store.reports import ReportFilter, collect_sections, decisions, fmt, report, write_report
from policy_store.reports.render_markdown import md_cell

from policy_store import InvalidInputError, NotFoundError, PolicyStore
from policy_store.ingest import ingest_frame
from policy_store.store import utcnow

from ._parse import markdown_tables, parse_html
from .conftest import EVIL

SECTIONS = ["overview", "rules", "tasks", "decisions", "provenance", "meta", "resources"]


@pytest.fixture(scope="module")
def written(report_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with PolicyStore(report_store, read_only=True) as store:
        sections = collect_sections(store, ReportFilter())
    files = write_report(sections, out, subtitle="test")
    return sections, files


def test_every_section_and_plot_is_present(written):
    sections, files = written
    page = parse_html(files.html.read_text())
    assert page.sections == SECTIONS
    assert all(s.empty is None for s in sections), [s.key for s in sections if s.empty]
    for key in ("pareto", "killed_best", "heatmap", "expected_observed", "curves_0", "timeline_1",
                "provenance_timeline", "meta_comparison"):
        assert key in page.figures
    assert page.svgs == len(page.figures)
    assert page.scripts == 0
    text = files.html.read_text()
    assert not re.search(r'(?:src|href)\s*=\s*"(?!#)', text), "offline: only in-page links, nothing fetched"
    assert "default-src 'none'" in text
    md = files.markdown.read_text()
    for i, s in enumerate(sections, 1):
        assert f"## {i}. {s.title}" in md


def _raw(text: str, kind: str):
    if text == "":
        return None
    return {"int": int, "float": float, "pct": float, "time": datetime.fromisoformat}.get(kind, str)(text)


def test_csv_and_markdown_numbers_equal_the_html_numbers(written):
    sections, files = written
    html_tables = parse_html(files.html.read_text()).tables
    md_tables = iter(markdown_tables(files.markdown.read_text()))
    tables = [t for s in sections for t in s.tables]
    assert {p.name for p in files.csv} == {f"{t.name}.csv" for t in tables}
    checked = 0
    for table in tables:
        with (files.html.parent / f"{table.name}.csv").open(newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == [c.key for c in table.columns]
        assert len(rows) - 1 == len(table.rows)
        if not table.rows:
            continue
        shown_html, shown_md = html_tables[table.name], next(md_tables)
        assert len(shown_html) == len(shown_md) == len(table.visible_rows)
        for csv_row, html_row, md_row in zip(rows[1:], shown_html, shown_md, strict=False):
            for c, raw, h, m in zip(table.columns, csv_row, html_row, md_row, strict=True):
                assert fmt(_raw(raw, c.kind), c.kind) == h, (table.name, c.key)
                assert md_cell(h) == m, (table.name, c.key)
                checked += 1
    assert checked > 400


def test_rule_summary_numbers_are_the_outcome_means(report_store, written):
    sections, _ = written
    summary = {r["rule_version"]: r for r in sections[1].tables[0].rows}
    with PolicyStore(report_store, read_only=True) as store:
        saved, killed = store.execute("SELECT avg(compute_saved), avg(killed_best::DOUBLE) FROM outcomes "
                                      "WHERE rule = 'pct' AND version = 1").fetchone()
    assert summary["pct@1"]["compute_saved"] == pytest.approx(saved)
    assert summary["pct@1"]["killed_best_rate"] == pytest.approx(killed)
    assert summary["pct@1"]["utility"] == pytest.approx(saved - 20 * summary["pct@1"]["regret"])
    assert any(r["pareto"] == "yes" for r in summary.values())


def test_user_provided_names_render_as_text_in_html_svg_markdown(written):
    _, files = written
    text = files.html.read_text()
    assert "<script" not in text.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    svgs = re.findall(r"<svg.*?</svg>", text, flags=re.S)
    assert any(escaped in s for s in svgs), "the hostile task name should be drawn (escaped) in a plot"
    assert any(f"<title>{escaped}" in s or f"{escaped} ×" in s for s in svgs)
    assert escaped in re.sub(r"<svg.*?</svg>", "", text, flags=re.S), "and appear escaped in a table"
    page = parse_html(text)
    assert page.scripts == 0
    assert any(EVIL in cell for rows in page.tables.values() for row in rows for cell in row)
    md = files.markdown.read_text()
    assert "<script" not in md and "&lt;script&gt;" in md


def test_empty_store_report_says_so_in_every_section(tmp_path):
    with PolicyStore.memory() as store:
        files = report(store, tmp_path)
    page = parse_html(files.html.read_text())
    assert page.sections == SECTIONS
    assert files.html.read_text().count('class="empty"') == 6
    assert [p.name for p in files.csv] == ["overview_store.csv", "overview_counts.csv"]
    assert files.markdown.read_text().count("\n> ") == 6


def test_scope_filters_narrow_every_section(report_store, tmp_path):
    with PolicyStore(report_store, read_only=True) as store:
        files = report(store, tmp_path, tasks=["tabular/a"], rules=["median@2"])
        sections = collect_sections(store, ReportFilter(("tabular/a",), ("median@2",)))
        assert [r["rule_version"] for r in sections[1].tables[0].rows] == ["median@2"]
        assert {r["task"] for r in sections[1].tables[1].rows} == {"tabular/a"}
        assert {r["rule_version"] for r in sections[3].tables[0].rows} == {"median@2"}
        assert {(r["rule"], r["version"]) for r in sections[4].tables[0].rows} == {("median", 2)}
        assert sections[2].tables[0].name == "best_rule_per_task"  # the recommendation is for the other task
        wide = report(store, tmp_path)
        assert (tmp_path / "recommendations.csv").exists()
        report(store, tmp_path, tasks=["tabular/a"])
        assert not (tmp_path / "recommendations.csv").exists(), "a narrower report removes its stale CSVs"
    assert files.html.exists() and wide.html.exists()


def test_bad_scope_is_refused_with_the_fix(report_store, tmp_path):
    with pytest.raises(InvalidInputError, match="name@N"):
        ReportFilter(rules=("median@x",))
    with PolicyStore(report_store, read_only=True) as store, pytest.raises(NotFoundError, match="no-such"):
        report(store, tmp_path, study="no-such")


def test_live_decisions_show_one_row_per_trial_the_prune_first():
    frame = pd.DataFrame({"task": "t", "study": "live", "trial": [0] * 4 + [1] * 4, "step": [0, 1, 2, 3] * 2,
                          "value": [0.9, 0.8, 0.7, 0.6, 0.9, 0.95, 0.97, 0.99]})
    with PolicyStore.memory() as store:
        ingest_frame(store, frame)
        rows = [[f"d{t}{k}", "live", str(t), t, k, 0.9, 0.8, 3, "prune" if (t, k) == (1, 2) else "continue",
                 "below the median" if (t, k) == (1, 2) else "ok", "median", 1, "h", "live", None, utcnow()]
                for t in (0, 1) for k in range(4 if t == 0 else 3)]
        for r in rows:
            store.execute("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", r)
        section = decisions.build(store, ReportFilter())
    table = section.tables[0].rows
    assert [(r["trial"], r["verdict"], r["step"], r["decisions"]) for r in table] == [
        ("0", "continue", 3, 4), ("1", "prune", 2, 3)]
    assert "curves_0" in [f.key for f in section.figures]


def test_csv_cells_never_start_a_spreadsheet_formula(tmp_path):
    import csv

    from policy_store.reports._base import Column, Section, Table
    from policy_store.reports.render_csv import write_csv

    rows = [{"task": "=cmd|' /C calc'!A0", "n": -3}, {"task": "@SUM(A1)", "n": 2.5}, {"task": "plain/task", "n": 0}]
    table = Table("t", "T", (Column("task", "task"), Column("n", "n")), rows)
    [path] = write_csv([Section("s", "S", tables=[table])], tmp_path)
    with path.open(newline="") as f:
        written = list(csv.reader(f))[1:]
    assert written == [["'=cmd|' /C calc'!A0", "-3"], ["'@SUM(A1)", "2.5"], ["plain/task", "0"]]
