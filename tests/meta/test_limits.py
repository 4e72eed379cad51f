"""The evaluation's limits and splits: the cross-validated oracle, dataset folds, leave-family-out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from policy_store.meta.evaluation.baselines import cv_oracle_choices
from policy_store.meta.evaluation.evaluate import CV_ORACLE, ORACLE, SINGLE, cross_validate
from policy_store.meta.evaluation.splits import group_folds, leave_out_splits
from policy_store.meta.learner.grid import candidate_grid
from policy_store.meta.learner.training_data import (
    build_training_data,
    concat_training_data,
    replay_task,
    study_features,
    task_parts,
)

from policy_store.curves import StudyCurves, regret_scale
from policy_store.errors import InvalidInputError


def test_cv_oracle_by_hand():
    # 3 studies x 3 candidates; lam = 10. Utilities (saved - 10 regret) per study:
    #   study 0: [0.50, 0.60, 0.20]   study 1: [0.50, 0.20, 0.70]   study 2: [0.50, 0.58, 0.30]
    saved = np.array([[0.5, 0.7, 0.2], [0.5, 0.6, 0.7], [0.5, 0.6, 0.3]])
    regret = np.array([[0.0, 0.01, 0.0], [0.0, 0.04, 0.0], [0.0, 0.002, 0.0]])
    # held out 0: mean of 1, 2 -> saved [.5, .6, .5], regret [0, .021, 0] -> utility [.5, .39, .5] -> 0 (tie, first)
    # held out 1: mean of 0, 2 -> saved [.5, .65, .25], regret [0, .006, 0] -> [.5, .59, .25] -> 1
    # held out 2: mean of 0, 1 -> saved [.5, .65, .45], regret [0, .025, 0] -> [.5, .40, .45] -> 0
    assert cv_oracle_choices(saved, regret, [0, 1, 2], lam=10.0) == {0: 0, 1: 1, 2: 0}
    # the hindsight choice on study 1 alone would be candidate 2: the CV oracle never sees the scored study
    assert int(np.argmax(saved[1] - 10 * regret[1])) == 2
    # a regret budget: most saved among candidates within 0.005 on the other studies
    assert cv_oracle_choices(saved, regret, [1], max_regret=0.007) == {1: 1}
    assert cv_oracle_choices(saved, regret, [1], max_regret=0.005) == {1: 0}     # 0 and 2 fit; 0 saves more
    # a task with one study has no other study to choose on
    assert cv_oracle_choices(saved[:1], regret[:1], [0]) == {0: -1}


def _study(task: str, seed: int, direction: str = "maximize") -> StudyCurves:
    rng = np.random.default_rng([seed, len(task)])
    finals = rng.uniform(0.5, 0.9, 12)
    values = finals[:, None] * (1 - 0.6 ** np.arange(1, 7))[None, :] + rng.normal(0, 0.03, (12, 6))
    if direction == "minimize":
        values = 2.0 - values
    return StudyCurves.from_arrays(f"{task}/random-seed{seed}", values, direction=direction, task=task)


@pytest.fixture(scope="module")
def tiny():
    tasks = [f"hpo/d{i}/{fam}/accuracy" for i in range(4) for fam in ("sgd", "mlp")]
    curves = {t: [_study(t, k) for k in range(3)] for t in tasks}
    grid = [c for c in candidate_grid() if c.name in ("median-w0-s5", "percentile-75-w0-s2", "sha-default",
                                                         "hyperband-default",
                                                         "percentile-25-w4-s5")]
    return build_training_data({t: cs[0] for t, cs in curves.items()}, {t: cs[1:] for t, cs in curves.items()},
                               pd.DataFrame(index=pd.Index(tasks, name="task")), grid=grid, orders=2)


def test_cv_oracle_rows_are_the_choice_on_the_other_studies(tiny):
    ev = cross_validate(tiny, folds=2, n_estimators=5, lams=(20.0,), max_regret=None)
    rows = ev.rows[(ev.rows["method"] == CV_ORACLE) & (ev.rows["mode"] == "lam=20")]
    assert set(rows["study"]) == {c.study for cs in tiny.curves.values() for c in cs}   # every held-out study
    probe = pd.concat([replay_task([tiny.probes[t]], tiny.grid, tiny.priors.loc[t].to_dict(), tiny.orders)
                       for t in tiny.tasks])
    table = pd.concat([probe, tiny.outcomes]).groupby(["task", "study", "candidate"])[["compute_saved",
                                                                                     "regret"]].mean()
    chosen = ev.choices[(ev.choices["method"] == CV_ORACLE)]
    for (task, study), got in rows.groupby(["task", "study"]):
        others = table.loc[task].drop(index=study, level=0).groupby("candidate").mean()
        best = int(np.argmax((others["compute_saved"] - 20 * others["regret"]).to_numpy()))
        own = tiny.outcomes[(tiny.outcomes["study"] == study) & (tiny.outcomes["candidate"] == best)]
        assert got["compute_saved"].to_numpy() == pytest.approx(own["compute_saved"].to_numpy())
        assert tiny.grid[best].name in set(chosen[chosen["task"] == task]["choice"])
    s = ev.summary.set_index("method")
    assert s.loc[ORACLE, "utility"] >= s.loc[CV_ORACLE, "utility"] - 1e-12     # hindsight is the upper limit
    assert set(ev.summary["corpus"]) == {"hpo"} and s.loc[SINGLE, "tasks"] == 8


def test_group_folds_keep_a_dataset_together():
    tasks = [f"hpo/d{i}/{f}/{m}" for i in range(7) for f in ("sgd", "mlp") for m in ("accuracy", "logloss")]
    tasks += [f"lcdb/{i}/accuracy" for i in range(5)]
    folds = group_folds(tasks, folds=3, seed=1)
    assert sorted(t for _, te in folds for t in te) == sorted(tasks)      # each task tested exactly once
    for train, test in folds:
        assert not {task_parts(t)["dataset"] for t in train} & {task_parts(t)["dataset"] for t in test}
    with pytest.raises(InvalidInputError, match="needs >= 2 datasets"):
        group_folds(["hpo/a/sgd/accuracy", "hpo/a/mlp/accuracy"])


def test_leave_family_and_direction_out():
    tasks = [f"hpo/d{i}/{f}/{m}" for i in range(6) for f in ("sgd", "mlp", "hgb") for m in ("accuracy", "logloss")]
    tasks += [f"lcdb/{i}/accuracy" for i in range(4)]
    directions = {t: "minimize" for t in tasks if t.endswith("logloss")}
    splits = {s.name: s for s in leave_out_splits(tasks, directions, folds=3, seed=0)}
    assert set(splits) == {"without family hgb", "without family mlp", "without family sgd",
                           "without direction minimize", "without direction maximize"}
    base = group_folds(tasks, folds=3, seed=0)
    for s in splits.values():
        key = (lambda t: task_parts(t)["family"]) if s.kind == "family" else \
            (lambda t: directions.get(t, "maximize"))
        assert sorted(s.test) == sorted(t for t in tasks if key(t) == s.value)
        for (train, test), (base_train, base_test) in zip(s.folds, base, strict=True):
            assert all(key(t) != s.value for t in train)                 # never trained on what is held out
            assert set(test) <= set(base_test) and set(train) <= set(base_train)   # nor on the test datasets
            assert set(train) == {t for t in base_train if key(t) != s.value}
    assert all(task_parts(t)["family"] == "mlp" for t in splits["without family mlp"].test)
    assert "lcdb/0/accuracy" in splits["without direction minimize"].folds[0][0] + \
        splits["without direction minimize"].folds[1][0] + splits["without direction minimize"].folds[2][0]


def test_regret_of_a_minimised_metric_is_relative_to_the_typical_loss():
    c = StudyCurves.from_arrays("s", [[2.0, 1.0], [1.5, 1.2], [3.0, 2.0]], direction="minimize", task="hpo/x/sgd/mse")
    assert regret_scale(c) == pytest.approx(1.2)                        # median final value
    grid = [g for g in candidate_grid() if g.name == "percentile-25-w0-s2"]
    out = replay_task([c], grid, None, (0, 1, 2))
    raw = np.array([0.0 if not k else 1.2 - 1.0 for k in out["killed_best"]])
    assert out["regret"].to_numpy() == pytest.approx(raw / 1.2)
    feats = study_features(c)
    assert feats["direction_minimize"] == 1.0 and feats["curve_final_spread"] == pytest.approx(0.2 / 1.2)


def test_concatenated_corpora(tiny):
    other = build_training_data({"lcdb/1/accuracy": _study("lcdb/1/accuracy", 0)},
                                {"lcdb/1/accuracy": [_study("lcdb/1/accuracy", 1)]},
                                pd.DataFrame(index=pd.Index(["lcdb/1/accuracy"], name="task")),
                                grid=tiny.grid, orders=2)
    both = concat_training_data([tiny, other])
    assert len(both.tasks) == 9 and both.features.loc["lcdb/1/accuracy", "family_sgd"] == 0.0
    assert both.features.loc["lcdb/1/accuracy", "family_lcdb"] == 1.0
    with pytest.raises(InvalidInputError, match="more than one corpus"):
        concat_training_data([tiny, tiny])
    with pytest.raises(InvalidInputError, match="different grids"):
        concat_training_data([tiny, build_training_data(other.probes, other.curves, other.features, orders=2)])


def test_cli_meta_evaluate_with_leave_out(tmp_path, capsys):
    import json

    from policy_store.datasets import bundled

    from policy_store import PolicyStore
    from policy_store.cli.main import main
    from policy_store.ingest import ingest_frame

    location = str(tmp_path / "cli.duckdb")
    frame = bundled()
    with PolicyStore(location) as store:        # 6 tasks: 3 datasets x 2 families
        ingest_frame(store, frame[frame["task"].str.contains("(?:iris|wine|digits)/(?:sgd|mlp)/", regex=True)])
    assert main(["--store", location, "meta", "evaluate", "--orders", "1", "--folds", "3", "--trees", "5",
                 "--leave-out", "--no-record", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    methods = {r["method"] for r in out["summary"]}
    assert {CV_ORACLE, ORACLE} <= methods and "meta-learner + adaptation" not in methods   # no --adapt
    assert set(out["verdicts"]) == {"sklearn"} and "gap_closed_cv[meta-learner]" in out["verdicts"]["sklearn"]
    splits = {r["split"] for r in out["leave_out"]}
    assert splits == {"without family mlp", "without family sgd"}   # one direction only: no direction split
    assert main(["--store", location, "meta", "evaluate", "--hpo", str(tmp_path / "missing.parquet")]) == 1
    assert capsys.readouterr().err.startswith("Error: no HPO corpus file")
