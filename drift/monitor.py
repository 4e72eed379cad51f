"""A monitor: one metric of one rule version, one observation per study, a calibrated detector.

:meth:`Monitor.check` reads the version's per-study observations
(:mod:`~policy_store.drift.observations`), builds the reference from the
version's history (plus, for a version without enough history, its first
monitored studies, and the studies before its last handled alarm), calibrates
the detector's threshold on that reference to ``arl`` studies per false alarm
(:mod:`~policy_store.drift.calibration`) and scans the studies after it. At a
detection it estimates where the change began and records a
:class:`~policy_store.drift.events.DriftEvent`.

Manual checks (``origin="manual"``) and the scheduled monitors of ``cycle``
and ``recalibrate`` (``origin="scheduled"``) keep separate state: each resumes
after its *own* last event, so a manual check never hides a change from the job.
A scheduled monitor stays quiet while an event of its version waits for the job.

The check is deterministic: rerunning it on the same data records nothing new.

>>> from datetime import timedelta
>>> from policy_store import PolicyStore
>>> from policy_store.rules import add_rule_version
>>> with PolicyStore.memory() as store:
...     v = add_rule_version(store, "median", {"strategy": "median"}, created_by="doc")
...     store.execute("INSERT INTO tasks VALUES ('t', 'accuracy', 'maximize', now())") and None
...     for i in range(68):  # the best trial is killed in every study from the 61st on
...         at = v.created_at + timedelta(minutes=i + 1)
...         store.execute("INSERT INTO studies VALUES (?, 't', 'h', 9, 90, 'doc', ?)", [f"s{i:02d}", at]) and None
...         store.execute("INSERT INTO outcomes (outcome_id, rule, version, spec_hash, study, task, mode, "
...                       "killed_best, created_at) VALUES (?, 'median', 1, 'h', ?, 't', 'replay', ?, ?)",
...                       [f"o{i}", f"s{i:02d}", i >= 60, at]) and None
...     result = Monitor(Scope("median"), "killed_best").check(store)
...     result.status, result.event.alarm_study, result.event.change_study
('drift', 's61', 's60')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from policy_store.drift._base import DriftDetector, check_choice, check_fraction, check_int, check_positive
from policy_store.drift.calibration import (
    DETECTORS,
    PH_SLACK,
    Reference,
    calibrate,
    change_point,
    first_alarm,
    statistic_paths,
)
from policy_store.drift.events import ORIGINS, DriftEvent, last_alarm, open_events, record_event
from policy_store.drift.observations import study_observations
from policy_store.drift.windows import METRICS, CountWindow, Scope, TimeWindow

from policy_store.errors import InvalidInputError
from policy_store.rules import get_rule_version
from policy_store.store import PolicyStore, utcnow

#: Default target: studies per false alarm of one monitor.
DEFAULT_ARL = 1000.0
#: Fewest reference studies a monitor calibrates on; most it keeps (the latest).
MIN_REFERENCE, MAX_REFERENCE = 20, 300


@dataclass(frozen=True)
class CheckResult:
    """What one :meth:`Monitor.check` saw.

    ``status`` is ``drift``, ``no drift``, ``warming up`` (fewer than the
    reference needs; ``needed`` says how many more studies) or ``waiting``
    (a scheduled event of this version awaits the recalibration job).
    ``statistic`` is the detector's at the detection, or at the last study.
    """

    monitor: str
    scope: str
    rule: str
    version: int
    status: str
    n: int
    reference_n: int
    needed: int
    window_start: datetime | None
    window_end: datetime | None
    statistic: float
    threshold: float
    arl: float
    event: DriftEvent | None

    def to_dict(self) -> dict:
        """The result as JSON-ready values (the event as its id)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "event"}
        out["event_id"] = self.event.event_id if self.event else None
        if self.event:
            out["change_study"], out["alarm_study"] = self.event.change_study, self.event.alarm_study
        return out


@dataclass(frozen=True)
class Monitor:
    """Watch ``metric`` of the studies in ``scope`` with a calibrated ``detector``.

    Parameters
    ----------
    scope:
        Rule (and optionally version, default the current one, and tasks) to watch.
    metric:
        ``regret`` (relative), ``killed_best``, ``false_prune_rate`` (on audit trials),
        ``compute_saved`` or ``rank_correlation`` (early vs final, per study).
    detector:
        ``"cusum"`` or ``"page-hinkley"`` (threshold calibrated to ``arl``), or a
        :class:`DriftDetector` template run on the standardized observations with
        its own threshold (each check runs a fresh clone).
    window:
        Caps the monitored studies read (default: the latest 1,000).
    name:
        Recorded as the event's monitor; default ``"<metric>:<detector>"``.
    origin:
        ``"manual"`` or ``"scheduled"`` (see the module docstring).
    arl:
        Target studies per false alarm.
    min_reference:
        Fewest studies the reference needs before the monitor watches.
    early_fraction:
        Early step of the rank correlation.
    """

    scope: Scope
    metric: str
    detector: str | DriftDetector = "cusum"
    window: CountWindow | TimeWindow = field(default_factory=lambda: CountWindow(1000))
    name: str = ""
    origin: str = "manual"
    arl: float = DEFAULT_ARL
    min_reference: int = MIN_REFERENCE
    early_fraction: float = 0.25

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InvalidInputError(f"metric must be one of {', '.join(METRICS)}; got {self.metric!r}", field="metric")
        if isinstance(self.detector, str):
            check_choice("detector", self.detector, DETECTORS)
        elif not isinstance(self.detector, DriftDetector):
            raise InvalidInputError(f"detector must be one of {DETECTORS} or a DriftDetector, got {self.detector!r}",
                                    field="detector")  # fmt: skip
        if not isinstance(self.window, CountWindow | TimeWindow):
            raise InvalidInputError(f"window must be a CountWindow or TimeWindow, got {self.window!r}", field="window")
        check_choice("origin", self.origin, ORIGINS)
        check_positive("arl", self.arl)
        check_int("min_reference", self.min_reference, minimum=2)
        check_fraction("early_fraction", self.early_fraction)
        if not self.name:
            kind = self.detector if isinstance(self.detector, str) else type(self.detector).__name__
            object.__setattr__(self, "name", f"{self.metric}:{kind}")

    def check(self, store: PolicyStore, *, now: datetime | None = None, record: bool = True) -> CheckResult:
        """Scan the version's monitored studies; record an event on drift.

        Parameters
        ----------
        store:
            The store to read observations from and write events to.
        now:
            End of a time window (default: now, UTC).
        record:
            ``False`` reports the event without writing it (a dry run).
        """
        rule, label = self.scope.rule, self.scope.label
        current = get_rule_version(store, rule, self.scope.version)
        version = current.version
        obs = study_observations(store, rule, version, self.metric, tasks=self.scope.tasks,
                                 early_fraction=self.early_fraction)  # fmt: skip
        history, window = obs[~obs["in_window"]], obs[obs["in_window"]].reset_index(drop=True)
        since = _change_at(store, current.drift_event_id)
        if since is not None:  # a recalibrated version's history starts at the change it was made for
            history = history[history["ingested_at"] >= pd.Timestamp(since)]
        start = 0
        last = last_alarm(store, monitor=self.name, rule=rule, version=version, scope=label, origin=self.origin)
        if last is not None:  # resume after this origin's own last alarm
            start = position_after(window, last[1], last[0])
        start += max(0, self.min_reference - len(history) - start)  # burn-in from the window
        reference = pd.concat([history, window.iloc[:start]]).tail(MAX_REFERENCE)
        watched = window.iloc[start:]
        if isinstance(self.window, CountWindow):
            watched = watched.tail(self.window.size)
        else:
            watched = watched[watched["ingested_at"] > pd.Timestamp((now or utcnow()) - self.window.span)]
        base = {"monitor": self.name, "scope": label, "rule": rule, "version": version, "arl": self.arl,
                "reference_n": len(reference), "event": None}  # fmt: skip
        if len(reference) < self.min_reference or watched.empty:
            needed = max(0, self.min_reference - len(reference)) + (1 if watched.empty else 0)
            return CheckResult(status="warming up" if needed else "no drift", n=len(watched), needed=needed,
                               window_start=None, window_end=None, statistic=0.0, threshold=np.nan, **base)  # fmt: skip
        if self.origin == "scheduled" and open_events(store, rule, version):
            return CheckResult(status="waiting", n=len(watched), needed=0, window_start=None, window_end=None,
                               statistic=0.0, threshold=np.nan, **base)  # fmt: skip
        ref = Reference.from_values(reference["value"].to_numpy(), self.metric)
        z = ref.standardize(watched["value"].to_numpy())
        hit, statistic, threshold = self._scan(ref, z)
        slack = None if not isinstance(self.detector, str) else PH_SLACK if self.detector == "page-hinkley" \
            else ref.slack  # fmt: skip
        times = [t.to_pydatetime() for t in watched["ingested_at"]]
        studies = watched["study"].tolist()
        end = hit if hit is not None else len(z) - 1
        event = None
        if hit is not None:
            cp = change_point(z, hit, slack=ref.slack)
            event = DriftEvent.create(
                monitor=self.name, rule=rule, version=version, scope=label, statistic=statistic, threshold=threshold,
                window_start=times[0], window_end=times[hit], at_outcome=studies[hit], detected_at=utcnow(),
                origin=self.origin, change_study=studies[cp], change_at=times[cp], slack=slack,
            )  # fmt: skip
            if record:
                record_event(store, event)
        return CheckResult(status="drift" if event else "no drift", n=len(z), needed=0, window_start=times[0],
                           window_end=times[end], statistic=statistic, threshold=threshold, **{**base, "event": event})

    def _scan(self, ref: Reference, z: np.ndarray) -> tuple[int | None, float, float]:
        """First alarm index (or None), the statistic there (or at the end) and the threshold."""
        if isinstance(self.detector, str):
            threshold = calibrate(self.detector, ref, arl=self.arl, slack=ref.slack)
            hit = first_alarm(self.detector, z, threshold, slack=ref.slack)
            path = statistic_paths(self.detector, z, slack=ref.slack)[0]
            return hit, float(path[hit if hit is not None else -1]), threshold
        detector = self.detector.clone()
        for i, x in enumerate(z.tolist()):
            if detector.update(x).drift_detected:
                return i, detector.statistic, detector.threshold
        return None, detector.statistic, detector.threshold


def position_after(frame: pd.DataFrame, study: str | None, at: datetime) -> int:
    """Rows of ``frame`` (ordered observations) up to and including ``study``; by time if it is not there.

    Studies ingested in one call share a time, so the study, not the time, marks the place.
    """
    hits = np.flatnonzero(frame["study"].to_numpy() == study) if study is not None else []
    return int(hits[0]) + 1 if len(hits) else int((frame["ingested_at"] <= pd.Timestamp(at)).sum())


def _change_at(store: PolicyStore, event_id: str | None) -> datetime | None:
    if event_id is None:
        return None
    return store.scalar("SELECT change_at FROM drift_events WHERE event_id = ?", [event_id])
