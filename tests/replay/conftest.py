"""Fixtures: the committed LCDB excerpt as curve matrices (helpers live in ``conftest_data``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import conftest_data  # noqa: E402

from policy_store.curves import StudyCurves  # noqa: E402


@pytest.fixture(scope="session")
def lcdb() -> list[StudyCurves]:
    return conftest_data.lcdb_curves()


@pytest.fixture(scope="session", autouse=True)
def compiled_loops() -> None:
    """Ready numba's loops up front: replays here then take the compiled path by default, as a warm process does."""
    from policy_store.replay.kernels import _jit

    _jit.ready()
