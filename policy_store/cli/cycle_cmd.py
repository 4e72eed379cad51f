"""``cycle STUDY_FILE``: ingest a finished study, record the rules' outcomes, run the drift monitors.

One process per finished study, for a post-study hook or a cron line; the
``recalibrate`` job (on its own schedule) acts on any drift it records. Exit 0
whether or not drift was found (the output says which), 1 on bad input (the
store is left as it was), 2 on a usage error.
"""

from __future__ import annotations

import argparse

from policy_store.cli._common import add_json_flag, open_store, print_json


def _cycle(args: argparse.Namespace) -> int:
    # Imported here so that `policy-store --help` does not pay for pandas and scipy.
    from policy_store.drift import run_cycle

    with open_store(args) as store:
        result = run_cycle(store, args.path, rules=args.rule or None, orders=args.orders, replace=args.replace,
                           arl=args.arl)  # fmt: skip
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"ingest: {result.ingest}")
    if not result.rules:
        print("no rule has recorded outcomes yet; name one with --rule to start recording its outcomes")
        return 0
    print(f"outcomes: {result.outcomes_written} new for {', '.join(result.rules)}")
    for c in result.checks:
        where = f"{c.monitor} of {c.rule}@{c.version}"
        if c.status == "drift":
            print(f"drift in {where}: changed from study {c.event.change_study}, alarm at {c.event.alarm_study} "
                  f"(statistic {c.statistic:.4g} > {c.threshold:.4g}); `policy-store recalibrate` will act on it")
        elif c.status == "warming up":
            print(f"warming up: {where} needs {c.needed} more {'study' if c.needed == 1 else 'studies'}")
        elif c.status == "waiting":
            print(f"waiting: {where} has a drift event the recalibration job has not settled")
        else:
            print(f"no drift in {where} ({c.n} studies watched, statistic {c.statistic:.3g} <= {c.threshold:.3g})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("cycle", help="ingest a finished study, record the rules' outcomes, run the drift "
                                            "monitors (one process per study)", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("path", metavar="STUDY_FILE", help="long-format CSV or Parquet of the finished study")
    p.add_argument("--rule", action="append", metavar="RULE[@N]",
                   help="evaluate this rule (repeatable; default: every rule with recorded outcomes)")
    p.add_argument("--orders", type=int, default=5, metavar="K", help="replay trial orders per study (default 5)")
    p.add_argument("--arl", type=float, default=1000.0, help="target studies per false alarm, per rule (default: 1000)")
    p.add_argument("--replace", action="store_true", help="replace a study whose id exists with different content")
    add_json_flag(p)
    p.set_defaults(handler=_cycle)
