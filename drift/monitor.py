"""A monitor: one metric of one rule's outcomes, a rolling window, a detector.

:meth:`Monitor.check` reads the window from the store (only the outcomes after
the monitor's last drift event on that scope, since a detector starts over after
a change), replays it through a fresh copy of the detector, and records a
:class:`~policy_store.drift.events.DriftEvent` at the first detection. The check
is stateless and deterministic, so it is safe to run from a scheduler: rerunning
it on the same data records nothing new.

>>> from datetime import timedelta
>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.drift import CUSUM
>>> from policy_store.store import utcnow
>>> start = utcnow() - timedelta(days=1)
>>> new = pd.DataFrame({  # killed-best every third study from the 60th on
...     "outcome_id": [f"o{i:03d}" for i in range(120)], "study": [f"s{i}" for i in range(120)],
...     "killed_best": [i >= 60 and i % 3 == 0 for i in range(120)],
...     "created_at": [start + timedelta(minutes=i) for i in range(120)]})
>>> with PolicyStore.memory() as store:
...     store.register("new", new)
...     store.execute("INSERT INTO outcomes (outcome_id, rule, version, spec_hash, study, task, mode, "
...                   "killed_best, created_at) SELECT outcome_id, 'median', 1, 'h', study, 't', 'replay', "
...                   "killed_best, created_at FROM new") and None
...     monitor = Monitor(Scope("median"), "killed_best", CUSUM(k=0.1, threshold=2.0, mode="up"))
...     result = monitor.check(store)
...     result.n, result.event.window_end - start, monitor.check(store).event
(120, datetime.timedelta(seconds=3960), None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from policy_store.drift._base import DriftDetector, check_fraction
from policy_store.drift.events import DriftEvent, last_event_end, record_event
from policy_store.drift.windows import METRICS, CountWindow, Scope, TimeWindow, read_window

from policy_store.errors import InvalidInputError
from policy_store.store import PolicyStore, utcnow


@dataclass(frozen=True)
class CheckResult:
    """What one :meth:`Monitor.check` saw: the window read and the event, if any.

    ``statistic`` and ``threshold`` are the detector's at the detection, or at
    the end of the window when nothing was detected.
    """

    monitor: str
    scope: str
    n: int
    window_start: datetime | None
    window_end: datetime | None
    statistic: float
    threshold: float
    event: DriftEvent | None


@dataclass(frozen=True)
class Monitor:
    """Watch ``metric`` of the outcomes in ``scope`` with ``detector`` over ``window``.

    Parameters
    ----------
    scope:
        Rule (and optionally version, tasks, mode) to watch.
    metric:
        ``regret``, ``killed_best``, ``false_prune_rate`` (on audit trials),
        ``compute_saved`` or ``rank_correlation`` (early vs final, per study).
    detector:
        A template detector; each check runs a fresh :meth:`~DriftDetector.clone`.
    window:
        :class:`CountWindow` or :class:`TimeWindow` (default: the latest 500 outcomes).
    name:
        Recorded as the event's monitor; default ``"<metric>:<detector class>"``.
    early_fraction:
        Early step of the rank correlation.
    """

    scope: Scope
    metric: str
    detector: DriftDetector
    window: CountWindow | TimeWindow = field(default_factory=lambda: CountWindow(500))
    name: str = ""
    early_fraction: float = 0.25

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InvalidInputError(f"metric must be one of {', '.join(METRICS)}; got {self.metric!r}", field="metric")
        if not isinstance(self.detector, DriftDetector):
            raise InvalidInputError(f"detector must be a DriftDetector, got {self.detector!r}", field="detector")
        if not isinstance(self.window, CountWindow | TimeWindow):
            raise InvalidInputError(f"window must be a CountWindow or TimeWindow, got {self.window!r}", field="window")
        check_fraction("early_fraction", self.early_fraction)
        if not self.name:
            object.__setattr__(self, "name", f"{self.metric}:{type(self.detector).__name__}")

    def check(self, store: PolicyStore, *, now: datetime | None = None, record: bool = True) -> CheckResult:
        """Run the detector over the current window; record an event on drift.

        Parameters
        ----------
        store:
            The store to read outcomes from and write events to.
        now:
            End of a time window (default: now, UTC).
        record:
            ``False`` reports the event without writing it (a dry run).
        """
        label = self.scope.label
        after = last_event_end(store, monitor=self.name, rule=self.scope.rule, scope=label)
        frame = read_window(
            store, self.scope, self.metric, self.window, after=after, now=now, early_fraction=self.early_fraction
        )
        detector = self.detector.clone()
        hit = None
        for i, x in enumerate(frame["value"].to_numpy(dtype=float)):
            if detector.update(x).drift_detected:
                hit = i
                break
        times = [t.to_pydatetime() for t in frame["created_at"]]
        event = None
        if hit is not None:
            version = self.scope.version
            if version is None and frame["version"].notna().iloc[hit]:
                version = int(frame["version"].iloc[hit])
            event = DriftEvent.create(
                monitor=self.name,
                rule=self.scope.rule,
                version=version,
                scope=label,
                statistic=detector.statistic,
                threshold=detector.threshold,
                window_start=times[0],
                window_end=times[hit],
                at_outcome=str(frame["outcome_id"].iloc[hit]),
                detected_at=utcnow(),
            )
            if record:
                record_event(store, event)
        return CheckResult(
            monitor=self.name,
            scope=label,
            n=len(frame),
            window_start=times[0] if times else None,
            window_end=(times[hit] if hit is not None else times[-1]) if times else None,
            statistic=detector.statistic,
            threshold=detector.threshold,
            event=event,
        )
