"""Ingesting real Optuna studies: in memory and through a storage URL."""

from __future__ import annotations

import optuna
import pandas as pd
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


RECORDED_STEPS = [0, 1, 2, 40]   # two blocks of 32 steps


def _recorded_three_ways(storage=None) -> optuna.Study:
    """Trial 0 as the previous release's StorePruner left it (``{step: value}`` mappings rewritten whole), trial
    1 as StorePruner records now (a block of 32 steps per attribute), trial 2 with nothing recorded; NaN is
    unknown memory."""
    study = optuna.create_study(study_name="recorded", storage=storage)
    for number in range(3):
        trial = study.ask()
        whole: dict[str, dict] = {"step_memory_mb": {}, "step_costs": {}}
        blocks: dict[str, dict] = {}
        for step in RECORDED_STEPS:
            trial.report(1.0 / (step + 1), step)
            recorded = {"step_memory_mb": float("nan") if number == 1 and step == 2 else 100.0 + 10 * number + step,
                        "step_costs": 0.25 * (step + 1)}
            for name, value in recorded.items():   # written through the storage, as the pruner does
                if number == 0:
                    whole[name][str(step)] = value
                    study._storage.set_trial_user_attr(trial._trial_id, name, dict(whole[name]))
                elif number == 1:
                    block = blocks.setdefault(f"{name}:{step // 32 * 32}", {})
                    block[str(step)] = value
                    study._storage.set_trial_user_attr(trial._trial_id, f"{name}:{step // 32 * 32}", dict(block))
        study.tell(trial, 0.5)
    return study


@pytest.mark.parametrize("on", ["memory", "sqlite"])
def test_memory_and_costs_are_read_from_blocks_and_from_the_previous_releases_mappings(tmp_path, store, on):
    url = f"sqlite:///{tmp_path / 'optuna.db'}" if on == "sqlite" else None
    study = _recorded_three_ways(url)
    ingest_optuna(store, url or study, task="t")
    rows = store.fetch_df("SELECT p.trial, p.step, p.cost_seconds, m.peak_memory_mb FROM curve_points p "
                          "LEFT JOIN curve_memory m USING (study, trial, step) ORDER BY p.trial, p.step")
    got = {(int(r.trial), int(r.step)): (r.cost_seconds, r.peak_memory_mb) for r in rows.itertuples()}
    assert sorted(got) == [(n, s) for n in range(3) for s in RECORDED_STEPS]
    spread = study.trials[2].duration.total_seconds() / len(RECORDED_STEPS)
    for step in RECORDED_STEPS:
        assert got[0, step] == (0.25 * (step + 1), 100.0 + step)                            # the mappings
        assert got[1, step][0] == 0.25 * (step + 1)                                         # the blocks
        assert got[1, step][1] == 110.0 + step or (step == 2 and pd.isna(got[1, step][1]))  # NaN: unknown
        assert got[2, step][0] == pytest.approx(spread) and pd.isna(got[2, step][1])      # nothing recorded


@pytest.mark.parametrize("name, value", [("step_costs", "slow"), ("step_memory_mb", True), ("step_memory_mb", "7")])
def test_a_recorded_resource_that_is_not_a_number_is_refused_by_name(store, name, value):
    study = optuna.create_study(study_name="odd")
    trial = study.ask()
    for step in range(3):
        trial.report(1.0 / (step + 1), step)
    study._storage.set_trial_user_attr(trial._trial_id, name, {"0": 1.0, "1": value, "2": 2.0})
    study.tell(trial, 0.5)
    before = store.row_counts()
    with pytest.raises(InvalidInputError, match=rf"trial 0, step 1: user attribute '{name}' holds .*not a number"):
        ingest_optuna(store, study, task="t")
    assert store.row_counts() == before
