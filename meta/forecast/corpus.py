"""Complete learning curves from the corpora, as the forecaster trains and is judged on them.

A :class:`CurveSet` holds the trials that reached their study's budget (a
prefix's final is then known): one NaN-padded row per trial, its length (the
study's budget in steps), its study and direction. :func:`curve_set` builds one
from long rows (task, study, trial, step, value, direction), the format of every
source here; :func:`load_source` reads a named source: ``lcdb`` (accuracy and
log-loss curves over training-set size, from LCDB's cached sdist), ``hpo`` (the
HPO corpus, from the cache or a Parquet file), ``bundled`` (the sklearn curves
shipped in ``policy_store.datasets``), or any Parquet file of long rows.

>>> cs = load_source("bundled")
>>> cs.source, len(cs) > 300, int(cs.lengths.min()), bool(cs.maximize.all())
('bundled', True, 30, True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from policy_store.errors import InvalidInputError, NotFoundError

#: LCDB seed pairs read per dataset (each a study of ~20 learners).
LCDB_SEEDS = 2


@dataclass(frozen=True)
class CurveSet:
    """Complete curves of one source: ``values[i, :lengths[i]]`` is trial ``i``'s curve."""

    source: str
    values: np.ndarray     # (n_curves, max_len) float64, NaN-padded
    lengths: np.ndarray    # (n_curves,) int64: the study's budget in steps
    study: np.ndarray      # (n_curves,) int64: study index within the set
    maximize: np.ndarray   # (n_curves,) bool
    studies: np.ndarray    # (n_studies,) object: study ids

    def __len__(self) -> int:
        return len(self.lengths)

    def subset(self, mask: np.ndarray) -> CurveSet:
        """The curves where ``mask`` holds (study indices kept)."""
        return CurveSet(self.source, self.values[mask], self.lengths[mask], self.study[mask], self.maximize[mask],
                        self.studies)


def curve_set(frame: pd.DataFrame, source: str) -> CurveSet:
    """The complete, finite curves of long rows: a trial is kept when it reported every step of its study.

    Raises
    ------
    InvalidInputError
        A column is missing.
    """
    missing = [c for c in ("study", "trial", "step", "value", "direction") if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"curve rows need columns study, trial, step, value, direction; {missing} missing",
                                field=missing[0])
    df = frame[["study", "trial", "step", "value", "direction"]].copy()
    df["trial"] = df["trial"].astype(str)
    df = df.sort_values(["study", "trial", "step"], kind="stable")
    steps_of_study = df.groupby("study")["step"].nunique()
    per_trial = df.groupby(["study", "trial"], sort=False).agg(n=("step", "size"), finite=("value", lambda v:
                                                                                           np.isfinite(v).all()))
    budget = steps_of_study.reindex(per_trial.index.get_level_values(0)).to_numpy()
    keep = per_trial.index[(per_trial["n"].to_numpy() == budget) & per_trial["finite"].to_numpy() & (budget >= 2)]
    df = df.set_index(["study", "trial"]).loc[keep].reset_index()
    studies = np.array(sorted(df["study"].unique()), dtype=object)
    trials = df.groupby(["study", "trial"], sort=False)
    lengths = trials.size().to_numpy().astype(np.int64)
    width = int(lengths.max()) if len(lengths) else 0
    values = np.full((len(lengths), width), np.nan)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else np.zeros(0, np.int64)
    values[rows, cols] = df["value"].to_numpy(dtype=np.float64)
    first = trials.head(1)
    study = np.searchsorted(studies, first["study"].to_numpy())
    maximize = (first["direction"].to_numpy() == "maximize")
    return CurveSet(source, values, lengths, study.astype(np.int64), maximize, studies)


def _lcdb_frame() -> pd.DataFrame:
    from policy_store.datasets import lcdb

    parts = []
    for metric in ("accuracy", "logloss"):
        raw = lcdb.read_curves(metric, seeds=LCDB_SEEDS, download=False)
        parts.append(lcdb.long_frame(raw, metric=metric))
    return pd.concat(parts, ignore_index=True)


def load_source(name: str) -> CurveSet:
    """The complete curves of a named source (``lcdb``, ``hpo``, ``bundled``) or of a Parquet file.

    Raises
    ------
    NotFoundError
        ``name`` is neither a source nor a file, or the source is not cached on this machine.
    """
    if name == "bundled":
        from policy_store.datasets import bundled

        return curve_set(bundled(), "bundled")
    if name == "lcdb":
        return curve_set(_lcdb_frame(), "lcdb")
    if name == "hpo":
        from policy_store.datasets import hpo_corpus

        return curve_set(hpo_corpus(), "hpo")
    if os.path.isfile(name):
        return curve_set(pd.read_parquet(name), os.path.splitext(os.path.basename(name))[0])
    raise NotFoundError(f"no curve source {name!r}: use lcdb, hpo, bundled or a Parquet file of long rows")
