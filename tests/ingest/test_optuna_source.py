"""Ingesting real Optuna studies: in memory and through a storage URL."""

from __future__ import annotations

import optuna
import pytest

from policy_store import InvalidInputError
from policy_store.ingest import ingest_optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2, 2)
    value = 0.0
    for step in range(5):
        value = (x - 0.5) ** 2 + 1.0 / (step + 1)
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def _study(storage=None, name="quad") -> optuna.Study:
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3),
    )
    study.optimize(_objective, n_trials=12)
    return study


def test_optuna_study_becomes_curves_with_states_and_costs(store):
    study = _study()
    report = ingest_optuna(store, study, task="quadratic")
    assert report.added == ["quad"]
    trials = store.fetch_df("SELECT * FROM trials ORDER BY trial_number")
    assert trials["trial_number"].tolist() == list(range(12))
    expected_states = [t.state.name for t in study.trials]
    assert trials["state"].tolist() == expected_states
    assert "PRUNED" in expected_states
    points = store.scalar("SELECT count(*) FROM curve_points")
    assert points == sum(len(t.intermediate_values) for t in study.trials)
    assert store.scalar("SELECT count(*) FROM curve_points WHERE cost_seconds IS NULL OR cost_seconds < 0") == 0
    last = study.trials[0]
    assert store.scalar("SELECT final_value FROM trials WHERE trial = '0'") == pytest.approx(
        last.intermediate_values[max(last.intermediate_values)]
    )


def test_storage_url_and_idempotence(tmp_path, store):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    _study(url, "a")
    _study(url, "b")
    assert sorted(ingest_optuna(store, url).added) == ["a", "b"]
    assert sorted(ingest_optuna(store, url).unchanged) == ["a", "b"]


def test_unknown_study_name_in_storage(tmp_path, store):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    _study(url, "a")
    with pytest.raises(InvalidInputError, match="no study named 'zzz'"):
        ingest_optuna(store, url, study_name="zzz")


def test_multi_objective_is_refused(store):
    study = optuna.create_study(directions=["minimize", "minimize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)
    before = store.row_counts()
    with pytest.raises(InvalidInputError, match="multi-objective"):
        ingest_optuna(store, study)
    assert store.row_counts() == before


def test_a_missing_sqlite_storage_is_refused_and_never_created(tmp_path, store, capsys):
    from policy_store.cli.main import main

    missing = tmp_path / "missing.db"
    with pytest.raises(InvalidInputError, match="no file at") as caught:
        ingest_optuna(store, f"sqlite:///{missing}")
    assert caught.value.field == "storage" and not missing.exists()
    store_path = tmp_path / "s.duckdb"
    assert main(["--store", str(store_path), "ingest", f"sqlite:///{missing}", "--format", "optuna"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "missing.db" in err and "Traceback" not in err
    assert not missing.exists()


def test_a_storage_without_studies_and_a_file_that_is_not_optuna_are_refused(tmp_path, store):
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.storages.RDBStorage(empty)  # a real Optuna database, holding no study yet
    with pytest.raises(InvalidInputError, match="holds no study"):
        ingest_optuna(store, empty)
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="not an Optuna storage"):
        ingest_optuna(store, f"sqlite:///{other}")
    assert other.read_bytes() == b""
    assert store.scalar("SELECT count(*) FROM studies") == 0
