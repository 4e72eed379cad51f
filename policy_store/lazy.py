"""Public names of a package imported on first use: a command pays only for the modules it touches.

A package lists which of its modules holds each public name and installs the two functions
:func:`lazy_exports` returns as its own ``__getattr__`` and ``__dir__``.

>>> getattr_, dir_ = lazy_exports("os", {"join": "path"})
>>> getattr_("join") is __import__("os.path").path.join
True
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, module_of: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose name ``n`` lives in ``package.<module_of[n]>``.

    An unknown name raises ``AttributeError``, as for any module.
    """

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{module_of[name]}"), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *module_of})

    return __getattr__, __dir__
