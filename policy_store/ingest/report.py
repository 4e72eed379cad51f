"""What one ingest call did, for people (:meth:`IngestReport.summary`) and for ``--json``.

>>> IngestReport(added=["s1", "s2"], points_written=40, new_tasks=["t"]).summary()
'2 studies added (40 points, 1 new task)'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class IngestReport:
    """What one ingest call did."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    points_written: int = 0
    new_tasks: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        if not self.added and not self.replaced:
            return f"{count(len(self.unchanged), 'study', 'studies')} unchanged (already in the store; nothing written)"
        parts = [f"{count(len(self.added), 'study', 'studies')} added"] if self.added else []
        parts += [f"{len(self.replaced)} replaced"] if self.replaced else []
        parts += [f"{len(self.unchanged)} unchanged"] if self.unchanged else []
        tasks = f", {count(len(self.new_tasks), 'new task', 'new tasks')}" if self.new_tasks else ""
        return f"{', '.join(parts)} ({self.points_written} points{tasks})"

    def to_dict(self) -> dict:
        return asdict(self)


def count(n: int, one: str, many: str) -> str:
    """``n`` with the noun in number: ``1 study``, ``2 studies``."""
    return f"{n} {one if n == 1 else many}"
