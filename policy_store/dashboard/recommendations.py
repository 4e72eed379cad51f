"""Recommendations as the store records them: descriptors, expected outcome with its interval, why, fallbacks.

One page of recommendations at a time, newest first. What a row shows is what
``recommend`` wrote: the meta-features it was given or computed (descriptors),
the expected compute saved and regret with their 10-90 % interval, the nearest
past tasks, the trade-off, and the fallback a cold start took. Above them the
report's own section compares each task's latest expectation with its outcomes.

>>> _interval({"mean": 0.4, "low": 0.3, "high": 0.5}), _interval(0.2), _interval(None)
('0.4 [0.3, 0.5]', '0.2', '–')
"""

from __future__ import annotations

import json
from typing import Any

from policy_store.reports._base import MISSING, Column, Section, Table
from policy_store.store import PolicyStore

#: Recommendations per page.
PAGE_SIZE = 25
#: Descriptors named per recommendation (the most are listed by count).
DESCRIPTORS = 6
#: Shown for a recommendation ``recommend`` recorded as a cold start (the note it returns with it).
COLD_START = "cold start: no meta-model in the store; policy-store's documented default rule"

_COLUMNS = (
    Column("created_at", "when", "time"), Column("task", "task"), Column("recommended", "recommended rule"),
    Column("fallback", "fallback"), Column("descriptors", "descriptors"),
    Column("expected_saved", "expected saved [10-90 %]"), Column("expected_regret", "expected regret [10-90 %]"),
    Column("killed_best", "expected killed best", "pct"), Column("neighbours", "nearest past tasks"),
    Column("trade_off", "trade-off"), Column("model_id", "model"),
)


def _load(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _interval(v: Any) -> str:
    if isinstance(v, dict) and "mean" in v:
        low, high = v.get("low"), v.get("high")
        bounds = f" [{low:.4g}, {high:.4g}]" if low is not None and high is not None else ""
        return f"{v['mean']:.4g}{bounds}"
    return f"{v:.4g}" if isinstance(v, int | float) and not isinstance(v, bool) else MISSING


def _spec(spec: Any) -> str:
    if not isinstance(spec, dict):
        return MISSING
    params = ", ".join(f"{k}={v}" for k, v in sorted((spec.get("params") or {}).items()))
    return f"{spec.get('strategy', '?')}({params})"


def _descriptors(inputs: dict[str, Any]) -> str:
    feats = inputs.get("meta_features") or {}
    if not isinstance(feats, dict) or not feats:
        return "none"
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, int | float) else f"{k}={v}"
                      for k, v in sorted(feats.items())[:DESCRIPTORS])
    return f"{len(feats)}: {shown}{', …' if len(feats) > DESCRIPTORS else ''}"


def _neighbours(items: Any) -> str:
    parts = []
    for n in items or []:
        if isinstance(n, dict):
            best = f", best {n['best_rule']}" if n.get("best_rule") else ""
            parts.append(f"{n.get('task', '?')} ({n.get('distance', '?')}{best})")
    return "; ".join(parts) or MISSING


def recommendation_rows(store: PolicyStore, page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of recommendations (newest first) and the total count."""
    total = int(store.scalar("SELECT count(*) FROM recommendations"))
    recs = store.fetch_dicts(
        "SELECT task, model_id, inputs, spec, expected, neighbours, created_at FROM recommendations "
        "ORDER BY created_at DESC, recommendation_id LIMIT ? OFFSET ?", [PAGE_SIZE, (page - 1) * PAGE_SIZE])
    rows = []
    for r in recs:
        inputs, expected = _load(r["inputs"]) or {}, _load(r["expected"]) or {}
        rows.append({
            "created_at": r["created_at"], "task": r["task"] or MISSING, "recommended": _spec(_load(r["spec"])),
            "expected_saved": _interval(expected.get("compute_saved")),
            "expected_regret": _interval(expected.get("regret")), "killed_best": expected.get("killed_best_rate"),
            "descriptors": _descriptors(inputs), "neighbours": _neighbours(_load(r["neighbours"])),
            "trade_off": ", ".join(f"{k}={v}" for k, v in (inputs.get("trade_off") or {}).items()) or MISSING,
            "fallback": COLD_START if inputs.get("cold_start") else "", "model_id": r["model_id"] or MISSING,
        })
    return rows, total


def recommendations_section(store: PolicyStore, page: int) -> tuple[Section, int]:
    """The page's recommendations as one table, and how many the store holds."""
    rows, total = recommendation_rows(store, page)
    section = Section(key="recommendations", title="Recommendations",
                      intro=f"{total} recommendations recorded; newest first, {PAGE_SIZE} per page.")
    if not total:
        section.empty = "No recommendations recorded yet: `policy-store recommend` writes them."
        return section, total
    section.tables.append(Table("recommendations_page", f"Page {page}", _COLUMNS, rows,
                                note="" if rows else "No recommendations on this page."))
    return section, total
