"""Random argv for every command of the real parser: exit 0, 1 (one ``Error:`` line, store unchanged) or 2."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_store.cli.main import build_parser
from tests.reliability import fuzzing as fz

COMMANDS = {k: v for k, v in fz.leaf_commands(build_parser()).items() if k not in fz.SKIPPED_COMMANDS}


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-fuzz")
    return fz.CliPaths(root, fz.template_store(tmp_path_factory.mktemp("template") / "template.duckdb"))


def test_every_command_but_the_skipped_ones_is_fuzzed():
    assert len(COMMANDS) >= 24 and all(c in fz.leaf_commands(build_parser()) for c in fz.SKIPPED_COMMANDS)


@settings(max_examples=fz.EXAMPLES * 3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_command_lines_end_cleanly(paths, data):
    fz.check_cli(data.draw(fz.cli_argvs(COMMANDS, paths)), paths)


# -- regressions found by the fuzzer: each was a traceback (or a database error naming no field) ---------
@pytest.mark.parametrize(("argv", "field"), [
    (["evaluate", "median-w", "--orders", "100000000000"], "orders"),  # was a MemoryError
    (["drift", "events", "--limit", "-1"], "limit"),  # was "Binder Error: LIMIT/OFFSET cannot be negative"
    (["drift", "jobs", "--limit", str(2**70)], "limit"),  # was an INT128 conversion error
    (["drift", "check", "--rule", "median-w", "--window", str(2**64)], "size"),
    (["rules", "add", "x", "--spec", "[" * 300], None),  # a file name too long for is_file()
    (["recommend", "--meta-features", "[" * 300], "meta-features"),
    (["recommend", "--curves", "missing.csv"], "curves"),  # was a FileNotFoundError
    (["recommend", "--curves", "dir"], "curves"),
    (["recommend", "--curves", "latin1.csv"], "curves"),
    *(([*command, "[" * 300, *rest], None) for command, rest in (  # each was "OSError: File name too long"
        (["absorb"], []), (["copy"], ["x.duckdb"]), (["report", "--out"], []),
        (["datasets", "ingest", "raytune"], ["--metric", "m", "--direction", "minimize"]))),
    (["recommend", "--meta-features", '{"NumberOfInstances": ' + "9" * 5000 + "}"], "meta-features"),
    (["recommend", "--meta-features", '{"NumberOfInstances": ' + "9" * 400 + "}"], "NumberOfInstances"),
])
def test_hostile_arguments_end_in_one_error_line(paths, argv, field):
    assert fz.check_cli(argv, paths) == "rejected"
    code, _, err = fz.run_cli(["--store", str(paths.fresh_store()), *argv], paths.root)
    assert code == 1 and (field is None or f"field '{field}'" in err), err
