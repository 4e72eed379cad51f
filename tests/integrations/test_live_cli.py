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


def test_record_live_from_an_optuna_storage(worker, store_path, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    pruner = StorePruner(store_path, task="breast-cancer-sgd", rule="median-audited@1")
    study = optuna.create_study(study_name="rdb", storage=url, pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=2))
    calls: list = []
    study.optimize(lambda t: worker.objective(t, calls), n_trials=30)
    pruner.close()
    args = ["--store", store_path, "record-live", url, "--study", "rdb", "--task", "breast-cancer-sgd"]
    assert main([*args, "--spool-dir", pruner.spool_dir, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["rule"], row["version"], row["mode"], row["n_trials"]) == ("median-audited", 1, "live", 30)
    assert row["decisions_absorbed"] == len(calls) and row["trials_pruned"] == sum(v for *_, v in calls)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"rdb: median-audited@1 pruned {row['trials_pruned']} of 30 trials, compute saved ")
    assert "(0 decisions absorbed)" in out
    assert main(["--store", store_path, "record-live", url, "--study", "nope"]) == 1
    assert "no study named 'nope'" in capsys.readouterr().err
