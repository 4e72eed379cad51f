"""Overhead per result of ``StoreScheduler`` against Ray's ``ASHAScheduler``, paired in one run.

The bundled real curves (12 sklearn studies x 30 trials x 30 steps of accuracy,
:mod:`policy_store.datasets.bundled`) are fed, trial after trial and step after
step, to both schedulers in the same process: for each result, Ray's
``ASHAScheduler`` (grace period 1, reduction factor 3) and ``StoreScheduler``
(a store rule, spooling each decision with its reason) each get
``on_trial_result`` for the same trial and step while it still runs for them.
Each call is timed by wall clock (``perf_counter_ns``) and by the thread's CPU
time (``thread_time_ns``, which preemption on a shared machine does not inflate).
The schedulers see real ``ray.tune.experiment.Trial`` objects but no Tune
controller: what is measured is the scheduler's own cost per result, not Ray's
actor round trips (which are milliseconds per result). Cold (the first study,
including the scheduler's construction and first calls) and warm (the other
studies) are reported separately. ``finish`` runs at the end and every decision
is checked to be in the store.

    python benchmarks/ray_scheduler.py                            # successive_halving (ASHA's counterpart)
    python benchmarks/ray_scheduler.py --strategy median          # a rule Ray has no scheduler like
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from policy_store.datasets import bundled
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from policy_store import PolicyStore
from policy_store.integrations.ray import StoreScheduler
from policy_store.rules import add_rule_version

SPECS = {
    "successive_halving": {"strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 3}},
    "median": {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 2}},
    "median-audited": {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 2},
                       "safeguards": {"audit_fraction": 0.1, "audit_seed": 1}},
}


def _timed(scheduler: TrialScheduler, trial: Trial, result: dict) -> tuple[str, int, int]:
    w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
    decision = scheduler.on_trial_result(None, trial, result)
    return decision, time.perf_counter_ns() - w0, time.thread_time_ns() - c0


def run(strategy: str, out: Path) -> dict[str, dict[str, np.ndarray]]:
    """Feed every bundled study to both schedulers; per-call times (ns) by scheduler and phase."""
    frame = bundled()
    store_path = str(out / "store.duckdb")
    with PolicyStore(store_path) as store:
        add_rule_version(store, "bench", SPECS[strategy], created_by="benchmarks/ray_scheduler.py")
    times: dict[str, dict[str, list[int]]] = {p: {k: [] for k in ("asha_wall", "asha_cpu", "store_wall",
                                                                   "store_cpu")} for p in ("cold", "warm")}
    stops = {"asha": 0, "store": 0}
    agreement = {"neither": 0, "same step": 0, "both, other step": 0, "ASHA only": 0, "StoreScheduler only": 0}
    calls = 0
    for k, (study, rows) in enumerate(frame.groupby("study", sort=True)):
        phase = "cold" if k == 0 else "warm"
        pruned = 0
        steps = int(rows["step"].max())
        asha = ASHAScheduler(metric="accuracy", mode="max", max_t=steps + 1, grace_period=1, reduction_factor=3)
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        ours = StoreScheduler(store_path, task=str(rows["task"].iloc[0]), rule="bench", metric="accuracy",
                              mode="max", study=f"ray-bench/{study}", spool_dir=out / "spool")
        if phase == "cold":
            times["cold"]["store_wall"].append(time.perf_counter_ns() - w0)
            times["cold"]["store_cpu"].append(time.thread_time_ns() - c0)
        for number, (trial_id, points) in enumerate(rows.groupby("trial", sort=False)):
            trial = Trial("objective", config={"trial": str(trial_id)}, stub=True, trial_id=f"t_{number:05d}")
            asha.on_trial_add(None, trial)
            running = {"asha": asha, "store": ours}
            last = int(points["step"].max())
            stopped_at: dict[str, int] = {}
            for p in points.sort_values("step").itertuples(index=False):
                result = {"accuracy": float(p.value), "training_iteration": int(p.step) + 1,
                          "time_this_iter_s": float(p.cost_seconds)}
                for name, scheduler in list(running.items()):
                    decision, wall, cpu = _timed(scheduler, trial, dict(result))
                    times[phase][f"{name}_wall"].append(wall)
                    times[phase][f"{name}_cpu"].append(cpu)
                    calls += name == "store"
                    if decision == TrialScheduler.STOP:
                        stops[name] += int(p.step) < last  # ASHA also says STOP at max_t, the natural end
                        pruned += name == "store"
                        if int(p.step) < last:
                            stopped_at[name] = int(p.step)
                        del running[name]
                if not running:
                    break
            for scheduler in running.values():
                scheduler.on_trial_complete(None, trial, result)
            a, b = stopped_at.get("asha"), stopped_at.get("store")
            agreement["neither" if a is None and b is None else "ASHA only" if b is None else
                      "StoreScheduler only" if a is None else "same step" if a == b else "both, other step"] += 1
        outcome = ours.finish()
        with PolicyStore(store_path, read_only=True) as store:
            recorded = store.scalar("SELECT count(*) FROM decisions WHERE study = ?", [ours.study_name])
        assert recorded == ours.calls, (recorded, ours.calls)
        assert outcome["trials_pruned"] == pruned, outcome
    print(f"strategy {strategy}: {calls} StoreScheduler results over {frame['study'].nunique()} studies, "
          f"all recorded; trials stopped before their last step: ASHA {stops['asha']}, StoreScheduler {stops['store']}")
    print("per trial, who stopped it before its last step: " + ", ".join(f"{k} {v}" for k, v in agreement.items()))
    return {p: {k: np.array(v, dtype=float) for k, v in d.items()} for p, d in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=sorted(SPECS), default="successive_halving")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        times = run(args.strategy, Path(tmp))
    for phase in ("cold", "warm"):
        t = times[phase]
        print(f"\n{phase}: per result, microseconds (p50 / p99 / mean)")
        for clock in ("wall", "cpu"):
            a, s = t[f"asha_{clock}"] / 1e3, t[f"store_{clock}"] / 1e3
            if phase == "cold":
                print(f"  StoreScheduler construction ({clock}): {s[0] / 1e3:.1f} ms")
                s = s[1:]
            print(f"  {clock:4}  ASHA {np.percentile(a, 50):8.1f} / {np.percentile(a, 99):8.1f} / {a.mean():8.1f}"
                  f"   StoreScheduler {np.percentile(s, 50):8.1f} / {np.percentile(s, 99):8.1f} / {s.mean():8.1f}"
                  f"   ratio of p50 {np.percentile(s, 50) / np.percentile(a, 50):.1f}x, "
                  f"added p50 {np.percentile(s, 50) - np.percentile(a, 50):.1f} us")


if __name__ == "__main__":
    main()
