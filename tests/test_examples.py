"""The README's example study runs as written: two processes of one Optuna study, every decision recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy_store import PolicyStore
from policy_store.rules import add_rule_version

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "live_study.py"


@pytest.mark.slow  # two real Optuna studies
def test_two_processes_of_the_example_study_record_every_decision(tmp_path):
    store_path = tmp_path / "store.duckdb"
    with PolicyStore(store_path) as store:
        add_rule_version(store, "optuna-median", {"strategy": "median"}, created_by="test")
    env = {**os.environ, "POLICY_STORE": str(store_path)}
    args = [sys.executable, str(EXAMPLE), "--study", "ex-1", "--trials", "6", "--epochs", "4"]
    workers = [subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=240) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    calls = sum(int(out.split(" decisions from this process")[0].rsplit(" ", 1)[1]) for out, _ in outputs)
    with PolicyStore(store_path, read_only=True) as store:
        assert store.scalar("SELECT count(*) FROM trials WHERE study = 'ex-1'") == 12
        assert store.scalar("SELECT count(*) FROM decisions WHERE study = 'ex-1' AND mode = 'live'") == calls
        assert store.scalar("SELECT count(*) FROM outcomes WHERE study = 'ex-1' AND mode = 'live'") == 1
