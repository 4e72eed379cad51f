"""``copy SRC DST``: copy a whole store between locations (embedded file <-> DuckLake), verified per table."""

from __future__ import annotations

import argparse
import sys

from policy_store.cli._common import add_json_flag, print_json, print_table


def _copy(args: argparse.Namespace) -> int:
    from policy_store.copy import copy_store  # tqdm and the store: not for `--help`

    progress = not args.json and sys.stderr.isatty()
    report = copy_store(args.source, args.destination, replace=args.replace, progress=progress)
    if args.json:
        print_json(report.to_dict())
        return 0
    rows = [
        {"table": t, "action": a, "rows": fp.rows, "content_hash": fp.content_hash}
        for t, a in report.actions.items()
        for fp in [report.fingerprints[t]]
    ]
    print_table(rows)
    print(f"\n{report.source} -> {report.destination}: {report.summary()}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "copy",
        help="copy a whole store to another location (file <-> DuckLake), verified by row counts and hashes",
        description="Copy every table of SRC into DST (created if needed) in one transaction, each table verified. "
        "An interrupted copy leaves DST as it was; tables already equal are skipped, so rerunning is a no-op. "
        "Locations as for --store (paths or ducklake:postgres:...?data_path=...).",
    )
    p.add_argument("source", metavar="SRC", help="store to copy from (opened read-only)")
    p.add_argument("destination", metavar="DST", help="store to copy into")
    p.add_argument("--replace", action="store_true", help="overwrite DST tables that hold different rows")
    add_json_flag(p)
    p.set_defaults(handler=_copy)
