"""One reading of a memory value and one peak RSS, wherever memory is recorded: the pruner, Ray, the corpus."""

from __future__ import annotations

import math
import sys

import pytest
from policy_store.datasets import hpo_families

from policy_store.trial_resources import number_or_nan, peak_rss_mb


def test_without_proc_the_corpus_reads_peak_rss_in_the_platforms_unit(monkeypatch):
    def no_proc(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(hpo_families, "open", no_proc, raising=False)
    linux = hpo_families.resident_mb()
    assert linux == peak_rss_mb() > 0
    monkeypatch.setattr(sys, "platform", "darwin")   # ru_maxrss is in bytes there, not KB
    assert hpo_families.resident_mb() == peak_rss_mb() == linux / 1024


@pytest.mark.parametrize(("given", "read"), [(512, 512.0), (300.5, 300.5), (True, math.nan), (False, math.nan),
                                             ("300", math.nan), (None, math.nan)])
def test_ray_results_memory_is_read_as_everywhere_else(store, tmp_path, given, read):
    pytest.importorskip("ray.tune", reason="ray[tune] cannot be imported (pip install 'policy-store[ray]')")
    from ray.tune.experiment import Trial

    from policy_store.integrations.ray import StoreScheduler
    from policy_store.rules import add_rule_version

    add_rule_version(store, "median", {"strategy": "median"}, created_by="test")
    scheduler = StoreScheduler(store, task="t", rule="median", metric="loss", mode="min", study="s",
                               spool_dir=tmp_path / "spool")
    trial = Trial("objective", config={}, stub=True, trial_id="t_00000")
    scheduler.on_trial_result(None, trial, {"loss": 1.0, "training_iteration": 1, "peak_memory_mb": given})
    recorded = scheduler.curves_frame()["peak_memory_mb"].iloc[0]
    assert recorded == read or (math.isnan(read) and math.isnan(recorded))
    assert recorded == number_or_nan(given) or math.isnan(recorded)
