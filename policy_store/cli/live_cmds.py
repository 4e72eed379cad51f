"""Live-study commands: explain (why was this trial pruned), absorb (spooled decisions), record-live (outcome)."""

from __future__ import annotations

import argparse

from policy_store.cli._common import add_json_flag, open_store, print_json, require_folder

# The integrations are imported in the handlers: they pull in pandas and scipy, which registering the
# commands (`policy-store --help`) must not pay for.


def _explain(args: argparse.Namespace) -> int:
    from policy_store.integrations.audit_trail import explain_trial

    with open_store(args, read_only=True) as store:
        info = explain_trial(store, args.study, args.trial)
    if args.json:
        print_json(info)
    else:
        print(info["line"])
    return 0


def _absorb(args: argparse.Namespace) -> int:
    from policy_store.integrations.spool import absorb_spool
    from policy_store.store import default_location

    require_folder(args.spool_dir, "spool", default=f"{args.store or default_location()}.spool")
    with open_store(args) as store:
        report = absorb_spool(store, args.spool_dir, remove=not args.keep)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    return 0


def _record_live(args: argparse.Namespace) -> int:
    from policy_store.integrations.live import record_live_storage

    with open_store(args) as store:
        row = record_live_storage(store, args.storage, args.study, spool_dir=args.spool_dir, rule=args.rule,
                                  task=args.task)
    if args.json:
        print_json(row)
    else:
        est = "no audit estimate" if row["regret"] is None else (
            f"estimated regret {row['regret']:.4g}, false-prune rate {row['false_prune_rate']}")
        print(f"{row['study']}: {row['rule']}@{row['version']} pruned {row['trials_pruned']} of {row['n_trials']} "
              f"trials, compute saved {row['compute_saved']:.3f}, {est} "
              f"({row['decisions_absorbed']} decisions absorbed)")
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

    p = subparsers.add_parser("record-live", help="record a finished live study's curves and live outcome",
                              description="After the workers are done: absorb their spool (if given), record "
                              "the study's curves from its Optuna storage and its live outcome (compute saved; "
                              "regret and false-prune rate estimated from audit trials), in one transaction.")
    p.add_argument("storage", help="the Optuna storage URL, e.g. sqlite:///optuna.db")
    p.add_argument("--study", required=True, help="the study name")
    p.add_argument("--spool-dir", help="absorb this spool directory first")
    p.add_argument("--rule", help="name@version (default: the one the study's decisions name)")
    p.add_argument("--task", help="task name (default: the study name)")
    add_json_flag(p)
    p.set_defaults(handler=_record_live)
