"""Compiling replay loops with numba, when it is there.

The stateful kernels (percentile, successive halving) are sequential by nature:
trial ``t`` is judged on what trials ``0..t-1`` left behind. In numpy each
entering trial costs a dozen whole-batch array passes over tiny arrays; a
compiled loop does the same work once per replay with no temporaries, which on
LCDB-sized studies (~20 trials x ~15 steps) is several times faster. The numpy
kernels stay as the reference (the tests check both against each other) and as
the fallback where numba cannot be imported or ``POLICY_STORE_REPLAY_JIT=0``.

Compiled code is cached on disk next to the sources (``cache=True``), so only
the first replay on a machine pays for compilation (a few seconds); where that
directory is read-only and numba finds no other cache location, the loops are
compiled once per process instead.

>>> def add(a, b):
...     return a + b
>>> njit(add)(1, 2)
3
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any


@functools.cache
def _numba() -> Any:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; this keeps odd platforms working
        return None
    return numba


def enabled() -> bool:
    """True when the compiled kernels are used (numba importable, not disabled by the environment)."""
    return os.environ.get("POLICY_STORE_REPLAY_JIT", "1") != "0" and _numba() is not None


def njit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit`` with an on-disk cache where one can be written; the plain function without numba."""
    numba = _numba()
    if numba is None:  # pragma: no cover
        return fn
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # no cache locator (read-only install): compile in every process instead
        return numba.njit(nogil=True)(fn)
