"""Learning-curve forecasting: the distribution of a trial's final value from its partial curve.

:func:`load_forecaster` gives the forecaster the package ships (cached per
process; never downloads): the learned quantile model
(:class:`~policy_store.meta.forecast.learned.QuantileForecaster`) from
``model/forecaster.npz``, checked against the sha256 in ``model/manifest.json``
(built by :mod:`policy_store.meta.forecast.build_forecaster`). Every forecaster
follows :class:`~policy_store.meta.forecast._base.Forecaster`:
``quantiles(values, seen, n_steps, maximize, levels, context=None)`` on a batch of
NaN-padded prefixes of one study; ``context``, the study's other curves (completed
ones and any that ran longer), lets the learned forecaster place each prefix among
them and rescale its interval by its misses on them
(:mod:`~policy_store.meta.forecast.calibration`), which is what carries it to a
source it was not trained on.

The forecaster is a model of how curves continue, not the corpus's
recommendations: ``POLICY_STORE_KNOWLEDGE=off`` (the cold start) leaves it on, so
a ``forecast`` rule decides the same wherever it is replayed.

>>> import numpy as np
>>> fc = load_forecaster()
>>> q = fc.quantiles(np.array([[0.5, 0.6, 0.65]]), np.array([3]), 20, maximize=True)
>>> fc.name, q.shape, bool(np.all(np.diff(q, axis=1) >= 0))
('learned', (1, 3), True)
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from policy_store.meta.forecast._base import GRID_LEVELS, Forecaster
from policy_store.meta.forecast.last_value import LastValueForecaster

from policy_store.errors import PolicyStoreError

__all__ = ["GRID_LEVELS", "MODEL_ID_LENGTH", "Forecaster", "ForecasterIntegrityError", "LastValueForecaster",
           "load_forecaster", "shipped_manifest", "shipped_model_id"]

MODEL_FILE = "forecaster.npz"
MANIFEST = "manifest.json"
KINDS = ("learned", "last-value")
#: Hex digits of the model file's sha256 that name a forecaster version (a ``forecast`` rule's ``params.model``).
MODEL_ID_LENGTH = 12


class ForecasterIntegrityError(PolicyStoreError):
    """The shipped forecaster's file is missing, its sha256 differs from its manifest's, or it was built for
    other features than the code computes."""


def model_dir() -> Path:
    """The folder the package ships the forecaster in."""
    return Path(str(resources.files("policy_store.meta.forecast").joinpath("model")))


def shipped_manifest(folder: Path | None = None) -> dict[str, Any]:
    """The shipped forecaster's manifest, after checking the model file's sha256.

    Raises
    ------
    ForecasterIntegrityError
        The manifest or the model file is missing, the file's sha256 differs from the manifest's, or the
        manifest's features are not the ones :mod:`~policy_store.meta.forecast.features` computes (a model
        built before a feature was added would read the wrong columns).
    """
    from policy_store.meta.forecast.features import FEATURES
    from policy_store.meta.learner.knowledge import checked_manifest

    folder = model_dir() if folder is None else Path(folder)
    rebuild = "python -m policy_store.meta.forecast.build_forecaster"
    manifest = checked_manifest(folder, (MODEL_FILE,), ForecasterIntegrityError, what="forecaster",
                                rebuild=rebuild)
    if manifest.get("features") != list(FEATURES):
        raise ForecasterIntegrityError(f"the forecaster in {folder} was built for the features "
                                       f"{manifest.get('features')}, the code computes {list(FEATURES)}; "
                                       f"rebuild it: {rebuild}")
    return manifest


@lru_cache(maxsize=1)
def shipped_model_id() -> str:
    """The installed forecaster's version: the first :data:`MODEL_ID_LENGTH` hex digits of its file's sha256.

    A ``forecast`` rule records it in ``params.model`` when its spec is made, so the rule's identity (its spec
    hash) names the model its decisions came from.

    >>> len(shipped_model_id()) == MODEL_ID_LENGTH
    True

    Raises
    ------
    ForecasterIntegrityError
        See :func:`shipped_manifest`.
    """
    return str(shipped_manifest()["sha256"][MODEL_FILE])[:MODEL_ID_LENGTH]


@lru_cache(maxsize=4)
def load_forecaster(kind: str = "learned", folder: str | None = None) -> Forecaster:
    """The shipped forecaster: ``learned`` (the default) or the ``last-value`` baseline with its measured spread.

    Raises
    ------
    ForecasterIntegrityError
        See :func:`shipped_manifest`.
    PolicyStoreError
        ``kind`` is not one of :data:`KINDS`.
    """
    from policy_store.meta.forecast.learned import QuantileForecaster
    from policy_store.meta.forecast.packed import PackedQuantileTrees

    if kind not in KINDS:
        raise PolicyStoreError(f"unknown forecaster {kind!r}; allowed: {list(KINDS)}")
    where = model_dir() if folder is None else Path(folder)
    shipped_manifest(where)
    with np.load(where / MODEL_FILE, allow_pickle=False) as z:
        if kind == "last-value":
            return LastValueForecaster(z["last_value_table"])
        return QuantileForecaster(PackedQuantileTrees.from_arrays(
            {k[len("trees_"):]: z[k] for k in z.files if k.startswith("trees_")}))
