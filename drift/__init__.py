"""Drift: one observation per study, calibrated monitors, change points, recalibration that must earn promotion.

>>> from policy_store.drift import ADWIN, CUSUM, PageHinkley, TwoWindow
>>> [type(d).__name__ for d in (ADWIN(), CUSUM(), PageHinkley(), TwoWindow())]
['ADWIN', 'CUSUM', 'PageHinkley', 'TwoWindow']
"""

from policy_store.lazy import lazy_exports

# Each name is imported from its module on first use: `drift events` and `drift jobs` need neither pandas
# (observations, monitor) nor SciPy (two_window), which importing every module here cost each drift command.
_MODULE_OF = {
    "DriftDetector": "_base",
    "ADWIN": "adwin",
    "DETECTORS": "calibration", "Reference": "calibration", "calibrate": "calibration", "change_point": "calibration",
    "CUSUM": "cusum",
    "CycleResult": "cycle", "run_cycle": "cycle",
    "DriftEvent": "events", "list_events": "events", "record_event": "events",
    "Job": "jobs", "finish_job": "jobs", "last_watermark": "jobs", "list_jobs": "jobs", "start_job": "jobs",
    "CheckResult": "monitor", "Monitor": "monitor",
    "study_observations": "observations",
    "PageHinkley": "page_hinkley",
    "Verdict": "promotion", "judge": "promotion", "lineage_baseline": "promotion", "simultaneous_critical": "promotion",
    "study_rank_correlations": "rank_correlation",
    "DEFAULT_ARL": "recalibration", "DEFAULT_MONITORS": "recalibration", "RecalibrationResult": "recalibration",
    "recalibrate": "recalibration", "scheduled_monitors": "recalibration",
    "Retune": "retuning", "candidates": "retuning", "neighbours": "retuning", "retune": "retuning",
    "TwoWindow": "two_window",
    "METRICS": "windows", "CountWindow": "windows", "Scope": "windows", "TimeWindow": "windows",
}

__all__ = sorted(_MODULE_OF)

__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)
