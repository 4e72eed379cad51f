"""``policy-store demo``: the README's main job on the embedded default store."""

from __future__ import annotations

import argparse
import sys

from policy_store.cli._common import add_json_flag, open_store, print_json


def _demo(args: argparse.Namespace) -> int:
    from policy_store.demo import run_demo  # the store (duckdb): not for `--help`

    with open_store(args) as store:
        echo = (lambda _line: None) if args.json else print
        echo(f"store: {store.location} (every step below writes into it; rerunning is safe)\n")
        result = run_demo(store, echo=echo, out_dir=args.out, progress=not args.json and sys.stderr.isatty())
        result["store"] = store.location
    if args.json:
        print_json(result)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the main job on bundled real curves: ingest, evaluate, recommend, recalibrate, report",
    )
    p.add_argument("--out", default="reports-out", help="folder for the report (default: ./reports-out)")
    add_json_flag(p)
    p.set_defaults(handler=_demo)
