"""A study's learning curves as a dense matrix: trials x steps.

The replay engine works on :class:`StudyCurves`: ``values[i, j]`` is trial ``i``'s
value at ``steps[j]`` (NaN where the trial did not report that step, or reported
NaN; ``present`` tells which), ``cost[i, j]`` the seconds spent on that step
alone (NaN when unknown), ``memory[i, j]`` the trial's peak memory in MB up to that step (NaN when
unknown). Trials are in recorded order (``trial_number``).

Curves come from the store in one query per call, for any number of studies
(:func:`load_curves`), or from arrays (:meth:`StudyCurves.from_arrays`) or a long
DataFrame (:meth:`StudyCurves.from_frame`).

Examples
--------
>>> c = StudyCurves.from_arrays("s", [[0.9, 0.5, 0.4], [0.8, 0.7, 0.0]], present=[[1, 1, 1], [1, 1, 0]])
>>> c.n_trials, c.n_steps, c.final_values.tolist()
(2, 3, [0.4, 0.7])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from policy_store.binding import literal_path, pandas_unimported
from policy_store.errors import InvalidInputError, NotFoundError
from policy_store.store import PolicyStore

if TYPE_CHECKING:
    import pandas as pd

_DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True, eq=False)
class StudyCurves:
    """One study's curves as arrays (see the module docstring)."""

    study: str
    task: str
    direction: str
    trials: np.ndarray
    trial_numbers: np.ndarray
    steps: np.ndarray
    values: np.ndarray
    present: np.ndarray
    cost: np.ndarray
    memory: np.ndarray | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.memory is None:  # frozen: the one place a field is filled in
            object.__setattr__(self, "memory", np.full(self.values.shape, np.nan))
        if self.direction not in _DIRECTIONS:
            raise InvalidInputError(f"direction must be one of {_DIRECTIONS}, got {self.direction!r}",
                                    field="direction")
        n, j = self.values.shape
        if self.present.shape != (n, j) or self.cost.shape != (n, j) or self.steps.shape != (j,) or \
                self.memory.shape != (n, j):
            raise InvalidInputError("values, present, cost, memory and steps disagree in shape")
        if j and np.any(np.diff(self.steps) <= 0):
            raise InvalidInputError("steps must be strictly increasing", field="step")
        if n and not self.present.any(axis=1).all():
            raise InvalidInputError("every trial needs at least one reported step", field="step")

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_arrays(cls, study: str, values: Any, *, steps: Sequence[int] | None = None, present: Any = None,
                    cost: Any = None, direction: str = "minimize", task: str | None = None,
                    trials: Sequence[str] | None = None, memory: Any = None) -> StudyCurves:
        """Build from a (trials x steps) array; ``present`` defaults to "every cell reported"."""
        v = np.array(values, dtype=float, ndmin=2)
        n, j = v.shape
        p = np.ones((n, j), dtype=bool) if present is None else np.array(present, dtype=bool)
        c = np.full((n, j), np.nan) if cost is None else np.array(cost, dtype=float)
        m = np.full((n, j), np.nan) if memory is None else np.array(memory, dtype=float)
        v = np.where(p, v, np.nan)
        return cls(study, task or study, direction,
                   np.array([str(t) for t in (trials if trials is not None else range(n))], dtype=object),
                   np.arange(n), np.arange(j, dtype=np.int64) if steps is None else np.asarray(steps, np.int64),
                   v, p, np.where(p, c, np.nan), np.where(p, m, np.nan))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, study: str, direction: str, task: str | None = None) -> StudyCurves:
        """Build from long rows (trial, step, value[, cost_seconds][, peak_memory_mb][, trial_number]) of one study."""
        import pandas as pd

        df = frame
        if "trial_number" not in df.columns:
            first = pd.unique(df["trial"].astype(str))
            df = df.assign(trial_number=pd.Series(range(len(first)), index=first).loc[df["trial"].astype(str)].values)
        return _assemble(study, task or study, direction, df)[0]

    # -- derived ------------------------------------------------------------------------
    @property
    def n_trials(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.values.shape[1])

    @property
    def last_pos(self) -> np.ndarray:
        """Column of each trial's last reported step."""
        if "last_pos" not in self._cache:
            j = self.n_steps
            self._cache["last_pos"] = j - 1 - np.argmax(self.present[:, ::-1], axis=1)
        return self._cache["last_pos"]

    @property
    def final_values(self) -> np.ndarray:
        """Each trial's value at its last reported step (its final value)."""
        return self.values[np.arange(self.n_trials), self.last_pos]

    @property
    def cost_known(self) -> bool:
        """True when every reported point has a cost (compute is then measured in seconds)."""
        return bool(np.all(np.isfinite(self.cost[self.present])))


def regret_scale(c: StudyCurves) -> float:
    """The unit of relative regret on study ``c``: 1 when maximised, else its median |final value| (1 if 0).

    Regret in these units is comparable across metrics (a loss of 0.3 and one of 300); the meta-learner
    learns in it and the drift monitors watch it (:data:`policy_store.drift.observations.REGRET_SCALE_SQL`
    restates it in SQL).

    >>> regret_scale(StudyCurves.from_arrays("s", [[2.0, 1.0], [3.0, 3.0]], direction="minimize"))
    2.0
    """
    if c.direction == "maximize":
        return 1.0
    finals = np.abs(c.final_values[np.isfinite(c.final_values)])
    scale = float(np.median(finals)) if finals.size else 0.0
    return scale if scale > 0 else 1.0


def _assemble(study: str, task: str, direction: str, df: pd.DataFrame) -> list[StudyCurves]:
    return [_one(study, task, direction, df)]


def _one(study: str, task: str, direction: str, df: pd.DataFrame) -> StudyCurves:
    import pandas as pd

    df = df.sort_values(["trial_number", "step"], kind="stable")
    steps, jcol = np.unique(df["step"].to_numpy(np.int64), return_inverse=True)
    numbers, icol = np.unique(df["trial_number"].to_numpy(np.int64), return_inverse=True)
    n, j = len(numbers), len(steps)
    values = np.full((n, j), np.nan)
    present = np.zeros((n, j), dtype=bool)
    cost = np.full((n, j), np.nan)
    memory = np.full((n, j), np.nan)
    values[icol, jcol] = df["value"].to_numpy(float)
    present[icol, jcol] = True
    if "cost_seconds" in df.columns:
        cost[icol, jcol] = pd.to_numeric(df["cost_seconds"], errors="coerce").to_numpy(float)
    if "peak_memory_mb" in df.columns:
        memory[icol, jcol] = pd.to_numeric(df["peak_memory_mb"], errors="coerce").to_numpy(float)
    labels = np.empty(n, dtype=object)
    labels[icol] = df["trial"].astype(str).to_numpy()
    return StudyCurves(study, task, direction, labels, numbers, steps, values, present, cost, memory)


def load_curves(store: PolicyStore, *, studies: Sequence[str] | None = None,
                tasks: Sequence[str] | None = None) -> list[StudyCurves]:
    """Curves of the selected studies (all when neither filter is given), in one query.

    Parameters
    ----------
    store:
        An open store.
    studies, tasks:
        Restrict to these study ids / task ids.

    Returns
    -------
    list of StudyCurves
        Ordered by study id.

    Raises
    ------
    NotFoundError
        A named study or task has no curves.
    """
    where, params = [], []
    if studies is not None:
        where.append("s.study IN (SELECT unnest(?))")
        params.append(list(studies))
    if tasks is not None:
        where.append("s.task IN (SELECT unnest(?))")
        params.append(list(tasks))
    cond = ("WHERE " + " AND ".join(where)) if where else ""
    # Dense integer codes are computed in SQL so Python never loops over points.
    table = store.execute(
        f"""
        SELECT s.study, s.task, k.direction,
               dense_rank() OVER (PARTITION BY s.study ORDER BY t.trial_number) - 1 AS i,
               dense_rank() OVER (PARTITION BY s.study ORDER BY c.step) - 1 AS j,
               t.trial, t.trial_number, c.step, c.value, c.cost_seconds, m.peak_memory_mb
        FROM studies s
        JOIN tasks k ON k.task = s.task
        JOIN trials t ON t.study = s.study
        JOIN curve_points c ON c.study = t.study AND c.trial = t.trial
        LEFT JOIN curve_memory m ON m.study = c.study AND m.trial = c.trial AND m.step = c.step
        {cond}
        ORDER BY s.study, i, j
        """,  # noqa: S608 - the condition is built from constants only
        params or None,
    ).fetchnumpy()
    if len(table["study"]) == 0:
        if studies is not None or tasks is not None:
            raise NotFoundError(f"no curves for studies={studies!r} tasks={tasks!r}")
        return []
    out = _split(table)
    if studies is not None:
        missing = set(studies) - {c.study for c in out}
        if missing:
            raise NotFoundError(f"no curves for study {sorted(missing)[0]!r}")
    return out


def curves_from_frame(frame: Any, *, direction: str | None = None) -> list[StudyCurves]:
    """Curves of every study in a long-format frame (pandas or Arrow), vectorised like :func:`load_curves`.

    The frame needs task, study, trial, step, value and optionally cost_seconds, peak_memory_mb,
    direction (else ``direction=``) and trial_number (else first-appearance
    order of trials within the study).

    >>> import pandas as pd
    >>> f = pd.DataFrame({"task": "t", "study": ["a", "a", "b"], "trial": ["x", "x", "y"],
    ...                   "step": [0, 1, 0], "value": [0.3, 0.2, 0.5]})
    >>> [(c.study, c.n_trials, c.n_steps) for c in curves_from_frame(f, direction="minimize")]
    [('a', 1, 2), ('b', 1, 1)]
    """
    import duckdb

    cols = set(frame.column_names if hasattr(frame, "column_names") else frame.columns)
    dir_sql = "f.direction" if "direction" in cols else "$direction"
    cost_sql = "f.cost_seconds::DOUBLE" if "cost_seconds" in cols else "NULL::DOUBLE"
    memory_sql = "f.peak_memory_mb::DOUBLE" if "peak_memory_mb" in cols else "NULL::DOUBLE"
    num_sql = ("f.trial_number" if "trial_number" in cols
               else "min(f._row) OVER (PARTITION BY f.study, f.trial)")
    con = duckdb.connect()
    try:
        con.register("frame_in", frame)
        table = con.execute(
            f"""
            WITH f AS (SELECT *, row_number() OVER () AS _row FROM frame_in),
            g AS (SELECT f.study, f.task, {dir_sql} AS direction, f.trial::VARCHAR AS trial,
                         {num_sql} AS trial_number, f.step::BIGINT AS step, f.value::DOUBLE AS value,
                         {cost_sql} AS cost_seconds, {memory_sql} AS peak_memory_mb FROM f)
            SELECT study, task, direction,
                   dense_rank() OVER (PARTITION BY study ORDER BY trial_number) - 1 AS i,
                   dense_rank() OVER (PARTITION BY study ORDER BY step) - 1 AS j,
                   trial, trial_number, step, value, cost_seconds, peak_memory_mb
            FROM g ORDER BY study, i, j
            """,  # noqa: S608 - fragments are constants
            {"direction": direction} if "direction" not in cols else None,
        ).fetchnumpy()
    finally:
        con.close()
    if len(table["study"]) == 0:
        return []
    return _split(table)


# pandas' default ``na_values`` (pandas.read_csv): cells that read as missing, as ``recommend --curves`` read them on
# pandas before. The match is exact and case-sensitive, as in pandas.
_NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
               "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")

# SQL giving what is wrong with column {c} of a row, NULL when nothing is. A row is refused for its first problem
# (trial, step, trial_number, value, cost_seconds, peak_memory_mb), the file for its first refused row.
_INTEGER_PROBLEM = ("CASE WHEN {c} IS NULL THEN 'is missing' WHEN {c}_real IS NULL THEN 'is not a number' "
                    "WHEN NOT isfinite({c}_real) OR {c}_real <> trunc({c}_real) OR {c}_int IS NULL "
                    "THEN 'is not an integer' END")
_NUMBER_PROBLEM = "CASE WHEN {c} IS NOT NULL AND {c}_real IS NULL THEN 'is not a number' END"


def read_curves_csv(path: str | os.PathLike[str], *, direction: str) -> list[StudyCurves]:
    """Curves of a CSV of long rows -- trial, step, value[, study][, trial_number][, cost_seconds][, peak_memory_mb]
    -- read by DuckDB (no pandas).

    One study per ``study`` value (without that column, one named after the file), its task named after it;
    trials in ``trial_number`` order, else in the order they first appear; the last row of a (trial, step) counts.

    The file is read as pandas reads it by default (comma-separated, ``"`` quotes), every cell as text, then the
    numbers are cast, so no column's type is guessed from a sample and found wrong later. The cells pandas reads
    as missing (``NA``, ``NULL``, ``None``, ``n/a``, ``#N/A``, ``NaN``, empty, ... its default ``na_values``)
    are missing: a missing ``value`` is a reported step with no value (NaN), a missing ``cost_seconds`` or
    ``peak_memory_mb`` unknown. A step given as ``2.0`` is step 2; ``1.5`` is refused.

    Labels stay text as written: trials ``007`` and ``7`` are two trials and ``true`` stays ``true`` (pandas
    read them as the number 7, merging the two, and as ``True``); study names too (pandas named study ``5``
    ``5.0`` when its column had a blank). Studies are in numeric order when every study is a number, as pandas'
    ``groupby`` ordered a numeric column, else in text order.

    Rows with no study are dropped, as the pandas ``groupby`` that read this file before dropped them, so a
    file ``recommend --curves`` took then gives the same studies now; they are not checked.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "first.csv"
    >>> _ = f.write_text("trial,step,value\\nb,0,0.5\\nb,1,NA\\n007,0,0.4\\n7,0,0.3\\n")
    >>> [(c.study, c.trials.tolist(), c.n_steps) for c in read_curves_csv(f, direction="maximize")]
    [('first', ['b', '007', '7'], 2)]

    Raises
    ------
    InvalidInputError
        The file cannot be read as CSV, a column is missing, it has no curve rows (only a header, or no row with
        a study), or a kept row's trial or step is missing, its step or trial_number is not an integer, or its
        value, cost_seconds or peak_memory_mb is text that is not a number (naming the line and the field).
    """
    import duckdb

    con = duckdb.connect(config={"threads": 1})   # one thread: rows numbered in file order
    try:
        try:
            # pandas' dialect, not sniffed from a sample: a quote first seen past the sample still quotes
            con.read_csv(literal_path(path), header=True, sep=",", quotechar='"', escapechar='"', skiprows=0,
                         all_varchar=True, na_values=list(_NA_STRINGS)).create_view("curves_in")
            cols = {c for c, *_ in con.execute("DESCRIBE curves_in").fetchall()}
        except (duckdb.Error, OSError, UnicodeError) as e:   # missing, a folder, not UTF-8, not CSV, empty
            raise InvalidInputError(f"cannot read {os.fspath(path)!r} as CSV: {_reason(e)}", field="curves") from e
        missing = [c for c in ("trial", "step", "value") if c not in cols]
        if missing:
            raise InvalidInputError(f"{os.fspath(path)}: curve rows need columns trial, step, value[, study]; "
                                    f"{missing} missing", field=missing[0])
        integers = ["step", *(["trial_number"] if "trial_number" in cols else [])]
        numbers = ["value", *(c for c in ("cost_seconds", "peak_memory_mb") if c in cols)]
        casts = [f"TRY_CAST({c} AS DOUBLE) AS {c}_real" for c in integers + numbers]
        casts += [f"TRY_CAST({c} AS BIGINT) AS {c}_int" for c in integers]
        try:
            with pandas_unimported():   # binding the stem would import pandas (policy_store.binding)
                con.execute(
                    f"""
                    CREATE TEMP TABLE rows_in AS
                    SELECT row_number() OVER () - 1 AS _row, {'study' if 'study' in cols else '$stem'} AS study,
                           trial, {', '.join(integers + numbers)}, {', '.join(casts)}
                    FROM curves_in
                    """,  # noqa: S608 - fragments are constants and checked column names
                    None if "study" in cols else {"stem": Path(path).stem},
                )
            _refuse_bad_row(con, path, integers, numbers)
            table = con.execute(_CURVES_SQL.format(
                trial_number="trial_number_int" if "trial_number" in cols
                else "dense_rank() OVER (PARTITION BY study ORDER BY first_row) - 1",
                cost="cost_seconds_real" if "cost_seconds" in cols else "NULL::DOUBLE",
                memory="peak_memory_mb_real" if "peak_memory_mb" in cols else "NULL::DOUBLE",
            )).fetchnumpy()
        except duckdb.Error as e:   # a malformed line past the sniffed sample (too many fields, ...)
            raise InvalidInputError(f"cannot read {os.fspath(path)!r} as CSV: {_reason(e)}", field="curves") from e
        if not len(table["study"]):
            without = con.execute("SELECT count(*) FROM rows_in").fetchone()[0]
            raise InvalidInputError(f"no curve rows in {os.fspath(path)}"
                                    + (f" (its {without} rows have no study)" if without else ""), field="curves")
    finally:
        con.close()
    table["direction"] = np.full(len(table["study"]), direction, dtype=object)
    return _split(table)


_CURVES_SQL = """
    WITH kept AS (SELECT *, min(_row) OVER (PARTITION BY study, trial) AS first_row FROM rows_in
                  WHERE study IS NOT NULL),
    numeric AS (SELECT bool_and(TRY_CAST(study AS DOUBLE) IS NOT NULL) AS studies_are_numbers FROM kept),
    g AS (SELECT study, trial, {trial_number} AS trial_number, step_int AS step, value_real AS value,
                 {cost} AS cost_seconds, {memory} AS peak_memory_mb, _row FROM kept),
    o AS (SELECT study, dense_rank() OVER (ORDER BY CASE WHEN studies_are_numbers THEN TRY_CAST(study AS DOUBLE)
                                                   END, study) AS study_rank
          FROM (SELECT DISTINCT study FROM kept), numeric)
    SELECT study, study AS task,
           dense_rank() OVER (PARTITION BY study ORDER BY trial_number) - 1 AS i,
           dense_rank() OVER (PARTITION BY study ORDER BY step) - 1 AS j,
           trial, trial_number, step, value, cost_seconds, peak_memory_mb
    FROM g JOIN o USING (study) ORDER BY study_rank, i, j, _row
"""


def _reason(e: Exception) -> str:
    """DuckDB's reason for refusing a file, without its list of fixes and reader settings.

    >>> _reason(ValueError("Invalid Input Error: CSV Error on Line: 3\\nExpected Number of Columns: 3 Found: 4\\n"
    ...                    "Possible fixes:\\n* ..."))
    'CSV Error on Line: 3; Expected Number of Columns: 3 Found: 4'
    """
    head = str(e).split("\nPossible fixes:")[0].split("\nThe search space used was:")[0]
    return "; ".join(line.strip() for line in head.removeprefix("Invalid Input Error: ").splitlines() if line.strip())


def _refuse_bad_row(con: Any, path: str | os.PathLike[str], integers: list[str], numbers: list[str]) -> None:
    """Raise :class:`InvalidInputError` for the first kept row whose trial, step or a number is bad."""
    checks = [("trial", "CASE WHEN trial IS NULL THEN 'is missing' END")]
    checks += [(c, _INTEGER_PROBLEM.format(c=c)) for c in integers]
    checks += [(c, _NUMBER_PROBLEM.format(c=c)) for c in numbers]
    problem = " ".join(f"WHEN ({sql}) IS NOT NULL THEN ['{c}', {c}, {sql}]" for c, sql in checks)
    bad = con.execute(
        f"SELECT * FROM (SELECT _row, CASE {problem} END AS bad FROM rows_in WHERE study IS NOT NULL) "  # noqa: S608
        "WHERE bad IS NOT NULL ORDER BY _row LIMIT 1"
    ).fetchone()
    if bad is None:
        return
    row, (field, text, problem) = bad
    name = os.fspath(path)
    if name.lower().endswith((".gz", ".zst")):   # compressed: the row is all there is
        source = name
    else:
        from policy_store.ingest.files import csv_line  # only on this error path

        source = f"{name} line {csv_line(name, row)}"
    shown = "" if text is None else f" {text!r}"
    raise InvalidInputError(f"{field}{shown} {problem}", row=row, field=field, source=source)


def _split(table: dict[str, Any]) -> list[StudyCurves]:
    """Cut a sorted (study, i, j) column table into one StudyCurves per study."""
    study_arr = np.asarray(table["study"], dtype=object)
    starts = np.flatnonzero(np.r_[True, study_arr[1:] != study_arr[:-1]])
    ends = np.r_[starts[1:], len(study_arr)]
    icol_all = np.asarray(table["i"], dtype=np.int64)
    jcol_all = np.asarray(table["j"], dtype=np.int64)
    cost_all = np.ma.filled(np.ma.asarray(table["cost_seconds"]).astype(float), np.nan)
    memory_all = np.ma.filled(np.ma.asarray(table["peak_memory_mb"]).astype(float), np.nan)
    val_all = np.ma.filled(np.ma.asarray(table["value"]).astype(float), np.nan)
    step_all = np.asarray(table["step"], dtype=np.int64)
    num_all = np.asarray(table["trial_number"], dtype=np.int64)
    trial_all = np.asarray(table["trial"], dtype=object)
    task_all = np.asarray(table["task"], dtype=object)
    dir_all = np.asarray(table["direction"], dtype=object)
    out = []
    for a, b in zip(starts, ends, strict=True):
        icol, jcol = icol_all[a:b], jcol_all[a:b]
        n, j = int(icol[-1]) + 1, int(jcol.max()) + 1
        values = np.full((n, j), np.nan)
        present = np.zeros((n, j), dtype=bool)
        cost = np.full((n, j), np.nan)
        memory = np.full((n, j), np.nan)
        values[icol, jcol] = val_all[a:b]
        present[icol, jcol] = True
        cost[icol, jcol] = cost_all[a:b]
        memory[icol, jcol] = memory_all[a:b]
        steps = np.zeros(j, dtype=np.int64)
        steps[jcol] = step_all[a:b]
        numbers = np.zeros(n, dtype=np.int64)
        numbers[icol] = num_all[a:b]
        labels = np.empty(n, dtype=object)
        labels[icol] = trial_all[a:b]
        out.append(StudyCurves(str(study_arr[a]), str(task_all[a]), str(dir_all[a]), labels, numbers, steps,
                               values, present, cost, memory))
    return out


def load_study_curves(store: PolicyStore, study: str) -> StudyCurves:
    """Curves of one study (:class:`NotFoundError` if it has none)."""
    return load_curves(store, studies=[study])[0]
