"""Content hashes of studies: stable across row order, library versions and platforms.

A study's hash covers its task, metric, direction and every trial's label, state,
params and point count, then its steps, values and costs in canonical
(trial label, step) order, and their peak memory where a study records any (a study without memory
hashes as it always did). Numbers are hashed as little-endian IEEE bytes with
NaN canonicalised, never as text. In bytes: ``task US metric US direction GS``, then each trial's
``label US state US params US points`` joined by ``RS`` in byte order of the labels (US, RS, GS: ASCII 31, 30,
29; a missing metric or params is empty), then the steps as little-endian int64, values, costs and, where any is
known, ``peak_memory_mb GS`` and the memory, each as little-endian float64. :func:`study_digest` hashes one study
from these parts, so a reader that builds the texts elsewhere (DuckDB, :mod:`policy_store.ingest.engine_load`)
gets the same digests.

>>> import pandas as pd
>>> from policy_store.ingest.longformat import validate_long_frame
>>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": [1, 0], "step": [0, 0], "value": [0.7, 0.5]})
>>> study_hashes(validate_long_frame(frame)) == study_hashes(validate_long_frame(frame.iloc[::-1]))
True
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NUMPY_TYPES = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64, "uint8": np.uint8,
                "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64, "float": np.float32,
                "double": np.float64}


def numbers(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric Arrow column as numpy (NULL as NaN in a float column), without pyarrow's own conversion,
    which imports pandas (0.3 s of a short command such as ``policy-store ingest`` or ``check``).

    >>> numbers(pa.chunked_array([[1.5, None], [2.0]])).tolist(), numbers(pa.array([3, 4], pa.int32())).dtype
    ([1.5, nan, 2.0], dtype('int32'))
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    kind = str(array.type)
    if kind not in _NUMPY_TYPES or (array.null_count and kind not in ("float", "double")):
        return array.to_numpy(zero_copy_only=False)
    buffers, lo, hi = array.buffers(), array.offset, array.offset + len(array)
    values = np.frombuffer(buffers[1], dtype=_NUMPY_TYPES[kind])[lo:hi]
    if array.null_count:
        valid = np.unpackbits(np.frombuffer(buffers[0], dtype=np.uint8), bitorder="little")[lo:hi].astype(bool)
        values = np.where(valid, values, np.nan)
    return values


def _indices(rows: np.ndarray) -> pa.Array:
    """``rows`` as an Arrow int64 array (``pa.array`` imports pandas to look at a numpy array)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows)])


def codes(array: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Dense integer codes of a string column (NULL gets a code too) and the values they stand for.

    >>> c, values = codes(pa.array(["b", "a", "b", None]))
    >>> c.tolist(), values.to_pylist()
    ([0, 1, 0, 2], ['b', 'a', None])
    """
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
        if isinstance(encoded, pa.ChunkedArray):  # pragma: no cover - defensive for older pyarrow
            encoded = encoded.chunk(0)
    return numbers(encoded.indices).astype(np.int64), encoded.dictionary


def _ranks(values: pa.Array) -> np.ndarray:
    """Rank of each dictionary value in byte-wise string order."""
    order = numbers(pc.sort_indices(values))
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values))
    return ranks


def _texts(table: pa.Table, field: str, rows: np.ndarray) -> list[str]:
    return ["" if v is None else v for v in table[field].take(_indices(rows)).to_pylist()]


def study_hashes(canonical: pa.Table) -> dict[str, str]:
    """Map each study of a canonical long table to the sha256 of its content."""
    study, study_values = codes(canonical["study"])
    trial, trial_values = codes(canonical["trial"])
    steps = numbers(canonical["step"])
    order = np.lexsort((steps, _ranks(trial_values)[trial], study))
    study, trial, steps = study[order], trial[order], steps[order]
    values = numbers(canonical["value"])[order]
    costs = numbers(canonical["cost_seconds"])[order]
    memory = (numbers(canonical["peak_memory_mb"])[order]
              if "peak_memory_mb" in canonical.column_names else np.full(len(order), np.nan))

    new_study = np.r_[True, study[1:] != study[:-1]]
    new_trial = new_study | np.r_[True, trial[1:] != trial[:-1]]
    trial_starts = np.flatnonzero(new_trial)
    trial_sizes = np.diff(np.r_[trial_starts, len(order)])
    first_rows = order[trial_starts]
    trial_text = [
        f"{label}\x1f{state}\x1f{params}\x1f{size}"
        for label, state, params, size in zip(
            _texts(canonical, "trial", first_rows),
            _texts(canonical, "state", first_rows),
            _texts(canonical, "params", first_rows),
            trial_sizes.tolist(),
            strict=True,
        )
    ]
    study_starts = np.flatnonzero(new_study)
    header_rows = order[study_starts]
    headers = zip(
        _texts(canonical, "task", header_rows),
        _texts(canonical, "metric", header_rows),
        _texts(canonical, "direction", header_rows),
        strict=True,
    )
    trials_before = np.cumsum(new_trial)[study_starts] - 1  # index of each study's first trial
    bounds = np.r_[study_starts, len(order)]
    trial_bounds = np.r_[trials_before, len(trial_starts)]
    result: dict[str, str] = {}
    for i, (task, metric, direction) in enumerate(headers):
        lo, hi = bounds[i], bounds[i + 1]
        text = f"{task}\x1f{metric}\x1f{direction}\x1d" + "\x1e".join(trial_text[trial_bounds[i] : trial_bounds[i + 1]])
        digest = study_digest(text, steps[lo:hi], values[lo:hi], costs[lo:hi], memory[lo:hi])
        result[study_values[int(study[lo])].as_py()] = digest
    return result


def study_digest(text: str, steps: np.ndarray, values: np.ndarray, costs: np.ndarray, memory: np.ndarray) -> str:
    """The content hash of one study from its header and trial texts and its points in canonical order.

    Parameters
    ----------
    text:
        The study's header and trial texts (module docstring).
    steps, values, costs, memory:
        Its points sorted by trial label (byte order), then step; a missing cost or memory is NaN.

    >>> import pandas as pd
    >>> from policy_store.ingest.longformat import validate_long_frame
    >>> frame = pd.DataFrame({"task": "t", "study": "s", "trial": 0, "step": [0, 1], "value": [0.5, 0.25]})
    >>> text = "t\\x1f\\x1fminimize\\x1d" + "0\\x1fCOMPLETE\\x1f\\x1f2"
    >>> nan = np.full(2, np.nan)
    >>> study_digest(text, np.array([0, 1]), np.array([0.5, 0.25]), nan, nan) == study_hashes(
    ...     validate_long_frame(frame))["s"]
    True
    """
    memory = None if np.isnan(memory).all() else canonical_numbers(memory)
    return canonical_digest(text, steps.astype("<i8"), canonical_numbers(values), canonical_numbers(costs), memory)


def canonical_numbers(values: np.ndarray) -> np.ndarray:
    """Floats as hashed: little-endian float64, every NaN the same NaN.

    >>> canonical_numbers(np.array([1.0, -np.nan])).tobytes() == canonical_numbers(np.array([1.0, np.nan])).tobytes()
    True
    """
    return np.where(np.isnan(values), np.nan, values).astype("<f8", copy=False)


def canonical_digest(text: str, steps: np.ndarray, values: np.ndarray, costs: np.ndarray,
                     memory: np.ndarray | None) -> str:
    """:func:`study_digest` of numbers already canonical (little-endian int64 steps, :func:`canonical_numbers`
    for the rest, ``memory`` None where the study has none), so a caller can convert a whole batch at once."""
    h = hashlib.sha256(text.encode())
    h.update(np.ascontiguousarray(steps))
    h.update(np.ascontiguousarray(values))
    h.update(np.ascontiguousarray(costs))
    if memory is not None:
        h.update(b"peak_memory_mb\x1d")
        h.update(np.ascontiguousarray(memory))
    return h.hexdigest()
