"""Real training curves shipped with the package, for the README's main job.

``data/sklearn_curves.parquet`` holds curves of 30 random configurations each
of SGD, MLP and gradient boosting on iris, wine, breast_cancer and digits (12
tasks, one study each, 30 steps per trial), produced by
:func:`policy_store.datasets.generated.generate` with this command and seed::

    policy-store datasets generate --dataset iris,wine,breast_cancer,digits \\
        --models sgd,mlp,gb --trials 30 --steps 30 --seed 0 --jobs 2 \\
        --out datasets/data/sklearn_curves.parquet

Values are bit-for-bit reproducible from that command; costs are the seconds
measured on the machine that generated them.

>>> frame = bundled()
>>> sorted(frame["task"].unique())[:2]
['sklearn/breast_cancer/gb/accuracy', 'sklearn/breast_cancer/mlp/accuracy']
"""

from __future__ import annotations

from importlib import resources

import pandas as pd
from policy_store.meta.features.curve import save_task_curve_features

from policy_store.ingest import IngestReport, ingest_frame
from policy_store.store import PolicyStore

BUNDLED_FILE = "sklearn_curves.parquet"
SOURCE = "bundled:sklearn_curves"


def bundled() -> pd.DataFrame:
    """The bundled curves as a long frame (task, study, trial, step, value, cost_seconds, ...)."""
    with resources.as_file(resources.files("policy_store.datasets").joinpath("data", BUNDLED_FILE)) as path:
        return pd.read_parquet(path)


def ingest_bundled(store: PolicyStore, *, replace: bool = False, progress: bool = False) -> IngestReport:
    """Ingest the bundled curves and their tasks' learning-curve meta-features (idempotent per study)."""
    frame = bundled()
    report = ingest_frame(store, frame, source=SOURCE, replace=replace, progress=progress)
    save_task_curve_features(store, tasks=sorted(frame["task"].unique()))
    return report
