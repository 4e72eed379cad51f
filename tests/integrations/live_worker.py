"""An Optuna worker for the live tests: a tiny real scikit-learn training, pruned by ``StorePruner``.

Also imported by the tests for :func:`objective`. Run as a script it joins a
shared study (JournalStorage file) and writes its ``should_prune`` count::

    python live_worker.py JOURNAL STUDY STORE RULE N_TRIALS OUT [--hang-after K]

With ``--hang-after K`` it writes ``OUT.ready`` right after its K-th decision is
recorded and then sleeps (the test kills it with SIGKILL).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

EPOCHS = 8
_DATA: tuple | None = None


def _data():
    global _DATA
    if _DATA is None:
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        x, y = load_breast_cancer(return_X_y=True)
        xtr, xva, ytr, yva = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
        scaler = StandardScaler().fit(xtr)
        _DATA = (scaler.transform(xtr), scaler.transform(xva), ytr, yva)
    return _DATA


def objective(trial, calls: list | None = None, on_decision=None):
    """Validation error of an SGDClassifier trained epoch by epoch; pruned through ``trial.should_prune``."""
    import optuna
    from sklearn.linear_model import SGDClassifier

    xtr, xva, ytr, yva = _data()
    model = SGDClassifier(loss="log_loss", alpha=trial.suggest_float("alpha", 1e-6, 1.0, log=True),
                          learning_rate="constant", eta0=trial.suggest_float("eta0", 1e-5, 1.0, log=True),
                          random_state=0)
    classes = np.unique(ytr)
    error = 1.0
    for epoch in range(EPOCHS):
        model.partial_fit(xtr, ytr, classes=classes)
        error = 1.0 - float(model.score(xva, yva))
        trial.report(error, epoch)
        verdict = trial.should_prune()
        if calls is not None:
            calls.append((trial.number, epoch, verdict))
        if on_decision is not None:
            on_decision()
        if verdict:
            raise optuna.TrialPruned()
    return error


def main(argv: list[str]) -> None:
    import optuna

    from policy_store.integrations import StorePruner

    journal, study_name, store, rule, n_trials, out = argv[:6]
    hang_after = int(argv[7]) if len(argv) > 7 and argv[6] == "--hang-after" else None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    pruner = StorePruner(store, task="breast-cancer-sgd", rule=rule)
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner,
                              sampler=optuna.samplers.RandomSampler(seed=int(Path(out).stem.split("-")[-1])))
    calls: list = []

    def on_decision() -> None:
        if hang_after is not None and len(calls) == hang_after:
            Path(out + ".ready").write_text(str(len(calls)))
            time.sleep(600)

    study.optimize(lambda t: objective(t, calls, on_decision), n_trials=int(n_trials))
    pruner.close()
    Path(out).write_text(str(len(calls)))


if __name__ == "__main__":
    main(sys.argv[1:])
