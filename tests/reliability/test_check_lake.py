"""`policy-store check` on a DuckLake, and passwords kept out of every message of the commands that open one."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from policy_store.drift.jobs import start_job
from policy_store.meta.learner.artifacts import save_artifact

from policy_store import PolicyStore
from policy_store.check import check_store
from policy_store.cli.main import main
from policy_store.ingest import ingest_frame
from policy_store.locks import _ADVISORY_NAMESPACE, _advisory_key
from policy_store.rules import add_rule_version
from tests.conftest import make_frame
from tests.lake import conftest as _lake

# The lake tests' fixtures: a private PostgreSQL server (one per session) and fresh lakes cloned from a template.
postgres, lake_template, new_lake, PASSWORD = _lake.postgres, _lake.lake_template, _lake.new_lake, _lake.PASSWORD

pytestmark = pytest.mark.lake


@pytest.mark.slow  # one lake per kind of damage
def test_check_on_a_lake_passes_then_finds_damage(new_lake, postgres):
    lake = new_lake()
    with PolicyStore(lake) as store:
        ingest_frame(store, make_frame(n_studies=2, n_trials=5, n_steps=4))
        add_rule_version(store, "median", {"strategy": "median"}, created_by="ann")
        save_artifact(store, {"w": [1]})
        (path,) = store.execute("SELECT path FROM meta_models").fetchone()
        assert Path(path).parent.parent == Path(store.files_dir())  # under the lake's data path, not the cwd
        job = start_job(store, "recalibrate")
        report = check_store(store)
        assert report.ok, [v.line() for v in report.violations]
        assert report.checked["points"] == 40 and report.checked["artifacts"] == 1
        assert report.abandoned_jobs == [job.job_id]  # nobody holds its advisory lock
        # Another host holds the lock: the job is alive there.
        dbname = lake.split("dbname=")[1].split()[0]
        with psycopg.connect(f"dbname={dbname} host={postgres.socket_dir} port={postgres.port} user=postgres",
                             autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s, %s)", (_ADVISORY_NAMESPACE, _advisory_key("recalibrate")))
            assert check_store(store).abandoned_jobs == []
        store.execute("UPDATE curve_points SET value = value * 2 WHERE step = 1")
        store.execute("INSERT INTO rule_versions SELECT * FROM rule_versions")
        store.execute("UPDATE rule_versions SET job_id = ?", [job.job_id])  # the dead job's work, committed
        found = {(v.invariant, v.table) for v in check_store(store).violations}
    assert found == {("content-hash", "studies"), ("duplicate-key", "rule_versions"), ("job", "jobs")}


def _tcp(postgres, password: str, *, port: int | None = None, dbname: str = "lake_template") -> str:
    return f"ducklake:postgresql://postgres:{password}@127.0.0.1:{port or postgres.port}/{dbname}"


@pytest.mark.parametrize("case", ["wrong-password", "wrong-server", "no-such-db"])
@pytest.mark.parametrize("argv", [["check"], ["status", "--json"], ["report", "--out", "OUT"], ["copy", "SRC", "OUT"]])
def test_no_password_in_any_error_of_a_lake_that_cannot_be_opened(postgres, lake_template, tmp_path, capsys, case,
                                                                   argv):
    secret = "Pw-" + case + "-7f3a"  # a wrong password, sent to the server anyway
    location = {"wrong-password": _tcp(postgres, secret), "wrong-server": _tcp(postgres, secret, port=1),
                "no-such-db": _tcp(postgres, PASSWORD, dbname="nope")}[case]
    secret = PASSWORD if case == "no-such-db" else secret
    code = main(["--store", location, *[{"OUT": str(tmp_path / "out"), "SRC": location}.get(a, a) for a in argv]])
    out, err = capsys.readouterr()
    assert code == 1 and err.startswith("Error: cannot open store 'ducklake:postgresql://postgres:***@")
    assert secret not in out + err and not (tmp_path / "out").exists()


def test_no_password_in_the_output_of_a_lake_that_opens(postgres, lake_template, capsys):
    location = _tcp(postgres, PASSWORD)
    assert main(["--store", location, "check", "--json"]) == 0
    payload = capsys.readouterr().out
    assert json.loads(payload)["ok"] and PASSWORD not in payload
    assert main(["--store", location, "status"]) == 0
    assert PASSWORD not in capsys.readouterr().out
