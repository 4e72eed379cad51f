"""One "host" of the lake soak: mixed writes in a loop, each acknowledged once it has committed.

    python soak_worker.py LOCATION HOST ACKS SPOOL_DIR STOP SEED READY

Operations (picked at random): ``ingest`` a new study, ``rule`` (add a version of this host's rule), ``evaluate``
that rule on one of this host's studies, ``live`` (a small Optuna study pruned by ``StorePruner``, then ``finish``:
curves, decisions and live outcome in one transaction), ``absorb`` the host's spool (what killed ``live`` runs left).
After an operation returns, one JSON line goes to ACKS (``os.write`` then ``fsync``): what a client was told is
committed. READY is created once the store is open (the driver kills only workers that got that far). A SIGKILL
can land anywhere; an ack can only follow its commit. Errors a client would see (a typed
``PolicyStoreError``) are acknowledged as failures; anything else ends the worker with its traceback.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

TASKS = ("soak-a", "soak-b")


def _ack(fd: int, record: dict) -> None:
    os.write(fd, (json.dumps(record) + "\n").encode())
    os.fsync(fd)


def _known(path: str, host: str) -> list[str]:
    """Studies this host was told are committed (by earlier incarnations too)."""
    studies = []
    for line in Path(path).read_text().splitlines() if Path(path).exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line a kill tore
        if record.get("op") in ("ingest", "live") and record.get("ok"):
            studies.append(record["study"])
    return studies


def main(location: str, host: str, acks: str, spool_dir: str, stop: str, seed: int, ready: str) -> None:
    from policy_store import PolicyStore, PolicyStoreError
    from policy_store.ingest import ingest_frame
    from policy_store.integrations import StorePruner, absorb_spool
    from policy_store.replay import evaluate
    from policy_store.rules import add_rule_version
    from tests.conftest import make_frame

    rng = random.Random(seed)
    fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    studies = _known(acks, host)
    rule = f"soak-{host}"
    n = 0
    with PolicyStore(location) as store:
        Path(ready).touch()
        while not Path(stop).exists():
            n += 1
            name = f"{host}-{seed}-{n}"
            op = rng.choice(("ingest", "ingest", "rule", "evaluate", "live", "absorb"))
            record: dict = {"op": op, "ok": True}
            try:
                if op == "ingest":
                    frame = make_frame(n_studies=1, n_trials=4, n_steps=5, task=rng.choice(TASKS), seed=n)
                    report = ingest_frame(store, frame.assign(study=name))
                    record.update(study=name, points=report.points_written)
                    studies.append(name)
                elif op == "rule":
                    spec = {"strategy": "median", "params": {"n_startup_trials": rng.randint(1, 5)}}
                    v = add_rule_version(store, rule, spec, created_by=f"soak {host}", reason="soak")
                    record.update(rule=rule, version=v.version, spec_hash=v.spec_hash)
                elif op == "evaluate" and studies and store.scalar(
                        "SELECT count(*) FROM rule_versions WHERE rule = ?", [rule]):
                    study = rng.choice(studies)
                    result = evaluate(store, rule, studies=[study], orders=1)
                    record.update(rule=rule, study=study, inserted=result.inserted)
                elif op == "live":
                    import optuna

                    optuna.logging.set_verbosity(optuna.logging.ERROR)
                    pruner = StorePruner(location, task=TASKS[0], rule="soak-base@1", spool_dir=spool_dir)
                    live = optuna.create_study(study_name=f"live-{name}", pruner=pruner,
                                               sampler=optuna.samplers.RandomSampler(seed))

                    def objective(trial: optuna.Trial) -> float:
                        x = trial.suggest_float("x", 0.2, 1.0)
                        for step in range(4):
                            trial.report(x / (step + 1), step)
                            if trial.should_prune():
                                raise optuna.TrialPruned()
                        return x / 4

                    live.optimize(objective, n_trials=6)
                    outcome = pruner.finish(live)
                    record.update(study=f"live-{name}", calls=pruner.calls, absorbed=outcome["decisions_absorbed"])
                    studies.append(f"live-{name}")
                elif op == "absorb":
                    report = absorb_spool(store, spool_dir)
                    record.update(inserted=report.inserted, torn=report.torn, bad=report.bad)
                else:
                    continue
            except PolicyStoreError as e:
                record = {"op": op, "ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
            _ack(fd, record)
    os.close(fd)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3], a[4], int(a[5]), a[6])
