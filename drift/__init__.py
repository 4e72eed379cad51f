"""Drift detectors, monitors over rolling windows of rule outcomes, drift events, recalibration.

>>> from policy_store.drift import ADWIN, CUSUM, PageHinkley, TwoWindow
>>> [type(d).__name__ for d in (ADWIN(), CUSUM(), PageHinkley(), TwoWindow())]
['ADWIN', 'CUSUM', 'PageHinkley', 'TwoWindow']
"""

from policy_store.drift._base import DriftDetector
from policy_store.drift.adwin import ADWIN
from policy_store.drift.cusum import CUSUM
from policy_store.drift.events import DriftEvent, list_events, record_event
from policy_store.drift.jobs import Job, finish_job, last_watermark, list_jobs, start_job
from policy_store.drift.monitor import CheckResult, Monitor
from policy_store.drift.page_hinkley import PageHinkley
from policy_store.drift.rank_correlation import study_rank_correlations
from policy_store.drift.recalibration import DEFAULT_MONITORS, RecalibrationResult, recalibrate
from policy_store.drift.retuning import Retune, neighbours, retune
from policy_store.drift.two_window import TwoWindow
from policy_store.drift.windows import METRICS, CountWindow, Scope, TimeWindow, read_window

__all__ = [
    "ADWIN",
    "CUSUM",
    "DEFAULT_MONITORS",
    "METRICS",
    "CheckResult",
    "CountWindow",
    "DriftDetector",
    "DriftEvent",
    "Job",
    "Monitor",
    "PageHinkley",
    "RecalibrationResult",
    "Retune",
    "Scope",
    "TimeWindow",
    "TwoWindow",
    "finish_job",
    "last_watermark",
    "list_events",
    "list_jobs",
    "neighbours",
    "read_window",
    "recalibrate",
    "record_event",
    "retune",
    "start_job",
    "study_rank_correlations",
]
