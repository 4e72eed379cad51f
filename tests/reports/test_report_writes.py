"""What `report` writes and where: live-only outcomes, no folder left by a failed report, no symlink swap race."""

from __future__ import annotations

import os

import pytest

from policy_store import InvalidInputError, PolicyStore
from policy_store.cli.main import main
from policy_store.outputs import output_dir, write_file
from policy_store.rules import add_rule_version


def _live_study(store_path: str) -> None:
    """A real Optuna study pruned by a stored rule through StorePruner, finished into the store."""
    optuna = pytest.importorskip("optuna")
    from policy_store.integrations import StorePruner

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with PolicyStore(store_path) as store:
        add_rule_version(store, "median", {"strategy": "median", "params": {"n_startup_trials": 2}}, created_by="t")
    pruner = StorePruner(store_path, task="live-task", rule="median")

    def objective(trial):
        rate = trial.suggest_float("rate", 0.05, 1.0)
        value = 1.0
        for step in range(6):
            value *= 1 - rate / 2
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(study_name="live-1", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(objective, n_trials=12)
    pruner.finish(study)


def test_a_rule_with_only_live_outcomes_is_reported(tmp_path, capsys):
    store_path = str(tmp_path / "s.duckdb")
    _live_study(store_path)
    with PolicyStore(store_path, read_only=True) as store:
        assert store.fetch_dicts("SELECT mode, killed_best FROM outcomes") == [{"mode": "live", "killed_best": None}]
    out = tmp_path / "out"
    assert main(["--store", store_path, "report", "--out", str(out)]) == 0, capsys.readouterr().err
    html = (out / "report.html").read_text()
    assert "median@1: the eventual best trial was pruned in – of 1 replays" in html  # live: no estimate


def test_a_failed_report_leaves_no_folder(report_store, tmp_path, capsys):
    out = tmp_path / "deep" / "out"
    assert main(["--store", str(report_store), "report", "--out", str(out), "--study", "no-such-study"]) == 1
    assert capsys.readouterr().err.startswith("Error: ")
    assert not (tmp_path / "deep").exists()


def test_a_folder_swapped_for_a_symlink_after_the_check_receives_nothing(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    out = output_dir(tmp_path / "out")
    os.rmdir(out)
    out.symlink_to(victim)  # swapped between the check and the write
    with pytest.raises(InvalidInputError, match="symlink"):
        write_file(out, "report.html", "<p>x</p>")
    assert list(victim.iterdir()) == []
    parent = tmp_path / "parent"
    parent.mkdir()
    checked = output_dir(parent / "out")
    os.rmdir(checked)
    os.rmdir(parent)
    parent.symlink_to("/etc")  # a folder on the way swapped for a symlink into a system folder
    with pytest.raises(InvalidInputError):
        write_file(checked, "passwd-report.html", "x")
    assert not os.path.exists("/etc/out/passwd-report.html")


@pytest.mark.parametrize("folder", ["/run/report", "/var/lib/report", "/var", "/root", "/home"])
def test_more_system_folders_are_refused(folder):
    with pytest.raises(InvalidInputError, match="system folder"):
        output_dir(folder, create=False)


def test_a_folder_of_ones_own_under_home_or_var_tmp_is_fine(tmp_path):
    assert output_dir("/root/reports-of-mine", create=False) == output_dir("/root/reports-of-mine", create=False)
    assert output_dir("/var/tmp/reports-of-mine", create=False).name == "reports-of-mine"
