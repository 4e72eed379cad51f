"""The store's invariants, checked: what ``policy-store check`` runs after a crash, a copy or a restore.

Each invariant is a property every committed state of a store has, whatever was killed when:

``schema``
    Every migration up to this policy-store's version is recorded once; every table exists.
``duplicate-key``
    No two rows of a table share its natural key (:data:`policy_store.migrations.NATURAL_KEYS`; DuckLake has
    no UNIQUE constraints, so writers keep keys unique themselves).
``content-hash``
    Every study's trials and curve points hash to its recorded ``content_hash``, computed by the code ingest
    uses (:func:`policy_store.ingest.hashing.study_hashes`), and its counts match its rows; each trial's
    final step and value, number of steps and cost (the sum of its points' costs when all are known) are
    those of its points, and no two trials of a study share a trial number.
``orphan``
    No trial or curve point without its study, no study without its task, no replay outcome or decision
    without its study, no recommendation without its meta-model, no drift event without its job.
``rule-version``
    No outcome, decision or drift event naming a rule version the store does not have (or naming it with
    another spec hash).
``provenance``
    Every rule version has its rule, a non-empty ``created_by``, a known ``source`` and ``status``, a stored
    spec that hashes to its ``spec_hash``, versions numbered 1..n, a parent that is an earlier version, and
    links (meta-model, drift event, job) to rows that exist.
``artifact``
    Every meta-model's file exists and its bytes hash to the recorded sha256 (a tampered file, or the valid
    artifact of another model put in its place, is a violation), and its id derives from that sha256.
``name``
    No task, study, trial, metric or rule name holds a control character (NUL, tab, newline, escape...):
    the rule file ingest and the live pruner apply (:mod:`policy_store.names`).
``job``
    Statuses are known; at most one job of a kind is ``running``; a ``running`` job has no end time; no job
    ends before it started; and a job is ``running`` only while its lock is held, or it is *abandoned*.

How a killed job is represented. A job holds the store's lock named after its kind (released by the
kernel or by PostgreSQL when its process dies, even by SIGKILL) and commits its ``running`` row first,
then everything it does together with its final status in one unit of work
(:mod:`policy_store.drift.jobs`). So a ``running`` row whose lock is free belongs to a dead job that
committed nothing else: it is reported in :attr:`CheckReport.abandoned_jobs`, not as a violation, and the
next job of its kind marks it ``failed``. What *is* a violation is a running row whose lock is free while
rows it wrote exist (a rule version, drift event or meta-model linked to it): that job committed work
without finishing. The checker learns whether a lock is held by trying to take it for an instant, so a
job starting at that very instant may be told its lock is busy. It creates no lock file to find out.

Examples
--------
>>> from policy_store import PolicyStore
>>> from policy_store.rules import add_rule_version
>>> with PolicyStore.memory() as store:
...     _ = add_rule_version(store, "median", {"strategy": "median"}, created_by="ann")
...     print(check_store(store).summary())
...     _ = store.execute("UPDATE rule_versions SET created_by = ''")
...     report = check_store(store)
...     report.ok, report.violations[0].invariant, report.violations[0].key
ok: 0 studies (0 points), 1 rule versions, 0 artifacts, 0 jobs checked; no violations
(False, 'provenance', 'median@1')
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from policy_store.choices import DRIFT_EVENT_STATUSES, DRIFT_ORIGINS, SOURCES, STATUSES
from policy_store.errors import StoreError
from policy_store.ingest.hashing import study_hashes
from policy_store.lake import LAKE_ALIAS
from policy_store.migrations import LATEST_VERSION, MIGRATIONS, NATURAL_KEYS
from policy_store.names import CONTROL_SQL
from policy_store.store import PolicyStore

#: Violations listed per invariant and table; the rest are counted in one closing line.
LIMIT = 50
JOB_STATUSES = ("running", "succeeded", "failed", "noop")
#: Relative difference allowed between a trial's recorded cost and the sum of its points' costs.
COST_TOLERANCE = 1e-9
_READ_CHUNK = 1 << 20
_FILE_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "FIFO"),
               (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))
_COPY = "_policy_store_check"


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which, in which table, for which row (its key), and what is wrong."""

    invariant: str
    table: str
    key: str
    detail: str

    def line(self) -> str:
        """One line for people: ``invariant table[key]: detail``."""
        return f"{self.invariant} {self.table}[{self.key}]: {self.detail}"


@dataclass
class CheckReport:
    """What :func:`check_store` found."""

    location: str
    violations: list[Violation] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    abandoned_jobs: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no invariant is broken."""
        return not self.violations

    def summary(self) -> str:
        """One line for people."""
        c = self.checked
        counts = (f"{c.get('studies', 0)} studies ({c.get('points', 0)} points), {c.get('rule_versions', 0)} rule "
                  f"versions, {c.get('artifacts', 0)} artifacts, {c.get('jobs', 0)} jobs checked")
        abandoned = f"; {len(self.abandoned_jobs)} abandoned jobs" if self.abandoned_jobs else ""
        found = f"{len(self.violations)} violations" if self.violations else "no violations"
        return f"{'ok' if self.ok else 'FAILED'}: {counts}; {found}{abandoned}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"ok": self.ok, "location": self.location, "violations": [asdict(v) for v in self.violations],
                "checked": dict(self.checked), "abandoned_jobs": list(self.abandoned_jobs),
                "seconds": round(self.seconds, 3)}


class _Collector:
    """Violations in the order their checks were made; SQL checks all run in one statement at :meth:`flush`.

    One statement is one snapshot of the store and, on a DuckLake, one set of catalog round trips instead of
    one per check (seconds on a lake).
    """

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        self._slots: list[list[Violation]] = []
        self._pending: list[tuple[int, str, str, str, list]] = []

    def add(self, invariant: str, table: str, key: object, detail: str) -> None:
        self._slots.append([Violation(invariant, table, str(key), detail)])

    def query(self, invariant: str, table: str, sql: str, params: list | None = None) -> None:
        """Add a violation per row of ``sql`` (columns ``key, detail``), at most :data:`LIMIT` of them."""
        self._slots.append([])
        self._pending.append((len(self._slots) - 1, invariant, table, sql, list(params or [])))

    def flush(self, store: PolicyStore) -> None:
        if self._pending:
            # Each check is a constant of this module; the values it needs are bound.
            union = " UNION ALL ".join(
                f"(SELECT {i} AS i, CAST(k AS VARCHAR) AS k, CAST(d AS VARCHAR) AS d "  # noqa: S608
                f"FROM ({sql}) AS q(k, d) ORDER BY k LIMIT {LIMIT + 1})" for i, _, _, sql, _ in self._pending)
            rows = store.execute(union, [p for *_, params in self._pending for p in params]).fetchall()
            found: dict[int, list[tuple[str, str]]] = {}
            for i, key, detail in rows:
                found.setdefault(i, []).append((key, detail))
            for i, invariant, table, sql, params in self._pending:
                hits = sorted(found.get(i, []))
                self._slots[i] = [Violation(invariant, table, key, detail) for key, detail in hits[:LIMIT]]
                if len(hits) > LIMIT:
                    total = store.scalar(f"SELECT count(*) FROM ({sql})", params or None)  # noqa: S608 - constants
                    self._slots[i].append(Violation(invariant, table, "*",
                                                    f"{total - LIMIT} more rows like the ones above"))
            self._pending = []
        self.report.violations = [v for slot in self._slots for v in slot]


def check_store(store: PolicyStore) -> CheckReport:
    """Check every invariant of the store (see the module docstring); reads only.

    Parameters
    ----------
    store:
        An open store: an embedded file or a DuckLake, read only is enough.

    Returns
    -------
    CheckReport
        ``ok`` and every violation found (at most :data:`LIMIT` per invariant and table, then a count).

    Examples
    --------
    >>> import pandas as pd
    >>> from policy_store import PolicyStore
    >>> from policy_store.ingest import ingest_frame
    >>> with PolicyStore.memory() as store:
    ...     _ = ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": [0, 0], "step": [0, 1],
    ...                                           "value": [0.5, 0.4]}))
    ...     _ = store.execute("UPDATE curve_points SET value = 0.3 WHERE step = 1")
    ...     [v.line() for v in check_store(store).violations]
    ['content-hash studies[s]: its trials and curve points hash to ..., the study records ...: rows were changed or
    lost after ingest', 'content-hash trials[s/0]: records final value 0.4, its last point has 0.3']
    """
    started = time.perf_counter()
    report = CheckReport(store.location)
    out = _Collector(report)
    if _schema(store, out):
        with _local_copy(store) if store.is_lake else nullcontext():
            _duplicates(store, out)
            _content(store, out)
            _orphans(store, out)
            _rule_versions(store, out)
            _provenance(store, out)
            _names(out)
            _artifacts(store, out)
            _jobs(store, out)
            _drift_events(store, out)
            out.flush(store)
    out.flush(store)
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _local_copy(store: PolicyStore) -> Iterator[None]:
    """Run the block against an in-memory copy of a lake's tables, taken in one snapshot.

    Each scan of a DuckLake table asks the catalog for its files: the checks scan tables some seventy times,
    a copy scans each once (seconds less per check), and every check sees the same snapshot.
    """
    store.execute(f"ATTACH ':memory:' AS {_COPY}")
    try:
        with store.atomic():
            for table in NATURAL_KEYS:  # constants, and _schema found every one
                store.execute(f"CREATE TABLE {_COPY}.main.{table} AS SELECT * FROM {LAKE_ALIAS}.main.{table}")  # noqa: S608
        store.execute(f"USE {_COPY}")
        yield
    finally:
        store.execute(f"USE {LAKE_ALIAS}")
        store.execute(f"DETACH {_COPY}")


def _schema(store: PolicyStore, out: _Collector) -> bool:
    """Schema rows and tables; False when tables are missing (the other checks would only fail to query)."""
    recorded = dict(store.execute("SELECT version, count(*) FROM schema_version GROUP BY version").fetchall())
    for m in MIGRATIONS:
        if m.version not in recorded:
            out.add("schema", "schema_version", m.version, f"migration {m.version} ({m.description}) is not recorded")
    for version in sorted(v for v in recorded if v > LATEST_VERSION):
        out.add("schema", "schema_version", version, f"unknown to this policy-store (it knows 1..{LATEST_VERSION})")
    missing = sorted(set(NATURAL_KEYS) - set(store.tables()))
    for table in missing:
        out.add("schema", table, "-", "the table is missing")
    return not missing


def _duplicates(store: PolicyStore, out: _Collector) -> None:
    for table, key in NATURAL_KEYS.items():
        cols = ", ".join(key)
        label = " || '/' || ".join(f"coalesce(CAST({c} AS VARCHAR), 'NULL')" for c in key)
        out.query("duplicate-key", table,
                  f"SELECT {label}, count(*) || ' rows share the key ({cols})' FROM {table} "  # noqa: S608 - constants
                  f"GROUP BY {cols} HAVING count(*) > 1")


def _content(store: PolicyStore, out: _Collector) -> None:
    # Rebuild each study's canonical long table from its rows (LEFT JOINs: a missing trial or task changes the
    # hash instead of dropping points) and hash it with ingest's own code.
    table = store.execute(
        """SELECT coalesce(k.task, s.task) AS task, p.study, p.trial, p.step, p.value, p.cost_seconds,
                  t.params, t.state, k.metric, k.direction, m.peak_memory_mb
           FROM curve_points p JOIN studies s USING (study)
           LEFT JOIN trials t ON t.study = p.study AND t.trial = p.trial
           LEFT JOIN tasks k ON k.task = s.task
           LEFT JOIN curve_memory m ON m.study = p.study AND m.trial = p.trial AND m.step = p.step"""
    ).to_arrow_table()
    recorded = dict(store.execute("SELECT study, content_hash FROM studies").fetchall())
    report = out.report
    report.checked["studies"], report.checked["points"] = len(recorded), table.num_rows
    actual = study_hashes(table) if table.num_rows else {}
    # A study whose input named no metric keeps its task's metric out of its hash (ingest accepts such a study
    # for a task that records one): hash those once more without it before calling them changed.
    retry = [s for s, h in actual.items() if recorded.get(s) != h]
    if retry:
        subset = table.filter(pc.is_in(table["study"], pa.array(retry)))
        again = study_hashes(subset.set_column(subset.schema.get_field_index("metric"), "metric",
                                               pa.nulls(subset.num_rows, pa.string())))
        actual.update({s: h for s, h in again.items() if recorded.get(s) == h})
    for study in sorted(recorded):
        if study not in actual:
            out.add("content-hash", "studies", study, "the study has no curve points")
        elif actual[study] != recorded[study]:
            out.add("content-hash", "studies", study,
                    f"its trials and curve points hash to {actual[study][:4]}..., the study records "
                    f"{recorded[study][:4]}...: rows were changed or lost after ingest")
    out.query("content-hash", "studies",
              """SELECT s.study, 'records ' || s.n_trials || ' trials and ' || s.n_points || ' points, has '
                        || coalesce(t.n, 0) || ' trials and ' || coalesce(p.n, 0) || ' points'
                 FROM studies s
                 LEFT JOIN (SELECT study, count(*) AS n FROM trials GROUP BY study) t USING (study)
                 LEFT JOIN (SELECT study, count(*) AS n FROM curve_points GROUP BY study) p USING (study)
                 WHERE s.n_trials <> coalesce(t.n, 0) OR s.n_points <> coalesce(p.n, 0)""")
    _trials(out)


# The trial row against its points' aggregate ``p``; NULL-safe, a cost summed in another order may differ a little.
_STEPS_DIFFER = "(t.n_steps <> coalesce(p.n, 0) OR t.final_step IS DISTINCT FROM p.last)"
_VALUE_DIFFERS = "t.final_value IS DISTINCT FROM p.final_value"
_COST_DIFFERS = (f"(t.cost_seconds IS DISTINCT FROM p.cost AND NOT coalesce(abs(t.cost_seconds - p.cost) "
                 f"<= {COST_TOLERANCE} * greatest(1, abs(p.cost)), false))")


def _trials(out: _Collector) -> None:
    """Each trial row's columns derived from its points (as ingest's writer derives them), and its number."""
    # One scan of the points for every derived column; the detail names each column that differs.
    out.query("content-hash", "trials",
              f"""SELECT t.study || '/' || t.trial, concat_ws('; ',
                        CASE WHEN {_STEPS_DIFFER} THEN 'records ' || t.n_steps || ' steps up to ' || t.final_step
                             || ', has ' || coalesce(p.n, 0) || ' points up to '
                             || coalesce(CAST(p.last AS VARCHAR), '-') END,
                        CASE WHEN {_VALUE_DIFFERS} THEN 'records final value ' || coalesce(CAST(t.final_value
                             AS VARCHAR), 'NULL') || ', its last point has '
                             || coalesce(CAST(p.final_value AS VARCHAR), 'NULL') END,
                        CASE WHEN {_COST_DIFFERS} THEN 'records cost ' || coalesce(CAST(t.cost_seconds AS VARCHAR),
                             'NULL') || ' s, its points sum to ' || coalesce(CAST(p.cost AS VARCHAR), 'NULL')
                             || ' s' END)
                 FROM trials t
                 LEFT JOIN (SELECT study, trial, count(*) AS n, max(step) AS last,
                                   arg_max(value, step) AS final_value,
                                   CASE WHEN count(cost_seconds) = count(*) THEN sum(cost_seconds) END AS cost
                            FROM curve_points GROUP BY study, trial) p ON p.study = t.study AND p.trial = t.trial
                 WHERE {_STEPS_DIFFER} OR {_VALUE_DIFFERS} OR {_COST_DIFFERS}""")  # noqa: S608 - constants
    out.query("content-hash", "trials",
              "SELECT study || '/' || string_agg(trial, ',' ORDER BY trial), count(*) || ' trials share trial number '"
              " || trial_number FROM trials GROUP BY study, trial_number HAVING count(*) > 1")


_ORPHANS = (
    ("curve_points", "SELECT DISTINCT study || '/' || trial, 'curve points of a study the store does not have' "
                     "FROM curve_points WHERE study NOT IN (SELECT study FROM studies)"),
    ("trials", "SELECT study || '/' || trial, 'a trial of a study the store does not have' "
               "FROM trials WHERE study NOT IN (SELECT study FROM studies)"),
    ("studies", "SELECT study, 'its task ' || task || ' is not in tasks' FROM studies "
                "WHERE task NOT IN (SELECT task FROM tasks)"),
    ("outcomes", "SELECT outcome_id, 'an outcome of study ' || study || ', which the store does not have' "
                 "FROM outcomes WHERE study NOT IN (SELECT study FROM studies)"),
    ("curve_memory", "SELECT DISTINCT study || '/' || trial || '@' || step, 'the memory of a point the store does "
                     "not have' FROM curve_memory m WHERE NOT EXISTS (SELECT 1 FROM curve_points p "
                     "WHERE p.study = m.study AND p.trial = m.trial AND p.step = m.step)"),
    ("outcome_resources", "SELECT outcome_id, 'the resources of an outcome the store does not have' "
                          "FROM outcome_resources WHERE outcome_id NOT IN (SELECT outcome_id FROM outcomes)"),
    # Live decisions are absorbed before their study is recorded (record-live); replay ones come from its curves.
    ("decisions", "SELECT decision_id, 'a replay decision on study ' || study || ', which the store does not have' "
                  "FROM decisions WHERE mode <> 'live' AND study NOT IN (SELECT study FROM studies)"),
    ("drift_events", "SELECT event_id, 'handled by job ' || job_id || ', which is not in jobs' FROM drift_events "
                     "WHERE job_id IS NOT NULL AND job_id NOT IN (SELECT job_id FROM jobs)"),
    ("recommendations", "SELECT recommendation_id, 'made by meta-model ' || model_id || ', which is not in "
                        "meta_models' FROM recommendations "
                        "WHERE model_id IS NOT NULL AND model_id NOT IN (SELECT model_id FROM meta_models)"),
)


def _orphans(store: PolicyStore, out: _Collector) -> None:
    for table, sql in _ORPHANS:
        out.query("orphan", table, sql)


def _rule_versions(store: PolicyStore, out: _Collector) -> None:
    # A drift event may watch a whole rule (no version): then the rule has to exist.
    for table, key, spec in (("outcomes", "outcome_id", "o.spec_hash"), ("decisions", "decision_id", "o.spec_hash"),
                             ("drift_events", "event_id", "NULL")):
        out.query("rule-version", table,
                  f"""SELECT o.{key}, CASE
                        WHEN o.version IS NULL THEN 'names rule ' || o.rule || ', which the store does not have'
                        WHEN v.rule IS NULL THEN 'names rule version ' || o.rule || '@' || o.version
                             || ', which the store does not have'
                        ELSE 'names ' || o.rule || '@' || o.version || ' with spec hash ' || left({spec}, 12)
                             || '..., the version has ' || left(v.spec_hash, 12) || '...' END
                      FROM {table} o LEFT JOIN rule_versions v ON v.rule = o.rule AND v.version = o.version
                      WHERE o.rule IS NOT NULL AND CASE
                        WHEN o.version IS NULL THEN o.rule NOT IN (SELECT rule FROM rules)
                        ELSE v.rule IS NULL OR ({spec} IS NOT NULL AND {spec} <> v.spec_hash) END""")  # noqa: S608


def _provenance(store: PolicyStore, out: _Collector) -> None:
    out.report.checked["rule_versions"] = int(store.scalar("SELECT count(*) FROM rule_versions"))
    checks = (
        ("trim(created_by) = ''", "'created_by is empty: who or what made this version is not recorded'"),
        ("source NOT IN (SELECT unnest(?::VARCHAR[]))", "'unknown source ' || source"),
        ("status NOT IN (SELECT unnest(?::VARCHAR[]))", "'unknown status ' || status"),
        ("sha256(spec) <> spec_hash", "'its stored spec does not hash to its spec_hash'"),
        ("rule NOT IN (SELECT rule FROM rules)", "'its rule is not in rules'"),
        ("version < 1 OR version > count(*) OVER (PARTITION BY rule)",
         "'versions of a rule are numbered 1..n; this one is ' || version || ' of ' "
         "|| count(*) OVER (PARTITION BY rule)"),
        ("parent_version IS NOT NULL AND (parent_version >= version OR NOT EXISTS (SELECT 1 FROM rule_versions p "
         "WHERE p.rule = v.rule AND p.version = v.parent_version))",
         "'its parent version ' || parent_version || ' is not an earlier version of the rule'"),
        ("meta_model_id IS NOT NULL AND meta_model_id NOT IN (SELECT model_id FROM meta_models)",
         "'made by meta-model ' || meta_model_id || ', which is not in meta_models'"),
        ("drift_event_id IS NOT NULL AND drift_event_id NOT IN (SELECT event_id FROM drift_events)",
         "'made for drift event ' || drift_event_id || ', which is not in drift_events'"),
        ("job_id IS NOT NULL AND job_id NOT IN (SELECT job_id FROM jobs)",
         "'made by job ' || job_id || ', which is not in jobs'"),
    )
    params = {"source NOT IN": list(SOURCES), "status NOT IN": list(STATUSES)}
    for where, detail in checks:
        bound = [value for prefix, value in params.items() if where.startswith(prefix)]
        # A window function cannot sit in WHERE: every check filters a subquery that computes its detail.
        out.query("provenance", "rule_versions",
                  f"SELECT k, d FROM (SELECT rule || '@' || version AS k, {detail} AS d, ({where}) AS bad "  # noqa: S608
                  f"FROM rule_versions v) WHERE bad", bound or None)


#: (table, key shown, name columns) whose names must be printable.
_NAMED = (
    ("tasks", "task", ("task", "metric")), ("studies", "study", ("study", "task")),
    ("trials", "study || '/' || trial", ("study", "trial")), ("rules", "rule", ("rule",)),
    ("decisions", "decision_id", ("study", "trial", "rule")), ("outcomes", "outcome_id", ("study", "task", "rule")),
)


def _names(out: _Collector) -> None:
    for table, key, columns in _NAMED:
        for column in columns:
            # The key is shown with its control characters escaped, so the line itself stays printable.
            out.query("name", table,
                      f"SELECT regexp_replace({key}, '{CONTROL_SQL}', '?', 'g'), "  # noqa: S608 - constants
                      f"'its {column} holds a control character (NUL, tab, newline, escape...)' FROM {table} "
                      f"WHERE regexp_matches({column}, '{CONTROL_SQL}')")


def _artifacts(store: PolicyStore, out: _Collector) -> None:
    rows = store.execute("SELECT model_id, path, sha256 FROM meta_models ORDER BY model_id").fetchall()
    out.report.checked["artifacts"] = len(rows)
    for model_id, path, recorded in rows:
        if model_id != f"meta-{recorded[:16]}":
            out.add("artifact", "meta_models", model_id, f"the id does not derive from its sha256 {recorded[:16]}...")
        try:
            digest = _sha256_of_file(path)
        except OSError as e:
            out.add("artifact", "meta_models", model_id, f"its file {path!r} cannot be read ({e.strerror or e})")
            continue
        if digest != recorded:
            out.add("artifact", "meta_models", model_id,
                    f"its file {Path(path).name!r} hashes to {digest[:16]}..., the store recorded "
                    f"{recorded[:16]}...: the file was modified or replaced")


def _sha256_of_file(path: str) -> str:
    """The sha256 of a regular file's bytes.

    Raises
    ------
    OSError
        The file cannot be read, or it is not a regular file: a FIFO would block the check, a device such
        as ``/dev/zero`` never ends. It is opened without blocking or following a symlink, and checked again
        once open, so that nothing swapped in after the first look is read either.
    """
    _require_regular(os.lstat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    with open(fd, "rb") as f:
        _require_regular(os.fstat(fd).st_mode)
        digest = hashlib.sha256()
        while chunk := f.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _require_regular(mode: int) -> None:
    """Raise :class:`OSError` naming the kind of file ``mode`` is, unless it is a regular file."""
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "special file")
        raise OSError(f"it is a {kind}, not a regular file")


def _drift_events(store: PolicyStore, out: _Collector) -> None:
    """Migration 2's columns: who saw an event, what became of it, and where the change began."""
    out.query("drift-event", "drift_events", "SELECT event_id, 'unknown origin ' || coalesce(origin, 'NULL') "
              "FROM drift_events WHERE origin IS NULL OR origin NOT IN (SELECT unnest(?::VARCHAR[]))",
              [[*DRIFT_ORIGINS, "legacy"]])
    out.query("drift-event", "drift_events", "SELECT event_id, 'unknown status ' || coalesce(status, 'NULL') "
              "FROM drift_events WHERE status IS NULL OR status NOT IN (SELECT unnest(?::VARCHAR[]))",
              [list(DRIFT_EVENT_STATUSES)])
    out.query("drift-event", "drift_events", "SELECT event_id, 'a ' || origin || ' event without its change point "
              "or alarm study' FROM drift_events WHERE origin IN ('manual', 'scheduled') "
              "AND (change_study IS NULL OR change_at IS NULL OR alarm_study IS NULL)")
    out.query("drift-event", "drift_events", "SELECT event_id, 'pending without the number of studies it needs' "
              "FROM drift_events WHERE status = 'pending' AND coalesce(needed_studies, 0) < 1")
    out.query("drift-event", "drift_events", "SELECT event_id, 'status ' || status || ' does not fit origin ' "
              "|| origin FROM drift_events WHERE (origin = 'manual' AND status <> 'seen') "
              "OR (origin = 'scheduled' AND status IN ('seen', 'closed')) "
              "OR (origin = 'legacy' AND status <> 'closed')")
    out.query("drift-event", "drift_events", "SELECT event_id, status || ' by no job' FROM drift_events "
              "WHERE status IN ('pending', 'promoted', 'rejected') AND job_id IS NULL")


def _jobs(store: PolicyStore, out: _Collector) -> None:
    out.report.checked["jobs"] = int(store.scalar("SELECT count(*) FROM jobs"))
    out.query("job", "jobs", "SELECT job_id, 'unknown status ' || status FROM jobs "
              "WHERE status NOT IN (SELECT unnest(?::VARCHAR[]))", [list(JOB_STATUSES)])
    out.query("job", "jobs", "SELECT job_id, 'finished (' || status || ') without an end time' FROM jobs "
              "WHERE status <> 'running' AND ended_at IS NULL")
    out.query("job", "jobs", "SELECT job_id, 'running, yet it ended at ' || ended_at FROM jobs "
              "WHERE status = 'running' AND ended_at IS NOT NULL")
    out.query("job", "jobs", "SELECT job_id, 'ended at ' || ended_at || ', before it started at ' || started_at "
              "FROM jobs WHERE ended_at < started_at")
    out.query("job", "jobs", "SELECT kind, count(*) || ' jobs of this kind are running at once' FROM jobs "
              "WHERE status = 'running' GROUP BY kind HAVING count(*) > 1")
    running = store.execute(
        """SELECT j.job_id, j.kind,
                  (SELECT count(*) FROM rule_versions v WHERE v.job_id = j.job_id)
                  + (SELECT count(*) FROM drift_events e WHERE e.job_id = j.job_id) AS wrote
           FROM jobs j WHERE j.status = 'running' ORDER BY j.started_at, j.job_id"""
    ).fetchall()
    for job_id, kind, wrote in running:
        try:
            if store.lock_is_held(kind):
                continue  # the job is running right now
        except StoreError as e:
            out.add("job", "jobs", job_id, f"its lock cannot be taken to see whether it runs: {e}")
            continue
        if wrote:
            out.add("job", "jobs", job_id, f"left 'running' by a {kind} job whose lock nobody holds, yet {wrote} "
                    "rows it wrote are committed: it committed work without its final status")
        else:
            out.report.abandoned_jobs.append(job_id)
