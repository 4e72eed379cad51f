"""`read_curves_csv` (DuckDB, what `recommend --curves` reads) builds the curves `StudyCurves.from_frame` builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest_data import lcdb_long

from policy_store.curves import StudyCurves, read_curves_csv
from policy_store.errors import InvalidInputError

ARRAYS = ("trials", "trial_numbers", "steps", "values", "present", "cost", "memory")


def _from_frame(frame: pd.DataFrame, stem: str) -> list[StudyCurves]:
    if "study" in frame.columns:
        return [StudyCurves.from_frame(g, study=str(s), direction="maximize") for s, g in frame.groupby("study")]
    return [StudyCurves.from_frame(frame, study=stem, direction="maximize")]


def _cases() -> dict[str, pd.DataFrame]:
    full = lcdb_long()[["study", "trial", "step", "value", "cost_seconds"]]
    one = full[full["study"] == full["study"].iloc[0]][["trial", "step", "value"]]
    nan = one.copy()
    nan.loc[nan.index[3], "value"] = np.nan
    return {
        "full": full,
        "shuffled": full.sample(frac=1.0, random_state=0),
        "one": one,
        "duplicates": pd.concat([one, one.assign(value=one["value"] + 1).iloc[:5]]),   # the last row counts
        "int-studies": full.assign(study=full["study"].astype("category").cat.codes * 5),
        "trial-numbers": one.assign(trial_number=100 - one["trial"].astype("category").cat.codes),
        "nan": nan,
    }


@pytest.mark.parametrize("name", sorted(_cases()))
def test_the_curves_from_frame_builds(tmp_path, name):
    frame = _cases()[name]
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    expected, got = _from_frame(pd.read_csv(path), name), read_curves_csv(path, direction="maximize")
    assert [c.study for c in got] == [c.study for c in expected] and len(got) >= 1
    for a, b in zip(expected, got, strict=True):
        assert (a.task, a.direction) == (b.task, b.direction)
        for field in ARRAYS:
            x, y = getattr(a, field), getattr(b, field)
            assert x.tolist() == y.tolist() if x.dtype == object else np.array_equal(x, y, equal_nan=True), field


def test_bad_files_are_named(tmp_path):
    (tmp_path / "bad.csv").write_text("trial,value\n1,0.5\n")
    (tmp_path / "latin1.csv").write_bytes(b"trial,step,value\n\xe9,0,0.5\n")
    (tmp_path / "text.csv").write_text("trial,step,value\na,0,abc\n")
    with pytest.raises(InvalidInputError, match=r"\['step'\] missing"):
        read_curves_csv(tmp_path / "bad.csv", direction="maximize")
    for name in ("missing.csv", "latin1.csv", "text.csv"):
        with pytest.raises(InvalidInputError, match=name):
            read_curves_csv(tmp_path / name, direction="maximize")


def test_a_file_name_with_glob_characters_is_read_literally(tmp_path):
    """DuckDB's reader takes a path as a glob: ``runs[1].csv`` would read ``runs1.csv``, ``a*.csv`` both files."""
    (tmp_path / "runs1.csv").write_text("trial,step,value\nother,0,0.1\n")
    (tmp_path / "runs[1].csv").write_text("trial,step,value\nmine,0,0.9\nmine,1,0.95\n")
    (tmp_path / "a*.csv").write_text("trial,step,value\nstar,0,0.2\n")
    (tmp_path / "ab.csv").write_text("trial,step,value\nab,0,0.3\n")
    [runs] = read_curves_csv(tmp_path / "runs[1].csv", direction="maximize")
    assert runs.trials.tolist() == ["mine"] and runs.values.tolist() == [[0.9, 0.95]]
    [star] = read_curves_csv(tmp_path / "a*.csv", direction="maximize")
    assert star.trials.tolist() == ["star"]
    with pytest.raises(InvalidInputError, match=r"runs\?"):
        read_curves_csv(tmp_path / "runs?.csv", direction="maximize")
