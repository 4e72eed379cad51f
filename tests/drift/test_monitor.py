"""Monitor windows read with SQL from a real store, rank correlations, recorded drift events."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from policy_store.drift import (
    CUSUM,
    CountWindow,
    Monitor,
    PageHinkley,
    Scope,
    TimeWindow,
    list_events,
    read_window,
    record_event,
    study_rank_correlations,
)
from scipy import stats

from tests.drift.conftest import T0


def test_count_window_is_the_latest_n_oldest_first(store, outcomes):
    outcomes(store, [{"i": i, "regret": float(i)} for i in range(50)])
    frame = read_window(store, Scope("median"), "regret", CountWindow(10))
    assert frame["value"].tolist() == [float(i) for i in range(40, 50)]
    assert frame["created_at"].is_monotonic_increasing


def test_window_filters_version_tasks_mode_and_missing_values(store, outcomes):
    outcomes(
        store,
        [{"i": i, "version": 1 + i % 2, "task": f"task-{'abc'[i % 3]}"} for i in range(30)]
        + [{"i": 100 + i, "mode": "live", "audit_false_prune_rate": 0.1} for i in range(5)]
        + [{"i": 200, "rule": "other"}],
    )
    window = CountWindow(1000)
    assert len(read_window(store, Scope("median"), "regret", window)) == 35
    assert set(read_window(store, Scope("median", version=2), "regret", window)["version"]) == {2}
    by_tasks = read_window(store, Scope("median", tasks=("task-b", "task-c")), "regret", window)
    assert set(by_tasks["task"]) == {"task-b", "task-c"} and len(by_tasks) == 20
    assert len(read_window(store, Scope("median", mode="live"), "regret", window)) == 5
    # audit false-prune rate is NULL on the replay rows: they are skipped, not counted
    assert read_window(store, Scope("median"), "false_prune_rate", CountWindow(3))["value"].tolist() == [0.1] * 3


def test_time_window_and_after(store, outcomes):
    outcomes(store, [{"i": i, "killed_best": i % 2 == 0} for i in range(100)])
    now = T0 + timedelta(minutes=99)
    frame = read_window(store, Scope("median"), "killed_best", TimeWindow(timedelta(minutes=10)), now=now)
    assert frame["outcome_id"].tolist() == [f"o{i:05d}" for i in range(90, 100)]
    assert frame["value"].tolist() == [float(i % 2 == 0) for i in range(90, 100)]
    after = read_window(store, Scope("median"), "killed_best", CountWindow(1000), after=T0 + timedelta(minutes=94))
    assert len(after) == 5


def test_rank_correlation_matches_scipy(store, outcomes):
    rng = np.random.default_rng(0)
    rows = []
    expected = {}
    for s in range(4):
        early = rng.normal(size=8).round(1)  # rounded: ties exercise the average ranks
        final = early + rng.normal(scale=0.5 * s, size=8)
        for t in range(8):
            for step, value in ((1, early[t] - 1.0), (2, early[t]), (8, final[t])):
                rows.append((f"s{s:05d}", f"t{t}", step, float(value), None))
        expected[f"s{s:05d}"] = stats.spearmanr(early, final).statistic
    store.register("pts", pd.DataFrame(rows, columns=["study", "trial", "step", "value", "cost_seconds"]))
    store.execute("INSERT INTO curve_points SELECT * FROM pts")
    got = study_rank_correlations(store, list(expected), early_fraction=0.25)  # early step: 2 >= 0.25 * 8
    assert got == pytest.approx(expected)
    outcomes(store, [{"i": s} for s in range(4)] + [{"i": 9}])  # s00009 has no curves: dropped
    frame = read_window(store, Scope("median"), "rank_correlation", CountWindow(10))
    assert frame["value"].tolist() == pytest.approx([expected[s] for s in frame["study"]])
    assert len(frame) == 4


def killed_best_rows(n=300, change=150, seed=3):
    rng = np.random.default_rng(seed)
    rate = np.where(np.arange(n) < change, 0.05, 0.4)
    return [{"i": i, "killed_best": bool(k)} for i, k in enumerate(rng.random(n) < rate)]


def monitor():
    return Monitor(Scope("median"), "killed_best", CUSUM(k=0.15, threshold=3.0, mode="up"), CountWindow(1000))


def test_check_records_one_event_and_reruns_are_noops(store, outcomes):
    outcomes(store, killed_best_rows())
    result = monitor().check(store)
    event = result.event
    assert event is not None and result.n == 300
    assert (event.monitor, event.rule, event.version, event.scope) == ("killed_best:CUSUM", "median", 1, "all")
    assert event.window_start == T0
    assert event.window_end == T0 + timedelta(minutes=173)  # 23 studies after the change at 150
    assert event.statistic > event.threshold == 3.0
    assert [e.event_id for e in list_events(store)] == [event.event_id]
    assert record_event(store, event) is False
    # The next check starts after the event; the post-change regime is its new normal.
    again = monitor().check(store)
    assert again.event is None and again.window_start == T0 + timedelta(minutes=174)
    assert store.scalar("SELECT count(*) FROM drift_events") == 1


def test_dry_run_records_nothing(store, outcomes):
    outcomes(store, killed_best_rows())
    assert monitor().check(store, record=False).event is not None
    assert store.scalar("SELECT count(*) FROM drift_events") == 0


def test_scopes_are_monitored_separately(store, outcomes):
    rows = killed_best_rows()
    for row in rows:
        row["task"] = "task-a" if row["i"] % 2 else "task-b"
    outcomes(store, rows)
    detector = PageHinkley(min_instances=20, threshold=3.0, mode="up")
    events = [
        Monitor(Scope("median", tasks=(t,)), "killed_best", detector, CountWindow(500)).check(store).event
        for t in ("task-a", "task-b")
    ]
    assert [e.scope for e in events] == ["task:task-a", "task:task-b"]
    assert all(e.window_end > T0 + timedelta(minutes=150) for e in events)
    assert {e.scope for e in list_events(store, rule="median")} == {"task:task-a", "task:task-b"}


def test_no_event_without_change(store, outcomes):
    outcomes(store, killed_best_rows(change=10_000))
    result = monitor().check(store)
    assert result.event is None and result.statistic <= result.threshold
    assert store.scalar("SELECT count(*) FROM drift_events") == 0


def test_empty_window(store):
    result = monitor().check(store)
    assert (result.n, result.window_start, result.event) == (0, None, None)
