"""A real Optuna study pruned by a stored rule: run it from several shells (or hosts) at once.

Each process trains scikit-learn's SGDClassifier on the digits data for a few epochs per trial,
reports the validation accuracy after each epoch and asks ``StorePruner`` whether to stop. Every
process of one study shares the Optuna storage; the store is ``$POLICY_STORE`` (a DuckDB file or a
DuckLake). Decisions are spooled per process and absorbed into the store when the process finishes.

    python examples/live_study.py --study demo-1 --trials 20          # in two shells at once
    policy-store explain demo-1 3
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import optuna
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

from policy_store.integrations.optuna import StorePruner
from policy_store.store import default_location


def objective(trial: optuna.Trial, data: tuple[np.ndarray, ...], epochs: int) -> float:
    x_train, x_valid, y_train, y_valid = data
    model = SGDClassifier(alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
                          eta0=trial.suggest_float("eta0", 1e-4, 1.0, log=True),
                          learning_rate="constant", random_state=trial.number)
    score = 0.0
    for epoch in range(epochs):
        model.partial_fit(x_train, y_train, classes=np.arange(10))
        score = model.score(x_valid, y_valid)
        trial.report(score, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help="the Optuna study name (the same in every shell)")
    parser.add_argument("--trials", type=int, default=20, help="trials this process runs")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rule", default="optuna-median", help="stored rule (name or name@N)")
    parser.add_argument("--storage", default="example-optuna.log",
                        help="Optuna storage: an RDB URL, else a journal file every process appends to")
    parser.add_argument("--spool-dir", default="example-spool", help="where this host's workers spool decisions")
    args = parser.parse_args()

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x, y = load_digits(return_X_y=True)
    data = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
    pruner = StorePruner(os.environ.get("POLICY_STORE") or default_location(), task="sklearn/digits/sgd",
                         rule=args.rule, spool_dir=args.spool_dir)
    storage = args.storage if "://" in args.storage else optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(args.storage))
    study = optuna.create_study(study_name=args.study, storage=storage, direction="maximize",
                                pruner=pruner, load_if_exists=True)
    study.optimize(lambda t: objective(t, data, args.epochs), n_trials=args.trials)
    outcome = pruner.finish(study)
    print(f"{args.study}: {len(study.trials)} trials, best {study.best_value:.3f}; "
          f"{pruner.calls} decisions from this process; compute saved {outcome['compute_saved']:.2f}")


if __name__ == "__main__":
    main()
