"""``policy-store meta fit|evaluate`` and ``policy-store recommend``: the meta-learner's commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from policy_store.cli._common import add_json_flag, open_store, print_json, print_table, text_or_file
from policy_store.cli._parallel import add_backend_flags
from policy_store.errors import InvalidInputError
from policy_store.parallel import jobs_for, parallel_backend


def _fit(args: argparse.Namespace) -> int:
    from policy_store.meta.learner.model import N_TREES
    from policy_store.meta.learner.store_records import fit_from_store

    with open_store(args) as store, parallel_backend(args.backend, args.scheduler):
        result = fit_from_store(store, orders=args.orders, n_jobs=jobs_for(args.backend, args.jobs),
                                directory=args.artifacts, n_estimators=args.trees or N_TREES,
                                random_state=args.seed, progress=not args.json, knowledge=args.knowledge,
                                own_weight=args.own_weight)
    if args.json:
        print_json({"model_id": result.model_id, "snapshot": result.model.snapshot, "seconds": result.seconds})
    else:
        print(result.summary())
    return 0


def _training_data(args: argparse.Namespace, n_jobs: int, progress: bool):
    from policy_store.meta.learner.sources import (
        training_data_from_hpo,
        training_data_from_lcdb,
        training_data_from_store,
    )
    from policy_store.meta.learner.training_data import concat_training_data

    parts = []
    if args.lcdb:
        parts.append(training_data_from_lcdb(tasks=args.tasks, seeds=args.seeds, orders=args.orders, n_jobs=n_jobs,
                                             progress=progress))
    if args.hpo:
        parts.append(training_data_from_hpo(None if args.hpo == "bundled" else args.hpo, orders=args.orders,
                                            n_jobs=n_jobs, progress=progress))
    if not parts:
        with open_store(args, read_only=True) as store:
            parts.append(training_data_from_store(store, orders=args.orders, n_jobs=n_jobs, progress=progress))
    return concat_training_data(parts)


def _evaluate_floor(args: argparse.Namespace, data) -> int:
    from policy_store.meta.evaluation.safety import evaluate_floor, group_table

    rows, cover = evaluate_floor(data, folds=args.folds, seed=args.seed, n_estimators=args.trees or 100,
                                 leave_out=args.leave_out, progress=not args.json)
    cv = rows[rows["split"] == "cross-validation"]
    groups = group_table(cv, ["corpus", "family", "direction"])
    splits = group_table(rows[rows["split"] != "cross-validation"], ["split"]) if args.leave_out else None
    coverage = cover.groupby(["split", "outcome"])[["covered", "covered_chosen"]].mean().reset_index()
    if args.json:
        print_json({"groups": groups.to_dict("records"), "coverage": coverage.to_dict("records"),
                    "leave_out": None if splits is None else splits.to_dict("records")})
        return 0
    cols = ["method", "tasks", "compute_saved", "regret", "killed_best_rate", "utility", "gain_vs_median",
            "fallback"]
    print_table(groups.to_dict("records"), ["corpus", "family", "direction", *cols])
    if splits is not None:
        print_table(splits.to_dict("records"), ["split", *cols])
    print_table(coverage.to_dict("records"), ["split", "outcome", "covered", "covered_chosen"])
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from policy_store.meta.evaluation.adaptive import adaptive_scorer
    from policy_store.meta.evaluation.evaluate import cross_validate, leave_out, record_evaluation
    from policy_store.meta.learner.model import N_TREES

    progress = not args.json
    n_jobs = jobs_for(args.backend, args.jobs)
    with parallel_backend(args.backend, args.scheduler):
        data = _training_data(args, n_jobs, progress)
    if args.floor:
        return _evaluate_floor(args, data)
    adapt = adaptive_scorer(data.grid) if args.adapt else None
    trees = args.trees or N_TREES
    ev = cross_validate(data, folds=args.folds, seed=args.seed, max_regret=args.max_regret, n_estimators=trees,
                        adapt=adapt, progress=progress)
    if args.leave_out:
        ev.leave_out = leave_out(data, folds=args.folds, seed=args.seed, n_estimators=trees, adapt=adapt,
                                 progress=progress)
    verdicts = ev.verdicts()
    recorded_on = None
    if args.record and (not (args.lcdb or args.hpo) or _store_exists(args)):
        with open_store(args) as store:
            recorded_on = record_evaluation(store, ev)
    if args.json:
        print_json({"settings": ev.settings, "summary": ev.summary.to_dict("records"), "verdicts": verdicts,
                    "per_step": ev.per_step.to_dict("records"), "recorded_on": recorded_on,
                    "leave_out": None if ev.leave_out is None else ev.leave_out.to_dict("records")})
        return 0
    print_table(ev.summary.to_dict("records"), ["corpus", "mode", "method", "compute_saved", "regret",
                                               "killed_best_rate", "utility", "compute_hours",
                                               "utility_per_compute_hour", "peak_memory_mb"])
    if ev.leave_out is not None and len(ev.leave_out):
        print_table(ev.leave_out.to_dict("records"), ["split", "method", "compute_saved", "regret",
                                                      "killed_best_rate", "utility", "beats_median"])
    if ev.settings["tasks_scored_on_probe"]:
        print(f"note: {ev.settings['tasks_scored_on_probe']} task(s) have a single study, scored on their probe "
              "study: '+ probe' figures are optimistic for them, and their CV oracle is the best single rule")
    for corpus, v in verdicts.items():
        for k, x in v.items():
            print(f"{corpus} {k}: {x:.3f}" if isinstance(x, float) else f"{corpus} {k}: {x}")
    if recorded_on:
        print(f"recorded with meta-model {recorded_on} (the report's meta-learner section)")
    elif args.record:
        print("not recorded: the store has no meta-model yet (`policy-store meta fit`)")
    return 0


def _store_exists(args: argparse.Namespace) -> bool:
    """Whether the store is there already (``meta evaluate --lcdb`` must not create an empty one to record into)."""
    from policy_store.location import FileLocation, parse_location
    from policy_store.store import default_location

    location = parse_location(args.store or default_location())
    return not isinstance(location, FileLocation) or Path(location.path).exists()


def _curves(path: str, direction: str):
    from policy_store.curves import read_curves_csv

    return read_curves_csv(path, direction=direction)


def _recommend(args: argparse.Namespace) -> int:
    from policy_store.meta.recommend import recommend, save_recommendation

    features = None
    if args.meta_features:
        text = text_or_file(args.meta_features, "meta-features")
        try:
            features = json.loads(text)
        except (ValueError, RecursionError) as e:  # not JSON, a >4300-digit number, nesting too deep
            raise InvalidInputError(f"--meta-features is neither a JSON object nor a JSON file: {e}",
                                    field="meta-features") from e
        if isinstance(features, dict) and isinstance(features.get("features"), dict) and set(features) <= {
                "task", "features"}:
            features = features["features"]  # what `policy-store meta-features --json` writes
        if not isinstance(features, dict):
            raise InvalidInputError("--meta-features must be a JSON object of name: number (or the output of "
                                    "`policy-store meta-features --json`)", field="meta-features")
    curves = _curves(args.curves, args.direction or "maximize") if args.curves else ()
    with open_store(args) as store:
        rec = recommend(store, dataset=args.dataset, target=args.target, meta_features=features, curves=curves,
                        direction=args.direction, metric=args.metric, metric_kind=args.metric_kind,
                        family=args.family, steps=args.steps, trials=args.trials, task_type=args.task_type,
                        lam=args.lam, max_regret=args.max_regret, k=args.k, task=args.task,
                        landmarkers=args.landmarkers, floor=args.floor, budget_seconds=args.budget_seconds,
                        full_seconds=args.full_seconds)
        version = save_recommendation(store, rec, args.save) if args.save else None
        advice = None
        if curves:
            from policy_store.meta.adaptation.advice import advise

            advice = advise(store, curves[0], meta_features=features, dataset=args.dataset, target=args.target,
                            lam=args.lam)
    if args.json:
        print_json({**rec.to_dict(), "rule_version": version.ref if version else None,
                    "adaptive": advice.to_dict() if advice else None})
        return 0
    for note in rec.notes:
        print(f"note: {note}")
    print(f"rule: {rec.candidate}  (model {rec.model_id or ('none' if rec.cold_start else 'shipped knowledge')})")
    print(f"spec: {rec.spec.canonical_json()}")
    if rec.expected:
        e = rec.expected
        print(f"expected compute saved {e['compute_saved']['mean']:.3f} [{e['compute_saved']['low']:.3f}, "
              f"{e['compute_saved']['high']:.3f}], regret {e['regret']['mean']:.4f} [{e['regret']['low']:.4f}, "
              f"{e['regret']['high']:.4f}], killed-best rate {e['killed_best_rate']:.2f} ({e['interval']})")
        if "floor" in e:
            g = e["floor"]["gain"]
            print(f"utility gain over MedianPruner(): {g['mean']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]")
        given = {k: v for k, v in e.get("descriptors", {}).items() if v is not None}
        print(f"study descriptors: {given or 'none given'}")
    if rec.neighbours:
        print("similar past tasks:")
        print_table(rec.neighbours)
    if version:
        print(f"saved as rule version {version.ref} (source meta-learner)")
    if advice:
        print(f"within-study evidence (as StorePruner adapts), {advice.n_trials} trials of "
              f"{curves[0].study!r}, meta-learned rule {advice.start}:")
        print_table(advice.table)
        if advice.regret_unit != 1.0:
            print(f"(regret in units of the trials' median final value, {advice.regret_unit:.4g})")
        print(advice.line)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    meta = subparsers.add_parser("meta", help="fit and evaluate the meta-learner")
    sub = meta.add_subparsers(dest="meta_command", metavar="COMMAND")
    sub.required = True
    fit = sub.add_parser("fit", help="replay the candidate grid on the store's tasks and fit the meta-learner")
    fit.add_argument("--orders", type=int, default=5, help="trial orders replayed per study (default 5)")
    fit.add_argument("--jobs", type=int, default=1, help="parallel replay workers")
    fit.add_argument("--trees", type=int, help="trees of the forest (default: the library's, 200)")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--artifacts", help="artifact folder (default: policy-store-artifacts/ beside the store)")
    fit.add_argument("--no-knowledge", dest="knowledge", action="store_false",
                     help="learn from the store's tasks only, not also from the knowledge shipped in the package")
    fit.add_argument("--own-weight", type=float, default=3.0,
                     help="weight of each of the store's tasks against one shipped task (default 3)")
    add_json_flag(fit)
    add_backend_flags(fit)
    fit.set_defaults(handler=_fit)

    ev = sub.add_parser("evaluate", help="grouped cross-validation against Optuna's defaults and baselines")
    ev.add_argument("--lcdb", action="store_true", help="evaluate on LCDB accuracy directly, not on the store")
    ev.add_argument("--hpo", metavar="CORPUS.parquet|bundled",
                    help="evaluate on the HPO corpus (a Parquet file of `datasets generate-hpo`, or the bundled "
                         "slice); with --lcdb, one model learns from both and each corpus is scored separately")
    ev.add_argument("--tasks", type=int, help="with --lcdb: the datasets with the smallest OpenML ids")
    ev.add_argument("--seeds", type=int, default=4, help="with --lcdb: seed pairs per dataset (1 probe + rest)")
    ev.add_argument("--orders", type=int, default=5)
    ev.add_argument("--folds", type=int, default=5)
    ev.add_argument("--jobs", type=int, default=1)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--max-regret", type=float, default=0.005)
    ev.add_argument("--trees", type=int, help="trees of the forest (default: the library's, 200)")
    ev.add_argument("--adapt", action="store_true",
                    help="also score the recommendation adapting inside each held-out study (slower)")
    ev.add_argument("--leave-out", action="store_true",
                    help="also the rows of learners trained without a model family / metric direction")
    ev.add_argument("--floor", action="store_true",
                    help="score the safety floor instead: per family x direction x corpus, coverage of the 80 %% "
                         "intervals, and with --leave-out the leave-source/family/direction-out rows")
    ev.add_argument("--no-record", dest="record", action="store_false",
                    help="do not attach the evaluation to the store's newest meta-model (the report reads it there)")
    add_json_flag(ev)
    add_backend_flags(ev)
    ev.set_defaults(handler=_evaluate)

    rec = subparsers.add_parser("recommend", help="recommend a warm-start pruning rule for a new task")
    rec.add_argument("--dataset", metavar="DATA.csv", help="the new task's training data")
    rec.add_argument("--target", help="class column of --dataset")
    rec.add_argument("--meta-features", metavar="JSON", help="meta-features as a JSON object or a JSON file")
    rec.add_argument("--curves", metavar="CURVES.csv",
                     help="first trials' curves: trial, step, value[, study]; re-scored as an adaptive study would")
    rec.add_argument("--direction", choices=("maximize", "minimize"),
                     help="the metric's direction (default: the curves', else implied by --metric/--metric-kind)")
    rec.add_argument("--metric", help="the metric's name, e.g. log_loss, accuracy, mse (sets its kind)")
    rec.add_argument("--metric-kind", choices=("loss", "score"), help="a loss is minimised, a score maximised")
    rec.add_argument("--family", help="model family, free text (lightgbm, xgboost, hgb, forest, mlp, sgd; "
                                      "anything else is 'other')")
    rec.add_argument("--steps", type=float, help="steps (epochs, boosting rounds) per trial")
    rec.add_argument("--trials", type=float, help="trials the study will run")
    rec.add_argument("--task-type", choices=("auto", "classification", "regression"), default="auto",
                     help="of --dataset's target (default: guessed, with a note)")
    rec.add_argument("--no-floor", dest="floor", action="store_false",
                     help="choose by expected utility, without the safety floor's fallback to MedianPruner()")
    rec.add_argument("--max-regret", type=float, help="regret budget: most compute saved within it")
    rec.add_argument("--lam", type=float, default=20.0, help="weight of regret: maximise saved - lam*regret")
    rec.add_argument("--budget-seconds", type=float, metavar="S",
                     help="compute budget of the study: the best rule expected to finish it within S seconds")
    rec.add_argument("--full-seconds", type=float, metavar="S",
                     help="what the study costs unpruned (default: estimated from --curves)")
    rec.add_argument("--k", type=int, default=5, help="similar past tasks to show")
    rec.add_argument("--task", help="name of the new task, recorded with the recommendation")
    rec.add_argument("--save", metavar="RULE", help="save the recommended spec as a version of RULE")
    rec.add_argument("--landmarkers", action="store_true", help="also compute the (slower) landmarkers")
    add_json_flag(rec)
    rec.set_defaults(handler=_recommend)
