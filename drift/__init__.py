"""Drift: one observation per study, calibrated monitors, change points, recalibration that must earn promotion.

>>> from policy_store.drift import ADWIN, CUSUM, PageHinkley, TwoWindow
>>> [type(d).__name__ for d in (ADWIN(), CUSUM(), PageHinkley(), TwoWindow())]
['ADWIN', 'CUSUM', 'PageHinkley', 'TwoWindow']
"""

from policy_store.drift._base import DriftDetector
from policy_store.drift.adwin import ADWIN
from policy_store.drift.calibration import DETECTORS, Reference, calibrate, change_point
from policy_store.drift.cusum import CUSUM
from policy_store.drift.cycle import CycleResult, run_cycle
from policy_store.drift.events import DriftEvent, list_events, record_event
from policy_store.drift.jobs import Job, finish_job, last_watermark, list_jobs, start_job
from policy_store.drift.monitor import CheckResult, Monitor
from policy_store.drift.observations import study_observations
from policy_store.drift.page_hinkley import PageHinkley
from policy_store.drift.promotion import Verdict, judge, lineage_baseline, simultaneous_critical
from policy_store.drift.rank_correlation import study_rank_correlations
from policy_store.drift.recalibration import (
    DEFAULT_ARL,
    DEFAULT_MONITORS,
    RecalibrationResult,
    recalibrate,
    scheduled_monitors,
)
from policy_store.drift.retuning import Retune, candidates, neighbours, retune
from policy_store.drift.two_window import TwoWindow
from policy_store.drift.windows import METRICS, CountWindow, Scope, TimeWindow

__all__ = [
    "ADWIN",
    "CUSUM",
    "DEFAULT_ARL",
    "DEFAULT_MONITORS",
    "DETECTORS",
    "METRICS",
    "CheckResult",
    "CountWindow",
    "CycleResult",
    "DriftDetector",
    "DriftEvent",
    "Job",
    "Monitor",
    "PageHinkley",
    "RecalibrationResult",
    "Reference",
    "Retune",
    "Scope",
    "TimeWindow",
    "TwoWindow",
    "Verdict",
    "calibrate",
    "candidates",
    "change_point",
    "finish_job",
    "judge",
    "last_watermark",
    "lineage_baseline",
    "list_events",
    "list_jobs",
    "neighbours",
    "record_event",
    "recalibrate",
    "retune",
    "run_cycle",
    "scheduled_monitors",
    "simultaneous_critical",
    "start_job",
    "study_observations",
    "study_rank_correlations",
]
