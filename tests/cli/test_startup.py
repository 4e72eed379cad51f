"""Building the CLI's parser stays light: `policy-store --help` and quick commands must not import the heavy stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from policy_store import choices
from policy_store.cli import drift_cmds

HEAVY = ("pandas", "scipy", "optuna", "sklearn", "numba", "pyarrow", "duckdb")


def _imported_by(argv: list[str], env: dict[str, str] | None = None) -> tuple[list[str], subprocess.CompletedProcess]:
    """Run the CLI with ``argv`` in a fresh interpreter; the heavy modules it imported, and the process."""
    code = (
        "import json, sys\n"
        "from policy_store.cli.main import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1]), done


def test_building_the_parser_imports_no_heavy_module():
    # A fresh interpreter: in the test process these modules are imported already.
    code = (
        "import json, sys\n"
        "from policy_store.cli.main import build_parser\n"
        "build_parser()\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout) == []


def test_help_imports_neither_the_heavy_stack_nor_duckdb():
    imported, done = _imported_by(["--help"])
    assert done.returncode == 0 and "explain" in done.stdout
    assert imported == []


def test_explain_imports_only_the_store(tmp_path):
    store = str(tmp_path / "s.duckdb")
    _imported_by(["--store", store, "init"])
    imported, done = _imported_by(["--store", store, "explain", "study-a", "0"])
    assert done.returncode == 1 and "no live decision recorded" in done.stderr
    # duckdb for the store, nothing else: DuckDB's client would import pandas (and pyarrow) to bind the first
    # query parameter, which the store prevents (policy_store.binding)
    assert imported == ["duckdb"]


def test_drift_events_import_neither_pandas_nor_scipy(tmp_path):
    store = str(tmp_path / "s.duckdb")
    _imported_by(["--store", store, "init"])
    imported, done = _imported_by(["--store", store, "drift", "events", "--json"])
    assert done.returncode == 0 and json.loads(done.stdout.splitlines()[0]) == []
    assert imported == ["duckdb"]


def test_ingest_of_a_well_formed_file_and_check_import_no_pandas(tmp_path):
    from tests.conftest import make_frame

    store = str(tmp_path / "s.duckdb")
    frame = make_frame(n_studies=2, n_trials=3, n_steps=4)
    frame.to_csv(tmp_path / "c.csv", index=False)
    frame.assign(study=frame["study"] + "-p").to_parquet(tmp_path / "c.parquet", index=False)
    for name in ("c.csv", "c.parquet"):
        imported, done = _imported_by(["--store", store, "ingest", str(tmp_path / name)])
        assert done.returncode == 0 and "2 studies added (24 points" in done.stdout, done.stderr
        # DuckDB reads the file, pyarrow hands the hash its numbers; pandas is for the reference path only
        assert imported == ["duckdb", "pyarrow"]
    imported, done = _imported_by(["--store", store, "check"])
    assert done.returncode == 0 and "no violations" in done.stdout
    assert imported == ["duckdb", "pyarrow"]


def test_evaluate_imports_only_the_store(tmp_path):
    from tests.conftest import make_frame

    store = str(tmp_path / "s.duckdb")
    make_frame(n_studies=3, n_trials=6, n_steps=5).to_csv(tmp_path / "c.csv", index=False)
    _imported_by(["--store", store, "ingest", str(tmp_path / "c.csv")])
    _imported_by(["--store", store, "rules", "add", "m", "--spec", '{"strategy": "median"}'])
    imported, done = _imported_by(["--store", store, "evaluate", "m", "--json"])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().rsplit("\n", 1)[0])  # the last line is the modules
    assert out["inserted"] == out["outcomes"] == 15 and out["summary"][-1]["task"] == "(all)"
    # the outcomes stay numpy columns, handed to DuckDB as such; the summary is plain records
    assert imported == ["duckdb"]


def test_recommend_from_meta_features_imports_only_the_store(tmp_path):
    store = str(tmp_path / "s.duckdb")
    _imported_by(["--store", store, "init"])
    env = {k: v for k, v in os.environ.items() if k != "POLICY_STORE_KNOWLEDGE"}   # the shipped knowledge
    imported, done = _imported_by(["--store", store, "recommend", "--meta-features", '{"NumberOfInstances": 1000}',
                                   "--json"], env)
    assert done.returncode == 0, done.stderr
    rec = json.loads(done.stdout.strip().rsplit("\n", 1)[0])
    assert not rec["cold_start"] and rec["expected"]["compute_saved"]["mean"] > 0
    # the shipped forest loads with NumPy, its leaves computed as read; no pandas, SciPy or scikit-learn
    assert imported == ["duckdb"]


def test_recommend_from_curves_imports_only_the_store(tmp_path):
    from tests.conftest import make_frame

    store = str(tmp_path / "s.duckdb")
    _imported_by(["--store", store, "init"])
    make_frame(n_studies=2, n_trials=8, n_steps=6).to_csv(tmp_path / "c.csv", index=False)
    env = {k: v for k, v in os.environ.items() if k != "POLICY_STORE_KNOWLEDGE"}
    imported, done = _imported_by(["--store", store, "recommend", "--curves", str(tmp_path / "c.csv"),
                                   "--direction", "minimize", "--json"], env)
    assert done.returncode == 0, done.stderr
    rec = json.loads(done.stdout.strip().rsplit("\n", 1)[0])
    assert "blended with the grid replayed on 2 study(ies) of this task" in rec["notes"] and rec["adaptive"]
    # DuckDB reads the CSV, the grid's replays run on the numpy kernels (no JIT thread for a few small
    # studies), and the posterior candidates' Student-t CDF is numpy's series (policy_store.distributions):
    # no SciPy, pandas or numba
    assert imported == ["duckdb"]


def test_light_choices_are_the_librarys():
    from policy_store.drift import METRICS
    from policy_store.drift.windows import OUTCOME_METRICS
    from policy_store.reports import DEFAULT_OUT_DIR, DEFAULT_REGRET_WEIGHT

    from policy_store.ingest.files import FORMATS
    from policy_store.rules import SOURCES, STATUSES

    assert (FORMATS, SOURCES, STATUSES, METRICS, DEFAULT_OUT_DIR, DEFAULT_REGRET_WEIGHT) == (
        choices.FORMATS, choices.SOURCES, choices.STATUSES, choices.METRICS, choices.DEFAULT_OUT_DIR,
        choices.DEFAULT_REGRET_WEIGHT,
    )
    assert (*OUTCOME_METRICS, "rank_correlation") == METRICS
    assert tuple(sorted(drift_cmds._detectors())) == drift_cmds.DETECTOR_NAMES
