"""The distribution of halted configurations: parameters (and final values) of pruned against surviving trials.

For one study and the run the report draws first (live decisions before replays,
the newest first), each trial's recorded ``params`` are split by that run's
verdict. Numeric parameters are drawn as strips, one per parameter; every
parameter is summarised in a table (median of numbers, most common of the rest).
It answers whether a rule halts a region of the search space (a risk it takes)
or the slow and the poor alike (speed).

>>> _summary([0.1, 0.3, 0.2]), _summary(["adam", "sgd", "adam"]), _summary([])
('0.2', 'adam (2 of 3)', '–')
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from typing import Any

from policy_store.dashboard.plots import Strip, strips
from policy_store.errors import NotFoundError
from policy_store.reports._base import MISSING, Column, Figure, Section, Table
from policy_store.reports.decisions import study_decisions
from policy_store.reports.filters import ReportFilter
from policy_store.store import PolicyStore

#: Most parameters drawn and listed (those most trials set).
MAX_PARAMS = 16

_COLUMNS = (
    Column("param", "parameter"), Column("pruned_n", "pruned trials", "int"), Column("pruned", "pruned: median / mode"),
    Column("survived_n", "surviving trials", "int"), Column("survived", "survived: median / mode"),
)


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _summary(values: list[Any]) -> str:
    if not values:
        return MISSING
    numbers = [_number(v) for v in values]
    if all(n is not None for n in numbers):
        return f"{statistics.median(numbers):.4g}"
    value, count = Counter(map(str, values)).most_common(1)[0]
    return f"{value} ({count} of {len(values)})"


def pick_study(store: PolicyStore) -> str | None:
    """The study with the most prune decisions that has recorded parameters (the default of the page)."""
    return store.scalar(
        "SELECT d.study FROM decisions d WHERE d.verdict = 'prune' AND EXISTS (SELECT 1 FROM trials t "
        "WHERE t.study = d.study AND t.params IS NOT NULL AND t.params <> '{}') "
        "GROUP BY d.study ORDER BY count(*) DESC, d.study LIMIT 1")


def halted_section(store: PolicyStore, study: str | None) -> Section:
    """Pruned against surviving trials of ``study`` (default: :func:`pick_study`), per parameter."""
    section = Section(key="halted", title="Halted configurations")
    study = study or pick_study(store)
    if study is None:
        section.empty = ("No study has both pruning decisions and recorded trial parameters yet (a live study's "
                         "parameters are recorded when it finishes).")
        return section
    trials = {r["trial"]: r for r in store.fetch_dicts(
        "SELECT trial, params, final_value FROM trials WHERE study = ?", [study])}
    if not trials:
        raise NotFoundError(f"no recorded trials of study {study!r} (a running study's trials are recorded when it "
                            "finishes)")
    rows = study_decisions(store, ReportFilter(), study)
    if not rows:
        section.empty = f"No pruning decisions recorded for study {study}."
        return section
    run = (rows[0]["rule_version"], rows[0]["mode"])
    verdicts = {r["trial"]: r for r in rows if (r["rule_version"], r["mode"]) == run}
    split: dict[str, dict[bool, list[tuple[Any, str]]]] = {}
    for trial, t in trials.items():
        d = verdicts.get(trial)
        if d is None:
            continue
        pruned = d["verdict"] == "prune"
        params = json.loads(t["params"]) if t["params"] else {}
        values = {"final value": t["final_value"], **(params if isinstance(params, dict) else {})}
        for name, v in values.items():
            where = f"at step {d['step']}" if pruned else "ran to the end"
            split.setdefault(name, {True: [], False: []})[pruned].append((v, f"trial {trial}: {name} = {v} "
                                                                             f"({'pruned ' if pruned else ''}{where})"))
    names = sorted(split, key=lambda n: (n != "final value", -sum(map(len, split[n].values())), n))[:MAX_PARAMS]
    table = [{"param": n, "pruned_n": len(split[n][True]), "pruned": _summary([v for v, _ in split[n][True]]),
              "survived_n": len(split[n][False]), "survived": _summary([v for v, _ in split[n][False]])}
             for n in names]
    numeric = [n for n in names if all(_number(v) is not None for side in split[n].values() for v, _ in side)]
    section.intro = (f"Study {study}, decided by {run[0]} ({run[1]}): each trial's parameters, split by whether "
                     f"the rule pruned it. {sum(d['verdict'] == 'prune' for d in verdicts.values())} of "
                     f"{len(verdicts)} trials were pruned.")
    if numeric:
        section.figures.append(Figure("halted_strips", strips([Strip(
            n, [float(v) for v, _ in split[n][True]], [float(v) for v, _ in split[n][False]],
            [t for _, t in split[n][True]], [t for _, t in split[n][False]]) for n in numeric]),
            "Numeric parameters and the final value: pruned trials (upper row) and survivors (lower row). "
            "Hover a dot for its trial."))
    section.tables.append(Table("halted_params", "Parameters of pruned and surviving trials", _COLUMNS, table))
    return section
