"""Numbered, forward-only schema migrations.

Each migration is applied together with its ``schema_version`` row in one
transaction, so a store is always at exactly one version. Tables carry no
PRIMARY KEY/UNIQUE constraints and no sequences: the same SQL has to run on
DuckLake, which has neither (see ``../shared/notes/scale-out.md``). Writers keep
rows unique by natural or content-derived keys instead.

>>> [m.version for m in MIGRATIONS][:1]
[1]
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_INITIAL = (
    """CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER NOT NULL,
        description VARCHAR NOT NULL,
        applied_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE tasks (
        task VARCHAR NOT NULL,            -- natural key
        metric VARCHAR,
        direction VARCHAR NOT NULL,       -- 'minimize' | 'maximize'
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE meta_features (
        task VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        value DOUBLE,                     -- NaN/NULL: could not be computed
        source VARCHAR NOT NULL,          -- 'openml', 'dataset', 'curves', ...
        computed_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE studies (
        study VARCHAR NOT NULL,           -- natural key, global
        task VARCHAR NOT NULL,
        content_hash VARCHAR NOT NULL,    -- sha256 of the canonical rows
        n_trials INTEGER NOT NULL,
        n_points BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        ingested_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE trials (
        study VARCHAR NOT NULL,
        trial VARCHAR NOT NULL,
        trial_number INTEGER NOT NULL,    -- recorded order within the study
        state VARCHAR NOT NULL,
        params VARCHAR,                   -- JSON
        final_step BIGINT,
        final_value DOUBLE,
        n_steps INTEGER NOT NULL,
        cost_seconds DOUBLE
    )""",
    """CREATE TABLE curve_points (
        study VARCHAR NOT NULL,
        trial VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        value DOUBLE,
        cost_seconds DOUBLE
    )""",
    """CREATE TABLE rules (
        rule VARCHAR NOT NULL,
        description VARCHAR,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE rule_versions (
        rule VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        spec VARCHAR NOT NULL,            -- canonical JSON
        spec_hash VARCHAR NOT NULL,
        parent_version INTEGER,
        created_by VARCHAR NOT NULL,
        source VARCHAR NOT NULL,          -- 'manual' | 'meta-learner' | 'recalibration'
        reason VARCHAR,
        created_at TIMESTAMP NOT NULL,
        meta_model_id VARCHAR,
        drift_event_id VARCHAR,
        job_id VARCHAR,
        status VARCHAR NOT NULL           -- 'active' | 'rejected'
    )""",
    """CREATE TABLE outcomes (
        outcome_id VARCHAR NOT NULL,      -- sha256(spec_hash, study, order_seed, mode)
        rule VARCHAR,
        version INTEGER,
        spec_hash VARCHAR NOT NULL,
        study VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        order_seed INTEGER,
        mode VARCHAR NOT NULL,            -- 'replay' | 'live'
        compute_saved DOUBLE,
        regret DOUBLE,
        killed_best BOOLEAN,
        false_prune_rate DOUBLE,
        audit_false_prune_rate DOUBLE,
        trials_pruned INTEGER,
        n_trials INTEGER,
        steps_run BIGINT,
        cost_spent DOUBLE,
        cost_full DOUBLE,
        lib_versions VARCHAR,             -- JSON
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE decisions (
        decision_id VARCHAR NOT NULL,
        study VARCHAR NOT NULL,
        trial VARCHAR NOT NULL,
        trial_number INTEGER,
        step BIGINT,
        value DOUBLE,
        threshold DOUBLE,
        ref_size INTEGER,
        verdict VARCHAR NOT NULL,         -- 'prune' | 'continue'
        reason VARCHAR,
        rule VARCHAR,
        version INTEGER,
        spec_hash VARCHAR,
        mode VARCHAR NOT NULL,            -- 'replay' | 'live'
        order_seed INTEGER,
        decided_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE meta_models (
        model_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        params VARCHAR,                   -- JSON
        training_snapshot VARCHAR,        -- JSON
        evaluation VARCHAR,               -- JSON
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE recommendations (
        recommendation_id VARCHAR NOT NULL,
        task VARCHAR,
        model_id VARCHAR,
        inputs VARCHAR,                   -- JSON
        spec VARCHAR NOT NULL,            -- JSON
        expected VARCHAR,                 -- JSON
        neighbours VARCHAR,               -- JSON
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE drift_events (
        event_id VARCHAR NOT NULL,
        monitor VARCHAR NOT NULL,
        rule VARCHAR,
        version INTEGER,
        scope VARCHAR,
        statistic DOUBLE,
        threshold DOUBLE,
        window_start VARCHAR,
        window_end VARCHAR,
        detected_at TIMESTAMP NOT NULL,
        job_id VARCHAR
    )""",
    """CREATE TABLE jobs (
        job_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        status VARCHAR NOT NULL,          -- 'running' | 'succeeded' | 'failed' | 'noop'
        trigger VARCHAR,
        started_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP,
        watermark VARCHAR,
        result VARCHAR                    -- JSON
    )""",
)

# Drift events say who saw them (a manual ``drift check`` or the scheduled monitors of ``cycle`` and
# ``recalibrate``, so one never hides drift from the other), where the change began (the first study
# after the estimated change point: re-tuning uses only studies from there on) and what became of them.
# Events recorded before this migration carry no change point: they are closed as 'legacy'.
_DRIFT_STATE = (
    "ALTER TABLE drift_events ADD COLUMN origin VARCHAR",          # 'manual' | 'scheduled' | 'legacy'
    "ALTER TABLE drift_events ADD COLUMN status VARCHAR",          # open|pending|promoted|rejected|seen|closed
    "ALTER TABLE drift_events ADD COLUMN alarm_study VARCHAR",     # the study at which the detector fired
    "ALTER TABLE drift_events ADD COLUMN change_study VARCHAR",    # the first study after the change point
    "ALTER TABLE drift_events ADD COLUMN change_at TIMESTAMP",     # its ingestion time
    "ALTER TABLE drift_events ADD COLUMN needed_studies INTEGER",  # 'pending': studies still missing
    "UPDATE drift_events SET origin = 'legacy', status = 'closed'",
)

# Resources beside compute time (issue 24): the peak memory of each reported step, kept apart from the
# points (only studies that measured it have rows; the points' own columns and every positional insert
# into them stay as they were), and what a replay or live study used and where a budget stopped it.
_RESOURCES = (
    """CREATE TABLE curve_memory (
        study VARCHAR NOT NULL,
        trial VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        peak_memory_mb DOUBLE NOT NULL    -- peak memory (MB) up to and including this step
    )""",
    """CREATE TABLE outcome_resources (
        outcome_id VARCHAR NOT NULL,      -- the outcome these resources belong to
        study VARCHAR NOT NULL,
        peak_memory_mb DOUBLE,            -- the most memory any step the rule let run used; NULL: unknown
        trials_capped INTEGER NOT NULL,   -- trials pruned by a per-trial cap of the spec's budget
        budget_stopped_at INTEGER         -- trials started before the study budget stopped it; NULL: never
    )""",
)

# A drift event records the CUSUM slack its threshold was calibrated and scanned with (NULL for events recorded
# before this migration and for DriftDetector templates, whose threshold is their own). ``IF NOT EXISTS``: running
# the statement twice (a retried migration) leaves the column as it is.
_EVENT_SLACK = ("ALTER TABLE drift_events ADD COLUMN IF NOT EXISTS slack DOUBLE",)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _INITIAL),
    Migration(2, "drift events: origin, status and change point", _DRIFT_STATE),
    Migration(3, "resources: peak memory per step and per outcome, budget stops", _RESOURCES),
    Migration(4, "drift events: the CUSUM slack of the threshold", _EVENT_SLACK),
)

LATEST_VERSION = MIGRATIONS[-1].version

#: The natural or content-derived key of every table: the columns no two rows share. The tables have no
#: UNIQUE constraints (DuckLake has none), so writers keep these unique and ``policy-store check`` verifies
#: them; a table added by a migration gets its key here. ``outcomes``/``decisions`` ids are sha256 of what
#: they measure, ``meta_models`` ids derive from the artifact's sha256, jobs and drift events carry UUIDs.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "schema_version": ("version",),
    "tasks": ("task",),
    "meta_features": ("task", "source", "feature"),
    "studies": ("study",),
    "trials": ("study", "trial"),
    "curve_points": ("study", "trial", "step"),
    "curve_memory": ("study", "trial", "step"),
    "rules": ("rule",),
    "rule_versions": ("rule", "version"),
    "outcomes": ("outcome_id",),
    "outcome_resources": ("outcome_id",),
    "decisions": ("decision_id",),
    "meta_models": ("model_id",),
    "recommendations": ("recommendation_id",),
    "drift_events": ("event_id",),
    "jobs": ("job_id",),
}
