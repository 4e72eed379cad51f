"""Drift detectors, monitors over rolling windows of rule outcomes, and drift events.

>>> from policy_store.drift import ADWIN, CUSUM, PageHinkley, TwoWindow
>>> [type(d).__name__ for d in (ADWIN(), CUSUM(), PageHinkley(), TwoWindow())]
['ADWIN', 'CUSUM', 'PageHinkley', 'TwoWindow']
"""

from policy_store.drift._base import DriftDetector
from policy_store.drift.adwin import ADWIN
from policy_store.drift.cusum import CUSUM
from policy_store.drift.page_hinkley import PageHinkley
from policy_store.drift.two_window import TwoWindow

__all__ = ["ADWIN", "CUSUM", "DriftDetector", "PageHinkley", "TwoWindow"]
