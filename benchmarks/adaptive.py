"""Offline within-study adaptation (``adaptive_replay``): its speed, and its outcome against the rule it starts from.

The anchor is the static rule: each study replayed with the start rule alone
(the replay engine, same orders). The adaptive run starts from the same rule and
may switch as trials complete. Prior: the cold start's (the documented default
rule, an uninformative prior over the 54-candidate grid), so only each study's own
evidence moves it -- what a store without a meta-model does live. Studies: the 12
bundled sklearn studies (30 trials x 30 steps) and a 200-trial synthetic one.

    python benchmarks/adaptive.py [--orders 5] [--every 2] [--n-boot 16] [--lam 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from live import curves as synthetic
from policy_store.datasets import ingest_bundled
from policy_store.meta.adaptation.replay import adaptive_replay
from policy_store.meta.adaptation.selector import Prior
from policy_store.meta.learner.grid import candidate_grid
from policy_store.meta.recommend import COLD_START_SPEC

from policy_store import PolicyStore
from policy_store.curves import StudyCurves, load_curves
from policy_store.replay import outcome_arrays, replay_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5)
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--n-boot", type=int, default=16)
    parser.add_argument("--lam", type=float, default=20.0)
    args = parser.parse_args()
    with PolicyStore.memory() as store:
        ingest_bundled(store)
        studies = load_curves(store)
    studies.append(StudyCurves.from_arrays("synthetic-200", synthetic(200, 20, 0), direction="minimize"))
    grid = candidate_grid()
    cold = {"strategy": COLD_START_SPEC["strategy"], **COLD_START_SPEC["params"]}
    start = next(i for i, g in enumerate(grid) if {"strategy": g.strategy, **g.params} == cold)
    adaptive_replay(studies[0], 0, Prior.uninformative(grid, studies[0].direction, start), n_boot=2)  # JIT warm-up
    print("| study | trials | static saved / regret | adaptive saved / regret | utility static -> adaptive | "
          "switches | s per study-order |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    u_static, u_adapt, secs = [], [], []
    for c in studies:
        prior = Prior.uninformative(grid, c.direction, start)
        static = outcome_arrays(c, replay_study(c, [prior.specs[start]], list(range(args.orders))))
        t = time.perf_counter()
        outs = [adaptive_replay(c, k, prior, lam=args.lam, every=args.every, n_boot=args.n_boot)
                for k in range(args.orders)]
        dt = (time.perf_counter() - t) / args.orders
        s_saved, s_regret = float(static["compute_saved"].mean()), float(np.nanmean(static["regret"]))
        a_saved, a_regret = np.mean([o.compute_saved for o in outs]), np.nanmean([o.regret for o in outs])
        us, ua = s_saved - args.lam * s_regret, a_saved - args.lam * a_regret
        u_static.append(us)
        u_adapt.append(ua)
        secs.append(dt)
        print(f"| {c.task} | {c.n_trials} | {s_saved:.3f} / {s_regret:.4f} | {a_saved:.3f} / {a_regret:.4f} | "
              f"{us:.3f} -> {ua:.3f} | {np.mean([len(o.switches) for o in outs]):.1f} | {dt:.2f} |")
    print(f"mean utility static {np.mean(u_static):.3f}, adaptive {np.mean(u_adapt):.3f} "
          f"(ratio {np.mean(u_adapt) / np.mean(u_static):.2f}); adaptive_replay {np.mean(secs):.2f} s per "
          f"study-order (max {np.max(secs):.2f} s); every={args.every}, n_boot={args.n_boot}, lam={args.lam:g}")


if __name__ == "__main__":
    main()
