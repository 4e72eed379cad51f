"""Would hashing studies inside DuckDB make ingest faster? The content hash in SQL against ingest's own.

Issue 23 suggests doing ingest's content hash in DuckDB SQL. The hash must stay what
:func:`policy_store.ingest.hashing.study_hashes` computes (stores recognise unchanged studies by it):
per study the sha256 of ``task US metric US direction GS``, each trial's ``label US state US params US
points`` joined by RS in byte-wise label order, then the steps (little-endian int64), values and costs
(little-endian IEEE doubles, NULL and NaN as numpy's NaN) in (trial label, step) order. DuckDB can build
those bytes: a ``DOUBLE::BIT::UBIGINT`` cast gives a double's IEEE bits, shifts swap them to
little-endian, ``string_agg(... ORDER BY trial, step)`` of their hex and ``unhex`` give each study's byte
string, ``sha256`` hashes it.

This script checks the SQL digests equal ingest's on edge cases (-0.0, NaN, subnormals, NULL costs,
params and metrics, non-ASCII labels whose byte order differs from their code points' numeric order),
then times both on the same canonical table already in a DuckDB file, side by side in one process:
ingest's path (``to_arrow_table`` + numpy/hashlib) against the SQL path. CPU time of this process
(DuckDB's threads included), median of ``--runs``.

    python benchmarks/ingest_hash_sql.py --rows 1000000,5000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from policy_store.ingest.hashing import study_hashes
from policy_store.ingest.longformat import validate_long_frame


def _little_endian_hex(bits: str) -> str:
    """SQL: the 16 hex digits of UBIGINT ``bits`` as 8 little-endian bytes."""
    # every term in parentheses: SQL gives |, &, << and >> one precedence, left to right
    swapped = " | ".join(f"(((({bits}) >> {s}) & 255) << {56 - s})" for s in range(0, 64, 8))
    return f"lpad(hex({swapped}), 16, '0')"


def _ieee(column: str) -> str:
    canonical = f"CASE WHEN {column} IS NULL OR isnan({column}) THEN 'nan'::DOUBLE ELSE {column}::DOUBLE END"
    return _little_endian_hex(f"({canonical})::BIT::UBIGINT")


def hash_sql(table: str) -> str:
    """``(study, content_hash)`` of every study of the canonical long table ``table``."""
    order = "trial NULLS LAST, step"
    return f"""
        WITH trial_rows AS (
            SELECT study, trial, count(*) AS points, first(state ORDER BY step) AS state,
                   first(params ORDER BY step) AS params
            FROM {table} GROUP BY study, trial),
        trial_text AS (
            SELECT study, string_agg(coalesce(trial, '') || chr(31) || coalesce(state, '') || chr(31)
                                     || coalesce(params, '') || chr(31) || points, chr(30) ORDER BY trial NULLS LAST)
                          AS text
            FROM trial_rows GROUP BY study),
        point_bytes AS (
            SELECT study,
                   first(coalesce(task, '') || chr(31) || coalesce(metric, '') || chr(31) || coalesce(direction, '')
                         || chr(29) ORDER BY {order}) AS header,
                   string_agg({_little_endian_hex("step::BIGINT::BIT::UBIGINT")}, '' ORDER BY {order}) AS steps,
                   string_agg({_ieee("value")}, '' ORDER BY {order}) AS vals,
                   string_agg({_ieee("cost_seconds")}, '' ORDER BY {order}) AS costs
            FROM {table} GROUP BY study)
        SELECT study, sha256(encode(header || text) || unhex(steps || vals || costs))
        FROM point_bytes JOIN trial_text USING (study)"""  # noqa: S608 - our own table name


def edge_frame(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = ["0", "1", "10", "9", "é", "Z", "a b", "ü2", "\u4e2d", "\U0001f600"]
    rows = []
    for s in range(60):
        for t in rng.choice(labels, size=rng.integers(1, 7), replace=False):
            for st in np.sort(rng.choice(np.arange(40), size=rng.integers(1, 8), replace=False)):
                rows.append({
                    "task": f"task{s % 4}", "study": f"st{s}", "trial": t, "step": int(st),
                    "value": rng.choice([rng.normal(), -0.0, 0.0, np.nan, 5e-324, 1e308, -1e-310]),
                    "cost_seconds": rng.choice([None, rng.random(), -0.0, 0.0]),
                    "params": f'{{"lr": {s % 3}}}' if s % 2 else None,
                    "state": "pruned" if s % 3 else "fail",
                    "metric": "acc" if s % 4 else None, "direction": "maximize" if s % 4 < 2 else "minimize",
                })
    return pd.DataFrame(rows)


def synthetic_frame(n_rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    i = np.arange(n_rows)
    return pd.DataFrame({"task": "synthetic/" + (i // 8400).astype(str), "study": "synthetic/" + (i // 280).astype(str),
                         "trial": "learner-" + (i // 14 % 20).astype(str), "step": i % 14,
                         "value": rng.random(n_rows), "cost_seconds": rng.random(n_rows), "direction": "maximize"})


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="1000000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    con = duckdb.connect()
    edge = validate_long_frame(edge_frame())
    con.register("edge", edge)
    equal = study_hashes(edge) == dict(con.execute(hash_sql("edge")).fetchall())
    print(f"edge cases: {edge.num_rows} rows, {len(study_hashes(edge))} studies, SQL digests equal ingest's: {equal}")
    if not equal:
        raise SystemExit("the SQL hash differs from ingest's")
    print(f"1-min load average {os.getloadavg()[0]:.1f}")
    print("| rows | studies | ingest's hash (Arrow + numpy) CPU s | SQL hash CPU s | SQL / ingest's | equal |")
    print("|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="hash-sql-") as tmp:
        for n in (int(r) for r in args.rows.split(",")):
            db = duckdb.connect(str(Path(tmp) / f"{n}.duckdb"))
            canonical = validate_long_frame(synthetic_frame(n))
            db.register("canonical", canonical)
            db.execute("CREATE OR REPLACE TABLE points AS SELECT * FROM canonical")
            db.unregister("canonical")
            del canonical
            ours, sql = [], []
            for _ in range(args.runs):
                c0 = _cpu()
                a = study_hashes(db.execute("SELECT * FROM points").to_arrow_table())
                c1 = _cpu()
                b = dict(db.execute(hash_sql("points")).fetchall())
                c2 = _cpu()
                ours.append(c1 - c0)
                sql.append(c2 - c1)
            o, s = statistics.median(ours), statistics.median(sql)
            print(f"| {n:,} | {len(a):,} | {o:.2f} | {s:.2f} | {s / o:.1f}x | {a == b} |", flush=True)
            db.close()
    print(f"1-min load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s wall)")
