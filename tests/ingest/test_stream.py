"""Streaming CSV ingest: the same studies and hashes as reading the file whole, errors across blocks named by line."""

from __future__ import annotations

import pandas as pd
import pytest

from policy_store import PolicyStore
from policy_store.errors import DirectionMismatchError, InvalidInputError
from policy_store.ingest import engine_load, ingest_csv_stream, ingest_file, ingest_frame
from policy_store.ingest import stream as stream_module
from tests.conftest import make_frame

BLOCK = 1 << 10  # about 25 lines: every file below spans several blocks


def _csv(tmp_path, frame: pd.DataFrame, name: str = "curves.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_streamed_file_equals_the_file_read_whole(tmp_path):
    frame = make_frame(n_studies=7, n_trials=6, n_steps=5)
    frame["params"] = frame["trial"].map(lambda t: f'{{"lr": {t % 3}}}')
    frame.loc[frame["trial"] == 2, "state"] = "PRUNED"
    path = _csv(tmp_path, frame.sample(frac=1.0, random_state=0))  # studies interleaved across blocks
    with PolicyStore.memory() as streamed, PolicyStore.memory() as whole:
        report = ingest_csv_stream(streamed, path, block_size=BLOCK, part_bytes=BLOCK * 4)
        assert len(report.added) == 7 and report.points_written == len(frame)
        ingest_file(whole, path)
        for table in ("studies", "trials", "curve_points", "tasks"):
            key = {"studies": "study", "trials": "study, trial", "curve_points": "study, trial, step",
                   "tasks": "task"}[table]
            drop = ["ingested_at", "created_at"]
            a = streamed.fetch_df(f"SELECT * FROM {table} ORDER BY {key}")  # noqa: S608
            b = whole.fetch_df(f"SELECT * FROM {table} ORDER BY {key}")  # noqa: S608
            pd.testing.assert_frame_equal(a.drop(columns=drop, errors="ignore"), b.drop(columns=drop, errors="ignore"))
        # Same content hashes: the whole-file reader finds the streamed studies unchanged, and back.
        assert ingest_file(streamed, path).unchanged == report.added
        assert ingest_csv_stream(whole, path, block_size=BLOCK).unchanged == report.added


def test_ingest_file_streams_large_csv(tmp_path, monkeypatch):
    path = _csv(tmp_path, make_frame(n_studies=3))
    calls = []
    monkeypatch.setattr(stream_module, "STREAM_BYTES", 100)
    # a large file DuckDB's reader leaves to the reference path (an unusual cell) is streamed
    monkeypatch.setattr(engine_load, "ingest_with_engine", lambda *a, **k: None)
    real = stream_module.ingest_csv_stream
    monkeypatch.setattr(stream_module, "ingest_csv_stream", lambda *a, **k: calls.append(1) or real(*a, **k))
    with PolicyStore.memory() as store:
        assert len(ingest_file(store, path, progress=True).added) == 3
    assert calls == [1]


def _trial_zero_last(frame: pd.DataFrame) -> pd.DataFrame:
    """Trial 0's last point moved to the end of the file, several blocks after its other points."""
    moved = (frame["trial"] == 0) & (frame["step"] == frame["step"].max())
    return pd.concat([frame[~moved], frame[moved]]).reset_index(drop=True)


@pytest.mark.parametrize(
    ("mutate", "field", "match"),
    [
        # trial 0's state changes in a later block
        (lambda f: f.assign(state=["COMPLETE"] * (len(f) - 1) + ["PRUNED"]), "state", "more than one state"),
        # the study's last point names another task
        (lambda f: f.assign(task=["task-a"] * (len(f) - 1) + ["task-b"]), "task", "more than one task"),
        # the last row repeats the first point, blocks later
        (lambda f: pd.concat([f, f.iloc[[0]]]), "step", "duplicate point"),
        # a number that does not parse, far into the file
        (lambda f: f.assign(value=f["value"].astype(str).where(f.index != len(f) - 3, "abc")), "value", "numeric"),
    ],
)
def test_errors_across_blocks_name_the_line_and_leave_the_store_unchanged(tmp_path, mutate, field, match):
    frame = mutate(_trial_zero_last(make_frame(n_studies=1, n_trials=20, n_steps=6).drop(columns="cost_seconds")))
    frame = frame.reset_index(drop=True)
    path = _csv(tmp_path, frame)
    expected_row = {"state": len(frame) - 1, "task": len(frame) - 1, "step": len(frame) - 1,
                    "value": len(frame) - 3}[field]
    with PolicyStore(tmp_path / "store.duckdb") as store:
        ingest_frame(store, make_frame(task="other"))
        before = store.row_counts()
        with pytest.raises(InvalidInputError, match=match) as info:
            ingest_csv_stream(store, path, block_size=BLOCK)
        assert (info.value.row, info.value.field) == (expected_row, field)
        assert f"line {expected_row + 2}" in str(info.value)
        assert store.row_counts() == before


def test_a_direction_mismatch_with_the_store_names_the_row(tmp_path):
    frame = make_frame(n_studies=2, n_trials=10)
    with PolicyStore.memory() as store:
        ingest_frame(store, make_frame(n_studies=1).assign(study="old"))  # task-a, minimize
        path = _csv(tmp_path, frame.assign(direction="maximize"))
        before = store.row_counts()
        with pytest.raises(DirectionMismatchError) as info:
            ingest_csv_stream(store, path, block_size=BLOCK)
        assert (info.value.row, info.value.field) == (0, "direction")
        assert store.row_counts() == before


@pytest.mark.parametrize(("text", "match"), [("task,study,trial,step,value,colour\n", "unknown column"),
                                             ("task,study,trial,step,value\n", "header but no rows")])
def test_bad_files(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text + ("t,s,0,0,0.5,red\n" if "colour" in text else ""))
    with PolicyStore.memory() as store, pytest.raises(InvalidInputError, match=match):
        ingest_csv_stream(store, path)


def test_a_byte_order_mark_is_read_as_the_whole_file_reader_reads_it(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftask,study,trial,step,value\nt,s,0,0,0.5\nt,s,0,1,0.25\n")
    with PolicyStore.memory() as store:
        assert ingest_csv_stream(store, path).added == ["s"]
        assert ingest_file(store, path).unchanged == ["s"]
