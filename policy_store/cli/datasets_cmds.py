"""Dataset commands: ``datasets ingest lcdb|raytune|bundled|hpo-bundled|hpo``, ``datasets generate[-hpo]``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from policy_store.cli._common import add_json_flag, open_store, print_json

if TYPE_CHECKING:
    from policy_store.datasets import LcdbIngestResult
    from policy_store.ingest import IngestReport


def _progress(args: argparse.Namespace) -> bool:
    return not args.json and sys.stderr.isatty()


def _report(args: argparse.Namespace, report: IngestReport | LcdbIngestResult) -> int:
    print_json(report.to_dict()) if args.json else print(report.summary())
    return 0


def _ingest_lcdb(args: argparse.Namespace) -> int:
    # Imported here so that `policy-store --help` does not pay for scikit-learn.
    from policy_store.datasets import ingest_lcdb

    with open_store(args) as store:
        result = ingest_lcdb(store, metric=args.metric, tasks=args.tasks, seeds=args.seeds, source=args.source,
                             download=not args.no_download, replace=args.replace, progress=_progress(args))
    return _report(args, result)


def _ingest_raytune(args: argparse.Namespace) -> int:
    from policy_store.datasets import ingest_raytune

    with open_store(args) as store:
        report = ingest_raytune(store, args.directory, metric=args.metric, direction=args.direction,
                                task=args.task, study=args.study, replace=args.replace,
                                progress=_progress(args))
    return _report(args, report)


def _ingest_bundled(args: argparse.Namespace) -> int:
    from policy_store.datasets import ingest_bundled

    with open_store(args) as store:
        report = ingest_bundled(store, replace=args.replace, progress=_progress(args))
    return _report(args, report)


def _generate(args: argparse.Namespace) -> int:
    from policy_store.datasets import generate, write_parquet
    from policy_store.ingest import ingest_frame

    frame = generate(args.dataset.split(","), target=args.target, models=args.models.split(","),
                     trials=args.trials, steps=args.steps, seed=args.seed, jobs=args.jobs,
                     progress=_progress(args))
    if args.out:
        path = write_parquet(frame, args.out)
        summary = {"out": str(path), "tasks": int(frame["task"].nunique()),
                   "studies": int(frame["study"].nunique()), "points": len(frame)}
        if args.json:
            print_json(summary)
        else:
            print(f"wrote {summary['points']} points of {summary['studies']} studies to {path}")
        return 0
    with open_store(args) as store:
        report = ingest_frame(store, frame, source=f"generated:seed{args.seed}", replace=args.replace,
                              progress=_progress(args))
    return _report(args, report)


def _ingest_hpo_bundled(args: argparse.Namespace) -> int:
    from policy_store.datasets import ingest_hpo

    with open_store(args) as store:
        report = ingest_hpo(store, replace=args.replace, progress=_progress(args))
    return _report(args, report)


def _ingest_hpo_file(args: argparse.Namespace) -> int:
    from policy_store.datasets import ingest_hpo
    from policy_store.ingest import read_long_file

    frame = read_long_file(args.file)
    with open_store(args) as store:
        report = ingest_hpo(store, frame, max_rows=args.max_rows, replace=args.replace, progress=_progress(args))
    return _report(args, report)


def _generate_hpo(args: argparse.Namespace) -> int:
    from policy_store.datasets import generate_hpo, hpo_dataset_names, hpo_meta_features, ingest_hpo, write_parquet

    names = {"default": None, "all": hpo_dataset_names(), "real": hpo_dataset_names(synthetic=False),
             "synthetic": hpo_dataset_names(real=False)}
    datasets = names[args.datasets] if args.datasets in names else args.datasets.split(",")
    frame = generate_hpo(datasets, families=args.families.split(","), studies=args.studies, trials=args.trials,
                         steps=args.steps, samplers=args.samplers.split(","), max_rows=args.max_rows,
                         jobs=args.jobs, cache=args.cache, progress=_progress(args))
    summary = {"tasks": int(frame["task"].nunique()), "studies": int(frame["study"].nunique()),
               "points": len(frame)}
    if args.out:
        summary["out"] = str(write_parquet(frame, args.out))
    if args.features_out:
        features = hpo_meta_features(frame["task"].unique(), max_rows=args.max_rows)
        summary["features_out"] = str(write_parquet(features, args.features_out))
    if args.ingest:
        with open_store(args) as store:
            summary["ingest"] = ingest_hpo(store, frame, max_rows=args.max_rows, replace=args.replace,
                                           progress=_progress(args)).to_dict()
    if args.json:
        print_json(summary)
    else:
        where = f" to {summary['out']}" if args.out else ""
        stored = " and ingested them" if args.ingest else ""
        print(f"generated {summary['points']} points of {summary['studies']} studies "
              f"({summary['tasks']} tasks){where}{stored}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datasets", help="load learning-curve corpora or generate real curves")
    commands = parser.add_subparsers(dest="datasets_command", metavar="COMMAND")
    commands.required = True

    ingest = commands.add_parser("ingest", help="ingest a learning-curve source into the store")
    sources = ingest.add_subparsers(dest="source_kind", metavar="SOURCE")
    sources.required = True

    lcdb = sources.add_parser("lcdb", help="LCDB (Mohr et al. 2022), from the lcdb package or its PyPI sdist")
    lcdb.add_argument("--metric", default="accuracy", choices=["accuracy", "auc", "f1", "logloss"])
    lcdb.add_argument("--tasks", type=_positive, help="only the first N datasets (by OpenML id)")
    lcdb.add_argument("--seeds", type=_positive, help="only the first K (outer, inner) seed pairs per dataset")
    lcdb.add_argument("--source", metavar="PATH", help="the lcdb package folder or lcdb-0.1.0.tar.gz")
    lcdb.add_argument("--no-download", action="store_true",
                      help="fail instead of downloading the 68 MB sdist from PyPI when LCDB is not found")
    lcdb.add_argument("--replace", action="store_true", help="replace studies whose content changed")
    add_json_flag(lcdb)
    lcdb.set_defaults(handler=_ingest_lcdb)

    ray = sources.add_parser("raytune", help="a Ray Tune experiment directory (one study)")
    ray.add_argument("directory", metavar="DIR")
    ray.add_argument("--metric", required=True, help="the reported column to record")
    ray.add_argument("--direction", required=True, choices=["maximize", "minimize"])
    ray.add_argument("--task", help="task id (default raytune/<DIR name>/<metric>)")
    ray.add_argument("--study", help="study id (default raytune/<DIR name>)")
    ray.add_argument("--replace", action="store_true", help="replace the study if its content changed")
    add_json_flag(ray)
    ray.set_defaults(handler=_ingest_raytune)

    bundled = sources.add_parser("bundled", help="the real sklearn training curves shipped with policy-store")
    bundled.add_argument("--replace", action="store_true", help="replace studies whose content changed")
    add_json_flag(bundled)
    bundled.set_defaults(handler=_ingest_bundled)

    hpo_bundled = sources.add_parser("hpo-bundled", help="the bundled slice of the real HPO corpus")
    hpo_bundled.add_argument("--replace", action="store_true", help="replace studies whose content changed")
    add_json_flag(hpo_bundled)
    hpo_bundled.set_defaults(handler=_ingest_hpo_bundled)

    hpo_file = sources.add_parser("hpo", help="an HPO corpus file written by generate-hpo --out, with its "
                                  "tasks' meta-features")
    hpo_file.add_argument("file", metavar="FILE.parquet")
    hpo_file.add_argument("--max-rows", type=_positive, default=1000, help="the --max-rows it was generated with")
    hpo_file.add_argument("--replace", action="store_true", help="replace studies whose content changed")
    add_json_flag(hpo_file)
    hpo_file.set_defaults(handler=_ingest_hpo_file)

    gen = commands.add_parser("generate", help="train sklearn models with random hyperparameters, record curves")
    gen.add_argument("--dataset", default="iris",
                     help="iris, digits, breast_cancer, wine or a CSV path; comma-separated for several")
    gen.add_argument("--target", help="class column of a CSV dataset")
    gen.add_argument("--models", default="sgd,mlp,gb", help="comma-separated: sgd, mlp, gb")
    gen.add_argument("--trials", type=_positive, default=20, help="random configurations per model")
    gen.add_argument("--steps", type=_positive, default=30, help="epochs or boosting stages per trial")
    gen.add_argument("--seed", type=int, default=0, help="seeds split, hyperparameters and models")
    gen.add_argument("--jobs", type=_positive, default=1, help="parallel worker processes")
    gen.add_argument("--out", metavar="FILE.parquet", help="write the curves here instead of the store")
    gen.add_argument("--replace", action="store_true", help="replace studies whose content changed")
    add_json_flag(gen)
    gen.set_defaults(handler=_generate)

    hpo = commands.add_parser("generate-hpo", help="run real random/TPE hyperparameter searches, record their "
                              "per-epoch curves (resumable, cached per study)")
    hpo.add_argument("--datasets", default="default",
                     help="default (40 real, 4 synthetic), all, real, synthetic or comma-separated names "
                     "(policy_store.datasets.hpo_dataset_names)")
    hpo.add_argument("--families", default="sgd,mlp,hgb,forest,lightgbm,xgboost",
                     help="comma-separated: sgd, mlp, hgb, forest, lightgbm, xgboost")
    hpo.add_argument("--studies", type=_positive, default=3, help="studies (seeds) per task")
    hpo.add_argument("--trials", type=_positive, default=16, help="configurations per study")
    hpo.add_argument("--steps", type=_positive, default=12, help="epochs or warm-started increments per trial")
    hpo.add_argument("--samplers", default="random,tpe", help="study k uses the k-th of these, cyclically")
    hpo.add_argument("--max-rows", type=_positive, default=1000, help="rows kept per dataset before the split")
    hpo.add_argument("--jobs", type=_positive, default=1, help="parallel worker processes")
    hpo.add_argument("--cache", metavar="DIR", help="one Parquet file per study here; a rerun skips finished ones")
    hpo.add_argument("--out", metavar="FILE.parquet", help="write the curves here")
    hpo.add_argument("--features-out", metavar="FILE.parquet", help="write the tasks' meta-features here")
    hpo.add_argument("--ingest", action="store_true", help="ingest the curves and meta-features into the store")
    hpo.add_argument("--replace", action="store_true", help="replace studies whose content changed")
    add_json_flag(hpo)
    hpo.set_defaults(handler=_generate_hpo)
