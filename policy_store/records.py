"""Read-side queries over recorded tasks and studies (what the CLI's listings show).

>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.ingest import ingest_frame
>>> with PolicyStore.memory() as store:
...     _ = ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1],
...                                           "step": [0, 1, 0], "value": [0.5, 0.3, 0.9]}))
...     [(r["task"], r["studies"], r["points"]) for r in list_tasks(store)]
...     describe_study(store, "s")["best_trial"]
[('t', 1, 3)]
'0'
"""

from __future__ import annotations

from typing import Any

from policy_store.errors import NotFoundError
from policy_store.store import PolicyStore


def list_tasks(store: PolicyStore) -> list[dict[str, Any]]:
    """Every task with its counts of studies, trials and curve points."""
    return store.fetch_dicts(
        """SELECT t.task, t.metric, t.direction,
                  count(s.study)::INTEGER AS studies,
                  coalesce(sum(s.n_trials), 0)::BIGINT AS trials,
                  coalesce(sum(s.n_points), 0)::BIGINT AS points,
                  (SELECT count(*) FROM meta_features m WHERE m.task = t.task)::INTEGER AS meta_features
           FROM tasks t LEFT JOIN studies s USING (task)
           GROUP BY ALL ORDER BY t.task"""
    )


def list_studies(store: PolicyStore, task: str | None = None) -> list[dict[str, Any]]:
    """Every study (of one task, if given) with its size, source and content hash."""
    return store.fetch_dicts(
        """SELECT study, task, n_trials AS trials, n_points AS points, source,
                  left(content_hash, 12) AS content_hash, ingested_at
           FROM studies WHERE ? IS NULL OR task = ? ORDER BY task, study""",
        [task, task],
    )


def describe_task(store: PolicyStore, task: str) -> dict[str, Any]:
    """A task, its studies and its meta-features."""
    rows = [r for r in list_tasks(store) if r["task"] == task]
    if not rows:
        raise NotFoundError(f"no task {task!r} in the store; `policy-store tasks` lists them")
    info = rows[0]
    info["study_ids"] = [r["study"] for r in list_studies(store, task)]
    info["meta_feature_values"] = {
        r["feature"]: r["value"]
        for r in store.fetch_dicts("SELECT feature, value FROM meta_features WHERE task = ? ORDER BY feature", [task])
    }
    return info


def describe_study(store: PolicyStore, study: str) -> dict[str, Any]:
    """A study, its trials (state, steps, final value, cost) and its best trial."""
    rows = store.fetch_dicts(
        """SELECT s.study, s.task, t.direction, t.metric, s.n_trials AS trials, s.n_points AS points,
                  s.source, s.content_hash, s.ingested_at
           FROM studies s JOIN tasks t USING (task) WHERE s.study = ?""",
        [study],
    )
    if not rows:
        raise NotFoundError(f"no study {study!r} in the store; `policy-store studies` lists them")
    info = rows[0]
    order = "DESC" if info["direction"] == "maximize" else "ASC"
    info["trial_rows"] = store.fetch_dicts(
        f"""SELECT trial, trial_number, state, n_steps AS steps, final_step, final_value, cost_seconds, params
            FROM trials WHERE study = ?
            ORDER BY CASE WHEN isnan(final_value) THEN 1 ELSE 0 END, final_value {order}, trial_number""",  # noqa: S608
        [study],
    )
    finished = [r for r in info["trial_rows"] if r["state"] == "COMPLETE"]
    info["best_trial"] = finished[0]["trial"] if finished else None
    return info


def store_summary(store: PolicyStore) -> dict[str, Any]:
    """Where the store is, its schema version and its row counts per table."""
    return {"location": store.location, "schema_version": store.schema_version, "rows": store.row_counts()}
