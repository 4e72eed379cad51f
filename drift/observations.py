"""One observation per study per rule version: what the drift monitors watch.

A study replayed under five trial orders is still one study: five correlated
outcomes fed to a detector tuned for one per study are five times the false
alarms. So each study gives one observation of a metric: the live outcome if
the rule ran live on it, else the mean over its replay orders (their standard
deviation is kept as ``spread``). Observations are ordered by the study's
ingestion time, the order in which studies finish.

Regret is *relative*, in the unit the meta-learner uses: a maximised metric's
regret as it is (accuracy points as a fraction), a minimised metric's divided by
the study's median absolute final value (so a loss of 0.3 and one of 300 give
comparable figures); see ``policy_store.curves.regret_scale``, whose
rule :data:`REGRET_SCALE_SQL` restates in SQL so the window never leaves the database.

A version's observations split in two: its *history* (studies ingested up to
the version's creation: what it was tuned or calibrated on) and its *window*
(studies ingested after: what it is monitored on). Replaying an old study with
a newer version therefore never puts that study into the newer version's window.

>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.ingest import ingest_frame
>>> from policy_store.replay import evaluate
>>> from policy_store.rules import add_rule_version
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0, 1, 1, 2, 2],
...                       "step": [0, 1] * 3, "value": [1.0, 0.9, 1.2, 1.1, 0.5, 0.4]})
>>> with PolicyStore.memory() as store:
...     _ = add_rule_version(store, "m", {"strategy": "median", "params": {"n_startup_trials": 1}}, created_by="doc")
...     _ = ingest_frame(store, frame, direction="minimize")
...     _ = evaluate(store, "m", orders=3)
...     obs = study_observations(store, "m", 1, "regret")
...     obs[["study", "n_orders", "in_window"]].values.tolist()
[['s', 3, True]]
"""

from __future__ import annotations

import pandas as pd
from policy_store.drift.rank_correlation import study_rank_correlations

from policy_store.choices import METRICS
from policy_store.errors import InvalidInputError
from policy_store.store import PolicyStore

# Metric -> SQL over ``outcomes`` (aliased o); identifiers only from here. ``rank_correlation`` is per study
# from curve_points. METRICS (policy_store.choices, light for the CLI) names these keys, then rank_correlation.
OUTCOME_METRICS = {
    "regret": "o.regret / coalesce(sc.scale, 1.0)",
    "killed_best": "CAST(o.killed_best AS DOUBLE)",
    "false_prune_rate": "o.audit_false_prune_rate",
    "compute_saved": "o.compute_saved",
}

#: Which way each metric goes when a rule gets worse: monitors watch that side only.
WORSE = {"regret": 1.0, "killed_best": 1.0, "false_prune_rate": 1.0, "compute_saved": -1.0, "rank_correlation": -1.0}

#: Per study: 1 for a maximised metric, else the median |final value| of its trials (1 if that is 0).
REGRET_SCALE_SQL = (
    "SELECT t.study, CASE WHEN any_value(k.direction) = 'minimize' "
    "THEN coalesce(nullif(median(abs(t.final_value)), 0), 1.0) ELSE 1.0 END AS scale "
    "FROM trials t JOIN studies s ON s.study = t.study JOIN tasks k ON k.task = s.task "
    "WHERE t.final_value IS NOT NULL AND isfinite(t.final_value) GROUP BY t.study"
)

COLUMNS = ["study", "task", "ingested_at", "value", "spread", "n_orders", "live", "in_window"]


def study_observations(
    store: PolicyStore,
    rule: str,
    version: int,
    metric: str,
    *,
    tasks: tuple[str, ...] | None = None,
    since: object | None = None,
    early_fraction: float = 0.25,
) -> pd.DataFrame:
    """One row per study the version has outcomes on, oldest ingestion first.

    Parameters
    ----------
    store:
        The store to read.
    rule, version:
        The rule version watched.
    metric:
        One of :data:`~policy_store.choices.METRICS`.
    tasks:
        Only these tasks (default: all).
    since:
        Only studies ingested at or after this time (a change point).
    early_fraction:
        Early step of the rank correlation.

    Returns
    -------
    pandas.DataFrame
        Columns ``study, task, ingested_at, value, spread, n_orders, live, in_window``:
        ``value`` the live outcome or the replay orders' mean, ``spread`` their standard
        deviation (0 for one order or live), ``in_window`` whether the study was ingested
        after the version was created.
    """
    if metric not in METRICS:
        raise InvalidInputError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}", field="metric")
    expr = OUTCOME_METRICS.get(metric, "0.0")
    clauses = ["o.rule = $rule", "o.version = $version", f"({expr}) IS NOT NULL"]
    params: dict[str, object] = {"rule": rule, "version": version}
    if tasks is not None:
        clauses.append("list_contains($tasks, o.task)")
        params["tasks"] = list(tasks)
    if since is not None:
        clauses.append("s.ingested_at >= $since")
        params["since"] = since
    scale = f"LEFT JOIN ({REGRET_SCALE_SQL}) sc ON sc.study = o.study" if metric == "regret" else ""
    # Only constant fragments are interpolated; every value is bound.
    sql = f"""
        WITH per AS (
            SELECT o.study, any_value(o.task) AS task, any_value(s.ingested_at) AS ingested_at,
                   avg({expr}) FILTER (WHERE o.mode = 'live') AS live_value,
                   avg({expr}) FILTER (WHERE o.mode = 'replay') AS replay_value,
                   coalesce(stddev_pop({expr}) FILTER (WHERE o.mode = 'replay'), 0.0) AS replay_spread,
                   count(*) FILTER (WHERE o.mode = 'replay') AS n_orders
            FROM outcomes o JOIN studies s ON s.study = o.study
            {scale}
            WHERE {' AND '.join(clauses)}
            GROUP BY o.study
        )
        SELECT per.study, per.task, per.ingested_at,
               coalesce(live_value, replay_value) AS value,
               CASE WHEN live_value IS NULL THEN replay_spread ELSE 0.0 END AS spread,
               CAST(n_orders AS INTEGER) AS n_orders, live_value IS NOT NULL AS live,
               per.ingested_at > (SELECT created_at FROM rule_versions WHERE rule = $rule AND version = $version)
                   AS in_window
        FROM per ORDER BY per.ingested_at, per.study
    """  # noqa: S608
    frame = store.fetch_df(sql, params)
    if metric == "rank_correlation":
        rho = study_rank_correlations(store, frame["study"].tolist(), early_fraction=early_fraction)
        frame["value"] = frame["study"].map(rho).astype("float64")
        frame["spread"] = 0.0
        frame = frame.dropna(subset=["value"]).reset_index(drop=True)
    frame["in_window"] = frame["in_window"].fillna(False).astype(bool)
    return frame[COLUMNS]
