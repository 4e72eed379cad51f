"""A live Optuna study pruned by StorePruner, one trial per signal, run as its own process by the browser test.

Usage: python _live_study.py STORE RULE CONTROL_DIR FIRST_TRIALS. Runs FIRST_TRIALS trials, then one more trial each
time ``CONTROL_DIR/go-<n>`` appears (n = trials run so far), writing ``CONTROL_DIR/done-<n>`` after each; when
``CONTROL_DIR/finish`` appears it calls ``pruner.finish`` (absorbing the spool into the store) and writes
``CONTROL_DIR/finished``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import optuna

from policy_store.integrations.optuna import StorePruner


def _wait_for(path: Path, timeout: float = 300.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    width = trial.suggest_int("width", 8, 64)
    value = 1.0
    for step in range(6):
        value = x + 1.0 / (step + 1) + width / 1000
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def main(store: str, rule: str, control: Path, first: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = StorePruner(store, task="live-task", rule=rule, timeout=60)
    study = optuna.create_study(study_name="live-run", pruner=pruner, sampler=optuna.samplers.RandomSampler(5))
    n = 0
    while True:
        if n >= first and not _wait_for(control / f"go-{n}", timeout=0.0):
            if (control / "finish").exists():
                break
            time.sleep(0.05)
            continue
        study.optimize(objective, n_trials=1)
        n += 1
        (control / f"done-{n}").write_text(str(pruner.calls))
    pruner.finish(study)
    (control / "finished").write_text("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
