"""A store with something on every dashboard page (real replays, a real cold-start recommendation, a drift
event, a job and a rejected version), a hostile task name, and a running ``serve`` process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from policy_store.drift.events import DriftEvent, record_event
from policy_store.drift.jobs import finish_job, start_job

from policy_store import PolicyStore
from policy_store.ingest import ingest_frame
from policy_store.replay import evaluate
from policy_store.rules import add_rule_version
from policy_store.store import utcnow

EVIL = "<script>alert(1)</script>"
CLI = Path(sys.executable).with_name("policy-store")


def _frame() -> pd.DataFrame:
    """Two tasks x 3 studies x 10 trials x 8 steps of minimised loss, each trial with two params."""
    rng = np.random.default_rng(3)
    rows = []
    for task in ("tabular/a", EVIL):
        for s in range(3):
            for t in range(10):
                lr, depth = float(rng.uniform(0.001, 0.3)), int(rng.integers(2, 9))
                floor, speed = rng.uniform(0.1, 0.6) + 0.4 * lr, rng.uniform(0.2, 1.0)
                for k in range(8):
                    rows.append({"task": task, "study": f"{task}|study-{s}", "trial": f"trial-{t}", "step": k,
                                 "value": floor + np.exp(-speed * (k + 1)), "cost_seconds": 1.0,
                                 "params": json.dumps({"lr": lr, "depth": depth}), "direction": "minimize"})
    return pd.DataFrame(rows)


def fill(store: PolicyStore) -> None:
    from policy_store.meta import recommend

    ingest_frame(store, _frame())
    add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 2}}, created_by="alice",
                     reason="Optuna default")
    add_rule_version(store, "pct", {"strategy": "percentile", "params": {"percentile": 30.0}}, created_by="carol",
                     reason=f"aggressive {EVIL}")
    evaluate(store, ["median@1", "pct@1"], orders=2, record_decisions=True)
    recommend(store, meta_features={"NumberOfInstances": 500.0, "NumberOfFeatures": 12.0}, task="tabular/a")
    job = start_job(store, "recalibration", trigger="cron")
    now = utcnow()
    event = DriftEvent.create(monitor="page-hinkley:regret", rule="pct", version=1, scope="all", statistic=0.2,
                              threshold=0.1, window_start=now - timedelta(hours=1), window_end=now, at_outcome="o",
                              detected_at=now, job_id=job.job_id)
    record_event(store, event)
    add_rule_version(store, "pct", {"strategy": "percentile", "params": {"percentile": 40.0}},
                     created_by=f"recalibration {job.job_id}", source="recalibration", reason="regret drifted",
                     parent=1, drift_event_id=event.event_id, job_id=job.job_id, status="rejected")
    finish_job(store, job, "succeeded", watermark=None, result={"rules": ["pct"]})


@pytest.fixture(scope="package")
def dash_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dashboard-store") / "store.duckdb"
    with PolicyStore(path) as store:
        fill(store)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    """Status, body and headers (names lower-case) of a GET (errors included)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


class Server:
    """``policy-store serve`` in its own process."""

    def __init__(self, store: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(CLI), "--store", str(store), "serve", "--port", str(self.port), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.proc.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("serve did not start listening within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="package")
def server(dash_store):
    s = Server(dash_store)
    yield s
    s.stop()
