"""The forecaster: the shipped model is the one its manifest hashes; quantiles are monotone and finite on any
curve; a row forecast alone equals the same row in a padded batch (what keeps the live rule and its replay twins)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from policy_store.meta.forecast import (
    MANIFEST,
    MODEL_FILE,
    ForecasterIntegrityError,
    load_forecaster,
    model_dir,
    shipped_manifest,
)
from policy_store.meta.forecast.parametric import ParametricForecaster

from policy_store.errors import InvalidInputError

LEVELS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


def _hostile() -> dict[str, np.ndarray]:
    k = np.arange(12, dtype=float)
    spikes = 0.5 + 0.01 * k
    spikes[[3, 7]] = [40.0, -40.0]
    return {
        "constant": np.full(12, 0.7),
        "zero": np.zeros(12),
        "spikes": spikes,
        "one step": np.where(k < 6, 1.0, 0.2),
        "huge": 1e250 * (1 + np.exp(-k)),
        "tiny": 1e-250 * (1 + np.exp(-k)),
        "negative": -1e6 + 10 * k,
        "alternating": np.where(k % 2 == 0, 1.0, -1.0),
    }


@pytest.fixture(params=["learned", "last-value", "parametric"])
def forecaster(request):
    return ParametricForecaster() if request.param == "parametric" else load_forecaster(request.param)


def _hostile_context(name: str) -> np.ndarray | None:
    """The study's other curves: none, the hostile curves themselves (complete), or some cut short."""
    if name == "none":
        return None
    curves = np.vstack(list(_hostile().values()))
    if name == "hostile":
        return curves
    short = curves.copy()
    short[::2, 3:] = np.nan                            # half of them stopped at step 3
    return np.vstack([short, np.full((1, 12), np.nan)])  # and one reported nothing yet


@pytest.mark.parametrize("context", ["none", "hostile", "cut short"])
@pytest.mark.parametrize("name", sorted(_hostile()))
@pytest.mark.parametrize("maximize", [False, True])
def test_quantiles_monotone_and_finite_on_hostile_curves(forecaster, name, maximize, context):
    curve, ref = _hostile()[name], _hostile_context(context)
    for seen in (1, 2, 5, 11, 12):
        values = np.where(np.arange(12) < seen, curve, np.nan)[None, :]
        q = forecaster.quantiles(values, np.array([seen]), 12, maximize, LEVELS, context=ref)
        assert q.shape == (1, len(LEVELS))
        assert np.isfinite(q).all(), (name, seen, q)
        assert np.all(np.diff(q, axis=1) >= 0), (name, seen, q)
    # the budget reached: the final is the last value
    q = forecaster.quantiles(curve[None, :], np.array([12]), 12, maximize, LEVELS, context=ref)
    assert np.all(q == curve[-1])


@pytest.mark.parametrize("with_context", [False, True])
def test_the_compiled_call_equals_the_numpy_reference(with_context):
    fc = load_forecaster()
    rng = np.random.default_rng(2)
    curves = np.cumsum(rng.normal(0.0, 0.1, (30, 20)), axis=1) + rng.uniform(0, 5, (30, 1))
    seen = rng.integers(1, 21, 30)
    batch = np.where(np.arange(20)[None, :] < seen[:, None], curves, np.nan)
    ref = np.cumsum(rng.normal(0.0, 0.1, (9, 20)), axis=1)
    ref[::3, 7:] = np.nan
    for maximize in (False, True):
        args = (batch, seen, 20, maximize, LEVELS)
        ctx = ref if with_context else None
        assert np.array_equal(fc.quantiles(*args, context=ctx), fc.reference_quantiles(*args, context=ctx))


def test_the_study_context_moves_the_forecast():
    """Others that rose a lot after the prefix's step lift the median; others that stayed flat do not."""
    fc = load_forecaster()
    steps = np.arange(30, dtype=float)
    prefix = (0.6 + 0.1 * (1 - np.exp(-steps / 3)))[None, :6]
    rising = np.vstack([0.55 + d + 0.3 * (1 - np.exp(-steps / 12)) for d in np.linspace(0, 0.1, 6)])
    flat = np.vstack([0.55 + d + 0.1 * (1 - np.exp(-steps / 3)) for d in np.linspace(0, 0.1, 6)])
    up = fc.quantiles(prefix, np.array([6]), 30, True, (0.5,), context=rising)[0, 0]
    still = fc.quantiles(prefix, np.array([6]), 30, True, (0.5,), context=flat)[0, 0]
    assert up > still + 0.05, (up, still)


@pytest.mark.parametrize("with_context", [False, True])
def test_a_row_alone_equals_the_row_in_a_padded_batch(with_context):
    fc = load_forecaster()
    rng = np.random.default_rng(1)
    curves = np.cumsum(rng.normal(0.0, 0.1, (40, 20)), axis=1) + rng.uniform(0, 5, (40, 1))
    seen = rng.integers(1, 20, 40)
    batch = np.where(np.arange(20)[None, :] < seen[:, None], curves, np.nan)
    ctx = np.cumsum(rng.normal(0.0, 0.1, (6, 25)), axis=1) if with_context else None
    together = fc.quantiles(batch, seen, 25, False, LEVELS, context=ctx)
    for i in range(40):
        alone = fc.quantiles(curves[i:i + 1, :seen[i]], seen[i:i + 1], 25, False, LEVELS, context=ctx)
        assert np.array_equal(alone, together[i:i + 1])


def test_the_learned_forecaster_reads_the_curve():
    fc = load_forecaster()
    k = np.arange(6, dtype=float)
    rising, flat = 0.9 - 0.4 * np.exp(-0.3 * k), np.full(6, 0.5)
    q = fc.quantiles(np.vstack([rising, flat]), np.array([6, 6]), 30, True, (0.5,))
    assert q[0, 0] > rising[-1]                        # a rising accuracy curve keeps rising
    assert abs(q[1, 0] - 0.5) < abs(q[0, 0] - rising[-1])


def test_the_shipped_model_is_checked_against_its_manifest(tmp_path):
    manifest = shipped_manifest()
    assert manifest["bytes"] < 2_000_000 and set(manifest["sources"]) == {"lcdb", "hpo", "bundled"}
    copy = tmp_path / "model"
    shutil.copytree(model_dir(), copy)
    assert load_forecaster(folder=str(copy)).name == "learned"
    with open(copy / MODEL_FILE, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ForecasterIntegrityError, match="sha256"):
        shipped_manifest(copy)
    (copy / MANIFEST).unlink()
    with pytest.raises(ForecasterIntegrityError, match="manifest"):
        shipped_manifest(copy)


def test_the_forecaster_stays_on_with_knowledge_off(monkeypatch):
    monkeypatch.setenv("POLICY_STORE_KNOWLEDGE", "off")
    assert load_forecaster().name == "learned"


@pytest.mark.parametrize("values, seen, field, row", [
    (np.array([[1.0, np.nan]]), np.array([2]), "values", 0),
    (np.array([[1.0, 2.0], [1.0, 2.0]]), np.array([2, 0]), "seen", 1),
    (np.array([[1.0, 2.0]]), np.array([3]), "seen", 0),
])
@pytest.mark.parametrize("kind", ["learned", "last-value"])
def test_bad_batches_name_the_trial(values, seen, field, row, kind):
    with pytest.raises(InvalidInputError) as e:
        load_forecaster(kind).quantiles(values, seen, 5, True)
    assert (e.value.field, e.value.row) == (field, row)


@pytest.mark.parametrize("context, row", [(np.array([[1.0, np.nan, 2.0]]), 0),
                                          (np.array([[1.0, 2.0], [np.inf, 1.0]]), 1),
                                          (np.array([1.0, 2.0]), None)])
def test_a_bad_context_names_the_curve(context, row):
    with pytest.raises(InvalidInputError) as e:
        load_forecaster().quantiles(np.array([[1.0, 2.0]]), np.array([2]), 5, True, context=context)
    assert (e.value.field, e.value.row) == ("context", row)


def test_a_model_built_for_other_features_is_refused(tmp_path):
    """A model from before a feature was added would read the wrong columns: refused, naming the rebuild."""
    import json

    copy = tmp_path / "model"
    shutil.copytree(model_dir(), copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["features"] = [f for f in manifest["features"] if not f.startswith("trend_")]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ForecasterIntegrityError, match="build_forecaster"):
        load_forecaster(folder=str(copy))
