"""Fixtures of the live-integration tests: the worker module and a store with rules."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from policy_store import PolicyStore  # noqa: E402
from policy_store.rules import add_rule_version  # noqa: E402

WORKER = Path(__file__).with_name("live_worker.py")
MEDIAN = {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 1}}
AUDITED = {**MEDIAN, "safeguards": {"audit_fraction": 0.25, "audit_seed": 3}}


@pytest.fixture(scope="session")
def worker():
    spec = importlib.util.spec_from_file_location("live_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return module


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "store.duckdb"
    with PolicyStore(path) as store:
        add_rule_version(store, "median", MEDIAN, created_by="test")
        add_rule_version(store, "median-audited", AUDITED, created_by="test")
    return str(path)
