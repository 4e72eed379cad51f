"""Errors a newcomer meets say what is wrong and what exists, on one short line, instead of silent nonsense."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from policy_store import InvalidInputError, PolicyStore
from policy_store.cli.main import MAX_ERROR_LINE, main
from policy_store.ingest.files import ingest_file
from policy_store.ingest.stream import ingest_csv_stream
from policy_store.rules import add_rule_version
from tests.conftest import make_frame


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store_path(tmp_path) -> str:
    path = str(tmp_path / "s.duckdb")
    with PolicyStore(path) as store:
        add_rule_version(store, "median", {"strategy": "median"}, created_by="t")
    return path


def test_drift_check_of_an_unknown_rule_names_the_rules_there_are(store_path, capsys):
    code, out, err = run(capsys, "--store", store_path, "drift", "check", "--rule", "typo")
    assert code == 1 and out == ""
    assert err == "Error: no rule called 'typo'; the store has 'median'\n"


def test_absorb_of_a_missing_folder_is_an_error(store_path, tmp_path, capsys):
    code, _, err = run(capsys, "--store", store_path, "absorb", str(tmp_path / "nonexistent"))
    assert code == 1 and err.startswith("Error: no spool folder at ") and "nonexistent" in err


MULTILINE = (
    "task,study,trial,step,value,params\n"
    't,s,0,0,0.5,"{""lr"": 0.1,\n""depth"": 3}"\n'  # lines 2-3: a quoted field spanning two lines
    't,s,0,1,0.4,"{""lr"": 0.1,\n""depth"": 3}"\n'  # lines 4-5
    "t,s,1,0,not-a-number,\n"  # line 6
)


def test_csv_errors_name_the_physical_line_after_multi_line_quoted_fields(tmp_path):
    path = tmp_path / "curves.csv"
    path.write_text(MULTILINE)
    messages = []
    for read in (lambda s: ingest_file(s, path), lambda s: ingest_csv_stream(s, path, block_size=1 << 10)):
        with PolicyStore.memory() as store, pytest.raises(InvalidInputError) as caught:
            read(store)
        messages.append(str(caught.value))
    for message in messages:
        assert f"{path} line 6" in message, message


def test_ingest_of_a_directory_says_so_and_what_is_accepted(store_path, tmp_path, capsys):
    folder = tmp_path / "runs"
    folder.mkdir()
    code, _, err = run(capsys, "--store", store_path, "ingest", str(folder))
    assert code == 1 and "is a directory" in err and "CSV" in err and "Parquet" in err and "optuna" in err


def test_meta_features_json_round_trips_into_recommend(store_path, tmp_path, capsys):
    data = tmp_path / "data.csv"
    rng = pd.Series(range(60))
    pd.DataFrame({"a": rng * 0.5, "b": (rng % 7) * 1.0, "y": rng % 3}).to_csv(data, index=False)
    code, out, _ = run(capsys, "meta-features", str(data), "--target", "y", "--no-landmarkers", "--json")
    assert code == 0
    features = tmp_path / "features.json"
    features.write_text(out)
    code, out, err = run(capsys, "--store", store_path, "recommend", "--meta-features", str(features), "--json")
    assert code == 0, err
    assert json.loads(out)["spec"]


def test_no_error_line_is_longer_than_the_limit(store_path, capsys):
    nested = json.dumps({"features": {f"f{i}": "x" * 40 for i in range(80)}, "other": 1})
    code, _, err = run(capsys, "--store", store_path, "recommend", "--meta-features", nested)
    assert code == 1 and err.startswith("Error: ")
    assert err.count("\n") == 1 and len(err.rstrip("\n")) <= MAX_ERROR_LINE


def test_report_of_a_study_without_decisions_says_how_to_record_them(store_path, tmp_path, capsys):
    with PolicyStore(store_path) as store:
        from policy_store.ingest import ingest_frame

        ingest_frame(store, make_frame(n_studies=1))
    code, _, err = run(capsys, "--store", store_path, "report", "--out", str(tmp_path / "out"),
                       "--study", "task-a/study-0", "--rule", "median")
    assert code == 1
    assert "policy-store evaluate median --study task-a/study-0 --decisions" in err
