"""Migration 2's drift-event columns: `policy-store check` knows their invariants; old events are closed."""

from __future__ import annotations

import pytest
from policy_store.drift import recalibrate

from policy_store import PolicyStore
from policy_store.check import check_store
from policy_store.migrations import LATEST_VERSION
from tests.drift.conftest import store_from


@pytest.fixture
def handled(templates, tmp_path):
    with PolicyStore(store_from(templates, "ab", tmp_path)) as store:
        recalibrate(store, trigger="cron")
        yield store


def test_a_handled_store_is_clean(handled):
    assert LATEST_VERSION >= 2 and check_store(handled).ok


@pytest.mark.parametrize(("tamper", "detail"), [
    ("UPDATE drift_events SET status = 'bogus'", "unknown status bogus"),
    ("UPDATE drift_events SET origin = 'cron'", "unknown origin cron"),
    ("UPDATE drift_events SET status = 'pending', needed_studies = NULL", "pending without the number"),
    ("UPDATE drift_events SET change_study = NULL", "without its change point"),
    ("UPDATE drift_events SET status = 'seen'", "does not fit origin scheduled"),
])  # fmt: skip
def test_check_names_each_broken_event(handled, tamper, detail):
    handled.execute(tamper)
    report = check_store(handled)
    assert any(v.invariant == "drift-event" and detail in v.detail for v in report.violations), report.violations


def test_events_from_before_the_migration_are_closed_as_legacy(tmp_path):
    import duckdb

    from policy_store.migrations import MIGRATIONS

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:  # a store at schema version 1 with one event
        for statement in MIGRATIONS[0].statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1, 'initial schema', now())")
        con.execute("INSERT INTO rules VALUES ('median', NULL, now())")
        con.execute("INSERT INTO drift_events (event_id, monitor, rule, detected_at) VALUES ('e', 'm', 'median', now())"
                    )
    with PolicyStore(path) as store:
        assert store.execute("SELECT origin, status FROM drift_events").fetchall() == [("legacy", "closed")]
        assert not [v for v in check_store(store).violations if v.invariant == "drift-event"]


def test_a_version_3_store_gains_the_slack_column_keeping_its_events(tmp_path):
    import duckdb
    from policy_store.drift import list_events

    from policy_store.migrations import MIGRATIONS

    path = tmp_path / "v3.duckdb"
    with duckdb.connect(str(path)) as con:  # the schema as policy-store wrote it before migration 4, one event
        for m in MIGRATIONS[:3]:
            for statement in m.statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [m.version, m.description])
        con.execute("INSERT INTO drift_events (event_id, monitor, rule, version, scope, statistic, threshold, "
                    "window_start, window_end, detected_at, origin, status, alarm_study, change_study, change_at) "
                    "VALUES ('e', 'killed_best:cusum', 'median', 1, 'all', 9.0, 8.0, '2026-01-01T00:00:00', "
                    "'2026-01-02T00:00:00', now(), 'scheduled', 'rejected', 's2', 's1', now())")  # fmt: skip
    with PolicyStore(path) as store:
        assert store.schema_version == LATEST_VERSION >= 4
        [event] = list_events(store, rule="median")
        assert (event.event_id, event.threshold, event.slack) == ("e", 8.0, None)
        for statement in MIGRATIONS[3].statements:  # re-applied (a retried migration): nothing changes
            store.execute(statement)
        assert store.scalar("SELECT count(*) FROM information_schema.columns "
                            "WHERE table_name = 'drift_events' AND column_name = 'slack'") == 1  # fmt: skip
        assert [e.slack for e in list_events(store, rule="median")] == [None]
