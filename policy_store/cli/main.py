"""Entry point of the ``policy-store`` command.

Each command family lives in its own module with a ``register(subparsers)``
function; this module only assembles them and maps errors to exit codes:
1 for bad input or a failed operation (``Error: …`` on stderr), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from policy_store import __version__
from policy_store.errors import PolicyStoreError

# Modules under policy_store.cli that contribute commands, in help order.
COMMAND_MODULES = (
    "store_cmds", "datasets_cmds", "metafeatures_cmd", "demo_cmd", "rules_cmds", "evaluate_cmd", "live_cmds",
    "copy_cmd", "meta_cmds", "drift_cmds", "report_cmd", "check_cmd", "serve_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policy-store",
        description="Record pruning rules, their provenance and outcomes across HPO tasks.",
    )
    parser.add_argument("--version", action="version", version=f"policy-store {__version__}")
    parser.add_argument(
        "--store",
        metavar="LOCATION",
        help="store location (default: $POLICY_STORE or ./policy-store.duckdb)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"policy_store.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PolicyStoreError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`policy-store tasks | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        # The OS refusing a path the user named (too long, permission denied, a folder given for a file...):
        # its message names the path; the store's own errors are StoreError, and a failed write rolled back.
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Error: interrupted; nothing of the interrupted call was committed.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
