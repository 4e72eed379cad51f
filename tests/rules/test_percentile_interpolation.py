"""The percentile a decision compares with is exactly numpy's (live and replay share it)."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_store.rules.strategies.percentile import nanpercentile_linear

values = st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan"))), min_size=1, max_size=40)


@settings(max_examples=400, deadline=None)
@given(values, st.floats(0, 100))
def test_nanpercentile_linear_matches_numpy_bit_for_bit(xs, q):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = float(np.nanpercentile(np.array(xs, dtype=float), q))
    got = nanpercentile_linear(xs, q)
    assert got == expected or (np.isnan(got) and np.isnan(expected))
