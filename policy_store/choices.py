"""Fixed choices and defaults that the library validates against and the CLI offers when it builds its parser.

They live here, free of heavy imports, because the packages that own them (``policy_store.ingest``,
``policy_store.rules``, ``policy_store.drift``, ``policy_store.reports``) import pandas or scipy in their
``__init__``: registering the CLI's commands must not pay for that (``policy-store --help``, ``status``).
Each owner re-exports its constants, so ``policy_store.rules.SOURCES`` and the like are unchanged.

>>> FORMATS, SOURCES, STATUSES
(('csv', 'parquet'), ('manual', 'meta-learner', 'recalibration'), ('active', 'rejected'))
>>> METRICS[-1], DEFAULT_OUT_DIR, DEFAULT_REGRET_WEIGHT
('rank_correlation', 'reports-out', 20.0)
"""

from __future__ import annotations

#: Long-format file formats that ``ingest`` reads (:mod:`policy_store.ingest.files`).
FORMATS = ("csv", "parquet")

#: Kinds of source of a rule version, and its statuses (:mod:`policy_store.rules.versions`).
SOURCES = ("manual", "meta-learner", "recalibration")
STATUSES = ("active", "rejected")

#: Metrics a drift monitor watches (:mod:`policy_store.drift.windows`): the outcome columns, then
#: ``rank_correlation``, which is computed per study from the curves.
METRICS = ("regret", "killed_best", "false_prune_rate", "compute_saved", "rank_correlation")

#: Who recorded a drift event and what became of it (:mod:`policy_store.drift.events`); events recorded
#: before migration 2 have origin 'legacy' and status 'closed'.
DRIFT_ORIGINS = ("manual", "scheduled")
DRIFT_EVENT_STATUSES = ("open", "pending", "promoted", "rejected", "seen", "closed")

#: Folder the report is written into (:mod:`policy_store.reports.build`).
DEFAULT_OUT_DIR = "reports-out"

#: Default λ of the utility ``compute_saved − λ·regret`` (the meta-learner's evaluation uses the same).
DEFAULT_REGRET_WEIGHT = 20.0
