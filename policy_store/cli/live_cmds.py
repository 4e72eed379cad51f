"""Live-study commands: explain (why was this trial pruned) and absorb (spooled decisions into the store)."""

from __future__ import annotations

import argparse

from policy_store.cli._common import add_json_flag, open_store, print_json
from policy_store.integrations.audit_trail import explain_trial
from policy_store.integrations.spool import absorb_spool


def _explain(args: argparse.Namespace) -> int:
    with open_store(args, read_only=True) as store:
        info = explain_trial(store, args.study, args.trial)
    if args.json:
        print_json(info)
    else:
        print(info["line"])
    return 0


def _absorb(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        report = absorb_spool(store, args.spool_dir, remove=not args.keep)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explain", help="why a live trial was (or was not) pruned, by which rule version",
                              description="One line from the live audit trail: the deciding step, the rule "
                              "version, the value against its threshold and the reference-set size.")
    p.add_argument("study", help="the Optuna study name")
    p.add_argument("trial", help="the trial number")
    add_json_flag(p)
    p.set_defaults(handler=_explain)

    p = subparsers.add_parser("absorb", help="absorb the decisions spooled by StorePruner workers",
                              description="Insert every spooled decision not yet in the store, in one "
                              "transaction; absorbing the same files again adds nothing.")
    p.add_argument("spool_dir", help="the spool directory (default of StorePruner: <store path>.spool)")
    p.add_argument("--keep", action="store_true", help="keep closed spool files after absorbing them")
    add_json_flag(p)
    p.set_defaults(handler=_absorb)
