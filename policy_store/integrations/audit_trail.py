"""Reading the live audit trail: why was this trial pruned, by which rule version?

>>> from policy_store import PolicyStore
>>> from policy_store.store import utcnow
>>> with PolicyStore.memory() as store:
...     for step, verdict, reason in ((0, "continue", "startup: 2 COMPLETE trials < n_startup_trials=5"),
...                                   (1, "prune", "best 0.8 > p50 0.5 of 6 COMPLETE trials at step 1")):
...         _ = store.execute("INSERT INTO decisions VALUES (?, 's', '7', 7, ?, 0.8, 0.5, 6, ?, ?, 'median', 2, "
...                           "'h', 'live', NULL, ?)", [f"d{step}", step, verdict, reason, utcnow()])
...     print(explain_trial(store, "s", "7")["line"])
trial 7 of study 's' was pruned at step 1 by median@2: best 0.8 > p50 0.5 of 6 COMPLETE trials at step 1
"""

from __future__ import annotations

from typing import Any

from policy_store.errors import NotFoundError
from policy_store.store import PolicyStore

_AUDIT = "audit: would prune"


def trial_decisions(store: PolicyStore, study: str, trial: str | int) -> list[dict[str, Any]]:
    """Every live decision of one trial, in the order they were made."""
    return store.fetch_dicts(
        "SELECT decision_id, step, value, threshold, ref_size, verdict, reason, rule, version, spec_hash, decided_at "
        "FROM decisions WHERE study = ? AND trial = ? AND mode = 'live' ORDER BY decided_at, step",
        [study, str(trial)])


def explain_trial(store: PolicyStore, study: str, trial: str | int) -> dict[str, Any]:
    """Why a trial was (or was not) pruned, as one line and as fields.

    Returns
    -------
    dict
        ``outcome`` (``pruned``, ``audited`` — the rule wanted to prune it but it
        ran on — or ``not pruned``), the deciding ``step``, ``value``,
        ``threshold``, ``ref_size``, ``rule``/``version``, ``reason``,
        ``decided_at``, ``n_decisions``, ``switch`` (when an adaptive study
        switched to that version: why) and ``line``.

    Raises
    ------
    NotFoundError
        No live decision is recorded for that trial.
    """
    rows = trial_decisions(store, study, trial)
    if not rows:
        raise NotFoundError(f"no live decision recorded for trial {trial!r} of study {study!r}; "
                            "absorb the workers' spool first (`policy-store absorb SPOOL_DIR`)")
    pruned = [r for r in rows if r["verdict"] == "prune"]
    shadow = [r for r in rows if str(r["reason"]).startswith(_AUDIT)]
    d = (pruned or shadow or rows)[-1 if not (pruned or shadow) else 0]
    outcome = "pruned" if pruned else "audited" if shadow else "not pruned"
    head = f"trial {trial} of study {study!r}"
    by = f"{d['rule']}@{d['version']}"
    if outcome == "pruned":
        line = f"{head} was pruned at step {d['step']} by {by}: {d['reason']}"
    elif outcome == "audited":
        line = (f"{head} was audited: {by} would have pruned it at step {d['step']} "
                f"({d['reason'].split(': ', 2)[-1]}), it ran on")
    else:
        line = f"{head} was not pruned by {by} in {len(rows)} decisions; last at step {d['step']}: {d['reason']}"
    switch = _switch_reason(store, d["rule"], d["version"])
    if switch:
        line += f" ({by} came from {switch})"
    return {"study": study, "trial": str(trial), "outcome": outcome, "step": d["step"], "value": d["value"],
            "threshold": d["threshold"], "ref_size": d["ref_size"], "rule": d["rule"], "version": d["version"],
            "spec_hash": d["spec_hash"], "reason": d["reason"], "decided_at": d["decided_at"],
            "n_decisions": len(rows), "switch": switch, "line": line}


def _switch_reason(store: PolicyStore, rule: str, version: int | None) -> str | None:
    """The reason of a version an adaptive study switched to, or of a recommended one (its study descriptors and
    the safety floor's verdict); None for any other version."""
    if version is None:
        return None
    rows = store.fetch_dicts("SELECT reason FROM rule_versions WHERE rule = ? AND version = ?", [rule, version])
    reason = rows[0]["reason"] if rows else None
    return reason if reason and reason.startswith(("adaptive switch", "recommendation ")) else None
