"""Drift commands: ``recalibrate`` (for schedulers) and ``drift check|events|jobs``.

Exit codes of ``recalibrate``, for schedulers:

== ==========================================================================
0  the job ran: nothing new (no-op), no drift, or drift handled (a new version
   promoted or the candidate rejected); ``--dry-run`` always exits 0
1  the job failed (``Error: ...`` on stderr; it wrote nothing but its failure)
2  usage error
75 another recalibration job holds the lock (EX_TEMPFAIL: try again later)
== ==========================================================================
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from policy_store.choices import METRICS
from policy_store.cli._common import add_json_flag, open_store, print_json, print_table, require_rule
from policy_store.errors import JobLockedError, StoreError

# policy_store.drift is imported in the handlers: it pulls in pandas and scipy, which registering the
# commands (`policy-store --help`) must not pay for.

EXIT_LOCKED = 75

# The names `drift check --detector` offers; _detectors() builds them (tests/cli/test_startup.py keeps both equal).
DETECTOR_NAMES = ("adwin", "cusum", "ks", "mannwhitney", "page-hinkley")


def _detectors() -> dict:
    """Named detectors for `drift check` (templates, cloned per check).

    PH and CUSUM knobs as calibrated for killed-best in benchmarks/drift.py, the others at their documented
    defaults or conservative alphas.
    """
    from policy_store.drift import ADWIN, CUSUM, PageHinkley, TwoWindow

    return {
        "page-hinkley": PageHinkley(min_instances=30, delta=0.02, threshold=4.0, mode="up"),
        "cusum": CUSUM(min_instances=100, k=0.02, threshold=3.5, mode="up"),
        "adwin": ADWIN(),
        "mannwhitney": TwoWindow(window_size=100, alpha=1e-3, test="mannwhitney", clock=10),
        "ks": TwoWindow(window_size=100, alpha=1e-3, test="ks", clock=10),
    }


def _locked(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return EXIT_LOCKED


def _recalibrate(args: argparse.Namespace) -> int:
    from policy_store.drift import recalibrate

    try:
        store = open_store(args)
    except StoreError as e:
        if "lock" in str(e).lower():  # DuckDB refuses a second writer process on the same file
            return _locked(f"another process holds the store (a recalibration job is probably running): {e}")
        raise
    with store:
        try:
            result = recalibrate(
                store, trigger=args.trigger, dry_run=args.dry_run, window=args.window, recent=args.recent,
                orders=args.orders,
            )  # fmt: skip
        except JobLockedError as e:
            return _locked(str(e))
    if args.json:
        print_json(result.to_dict())
        return 0
    what = "would" if args.dry_run else "did"
    print(f"recalibrate {result.status}" + (f" (job {result.job_id})" if result.job_id else ""))
    print(f"rules checked: {', '.join(result.rules_checked) or '(none with new outcomes)'}")
    for e in result.events:
        print(f"drift: {e['monitor']} on {e['rule']}@{e['version']} ({e['scope']}): "
              f"statistic {e['statistic']:.4g} > {e['threshold']:.4g}, "
              f"window {e['window_start']} .. {e['window_end']}")  # fmt: skip
    for p in result.promoted:
        to = f"{p['rule']}@{p['to_version']}" if "to_version" in p else f"a new version of {p['rule']}"
        print(f"{what} promote {to}: regret {p['current']['regret']:.4g} -> {p['candidate']['regret']:.4g}, "
              f"compute saved {p['current']['compute_saved']:.3f} -> {p['candidate']['compute_saved']:.3f} "
              f"on {p['window_studies']} studies; params {p['candidate']['spec']['params']}")  # fmt: skip
    for r in result.rejected:
        best = r["candidate"]
        detail = (
            f"best candidate regret {best['regret']:.4g} vs {r['current']['regret']:.4g}" if best else "no candidates"
        )
        kept = f"; recorded as {r['rule']}@{r['rejected_version']} (rejected)" if "rejected_version" in r else ""
        print(f"{what} reject the re-tuned {r['rule']}@{r['from_version']}: {detail}{kept}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from policy_store.drift import CountWindow, Monitor, Scope, TimeWindow

    window = TimeWindow(timedelta(days=args.days)) if args.days else CountWindow(args.window)
    scope = Scope(args.rule, version=args.version, tasks=tuple(args.task) if args.task else None)
    monitor = Monitor(scope, args.metric, _detectors()[args.detector], window)
    with open_store(args, read_only=args.dry_run) as store:
        require_rule(store, args.rule)
        result = monitor.check(store, record=not args.dry_run)
    payload = {
        "monitor": result.monitor, "scope": result.scope, "n": result.n, "window_start": result.window_start,
        "window_end": result.window_end, "statistic": result.statistic, "threshold": result.threshold,
        "drift": result.event is not None, "event_id": result.event.event_id if result.event else None,
    }  # fmt: skip
    if args.json:
        print_json(payload)
    else:
        print_table([payload])
    return 0


def _events(args: argparse.Namespace) -> int:
    from policy_store.drift import list_events

    with open_store(args, read_only=True) as store:
        events = list_events(store, rule=args.rule, limit=args.limit)
    rows = [
        {"detected_at": e.detected_at, "monitor": e.monitor, "rule": e.rule, "version": e.version, "scope": e.scope,
         "statistic": e.statistic, "threshold": e.threshold, "window_start": e.window_start,
         "window_end": e.window_end, "job_id": e.job_id, "event_id": e.event_id}
        for e in events
    ]  # fmt: skip
    print_json(rows) if args.json else print_table(rows)
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from policy_store.drift import list_jobs

    with open_store(args, read_only=True) as store:
        rows = list_jobs(store, kind=args.kind, limit=args.limit)
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            result = row.pop("result") or {}
            row["promoted"] = len(result.get("promoted", []))
            row["rejected"] = len(result.get("rejected", []))
            row["error"] = result.get("error")
        print_table(
            rows, ["job_id", "kind", "status", "trigger", "started_at", "ended_at", "promoted", "rejected", "error"]
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recalibrate",
        help="detect drift in new outcomes and re-tune the affected rules (safe to run from cron)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dry-run", action="store_true", help="show what it would do; write nothing")
    p.add_argument("--trigger", default="manual", help="recorded with the job, e.g. cron (default: manual)")
    p.add_argument("--window", type=int, default=1000, help="outcomes each monitor reads (default: 1000)")
    p.add_argument("--recent", type=int, default=200, help="re-tune on the studies of the latest N outcomes")
    p.add_argument("--orders", type=int, default=3, help="trial orders per study when re-tuning (default: 3)")
    add_json_flag(p)
    p.set_defaults(handler=_recalibrate)

    drift = subparsers.add_parser("drift", help="drift monitors, events and jobs")
    sub = drift.add_subparsers(dest="drift_command", metavar="SUBCOMMAND")
    sub.required = True

    c = sub.add_parser("check", help="run one monitor over a rule's outcomes; record an event on drift")
    c.add_argument("--rule", required=True)
    c.add_argument("--version", type=int, help="only this version's outcomes (default: all)")
    c.add_argument("--metric", choices=METRICS, default="killed_best")
    c.add_argument("--detector", choices=DETECTOR_NAMES, default="page-hinkley")
    c.add_argument("--task", action="append", help="watch only this task (repeat for a group)")
    c.add_argument("--window", type=int, default=1000, help="latest N outcomes (default: 1000)")
    c.add_argument("--days", type=float, help="a time window of this many days instead of a count")
    c.add_argument("--dry-run", action="store_true", help="report, but record no event")
    add_json_flag(c)
    c.set_defaults(handler=_check)

    e = sub.add_parser("events", help="recorded drift events, newest first")
    e.add_argument("--rule")
    e.add_argument("--limit", type=int, default=50)
    add_json_flag(e)
    e.set_defaults(handler=_events)

    j = sub.add_parser("jobs", help="recent jobs (recalibration runs), newest first")
    j.add_argument("--kind", default="recalibrate")
    j.add_argument("--limit", type=int, default=20)
    add_json_flag(j)
    j.set_defaults(handler=_jobs)
