"""Hostile-input strategies and their checks, shared by tests/reliability/test_fuzz_*.py and
benchmarks/reliability_fuzz.py (the campaign runs the same checks with many more examples).

Each ``check_*`` function feeds one drawn input to one entry point and returns ``"accepted"`` or
``"rejected"``. A rejection must be a typed :class:`PolicyStoreError` that names the field (and row where
there is one) and leaves the store's content exactly as it was; an acceptance must round-trip. Anything
else (an unhandled exception, a moved store, a second ``Error:`` line) raises ``AssertionError`` or
propagates, which Hypothesis reports as a failure with the shrunk input.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import assume
from hypothesis import strategies as st

from policy_store import PolicyStore
from policy_store.errors import InvalidInputError, PolicyStoreError, StudyConflictError
from policy_store.ingest import COLUMNS, ingest_file, ingest_frame, read_long_file, validate_long_frame

EXAMPLES = int(os.environ.get("POLICY_STORE_FUZZ_EXAMPLES", "40"))
"""Examples per fuzz test in the default suite (the campaign, benchmarks/reliability_fuzz.py, runs thousands)."""

# -- hostile text --------------------------------------------------------------------------------------
HOSTILE_NAMES = (
    "'); DROP TABLE rules;--",
    "x' OR '1'='1",
    'a"; DELETE FROM studies; --',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)',
    "=HYPERLINK(\"http://evil.example\",\"click\")",
    "+1+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "%s%n%x",
    "../../etc/passwd",
    "日本語のタスク",
    "emoji 💥 task",
    "RTL \u202eevil",
    "zero\u200bwidth",
    "a" * 300,
    "trailing space ",
    "semi;colon,comma|pipe",
    "back\\slash",
    "&amp;&lt;&gt;",
)
CONTROL_NAMES = ("tab\there", "new\nline", "esc\x1b[2Jape", "nul\x00byte", "bell\x07", "del\x7f", "c1\x9b31m")
"""Names that must be refused (control characters)."""

names = st.one_of(
    st.sampled_from(HOSTILE_NAMES),
    st.sampled_from(CONTROL_NAMES),
    st.text(min_size=0, max_size=12),
    st.sampled_from(["", " ", "0", "007", "-1", "1e3", "nan", "None", "null", "true"]),
)
"""Labels of every kind: SQL- and HTML-looking, unicode, control characters, empty, numeric-looking."""

printable_names = st.one_of(st.sampled_from(HOSTILE_NAMES),
                            st.text(min_size=1, max_size=12).filter(lambda s: s.strip() and s.isprintable()))
"""Names the store accepts (no control characters, not blank)."""

HUGE_INTS = (2**31, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63), -1)
numbers = st.one_of(
    st.integers(-5, 20),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1.5, -0.0, 1e308, -1e308, 5e-324]),
)
json_scalars = st.one_of(st.none(), st.booleans(), numbers, names)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=4)), max_leaves=12)
"""Arbitrary JSON-like values (NaN/inf and ints beyond 64 bits included)."""


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


@st.composite
def json_texts(draw: st.DrawFn, value: st.SearchStrategy[Any] = json_values) -> str:
    """JSON text of a value, sometimes mangled: truncated, a key repeated, deep nesting, a 5000-digit number."""
    text = dumps(draw(value))
    kind = draw(st.sampled_from(["plain", "plain", "truncate", "repeat", "deep", "bigint", "garbage"]))
    if kind == "truncate" and len(text) > 1:
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif kind == "repeat" and text.startswith("{") and text != "{}":
        first = text[1:].split(",")[0].rstrip("}")
        text = "{" + first + ", " + text[1:]
    elif kind == "deep":
        depth = draw(st.sampled_from([50, 5000, 100_000]))
        text = "[" * depth + "]" * depth
    elif kind == "bigint":
        text = text.replace("0", "9" * 5000, 1) if "0" in text else "9" * 5000
    elif kind == "garbage":
        text = draw(st.text(max_size=40))
    return text


# -- the store's content -------------------------------------------------------------------------------
def fingerprint(store: PolicyStore) -> dict[str, tuple[int, str]]:
    """Rows and a content hash per table (one statement, one snapshot): equal fingerprints mean nothing moved."""
    tables = store.tables()
    row = "SELECT ?, count(*), md5(coalesce(string_agg(md5(t::VARCHAR), '' ORDER BY md5(t::VARCHAR)), '')) FROM "
    sql = " UNION ALL ".join(f'{row}"{table}" AS t' for table in tables)  # noqa: S608 - names from the catalog
    return {name: (int(count), digest) for name, count, digest in store.execute(sql, tables).fetchall()}


class SeededStore:
    """An in-memory store holding :func:`seed_frame`, reused while inputs are refused (they must not move it)
    and rebuilt after an input is accepted."""

    def __init__(self, seed: Callable[[PolicyStore], Any]):
        self.seed = seed
        self.store: PolicyStore | None = None
        self.before: dict[str, tuple[int, str]] = {}

    def get(self) -> PolicyStore:
        if self.store is None:
            self.store = PolicyStore.memory()
            self.seed(self.store)
            self.before = fingerprint(self.store)
        return self.store

    def dirty(self) -> None:
        if self.store is not None:
            self.store.close()
        self.store = None


def assert_names_field(error: PolicyStoreError, allowed: Sequence[str | None]) -> None:
    field = getattr(error, "field", None)
    assert field in allowed or (field is not None and any(a and field.startswith(a) for a in allowed)), (
        f"{type(error).__name__} names field {field!r}, not one of {allowed}: {error}")


def seed_frame() -> pd.DataFrame:
    """The study every store under test holds before the hostile input arrives."""
    return pd.DataFrame({"task": "base-task", "study": "base/s", "trial": [0, 0, 1, 1], "step": [0, 1, 0, 1],
                         "value": [0.9, 0.5, 0.8, 0.7], "cost_seconds": 1.0})


# -- the long format -----------------------------------------------------------------------------------
_CELLS: dict[str, st.SearchStrategy[Any]] = {
    "task": st.one_of(st.sampled_from(["t1", "t2", "base-task"]), names, st.none()),
    "study": st.one_of(st.sampled_from(["s1", "s2", "base/s"]), names, st.none()),
    "trial": st.one_of(st.integers(0, 3), st.sampled_from(["0", "a", "007"]), names, numbers, st.none()),
    "step": st.one_of(st.integers(0, 5), numbers, st.sampled_from(["3", "x", "", "1.0"]), st.none()),
    "value": st.one_of(st.floats(-2, 2), numbers, st.sampled_from(["0.5", "abc", "", "nan", "inf"]), st.none()),
    "cost_seconds": st.one_of(st.floats(0, 5), numbers, st.sampled_from(["slow", ""]), st.none()),
    "peak_memory_mb": st.one_of(st.floats(0, 4096), numbers, st.sampled_from(["big", "", "-1"]), st.none()),
    "params": st.one_of(st.sampled_from(['{"lr": 0.1}', "{}"]), json_texts(), st.none()),
    "state": st.one_of(st.sampled_from(["COMPLETE", "PRUNED", "FAIL", "RUNNING", "complete", " pruned "]),
                       names, st.none()),
    "metric": st.one_of(st.sampled_from(["loss", "acc"]), names, st.none()),
    "direction": st.one_of(st.sampled_from(["minimize", "maximize", "MAXIMIZE", " maximize"]), names, st.none()),
}
_VALID_CELLS: dict[str, st.SearchStrategy[Any]] = {
    "task": st.sampled_from(["t1", "t2"]), "study": st.sampled_from(["s1", "s2"]), "trial": st.integers(0, 3),
    "step": st.integers(0, 5), "value": st.floats(-2, 2), "cost_seconds": st.floats(0, 5),
    "peak_memory_mb": st.floats(0, 4096), "params": st.just('{"lr": 0.1}'), "state": st.just("COMPLETE"),
    "metric": st.just("loss"),
    "direction": st.just("minimize"),
}


@st.composite
def long_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Long-format frames: a valid skeleton (unique study/trial/step) with hostile cells, columns or shapes."""
    n_studies, n_trials, n_steps = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    skeleton = [(f"s{s}", t, k) for s in range(n_studies) for t in range(n_trials) for k in range(n_steps)]
    n = len(skeleton)
    columns = ["task", "study", "trial", "step", "value"]
    columns += draw(st.lists(st.sampled_from(COLUMNS[5:]), unique=True, max_size=5))
    hostility = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2, 1.0]))
    data: dict[str, list[Any]] = {}
    for column in columns:
        cells = []
        for i, (study, trial, step) in enumerate(skeleton):
            if draw(st.floats(0, 1)) < hostility:
                cells.append(draw(_CELLS[column]))
            elif column in ("study", "trial", "step"):
                cells.append({"study": study, "trial": trial, "step": step}[column])
            elif column == "task":
                cells.append("t1" if study == "s0" else "t2")
            else:
                cells.append(draw(_VALID_CELLS[column]) if column != "value" else 1.0 / (i + 1))
        data[column] = cells
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
    shape = draw(st.sampled_from(["as is", "as is", "typed", "typed", "drop column", "extra column",
                                  "duplicate row", "empty", "mixed directions", "one row", "seed study"]))
    if shape == "typed":  # let pandas infer dtypes (int64, float64, str) where it can
        frame = frame.infer_objects()
    elif shape == "drop column":
        frame = frame.drop(columns=[draw(st.sampled_from(list(frame.columns)))])
    elif shape == "extra column":
        frame[draw(st.sampled_from(["extra", "Task", " value", "'); DROP TABLE x;--"]))] = 1
    elif shape == "duplicate row":
        frame = pd.concat([frame, frame.iloc[[draw(st.integers(0, n - 1))]]], ignore_index=True)
    elif shape == "empty":
        frame = frame.iloc[0:0]
    elif shape == "mixed directions":
        frame["direction"] = ["minimize", "maximize"] * (n // 2) + ["minimize"] * (n % 2)
        frame["task"] = "t1"
    elif shape == "one row":
        frame = frame.iloc[[0]].reset_index(drop=True)
    elif shape == "seed study":  # the stored study again: identical (a no-op) or changed (a conflict)
        frame = seed_frame().astype(object)
        if draw(st.booleans()):
            frame.loc[draw(st.integers(0, 3)), "value"] = draw(_CELLS["value"])
    return frame


def _stored_points(store: PolicyStore, studies: list[str]) -> list[tuple]:
    rows = store.execute(
        "SELECT study, trial, step, value, cost_seconds FROM curve_points WHERE study IN (SELECT unnest(?::VARCHAR[]))"
        " ORDER BY ALL", [studies]).fetchall()
    return [_nan_safe(r) for r in rows]


def _nan_safe(row: tuple) -> tuple:
    return tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in row)


def _expect_rejection(run: Callable[[], Any], seeded: SeededStore, n_rows: int,
                      fields: Sequence[str | None]) -> str:
    store = seeded.get()
    try:
        run()
    except StudyConflictError:
        assert fingerprint(store) == seeded.before, "a refused conflicting study moved the store"
        return "rejected"
    except PolicyStoreError as e:
        assert isinstance(e, InvalidInputError), f"{type(e).__name__}: {e}"
        assert_names_field(e, fields)
        assert e.row is None or 0 <= e.row < max(n_rows, 1), f"row {e.row} outside the input's {n_rows} rows"
        assert fingerprint(store) == seeded.before, f"the store moved on a rejected input: {e}"
        return "rejected"
    except BaseException:
        seeded.dirty()
        raise
    return "accepted"


_INGEST_STORE = SeededStore(lambda s: ingest_frame(s, seed_frame()))


def check_ingest_frame(frame: pd.DataFrame) -> str:
    """``ingest_frame``: typed rejection with the store unchanged, or exactly the validated points stored."""
    store = _INGEST_STORE.get()
    fields = [*COLUMNS, *(str(c) for c in frame.columns), None]
    outcome = _expect_rejection(lambda: ingest_frame(store, frame), _INGEST_STORE, len(frame), fields)
    if outcome == "accepted":
        try:
            _expect_points(store, validate_long_frame(frame))
            after = fingerprint(store)
            assert all(after[t] == _INGEST_STORE.before[t] for t in ("rules", "rule_versions", "outcomes"))
        finally:
            _INGEST_STORE.dirty()
    return outcome


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> bool:
    """The frame as a CSV or Parquet file; False when Parquet cannot hold its mixed-type columns."""
    if fmt == "csv":
        frame.to_csv(path, index=False)
        return True
    try:
        frame.to_parquet(path)
    except Exception:  # noqa: BLE001 - pyarrow refuses mixed object columns in many ways; not our input
        try:
            frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}).to_parquet(path)
        except Exception:  # noqa: BLE001
            return False
    return True


def _expect_points(store: PolicyStore, canonical: Any) -> None:
    studies = sorted(set(canonical["study"].to_pylist()))
    columns = ("study", "trial", "step", "value", "cost_seconds")
    expected = sorted(_nan_safe(r) for r in zip(*(canonical[c].to_pylist() for c in columns), strict=True))
    assert _stored_points(store, studies) == expected, "the stored points differ from the validated input"


@st.composite
def csv_texts(draw: st.DrawFn) -> bytes:
    """Raw CSV bytes: headers that are wrong or repeated, quotes, BOM, NUL, non-UTF-8, ragged rows."""
    header = draw(st.lists(st.sampled_from([*COLUMNS, "extra", ""]), min_size=0, max_size=8))
    if draw(st.booleans()):
        header = ["task", "study", "trial", "step", "value", *header[:3]]
    cell = st.one_of(st.sampled_from(["t", "s", "0", "1", "0.5", "", "nan", "inf", "-1", "1e20", '"{""a"": 1}"',
                                      '"a,b"', '"unterminated', "x"]), names.map(lambda s: s.replace("\n", " ")))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=len(header) + 2), max_size=6))
    text = "\n".join([",".join(header), *(",".join(r) for r in rows)])
    data = text.encode("utf-8", errors="surrogatepass")
    extra = draw(st.sampled_from(["none", "none", "bom", "latin1", "nul", "crlf", "no newline"]))
    if extra == "bom":
        data = b"\xef\xbb\xbf" + data
    elif extra == "latin1":
        data += b"\nt,s,0,2,\xe9"
    elif extra == "nul":
        data = data.replace(b",", b"\x00,", 1)
    elif extra == "crlf":
        data = data.replace(b"\n", b"\r\n")
    return data + (b"" if extra == "no newline" else b"\n")


def check_ingest_file(workdir: Path, payload: pd.DataFrame | bytes, fmt: str) -> str:
    """``ingest_file`` on a CSV or Parquet file made from the payload."""
    path = workdir / f"curves.{fmt}"
    if isinstance(payload, bytes):
        path.write_bytes(payload)
        text = payload.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").replace("\r", "")
        columns = [c.strip('"') for line in text.split("\n") for c in line.split(",")]
    elif not _write_frame(payload, path, fmt):
        assume(False)
    else:
        columns = [str(c) for c in payload.columns]
    store = _INGEST_STORE.get()
    fields = [*COLUMNS, "format", None, *columns]
    n_rows = 10**9  # rows are counted by the reader; only the field is checked here
    outcome = _expect_rejection(lambda: ingest_file(store, path, fmt), _INGEST_STORE, n_rows, fields)
    if outcome == "accepted":
        try:
            _expect_points(store, validate_long_frame(read_long_file(path, fmt)))
        finally:
            _INGEST_STORE.dirty()
    return outcome


# -- rule specs ----------------------------------------------------------------------------------------
def _strategy_names() -> list[str]:
    from policy_store.rules.strategies import STRATEGIES

    return sorted(STRATEGIES)


@st.composite
def rule_specs(draw: st.DrawFn) -> Any:
    """Specs as objects or JSON text: real strategies with hostile params, unknown keys, wrong types, junk."""
    from policy_store.rules.strategies import STRATEGIES

    kind = draw(st.sampled_from(["near", "near", "near", "any json", "text"]))
    if kind == "any json":
        return draw(json_values)
    if kind == "text":
        return draw(json_texts())
    name = draw(st.sampled_from(_strategy_names()))
    spec: dict[str, Any] = {"strategy": draw(st.one_of(st.just(name), json_scalars)) if draw(st.booleans())
                            and draw(st.booleans()) else name}
    params = {}
    for p in STRATEGIES[name].params:
        if draw(st.booleans()):
            good = {"int": st.integers(0, 10), "float": st.floats(0, 1), "int_or_auto": st.just("auto"),
                    "float_or_none": st.none(), "spec_or_none": st.just({"strategy": "median"})}[p.kind]
            params[p.name] = draw(st.one_of(good, good, json_values))
    if draw(st.integers(0, 4)) == 0:
        params[draw(names)] = draw(json_values)
    spec["params"] = params if draw(st.integers(0, 6)) else draw(json_values)
    if draw(st.booleans()):
        spec["safeguards"] = draw(st.one_of(
            st.fixed_dictionaries({}, optional={"audit_fraction": st.one_of(st.floats(0, 1), numbers),
                                                "audit_seed": st.one_of(st.integers(0, 9), numbers)}),
            json_values))
    if draw(st.booleans()):
        spec["direction"] = draw(st.one_of(st.sampled_from(["minimize", "maximize", None]), json_scalars))
    if draw(st.integers(0, 6)) == 0:
        spec[draw(names)] = draw(json_values)
    return dumps(spec) if draw(st.booleans()) else spec


SPEC_FIELDS = ("strategy", "params", "safeguards", "direction", None)


def _seed_rule(store: PolicyStore) -> None:
    from policy_store.rules import add_rule_version

    add_rule_version(store, "base-rule", {"strategy": "median"}, created_by="seed")


_RULE_STORE = SeededStore(_seed_rule)


def _as_object(spec: Any) -> dict:
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except (ValueError, RecursionError):
            return {}
    return spec if isinstance(spec, dict) else {}


def check_rule_spec(spec: Any) -> str:
    """``RuleSpec.parse`` and ``add_rule_version``: typed rejection naming the field, or a spec that round-trips,
    exports to Optuna and Ray Tune and is stored unchanged."""
    from policy_store.errors import InvalidSpecError
    from policy_store.rules import RuleSpec, add_rule_version, get_rule_version

    store = _RULE_STORE.get()
    try:
        parsed = RuleSpec.parse(spec)
    except InvalidSpecError as e:
        top = [*SPEC_FIELDS, *(k for k in _as_object(spec) if isinstance(k, str))]
        if e.field is not None and "." not in e.field and e.field not in top:
            assert "more than once" in str(e), f"field {e.field!r} not in the spec: {e}"  # a repeated JSON key
        outcome = _expect_rejection(lambda: add_rule_version(store, "fuzzed", spec, created_by="fuzz"),
                                    _RULE_STORE, 0, [e.field])
        assert outcome == "rejected", "add_rule_version accepted a spec RuleSpec.parse refuses"
        return "rejected"
    again = RuleSpec.parse(parsed.canonical_json())
    assert again.spec_hash == parsed.spec_hash and again.to_dict() == parsed.to_dict()
    parsed.to_optuna()
    parsed.to_ray_tune()
    try:
        version = add_rule_version(store, "fuzzed", spec, created_by="fuzz")
        assert get_rule_version(store, version.ref).spec_hash == parsed.spec_hash
    finally:
        _RULE_STORE.dirty()
    return "accepted"


# -- meta-features -------------------------------------------------------------------------------------
meta_feature_maps = st.dictionaries(
    st.one_of(st.sampled_from(["NumberOfInstances", "NumberOfFeatures", "curve_noise", "ClassEntropy"]), names),
    st.one_of(st.floats(-1e6, 1e6), numbers, json_values), max_size=6)


def _seed_features(store: PolicyStore) -> None:
    from policy_store.meta.features.store import save_meta_features

    save_meta_features(store, "base-task", {"NumberOfInstances": 10.0}, "dataset")


_FEATURE_STORE = SeededStore(_seed_features)


def check_save_meta_features(task: Any, features: Any) -> str:
    """``save_meta_features``: typed rejection with the store unchanged, or exactly the finite values stored."""
    from policy_store.meta.features.store import load_meta_features, save_meta_features

    store = _FEATURE_STORE.get()
    n = len(features) if isinstance(features, dict) else 0
    outcome = _expect_rejection(lambda: save_meta_features(store, task, features, "user"), _FEATURE_STORE, n,
                                ["task", "feature", "value", "features", "source"])
    if outcome == "accepted":
        try:
            stored = load_meta_features(store, tasks=[task], source="user")
            expected = {k: float(v) for k, v in features.items() if v is not None and not math.isnan(v)}
            got = {k: v for k, v in stored.loc[task].to_dict().items() if not math.isnan(v)} if len(stored) else {}
            assert got == expected
        finally:
            _FEATURE_STORE.dirty()
    return outcome


def check_recommend_meta_features(features: Any) -> str:
    """``recommend(meta_features=...)``: typed rejection with the store unchanged, or one recorded recommendation."""
    from policy_store.meta import recommend

    store = _FEATURE_STORE.get()
    fields = ["dataset", "meta_features", *(str(k) for k in (features if isinstance(features, dict) else ()))]
    outcome = _expect_rejection(lambda: recommend(store, meta_features=features), _FEATURE_STORE, 0, fields)
    if outcome == "accepted":
        try:
            assert store.row_counts()["recommendations"] == _FEATURE_STORE.before["recommendations"][0] + 1
        finally:
            _FEATURE_STORE.dirty()
    return outcome


# -- the CLI -------------------------------------------------------------------------------------------
SKIPPED_COMMANDS = {
    ("demo",): "trains models for minutes",
    ("datasets", "generate"): "trains models",
    ("datasets", "generate-hpo"): "runs real HPO searches for minutes",
    ("datasets", "ingest", "lcdb"): "fetches the 68 MB LCDB sdist with pip",
    ("meta", "fit"): "replays the whole candidate grid",
    ("meta", "evaluate"): "cross-validates the meta-learner",
    ("serve",): "serves until stopped (its bad options: tests/dashboard/test_server.py)",
}
"""Commands the argv fuzzer leaves out: network or minutes of training per call, not input handling."""


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
                  ) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every runnable (sub)command of the real parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out = {}
            for name, sub in action.choices.items():
                out.update(leaf_commands(sub, (*prefix, name)))
            return out
    return {prefix: parser}


class CliPaths:
    """Files the fuzzed arguments may point at, in one scratch folder (the CLI's working directory)."""

    def __init__(self, root: Path, template_store: Path):
        self.root = root
        self.template = template_store
        (root / "dir").mkdir(exist_ok=True)
        seed_frame().to_csv(root / "good.csv", index=False)
        (root / "bad.csv").write_text("task,study,trial,step,value\nt,s,0,-1,0.5\n")
        (root / "empty.csv").write_bytes(b"")
        (root / "binary.parquet").write_bytes(b"PAR1\x00\x01garbage")
        (root / "latin1.csv").write_bytes("task,study,trial,step,value\ncaf\xe9,s,0,0,1\n".encode("latin-1"))
        (root / "spec.json").write_text('{"strategy": "median"}')
        (root / "features.json").write_text('{"NumberOfInstances": 100}')
        (root / "not-a-store.duckdb").write_text("this is not a database\n")
        self.files = ["good.csv", "bad.csv", "empty.csv", "binary.parquet", "latin1.csv", "spec.json",
                      "features.json", "dir", "missing.csv", "not-a-store.duckdb", "out-dir", "nested/out",
                      "store.duckdb", "sqlite:///optuna-missing.db", "-", ""]

    def fresh_store(self) -> Path:
        path = self.root / "store.duckdb"
        for leftover in self.root.glob("store.duckdb*"):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        shutil.copyfile(self.template, path)
        return path


def _value_for(action: argparse.Action, draw: st.DrawFn, paths: CliPaths) -> str:
    if action.choices is not None and draw(st.integers(0, 4)):
        return str(draw(st.sampled_from(list(action.choices))))
    kind = draw(st.sampled_from(["name", "known", "path", "number", "json", "flag-like"]))
    if kind == "known":
        return draw(st.sampled_from(["base-task", "base/s", "median-w", "median-w@1", "median-w@9", "0", "1"]))
    if kind == "path":
        return draw(st.sampled_from(paths.files))
    if kind == "number":
        return str(draw(numbers))
    if kind == "json":
        return draw(json_texts())
    if kind == "flag-like":
        return draw(st.sampled_from(["--json", "-h", "--", "-1", "--store", "-x"]))
    return draw(names).replace("\x00", "")  # argv cannot carry NUL bytes


@st.composite
def cli_argvs(draw: st.DrawFn, commands: dict[tuple[str, ...], argparse.ArgumentParser],
              paths: CliPaths) -> list[str]:
    """An argv for one real command: its positionals and a random subset of its options, hostile values."""
    command = draw(st.sampled_from(sorted(commands)))
    parser = commands[command]
    argv = list(command)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) and draw(st.integers(0, 30)) != 0:
            continue
        if not action.option_strings:  # positional
            if draw(st.integers(0, 12)):
                count = 2 if action.nargs == "+" and draw(st.booleans()) else 1
                argv += [_value_for(action, draw, paths) for _ in range(count)]
            continue
        if draw(st.integers(0, 2)) != 0:
            continue
        if action.dest in ("backend",) or (action.dest == "scheduler"):
            continue  # a Dask cluster is not input handling
        flag = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            argv.append(flag)
        else:
            argv += [flag, _value_for(action, draw, paths)]
    if draw(st.integers(0, 8)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(st.sampled_from(["--unknown", "--json", "extra", "-"])))
    return argv


def run_cli(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``policy-store`` in this process: (exit code, stdout, stderr); exceptions other than SystemExit escape."""
    from policy_store.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: 0 for --help/--version, 2 for usage errors
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def check_cli(argv: list[str], paths: CliPaths) -> str:
    """One command line: exit 0, exit 1 with exactly one ``Error:`` line (store unchanged), or exit 2 (usage)."""
    store = paths.fresh_store()
    with PolicyStore(store, read_only=True) as s:
        before = fingerprint(s)
    code, _, err = run_cli(["--store", str(store), *argv], paths.root)
    assert code in (0, 1, 2), f"exit {code} for {argv}: {err[-400:]}"
    if code == 1:
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, f"expected one 'Error:' line for {argv}, got: {err[-600:]!r}"
        assert "Traceback" not in err
        from policy_store.check import check_store

        with PolicyStore(store, read_only=True) as s:
            after = fingerprint(s)
            report = check_store(s)
        assert report.ok, f"policy-store check fails after a refused {argv}: {report}"
        if argv[:1] != ["recalibrate"]:  # a failed job is recorded as failed, by design
            assert after == before, f"the store moved on a failed {argv}: {errors[0]}"
        return "rejected"
    if code == 2:
        assert "Traceback" not in err
        return "usage"
    return "accepted"


def template_store(path: Path) -> Path:
    """A small real store: two tasks, three studies, one rule with outcomes."""
    from policy_store.replay import evaluate
    from policy_store.rules import add_rule_version

    rng = np.random.default_rng(0)
    rows = []
    for s in range(3):
        for t in range(6):
            base = rng.uniform(0.2, 1.0)
            rows += [{"task": "base-task" if s < 2 else "other-task", "study": "base/s" if s == 0 else f"st-{s}",
                      "trial": t, "step": k, "value": base / (k + 1), "cost_seconds": 0.5} for k in range(5)]
    with PolicyStore(path) as store:
        ingest_frame(store, pd.DataFrame(rows))
        add_rule_version(store, "median-w", {"strategy": "median", "params": {"n_warmup_steps": 1}},
                         created_by="fuzz", reason="template")
        evaluate(store, "median-w", orders=2)
    return path
