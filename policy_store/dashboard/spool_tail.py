"""Decisions a running study has spooled but the store has not absorbed yet, read as they are written.

``StorePruner`` never opens the store while a study runs: each worker appends
its decisions to its own spool file (:mod:`policy_store.integrations.spool`),
and the store takes them when the study finishes or ``policy-store absorb``
runs. To show a study *while* it runs, the dashboard reads those files too,
without ever writing, renaming or removing one:

- each file is read from where the last read stopped, up to its last complete
  line (a line being written is read next time), so a poll costs one ``stat``
  per file and the new bytes only;
- a file renamed from ``.jsonl.part`` to ``.jsonl`` by its writer keeps its place;
  a file that disappeared was absorbed, and its decisions are in the store now;
- lines that are not decisions a ``StorePruner`` writes are skipped (the absorb
  refuses them; the dashboard only shows what it can);
- at most ``max_records`` decisions are kept; older ones are dropped first.

The directory comes from the command line (``--spool-dir``) or the store's own
path (``<store>.spool``), never from a request.

>>> import tempfile
>>> from policy_store.integrations.spool import SpoolWriter
>>> d = tempfile.mkdtemp()
>>> w = SpoolWriter(d)
>>> w.append({"decision_id": "a1", "study": "s", "trial": "0", "trial_number": 0, "step": 1, "value": 0.5,
...           "threshold": 0.4, "ref_size": 3, "verdict": "prune", "reason": "below the median", "rule": "r",
...           "version": 1, "spec_hash": "h", "decided_at": "2026-01-01T00:00:00"})
>>> tail = SpoolTail(d)
>>> [(r["study"], r["verdict"]) for r in tail.records()]
[('s', 'prune')]
>>> w.close(); [r["decision_id"] for r in tail.records()]  # renamed .jsonl: read once, not twice
['a1']
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_store.integrations.spool import RECORD_FIELDS, spool_files

_VERDICTS = ("prune", "continue")


@dataclass
class _File:
    offset: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)


def _stem(path: Path) -> str:
    return path.name.split(".jsonl", 1)[0]


def _decision(raw: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(rec, dict) or rec.get("kind") == "switch" or any(k not in rec for k in RECORD_FIELDS):
        return None
    if rec["verdict"] not in _VERDICTS or not isinstance(rec["study"], str) or not isinstance(rec["trial"], str):
        return None
    return {k: rec[k] for k in RECORD_FIELDS}


class SpoolTail:
    """The live decisions waiting in a spool directory, read incrementally.

    Parameters
    ----------
    directory:
        The spool directory (need not exist yet), or None for none.
    max_records:
        Most decisions kept in memory.
    """

    def __init__(self, directory: str | os.PathLike[str] | None, *, max_records: int = 200_000) -> None:
        self.directory = None if directory is None else Path(directory)
        self.max_records = max_records
        self._files: dict[str, _File] = {}
        self._lock = threading.Lock()

    def signature(self) -> str:
        """Changes whenever a spool file appears, grows or goes (one ``stat`` per file, nothing read)."""
        if self.directory is None:
            return "-"
        parts = []
        for p in spool_files(self.directory):
            try:
                parts.append(f"{_stem(p)}:{p.stat().st_size}")
            except FileNotFoundError:
                continue
        return ";".join(parts)

    def records(self) -> list[dict[str, Any]]:
        """Every pending decision, oldest file first, in the order each worker wrote them."""
        if self.directory is None:
            return []
        with self._lock:
            present = {}
            for path in spool_files(self.directory):
                stem = _stem(path)
                present[stem] = self._files.get(stem) or _File()
                self._advance(path, present[stem])
            self._files = present
            kept: deque[dict[str, Any]] = deque(maxlen=self.max_records)
            for f in present.values():
                kept.extend(f.records)
            return list(kept)

    def _advance(self, path: Path, state: _File) -> None:
        try:
            with open(path, "rb") as fh:
                fh.seek(state.offset)
                data = fh.read()
        except FileNotFoundError:  # renamed or absorbed between the listing and the read
            return
        end = data.rfind(b"\n") + 1
        for raw in data[:end].split(b"\n"):
            rec = _decision(raw) if raw else None
            if rec is not None:
                state.records.append(rec)
        state.offset += end
        if len(state.records) > self.max_records:
            del state.records[: len(state.records) - self.max_records]
