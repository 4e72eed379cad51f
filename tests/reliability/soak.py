"""The lake soak shared by ``tests/reliability/test_load_soak.py`` and ``benchmarks/reliability_load.py``.

``run_soak`` keeps N writer processes (``soak_worker.py``, one per "host") busy on one DuckLake, SIGKILLs one at
random every few seconds (one that has opened the store: starting takes seconds on a busy machine) and starts
a new incarnation in its place. The clock runs from the moment every host is first up. At the end every
acknowledged write must be in the lake (nothing committed is lost): each ingested study with its points, each
rule version with its spec hash, each evaluated (rule, study) with an outcome, each live study with exactly its
``should_prune`` count of decisions and its live outcome.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from policy_store import PolicyStore
from policy_store.integrations import absorb_spool
from policy_store.rules import add_rule_version

WORKER = Path(__file__).with_name("soak_worker.py")
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}


@dataclass
class SoakResult:
    """What one soak measured."""

    hosts: int
    seconds: float
    commits: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    lost: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    failure_messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _acks(path: Path) -> list[dict]:
    records = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # torn by a kill mid-write: never acknowledged
    return records


def _missing(store: PolicyStore, ack: dict) -> str | None:
    """Why an acknowledged write is not (all) in the store, or None when it is."""
    op = ack["op"]
    if op == "ingest":
        points = store.scalar("SELECT n_points FROM studies WHERE study = ?", [ack["study"]])
        stored = store.scalar("SELECT count(*) FROM curve_points WHERE study = ?", [ack["study"]])
        ok = points == ack["points"] == stored
    elif op == "rule":
        ok = store.scalar("SELECT count(*) FROM rule_versions WHERE rule = ? AND version = ? AND spec_hash = ?",
                          [ack["rule"], ack["version"], ack["spec_hash"]]) == 1
    elif op == "evaluate":
        ok = store.scalar("SELECT count(*) FROM outcomes WHERE rule = ? AND study = ? AND mode = 'replay'",
                          [ack["rule"], ack["study"]]) > 0
    elif op == "live":
        decisions = store.scalar("SELECT count(*) FROM decisions WHERE study = ? AND mode = 'live'", [ack["study"]])
        outcome = store.scalar("SELECT count(*) FROM outcomes WHERE study = ? AND mode = 'live'", [ack["study"]])
        ok = decisions == ack["calls"] and outcome == 1
    else:
        return None
    return None if ok else f"{op}: {ack}"


def run_soak(location: str, work: Path, *, hosts: int, seconds: float, kill_every: tuple[float, float] = (1.0, 4.0),
             seed: int = 0) -> SoakResult:
    """Run the soak (see the module docstring) on a migrated lake; ``work`` holds acks and spools."""
    work.mkdir(parents=True, exist_ok=True)
    with PolicyStore(location) as store:
        add_rule_version(store, "soak-base", {"strategy": "median", "params": {"n_startup_trials": 2}},
                         created_by="tests/reliability/soak.py")
    rng = random.Random(seed)
    stop = work / "stop"
    result = SoakResult(hosts, seconds)
    incarnation = iter(range(1, 1 << 30))
    ready: dict[int, Path] = {}

    def start(h: int) -> subprocess.Popen:
        spool = work / f"spool-{h}"
        n = next(incarnation)
        ready[h] = work / f"ready-{n}"
        args = [sys.executable, str(WORKER), location, f"h{h}", str(work / f"acks-{h}.jsonl"), str(spool), str(stop),
                str(n), str(ready[h])]
        return subprocess.Popen(args, env=ENV, stderr=open(work / f"stderr-{h}.log", "ab"))  # noqa: SIM115

    procs = {h: start(h) for h in range(hosts)}
    while not all(r.exists() for r in ready.values()):
        failed = [h for h, p in procs.items() if p.poll() is not None]
        assert not failed, f"soak worker {failed[0]} failed to start: {(work / f'stderr-{failed[0]}.log').read_text()}"
        time.sleep(0.1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(rng.uniform(*kill_every), max(deadline - time.monotonic(), 0)))
        for h, p in procs.items():  # a worker that ended by itself crashed: it only ends when told to
            if p.poll() is not None:
                result.crashed.append(f"host {h} exit {p.returncode}")
                procs[h] = start(h)
        up = [h for h in range(hosts) if ready[h].exists()]
        if time.monotonic() >= deadline or not up:
            continue
        victim = rng.choice(up)
        os.kill(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait()
        result.kills += 1
        procs[victim] = start(victim)
    stop.touch()
    for h, p in procs.items():
        if p.wait(timeout=300) != 0:
            result.crashed.append(f"host {h} exit {p.returncode}")
    with PolicyStore(location) as store:
        for h in range(hosts):  # what killed live studies left in the spools lands now, torn lines skipped
            absorb_spool(store, work / f"spool-{h}")
        for h in range(hosts):
            for ack in _acks(work / f"acks-{h}.jsonl"):
                counts = result.commits if ack["ok"] else result.failures
                counts[ack["op"]] = counts.get(ack["op"], 0) + 1
                if not ack["ok"]:
                    result.failure_messages.append(ack["error"])
                elif (why := _missing(store, ack)) is not None:
                    result.lost.append(why)
    for h in range(hosts):
        text = (work / f"stderr-{h}.log").read_text(errors="replace")
        if "Traceback" in text:
            result.crashed.append(f"host {h}: {text[text.index('Traceback'):][:1500]}")
    return result
