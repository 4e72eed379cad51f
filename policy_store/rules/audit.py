"""The ``audit_fraction`` safeguard: a seeded, deterministic set of never-pruned trials.

A trial is audited iff ``splitmix64(audit_seed, trial_number) / 2**64 < audit_fraction``.
The pruner is still consulted for an audited trial until it first says "prune"
(that shadow decision is recorded, the trial runs on) and not afterwards, so an
audited trial leaves the same traces in the rule's state as a pruned one would
have up to that point, then completes. Comparing shadow prunes with the final
values gives an unbiased false-prune rate (drift detection uses it).

Examples
--------
>>> audited = audit_mask(range(1000), fraction=0.1, seed=7)
>>> int(audited.sum())
108
>>> bool(audit_mask([3], 0.0, 7)[0]), bool(audit_mask([3], 1.0, 7)[0])
(False, True)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_M = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def audit_mask(trial_numbers: Iterable[int] | np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean array: which of ``trial_numbers`` are audited (never pruned).

    Parameters
    ----------
    trial_numbers:
        Trial numbers (the position of each trial in the order it entered the study).
    fraction:
        Expected fraction of audited trials, in [0, 1].
    seed:
        ``audit_seed`` of the spec.
    """
    nums = np.asarray(list(trial_numbers) if not isinstance(trial_numbers, np.ndarray) else trial_numbers,
                      dtype=np.uint64)
    if fraction <= 0.0:
        return np.zeros(nums.shape, dtype=bool)
    if fraction >= 1.0:
        return np.ones(nums.shape, dtype=bool)
    with np.errstate(over="ignore"):
        h = _splitmix64(_splitmix64(np.uint64(seed) + np.zeros_like(nums)) ^ nums)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) < fraction


def is_audited(trial_number: int, fraction: float, seed: int) -> bool:
    """Scalar form of :func:`audit_mask`.

    >>> is_audited(0, 0.5, 1) in (True, False)
    True
    """
    return bool(audit_mask(np.array([trial_number]), fraction, seed)[0])
