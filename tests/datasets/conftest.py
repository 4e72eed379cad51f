"""Shared fixtures of the dataset tests; tests marked ``lcdb`` need the 68 MB LCDB sdist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LCDB_EXCERPT = Path(__file__).resolve().parents[1] / "data" / "lcdb"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("POLICY_STORE_LCDB") == "1":
        return
    skip = pytest.mark.skip(reason="needs the LCDB sdist download; set POLICY_STORE_LCDB=1 to run")
    for item in items:
        if "lcdb" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty policy-store cache directory for this test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("POLICY_STORE_CACHE", str(folder))
    return folder


@pytest.fixture
def excerpt() -> Path:
    """The committed LCDB excerpt, laid out like the installed lcdb package."""
    return LCDB_EXCERPT
