"""LCDB: locating, converting and mapping real LCDB rows (the committed excerpt), and the full load."""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from policy_store.datasets import _lcdb_files as files
from policy_store.datasets import lcdb
from policy_store.meta.features.store import load_meta_features

from policy_store import PolicyStore
from policy_store.errors import InvalidInputError, MissingDependencyError
from policy_store.ingest import ingest_frame

EXCERPT_ROWS = 924


def _sdist(excerpt: Path, tmp_path: Path) -> Path:
    path = tmp_path / files.SDIST_NAME
    with tarfile.open(path, "w:gz") as tar:
        for name in ("database-accuracy.csv", "datasets.csv", "LICENSE.txt"):
            tar.add(excerpt / name, arcname=f"lcdb-0.1.0/lcdb/{name}")
    return path


def test_long_frame_maps_every_row(cache, excerpt):
    raw = lcdb.read_curves("accuracy", source=excerpt)
    source = pd.read_csv(excerpt / "database-accuracy.csv")
    frame = lcdb.long_frame(raw, metric="accuracy", names={3: "kr-vs-kp"})
    assert len(frame) == len(source) == EXCERPT_ROWS
    assert sorted(frame["task"].unique()) == ["lcdb/1441/accuracy", "lcdb/1464/accuracy", "lcdb/3/accuracy"]
    assert frame["study"].nunique() == 6
    assert "lcdb-accuracy/3/0-1" in set(frame["study"])
    assert set(frame["direction"]) == {"maximize"} and set(frame["state"]) == {"COMPLETE"}
    first = frame.iloc[0]
    assert (first["trial"], first["step"], first["value"], first["cost_seconds"]) == ("SVC_linear", 0, 0.6111, 0.0012)
    assert np.isclose(frame["value"].sum(), source["score_valid"].sum())
    assert np.isclose(frame["cost_seconds"].sum(), source["traintime"].sum())
    params = json.loads(frame.loc[frame["task"] == "lcdb/3/accuracy", "params"].iloc[0])
    assert params["dataset"] == "kr-vs-kp" and params["openmlid"] == 3


def test_steps_are_anchor_ranks_per_dataset(cache, excerpt):
    raw = lcdb.read_curves("accuracy", source=excerpt).to_pandas()
    frame = lcdb.long_frame(raw)
    sizes = raw.sort_values(["openmlid", "outer_seed", "inner_seed", "learner", "size_train"])["size_train"]
    for openmlid, group in raw.groupby("openmlid"):
        anchors = sorted(group["size_train"].unique())
        assert anchors[0] == 16
        rows = frame["task"] == f"lcdb/{openmlid}/accuracy"
        expected = sizes[raw.loc[sizes.index, "openmlid"] == openmlid].map({a: i for i, a in enumerate(anchors)})
        assert frame.loc[rows, "step"].tolist() == expected.tolist()


def test_ingest_checks_counts_and_saves_openml_features(cache, excerpt):
    with PolicyStore.memory() as store:
        result = lcdb.ingest(store, metric="accuracy", source=excerpt)
        assert (result.tasks, result.studies, result.points) == (3, 6, EXCERPT_ROWS)
        assert store.row_counts()["curve_points"] == EXCERPT_ROWS
        features = load_meta_features(store, source="openml")
        source = pd.read_csv(excerpt / "database-accuracy.csv")
        first_study = source[(source["outer_seed"] == 0) & (source["inner_seed"] == 0)]
        learners = first_study.groupby("openmlid")["learner"].nunique()  # LCDB lacks some learners' curves
        curves = load_meta_features(store, source="curves")
        assert curves["curve_trials"].tolist() == [learners[1441], learners[1464], learners[3]] == [10, 10, 18]
        # 1441 has no datasets.csv row; dataset 6 is in datasets.csv but not among the curves
        assert list(features.index) == ["lcdb/1464/accuracy", "lcdb/3/accuracy"]
        assert features.loc["lcdb/3/accuracy", "NumberOfInstances"] == 3196
        assert features.loc["lcdb/3/accuracy", "NaiveBayesErrRate"] == pytest.approx(0.1210888610763454)
        assert np.isnan(features.loc["lcdb/3/accuracy", "MeanKurtosisOfNumericAtts"])  # no numeric attribute
        again = lcdb.ingest(store, metric="accuracy", source=excerpt)
        assert len(again.report.unchanged) == 6 and not again.report.added
        assert store.row_counts()["curve_points"] == EXCERPT_ROWS
        # 64 qualities per datasets.csv row, 5 curve features per task
        assert store.row_counts()["meta_features"] == 2 * 64 + 3 * 5


def test_sdist_and_folder_give_the_same_rows(cache, excerpt, tmp_path):
    from_folder = lcdb.read_curves("accuracy", source=excerpt)
    for cached in Path(cache).rglob("*.parquet"):
        cached.unlink()
    from_sdist = lcdb.read_curves("accuracy", source=_sdist(excerpt, tmp_path))
    assert from_sdist.equals(from_folder)
    assert files.source_rows(files.converted("database-accuracy.csv", excerpt)) == EXCERPT_ROWS


def test_selection_of_tasks_and_seeds(cache, excerpt):
    raw = lcdb.read_curves("accuracy", tasks=2, seeds=1, source=excerpt).to_pandas()
    assert sorted(raw["openmlid"].unique()) == [3, 1441]
    assert set(zip(raw["outer_seed"], raw["inner_seed"], strict=True)) == {(0, 0)}


def test_bad_arguments_name_the_field(cache, excerpt, tmp_path):
    with pytest.raises(InvalidInputError) as e:
        lcdb.read_curves("rmse", source=excerpt)
    assert e.value.field == "metric"
    with pytest.raises(InvalidInputError) as e:
        lcdb.read_curves("accuracy", tasks=0, source=excerpt)
    assert e.value.field == "tasks"
    with pytest.raises(InvalidInputError) as e:
        lcdb.read_curves("accuracy", source=tmp_path / "nope.tar.gz")
    assert e.value.field == "source"
    not_tar = tmp_path / "lcdb.tar.gz"
    not_tar.write_text("not an archive")
    with pytest.raises(InvalidInputError, match="neither"):
        lcdb.read_curves("accuracy", source=not_tar)
    with pytest.raises(InvalidInputError) as e:
        lcdb.long_frame(pd.DataFrame({"openmlid": [3]}))
    assert e.value.field == "learner"


def test_nothing_found_without_download_says_what_to_do(cache, monkeypatch):
    monkeypatch.setattr(files.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match="pip install"):
        files.locate(download=False)


@pytest.mark.lcdb
def test_full_accuracy_ingest_under_two_minutes(tmp_path):
    source = files.locate(progress=True)
    started = time.perf_counter()
    with PolicyStore(tmp_path / "lcdb.duckdb") as store:
        result = lcdb.ingest(store, metric="accuracy", source=source)
        counts = store.row_counts()
    seconds = time.perf_counter() - started
    assert result.tasks == counts["tasks"] == 248
    assert result.points == result.source_points == counts["curve_points"] == 1_953_371
    assert counts["studies"] == 7200 and counts["trials"] == 124_029
    assert result.tasks_with_features == 197
    assert seconds < 120, f"full LCDB accuracy ingest took {seconds:.0f} s"


def test_count_mismatch_writes_nothing(cache, excerpt, monkeypatch):
    real_ingest = lcdb.ingest_frame

    def lossy(store, frame, **kwargs):  # a writer that silently drops a point
        return real_ingest(store, frame.iloc[:-1], **kwargs)

    monkeypatch.setattr(lcdb, "ingest_frame", lossy)
    with PolicyStore.memory() as store:
        with pytest.raises(InvalidInputError, match=f"{EXCERPT_ROWS - 1} points") as e:
            lcdb.ingest(store, source=excerpt)
        assert e.value.field == "curve_points"
        counts = store.row_counts()
        assert counts["curve_points"] == counts["studies"] == counts["meta_features"] == 0
    monkeypatch.setattr(files, "source_rows", lambda parquet: EXCERPT_ROWS + 1)
    with PolicyStore.memory() as store, pytest.raises(InvalidInputError, match="its CSV has"):
        lcdb.ingest(store, source=excerpt)


def test_curves_without_scores_are_failed_trials():
    # LCDB's auc and f1 files have whole curves without a score (3 datasets)
    raw = pd.DataFrame({"openmlid": [299] * 4, "learner": ["SVC_linear", "SVC_linear", "SVC_rbf", "SVC_rbf"],
                        "size_train": [16, 23, 16, 23], "outer_seed": 0, "inner_seed": 0,
                        "traintime": [0.0193, 0.0214, 0.01, 0.02], "score_valid": [None, None, 0.7, 0.8]})
    frame = lcdb.long_frame(raw, metric="auc")
    assert frame.groupby("trial")["state"].first().to_dict() == {"SVC_linear": "FAIL", "SVC_rbf": "COMPLETE"}
    assert frame["cost_seconds"].tolist() == [0.0193, 0.0214, 0.01, 0.02]
    with PolicyStore.memory() as store:
        assert ingest_frame(store, frame).points_written == 4


def test_a_cache_folder_with_glob_characters_is_read_literally(excerpt, tmp_path, monkeypatch):
    folder = tmp_path / "cache[1]"
    monkeypatch.setenv("POLICY_STORE_CACHE", str(folder))
    parquet = lcdb.curves_parquet("accuracy", source=excerpt)
    assert parquet.is_relative_to(folder)
    decoy = tmp_path / "cache1" / parquet.relative_to(folder)  # what the path read as a glob matches
    decoy.parent.mkdir(parents=True)
    table = pq.read_table(parquet)
    pq.write_table(table.filter(pc.equal(table["openmlid"], 1464)), decoy)
    raw = lcdb.read_curves("accuracy", tasks=1, seeds=1, source=excerpt)
    assert set(raw.column("openmlid").to_pylist()) == {3}
