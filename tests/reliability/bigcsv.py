"""Long-format CSV files of any size, written by DuckDB straight to disk (never held in memory).

Study ``s`` has ``trials`` trials of ``steps`` points; 50 tasks; values are a seeded hash, costs constant.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

_QUERY = """
SELECT 'task-' || (s % 50) AS task, 'study-' || lpad(s::VARCHAR, 7, '0') AS study, t AS trial, k AS step,
       round((hash(i + $seed) % 1000000) / 1e6, 6) AS value, 0.01 AS cost_seconds
FROM (SELECT i, i // ($trials * $steps) AS s, (i // $steps) % $trials AS t, i % $steps AS k
      FROM range($rows) AS r(i))
"""


def write_long_csv(path: str | Path, size_bytes: int, *, trials: int = 20, steps: int = 50, seed: int = 0) -> int:
    """Write about ``size_bytes`` of whole studies to ``path``; return the number of rows."""
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        params = {"seed": seed, "trials": trials, "steps": steps}
        sample = con.execute(f"SELECT avg(length(concat_ws(',', *COLUMNS(*))) + 1) FROM ({_QUERY})",  # noqa: S608
                             {**params, "rows": 10_000}).fetchone()[0]
        per_study = trials * steps
        rows = max(1, round(size_bytes / sample / per_study)) * per_study
        con.execute(f"COPY ({_QUERY}) TO '{Path(path).as_posix()}' (HEADER, DELIMITER ',')",  # noqa: S608
                    {**params, "rows": rows})
    finally:
        con.close()
    return rows
