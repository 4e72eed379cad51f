"""Studies into the store: the long format, files, Optuna.

>>> import pandas as pd
>>> from policy_store import PolicyStore
>>> from policy_store.ingest import ingest_frame
>>> with PolicyStore.memory() as store:
...     ingest_frame(store, pd.DataFrame({"task": "t", "study": "s", "trial": 0,
...                                       "step": [0, 1], "value": [1.0, 0.5]})).added
['s']
"""

from policy_store.ingest.files import ingest_file, read_long_file
from policy_store.ingest.longformat import COLUMNS, DIRECTIONS, REQUIRED_COLUMNS, STATES, validate_long_frame
from policy_store.ingest.optuna_source import frame_from_optuna, ingest_optuna, load_optuna_studies
from policy_store.ingest.stream import ingest_csv_stream
from policy_store.ingest.writer import IngestReport, ingest_frame

__all__ = [
    "COLUMNS",
    "DIRECTIONS",
    "REQUIRED_COLUMNS",
    "STATES",
    "IngestReport",
    "frame_from_optuna",
    "ingest_csv_stream",
    "ingest_file",
    "ingest_frame",
    "ingest_optuna",
    "load_optuna_studies",
    "read_long_file",
    "validate_long_frame",
]
