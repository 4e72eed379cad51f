"""The ``report`` command: write the cross-task report (HTML, Markdown, CSV) into a folder."""

from __future__ import annotations

import argparse

from policy_store.choices import DEFAULT_OUT_DIR, DEFAULT_REGRET_WEIGHT
from policy_store.cli._common import add_json_flag, open_store, print_json


def _report(args: argparse.Namespace) -> int:
    # Imported here so that `policy-store --help` does not pay for pandas.
    from policy_store.reports import report

    with open_store(args, read_only=True) as store:
        files = report(store, args.out, tasks=args.task or (), rules=args.rule or (), study=args.study,
                       regret_weight=args.regret_weight)
    if args.json:
        print_json(files.to_dict())
    else:
        print(f"report written: {files.html}")
        print(f"  also {files.markdown.name} and {len(files.csv)} CSV files in {files.html.parent}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the cross-task report: report.html (offline, inline SVG plots), report.md and CSV files",
        description="Write report.html (one self-contained page: no scripts, no network), report.md with the "
        "same tables, and one CSV per table into --out. Reads the store only.",
    )
    p.add_argument("--out", default=DEFAULT_OUT_DIR, metavar="DIR",
                   help=f"output folder (default: ./{DEFAULT_OUT_DIR}/)")
    p.add_argument("--task", action="append", metavar="TASK", help="only this task (repeatable)")
    p.add_argument("--rule", action="append", metavar="NAME[@N]", help="only this rule or rule version (repeatable)")
    p.add_argument("--study", help="the study whose pruning decisions section 4 draws (default: the busiest)")
    p.add_argument("--regret-weight", type=float, default=DEFAULT_REGRET_WEIGHT, metavar="LAMBDA",
                   help=f"λ in utility = compute saved − λ·regret (default: {DEFAULT_REGRET_WEIGHT:g})")
    add_json_flag(p)
    p.set_defaults(handler=_report)
