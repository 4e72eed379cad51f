"""`read_curves_csv` (DuckDB, what `recommend --curves` reads) builds the curves `StudyCurves.from_frame` built from
pandas' read of the file on main, and refuses a bad row naming its line and field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest_data import lcdb_long

from policy_store.cli.main import main
from policy_store.curves import StudyCurves, read_curves_csv
from policy_store.errors import InvalidInputError

NA_MARKERS = ("NA", "NULL", "None", "n/a", "#N/A", "NaN", "nan", "N/A", "<NA>", "null", "")
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
    markers = full.astype({"value": object, "cost_seconds": object})   # written as is, read by pandas as NaN
    for k, marker in enumerate(NA_MARKERS):
        markers.iloc[3 * k, markers.columns.get_loc("value")] = marker
        markers.iloc[3 * k + 1, markers.columns.get_loc("cost_seconds")] = marker
    no_study = full.astype({"study": object})
    no_study.iloc[::7, no_study.columns.get_loc("study")] = np.nan   # written empty; pandas' groupby drops them
    no_study.iloc[1::7, no_study.columns.get_loc("study")] = "NA"
    late = pd.DataFrame({"trial": [*map(str, range(30_000)), "late_name"], "step": 0, "value": 0.5})
    return {
        "full": full,
        "shuffled": full.sample(frac=1.0, random_state=0),
        "one": one,
        "duplicates": pd.concat([one, one.assign(value=one["value"] + 1).iloc[:5]]),   # the last row counts
        "int-studies": full.assign(study=full["study"].astype("category").cat.codes * 5),
        "trial-numbers": one.assign(trial_number=100 - one["trial"].astype("category").cat.codes),
        "nan": nan,
        "na-markers": markers,
        "no-study": no_study,
        "late-text-trial": late,   # past DuckDB's sniffing sample: a numeric-looking column that is not
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


def _read(tmp_path, text: str, name: str = "c.csv") -> list[StudyCurves]:
    (tmp_path / name).write_text(text)
    return read_curves_csv(tmp_path / name, direction="minimize")


def test_labels_stay_as_written(tmp_path):
    """pandas read ``007`` and ``7`` as one trial 7 and ``true`` as ``True``; here they are the labels written."""
    [c] = _read(tmp_path, "trial,step,value\n007,0,0.5\n7,0,0.4\ntrue,0,0.3\n007,1,0.2\n")
    assert c.trials.tolist() == ["007", "7", "true"]
    np.testing.assert_array_equal(c.values, [[0.5, 0.2], [0.4, np.nan], [0.3, np.nan]])


def test_studies_are_in_numeric_order_when_all_are_numbers_else_in_text_order(tmp_path):
    numbers = _read(tmp_path, "study,trial,step,value\n10,a,0,1\n9,a,0,2\n,a,0,3\n")
    texts = _read(tmp_path, "study,trial,step,value\n10,a,0,1\n9,a,0,2\ns,a,0,3\n")
    assert [c.study for c in numbers] == ["9", "10"] and [c.study for c in texts] == ["10", "9", "s"]


def test_integral_steps_are_read_as_integers(tmp_path):
    [c] = _read(tmp_path, "trial,step,value\na,0,0.5\na,2.0,0.4\na,1e1,0.3\n")
    assert c.steps.tolist() == [0, 2, 10] and c.steps.dtype == np.int64


@pytest.mark.parametrize(("text", "message"), [
    ("trial,step,value\na,0,0.5\na,1.5,0.4\n",
     r"c\.csv line 3 \(row 1, field 'step'\): step '1\.5' is not an integer$"),
    ("trial,step,value\na,0,0.5\n\na,x,0.4\n", r"c\.csv line 4 \(row 1, field 'step'\): step 'x' is not a number$"),
    ("trial,step,value\na,0,0.5\na,NA,0.4\n", r"c\.csv line 3 \(row 1, field 'step'\): step is missing$"),
    ("trial,step,value\na,0,abc\n", r"c\.csv line 2 \(row 0, field 'value'\): value 'abc' is not a number$"),
    ('trial,step,value,cost_seconds\n"a\nb",0,0.5,1\na,1,0.4,zz\n',   # a quoted label spans lines 2-3
     r"c\.csv line 4 \(row 1, field 'cost_seconds'\): cost_seconds 'zz' is not a number$"),
    ("trial,step,value,trial_number\na,0,0.5,1.5\n",
     r"c\.csv line 2 \(row 0, field 'trial_number'\): trial_number '1\.5' is not an integer$"),
    ("trial,step,value\na,0,0.5\n,1,0.4\n", r"c\.csv line 3 \(row 1, field 'trial'\): trial is missing$"),
    ("trial,step,value\n", r"no curve rows in \S*c\.csv$"),
    ("study,trial,step,value\n,a,0,0.5\nNA,a,1,x\n", r"no curve rows in \S*c\.csv \(its 2 rows have no study\)$"),
], ids=["step-1.5", "step-text-after-blank-line", "step-missing", "value-text", "cost-text-after-multiline",
        "trial-number-1.5", "trial-missing", "header-only", "no-study"])
def test_a_bad_row_is_refused_naming_its_line_and_field(tmp_path, text, message):
    with pytest.raises(InvalidInputError, match=message) as caught:
        _read(tmp_path, text)
    assert "SELECT" not in str(caught.value) and "CAST" not in str(caught.value)


def test_rows_without_a_study_are_dropped_unchecked(tmp_path):
    [c] = _read(tmp_path, "study,trial,step,value\ns,a,0,0.5\n,a,1.5,x\nNULL,b,0,0.4\n")
    assert (c.study, c.trials.tolist(), c.steps.tolist()) == ("s", ["a"], [0])


def test_lines_past_the_sniffing_sample_are_read_as_pandas_reads_them(tmp_path):
    rows = "".join(f"{i},0,0.5\n" for i in range(30_000))
    [c] = _read(tmp_path, "trial,step,value\n" + rows + '"x,y",0,0.25\n')   # a quote first seen here
    assert c.trials[-1] == "x,y" and c.values[-1].tolist() == [0.25]
    with pytest.raises(InvalidInputError, match=r"CSV Error on Line: 30002; .*Expected Number of Columns: 3 Found: 4$"):
        _read(tmp_path, "trial,step,value\n" + rows + "x,0,0.25,9\n")


@pytest.mark.parametrize(("text", "expected"), [
    ("trial,step,value\na,0,0.5\na,1.5,0.4\n",
     "Error: bad.csv line 3 (row 1, field 'step'): step '1.5' is not an integer"),
    ("trial,step,value\na,0,NULL\na,1,abc\n",
     "Error: bad.csv line 3 (row 1, field 'value'): value 'abc' is not a number"),
    ("trial,step,value\n", "Error: field 'curves': no curve rows in bad.csv"),
], ids=["step-1.5", "value-text", "header-only"])
def test_the_cli_says_one_error_line_and_leaves_no_store(tmp_path, monkeypatch, capsys, text, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text(text)
    assert main(["--store", "s.duckdb", "recommend", "--curves", "bad.csv", "--direction", "minimize"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", expected + "\n") and not (tmp_path / "s.duckdb").exists()
