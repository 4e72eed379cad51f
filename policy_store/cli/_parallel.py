"""``--backend`` / ``--scheduler``: the flags of the commands whose joblib work may run on a Dask cluster."""

from __future__ import annotations

import argparse

from policy_store.parallel import BACKENDS


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="local",
                        help="where the parallel replays run (default: local; dask: on the cluster at --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="with --backend dask: the scheduler, tcp://host:8786")
