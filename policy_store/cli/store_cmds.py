"""Store commands: init, ingest, tasks, studies, show, status."""

from __future__ import annotations

import argparse
import sys

from policy_store.choices import FORMATS
from policy_store.cli._common import add_json_flag, add_parents_flag, open_store, print_json, print_table

# policy_store.records opens duckdb: imported in the handlers, not for `--help`


def _init(args: argparse.Namespace) -> int:
    from policy_store.records import store_summary

    with open_store(args) as store:
        info = store_summary(store)
    if args.json:
        print_json(info)
    else:
        print(f"store ready at {info['location']} (schema version {info['schema_version']})")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    # Imported here so that registering the commands (`policy-store --help`, `status`) does not pay for pandas;
    # a well-formed file is read by DuckDB without it, Optuna's studies need it.
    from policy_store.ingest import ingest_file

    progress = not args.json and sys.stderr.isatty()
    with open_store(args) as store:
        if args.format == "optuna":
            from policy_store.ingest import ingest_optuna

            report = ingest_optuna(
                store, args.file, study_name=args.study_name, task=args.task, replace=args.replace, progress=progress
            )
        else:
            report = ingest_file(
                store, args.file, args.format, replace=args.replace, direction=args.direction, progress=progress
            )
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from policy_store.records import list_tasks

    with open_store(args, read_only=True) as store:
        rows = list_tasks(store)
    print_json(rows) if args.json else print_table(rows)
    return 0


def _studies(args: argparse.Namespace) -> int:
    from policy_store.records import list_studies

    with open_store(args, read_only=True) as store:
        rows = list_studies(store, args.task)
    print_json(rows) if args.json else print_table(rows)
    return 0


def _show(args: argparse.Namespace) -> int:
    from policy_store.records import describe_study, describe_task

    with open_store(args, read_only=True) as store:
        info = describe_task(store, args.id) if args.kind == "task" else describe_study(store, args.id)
    if args.json:
        print_json(info)
        return 0
    nested = {k: info.pop(k) for k in ("trial_rows", "study_ids", "meta_feature_values") if k in info}
    for key, value in info.items():
        print(f"{key:>16}: {value}")
    if "trial_rows" in nested:
        print()
        print_table(nested["trial_rows"], ["trial", "state", "steps", "final_step", "final_value", "cost_seconds"])
    if nested.get("study_ids"):
        ids = nested["study_ids"]
        print(f"\n{'studies':>16}: {', '.join(ids[:20])}{' …' if len(ids) > 20 else ''}")
    if nested.get("meta_feature_values"):
        print()
        print_table([{"feature": k, "value": v} for k, v in nested["meta_feature_values"].items()])
    return 0


def _status(args: argparse.Namespace) -> int:
    from policy_store.records import store_summary

    with open_store(args, read_only=True) as store:
        info = store_summary(store)
    if args.json:
        print_json(info)
    else:
        print(f"{info['location']} (schema version {info['schema_version']})")
        print_table([{"table": k, "rows": v} for k, v in info["rows"].items()])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("init", help="create (or migrate) the store")
    add_parents_flag(p)
    add_json_flag(p)
    p.set_defaults(handler=_init)

    p = subparsers.add_parser(
        "ingest",
        help="ingest studies from a long-format CSV/Parquet file or an Optuna storage",
        description="Ingest studies in one transaction: every study lands or none does. Re-ingesting "
        "identical studies is a no-op; changed studies are refused unless --replace.",
    )
    p.add_argument("file", help="CSV or Parquet file in the long format, or an Optuna storage URL with --format optuna")
    p.add_argument("--format", choices=(*FORMATS, "optuna"), help="default: from the file name")
    p.add_argument("--replace", action="store_true", help="replace studies whose content changed")
    p.add_argument("--direction", choices=("minimize", "maximize"), help="default direction for rows without one")
    p.add_argument("--study-name", help="with --format optuna: only this study (default: all)")
    p.add_argument("--task", help="with --format optuna: task name (default: the study name)")
    add_parents_flag(p)
    add_json_flag(p)
    p.set_defaults(handler=_ingest)

    p = subparsers.add_parser("tasks", help="list tasks")
    add_json_flag(p)
    p.set_defaults(handler=_tasks)

    p = subparsers.add_parser("studies", help="list studies")
    p.add_argument("--task", help="only the studies of this task")
    add_json_flag(p)
    p.set_defaults(handler=_studies)

    p = subparsers.add_parser("show", help="show one task or study")
    p.add_argument("kind", choices=("task", "study"))
    p.add_argument("id", help="the task or study id")
    add_json_flag(p)
    p.set_defaults(handler=_show)

    p = subparsers.add_parser("status", help="the store's location, schema version and row counts")
    add_json_flag(p)
    p.set_defaults(handler=_status)
