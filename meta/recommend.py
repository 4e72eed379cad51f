"""Recommend a warm-start pruning rule for a new task, and record why.

:func:`recommend` takes what the user has -- a dataset (meta-features are
computed on the fly), meta-features, and/or the first trials' curves -- and the
trade-off (``max_regret``, or the weight ``lam`` of ``saved - lam * regret``).
It returns a :class:`Recommendation`: the rule spec with its thresholds and
priors, the expected compute saved and regret with a 10-90 % interval, the most
similar past tasks with their own best rules, the model version, and
:meth:`Recommendation.to_optuna`. Every recommendation is written to the
``recommendations`` table with its inputs, the model id and training snapshot;
:func:`save_recommendation` turns one into a rule version with source
``meta-learner``.

Cold start: a store without a meta-model gets :data:`COLD_START_SPEC` --
successive halving with reduction factor 2 from step 4, the best single grid
rule over all 246 LCDB accuracy tasks at lam = 20 (compute saved 0.50 at mean
regret 0.0050; ``benchmarks/RESULTS.md``) -- with ``cold_start=True``, no
expected outcome for the task, and a note saying so.

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     rec = recommend(store, meta_features={"NumberOfInstances": 500})
...     rec.cold_start, rec.spec.strategy, store.scalar("SELECT count(*) FROM recommendations")
(True, 'successive_halving', 1)
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from policy_store.meta.features.study import StudyDescriptors
from policy_store.meta.learner.artifacts import latest_model_id, load_artifact
from policy_store.meta.learner.model import MetaModel
from policy_store.meta.learner.prediction import select

from policy_store.curves import StudyCurves
from policy_store.errors import InvalidInputError
from policy_store.frames import is_dataframe
from policy_store.rules.spec import RuleSpec
from policy_store.rules.versions import RuleVersion, add_rule_version
from policy_store.store import PolicyStore, utcnow

if TYPE_CHECKING:
    import pandas as pd

#: The rule a store without a meta-model gets (see the module docstring).
COLD_START_SPEC: dict[str, Any] = {"strategy": "successive_halving",
                                   "params": {"reduction_factor": 2, "min_resource": 4}}
COLD_START_NOTE = ("cold start: the store has no meta-model yet, so this is policy-store's documented default "
                   "(the best single rule on LCDB at lam=20), not a recommendation for this task; ingest studies "
                   "and run `policy-store meta fit`")


@dataclass
class Recommendation:
    """A recommended rule for one task, with its expected outcome and explanation."""

    recommendation_id: str
    spec: RuleSpec
    candidate: str
    expected: dict[str, Any]
    neighbours: list[dict[str, Any]]
    model_id: str | None
    cold_start: bool
    trade_off: dict[str, Any]
    inputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_optuna(self) -> Any:
        """A live Optuna pruner with the recommended rule's decisions."""
        return self.spec.to_optuna()

    def to_dict(self) -> dict[str, Any]:
        return {"recommendation_id": self.recommendation_id, "candidate": self.candidate,
                "spec": self.spec.to_dict(), "expected": self.expected, "neighbours": self.neighbours,
                "model_id": self.model_id, "cold_start": self.cold_start, "trade_off": self.trade_off,
                "notes": self.notes}


def _features_of(dataset: pd.DataFrame | str | os.PathLike[str] | None, target: str | None,
                 meta_features: Mapping[str, float] | None, curves: Sequence[StudyCurves],
                 landmarkers: bool, task_type: str = "auto") -> tuple[dict[str, float], dict[str, Any]]:
    feats: dict[str, float] = {}
    inputs: dict[str, Any] = {}
    if dataset is not None:
        from policy_store.meta.features.dataset import (
            TASK_TYPES,
            dataset_meta_features,
            detect_task_type,
            read_dataset_csv,
        )

        if target is None:
            raise InvalidInputError("a dataset needs its target column (--target)", field="target")
        frame = dataset if is_dataframe(dataset) else read_dataset_csv(dataset)
        inputs["dataset"] = "<DataFrame>" if is_dataframe(dataset) else os.fspath(dataset)
        inputs["target"] = target
        inputs["shape"] = list(frame.shape)
        if task_type not in ("auto", *TASK_TYPES):
            raise InvalidInputError(f"task type must be one of auto, {', '.join(TASK_TYPES)}; got {task_type!r}",
                                    field="task_type")
        if task_type == "auto" and target in frame.columns:
            task_type, why = detect_task_type(frame[target])
            inputs["task_type_guessed"] = f"task type guessed: {task_type} ({why}); --task-type overrides"
        inputs["task_type"] = task_type
        feats.update(dataset_meta_features(frame, target, landmarkers=landmarkers, task_type=task_type))
        feats["is_regression"] = float(task_type == "regression")
    if curves:
        from policy_store.meta.features.curve import curve_meta_features

        feats.update(curve_meta_features(curves[0], direction=curves[0].direction))
        inputs["curves"] = [c.study for c in curves]
    if meta_features:
        if not isinstance(meta_features, Mapping):
            raise InvalidInputError(f"meta_features must be a mapping of name: number, got "
                                    f"{type(meta_features).__name__}", field="meta_features")
        for name, value in meta_features.items():
            try:
                if isinstance(value, bool | str):  # float() would take True as 1 and "1e3" as 1000
                    raise TypeError(type(value).__name__)
                feats[str(name)] = float("nan") if value is None else float(value)
            except (TypeError, ValueError, OverflowError) as e:
                raise InvalidInputError(f"meta-feature {name!r} must be a number, got {value!r}",
                                        field=str(name)) from e
    return {k: v for k, v in feats.items() if np.isfinite(v)}, inputs


def _record(store: PolicyStore, rec: Recommendation, features: Mapping[str, float], task: str | None,
            snapshot: Mapping[str, Any] | None) -> None:
    inputs = {**rec.inputs, "meta_features": dict(features), "trade_off": rec.trade_off,
              "training_snapshot": dict(snapshot or {}), "cold_start": rec.cold_start}
    store.execute("INSERT INTO recommendations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        rec.recommendation_id, task, rec.model_id, json.dumps(inputs, sort_keys=True, default=str),
        rec.spec.canonical_json(), json.dumps(rec.expected, sort_keys=True),
        json.dumps(rec.neighbours, sort_keys=True), utcnow()])


def _interval(mean: float, low: float, high: float) -> dict[str, float]:
    return {"mean": round(float(mean), 6), "low": round(float(min(low, mean)), 6),
            "high": round(float(max(high, mean)), 6)}


def recommend(store: PolicyStore, *, dataset: pd.DataFrame | str | os.PathLike[str] | None = None,
              target: str | None = None, meta_features: Mapping[str, float] | None = None,
              curves: Sequence[StudyCurves] = (), direction: str | None = None, metric: str | None = None,
              metric_kind: str | None = None, family: str | None = None, steps: float | None = None,
              trials: float | None = None, task_type: str = "auto", lam: float = 20.0,
              max_regret: float | None = None, k: int = 5, task: str | None = None, model_id: str | None = None,
              model: MetaModel | None = None, landmarkers: bool = False, record: bool = True,
              floor: bool = True, knowledge: bool = True, budget_seconds: float | None = None,
              full_seconds: float | None = None) -> Recommendation:
    """Recommend a pruning rule for a new task.

    Parameters
    ----------
    store:
        The store holding the meta-model (the latest unless ``model_id``) and where
        the recommendation is recorded.
    dataset, target:
        The task's training data (DataFrame or CSV path) and its target column.
    meta_features:
        Meta-features given directly (override computed ones of the same name).
    curves:
        Studies of the new task already run (e.g. its first trials): their curve
        meta-features and replayed outcomes are used, and they set the posterior prior.
    direction, metric, metric_kind, family, steps, trials:
        What the user knows about the study (:class:`~policy_store.meta.features.study.StudyDescriptors`):
        ``"maximize"``/``"minimize"`` (default: the curves', else implied by the
        metric), the metric's name and kind (``"loss"``/``"score"``), the model
        family (free text, e.g. ``"LightGBM"``; unknown ones are ``other``), steps
        per trial and planned trials. They are features of the learner and
        recorded; the ones missing are named in the notes.
    task_type:
        ``"auto"`` (guessed from the target, with a note), ``"classification"`` or
        ``"regression"`` (class statistics are then NaN).
    lam, max_regret:
        The trade-off: maximise ``saved - lam * regret``, or, with ``max_regret``,
        the most compute saved at an expected regret of at most ``max_regret``.
    k:
        Similar past tasks to report.
    task:
        A name for the new task, recorded with the recommendation.
    model_id, model:
        Use this stored model, or this in-memory model (not recorded as a version).
    landmarkers:
        Also compute the naive-Bayes/decision-stump landmarkers of ``dataset``
        (cross-validated models: slower on large data).
    record:
        Write the recommendation to the store.
    floor:
        Apply the safety floor when the model is calibrated: recommend a rule
        only when the lower end of its 80 % interval of utility gain over
        ``MedianPruner()`` is above 0 and the task is within the corpus, else the fallback with the
        reason: the corpus's best prior-free rule for the study's family and direction where it beats
        ``MedianPruner()`` there, else ``MedianPruner()`` (:mod:`policy_store.meta.learner.calibration`,
        :mod:`policy_store.meta.learner.fallback`).
    knowledge:
        Without a model in the store, use the knowledge shipped in the package
        (:mod:`policy_store.meta.learner.knowledge`); False gives the cold start.
    budget_seconds, full_seconds:
        A compute budget for the study: the best rule expected to finish it within ``budget_seconds``
        (it then carries the budget as a safeguard), or :class:`~policy_store.meta.budget.NoRuleFitsError`;
        ``full_seconds`` is what the study costs unpruned (default: estimated from ``curves``).
        See :mod:`policy_store.meta.budget`.
    """
    if max_regret is not None and not max_regret >= 0:
        raise InvalidInputError(f"max_regret must be >= 0, got {max_regret}", field="max_regret")
    full = _budget_base(budget_seconds, full_seconds, curves, trials)
    if dataset is None and not meta_features and not curves:
        raise InvalidInputError("give a dataset, meta-features or curves of the new task", field="dataset")
    if direction is None and curves:
        direction = curves[0].direction
    descriptors = StudyDescriptors(metric=metric, metric_kind=metric_kind, direction=direction, family=family,
                                   steps=steps, trials=trials)
    features, inputs = _features_of(dataset, target, meta_features, curves, landmarkers, task_type)
    features.update(descriptors.features())
    inputs["meta_features"] = features
    inputs["descriptors"] = descriptors.to_dict()
    direction = descriptors.direction or "maximize"
    pre_notes = [inputs.pop("task_type_guessed")] if "task_type_guessed" in inputs else []
    missing = descriptors.missing()
    if missing:
        pre_notes.append(f"not given: {', '.join(missing)} -- unknown to the learner, not guessed"
                         + ("; direction assumed 'maximize' for the rule's spec" if "direction" in missing else ""))
    trade_off = {"lam": lam} if max_regret is None else {"max_regret": max_regret}
    rid = str(uuid.uuid4())
    if model is None:
        model_id = model_id or latest_model_id(store)
        if model_id is not None:
            model = load_artifact(store, model_id)
    if model is None and knowledge:
        from policy_store.meta.learner.knowledge import shipped_model

        model = shipped_model()
        model_id = None
    if model is None and budget_seconds is not None:
        raise InvalidInputError("a budget needs expected outcomes to judge rules by, and the cold start has none; "
                                "fit a meta-model (`policy-store meta fit`) or drop the budget", field="budget_seconds")
    if model is None:
        rec = Recommendation(rid, RuleSpec.parse(COLD_START_SPEC), "cold-start", {}, [], None, True, trade_off,
                             inputs, [*pre_notes, COLD_START_NOTE])
    else:
        exp = model.expected(features, curves=curves, direction=direction, k=k)
        choice = int(select(exp.saved[None], exp.regret[None], lam=lam, max_regret=max_regret)[0])
        notes = list(pre_notes)
        if model_id is None and model.snapshot.get("knowledge"):
            notes.append(f"model: the knowledge shipped with policy-store ({model.snapshot['knowledge']})")
        cal = getattr(model, "calibration", None)
        safety = _floor(model, exp, features, lam=lam, max_regret=max_regret) if floor and cal is not None else None
        if safety is not None:
            choice = safety["choice"]
            notes.append(safety["reason"])
        elif floor:
            notes.append("no safety floor: the model was fitted without calibration (`meta fit` calibrates)")
        if budget_seconds is not None:
            from policy_store.meta.budget import fit_budget

            choice, why = fit_budget(exp.saved, exp.regret, choice, full=full, budget=budget_seconds, lam=lam,
                                     max_regret=max_regret, names=[c.name for c in model.grid])
            notes.append(why)
        cand = model.grid[choice]
        spec = cand.spec(exp.prior, direction)
        best = dict(zip(model.learner.tasks_, model.best_candidates(lam), strict=True))
        if max_regret is not None and exp.regret[choice] > max_regret:
            notes.append(f"no candidate is expected within max_regret={max_regret}; this is the least-regret one")
        if exp.evidence_studies:
            notes.append(f"blended with the grid replayed on {exp.evidence_studies} study(ies) of this task")
        used = sorted(set(features) & set(model.feature_names))
        notes.append(f"{len(used)} of the model's {len(model.feature_names)} meta-features known")
        if not used and not curves:
            notes.append("no meta-feature in common with the past tasks: this is their overall best, not a "
                         "task-specific choice; give the task's first curves (--curves) or the features the "
                         "model knows")
        expected = {"compute_saved": _interval(exp.saved[choice], exp.low[choice, 0], exp.high[choice, 0]),
                    "regret": _interval(exp.regret[choice], exp.low[choice, 1], exp.high[choice, 1]),
                    "killed_best_rate": round(float(exp.killed[choice]), 6),
                    "interval": "10-90 % over the forest's trees (or the neighbours)"}
        if cal is not None:
            expected["killed_best"] = _interval(exp.killed[choice], exp.low[choice, 2], exp.high[choice, 2])
            expected["interval"] = (f"{cal.level:.0%} conformal interval (grouped cross-validation residuals "
                                    f"over {cal.n_tasks} tasks)")
        if safety is not None:
            expected["floor"] = {k: v for k, v in safety.items() if k != "choice"}
        expected["descriptors"] = descriptors.to_dict()
        if cand.needs_prior:
            expected["prior"] = exp.prior
        if budget_seconds is not None:
            from policy_store.meta.budget import with_study_budget

            spec = with_study_budget(spec, budget_seconds)
            expected["compute_seconds"] = round(float((1.0 - exp.saved[choice]) * full), 3)
        neighbours = [{"task": t, "distance": round(d, 4), "best_rule": best.get(t)} for t, d in exp.neighbours]
        rec = Recommendation(rid, spec, cand.name, expected, neighbours, model_id, False, trade_off, inputs, notes)
    if record:
        # The full snapshot (every task id) is in meta_models; the recommendation keeps its summary.
        snapshot = {k: v for k, v in (model.snapshot if model is not None else {}).items() if k != "task_ids"}
        _record(store, rec, features, task, snapshot)
    return rec


def _budget_base(budget: float | None, full: float | None, curves: Sequence[StudyCurves],
                 trials: float | None) -> float | None:
    """The unpruned cost a budget is judged against (None without a budget); bad values refused up front."""
    if budget is None:
        return None
    if not budget > 0 or not np.isfinite(budget):
        raise InvalidInputError(f"budget_seconds must be a positive number, got {budget}", field="budget_seconds")
    if full is None:
        from policy_store.meta.budget import full_study_seconds

        full = full_study_seconds(curves, trials)
        if full is None:
            raise InvalidInputError("a budget needs what the study costs unpruned: give full_seconds "
                                    "(--full-seconds) or the task's first curves with cost_seconds (--curves)",
                                    field="full_seconds")
    if not full > 0 or not np.isfinite(full):
        raise InvalidInputError(f"full_seconds must be a positive number, got {full}", field="full_seconds")
    return float(full)


def _floor(model: MetaModel, exp: Any, features: Mapping[str, float], *, lam: float,
           max_regret: float | None) -> dict[str, Any]:
    """The safety floor's choice for one task, its gain interval and why (see ``recommend(floor=...)``)."""
    from policy_store.meta.learner.calibration import FLOOR_QUANTILE, floor_choice, unseen_descriptors
    from policy_store.meta.learner.fallback import key_of_features

    cal = model.calibration
    base = cal.baseline
    low, high = cal.interval(exp.gain, exp.spread[:, 3], 3)
    bound = cal.gain_bound(exp.gain, exp.spread[:, 3], FLOOR_QUANTILE)
    ood = unseen_descriptors(features, model.learner.ranks_, model.feature_names)
    if exp.distance > cal.distance_limit:
        ood.append(f"nearest past task at distance {exp.distance:.3f}, beyond the corpus's own "
                   f"{cal.distance_limit:.3f}")
    if max_regret is not None:
        bound = np.where(exp.regret <= max_regret, bound, -np.inf)
    fallback = cal.fallback(features, [c.name for c in model.grid])
    fallback_name = ("MedianPruner()" if fallback == base else
                     f"{model.grid[fallback].name} (the corpus's best prior-free rule for "
                     f"{key_of_features(features)}: above MedianPruner() there)")
    choice, why = floor_choice(exp.gain, bound, exp.killed - exp.killed[base], baseline=base,
                               out_of_distribution=ood, quantile=FLOOR_QUANTILE, fallback=fallback,
                               fallback_name=fallback_name, group_bound=cal.group_bound(features))
    fell_back = why is not None
    if why is None:
        why = (f"safety floor passed: {model.grid[choice].name}'s utility gain over MedianPruner() has lower "
               f"bound {bound[choice]:+.3f} (quantile {FLOOR_QUANTILE:g}; {cal.level:.0%} interval "
               f"[{low[choice]:+.3f}, {high[choice]:+.3f}], lam={cal.lam:g})")
    if lam != cal.lam:
        why += f"; the floor is calibrated at lam={cal.lam:g}, not {lam:g}"
    return {"choice": choice, "reason": why, "fallback": fell_back, "out_of_distribution": ood,
            "gain": _interval(exp.gain[choice], low[choice], high[choice]),
            "nearest_distance": round(exp.distance, 4), "distance_limit": round(cal.distance_limit, 4)}


def save_recommendation(store: PolicyStore, rec: Recommendation, name: str, *,
                        created_by: str | None = None) -> RuleVersion:
    """Record the recommended spec as the next version of rule ``name`` (source ``meta-learner``)."""
    who = created_by or f"meta-learner:{rec.model_id or 'cold-start'}"
    given = {k: v for k, v in rec.inputs.get("descriptors", {}).items() if v is not None}
    floor = rec.expected.get("floor", {}).get("reason")
    reason = (f"recommendation {rec.recommendation_id} ({rec.candidate}); trade-off {rec.trade_off}; "
              f"study: {given or 'no descriptors given'}; " + (f"{floor}; " if floor else "") +
              f"similar tasks: {', '.join(n['task'] for n in rec.neighbours[:3]) or 'none (cold start)'}")
    return add_rule_version(store, name, rec.spec, created_by=who, source="meta-learner", reason=reason,
                            meta_model_id=rec.model_id)

