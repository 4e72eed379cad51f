"""Lake soak, short: writer processes on one lake, killed at random; nothing acknowledged is lost.

The 10-minute, 8-host run is ``benchmarks/reliability_load.py --only soak``.
"""

from __future__ import annotations

import pytest

from .load import check_ok
from .soak import run_soak

pytest.importorskip("optuna")


@pytest.mark.campaign  # ~1 min of writers killed at random
def test_kills_lose_no_acknowledged_write(new_lake, tmp_path):
    location = new_lake()
    result = run_soak(location, tmp_path, hosts=4, seconds=20, kill_every=(1.0, 3.0), seed=1)
    assert result.crashed == []
    assert result.kills >= 3
    assert sum(result.commits.values()) >= 4  # the hosts got work done between the kills
    assert result.lost == []
    assert result.failures == {}, result.failure_messages[:3]
    assert check_ok(location) in (True, None)  # None: policy_store.check (branch rel-check) not merged here


def test_an_ingest_re_run_after_a_commit_conflict_writes_each_study_once(new_lake, monkeypatch):
    """Regression: the re-run reused the first attempt's report, so it wrote its studies' rows twice (the soak
    found a study with n_points 40 over 20 points)."""
    from policy_store import PolicyStore
    from policy_store.ingest import ingest_frame, writer
    from tests.conftest import make_frame

    location = new_lake()
    real = writer._ingest_view
    attempts = []
    with PolicyStore(location) as a, PolicyStore(location) as b:

        def first_attempt_conflicts(store, *args, **kwargs):
            attempts.append(1)
            report = real(store, *args, **kwargs)
            if len(attempts) == 1:  # another host commits a fenced unit while this one is open
                b.run_atomic(lambda s: s.fence())
            return report

        monkeypatch.setattr(writer, "_ingest_view", first_attempt_conflicts)
        report = ingest_frame(a, make_frame(n_studies=2, n_trials=2, n_steps=3))
        assert len(attempts) == 2
        assert sorted(report.added) == ["task-a/study-0", "task-a/study-1"] and report.points_written == 12
        assert a.fetch_dicts("SELECT study, n_points FROM studies ORDER BY study") == [
            {"study": "task-a/study-0", "n_points": 6}, {"study": "task-a/study-1", "n_points": 6}]
        assert a.scalar("SELECT count(*) FROM curve_points") == 12
