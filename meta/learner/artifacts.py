"""Model artifacts: a pickled file whose sha256 is recorded in the store.

Saving writes the pickle, hashes the bytes written and records path, hash,
parameters, training snapshot and evaluation in ``meta_models``; the model id
is derived from the hash. Loading reads the file's bytes once, checks their
sha256 against the store *before* unpickling them, and unpickles those same
bytes: a modified (or swapped) file raises :class:`ArtifactIntegrityError` and is
never unpickled. Verified models are cached in the process by model id (the id is
derived from the content's hash, so an id always names the same bytes).

>>> import tempfile
>>> from policy_store import PolicyStore
>>> with PolicyStore.memory() as store, tempfile.TemporaryDirectory() as d:
...     mid = save_artifact(store, {"w": [1, 2]}, directory=d)
...     load_artifact(store, mid)
{'w': [1, 2]}
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

from policy_store.errors import ArtifactIntegrityError, NotFoundError
from policy_store.outputs import output_dir, write_file
from policy_store.store import PolicyStore, utcnow

#: Folder (beside the store file) where artifacts go by default; git-ignored.
ARTIFACT_DIR = "policy-store-artifacts"
_CACHE: dict[str, Any] = {}


def default_directory(store: PolicyStore) -> Path:
    """``policy-store-artifacts/`` in the store's files folder (:meth:`PolicyStore.files_dir`).

    Beside the store file; in the working directory for an in-memory store; under a DuckLake's data path,
    which every host of the lake reaches (its location is no path to put files beside).
    """
    return Path(store.files_dir()) / ARTIFACT_DIR


def save_artifact(store: PolicyStore, obj: Any, *, directory: str | os.PathLike[str] | None = None,
                  params: dict[str, Any] | None = None, training_snapshot: dict[str, Any] | None = None,
                  evaluation: dict[str, Any] | None = None) -> str:
    """Pickle ``obj`` to a file and record it in ``meta_models``; returns the model id.

    The id is ``meta-<first 16 hex digits of the sha256>``; saving identical bytes
    twice records one row.
    """
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest()
    model_id = f"meta-{digest[:16]}"
    folder = output_dir(directory if directory is not None else default_directory(store), field="directory")
    path = write_file(folder, f"{model_id}.pkl", payload).resolve()
    row = [model_id, str(path), digest, json.dumps(params or {}, sort_keys=True, default=str),
           json.dumps(training_snapshot or {}, sort_keys=True, default=str),
           json.dumps(evaluation or {}, sort_keys=True, default=str)]

    def unit(s: PolicyStore) -> None:
        # The file above is written once, outside: identical bytes under a content-derived name, so a re-run
        # of this unit (a commit conflict on a lake) has nothing to redo there.
        s.fence()  # two hosts saving the same model at once: the later commit re-runs and finds the row
        if not s.scalar("SELECT count(*) FROM meta_models WHERE model_id = ?", [model_id]):
            s.execute("INSERT INTO meta_models VALUES (?, ?, ?, ?, ?, ?, ?)", [*row, utcnow()])

    store.run_atomic(unit)
    return model_id


def latest_model_id(store: PolicyStore) -> str | None:
    """The most recently saved model's id, or None when the store has none."""
    return store.scalar("SELECT model_id FROM meta_models ORDER BY created_at DESC, model_id LIMIT 1")


def model_record(store: PolicyStore, model_id: str) -> dict[str, Any]:
    """The ``meta_models`` row of ``model_id`` with its JSON columns decoded."""
    rows = store.fetch_dicts("SELECT * FROM meta_models WHERE model_id = ?", [model_id])
    if not rows:
        raise NotFoundError(f"no meta-model {model_id!r} in the store; fit one with `policy-store meta fit`")
    row = rows[0]
    for key in ("params", "training_snapshot", "evaluation"):
        row[key] = json.loads(row[key]) if row[key] else {}
    return row


def load_artifact(store: PolicyStore, model_id: str | None = None) -> Any:
    """Load a model after checking its file against the recorded sha256.

    Raises
    ------
    NotFoundError
        No such model (or none at all when ``model_id`` is None).
    ArtifactIntegrityError
        The file is missing or its bytes do not hash to the recorded sha256.
    """
    model_id = model_id or latest_model_id(store)
    if model_id is None:
        raise NotFoundError("the store has no meta-model; fit one with `policy-store meta fit`")
    if model_id in _CACHE:
        return _CACHE[model_id]
    row = model_record(store, model_id)
    try:
        payload = Path(row["path"]).read_bytes()
    except OSError as e:
        raise ArtifactIntegrityError(f"cannot read the artifact of {model_id!r} at {row['path']!r}: {e}; "
                                     "refit with `policy-store meta fit`") from e
    actual = hashlib.sha256(payload).hexdigest()
    if actual != row["sha256"]:
        raise ArtifactIntegrityError(
            f"artifact {row['path']!r} of model {model_id!r} has sha256 {actual[:16]}..., but the store "
            f"recorded {row['sha256'][:16]}...; the file was modified, so it was not loaded. "
            "Restore the original file or refit with `policy-store meta fit`.")
    obj = pickle.loads(payload)  # noqa: S301 - the bytes were verified against the store's sha256 above
    _CACHE[model_id] = obj
    return obj
