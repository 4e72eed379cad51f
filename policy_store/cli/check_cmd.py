"""The ``check`` command: verify the store's invariants; exit 1 listing every violation."""

from __future__ import annotations

import argparse

from policy_store.cli._common import add_json_flag, open_store, print_json


def _check(args: argparse.Namespace) -> int:
    # Imported here: the checker hashes with ingest's code, which pulls in pandas (`policy-store --help` must not).
    from policy_store.check import check_store

    with open_store(args, read_only=True) as store:
        report = check_store(store)
    if args.json:
        print_json(report.to_dict())
    else:
        for violation in report.violations:
            print(violation.line())
        print(report.summary())
    return 0 if report.ok else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check", help="verify the store's invariants (content hashes, provenance, keys, artifacts, jobs)",
        description="Read the whole store and verify what every committed state must hold: every study's "
        "points match its content hash, no outcome or decision without its rule version, no rule version "
        "without provenance, meta-model files match their sha256, no job left running without its lock, no "
        "duplicate keys. Exit 0 when all hold; exit 1 listing every violation, one per line.",
    )
    add_json_flag(p)
    p.set_defaults(handler=_check)
