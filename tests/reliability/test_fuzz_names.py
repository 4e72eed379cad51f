"""SQL- and HTML-looking names through every output: CLI tables, --json, the report's CSV and HTML."""

from __future__ import annotations

import csv
import html
import json

import pandas as pd
import pytest

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame
from tests.reliability import fuzzing as fz

NAMES = sorted({name.strip() for name in fz.HOSTILE_NAMES})  # labels are trimmed on ingest, by design
REASON = "<script>alert('reason')</script> '); DROP TABLE rule_versions;-- =HYPERLINK(\"x\")"


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("names")
    rows = [{"task": name, "study": f"{name} #{i}", "trial": t, "step": k, "value": (t + 1) / (k + 1)}
            for i, name in enumerate(NAMES) for t in range(4) for k in range(4)]
    with PolicyStore(root / "s.duckdb") as store:
        ingest_frame(store, pd.DataFrame(rows))
    store = str(root / "s.duckdb")
    assert fz.run_cli(["--store", store, "rules", "add", "r1", "--spec", '{"strategy": "median"}',
                       "--reason", REASON, "--created-by", NAMES[0]], root)[0] == 0
    assert fz.run_cli(["--store", store, "evaluate", "r1", "--orders", "1"], root)[0] == 0
    assert fz.run_cli(["--store", store, "report", "--out", "rep"], root)[0] == 0
    return root, store


def test_json_output_round_trips_every_name(hostile_store):
    root, store = hostile_store
    code, out, _ = fz.run_cli(["--store", store, "tasks", "--json"], root)
    assert code == 0 and sorted(row["task"] for row in json.loads(out)) == NAMES
    code, out, _ = fz.run_cli(["--store", store, "studies", "--json"], root)
    assert sorted(row["study"] for row in json.loads(out)) == sorted(f"{n} #{i}" for i, n in enumerate(NAMES))
    code, out, _ = fz.run_cli(["--store", store, "rules", "history", "r1", "--json"], root)
    assert json.loads(out)[0]["reason"] == REASON and json.loads(out)[0]["created_by"] == NAMES[0]


def test_plain_tables_show_every_name_verbatim(hostile_store):
    root, store = hostile_store
    code, out, _ = fz.run_cli(["--store", store, "tasks"], root)
    assert code == 0 and all(name in out for name in NAMES)
    for name in NAMES:
        code, out, err = fz.run_cli(["--store", store, "show", "--json", "task", "--", name], root)  # "-2+3"
        assert code == 0, err
        assert json.loads(out)["task"] == name


def test_the_report_csv_holds_the_names_unchanged_but_formulas_defused(hostile_store):
    root, _ = hostile_store
    cells = set()
    for path in (root / "rep").glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            cells |= {cell for row in csv.reader(fh) for cell in row}
    formulas = {n for n in NAMES if n[0] in "=+-@"}
    assert formulas == {'=HYPERLINK("http://evil.example","click")', "+1+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3"}
    assert set(NAMES) - formulas <= cells
    assert {f"'{n}" for n in formulas} <= cells and not formulas & cells  # a spreadsheet shows them as text
    assert REASON in cells


def test_the_report_html_escapes_every_name(hostile_store):
    root, _ = hostile_store
    page = (root / "rep" / "report.html").read_text(encoding="utf-8")
    for raw in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<script>alert('reason')</script>"):
        assert raw not in page
    assert html.escape("<script>alert(1)</script>", quote=False) in page
    assert "'); DROP TABLE rules;--" in html.unescape(page)


def test_the_store_survives_the_names(hostile_store):
    from policy_store.check import check_store

    _, store = hostile_store
    with PolicyStore(store, read_only=True) as s:
        assert s.row_counts()["rules"] == 1 and s.row_counts()["tasks"] == len(NAMES)
        assert check_store(s).ok
