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
from policy_store.cli.options import check_numbers
from policy_store.errors import PolicyStoreError

#: Longest error line printed; a value quoted in a message is cut rather than flooding the terminal.
MAX_ERROR_LINE = 300
#: Seconds a command waits for a store file another process is writing (``--wait``).
DEFAULT_WAIT = 5.0
# Modules under policy_store.cli that contribute commands, in help order.
COMMAND_MODULES = (
    "store_cmds", "datasets_cmds", "metafeatures_cmd", "demo_cmd", "rules_cmds", "evaluate_cmd", "live_cmds",
    "copy_cmd", "meta_cmds", "drift_cmds", "cycle_cmd", "report_cmd", "check_cmd", "serve_cmd",
)


def error_line(error: BaseException) -> str:
    """``Error: <message>`` on one line of at most :data:`MAX_ERROR_LINE` characters.

    >>> error_line(ValueError("bad" + chr(10) + "value " + "x" * 400))[-30:]
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
    >>> len(error_line(ValueError("x" * 400)))
    300
    """
    line = "Error: " + " ".join(str(error).split())
    return line if len(line) <= MAX_ERROR_LINE else line[: MAX_ERROR_LINE - 1] + "…"


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
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"while another process writes the store file: wait this long for it (default: {DEFAULT_WAIT:g}); "
        "commands that only read read a snapshot of it instead",
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
        check_numbers(args)
        return int(args.handler(args) or 0)
    except PolicyStoreError as e:
        print(error_line(e), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`policy-store tasks | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        # The OS refusing a path the user named (too long, permission denied, a folder given for a file...):
        # its message names the path; the store's own errors are StoreError, and a failed write rolled back.
        print(error_line(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Error: interrupted; nothing of the interrupted call was committed.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
