"""``policy-store explain`` and ``policy-store absorb``."""

from __future__ import annotations

import json

import optuna

from policy_store.cli.main import main
from policy_store.integrations import StorePruner


def test_explain_one_line_and_json(worker, store_path, capsys):
    pruner = StorePruner(store_path, task="breast-cancer-sgd", rule="median@1")
    study = optuna.create_study(study_name="cli", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=1))
    calls: list = []
    study.optimize(lambda t: worker.objective(t, calls), n_trials=20)
    pruner.close()
    assert main(["--store", store_path, "absorb", pruner.spool_dir]) == 0
    assert capsys.readouterr().out.startswith(f"{len(calls)} decisions absorbed from 1 spool files")
    assert main(["--store", store_path, "absorb", pruner.spool_dir, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["inserted"] == 0
    victim = next(n for n, _, v in calls if v)
    assert main(["--store", store_path, "explain", "cli", str(victim)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and f"trial {victim} of study 'cli' was pruned at step" in out and "median@1" in out
    assert main(["--store", store_path, "explain", "cli", str(victim), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["outcome"] == "pruned" and info["line"] == out.strip()
    assert main(["--store", store_path, "explain", "cli", "999"]) == 1
    assert capsys.readouterr().err.startswith("Error: no live decision recorded for trial '999'")
