"""Load: worker processes on one study with StorePruner while recalibrate and report run; nothing lost or doubled.

The full-size run (16 workers x 50 trials) is ``benchmarks/reliability_load.py --only load``.
"""

from __future__ import annotations

import pytest

from .load import check_ok, prepare, run_load

pytest.importorskip("optuna")


@pytest.mark.campaign  # 1-2 min of workers per store kind
@pytest.mark.parametrize("kind", ["file", "lake"])
def test_workers_side_jobs_and_absorb_lose_and_duplicate_nothing(kind, tmp_path, request):
    location = str(tmp_path / "store.duckdb") if kind == "file" else request.getfixturevalue("new_lake")()
    prepare(location, bundled=False)
    result = run_load(location, tmp_path / "work", workers=4, trials=10, timeout=240)
    assert result.side_errors == []
    assert result.side_jobs["recalibrate"] and result.side_jobs["report"]
    assert result.calls > 4 * 10  # every trial reports several epochs
    assert (result.lost, result.duplicated) == (0, 0)
    assert result.recorded == result.distinct_ids == result.distinct_points == result.calls
    assert result.trials_recorded == 4 * 10
    assert 0 < result.p50_ms <= result.p99_ms
    assert check_ok(location) in (True, None)  # None: policy_store.check (branch rel-check) not merged here
