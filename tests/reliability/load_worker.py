"""One Optuna worker of the load test: joins a shared study, pruned by ``StorePruner``, and times every call.

    python load_worker.py JOURNAL STUDY LOCATION SPOOL_DIR N_TRIALS SEED OUT

The objective is a real scikit-learn training (``tests/integrations/live_worker.py``: an SGD classifier on
breast cancer, 8 epochs). OUT gets JSON: the number of ``should_prune`` calls, the ``(trial, step)`` of each,
and each call's wall time in nanoseconds.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

TASK = "breast-cancer-sgd"
RULE = "median@1"


def _objective_module():
    spec = importlib.util.spec_from_file_location(
        "live_worker", Path(__file__).parents[1] / "integrations" / "live_worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(journal: str, study_name: str, location: str, spool_dir: str, n_trials: int, seed: int, out: str) -> None:
    import optuna

    from policy_store.integrations import StorePruner

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    worker = _objective_module()
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    # A long timeout: a recalibration job may hold the embedded file's write lock for a while.
    pruner = StorePruner(location, task=TASK, rule=RULE, spool_dir=spool_dir, timeout=120)
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner,
                              sampler=optuna.samplers.RandomSampler(seed=seed))
    calls: list = []
    nanos: list[int] = []

    class Timed:
        """The trial as the objective sees it, with ``should_prune`` timed."""

        def __init__(self, trial):
            self._trial = trial

        def should_prune(self) -> bool:
            t0 = time.perf_counter_ns()
            verdict = self._trial.should_prune()
            nanos.append(time.perf_counter_ns() - t0)
            return verdict

        def __getattr__(self, name):
            return getattr(self._trial, name)

    study.optimize(lambda t: worker.objective(Timed(t), calls), n_trials=n_trials)
    pruner.close()
    Path(out).write_text(json.dumps({"calls": len(calls), "points": [c[:2] for c in calls], "nanos": nanos}))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3], int(a[4]), int(a[5]), a[6])
