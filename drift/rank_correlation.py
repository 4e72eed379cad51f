"""Early-vs-final rank correlation of a study's learning curves, computed in SQL.

Every pruner assumes that a trial's rank early in training predicts its rank at
the end. This module measures that assumption per study: Spearman's rho between
each trial's value at the first step at or after ``early_fraction`` of the
study's largest step and its last recorded value, over the trials that reached
that early step (ties get average ranks, as in :func:`scipy.stats.spearmanr`).
Studies with fewer than three such trials, or constant values, get no value.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     store.execute(
...         "INSERT INTO curve_points VALUES "
...         "('s', 'a', 1, 0.5, NULL), ('s', 'a', 4, 0.9, NULL), "
...         "('s', 'b', 1, 0.4, NULL), ('s', 'b', 4, 0.7, NULL), "
...         "('s', 'c', 1, 0.6, NULL), ('s', 'c', 4, 0.8, NULL)"
...     ) and None
...     study_rank_correlations(store, ["s"], early_fraction=0.25)
{'s': 0.5}
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_store.drift._base import check_fraction

from policy_store.store import PolicyStore

# Spearman's rho as Pearson's r of average ranks; one pass over the studies' points.
_RANK_CORRELATION_SQL = """
WITH pts AS (
    SELECT study, trial, step, value FROM curve_points
    WHERE list_contains($studies, study) AND value IS NOT NULL AND isfinite(value)
),
bounds AS (SELECT study, max(step) AS max_step FROM pts GROUP BY study),
early AS (
    SELECT p.study, p.trial, arg_min(p.value, p.step) AS early_value
    FROM pts p JOIN bounds b ON p.study = b.study
    WHERE p.step >= $early_fraction * b.max_step
    GROUP BY p.study, p.trial
),
final AS (SELECT study, trial, arg_max(value, step) AS final_value FROM pts GROUP BY study, trial),
ranked AS (
    SELECT e.study,
        rank() OVER (PARTITION BY e.study ORDER BY e.early_value)
            + (count(*) OVER (PARTITION BY e.study, e.early_value) - 1) / 2.0 AS r_early,
        rank() OVER (PARTITION BY e.study ORDER BY f.final_value)
            + (count(*) OVER (PARTITION BY e.study, f.final_value) - 1) / 2.0 AS r_final
    FROM early e JOIN final f ON e.study = f.study AND e.trial = f.trial
)
SELECT study, corr(r_early, r_final) AS rho FROM ranked
GROUP BY study HAVING count(*) >= 3 AND corr(r_early, r_final) IS NOT NULL
ORDER BY study
"""


def study_rank_correlations(
    store: PolicyStore, studies: Sequence[str], *, early_fraction: float = 0.25
) -> dict[str, float]:
    """Spearman's rho between early and final trial values, per study.

    Parameters
    ----------
    store:
        The store holding ``curve_points``.
    studies:
        Studies to measure; unknown ones are absent from the result.
    early_fraction:
        The early step is the first at or after this fraction of the study's
        largest step, in (0, 1).

    Returns
    -------
    dict
        ``{study: rho}`` for the studies where rho is defined.
    """
    early_fraction = check_fraction("early_fraction", early_fraction)
    if not studies:
        return {}
    rows = store.execute(_RANK_CORRELATION_SQL, {"studies": list(studies), "early_fraction": early_fraction}).fetchall()
    return {study: float(rho) for study, rho in rows}
