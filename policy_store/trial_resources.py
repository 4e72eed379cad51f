"""What a trial used at each step -- memory and seconds -- as it is recorded in a framework's trial attributes.

The long format's ``peak_memory_mb`` and ``cost_seconds`` columns
(:mod:`policy_store.ingest.longformat`) come, for an Optuna study, from its trials' user attributes
under two names, :data:`MEMORY_ATTR` and :data:`COST_ATTR`, in either of two forms:

- blocks of :data:`BLOCK` steps, ``"<name>:<first step of the block>"`` -> ``{step: number}``
  (:func:`block_attr`): what :class:`~policy_store.integrations.StorePruner` writes, one block at each
  report -- at most :data:`BLOCK` entries, whatever the trial's length, in a few rows per trial;
- one attribute ``"<name>"`` -> ``{step: number}``: what an objective may set itself, and what
  ``StorePruner`` wrote before (rewritten whole at every report: storage traffic quadratic in steps).

For a step both may hold, the whole-trial mapping (the objective's own) is read first. A memory value
is a number of megabytes; while a study runs, anything else -- missing, a bool, text -- is unknown
(:func:`number_or_nan`), the same for Ray results and the live budget guard; ingesting a recorded
study refuses a value that is there but not a number. Nothing heavy is imported
here: the live pruner and the corpus generator read it on their hot paths.

Examples
--------
>>> attrs = {"step_memory_mb": {"0": 120.5}, block_attr(MEMORY_ATTR, 1): {"1": 130, "2": True}}
>>> [number_or_nan(step_value(attrs, MEMORY_ATTR, s)) for s in range(4)]
[120.5, 130.0, nan, nan]
>>> peak_rss_mb() > 0
True
"""

from __future__ import annotations

import math
import numbers
import resource
import sys
from collections.abc import Mapping
from typing import Any

MEMORY_ATTR = "step_memory_mb"
"""Peak memory (MB) of the trial up to a step."""
COST_ATTR = "step_costs"
"""Seconds spent on a step alone."""
BLOCK = 32
"""Steps per block attribute (part of the recorded format: changing it would hide recorded blocks)."""


def block_attr(name: str, step: int) -> str:
    """The name of the block attribute of ``name`` that holds ``step``.

    >>> block_attr(COST_ATTR, 12), block_attr(COST_ATTR, 40)
    ('step_costs:0', 'step_costs:32')
    """
    return f"{name}:{step // BLOCK * BLOCK}"


def step_value(user_attrs: Mapping[str, Any], name: str, step: int) -> Any:
    """What ``user_attrs`` hold for ``step`` under ``name`` (the whole-trial mapping first, then the block),
    as it was stored; None if neither has it."""
    for given in (user_attrs.get(name), user_attrs.get(block_attr(name, step))):
        if isinstance(given, dict):
            for key in (str(step), step):
                if key in given:
                    return given[key]
    return None


def number_or_nan(x: Any) -> float:
    """``x`` as a float if it is a real number (numpy's included, not a bool), else NaN (unknown).

    >>> number_or_nan(3), number_or_nan(2.5), number_or_nan(True), number_or_nan("7"), number_or_nan(None)
    (3.0, 2.5, nan, nan, nan)
    """
    return float(x) if isinstance(x, numbers.Real) and not isinstance(x, bool) else math.nan


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MB (``ru_maxrss``: KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
