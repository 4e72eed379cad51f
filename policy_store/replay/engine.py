"""Replay rule versions over a study's curves, exactly as a live Optuna pruner would decide.

Trials enter one at a time in a given order (their Optuna trial number is their
position); each reports its steps in increasing order and stops at the first
"prune". Specs of the same kernel family are replayed together with all orders
as one batch (see :mod:`policy_store.replay.kernels`).

Orders: seed 0 is the recorded order (``trial_number``); seed ``k > 0`` is
``numpy.random.default_rng(k).permutation(n_trials)``.

Examples
--------
>>> from policy_store.curves import StudyCurves
>>> from policy_store.rules import RuleSpec
>>> c = StudyCurves.from_arrays("s", [[1.0, 0.9], [1.2, 1.1], [0.5, 0.4]])
>>> spec = RuleSpec.parse({"strategy": "median", "params": {"n_startup_trials": 1}})
>>> [r.pruned.tolist() for r in replay_study(c, [spec], order_seeds=[0])]
[[False, True, False]]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from policy_store.curves import StudyCurves
from policy_store.replay.kernels import KERNELS
from policy_store.rules.audit import audit_mask
from policy_store.rules.spec import RuleSpec


def trial_order(n_trials: int, seed: int) -> np.ndarray:
    """The order in which trials enter for ``seed`` (0: recorded order).

    >>> trial_order(4, 0).tolist()
    [0, 1, 2, 3]
    """
    if seed == 0:
        return np.arange(n_trials)
    return np.random.default_rng(seed).permutation(n_trials)


@dataclass(frozen=True, eq=False)
class Replay:
    """Decisions of one spec on one study under one order; arrays are by entry position."""

    spec: RuleSpec
    curves: StudyCurves
    order_seed: int
    order: np.ndarray
    prune_col: np.ndarray
    audited: np.ndarray
    threshold: np.ndarray
    ref_size: np.ndarray

    @property
    def pruned(self) -> np.ndarray:
        """Trials (by position) the rule stopped; audited trials never are."""
        return (self.prune_col >= 0) & ~self.audited

    @property
    def stop_col(self) -> np.ndarray:
        """Column of the last step each trial (by position) ran."""
        last = self.curves.last_pos[self.order]
        return np.where(self.pruned, self.prune_col, last)

    def decisions(self) -> pd.DataFrame:
        """One row per trial: the verdict, the step, and its reason (value, threshold, reference size)."""
        c = self.curves
        col = self.stop_col
        pruned = self.pruned
        shadow = self.audited & (self.prune_col >= 0)
        return pd.DataFrame({
            "trial": c.trials[self.order], "trial_number": np.arange(len(self.order)),
            "step": c.steps[col], "value": c.values[self.order, col],
            "threshold": np.where(pruned | shadow, self.threshold, np.nan),
            "ref_size": np.where(pruned | shadow, self.ref_size, 0),
            "verdict": np.where(pruned, "prune", "continue"),
            "reason": np.where(pruned, self.spec.strategy,
                               np.where(shadow, "audit: would prune at step "
                                        + c.steps[np.maximum(self.prune_col, 0)].astype(str), "ran to the end")),
        })


def replay_study(curves: StudyCurves, specs: Sequence[RuleSpec], order_seeds: Sequence[int] = (0,), *,
                 study_name: str | None = None) -> list[Replay]:
    """Replay every spec under every order over one study.

    Parameters
    ----------
    curves:
        The study's curve matrix.
    specs:
        Validated specs (:meth:`RuleSpec.parse`).
    order_seeds:
        Seeds of the trial orders (see the module docstring).
    study_name:
        The study name a live Optuna study would have (Hyperband hashes it);
        defaults to ``curves.study``.

    Returns
    -------
    list of Replay
        Spec-major, then order: ``result[s * len(order_seeds) + k]``.

    Raises
    ------
    DirectionMismatchError
        A spec declares the other direction than the study's.
    """
    for s in specs:
        s.check_direction(curves.direction, f"study {curves.study!r}")
    name = curves.study if study_name is None else study_name
    n = curves.n_trials
    orders = [trial_order(n, k) for k in order_seeds]
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for si, s in enumerate(specs):
        inner = s.params.get("wrapped") if s.strategy == "patient" else None
        groups[(s.kernel, inner["strategy"] if inner else "")].append(si)
    results: list[Replay | None] = [None] * (len(specs) * len(orders))
    positions = np.arange(n)
    for (kernel, _), members in groups.items():
        batch = [(si, k) for si in members for k in range(len(orders))]
        order_arr = np.array([orders[k] for _, k in batch], dtype=np.int64).reshape(len(batch), n)
        params = [specs[si].params for si, _ in batch]
        audited = np.array([audit_mask(positions, specs[si].audit_fraction, specs[si].audit_seed)
                            for si, _ in batch]).reshape(len(batch), n)
        out = KERNELS[kernel](curves, order_arr, params, audited, name)
        for row, (si, k) in enumerate(batch):
            results[si * len(orders) + k] = Replay(specs[si], curves, int(order_seeds[k]), order_arr[row],
                                                   out.prune_col[row], audited[row], out.threshold[row],
                                                   out.ref_size[row])
    return [r for r in results if r is not None]
