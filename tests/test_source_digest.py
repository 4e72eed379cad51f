"""`source_digest`: the cache key of benchmarks whose cached rows the package's code computes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import policy_store.meta.adaptation as adaptation
import pytest

from policy_store.cache import source_digest

EMPTY = hashlib.sha256().hexdigest()


def test_a_package_outside_the_policy_store_folder_is_read_whole():
    """policy_store.meta lives beside policy_store/, so a path under the package folder finds none of it."""
    files = sorted(Path(adaptation.__file__).parent.rglob("*.py"))
    assert len(files) > 3
    expected = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    assert source_digest("policy_store.meta.adaptation") == expected != EMPTY


def test_modules_count_in_the_order_given_and_each_change_moves_the_key():
    one, two = source_digest("policy_store.cache", "policy_store.errors"), source_digest("policy_store.errors",
                                                                                        "policy_store.cache")
    assert one != two and source_digest("policy_store.cache") != source_digest("policy_store.errors")


def test_an_unknown_module_is_an_error_not_an_empty_key():
    with pytest.raises(ModuleNotFoundError):
        source_digest("policy_store.no_such_module")
