"""Peak memory per step: validated at ingest, kept in ``curve_memory``, read back with the curves; migration 3."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from policy_store import PolicyStore
from policy_store.curves import curves_from_frame, load_study_curves
from policy_store.errors import InvalidInputError
from policy_store.ingest import ingest_frame
from policy_store.ingest.hashing import study_hashes
from policy_store.ingest.longformat import validate_long_frame
from policy_store.migrations import LATEST_VERSION, MIGRATIONS


def _frame(memory=None) -> pd.DataFrame:
    f = pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1, 1], "step": [0, 1, 0, 1],
                      "value": [0.5, 0.4, 0.7, 0.6], "cost_seconds": [1.0, 1.5, 1.0, 1.2]})
    if memory is not None:
        f["peak_memory_mb"] = memory
    return f


@pytest.mark.parametrize(("memory", "row", "message"), [
    ([1.0, np.inf, 2.0, 2.0], 1, "must be finite"),
    ([1.0, 2.0, -0.5, 2.0], 2, "must be >= 0"),
    ([1.0, 2.0, 3.0, "lots"], 3, "must be numeric"),
])
def test_bad_memory_is_refused_naming_row_and_field(memory, row, message):
    with pytest.raises(InvalidInputError, match=message) as e:
        validate_long_frame(_frame(memory))
    assert (e.value.row, e.value.field) == (row, "peak_memory_mb")


def test_bad_memory_leaves_the_store_as_it_was(store):
    ingest_frame(store, _frame([10.0, 20.0, 30.0, 40.0]).assign(study="other"))
    before = store.row_counts()
    with pytest.raises(InvalidInputError):
        ingest_frame(store, _frame([10.0, -1.0, 30.0, 40.0]))
    assert store.row_counts() == before


def test_memory_round_trips_and_unknown_steps_stay_unknown(store):
    ingest_frame(store, _frame([100.0, 180.5, np.nan, 90.0]))
    assert store.scalar("SELECT count(*) FROM curve_memory") == 3
    c = load_study_curves(store, "s")
    np.testing.assert_array_equal(c.memory, [[100.0, 180.5], [np.nan, 90.0]])
    (from_frame,) = curves_from_frame(_frame([100.0, 180.5, np.nan, 90.0]), direction="minimize")
    np.testing.assert_array_equal(from_frame.memory, c.memory)


def test_a_study_without_memory_hashes_as_before_and_memory_changes_the_hash():
    plain = study_hashes(validate_long_frame(_frame()))
    assert study_hashes(validate_long_frame(_frame([np.nan] * 4))) == plain
    with_memory = study_hashes(validate_long_frame(_frame([1.0, 2.0, 3.0, 4.0])))
    assert with_memory != plain
    assert study_hashes(validate_long_frame(_frame([1.0, 2.0, 3.0, 5.0]))) != with_memory


def test_replacing_a_study_replaces_its_memory(store):
    ingest_frame(store, _frame([100.0, 180.0, 90.0, 95.0]))
    ingest_frame(store, _frame([1.0, 2.0, np.nan, np.nan]), replace=True)
    assert store.fetch_df("SELECT trial, step, peak_memory_mb FROM curve_memory ORDER BY ALL").values.tolist() == \
        [["0", 0, 1.0], ["0", 1, 2.0]]


def _store_at_version_2(path) -> None:
    with duckdb.connect(str(path)) as con:
        for m in MIGRATIONS[:2]:
            for statement in m.statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [m.version, m.description])
        con.execute("INSERT INTO curve_points VALUES ('s', '0', 0, 0.5, 1.0)")


def test_a_version_2_store_migrates_keeping_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    _store_at_version_2(path)
    with PolicyStore(path) as store:
        assert store.schema_version == LATEST_VERSION
        assert {"curve_memory", "outcome_resources"} <= set(store.tables())
        assert store.scalar("SELECT count(*) FROM curve_points") == 1


def test_a_migration_killed_before_its_commit_leaves_version_2(tmp_path):
    path = tmp_path / "old.duckdb"
    _store_at_version_2(path)
    code = f"from policy_store import PolicyStore; PolicyStore({str(path)!r})"
    env = {**os.environ, "POLICY_STORE_FAULT": "before-commit:1"}
    killed = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert killed.returncode == -9
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (2,)
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert "curve_memory" not in tables
    with PolicyStore(path) as store:  # the next open migrates
        assert store.schema_version == LATEST_VERSION


def test_the_hpo_generator_measures_memory_at_every_step(store):
    from policy_store.datasets import generate_hpo

    frame = generate_hpo(["iris"], families=["forest"], studies=1, trials=3, steps=3)
    memory = frame["peak_memory_mb"]
    assert memory.notna().all() and (memory > 0).all()
    per_trial = frame[frame["metric"] == "accuracy"].groupby("trial")["peak_memory_mb"]
    assert per_trial.apply(lambda m: m.is_monotonic_increasing).all()  # a peak so far never goes down
    ingest_frame(store, frame)
    assert store.scalar("SELECT count(*) FROM curve_memory") == len(frame)


def test_the_cli_refuses_bad_memory_with_one_error_line_and_stores_good_memory(tmp_path, capsys):
    from policy_store.cli.main import main

    store = str(tmp_path / "store.duckdb")
    bad = tmp_path / "bad.csv"
    _frame([100.0, 120.0, -3.0, 90.0]).to_csv(bad, index=False)
    assert main(["--store", store, "ingest", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error:") and "row 2" in err[0] and "peak_memory_mb" in err[0]
    good = tmp_path / "good.csv"
    _frame([100.0, 120.0, "", 90.0]).to_csv(good, index=False)
    assert main(["--store", store, "ingest", str(good)]) == 0
    with PolicyStore(store, read_only=True) as s:
        assert s.fetch_df("SELECT trial, step, peak_memory_mb FROM curve_memory ORDER BY ALL").values.tolist() == \
            [["0", 0, 100.0], ["0", 1, 120.0], ["1", 1, 90.0]]
