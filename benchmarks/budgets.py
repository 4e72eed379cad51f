"""Budgeted vs unbudgeted rules on an HPO corpus with measured memory (issue 24).

Replays (exact engine, :func:`policy_store.replay.evaluate.replay_outcomes`) each base rule
unbudgeted and with budgets in its spec: a per-trial memory cap, a study compute budget, and
both. The cap is the ``--memory-quantile`` of the trials' peak memory over the corpus; the study
budget the ``--budget-quantile`` of what the unbudgeted base rule spends per study (one budget in
seconds for every study, as a team would set it: cheap studies never meet it). Per rule: compute
spent (CPU seconds, summed over studies, mean over orders), compute saved, mean relative regret
(:func:`policy_store.curves.regret_scale`), killed-best rate, the mean and largest per-study peak
memory the rule let run, trials capped and studies the budget stopped; the ratio is compute spent
against the unbudgeted base rule, measured side by side in one run.

The corpus needs memory: generate a slice with the generator that measures it (resumable)::

    nice policy-store datasets generate-hpo --datasets iris,wine,breast_cancer,diabetes,penguins,boston \\
        --studies 3 --cache ~/.cache/policy-store/hpo-memory --out ~/.cache/policy-store/hpo-memory/slice.parquet
    python benchmarks/budgets.py ~/.cache/policy-store/hpo-memory/slice.parquet
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from policy_store.curves import curves_from_frame, regret_scale
from policy_store.replay.evaluate import replay_outcomes
from policy_store.rules import RuleSpec

BASES = {
    "median": {"strategy": "median"},
    "sh-r2-min4": {"strategy": "successive_halving", "params": {"reduction_factor": 2, "min_resource": 4}},
}


def _table(out: pd.DataFrame, names: list[str], scales: dict[str, float]) -> pd.DataFrame:
    out = out.assign(rule=[names[i] for i in out["spec_index"]],
                     rel_regret=out["regret"] / out["study"].map(scales))
    per = out.groupby(["rule", "order_seed"]).agg(
        compute_spent_s=("cost_spent", "sum"), compute_saved=("compute_saved", "mean"),
        regret=("rel_regret", "mean"), killed_best=("killed_best", "mean"),
        peak_memory_mb=("peak_memory_mb", "mean"), max_memory_mb=("peak_memory_mb", "max"),
        trials_capped=("trials_capped", "mean"), stopped=("budget_stopped_at", lambda s: s.notna().mean()))
    return per.groupby("rule", sort=False).mean().reindex(names)


def _markdown(table: pd.DataFrame) -> str:
    head = ["rule", *table.columns]
    rows = [[str(i), *(f"{v:.4g}" for v in r)] for i, r in zip(table.index, table.to_numpy(), strict=True)]
    return "\n".join("| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head), *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="long-format Parquet with cost_seconds and peak_memory_mb")
    parser.add_argument("--orders", type=int, default=3)
    parser.add_argument("--memory-quantile", type=float, default=0.9)
    parser.add_argument("--budget-quantile", type=float, default=0.5)
    args = parser.parse_args()
    frame = pd.read_parquet(args.corpus)
    frame = frame[frame["peak_memory_mb"].notna()]
    curves = [c for c in curves_from_frame(frame) if c.cost_known]
    scales = {c.study: regret_scale(c) for c in curves}
    trial_peaks = np.concatenate([np.nanmax(c.memory, axis=1) for c in curves])
    cap = float(np.quantile(trial_peaks, args.memory_quantile))
    orders = list(range(args.orders))
    print(f"{len(curves)} studies, {sum(c.n_trials for c in curves)} trials, {len(frame):,} points; "
          f"trial peak memory {trial_peaks.min():.0f}-{trial_peaks.max():.0f} MB, cap {cap:.0f} MB "
          f"(quantile {args.memory_quantile:g})")
    for base, spec in BASES.items():
        started = time.perf_counter()
        plain, _ = replay_outcomes(curves, [RuleSpec.parse(spec)], orders)
        budget = float(np.quantile(plain["cost_spent"], args.budget_quantile))
        budgets = {"": {}, f" + memory cap {cap:.0f} MB": {"trial_memory_mb": cap},
                   f" + study budget {budget:.2f} s": {"study_budget_seconds": budget},
                   " + both": {"trial_memory_mb": cap, "study_budget_seconds": budget}}
        names = [base + k for k in budgets]
        specs = [RuleSpec.parse({**spec, "safeguards": b}) for b in budgets.values()]
        out, _ = replay_outcomes(curves, specs, orders)
        table = _table(out, names, scales)
        table["spent_ratio"] = table["compute_spent_s"] / table["compute_spent_s"].iloc[0]
        print(f"\n{base}: study budget {budget:.2f} s (quantile {args.budget_quantile:g} of its spend per study); "
              f"{time.perf_counter() - started:.1f} s")
        print(_markdown(table))


if __name__ == "__main__":
    main()
