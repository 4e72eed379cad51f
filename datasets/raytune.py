"""Ray Tune experiment directories, read without importing ray.

An experiment directory holds one folder per trial; each has ``progress.csv`` (one
row per reported result) or ``result.json`` (one JSON object per line), and
usually ``params.json`` (the configuration). One experiment becomes one study:

=============  =================================================================
task           ``raytune/<experiment folder>/<metric>`` unless given
study          ``raytune/<experiment folder>`` unless given
trial          ``trial_id`` of the results, else the trial folder's name
step           ``training_iteration``
value          the ``metric`` column (rows without it are skipped)
cost           ``time_this_iter_s`` when reported
params         ``params.json``, else the ``config`` of the results / ``config/*``
state          ``FAIL`` when the folder holds ``error.txt``, else ``COMPLETE``
=============  =================================================================

Trials are ordered by folder name (Ray numbers them ``..._00000_...``).

>>> import json, pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp()) / "exp"
>>> (root / "train_00000").mkdir(parents=True)
>>> _ = (root / "train_00000" / "progress.csv").write_text(
...     "training_iteration,loss,time_this_iter_s,trial_id\\n1,0.9,0.5,a1\\n2,0.7,0.5,a1\\n")
>>> read_raytune(root, metric="loss", direction="minimize")[["study", "trial", "step", "value"]]
         study trial  step  value
0  raytune/exp    a1     1    0.9
1  raytune/exp    a1     2    0.7
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from policy_store.datasets._base import order_long

from policy_store.errors import InvalidInputError
from policy_store.ingest import IngestReport, ingest_frame
from policy_store.store import PolicyStore

STEP_COLUMN = "training_iteration"
COST_COLUMN = "time_this_iter_s"


def _results(folder: Path) -> tuple[pd.DataFrame, Path] | None:
    progress = folder / "progress.csv"
    if progress.exists() and progress.stat().st_size:
        try:
            return pd.read_csv(progress), progress
        except (ValueError, OSError) as e:
            raise InvalidInputError(f"cannot read {progress}: {e}", field="progress.csv") from e
    result = folder / "result.json"
    if result.exists() and result.stat().st_size:
        rows = []
        for number, line in enumerate(result.read_text().splitlines()):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{result}: not JSON ({e})", row=number, field="result.json") from e
        return pd.DataFrame(rows), result
    return None


def _params(folder: Path, results: pd.DataFrame) -> dict[str, Any]:
    params_file = folder / "params.json"
    if params_file.exists():
        try:
            return json.loads(params_file.read_text())
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{params_file}: not JSON ({e})", field="params.json") from e
    if "config" in results.columns and isinstance(results["config"].iloc[0], dict):
        return results["config"].iloc[0]
    flat = {c.removeprefix("config/"): results[c].iloc[0] for c in results.columns if c.startswith("config/")}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in flat.items()}


def read_raytune(path: str | os.PathLike[str], *, metric: str, direction: str, task: str | None = None,
                 study: str | None = None) -> pd.DataFrame:
    """One Ray Tune experiment directory as a long frame (one study).

    Parameters
    ----------
    path:
        The experiment directory (holding one folder per trial).
    metric:
        The reported column to record as the value.
    direction:
        ``maximize`` or ``minimize`` (Ray's ``mode="max"`` / ``"min"``).
    task, study:
        Ids to use instead of the ones derived from the folder name.

    Returns
    -------
    pandas.DataFrame
        Long format: task, study, trial, step, value, cost_seconds, params, state,
        metric, direction.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(f"{str(root)!r} is not a directory", field="path")
    if direction not in ("maximize", "minimize"):
        raise InvalidInputError(f"direction must be 'maximize' or 'minimize', got {direction!r}",
                                field="direction")
    study = study or f"raytune/{root.resolve().name}"
    task = task or f"raytune/{root.resolve().name}/{metric}"
    parts = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        found = _results(folder)
        if found is None:
            continue
        results, file = found
        for column in (STEP_COLUMN, metric):
            if column not in results.columns:
                raise InvalidInputError(f"{file} has no column {column!r}", field=column)
        trial_id = results["trial_id"].iloc[0] if "trial_id" in results.columns else folder.name
        try:
            values = pd.to_numeric(results[metric])
        except (ValueError, TypeError) as e:
            raise InvalidInputError(f"{file}: {metric!r} holds a non-number ({e})", field=metric) from e
        # Ray writes every result row; iterations that did not report the metric carry no point.
        reported = values.notna().to_numpy()
        results, values = results[reported], values[reported]
        parts.append(pd.DataFrame({
            "trial": str(trial_id),
            "step": results[STEP_COLUMN].astype("int64"),
            "value": values.astype("float64"),
            "cost_seconds": (pd.to_numeric(results[COST_COLUMN], errors="coerce")
                             if COST_COLUMN in results.columns else float("nan")),
            "params": json.dumps(_params(folder, results), sort_keys=True, default=str),
            "state": "FAIL" if (folder / "error.txt").exists() else "COMPLETE",
        }))
    if not parts:
        raise InvalidInputError(f"no trial folder with progress.csv or result.json in {str(root)!r}",
                                field="path")
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "task", task)
    frame.insert(1, "study", study)
    frame["metric"] = metric
    frame["direction"] = direction
    return order_long(frame)


def ingest_raytune(store: PolicyStore, path: str | os.PathLike[str], *, metric: str, direction: str,
                   task: str | None = None, study: str | None = None, replace: bool = False,
                   progress: bool = False) -> IngestReport:
    """Read an experiment directory with :func:`read_raytune` and ingest it as one study."""
    frame = read_raytune(path, metric=metric, direction=direction, task=task, study=study)
    return ingest_frame(store, frame, source=f"raytune:{Path(path).resolve()}", replace=replace,
                        progress=progress)
