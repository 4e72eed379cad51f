"""The corpus's knowledge shipped inside the package: what a fresh install recommends from.

``meta/knowledge/`` (built by :mod:`policy_store.meta.learner.build_knowledge`)
holds the outcome table and the tasks' features as Parquet -- every grid
candidate's mean compute saved, regret and killed-best rate on every corpus task,
the tasks' meta-features and priors -- and ``manifest.json``: the sha256 of each
file, the grid's hash, the corpora's versions and licences, the forest's size and
the safety floor's calibration (measured at build time by grouped
cross-validation, :func:`policy_store.meta.learner.calibration.calibrate`).

:func:`load_knowledge` refuses files whose sha256 differs from the manifest's
(:class:`KnowledgeIntegrityError`). The fitted forest ships too, packed
(``forest.npz``, :func:`write_forest` at build time), so :func:`shipped_model`
loads it with NumPy alone, on the first call as on every other; a knowledge
folder without it (an older build) has its forest fitted once and kept in the
user cache (``~/.cache/policy-store/knowledge``, keyed by the manifest's hash and
scikit-learn's version). The files are checked on every load.
:func:`knowledge_training_data` gives them as training data, which
``policy-store meta fit`` combines with the store's own tasks (weighted in).

>>> k = load_knowledge()
>>> sorted(k.manifest)[:3], k.data.outcome_cube().shape[1:]
(['built_at', 'calibration', 'corpora'], (54, 3))
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from policy_store.errors import PolicyStoreError

if TYPE_CHECKING:
    from policy_store.meta.learner.model import MetaModel
    from policy_store.meta.learner.training_data import TrainingData

FILES = ("features.parquet", "outcomes.parquet", "priors.parquet")
#: The fitted forest, packed (:meth:`~policy_store.meta.learner.packed.PackedLearner.save`); hashed like FILES.
FOREST = "forest.npz"
MANIFEST = "manifest.json"
#: ``POLICY_STORE_KNOWLEDGE=off``: recommend as if no knowledge were shipped (the cold start; the test suite).
OFF = "off"


class KnowledgeIntegrityError(PolicyStoreError):
    """A shipped knowledge file is missing or its sha256 differs from the manifest's."""


@dataclass
class Knowledge:
    """The shipped files, verified: training data (no curves) and the manifest."""

    data: TrainingData
    manifest: dict[str, Any]
    digest: str


def knowledge_dir() -> Path:
    """The folder the package ships its knowledge in (``POLICY_STORE_KNOWLEDGE`` overrides it; see
    :func:`shipped_model` for ``off``)."""
    override = os.environ.get("POLICY_STORE_KNOWLEDGE")
    if override and override != OFF:
        return Path(override)
    return Path(str(resources.files("policy_store.meta").joinpath("knowledge")))


def knowledge_shipped() -> bool:
    """Whether knowledge is shipped (and not turned off with ``POLICY_STORE_KNOWLEDGE=off``)."""
    return os.environ.get("POLICY_STORE_KNOWLEDGE") != OFF and (knowledge_dir() / MANIFEST).exists()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checked_manifest(folder: Path, required: tuple[str, ...], error: type[Exception], *, what: str,
                     rebuild: str) -> dict[str, Any]:
    """``folder``'s ``manifest.json``, after checking the sha256 of every file it lists and of ``required``.

    Shared by the shipped knowledge and the shipped forecaster. Raises ``error``
    naming the file when the manifest is unreadable, a file is missing, or its
    sha256 differs from the manifest's.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.bin").write_bytes(b"x")
    >>> _ = (d / MANIFEST).write_text(json.dumps({"sha256": {"a.bin": sha256_file(d / "a.bin")}}))
    >>> sorted(checked_manifest(d, ("a.bin",), ValueError, what="demo", rebuild="make")["sha256"])
    ['a.bin']
    >>> _ = (d / "a.bin").write_bytes(b"y")
    >>> checked_manifest(d, ("a.bin",), ValueError, what="demo", rebuild="make")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: demo file .../a.bin has sha256 ...: refused (reinstall policy-store or rebuild it with `make`)
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise error(f"no readable {what} manifest in {folder}: {e}; reinstall policy-store") from e
    listed = manifest.get("sha256", {})
    for name in sorted(set(required) | set(listed)):
        path = folder / name
        if not path.is_file():
            raise error(f"{what} file {path} is missing; reinstall policy-store")
        digest = sha256_file(path)
        if digest != listed.get(name):
            raise error(f"{what} file {path} has sha256 {digest[:12]}..., the manifest says "
                        f"{str(listed.get(name))[:12]}...: refused (reinstall policy-store or rebuild it with "
                        f"`{rebuild}`)")
    return manifest


def verified_manifest(folder: str | os.PathLike[str] | None = None) -> tuple[dict[str, Any], str]:
    """The knowledge's manifest and its digest, after checking every file's sha256 and the grid's hash.

    Raises
    ------
    KnowledgeIntegrityError
        The manifest or a file is missing, a file's sha256 differs from the manifest's,
        or the knowledge was built for another candidate grid.
    """
    from policy_store.meta.learner.grid import candidate_grid, grid_hash

    folder = Path(folder) if folder is not None else knowledge_dir()
    manifest = checked_manifest(folder, FILES, KnowledgeIntegrityError, what="knowledge",
                                rebuild="python -m policy_store.meta.learner.build_knowledge")
    if manifest.get("grid_hash") != grid_hash(candidate_grid()):
        raise KnowledgeIntegrityError("the shipped knowledge was built for another candidate grid; rebuild it")
    return manifest, hashlib.sha256(json.dumps(manifest["sha256"], sort_keys=True).encode()).hexdigest()


def load_knowledge(folder: str | os.PathLike[str] | None = None) -> Knowledge:
    """Read and verify the shipped knowledge.

    Raises
    ------
    KnowledgeIntegrityError
        As :func:`verified_manifest`.
    """
    folder = Path(folder) if folder is not None else knowledge_dir()
    return _read_knowledge(folder, *verified_manifest(folder))


def _read_knowledge(folder: Path, manifest: dict[str, Any], digest: str) -> Knowledge:
    """The verified files as training data (:func:`load_knowledge` after its check)."""
    import pandas as pd
    from policy_store.meta.learner.grid import candidate_grid
    from policy_store.meta.learner.training_data import TrainingData

    features = pd.read_parquet(folder / "features.parquet").set_index("task")
    outcomes = pd.read_parquet(folder / "outcomes.parquet")
    priors = pd.read_parquet(folder / "priors.parquet").set_index("task")
    tasks = list(features.index)
    data = TrainingData(candidate_grid(), tuple(range(int(manifest.get("orders", 5)))), features, priors,
                        {t: [] for t in tasks}, outcomes.assign(study="knowledge:" + outcomes["task"], order_seed=0),
                        dict.fromkeys(tasks))
    return Knowledge(data, manifest, digest)


def knowledge_training_data(folder: str | os.PathLike[str] | None = None) -> TrainingData:
    """The shipped knowledge as training data (to combine with a store's own tasks)."""
    return load_knowledge(folder).data


def _cache_path(digest: str) -> Path:
    from importlib.metadata import version

    from policy_store.meta.learner.packed import FORMAT

    from policy_store.cache import cache_dir

    # The fitted trees depend on the knowledge and on scikit-learn's version (read without importing it).
    return (cache_dir() / "knowledge"
            / f"model-{digest[:16]}-sklearn{version('scikit-learn')}.packed{FORMAT}.pkl")


def shipped_model(folder: str | os.PathLike[str] | None = None, *, cache: bool = True) -> MetaModel | None:
    """The meta-model of the shipped knowledge (fitted once, then cached), or None when none is shipped.

    The forest is fitted from the knowledge, packed as plain arrays
    (:class:`~policy_store.meta.learner.packed.PackedLearner`: the same trees, the
    same predictions) and pickled to the cache, written atomically; a warm call
    checks the knowledge's hashes and unpickles it without importing scikit-learn.

    Raises
    ------
    KnowledgeIntegrityError
        The shipped files differ from their manifest.
    """
    if folder is None and os.environ.get("POLICY_STORE_KNOWLEDGE") == OFF:
        return None
    folder = Path(folder) if folder is not None else knowledge_dir()
    if not (folder / MANIFEST).exists():
        return None
    manifest, digest = verified_manifest(folder)
    if FOREST in manifest["sha256"]:
        return _packed_model(folder, manifest, digest)
    path = _cache_path(digest)
    if cache and path.exists():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)  # noqa: S301 -- written by this function under the user's own cache
        except Exception:  # noqa: BLE001 -- a cache from another library version or a torn write: refit
            pass
    model = fit_shipped_model(_read_knowledge(folder, manifest, digest))   # verified above: not hashed twice
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)           # readers see no file or the whole file, never a torn one
    return model


def _packed_model(folder: Path, manifest: dict[str, Any], digest: str) -> MetaModel:
    """The shipped forest as built (:data:`FOREST`): loaded, not fitted; NumPy only."""
    from policy_store.meta.learner.calibration import Calibration
    from policy_store.meta.learner.grid import candidate_grid
    from policy_store.meta.learner.model import MetaModel
    from policy_store.meta.learner.packed import PackedLearner

    learner, snapshot = PackedLearner.load(folder / FOREST)
    return MetaModel(learner, candidate_grid(), {**snapshot, "knowledge": _knowledge_label(manifest, digest)},
                     calibration=Calibration.from_dict(manifest["calibration"]))


def _knowledge_label(manifest: dict[str, Any], digest: str) -> str:
    return f"{manifest['tasks']} tasks of {', '.join(sorted(manifest['corpora']))}, sha256 {digest[:12]}"


def write_forest(k: Knowledge, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Fit the manifest's forest on the knowledge in ``folder``, write it packed as :data:`FOREST` and add its
    sha256 to the manifest (build time; returns the new manifest)."""
    from policy_store.meta.learner.model import fit_meta_model
    from policy_store.meta.learner.packed import PackedLearner

    folder, m = Path(folder), k.manifest
    model = fit_meta_model(k.data, n_estimators=int(m["trees"]), random_state=int(m.get("seed", 0)), n_jobs=-1)
    PackedLearner.from_learner(model.learner).save(folder / FOREST, model.learner, k.data.features.loc[k.data.tasks],
                                                   snapshot=model.snapshot)
    manifest = {**m, "sha256": {**m["sha256"], FOREST: sha256_file(folder / FOREST)}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def fit_shipped_model(k: Knowledge) -> MetaModel:
    """Fit the forest the manifest describes on the knowledge, with its calibration, and pack it."""
    from policy_store.meta.learner.calibration import Calibration
    from policy_store.meta.learner.model import fit_meta_model
    from policy_store.meta.learner.packed import PackedLearner

    m = k.manifest
    # Every core: the trees are the same for any number of threads, and the first recommendation waits for them.
    model = fit_meta_model(k.data, n_estimators=int(m["trees"]), random_state=int(m.get("seed", 0)), n_jobs=-1,
                           snapshot={"knowledge": _knowledge_label(m, k.digest)})
    model.calibration = Calibration.from_dict(m["calibration"])
    model.learner = PackedLearner.from_learner(model.learner)
    return model


def write_knowledge(data: TrainingData, folder: str | os.PathLike[str], *, trees: int, seed: int,
                    corpora: dict[str, Any], calibration: dict[str, Any]) -> dict[str, Any]:
    """Write ``data``'s outcome table, features and priors as Parquet with their manifest; returns the manifest."""
    import pandas as pd
    from policy_store.meta.learner.grid import grid_hash
    from policy_store.meta.learner.training_data import OUTCOMES

    from policy_store.store import utcnow

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tasks = data.tasks
    cube = data.outcome_cube(tasks)
    outcomes = pd.DataFrame({"task": np.repeat(tasks, len(data.grid)),
                             "candidate": np.tile(np.arange(len(data.grid)), len(tasks)),
                             **{o: cube[:, :, i].ravel() for i, o in enumerate(OUTCOMES)}})
    priors = data.priors.loc[tasks, ["prior_mean", "prior_beta"]].copy()
    priors["direction"] = [data.curves[t][0].direction if data.curves.get(t) else data.priors.loc[t, "direction"]
                           for t in tasks]
    frames = {"features.parquet": data.features.loc[tasks].astype(float).reset_index(),
              "outcomes.parquet": outcomes, "priors.parquet": priors.reset_index()}
    for name, frame in frames.items():
        frame.to_parquet(folder / name, index=False, compression="zstd")
    manifest = {"built_at": utcnow().isoformat(timespec="seconds"), "tasks": len(tasks), "orders": len(data.orders),
                "grid_hash": grid_hash(data.grid), "trees": trees, "seed": seed, "corpora": corpora,
                "calibration": calibration, "sha256": {n: sha256_file(folder / n) for n in FILES}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest
