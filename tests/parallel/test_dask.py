"""Rule grids on a Dask cluster (a LocalCluster of 2 in-process workers: quick to start) give the local outcomes."""

from __future__ import annotations

import json

import distributed
import pandas as pd
import pytest
from policy_store.datasets import ingest_bundled

from policy_store import InvalidInputError, PolicyStore, PolicyStoreError
from policy_store.cli.main import main
from policy_store.curves import load_curves
from policy_store.parallel import parallel_backend
from policy_store.replay.evaluate import replay_outcomes
from policy_store.rules import RuleSpec, add_rule_version

GRID = [RuleSpec.parse({"strategy": "percentile", "params": {"percentile": p, "n_startup_trials": s}})
        for p in (10.0, 25.0, 50.0, 75.0, 90.0) for s in (1, 3, 5, 8)]


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dask") / "store.duckdb")
    with PolicyStore(path) as store:
        ingest_bundled(store)
        add_rule_version(store, "p50", GRID[8], created_by="test")
        add_rule_version(store, "p25", GRID[4], created_by="test")
    return path


def test_a_grid_of_20_rules_gives_the_same_outcomes_on_the_cluster(store_path, scheduler):
    with PolicyStore(store_path, read_only=True) as store:
        curves = load_curves(store)
    local, _ = replay_outcomes(curves, GRID, [0, 1, 2], n_jobs=1)
    with parallel_backend("dask", scheduler) as workers:
        assert workers == 2
        remote, _ = replay_outcomes(curves, GRID, [0, 1, 2], n_jobs=-1, chunk_size=2)
    assert len(local) == len(curves) * len(GRID) * 3
    pd.testing.assert_frame_equal(local, remote)


def test_evaluate_cli_on_the_cluster_matches_local(store_path, scheduler, capsys, tmp_path):
    def run(*extra: str) -> dict:
        assert main(["--store", store_path, "evaluate", "p50", "p25", "--orders", "2", "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    local = run()
    remote = run("--backend", "dask", "--scheduler", scheduler)
    assert local["summary"] == remote["summary"] and local["outcomes"] == remote["outcomes"] == 2 * 2 * 12
    assert remote["inserted"] == 0  # the same outcome ids: already recorded by the local run


def test_dask_without_a_scheduler_or_unreachable_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="--scheduler"), parallel_backend("dask"):
        pass
    unreachable = parallel_backend("dask", "tcp://127.0.0.1:1", timeout=1)
    with pytest.raises(PolicyStoreError, match="cannot reach the Dask scheduler"), unreachable:
        pass
