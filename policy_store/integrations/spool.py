"""Per-process, append-only spool files of live decisions, and their absorption into the store.

Why a spool
-----------
DuckDB lets one process write a database file at a time, and an Optuna study
often runs in many worker processes (on many hosts, later, with DuckLake). A
worker therefore never opens the store while it optimises: each decision is
appended as one JSON line to a file that only this process writes, and the
store *absorbs* every spool file later, in one transaction.

Layout and write path
---------------------
``<spool dir>/<host>-<pid>-<random>.jsonl.part`` while its writer is open,
renamed to ``….jsonl`` by :meth:`SpoolWriter.close`. Each record is written by a
single ``os.write`` on an ``O_APPEND`` descriptor, opened lazily in the process
that writes (a writer pickled or forked into a worker opens its own file). Other
files in the folder (names not of that form) are neither read nor removed.

Failure modes
-------------
- **Worker killed (SIGKILL, OOM).** A record whose ``write`` returned is in the
  kernel's page cache and survives the process; only the decision being written
  at that instant is lost. The file stays ``.part``; absorb reads it anyway, and
  deletes it once its rows are committed if its writer was on this host and its
  pid is gone (a reused pid only keeps the file longer).
- **Torn last line.** A write cut short (disk full, host crash) leaves a line
  without its newline; absorb skips it and counts it in ``torn``. Nothing is ever
  appended after it: every writer has its own file, and a writer whose write fails
  (or stays short) raises, closes that file and starts a new one. An absorb that runs
  while a worker is writing may see that worker's last line half-written: it is
  skipped the same way and absorbed next time (the file is kept, its writer lives).
- **Host crash or power loss.** Records not yet on disk are lost unless
  ``fsync="always"`` (one fsync per decision: milliseconds, off by default);
  ``"close"`` (the default) fsyncs once when the writer closes.
- **Absorb twice, or crash between commit and cleanup.** Decision ids are
  content-derived (see :func:`decision_id`) and inserted with an anti-join, so
  absorbing the same records again adds nothing. Closed files are deleted only
  after the commit (``remove=True``).
- **Corrupt line** (not JSON, or missing fields): skipped and counted in ``bad``;
  the others are absorbed.
- **Forged line**: a JSON record that parses but that no :class:`SpoolWriter` of a
  ``StorePruner`` writes (a field it never writes, a wrong type, an unknown verdict, a
  rule version the store does not have, the id of a decision already recorded
  with other content, or a rule switch whose spec does not hash to its ``spec_hash``,
  of a rule the store does not have or from a spec its rule never had) is not a
  crash artefact: the absorb is refused with an
  :class:`~policy_store.errors.InvalidInputError` naming the file, line and field,
  and nothing is absorbed.
- **Rule switches** (an adaptive ``StorePruner``): a ``{"kind": "switch", ...}``
  line precedes the decisions of the spec it switched to, which are spooled
  without a version number. Absorbing the switch makes that spec the next
  version of the rule (source ``meta-learner``, the switch as its reason, its
  ``switch_id`` in the reason so a second absorb finds it) and numbers those
  decisions with it, in the same transaction. Decisions spooled without a version
  after their switch was absorbed (a later file of the same pruner) take the newest
  version of their rule with their spec.
- **Store locked by another process.** The absorbing process opens the store for
  writing; callers retry (:func:`policy_store.integrations.optuna.open_store_retrying`).
  On a DuckLake two hosts may absorb at once: the insert is fenced
  (:meth:`PolicyStore.fence`), so the later commit re-runs and finds the rows there.

Examples
--------
>>> import tempfile
>>> from policy_store import PolicyStore
>>> d = tempfile.mkdtemp()
>>> from policy_store.rules import RuleSpec, add_rule_version
>>> w = SpoolWriter(d)
>>> w.append({"decision_id": "a1", "study": "s", "trial": "0", "trial_number": 0, "step": 1, "value": 0.5,
...           "threshold": None, "ref_size": 0, "verdict": "continue", "reason": "warm-up", "rule": "r",
...           "version": 1, "spec_hash": RuleSpec.parse({"strategy": "median"}).spec_hash,
...           "decided_at": "2026-01-01T00:00:00"})
>>> w.close()
>>> with PolicyStore.memory() as store:
...     _ = add_rule_version(store, "r", {"strategy": "median"}, created_by="doc")
...     first = absorb_spool(store, d, remove=False)
...     again = absorb_spool(store, d)
...     (first.inserted, again.inserted, again.duplicates, store.scalar("SELECT count(*) FROM decisions"))
(1, 0, 1, 1)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import sys
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from policy_store.errors import InvalidInputError
from policy_store.names import check_name
from policy_store.rules.spec import RuleSpec
from policy_store.store import PolicyStore

FSYNC_POLICIES = ("never", "close", "always")
RECORD_FIELDS = ("decision_id", "study", "trial", "trial_number", "step", "value", "threshold", "ref_size",
                 "verdict", "reason", "rule", "version", "spec_hash", "decided_at")
SWITCH_FIELDS = ("switch_id", "study", "rule", "from_spec_hash", "spec_hash", "spec", "first_trial", "n_completed",
                 "reason", "decided_at")
MODE = "live"
_PART = ".jsonl.part"
_DONE = ".jsonl"


def decision_id(study: str, trial_number: int, trial_start: str, call: int, spec_hash: str) -> str:
    """Content-derived id of one live decision: the ``call``-th ``should_prune`` of a trial.

    The trial's start time tells apart two runs of a study with the same name.

    >>> decision_id("s", 3, "2026-01-01T00:00:00", 0, "h")[:12]
    'b018b6b382dc'
    """
    key = f"{study}|{trial_number}|{trial_start}|{call}|{spec_hash}|{MODE}"
    return hashlib.sha256(key.encode()).hexdigest()


class SpoolWriter:
    """Append decision records to this process's own spool file.

    Parameters
    ----------
    directory:
        The spool directory (created if missing); shared by every worker.
    fsync:
        ``"never"``, ``"close"`` (default) or ``"always"`` (see the module docstring).
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: str = "close") -> None:
        if fsync not in FSYNC_POLICIES:
            raise InvalidInputError(f"fsync must be one of {list(FSYNC_POLICIES)}, got {fsync!r}", field="fsync")
        self.directory = Path(directory)
        self.fsync = fsync
        self._fd: int | None = None
        self._pid: int | None = None
        self.path: Path | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # A copy in another process must open its own file, never share this descriptor.
        return {"directory": self.directory, "fsync": self.fsync}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], fsync=state["fsync"])

    def _open(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.path = self.directory / f"{stem}{_PART}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self._pid = os.getpid()
        return self._fd

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line with one ``write`` call (more only if the kernel takes part of it).

        A write that fails leaves this file with a torn last line: the file is closed, so the next
        record starts a new one instead of being glued onto the torn line, and the error raised. A name
        holding a control character is refused here, at ``should_prune`` time, by the rule of file ingest
        (:func:`policy_store.names.check_name`), before anything is written.
        """
        for name in _NAMES:
            if isinstance(record.get(name), str):
                check_name(record[name], name)
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        with self._lock:
            fd = self._fd if self._pid == os.getpid() and self._fd is not None else self._open()
            try:
                _write_all(fd, line)
            except OSError:
                self._finish(fsync=False)
                raise
            if self.fsync == "always":
                os.fsync(fd)

    def close(self) -> None:
        """Flush (per the fsync policy) and mark the file complete; idempotent."""
        with self._lock:
            if self._fd is None or self._pid != os.getpid():
                return
            self._finish(fsync=self.fsync != "never")

    def _finish(self, *, fsync: bool) -> None:
        """Close this process's file and rename it ``.jsonl``: it gets no more records (lock held)."""
        assert self._fd is not None and self.path is not None
        fd, self._fd = self._fd, None
        try:
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
            done = self.path.with_name(self.path.name[: -len(_PART)] + _DONE)
            os.replace(self.path, done)
            self.path = done


def _write_all(fd: int, line: bytes) -> None:
    """Write all of ``line``: one ``os.write``, then the rest if the kernel took only part of it."""
    written = os.write(fd, line)
    while written < len(line):
        more = os.write(fd, line[written:])
        if more == 0:
            raise OSError(f"short write: {written} of {len(line)} bytes of a spool record written")
        written += more


@dataclass
class AbsorbReport:
    """What one :func:`absorb_spool` call did."""

    files: int = 0
    records: int = 0
    inserted: int = 0
    duplicates: int = 0
    torn: int = 0
    bad: int = 0
    switches: int = 0
    removed: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    """Paths read that can get no more records (removable once the rows are committed)."""

    def summary(self) -> str:
        """One line for people."""
        return (f"{self.inserted} decisions absorbed from {self.files} spool files "
                + (f"({self.switches} rule switches) " if self.switches else "") +
                f"({self.duplicates} already in the store, {self.torn} torn, {self.bad} unreadable lines; "
                f"{len(self.removed)} finished files removed)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_INT32, _INT64 = 2**31, 2**63
# field -> (accepted types, bound of its column's integers); None always means "may be null".
_SHAPES: dict[str, tuple[tuple[type, ...], int | None, bool]] = {
    "decision_id": ((str,), None, False), "study": ((str,), None, False), "trial": ((str,), None, False),
    "trial_number": ((int,), _INT32, False), "step": ((int,), _INT64, True), "value": ((int, float), None, True),
    "threshold": ((int, float), None, True), "ref_size": ((int,), _INT32, False), "verdict": ((str,), None, False),
    "reason": ((str,), None, False), "rule": ((str,), None, False),
    # null after an adaptive switch, until the absorb numbers the switched-to version
    "version": ((int,), _INT32, True),
    "spec_hash": ((str,), None, False), "decided_at": ((str,), None, False),
}
_SWITCH_SHAPES: dict[str, tuple[tuple[type, ...], int | None, bool]] = {
    "kind": ((str,), None, False), "switch_id": ((str,), None, False), "study": ((str,), None, False),
    "rule": ((str,), None, False), "from_spec_hash": ((str,), None, False), "spec_hash": ((str,), None, False),
    "spec": ((str,), None, False), "first_trial": ((int,), _INT32, False), "n_completed": ((int,), _INT32, False),
    "reason": ((str,), None, False), "evidence": ((dict,), None, True), "decided_at": ((str,), None, False),
}
_VERDICTS = ("prune", "continue")
# Names that reach the store's tables: printable text only, by the rule file ingest applies (policy_store.names).
_NAMES = ("study", "trial", "rule")
_FLOAT_MAX = int(sys.float_info.max)


def _check_record(rec: dict[str, Any], where: str) -> None:
    """Refuse a record no StorePruner writes (see "Forged line" in the module docstring)."""
    switch = rec.get("kind") == "switch"
    shapes = _SWITCH_SHAPES if switch else _SHAPES
    foreign = sorted(str(k) for k in rec if k not in shapes)
    if foreign:
        what = "a spooled rule switch" if switch else "a spooled decision"
        raise InvalidInputError(f"is not a field of {what}: a forged or foreign record",
                                field=foreign[0], source=where)
    for name, (types, bound, nullable) in shapes.items():
        value = rec.get(name)
        if value is None and nullable:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            kind = " or ".join(t.__name__ for t in types) + (" or null" if nullable else "")
            raise InvalidInputError(f"must be {kind}, got {value!r}", field=name, source=where)
        if bound is not None and not -bound <= value < bound:
            raise InvalidInputError(f"{value} is out of range", field=name, source=where)
        if float in types and isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
            raise InvalidInputError("is out of range of a double", field=name, source=where)
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError(f"must be finite or null, got {value!r}", field=name, source=where)
        if isinstance(value, str):
            _check_text(value, name, where)
    if not switch and rec["verdict"] not in _VERDICTS:
        raise InvalidInputError(f"must be one of {list(_VERDICTS)}, got {rec['verdict']!r}", field="verdict",
                                source=where)
    try:
        stamp = datetime.fromisoformat(rec["decided_at"])
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is not None:
        raise InvalidInputError(f"must be a naive UTC ISO timestamp, got {rec['decided_at']!r}", field="decided_at",
                                source=where)
    if switch:
        _check_switch_spec(rec, where)


def _check_text(value: str, name: str, where: str) -> None:
    """A string is UTF-8 text (``json`` lets a lone surrogate through) and, unless a reason, not blank."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInputError("is not UTF-8 text (a lone surrogate)", field=name, source=where) from None
    if name != "reason" and not value.strip():
        raise InvalidInputError("must not be empty", field=name, source=where)
    if name in _NAMES:
        check_name(value, name, source=where)


def _check_switch_spec(rec: dict[str, Any], where: str) -> None:
    """A switch's spec is a valid rule spec whose hash is the switch's ``spec_hash``."""
    try:
        spec_hash = RuleSpec.parse(rec["spec"]).spec_hash
    except InvalidInputError as e:  # InvalidSpecError, DirectionMismatchError
        raise InvalidInputError(f"is not a valid rule spec: {e}", field="spec", source=where) from None
    if spec_hash != rec["spec_hash"]:
        raise InvalidInputError(f"is {rec['spec_hash'][:12]}..., but its spec hashes to {spec_hash[:12]}...: "
                                "a forged switch", field="spec_hash", source=where)


def _read(path: Path, report: AbsorbReport, switches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines[-1]:
        report.torn += 1
    rows = []
    for number, raw in enumerate(lines[:-1], start=1):
        if not raw:
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            report.bad += 1
            continue
        is_switch = isinstance(rec, dict) and rec.get("kind") == "switch"
        if not isinstance(rec, dict) or any(k not in rec for k in (SWITCH_FIELDS if is_switch else RECORD_FIELDS)):
            report.bad += 1
            continue
        where = f"spool file {path.name} line {number}"
        _check_record(rec, where)
        (switches if is_switch else rows).append({**rec, "_source": where})
    return rows


_CONTENT = [c for c in RECORD_FIELDS if c != "decision_id"]


def _refuse_forged(store: PolicyStore, view: str) -> None:
    """Records naming a rule version the store lacks, or reusing a recorded decision's id with other content."""
    # A decision spooled after an adaptive switch has no version until the absorb numbers it (_apply_switch).
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM d.{c}" for c in _CONTENT if c != "version")
    differs += " OR d.mode <> n.mode OR (n.version IS NOT NULL AND n.version IS DISTINCT FROM d.version)"
    # ``view`` is a generated name and the columns constants: nothing here comes from the records.
    checks = (
        (f"""SELECT n._source, 'rule', 'names rule version ' || n.rule || '@' || n.version || CASE WHEN v.rule IS NULL
                THEN ', which the store does not have' ELSE ' with spec hash ' || left(n.spec_hash, 12)
                || '..., but that version has ' || left(v.spec_hash, 12) || '...' END
             FROM {view} n LEFT JOIN rule_versions v ON v.rule = n.rule AND v.version = n.version
             WHERE n.version IS NOT NULL AND (v.rule IS NULL OR v.spec_hash <> n.spec_hash)"""),  # noqa: S608
        (f"""SELECT n._source, 'decision_id', 'decision id ' || n.decision_id || ' is already recorded with other '
                || 'content: a forged or reused id'
             FROM {view} n JOIN decisions d ON d.decision_id = n.decision_id WHERE {differs}"""),  # noqa: S608
        (f"""SELECT min(_source), 'decision_id', 'decision id ' || decision_id || ' appears with different content '
                || 'in the spool: a forged or reused id'
             FROM {view} GROUP BY decision_id
             HAVING count(DISTINCT ({', '.join(_CONTENT)})) > 1"""),  # noqa: S608
    )
    for sql in checks:
        row = store.execute(f"SELECT * FROM ({sql}) ORDER BY 1 LIMIT 1").fetchone()  # noqa: S608 - see above
        if row is not None:
            raise InvalidInputError(row[2], field=row[1], source=row[0])


def _insert(store: PolicyStore, frame: pd.DataFrame) -> int:
    # Fenced: two hosts absorbing the same records into a DuckLake cannot both pass the anti-join.
    store.fence()
    cols = ", ".join(c for c in frame.columns if c != "_source")
    view = f"_spool_{uuid.uuid4().hex}"
    before = store.scalar("SELECT count(*) FROM decisions")
    store.register(view, frame)
    try:
        _refuse_forged(store, view)
        store.execute(
            f"INSERT INTO decisions ({cols}) SELECT {cols} FROM {view} n "  # noqa: S608 - constant names
            "WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.decision_id = n.decision_id) "
            "QUALIFY row_number() OVER (PARTITION BY n.decision_id) = 1")
    finally:
        store.unregister(view)
    return int(store.scalar("SELECT count(*) FROM decisions") - before)


def _writer(path: Path) -> tuple[str, int] | None:
    """The host and pid in a spool file's name, or None for a name no SpoolWriter makes."""
    stem = path.name.removesuffix(_PART) if path.name.endswith(_PART) else path.name.removesuffix(_DONE)
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts) or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _writer_is_gone(path: Path) -> bool:
    """An open file whose writer ran on this host under a pid that no longer exists."""
    writer = _writer(path)
    assert writer is not None  # spool_files lists no other file
    host, pid = writer
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def spool_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Open (``.jsonl.part``) and closed (``.jsonl``) spool files, sorted by name; other files are not listed."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.name.endswith((_PART, _DONE)) and _writer(p) is not None)


def absorb_spool(store: PolicyStore, directory: str | os.PathLike[str], *, remove: bool = True) -> AbsorbReport:
    """Insert every spooled decision not yet in the store, in one transaction.

    Parameters
    ----------
    store:
        The store, open for writing.
    directory:
        The spool directory.
    remove:
        After the commit, delete the files that were read and can get no more
        records: closed (``.jsonl``) files, and open ones whose writer process on
        this host is gone. Refused inside an outer transaction (use
        :func:`remove_absorbed` after it commits).

    Returns
    -------
    AbsorbReport
    """
    if remove and store.in_transaction:
        raise InvalidInputError("remove=True inside a transaction could delete files before their rows commit; "
                                "absorb with remove=False and call remove_absorbed() after the commit",
                                field="remove")
    report = AbsorbReport()
    files = spool_files(directory)
    rows: list[dict[str, Any]] = []
    switches: list[dict[str, Any]] = []
    for path in files:
        try:
            rows += _read(path, report, switches)
        except FileNotFoundError:  # closed and removed by a concurrent absorb
            continue
        report.files += 1
        if path.name.endswith(_DONE) or _writer_is_gone(path):
            report.closed.append(str(path))
    report.records = len(rows)
    if rows or switches:
        frame = _frame(rows)
        switched = {(sw["study"], sw["rule"], sw["spec_hash"]) for sw in switches}
        unswitched = [r for r in rows
                      if r["version"] is None and (r["study"], r["rule"], r["spec_hash"]) not in switched]

        def unit(s: PolicyStore) -> int:
            _refuse_unnumbered(s, unswitched)
            inserted = _insert(s, frame) if rows else 0
            for sw in sorted(switches, key=lambda r: (r["decided_at"], r["switch_id"])):
                _apply_switch(s, sw)
            _number_unswitched(s, unswitched)
            return inserted

        report.inserted = store.run_atomic(unit)
        report.duplicates = report.records - report.inserted
        report.switches = len(switches)
    if remove:
        remove_absorbed(report)
    return report


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The decisions as a frame of the ``decisions`` columns (and each row's ``_source``)."""
    frame = pd.DataFrame(rows, columns=list(RECORD_FIELDS))
    decided_at = pd.to_datetime(frame["decided_at"], format="ISO8601", errors="coerce")
    if decided_at.isna().any():  # datetime.fromisoformat takes more forms (week dates) than the column does
        rec = rows[int(decided_at.isna().to_numpy().argmax())]
        raise InvalidInputError(f"must be a naive UTC ISO timestamp, got {rec['decided_at']!r}", field="decided_at",
                                source=rec["_source"])
    return pd.DataFrame({
        "decision_id": frame["decision_id"].astype(str), "study": frame["study"].astype(str),
        "trial": frame["trial"].astype(str), "trial_number": frame["trial_number"].astype("Int64"),
        "step": frame["step"].astype("Int64"), "value": pd.to_numeric(frame["value"], errors="coerce"),
        "threshold": pd.to_numeric(frame["threshold"], errors="coerce"),
        "ref_size": frame["ref_size"].astype("Int64"), "verdict": frame["verdict"].astype(str),
        "reason": frame["reason"].astype(str), "rule": frame["rule"], "version": frame["version"].astype("Int64"),
        "spec_hash": frame["spec_hash"], "mode": MODE, "order_seed": pd.array([None] * len(frame), "Int64"),
        "decided_at": decided_at, "_source": [r["_source"] for r in rows],
    })


def _refuse_unnumbered(store: PolicyStore, unswitched: list[dict[str, Any]]) -> None:
    """Decisions without a version that no switch in this absorb leads to need one recorded by an earlier absorb."""
    known = {(r["rule"], r["spec_hash"])
             for r in store.fetch_dicts("SELECT DISTINCT rule, spec_hash FROM rule_versions")}
    for rec in unswitched:
        if (rec["rule"], rec["spec_hash"]) not in known:
            raise InvalidInputError("is null, but no rule switch leads to its spec, in the spool or the store: "
                                    "a forged record", field="version", source=rec["_source"])


def _number_unswitched(store: PolicyStore, unswitched: list[dict[str, Any]]) -> None:
    """Number decisions spooled after a switch absorbed earlier with the newest version of their rule and spec."""
    for study, rule, spec_hash in sorted({(r["study"], r["rule"], r["spec_hash"]) for r in unswitched}):
        version = store.scalar("SELECT max(version) FROM rule_versions WHERE rule = ? AND spec_hash = ?",
                               [rule, spec_hash])
        _number(store, study, rule, spec_hash, int(version))


def _number(store: PolicyStore, study: str, rule: str, spec_hash: str, version: int) -> None:
    """Give the live decisions of ``study`` under ``rule`` with ``spec_hash`` and no version that version."""
    store.execute("UPDATE decisions SET version = ? WHERE study = ? AND rule = ? AND spec_hash = ? "
                  "AND version IS NULL AND mode = ?", [version, study, rule, spec_hash, MODE])


def _apply_switch(store: PolicyStore, sw: dict[str, Any]) -> None:
    """The switched-to spec as a rule version (once), and its unnumbered decisions numbered with it."""
    from policy_store.rules.versions import add_rule_version

    tag = f"[switch {sw['switch_id']}]"
    found = store.fetch_dicts("SELECT version, spec_hash FROM rule_versions WHERE rule = ? AND contains(reason, ?)",
                              [sw["rule"], tag])
    if found:
        if found[0]["spec_hash"] != sw["spec_hash"]:
            raise InvalidInputError(f"switch {sw['switch_id']} is already recorded as {sw['rule']}@"
                                    f"{found[0]['version']} with another spec: a forged or reused id",
                                    field="switch_id", source=sw["_source"])
        version = int(found[0]["version"])
    else:
        version = add_rule_version(
            store, sw["rule"], sw["spec"], created_by="meta-learner:adaptive", source="meta-learner",
            reason=f"{sw['reason']}; study {sw['study']!r}, from trial {sw['first_trial']} {tag}",
            parent=_switch_parent(store, sw)).version
    _number(store, sw["study"], sw["rule"], sw["spec_hash"], version)


def _switch_parent(store: PolicyStore, sw: dict[str, Any]) -> int:
    """The newest version of the switch's rule with the spec it switched from; refuse a switch from elsewhere."""
    if not store.scalar("SELECT count(*) FROM rule_versions WHERE rule = ?", [sw["rule"]]):
        raise InvalidInputError(f"names rule {sw['rule']}, which the store does not have: a forged switch",
                                field="rule", source=sw["_source"])
    parent = store.scalar("SELECT max(version) FROM rule_versions WHERE rule = ? AND spec_hash = ?",
                          [sw["rule"], sw["from_spec_hash"]])
    if parent is None:
        raise InvalidInputError(f"{sw['from_spec_hash'][:12]}... is the spec of no version of rule {sw['rule']}: "
                                "a forged switch", field="from_spec_hash", source=sw["_source"])
    return int(parent)


def remove_absorbed(report: AbsorbReport) -> None:
    """Delete the finished spool files an absorb read (call only once its rows are committed)."""
    for name in report.closed:
        Path(name).unlink(missing_ok=True)
        report.removed.append(Path(name).name)
