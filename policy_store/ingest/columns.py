"""The long format's column names and allowed values (described in :mod:`policy_store.ingest.longformat`).

Kept apart from the validation so that readers which do not validate in pandas (DuckDB's own reading of a
file, :mod:`policy_store.ingest.engine_load`) can name the columns without importing pandas.

>>> REQUIRED_COLUMNS, DEFAULT_DIRECTION in DIRECTIONS
(('task', 'study', 'trial', 'step', 'value'), True)
"""

REQUIRED_COLUMNS = ("task", "study", "trial", "step", "value")
OPTIONAL_COLUMNS = ("cost_seconds", "params", "state", "metric", "direction", "peak_memory_mb")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
DIRECTIONS = ("minimize", "maximize")
DEFAULT_DIRECTION = "minimize"
MAX_STEP = 2**53 - 1
"""Largest step: every integer up to it is exact in float64, so no two steps can collapse into one."""
