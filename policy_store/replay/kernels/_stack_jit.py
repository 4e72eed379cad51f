"""Compiled scatter of ragged per-study matrices into the padded block of a :class:`._common.Stack`.

>>> import numpy as np
>>> out = np.zeros((2, 2, 3))
>>> scatter(np.arange(1.0, 9.0), np.array([0, 6]), np.array([2, 1]), np.array([3, 2]), out)
>>> out[1].tolist()
[[7.0, 8.0, 0.0], [0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from policy_store.replay.kernels._jit import njit


@njit
def scatter(flat, offset, n_rows, n_cols, out):  # pragma: no cover
    """Copy study ``k``'s ``(n_rows[k], n_cols[k])`` matrix, raveled at ``flat[offset[k]:]``, into ``out[k]``."""
    for k in range(len(offset)):
        at = offset[k]
        for i in range(n_rows[k]):
            for j in range(n_cols[k]):
                out[k, i, j] = flat[at]
                at += 1
