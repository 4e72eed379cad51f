"""The dashboard's pages as plain functions of a :class:`Dashboard`: each returns its ``<main>`` HTML.

Every page reads the store through :class:`~policy_store.dashboard.reader.StoreReader`
(one short read-only open per change of the store, bounded queries, lists
paginated) and the running studies' spool through
:class:`~policy_store.dashboard.spool_tail.SpoolTail`. Request values are only
ever bound SQL parameters or compared with names; none becomes a path.

>>> import tempfile
>>> from policy_store import PolicyStore
>>> path = tempfile.mkdtemp() + "/store.duckdb"
>>> PolicyStore(path).close()
>>> board = Dashboard(path)
>>> view = board.overview()
>>> view.title, 'data-table="overview_counts"' in view.main
('Tasks and rules', True)
>>> board.study("nope")
Traceback (most recent call last):
...
policy_store.errors.NotFoundError: no study 'nope' in the store or in the spool of a running study
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from policy_store.dashboard.halted import halted_section
from policy_store.dashboard.html import link, link_table, pager, render_sections
from policy_store.dashboard.provenance import drift_sections, lineage_sections
from policy_store.dashboard.reader import Snapshot, StoreReader
from policy_store.dashboard.recommendations import PAGE_SIZE, recommendations_section
from policy_store.dashboard.spool_tail import SpoolTail
from policy_store.dashboard.study import is_audit, study_records, study_section
from policy_store.reports import overview, per_task, rules_across_tasks
from policy_store.reports.filters import ReportFilter
from policy_store.reports.svg import esc
from policy_store.store import PolicyStore

#: Studies per page of the studies list.
STUDIES_PER_PAGE = 50
#: Running studies listed on the overview.
LIVE_STUDIES = 20

_STUDY_COLUMNS = (("study", "study", "text"), ("task", "task", "text"), ("n_trials", "trials", "int"),
                  ("n_points", "curve points", "int"), ("decisions", "decisions", "int"),
                  ("pruned", "prune decisions", "int"), ("source", "source", "text"),
                  ("ingested_at", "recorded", "time"))
_LIVE_COLUMNS = (("study", "running study", "text"), ("rule_version", "rule version", "text"),
                 ("trials", "trials decided", "int"), ("decisions", "decisions spooled", "int"),
                 ("pruned", "trials pruned", "int"), ("audited", "audit decisions", "int"),
                 ("last", "last decision (UTC)", "text"))
_RULE_COLUMNS = (("rule", "rule", "text"), ("versions", "versions", "int"), ("rejected", "rejected", "int"),
                 ("latest", "latest version", "int"), ("sources", "sources", "text"),
                 ("updated", "last change", "time"))


@dataclass(frozen=True)
class View:
    """One rendered page: its title, the HTML inside ``<main>``, and the data signature it shows."""

    title: str
    main: str
    signature: str
    active: str


def live_studies(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Studies with spooled decisions: per study and rule version, trials, decisions, prunes, last decision."""
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    trials: dict[tuple[str, str], set[str]] = defaultdict(set)
    pruned: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in pending:
        label = f"{r['rule']}@{r['version']}" if r["version"] is not None else str(r["rule"])
        key = (r["study"], label)
        run = runs.setdefault(key, {"study": r["study"], "rule_version": label, "decisions": 0, "audited": 0,
                                    "last": ""})
        run["decisions"] += 1
        run["audited"] += is_audit(r["reason"])
        run["last"] = max(run["last"], r["decided_at"])
        trials[key].add(r["trial"])
        if r["verdict"] == "prune":
            pruned[key].add(r["trial"])
    for key, run in runs.items():
        run["trials"], run["pruned"] = len(trials[key]), len(pruned[key])
    return sorted(runs.values(), key=lambda r: r["last"], reverse=True)[:LIVE_STUDIES]


def _studies(store: PolicyStore, page: int, task: str | None) -> tuple[list[dict[str, Any]], int]:
    total = int(store.scalar("SELECT count(*) FROM studies WHERE $task IS NULL OR task = $task", {"task": task}))
    rows = store.fetch_dicts(
        "WITH page AS (SELECT study, task, n_trials, n_points, source, ingested_at FROM studies "
        "WHERE $task IS NULL OR task = $task ORDER BY ingested_at DESC, study LIMIT $size OFFSET $skip) "
        "SELECT p.*, count(d.study) AS decisions, count(*) FILTER (WHERE d.verdict = 'prune') AS pruned "
        "FROM page p LEFT JOIN decisions d ON d.study = p.study GROUP BY ALL ORDER BY p.ingested_at DESC, p.study",
        {"task": task, "size": STUDIES_PER_PAGE, "skip": (page - 1) * STUDIES_PER_PAGE})
    return rows, total


def _rules(store: PolicyStore) -> list[dict[str, Any]]:
    return store.fetch_dicts(
        "SELECT rule, count(*) AS versions, count(*) FILTER (WHERE status = 'rejected') AS rejected, "
        "max(version) AS latest, string_agg(DISTINCT source, ', ' ORDER BY source) AS sources, "
        "max(created_at) AS updated FROM rule_versions GROUP BY rule ORDER BY rule")


class Dashboard:
    """The dashboard over one store (and the spool of its running studies).

    Parameters
    ----------
    location:
        The store: a DuckDB file or a ``ducklake:`` location.
    spool_dir:
        Where running studies spool their decisions; default ``<store>.spool`` for a file store (what
        ``StorePruner`` uses), none for a DuckLake unless given.
    cache_size:
        Answers kept per store signature (0: read the store on every request).
    max_share:
        Most of the time the dashboard may hold the store file's lock (see :class:`StoreReader`).
    """

    def __init__(self, location: str | os.PathLike[str], *, spool_dir: str | os.PathLike[str] | None = None,
                 cache_size: int = 256, max_share: float = 0.25) -> None:
        self.reader = StoreReader(location, cache_size=cache_size, max_share=max_share)
        if spool_dir is None and not self.reader.is_lake:
            spool_dir = f"{self.reader.location}.spool"
        self.spool = SpoolTail(spool_dir)

    def signature(self) -> str:
        """Changes whenever the store or the spool may have changed (stat calls only on a file store)."""
        spool = hashlib.sha256(self.spool.signature().encode()).hexdigest()[:12]
        return f"{self.reader.signature()}-{spool}"

    def _read(self, key: Hashable, fn: Callable[[PolicyStore], Any]) -> tuple[Any, str]:
        spool = hashlib.sha256(self.spool.signature().encode()).hexdigest()[:12]  # before the read: never newer
        snap: Snapshot = self.reader.read(key, fn)
        when = f'<p class="note">Store read at {snap.read_at:%H:%M:%S} UTC.</p>'
        if snap.stale:
            when = (f'<p class="stale">The store changed after {snap.read_at:%H:%M:%S} UTC, when this was read; the '
                    "newer data is being read and this page updates itself.</p>")
        return (snap.value, when), f"{snap.signature}-{spool}"

    # -- pages ----------------------------------------------------------------------
    def overview(self) -> View:
        """Counts, the Pareto front and task x rule utility (the report's sections), and the running studies."""
        flt = ReportFilter()
        (sections, when), sig = self._read(("overview",), lambda s: [overview.build(s, flt),
                                                                     rules_across_tasks.build(s, flt)])
        live = live_studies(self.spool.records())
        main = when + link_table("live_studies", "Running studies (decisions spooled, not absorbed yet)",
                                 _LIVE_COLUMNS, live, lambda r: link("/study", name=r["study"]),
                                 note="" if live else "No running study is spooling decisions now.")
        return View("Tasks and rules", main + render_sections(sections), sig, "/")

    def studies(self, page: int = 1, task: str | None = None) -> View:
        """Recorded studies, newest first, paginated."""
        (data, when), sig = self._read(("studies", page, task), lambda s: _studies(s, page, task))
        rows, total = data
        main = when + link_table("studies", "Studies" + (f" of task {task}" if task else ""), _STUDY_COLUMNS, rows,
                                 lambda r: link("/study", name=r["study"]),
                                 note="" if rows else "No studies on this page.")
        return View("Studies", main + pager("/studies", page, total, STUDIES_PER_PAGE, task=task), sig, "/studies")

    def study(self, name: str) -> View:
        """One study's pruning trajectory, including a running study's spooled decisions."""
        # The store's part is cached while the store is unchanged; the spool's part is merged on every request.
        (records, when), sig = self._read(("study", name), lambda s: study_records(s, name))
        section = study_section(records, self.spool.records())
        halted = (f'<p><a href="{esc(link("/halted", study=name))}">Parameters of its pruned and surviving trials'
                  "</a></p>")
        return View(f"Study {name}", when + halted + render_sections([section]), sig, "/studies")

    def halted(self, study: str | None = None) -> View:
        """Parameters of pruned against surviving trials of one study."""
        (section, when), sig = self._read(("halted", study), lambda s: halted_section(s, study))
        return View("Halted configurations", when + render_sections([section]), sig, "/halted")

    def recommendations(self, page: int = 1) -> View:
        """Recorded recommendations, paginated, after the report's expected-against-observed section."""
        def build(s: PolicyStore) -> tuple[list, int]:
            section, total = recommendations_section(s, page)
            return [section, per_task.build(s, ReportFilter())], total

        (data, when), sig = self._read(("recommendations", page), build)
        sections, total = data
        main = when + render_sections(sections[:1]) + pager("/recommendations", page, total, PAGE_SIZE)
        return View("Recommendations", main + render_sections(sections[1:], start=2), sig, "/recommendations")

    def drift(self, rule: str | None = None, metric: str = "regret") -> View:
        """Monitored series with drift events, then events, jobs and promoted/rejected versions over time."""
        (sections, when), sig = self._read(("drift", rule, metric), lambda s: drift_sections(s, rule, metric))
        return View("Drift" + (f" of {rule}" if rule else ""), when + render_sections(sections), sig, "/drift")

    def rules(self) -> View:
        """Every rule, linking to its lineage."""
        (rows, when), sig = self._read(("rules",), _rules)
        main = when + link_table("rules", "Rules", _RULE_COLUMNS, rows, lambda r: link("/lineage", rule=r["rule"]),
                                 note="" if rows else "No rules recorded yet.")
        return View("Rule lineage", main, sig, "/rules")

    def lineage(self, rule: str) -> View:
        """One rule's versions: provenance chain, specs, outcomes; and a link to its drift monitors."""
        (sections, when), sig = self._read(("lineage", rule), lambda s: lineage_sections(s, rule))
        drift = f'<p><a href="{esc(link("/drift", rule=rule))}">Drift monitors of {esc(rule)}</a></p>'
        return View(f"Lineage of {rule}", when + drift + render_sections(sections), sig, "/rules")
