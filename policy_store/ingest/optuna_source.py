"""Optuna studies in the long format (needs the ``optuna`` extra).

Intermediate values become curve points. A step's cost and peak memory are read from the
trial's user attributes (:mod:`policy_store.trial_resources`): the mappings ``step_costs`` /
``step_memory_mb`` (step → seconds / MB) that an objective sets and that studies recorded by earlier
releases hold, else the blocks of 32 steps ``step_costs:<first step>`` / ``step_memory_mb:<first step>``
that :class:`~policy_store.integrations.StorePruner` writes. When a trial has no per-step cost, the wall
time between ``datetime_start`` and ``datetime_complete`` is spread evenly over its reported steps.
A trial that reported nothing contributes its final value at step 0.

>>> import optuna
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> study = optuna.create_study(study_name="demo", direction="maximize")
>>> def objective(trial):
...     x = trial.suggest_float("x", 0, 1)
...     for step in range(3):
...         trial.report(x * (step + 1), step)
...     return x * 3
>>> study.optimize(objective, n_trials=2)
>>> frame = frame_from_optuna(study, task="toy")
>>> len(frame), frame["study"].iloc[0], frame["direction"].iloc[0]
(6, 'demo', 'maximize')
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from policy_store.errors import InvalidInputError, MissingDependencyError
from policy_store.trial_resources import COST_ATTR, MEMORY_ATTR, number_or_nan, step_value

_STATES = {"COMPLETE": "COMPLETE", "PRUNED": "PRUNED", "FAIL": "FAIL", "RUNNING": "RUNNING", "WAITING": None}


def _optuna():
    try:
        import optuna
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            "Optuna is needed for this; install it with: pip install 'policy-store[optuna]'"
        ) from e
    return optuna


def _refuse_missing_sqlite(storage: str) -> None:
    """Refuse a ``sqlite:`` storage whose file is missing or holds no Optuna tables.

    Optuna creates the file and its schema when it opens one; reading a source must never write it.

    >>> _refuse_missing_sqlite("sqlite:////nonexistent/optuna.db")
    Traceback (most recent call last):
    ...
    policy_store.errors.InvalidInputError: field 'storage': no file at '/nonexistent/optuna.db' for Optuna storage...
    """
    if not storage.startswith("sqlite:///"):
        return
    path = storage[len("sqlite:///"):].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    if not Path(path).is_file():
        raise InvalidInputError(f"no file at {path!r} for Optuna storage {storage!r}; name an existing Optuna "
                                "database", field="storage")
    try:
        with closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as con:
            found = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'studies'")
            has_studies = found.fetchone()[0] == 1
    except sqlite3.Error as e:
        raise InvalidInputError(f"cannot read Optuna storage {storage!r}: {e}", field="storage") from e
    if not has_studies:
        raise InvalidInputError(f"{path!r} is not an Optuna storage (it has no 'studies' table)", field="storage")


def load_optuna_studies(storage: str, study_name: str | None = None) -> list[Any]:
    """Open one study (or every study) of an Optuna storage URL, e.g. ``sqlite:///optuna.db``.

    Raises
    ------
    InvalidInputError
        The storage cannot be read (a ``sqlite:`` file that is missing is refused, never created), holds no
        study, or no study called ``study_name``.
    """
    optuna = _optuna()
    _refuse_missing_sqlite(storage)
    try:
        names = [study_name] if study_name else optuna.get_all_study_names(storage=storage)
        studies = [optuna.load_study(study_name=name, storage=storage) for name in names]
    except KeyError as e:
        raise InvalidInputError(f"no study named {study_name!r} in {storage!r}", field="study") from e
    except Exception as e:  # Optuna raises many storage-specific types
        raise InvalidInputError(f"cannot read Optuna storage {storage!r}: {e}", field="storage") from e
    if not studies:
        raise InvalidInputError(f"Optuna storage {storage!r} holds no study", field="storage")
    return studies


def frame_from_optuna(study: Any, *, task: str | None = None, metric: str | None = None) -> pd.DataFrame:
    """The long-format rows of one single-objective ``optuna.Study``.

    Parameters
    ----------
    study:
        An ``optuna.Study``.
    task:
        Task name (default: the study name).
    metric:
        Metric name to record.
    """
    optuna = _optuna()
    if len(study.directions) != 1:
        raise InvalidInputError(
            f"study {study.study_name!r} is multi-objective; policy-store records single-objective studies",
            field="direction",
        )
    direction = "maximize" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "minimize"
    rows: list[dict[str, Any]] = []
    for trial in study.get_trials(deepcopy=False):
        state = _STATES.get(trial.state.name)
        if state is None:
            continue
        values = dict(trial.intermediate_values)
        if not values:
            if trial.value is None:
                continue
            values = {0: trial.value}
        steps = sorted(values)
        costs = _step_costs(trial, steps)
        memory = _step_memory(trial, steps)
        params = json.dumps(trial.params, sort_keys=True, default=str)
        rows += [
            {
                "task": task or study.study_name,
                "study": study.study_name,
                "trial": str(trial.number),
                "step": int(step),
                "value": float(values[step]),
                "cost_seconds": cost,
                "params": params,
                "state": state,
                "metric": metric,
                "direction": direction,
                "peak_memory_mb": mb,
            }
            for step, cost, mb in zip(steps, costs, memory, strict=True)
        ]
    if not rows:
        raise InvalidInputError(f"study {study.study_name!r} has no trial with a reported value")
    return pd.DataFrame(rows)


def _step_costs(trial: Any, steps: list[int]) -> list[float]:
    given = [step_value(trial.user_attrs, COST_ATTR, s) for s in steps]
    if isinstance(trial.user_attrs.get(COST_ATTR), dict) or any(c is not None for c in given):
        return _recorded_numbers(trial, steps, COST_ATTR)
    if trial.datetime_start is None or trial.datetime_complete is None:
        return [np.nan] * len(steps)
    total = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return [total / len(steps)] * len(steps)


def _step_memory(trial: Any, steps: list[int]) -> list[float]:
    """Peak memory (MB) per step, the one :class:`~policy_store.integrations.StorePruner` records (or the
    objective sets); NaN where it is not known."""
    return _recorded_numbers(trial, steps, MEMORY_ATTR)


def _recorded_numbers(trial: Any, steps: list[int], name: str) -> list[float]:
    """The numbers ``trial`` records under ``name`` per step (NaN where none is); a value that is there but is
    not a number (text, a bool) is refused, naming the trial, the step and the attribute."""
    numbers = []
    for step in steps:
        given = step_value(trial.user_attrs, name, step)
        number = number_or_nan(given)
        if given is not None and np.isnan(number) and not (isinstance(given, float) and np.isnan(given)):
            raise InvalidInputError(f"trial {trial.number}, step {step}: user attribute {name!r} holds {given!r}, "
                                    "not a number", field=name)
        numbers.append(number)
    return numbers


def ingest_optuna(store, study_or_storage: Any, *, study_name: str | None = None, task: str | None = None, **kwargs):
    """Ingest an ``optuna.Study``, or the studies of a storage URL, in one transaction.

    Keyword arguments go to :func:`policy_store.ingest.writer.ingest_frame`.
    """
    from policy_store.ingest.writer import ingest_frame

    if isinstance(study_or_storage, str):
        studies = load_optuna_studies(study_or_storage, study_name)
        source = f"optuna:{study_or_storage}"
    else:
        studies = [study_or_storage]
        source = f"optuna:{study_or_storage.study_name}"
    frame = pd.concat([frame_from_optuna(s, task=task) for s in studies], ignore_index=True)
    kwargs.setdefault("source", source)
    return ingest_frame(store, frame, **kwargs)
