"""Hostile-input campaign: the strategies and checks of tests/reliability at campaign scale.

Runs every entry point's Hypothesis check in batches until its share of the budget is spent (or
``--examples`` inputs per entry point are done), and prints per entry point the inputs fuzzed, how many
were accepted (and round-tripped) or rejected (typed error naming the field, store unchanged), and the
unhandled errors (a traceback, a moved store, a second ``Error:`` line): 0 expected. The anchor is the
default test suite's count (``POLICY_STORE_FUZZ_EXAMPLES`` = 40 per test); the ratio says how many times
more inputs the campaign tried.

    nice -n 10 python benchmarks/reliability_fuzz.py --minutes 15
    python benchmarks/reliability_fuzz.py --examples 200          # quick look
    python benchmarks/reliability_fuzz.py --minutes 5 --only RuleSpec --only meta   # some entry points
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' strategies live in tests/reliability

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from policy_store.cli.main import build_parser  # noqa: E402
from tests.reliability import fuzzing as fz  # noqa: E402

BATCH = 50
# Relative time shares: the CLI and file checks cost ~10x a spec check per input.
SHARES = {"ingest_frame": 3, "ingest_file csv/parquet": 2, "ingest_file raw CSV bytes": 2,
          "RuleSpec/add_rule_version": 2, "save_meta_features": 1, "recommend(meta_features)": 1,
          "CLI argv (every command)": 4}


def entry_points(workdir: Path):
    commands = {k: v for k, v in fz.leaf_commands(build_parser()).items() if k not in fz.SKIPPED_COMMANDS}
    (workdir / "cli").mkdir()
    paths = fz.CliPaths(workdir / "cli", fz.template_store(workdir / "template.duckdb"))
    files = workdir / "files"
    files.mkdir()
    return {
        "ingest_frame": (fz.long_frames(), fz.check_ingest_frame),
        "ingest_file csv/parquet": (st.tuples(fz.long_frames(), st.sampled_from(["csv", "parquet"])),
                                    lambda case: fz.check_ingest_file(files, *case)),
        "ingest_file raw CSV bytes": (fz.csv_texts(), lambda data: fz.check_ingest_file(files, data, "csv")),
        "RuleSpec/add_rule_version": (fz.rule_specs(), fz.check_rule_spec),
        "save_meta_features": (st.tuples(st.one_of(fz.names, st.just("base-task"), st.none()),
                                         st.one_of(fz.meta_feature_maps, fz.json_values)),
                               lambda case: fz.check_save_meta_features(*case)),
        "recommend(meta_features)": (st.one_of(fz.meta_feature_maps, fz.json_values),
                                     fz.check_recommend_meta_features),
        "CLI argv (every command)": (fz.cli_argvs(commands, paths), lambda argv: fz.check_cli(argv, paths)),
    }


def run_batch(strategy, check, n: int, counts: collections.Counter, failures: list[str]) -> None:
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def batch(case):
        counts[check(case)] += 1

    try:
        batch()
    except Exception as e:  # noqa: BLE001 - the campaign records every failure and goes on
        counts["unhandled"] += 1
        failures.append("".join(traceback.format_exception_only(type(e), e)).strip()[:2000])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=None, help="time budget for the whole campaign")
    parser.add_argument("--examples", type=int, default=None, help="inputs per entry point (default: by time)")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="only the entry points whose name contains TEXT (repeatable)")
    args = parser.parse_args()
    if args.minutes is None and args.examples is None:
        args.minutes = 10.0
    with tempfile.TemporaryDirectory() as tmp:
        points = {name: point for name, point in entry_points(Path(tmp)).items()
                  if not args.only or any(text in name for text in args.only)}
        total_share = sum(SHARES[name] for name in points)
        rows, all_failures = [], []
        for name, (strategy, check) in points.items():
            counts: collections.Counter = collections.Counter()
            failures: list[str] = []
            budget = None if args.minutes is None else args.minutes * 60 * SHARES[name] / total_share
            start = time.perf_counter()
            while True:
                done = counts["accepted"] + counts["rejected"] + counts["usage"]
                if args.examples is not None and done >= args.examples:
                    break
                if budget is not None and time.perf_counter() - start >= budget:
                    break
                n = BATCH if args.examples is None else min(BATCH, args.examples - done)
                run_batch(strategy, check, n, counts, failures)
            elapsed = time.perf_counter() - start
            fuzzed = counts["accepted"] + counts["rejected"] + counts["usage"] + counts["unhandled"]
            rows.append((name, fuzzed, counts["accepted"], counts["rejected"], counts["usage"], counts["unhandled"],
                         elapsed))
            all_failures += [f"{name}: {f}" for f in failures]
            print(f"{name}: {fuzzed} inputs in {elapsed:.0f} s", file=sys.stderr, flush=True)
    print(f"{'entry point':<28} {'inputs':>7} {'accepted':>8} {'rejected':>8} {'usage(2)':>8} {'unhandled':>9} "
          f"{'inputs/s':>8}")
    for name, fuzzed, acc, rej, usage, bad, elapsed in rows:
        print(f"{name:<28} {fuzzed:>7} {acc:>8} {rej:>8} {usage:>8} {bad:>9} {fuzzed / max(elapsed, 1e-9):>8.1f}")
    total = sum(r[1] for r in rows)
    unhandled = sum(r[5] for r in rows)
    anchor = fz.EXAMPLES * 9  # the default suite's fuzz tests: 9 Hypothesis tests x EXAMPLES (the CLI one x3)
    print(f"{'total':<28} {total:>7} {'':>8} {'':>8} {'':>8} {unhandled:>9}")
    print(f"ratio: {total / anchor:.0f}x the default suite's {anchor} fuzzed inputs")
    for failure in all_failures:
        print(f"UNHANDLED {failure}")
    return 1 if unhandled else 0


if __name__ == "__main__":
    sys.exit(main())
