"""Files read and checked by DuckDB: the same stores and hashes as the reference path, or left to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policy_store import PolicyStore
from policy_store.errors import StudyConflictError
from policy_store.ingest import engine_load, ingest_frame, read_long_file
from policy_store.ingest.engine_load import ingest_with_engine
from tests.conftest import make_frame

_KEYS = {"studies": "study", "trials": "study, trial", "curve_points": "study, trial, step",
         "curve_memory": "study, trial, step", "tasks": "task"}


def _rich_frame() -> pd.DataFrame:
    frame = make_frame(n_studies=4, n_trials=5, n_steps=6)
    frame["params"] = frame["trial"].map(lambda t: f'{{"lr": {t / 7}, "name": "é\\"q"}}')
    frame["state"] = np.where(frame["trial"] == 1, "pruned", "COMPLETE")
    frame.loc[(frame["trial"] == 1) & (frame["step"] == 5), "value"] = np.nan
    frame.loc[frame["trial"] == 2, "cost_seconds"] = np.nan
    frame["peak_memory_mb"] = np.where(frame["trial"] == 3, 512.25, np.nan)
    frame["metric"] = "log loss"
    frame["value"] = frame["value"] * -1.0  # negative numbers
    return frame


def _write(frame: pd.DataFrame, path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _tables(store: PolicyStore) -> dict[str, pd.DataFrame]:
    return {table: store.fetch_df(f"SELECT * FROM {table} ORDER BY {key}")  # noqa: S608
            .drop(columns=["ingested_at", "created_at", "source"], errors="ignore")
            for table, key in _KEYS.items()}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_plain_file_is_stored_as_the_reference_path_stores_it(tmp_path, suffix):
    path = tmp_path / f"curves{suffix}"
    _write(_rich_frame(), path)
    with PolicyStore.memory() as engine, PolicyStore.memory() as reference:
        report = ingest_with_engine(engine, path, suffix[1:], source="f")
        assert report is not None and len(report.added) == 4
        ingest_frame(reference, read_long_file(path), source="f")
        ours, theirs = _tables(engine), _tables(reference)
        for table in _KEYS:
            pd.testing.assert_frame_equal(ours[table], theirs[table], check_exact=False, rtol=1e-15)
        assert len(ours["curve_memory"]) == 24  # trial 3's points in 4 studies
        assert ingest_with_engine(engine, path, suffix[1:], source="f").unchanged == report.added


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_content_hashes_equal_the_reference_paths_when_byte_order_is_not_numeric_order(tmp_path, suffix):
    frame = make_frame(n_studies=3, n_trials=12, n_steps=3)  # trials "10", "11" sort before "2"
    frame["study"] = frame["study"].map({s: f"étude-{s}-ü😀" for s in frame["study"].unique()})
    frame = frame.sample(frac=1.0, random_state=3)  # and no row in canonical order
    path = tmp_path / f"curves{suffix}"
    _write(frame, path)
    with PolicyStore.memory() as engine, PolicyStore.memory() as reference:
        assert len(ingest_with_engine(engine, path, suffix[1:], source="f").added) == 3
        ingest_frame(reference, read_long_file(path), source="f")
        hashes = "SELECT study, content_hash FROM studies ORDER BY study"
        assert engine.fetch_dicts(hashes) == reference.fetch_dicts(hashes)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_changed_study_is_refused_or_replaced_as_the_reference_path_does(tmp_path, suffix):
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    frame = _rich_frame()
    _write(frame, first)
    changed = frame.assign(value=np.where(frame["study"] == frame["study"].iloc[-1], 0.125, frame["value"]))
    _write(changed, second)
    with PolicyStore.memory() as engine, PolicyStore.memory() as reference:
        ingest_with_engine(engine, first, suffix[1:], source="f")
        before = engine.row_counts()
        with pytest.raises(StudyConflictError):
            ingest_with_engine(engine, second, suffix[1:], source="f")
        assert engine.row_counts() == before
        report = ingest_with_engine(engine, second, suffix[1:], source="f", replace=True)
        assert report.replaced == [frame["study"].iloc[-1]] and len(report.unchanged) == 3
        assert report.points_written == int((frame["study"] == frame["study"].iloc[-1]).sum())
        ingest_frame(reference, read_long_file(first), source="f")
        ingest_frame(reference, read_long_file(second), source="f", replace=True)
        ours, theirs = _tables(engine), _tables(reference)
        for table in _KEYS:
            pd.testing.assert_frame_equal(ours[table], theirs[table], check_exact=False, rtol=1e-15)


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(study=" " + f["study"]),  # trimmed by the reference path
        lambda f: f.assign(value=np.where(f.index == 3, "1_000", f["value"].astype(str))),  # DuckDB reads 1000
        lambda f: f.assign(value=np.where(f.index == 3, "-0", f["value"].astype(str))),  # sign lost as int64
        lambda f: f.assign(params=np.where(f.index == 2, "[1]", None)),  # JSON but not an object
        lambda f: f.assign(state=np.where(f.index == 2, "faıl", "COMPLETE")),  # a non-ASCII case mapping
        lambda f: f.assign(step=np.where(f.index == 5, 0, f["step"])),  # a repeated point
        lambda f: f.assign(direction=np.where(f.index == 9, "maximize", "minimize")),  # two directions per task
        lambda f: f.assign(state=np.where(f.index == 1, "PRUNED", "COMPLETE")),  # two states in one trial
        lambda f: f.assign(params=np.where(f.index == 1, '{"a": 1}', '{"a": 2}')),  # two params in one trial
        lambda f: f.assign(params=np.where(f.index == 1, '{"a": 1}', None)),  # params on one point of a trial
        lambda f: f.assign(task=np.where(f.index == 6, None, f["task"])),  # a missing task on one point
        lambda f: f.assign(value=np.where(f.index == 4, np.nan, f["value"])),  # NaN in a COMPLETE trial
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_anything_unusual_is_left_to_the_reference_path_with_nothing_written(tmp_path, change, suffix):
    path = tmp_path / f"curves{suffix}"
    frame = change(make_frame(n_studies=3, n_trials=3, n_steps=4))
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.astype({"value": str} if frame["value"].dtype == object else {}).to_parquet(path, index=False)
    with PolicyStore.memory() as store:
        store.execute("SET memory_limit = '1GB'")
        before = store.row_counts()
        assert ingest_with_engine(store, path, suffix[1:], source="f") is None
        assert store.row_counts() == before
        assert not store.fetch_dicts("SELECT table_name FROM duckdb_tables() WHERE temporary")
        # the call's own buffer-pool cap is lifted again, to the limit as it was (DuckDB prints it rounded)
        assert store.scalar("SELECT current_setting('memory_limit')") == "953.6 MiB"


def test_a_csv_cell_pyarrow_reads_as_missing_is_left_to_the_reference_path(tmp_path):
    path = tmp_path / "curves.csv"
    make_frame(n_studies=3, n_trials=3, n_steps=4).assign(study=lambda f: np.where(f.index == 7, "NA", f["study"])
                                                          ).to_csv(path, index=False)
    with PolicyStore.memory() as store:
        before = store.row_counts()
        assert ingest_with_engine(store, path, "csv", source="f") is None
        assert store.row_counts() == before


def test_studies_interleaved_across_fetched_batches_are_left_to_the_reference_path(tmp_path, monkeypatch):
    path = tmp_path / "curves.csv"
    frame = make_frame(n_studies=3, n_trials=3, n_steps=4)
    frame.sample(frac=1.0, random_state=1).to_csv(path, index=False)
    with PolicyStore.memory() as store, PolicyStore.memory() as reference:
        assert len(ingest_with_engine(store, path, "csv", source="f").added) == 3  # one batch: any order
        ingest_frame(reference, read_long_file(path), source="f")
        assert _tables(store)["studies"].equals(_tables(reference)["studies"])
    monkeypatch.setattr(engine_load, "ROWS_PER_BATCH", 5)
    with PolicyStore.memory() as store:
        assert ingest_with_engine(store, path, "csv", source="f") is None
        frame.to_csv(path, index=False)  # each study's rows together: hashed batch by batch
        assert len(ingest_with_engine(store, path, "csv", source="f").added) == 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_name_with_glob_characters_is_read_literally(tmp_path, suffix):
    """DuckDB reads a path as a glob: ``runs[1].csv`` would store the study of ``runs1.csv`` under its name."""
    other, mine = make_frame(n_studies=1, n_trials=2, n_steps=3), make_frame(n_studies=1, n_trials=3, n_steps=3)
    other["study"], mine["study"] = "other", "mine"
    _write(other, tmp_path / f"runs1{suffix}")
    _write(mine, tmp_path / f"runs[1]{suffix}")
    _write(mine.assign(study="star"), tmp_path / f"a*{suffix}")
    _write(other.assign(study="ab"), tmp_path / f"ab{suffix}")
    with PolicyStore.memory() as store:
        assert ingest_with_engine(store, tmp_path / f"runs[1]{suffix}", suffix[1:], source="f").added == ["mine"]
        assert ingest_with_engine(store, tmp_path / f"a*{suffix}", suffix[1:], source="f").added == ["star"]
        assert store.execute("SELECT count(*) FROM trials WHERE study = 'mine'").fetchone() == (3,)
