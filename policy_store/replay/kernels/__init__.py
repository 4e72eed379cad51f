"""Batched replay kernels, one per strategy family (see :mod:`._common` for the contract).

>>> sorted(KERNELS)
['forecast', 'hyperband', 'patient', 'percentile', 'posterior', 'successive_halving', 'threshold', 'wilcoxon']
"""

from __future__ import annotations

from collections.abc import Callable

from policy_store.replay.kernels import (
    forecast,
    patient,
    percentile,
    posterior,
    successive_halving,
    threshold,
    wilcoxon,
)
from policy_store.replay.kernels._common import KernelOut

KERNELS: dict[str, Callable[..., KernelOut]] = {
    "percentile": percentile.run,
    "threshold": threshold.run,
    "successive_halving": successive_halving.run,
    "hyperband": successive_halving.run_hyperband,
    "patient": patient.run,
    "wilcoxon": wilcoxon.run,
    "posterior": posterior.run,
    "forecast": forecast.run,
}

__all__ = ["KERNELS", "KernelOut"]
