"""Fixtures shared by every test package."""

from __future__ import annotations

import pandas as pd
import pytest

from policy_store import PolicyStore


@pytest.fixture
def store():
    with PolicyStore.memory() as s:
        yield s


@pytest.fixture
def file_store(tmp_path):
    with PolicyStore(tmp_path / "store.duckdb") as s:
        yield s


def make_frame(n_studies: int = 2, n_trials: int = 3, n_steps: int = 4, *, task: str = "task-a", seed: int = 0):
    """A small valid long-format frame with decreasing (minimised) losses."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_studies):
        for t in range(n_trials):
            base = rng.uniform(0.2, 1.0)
            for k in range(n_steps):
                rows.append(
                    {
                        "task": task,
                        "study": f"{task}/study-{s}",
                        "trial": t,
                        "step": k,
                        "value": base / (k + 1),
                        "cost_seconds": 0.5,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture
def frame():
    return make_frame()


@pytest.fixture(autouse=True)
def _no_shipped_knowledge(monkeypatch):
    """Recommendations in tests start cold unless a test asks for the shipped knowledge (tests/meta/test_safety.py)."""
    monkeypatch.setenv("POLICY_STORE_KNOWLEDGE", "off")
