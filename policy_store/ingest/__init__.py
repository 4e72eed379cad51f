"""Studies into the store: the long format, files, Optuna.

>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.ingest import ingest_frame
>>> with PolicyStore.memory() as store:
...     ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": 0,
...                                       "step": [0, 1], "value": [1.0, 0.5]})).added
['s']
"""

from policy_store.lazy import lazy_exports

# Each name is imported from its module on first use: `policy-store ingest FILE` of a well-formed file is read
# by DuckDB and needs neither pandas (the validation, Optuna's studies) nor pyarrow's CSV reader.
_MODULE_OF = {
    "COLUMNS": "columns",
    "DIRECTIONS": "columns",
    "REQUIRED_COLUMNS": "columns",
    "STATES": "columns",
    "IngestReport": "report",
    "frame_from_optuna": "optuna_source",
    "ingest_csv_stream": "stream",
    "ingest_file": "files",
    "ingest_frame": "writer",
    "ingest_optuna": "optuna_source",
    "load_optuna_studies": "optuna_source",
    "read_long_file": "files",
    "validate_long_frame": "longformat",
}

__all__ = sorted(_MODULE_OF)

__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)
