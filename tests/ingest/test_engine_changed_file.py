"""A file written to while the engine reads it in several passes: never stored, or left to the reference path."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from policy_store import PolicyStore
from policy_store.errors import InvalidInputError
from policy_store.ingest import engine_load, ingest_file
from policy_store.ingest.engine_load import ingest_with_engine
from tests.conftest import make_frame

_HEADER = "task,study,trial,step,value\n"


def _rows(n_trials: int, n_steps: int, study: str = "s") -> str:
    return "".join(f"t,{study},{i},{k},{(i + 1) / (k + 2)}\n" for i in range(n_trials) for k in range(n_steps))


def _after_pass(monkeypatch, name: str, change) -> None:
    """Run ``change()`` right after the pass ``engine_load.<name>`` (the summary is before ``_hashes``)."""
    original = getattr(engine_load, name)

    def then_change(*args, **kwargs):
        result = original(*args, **kwargs)
        change()
        return result

    monkeypatch.setattr(engine_load, name, then_change)


def _before_pass(monkeypatch, name: str, change) -> None:
    original = getattr(engine_load, name)

    def change_first(*args, **kwargs):
        change()
        return original(*args, **kwargs)

    monkeypatch.setattr(engine_load, name, change_first)


def _in_place(path: Path, edit) -> None:
    """Rewrite the file in place with ``edit(bytes)`` (same size), its modification time put back: same stat."""
    before = os.stat(path)
    data = edit(path.read_bytes())
    assert len(data) == before.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


def _store_with_a_study(tmp_path: Path) -> PolicyStore:
    store = PolicyStore(tmp_path / "store.duckdb")
    other = tmp_path / "other.csv"
    other.write_text(_HEADER + _rows(2, 3, study="kept"))
    assert ingest_with_engine(store, other, "csv", source="other") is not None
    return store


def _state(store: PolicyStore) -> tuple:
    return (store.row_counts(), store.fetch_dicts("SELECT * FROM studies ORDER BY study"),
            store.scalar("SELECT current_setting('memory_limit')"),
            store.fetch_dicts("SELECT table_name FROM duckdb_tables() WHERE temporary"))


def _append(path: Path) -> None:
    with open(path, "a") as f:
        f.write("t,s,0,3,0.5\n")


def _rewrite_value(path: Path) -> None:
    path.write_text(path.read_text().replace("t,s,0,0,0.5\n", "t,s,0,0,99.0\n"))


def _drop_last_line(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1])


def _cut_mid_line(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) - 4])


def _bad_cell(path: Path) -> None:
    path.write_text(path.read_text().replace("t,s,0,0,0.5\n", "t,s,0,0,abc\n"))


@pytest.mark.parametrize("change", [_append, _rewrite_value, _drop_last_line, _cut_mid_line, _bad_cell])
@pytest.mark.parametrize("boundary", ["after the hash", "after the summary"])
def test_a_csv_file_changed_between_passes_is_refused_with_the_store_as_it_was(tmp_path, monkeypatch, change,
                                                                                boundary):
    path = tmp_path / "runs.csv"
    path.write_text(_HEADER + _rows(3, 3))
    with _store_with_a_study(tmp_path) as store:
        before = _state(store)
        if boundary == "after the hash":
            _after_pass(monkeypatch, "_hashes", lambda: change(path))
        else:
            _before_pass(monkeypatch, "_hashes", lambda: change(path))
        with pytest.raises(InvalidInputError, match="changed while it was being ingested") as raised:
            ingest_with_engine(store, path, "csv", source="f")
        assert str(path) in str(raised.value)
        assert _state(store) == before
    with PolicyStore(tmp_path / "store.duckdb") as store:  # nothing of it committed
        assert _state(store) == before


@pytest.mark.parametrize("change", ["append", "value"])
def test_a_parquet_file_changed_between_passes_is_refused_with_the_store_as_it_was(tmp_path, monkeypatch, change):
    path = tmp_path / "runs.parquet"
    frame = make_frame(n_studies=2, n_trials=3, n_steps=4)
    frame.to_parquet(path, index=False)
    changed = (pd.concat([frame, frame.tail(1).assign(step=99)]) if change == "append"
               else frame.assign(value=frame["value"].where(frame.index != 0, 99.0)))
    with _store_with_a_study(tmp_path) as store:
        before = _state(store)
        _after_pass(monkeypatch, "_hashes", lambda: changed.to_parquet(path, index=False))
        with pytest.raises(InvalidInputError, match="changed while it was being ingested"):
            ingest_with_engine(store, path, "parquet", source="f")
        assert _state(store) == before


def test_more_points_written_than_the_summary_counted_are_refused_even_under_the_same_stat(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    padded = "0." + "5" * 30
    original = _HEADER + _rows(3, 3) + f"t,s,2,3,{padded}\n"
    extra = "t,s,0,3,0.5\n"  # one point more, the same bytes: the padded value shortened by its length
    rewritten = _HEADER + _rows(3, 3) + f"t,s,2,3,{padded[:len(padded) - len(extra)]}\n" + extra
    assert len(rewritten) == len(original)
    path.write_text(original)
    with _store_with_a_study(tmp_path) as store:
        before = _state(store)
        _after_pass(monkeypatch, "_hashes", lambda: _in_place(path, lambda _: rewritten.encode()))
        with pytest.raises(InvalidInputError, match="changed while it was being ingested"):
            ingest_with_engine(store, path, "csv", source="f")
        assert _state(store) == before


@pytest.mark.parametrize("n_trials", [30, 3000])  # DuckDB's error from the query; the Arrow reader's OSError
def test_a_line_the_hash_pass_refuses_is_left_to_the_reference_path_which_names_it(tmp_path, monkeypatch,
                                                                                     n_trials):
    path = tmp_path / "runs.csv"
    path.write_text(_HEADER + _rows(n_trials, 10))

    def break_last_line(data: bytes) -> bytes:  # its commas turned to semicolons: one column, not five
        cut = data.rindex(b"\n", 0, len(data) - 1) + 1
        return data[:cut] + data[cut:].replace(b",", b";")

    monkeypatch.setattr(engine_load, "ROWS_PER_BATCH", 2048)  # 30 000 points: the error past the first batch
    _before_pass(monkeypatch, "_hashes", lambda: _in_place(path, break_last_line))
    with PolicyStore.memory() as store:
        before = _state(store)
        assert ingest_with_engine(store, path, "csv", source="f") is None
        assert _state(store) == before
    path.write_text(_HEADER + _rows(n_trials, 10))
    with PolicyStore.memory() as store:
        with pytest.raises(InvalidInputError, match=f"not a readable CSV file .*: t;s;{n_trials - 1};9;"):
            ingest_file(store, path)
        assert _state(store) == before


@pytest.mark.parametrize("n_trials", [30, 3000])
def test_a_file_cut_mid_line_before_the_hash_pass_is_refused_as_changed(tmp_path, monkeypatch, n_trials):
    path = tmp_path / "runs.csv"
    path.write_text(_HEADER + _rows(n_trials, 10))
    _before_pass(monkeypatch, "_hashes", lambda: _cut_mid_line(path))
    with PolicyStore.memory() as store:
        before = _state(store)
        with pytest.raises(InvalidInputError, match="changed while it was being ingested"):
            ingest_file(store, path)
        assert _state(store) == before


def test_an_unchanged_file_is_still_stored(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    path.write_text(_HEADER + _rows(3, 3))
    _after_pass(monkeypatch, "_hashes", lambda: os.stat(path))  # a reader looking at it changes nothing
    with PolicyStore.memory() as store:
        report = ingest_with_engine(store, path, "csv", source="f")
        assert report is not None and report.added == ["s"] and report.points_written == 9
