"""A process writing to a shared lake, for the concurrency tests.

    python lake_worker.py study LOCATION NAME SPOOL_DIR N_TRIALS OUT [HANG_AFTER]
    python lake_worker.py ingest LOCATION NAME OUT
    python lake_worker.py version LOCATION GO OUT

``study``: an Optuna study (in memory) pruned by ``StorePruner`` on the lake, then ``finish`` records its
curves, decisions and live outcome in one transaction; OUT gets the ``should_prune`` count. With HANG_AFTER it
writes ``OUT.ready`` after that many decisions and sleeps until killed. ``ingest``: three studies of task NAME.
``version``: opens the store, writes ``OUT.ready``, waits for the file GO (so several workers start together), then
adds one rule version (the same spec in every worker) and evaluates it on every study with record_decisions;
OUT gets ``<version> <outcomes inserted>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def study(location: str, name: str, spool_dir: str, n_trials: int, out: str, hang_after: int | None) -> None:
    import optuna

    from policy_store.integrations import StorePruner

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    pruner = StorePruner(location, task="lake-toy", rule="median@1", spool_dir=spool_dir)
    study = optuna.create_study(study_name=name, pruner=pruner, sampler=optuna.samplers.RandomSampler(0))
    calls = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal calls
        base = trial.suggest_float("x", 0.2, 1.0)
        for step in range(4):
            trial.report(base / (step + 1), step)
            calls += 1
            verdict = trial.should_prune()
            if hang_after is not None and calls == hang_after:
                Path(out + ".ready").write_text(str(calls))
                time.sleep(600)
            if verdict:
                raise optuna.TrialPruned()
        return base / 4

    study.optimize(objective, n_trials=n_trials)
    pruner.finish(study)
    Path(out).write_text(str(calls))


def ingest(location: str, name: str, out: str) -> None:
    from policy_store import PolicyStore
    from policy_store.ingest import ingest_frame
    from tests.conftest import make_frame

    with PolicyStore(location) as store:
        report = ingest_frame(store, make_frame(n_studies=3, n_trials=5, n_steps=6, task=name))
    Path(out).write_text(str(report.points_written))


SHARED_SPEC = {"strategy": "median", "params": {"n_startup_trials": 1}}


def version(location: str, go: str, out: str) -> None:
    import os

    from policy_store import PolicyStore
    from policy_store.replay import evaluate
    from policy_store.rules import add_rule_version

    with PolicyStore(location) as store:
        Path(out + ".ready").write_text("ready")
        while not Path(go).exists():
            time.sleep(0.01)
        v = add_rule_version(store, "shared", SHARED_SPEC, created_by=f"worker-{os.getpid()}")
        inserted = evaluate(store, v, orders=2, record_decisions=True).inserted
    Path(out).write_text(f"{v.version} {inserted}")


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    if mode == "study":
        study(rest[0], rest[1], rest[2], int(rest[3]), rest[4], int(rest[5]) if len(rest) > 5 else None)
    elif mode == "version":
        version(*rest)
    else:
        ingest(*rest)
