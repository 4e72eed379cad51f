"""Added latency of ``StorePruner.should_prune`` against the plain Optuna pruner, in the same run.

Two studies take the same seeded synthetic learning curves side by side: for each
trial, study A (the rule's plain ``to_optuna()`` pruner) runs it, then study B
(``StorePruner`` on a store file, spooling every decision) runs it; both see the
same values, so they make the same decisions and hold the same trials. Every
``trial.should_prune()`` is timed twice: wall time (``perf_counter_ns``) and the
thread's CPU time (``thread_time_ns``), which a busy shared machine's preemption
does not inflate. The report gives p50/p99 of each, of the paired per-call
difference, and checks that the decisions are identical and all recorded after
``finish``.

    python benchmarks/live.py                                  # median, 500 trials x 20 steps, in-memory storage
    python benchmarks/live.py --strategy successive_halving --storage journal
    python benchmarks/live.py --adaptive --trials 200          # StorePruner(recommend=True), adapting
    python benchmarks/live.py --trials 200 --burners 2         # two CPU burners beside it (load >= 2)

``--burners N`` runs N busy-looping processes beside the study for the whole
timed run (the shared machine's own load comes on top) and prints the 1-min
load average before and after, so the wall-clock tails are measured on a
loaded machine on purpose.

Where the tail comes from: each call also counts the thread's context switches
(``getrusage(RUSAGE_THREAD)``, read outside the timed window): *involuntary*
ones are preemption (the scheduler gave the core to another process), *voluntary*
ones a wait the call itself made (a blocking write, a lock, a sleep). The report
splits the calls whose added wall time is over 1 ms by that, and ``--slowest K``
lists the K slowest calls (by added wall) with their trial, step and both pruners'
wall, CPU and switches.

With ``--adaptive`` study B is ``StorePruner(recommend=True)`` with a meta-model
(a real forest over the whole grid) trained on past tasks where a lax rule,
``percentile-90-w6-s5``, was best -- wrong for these curves, so the study keeps
re-scoring the 54 candidates in the re-scoring child process as its many trials
complete (whether it switches depends on how tight the forest's prior is). B runs each trial
first; study A's plain pruner then follows the spec B used at each call (a fresh
``to_optuna()`` pruner of the new spec from the call B switched at), so the two
still make the same decisions and the paired difference is what adaptation and
the audit trail add.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from policy_store import PolicyStore
from policy_store.integrations import StorePruner
from policy_store.rules import add_rule_version

SPECS = {
    "median": {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 2}},
    "median-audited": {"strategy": "median", "params": {"n_startup_trials": 5, "n_warmup_steps": 2},
                       "safeguards": {"audit_fraction": 0.1, "audit_seed": 1}},
    "successive_halving": {"strategy": "successive_halving", "params": {"min_resource": 1}},
    "hyperband": {"strategy": "hyperband", "params": {"max_resource": 20}},
    "posterior": {"strategy": "posterior"},
}


def curves(n_trials: int, n_steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    final = rng.uniform(0.1, 1.0, n_trials)[:, None]
    rate = rng.uniform(0.1, 0.6, n_trials)[:, None]
    k = np.arange(n_steps)[None, :]
    return final + (1.5 - final) * np.exp(-rate * k) + rng.normal(0, 0.01, (n_trials, n_steps))


def storage(kind: str, directory: str, name: str):
    if kind == "memory":
        return None
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(f"{directory}/{name}.log"))


def run_trial(study: optuna.Study, row: np.ndarray, times: list[tuple[int, ...]], verdicts: list[bool],
              used: list | None = None, pruner: StorePruner | None = None) -> None:
    """Run one trial; per ``should_prune``: wall ns, CPU ns, voluntary and involuntary context switches,
    trial number, step."""
    trial = study.ask()
    for step, value in enumerate(row):
        trial.report(float(value), step)
        r0 = resource.getrusage(resource.RUSAGE_THREAD)
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        verdict = trial.should_prune()
        t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
        r1 = resource.getrusage(resource.RUSAGE_THREAD)
        times.append((t1 - t0, c1 - c0, r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw, trial.number, step))
        verdicts.append(verdict)
        if used is not None and pruner is not None:
            used.append(pruner.spec)
        if verdict:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
    study.tell(trial, float(row[-1]))


class Follow(optuna.pruners.BasePruner):
    """The plain pruner of whichever spec the adaptive study used at the same call."""

    def __init__(self, spec) -> None:
        self.hash, self.inner = spec.spec_hash, spec.to_optuna()
        self.script: list = []

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        spec = self.script.pop(0)
        if spec.spec_hash != self.hash:
            self.hash, self.inner = spec.spec_hash, spec.to_optuna()
        return self.inner.prune(study, trial)


def lax_model(seed: int = 0):
    """A meta-model over the whole grid, trained on 30 past tasks where ``percentile-90-w6-s5`` saved the most."""
    import pandas as pd
    from policy_store.meta.learner.estimator import PruningMetaLearner
    from policy_store.meta.learner.grid import candidate_grid
    from policy_store.meta.learner.model import MetaModel

    grid = candidate_grid()
    rng = np.random.default_rng(seed)
    lax = np.array([c.name == "percentile-90-w6-s5" for c in grid])
    saved = np.where(lax, 0.6, 0.45) + rng.normal(0, 0.05, (30, len(grid)))
    regret = np.where(lax, 0.0, 0.003) + np.abs(rng.normal(0, 0.002, (30, len(grid))))
    learner = PruningMetaLearner(n_estimators=50, min_samples_leaf=1, random_state=seed).fit(
        pd.DataFrame({"a": rng.normal(size=30)}), np.stack([saved, regret, np.zeros_like(saved)], axis=2),
        task_names=[f"past-{i}" for i in range(30)], candidates=[c.name for c in grid])
    return MetaModel(learner, grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=sorted(SPECS), default="median")
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--storage", choices=("memory", "journal"), default="memory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adaptive", action="store_true", help="StorePruner(recommend=True), adapting in the study")
    parser.add_argument("--min-trials", type=int, default=4, help="with --adaptive: ended trials before re-scoring")
    parser.add_argument("--every", type=int, default=1, help="with --adaptive: re-score every k-th ended trial")
    parser.add_argument("--burners", type=int, default=0, help="CPU-burning processes beside the study")
    parser.add_argument("--slowest", type=int, default=0, help="list the K calls with the largest added wall time")
    args = parser.parse_args()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners)]
    try:
        if burners:
            time.sleep(5)  # let the load average notice them
        print(f"{len(burners)} CPU burner(s); 1-min load average at the start {os.getloadavg()[0]:.1f}")
        run(args)
        print(f"1-min load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        for b in burners:
            b.kill()
            b.wait()


def run(args: argparse.Namespace) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = curves(args.trials, args.steps, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "store.duckdb")
        if args.adaptive:
            PolicyStore(path).close()
            pruner = StorePruner(path, task="synthetic", recommend=True,
                                 recommend_with={"model": lax_model(), "meta_features": {"a": 0.0},
                                                 "direction": "minimize"},
                                 adapt={"min_trials": args.min_trials, "every": args.every})
            version = pruner.version
            follow = Follow(version.spec)
            warm = time.perf_counter()
            pruner.adaptation.wait_idle()  # the re-scoring child loads its compiled kernels once (background, untimed)
            print(f"re-scoring process warm in {time.perf_counter() - warm:.1f} s")
            plain_pruner = follow
        else:
            with PolicyStore(path) as store:
                version = add_rule_version(store, "bench", SPECS[args.strategy], created_by="benchmarks/live.py")
            pruner = StorePruner(path, task="synthetic", rule=version.ref)
            plain_pruner = version.spec.to_optuna()
        plain = optuna.create_study(study_name="plain", pruner=plain_pruner,
                                    storage=storage(args.storage, tmp, "plain"))
        live = optuna.create_study(study_name="live", pruner=pruner, storage=storage(args.storage, tmp, "live"))
        t_plain: list[tuple[int, ...]] = []
        t_live: list[tuple[int, ...]] = []
        v_plain: list[bool] = []
        v_live: list[bool] = []
        gc.disable()  # collections would land on whichever call happens to trigger them
        started = time.perf_counter()
        for row in data:
            if args.adaptive:
                n = len(v_live)
                run_trial(live, row, t_live, v_live, used=follow.script, pruner=pruner)
                assert len(follow.script) == len(v_live) - n
                run_trial(plain, row, t_plain, v_plain)
            else:
                run_trial(plain, row, t_plain, v_plain)
                run_trial(live, row, t_live, v_live)
        wall = time.perf_counter() - started
        gc.enable()
        outcome = pruner.finish(live)
        with PolicyStore(path, read_only=True) as store:
            recorded = store.scalar("SELECT count(*) FROM decisions WHERE study = 'live'")
    same = v_plain == v_live
    print(f"strategy={args.strategy} storage={args.storage} trials={args.trials} steps={args.steps} "
          f"seed={args.seed}: {len(t_plain)} should_prune calls per study, {sum(v_live)} prunes, wall {wall:.1f} s")
    print(f"decisions identical: {same}; recorded {recorded} of {len(t_live)}; live compute_saved "
          f"{outcome['compute_saved']:.3f}")
    if args.adaptive:
        sel = pruner.adaptation.selector
        print(f"adaptive: started {version.ref} ({version.spec.canonical_json()}), "
              f"{len(sel.evidence) if sel else 0} re-scorings, "
              f"{len(pruner.switches)} switches, error {pruner.adaptation.error}; forecaster "
              f"{getattr(sel.forecaster, 'name', sel.forecaster) if sel else None} (None: the shipped one); "
              f"last status: {pruner.adaptation.status}")
        for first, sw in pruner.switches:
            print(f"  from trial {first}: {sw.reason}")
    print("| clock | pruner | p50 ms | p99 ms | mean ms |")
    print("|---|---|---:|---:|---:|")
    for k, clock in enumerate(("wall", "CPU")):
        a = np.array([t[k] for t in t_plain]) / 1e6
        b = np.array([t[k] for t in t_live]) / 1e6
        d = b - a if same else np.array([np.nan])
        for label, x in (("plain Optuna pruner", a), ("StorePruner", b), ("added (paired per call)", d)):
            print(f"| {clock} | {label} | {np.percentile(x, 50):.3f} | {np.percentile(x, 99):.3f} | {x.mean():.3f} |")
        print(f"| {clock} | p99(StorePruner) - p99(plain) | | {np.percentile(b, 99) - np.percentile(a, 99):.3f} | |")
    if same:
        tail_report(np.array(t_plain, dtype=float), np.array(t_live, dtype=float), args.slowest)


def tail_report(plain: np.ndarray, live: np.ndarray, slowest: int) -> None:
    """Where the calls with over 1 ms of added wall time lost it: preempted, waiting, or computing."""
    added_wall, added_cpu = (live[:, 0] - plain[:, 0]) / 1e6, (live[:, 1] - plain[:, 1]) / 1e6
    slow = np.flatnonzero(added_wall > 1.0)
    preempted = live[slow, 3] > 0
    waited = (live[slow, 2] > 0) & ~preempted
    computing = added_cpu[slow] > 1.0
    print(f"calls with added wall > 1 ms: {len(slow)} of {len(live)}; StorePruner call preempted (involuntary "
          f"switch) in {int(preempted.sum())}, waited (voluntary switch only) in {int(waited.sum())}, "
          f"added CPU > 1 ms in {int(computing.sum())}; the plain call preempted in "
          f"{int((plain[:, 3] > 0).sum())} of all {len(plain)}, StorePruner in {int((live[:, 3] > 0).sum())}")
    calm = (plain[:, 3] == 0) & (live[:, 3] == 0)   # neither call preempted
    if calm.any():
        d = added_cpu[calm]
        print(f"calls where neither was preempted: {int(calm.sum())}; their added CPU p50 / p99 "
              f"{np.percentile(d, 50):.3f} / {np.percentile(d, 99):.3f} ms, added wall p50 / p99 "
              f"{np.percentile(added_wall[calm], 50):.3f} / {np.percentile(added_wall[calm], 99):.3f} ms")
    if not slowest:
        return
    print("| call | trial | step | added wall ms | added CPU ms | plain wall / CPU ms (vol, invol) | "
          "StorePruner wall / CPU ms (vol, invol) |")
    print("|---:|---:|---:|---:|---:|---|---|")
    for i in np.argsort(-added_wall)[:slowest]:
        p, q = plain[i], live[i]
        print(f"| {i} | {int(q[4])} | {int(q[5])} | {added_wall[i]:.3f} | {added_cpu[i]:.3f} | "
              f"{p[0] / 1e6:.3f} / {p[1] / 1e6:.3f} ({int(p[2])}, {int(p[3])}) | "
              f"{q[0] / 1e6:.3f} / {q[1] / 1e6:.3f} ({int(q[2])}, {int(q[3])}) |")

if __name__ == "__main__":
    main()
