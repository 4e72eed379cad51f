"""The ``serve`` command: the live, read-only dashboard over the store (extra ``[dashboard]``)."""

from __future__ import annotations

import argparse
import importlib.util

from policy_store.errors import PolicyStoreError

# The dashboard (Starlette, uvicorn, the report's builders) is imported in the handler: registering the
# command (`policy-store --help`) must not pay for it, and works without the extra installed.
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


class DashboardUnavailableError(PolicyStoreError):
    """The ``[dashboard]`` extra is not installed."""


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.25 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"seconds from 0.25 to 3600, got {text!r}")
    return value


def _serve(args: argparse.Namespace) -> int:
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise DashboardUnavailableError(f"the dashboard needs {' and '.join(missing)}: "
                                        'pip install "policy-store[dashboard]"')
    from policy_store.dashboard import serve
    from policy_store.store import default_location

    serve(args.store or default_location(), host=args.host, port=args.port, spool_dir=args.spool_dir,
          refresh=args.refresh)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="a live, read-only dashboard of the store in the browser",
        description="Serve the dashboard: tasks and rules, studies and their pruning trajectories (running "
        "studies included, from their spool), halted configurations, recommendations, drift monitors and rule "
        "lineage. Read-only; opens the store only briefly per change, so writers keep working. Binds to "
        "127.0.0.1 unless --host says otherwise.")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default: {DEFAULT_HOST}, this machine only)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--spool-dir", metavar="DIR",
                   help="spool directory of running studies (default: <store>.spool, as StorePruner uses)")
    p.add_argument("--refresh", type=_seconds, default=1.0, metavar="SECONDS",
                   help="how often an open page checks for changes (default: 1)")
    p.set_defaults(handler=_serve)
