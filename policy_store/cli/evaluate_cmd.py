"""``evaluate RULE[@VERSION]``: replay a rule version over recorded studies and record outcomes."""

from __future__ import annotations

import argparse
import sys

from policy_store.cli._common import add_json_flag, open_store, print_json, print_table
from policy_store.cli._parallel import add_backend_flags
from policy_store.parallel import jobs_for, parallel_backend

_COLUMNS = ["rule", "version", "task", "studies", "replays", "compute_saved", "regret", "killed_best_rate",
            "false_prune_rate", "trials_pruned", "compute_hours", "peak_memory_mb"]


def _evaluate(args: argparse.Namespace) -> int:
    # Imported here so that `policy-store --help` does not pay for the replay engine; the outcomes stay numpy
    # columns and the summary plain records, so the command does not import pandas either.
    from policy_store.replay import evaluate

    progress = not args.json and sys.stderr.isatty()
    with open_store(args) as store, parallel_backend(args.backend, args.scheduler):
        ev = evaluate(store, args.rules, tasks=args.task or None, studies=args.study or None, orders=args.orders,
                      n_jobs=jobs_for(args.backend, args.jobs), record_decisions=args.decisions, progress=progress)
    rows = ev.summary_rows()
    if args.json:
        print_json({"inserted": ev.inserted, "outcomes": ev.n_outcomes, "summary": rows})
        return 0
    print_table(rows, _COLUMNS if rows else None)
    print(f"\n{ev.n_outcomes} outcome(s), {ev.inserted} new in the store.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="replay rule versions over recorded studies and record outcomes")
    p.add_argument("rules", nargs="+", metavar="RULE[@VERSION]")
    p.add_argument("--task", action="append", metavar="T", help="only this task (repeatable)")
    p.add_argument("--study", action="append", metavar="S", help="only this study (repeatable)")
    p.add_argument("--orders", type=int, default=5, metavar="K", help="trial orders per study (default 5)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel workers (default 1; -1: all cores)")
    p.add_argument("--decisions", action="store_true", help="also record per-trial decisions")
    add_backend_flags(p)
    add_json_flag(p)
    p.set_defaults(handler=_evaluate)
