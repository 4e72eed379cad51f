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

``--live`` instead times what the budget guard adds to ``StorePruner``'s ``should_prune``
(:mod:`policy_store.integrations.budget_guard`: the memory attribute written and ``getrusage``, plus
the step timing and budget sums with a time budget), against the same pruner with the guard passed by,
interleaved in one run (CPU time per call, 30 trials x 20 steps, in-memory Optuna storage).

``--writes`` counts what the guard writes to an RDB storage at each report of one 200-step trial (``--steps``)
(a sqlite file, ``should_prune`` only): SQL writes and the bytes of their bound parameters per report,
and the CPU time of the call, early and late in the trial.
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


def _live_overhead(rounds: int = 5) -> None:
    import tempfile

    import optuna

    from policy_store import PolicyStore
    from policy_store.integrations import StorePruner
    from policy_store.integrations.budget_guard import LiveBudget
    from policy_store.rules import add_rule_version

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    path = tempfile.mkdtemp() + "/store.duckdb"
    specs = {"median": {"strategy": "median"},
             "median + budgets": {"strategy": "median", "safeguards": {"trial_memory_mb": 1e6,
                                                                       "study_budget_seconds": 1e9}}}
    with PolicyStore(path) as store:
        for name, spec in specs.items():
            add_rule_version(store, name.replace(" + ", "-"), spec, created_by="bench")
    rng = np.random.default_rng(0)
    curves = rng.uniform(0, 1, (30, 20)).cumsum(axis=1)
    times: dict[tuple[str, bool], list[float]] = {}
    passed_by = LiveBudget.decide

    def through(self, study, view, trial, decide):
        return decide(view, trial)

    for _ in range(rounds):
        for name in specs:
            for guarded in (True, False):
                LiveBudget.decide = passed_by if guarded else through
                pruner = StorePruner(path, task="t", rule=name.replace(" + ", "-"))
                study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(0))
                calls = times.setdefault((name, guarded), [])
                for row in curves:
                    trial = study.ask()
                    for step, value in enumerate(row):
                        trial.report(float(value), step)
                        started = time.process_time()
                        pruned = trial.should_prune()
                        calls.append(time.process_time() - started)
                        if pruned:
                            break
                    study.tell(trial, float(row[-1]))
                pruner.close()
    LiveBudget.decide = passed_by
    print("| rule | guard | calls | CPU p50 us | mean us |\n| --- | --- | ---: | ---: | ---: |")
    for (name, guarded), t in times.items():
        us = np.array(t) * 1e6
        print(f"| {name} | {'on' if guarded else 'passed by'} | {len(us)} | {np.median(us):.1f} | {us.mean():.1f} |")


def _storage_writes(steps: int = 200) -> None:
    import json
    import tempfile

    import optuna
    from sqlalchemy import event

    import policy_store
    from policy_store import PolicyStore
    from policy_store.integrations import StorePruner
    from policy_store.rules import add_rule_version

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    root = tempfile.mkdtemp()
    path = root + "/store.duckdb"
    specs = {"median": {"strategy": "median"},
             "median-time-budget": {"strategy": "median", "safeguards": {"study_budget_seconds": 1e9}}}
    with PolicyStore(path) as store:
        for name, spec in specs.items():
            add_rule_version(store, name, spec, created_by="bench")
    print(f"policy_store from {policy_store.__file__}; one trial of {steps} steps, sqlite storage")
    print("| rule | SQL writes / report | bytes / report: step 0 "
          f"| step {steps // 2 - 1} | step {steps - 1} | bytes, whole trial "
          f"| CPU ms / call, p50: steps 0-49 | steps {steps - 50}-{steps - 1} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in specs:
        pruner = StorePruner(path, task="t", rule=name, spool_dir=root + "/spool")
        study = optuna.create_study(storage=f"sqlite:///{root}/{name}.db", pruner=pruner)
        per_report: list[list[int]] = []
        counting = [False]

        def count(conn, cursor, statement, parameters, context, executemany, *, per_report=per_report,
                   counting=counting):
            if counting[0] and statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                per_report[-1][0] += 1
                per_report[-1][1] += len(json.dumps(parameters, default=str))

        event.listen(study._storage._backend.engine, "before_cursor_execute", count)
        trial, ms = study.ask(), []
        for step in range(steps):
            trial.report(1.0 / (step + 1), step)
            per_report.append([0, 0])
            counting[0] = True
            started = time.process_time()
            trial.should_prune()
            ms.append((time.process_time() - started) * 1e3)
            counting[0] = False
        study.tell(trial, 0.0)
        pruner.close()
        w = np.array(per_report)
        print(f"| {name} | {w[:, 0].mean():.2f} | {w[0, 1]} | {w[steps // 2 - 1, 1]} | {w[-1, 1]} | {w[:, 1].sum():,} "
              f"| {np.median(ms[:50]):.2f} | {np.median(ms[-50:]):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", help="long-format Parquet with cost_seconds and peak_memory_mb")
    parser.add_argument("--live", action="store_true", help="time the budget guard in StorePruner instead")
    parser.add_argument("--writes", action="store_true", help="count what the guard writes to a sqlite storage")
    parser.add_argument("--steps", type=int, default=200, help="steps of the trial --writes runs")
    parser.add_argument("--orders", type=int, default=3)
    parser.add_argument("--memory-quantile", type=float, default=0.9)
    parser.add_argument("--budget-quantile", type=float, default=0.5)
    args = parser.parse_args()
    if args.live:
        _live_overhead()
        return
    if args.writes:
        _storage_writes(args.steps)
        return
    if not args.corpus:
        parser.error("give the corpus (or --live)")
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
