"""Memory and budgets live (StorePruner) and in replay: the same decisions, the same stop, memory end to end."""

from __future__ import annotations

import csv

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from policy_store.reports import build_report  # noqa: E402

from policy_store import PolicyStore  # noqa: E402
from policy_store.curves import StudyCurves, load_study_curves  # noqa: E402
from policy_store.integrations import StorePruner  # noqa: E402
from policy_store.replay.engine import replay_study  # noqa: E402
from policy_store.replay.evaluate import evaluate  # noqa: E402
from policy_store.rules import RuleSpec, add_rule_version  # noqa: E402
from policy_store.trial_resources import MEMORY_ATTR, peak_rss_mb, step_value  # noqa: E402

N, J = 24, 9


def _study_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    final = rng.uniform(0.3, 1.0, (N, 1))
    k = np.arange(J)[None, :]
    values = final + (1.6 - final) * np.exp(-rng.uniform(0.1, 0.8, (N, 1)) * k) + rng.normal(0, 0.02, (N, J))
    cost = rng.uniform(0.5, 1.5, (N, J)).round(3)
    memory = (rng.uniform(100, 300, (N, 1)) + 15 * k).round(1)   # each trial grows from its own base
    return values, cost, memory


def _objective(values, cost, memory, *, give_memory: bool = True):
    def objective(trial):
        i = trial.number
        costs = {}
        for j in range(J):
            costs[str(j)] = float(cost[i, j])
            trial.set_user_attr("step_costs", dict(costs))
            if give_memory:
                trial.set_user_attr("peak_memory_mb", float(memory[i, j]))
            trial.report(float(values[i, j]), j)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(values[i, -1])
    return objective


def _live(tmp_path, spec, values, cost, memory, **kw):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    path = str(tmp_path / "store.duckdb")
    with PolicyStore(path) as store:
        add_rule_version(store, "budgeted", spec, created_by="test")
    pruner = StorePruner(path, task="t", rule="budgeted", spool_dir=tmp_path / "spool")
    study = optuna.create_study(study_name="s", pruner=pruner, sampler=optuna.samplers.RandomSampler(0))
    study.optimize(_objective(values, cost, memory, **kw), n_trials=N)
    return path, study, pruner, pruner.finish(study)


def _memory(trial) -> list[float]:
    """The memory the pruner recorded at each of the trial's steps, in step order."""
    return [step_value(trial.user_attrs, MEMORY_ATTR, s) for s in sorted(trial.intermediate_values)]


def _final_decisions(store) -> list[tuple[int, int, str, str]]:
    rows = store.fetch_dicts("SELECT trial_number, step, verdict, reason FROM decisions WHERE study = 's' "
                             "AND mode = 'live' ORDER BY trial_number, step")
    last = {r["trial_number"]: r for r in rows}
    return [(n, r["step"], r["verdict"], r["reason"]) for n, r in sorted(last.items())]


SPECS = {
    "median": {"strategy": "median", "params": {"n_startup_trials": 3}},
    "sh": {"strategy": "successive_halving", "params": {"min_resource": 1, "reduction_factor": 3}},
    "percentile-audited": {"strategy": "percentile", "params": {"percentile": 40.0, "n_startup_trials": 2},
                           "safeguards": {"audit_fraction": 0.3, "audit_seed": 1}},
    "patient": {"strategy": "patient", "params": {"patience": 1, "wrapped": {"strategy": "median"}}},
}


MEMORY_AND_STUDY = {"trial_memory_mb": 310.0, "study_budget_seconds": 75.0}
CASES = [*((name, MEMORY_AND_STUDY) for name in sorted(SPECS)),
         ("median", {"trial_max_steps": 7, "trial_max_seconds": 6.0, "study_budget_seconds": 75.0}),
         ("sh", {"trial_max_seconds": 7.5, "trial_memory_mb": 300.0})]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize(("name", "budget"), CASES)
def test_budgets_decide_the_same_live_and_in_replay(tmp_path, name, budget):
    values, cost, memory = _study_data()
    spec = {**SPECS[name], "safeguards": {**SPECS[name].get("safeguards", {}), **budget}}
    path, study, pruner, live = _live(tmp_path, spec, values, cost, memory)

    replay = replay_study(StudyCurves.from_arrays("s", values, cost=cost, memory=memory),
                          [RuleSpec.parse(spec)])[0]
    expected = replay.decisions()
    stops = "study_budget_seconds" in budget
    assert (replay.n_started is not None and replay.n_started < N) == stops, "the study budget stops this study"
    assert len(study.trials) == (replay.n_started or N)
    assert live["budget_stopped_at"] == replay.n_started
    with PolicyStore(path, read_only=True) as store:
        got = _final_decisions(store)
        stop = [r[0] for r in store.execute("SELECT reason FROM decisions WHERE study = 's' "
                                            "AND contains(reason, 'study_budget_seconds')").fetchall()]
    assert [(n, s, v) for n, s, v, _ in got] == list(zip(expected["trial_number"], expected["step"],
                                                        expected["verdict"], strict=True))
    capped = [(n, r) for n, _, _, r in got if r.startswith("budget: trial_")]
    assert {r.split()[1] for _, r in capped} == set(budget) - {"study_budget_seconds"}, "every cap decides"
    assert capped == [(n, r.split("; budget: study")[0]) for n, r in
                      zip(expected["trial_number"], expected["reason"], strict=True) if r.startswith("budget: trial_")]
    # the audit trail names the budget that stopped the study, at the same trial, in the same words
    assert len(stop) == stops
    if stops:
        assert stop[0].endswith(expected["reason"].iloc[-1].split("; ", 1)[1])
    assert live["trials_capped"] == len(capped) == int((replay.capped & replay.started).sum())


def test_memory_goes_from_the_live_pruner_to_the_report(tmp_path):
    values, cost, memory = _study_data(seed=3)
    spec = {"strategy": "median", "params": {"n_startup_trials": 3}}
    path, study, _, live = _live(tmp_path, spec, values, cost, memory)
    ran = {t.number: max(_memory(t)) for t in study.trials}
    assert len(set(ran.values())) == N, "trials differ in memory"
    assert live["peak_memory_mb"] == max(ran.values())
    with PolicyStore(path) as store:
        c = load_study_curves(store, "s")
        assert {int(n): float(np.nanmax(row)) for n, row in zip(c.trial_numbers, c.memory, strict=True)} == ran
        capped = add_rule_version(store, "capped", {**spec, "safeguards": {"trial_memory_mb": 250.0}},
                                  created_by="test")
        evaluate(store, ["budgeted", capped], orders=1)
        peaks = dict(store.execute(
            "SELECT o.rule, r.peak_memory_mb FROM outcomes o JOIN outcome_resources r USING (outcome_id) "
            "WHERE o.mode = 'replay'").fetchall())
        assert peaks["budgeted"] == max(ran.values()) and peaks["capped"] <= 250.0 + 15 * J
        html = build_report(store, tmp_path / "report")
    with (html.parent / "resources_summary.csv").open() as f:
        by_rule = {r["rule_version"]: r for r in csv.DictReader(f)}
    assert float(by_rule["budgeted@1"]["peak_memory_mb"]) == max(ran.values())  # live and replay alike
    assert float(by_rule["capped@1"]["peak_memory_mb"]) == peaks["capped"] < max(ran.values())
    assert int(by_rule["capped@1"]["budget_stops"]) == 0 and float(by_rule["capped@1"]["trials_capped"]) > 0
    assert "Cost and memory" in html.read_text() and "peak memory (MB)" in html.read_text()


def test_without_memory_from_the_objective_the_pruner_records_peak_rss(tmp_path):
    values, cost, memory = _study_data()
    floor = peak_rss_mb()
    _, study, _, live = _live(tmp_path, {"strategy": "median"}, values, cost, memory, give_memory=False)
    recorded = [mb for t in study.trials for mb in _memory(t)]
    assert min(recorded) >= floor and max(recorded) <= peak_rss_mb()
    assert recorded == sorted(recorded)  # a process's high-water mark never goes down
    assert live["peak_memory_mb"] == max(recorded)
