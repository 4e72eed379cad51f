"""Learning-curve sources: LCDB, curves from real scikit-learn training, a real HPO corpus, user files.

Each source builds a long frame (:mod:`policy_store.datasets._base`) and hands it
to :func:`policy_store.ingest.ingest_frame`.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     ingest_bundled(store).points_written == len(bundled())
True
"""

from policy_store.datasets._base import LONG_COLUMNS, order_long
from policy_store.datasets.bundled import bundled, ingest_bundled
from policy_store.datasets.generated import generate, load_xy, write_parquet
from policy_store.datasets.hpo import bundled_hpo, generate_hpo, hpo_corpus, ingest_hpo
from policy_store.datasets.hpo_features import hpo_meta_features
from policy_store.datasets.hpo_sources import dataset_names as hpo_dataset_names
from policy_store.datasets.lcdb import LcdbIngestResult
from policy_store.datasets.lcdb import ingest as ingest_lcdb
from policy_store.datasets.lcdb import long_frame as lcdb_long_frame
from policy_store.datasets.lcdb import openml_features as lcdb_openml_features
from policy_store.datasets.lcdb import read_curves as read_lcdb_curves
from policy_store.datasets.lcdb import read_datasets as read_lcdb_datasets
from policy_store.datasets.raytune import ingest_raytune, read_raytune

from policy_store.cache import cache_dir

__all__ = [
    "LONG_COLUMNS",
    "LcdbIngestResult",
    "bundled",
    "bundled_hpo",
    "cache_dir",
    "generate",
    "generate_hpo",
    "hpo_corpus",
    "hpo_dataset_names",
    "hpo_meta_features",
    "ingest_bundled",
    "ingest_hpo",
    "ingest_lcdb",
    "ingest_raytune",
    "lcdb_long_frame",
    "lcdb_openml_features",
    "load_xy",
    "order_long",
    "read_lcdb_curves",
    "read_lcdb_datasets",
    "read_raytune",
    "write_parquet",
]
