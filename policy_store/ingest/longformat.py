"""The long format for learning curves, and its validation.

One row per reported point of one trial:

============  ========  ===================================================================
column        required  meaning
============  ========  ===================================================================
task          yes       the task (dataset, model family, metric, direction) the study ran on
study         yes       study id, unique across the store
trial         yes       trial id within the study (Optuna's number, a learner name, ...)
step          yes       integer resource index >= 0 (epoch, boosting round, anchor)
value         yes       the metric at that step; NaN only in PRUNED or FAIL trials (diverged)
cost_seconds  no        seconds spent on this step alone (not cumulative); >= 0, empty if unknown
params        no        the trial's hyperparameters as a JSON object
state         no        COMPLETE (default), PRUNED, FAIL or RUNNING; one state per trial
metric        no        metric name, one per task
direction     no        ``minimize`` (default) or ``maximize``; one per task
peak_memory_mb no       peak memory (MB) of the trial up to this step; finite, >= 0, empty if unknown
============  ========  ===================================================================

Rows are numbered from 0 in input order; errors name that row and the field.
Validation runs as vectorised SQL over Arrow in a private in-memory DuckDB, so a
file of millions of points is checked in about a second.

>>> import pandas as pd
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1],
...                       "step": [0, 1, 0], "value": [0.5, 0.4, 0.7]})
>>> canonical = validate_long_frame(frame)
>>> canonical.select(["trial", "step", "state"]).to_pydict()
{'trial': ['0', '0', '1'], 'step': [0, 1, 0], 'state': ['COMPLETE', 'COMPLETE', 'COMPLETE']}
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from policy_store.errors import InvalidInputError
from policy_store.ingest.columns import (  # noqa: F401 - re-exported: the long format's names
    COLUMNS,
    DEFAULT_DIRECTION,
    DIRECTIONS,
    MAX_STEP,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    STATES,
)
from policy_store.ingest.hashing import codes  # noqa: F401 - also used by name from here
from policy_store.names import CONTROL_MESSAGE, CONTROL_SQL

_TEXT = ("task", "study", "trial", "params", "state", "metric", "direction")
_LABELS = ("task", "study", "trial", "metric")


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _fail_if(mask: np.ndarray, message: str, field: str) -> None:
    row = _first(mask)
    if row is not None:
        raise InvalidInputError(message, row=row, field=field)


def _text_array(col: pd.Series, field: str) -> pa.Array:
    """A label column as Arrow strings; integers (trial numbers) become their decimal text."""
    if pd.api.types.is_bool_dtype(col):
        raise InvalidInputError("must be text, got booleans", row=0, field=field)
    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        _fail_if(~np.isnan(values) & ~(np.abs(values) <= MAX_STEP) | (values != np.floor(values)) & ~np.isnan(values),
                 "must be a label or an integer (floats only up to 2**53 - 1)", field)
        col = col.astype("Int64")
    if col.dtype == object:  # mixed labels and numbers, e.g. [0, 1, "warm-start"]: numbers as in an int column
        col = pd.Series([_label(v) for v in col], dtype=object, index=col.index)
    if pd.api.types.is_integer_dtype(col):
        return pa.array(col, type=pa.int64(), from_pandas=True).cast(pa.string())
    try:
        return pa.array(col, type=pa.string(), from_pandas=True)
    except UnicodeEncodeError:
        row = _first(col.map(lambda v: isinstance(v, str) and not encodable(v)).to_numpy(dtype=bool))
        raise InvalidInputError(f"is not valid Unicode text (a lone surrogate): {col.iloc[row]!r}",
                                row=row, field=field) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        bad = col.map(lambda v: not (v is None or isinstance(v, str) or pd.isna(v)))
        row = _first(bad.to_numpy(dtype=bool))
        raise InvalidInputError(f"must be text, got {col.iloc[row]!r}", row=row, field=field) from None


def _label(value: object) -> object:
    """An integer (or integral float) cell of a text column as its decimal text; anything else as it is."""
    if isinstance(value, bool | np.bool_):
        return value  # refused below: True is no label
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and value.is_integer() and abs(value) <= MAX_STEP:
        return str(int(value))
    return value


def encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogates), i.e. storable as UTF-8.

    >>> encodable("café"), encodable(chr(0xD800))
    (True, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number_array(col: pd.Series, field: str) -> np.ndarray:
    """A numeric column as float64; names the first row that is not a number."""
    if pd.api.types.is_bool_dtype(col):
        raise InvalidInputError("must be numeric, got booleans", row=0, field=field)
    if pd.api.types.is_complex_dtype(col) or pd.api.types.is_datetime64_any_dtype(col) or \
            pd.api.types.is_timedelta64_dtype(col):
        raise InvalidInputError(f"must be real numbers, got {col.dtype} values", row=0, field=field)
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    coerced = pd.to_numeric(col, errors="coerce")
    text = col.astype("string").str.strip().str.lower()
    is_bool = col.map(lambda v: isinstance(v, bool | np.bool_ | complex | np.complexfloating)).to_numpy(dtype=bool)
    bad = (coerced.isna() & col.notna() & (text != "") & (text != "nan")).to_numpy(dtype=bool, na_value=False)
    bad |= is_bool
    row = _first(bad)
    if row is not None:
        raise InvalidInputError(f"must be numeric, got {col.iloc[row]!r}", row=row, field=field)
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan)


def _trimmed(array: pa.Array, *, trim: bool = True) -> pa.Array:
    """Strings with surrounding white space removed; empty strings become NULL.

    The input array itself where nothing changes (the usual case): a large
    file's labels are then held once, not once more per column.
    """
    if trim:
        trimmed = pc.utf8_trim_whitespace(array)
        if not pc.all(pc.equal(trimmed, array)).as_py():
            array = trimmed
        del trimmed
    empty = pc.equal(array, "")
    return pc.if_else(empty, pa.scalar(None, pa.string()), array) if pc.any(empty).as_py() else array


def _filled(array: pa.Array, default: str | None) -> pa.Array:
    if default is None or array.null_count == 0:
        return array
    return pc.fill_null(array, pa.scalar(default, pa.string()))


def _canonical_input(frame: pd.DataFrame, direction: str | None, metric: str | None) -> pa.Table:
    """The frame as typed, normalised Arrow columns plus ``_row``; numeric problems raise here."""
    n = len(frame)
    text = {
        field: _text_array(frame[field], field) if field in frame else pa.nulls(n, pa.string()) for field in _TEXT
    }
    steps = _number_array(frame["step"], "step")
    _fail_if(np.isnan(steps), "is missing; every row needs an integer step", "step")
    _fail_if(np.isinf(steps) | (steps != np.floor(steps)), "must be an integer", "step")
    _fail_if(steps < 0, "must be >= 0", "step")
    _fail_if(steps > MAX_STEP, f"must be <= {MAX_STEP} (2**53 - 1)", "step")
    values = _number_array(frame["value"], "value")
    _fail_if(np.isinf(values), "must be finite (got infinity)", "value")
    cost = _number_array(frame["cost_seconds"], "cost_seconds") if "cost_seconds" in frame else np.full(n, np.nan)
    _fail_if(np.isinf(cost), "must be finite or empty (unknown)", "cost_seconds")
    _fail_if(cost < 0, "must be >= 0", "cost_seconds")
    memory = (_number_array(frame["peak_memory_mb"], "peak_memory_mb") if "peak_memory_mb" in frame
              else np.full(n, np.nan))
    _fail_if(np.isinf(memory), "must be finite or empty (unknown)", "peak_memory_mb")
    _fail_if(memory < 0, "must be >= 0 (megabytes)", "peak_memory_mb")
    return pa.table(
        {
            "task": _trimmed(text["task"]),
            "study": _trimmed(text["study"]),
            "trial": _trimmed(text["trial"]),
            "step": pa.array(steps.astype(np.int64)),
            "value": pa.array(values, type=pa.float64(), from_pandas=False),  # NaN = diverged
            "cost_seconds": pa.array(cost, type=pa.float64(), from_pandas=True),  # NaN = unknown → NULL
            "params": _trimmed(text["params"], trim=False),
            "state": _filled(pc.utf8_upper(_trimmed(text["state"])), "COMPLETE"),
            "metric": _filled(_trimmed(text["metric"]), metric),
            "direction": _filled(_trimmed(text["direction"]), direction or DEFAULT_DIRECTION),
            "peak_memory_mb": pa.array(memory, type=pa.float64(), from_pandas=True),  # NaN = unknown → NULL
            "_row": pa.array(np.arange(n, dtype=np.int64)),
        }
    )


# Each check: SQL selecting the offending rows of the normalised view `n`, the field, the message.
_ROW_CHECKS = (
    ("task IS NULL", "task", "is missing; every row needs a value"),
    ("study IS NULL", "study", "is missing; every row needs a value"),
    ("trial IS NULL", "trial", "is missing; every row needs a value"),
    ("state NOT IN ('COMPLETE', 'PRUNED', 'FAIL', 'RUNNING')", "state",
     "unknown state; use one of COMPLETE, PRUNED, FAIL, RUNNING"),
    ("direction NOT IN ('minimize', 'maximize')", "direction", "unknown direction; use 'minimize' or 'maximize'"),
    ("isnan(value) AND state IN ('COMPLETE', 'RUNNING')", "value",
     "is NaN in a COMPLETE or RUNNING trial; NaN is allowed only in PRUNED or FAIL (diverged) trials"),
    *((f"regexp_matches({label}, '{CONTROL_SQL}')", label, CONTROL_MESSAGE) for label in _LABELS),
)
# (field that must be unique, the group it must be unique within, what the group is called)
_GROUP_CHECKS = (
    ("state", "trial", "trial"),
    ("params", "trial", "trial"),
    ("task", "study", "study"),
    ("direction", "task", "task"),
    ("metric", "task", "task"),
)


def first_disagreement(groups: np.ndarray, values: np.ndarray) -> int | None:
    """First row whose value differs from the value at its group's first row (O(n), no sort).

    >>> first_disagreement(np.array([0, 1, 0, 1]), np.array([5, 6, 5, 7]))
    3
    """
    first = np.empty(int(groups.max()) + 1, dtype=values.dtype)
    first[groups[::-1]] = values[::-1]  # the last write wins, so each group keeps its first row's value
    return _first(values != first[groups])


def _group_codes(table: pa.Table) -> dict[str, np.ndarray]:
    study, _ = codes(table["study"])
    trial, _ = codes(table["trial"])
    pair = study * (int(trial.max()) + 1) + trial
    if pair.max() >= 4 * len(pair):  # sparse pairs: renumber densely so group arrays stay O(rows)
        _, pair = np.unique(pair, return_inverse=True)
    task, _ = codes(table["task"])
    return {"study": study, "trial": pair.astype(np.int64), "task": task}


def _check_groups(table: pa.Table) -> None:
    groups = _group_codes(table)
    for field, group, what in _GROUP_CHECKS:
        value_codes, _ = codes(table[field])
        row = first_disagreement(groups[group], value_codes)
        if row is not None:
            key = "/".join(str(table[k][row]) for k in (("study", "trial") if group == "trial" else (group,)))
            first = table[field][int(np.flatnonzero(groups[group] == groups[group][row])[0])].as_py()
            raise InvalidInputError(
                f"{what} {key!r} has more than one {field}: {first!r} and {table[field][row].as_py()!r}",
                row=row,
                field=field,
            )
    steps = table["step"].to_numpy()
    order = np.lexsort((np.arange(len(steps)), steps, groups["trial"]))
    repeated = (groups["trial"][order][1:] == groups["trial"][order][:-1]) & (steps[order][1:] == steps[order][:-1])
    if repeated.any():
        row = int(order[1:][repeated].min())
        raise InvalidInputError(
            f"duplicate point: study {table['study'][row].as_py()!r}, trial {table['trial'][row].as_py()!r}, "
            f"step {steps[row]} appears more than once",
            row=row,
            field="step",
        )


def refuse_repeated_columns(names: list[str]) -> None:
    """Raise :class:`InvalidInputError` naming the first column given twice (which one is meant is ambiguous).

    >>> refuse_repeated_columns(["task", "study", "task"])
    Traceback (most recent call last):
    ...
    policy_store.errors.InvalidInputError: field 'task': column given more than once; which one is meant is ambiguous
    """
    repeated = [c for i, c in enumerate(names) if c in names[:i]]
    if repeated:
        raise InvalidInputError("column given more than once; which one is meant is ambiguous", field=repeated[0])


def validate_long_frame(
    frame: pd.DataFrame, *, direction: str | None = None, metric: str | None = None
) -> pa.Table:
    """Check a long-format frame and return it in canonical form.

    Parameters
    ----------
    frame:
        Rows in the long format (see the module docstring).
    direction, metric:
        Defaults for rows whose ``direction`` / ``metric`` is absent or empty.

    Returns
    -------
    pyarrow.Table
        Exactly :data:`COLUMNS`, in input order: labels trimmed, ``state`` upper
        case, ``step`` int64, ``value`` float64 (NaN kept), ``cost_seconds``
        and ``peak_memory_mb`` float64 with NULL for unknown.

    Raises
    ------
    InvalidInputError
        Naming the first offending row (0-based) and field.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise InvalidInputError("the input has no rows")
    refuse_repeated_columns([str(c) for c in frame.columns])
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"required column missing (the long format needs {', '.join(REQUIRED_COLUMNS)})", field=missing[0]
        )
    unknown = [str(c) for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise InvalidInputError(f"unknown column; allowed columns are {', '.join(COLUMNS)}", field=unknown[0])
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidInputError(f"unknown direction {direction!r}; use 'minimize' or 'maximize'", field="direction")
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        frame = frame.reset_index(drop=True)
    table = _canonical_input(frame, direction, metric)
    con = duckdb.connect()
    try:
        con.register("n", table)
        # a label's control-character test runs on its distinct values (a few thousand, not a row each);
        # only a label that fails it is searched row by row for the first offending row
        flagged = con.execute(
            "SELECT " + ", ".join(f"(SELECT bool_or({where}) FROM (SELECT DISTINCT {field} FROM n))"  # noqa: S608
                                  for where, field, _ in _ROW_CHECKS[-len(_LABELS):])
        ).fetchone()
        checks = [*_ROW_CHECKS[: -len(_LABELS)],
                  *(c for c, bad in zip(_ROW_CHECKS[-len(_LABELS):], flagged, strict=True) if bad)]
        firsts = con.execute(
            "SELECT " + ", ".join(f"min(_row) FILTER (WHERE {where})" for where, _, _ in checks) + " FROM n"  # noqa: S608
        ).fetchone()
        hits = [(row, field, msg) for row, (_, field, msg) in zip(firsts, checks, strict=True) if row is not None]
        if hits:
            row, field, message = min(hits)
            raise InvalidInputError(message, row=int(row), field=field)
        _check_params(con)
    finally:
        con.close()
    _check_groups(table)
    return table.select(list(COLUMNS))


def _check_params(con: duckdb.DuckDBPyConnection) -> None:
    """Every distinct params text must be a JSON object (each distinct text parsed once)."""
    for row, text in con.execute(
        "SELECT min(_row), params FROM n WHERE params IS NOT NULL GROUP BY params ORDER BY 1"
    ).fetchall():
        try:
            parsed = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"is not valid JSON ({e.msg})", row=int(row), field="params") from e
        except (ValueError, RecursionError) as e:  # NaN/Infinity, a >4300-digit number, nesting too deep
            raise InvalidInputError(f"is not valid JSON ({e})", row=int(row), field="params") from e
        if not isinstance(parsed, dict):
            raise InvalidInputError("must be a JSON object of hyperparameters", row=int(row), field="params")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON; write null or a number")
