"""Rule commands: ``rules add | list | show | history``."""

from __future__ import annotations

import argparse
import getpass

from policy_store.choices import SOURCES, STATUSES
from policy_store.cli._common import add_json_flag, open_store, print_json, print_table, text_or_file


def _spec_arg(value: str) -> str:
    return value if value.lstrip().startswith("{") else text_or_file(value, "spec")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


# policy_store.rules is imported in the handlers: it pulls in scipy (the posterior strategy), which
# registering the commands (`policy-store --help`) must not pay for.


def _add(args: argparse.Namespace) -> int:
    from policy_store.rules import add_rule_version

    with open_store(args) as store:
        v = add_rule_version(store, args.name, _spec_arg(args.spec), created_by=args.created_by or _user(),
                             source=args.source, reason=args.reason, parent=args.parent,
                             meta_model_id=args.meta_model, drift_event_id=args.drift_event, job_id=args.job,
                             description=args.description, status=args.status)
    if args.json:
        print_json(v.to_dict())
    else:
        mark = ", rejected" if v.status == "rejected" else ""
        print(f"{v.ref} ({v.spec.strategy}, spec {v.spec_hash[:12]}{mark})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from policy_store.rules import list_rules

    with open_store(args, read_only=True) as store:
        rows = list_rules(store)
    print_json(rows) if args.json else print_table(rows)
    return 0


def _show(args: argparse.Namespace) -> int:
    from policy_store.rules import get_rule_version

    with open_store(args, read_only=True) as store:
        v = get_rule_version(store, args.ref)
    info = v.to_dict()
    if args.json:
        print_json(info)
        return 0
    spec = info.pop("spec")
    for key, value in info.items():
        if value is not None:
            print(f"{key:>15}: {value}")
    print(f"{'spec':>15}: {v.spec.canonical_json()}")
    del spec
    return 0


def _history(args: argparse.Namespace) -> int:
    from policy_store.rules import rule_history

    with open_store(args, read_only=True) as store:
        versions = rule_history(store, args.name)
    # Rejected candidates (recalibration losers) stay in the chain, marked: they are never the current version.
    rows = [{"version": v.version, "status": v.status, "parent": v.parent_version, "created_at": v.created_at,
             "created_by": v.created_by, "source": v.source, "reason": v.reason,
             "links": ", ".join(f"{k}={x}" for k, x in (("meta_model", v.meta_model_id),
                                                      ("drift_event", v.drift_event_id), ("job", v.job_id)) if x),
             "strategy": v.spec.strategy, "spec_hash": v.spec_hash[:12]} for v in versions]
    if args.json:
        print_json([v.to_dict() for v in versions])
    else:
        print_table(rows)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    rules = subparsers.add_parser("rules", help="pruning rules and their versions")
    sub = rules.add_subparsers(dest="rules_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("add", help="add a rule version (a no-op if the spec equals the current one)")
    p.add_argument("name")
    p.add_argument("--spec", required=True, help="the spec as JSON, or a path to a JSON file")
    p.add_argument("--created-by", help="who makes this version (default: login name)")
    p.add_argument("--source", choices=SOURCES, default="manual")
    p.add_argument("--reason")
    p.add_argument("--parent", type=int, help="parent version (default: the current one)")
    p.add_argument("--meta-model", help="id of the meta-model behind this version")
    p.add_argument("--drift-event", help="id of the drift event behind this version")
    p.add_argument("--job", help="id of the job that made this version")
    p.add_argument("--description", help="rule description (kept when the rule is created)")
    p.add_argument("--status", choices=STATUSES, default="active",
                   help="'rejected' records a candidate that lost (it never becomes the current version)")
    add_json_flag(p)
    p.set_defaults(handler=_add)

    p = sub.add_parser("list", help="list rules with their current (newest active) version")
    add_json_flag(p)
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="show one rule version (NAME: the current one, or NAME@VERSION)")
    p.add_argument("ref", metavar="NAME[@VERSION]")
    add_json_flag(p)
    p.set_defaults(handler=_show)

    p = sub.add_parser("history", help="a rule's provenance chain")
    p.add_argument("name")
    add_json_flag(p)
    p.set_defaults(handler=_history)
