"""``policy-store meta-features DATA.csv --target y``: OpenML qualities of a dataset."""

from __future__ import annotations

import argparse

from policy_store.cli._common import add_json_flag, open_store, print_json, print_table


def _meta_features(args: argparse.Namespace) -> int:
    # Imported here so that `policy-store --help` does not pay for scikit-learn.
    from policy_store.meta.features.dataset import meta_features_from_csv
    from policy_store.meta.features.store import save_meta_features

    features = meta_features_from_csv(args.data, args.target, seed=args.seed,
                                      landmarkers=not args.no_landmarkers)
    if args.task:
        with open_store(args) as store:
            save_meta_features(store, args.task, features, source="dataset")
    if args.json:
        print_json({"task": args.task, "features": features})
    else:
        print_table([{"feature": k, "value": v} for k, v in features.items()])
        if args.task:
            print(f"saved {len(features)} meta-features of task {args.task!r} (source 'dataset')")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "meta-features", help="compute a dataset's meta-features (OpenML qualities, as in LCDB)"
    )
    parser.add_argument("data", metavar="DATA.csv", help="CSV with a header row; '?' marks a missing value")
    parser.add_argument("--target", required=True, help="the class column")
    parser.add_argument("--seed", type=int, default=0, help="seed of the landmarkers' cross-validation")
    parser.add_argument("--no-landmarkers", action="store_true", help="skip the cross-validated landmarkers")
    parser.add_argument("--task", help="also save the features in the store as this task's")
    add_json_flag(parser)
    parser.set_defaults(handler=_meta_features)
