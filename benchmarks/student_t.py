"""The ``posterior`` rule's decisions with numpy's Student-t CDF against SciPy's ``stdtr``, side by side in one run.

:func:`policy_store.distributions.student_t_cdf` (series for whole degrees of
freedom 2-100, SciPy within ``SCIPY_BAND`` of ``alpha``) replaced
``scipy.special.stdtr`` in :func:`policy_store.rules.strategies.posterior.decide`,
which the replay kernel and the live decider both call. Every study of the corpora
is replayed under 3 orders with 200 posterior specs -- alpha 0.01/0.05/0.1/0.2 x
warm-up 0/2 x prior_alpha 0.5/1/2/3.5/1.3 (degrees of freedom ``2 prior_alpha + n``:
whole odd and even, 1 and fractional ones) x 5 (prior_mean, prior_beta) pairs, the
mean signed by direction -- once with SciPy's ``stdtr`` put back and once as
shipped; printed: the decisions that differ (a trial's prune column) and the largest
difference of the reported ``P`` of a pruned trial.

Corpora: the HPO studies ``policy_store.datasets.hpo.hpo_corpus()`` generates into the cache
(``<cache>/hpo/v1-trials16-steps12-rows1000/*.parquet``, skipped when absent), the
LCDB table and the LCDB excerpt committed under ``tests/data``.

Usage::

    python benchmarks/student_t.py
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
from policy_store.datasets.lcdb import long_frame
from scipy import special

import policy_store.rules.strategies.posterior as posterior
from policy_store.cache import cache_dir
from policy_store.curves import StudyCurves, curves_from_frame
from policy_store.distributions import student_t_cdf
from policy_store.replay.engine import Replay, replay_many
from policy_store.rules.spec import RuleSpec

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def corpora(hpo_dir: Path) -> list[StudyCurves]:
    files = sorted(hpo_dir.glob("*.parquet"))
    hpo = curves_from_frame(pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)) if files else []
    lcdb = curves_from_frame(long_frame(pd.read_csv(DATA / "lcdb" / "database-accuracy.csv")))
    excerpt = curves_from_frame(long_frame(pd.read_csv(DATA / "replay" / "lcdb-accuracy-excerpt.csv")))
    return hpo + lcdb + excerpt


def specs(direction: str) -> list[RuleSpec]:
    sign = 1.0 if direction == "maximize" else -1.0
    return [RuleSpec.parse({"strategy": "posterior", "direction": direction, "params": {
        "alpha": a, "n_warmup_steps": w, "n_startup_trials": 2, "prior_kappa": 1.0, "prior_alpha": a0,
        "prior_mean": sign * m, "prior_beta": b, "min_observations": 0}})
        for a, w, a0, (m, b) in itertools.product(
            (0.01, 0.05, 0.1, 0.2), (0, 2), (0.5, 1.0, 2.0, 3.5, 1.3),
            ((0.0, 0.01), (0.0, 0.001), (0.02, 0.01), (-0.02, 0.1), (0.0, 1.0)))]


def replay_all(curves: list[StudyCurves], with_scipy: bool) -> list[Replay]:
    if with_scipy:
        posterior.student_t_cdf, posterior.SCIPY_BAND = special.stdtr, -1.0
    else:
        posterior.student_t_cdf, posterior.SCIPY_BAND = student_t_cdf, 1e-9
    out: list[Replay] = []
    for d in ("minimize", "maximize"):
        cs = [c for c in curves if c.direction == d]
        for i in range(0, len(cs), 64):
            out += [r for rs in replay_many(cs[i:i + 64], specs(d), (0, 1, 2)) for r in rs]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hpo-dir", type=Path, default=cache_dir() / "hpo" / "v1-trials16-steps12-rows1000")
    args = ap.parse_args(argv)
    curves = corpora(args.hpo_dir)
    print(f"{len(curves)} studies (max {max(c.n_trials for c in curves)} trials)", flush=True)
    t0 = time.process_time()
    old = replay_all(curves, with_scipy=True)
    t1 = time.process_time()
    new = replay_all(curves, with_scipy=False)
    t2 = time.process_time()
    differ = sum(int((a.prune_col != b.prune_col).sum()) for a, b in zip(old, new, strict=True))
    pruned = [a.prune_col >= 0 for a in old]
    gap = max(float(np.abs(a.threshold - b.threshold)[p].max(initial=0.0))
              for a, b, p in zip(old, new, pruned, strict=True))
    print(f"{len(old):,} replays, {sum(len(a.prune_col) for a in old):,} trials decided, "
          f"{sum(int(p.sum()) for p in pruned):,} pruned: {differ} decisions differ; "
          f"largest |P difference| of a pruned trial {gap:.3g}; replay CPU SciPy {t1 - t0:.1f} s, "
          f"numpy {t2 - t1:.1f} s")


if __name__ == "__main__":
    main()
