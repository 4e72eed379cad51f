"""Run every docstring example in the package as a test (house style: examples are runnable)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import policy_store


def _modules() -> list[str]:
    names = ["policy_store"]
    for info in pkgutil.walk_packages(policy_store.__path__, "policy_store."):
        names.append(info.name)
    for sub in ("meta", "drift", "datasets", "reports"):
        package = importlib.import_module(f"policy_store.{sub}")
        names.append(package.__name__)
        names += [i.name for i in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return sorted(set(n for n in names if not n.endswith("__main__")))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
