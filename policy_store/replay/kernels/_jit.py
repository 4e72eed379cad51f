"""Compiling replay loops with numba, when it is there, without making anyone wait for it.

The stateful kernels (percentile, successive halving, Hyperband) are sequential
by nature: trial ``t`` is judged on what trials ``0..t-1`` left behind. In numpy
each entering trial costs a dozen whole-batch array passes over tiny arrays; a
compiled loop does the same work once per replay with no temporaries, which on
LCDB-sized studies (~20 trials x ~15 steps) is several times faster. The numpy
kernels stay as the reference (the tests check both against each other) and as
the fallback where numba cannot be imported or ``POLICY_STORE_REPLAY_JIT=0``.

Readying the compiled loops costs seconds: importing numba (~0.5 s) and
compiling (~3 s), or loading numba's on-disk cache (``cache=True``: next to
the sources, or under ``NUMBA_CACHE_DIR``). No replay waits for that: replays
use the numpy kernels until the loops are ready, and once replays have spent
:data:`READY_AFTER` seconds of CPU in a process -- about what readying costs
from numba's disk cache, so a job never pays more than twice what it would
have with the loops ready from the start, and a command that replays a few
small studies (``recommend --curves``: 54 candidates on a handful of
studies) pays nothing -- a background thread readies every loop on a tiny problem
(through the same code paths, so with the same types). It starts between
calls, not during one, because importing and compiling hold the GIL the numpy
kernels need; a short command never pays for a compilation it would not
use. Decisions are identical either way.
``POLICY_STORE_REPLAY_JIT=wait`` readies them before the first replay instead
(benchmarks of the warm path, tests of the compiled loops).

>>> def add(a, b):
...     return a + b
>>> njit(add)(1, 2)
3
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections.abc import Callable
from typing import Any

ENV = "POLICY_STORE_REPLAY_JIT"

_ready = threading.Event()
_readying = threading.Lock()
_starting = threading.Lock()
_local = threading.local()
_started: list[threading.Thread] = []


@functools.cache
def _numba() -> Any:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; this keeps odd platforms working
        return None
    return numba


@functools.cache
def _installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def enabled() -> bool:
    """True when the compiled kernels are to be used (numba installed, not disabled by the environment)."""
    return os.environ.get(ENV, "1") != "0" and _installed()


def compiled() -> bool:
    """True when the replay kernels should run compiled now: they are ready (or ``wait`` readies them first).

    False before and while the loops are readied in the background (see
    :func:`ready_in_background`) and whenever :func:`enabled` is false.
    """
    if not enabled():
        return False
    if _ready.is_set() or getattr(_local, "readying", False):
        return True
    if os.environ.get(ENV) == "wait":
        return ready()
    return False


#: CPU seconds of uncompiled replay in a process after which the compiled loops are readied in the background
#: (importing numba and loading the loops from its disk cache costs about as much).
READY_AFTER = 1.0
_spent = [0.0]


def spent_uncompiled(seconds: float) -> None:
    """Count ``seconds`` (CPU) of replay on the numpy kernels; past :data:`READY_AFTER`, ready the loops in the
    background."""
    if _ready.is_set() or _started:
        return
    _spent[0] += seconds
    if _spent[0] >= READY_AFTER:
        ready_in_background()


def ready_in_background() -> None:
    """Start readying the compiled loops in a daemon thread, once per process (no-op when ready or disabled)."""
    if _ready.is_set() or _started or not enabled() or getattr(_local, "readying", False):
        return
    with _starting:
        if not _started:
                thread = threading.Thread(target=_ready_quietly, name="policy-store-jit", daemon=True)
                _started.append(thread)
                thread.start()


def _ready_quietly() -> None:
    # a background failure (numba unable to compile here) leaves the numpy kernels in use, with the same
    # decisions; it is kept for inspection instead of a traceback on a command's stderr
    try:
        ready()
    except Exception as e:  # noqa: BLE001
        failures.append(e)


#: Exceptions raised while readying the compiled loops in the background (the numpy kernels stay in use).
failures: list[BaseException] = []


def ready(timeout: float | None = None) -> bool:
    """Ready every compiled loop in this process (blocking; at most once); True when they are ready.

    With ``timeout``, wait at most that long for readying already under way in the background.
    """
    if not enabled():
        return False
    if _ready.is_set():
        return True
    if timeout is not None and _started:
        return _ready.wait(timeout)
    with _readying:
        if not _ready.is_set():
            _local.readying = True
            try:
                _warm_up()
            finally:
                _local.readying = False
            _ready.set()
    return True


def _warm_up() -> None:
    """Run every compiled kernel once on a tiny problem through the engine (same argument types as real use)."""
    import numpy as np

    from policy_store.curves import StudyCurves
    from policy_store.replay.engine import replay_many
    from policy_store.rules import RuleSpec

    values = np.array([[0.5, 0.6, 0.7], [0.4, 0.3, 0.2], [0.7, np.nan, 0.8]])
    curves = [StudyCurves.from_arrays("warm-up", values, direction=d) for d in ("minimize", "maximize")]
    specs = [{"strategy": "median"}, {"strategy": "successive_halving"}, {"strategy": "hyperband"},
             {"strategy": "patient", "params": {"patience": 0, "wrapped": {"strategy": "successive_halving"}}}]
    for c in curves:
        replay_many([c], [RuleSpec.parse(s) for s in specs], [0])


def njit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit`` with an on-disk cache where one can be written; the plain function without numba."""
    numba = _numba()
    if numba is None:  # pragma: no cover
        return fn
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # no cache locator (read-only install): compile in every process instead
        return numba.njit(nogil=True)(fn)
