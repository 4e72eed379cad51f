"""``meta evaluate`` in resource terms (issue 24): compute spent, utility per compute-hour, peak memory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from policy_store.datasets.bundled import SOURCE, bundled
from policy_store.meta.evaluation.evaluate import MEDIAN, cross_validate
from policy_store.meta.features.curve import save_task_curve_features
from policy_store.meta.learner.grid import OPTUNA_DEFAULTS, find_candidate
from policy_store.meta.learner.sources import training_data_from_store

from policy_store import PolicyStore
from policy_store.cli.main import main
from policy_store.ingest import ingest_frame
from policy_store.replay.engine import replay_study
from policy_store.replay.outcomes import outcome_arrays

TASKS = [f"sklearn/{d}/sgd/accuracy" for d in ("iris", "wine", "digits", "breast_cancer")]


def _with_memory(frame: pd.DataFrame) -> pd.DataFrame:
    """The bundled curves with a seeded peak memory per step: each trial its own base, growing by step."""
    rng = np.random.default_rng(0)
    base = {k: rng.uniform(100.0, 400.0) for k in frame[["study", "trial"]].drop_duplicates().itertuples(index=False)}
    keys = list(frame[["study", "trial"]].itertuples(index=False))
    return frame.assign(peak_memory_mb=[round(base[k] + 2.0 * s, 1) for k, s in zip(keys, frame["step"],
                                                                                   strict=True)])


def _store(path, *, memory: bool) -> None:
    frame = bundled()
    frame = frame[frame["task"].isin(TASKS)]
    with PolicyStore(path) as store:
        ingest_frame(store, _with_memory(frame) if memory else frame, source=SOURCE)
        save_task_curve_features(store, tasks=TASKS)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    path = tmp_path_factory.mktemp("mem") / "s.duckdb"
    _store(path, memory=True)
    with PolicyStore(path, read_only=True) as store:
        data = training_data_from_store(store, orders=2)
    return path, data, cross_validate(data, folds=2, n_estimators=5, lams=(20.0,), max_regret=None)


def test_median_rows_match_the_replay_outcomes(evaluated):
    _, data, ev = evaluated
    median = ev.rows[ev.rows["method"] == MEDIAN].set_index(["study", "order_seed"])
    cand = find_candidate(data.grid, OPTUNA_DEFAULTS[MEDIAN])
    checked = 0
    for t in data.tasks:
        for c in data.curves[t]:
            o = outcome_arrays(c, replay_study(c, [cand.spec(data.priors.loc[t].to_dict(), c.direction)],
                                               data.orders))
            for k, seed in enumerate(data.orders):
                row = median.loc[(c.study, seed)]
                assert row["compute_hours"] == pytest.approx(o["cost_spent"][k] / 3600.0, rel=1e-9)
                assert row["peak_memory_mb"] == o["peak_memory_mb"][k]
                assert np.isfinite(row["peak_memory_mb"])
                checked += 1
    assert checked == len(data.tasks) * len(data.orders)


def test_summary_in_resource_terms(evaluated):
    _, _, ev = evaluated
    s = ev.summary
    assert np.isfinite(s[["compute_hours", "utility_per_compute_hour", "peak_memory_mb"]].to_numpy()).all()
    np.testing.assert_allclose(s["utility_per_compute_hour"], s["utility"] / s["compute_hours"])
    assert (s["peak_memory_mb"] <= s["peak_memory_mb_max"]).all()
    # Optuna's defaults save compute: they spend less than nothing pruned on the same held-out studies.
    full = sum(float(np.where(c.present, c.cost, 0.0).sum()) for cs in evaluated[1].curves.values() for c in cs)
    lam = s[s["mode"] == "lam=20"].set_index("method")
    assert lam.loc[MEDIAN, "compute_hours"] * len(evaluated[1].tasks) < full / 3600.0
    # No rule lets through more memory than the curves hold.
    everything = max(float(np.nanmax(c.memory)) for cs in evaluated[1].curves.values() for c in cs)
    assert (s["peak_memory_mb_max"] <= everything).all()


def test_cli_json_and_table_carry_the_columns(evaluated, tmp_path, capsys):
    path = evaluated[0]
    args = ["--store", str(path), "meta", "evaluate", "--orders", "2", "--folds", "2", "--trees", "5",
            "--no-record"]
    assert main([*args, "--json"]) == 0
    summary = pd.DataFrame(json.loads(capsys.readouterr().out)["summary"])
    assert summary[["compute_hours", "utility_per_compute_hour", "peak_memory_mb"]].notna().all().all()
    plain = tmp_path / "plain.duckdb"
    _store(plain, memory=False)
    assert main(["--store", str(plain), *args[2:]]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("corpus"))
    assert header.split()[-3:] == ["compute_hours", "utility_per_compute_hour", "peak_memory_mb"]
    median = next(line for line in out.splitlines() if "MedianPruner()" in line)
    assert median.split()[-1] == "nan" and float(median.split()[-2]) > 0   # no memory in these curves


def test_a_long_frame_keeps_its_memory_for_the_evaluation():
    from policy_store.meta.learner.sources import training_data_from_frame

    frame = _with_memory(bundled()[lambda f: f["task"].isin(TASKS[:1])])
    (c,) = training_data_from_frame(frame, orders=1).curves[TASKS[0]]
    assert np.nanmax(c.memory) == frame["peak_memory_mb"].max()
