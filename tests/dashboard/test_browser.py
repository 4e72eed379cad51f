"""The dashboard in a real browser while a live study runs in another process (issue 26's acceptance test).

Chromium is Debian's (``apt-get install -y chromium``; ``.ci/run`` installs it), driven by Playwright for Python
with ``executable_path`` (Playwright's own browser download is not possible here). Screenshots of every page go
to ``$POLICY_STORE_SCREENSHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policy_store import PolicyStore
from policy_store.rules import add_rule_version

from .conftest import EVIL, Server, fill

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")]

LIVE_STUDY = Path(__file__).with_name("_live_study.py")
FIRST_TRIALS = 8
#: The live study's rule: Optuna's median pruner after a warm-up, with a seeded third of trials audited (never pruned).
LIVE_RULE = {"strategy": "median", "params": {"n_startup_trials": 2, "n_warmup_steps": 2},
             "safeguards": {"audit_fraction": 0.3, "audit_seed": 1}}


def _spooled(spool: Path) -> list[dict]:
    """The decisions in the spool, read here independently of the dashboard."""
    records = []
    for f in sorted(spool.glob("*.jsonl*")):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("kind") != "switch":
                records.append(rec)
    return records


def _wait(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear within {timeout} s"
        time.sleep(0.05)


def _table(page, name: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f'table[data-table="{name}"] tbody tr',
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))")


@pytest.fixture
def live(tmp_path):
    """A store, a live study spooling into it from another process, and `serve` over it."""
    store = tmp_path / "store.duckdb"
    with PolicyStore(store) as s:
        fill(s)
        add_rule_version(s, "live-median", LIVE_RULE, created_by="test", reason="median after warm-up, audited")
    control = tmp_path / "control"
    control.mkdir()
    study = subprocess.Popen([sys.executable, str(LIVE_STUDY), str(store), "live-median@1", str(control),
                              str(FIRST_TRIALS)],
                             stderr=subprocess.PIPE, text=True)
    server = None
    try:
        _wait(control / f"done-{FIRST_TRIALS}")
        server = Server(store, "--refresh", "0.3")
        yield store, control, server
    finally:
        if server is not None:
            server.stop()
        if study.poll() is None:
            study.kill()
        study.wait()


def test_every_page_shows_the_store_and_a_running_study_updates_in_place(live, tmp_path):
    store, control, server = live
    shots = Path(os.environ.get("POLICY_STORE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    spool = Path(f"{store}.spool")
    with PolicyStore(store, read_only=True) as s:
        counts = s.row_counts()
        recommendations = s.scalar("SELECT count(*) FROM recommendations")
        events = s.scalar("SELECT count(*) FROM drift_events")
        versions = s.fetch_dicts("SELECT version, status FROM rule_versions WHERE rule = 'pct' ORDER BY version")
        replay_pruned = s.scalar("SELECT count(DISTINCT trial) FROM decisions WHERE study = 'tabular/a|study-0' "
                                 "AND rule = 'median' AND order_seed = 0 AND verdict = 'prune'")
    assert counts["decisions"] > 0 and "live-run" not in str(counts)
    spooled = _spooled(spool)
    pruned = [r for r in spooled if r["verdict"] == "prune"]
    audited = {r["trial"] for r in spooled if r["reason"].startswith("audit:")}
    assert pruned and audited, "the seeded live study prunes and audits some of its first trials"

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # Overview: the report's counts equal the store's, and the running study is listed from its spool.
        page.goto(server.url + "/")
        shown = {row[0]: row[1] for row in _table(page, "overview_counts")}
        for item, table in (("tasks", "tasks"), ("studies", "studies"), ("trials", "trials"),
                            ("rule versions", "rule_versions"), ("decisions", "decisions"), ("jobs", "jobs")):
            assert shown[item] == str(counts[table]), item
        live_rows = _table(page, "live_studies")
        assert live_rows[0][:2] == ["live-run", "live-median@1"]
        assert live_rows[0][3] == str(len(spooled))
        assert live_rows[0][4] == str(len({r["trial"] for r in pruned}))
        assert page.locator('figure[data-figure="pareto"] svg circle').count() == 2
        page.screenshot(path=shots / "overview.png", full_page=True)

        # The running study: its pruned trial with the rule version and the reason, in the table and on hover.
        page.locator('table[data-table="live_studies"] a', has_text="live-run").click()
        page.wait_for_url("**/study?name=live-run")
        first = pruned[0]
        decided = _table(page, "decisions")
        row = next(r for r in decided if r[3] == first["trial"])
        assert (row[0], row[4], row[5]) == ("live-median@1", "prune", str(first["step"]))
        assert first["reason"] in row[10]
        # Audit trials: marked in the table and in their curve's label.
        assert {r[3].split()[0] for r in decided if r[9] == "yes"} == audited
        assert all(r[3].endswith("(audit)") == (r[9] == "yes") for r in decided)
        titles = page.eval_on_selector_all("figure svg title", "ts => ts.map(t => t.textContent)")
        assert any(f"trial {first['trial']} " in t and first["reason"] in t for t in titles)
        runs = _table(page, "runs")
        assert runs[0][2:6] == [str(FIRST_TRIALS), str(len({r["trial"] for r in pruned})), str(len(audited)),
                                str(len(spooled))]
        page.screenshot(path=shots / "study-live.png", full_page=True)

        # A new trial in the other process: its decisions appear without a reload.
        page.evaluate("window.__not_reloaded = true")
        before = len(spooled)
        (control / f"go-{FIRST_TRIALS}").write_text("")
        _wait(control / f"done-{FIRST_TRIALS + 1}")
        after = len(_spooled(spool))
        assert after > before
        page.wait_for_function(
            "n => { const r = document.querySelector('table[data-table=\"runs\"] tbody tr');"
            " return r && r.cells[5].textContent.trim() === String(n); }", arg=after, timeout=30_000)
        assert page.evaluate("window.__not_reloaded === true")
        assert int(page.evaluate("document.body.dataset.refreshes")) >= 1
        assert _table(page, "runs")[0][2] == str(FIRST_TRIALS + 1)
        page.screenshot(path=shots / "study-live-updated.png", full_page=True)

        # Halted configurations of a replayed study: pruned and surviving trials' params.
        page.goto(server.url + "/halted?study=" + "tabular%2Fa%7Cstudy-0")
        params = {r[0]: r for r in _table(page, "halted_params")}
        assert set(params) == {"final value", "lr", "depth"}
        assert params["lr"][1] == str(replay_pruned)
        assert page.locator('figure[data-figure="halted_strips"] svg circle').count() == 3 * 10
        page.screenshot(path=shots / "halted.png", full_page=True)

        # Recommendations: the count and the cold start's fallback, with its descriptors.
        page.goto(server.url + "/recommendations")
        assert f"{recommendations} recommendations recorded" in page.inner_text("main")
        rec = _table(page, "recommendations_page")[0]
        assert rec[1] == "tabular/a" and "cold start" in rec[3] and rec[4].startswith("2: NumberOfFeatures=12")
        page.screenshot(path=shots / "recommendations.png", full_page=True)

        # Drift: the monitored series, the event, the job and the rejected version.
        page.goto(server.url + "/drift?rule=pct")
        assert page.locator('figure[data-figure="monitor_pct"] svg line[stroke-dasharray="5 3"]').count() == events
        assert len(_table(page, "drift_events")) == events and _table(page, "jobs")[0][2] == "succeeded"
        page.screenshot(path=shots / "drift.png", full_page=True)

        # Lineage: every version of the rule with its status; the hostile reason is text, not markup.
        page.goto(server.url + "/rules")
        page.locator('table[data-table="rules"] a', has_text="pct").click()
        page.wait_for_url("**/lineage?rule=pct")
        assert [(int(r[0]), r[1]) for r in _table(page, "specs")] == [(v["version"], v["status"]) for v in versions]
        assert EVIL in page.inner_text("main") and page.locator("main script").count() == 0
        page.screenshot(path=shots / "lineage.png", full_page=True)

        # The study finishes: its process absorbs the spool (taking the store's write lock while the page polls),
        # and the overview's decision count follows without a reload.
        page.goto(server.url + "/")
        page.evaluate("window.__not_reloaded = true")
        (control / "finish").write_text("")
        _wait(control / "finished", timeout=60)
        with PolicyStore(store, read_only=True) as s:
            total = s.scalar("SELECT count(*) FROM decisions")
        assert total == counts["decisions"] + after
        page.wait_for_function(
            "n => Array.from(document.querySelectorAll('table[data-table=\"overview_counts\"] tr'))"
            ".some(r => r.cells[0].textContent === 'decisions' && r.cells[1].textContent === String(n))",
            arg=total, timeout=30_000)
        assert page.evaluate("window.__not_reloaded === true")
        page.screenshot(path=shots / "overview-after-finish.png", full_page=True)
        browser.close()
    assert dialogs == [], "a hostile name ran as a script"
    print(f"screenshots in {shots}")
