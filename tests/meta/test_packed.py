"""Issue 19: the shipped knowledge's model packed as arrays predicts the same bits, caches atomically, loads light."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from policy_store.meta.learner.knowledge import FOREST, knowledge_dir, load_knowledge, shipped_model, write_forest
from policy_store.meta.learner.model import fit_meta_model
from policy_store.meta.learner.packed import FORMAT, PackedLearner
from policy_store.meta.recommend import recommend

from policy_store import PolicyStore


@pytest.fixture(scope="module")
def shipped_data():
    return load_knowledge().data


@pytest.fixture
def small_knowledge(tmp_path, monkeypatch):
    """The shipped knowledge's files with a 4-tree forest in the manifest (cheap to fit), and an empty cache."""
    folder = tmp_path / "knowledge"
    shutil.copytree(knowledge_dir(), folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    # Without the shipped forest (an older build), the forest the manifest names is fitted and cached.
    (folder / FOREST).unlink()
    sha = {k: v for k, v in manifest["sha256"].items() if k != FOREST}
    (folder / "manifest.json").write_text(json.dumps({**manifest, "trees": 4, "sha256": sha}))
    monkeypatch.setenv("POLICY_STORE_CACHE", str(tmp_path / "cache"))
    return folder


def test_packed_forest_predicts_the_same_bits_as_the_sklearn_forest(shipped_data):
    model = fit_meta_model(shipped_data, n_estimators=6, random_state=3)
    packed = PackedLearner.from_learner(model.learner)
    X = shipped_data.features.iloc[::7].copy()
    X.iloc[::2, ::3] = np.nan                                  # unknown meta-features take the missing-value branch
    X.iloc[1::4, 1::5] = X.iloc[1::4, 1::5] * 1.37 + 0.1      # values between the training thresholds
    for a, b in zip(model.learner.predict_outcomes(X), packed.predict_outcomes(X), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    assert np.array_equal(model.learner.predict_trees(X), packed.predict_trees(X))
    for a, b in zip(model.learner.kneighbors(X), packed.kneighbors(X), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(model.learner.predict_prior(X), packed.predict_prior(X))
    assert np.array_equal(model.learner.residual_sd(), packed.residual_sd())
    assert packed.forest.values.nbytes < sum(t.tree_.value.nbytes for t in model.learner.model_.estimators_)


def test_the_shipped_forest_loads_without_a_fit_and_predicts_as_the_fitted_one(small_knowledge, tmp_path):
    from policy_store.meta.learner.knowledge import fit_shipped_model

    manifest = write_forest(load_knowledge(small_knowledge), small_knowledge)     # as the build script does
    assert FOREST in manifest["sha256"] and (small_knowledge / FOREST).stat().st_size < 25e6
    shipped = shipped_model(small_knowledge)
    assert not (tmp_path / "cache" / "knowledge").exists()        # loaded from the package, nothing fitted or cached
    fitted = fit_shipped_model(load_knowledge(small_knowledge))
    X = load_knowledge(small_knowledge).data.features.iloc[::9].copy()
    X.iloc[::2, ::3] = np.nan
    assert np.allclose(shipped.learner.predict_trees(X), fitted.learner.predict_trees(X), rtol=0, atol=1e-12)
    assert np.array_equal(shipped.learner.predict(X), fitted.learner.predict(X))
    assert shipped.calibration.to_dict() == fitted.calibration.to_dict()
    assert shipped.snapshot == fitted.snapshot


def test_threads_fit_the_same_forest(shipped_data):
    one = fit_meta_model(shipped_data, n_estimators=4, random_state=1, n_jobs=1)
    two = fit_meta_model(shipped_data, n_estimators=4, random_state=1, n_jobs=2)
    X = shipped_data.features.iloc[::11]
    assert np.array_equal(one.learner.predict_trees(X), two.learner.predict_trees(X))
    assert np.array_equal(one.learner.residual_sd(), two.learner.residual_sd())


def test_the_recommendation_from_the_packed_model_is_the_fitted_models(store, small_knowledge):
    from policy_store.meta.learner.calibration import Calibration

    k = load_knowledge(small_knowledge)
    fitted = fit_meta_model(k.data, n_estimators=4, random_state=int(k.manifest.get("seed", 0)))
    fitted.calibration = Calibration.from_dict(k.manifest["calibration"])
    packed = shipped_model(small_knowledge)
    assert isinstance(packed.learner, PackedLearner)
    features = {"NumberOfInstances": 2000.0, "NumberOfFeatures": 12.0}
    a = recommend(store, meta_features=features, family="lightgbm", direction="minimize", model=fitted)
    b = recommend(store, meta_features=features, family="lightgbm", direction="minimize", model=packed)
    assert (a.candidate, a.expected, a.neighbours) == (b.candidate, b.expected, b.neighbours)


def test_the_cache_is_keyed_written_whole_and_refitted_when_torn(small_knowledge, tmp_path):
    first = shipped_model(small_knowledge)
    files = sorted((tmp_path / "cache" / "knowledge").iterdir())
    assert len(files) == 1 and files[0].name.endswith(f".packed{FORMAT}.pkl") and "-sklearn" in files[0].name
    X = pd.DataFrame({"NumberOfInstances": [500.0, np.nan]})
    X = X.reindex(columns=first.feature_names)
    again = shipped_model(small_knowledge)                   # from the cache
    assert np.array_equal(first.learner.predict_trees(X), again.learner.predict_trees(X))
    files[0].write_bytes(files[0].read_bytes()[:1000])        # a torn write
    refitted = shipped_model(small_knowledge)
    assert np.array_equal(first.learner.predict_trees(X), refitted.learner.predict_trees(X))
    assert sorted(p.name for p in files[0].parent.iterdir()) == [files[0].name]   # no temporary left behind
    assert files[0].stat().st_size > 1000


def test_a_warm_recommendation_imports_neither_sklearn_nor_scipy(small_knowledge, tmp_path):
    shipped_model(small_knowledge)                             # the cold call fits and caches
    X = np.random.default_rng(0).normal(size=(300, 4))
    data = tmp_path / "new.csv"
    pd.DataFrame(X, columns=list("abcd")).assign(y=(X[:, 0] > 0).astype(int)).to_csv(data, index=False)
    code = ("import sys\n"
            "from policy_store.cli.main import main\n"
            f"code = main(['--store', {str(tmp_path / 's.duckdb')!r}, 'recommend', '--dataset', {str(data)!r}, "
            "'--target', 'y', '--family', 'lightgbm', '--direction', 'minimize'])\n"
            "heavy = sorted(m for m in ('sklearn', 'scipy', 'optuna', 'numba') if m in sys.modules)\n"
            "print('heavy:', heavy)\n"
            "sys.exit(code)\n")
    env = {**os.environ, "POLICY_STORE_KNOWLEDGE": str(small_knowledge)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "model: the knowledge shipped with policy-store" in out.stdout
    assert "heavy: []" in out.stdout
    with PolicyStore(tmp_path / "s.duckdb", read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM recommendations") == 1
