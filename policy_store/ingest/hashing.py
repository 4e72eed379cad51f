"""Content hashes of studies: stable across row order, library versions and platforms.

A study's hash covers its task, metric, direction and every trial's label, state,
params and point count, then its steps, values and costs in canonical
(trial label, step) order, and their peak memory where a study records any (a study without memory
hashes as it always did). Numbers are hashed as little-endian IEEE bytes with
NaN canonicalised, never as text.

>>> import pandas as pd
>>> from policy_store.ingest.longformat import validate_long_frame
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [1, 0], "step": [0, 0], "value": [0.7, 0.5]})
>>> study_hashes(validate_long_frame(frame)) == study_hashes(validate_long_frame(frame.iloc[::-1]))
True
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from policy_store.ingest.longformat import codes


def _ranks(values: pa.Array) -> np.ndarray:
    """Rank of each dictionary value in byte-wise string order."""
    order = pc.sort_indices(values).to_numpy()
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    return ranks


def _canonical_bytes(values: np.ndarray) -> bytes:
    return np.where(np.isnan(values), np.nan, values).astype("<f8").tobytes()


def _texts(table: pa.Table, field: str, rows: np.ndarray) -> list[str]:
    return ["" if v is None else v for v in table[field].take(pa.array(rows)).to_pylist()]


def study_hashes(canonical: pa.Table) -> dict[str, str]:
    """Map each study of a canonical long table to the sha256 of its content."""
    study, study_values = codes(canonical["study"])
    trial, trial_values = codes(canonical["trial"])
    steps = canonical["step"].to_numpy()
    order = np.lexsort((steps, _ranks(trial_values)[trial], study))
    study, trial, steps = study[order], trial[order], steps[order]
    values = canonical["value"].to_numpy()[order]
    costs = pc.fill_null(canonical["cost_seconds"], np.nan).to_numpy()[order]
    memory = (pc.fill_null(canonical["peak_memory_mb"], np.nan).to_numpy()[order]
              if "peak_memory_mb" in canonical.column_names else np.full(len(order), np.nan))

    new_study = np.r_[True, study[1:] != study[:-1]]
    new_trial = new_study | np.r_[True, trial[1:] != trial[:-1]]
    trial_starts = np.flatnonzero(new_trial)
    trial_sizes = np.diff(np.r_[trial_starts, len(order)])
    first_rows = order[trial_starts]
    trial_text = [
        f"{label}\x1f{state}\x1f{params}\x1f{size}"
        for label, state, params, size in zip(
            _texts(canonical, "trial", first_rows),
            _texts(canonical, "state", first_rows),
            _texts(canonical, "params", first_rows),
            trial_sizes.tolist(),
            strict=True,
        )
    ]
    study_starts = np.flatnonzero(new_study)
    header_rows = order[study_starts]
    headers = zip(
        _texts(canonical, "task", header_rows),
        _texts(canonical, "metric", header_rows),
        _texts(canonical, "direction", header_rows),
        strict=True,
    )
    trials_before = np.cumsum(new_trial)[study_starts] - 1  # index of each study's first trial
    bounds = np.r_[study_starts, len(order)]
    trial_bounds = np.r_[trials_before, len(trial_starts)]
    result: dict[str, str] = {}
    for i, (task, metric, direction) in enumerate(headers):
        lo, hi = bounds[i], bounds[i + 1]
        h = hashlib.sha256(f"{task}\x1f{metric}\x1f{direction}\x1d".encode())
        h.update("\x1e".join(trial_text[trial_bounds[i] : trial_bounds[i + 1]]).encode())
        h.update(steps[lo:hi].astype("<i8").tobytes())
        h.update(_canonical_bytes(values[lo:hi]))
        h.update(_canonical_bytes(costs[lo:hi]))
        if not np.isnan(memory[lo:hi]).all():
            h.update(b"peak_memory_mb\x1d" + _canonical_bytes(memory[lo:hi]))
        result[study_values[int(study[lo])].as_py()] = h.hexdigest()
    return result
