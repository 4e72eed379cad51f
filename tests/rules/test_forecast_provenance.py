"""A ``forecast`` rule names the forecaster its decisions came from (``params.model``), and is refused wherever it
would decide with another one: replay, evaluate (CLI), StorePruner, plain Optuna."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from policy_store.meta.forecast import shipped_manifest, shipped_model_id

from policy_store.cli.main import main
from policy_store.curves import StudyCurves
from policy_store.errors import ForecasterMismatchError, InvalidSpecError
from policy_store.ingest import ingest_frame
from policy_store.integrations import StorePruner
from policy_store.replay import replay_study
from policy_store.rules import RuleSpec, add_rule_version, get_rule_version

OTHER = "0123456789ab"   # a forecaster version that is not the installed one


def _frame(direction: str = "minimize"):
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for t in range(8):
        final = rng.uniform(0.3, 1.0)
        for s in range(10):
            rows.append({"task": "t", "study": "s", "trial": t, "step": s, "direction": direction,
                         "value": final + (1.6 - final) * np.exp(-0.3 * s) + rng.normal(0, 0.02)})
    return pd.DataFrame(rows)


def test_a_spec_records_the_installed_model_and_the_model_is_part_of_its_identity(store):
    installed = shipped_model_id()
    assert shipped_manifest()["sha256"]["forecaster.npz"].startswith(installed) and len(installed) == 12
    spec = RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.1}})
    assert spec.params["model"] == installed
    assert RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.1, "model": installed}}) == spec
    assert RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.1, "model": OTHER}}).spec_hash != \
        spec.spec_hash
    v = add_rule_version(store, "fc", {"strategy": "forecast", "params": {"alpha": 0.1}}, created_by="test")
    stored = get_rule_version(store, "fc")
    assert json.loads(stored.spec.canonical_json())["params"]["model"] == installed
    assert stored.spec_hash == v.spec_hash == spec.spec_hash


@pytest.mark.parametrize("model", ["0123", "0123456789AB", 12, "0123456789abcdef"])
def test_a_malformed_model_is_an_invalid_spec(model):
    with pytest.raises(InvalidSpecError, match="forecaster version") as e:
        RuleSpec.parse({"strategy": "forecast", "params": {"model": model}})
    assert e.value.field == "params.model"


def test_replay_and_live_refuse_a_rule_of_another_model(store, tmp_path):
    spec = RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.2, "model": OTHER}})
    c = StudyCurves.from_frame(_frame(), study="s", direction="minimize", task="t")
    with pytest.raises(ForecasterMismatchError, match=f"forecaster {OTHER}, the installed one is "
                                                      f"{shipped_model_id()}") as e:
        replay_study(c, [spec])
    assert e.value.field == "params.model"
    add_rule_version(store, "old", spec.to_dict(), created_by="test")
    with pytest.raises(ForecasterMismatchError):
        StorePruner(store, rule="old", spool_dir=tmp_path / "spool")
    with pytest.raises(ForecasterMismatchError):
        spec.to_optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    current = RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.2}})
    (r,) = replay_study(c, [current])                      # the installed model's rule replays
    assert r.prune_col.shape == (c.n_trials,)


def test_evaluate_cli_refuses_a_stale_forecast_rule_and_leaves_the_store_as_it_was(tmp_path, capsys):
    from policy_store import PolicyStore

    db = tmp_path / "s.duckdb"
    with PolicyStore(db) as s:
        ingest_frame(s, _frame())
        add_rule_version(s, "old", {"strategy": "forecast", "params": {"model": OTHER}}, created_by="test")
        before = s.row_counts()
    code = main(["--store", str(db), "evaluate", "old", "--orders", "1"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("Error:") == 1 and "Traceback" not in err and OTHER in err, err
    with PolicyStore(db) as s:
        assert s.row_counts() == before
    add_rule_version_cmd = ["--store", str(db), "rules", "add", "old", "--spec", '{"strategy": "forecast"}',
                            "--reason", "re-made with the installed forecaster"]
    assert main(add_rule_version_cmd) == 0
    capsys.readouterr()
    assert main(["--store", str(db), "evaluate", "old", "--orders", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcomes"] >= 1


def test_an_unknown_parameter_names_model_among_the_allowed():
    with pytest.raises(InvalidSpecError,
                       match=r"allowed: \['alpha', 'calibrated_only', 'model', 'n_startup_trials'") as e:
        RuleSpec.parse({"strategy": "forecast", "params": {"modle": "0123456789ab"}})
    assert e.value.field == "params.modle"


def test_calibrated_only_is_on_unless_turned_off_and_is_a_boolean():
    on = RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.1}})
    assert on.params["calibrated_only"] is True
    assert RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.1, "calibrated_only": True}}) == on
    off = RuleSpec.parse({"strategy": "forecast", "params": {"alpha": 0.1, "calibrated_only": False}})
    assert off.spec_hash != on.spec_hash
    for bad in (1, "yes", None):
        with pytest.raises(InvalidSpecError, match="must be true or false") as e:
            RuleSpec.parse({"strategy": "forecast", "params": {"calibrated_only": bad}})
        assert e.value.field == "params.calibrated_only"
