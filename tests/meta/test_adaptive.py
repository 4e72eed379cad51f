"""Within-study adaptation offline: the selector, adaptive_replay on real bundled curves, `recommend --curves`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from policy_store.datasets import ingest_bundled
from policy_store.meta.adaptation.advice import advise
from policy_store.meta.adaptation.evidence import EndedTrials, beat_probability, continue_pruned, study_context
from policy_store.meta.adaptation.replay import adaptive_replay
from policy_store.meta.adaptation.selector import AdaptiveSelector, Prior, score_candidates
from policy_store.meta.forecast import LastValueForecaster
from policy_store.meta.learner.grid import candidate_grid, find_candidate
from policy_store.meta.learner.store_records import fit_from_store

from policy_store import PolicyStore
from policy_store.cli.main import main
from policy_store.curves import StudyCurves, load_curves
from policy_store.errors import InvalidInputError
from policy_store.replay import replay_study

NAMES = ("median-w0-s2", "percentile-90-w6-s5", "sha-eta2-min1", "hyperband-default")


@pytest.fixture(scope="module")
def study():
    with PolicyStore.memory() as store:
        ingest_bundled(store)
        return load_curves(store, tasks=["sklearn/iris/gb/accuracy"])[0]


def _prior(favour: str, *, sd: float = 0.2, others: float = 0.3) -> Prior:
    """A prior over a few grid candidates that believes ``favour`` saves 0.6 at no regret."""
    grid = [find_candidate(candidate_grid(), n) for n in NAMES]
    saved = np.array([0.6 if c.name == favour else others for c in grid])
    return Prior(tuple(c.name for c in grid), tuple(c.spec(None, "maximize") for c in grid), saved,
                 np.zeros(len(grid)), np.full(len(grid), sd), np.full(len(grid), 0.001))


def _ranked(study) -> list[str]:
    """NAMES from the best to the worst utility on the whole study (the truth the prior may contradict)."""
    specs = [c.spec(None, "maximize") for c in (find_candidate(candidate_grid(), n) for n in NAMES)]
    return [NAMES[i] for i in np.argsort(-score_candidates(study, specs, n_boot=8)["mean"])]


def test_a_wrong_prior_is_overturned_and_the_history_before_the_switch_is_the_start_rules(study):
    worst = _ranked(study)[-1]
    prior = _prior(worst)
    out = adaptive_replay(study, 0, prior, min_trials=6)
    assert out.start == worst and out.switches
    sw = out.switches[0]
    assert sw.from_name == out.start and sw.to_name != out.start and sw.n_completed >= 6
    assert sw.reason.startswith(f"adaptive switch {out.start} -> {sw.to_name} ({sw.direction}: ")
    assert f"after {sw.basis['ended']} ended trials ({sw.n_completed} completed, {sw.basis['pruned']} pruned" \
        in sw.reason
    first = int(np.argmax(out.rule_of != out.rule_of[0]))
    # the trials before the switch ran exactly as the start rule alone would have run them
    plain = replay_study(study, [prior.specs[NAMES.index(worst)]], [0])[0]
    plain_step = np.where(plain.pruned, study.steps[np.maximum(plain.prune_col, 0)], -1)
    assert out.prune_step[:first].tolist() == plain_step[:first].tolist()
    # the switch came right after a trial ended, on every trial ended so far: completed and pruned ones
    assert first == sw.basis["ended"] and int((out.prune_step[:first] == -1).sum()) == sw.n_completed
    assert int((out.prune_step[:first] >= 0).sum()) == sw.basis["pruned"]
    # the adaptive study saved more than staying with the wrong rule, at the regret the evidence accepted
    static = adaptive_replay(study, 0, prior, min_trials=study.n_trials + 1)
    assert static.switches == [] and out.compute_saved > static.compute_saved
    assert out.n_trials == study.n_trials and out.regret >= 0


def test_deterministic_for_a_seed(study):
    a = adaptive_replay(study, 3, _prior("hyperband-default"), min_trials=6, seed=7)
    b = adaptive_replay(study, 3, _prior("hyperband-default"), min_trials=6, seed=7)
    assert a.to_dict() == b.to_dict() and a.prune_step.tolist() == b.prune_step.tolist()
    assert a.rule_of.tolist() == b.rule_of.tolist()


def test_a_confident_right_prior_is_kept(study):
    best = _ranked(study)[0]
    out = adaptive_replay(study, 0, _prior(best, sd=0.01, others=0.0), min_trials=6)
    assert out.start == best and out.switches == [] and set(out.rule_of.tolist()) == {NAMES.index(best)}


def test_rung_rules_see_the_pruned_history(study):
    """A switch into successive halving: its decisions still follow from the trials' real history."""
    out = adaptive_replay(study, 1, _prior(_ranked(study)[-1], others=0.0), min_trials=6, margin=0.0)
    assert out.switches and 0.0 <= out.compute_saved <= 1.0
    assert out.trials_pruned == int((out.prune_step >= 0).sum())


def test_bad_settings_are_typed_errors(study):
    p = _prior("median-w0-s2")
    with pytest.raises(InvalidInputError, match="saved"):
        Prior(p.names, p.specs, p.saved[:2], p.regret, p.saved_sd, p.regret_sd)
    with pytest.raises(InvalidInputError, match="start"):
        Prior(p.names, p.specs, p.saved, p.regret, p.saved_sd, p.regret_sd, start=9)
    with pytest.raises(InvalidInputError, match="min_trials"):
        AdaptiveSelector(p, min_trials=1)
    with pytest.raises(InvalidInputError, match="margin"):
        AdaptiveSelector(p, margin=-1.0)


def test_recommend_curves_says_which_rule_the_evidence_favours(tmp_path, capsys, study):
    location = str(tmp_path / "store.duckdb")
    with PolicyStore(location) as store:
        ingest_bundled(store)
        fit_from_store(store, orders=1, n_estimators=5, directory=tmp_path / "artifacts")
        advice = advise(store, study)
    assert not advice.cold_start and advice.n_trials == study.n_trials and len(advice.table) == 5
    assert advice.table[0]["candidate"] == advice.favoured
    if advice.switch is not None:
        assert advice.switch.to_name == advice.favoured != advice.start
    else:
        assert advice.favoured == advice.start or "within" in advice.note
    rows = [{"trial": t, "step": int(s), "value": float(v)} for i, t in enumerate(study.trials)
            for s, v in zip(study.steps, study.values[i], strict=True)]
    path = tmp_path / "first.csv"
    path.write_text("trial,step,value\n" + "".join(f"{r['trial']},{r['step']},{r['value']}\n" for r in rows))
    capsys.readouterr()
    assert main(["--store", location, "recommend", "--curves", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["adaptive"]["start"] == advice.start and out["adaptive"]["n_trials"] == study.n_trials
    assert main(["--store", location, "recommend", "--curves", str(path)]) == 0
    text = capsys.readouterr().out
    assert "within-study evidence" in text and advice.start in text


def test_a_candidate_for_the_other_direction_is_never_chosen():
    rng = np.random.default_rng(1)
    finals = rng.uniform(0.1, 1.0, 40)
    loss = StudyCurves.from_arrays("loss", finals[:, None] + np.exp(-0.5 * np.arange(10))[None, :]
                                   + rng.normal(0, 0.01, (40, 10)), direction="minimize")
    grid = [find_candidate(candidate_grid(), n) for n in ("median-w0-s2", "posterior-a0.2-w0", "median-w6-s5")]
    specs = (grid[0].spec(), grid[1].spec({"prior_mean": 0.05}, "maximize"), grid[2].spec())
    prior = Prior(tuple(g.name for g in grid), specs, np.array([0.1, 0.9, 0.3]), np.zeros(3), np.full(3, 0.3),
                  np.zeros(3), start=2)
    out = adaptive_replay(loss, 0, prior, min_trials=4, margin=0.0)
    assert 1 not in out.rule_of.tolist() and all(s.to_name != "posterior-a0.2-w0" for s in out.switches)
    assert np.isneginf(AdaptiveSelector(prior).rescore(loss).post_mean[1])


def test_a_minimised_metric_is_scored_in_its_own_scale_whatever_its_units(study):
    """The prior is learned in relative regret; a loss in other units (x1000) must weigh the same evidence."""
    loss = StudyCurves(study.study, study.task, "minimize", study.trials, study.trial_numbers, study.steps,
                       1.0 - study.values, study.present, study.cost)
    grid = [find_candidate(candidate_grid(), n) for n in NAMES]
    prior = Prior(tuple(c.name for c in grid), tuple(c.spec(None, "minimize") for c in grid), np.full(len(grid), 0.3),
                  np.zeros(len(grid)), np.full(len(grid), 0.2), np.full(len(grid), 0.001))
    runs = []
    for factor in (1.0, 1000.0):
        curves = StudyCurves(loss.study, loss.task, "minimize", loss.trials, loss.trial_numbers, loss.steps,
                             loss.values * factor, loss.present, loss.cost)
        sel = AdaptiveSelector(prior, min_trials=6, seed=3)
        ev = sel.rescore(curves)
        runs.append((ev.regret_unit, ev.data_mean, ev.regret))
    (unit_1, mean_1, regret_1), (unit_k, mean_k, regret_k) = runs
    assert unit_k == pytest.approx(1000 * unit_1) and unit_1 < 1.0  # the median final loss, not 1
    np.testing.assert_allclose(mean_k, mean_1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(regret_k, regret_1, rtol=1e-9, atol=1e-12)
    assert np.nanmax(regret_1) > 0  # some candidate does lose the best trial here: the units matter


def test_a_switch_never_revives_a_pruned_trial(study):
    """Every trial pruned before a switch stays pruned at the step it was cut at; the outcome counts it cut."""
    prior = _prior(_ranked(study)[-1])
    out = adaptive_replay(study, 0, prior, min_trials=4)
    assert out.switches, "no switch: the test would check nothing"
    plain = replay_study(study, [prior.specs[out.rule_of[0]]], [0])[0]
    plain_step = np.where(plain.pruned, study.steps[np.maximum(plain.prune_col, 0)], -1)
    first = out.switches[0].basis["ended"]
    assert out.prune_step[:first].tolist() == plain_step[:first].tolist()
    for sw in out.switches:
        # the trials the evidence saw pruned at the switch are pruned in the study's final record, no more, no less
        assert int((out.prune_step[:sw.basis["ended"]] >= 0).sum()) == sw.basis["pruned"]
        assert set(out.rule_of[sw.basis["ended"]:].tolist()) != {sw.from_index} or sw is not out.switches[-1]
    assert out.trials_pruned == int((out.prune_step >= 0).sum())


def _shadowed(study, better: float) -> EndedTrials:
    """The study's first 12 trials: 4 pruned at step 3, 3 audited ones shadow-pruned there that end ``better``."""
    n = 12
    values, present = study.values[:n].copy(), study.present[:n].copy()
    pruned = np.zeros(n, dtype=bool)
    pruned[[1, 4, 7, 10]] = True
    present[pruned, 4:] = False
    values[~present] = np.nan
    shadow = np.full(n, -1)
    shadow[[2, 5, 8]] = 3
    values[[2, 5, 8], -1] = np.nanmax(study.final_values) + better
    c = StudyCurves(study.study, study.task, study.direction, study.trials[:n], study.trial_numbers[:n], study.steps,
                    values, present, study.cost[:n])
    return EndedTrials.build(c, pruned, shadow)


def test_the_audit_trials_shift_the_forecasts_of_the_pruned_ones(study):
    plain = continue_pruned(_shadowed(study, 0.0), LastValueForecaster())
    lucky = continue_pruned(_shadowed(study, 0.3), LastValueForecaster())
    assert lucky.ended.n_checks == 3 and lucky.shift > plain.shift and lucky.shift > 0
    rows = np.flatnonzero(lucky.ended.pruned)
    assert np.all(lucky.quantiles[rows, 1] > plain.quantiles[rows, 1])
    # no audit check: no shift
    assert continue_pruned(EndedTrials.build(lucky.ended.curves, lucky.ended.pruned), LastValueForecaster()).shift == 0
    # and the re-scoring feels it: the rule that cut those trials loses more regret when the checks say they win
    specs = [find_candidate(candidate_grid(), "median-w0-s2").spec(None, "maximize")]
    sel_plain, sel_lucky = (AdaptiveSelector(_prior("median-w0-s2"), seed=1) for _ in range(2))
    r_plain = sel_plain.rescore(_shadowed(study, 0.0)).regret[0]
    r_lucky = sel_lucky.rescore(_shadowed(study, 0.3)).regret[0]
    assert sel_lucky.evidence[-1].basis["audit_checks"] == 3 and r_lucky > r_plain
    assert specs


def test_no_evidence_yet_is_said_and_why(study):
    sel = AdaptiveSelector(_prior("median-w0-s2"), min_trials=4)
    assert sel.status.startswith("no evidence yet")
    c = StudyCurves.from_arrays("s", study.values[:3, :5], steps=study.steps[:5], direction="maximize")
    all_pruned = EndedTrials.build(c, [True, True, True])
    assert sel.observe(all_pruned) is None and sel.evidence == []
    assert sel.status.startswith("no evidence yet: 3 ended trials") and "re-scoring needs 4" in sel.status
    four = EndedTrials.build(StudyCurves.from_arrays("s", study.values[:4, :5], steps=study.steps[:5],
                                                     direction="maximize"), [True] * 4)
    assert sel.observe(four) is None and sel.evidence == [] and "none ran to the end" in sel.status


def _cut_study(crossing: bool) -> EndedTrials:
    """10 trials that ran 8 steps and one cut at step 2 with the worst value there; finals ordered like the
    values at step 2 (``crossing=False``) or in an order unrelated to them (the curves cross)."""
    rng = np.random.default_rng(0)
    early = np.linspace(0.30, 0.60, 10)
    finals = (early if not crossing else early[[3, 9, 0, 6, 2, 8, 5, 1, 7, 4]]) + 0.3
    ramp = np.clip((np.arange(8) - 2) / 5, 0, 1)
    values = early[:, None] + ramp[None, :] * (finals - early)[:, None] + rng.normal(0, 1e-3, (10, 8))
    cut = np.full((1, 8), np.nan)
    cut[0, :3] = [0.2, 0.24, 0.28]
    c = StudyCurves.from_arrays("s", np.vstack([values, cut]), present=np.vstack([np.ones((10, 8)),
                                [[1, 1, 1, 0, 0, 0, 0, 0]]]), direction="maximize")
    return EndedTrials.build(c, [False] * 10 + [True])


def test_a_cut_trial_is_ranked_against_the_incumbent_by_the_studys_own_curves():
    """Where the study's curves keep their order, a trial cut last at its step is not the lost best; where they
    cross, it may well be -- the forecaster alone (the same prefix in both) cannot tell the two apart."""
    fc = LastValueForecaster()
    ordered, crossing = (continue_pruned(_cut_study(x), fc) for x in (False, True))
    alone = [continue_pruned(_cut_study(x), fc, rank=False) for x in (False, True)]
    np.testing.assert_array_equal(alone[0].quantiles[-1], alone[1].quantiles[-1])
    assert crossing.kill_risk() > 0.05 > 0.001 > ordered.kill_risk()
    assert crossing.kill_risk() > 20 * max(alone[1].kill_risk(), 1e-4)
    assert ordered.to_dict()["early_order"] > 0.9 and abs(crossing.to_dict()["early_order"]) < 0.3
    assert np.all(np.diff(crossing.quantiles[-1]) >= 0) and np.all(np.isfinite(crossing.quantiles[-1]))


class _Recording(LastValueForecaster):
    """The real last-value forecaster, keeping the context of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, np.ndarray | None]] = []

    def quantiles(self, values, seen, n_steps, maximize, levels=(0.1, 0.5, 0.9), *, context=None):
        self.calls.append((len(values), None if context is None else np.array(context)))
        return super().quantiles(values, seen, n_steps, maximize, levels, context=context)


def test_the_forecaster_sees_the_studys_complete_curves_and_a_check_not_its_own(study):
    """The pruned trials are forecast with every COMPLETE curve (audited ones included) as context, in the order
    of their rows (finite reports left-packed); each audit check with the others' only (it is one of them)."""
    ended = _shadowed(study, 0.3)
    fc = _Recording()
    continue_pruned(ended, fc, rank=False)
    ctx, done = study_context(ended)
    assert done.tolist() == np.flatnonzero(~ended.pruned).tolist() and len(done) == 8
    finite = np.isfinite(ended.curves.values[done[0]])
    np.testing.assert_array_equal(ctx[0, :finite.sum()], ended.curves.values[done[0], finite])
    checks = np.flatnonzero(ended.shadow >= 0)
    assert [n for n, _ in fc.calls] == [1, 1, 1, ended.n_pruned]
    for (_, seen_ctx), r in zip(fc.calls, checks, strict=False):
        np.testing.assert_array_equal(seen_ctx, ctx[done != r])
    np.testing.assert_array_equal(fc.calls[-1][1], ctx)


def test_an_audit_check_that_beats_the_incumbent_is_a_seen_kill(study):
    """The audited trials' real finals count directly: ending above every plain completed trial is a kill."""
    lucky = continue_pruned(_shadowed(study, 0.3), LastValueForecaster())
    unlucky = continue_pruned(_shadowed(study, -0.5), LastValueForecaster())
    checks = np.flatnonzero(lucky.ended.shadow >= 0)
    assert beat_probability(lucky)[checks].tolist() == [1.0] * 3 and lucky.kill_risk() == 1.0
    assert beat_probability(unlucky)[checks].tolist() == [0.0] * 3 and unlucky.kill_risk() < 1.0


def test_hysteresis_waits_after_a_switch_and_a_return_needs_a_wider_bound(study):
    """The same study with margin 0 flaps A -> B -> A on consecutive trials without hysteresis; with it, the next
    re-scoring waits ``cooldown`` ended trials and going back to a rule it left needs ``return_margin`` more se."""
    prior = _prior("hyperband-default")
    flappy = adaptive_replay(study, 0, prior, min_trials=4, margin=0.0, cooldown=0, return_margin=0.0, gate=False)
    gaps = np.diff([s.basis["ended"] for s in flappy.switches])
    pairs = zip(flappy.switches[:-1], flappy.switches[1:], strict=True)
    assert len(flappy.switches) >= 4 and gaps.min() == 1
    assert any(b.to_index == a.from_index and b.from_index == a.to_index for a, b in pairs)
    calm = adaptive_replay(study, 0, prior, min_trials=4, margin=0.0)
    assert calm.switches and len(calm.switches) < len(flappy.switches)
    at = [s.basis["ended"] for s in calm.switches]
    assert all(b - a >= 4 for a, b in zip(at[:-1], at[1:], strict=True))
    assert calm.switches[0].since_last is None and [s.since_last for s in calm.switches[1:]] == np.diff(at).tolist()
    left: set[int] = set()
    for s in calm.switches:
        assert s.returning == (s.to_index in left) and s.margin == (1.0 if s.returning else 0.0)
        assert s.gain - s.margin * s.gain_se > 0 and ("back to a rule it left" in s.reason) == s.returning
        left.add(s.from_index)


def test_the_kill_evidence_gates_a_safer_switch(study):
    """A safer challenger takes over only when the re-scoring sees the rule in force kill the best more often."""
    safer = [s for seed in range(3) for s in adaptive_replay(study, seed, _prior("percentile-90-w6-s5"),
                                                             min_trials=4, margin=0.0).switches
             if s.direction == "safer"]
    assert safer, "no safer switch: the test would check nothing"
    assert all(s.challenger["killed_best"] < s.incumbent["killed_best"] for s in safer)
    assert all("kill risk" in s.reason for s in safer)


def test_a_completed_trial_that_first_reported_after_the_cut_step_is_no_complete_curve_and_no_relation_pair():
    """Its prefix at the cut step is empty: the step -> final relation skips it there, and the forecaster's
    context holds its two reports left-packed (as the forecast rule's does), not a complete curve made up for it."""
    rows = [[0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7], [0.3, 0.4, 0.5, 0.6], [np.nan, np.nan, 0.6, 0.9],
            [0.2, 0.3, 0.4, 0.5], [0.1, 0.15, np.nan, np.nan]]
    present = [[1, 1, 1, 1]] * 3 + [[0, 0, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]]
    ended = EndedTrials.build(StudyCurves.from_arrays("s", rows, present=present, direction="maximize"),
                              [False] * 5 + [True])
    ctx, done = study_context(ended)
    assert done.tolist() == [0, 1, 2, 3, 4] and ctx[3, :2].tolist() == [0.6, 0.9] and np.isnan(ctx[3, 2:]).all()
    np.testing.assert_array_equal(ctx[[0, 1, 2, 4]], np.array(rows)[[0, 1, 2, 4]])
    cont = continue_pruned(ended, LastValueForecaster())
    assert np.all(np.isfinite(cont.quantiles[-1])) and np.all(np.diff(cont.quantiles[-1]) >= 0)
    assert 0.0 <= cont.kill_risk() <= 1.0


def test_a_non_finite_report_is_carried_over_and_a_trial_with_none_finite_stays_cut():
    """A NaN reported value (LCDB has some) is not forecast from: the last finite one stands in; a pruned trial
    with no finite value at all is left where it was cut."""
    nan = np.nan
    rows = [[0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7], [0.3, 0.4, 0.5, 0.6], [0.2, 0.3, 0.4, 0.5],
            [0.1, nan, 0.2, nan], [nan, nan, nan, nan]]
    present = [[1, 1, 1, 1]] * 4 + [[1, 1, 1, 0], [1, 1, 0, 0]]
    c = StudyCurves.from_arrays("s", rows, present=present, direction="maximize")
    cont = continue_pruned(EndedTrials.build(c, [False] * 4 + [True, True]), LastValueForecaster())
    assert np.all(np.isfinite(cont.quantiles[4])) and np.all(np.isnan(cont.quantiles[5]))
    full = cont.realise(np.zeros(6))
    assert np.isfinite(full.values[4, -1]) and not full.present[5, -1]
    assert 0.0 <= cont.kill_risk() <= 1.0
