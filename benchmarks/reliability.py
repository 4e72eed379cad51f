"""Reliability campaign: the crash matrix over both store kinds within a time budget (issue 14).

``--part crash`` (this module): for every command that writes (``tests/reliability/scenarios.py``) on the
embedded file and on a DuckLake (a private PostgreSQL, started here), kill the command with SIGKILL at
every transaction boundary (``POLICY_STORE_FAULT=before-commit:N`` / ``after-commit:N``), then at uniform
random delays within its uninterrupted duration, round-robin until the budget is spent. After each kill
``check_store`` must find no violation; the rerun must exit 0 and leave a store whose canonical projection
equals an uninterrupted run's. Printed per command x store kind: kills, violations, reruns equal, unhandled
tracebacks and hung runs (0 expected; a hung run's stacks are printed), and the anchor: a kill cycle with
children forked from the pre-imported fork server against one that starts a fresh interpreter per run.

``--part fuzz`` and ``--part load`` are the other parts of the campaign: each is a module
``benchmarks/reliability_<part>.py`` with ``run(minutes: float, seed: int) -> dict`` (figures, printed
and returned); ``--part all`` splits the budget between the parts present.

Usage::

    python benchmarks/reliability.py --minutes 15
    python benchmarks/reliability.py --minutes 3 --kinds file --commands "ingest,copy"
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.harness import Matrix, Tally, private_postgres, run_command, warm_imports  # noqa: E402
from tests.reliability.scenarios import BY_NAME, SCENARIOS  # noqa: E402

PARTS = ("crash", "fuzz", "load")


def _anchor(folder: Path) -> dict[str, float]:
    """Seconds per run of one small command: forked from this process vs a fresh interpreter."""
    from policy_store import PolicyStore

    path = folder / "anchor.duckdb"
    PolicyStore(path).close()
    argv = ["--store", str(path), "rules", "add", "r", "--spec", '{"strategy": "median"}', "--created-by", "a"]
    fork = []
    for i in range(3):
        fork.append(run_command(argv, folder / f"fork-{i}").seconds)
    fresh = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "policy_store", *argv], check=True, capture_output=True)
        fresh.append(time.perf_counter() - start)
    return {"fork_s": min(fork), "fresh_interpreter_s": min(fresh)}


def crash_campaign(minutes: float, *, kinds: list[str], commands: list[str], seed: int) -> dict:
    deadline = time.monotonic() + minutes * 60
    rng = random.Random(seed)
    started = time.monotonic()
    warm_imports()
    root = Path(tempfile.mkdtemp(prefix="ps-crash-"))
    tallies: dict[tuple[str, str], Tally] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        server = stack.enter_context(private_postgres()) if "lake" in kinds else None
        anchor = _anchor(root)
        matrices = []
        for kind in kinds:
            for name in commands:
                matrix = Matrix(BY_NAME[name], kind, root / f"{kind}-{BY_NAME[name].slug}", server)
                stack.callback(matrix.close)
                # Determinism of the projection is proven on the file; on a lake one reference run suffices.
                matrix.reference(verify=kind == "file")
                matrices.append(matrix)
                tallies[(name, kind)] = Tally()
        setup_s = time.monotonic() - started
        stop = lambda: time.monotonic() >= deadline  # noqa: E731
        # Every boundary of every command first, in a shuffled order (a short budget still covers both kinds).
        boundaries = [(matrix, fault) for matrix in matrices for fault in matrix.boundaries()]
        rng.shuffle(boundaries)
        for matrix, fault in boundaries:
            if stop():
                break
            tallies[(matrix.scenario.name, matrix.kind)].add(matrix.crash(fault=fault))
        while not stop():  # then random delays, round-robin
            for matrix in matrices:
                if stop():
                    break
                delay = rng.uniform(0.0, matrix.reference_seconds)
                tallies[(matrix.scenario.name, matrix.kind)].add(matrix.crash(delay=delay))
    total = Tally()
    rows = []
    for (name, kind), t in tallies.items():
        total.add(t)
        rows.append({"command": name, "store": kind, "kills": t.kills, "at_boundaries": t.boundary_kills,
                     "at_delays": t.delay_kills, "finished_first": t.finished_before_kill,
                     "violations": t.violations, "reruns_equal": t.reruns_equal, "reruns_differ": t.reruns_differ,
                     "unhandled": t.unhandled, "hung": t.hung})
    elapsed = time.monotonic() - started
    return {"rows": rows, "total": {k: v for k, v in vars(total).items() if k != "failures"},
            "failures": total.failures, "anchor": anchor, "setup_s": setup_s, "elapsed_s": elapsed}


def _print_crash(result: dict) -> None:
    columns = list(result["rows"][0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in result["rows"])) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in result["rows"]:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns))
    t = result["total"]
    print(f"\ntotal: {t['kills']} kills ({t['boundary_kills']} at transaction boundaries, {t['delay_kills']} at "
          f"random delays; {t['finished_before_kill']} runs finished before their delay), {t['violations']} "
          f"violations, {t['reruns_equal']} reruns equal to an uninterrupted run, {t['reruns_differ']} differ, "
          f"{t['unhandled']} unhandled tracebacks, {t['hung']} runs hung")
    a = result["anchor"]
    print(f"anchor: one `rules add` run forked from the pre-imported parent {a['fork_s']:.3f} s, in a fresh "
          f"interpreter {a['fresh_interpreter_s']:.3f} s: {a['fresh_interpreter_s'] / a['fork_s']:.1f}x")
    print(f"setup (prepare + reference runs) {result['setup_s']:.0f} s; campaign {result['elapsed_s']:.0f} s; "
          f"{t['kills'] / max(result['elapsed_s'] - result['setup_s'], 1e-9) * 60:.1f} kills per minute after setup")
    for failure in result["failures"][:20]:
        print("FAILURE:", failure[:2000])


def _other_part(part: str, minutes: float, seed: int) -> dict | None:
    path = Path(__file__).with_name(f"reliability_{part}.py")
    if not path.exists():
        print(f"part {part!r}: {path.name} is not there yet; skipped")
        return None
    spec = importlib.util.spec_from_file_location(f"reliability_{part}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run(minutes, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="time budget of the whole campaign")
    parser.add_argument("--part", choices=(*PARTS, "all"), default="crash")
    parser.add_argument("--kinds", default="file,lake", help="store kinds: file, lake or both")
    parser.add_argument("--commands", help="comma-separated scenario names (default: every writing command)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)
    parts = list(PARTS) if args.part == "all" else [args.part]
    commands = args.commands.split(",") if args.commands else [s.name for s in SCENARIOS]
    unknown = sorted(set(commands) - set(BY_NAME))
    if unknown:
        parser.error(f"unknown commands {unknown}; known: {sorted(BY_NAME)}")
    figures = {}
    for part in parts:
        minutes = args.minutes / len(parts)
        if part == "crash":
            figures[part] = crash_campaign(minutes, kinds=args.kinds.split(","), commands=commands, seed=args.seed)
            _print_crash(figures[part])
        else:
            figures[part] = _other_part(part, minutes, args.seed)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    crash = figures.get("crash")
    bad = crash and (crash["total"]["violations"] or crash["total"]["reruns_differ"] or crash["total"]["unhandled"]
                     or crash["total"]["hung"] or crash["failures"])
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.pop("POLICY_STORE_FAULT", None)
    # `kill PID` stops the campaign cleanly: the PostgreSQL server and the scratch folders go with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
