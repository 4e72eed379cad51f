"""Content hashes of studies: stable across row order, library versions and platforms.

A study's hash covers its task, metric, direction and every trial's label, state,
params, steps, values and costs, in canonical (trial, step) order. Numbers are
hashed as little-endian IEEE bytes with NaN canonicalised, never as text.

>>> import pandas as pd
>>> from policy_store.ingest.longformat import validate_long_frame
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [1, 0], "step": [0, 0], "value": [0.7, 0.5]})
>>> study_hashes(validate_long_frame(frame)) == study_hashes(validate_long_frame(frame.iloc[::-1]))
True
"""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa

_SORTED_POINTS = """SELECT step, value, coalesce(cost_seconds, 'NaN'::DOUBLE) AS cost
                    FROM c ORDER BY study, trial, step"""
_STUDY_HEADERS = """SELECT study, any_value(task) || chr(31) || coalesce(any_value(metric), '') || chr(31)
                           || any_value(direction) AS header,
                           string_agg(trial_text, chr(30) ORDER BY trial) AS trials,
                           sum(n)::BIGINT AS n_points
                    FROM (SELECT study, trial, any_value(task) AS task, any_value(metric) AS metric,
                                 any_value(direction) AS direction, count(*) AS n,
                                 trial || chr(31) || any_value(state) || chr(31)
                                   || coalesce(any_value(params), '') || chr(31) || count(*) AS trial_text
                          FROM c GROUP BY study, trial)
                    GROUP BY study ORDER BY study"""


def _canonical_bytes(values: np.ndarray) -> bytes:
    return np.where(np.isnan(values), np.nan, values).astype("<f8").tobytes()


def study_hashes(canonical: pa.Table) -> dict[str, str]:
    """Map each study of a canonical long table to the sha256 of its content."""
    con = duckdb.connect()
    try:
        con.register("c", canonical)
        points = con.execute(_SORTED_POINTS).fetchnumpy()
        headers = con.execute(_STUDY_HEADERS).fetchall()
    finally:
        con.close()
    steps = np.asarray(points["step"], dtype="<i8")
    values = np.asarray(points["value"], dtype=np.float64)
    costs = np.asarray(points["cost"], dtype=np.float64)
    result: dict[str, str] = {}
    lo = 0
    for study, header, trials, n_points in headers:
        hi = lo + n_points
        h = hashlib.sha256()
        h.update(header.encode())
        h.update(b"\x1d")
        h.update(trials.encode())
        h.update(steps[lo:hi].tobytes())
        h.update(_canonical_bytes(values[lo:hi]))
        h.update(_canonical_bytes(costs[lo:hi]))
        result[study] = h.hexdigest()
        lo = hi
    return result
