"""StoreScheduler in a real Ray Tune run: every decision recorded, the replay agrees, explain and ingest agree."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray[tune] cannot be imported (pip install 'policy-store[ray]')")
tune = pytest.importorskip("ray.tune", reason="ray[tune] cannot be imported (pip install 'policy-store[ray]')")

from policy_store import PolicyStore  # noqa: E402
from policy_store.curves import load_study_curves  # noqa: E402
from policy_store.integrations.ray import StoreScheduler  # noqa: E402
from policy_store.replay import replay_study  # noqa: E402
from policy_store.rules import add_rule_version  # noqa: E402

STEPS = 6
# Audited so that a shadow prune (a trial the rule wanted to stop, run on) is in the run too.
SPEC = {"strategy": "median", "params": {"n_startup_trials": 2, "n_warmup_steps": 1},
        "safeguards": {"audit_fraction": 0.25, "audit_seed": 1}}
XS = [0.5, 0.1, 0.9, 0.3, 0.8, 0.05, 0.7, 0.6]


def _objective(config):
    from ray import tune

    for i in range(1, STEPS + 1):
        tune.report({"loss": config["x"] + 1.0 / i})


class _Counting(StoreScheduler):
    """Counts every call Tune makes, to check each one left a decision (or was Ray's repeated last result)."""

    results = 0

    def on_trial_result(self, tune_controller, trial, result):
        type(self).results += 1
        return super().on_trial_result(tune_controller, trial, result)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    store_path = str(root / "store.duckdb")
    with PolicyStore(store_path) as store:
        version = add_rule_version(store, "tune-median", SPEC, created_by="test")
    scheduler = _Counting(store_path, task="toy", rule="tune-median", metric="loss", mode="min")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        tuner = tune.Tuner(
            _objective, param_space={"x": tune.grid_search(XS)},
            tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=1, reuse_actors=True),
            run_config=tune.RunConfig(name="store-exp", storage_path=str(root / "results"), verbose=0,
                                      callbacks=[finish := scheduler.callback()]))
        grid = tuner.fit()
    finally:
        ray.shutdown()
    return {"store": store_path, "scheduler": scheduler, "version": version, "grid": grid, "finish": finish,
            "results_dir": root / "results" / "store-exp"}


def _decisions(store_path, study):
    with PolicyStore(store_path, read_only=True) as store:
        return store.fetch_dicts("SELECT trial, trial_number, step, value, verdict, reason, rule, version "
                                 "FROM decisions WHERE study = ? AND mode = 'live'", [study])


pytestmark = pytest.mark.slow  # one real Tune run: 25-35 s on a loaded 2-core machine, shared by the tests


def test_every_result_is_decided_and_recorded(run):
    scheduler = run["scheduler"]
    rows = _decisions(run["store"], scheduler.study_name)
    assert scheduler.study_name == "raytune/store-exp"
    assert len(rows) == scheduler.calls == type(scheduler).results - scheduler.duplicates
    assert {(r["rule"], r["version"]) for r in rows} == {("tune-median", run["version"].version)}
    assert all(r["reason"] for r in rows)
    stopped = {r["trial"] for r in rows if r["verdict"] == "prune"}
    assert stopped, "the rule stopped no trial: the run does not exercise STOP"
    assert any(r["reason"].startswith("audit: would prune") for r in rows), "no audited trial ran on"
    # A stopped trial reported nothing after its prune; every other ran all its steps.
    for result in run["grid"]:
        trial_id = result.metrics["trial_id"]
        steps = sorted(r["step"] for r in rows if r["trial"] == trial_id)
        last = max(steps)
        assert steps == list(range(1, last + 1))
        assert (last < STEPS) == (trial_id in stopped)
    outcome = run["finish"].outcome
    assert outcome["trials_pruned"] == len(stopped) and outcome["n_trials"] == len(XS)
    assert 0 < outcome["compute_saved"] < 1
    assert outcome["regret"] is not None  # estimated from the audited trials


def test_replay_of_the_recorded_curves_makes_the_same_decisions(run):
    scheduler = run["scheduler"]
    with PolicyStore(run["store"], read_only=True) as store:
        curves = load_study_curves(store, scheduler.study_name)
    (replay,) = replay_study(curves, [run["version"].spec])
    rows = _decisions(run["store"], scheduler.study_name)
    live = np.full(curves.n_trials, -1)
    for r in rows:
        if r["verdict"] == "prune" or r["reason"].startswith("audit: would prune"):
            row = list(curves.trials).index(r["trial"])
            if live[row] < 0:
                live[row] = int(np.searchsorted(curves.steps, r["step"]))
    assert replay.prune_col[np.argsort(replay.order)].tolist() == live.tolist()
    assert int(replay.pruned.sum()) == sum(r["verdict"] == "prune" for r in rows)


def test_explain_names_the_rule_version(run):
    rows = _decisions(run["store"], run["scheduler"].study_name)
    pruned = next(r["trial"] for r in rows if r["verdict"] == "prune")
    out = subprocess.run([sys.executable, "-m", "policy_store", "--store", run["store"], "explain",
                          run["scheduler"].study_name, pruned, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["outcome"] == "pruned"
    assert (info["rule"], info["version"]) == ("tune-median", run["version"].version)
    assert f"tune-median@{run['version'].version}" in info["line"]


def test_ingest_raytune_of_the_results_directory_gives_the_same_curves(run):
    scheduler = run["scheduler"]
    out = subprocess.run([sys.executable, "-m", "policy_store", "--store", run["store"], "datasets", "ingest",
                          "raytune", str(run["results_dir"]), "--metric", "loss", "--direction", "minimize",
                          "--study", "ingested"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with PolicyStore(run["store"], read_only=True) as store:
        live = load_study_curves(store, scheduler.study_name)
        ingested = load_study_curves(store, "ingested")

    def by_trial(c):
        return {str(t): [(int(s), float(v), float(cost)) for s, v, cost, p in
                         zip(c.steps, c.values[i], c.cost[i], c.present[i], strict=True) if p]
                for i, t in enumerate(c.trials)}

    a, b = by_trial(live), by_trial(ingested)
    assert a.keys() == b.keys() and len(a) == len(XS)
    for trial in a:
        assert [p[:2] for p in a[trial]] == [p[:2] for p in b[trial]], trial
        assert all(math.isclose(x[2], y[2], rel_tol=1e-9) for x, y in zip(a[trial], b[trial], strict=True)), trial

