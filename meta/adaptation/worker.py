"""Re-scoring (forecasts of the pruned trials included) in a child process, so ``should_prune`` never waits for it.

A live adaptive :class:`~policy_store.integrations.optuna.StorePruner`
re-scores the grid while the study runs. In a thread of the study's own
process the replay's Python parts hold the GIL, and every ``should_prune`` of
the study waits for it (milliseconds per call). :class:`RescoreProcess` runs
:func:`~policy_store.meta.adaptation.selector.score_candidates` in one child process
instead (``python -m policy_store.meta.adaptation.worker``: started on first use,
never importing the user's script, unlike multiprocessing's spawn), talking
pickles over its stdin/stdout; the calling thread blocks in a pipe read,
which releases the GIL. The child exits when its stdin closes (the parent
ended or called :meth:`RescoreProcess.close`). Results are those of the
in-process function, bit for bit.

>>> import numpy as np
>>> from policy_store.curves import StudyCurves
>>> from policy_store.meta.adaptation.selector import score_candidates
>>> from policy_store.rules import RuleSpec
>>> c = StudyCurves.from_arrays("s", [[3.0, 2.0, 1.0], [3.5, 3.0, 2.5], [2.0, 1.5, 0.5], [4.0, 3.9, 3.8]])
>>> specs = [RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}})]
>>> worker = RescoreProcess()
>>> remote = worker(c, specs, lam=20.0, n_boot=4, seed=1)
>>> worker.close()
>>> bool(np.array_equal(remote["mean"], score_candidates(c, specs, lam=20.0, n_boot=4, seed=1)["mean"]))
True
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

from policy_store.errors import PolicyStoreError
from policy_store.rules.spec import RuleSpec


class RescoreProcess:
    """A callable with :func:`~.selector.score_candidates`'s signature, run in a child process."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def __call__(self, completed: Any, specs: Sequence[RuleSpec], *, lam: float = 20.0, n_boot: int = 16,
                 seed: int = 0, regret_unit: float = 1.0, forecaster: Any = None,
                 rank: bool = True) -> dict[str, Any]:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen([sys.executable, "-m", "policy_store.meta.adaptation.worker"],
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert self._proc.stdin is not None and self._proc.stdout is not None
            try:
                pickle.dump((completed, [s.canonical_json() for s in specs], lam, n_boot, seed, regret_unit,
                             forecaster, rank), self._proc.stdin)
                self._proc.stdin.flush()
                ok, out = pickle.load(self._proc.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as e:
                self._proc.kill()
                raise PolicyStoreError(f"the re-scoring process failed: {e!r}") from e
        if not ok:
            raise PolicyStoreError(f"re-scoring failed in the child process: {out}")
        return out

    def close(self) -> None:
        """End the child process (a later call starts a new one)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            self._proc = None

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()


def _serve() -> None:
    from policy_store.meta.adaptation.selector import score_candidates

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            completed, specs, lam, n_boot, seed, regret_unit, forecaster, rank = pickle.load(stdin)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, score_candidates(completed, [RuleSpec.parse(s) for s in specs], lam=lam,
                                                              n_boot=n_boot, seed=seed, regret_unit=regret_unit,
                                                              forecaster=forecaster, rank=rank))
        except Exception as e:  # reported to the parent, which keeps its rule
            reply = (False, repr(e))
        pickle.dump(reply, stdout)
        stdout.flush()


if __name__ == "__main__":
    _serve()
