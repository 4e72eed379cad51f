"""Hostile files on the store side: each is refused with one `Error:` line, exit 1, and nothing changes.

Corrupt and truncated store files, a store from a newer policy-store, tampered and swapped meta-model
artifacts, spool files with torn or forged lines, and `--out` folders that are files, symlinks or system folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from policy_store.meta.features.store import save_meta_features
from policy_store.meta.learner.store_records import fit_from_store

from policy_store import InvalidInputError, PolicyStore
from policy_store.check import check_store
from policy_store.cli.main import main
from policy_store.ingest import ingest_frame
from policy_store.integrations import SpoolWriter
from policy_store.rules import add_rule_version
from tests.conftest import make_frame


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv: str) -> str:
    """Run the CLI, expect exit 1 with exactly one `Error:` line; return that line."""
    code, out, err = run(capsys, *argv)
    assert code == 1, (out, err)
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("healthy") / "store.duckdb"
    with PolicyStore(path) as store:
        ingest_frame(store, make_frame(n_studies=3, n_trials=6, n_steps=5))
    return path


def unchanged_counts(path: Path) -> dict[str, int]:
    with PolicyStore(path, read_only=True) as store:
        assert check_store(store).ok
        return store.row_counts()


# -- store files ---------------------------------------------------------------------------------------------


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _zeroed_header(data: bytes) -> bytes:
    return bytes(4096) + data[4096:]


def _flipped_blocks(data: bytes) -> bytes:
    # Flip a byte in every 256 KiB block past the headers: checksums catch it at open or at the first read.
    out = bytearray(data)
    for at in range(3 * 4096 + 100, len(out), 1 << 18):
        out[at] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize("damage", [_truncated, _zeroed_header, _flipped_blocks, lambda d: b"",
                                    lambda d: b"task,study\n"], ids=["truncated", "zeroed-header", "flipped",
                                                                      "empty", "text"])
@pytest.mark.parametrize("command", [["check"], ["status"], ["ingest", "CURVES"]])
def test_a_corrupt_or_truncated_store_file_is_a_store_error(healthy, tmp_path, capsys, damage, command):
    path = tmp_path / "store.duckdb"
    path.write_bytes(damage(healthy.read_bytes()))
    before = digest(path)
    curves = tmp_path / "curves.csv"
    make_frame(n_studies=1, task="new").to_csv(curves, index=False)
    argv = [str(curves) if a == "CURVES" else a for a in command]
    line = refused(capsys, "--store", str(path), *argv)
    assert str(path) in line and ("cannot open store" in line or "query failed" in line), line
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.csv", "store.duckdb"]  # no WAL, no lock left


def test_a_store_from_a_newer_version_is_refused_by_every_command(healthy, tmp_path, capsys):
    path = tmp_path / "store.duckdb"
    shutil.copy(healthy, path)
    with PolicyStore(path) as store:
        store.execute("INSERT INTO schema_version VALUES (99, 'from the future', now())")
    before = digest(path)
    for argv in (["check"], ["status"], ["init"], ["rules", "add", "r", "--spec", '{"strategy": "median"}']):
        line = refused(capsys, "--store", str(path), *argv)
        assert "schema version 99" in line and "Upgrade policy-store" in line
    assert digest(path) == before


# -- meta-model artifacts ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, str, Path]:
    """A store with a real fitted meta-model, and a second model's valid artifact kept aside."""
    root = tmp_path_factory.mktemp("fitted")
    path = root / "store.duckdb"
    with PolicyStore(path) as store:
        for i, task in enumerate(("task-a", "task-b", "task-c")):
            ingest_frame(store, make_frame(n_studies=1, n_trials=6, n_steps=5, task=task, seed=i))
            save_meta_features(store, task, {"n_rows": 100.0 * (i + 1)}, "dataset")
        other = fit_from_store(store, orders=1, n_estimators=3, random_state=1, directory=root / "other")
        store.execute("DELETE FROM meta_models")  # its file stays: a valid artifact of another model
        model = fit_from_store(store, orders=1, n_estimators=5, directory=root / "artifacts")
    return path, model.model_id, root / "other" / f"{other.model_id}.pkl"


@pytest.mark.parametrize("how", ["tampered", "swapped", "missing"])
def test_a_tampered_or_swapped_artifact_is_refused_and_reported(fitted, tmp_path, capsys, how):
    source, model_id, other = fitted
    path = tmp_path / "store.duckdb"
    shutil.copy(source, path)
    artifact = tmp_path / f"{model_id}.pkl"
    shutil.copy(source.parent / "artifacts" / artifact.name, artifact)
    with PolicyStore(path) as store:
        store.execute("UPDATE meta_models SET path = ?", [str(artifact)])
        before = store.row_counts()
    if how == "tampered":
        data = artifact.read_bytes()
        artifact.write_bytes(data[:-2] + bytes([data[-2] ^ 1]) + data[-1:])
    elif how == "swapped":
        shutil.copy(other, artifact)
    else:
        artifact.unlink()
    line = refused(capsys, "--store", str(path), "recommend", "--meta-features", '{"n_rows": 150}', "--task", "new")
    assert model_id in line and ("was modified" in line or "cannot read" in line), line
    code, out, _ = run(capsys, "--store", str(path), "check")
    assert code == 1 and out.startswith(f"artifact meta_models[{model_id}]: ")
    with PolicyStore(path, read_only=True) as store:
        assert store.row_counts() == before  # no recommendation recorded


# -- spool files ---------------------------------------------------------------------------------------------


@pytest.fixture
def live_store(healthy, tmp_path) -> tuple[Path, dict]:
    path = tmp_path / "store.duckdb"
    shutil.copy(healthy, path)
    with PolicyStore(path) as store:
        version = add_rule_version(store, "median", {"strategy": "median"}, created_by="test")
    record = {"decision_id": "d" * 64, "study": "live", "trial": "0", "trial_number": 0, "step": 1, "value": 0.5,
              "threshold": 0.4, "ref_size": 3, "verdict": "continue", "reason": "0.5 <= p50 0.4", "rule": "median",
              "version": 1, "spec_hash": version.spec_hash, "decided_at": "2026-01-01T00:00:00"}
    return path, record


def spool(tmp_path: Path, records: list[dict], tail: bytes = b"") -> Path:
    folder = tmp_path / "spool"
    writer = SpoolWriter(folder)
    for r in records:
        writer.append(r)
    writer.close()
    with open(writer.path, "ab") as f:
        f.write(tail)
    return folder


def test_a_torn_last_line_is_skipped_and_the_rest_absorbed(live_store, tmp_path, capsys):
    path, record = live_store
    folder = spool(tmp_path, [record, {**record, "decision_id": "e" * 64, "step": 2}], tail=b'{"decision_id": "f')
    code, out, _ = run(capsys, "--store", str(path), "absorb", str(folder), "--json")
    assert code == 0
    assert {k: json.loads(out)[k] for k in ("inserted", "torn", "bad")} == {"inserted": 2, "torn": 1, "bad": 0}
    unchanged_counts(path)  # the checker finds the store whole


FORGED = {
    "foreign-field": ({"admin": True}, "admin", "not a field of a spooled decision"),
    "wrong-type": ({"trial_number": "7; DROP TABLE decisions"}, "trial_number", "must be int"),
    "bool-for-int": ({"step": True}, "step", "must be int or null"),
    "huge-int": ({"version": 2**40}, "version", "out of range"),
    "non-finite": ({"value": float("inf")}, "value", "must be finite"),
    "unknown-verdict": ({"verdict": "maybe"}, "verdict", "must be one of"),
    "empty-study": ({"study": " "}, "study", "must not be empty"),
    "bad-time": ({"decided_at": "yesterday"}, "decided_at", "naive UTC ISO timestamp"),
    "aware-time": ({"decided_at": "2026-01-01T00:00:00+05:00"}, "decided_at", "naive UTC ISO timestamp"),
    "unknown-version": ({"version": 9}, "rule", "median@9, which the store does not have"),
    "foreign-spec-hash": ({"spec_hash": "0" * 64}, "rule", "with spec hash 000000000000..., but that version has"),
}


def _write_forged(folder: Path, record: dict) -> None:
    # Not through SpoolWriter: it refuses NaN/inf, as every StorePruner does; a forger writes what they like.
    with open(folder / "forger-1-abcdef012345.jsonl", "w") as f:
        f.write(json.dumps(record) + "\n")


@pytest.mark.parametrize("name", list(FORGED))
def test_a_forged_spool_line_is_refused_naming_file_line_and_field(live_store, tmp_path, capsys, name):
    path, record = live_store
    change, field, message = FORGED[name]
    folder = spool(tmp_path, [record])  # a genuine file next to the forged one: it is not absorbed either
    _write_forged(folder, {**record, "decision_id": "f" * 64, **change})
    before = unchanged_counts(path)
    files = sorted(folder.iterdir())
    line = refused(capsys, "--store", str(path), "absorb", str(folder))
    assert "spool file forger-1-abcdef012345.jsonl line 1" in line and f"field {field!r}" in line, line
    assert message in line, line
    assert unchanged_counts(path) == before and sorted(folder.iterdir()) == files  # nothing absorbed or removed


def test_a_reused_decision_id_with_other_content_is_refused(live_store, tmp_path, capsys):
    path, record = live_store
    folder = spool(tmp_path, [record])
    assert run(capsys, "--store", str(path), "absorb", str(folder))[0] == 0
    before = unchanged_counts(path)
    # The same id again with another verdict: rewriting the audit trail, not a re-absorb.
    _write_forged(folder, {**record, "verdict": "prune"})
    line = refused(capsys, "--store", str(path), "absorb", str(folder))
    assert f"decision id {'d' * 64} is already recorded with other content" in line
    # Twice in one spool with different content.
    (folder / "forger-1-abcdef012345.jsonl").unlink()
    other = {**record, "decision_id": "a" * 64}
    spool(tmp_path, [other, {**other, "reason": "forged"}])
    line = refused(capsys, "--store", str(path), "absorb", str(folder))
    assert f"decision id {'a' * 64} appears with different content in the spool" in line
    assert unchanged_counts(path) == before
    (folder / "forger-1-abcdef012345.jsonl").write_text(json.dumps(record) + "\n")  # an exact copy is no forgery


# -- report --out ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["existing-file", "symlink", "/proc", "/etc", "/", "/proc/self/new"])
def test_report_out_must_be_a_folder_of_ones_own(healthy, tmp_path, capsys, target):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    if target == "existing-file":
        out = str(victim)
    elif target == "symlink":
        (tmp_path / "real").mkdir()
        out = str(tmp_path / "link")
        os.symlink(tmp_path / "real", out)
    else:
        out = target
    line = refused(capsys, "--store", str(healthy), "report", "--out", out)
    assert line.startswith(f"Error: field 'out': {out!r} ")
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "real").exists() or not any((tmp_path / "real").iterdir())


def test_a_symlink_planted_in_the_report_folder_is_replaced_not_followed(healthy, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").symlink_to(victim)
    (out / "overview_counts.csv").symlink_to(victim)
    code, _, err = run(capsys, "--store", str(healthy), "report", "--out", str(out))
    assert code == 0, err
    assert victim.read_text() == "keep me"
    assert not (out / "report.html").is_symlink() and (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert not (out / "overview_counts.csv").is_symlink()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind


def test_generated_curves_out_never_writes_through_a_symlink(tmp_path):
    from policy_store.datasets import write_parquet

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "curves.parquet").symlink_to(victim)
    frame = make_frame(n_studies=1)
    written = write_parquet(frame, tmp_path / "curves.parquet")
    assert victim.read_text() == "keep me" and not written.is_symlink()
    assert len(pd.read_parquet(written)) == len(frame)
    with pytest.raises(InvalidInputError, match="is a folder"):
        write_parquet(frame, tmp_path)
    with pytest.raises(InvalidInputError, match="system folder"):
        write_parquet(frame, "/etc/curves.parquet")
