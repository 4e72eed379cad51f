"""Replacing a study drops what was derived from its old content, and keeps the live audit trail."""

from __future__ import annotations

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame
from policy_store.replay import evaluate
from policy_store.rules import add_rule_version
from tests.conftest import make_frame


def test_replace_drops_replays_and_keeps_live_decisions():
    frame = make_frame(n_studies=1, n_trials=4, n_steps=3)
    study = frame["study"].iloc[0]
    with PolicyStore.memory() as store:
        ingest_frame(store, frame)
        add_rule_version(store, "m", {"strategy": "median", "params": {"n_startup_trials": 1}}, created_by="t")
        evaluate(store, "m", orders=2, record_decisions=True)
        store.execute(
            "INSERT INTO decisions VALUES ('live-1', ?, 't0', 0, 1, 0.5, 0.4, 3, 'prune', 'value above median', "
            "'m', 1, NULL, 'live', NULL, now())", [study])
        assert store.scalar("SELECT count(*) FROM decisions WHERE mode = 'replay'") > 0

        changed = frame.assign(value=frame["value"] * 0.5)
        report = ingest_frame(store, changed, replace=True)

        assert report.replaced == [study]
        assert store.scalar("SELECT count(*) FROM decisions WHERE mode = 'replay'") == 0
        assert store.scalar("SELECT count(*) FROM outcomes") == 0
        assert store.fetch_dicts("SELECT decision_id, reason FROM decisions") == [
            {"decision_id": "live-1", "reason": "value above median"}]
