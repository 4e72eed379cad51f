"""A testing hook: make the process SIGKILL itself at a transaction boundary.

Set ``POLICY_STORE_FAULT`` to ``before-commit:N`` or ``after-commit:N`` and the process kills itself
(SIGKILL: no cleanup, no ``finally``, exactly like a power cut of that process) just before, or just after,
the COMMIT of its Nth outermost transaction (:meth:`PolicyStore.atomic
<policy_store.store.PolicyStore.atomic>`; every commit attempt counts, a re-run after a commit conflict too).
The crash matrix (``tests/reliability/``, ``benchmarks/reliability.py``) uses it to kill every writing
command at each of its transaction boundaries. Unset, the hook costs one environment lookup per commit.

The count is per process: a child forked from a process that committed starts again at zero.

>>> import os
>>> os.environ.pop(FAULT_ENV, None) and None
>>> at("before-commit"); at("after-commit")   # unset: nothing happens
>>> commits_so_far() >= 1
True
"""

from __future__ import annotations

import os
import signal

from policy_store.errors import InvalidInputError

FAULT_ENV = "POLICY_STORE_FAULT"
MOMENTS = ("before-commit", "after-commit")

_pid = os.getpid()
_commits = 0


def _parse(spec: str) -> tuple[str, int]:
    moment, _, n = spec.partition(":")
    if moment not in MOMENTS or not n.isdigit() or int(n) < 1:
        raise InvalidInputError(
            f"{FAULT_ENV}={spec!r}: expected before-commit:N or after-commit:N with N >= 1 (unset it to run "
            "normally)",
            field=FAULT_ENV,
        )
    return moment, int(n)


def at(moment: str) -> None:
    """Count a commit (at ``before-commit``) and die here if ``$POLICY_STORE_FAULT`` names this boundary."""
    global _pid, _commits
    if os.getpid() != _pid:
        _pid, _commits = os.getpid(), 0
    if moment == "before-commit":
        _commits += 1
    spec = os.environ.get(FAULT_ENV)
    if spec and _parse(spec) == (moment, _commits):
        os.kill(os.getpid(), signal.SIGKILL)


def commits_so_far() -> int:
    """Commits this process has attempted (what N of ``before-commit:N`` can reach)."""
    if os.getpid() != _pid:
        return 0
    return _commits
