"""The README's main job: the whole loop on the embedded store and bundled real curves.

Each step prints what it did. Rerunning is safe: ingestion and outcomes are
idempotent, the starter rules are only added to a store that lacks them (so a
rerun evaluates the versions recalibration promoted, never reverts them).

>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store:
...     lines = []
...     summary = run_demo(store, echo=lines.append, steps=("ingest",))
...     lines[0]
'== 1. ingest the bundled real learning curves (scikit-learn training, 12 tasks)'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from policy_store.store import PolicyStore

# Rules every new store starts with: Optuna's defaults, so outcomes have an anchor.
STARTER_RULES = {
    "optuna-median": {"strategy": "median"},
    "optuna-successive-halving": {"strategy": "successive_halving"},
}
STEPS = ("ingest", "evaluate", "recommend", "recalibrate", "report")


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    cells = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return lines


def _evaluate_meta_learner(store: PolicyStore, echo: Callable[[str], Any]) -> dict[str, Any]:
    """Grouped 3-fold CV over the bundled tasks, recorded on the newest meta-model for the report."""
    from policy_store.meta import cross_validate, training_data_from_store
    from policy_store.meta.evaluation.evaluate import record_evaluation

    evaluation = cross_validate(training_data_from_store(store, orders=2), folds=3, n_estimators=50)
    record_evaluation(store, evaluation)
    lam20 = evaluation.summary[evaluation.summary["mode"] == "lam=20"]
    echo("held-out tasks (3-fold grouped CV, lam=20): " + ", ".join(
        f"{r.method} {r.utility:.3f}" for r in lam20.itertuples() if r.method in _SHOWN_METHODS))
    return evaluation.to_dict()


def _shipped_recommendation(store: PolicyStore, echo: Callable[[str], Any]) -> dict[str, Any] | None:
    """A minimised log-loss study of a LightGBM model on wine, recommended by the knowledge shipped in the package
    (the corpus's forest, loaded, not fitted) from the dataset and what the user says about the study."""
    from sklearn.datasets import load_wine

    from policy_store.meta.learner.knowledge import shipped_model
    from policy_store.meta.recommend import recommend

    model = shipped_model()
    if model is None:
        return None
    echo("== the knowledge shipped with policy-store: a study minimising log loss of LightGBM models on wine")
    echo("  policy-store recommend --dataset wine.csv --target target --family lightgbm --metric log_loss "
         "--direction minimize")
    rec = recommend(store, dataset=load_wine(as_frame=True).frame, target="target", family="lightgbm",
                    metric="log_loss", direction="minimize", model=model, task="wine/lightgbm/log_loss")
    saved, regret = rec.expected["compute_saved"], rec.expected["regret"]
    echo(f"recommended {rec.candidate}, that is: {plain_spec(rec.spec.to_dict())}")
    echo(f"expected compute saved {saved['mean']:.2f} [{saved['low']:.2f}, {saved['high']:.2f}], regret "
         f"{regret['mean']:.3f} [{regret['low']:.3f}, {regret['high']:.3f}] (80 % conformal intervals); "
         f"{rec.expected['floor']['reason']}")
    echo(f"From {model.snapshot['knowledge']}: no download, no generation, no fit; the family and direction are "
         "features of the learner, so `--family sgd --direction maximize` can change the rule.")
    return {"candidate": rec.candidate, "recommendation_id": rec.recommendation_id,
            "fallback": rec.expected["floor"]["fallback"]}


_SHOWN_METHODS = ("MedianPruner()", "best single rule", "meta-learner + probe", "oracle (hindsight)")
_STRATEGIES = {"median": "stop a trial below the median of earlier trials at the same step",
               "percentile": "stop a trial below a percentile of earlier trials at the same step",
               "successive_halving": "successive halving: keep the best share of trials at each rung",
               "hyperband": "Hyperband: successive halving over several brackets",
               "threshold": "stop a trial past a fixed threshold", "patient": "stop a trial that stopped improving"}
NEXT_STEPS = (
    "What to try next:",
    "  your own curves:  policy-store ingest my-curves.csv   (columns task, study, trial, step, value)",
    "  live pruning:     StorePruner(\"policy-store.duckdb\", task=..., recommend=True) in an Optuna study "
    "(README, 'Live pruning')",
    "  the report:       open reports-out/report.html   (which rule saves how much, at what risk, and why)",
)


def plain_spec(spec: dict[str, Any]) -> str:
    """A rule spec in words, for people (the JSON stays in ``policy-store rules show``).

    >>> plain_spec({"strategy": "successive_halving", "params": {"reduction_factor": 3, "min_resource": 1}})
    'successive halving: keep the best share of trials at each rung (reduction factor 3, min resource 1)'
    """
    what = _STRATEGIES.get(spec.get("strategy", ""), str(spec.get("strategy")))
    params = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (spec.get("params") or {}).items())
    return f"{what} ({params})" if params else what


def _plain_meta_echo(echo: Callable[[str], Any]) -> Callable[[str], Any]:
    """The meta step's lines with its raw JSON spec turned into words."""
    import json

    def plain(line: str) -> Any:
        head, sep, spec = line.partition(": {")
        if line.startswith("recommended ") and sep:
            try:
                return echo(f"{head}, that is: {plain_spec(json.loads('{' + spec))}")
            except ValueError:
                pass
        return echo(line)

    return plain


def _adapt_inside_studies(store: PolicyStore, model_id: str, holdout: str, echo: Callable[[str], Any]) -> list[dict]:
    """Run each held-out study under within-study adaptation from the meta-learned rule, beside that rule alone."""
    from policy_store.curves import load_curves
    from policy_store.meta import Prior, adaptive_replay, load_artifact, load_meta_features

    model = load_artifact(store, model_id)
    tasks = [t for (t,) in store.execute("SELECT task FROM tasks WHERE task LIKE ? ORDER BY task",
                                         [f"sklearn/{holdout}/%"]).fetchall()]
    features = load_meta_features(store, tasks)
    rows = []
    for c in load_curves(store, tasks=tasks):
        prior = Prior.from_expected(model.expected(features.loc[[c.task]], direction=c.direction), model.grid,
                                    c.direction)
        adapted = adaptive_replay(c, 0, prior, lam=20.0)
        kept = adaptive_replay(c, 0, prior, lam=20.0, margin=float("inf"))  # the meta-learned rule, never switching
        completed = adapted.n_trials - adapted.trials_pruned
        what = "; ".join(s.reason for s in adapted.switches) or (
            f"kept {adapted.start}: {completed} of {adapted.n_trials} trials completed, re-scored "
            f"{adapted.n_rescores} times on the ended ones (pruned ones forecast), no candidate's gain had a lower "
            "bound above 0")
        echo(f"{c.study}: {what}; saved {adapted.compute_saved:.3f} (rule alone {kept.compute_saved:.3f}), "
             f"regret {adapted.regret:.4f} ({kept.regret:.4f})")
        rows.append({"study": c.study, "adaptive": adapted.to_dict(),
                     "rule_alone": {"compute_saved": kept.compute_saved, "regret": kept.regret}})
    return rows


def run_demo(
    store: PolicyStore,
    *,
    echo: Callable[[str], Any] = print,
    steps: Sequence[str] = STEPS,
    out_dir: str = "reports-out",
    progress: bool = False,
) -> dict[str, Any]:
    """Run the main job's steps on ``store`` and return what each produced.

    Parameters
    ----------
    store:
        The store to fill (the CLI passes the embedded default).
    echo:
        Where progress lines go.
    steps:
        A subset of :data:`STEPS`, in order.
    out_dir:
        Where the report is written.
    progress:
        Show progress bars for long steps.
    """
    from policy_store.datasets import ingest_bundled
    from policy_store.replay import evaluate
    from policy_store.rules import add_rule_version, list_rules

    result: dict[str, Any] = {}
    if "ingest" in steps:
        echo("== 1. ingest the bundled real learning curves (scikit-learn training, 12 tasks)")
        report = ingest_bundled(store, progress=progress)
        echo(report.summary())
        echo("Every trial's validation score per epoch is now in the store: the record every later step learns from"
             + (" (already there from an earlier run, so nothing was added)." if not report.added else "."))
        result["ingest"] = report.to_dict()
    if "evaluate" in steps:
        echo("== 2. replay the starter rules (Optuna's defaults, or what recalibration made of them) "
             "over every recorded study (5 trial orders each)")
        existing = {r["rule"] for r in list_rules(store)}
        for name, spec in STARTER_RULES.items():
            # Only a new store gets the anchors: a recalibrated version must not be reverted by a rerun.
            if name not in existing:
                add_rule_version(store, name, spec, created_by="policy-store demo", reason="Optuna default, as anchor")
        evaluation = evaluate(store, list(STARTER_RULES), orders=5, record_decisions=True, progress=progress)
        overall = evaluation.summary[evaluation.summary["task"] == "(all)"] if "task" in evaluation.summary else None
        rows = (overall if overall is not None and len(overall) else evaluation.summary).to_dict("records")
        columns = [c for c in ("rule", "version", "compute_saved", "regret", "killed_best_rate") if c in rows[0]]
        for line in _table(rows, columns):
            echo(line)
        echo("Each rule was replayed exactly as Optuna would decide, on every study in 5 trial orders: compute saved "
             "is the share of training it stopped, regret how much worse the best surviving trial is, killed-best "
             "how often it stopped the trial that would have won.")
        result["evaluate"] = rows
    if "recommend" in steps:
        from policy_store.meta import recommend_for_holdout

        echo("== 3. fit the meta-learner on the bundled tasks and recommend a rule for a dataset it has not seen")
        result["recommend"] = recommend_for_holdout(store, holdout="wine", echo=_plain_meta_echo(echo),
                                                    progress=progress)
        echo("The meta-learner never saw wine: it matched wine's dataset statistics to the tasks it resembles and "
             "picked the rule that did best on them, a warm start instead of a guess.")
        echo("== the recommendation adapting inside each held-out study (re-scored as its trials complete)")
        echo("Each wine study starts from the rule recommended for its own task, and switches only when another "
             "rule leads it by more than one standard error on the trials completed so far; 'kept' means none did.")
        result["adapt"] = _adapt_inside_studies(store, result["recommend"]["model_id"], "wine", echo)
        result["meta_evaluation"] = _evaluate_meta_learner(store, echo)
        result["shipped"] = _shipped_recommendation(store, echo)
    if "recalibrate" in steps:
        from policy_store.drift import recalibrate

        echo("== 4. run the scheduled recalibration job once (drift monitors over the new outcomes)")
        job = recalibrate(store, trigger="demo")
        echo(f"job {job.status}: {_count(job.rules_checked, 'rule')} checked, {_count(job.events, 'drift event')}, "
             f"{_count(job.promoted, 'version')} promoted, {_count(job.rejected, 'candidate')} rejected")
        echo(_recalibration_sentence(job))
        result["recalibrate"] = job.to_dict()
    if "report" in steps:
        from policy_store.reports import build_report

        echo("== 5. write the cross-task report")
        path = build_report(store, out_dir)
        echo(f"report: {path}")
        echo("One offline page with every rule across every task, the recommendations and why, and each rule's "
             "history of versions.")
        result["report"] = str(path)
    for line in NEXT_STEPS:
        echo(line)
    return result


def _count(items: Sequence[Any], noun: str) -> str:
    """``1 rule``, ``3 rules``.

    >>> _count([1], "drift event"), _count([], "version")
    ('1 drift event', '0 versions')
    """
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _recalibration_sentence(job: Any) -> str:
    """What the recalibration job did, and why, in one sentence."""
    if job.status == "noop":
        return "No outcome was recorded since the last job, so there was nothing to check."
    if not job.events:
        return "The rules' recent outcomes behave as recorded, so every rule keeps its version."
    promoted = ", ".join(f"{p['rule']} (now version {p.get('to_version', '?')})" for p in job.promoted)
    changed = (f"; it re-tuned the rule on recent studies and promoted {promoted}, which did better there"
               if job.promoted else "; no re-tuned candidate beat the current version, so each rule keeps it")
    return f"A monitor saw a rule's outcomes move away from what was recorded{changed}."
