"""Meta-features in the store: save (idempotently) and load them wide.

The ``meta_features`` table is long: (task, feature, value, source, computed_at).
Saving replaces every feature a source had for the given tasks in one
fenced unit of work (:meth:`PolicyStore.run_atomic`), so recomputing is
idempotent, also when two hosts save the same task's features at once. NaN is stored as NULL (not computed)
and read back as NaN.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     save_meta_features(store, "iris", {"NumberOfClasses": 3, "ClassEntropy": float("nan")}, "dataset")
...     save_meta_features(store, "iris", {"NumberOfClasses": 3}, "dataset")
...     load_meta_features(store).to_dict("index")
2
1
{'iris': {'NumberOfClasses': 3.0}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from policy_store.errors import InvalidInputError
from policy_store.ingest.longformat import encodable
from policy_store.store import PolicyStore, utcnow


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, int | float | np.integer | np.floating)
                             and not isinstance(value, bool | np.bool_))


def _numbers(column: pd.Series) -> np.ndarray:
    """The values as float64 (None/NaN: not computed); names the first that is no finite real number."""
    is_number = column.map(_is_number).to_numpy(dtype=bool)
    row = None if is_number.all() else int(np.flatnonzero(~is_number)[0])
    values = np.full(len(column), np.nan)
    if row is None:
        with np.errstate(over="ignore"):
            try:
                values = column.astype(object).map(lambda v: np.nan if v is None else float(v)).to_numpy(np.float64)
            except OverflowError:  # an integer beyond float range
                row = int(np.flatnonzero(column.map(lambda v: isinstance(v, int) and abs(v) > 2**1023))[0])
    if row is None and np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values))[0])
    if row is not None:
        raise InvalidInputError(f"meta-feature value {column.iloc[row]!r} is not a finite number (or null)",
                                row=row, field="value")
    return values


def _check_names(column: pd.Series, field: str) -> None:
    """Task ids and feature names: non-empty, printable text that is valid Unicode."""
    for row, name in enumerate(column):
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"must be non-empty text, got {name!r}", row=row, field=field)
        if not name.isprintable() or not encodable(name):
            raise InvalidInputError(f"must be printable Unicode text, got {name!r}", row=row, field=field)


def save_meta_features_frame(store: PolicyStore, frame: pd.DataFrame, source: str) -> int:
    """Replace ``source``'s features of every task in ``frame`` with ``frame``'s rows.

    Parameters
    ----------
    store:
        An open store.
    frame:
        Long rows with columns task, feature, value.
    source:
        Where the features come from (``"openml"``, ``"dataset"``, ``"curves"``, ...).

    Returns
    -------
    int
        Rows written.
    """
    missing = [c for c in ("task", "feature", "value") if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"meta-feature rows need columns task, feature, value; {missing} missing",
                                field=missing[0])
    if not source:
        raise InvalidInputError("a meta-feature source is required", field="source")
    frame = frame.reset_index(drop=True)
    values = _numbers(frame["value"])
    for field in ("task", "feature"):
        _check_names(frame[field], field)
    if frame.duplicated(["task", "feature"]).any():
        row = int(np.flatnonzero(frame.duplicated(["task", "feature"]).to_numpy())[0])
        raise InvalidInputError(f"feature {frame['feature'].iloc[row]!r} given twice for task "
                                f"{frame['task'].iloc[row]!r}", row=row, field="feature")
    rows = pa.table({
        "task": pa.array(frame["task"].astype(str).tolist(), pa.string()),
        "feature": pa.array(frame["feature"].astype(str).tolist(), pa.string()),
        "value": pa.array(values, pa.float64(), mask=np.isnan(values)),
    })


    def unit(s: PolicyStore) -> None:
        # Deleting rows that are not there yet conflicts with nothing: without the fence, two hosts saving
        # one task's features at once would both insert them.
        s.fence()
        s.execute("DELETE FROM meta_features WHERE source = ? AND task IN (SELECT DISTINCT task FROM _meta_rows)",
                  [source])
        s.execute("INSERT INTO meta_features SELECT task, feature, value, ?, ? FROM _meta_rows", [source, utcnow()])

    store.register("_meta_rows", rows)
    try:
        store.run_atomic(unit)
    finally:
        store.unregister("_meta_rows")
    return rows.num_rows


def save_meta_features(store: PolicyStore, task: str, features: Mapping[str, float], source: str) -> int:
    """Replace ``source``'s meta-features of ``task`` with ``features`` (one transaction).

    Returns the number of features written; see the module example.
    """
    if not task:
        raise InvalidInputError("a task id is required", field="task")
    _check_names(pd.Series([task], dtype=object), "task")
    if not isinstance(features, Mapping):
        raise InvalidInputError(f"meta-features must be a mapping of name: number, got {type(features).__name__}",
                                field="features")
    frame = pd.DataFrame({"task": pd.Series([task] * len(features), dtype=object),
                          "feature": pd.Series(list(features), dtype=object),
                          "value": pd.Series(list(features.values()), dtype=object)})
    if frame.empty:
        store.run_atomic(lambda s: s.execute("DELETE FROM meta_features WHERE source = ? AND task = ?",
                                             [source, task]))
        return 0
    return save_meta_features_frame(store, frame, source)


def load_meta_features(store: PolicyStore, tasks: Iterable[str] | None = None,
                       source: str | None = None) -> pd.DataFrame:
    """Meta-features as a wide frame: one row per task (the index), one column per feature.

    When two sources hold the same feature of a task, the most recently computed
    value that is not missing wins. Features never stored (or only ever missing)
    for a task are NaN.

    Parameters
    ----------
    store:
        An open store.
    tasks:
        Only these tasks (all when None); tasks without features are left out.
    source:
        Only features from this source.
    """
    wanted = None if tasks is None else pa.table({"task": pa.array(list(tasks), pa.string())})
    where, params = [], []
    if wanted is not None:
        store.register("_meta_tasks", wanted)
        where.append("task IN (SELECT task FROM _meta_tasks)")
    if source is not None:
        where.append("source = ?")
        params.append(source)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    try:
        long = store.fetch_df(
            # Only fixed fragments are interpolated; values are bound.
            f"SELECT task, feature, arg_max(value, computed_at) AS value FROM meta_features {clause} "  # noqa: S608
            "GROUP BY task, feature ORDER BY task, feature",
            params or None,
        )
    finally:
        if wanted is not None:
            store.unregister("_meta_tasks")
    if long.empty:
        return pd.DataFrame(index=pd.Index([], name="task", dtype=object))
    wide = long.pivot(index="task", columns="feature", values="value").astype(np.float64)
    wide.columns.name = None
    return wide
