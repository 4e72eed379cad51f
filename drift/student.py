"""Student's t quantile, the one critical value every drift bound starts from.

Confirmation (Welch), the promotion's paired bounds (never below Student's for one candidate) and re-tuning's
ranking upper bound all take it; SciPy is imported on the first call only (drift commands that compute no bound
do not pay for it).

>>> round(student_quantile(0.95, 14), 3), round(student_quantile(0.9, 0), 3)
(1.761, 3.078)
"""

from __future__ import annotations


def student_quantile(confidence: float, dof: float) -> float:
    """The ``confidence`` quantile of Student's t with ``dof`` degrees of freedom (at least 1).

    Parameters
    ----------
    confidence:
        One-sided level, in (0, 1).
    dof:
        Degrees of freedom; fewer than 1 (a bound from one study) is taken as 1.
    """
    from scipy import stats

    return float(stats.t.ppf(confidence, max(dof, 1)))
