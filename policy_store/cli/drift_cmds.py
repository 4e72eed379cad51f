"""Drift commands: ``recalibrate`` (for schedulers) and ``drift check|events|jobs``.

Exit codes of ``recalibrate``, for schedulers:

== ==========================================================================
0  the job ran: nothing new (no-op), no drift, or drift handled (a new version
   promoted, the candidate rejected, or pending until enough post-change studies);
   ``--dry-run`` always exits 0
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
    """Named detectors for `drift check`.

    ``cusum`` and ``page-hinkley`` get a threshold calibrated to ``--arl`` studies per false alarm on the
    rule's own history; the others run on the same standardized per-study observations at their own
    (uncalibrated) defaults or conservative alphas.
    """
    from policy_store.drift import ADWIN, TwoWindow

    return {
        "page-hinkley": "page-hinkley",
        "cusum": "cusum",
        "adwin": ADWIN(),
        "mannwhitney": TwoWindow(window_size=30, alpha=1e-3, test="mannwhitney", clock=1),
        "ks": TwoWindow(window_size=30, alpha=1e-3, test="ks", clock=1),
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
                store, trigger=args.trigger, dry_run=args.dry_run, arl=args.arl, orders=args.orders,
                min_studies=args.min_studies, floor=args.floor, margin=args.margin,
            )  # fmt: skip
        except JobLockedError as e:
            return _locked(str(e))
    if args.json:
        print_json(result.to_dict())
        return 0
    job = f" (job {result.job_id})" if result.job_id else " (dry run: nothing written)" if args.dry_run else ""
    checked = ", ".join(result.rules_checked) or "no rule with new outcomes"
    if result.status == "noop":
        print(f"nothing new since the last run{job}")
    elif result.status == "no drift":
        print(f"no drift in {checked}{job}")
    else:
        print(f"drift in {len(result.events)} of {len(result.rules_checked)} rules{job}")
    what = "would" if args.dry_run else "did"
    for e in result.events:
        print(f"drift: {e['monitor']} on {e['rule']}@{e['version']}: changed from study {e['change_study']}, "
              f"alarm at {e['alarm_study']} (statistic {e['statistic']:.4g} > {e['threshold']:.4g})")  # fmt: skip
    for p in result.pending:
        print(f"pending: {p['rule']}@{p['from_version']} needs {p['needed_studies']} more studies "
              f"({p['post_change_studies']} since the change, {p['after_alarm_studies']} since the alarm)")
    for p in result.promoted:
        to = f"{p['rule']}@{p['to_version']}" if "to_version" in p else f"a new version of {p['rule']}"
        print(f"{what} promote {to}: {_figures(p)}; params {p['candidate']['spec']['params']}")
    for r in result.rejected:
        kept = f" (recorded as {r['rule']}@{r['rejected_version']}, rejected)" if "rejected_version" in r else ""
        print(f"{what} reject the re-tuned {r['rule']}@{r['from_version']}{kept}: {', '.join(r['failed'])}; "
              f"{_figures(r)}")
    return 0


def _figures(summary: dict) -> str:
    f = summary["figures"]
    return (f"{f['metric']} {f['current']:.4g} -> {f['candidate']:.4g} "
            f"(paired gain {f['paired_gain']:.4g}, lower bound {f['paired_lower_bound']:.4g}), killed-best "
            f"{f['killed_best_current']:.3f} -> {f['killed_best_candidate']:.3f} (gain lower bound "
            f"{f['killed_best_lower_bound']:.4g}), compute saved "
            f"{f['compute_saved']:.3f} (floor {f['floor']:.3f}) on {f['studies']} post-change studies")  # fmt: skip


def _check(args: argparse.Namespace) -> int:
    from policy_store.drift import CountWindow, Monitor, Scope, TimeWindow

    window = TimeWindow(timedelta(days=args.days)) if args.days else CountWindow(args.window)
    scope = Scope(args.rule, version=args.version, tasks=tuple(args.task) if args.task else None)
    monitor = Monitor(scope, args.metric, _detectors()[args.detector], window, origin="manual", arl=args.arl)
    with open_store(args, read_only=args.dry_run) as store:
        require_rule(store, args.rule)
        result = monitor.check(store, record=not args.dry_run)
    payload = result.to_dict()
    if args.json:
        print_json(payload)
        return 0
    where = f"{result.rule}@{result.version} ({result.scope})"
    if result.status == "drift":
        print(f"drift in {result.monitor} of {where}: changed from study {result.event.change_study}, alarm at "
              f"{result.event.alarm_study} (statistic {result.statistic:.4g} > threshold {result.threshold:.4g}, "
              f"calibrated to {args.arl:g} studies per false alarm on {result.reference_n} reference studies)")
    elif result.status == "warming up":
        print(f"warming up: {result.monitor} of {where} needs {result.needed} more studies")
    else:
        print(f"no drift in {result.monitor} of {where}: {result.n} studies watched, statistic "
              f"{result.statistic:.4g} <= threshold {result.threshold:.4g} ({result.reference_n} reference studies)")
    return 0


def _events(args: argparse.Namespace) -> int:
    from policy_store.drift import list_events

    with open_store(args, read_only=True) as store:
        events = list_events(store, rule=args.rule, limit=args.limit)
    rows = [
        {"detected_at": e.detected_at, "monitor": e.monitor, "rule": e.rule, "version": e.version, "scope": e.scope,
         "origin": e.origin, "status": e.status, "change_study": e.change_study, "alarm_study": e.alarm_study,
         "needed_studies": e.needed_studies, "statistic": e.statistic, "threshold": e.threshold,
         "window_start": e.window_start, "window_end": e.window_end, "job_id": e.job_id, "event_id": e.event_id}
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
    p.add_argument("--arl", type=float, default=1000.0, help="target studies per false alarm, per rule (default: 1000)")
    p.add_argument("--orders", type=int, default=3, help="trial orders per study when re-tuning (default: 3)")
    p.add_argument("--min-studies", type=int, default=10, help="post-change studies needed to re-tune (default: 10)")
    p.add_argument("--floor", type=float, default=0.7,
                   help="compute saved a candidate keeps, as a fraction of the lineage's pre-drift baseline (0.7)")
    p.add_argument("--margin", type=float, default=0.1,
                   help="gain in the drifted metric a candidate needs on the post-change studies, as a fraction of the "
                        "current level (default: 0.1)")
    add_json_flag(p)
    p.set_defaults(handler=_recalibrate)

    drift = subparsers.add_parser("drift", help="drift monitors, events and jobs")
    sub = drift.add_subparsers(dest="drift_command", metavar="SUBCOMMAND")
    sub.required = True

    c = sub.add_parser("check", help="run one monitor over a rule's per-study outcomes; record an event on drift "
                                     "(a manual check: the scheduled job keeps its own state)")
    c.add_argument("--rule", required=True)
    c.add_argument("--version", type=int, help="this version (default: the rule's current one)")
    c.add_argument("--metric", choices=METRICS, default="killed_best", help="regret is relative (default: killed_best)")
    c.add_argument("--detector", choices=DETECTOR_NAMES, default="cusum")
    c.add_argument("--arl", type=float, default=1000.0, help="target studies per false alarm (default: 1000)")
    c.add_argument("--task", action="append", help="watch only this task (repeat for a group)")
    c.add_argument("--window", type=int, default=1000, help="latest N monitored studies (default: 1000)")
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
