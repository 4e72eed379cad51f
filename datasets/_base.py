"""The contract every learning-curve source follows.

A source is a pure function that returns a *long frame*: one row per reported
point, with the columns of :data:`LONG_COLUMNS` (the first five required), the
format :func:`policy_store.ingest.ingest_frame` validates and stores. Sources
never write SQL; they build the frame, and a thin ``ingest_*`` function hands it
to ``ingest_frame``. Downloads and conversions live in :func:`policy_store.cache.cache_dir`.

>>> import pandas as pd
>>> frame = pd.DataFrame({"task": ["t"], "study": ["s"], "trial": ["a"], "step": [0], "value": [0.5]})
>>> list(order_long(frame).columns)
['task', 'study', 'trial', 'step', 'value']
"""

from __future__ import annotations

import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = ("task", "study", "trial", "step", "value")
OPTIONAL_COLUMNS: tuple[str, ...] = ("cost_seconds", "params", "state", "metric", "direction", "peak_memory_mb")
LONG_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

def order_long(frame: pd.DataFrame) -> pd.DataFrame:
    """The long-frame columns in canonical order, rows sorted by study, trial order and step.

    Trials keep the order in which they first appear (their recorded order);
    columns other than :data:`LONG_COLUMNS` are dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"study": ["s", "s", "s"], "trial": ["b", "a", "b"], "step": [1, 0, 0],
    ...                   "value": [0.2, 0.3, 0.1], "task": "t", "extra": 1})
    >>> order_long(f)[["trial", "step", "value"]].to_dict("list")
    {'trial': ['b', 'b', 'a'], 'step': [0, 1, 0], 'value': [0.1, 0.2, 0.3]}
    """
    columns = [c for c in LONG_COLUMNS if c in frame.columns]
    out = frame[columns].copy()
    first_seen = out.groupby(["study", "trial"], sort=False).ngroup()
    out["_order"] = first_seen.to_numpy()
    out = out.sort_values(["study", "_order", "step"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)
